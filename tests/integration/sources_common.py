"""Shared pieces of the sources integration tests: a takedownd whose config
holds the sources a test gives, hash lists made from bytes, and a loopback
HTTP server for url_list sources."""
import hashlib
import http.server
import os
import socket
import threading
import time

from takedown_harness import Daemon


def write_list(path, contents):
    """A hash list with the MD5 of each of `contents` (entry ids e-0, e-1, ...)."""
    with open(path, "w") as f:
        f.write("hash_type,hash,category,entry_id,tags\n")
        for i, body in enumerate(contents):
            f.write(f"md5,{hashlib.md5(body).hexdigest()},csam,e-{i},test\n")
    return path


def write_file(path, body):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(body)


class SourcesDaemon(Daemon):
    """A Daemon whose `sources:` section is the YAML given (indented as a list)."""

    def __init__(self, work_dir, sources_yaml, list_path, workers=2, checkpoint_every=8):
        super().__init__(work_dir, work_dir, list_path, workers=workers, checkpoint_every=checkpoint_every)
        with open(self.config_path) as f:
            config = f.read()
        head, rest = config.split("sources:\n", 1)
        tail = rest[rest.index("lists:"):] if list_path else rest[rest.index("notices:"):]
        with open(self.config_path, "w") as f:
            f.write(head + "sources:\n" + sources_yaml + tail)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def sweep_of(daemon, source):
    return daemon.ctl_json("sweep", "status", source)[0]


def wait_sweep_end(daemon, source, timeout=30):
    """The source's sweep state once it is no longer running."""
    return wait_for(lambda: (lambda s: s if s["state"] != "running" else None)(sweep_of(daemon, source)), timeout,
                    f"the sweep of {source} to end")


class LoopbackServer:
    """http.server on 127.0.0.1 with an OS-chosen port, in a thread.

    `objects` maps a path to bytes; HEAD and GET answer them with an ETag.
    A path in `missing` answers 404. While `gate` is cleared, GETs of
    gated paths wait for it (HEADs never do), so a sweep can be frozen.
    """

    def __init__(self):
        self.objects = {}
        self.missing = set()
        self.gate = threading.Event()
        self.gate.set()
        self.gated_prefix = "/"
        self.lock = threading.Lock()
        self.gets_waiting = 0
        self.gets = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes: without this,
                # delayed ACKs add ~40 ms to every response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def _answer(self, with_body):
                path = self.path
                if path in server.missing or path not in server.objects:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.objects[path]
                if with_body:
                    with server.lock:
                        server.gets += 1
                    if path.startswith(server.gated_prefix) and not server.gate.is_set():
                        with server.lock:
                            server.gets_waiting += 1
                        server.gate.wait(30)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", '"' + hashlib.md5(body).hexdigest() + '"')
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def do_HEAD(self):
                self._answer(False)

            def do_GET(self):
                self._answer(True)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
