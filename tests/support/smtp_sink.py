"""An SMTP server for tests/it/email.rs, built on aiosmtpd.

    python smtp_sink.py OUTDIR PORT [--reject ADDRESS]...
        [--tls starttls|smtps --cert PEM --key PEM] [--login USER:PASSWORD]

Listens on 127.0.0.1:PORT (0: any free port), prints the port on one line
once it accepts connections, and writes each message it receives to OUTDIR
as NNNNNN.eml (the raw data as received) beside NNNNNN.json (the envelope).
RCPT TO a rejected address is answered with a permanent 550. With --tls,
STARTTLS is required before MAIL, or TLS starts with the connection. With
--login, mail is taken only after AUTH with that user and password.
"""
import argparse
import asyncio
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, outdir, rejected):
        self.outdir = outdir
        self.rejected = {a.lower() for a in rejected}
        self.count = len([n for n in os.listdir(outdir) if n.endswith(".eml")])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rejected:
            return "550 5.1.1 <%s>: mailbox unavailable, no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        stem = os.path.join(self.outdir, "%06d" % self.count)
        with open(stem + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
        }
        with open(stem + ".json", "w") as f:
            json.dump(meta, f)
        # The message appears whole or not at all.
        os.rename(stem + ".tmp", stem + ".eml")
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    parser.add_argument("port", type=int)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tls", choices=["starttls", "smtps"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--login")
    args = parser.parse_args()
    handler = Handler(args.outdir, args.reject)
    context = None
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    starttls = args.tls == "starttls"
    login = tuple(args.login.encode().split(b":", 1)) if args.login else None

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == login
        return AuthResult(success=ok, handled=False)

    def factory():
        return SMTP(
            handler,
            enable_SMTPUTF8=True,
            hostname="smtp.test",
            tls_context=context if starttls else None,
            require_starttls=starttls,
            authenticator=authenticator if login else None,
            auth_required=login is not None,
            auth_require_tls=True,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory,
        "127.0.0.1",
        args.port,
        ssl=context if args.tls == "smtps" else None,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
