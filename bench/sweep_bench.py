#!/usr/bin/env python3
"""Sweep benchmark: takedownd against md5sum + sha1sum + sha256sum, same run.

For each generated tree (random bytes, seeded) the benchmark measures, with a
warm page cache and alternating order over N runs:

  baseline   wall time of `xargs -0 md5sum`, `xargs -0 sha1sum` and
             `xargs -0 sha256sum` over the tree's file list (each tool run
             alone, one process at a time, as the plain tools would be used);
  candidate  a fresh takedownd (new data_dir per run, `workers` threads),
             started and ready before the clock runs: the sweep's wall time
             from its recorded start (StartSweep handled) to its recorded
             finish; also reported from before `takedownctl sweep start` was
             run (adds the client's start-up). The sweep computes all three
             digests and stores one record per object.

It reports medians, ratio = takedownd / (md5sum + sha1sum + sha256sum)
against the target (0.35), and the daemon's peak RSS (VmHWM), whose growth
between the small tree and the ten-times-larger small tree shows whether
memory stays flat.

Python 3 standard library only. See docs/benchmarks.md.

usage: sweep_bench.py [--build-dir DIR] [--trees large,small,small-x10]
                      [--runs N] [--workers N] [--quick | --scale F]
                      [--out FILE] [--tmp-dir DIR] [--keep]
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

TARGET_RATIO = 0.35
TOOLS = ("md5sum", "sha1sum", "sha256sum")
FILES_PER_DIR = 1000
MIB = 1024 * 1024
KIB = 1024

# role -> (files at scale 1, bytes per file)
TREES = {
    "large": (200, 5 * MIB),
    "small": (10_000, 4 * KIB),
    "small-x10": (100_000, 4 * KIB),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def tree_name(files, file_bytes):
    count = f"{files // 1000}k" if files >= 1000 and files % 1000 == 0 else str(files)
    if file_bytes % MIB == 0:
        size = f"{file_bytes // MIB}MiB"
    elif file_bytes % KIB == 0:
        size = f"{file_bytes // KIB}KiB"
    else:
        size = f"{file_bytes}B"
    return f"{count}x{size}"


# --------------------------------------------------------------------------
# Machine state


def cpu_busy_sample():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def background_busy_cores(seconds=1.0):
    """CPU cores busy with other work while this benchmark sleeps."""
    b0, t0 = cpu_busy_sample()
    time.sleep(seconds)
    b1, t1 = cpu_busy_sample()
    if t1 == t0:
        return 0.0
    return round((b1 - b0) / (t1 - t0) * os.cpu_count(), 2)


def mem_available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def machine_load():
    return {"loadavg": [round(x, 2) for x in os.getloadavg()],
            "background_busy_cores": background_busy_cores()}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# --------------------------------------------------------------------------
# Trees


def make_tree(root, files, file_bytes, seed):
    """Writes `files` files of random bytes under root/dNNN/; returns the
    relative paths in order."""
    rng = random.Random(seed)
    paths = []
    for i in range(files):
        d = f"d{i // FILES_PER_DIR:03d}"
        if i % FILES_PER_DIR == 0:
            os.makedirs(os.path.join(root, d), exist_ok=True)
        rel = f"{d}/f{i:06d}.bin"
        with open(os.path.join(root, rel), "wb") as f:
            f.write(rng.randbytes(file_bytes))
        paths.append(rel)
    return paths


def write_hash_list(path, root, paths):
    """A list naming three files of the tree, one per digest type, so that
    matches == 3 proves the daemon computed all three digests."""
    picks = [paths[0], paths[len(paths) // 2], paths[-1]]
    lines = ["hash_type,hash,category,entry_id"]
    for n, (kind, rel) in enumerate(zip(("md5", "sha1", "sha256"), picks)):
        with open(os.path.join(root, rel), "rb") as f:
            digest = hashlib.new(kind, f.read()).hexdigest()
        lines.append(f"{kind},{digest},other,bench-{n}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return len(picks)


def warm_cache(root, list_path):
    with open(list_path, "rb") as stdin:
        subprocess.run(["xargs", "-0", "cat"], stdin=stdin, stdout=subprocess.DEVNULL, cwd=root, check=True)


# --------------------------------------------------------------------------
# Baseline


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_tool(tool, root, list_path):
    with open(list_path, "rb") as stdin:
        cpu0 = children_cpu()
        t0 = time.perf_counter()
        subprocess.run(["xargs", "-0", tool], stdin=stdin, stdout=subprocess.DEVNULL, cwd=root, check=True)
        wall = time.perf_counter() - t0
        cpu = children_cpu() - cpu0
    return wall, cpu


def run_baseline(root, list_path):
    out = {}
    for tool in TOOLS:
        wall, cpu = run_tool(tool, root, list_path)
        out[tool] = {"wall_s": wall, "cpu_s": cpu}
    out["sum_wall_s"] = sum(out[t]["wall_s"] for t in TOOLS)
    out["sum_cpu_s"] = sum(out[t]["cpu_s"] for t in TOOLS)
    return out


# --------------------------------------------------------------------------
# Candidate


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def proc_cpu_s(pid):
    """(user, system) CPU seconds of all threads of the process."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_runqueue_wait_s(pid):
    """Seconds the process's live threads spent runnable but waiting for a
    CPU: how much other load on the machine delayed it."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
            except (OSError, IndexError, ValueError):
                pass
    except OSError:
        return None
    return total / 1e9


def parse_rfc3339(s):
    if not s:
        return None
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def dir_bytes(path):
    total = 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


class Daemon:
    def __init__(self, binaries, work_dir, storage, list_path, workers):
        self.takedownd, self.takedownctl = binaries
        self.work_dir = work_dir
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.config_path = os.path.join(work_dir, "takedownd.yaml")
        self.log_path = os.path.join(work_dir, "takedownd.log")
        with open(self.config_path, "w") as f:
            f.write(f"""daemon:
  data_dir: {os.path.join(work_dir, "data")}
  grpc_listen: 127.0.0.1:{self.grpc_port}
  http_listen: 127.0.0.1:{self.http_port}
  workers: {workers}
sources:
  - id: bench
    type: filesystem
    root: {storage}
lists:
  - name: bench
    path: {list_path}
notices:
  file_drop:
    directory: {os.path.join(work_dir, "notices")}
""")
        self.proc = None
        self.log = None

    def start(self, timeout=60):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.takedownd, "--config", self.config_path], stdout=self.log,
                                     stderr=self.log)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"takedownd exited with {self.proc.returncode}; log: {self.log_path}\n"
                                   + self.read_log()[-4000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"takedownd not ready after {timeout}s; log: {self.log_path}")

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ctl_json(self, *args):
        cmd = [self.takedownctl, "--server", f"127.0.0.1:{self.grpc_port}", "--json", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
        return json.loads(r.stdout)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    def stop(self, timeout=120):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
            self.log = None


def run_candidate(binaries, tmp, tree, storage, list_path, expected_matches, workers, run_index):
    work_dir = os.path.join(tmp, f"daemon-{tree['name']}-{run_index}")
    os.makedirs(work_dir)
    d = Daemon(binaries, work_dir, storage, list_path, workers)
    try:
        d.start()
        pid = d.proc.pid
        rss_ready = proc_status(pid)["VmRSS"]
        user0, sys0 = proc_cpu_s(pid)
        wait0 = proc_runqueue_wait_s(pid)
        t_start = time.time()
        d.ctl_json("sweep", "start")
        # Completion is polled cheaply on /metrics (no process start-up that
        # would take CPU from the daemon); `sweep status` is asked once every
        # object is counted, or every 2 s in case some were not. The end time
        # is the sweep's own finished_at, so polling latency does not count.
        swept_metric = 'takedown_objects_swept_total{source="bench"}'
        last_status = time.time()
        deadline = time.time() + 3600
        while True:
            if time.time() > deadline:
                raise RuntimeError(f"sweep of {tree['name']} still running after an hour; log: {d.log_path}")
            time.sleep(0.05)
            swept = d.metrics().get(swept_metric, 0)
            if swept < tree["files"] and time.time() - last_status < 2:
                continue
            last_status = time.time()
            sweeps = d.ctl_json("sweep", "status")
            if sweeps and all(s["state"] != "running" for s in sweeps):
                break
        t_seen = time.time()
        user1, sys1 = proc_cpu_s(pid)
        wait1 = proc_runqueue_wait_s(pid)
        mem = proc_status(pid)
        metrics = d.metrics()
        s = sweeps[0]
        if s["state"] != "completed" or s["objects_done"] != tree["files"] or s["objects_failed"] != 0 \
                or s["matches"] != expected_matches:
            raise RuntimeError(f"sweep of {tree['name']} did not do what was expected: {json.dumps(s)}; "
                               f"log: {d.log_path}")
        finished = parse_rfc3339(s["finished_at"])
        started = parse_rfc3339(s["started_at"])
        d.stop()
        if d.proc.returncode != 0:
            raise RuntimeError(f"takedownd exited with {d.proc.returncode} after the sweep; log: {d.log_path}")
        digest_sum = metrics.get("takedown_digest_seconds_sum", 0.0)
        result = {
            # The measured time: the sweep's own start (StartSweep handled)
            # to its finish, both stamped by the daemon.
            "sweep_s": finished - started,
            # From just before `takedownctl sweep start` ran: adds the
            # client's process start-up and the RPC.
            "with_ctl_s": finished - t_start,
            # When this script saw the sweep end (adds polling latency).
            "observed_s": t_seen - t_start,
            "cpu_s": (user1 - user0) + (sys1 - sys0),
            "cpu_user_s": user1 - user0,
            "cpu_sys_s": sys1 - sys0,
            "runqueue_wait_s": wait1 - wait0 if wait0 is not None and wait1 is not None else None,
            "peak_rss_bytes": mem["VmHWM"],
            "rss_end_bytes": mem["VmRSS"],
            # Of rss_end: private memory, and pages of mapped files (mostly
            # shared libraries, e.g. OpenCV's codecs pull in GDAL and GDCM).
            "rss_anon_end_bytes": mem.get("RssAnon"),
            "rss_file_end_bytes": mem.get("RssFile"),
            "rss_ready_bytes": rss_ready,
            "digest_seconds_sum": digest_sum,
            "digest_seconds_count": metrics.get("takedown_digest_seconds_count", 0.0),
            "bytes_read": s["bytes_read"],
            "data_dir_bytes": dir_bytes(os.path.join(work_dir, "data")),
        }
        return result
    finally:
        d.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Driver


def median(xs):
    return statistics.median(xs) if xs else None


def bench_tree(args, binaries, tmp, role, files, file_bytes, seed):
    name = tree_name(files, file_bytes)
    tree = {"role": role, "name": name, "files": files, "file_bytes": file_bytes,
            "total_bytes": files * file_bytes}
    root = os.path.join(tmp, f"tree-{name}")
    log(f"[{name}] generating {files} files x {human_bytes(file_bytes)} "
        f"({human_bytes(files * file_bytes)}) under {root}")
    t0 = time.perf_counter()
    paths = make_tree(root, files, file_bytes, seed)
    tree["generate_s"] = round(time.perf_counter() - t0, 2)
    list_path = os.path.join(tmp, f"files-{name}.list")
    with open(list_path, "wb") as f:
        f.write(b"\0".join(p.encode() for p in paths) + b"\0")
    hash_list = os.path.join(tmp, f"hashes-{name}.csv")
    expected_matches = write_hash_list(hash_list, root, paths)
    if files * file_bytes > mem_available_bytes() // 2:
        log(f"[{name}] WARNING: the tree is more than half of the available memory; "
            "the page cache may not hold it and timings will include disk reads")
    log(f"[{name}] warming the page cache")
    warm_cache(root, list_path)
    tree["load_before"] = machine_load()

    runs = []
    for i in range(args.runs):
        daemon_first = i % 2 == 1
        log(f"[{name}] run {i + 1}/{args.runs} ({'takedownd' if daemon_first else 'tools'} first)")
        run = {"order": "takedownd-first" if daemon_first else "tools-first"}
        if daemon_first:
            run["takedownd"] = run_candidate(binaries, tmp, tree, root, hash_list, expected_matches,
                                             args.workers, i)
            run["tools"] = run_baseline(root, list_path)
        else:
            run["tools"] = run_baseline(root, list_path)
            run["takedownd"] = run_candidate(binaries, tmp, tree, root, hash_list, expected_matches,
                                             args.workers, i)
        run["ratio"] = run["takedownd"]["sweep_s"] / run["tools"]["sum_wall_s"]
        log(f"[{name}]   tools: " + ", ".join(f"{t} {run['tools'][t]['wall_s']:.3f}s" for t in TOOLS)
            + f" (sum {run['tools']['sum_wall_s']:.3f}s); takedownd {run['takedownd']['sweep_s']:.3f}s"
            f" -> ratio {run['ratio']:.3f}; peak RSS {human_bytes(run['takedownd']['peak_rss_bytes'])}")
        runs.append(run)
    tree["load_after"] = machine_load()

    med = {t: median([r["tools"][t]["wall_s"] for r in runs]) for t in TOOLS}
    med["sum"] = median([r["tools"]["sum_wall_s"] for r in runs])
    med["tools_cpu_s"] = median([r["tools"]["sum_cpu_s"] for r in runs])
    for k in ("sweep_s", "with_ctl_s", "cpu_s", "cpu_user_s", "cpu_sys_s", "runqueue_wait_s",
              "peak_rss_bytes", "rss_anon_end_bytes", "digest_seconds_sum", "data_dir_bytes"):
        values = [r["takedownd"][k] for r in runs if r["takedownd"].get(k) is not None]
        med["takedownd_" + k] = median(values) if values else None
    ratio = med["takedownd_sweep_s"] / med["sum"]
    tree.update({
        "runs": runs,
        "median": med,
        "ratio": ratio,
        "ratio_runs": [r["ratio"] for r in runs],
        "target": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO,
        # The same including takedownctl's start-up and the StartSweep call,
        # and in CPU seconds (less sensitive to other load on the machine).
        "ratio_with_ctl": med["takedownd_with_ctl_s"] / med["sum"],
        "ratio_cpu": med["takedownd_cpu_s"] / med["tools_cpu_s"] if med["tools_cpu_s"] else None,
        "takedownd_mib_per_s": files * file_bytes / MIB / med["takedownd_sweep_s"],
        "takedownd_objects_per_s": files / med["takedownd_sweep_s"],
        # Share of the daemon's sweep time its workers spent streaming bytes
        # through the digests (the rest: listing, stat, open, store writes).
        "digest_share": med["takedownd_digest_seconds_sum"] / (args.workers * med["takedownd_sweep_s"]),
    })
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return tree


def print_table(result):
    rows = [("tree", "files", "size", "md5sum", "sha1sum", "sha256sum", "sum", "takedownd", "ratio",
             "target", "result", "with ctl", "cpu ratio", "peak RSS")]
    for t in result["trees"]:
        m = t["median"]
        rows.append((t["name"], str(t["files"]), human_bytes(t["total_bytes"]),
                     f"{m['md5sum']:.3f}s", f"{m['sha1sum']:.3f}s", f"{m['sha256sum']:.3f}s", f"{m['sum']:.3f}s",
                     f"{m['takedownd_sweep_s']:.3f}s", f"{t['ratio']:.3f}", f"{t['target']:.2f}",
                     "PASS" if t["pass"] else "FAIL", f"{t['ratio_with_ctl']:.3f}",
                     f"{t['ratio_cpu']:.3f}" if t["ratio_cpu"] is not None else "-", human_bytes(m["takedownd_peak_rss_bytes"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print("ratio = takedownd sweep (its started_at..finished_at) / sum of the tools (wall); "
          "with ctl = the same from before `takedownctl sweep start`; "
          "cpu ratio = takedownd CPU s / the tools' CPU s")
    mem = result.get("memory")
    if mem:
        print(f"\npeak RSS: {mem['small_name']} {human_bytes(mem['small_peak_rss_bytes'])}, "
              f"{mem['large_name']} {human_bytes(mem['large_peak_rss_bytes'])} "
              f"({mem['files_ratio']:.0f}x the files): ratio {mem['rss_ratio']:.2f}")
        if mem.get("small_anon_end_bytes") and mem.get("large_anon_end_bytes"):
            print(f"private (anonymous) memory at the end: {human_bytes(mem['small_anon_end_bytes'])}, "
                  f"{human_bytes(mem['large_anon_end_bytes'])}; the rest of the RSS is mapped files "
                  f"(shared libraries)")
    print(f"median of {result['config']['runs']} runs, takedownd workers: {result['config']['workers']}; "
          f"machine: {result['machine']['cpus']} CPUs, load at start {result['machine']['load_start']['loadavg']}, "
          f"other work busy on {result['machine']['load_start']['background_busy_cores']} cores")


def find_binaries(args):
    takedownd = os.environ.get("TAKEDOWND") or os.path.join(args.build_dir, "daemon", "takedownd")
    takedownctl = os.environ.get("TAKEDOWNCTL") or os.path.join(args.build_dir, "daemon", "takedownctl")
    for b in (takedownd, takedownctl):
        if not os.access(b, os.X_OK):
            sys.exit(f"sweep_bench: {b} is not an executable; build it first (bench/run.sh does) "
                     "or pass --build-dir / set TAKEDOWND and TAKEDOWNCTL")
    return os.path.abspath(takedownd), os.path.abspath(takedownctl)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build-dir", default=os.path.join(REPO, "build", "bench"),
                   help="where takedownd/takedownctl were built (default: build/bench)")
    p.add_argument("--trees", default=",".join(TREES),
                   help=f"comma-separated roles of the trees to run, from {', '.join(TREES)} (default: all)")
    p.add_argument("--runs", type=int, default=3, help="runs per tree; medians are reported (default: 3)")
    p.add_argument("--workers", type=int, default=2, help="takedownd daemon.workers (default: 2)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every tree's file count (default: 1)")
    p.add_argument("--quick", action="store_true", help="CI-sized trees: same as --scale 0.1")
    p.add_argument("--seed", type=int, default=20240601, help="seed of the generated bytes")
    p.add_argument("--tmp-dir", default=None, help="where the trees are generated (default: $TMPDIR or /tmp)")
    p.add_argument("--out", default=None, help="JSON result file (default: bench/results/<UTC time>.json)")
    p.add_argument("--keep", action="store_true", help="keep the generated trees")
    args = p.parse_args()
    if args.quick:
        args.scale = 0.1
    roles = [r.strip() for r in args.trees.split(",") if r.strip()]
    for r in roles:
        if r not in TREES:
            sys.exit(f"sweep_bench: unknown tree '{r}'; expected some of {', '.join(TREES)}")
    if args.runs < 1 or args.workers < 1 or args.scale <= 0:
        sys.exit("sweep_bench: --runs and --workers must be >= 1 and --scale > 0")
    for tool in TOOLS + ("xargs", "cat"):
        if shutil.which(tool) is None:
            sys.exit(f"sweep_bench: {tool} not found on PATH (coreutils/findutils)")
    binaries = find_binaries(args)

    started = datetime.datetime.now(datetime.timezone.utc)
    result = {
        "benchmark": "sweep",
        "started_at": started.isoformat(timespec="seconds"),
        "config": {"runs": args.runs, "workers": args.workers, "scale": args.scale, "seed": args.seed,
                   "trees": roles, "target_ratio": TARGET_RATIO, "takedownd": binaries[0]},
        "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "kernel": platform.release(),
                    "mem_available_bytes": mem_available_bytes(), "load_start": machine_load()},
        "trees": [],
    }
    tmp = tempfile.mkdtemp(prefix="takedown-bench-", dir=args.tmp_dir)
    try:
        for n, role in enumerate(roles):
            base_files, file_bytes = TREES[role]
            files = max(3, round(base_files * args.scale))
            result["trees"].append(bench_tree(args, binaries, tmp, role, files, file_bytes, args.seed + n))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    result["machine"]["load_end"] = machine_load()
    by_role = {t["role"]: t for t in result["trees"]}
    if "small" in by_role and "small-x10" in by_role:
        a, b = by_role["small"], by_role["small-x10"]
        result["memory"] = {
            "small_name": a["name"], "large_name": b["name"],
            "small_peak_rss_bytes": a["median"]["takedownd_peak_rss_bytes"],
            "large_peak_rss_bytes": b["median"]["takedownd_peak_rss_bytes"],
            "files_ratio": b["files"] / a["files"],
            "rss_ratio": b["median"]["takedownd_peak_rss_bytes"] / a["median"]["takedownd_peak_rss_bytes"],
            "small_anon_end_bytes": a["median"]["takedownd_rss_anon_end_bytes"],
            "large_anon_end_bytes": b["median"]["takedownd_rss_anon_end_bytes"],
        }
    result["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    result["all_pass"] = all(t["pass"] for t in result["trees"])

    out = args.out or os.path.join(BENCH_DIR, "results", started.strftime("%Y%m%dT%H%M%SZ") + ".json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(result)
    print(f"result: {out}")
    return 0 if result["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
