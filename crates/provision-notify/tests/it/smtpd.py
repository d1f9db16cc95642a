"""A test SMTP server: Debian's aiosmtpd, saving each accepted message as JSON.

Each message is parsed by Python's `email` package (an independent reader of what lettre
wrote: headers decoded, transfer encodings undone) and saved as `<out>/<ns>-<pid>-<n>.json`
before the server answers 250, so a client that got its 250 finds the file.

    python3 smtpd.py OUT [--port N] [--auth USER:PASSWORD] [--auth-plaintext]
                         [--starttls CERT KEY | --tls CERT KEY]
    python3 smtpd.py --parse FILE     # one RFC 5322 file (a maildir message) as the same JSON

Recipients `later@…` get `451` (transient), `nobody@…` get `550` (permanent). Prints
`listening <port>` once the socket is bound, then serves until killed.
"""

import argparse
import asyncio
import json
import os
import ssl
import time
from email import message_from_bytes, policy

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Saver:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local == "later":
            return "451 4.3.0 try again later"
        if local == "nobody":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = parse(envelope.original_content or envelope.content)
        login = getattr(session, "auth_data", None)
        record.update(
            mail_from=envelope.mail_from,
            rcpt_tos=envelope.rcpt_tos,
            login=login.decode() if isinstance(login, bytes) else login,
            tls=server.transport.get_extra_info("ssl_object") is not None,
        )
        self.count += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self.count}.json"
        tmp = os.path.join(self.out, "." + name)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.out, name))
        return "250 OK message saved"


def parse(raw):
    # As a mail store keeps it: Unix line ends (SMTP's CRLF is the wire's business).
    msg = message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    return {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "date": str(msg["Date"]),
        "content_type": msg.get_content_type(),
        "text": text.get_content() if text is not None else None,
        "html": html.get_content() if html is not None else None,
        "raw": raw.decode("utf-8", "replace"),
        "defects": [repr(d) for d in msg.defects]
        + [repr(d) for part in msg.walk() for d in part.defects if part is not msg],
    }


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    return check


def context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?")
    parser.add_argument("--parse")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--auth")
    parser.add_argument("--auth-plaintext", action="store_true")
    parser.add_argument("--starttls", nargs=2)
    parser.add_argument("--tls", nargs=2)
    args = parser.parse_args()
    if args.parse:
        with open(args.parse, "rb") as f:
            print(json.dumps(parse(f.read())))
        return

    handler = Saver(args.out)
    auth = authenticator(*args.auth.split(":", 1)) if args.auth else None
    starttls = context(*args.starttls) if args.starttls else None
    implicit = context(*args.tls) if args.tls else None

    def factory():
        return SMTP(
            handler,
            hostname="smtpd.test",
            authenticator=auth,
            auth_required=auth is not None,
            auth_require_tls=not args.auth_plaintext,
            tls_context=starttls,
            require_starttls=starttls is not None,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=args.port, ssl=implicit)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
