"""Integration tests: sources as live things in the real takedownd, driven
with takedownctl: watching, targeted scans, pause/resume across a restart,
rescan_interval, and url_list sweeps and re-checks against a loopback server."""
import json
import os
import shutil
import signal
import subprocess
import threading
import unittest

from sources_common import (LoopbackServer, SourcesDaemon, sweep_of, wait_for, wait_sweep_end, write_file,
                            write_list)
from takedown_harness import TAKEDOWNCTL, TempDir

KNOWN = b"\xff\xd8\xff\xe0 bytes that the test hash list carries " * 3
OTHER = b"an ordinary upload, on no list"


def filesystem_source(root, extra=""):
    return f"""  - id: disk
    type: filesystem
    root: {root}
{extra}"""


def url_list_source(list_file, extra=""):
    return f"""  - id: urls
    type: url_list
    file: {list_file}
    allow_private_addresses: true
    max_requests_per_second_per_host: 1000
    max_concurrent_per_host: 8
{extra}"""


class FilesystemSources(unittest.TestCase):
    def test_watched_root_makes_a_case_for_a_new_file_without_a_sweep(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            write_file(os.path.join(storage, "old", "plain.bin"), OTHER)
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
            d = SourcesDaemon(tmp, filesystem_source(storage, "    watch: true\n"), lists).start()
            try:
                sources = d.ctl_json("sources", "ls")
                self.assertEqual([(s["id"], s["type"], s["watch"], s["watching"], s["state"]) for s in sources],
                                 [("disk", "filesystem", True, True, "idle")])
                # Written elsewhere, then copied in, as an upload would land.
                write_file(os.path.join(tmp, "incoming.jpg"), KNOWN)
                os.makedirs(os.path.join(storage, "uploads", "2026"))
                shutil.copy(os.path.join(tmp, "incoming.jpg"), os.path.join(storage, "uploads", "2026", "new.jpg"))
                cases = wait_for(lambda: d.ctl_json("cases", "ls"), 15, "a case for the new file")
                self.assertEqual([(c["key"], c["state"]) for c in cases], [("uploads/2026/new.jpg", "in_review")])
                # Found by the watch alone: no sweep ran, the old file was not read.
                status = sweep_of(d, "disk")
                self.assertEqual(status["state"], "idle")
                self.assertEqual(status["sweep_id"], "")
                self.assertEqual(d.metric('takedown_objects_swept_total{source="disk"}'), 1)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())
            self.assertIn("by watch: 1 keys: 1 read", d.read_log())

    def test_scan_takes_keys_on_the_command_line_and_stdin(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            write_file(os.path.join(storage, "bucket", "known.jpg"), KNOWN)
            write_file(os.path.join(storage, "bucket", "plain.jpg"), OTHER)
            write_file(os.path.join(tmp, "outside.jpg"), KNOWN)
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
            d = SourcesDaemon(tmp, filesystem_source(storage), lists).start()
            try:
                r = d.ctl("--json", "scan", "disk", "bucket/known.jpg", "bucket/plain.jpg", "bucket/missing.jpg",
                          "../outside.jpg", check=False)
                self.assertEqual(r.returncode, 1, r.stderr)  # not everything could be scanned
                out = json.loads(r.stdout)
                self.assertEqual(len(out["scan_ids"]), 1)
                self.assertTrue(out["scan_ids"][0].startswith("scan-"))
                by_key = {x["key"]: x for x in out["results"]}
                self.assertEqual(by_key["bucket/known.jpg"]["outcome"], "done")
                self.assertEqual(by_key["bucket/known.jpg"]["matches"], 1)
                self.assertEqual(by_key["bucket/known.jpg"]["bytes_read"], len(KNOWN))
                self.assertEqual(by_key["bucket/plain.jpg"]["outcome"], "done")
                self.assertEqual(by_key["bucket/missing.jpg"]["outcome"], "not_found")
                self.assertEqual(by_key["../outside.jpg"]["outcome"], "error")
                self.assertIn("would leave the root", by_key["../outside.jpg"]["message"])

                cases = d.ctl_json("cases", "ls")
                self.assertEqual([c["key"] for c in cases], ["bucket/known.jpg"])
                self.assertEqual(cases[0]["id"], by_key["bucket/known.jpg"]["case_id"])
                self.assertEqual(sweep_of(d, "disk")["state"], "idle")

                # Keys from stdin (an absolute path under the root is taken too);
                # both are unchanged now, so nothing is read again.
                r = subprocess.run([TAKEDOWNCTL, "--server", f"127.0.0.1:{d.grpc_port}", "scan", "disk", "-"],
                                   input=f"bucket/known.jpg\n{storage}/bucket/plain.jpg\n\n", capture_output=True,
                                   text=True, timeout=60)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("unchanged  bucket/known.jpg", r.stdout)
                self.assertIn("unchanged  bucket/plain.jpg", r.stdout)
                self.assertIn("2 keys: 0 read, 2 unchanged", r.stdout)
                self.assertEqual(len(d.ctl_json("cases", "ls")), 1)

                r = d.ctl("scan", "nosuch", "a.jpg", check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("no source 'nosuch' is configured; configured sources: disk", r.stderr)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

    def test_rescan_interval_starts_the_next_sweep_by_itself(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            for i in range(20):
                write_file(os.path.join(storage, f"f{i:02d}.bin"), OTHER + bytes([i]))
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
            d = SourcesDaemon(tmp, filesystem_source(storage, "    rescan_interval: 2s\n"), lists).start()
            try:
                # Never swept: the scheduler starts the first sweep at once.
                first = wait_for(lambda: (lambda s: s if s["state"] == "completed" else None)(sweep_of(d, "disk")),
                                 10, "the first scheduled sweep")
                self.assertEqual(first["objects_done"], 20)
                source = d.ctl_json("sources", "ls")[0]
                self.assertEqual(source["rescan_interval_seconds"], 2)
                second = wait_for(
                    lambda: (lambda s: s if s["sweep_id"] != first["sweep_id"] and s["state"] == "completed"
                             else None)(sweep_of(d, "disk")),
                    10, "a second sweep started by the scheduler")
                self.assertEqual(second["objects_unchanged"], 20)
                self.assertEqual(second["objects_done"], 0)
                self.assertEqual(second["estimated_total_objects"], 20)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())
            self.assertIn("started sweep", d.read_log())


class UrlListSources(unittest.TestCase):
    def setUp(self):
        self.server = LoopbackServer()

    def tearDown(self):
        self.server.close()

    def test_pause_survives_a_restart_and_resume_completes_with_the_right_totals(self):
        with TempDir() as tmp:
            urls = []
            for i in range(100):
                path = f"/objects/{i:03d}"
                self.server.objects[path] = KNOWN if i == 70 else OTHER + str(i).encode()
                urls.append(self.server.url(path))
            list_file = os.path.join(tmp, "urls.txt")
            with open(list_file, "w") as f:
                f.write("\n".join(urls) + "\n")
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
            d = SourcesDaemon(tmp, url_list_source(list_file), lists, workers=1).start()
            try:
                self.server.gate.clear()  # GETs wait: the sweep freezes on its first object
                started = d.ctl_json("sweep", "start", "urls")[0]
                self.assertEqual(started["state"], "running")
                self.assertEqual(started["estimated_total_objects"], 0)
                wait_for(lambda: self.server.gets_waiting > 0, 15, "the sweep to reach its first GET")
                running = d.ctl_json("sources", "ls")[0]
                self.assertEqual(running["state"], "running")
                self.assertEqual(running["progress"]["eta_seconds"], -1)
                self.assertIn("no earlier completed sweep", running["progress"]["eta_unknown_reason"])

                # The pause waits for the objects in flight: release them once it is asked.
                result = {}
                pauser = threading.Thread(target=lambda: result.update(r=d.ctl("--json", "sweep", "pause", "urls",
                                                                                check=False)))
                pauser.start()
                wait_for(lambda: "pausing sweep" in d.read_log(), 15, "the daemon to take the pause request")
                self.server.gate.set()
                pauser.join(30)
                r = result["r"]
                self.assertEqual(r.returncode, 0, r.stderr)
                paused = json.loads(r.stdout)[0]
                self.assertEqual(paused["state"], "paused")
                self.assertGreater(paused["objects_listed"], 0)
                self.assertLess(paused["objects_listed"], 100)
                self.assertNotEqual(paused["cursor"], "")

                r = d.ctl("sweep", "pause", "urls", check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("no sweep is running (its sweep is paused)", r.stderr)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

            d.start()
            try:
                # A restart leaves a paused sweep paused.
                after = sweep_of(d, "urls")
                self.assertEqual(after["state"], "paused", d.read_log())
                self.assertEqual(after["objects_listed"], paused["objects_listed"])
                self.assertEqual(after["cursor"], paused["cursor"])
                self.assertIn("sweep resume urls", d.ctl("sweep", "status").stdout)
                r = d.ctl("sweep", "resume", "nosuch", check=False)
                self.assertIn("configured sources: urls", r.stderr)

                d.ctl("sweep", "resume", "urls", "--wait")
                end = sweep_of(d, "urls")
                self.assertEqual(end["state"], "completed")
                self.assertEqual(end["sweep_id"], paused["sweep_id"])
                self.assertEqual(end["objects_listed"], 100)
                self.assertEqual(end["objects_done"], 100)
                self.assertEqual(end["objects_failed"], 0)
                self.assertEqual(end["matches"], 1)
                self.assertEqual(end["resumes"], 1)
                self.assertEqual([c["key"] for c in d.ctl_json("cases", "ls")], [urls[70]])
                r = d.ctl("sweep", "resume", "urls", check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("not paused", r.stderr)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

    def test_listed_url_makes_a_case_and_recheck_tells_when_it_is_gone(self):
        with TempDir() as tmp:
            self.server.objects["/media/a.jpg"] = KNOWN
            self.server.objects["/media/b.jpg"] = OTHER
            url = self.server.url("/media/a.jpg")
            list_file = os.path.join(tmp, "urls.txt")
            with open(list_file, "w") as f:
                f.write(f"# reported\n{url}\n{self.server.url('/media/b.jpg')}\n")
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
            d = SourcesDaemon(tmp, url_list_source(list_file), lists).start()
            try:
                d.ctl("sweep", "start", "urls")
                status = wait_sweep_end(d, "urls")
                self.assertEqual((status["state"], status["objects_done"], status["matches"]), ("completed", 2, 1))
                self.assertEqual([c["key"] for c in d.ctl_json("cases", "ls")], [url])

                still = d.ctl_json("recheck", "urls", url)
                self.assertEqual(still["outcome"], "still_present", still)
                self.assertTrue(still["digest_match"])
                self.assertEqual(still["http_status"], 200)

                self.server.missing.add("/media/a.jpg")
                gone = d.ctl_json("recheck", "urls", url)
                self.assertEqual(gone["outcome"], "gone", gone)
                self.assertEqual(gone["http_status"], 404)
                self.assertEqual(gone["ip"], "127.0.0.1")
                self.assertEqual(gone["final_url"], url)
                self.assertNotEqual(gone["fetched_at"], "")
                self.assertIn("404", gone["reason"])
                human = d.ctl("recheck", "urls", url).stdout
                self.assertIn("outcome     gone", human)

                # A listed URL is scanned at once; its validator is unchanged.
                listed = d.ctl_json("scan", "urls", self.server.url("/media/b.jpg"))["results"][0]
                self.assertEqual(listed["outcome"], "unchanged", listed)

                # Only listed URLs are scanned; the unlisted one is not fetched.
                unlisted = self.server.url("/media/c.jpg")
                r = d.ctl("--json", "scan", "urls", unlisted, check=False)
                self.assertEqual(r.returncode, 1)
                result = json.loads(r.stdout)["results"][0]
                self.assertEqual(result["outcome"], "not_found")
                self.assertIn("not in the list", result["message"])

                r = d.ctl("recheck", "urls", unlisted, check=False)
                self.assertEqual(r.returncode, 1)
                self.assertIn("has no swept object", r.stderr)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
