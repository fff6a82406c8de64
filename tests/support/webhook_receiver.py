"""A webhook receiver for the tests: verifies every delivery with the official
`standardwebhooks` library and keeps what it received in a JSON-lines file, so that a
restarted receiver still knows what came before.

Usage: webhook_receiver.py PORT LOG_FILE, with WEBHOOK_SECRET in the environment.

  POST /hook       a delivery: verified, recorded, answered as the mode says
  GET  /events     every delivery received: [{"id", "timestamp", "verified", "event"}]
  POST /mode       {"mode": "ok" | "fail" | "slow" | "redirect" | "big", "seconds": N}
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

PORT, LOG = int(sys.argv[1]), sys.argv[2]
WEBHOOK = Webhook(os.environ["WEBHOOK_SECRET"])
LOCK = threading.Lock()
MODE = {"mode": "ok", "seconds": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            lines = open(LOG).read().splitlines() if os.path.exists(LOG) else []
        self.answer(200, json.dumps([json.loads(l) for l in lines]).encode(),
                    [("content-type", "application/json")])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/mode":
            MODE.update(json.loads(body))
            return self.answer(204)
        mode = dict(MODE)
        if mode["mode"] == "slow":
            time.sleep(mode["seconds"])
        try:
            event = WEBHOOK.verify(body, dict(self.headers))
            verified = True
        except Exception as e:  # noqa: BLE001 (any refusal is recorded as one)
            event, verified = {"error": str(e)}, False
        record = {"id": self.headers.get("webhook-id"),
                  "timestamp": self.headers.get("webhook-timestamp"),
                  "verified": verified, "mode": mode["mode"], "event": event}
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(record) + "\n")
        if not verified:
            return self.answer(400)
        if mode["mode"] == "fail":
            return self.answer(500, b"no")
        if mode["mode"] == "redirect":
            return self.answer(307, headers=[("location", "http://127.0.0.1:9/elsewhere")])
        if mode["mode"] == "big":
            return self.answer(200, b"x" * (8 << 20))
        self.answer(204)


class Server(ThreadingHTTPServer):
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # A sender that gave up (a time-out under test) closed the connection: expected.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


Server(("127.0.0.1", PORT), Handler).serve_forever()
