"""The API reference (/docs) in headless Chromium behind a reverse proxy that serves Latch
under /auth-service/: the page, its script and style and the document all load through
the prefix; every operation shows with its summary; the search box narrows the list.
Prints one JSON line of what the page showed.

Environment: LATCH (Latch's base URL), PROXY_PORT (a free port for the proxy).
"""
import http.server
import json
import os
import threading
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

LATCH = os.environ["LATCH"].rstrip("/")
PROXY_PORT = int(os.environ["PROXY_PORT"])
PREFIX = "/auth-service"


class Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards GETs under PREFIX to Latch without it; anything else is 404."""

    seen = []

    def do_GET(self):
        if not self.path.startswith(PREFIX + "/"):
            self.send_error(404)
            return
        upstream = LATCH + self.path[len(PREFIX):]
        Proxy.seen.append(self.path)
        try:
            with urllib.request.urlopen(upstream) as r:
                status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        self.send_response(status)
        for k in ("content-type", "content-security-policy", "cache-control"):
            if headers.get(k):
                self.send_header(k, headers[k])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PROXY_PORT), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")),
                              options=opts)
    out = {}
    try:
        driver.get(f"http://localhost:{PROXY_PORT}{PREFIX}/docs")
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.op"))
        sections = driver.find_elements(By.CSS_SELECTOR, "section.op")
        out["operations"] = len(sections)
        out["with_summary"] = sum(1 for s in sections if s.find_elements(By.CSS_SELECTOR, "p.desc"))
        out["title"] = driver.find_element(By.TAG_NAME, "h1").text
        out["styled"] = driver.execute_script(
            "return getComputedStyle(document.querySelector('nav')).position")
        search = driver.find_element(By.ID, "search")
        search.send_keys("passkeys/login")
        visible = lambda: [s.get_attribute("id") for s in sections if s.is_displayed()]
        out["search"] = sorted(visible())
        out["nav_links_shown"] = sum(
            1 for a in driver.find_elements(By.CSS_SELECTOR, "nav a") if a.is_displayed())
        search.clear()
        search.send_keys(" ")
        out["cleared"] = len(visible())
        out["through_proxy"] = sorted(set(Proxy.seen))
    except Exception:
        import sys
        print(json.dumps(out), file=sys.stderr)
        raise
    finally:
        driver.quit()
        server.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
