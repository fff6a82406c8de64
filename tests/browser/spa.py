"""The example SPA (examples/spa) in headless Chromium, served from another origin than
Latch: register, reload and stay signed in through the HttpOnly refresh cookie, renew
the access token after it expired, sign out; the same page from an origin Latch does not
allow, refused; then sign in again, change the address (following the link mailed to the
new one) and delete the account. Prints one JSON line of what the page showed.

Environment: LATCH (Latch's base URL, on localhost), PAGE_PORT (the allowed origin is
http://localhost:PAGE_PORT), OTHER_PORT (a port for an origin Latch does not allow),
TOKEN_LIFETIME (seconds an access token lives), MAIL_DIR (where the SMTP server writes
the messages it receives, as .eml files).
"""
import email
import email.policy
import glob
import re
import sys
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
MAIL_DIR = os.environ["MAIL_DIR"]


def link_to(address, timeout=20):
    """The link in the first message to `address`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in sorted(glob.glob(os.path.join(MAIL_DIR, "*.eml"))):
            with open(path, "rb") as f:
                msg = email.message_from_binary_file(f, policy=email.policy.default)
            if msg["To"] == address:
                text = msg.get_body(preferencelist=("plain",)).get_content()
                return re.search(r"https?://\S+token=[\w-]+", text).group(0)
        time.sleep(0.1)
    raise TimeoutError(f"no mail to {address}")


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

    def type(self, field, value):
        el = self.driver.find_element(By.ID, field)
        el.clear()
        el.send_keys(value)

    def text(self, element):
        return self.driver.find_element(By.ID, element).text

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
        # Back on the allowed origin: a new address, confirmed by its link.
        page.open(PAGE_PORT)
        page.fill("ada@example.com", "correct horse battery staple")
        page.click("login")
        page.type("current-password", "correct horse battery staple")
        page.type("new-email", "ada.new@example.com")
        out["change_email"] = page.click("change-email")
        out["change_email_notice"] = page.text("notice")
        # The mailed link opens the page (without `?latch=`: the tab remembers it).
        driver.get(link_to("ada.new@example.com"))
        out["confirmed"] = page.settled(0)
        out["confirmed_notice"] = page.text("notice")
        out["status_after_change"] = page.text("status")
        # Deleting asks for the password again; a wrong one deletes nothing.
        page.type("current-password", "not the password")
        out["delete_wrong_password"] = page.click("delete-account")
        page.type("current-password", "correct horse battery staple")
        out["delete"] = page.click("delete-account")
        out["delete_notice"] = page.text("notice")
        out["reload_after_delete"] = page.open(PAGE_PORT)
        page.fill("ada.new@example.com", "correct horse battery staple")
        out["sign_in_after_delete"] = page.click("login")
    except Exception:
        # What the page showed up to the failure, for the test's message.
        print(json.dumps(out), file=sys.stderr)
        raise
    finally:
        driver.quit()
        for s in servers:
            s.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
