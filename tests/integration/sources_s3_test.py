"""Integration test: an S3 source of the real takedownd against s3rver.

Run under tests/crawler/s3rver_fixture.py, which starts s3rver on 127.0.0.1
and sets S3_TEST_ENDPOINT (CTest does this: `ctest -R integration_sources_s3`).
s3rver accepts unsigned requests, so the test creates its bucket and objects
with plain HTTP; the daemon signs its own with s3rver's built-in account."""
import json
import os
import unittest
import urllib.request

from sources_common import SourcesDaemon, sweep_of, wait_sweep_end, write_list
from takedown_harness import TempDir

KNOWN = b"GIF89a bytes that the test hash list carries, twice over"
PUSHED = b"\x89PNG\r\n\x1a\n an upload announced by a bucket notification"
OTHER = b"an ordinary object"


def s3(method, url, body=None):
    request = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


class S3Source(unittest.TestCase):
    def setUp(self):
        self.endpoint = os.environ.get("S3_TEST_ENDPOINT")
        self.assertTrue(self.endpoint, "S3_TEST_ENDPOINT is unset: run under tests/crawler/s3rver_fixture.py")
        self.bucket = "sources-it"
        s3("PUT", f"{self.endpoint}/{self.bucket}")

    def put(self, key, body):
        self.assertEqual(s3("PUT", f"{self.endpoint}/{self.bucket}/{key}", body), 200)

    def test_sweep_makes_a_case_and_a_pushed_key_is_scanned_at_once(self):
        with TempDir() as tmp:
            self.put("uploads/known.gif", KNOWN)
            self.put("uploads/other.bin", OTHER)
            credentials = os.path.join(tmp, "s3.credentials")
            with open(credentials, "w") as f:
                f.write("access_key_id=S3RVER\nsecret_access_key=S3RVER\n")
            os.chmod(credentials, 0o600)
            lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN, PUSHED])
            d = SourcesDaemon(tmp, f"""  - id: bucket
    type: s3
    endpoint: {self.endpoint}
    bucket: {self.bucket}
    credentials_file: {credentials}
""", lists).start()
            try:
                d.ctl("sweep", "start", "bucket")
                status = wait_sweep_end(d, "bucket")
                self.assertEqual((status["state"], status["objects_listed"], status["objects_done"], status["matches"]),
                                 ("completed", 2, 2, 1), status)
                self.assertEqual([c["key"] for c in d.ctl_json("cases", "ls")], ["uploads/known.gif"])
                source = d.ctl_json("sources", "ls")[0]
                self.assertEqual((source["type"], source["state"]), ("s3", "completed"))
                self.assertIn(f"s3://{self.bucket}/", source["location"])

                # A new upload, announced by a bucket notification, is pushed to the daemon.
                self.put("uploads/2026/pushed.png", PUSHED)
                r = d.ctl("--json", "scan", "bucket", "uploads/2026/pushed.png", "uploads/known.gif",
                          "uploads/never-uploaded.png", check=False)
                self.assertEqual(r.returncode, 1, r.stderr)
                results = {x["key"]: x for x in json.loads(r.stdout)["results"]}
                self.assertEqual(results["uploads/2026/pushed.png"]["outcome"], "done")
                self.assertEqual(results["uploads/2026/pushed.png"]["matches"], 1)
                self.assertEqual(results["uploads/known.gif"]["outcome"], "unchanged")
                self.assertEqual(results["uploads/never-uploaded.png"]["outcome"], "not_found")
                self.assertEqual(sorted(c["key"] for c in d.ctl_json("cases", "ls")),
                                 ["uploads/2026/pushed.png", "uploads/known.gif"])
                # The sweep was not involved.
                self.assertEqual(sweep_of(d, "bucket")["sweep_id"], status["sweep_id"])

                # Deleted from the bucket: a re-check says it is gone.
                self.assertEqual(s3("DELETE", f"{self.endpoint}/{self.bucket}/uploads/known.gif"), 204)
                gone = d.ctl_json("recheck", "bucket", "uploads/known.gif")
                self.assertEqual(gone["outcome"], "gone", gone)
                present = d.ctl_json("recheck", "bucket", "uploads/2026/pushed.png")
                self.assertEqual(present["outcome"], "still_present", present)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
