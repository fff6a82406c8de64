"""The example SPA (examples/spa) in headless Chromium, served from another origin than
Latch: register, reload and stay signed in through the HttpOnly refresh cookie, renew
the access token after it expired, sign out; and the same page from an origin Latch does
not allow, refused. Prints one JSON line of what the page showed.

Environment: LATCH (Latch's base URL, on localhost), PAGE_PORT (the allowed origin is
http://localhost:PAGE_PORT), OTHER_PORT (a port for an origin Latch does not allow),
TOKEN_LIFETIME (seconds an access token lives).
"""
import http.server
import json
import os
import threading
import time
from functools import partial

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SPA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "spa")
LATCH = os.environ["LATCH"]
PAGE_PORT = int(os.environ["PAGE_PORT"])
OTHER_PORT = int(os.environ["OTHER_PORT"])
TOKEN_LIFETIME = float(os.environ["TOKEN_LIFETIME"])


class Handler(http.server.SimpleHTTPRequestHandler):
    # Module scripts need a JavaScript type, whatever the system's MIME table says.
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".js": "text/javascript"}

    def log_message(self, *args):
        pass


def serve(port):
    handler = partial(Handler, directory=SPA)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Page:
    def __init__(self, driver):
        self.driver = driver

    def open(self, port):
        self.driver.get(f"http://localhost:{port}/?latch={LATCH}")
        return self.settled(0)

    def state(self):
        return self.driver.find_element(By.ID, "status").get_attribute("data-state")

    def done(self):
        return int(self.driver.find_element(By.ID, "busy").get_attribute("data-done") or 0)

    def settled(self, before):
        """Waits for the page's next action to finish; returns its state and error code."""
        WebDriverWait(self.driver, 20).until(lambda d: self.done() > before)
        code = self.driver.find_element(By.ID, "error").get_attribute("data-code")
        return self.state(), code

    def click(self, button):
        before = self.done()
        self.driver.find_element(By.ID, button).click()
        return self.settled(before)

    def fill(self, email, password):
        for field, value in (("email", email), ("password", password)):
            el = self.driver.find_element(By.ID, field)
            el.clear()
            el.send_keys(value)

    def refreshes(self):
        return self.driver.execute_script("return window.latch.refreshes")


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
    page = Page(driver)
    out = {}
    try:
        out["first_visit"] = page.open(PAGE_PORT)
        page.fill("ada@example.com", "correct horse battery staple")
        out["register"] = page.click("register")
        out["status"] = driver.find_element(By.ID, "status").text
        # The refresh token is Latch's HttpOnly cookie: the page's script never sees it.
        out["page_cookies"] = driver.execute_script("return document.cookie")
        out["reload"] = page.open(PAGE_PORT)
        # Let the access token expire; the next call renews it through the cookie.
        time.sleep(TOKEN_LIFETIME + 1)
        before = page.refreshes()
        out["after_expiry"] = page.click("me")
        out["renewed"] = page.refreshes() - before
        out["sessions"] = driver.find_element(By.ID, "sessions").text
        out["sign_out"] = page.click("logout")
        out["reload_after_sign_out"] = page.open(PAGE_PORT)
        # The same page from an origin Latch does not allow.
        out["other_origin_visit"] = page.open(OTHER_PORT)
        page.fill("ada@example.com", "correct horse battery staple")
        out["other_origin_sign_in"] = page.click("login")
    finally:
        driver.quit()
        for s in servers:
            s.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
