#!/usr/bin/env python3
"""SMTP receiver for tests/notices/smtp_channel_test.cc, built on aiosmtpd
(Debian package python3-aiosmtpd).

Listens on 127.0.0.1 at a port the OS chooses, written to --port-file once it
accepts connections. Each accepted message is saved in --out-dir as
<n>.eml (the raw bytes) and <n>.json: envelope sender and recipients, the AUTH
login, whether the session used TLS, the raw header fields in order, and the
subject and body decoded with Python's email package (independently of the
C++ encoder).

Options:
  --reject-rcpt REPLY  answer every RCPT TO with REPLY (e.g. "550 5.1.1 no such user")
  --reject-data REPLY  answer DATA with REPLY (e.g. "451 4.3.0 try again later")
  --user U --password P  require AUTH with these credentials (allowed without TLS:
                       this is a loopback test server)
  --tls-cert C --tls-key K  offer STARTTLS and require it before MAIL
  --implicit-tls       with --tls-cert/--tls-key: TLS from the first byte
                       (smtps) instead of STARTTLS
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import ssl
import sys

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:
    sys.stderr.write(
        "smtp_receiver.py: the python3 module aiosmtpd is missing for " + sys.executable +
        ": install the Debian package python3-aiosmtpd "
        "(apt-get install python3-aiosmtpd, or scripts/install-deps.sh)\n")
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--reject-data")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    args = parser.parse_args()

    counter = {"n": 0}

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if args.reject_rcpt:
                return args.reject_rcpt
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            if args.reject_data:
                return args.reject_data
            raw = envelope.original_content or envelope.content
            counter["n"] += 1
            base = os.path.join(args.out_dir, str(counter["n"]))
            with open(base + ".eml", "wb") as f:
                f.write(raw)
            raw_message = email.message_from_bytes(raw, policy=email.policy.compat32)
            parsed = email.message_from_bytes(raw, policy=email.policy.default)
            login = None
            if session.auth_data is not None and isinstance(session.auth_data, LoginPassword):
                login = session.auth_data.login.decode()
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "auth_login": login,
                "tls": (session.ssl is not None
                        or server.transport.get_extra_info("ssl_object") is not None),
                "headers": [[k, v] for k, v in raw_message.items()],
                "subject": str(parsed["subject"]),
                # Decoded text with the wire's CRLF line ends as "\n".
                "body": parsed.get_content().replace("\r\n", "\n"),
                "content_type": parsed.get_content_type(),
                "charset": parsed.get_content_charset(),
                "defects": [str(d) for d in parsed.defects],
            }
            tmp = base + ".json.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(record, f)
            os.rename(tmp, base + ".json")
            return "250 2.0.0 stored"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    tls_context = None
    if args.tls_cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.tls_cert, args.tls_key)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    starttls_context = None if args.implicit_tls else tls_context

    def factory():
        return SMTP(Handler(), hostname="receiver.test", tls_context=starttls_context,
                    require_starttls=starttls_context is not None,
                    authenticator=authenticator if args.user else None,
                    auth_required=bool(args.user), auth_require_tls=False, loop=loop)

    server = loop.run_until_complete(loop.create_server(
        factory, "127.0.0.1", 0, ssl=tls_context if args.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)
    loop.run_forever()


if __name__ == "__main__":
    main()
