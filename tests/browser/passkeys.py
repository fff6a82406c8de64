"""Passkeys in headless Chromium with its virtual authenticator (DevTools WebAuthn domain),
against a running Latch: register, sign in, a page of another origin refused, a cloned
authenticator (its counter set back) refused. Prints one JSON line of what Latch answered.

Environment: LATCH (Latch's base URL), TOKEN (a signed-in user's access token), PAGE_PORT
(the port of APP_URL, http://localhost:PAGE_PORT), OTHER_PORT (a port for the wrong origin).
"""
import http.server
import json
import os
import threading
import urllib.error
import urllib.request
from functools import partial

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

HERE = os.path.dirname(os.path.abspath(__file__))
LATCH = os.environ["LATCH"]
TOKEN = os.environ["TOKEN"]
PAGE_PORT = int(os.environ["PAGE_PORT"])
OTHER_PORT = int(os.environ["OTHER_PORT"])


def serve(port):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=HERE)
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def api(path, body, token=None):
    req = urllib.request.Request(LATCH + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


CREATE = ("const done = arguments[arguments.length - 1];"
          "passkeyCreate(arguments[0]).then(done, e => done({error: String(e)}));")
GET = ("const done = arguments[arguments.length - 1];"
       "passkeyGet(arguments[0]).then(done, e => done({error: String(e)}));")


def sign_in(driver):
    status, options = api("/auth/passkeys/login/options", {})
    assert status == 200, options
    credential = driver.execute_async_script(GET, options["publicKey"])
    assert "error" not in credential, credential
    return api("/auth/passkeys/login",
               {"challenge_id": options["challenge_id"], "credential": credential})


def main():
    servers = [serve(PAGE_PORT), serve(OTHER_PORT)]
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"):
        opts.add_argument(arg)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_script_timeout(20)
    out = {}
    try:
        driver.get(f"http://localhost:{PAGE_PORT}/passkeys.html")
        driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
        authenticator = driver.execute_cdp_cmd("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
            "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True}})["authenticatorId"]

        status, options = api("/auth/passkeys/register/options", {}, TOKEN)
        assert status == 200, options
        credential = driver.execute_async_script(CREATE, options["publicKey"])
        assert "error" not in credential, credential
        out["register"], _ = api("/auth/passkeys/register", {
            "challenge_id": options["challenge_id"], "credential": credential,
            "name": "Chromium"}, TOKEN)

        out["sign_in"], body = sign_in(driver)
        out["signed_in_as"] = (body or {}).get("user", {}).get("email")
        out["sign_in_again"], _ = sign_in(driver)

        # The same authenticator, on a page of another origin: it signs, Latch refuses.
        driver.get(f"http://localhost:{OTHER_PORT}/passkeys.html")
        out["wrong_origin"], _ = sign_in(driver)
        driver.get(f"http://localhost:{PAGE_PORT}/passkeys.html")

        # A cloned authenticator: the same key with its counter set back.
        stored = driver.execute_cdp_cmd("WebAuthn.getCredentials",
                                        {"authenticatorId": authenticator})["credentials"]
        driver.execute_cdp_cmd("WebAuthn.setCredentialProperties", {
            "authenticatorId": authenticator,
            "credentialId": stored[0]["credentialId"],
            "signCount": 1})
        out["cloned"], _ = sign_in(driver)
    finally:
        driver.quit()
        for s in servers:
            s.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
