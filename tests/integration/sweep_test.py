"""Integration tests: the real takedownd and takedownctl on temporary trees."""
import json
import os
import random
import signal
import subprocess
import time
import unittest

from takedown_harness import TAKEDOWND, Daemon, TempDir, make_tree


def wait_sweep(daemon, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        sweeps = daemon.ctl_json("sweep", "status")
        if all(s["state"] != "running" for s in sweeps):
            return sweeps[0]
        time.sleep(0.1)
    raise AssertionError("sweep did not finish")


def notice_files(daemon):
    if not os.path.isdir(daemon.notices):
        return []
    return sorted(f for f in os.listdir(daemon.notices) if f.endswith(".json"))


class SweepEndToEnd(unittest.TestCase):
    def test_sweep_finds_every_known_file_and_drops_one_notice_per_case(self):
        with TempDir() as tmp:
            expected = make_tree(tmp, files=400, known=20)
            d = Daemon(tmp, os.path.join(tmp, "storage"), os.path.join(tmp, "lists", "demo.csv")).start()
            try:
                d.ctl("sweep", "start", "--wait")
                status = d.ctl_json("sweep", "status")[0]
                self.assertEqual(status["state"], "completed")
                self.assertEqual(status["objects_listed"], 400)
                self.assertEqual(status["objects_done"], 400)
                self.assertEqual(status["objects_failed"], 0)
                # two symlinks and a fifo are skipped, not read
                self.assertEqual(status["objects_skipped"], 3)
                self.assertEqual(status["matches"], len(expected["known"]))

                cases = d.ctl_json("cases", "ls")
                self.assertEqual(sorted(c["key"] for c in cases), sorted(k["key"] for k in expected["known"]))
                by_key = {c["key"]: c for c in cases}
                for known in expected["known"]:
                    case = d.ctl_json("cases", "show", by_key[known["key"]]["id"])
                    self.assertEqual(case["state"], "in_review")  # routed to review by the case engine
                    self.assertEqual(case["category"], known["category"])
                    self.assertEqual([(e["hash_type"], e["entry_id"], e["list_name"]) for e in case["evidence"]],
                                     [(known["hash_type"], known["entry_id"], "demo")])

                deadline = time.time() + 10
                while len(notice_files(d)) < len(cases) and time.time() < deadline:
                    time.sleep(0.05)
                notices = notice_files(d)
                self.assertEqual(len(notices), len(cases))
                case_ids = set()
                for name in notices:
                    with open(os.path.join(d.notices, name)) as f:
                        notice = json.load(f)
                    case_ids.add(notice["case_id"])
                    self.assertFalse(notice["content_included"])
                self.assertEqual(case_ids, {c["id"] for c in cases})

                self.assertEqual(d.metric('takedown_objects_swept_total{source="disk"}'), 400)
                self.assertEqual(d.metric('takedown_cases{state="in_review"}'), len(cases))

                # A second sweep reads nothing: every object is unchanged.
                d.ctl("sweep", "start", "--wait")
                status = d.ctl_json("sweep", "status")[0]
                self.assertEqual(status["objects_unchanged"], 400)
                self.assertEqual(status["objects_done"], 0)
                # A modified file is read again.
                victim = os.path.join(tmp, "storage", expected["known"][0]["key"])
                with open(victim, "ab") as f:
                    f.write(b"changed")
                d.ctl("sweep", "start", "--wait")
                status = d.ctl_json("sweep", "status")[0]
                self.assertEqual(status["objects_done"], 1)
                self.assertEqual(status["objects_unchanged"], 399)
                self.assertEqual(len(d.ctl_json("cases", "ls")), len(cases))
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

    def test_importing_a_list_matches_objects_already_swept(self):
        with TempDir() as tmp:
            expected = make_tree(tmp, files=150, known=10)
            d = Daemon(tmp, os.path.join(tmp, "storage")).start()
            try:
                d.ctl("sweep", "start", "--wait")
                self.assertEqual(d.ctl_json("cases", "ls"), [])
                out = d.ctl_json("lists", "import", "late", os.path.join(tmp, "lists", "demo.csv"))
                self.assertEqual(out["retro_matches"], len(expected["known"]))
                cases = d.ctl_json("cases", "ls")
                self.assertEqual(sorted(c["key"] for c in cases), sorted(k["key"] for k in expected["known"]))
                lists = d.ctl_json("lists", "ls")
                self.assertEqual([(l["name"], l["entries"]) for l in lists], [("late", len(expected["known"]) + 50)])
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

    def test_malformed_list_is_refused_with_file_and_line_and_changes_nothing(self):
        with TempDir() as tmp:
            make_tree(tmp, files=20, known=5)
            good = os.path.join(tmp, "lists", "demo.csv")
            d = Daemon(tmp, os.path.join(tmp, "storage"), good).start()
            try:
                before = d.ctl_json("lists", "ls")
                bad = os.path.join(tmp, "bad.csv")
                with open(good) as src, open(bad, "w") as dst:
                    lines = src.read().splitlines()
                    lines.insert(4, "md5,not-hex,csam,x1")
                    dst.write("\n".join(lines) + "\n")
                r = d.ctl("lists", "import", "demo", bad, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("bad.csv:5:", r.stderr)
                self.assertEqual(d.ctl_json("lists", "ls"), before)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

    def test_malformed_config_is_refused_with_file_line_and_column(self):
        with TempDir() as tmp:
            path = os.path.join(tmp, "bad.yaml")
            with open(path, "w") as f:
                f.write("daemon:\n  data_dir: /tmp/x\n  wrokers: 2\n")
            r = subprocess.run([TAKEDOWND, "--config", path], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 2)
            self.assertIn("bad.yaml:3:3:", r.stderr)
            self.assertIn("workers", r.stderr)

    def test_sigterm_mid_sweep_exits_cleanly_and_the_sweep_resumes(self):
        with TempDir() as tmp:
            expected = make_tree(tmp, files=8000, known=30)
            d = Daemon(tmp, os.path.join(tmp, "storage"), os.path.join(tmp, "lists", "demo.csv"), workers=1,
                       checkpoint_every=16).start()
            d.ctl("sweep", "start")
            time.sleep(0.1)
            self.assertEqual(d.stop(signal.SIGTERM), 0, d.read_log())
            d.start()
            try:
                status = wait_sweep(d)
                self.assertEqual(status["state"], "completed")
                self.assertEqual(status["resumes"], 1, "SIGTERM came after the sweep ended; the test needs a larger tree")
                self.assertEqual(status["objects_done"], 8000)
                self.assertEqual(len(d.ctl_json("cases", "ls")), len(expected["known"]))
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


class KillNineResume(unittest.TestCase):
    def test_kill9_at_random_points_loses_nothing_and_duplicates_nothing(self):
        rng = random.Random(int(os.environ.get("TAKEDOWN_KILL9_SEED", "20261127")))
        with TempDir() as tmp:
            files = 4000
            expected = make_tree(tmp, files=files, known=40)
            d = Daemon(tmp, os.path.join(tmp, "storage"), os.path.join(tmp, "lists", "demo.csv"), workers=2,
                       checkpoint_every=8)
            d.start()
            d.ctl("sweep", "start")
            kills = 0
            for _ in range(6):
                time.sleep(rng.uniform(0.0, 0.4))
                d.kill9()
                kills += 1
                d.start(wait_ready=rng.random() < 0.5)
                if rng.random() < 0.3:
                    # kill during start-up / resume, before it is ready
                    time.sleep(rng.uniform(0.0, 0.05))
                    d.kill9()
                    kills += 1
                    d.start()
                else:
                    d.wait_ready()
            try:
                status = wait_sweep(d, timeout=300)
                self.assertEqual(status["state"], "completed", status)
                self.assertEqual(status["objects_listed"], files)
                self.assertEqual(status["objects_done"], files, status)
                self.assertEqual(status["objects_skipped"], 3)
                self.assertGreaterEqual(status["resumes"], 1)

                cases = d.ctl_json("cases", "ls")
                self.assertEqual(sorted(c["key"] for c in cases), sorted(k["key"] for k in expected["known"]))
                deadline = time.time() + 10
                while len(notice_files(d)) < len(cases) and time.time() < deadline:
                    time.sleep(0.05)
                notices = notice_files(d)
                self.assertEqual(len(notices), len(cases))
                self.assertFalse([f for f in os.listdir(d.notices) if f.startswith(".")], "temporary files left")
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())
            r = subprocess.run([TAKEDOWND, "--config", d.config_path, "--verify-store"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            report = json.loads(r.stdout)
            self.assertTrue(report["audit_chain_ok"], report)
            self.assertEqual(report["objects"]["disk"], files + 3)
            self.assertEqual(report["cases"], len(expected["known"]))
            self.assertEqual(report["outbox"]["delivered"], len(expected["known"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
