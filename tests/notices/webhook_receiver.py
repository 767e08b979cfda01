#!/usr/bin/env python3
"""Webhook receiver for tests/notices/webhook_channel_test.cc.

Serves HTTP (or HTTPS with --tls-cert/--tls-key) on 127.0.0.1 at a port the
OS chooses, written to --port-file once it listens. Every POST is appended to
--log as one JSON line: path, headers (lower-case names), body, and whether
the X-Takedown-Signature verifies with --secret (computed here independently
of the C++ code). Only the standard library is used.

Responses by path:
  /status/<code>  that status; for 4xx/5xx a JSON error body, and with
                  ?noisy=1 a long body with control characters
  /hang           never answers (sleeps 30 s) - for timeout tests
  /big            200 with a 16 MiB body - for the response size limit
  /redirect       302 to /ok
  anything else   200 {"accepted": true}
--fail-first N answers the first N POSTs with 503 (Retry-After: 7) before
applying the rules above.
"""

import argparse
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()

    lock = threading.Lock()
    state = {"posts": 0}
    secret = args.secret.encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *fmt_args):
            sys.stderr.write("webhook_receiver: " + (fmt % fmt_args) + "\n")

        def respond(self, status, body, headers=()):
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            timestamp = self.headers.get("X-Takedown-Timestamp", "")
            expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
            signature = self.headers.get("X-Takedown-Signature", "")
            record = {
                "path": self.path,
                "method": "POST",
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
                "signature_ok": hmac.compare_digest(expected, signature),
            }
            with lock:
                state["posts"] += 1
                number = state["posts"]
                with open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")

            if number <= args.fail_first:
                self.respond(503, '{"error": "temporarily unavailable"}', [("Retry-After", "7")])
                return
            path, _, query = self.path.partition("?")
            if path.startswith("/status/"):
                code = int(path[len("/status/"):])
                body = json.dumps({"error": f"rejected by test receiver with {code}"})
                if "noisy=1" in query:
                    body = "bad\r\nInjected-Header: yes\x1b[31m" + "x" * 5000
                self.respond(code, body if code >= 400 else "")
            elif path == "/hang":
                time.sleep(30)
            elif path == "/big":
                self.respond(200, b"y" * (16 << 20))
            elif path == "/redirect":
                self.respond(302, "", [("Location", "/ok")])
            else:
                self.respond(200, '{"accepted": true}')

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
