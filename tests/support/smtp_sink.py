"""An SMTP server for tests/it/email.rs, built on aiosmtpd.

    python smtp_sink.py OUTDIR PORT [REJECTED_ADDRESS...]

Listens on 127.0.0.1:PORT (0: any free port), prints the port on one line
once it accepts connections, and writes each message it receives to OUTDIR
as NNNNNN.eml (the raw data as received) beside NNNNNN.json (the envelope).
RCPT TO one of REJECTED_ADDRESS is answered with a permanent 550.
"""
import asyncio
import json
import os
import sys

from aiosmtpd.smtp import SMTP


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
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}
        with open(stem + ".json", "w") as f:
            json.dump(meta, f)
        # The message appears whole or not at all.
        os.rename(stem + ".tmp", stem + ".eml")
        return "250 Message accepted for delivery"


async def main():
    outdir, port = sys.argv[1], int(sys.argv[2])
    handler = Handler(outdir, sys.argv[3:])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True, hostname="smtp.test"),
        "127.0.0.1",
        port,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
