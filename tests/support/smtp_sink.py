#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for the test suite.

Accepts every message and stores it as a file in DIR (written whole, then renamed, so a
reader never sees half a message). Prints "ready PORT" once it accepts connections.

  smtp_sink.py --dir DIR [--port N] [--tls none|starttls|implicit] [--cert F --key F]
               [--delay SECONDS]

With --delay, each message is held that long before it is accepted: a slow server.
"""
import argparse
import asyncio
import os
import signal
import ssl
import sys
import time
import uuid

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, directory, delay):
        self.directory = directory
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        name = f"{time.time_ns()}-{uuid.uuid4().hex}.eml"
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "wb") as f:
            f.write(("X-Envelope-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", choices=["none", "starttls", "implicit"], default="none")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    port = args.port
    if port == 0:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()

    kwargs = {}
    if args.tls == "starttls":
        kwargs = {"tls_context": context, "require_starttls": True}
    elif args.tls == "implicit":
        kwargs = {"ssl_context": context}
    controller = Controller(Store(args.dir, args.delay), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print(f"ready {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (controller.stop(), sys.exit(0)))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
