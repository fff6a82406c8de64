// Converts Latch's WebAuthn options (binary fields as base64url strings) for
// navigator.credentials, and the browser's answers back to JSON Latch takes.
"use strict";

const b64urlToBuf = (s) => {
  s = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(s + "=".repeat((4 - (s.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
};

const bufToB64url = (buf) => {
  const bytes = new Uint8Array(buf);
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

// `publicKey` from POST /auth/passkeys/register/options → the `credential` for
// POST /auth/passkeys/register.
async function passkeyCreate(publicKey) {
  const pk = structuredClone(publicKey);
  pk.challenge = b64urlToBuf(pk.challenge);
  pk.user.id = b64urlToBuf(pk.user.id);
  for (const c of pk.excludeCredentials ?? []) c.id = b64urlToBuf(c.id);
  const cred = await navigator.credentials.create({ publicKey: pk });
  return {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: bufToB64url(cred.response.attestationObject),
      clientDataJSON: bufToB64url(cred.response.clientDataJSON),
      transports: cred.response.getTransports?.() ?? [],
    },
    extensions: cred.getClientExtensionResults(),
  };
}

// `publicKey` from POST /auth/passkeys/login/options → the `credential` for
// POST /auth/passkeys/login.
async function passkeyGet(publicKey) {
  const pk = structuredClone(publicKey);
  pk.challenge = b64urlToBuf(pk.challenge);
  for (const c of pk.allowCredentials ?? []) c.id = b64urlToBuf(c.id);
  const cred = await navigator.credentials.get({ publicKey: pk });
  const r = cred.response;
  return {
    id: cred.id,
    rawId: bufToB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: bufToB64url(r.authenticatorData),
      clientDataJSON: bufToB64url(r.clientDataJSON),
      signature: bufToB64url(r.signature),
      userHandle: r.userHandle ? bufToB64url(r.userHandle) : null,
    },
    extensions: cred.getClientExtensionResults(),
  };
}
