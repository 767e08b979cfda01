"""Runs the real takedownd and takedownctl binaries for integration tests.

Each Daemon gets its own temporary directory, loopback ports and config.
Binaries come from the environment (TAKEDOWND, TAKEDOWNCTL), set by CTest.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TAKEDOWND = os.environ.get("TAKEDOWND", os.path.join(REPO, "build", "ci", "daemon", "takedownd"))
TAKEDOWNCTL = os.environ.get("TAKEDOWNCTL", os.path.join(REPO, "build", "ci", "daemon", "takedownctl"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tree(out_dir, files, known=25, seed=1):
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "make-demo-tree.py"), out_dir,
                    "--files", str(files), "--known", str(known), "--seed", str(seed)],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out_dir, "expected.json")) as f:
        return json.load(f)


class Daemon:
    def __init__(self, work_dir, storage, list_path=None, workers=2, checkpoint_every=64, extra=""):
        self.work_dir = work_dir
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.config_path = os.path.join(work_dir, "takedownd.yaml")
        self.notices = os.path.join(work_dir, "notices")
        self.data_dir = os.path.join(work_dir, "data")
        lists = ""
        if list_path:
            lists = f"lists:\n  - name: demo\n    path: {list_path}\n"
        with open(self.config_path, "w") as f:
            f.write(f"""daemon:
  data_dir: {self.data_dir}
  grpc_listen: 127.0.0.1:{self.grpc_port}
  http_listen: 127.0.0.1:{self.http_port}
  workers: {workers}
  checkpoint_every: {checkpoint_every}
  log_level: info
sources:
  - id: disk
    type: filesystem
    root: {storage}
{lists}notices:
  file_drop:
    directory: {self.notices}
{extra}""")
        self.proc = None
        self.log_path = os.path.join(work_dir, "takedownd.log")

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([TAKEDOWND, "--config", self.config_path], stderr=self.log,
                                     stdout=self.log)
        if wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"takedownd exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"takedownd not ready after {timeout}s:\n{self.read_log()}")

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def ctl(self, *args, check=True):
        cmd = [TAKEDOWNCTL, "--server", f"127.0.0.1:{self.grpc_port}", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr}")
        return r

    def ctl_json(self, *args):
        return json.loads(self.ctl("--json", *args).stdout)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def metric(self, name_with_labels):
        for line in self.metrics().splitlines():
            if line.startswith(name_with_labels + " "):
                return float(line.split()[-1])
        return None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        if getattr(self, "log", None):
            self.log.close()
        return self.proc.returncode

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()


class TempDir:
    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="takedown-it-")
        return self.tmp.name

    def __exit__(self, *exc):
        self.tmp.cleanup()
