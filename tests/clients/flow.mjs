// A native app's whole session through the TypeScript client generated from Latch's
// OpenAPI document (examples/spa, compiled by `make test`): register, sign in on a second
// device, list sessions, refresh, sign out; each access token checked with jose against
// the JWKS. Prints one JSON line of what happened.
//
// Environment: LATCH (base URL; REFRESH_TOKEN_DELIVERY=both), EMAIL, PASSWORD, ISSUER,
// AUDIENCE, ALG.
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { Latch } from "../../examples/spa/dist/latch.js";

const { LATCH, EMAIL, PASSWORD } = process.env;
const jwks = createRemoteJWKSet(new URL(`${LATCH}/.well-known/jwks.json`));
const kids = new Set();
async function verified(client) {
  const { payload } = await jwtVerify(client.token, jwks, {
    issuer: process.env.ISSUER,
    audience: process.env.AUDIENCE,
    algorithms: [process.env.ALG],
  });
  kids.add(decodeProtectedHeader(client.token).kid);
  return payload.sub;
}

const phone = new Latch({ baseUrl: LATCH, keepRefreshToken: true });
const laptop = new Latch({ baseUrl: LATCH, keepRefreshToken: true });
const out = {};
const registered = await phone.register(EMAIL, PASSWORD);
out.registered = registered.email;
out.sub_matches = (await verified(phone)) === registered.id;
await laptop.login(EMAIL, PASSWORD);
out.laptop_verified = (await verified(laptop)) === registered.id;
out.sessions = (await phone.sessions()).length;
const before = phone.token;
await phone.refresh();
out.refreshed = phone.token !== before && (await verified(phone)) === registered.id;
out.me = (await phone.me()).email;
// The refresh token the laptop held (kept in memory by the client) is dead once it signs out.
const held = laptop.refreshToken;
await laptop.logout();
out.sessions_after_logout = (await phone.sessions()).length;
const { response, error } = await laptop.api.POST("/auth/refresh", { body: { refresh_token: held } });
out.refresh_after_logout = [response.status, error?.code];
out.kids = [...kids];
console.log(JSON.stringify(out));
