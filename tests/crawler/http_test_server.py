#!/usr/bin/python3
"""A small HTTP/1.1 server on 127.0.0.1 for the HTTP fetcher, URL-list and
re-check tests (tests/crawler/http_test_server.h starts and stops it).

It binds an OS-chosen port, prints "PORT <n>" on stdout, and serves until
killed (or until its parent process goes away). Every connection has its own
thread. Routes (GET and HEAD):

  /files/<name>?v=etag|lm|none  the file <root>/<name>; v=etag adds an ETag
                                (hash of the bytes), v=lm a Last-Modified
                                (the file's mtime); default none
  /status/<code>                that status, a short text body
  /redirect/<n>                 302 chain: n -> n-1 -> ... -> 0, which is 200
                                "final\n"; the hop from 2 uses an absolute
                                URL, the others relative paths
  /loop/a, /loop/b              a -> b -> a ...
  /chain/<n>                    n -> n+1 -> ... without end
  /redirect-to?url=<u>          302 to <u> (any scheme)
  /slow                         Content-Length 1000, then one byte per 100 ms
  /steady                       Content-Length 10 MB, 512 bytes per 100 ms
  /bytes?n=<N>&close=1          N bytes (pattern), with Content-Length unless
                                close=1 (then ends by closing the connection)
  /concurrent?delay=<s>         sleeps, counting requests in flight
  /removed                      a provider's "content removed" page (200)
  /stats                        "max_concurrent <m>\n", the most /concurrent
                                requests seen in flight at once
  /reset-stats                  restarts that maximum
  /count?path=<p>&method=<M>    how many <M> requests <p> (path and query) got
"""

import argparse
import hashlib
import os
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATE = {"current": 0, "max": 0, "counts": {}}
ROOT = "."


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "takedown-test/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on kept-alive connections

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        self.route(head=False)

    def do_HEAD(self):
        self.route(head=True)

    def send_body(self, status, body, content_type="text/plain", headers=None, head=False):
        self.send_response(status)
        if status in (204, 304) or status < 200:
            body = b""  # these responses have no body
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def redirect(self, location, head):
        self.send_body(302, b"moved\n", headers={"Location": location}, head=head)

    def route(self, head):
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = dict(urllib.parse.parse_qsl(parsed.query))
        method = "HEAD" if head else "GET"
        with LOCK:
            key = (method, self.path)
            STATE["counts"][key] = STATE["counts"].get(key, 0) + 1
        try:
            self.dispatch(path, query, head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def dispatch(self, path, query, head):
        if path.startswith("/files/"):
            name = path[len("/files/"):]
            full = os.path.join(ROOT, name)
            if "/" in name or not os.path.isfile(full):
                self.send_body(404, b"no such file\n", head=head)
                return
            with open(full, "rb") as f:
                data = f.read()
            headers = {}
            validators = query.get("v", "none")
            if validators == "etag":
                headers["ETag"] = '"%s"' % hashlib.sha1(data).hexdigest()[:16]
            elif validators == "lm":
                headers["Last-Modified"] = formatdate(os.path.getmtime(full), usegmt=True)
            self.send_body(200, data, "application/octet-stream", headers, head)
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            self.send_body(code, b"status %d\n" % code, head=head)
        elif path.startswith("/redirect/"):
            n = int(path[len("/redirect/"):])
            if n == 0:
                self.send_body(200, b"final\n", head=head)
            elif n == 2:
                self.redirect("http://127.0.0.1:%d/redirect/1" % self.server.server_address[1], head)
            else:
                self.redirect("/redirect/%d" % (n - 1), head)
        elif path == "/loop/a":
            self.redirect("/loop/b", head)
        elif path == "/loop/b":
            self.redirect("/loop/a", head)
        elif path.startswith("/chain/"):
            self.redirect("/chain/%d" % (int(path[len("/chain/"):]) + 1), head)
        elif path == "/redirect-to":
            self.redirect(query["url"], head)
        elif path == "/slow":
            self.trickle(1000, 1, 0.1, head)
        elif path == "/steady":
            self.trickle(10 * 1000 * 1000, 512, 0.1, head)
        elif path == "/bytes":
            n = int(query.get("n", "0"))
            data = bytes((i * 7 + 3) % 251 for i in range(n))
            if query.get("close") == "1":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if not head:
                    self.wfile.write(data)
            else:
                self.send_body(200, data, "application/octet-stream", head=head)
        elif path == "/concurrent":
            with LOCK:
                STATE["current"] += 1
                STATE["max"] = max(STATE["max"], STATE["current"])
            try:
                time.sleep(float(query.get("delay", "0.2")))
            finally:
                with LOCK:
                    STATE["current"] -= 1
            self.send_body(200, b"ok\n", head=head)
        elif path == "/removed":
            self.send_body(200, b"<html><body>This content has been removed following a removal order."
                           b"</body></html>\n", "text/html", head=head)
        elif path == "/stats":
            with LOCK:
                body = b"max_concurrent %d\n" % STATE["max"]
            self.send_body(200, body, head=head)
        elif path == "/reset-stats":
            with LOCK:
                STATE["max"] = STATE["current"]
            self.send_body(200, b"ok\n", head=head)
        elif path == "/count":
            with LOCK:
                n = STATE["counts"].get((query.get("method", "GET"), query.get("path", "")), 0)
            self.send_body(200, b"%d\n" % n, head=head)
        else:
            self.send_body(404, b"no route\n", head=head)

    def trickle(self, length, chunk, interval, head):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head:
            return
        self.wfile.flush()
        deadline = time.monotonic() + 15
        sent = 0
        while sent < length and time.monotonic() < deadline:
            self.wfile.write(b"x" * chunk)
            self.wfile.flush()
            sent += chunk
            time.sleep(interval)
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients under test abort transfers on purpose (limits, timeouts).
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def watch_parent(parent):
    while True:
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.5)


def main():
    global ROOT
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    args = parser.parse_args()
    ROOT = args.root
    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
