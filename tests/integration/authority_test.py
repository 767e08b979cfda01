"""Integration test: takedownd in the authority role. A reported URL served by
a loopback HTTP server matches a list; a reviewer confirms it; the notice goes
to the hosting provider found in the provider table; the term (shortened by a
legal_profiles entry in the config) runs out while the URL is still served, so
the case is reminded; once the server answers 404 the re-check records the
removal (an on-demand `cases recheck`, also after the case's source left the
config: then the URL is fetched directly; scheduled re-checks are at least a
minute apart), and the compliance statistics count it for that provider, late.
A profile term beyond what the config validation allows stops the start."""
import http.server
import json
import os
import threading
import unittest

from sources_common import LoopbackServer, SourcesDaemon, wait_for, wait_sweep_end, write_list
from takedown_harness import TempDir

KNOWN = b"\xff\xd8\xff\xe0 bytes a hotline reported and the list carries " * 3
OTHER = b"an ordinary page, on no list"


def notices_for(notices_dir, case_id):
    found = []
    if not os.path.isdir(notices_dir):
        return found
    for name in sorted(os.listdir(notices_dir)):
        if name.endswith(".json"):
            with open(os.path.join(notices_dir, name)) as f:
                notice = json.load(f)
            if notice.get("case_id") == case_id:
                found.append(notice)
    return found


def authority_daemon(tmp, urls, extra):
    """A SourcesDaemon in the authority role sweeping `urls` (a url_list source
    `urls`) against a list carrying KNOWN, with `extra` appended to its config."""
    list_file = os.path.join(tmp, "reported.txt")
    with open(list_file, "w") as f:
        f.write("".join(u + "\n" for u in urls))
    lists = write_list(os.path.join(tmp, "list.csv"), [KNOWN])
    sources = f"""  - id: urls
    type: url_list
    file: {list_file}
    allow_private_addresses: true
    max_requests_per_second_per_host: 1000
"""
    d = SourcesDaemon(tmp, sources, lists)
    with open(d.config_path) as f:
        config = f.read()
    with open(d.config_path, "w") as f:
        f.write(config.replace("daemon:\n", "daemon:\n  role: authority\n", 1) + extra)
    return d


class AuthorityRole(unittest.TestCase):
    def setUp(self):
        self.server = LoopbackServer()

    def tearDown(self):
        self.server.close()

    def test_reported_url_notified_to_its_provider_reminded_then_removed(self):
        self.server.objects["/u/known.jpg"] = KNOWN
        self.server.objects["/u/plain.html"] = OTHER
        url = self.server.url("/u/known.jpg")
        with TempDir() as tmp:
            d = authority_daemon(tmp, [url, self.server.url("/u/plain.html")], """legal_profiles:
  - name: authority-notice-cycle
    removal_deadline: 3s
    recheck_interval: 1m
    max_recheck_cycles: 60
    escalation:
      - kind: reminder
        after_deadline: 0s
        basis: not removed within the test term
      - kind: referral
        after_deadline: 1h
authority:
  name: Test Authority
  member_state: NL
  contact: meldpunt@authority.example
  redress: Bezwaar binnen zes weken.
providers:
  - name: loopback-hosting
    hosts: [127.0.0.1]
    channel: file_drop
    contact_point: abuse@loopback.example
""")
            d.start()
            try:
                d.ctl("sweep", "start", "urls")
                self.assertEqual(wait_sweep_end(d, "urls")["state"], "completed")
                cases = d.ctl_json("cases", "ls")
                self.assertEqual([(c["key"], c["state"]) for c in cases], [(url, "in_review")])
                case_id = cases[0]["id"]

                confirmed = json.loads(d.ctl("--json", "cases", "confirm", case_id, "--reason", "seen in the "
                                             "list entry's metadata").stdout)
                self.assertEqual(confirmed["state"], "notified")
                terms = confirmed["terms"]
                self.assertEqual(terms["profile"], "authority-notice-cycle")
                self.assertEqual(terms["provider"], "loopback-hosting")

                # The notice reaches the provider's channel, from the configured authority.
                notified = wait_for(lambda: [n for n in notices_for(d.notices, case_id)
                                             if n["kind"] not in ("case.detected",)], 15,
                                    "the notice to the provider")
                text = json.dumps(notified)
                self.assertIn("Test Authority", text)
                self.assertIn(url, text)

                # Still served after the 3 s term: reminded, with its notice.
                wait_for(lambda: d.ctl_json("cases", "show", case_id)["state"] == "reminded", 20,
                         "the case to be reminded after its term")
                wait_for(lambda: any(n["kind"] == "case.escalation.reminder"
                                     for n in notices_for(d.notices, case_id)), 15, "the reminder notice")

                # Re-checked while still served: nothing changes.
                still = d.ctl_json("cases", "recheck", case_id)
                self.assertEqual((still["outcome"], still["state"]), ("still_present", "reminded"))
                # The url_list source leaves the config: from then on the
                # re-check fetches the case's URL itself (loopback allowed here).
                self.assertEqual(d.stop(), 0, d.read_log())
                with open(d.config_path) as f:
                    config = f.read()
                with open(d.config_path, "w") as f:
                    f.write(config.replace("  - id: urls\n", "  - id: other-urls\n", 1)
                            + "cases:\n  recheck_allow_private_addresses: true\n")
                d.start()
                still = d.ctl_json("cases", "recheck", case_id)
                self.assertEqual((still["outcome"], still["state"]), ("still_present", "reminded"), still)
                # The host takes it down: the re-check records the removal.
                self.server.missing.add("/u/known.jpg")
                gone = d.ctl_json("cases", "recheck", case_id)
                self.assertEqual((gone["outcome"], gone["state"]), ("gone", "removed"), gone)
                removed = d.ctl_json("cases", "show", case_id)
                self.assertEqual(removed["terms"]["removal"], "gone")
                stats = d.ctl_json("stats", "compliance")
                self.assertEqual([(p["provider"], p["cases"], p["removed"], p["removed_on_time"])
                                  for p in stats], [("loopback-hosting", 1, 1, 0)])
                self.assertGreaterEqual(stats[0]["median_seconds_to_removal"], 3)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

            # A legal profile the law does not allow stops the start with a clear error.
            with open(d.config_path) as f:
                config = f.read()
            with open(d.config_path, "w") as f:
                f.write(config.replace("recheck_interval: 1m", "recheck_interval: 5s"))
            with self.assertRaises(AssertionError) as refused:
                d.start()
            self.assertIn("legal_profiles[0] (authority-notice-cycle)", str(refused.exception))
            self.assertIn("recheck_interval", str(refused.exception))


RDAP_RECORD = {
    "objectClassName": "ip network",
    "rdapConformance": ["rdap_level_0"],
    "handle": "LOOP-NET-1",
    "startAddress": "127.0.0.0",
    "endAddress": "127.255.255.255",
    "ipVersion": "v4",
    "name": "LOOPBACK-NET",
    "country": "NL",
    "entities": [{
        "objectClassName": "entity",
        "handle": "LOOP-ORG",
        "roles": ["registrant"],
        "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Loopback Hosting B.V."]]],
        "entities": [{
            "objectClassName": "entity",
            "handle": "LOOP-ABUSE",
            "roles": ["abuse"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Abuse desk"],
                                     ["email", {}, "text", "abuse@loopback-hosting.example"]]],
        }],
    }],
}


class RdapServer:
    """Answers RFC 9082 /rdap/ip/<address> queries for 127.0.0.1 on loopback."""

    def __init__(self):
        self.queries = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.queries.append(self.path)
                if self.path == "/rdap/ip/127.0.0.1":
                    body, status = json.dumps(RDAP_RECORD).encode(), 200
                else:
                    body, status = b'{"errorCode": 404}', 404
                self.send_response(status)
                self.send_header("Content-Type", "application/rdap+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class RdapFallback(unittest.TestCase):
    def setUp(self):
        self.server = LoopbackServer()
        self.rdap = RdapServer()

    def tearDown(self):
        self.server.close()
        self.rdap.close()

    def test_host_missing_from_the_table_is_resolved_by_rdap_once(self):
        self.server.objects["/u/known.jpg"] = KNOWN
        url = self.server.url("/u/known.jpg")
        with TempDir() as tmp:
            d = authority_daemon(tmp, [url], f"""authority:
  name: Test Authority
providers:
  - name: elsewhere
    hosts: [files.example.net]
    channel: file_drop
rdap:
  base_url: http://127.0.0.1:{self.rdap.port}/rdap/
  channel: file_drop
  allow_private_addresses: true
""")
            d.start()
            try:
                d.ctl("sweep", "start", "urls")
                self.assertEqual(wait_sweep_end(d, "urls")["state"], "completed")
                case_id = d.ctl_json("cases", "ls")[0]["id"]
                confirmed = json.loads(d.ctl("--json", "cases", "confirm", case_id, "--reason", "ok").stdout)
                self.assertEqual(confirmed["state"], "notified")
                self.assertEqual(confirmed["terms"]["provider"], "rdap:Loopback Hosting B.V.")
                self.assertEqual(self.rdap.queries, ["/rdap/ip/127.0.0.1"])
                notices = wait_for(lambda: [n for n in notices_for(d.notices, case_id)
                                            if "abuse@loopback-hosting.example" in json.dumps(n)], 15,
                                   "a notice carrying the RDAP abuse contact")
                self.assertTrue(notices)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())
            # The provider found is kept: after a restart no new lookup is needed.
            d.start()
            try:
                self.assertEqual(d.ctl_json("cases", "show", case_id)["terms"]["provider"],
                                 "rdap:Loopback Hosting B.V.")
                self.assertEqual(len(self.rdap.queries), 1)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


if __name__ == "__main__":
    unittest.main()
