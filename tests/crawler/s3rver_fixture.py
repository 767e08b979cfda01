#!/usr/bin/env python3
"""Runs a command against a real S3 server (s3rver, pinned) on 127.0.0.1.

    s3rver_fixture.py --cache-dir DIR -- COMMAND [ARGS...]

Installs s3rver@3.7.1 from npm into DIR (once; DIR belongs in the build tree,
never in the repository), starts it on 127.0.0.1 with an OS-chosen port and a
fresh temporary data directory, runs COMMAND with S3_TEST_ENDPOINT
(http://127.0.0.1:PORT) and S3_TEST_VHOST_ENDPOINT (http://s3.localhost:PORT,
for virtual-host addressing) in its environment, plus S3_TEST_TLS_ENDPOINT and
S3_TEST_TLS_CA_FILE for a second s3rver over HTTPS with a self-signed
certificate; then stops the servers and removes their directories, whatever
happened. Exits with COMMAND's status.

Fails (exit 2) with a clear message when node or npm is missing or the install
fails: the S3 tests must never pass without having run. The server dies with
this script even if the script is killed (PR_SET_PDEATHSIG).
"""
import argparse
import ctypes
import fcntl
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

S3RVER_VERSION = "3.7.1"
START_TIMEOUT_S = 60
INSTALL_TIMEOUT_S = 600


def fail(message):
    print(f"s3rver_fixture: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def installed_version(cache_dir):
    package_json = os.path.join(cache_dir, "node_modules", "s3rver", "package.json")
    try:
        with open(package_json, encoding="utf-8") as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def ensure_s3rver(cache_dir, npm):
    os.makedirs(cache_dir, exist_ok=True)
    # Several test runs may share the cache: install under a lock.
    with open(os.path.join(cache_dir, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(cache_dir) == S3RVER_VERSION:
            return
        print(f"s3rver_fixture: installing s3rver@{S3RVER_VERSION} into {cache_dir}", flush=True)
        try:
            result = subprocess.run(
                [npm, "install", "--prefix", cache_dir, "--no-audit", "--no-fund", "--no-save",
                 "--loglevel=error", f"s3rver@{S3RVER_VERSION}"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            fail(f"npm install s3rver@{S3RVER_VERSION} took longer than {INSTALL_TIMEOUT_S} s")
        if result.returncode != 0 or installed_version(cache_dir) != S3RVER_VERSION:
            fail(f"npm install s3rver@{S3RVER_VERSION} failed (exit {result.returncode}):\n{result.stdout[-4000:]}")


def die_with_parent():
    # PR_SET_PDEATHSIG = 1: the server gets SIGKILL when this script dies.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)


def node_flags(node):
    # s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3
    # only offers in its legacy provider: without it every truncated listing is a 500.
    probe = subprocess.run([node, "--openssl-legacy-provider", "-e", ""],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return ["--openssl-legacy-provider"] if probe.returncode == 0 else []


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (valid two days); returns (key, cert) paths."""
    key = os.path.join(directory, "key.pem")
    cert = os.path.join(directory, "cert.pem")
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        fail(f"openssl could not make a test certificate:\n{result.stdout[-2000:]}")
    return key, cert


def start_server(node, script, data_dir, log_path, tls=None):
    log = open(log_path, "w")
    tls_args = ["--key", tls[0], "--cert", tls[1]] if tls else []
    process = subprocess.Popen(
        [node, *node_flags(node), script, "--directory", data_dir, "--address", "127.0.0.1", "--port", "0",
         "--service-endpoint", "localhost", "--silent", *tls_args],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent, start_new_session=True)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_TIMEOUT_S
    seen = b""
    port = None
    while port is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or process.poll() is not None:
            break
        if not selector.select(timeout=remaining):
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        for line in seen.decode("utf-8", "replace").splitlines():
            marker = "listening on 127.0.0.1:"
            if marker in line:
                port = int(line.split(marker, 1)[1].strip())
    if port is None:
        stop_server(process)
        log.close()
        with open(log_path, encoding="utf-8", errors="replace") as f:
            err = f.read()[-4000:]
        fail(f"s3rver did not start within {START_TIMEOUT_S} s; stdout: {seen[-2000:]!r}; stderr:\n{err}")

    # Keep draining stdout so the server never blocks on a full pipe.
    def drain():
        while os.read(process.stdout.fileno(), 65536):
            pass

    threading.Thread(target=drain, daemon=True).start()
    return process, port, log


def stop_server(process):
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        fail("no command to run")

    node = shutil.which("node") or shutil.which("nodejs")
    npm = shutil.which("npm")
    if not node or not npm:
        fail("node and npm are needed to run s3rver for the S3 tests; install them "
             "(bash scripts/install-deps.sh, or apt-get install nodejs npm)")
    cache_dir = os.path.abspath(args.cache_dir)
    ensure_s3rver(cache_dir, npm)
    script = os.path.join(cache_dir, "node_modules", "s3rver", "bin", "s3rver.js")

    # ctest's timeout sends SIGTERM: turn it into an exception so cleanup runs.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)

    data_dir = tempfile.mkdtemp(prefix="s3rver-data-", dir="/tmp")
    tls_dir = tempfile.mkdtemp(prefix="s3rver-tls-", dir="/tmp")
    log_path = os.path.join(tempfile.gettempdir(), f"s3rver-{os.getpid()}.log")
    tls_log_path = os.path.join(tempfile.gettempdir(), f"s3rver-tls-{os.getpid()}.log")
    process = None
    tls_process = None
    log = None
    tls_log = None
    try:
        process, port, log = start_server(node, script, data_dir, log_path)
        # A second server, over HTTPS with a self-signed certificate, for the TLS tests.
        key, cert = make_certificate(tls_dir)
        tls_process, tls_port, tls_log = start_server(node, script, os.path.join(tls_dir, "data"), tls_log_path,
                                                      tls=(key, cert))
        env = dict(os.environ)
        env["S3_TEST_ENDPOINT"] = f"http://127.0.0.1:{port}"
        env["S3_TEST_VHOST_ENDPOINT"] = f"http://s3.localhost:{port}"
        env["S3_TEST_TLS_ENDPOINT"] = f"https://127.0.0.1:{tls_port}"
        env["S3_TEST_TLS_CA_FILE"] = cert
        print(f"s3rver_fixture: s3rver {S3RVER_VERSION} on 127.0.0.1:{port} (and HTTPS on {tls_port}), "
              f"data in {data_dir}", flush=True)
        result = subprocess.run(command, env=env)
        if result.returncode != 0:
            if process.poll() is not None:
                print(f"s3rver_fixture: s3rver exited early with {process.returncode}", file=sys.stderr)
            log.flush()
            with open(log_path, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-2000:]
            if tail:
                print(f"s3rver_fixture: s3rver stderr (tail):\n{tail}", file=sys.stderr)
        return result.returncode
    except KeyboardInterrupt as e:
        print(f"s3rver_fixture: interrupted ({e}); stopping s3rver", file=sys.stderr)
        return 130
    finally:
        for server in (process, tls_process):
            if server is not None:
                stop_server(server)
        for handle in (log, tls_log):
            if handle is not None:
                handle.close()
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(tls_dir, ignore_errors=True)
        for path in (log_path, tls_log_path):
            try:
                os.unlink(path)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main())
