#!/usr/bin/env node
// Test SAML 2.0 identity provider for Latch's tests: HTTP-Redirect binding in, HTTP-POST
// binding out, responses signed by xml-crypto with the key in ./saml (or another one),
// plus the broken and hostile responses a relying party must refuse.
//
// Usage: node saml_idp.mjs [--host 127.0.0.1] [--port 0] [--exit-on-stdin-close]
// Ready line on stdout: READY {"entry_point":"http://127.0.0.1:PORT/sso","entity_id":...,
//                              "cert":"<PEM of the signing certificate>"}
//
// GET /sso?SAMLRequest=..&RelayState=..  inflates and reads the AuthnRequest, answers an HTML
//   page whose form posts SAMLResponse (and RelayState) to the request's
//   AssertionConsumerServiceURL.
//
// POST /__control JSON (persists until changed; {"reset":true} restores defaults):
//   {"name_id": "u-1001", "attributes": {"email": "ada@example.com", ...}}
//   {"name_id_format": "persistent" | "transient" | ...} (the NameID's format)
//   {"sign": "assertion" | "response" | "both" | "none"}
//   {"key": "idp" | "other"}
//   {"variant": "normal" | "expired" | "not_yet_valid" | "wrong_audience" | "no_audience"
//              | "wrong_recipient" | "wrong_destination" | "other_request" | "unsolicited"
//              | "wrap_assertion" | "wrap_response" | "denied"}
//   {"assertion_id": "_fixed"} (every assertion gets that ID; null: a fresh one each time)
//   {"algorithm": "sha256" | "sha1"} (RSA-SHA1 with SHA-1 digests, as old IdPs sign)
// GET /__control: the settings, the last AuthnRequest read and the last response made.
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import zlib from 'node:zlib';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 && i + 1 < args.length ? args[i + 1] : d; };
const HOST = opt('--host', '127.0.0.1');
const PORT = Number(opt('--port', '0'));
const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'saml');
const KEYS = Object.fromEntries(['idp', 'other'].map((n) => [n, {
  key: fs.readFileSync(path.join(DIR, `${n}.key`), 'utf8'),
  cert: fs.readFileSync(path.join(DIR, `${n}.crt`), 'utf8'),
}]));

const SAMLP = 'urn:oasis:names:tc:SAML:2.0:protocol';
const SAML = 'urn:oasis:names:tc:SAML:2.0:assertion';

const defaults = () => ({
  name_id: 'u-1001',
  name_id_format: 'persistent',
  attributes: { email: 'ada@example.com', given_name: 'Ada', family_name: 'Lovelace' },
  sign: 'assertion',
  key: 'idp',
  variant: 'normal',
  assertion_id: null,
  algorithm: 'sha256',
});
let ctl = defaults();
const log = { request: null, response: null };
let entityId = '';

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const id = () => `_${crypto.randomBytes(16).toString('hex')}`;
const at = (offsetSeconds) => new Date(Date.now() + offsetSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const json = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
};
const readBody = (req) => new Promise((res, rej) => {
  const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => res(Buffer.concat(c).toString())); req.on('error', rej);
});

/// The AuthnRequest of an HTTP-Redirect binding: base64 of raw DEFLATE.
function readRequest(samlRequest) {
  const xml = zlib.inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
  const doc = new DOMParser().parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (root.localName !== 'AuthnRequest' || root.namespaceURI !== SAMLP) throw new Error(`not an AuthnRequest: ${root.localName}`);
  const issuer = root.getElementsByTagNameNS(SAML, 'Issuer')[0];
  return {
    id: root.getAttribute('ID'),
    acs: root.getAttribute('AssertionConsumerServiceURL'),
    destination: root.getAttribute('Destination'),
    protocol_binding: root.getAttribute('ProtocolBinding'),
    issue_instant: root.getAttribute('IssueInstant'),
    issuer: issuer ? issuer.textContent : null,
    xml,
  };
}

function attributesXml(attributes) {
  return Object.entries(attributes).map(([name, value]) => {
    const values = (Array.isArray(value) ? value : [value])
      .map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
      .join('');
    return `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values}</saml:Attribute>`;
  }).join('');
}

/// An assertion for `who` ({name_id, attributes}) answering `req`, bent by the variant.
function assertionXml(req, who, variant) {
  const t = variant === 'expired' ? -7200 : 0;
  const notBefore = variant === 'not_yet_valid' ? at(3600) : at(t - 5);
  const notOnOrAfter = variant === 'expired' ? at(-3600) : at(t + 300);
  const recipient = variant === 'wrong_recipient' ? 'https://elsewhere.example/acs' : req.acs;
  const inResponseTo = variant === 'other_request' ? ` InResponseTo="${id()}"`
    : variant === 'unsolicited' ? '' : ` InResponseTo="${esc(req.id)}"`;
  const audience = variant === 'wrong_audience' ? 'https://other-sp.example/' : req.issuer;
  const conditions = variant === 'no_audience'
    ? `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"/>`
    : `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`;
  return `<saml:Assertion xmlns:saml="${SAML}" ID="${who.assertion_id ?? id()}" Version="2.0" IssueInstant="${at(t)}">`
    + `<saml:Issuer>${esc(entityId)}</saml:Issuer>`
    + '<saml:Subject>'
    + `<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:${esc(who.name_id_format)}">${esc(who.name_id)}</saml:NameID>`
    + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    + `<saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(recipient)}"/>`
    + '</saml:SubjectConfirmation></saml:Subject>'
    + conditions
    + `<saml:AuthnStatement AuthnInstant="${at(t)}" SessionIndex="${id()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`
    + `<saml:AttributeStatement>${attributesXml(who.attributes)}</saml:AttributeStatement>`
    + '</saml:Assertion>';
}

function responseXml(req, inner, variant, extensions = '') {
  const destination = variant === 'wrong_destination' ? 'https://elsewhere.example/acs' : req.acs;
  const inResponseTo = variant === 'unsolicited' ? '' : ` InResponseTo="${esc(req.id)}"`;
  const status = variant === 'denied'
    ? `<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>`
    : '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>';
  return `<samlp:Response xmlns:samlp="${SAMLP}" xmlns:saml="${SAML}" ID="${id()}" Version="2.0" IssueInstant="${at(variant === 'expired' ? -7200 : 0)}" Destination="${esc(destination)}"${inResponseTo}>`
    + `<saml:Issuer>${esc(entityId)}</saml:Issuer>`
    + (extensions ? `<samlp:Extensions>${extensions}</samlp:Extensions>` : '')
    + `<samlp:Status>${status}</samlp:Status>`
    + inner
    + '</samlp:Response>';
}

/// Signs the element `what` ('Assertion' or 'Response', the first of its name) with an
/// enveloped signature placed after its Issuer, as SAML's schema wants it.
function sign(xml, what, keyName) {
  const { key, cert } = KEYS[keyName];
  const sha1 = ctl.algorithm === 'sha1';
  const sig = new SignedXml({
    privateKey: key,
    publicCert: cert,
    signatureAlgorithm: sha1 ? 'http://www.w3.org/2000/09/xmldsig#rsa-sha1' : 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  const element = `//*[local-name(.)='${what}']`;
  sig.addReference({
    xpath: element,
    digestAlgorithm: sha1 ? 'http://www.w3.org/2000/09/xmldsig#sha1' : 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { location: { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

function signedAssertion(req, who, variant) {
  const a = assertionXml(req, who, variant);
  return ['assertion', 'both'].includes(ctl.sign) ? sign(a, 'Assertion', ctl.key) : a;
}

function buildResponse(req) {
  const v = ctl.variant;
  const who = {
    name_id: ctl.name_id, name_id_format: ctl.name_id_format,
    attributes: ctl.attributes, assertion_id: ctl.assertion_id,
  };
  const eve = { name_id: 'attacker', attributes: { email: 'eve@example.com', given_name: 'Eve' } };
  if (v === 'wrap_assertion') {
    // The signed assertion moved into Extensions, an unsigned one in its place.
    const signed = sign(assertionXml(req, who, 'normal'), 'Assertion', ctl.key);
    return responseXml(req, assertionXml(req, eve, 'normal'), 'normal', signed);
  }
  if (v === 'wrap_response') {
    // The whole signed response moved into the Extensions of a new, unsigned one.
    const signed = sign(responseXml(req, assertionXml(req, who, 'normal'), 'normal'), 'Response', ctl.key);
    return responseXml(req, assertionXml(req, eve, 'normal'), 'normal', signed);
  }
  const inner = v === 'denied' ? '' : signedAssertion(req, who, v);
  const r = responseXml(req, inner, v);
  return ['response', 'both'].includes(ctl.sign) ? sign(r, 'Response', ctl.key) : r;
}

function postForm(res, acs, samlResponse, relayState) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  const relay = relayState == null ? '' : `<input type="hidden" name="RelayState" value="${esc(relayState)}"/>`;
  res.end(`<!doctype html><html><body onload="document.forms[0].submit()">`
    + `<form method="post" action="${esc(acs)}">`
    + `<input type="hidden" name="SAMLResponse" value="${esc(samlResponse)}"/>${relay}`
    + '<noscript><button type="submit">Continue</button></noscript></form></body></html>');
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/__control') {
    if (req.method === 'GET') return json(res, 200, { ctl, log });
    const raw = await readBody(req);
    const c = raw ? JSON.parse(raw) : {};
    if (c.reset) { ctl = defaults(); log.request = log.response = null; }
    for (const k of Object.keys(defaults())) if (k in c) ctl[k] = c[k];
    return json(res, 200, { ok: true, ctl });
  }
  if (url.pathname === '/sso' && req.method === 'GET') {
    const samlRequest = url.searchParams.get('SAMLRequest');
    if (!samlRequest) return json(res, 400, { error: 'SAMLRequest is missing' });
    let authn;
    try { authn = readRequest(samlRequest); } catch (e) { return json(res, 400, { error: String(e) }); }
    log.request = { ...authn, relay_state: url.searchParams.get('RelayState') };
    const xml = buildResponse(authn);
    log.response = xml;
    return postForm(res, authn.acs, Buffer.from(xml).toString('base64'), url.searchParams.get('RelayState'));
  }
  return json(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => { console.error(e); json(res, 500, { error: String(e) }); });
});
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const base = `http://${HOST}:${port}`;
  entityId = `${base}/metadata`;
  process.stdout.write(`READY ${JSON.stringify({ entry_point: `${base}/sso`, entity_id: entityId, cert: KEYS.idp.cert, base_url: base })}\n`);
});
const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
if (args.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
