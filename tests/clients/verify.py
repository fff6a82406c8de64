"""Verifies Latch's access tokens as a Python service would: PyJWT's PyJWKClient with its
defaults (key set cached, refetched on an unknown kid). Reads one token per line on stdin
and answers one JSON line each: {ok, kid, sub} or {ok: false, error}, with how many times
the JWKS was fetched so far.

Environment: JWKS_URL, ISSUER, AUDIENCE, ALG.
"""
import json
import os
import sys

import jwt


class CountingClient(jwt.PyJWKClient):
    fetches = 0

    def fetch_data(self):
        CountingClient.fetches += 1
        return super().fetch_data()


jwks = CountingClient(os.environ["JWKS_URL"])

for line in sys.stdin:
    token = line.strip()
    try:
        key = jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=[os.environ["ALG"]],
                            audience=os.environ["AUDIENCE"], issuer=os.environ["ISSUER"])
        answer = {"ok": True, "kid": key.key_id, "sub": claims["sub"]}
    except jwt.PyJWTError as e:
        answer = {"ok": False, "error": type(e).__name__}
    print(json.dumps({**answer, "fetches": CountingClient.fetches}), flush=True)
