#!/usr/bin/env node
// Test OpenID Connect provider for Latch's social sign-in tests.
//
// Wraps the npm package `oauth2-mock-server` (8.2.3 on Node 20; 9.x needs Node >= 22.12)
// in a plain node:http server that adds:
//   * POST /__control   set how the NEXT token response / authorize redirect / userinfo misbehaves
//   * GET  /__control   read state: last authorize query, last token request body, issued codes
//   * strict code handling the mock lacks: unknown / reused code, redirect_uri mismatch,
//     missing code_verifier when a code_challenge was sent, plain PKCE refused -> 400 invalid_grant
//   * RFC 9207 `iss` on the authorization response (the mock never adds it)
//   * a discovery document with `authorization_response_iss_parameter_supported: true`
//
// Usage:  node oidc_provider.mjs [--host 127.0.0.1] [--port 0] [--client-id ID] [--client-secret S]
//         [--exit-on-stdin-close]
// Prints one line to stdout when ready:  READY {"issuer":"http://127.0.0.1:PORT","port":PORT}
// The package is looked up from $OIDC_MOCK_DIR (a folder holding node_modules/), else next to
// this file, else the current directory.
//
// Control body (all optional; applies to the next token response only unless "persist": true):
//   {"reset": true}                               back to defaults, forget persisted settings
//   {"mode": "normal" | "wrong_iss" | "wrong_aud" | "extra_aud" | "no_sub" | "no_iat" | "no_exp"
//           | "expired" | "iat_future" | "wrong_nonce" | "no_nonce" | "alg_none" | "unknown_key"
//           | "rotate" | "hs256" | "bad_signature" | "token_error" | "no_id_token"}
//   {"claims": {"email": "a@b.c", "email_verified": true, "roles": ["x"], "name": null}}
//                                                 merged into the ID token; null deletes a claim
//   {"userinfo": {"sub": "other"}}                body of the next /userinfo (default: the last
//                                                 ID token's sub + its profile claims)
//   {"userinfo_status": 401}
//   {"authorize": {"iss": "omit" | "<value>", "error": "access_denied"}}
//   {"discovery": {"issuer": "http://elsewhere"}} merged into the discovery document (persists)
//   {"persist": true}                             keep mode/claims/userinfo for every token
import http from 'node:http';
import crypto from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';

// ---------- arguments ----------
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const HOST = opt('--host', '127.0.0.1');
const PORT = Number(opt('--port', process.env.PORT ?? '0'));
const CLIENT_ID = opt('--client-id', undefined); // when set, the token endpoint checks it
const CLIENT_SECRET = opt('--client-secret', undefined);

// ---------- load oauth2-mock-server ----------
async function loadMock() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const bases = [process.env.OIDC_MOCK_DIR, here, process.cwd()].filter(Boolean);
  for (const base of bases) {
    try {
      const req = createRequire(path.join(base, 'noop.js'));
      return await import(pathToFileURL(req.resolve('oauth2-mock-server')).href);
    } catch { /* try next */ }
  }
  throw new Error(`oauth2-mock-server not found under ${bases.join(', ')} (npm install it)`);
}
const { OAuth2Server } = await loadMock();

// ---------- helpers ----------
const b64u = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
function decodeJwt(jwt) {
  const [h, p] = jwt.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), payload: JSON.parse(Buffer.from(p, 'base64url')) };
}
function signJwt(header, payload, { alg, privateJwk, secret }) {
  const input = `${b64u(JSON.stringify({ ...header, alg }))}.${b64u(JSON.stringify(payload))}`;
  if (alg === 'none') return `${input}.`;
  if (alg === 'HS256') return `${input}.${b64u(crypto.createHmac('sha256', secret).update(input).digest())}`;
  if (alg === 'RS256') {
    const key = crypto.createPrivateKey({ key: privateJwk, format: 'jwk' });
    return `${input}.${b64u(crypto.sign('sha256', Buffer.from(input), key))}`;
  }
  throw new Error(`unsupported alg ${alg}`);
}
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
const sendJson = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
function clientFromRequest(req) {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    return { id: decodeURIComponent(id), secret: decodeURIComponent(secret ?? '') };
  }
  return { id: req.body?.client_id, secret: req.body?.client_secret };
}

// ---------- state ----------
const server = new OAuth2Server();
const service = server.service;
await server.issuer.keys.generate('RS256');

const defaults = () => ({ mode: 'normal', claims: {}, userinfo: null, userinfo_status: 200, authorize: {}, persist: false });
let ctl = defaults();
let discoveryOverride = {};
const codes = new Map(); // code -> {redirect_uri, client_id, code_challenge, code_challenge_method, used}
let lastAuthorize = null;
let lastTokenRequest = null;
let lastIdTokenClaims = null;
let rotatedKid = null;
// Each kind of setting is consumed by the request it is for (token / authorize / userinfo).
const consumeOnce = () => { if (!ctl.persist) { ctl.mode = 'normal'; ctl.claims = {}; } };

// ---------- hooks on the mock ----------
// beforeTokenSigning fires for the access token AND the ID token of one /token call (access
// token first). The ID token is the one without `scope` in its payload.
service.on('beforeTokenSigning', (token) => {
  const p = token.payload;
  if ('scope' in p) return; // access token
  const t = now();
  switch (ctl.mode) {
    case 'wrong_iss': p.iss = 'http://wrong-issuer.invalid'; break;
    case 'wrong_aud': p.aud = 'someone-else'; break;
    case 'extra_aud': p.aud = [p.aud, 'someone-else']; break;
    case 'no_sub': delete p.sub; break;
    case 'no_iat': delete p.iat; break;
    case 'no_exp': delete p.exp; break;
    case 'expired': p.iat = t - 7200; p.nbf = t - 7200; p.exp = t - 3600; break;
    case 'iat_future': p.iat = t + 3600; break;
    case 'wrong_nonce': p.nonce = 'not-the-nonce-you-sent'; break;
    case 'no_nonce': delete p.nonce; break;
    default: break;
  }
  for (const [k, v] of Object.entries(ctl.claims ?? {})) {
    if (v === null) delete p[k]; else p[k] = v;
  }
});

// Record every code the mock hands out, add RFC 9207 `iss`, or turn the answer into an error.
service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const q = req.query ?? Object.fromEntries(new URL(req.url, 'http://x').searchParams);
  const u = redirect.url;
  const a = ctl.authorize ?? {};
  if (a.error) {
    for (const k of ['code', 'error_description']) u.searchParams.delete(k);
    u.searchParams.set('error', a.error);
  } else if (u.searchParams.has('code')) {
    codes.set(u.searchParams.get('code'), {
      redirect_uri: q.redirect_uri, client_id: q.client_id,
      code_challenge: q.code_challenge, code_challenge_method: q.code_challenge_method, used: false,
    });
  }
  if (a.iss !== 'omit') u.searchParams.set('iss', a.iss ?? server.issuer.url);
  if (!ctl.persist) ctl.authorize = {};
});

// Checks the mock skips, then the signing-level tampering.
service.on('beforeResponse', (resp, req) => {
  const body = req.body ?? {};
  lastTokenRequest = { ...body, client_secret: body.client_secret ? '<redacted>' : undefined, basic_auth: !!req.headers.authorization };
  const fail = (error, description) => { resp.statusCode = 400; resp.body = { error, error_description: description }; };
  if (body.grant_type === 'authorization_code') {
    const c = codes.get(body.code);
    if (!c) return fail('invalid_grant', 'unknown code');
    if (c.used) return fail('invalid_grant', 'code already used');
    c.used = true;
    if (c.redirect_uri !== body.redirect_uri) return fail('invalid_grant', 'redirect_uri mismatch');
    if (c.code_challenge && !body.code_verifier) return fail('invalid_grant', 'code_verifier missing');
    if (c.code_challenge && c.code_challenge_method !== 'S256') return fail('invalid_request', 'only S256 PKCE is accepted');
    if (CLIENT_ID !== undefined) {
      const cl = clientFromRequest(req);
      if (cl.id !== CLIENT_ID || (CLIENT_SECRET !== undefined && cl.secret !== CLIENT_SECRET)) return fail('invalid_client', 'bad client credentials');
    }
  }
  const mode = ctl.mode;
  if (mode === 'token_error') { consumeOnce(); return fail('invalid_grant', 'told to fail'); }
  if (resp.body.id_token) {
    const { header, payload } = decodeJwt(resp.body.id_token);
    lastIdTokenClaims = payload;
    const keys = server.issuer.keys.toJSON(true);
    if (mode === 'no_id_token') delete resp.body.id_token;
    else if (mode === 'alg_none') resp.body.id_token = signJwt({ typ: 'JWT' }, payload, { alg: 'none' });
    else if (mode === 'hs256') resp.body.id_token = signJwt({ typ: 'JWT' }, payload, { alg: 'HS256', secret: CLIENT_SECRET ?? clientFromRequest(req).secret ?? 'secret' });
    else if (mode === 'unknown_key') {
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      resp.body.id_token = signJwt({ typ: 'JWT', kid: 'not-in-jwks' }, payload, { alg: 'RS256', privateJwk: privateKey.export({ format: 'jwk' }) });
    } else if (mode === 'rotate') {
      // The new key is published in /jwks before this response goes out; a client with a cached
      // JWKS sees an unknown kid and must refetch.
      const k = keys.find((x) => x.kid === rotatedKid);
      resp.body.id_token = signJwt({ typ: 'JWT', kid: k.kid }, payload, { alg: 'RS256', privateJwk: k });
    } else if (mode === 'bad_signature') {
      const [h, p, s] = resp.body.id_token.split('.');
      const sig = Buffer.from(s, 'base64url'); sig[0] ^= 0xff;
      resp.body.id_token = `${h}.${p}.${b64u(sig)}`;
    } else {
      // Re-sign with the first key so that round-robin signing in the mock (it alternates between
      // all keys in its store) never hands out a token under a key the test did not expect.
      const k = keys.find((x) => x.kid === (rotatedKid ?? header.kid)) ?? keys[0];
      resp.body.id_token = signJwt({ typ: 'JWT', kid: k.kid }, payload, { alg: 'RS256', privateJwk: k });
    }
  }
  consumeOnce();
});

service.on('beforeUserinfo', (resp) => {
  if (ctl.userinfo) resp.body = ctl.userinfo;
  else if (lastIdTokenClaims) {
    const { iss, aud, exp, iat, nbf, nonce, amr, ...profile } = lastIdTokenClaims;
    resp.body = profile;
  }
  resp.statusCode = ctl.userinfo_status ?? 200;
  if (!ctl.persist) { ctl.userinfo = null; ctl.userinfo_status = 200; }
});

// ---------- the wrapping HTTP server ----------
const mockHandler = service.requestHandler;
const httpServer = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, server.issuer.url);
    if (url.pathname === '/__control') {
      if (req.method === 'GET') {
        return sendJson(res, 200, { ctl, discoveryOverride, lastAuthorize, lastTokenRequest, lastIdTokenClaims, codes: Object.fromEntries(codes), jwks: server.issuer.keys.toJSON() });
      }
      const raw = await readBody(req);
      const c = raw ? JSON.parse(raw) : {};
      if (c.reset) { ctl = defaults(); discoveryOverride = {}; codes.clear(); lastAuthorize = lastTokenRequest = lastIdTokenClaims = null; }
      if (c.discovery) discoveryOverride = { ...discoveryOverride, ...c.discovery };
      for (const k of ['mode', 'claims', 'userinfo', 'userinfo_status', 'authorize', 'persist']) if (k in c) ctl[k] = c[k];
      if (c.mode === 'rotate') rotatedKid = (await server.issuer.keys.generate('RS256')).kid;
      return sendJson(res, 200, { ok: true, ctl, rotatedKid });
    }
    if (req.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      const iss = server.issuer.url;
      return sendJson(res, 200, {
        issuer: iss,
        authorization_endpoint: `${iss}/authorize`,
        token_endpoint: `${iss}/token`,
        userinfo_endpoint: `${iss}/userinfo`,
        end_session_endpoint: `${iss}/endsession`,
        jwks_uri: `${iss}/jwks`,
        response_types_supported: ['code'],
        response_modes_supported: ['query'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'profile', 'email'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified', 'name'],
        authorization_response_iss_parameter_supported: true,
        ...discoveryOverride,
      });
    }
    if (req.method === 'GET' && url.pathname === '/authorize') lastAuthorize = Object.fromEntries(url.searchParams);
    return mockHandler(req, res);
  } catch (e) {
    sendJson(res, 500, { error: 'server_error', error_description: String(e) });
  }
});

httpServer.listen(PORT, HOST, () => {
  const { port } = httpServer.address();
  const hostPart = HOST.includes(':') ? `[${HOST}]` : HOST;
  server.issuer.url = `http://${hostPart}:${port}`; // the mock would say "localhost" for 127.x
  process.stdout.write(`READY ${JSON.stringify({ issuer: server.issuer.url, port })}\n`);
});

const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (args.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
