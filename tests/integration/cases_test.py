"""Integration test: the case engine in the running takedownd, driven with
takedownctl: review (reject feeds the review allowlist, which then vetoes the
same bytes), the transition table enforced through the API, a removal order
dropped into the inbox, and cases with their timers surviving a restart."""
import datetime
import hashlib
import json
import os
import subprocess
import unittest

from sources_common import wait_for, wait_sweep_end, write_file
from takedown_harness import Daemon, TempDir

KNOWN = b"bytes that the test blocklist carries by SHA-256 " * 4
OTHER = b"an ordinary upload, on no list"


def order_json(url, reference):
    issued = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    return json.dumps({
        "schema_version": 1,
        "profile": "tco-removal-order",
        "order_reference": reference,
        "issuing_authority": {"name": "Test Authority", "member_state": "NL"},
        "provider": {"name": "Example Hosting B.V."},
        "legal_basis": "Regulation (EU) 2021/784, Article 3",
        "locations": [{"url": url}],
        "reasons": "Terrorist content (test).",
        "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redress": "Object within the term stated in the order.",
        "secrecy": False,
    })


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class CasesInTheDaemon(unittest.TestCase):
    def test_review_veto_transition_order_and_restart(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            write_file(os.path.join(storage, "a", "known.jpg"), KNOWN)
            write_file(os.path.join(storage, "a", "plain.jpg"), OTHER)
            blocklist = os.path.join(tmp, "block.csv")
            with open(blocklist, "w") as f:
                f.write("hash_type,hash,category,entry_id,tags\n")
                f.write(f"sha256,{hashlib.sha256(KNOWN).hexdigest()},csam,e-0,test\n")
            allowlist = os.path.join(tmp, "fp.csv")  # created by the daemon
            inbox = os.path.join(tmp, "orders")
            extra = f"""lists:
  - name: demo
    path: {blocklist}
  - name: fp
    path: {allowlist}
    kind: allowlist
cases:
  review_allowlist: fp
orders:
  inbox: {inbox}
  poll_interval: 1s
  execute: false
  locations:
    - url_prefix: https://files.example/u/
      source: disk
"""
            d = Daemon(tmp, storage, extra=extra).start()
            try:
                self.assertTrue(os.path.exists(allowlist))
                d.ctl("sweep", "start", "disk")
                self.assertEqual(wait_sweep_end(d, "disk")["state"], "completed")
                cases = d.ctl_json("cases", "ls")
                self.assertEqual([(c["key"], c["state"]) for c in cases], [("a/known.jpg", "in_review")])
                case_id = cases[0]["id"]

                rejected = json.loads(d.ctl("--json", "cases", "reject", case_id, "--reason", "fp").stdout)
                self.assertEqual(rejected["state"], "rejected")
                self.assertEqual(d.ctl_json("cases", "show", case_id)["state"], "rejected")
                with open(allowlist) as f:
                    self.assertIn(hashlib.sha256(KNOWN).hexdigest(), f.read())

                # The same bytes under another name are vetoed: no new case.
                write_file(os.path.join(storage, "b", "copy.jpg"), KNOWN)
                d.ctl("sweep", "start", "disk")
                self.assertEqual(wait_sweep_end(d, "disk")["state"], "completed")
                self.assertEqual([c["id"] for c in d.ctl_json("cases", "ls")], [case_id])

                # The transition table holds through the API.
                r = d.ctl("cases", "transition", case_id, "notified", "--reason", "try", check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("rejected", r.stderr)
                self.assertIn("notified", r.stderr)
                r = d.ctl("cases", "reject", case_id, check=False)
                self.assertEqual(r.returncode, 2)
                self.assertIn("--reason", r.stderr)

                # An order dropped into the inbox opens a case with the 1 h term.
                with open(os.path.join(inbox, ".order-1.json"), "w") as f:
                    f.write(order_json("https://files.example/u/a/plain.jpg", "TCO-IT-1"))
                os.rename(os.path.join(inbox, ".order-1.json"), os.path.join(inbox, "order-1.json"))
                done = os.path.join(inbox, "done", "order-1.json")
                wait_for(lambda: os.path.exists(done), 15, "the order to be accepted")
                order_cases = [c for c in d.ctl_json("cases", "ls") if c["id"] != case_id]
                self.assertEqual([(c["source_id"], c["key"], c["state"]) for c in order_cases],
                                 [("disk", "a/plain.jpg", "notified")])
                order_case = order_cases[0]["id"]
                shown = d.ctl("cases", "show", order_case).stdout
                self.assertIn("profile   tco-removal-order", shown)
                before = d.ctl_json("cases", "show", order_case)
                terms = before["terms"]
                self.assertEqual(parse_time(terms["deadline"]) - parse_time(terms["received_at"]),
                                 datetime.timedelta(hours=1))
                self.assertGreater(len(terms["timers"]), 0)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())

            d.start()
            try:
                after = d.ctl_json("cases", "show", order_case)
                self.assertEqual(after["state"], "notified")
                self.assertEqual(after["terms"]["deadline"], terms["deadline"])
                self.assertEqual(after["terms"]["timers"], terms["timers"])
                self.assertEqual(d.ctl_json("cases", "show", case_id)["state"], "rejected")
                removed = json.loads(d.ctl("--json", "cases", "removed", order_case, "--kind", "access_disabled",
                                           "--reason", "disabled by the abuse desk").stdout)
                self.assertEqual(removed["state"], "removed")
                self.assertEqual(removed["terms"]["removal"], "access_disabled")
                # The order case counts (the rejected one does not): removed within its hour.
                stats = d.ctl_json("stats", "compliance")
                self.assertEqual([(p["provider"], p["cases"], p["removed"], p["removed_on_time"], p["decided"],
                                   p["share_within_deadline"]) for p in stats], [("", 1, 1, 1, 1, 1.0)])
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


def notice_kinds(notices_dir, case_id):
    kinds = []
    for name in sorted(os.listdir(notices_dir)) if os.path.isdir(notices_dir) else []:
        if not name.endswith(".json"):
            continue
        with open(os.path.join(notices_dir, name)) as f:
            notice = json.load(f)
        if notice.get("case_id") == case_id:
            kinds.append(notice.get("kind"))
    return kinds


class OrdersExecutedByTheDaemon(unittest.TestCase):
    def test_quarantine_on_receipt_then_execute_and_inability_by_hand(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            quarantine = os.path.join(tmp, "quarantine")
            write_file(os.path.join(storage, "u", "first.jpg"), OTHER + b"1")
            extra = f"""cases:
  content_provider:
    channel: file_drop
    provider_name: Example Hosting B.V.
    complaint_contact: https://hosting.example/complaints
orders:
  action: quarantine
  quarantine_dir: {quarantine}
  locations:
    - url_prefix: https://files.example/u/
      source: disk
      key_prefix: u/
"""
            d = Daemon(tmp, storage, extra=extra).start()
            try:
                # Executed on receipt: the file moves out of the tree; the
                # feedback (Annex II) is queued with the removal.
                order = os.path.join(tmp, "order-1.json")
                with open(order, "w") as f:
                    f.write(order_json("https://files.example/u/first.jpg", "TCO-EX-1"))
                receipt = json.loads(d.ctl("--json", "orders", "submit", order).stdout)
                self.assertEqual([l["status"] for l in receipt["locations"]], ["access_disabled"])
                first_case = receipt["locations"][0]["case_id"]
                self.assertFalse(os.path.exists(os.path.join(storage, "u", "first.jpg")))
                moved = os.path.join(quarantine, "disk", "u", "first.jpg")
                with open(moved, "rb") as f:
                    self.assertEqual(f.read(), OTHER + b"1")
                self.assertEqual(os.stat(moved).st_mode & 0o777, 0o400)
                shown = d.ctl_json("cases", "show", first_case)
                self.assertEqual(shown["state"], "removed")
                self.assertEqual(shown["terms"]["removal"], "access_disabled")
                # The object's digests, read just before the action, are the evidence.
                self.assertIn(hashlib.sha256(OTHER + b"1").hexdigest(), json.dumps(shown))
                wait_for(lambda: "removal_order.feedback" in notice_kinds(d.notices, first_case), 15,
                         "the feedback to the issuing authority")
                # The customer is told (TCO Art. 11: the order is not secret).
                wait_for(lambda: "content_provider.tco_information" in notice_kinds(d.notices, first_case), 15,
                         "the information to the content provider")

                # A URL whose object is missing: the action fails, the case
                # stays notified with its timers running.
                order = os.path.join(tmp, "order-2.json")
                with open(order, "w") as f:
                    f.write(order_json("https://files.example/u/missing.jpg", "TCO-EX-2"))
                receipt = json.loads(d.ctl("--json", "orders", "submit", order).stdout)
                self.assertEqual([l["status"] for l in receipt["locations"]], ["action_failed"])
                self.assertIn("missing.jpg", receipt["locations"][0]["detail"])
                missing_case = receipt["locations"][0]["case_id"]
                self.assertEqual(d.ctl_json("cases", "show", missing_case)["state"], "notified")

                # The file appears; a person executes the order again.
                write_file(os.path.join(storage, "u", "missing.jpg"), OTHER + b"2")
                executed = json.loads(d.ctl("--json", "orders", "execute", missing_case).stdout)
                self.assertEqual(executed["state"], "removed")
                self.assertTrue(os.path.exists(os.path.join(quarantine, "disk", "u", "missing.jpg")))
                self.assertFalse(os.path.exists(os.path.join(storage, "u", "missing.jpg")))

                # Cannot comply: the reasons go to the issuer, the case is disputed.
                order = os.path.join(tmp, "order-3.json")
                with open(order, "w") as f:
                    f.write(order_json("https://files.example/u/gone.jpg", "TCO-EX-3"))
                third = json.loads(d.ctl("--json", "orders", "submit", order).stdout)["locations"][0]["case_id"]
                r = d.ctl("orders", "unable", third, "--reason", "no kind", check=False)
                self.assertEqual(r.returncode, 2)
                r = d.ctl("orders", "unable", third, "--kind", "bad_luck", "--reason", "x", check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn("force_majeure", r.stderr)
                unable = json.loads(d.ctl("--json", "orders", "unable", third, "--kind", "missing_information",
                                          "--reason", "The order does not say which of two copies is meant.")
                                    .stdout)
                self.assertEqual(unable["state"], "disputed")
                wait_for(lambda: "removal_order.inability" in notice_kinds(d.notices, third), 15,
                         "the inability notice to the issuing authority")
                # Executing a case that answers no order is refused.
                r = d.ctl("orders", "execute", "c-doesnotexist", check=False)
                self.assertNotEqual(r.returncode, 0)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


class ContentPreservedSealed(unittest.TestCase):
    """TCO Art. 6 through the real daemon: a delete order seals the content
    in the vault first; the case lists the copy; the handover decrypt gives
    back the same bytes."""

    def test_delete_under_tco_seals_then_deletes_and_decrypts_for_handover(self):
        with TempDir() as tmp:
            storage = os.path.join(tmp, "storage")
            vault = os.path.join(tmp, "preserved")
            key = os.path.join(tmp, "seal.key")
            content = OTHER + b"-preserved"
            write_file(os.path.join(storage, "u", "kept.jpg"), content)
            d = Daemon(tmp, storage, extra=f"""orders:
  action: delete
  preserve_dir: {vault}
  preserve_key_file: {key}
  locations:
    - url_prefix: https://files.example/u/
      source: disk
      key_prefix: u/
""")
            made = d.ctl("preservation", "keygen", "--out", key)
            self.assertIn("written to", made.stdout)
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            d.start()
            try:
                order = os.path.join(tmp, "order.json")
                with open(order, "w") as f:
                    f.write(order_json("https://files.example/u/kept.jpg", "TCO-PV-1"))
                receipt = json.loads(d.ctl("--json", "orders", "submit", order).stdout)
                self.assertEqual([l["status"] for l in receipt["locations"]], ["removed"])
                case_id = receipt["locations"][0]["case_id"]
                self.assertFalse(os.path.exists(os.path.join(storage, "u", "kept.jpg")))

                shown = d.ctl_json("cases", "show", case_id)
                self.assertEqual(shown["terms"]["removal"], "removed")
                [copy] = shown["terms"]["preserved"]
                self.assertEqual(copy["location"], os.path.join(vault, case_id, "1.sealed"))
                self.assertEqual(copy["sha256"], hashlib.sha256(content).hexdigest())
                self.assertIsNotNone(copy["retain_until"])
                self.assertIsNone(copy["erased_at"])
                with open(copy["location"], "rb") as f:
                    self.assertNotIn(content, f.read())
                text = d.ctl("cases", "show", case_id).stdout
                self.assertIn("preserved:", text)
                self.assertIn("retain until " + copy["retain_until"], text)

                info = d.ctl("preservation", "info", copy["location"]).stdout
                self.assertIn(case_id, info)
                self.assertIn("order TCO-PV-1", info)
                out = os.path.join(tmp, "handover.jpg")
                decrypted = d.ctl("preservation", "decrypt", "--key-file", key, "--out", out, copy["location"])
                self.assertIn(copy["sha256"], decrypted.stdout)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), content)
            finally:
                self.assertEqual(d.stop(), 0, d.read_log())


if __name__ == "__main__":
    unittest.main()
