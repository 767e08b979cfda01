"""Integration test: notices leave the running takedownd over real channels.

A generated tree holds one file whose digest is on a list with
`auto_action: true`, so the sweep's case is confirmed by policy and notified
at once. The daemon has three channels: a file drop, a webhook to
tests/notices/webhook_receiver.py (which answers the first POST with 503) and
SMTP to tests/notices/smtp_receiver.py (aiosmtpd, STARTTLS with a certificate
made here, AUTH required). Both receivers run on 127.0.0.1 as child processes.

Checked: the e-mails (case id, deadline in Europe/Amsterdam time, Dutch then
English), the webhook (the failed attempt retried with the same key and body,
then each notice accepted once, every request HMAC-signed), the outbox
counters on /metrics, and that after kill -9 and a restart nothing is sent
again.
"""
import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import time
import unittest
import zoneinfo

from sources_common import wait_for, wait_sweep_end
from takedown_harness import REPO, Daemon, TempDir, make_tree

NOTICES_DIR = os.path.join(REPO, "tests", "notices")
# aiosmtpd comes from Debian's python3-aiosmtpd, installed for /usr/bin/python3.
RECEIVER_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SECRET = "0123456789abcdef0123456789abcdef"
SMTP_USER = "takedownd"
SMTP_PASSWORD = "loopback-only-password"
WEBHOOK = "hotline-webhook"
SMTP = "abuse-mail"
FILE_DROP = "file_drop"
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


def sha256_hex(*parts):
    return hashlib.sha256(b"\x00".join(p.encode() for p in parts)).hexdigest()


def case_id_for(source, key):
    return "c-" + sha256_hex(source, key)[:24]


def notice_id_for(case_id, kind, channel, sequence):
    return "n-" + sha256_hex(case_id, kind, channel, str(sequence))[:24]


def parse_time(text):
    """RFC 3339 UTC with up to 9 fractional digits (datetime keeps 6)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z", text)
    if not m:
        raise AssertionError(f"not an RFC 3339 UTC time: {text!r}")
    t = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc)
    return t + datetime.timedelta(microseconds=int((m.group(2) or "0")[:6].ljust(6, "0")))


def amsterdam(t):
    """As docs/notices.md: `2027-07-01 14:00:00 CEST (UTC+02:00)`."""
    local = t.astimezone(AMSTERDAM)
    offset = int(local.utcoffset().total_seconds()) // 60
    sign = "+" if offset >= 0 else "-"
    return local.strftime("%Y-%m-%d %H:%M:%S %Z") + f" (UTC{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d})"


def write_secret(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 (the SMTP receiver's STARTTLS)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise AssertionError("the openssl command is needed to make a test certificate: apt-get install openssl")
    cert, key = os.path.join(directory, "smtp-cert.pem"), os.path.join(directory, "smtp-key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class Receiver:
    """A receiver script as a child process that writes its port to a file."""

    def __init__(self, work_dir, name, script, args):
        self.port_file = os.path.join(work_dir, name + ".port")
        self.log_path = os.path.join(work_dir, name + ".stderr")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([RECEIVER_PYTHON, os.path.join(NOTICES_DIR, script),
                                      "--port-file", self.port_file, *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.close()
                with open(self.log_path) as f:
                    raise AssertionError(f"{script} did not start (exit {self.proc.returncode}):\n{f.read()}")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def webhook_posts(log_path):
    if not os.path.exists(log_path):
        return []
    with open(log_path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def mails(out_dir):
    found = sorted((int(n[:-5]) for n in os.listdir(out_dir) if n.endswith(".json")))
    result = []
    for n in found:
        with open(os.path.join(out_dir, f"{n}.json"), encoding="utf-8") as f:
            result.append(json.load(f))
    return result


def header(record, name):
    values = [v for k, v in record["headers"] if k.lower() == name.lower()]
    if len(values) != 1:
        raise AssertionError(f"expected one {name} header, got {values}")
    return values[0]


def notice_counts(daemon):
    """takedown_notices_total by (channel, outcome), label order not assumed."""
    counts = {}
    for line in daemon.metrics().splitlines():
        if not line.startswith("takedown_notices_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line[:line.index("}")]))
        counts[(labels["channel"], labels["outcome"])] = float(line.split()[-1])
    return counts


class NoticesDelivered(unittest.TestCase):
    def test_auto_action_case_mailed_and_posted_once_across_a_crash(self):
        with TempDir() as tmp:
            expected = make_tree(tmp, files=100, known=1, seed=7)
            [known] = expected["known"]
            cert, key = make_certificate(tmp)
            hook_log = os.path.join(tmp, "webhook.jsonl")
            mail_dir = os.path.join(tmp, "mail")
            os.makedirs(mail_dir)
            receivers = []
            d = None
            try:
                receivers.append(Receiver(tmp, "webhook", "webhook_receiver.py",
                                          ["--log", hook_log, "--secret", SECRET, "--fail-first", "1"]))
                hook = receivers[-1]
                receivers.append(Receiver(tmp, "smtp", "smtp_receiver.py",
                                          ["--out-dir", mail_dir, "--user", SMTP_USER, "--password",
                                           SMTP_PASSWORD, "--tls-cert", cert, "--tls-key", key]))
                smtp = receivers[-1]
                write_secret(os.path.join(tmp, "webhook-secret"), SECRET)
                write_secret(os.path.join(tmp, "smtp-password"), SMTP_PASSWORD)
                # Continues the harness's `notices:` mapping, then top-level sections.
                extra = f"""  webhooks:
    - name: {WEBHOOK}
      url: http://127.0.0.1:{hook.port}/hooks/takedown
      secret_file: {tmp}/webhook-secret
  smtp:
    - name: {SMTP}
      url: smtp://127.0.0.1:{smtp.port}
      starttls: required
      username: {SMTP_USER}
      password_file: {tmp}/smtp-password
      from: takedownd@provider.example
      from_name: Abuse desk
      to: [abuse@provider.example]
      languages: [nl, en]
      ca_file: {cert}
lists:
  - name: demo
    path: {tmp}/lists/demo.csv
    auto_action: true
"""
                d = Daemon(tmp, os.path.join(tmp, "storage"), extra=extra).start()
                d.ctl("sweep", "start", "disk")
                self.assertEqual(wait_sweep_end(d, "disk")["state"], "completed")

                # The list's auto_action confirms without review; confirming notifies.
                case_id = case_id_for("disk", known["key"])
                self.assertEqual([(c["id"], c["key"], c["state"]) for c in d.ctl_json("cases", "ls")],
                                 [(case_id, known["key"], "notified")])
                case = d.ctl_json("cases", "show", case_id)
                self.assertEqual([(h["from"], h["to"], h["actor"]) for h in case["history"]],
                                 [("detected", "confirmed", "policy:auto-action"),
                                  ("confirmed", "notified", "engine")])
                received = parse_time(case["terms"]["received_at"])
                deadline = parse_time(case["terms"]["deadline"])
                self.assertEqual(deadline - received, datetime.timedelta(hours=24))  # provider-voluntary
                deadline_text = amsterdam(deadline)

                # One detection and one removal request per channel, ids as docs/cases.md.
                kinds = {"case.detected": 0, "case.removal_request": 100000}
                ids = {(ch, kind): notice_id_for(case_id, kind, ch, seq)
                       for ch in (FILE_DROP, WEBHOOK, SMTP) for kind, seq in kinds.items()}

                def all_delivered():
                    c = notice_counts(d)
                    return all(c.get((ch, "delivered"), 0) >= 2 for ch in (FILE_DROP, WEBHOOK, SMTP))

                wait_for(all_delivered, 15, "2 notices delivered on each channel")
                time.sleep(0.3)  # the delivered record is written right after the counter moves
                counts = notice_counts(d)
                self.assertEqual(counts, {(FILE_DROP, "delivered"): 2, (WEBHOOK, "delivered"): 2,
                                          (WEBHOOK, "retry"): 1, (SMTP, "delivered"): 2}, d.read_log())
                self.assertIn("delivery attempt 1 failed", d.read_log())

                # Webhook: attempt 1 got 503, its retry carries the same key and
                # body; then every notice was accepted exactly once.
                posts = webhook_posts(hook_log)
                self.assertEqual(len(posts), 3, posts)
                keys = [p["headers"]["idempotency-key"] for p in posts]
                self.assertEqual(sorted(keys[1:]), sorted([ids[(WEBHOOK, k)] for k in kinds]))
                self.assertIn(keys[0], keys[1:])
                retried = posts[1 + keys[1:].index(keys[0])]
                with open(hook.log_path) as f:
                    statuses = re.findall(r'"POST /hooks/takedown HTTP/1.1" (\d{3})', f.read())
                self.assertEqual(statuses, ["503", "200", "200"])
                self.assertEqual(posts[0]["body"], retried["body"])
                now = time.time()
                for p in posts:
                    h = p["headers"]
                    self.assertEqual(p["path"], "/hooks/takedown")
                    self.assertTrue(p["signature_ok"], p)
                    mac = hmac.new(SECRET.encode(), h["x-takedown-timestamp"].encode() + b"." + p["body"].encode(),
                                   hashlib.sha256).hexdigest()
                    self.assertEqual(h["x-takedown-signature"], "sha256=" + mac)
                    self.assertLess(abs(now - int(h["x-takedown-timestamp"])), 300)
                    self.assertEqual(h["x-takedown-notice-id"], h["idempotency-key"])
                    body = json.loads(p["body"])
                    self.assertEqual((body["notice_id"], body["case_id"], body["content_included"]),
                                     (h["idempotency-key"], case_id, False))
                    self.assertEqual(body["object"]["key"], known["key"])
                    if body["kind"] == "case.removal_request":
                        self.assertEqual(parse_time(body["deadline"]), deadline)

                # E-mail: over STARTTLS with AUTH, Dutch then English, the
                # deadline in Amsterdam time in the removal request.
                sent = mails(mail_dir)
                self.assertEqual(sorted(header(m, "Message-ID") for m in sent),
                                 sorted(f"<{ids[(SMTP, k)]}@takedownd>" for k in kinds))
                by_kind = {}
                for m in sent:
                    self.assertTrue(m["tls"])
                    self.assertEqual(m["auth_login"], SMTP_USER)
                    self.assertEqual(m["mail_from"], "takedownd@provider.example")
                    self.assertEqual(m["rcpt_tos"], ["abuse@provider.example"])
                    self.assertEqual(m["defects"], [])
                    self.assertEqual((m["content_type"], m["charset"]), ("text/plain", "utf-8"))
                    self.assertEqual(header(m, "X-Takedown-Case-Id"), case_id)
                    self.assertEqual(header(m, "Auto-Submitted"), "auto-generated")
                    date = email.utils.parsedate_to_datetime(header(m, "Date"))
                    self.assertEqual(date.utcoffset(), date.astimezone(AMSTERDAM).utcoffset())
                    self.assertLess(abs(date - received), datetime.timedelta(seconds=5))
                    self.assertTrue(m["subject"].startswith("[takedownd] Actie vereist: "), m["subject"])
                    self.assertTrue(m["subject"].endswith(f"(zaak {case_id})"), m["subject"])
                    body = m["body"]
                    dutch, english = body.index("Zaak:                 " + case_id), body.index("Case:             "
                                                                                               + case_id)
                    self.assertLess(dutch, english)
                    kind = re.search(r"^Notice: +(n-[0-9a-f]{24}) \(([a-z._]+)\)$", body, re.M)
                    self.assertEqual(f"<{kind.group(1)}@takedownd>", header(m, "Message-ID"))
                    by_kind[kind.group(2)] = body
                    self.assertIn(f"melding aangemaakt op {amsterdam(date)}.", body)
                    self.assertIn(f"notice created {amsterdam(date)}.", body)
                self.assertEqual(set(by_kind), set(kinds))
                request = by_kind["case.removal_request"]
                self.assertIn("Termijn (uiterlijk):  " + deadline_text + "\n", request)
                self.assertIn("Deadline:         " + deadline_text + "\n", request)
                self.assertRegex(deadline_text, r" (CET \(UTC\+01:00\)|CEST \(UTC\+02:00\))$")
                detected = by_kind["case.detected"]
                self.assertIn("Termijn (uiterlijk):  [niet beschikbaar]\n", detected)
                self.assertIn("Deadline:         [not available]\n", detected)

                self.assertEqual(sorted(os.listdir(d.notices)),
                                 sorted(f"{ids[(FILE_DROP, k)]}.json" for k in kinds))

                # Crash after delivery, restart: nothing goes out again.
                d.kill9()
                d.start()
                self.assertEqual(d.ctl_json("cases", "show", case_id)["state"], "notified")
                time.sleep(2.5)  # the dispatcher scans at start, then every second
                self.assertEqual(notice_counts(d), {})
                self.assertEqual(len(webhook_posts(hook_log)), 3)
                self.assertEqual(len(mails(mail_dir)), 2)
                self.assertEqual(len(os.listdir(d.notices)), 2)
                self.assertEqual(d.stop(), 0, d.read_log())
            finally:
                if d is not None and d.proc is not None and d.proc.poll() is None:
                    d.kill9()
                for r in receivers:
                    r.close()


if __name__ == "__main__":
    unittest.main()
