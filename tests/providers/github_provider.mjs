#!/usr/bin/env node
// Test OAuth2-only provider imitating GitHub / GitHub Enterprise for Latch's tests.
// Plain node:http, no dependencies.
//
// Serves both layouts, so either base URL works:
//   github.com style : /login/oauth/authorize, /login/oauth/access_token, /user, /user/emails
//   Enterprise style : same login paths, API under /api/v3/user, /api/v3/user/emails
//                      (Latch: GITHUB_ENTERPRISE_BASE_URL=http://127.0.0.1:PORT)
//
// Usage: node github_provider.mjs [--host 127.0.0.1] [--port 0] [--client-id ID]
//        [--client-secret S] [--exit-on-stdin-close]
// Ready line on stdout: READY {"base_url":"http://127.0.0.1:PORT","port":PORT}
//
// Imitated GitHub behaviour:
//   * authorize auto-approves: 302 to redirect_uri?code=..&state=.. (refusal: error=access_denied)
//   * PKCE optional, S256 only (as GitHub since 2025-07); if a challenge was sent the verifier
//     must match
//   * access_token answers JSON only with `Accept: application/json`, else form-encoded;
//     token errors come back with HTTP 200 and {"error":"bad_verification_code",...}
//   * API calls need `Authorization: Bearer|token <t>` (401 otherwise) and a User-Agent
//     (403 otherwise: reqwest sends none by default)
//   * /user/emails needs the `user:email` (or `user`) scope, else 404 like GitHub
//
// POST /__control JSON (persist until changed; {"reset":true} restores defaults):
//   {"user": {"id": 1, "login": "octo", "name": "Octo", "email": null}}
//   {"emails": [{"email": "a@b.c", "primary": true, "verified": false, "visibility": null}]}
//   {"mode": "normal" | "access_denied" | "token_error" | "user_error" | "emails_error"}
// GET /__control: current settings + the last authorize query, token request and API requests.
import http from 'node:http';
import crypto from 'node:crypto';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 && i + 1 < args.length ? args[i + 1] : d; };
const HOST = opt('--host', '127.0.0.1');
const PORT = Number(opt('--port', process.env.PORT ?? '0'));
const CLIENT_ID = opt('--client-id', undefined);
const CLIENT_SECRET = opt('--client-secret', undefined);

const defaults = () => ({
  mode: 'normal',
  user: { login: 'octocat', id: 583231, node_id: 'MDQ6VXNlcjU4MzIzMQ==', name: 'The Octocat', email: null, avatar_url: 'https://avatars.githubusercontent.com/u/583231?v=4', type: 'User' },
  emails: [
    { email: 'octocat@example.com', primary: true, verified: true, visibility: 'private' },
    { email: 'octo-old@example.com', primary: false, verified: false, visibility: null },
  ],
});
let ctl = defaults();
const codes = new Map();   // code -> {client_id, redirect_uri, scope, code_challenge, used}
const tokens = new Map();  // access token -> {scope}
const log = { authorize: null, token: null, api: [] };

const rand = (n = 20) => crypto.randomBytes(n).toString('hex');
const s256 = (v) => crypto.createHash('sha256').update(v).digest('base64url');
const readBody = (req) => new Promise((res, rej) => {
  const c = []; req.on('data', (d) => c.push(d)); req.on('end', () => res(Buffer.concat(c).toString())); req.on('error', rej);
});
const json = (res, status, body, extra = {}) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...extra });
  res.end(JSON.stringify(body));
};

function tokenAnswer(req, res, body) {
  // GitHub: 200 in both success and error; JSON only when asked for it.
  if ((req.headers.accept ?? '').includes('application/json')) return json(res, 200, body);
  res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
  res.end(new URLSearchParams(body).toString());
}
const badCode = { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code' };

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  let p = url.pathname;

  if (p === '/__control') {
    if (req.method === 'GET') return json(res, 200, { ctl, log });
    const raw = await readBody(req);
    const c = raw ? JSON.parse(raw) : {};
    if (c.reset) { ctl = defaults(); codes.clear(); tokens.clear(); log.authorize = log.token = null; log.api = []; }
    for (const k of ['mode', 'user', 'emails']) if (k in c) ctl[k] = c[k];
    return json(res, 200, { ok: true, ctl });
  }

  if (req.method === 'GET' && p === '/login/oauth/authorize') {
    const q = Object.fromEntries(url.searchParams);
    log.authorize = q;
    if (!q.client_id || (CLIENT_ID && q.client_id !== CLIENT_ID)) return json(res, 404, { message: 'Not Found' });
    if (!q.redirect_uri) return json(res, 400, { error: 'redirect_uri_mismatch' });
    if (q.code_challenge_method && q.code_challenge_method !== 'S256') return json(res, 400, { error: 'invalid_request', error_description: 'only S256' });
    const back = new URL(q.redirect_uri);
    if (ctl.mode === 'access_denied') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set('error_uri', 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied');
    } else {
      const code = rand(10);
      codes.set(code, { client_id: q.client_id, redirect_uri: q.redirect_uri, scope: q.scope ?? '', code_challenge: q.code_challenge, used: false });
      back.searchParams.set('code', code);
    }
    if (q.state) back.searchParams.set('state', q.state);
    res.writeHead(302, { location: back.href });
    return res.end();
  }

  if (req.method === 'POST' && p === '/login/oauth/access_token') {
    const raw = await readBody(req);
    const ct = req.headers['content-type'] ?? '';
    const b = ct.includes('json') ? JSON.parse(raw || '{}') : Object.fromEntries(new URLSearchParams(raw));
    // Client credentials may also come as HTTP Basic (the oauth2 crate's default).
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [id, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      b.client_id ??= decodeURIComponent(id); b.client_secret ??= decodeURIComponent(secret ?? '');
    }
    log.token = { ...b, client_secret: b.client_secret ? '<redacted>' : undefined, accept: req.headers.accept, basic_auth: !!auth };
    if (ctl.mode === 'token_error') return tokenAnswer(req, res, badCode);
    if ((CLIENT_ID && b.client_id !== CLIENT_ID) || (CLIENT_SECRET && b.client_secret !== CLIENT_SECRET)) {
      return tokenAnswer(req, res, { error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
    }
    const c = codes.get(b.code);
    if (!c || c.used || c.client_id !== b.client_id) return tokenAnswer(req, res, badCode);
    c.used = true;
    if (b.redirect_uri && b.redirect_uri !== c.redirect_uri) return tokenAnswer(req, res, { error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' });
    if (c.code_challenge && (!b.code_verifier || s256(b.code_verifier) !== c.code_challenge)) return tokenAnswer(req, res, badCode);
    const access = `gho_${rand(18)}`;
    tokens.set(access, { scope: c.scope });
    // GitHub reports granted scopes comma-separated.
    return tokenAnswer(req, res, { access_token: access, token_type: 'bearer', scope: c.scope.split(/[ ,]+/).filter(Boolean).join(',') });
  }

  if (p.startsWith('/api/v3/')) p = p.slice('/api/v3'.length);
  if (req.method === 'GET' && (p === '/user' || p === '/user/emails')) {
    log.api.push({ path: url.pathname, authorization: req.headers.authorization ? '<present>' : undefined, user_agent: req.headers['user-agent'], accept: req.headers.accept });
    if (!req.headers['user-agent']) {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return res.end('Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n');
    }
    const m = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization ?? '');
    const t = m && tokens.get(m[1]);
    if (!t) return json(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
    const scopes = t.scope.split(/[ ,]+/).filter(Boolean);
    const hdr = { 'x-oauth-scopes': scopes.join(', ') };
    if (p === '/user') {
      if (ctl.mode === 'user_error') return json(res, 500, { message: 'Server Error' }, hdr);
      return json(res, 200, ctl.user, hdr);
    }
    if (ctl.mode === 'emails_error') return json(res, 500, { message: 'Server Error' }, hdr);
    if (!scopes.includes('user:email') && !scopes.includes('user')) return json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user', status: '404' }, hdr);
    return json(res, 200, ctl.emails, hdr);
  }

  json(res, 404, { message: 'Not Found' });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => json(res, 500, { message: String(e) }));
});
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const h = HOST.includes(':') ? `[${HOST}]` : HOST;
  process.stdout.write(`READY ${JSON.stringify({ base_url: `http://${h}:${port}`, port })}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (args.includes('--exit-on-stdin-close')) {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
