// Verifies Latch's access tokens as a Node.js service would: jose's createRemoteJWKSet
// with its defaults (keys cached, refetched on an unknown kid). Reads one token per line
// on stdin and answers one JSON line each: {ok, kid, sub} or {ok: false, error}, with how
// many times the JWKS was fetched so far.
//
// Environment: JWKS_URL, ISSUER, AUDIENCE, ALG.
import { createInterface } from "node:readline";
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify } from "jose";

let fetches = 0;
const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL), {
  [customFetch]: (...args) => {
    fetches += 1;
    return fetch(...args);
  },
});

for await (const token of createInterface({ input: process.stdin })) {
  let answer;
  try {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: process.env.ISSUER,
      audience: process.env.AUDIENCE,
      algorithms: [process.env.ALG],
    });
    answer = { ok: true, kid: decodeProtectedHeader(token).kid, sub: payload.sub };
  } catch (e) {
    answer = { ok: false, error: e.code ?? String(e) };
  }
  console.log(JSON.stringify({ ...answer, fetches }));
}
