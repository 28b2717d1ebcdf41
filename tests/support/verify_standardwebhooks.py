"""Verify captured feedwatch webhook requests with the reference
`standardwebhooks` library.

Usage: verify_standardwebhooks.py CAPTURE.jsonl SECRET_FILE

CAPTURE.jsonl holds one request per line: {"headers": {...}, "body": "..."}.
SECRET_FILE holds the sink's secret exactly as feedwatch reads it: a
`whsec_` secret is handed to the library as it is (base64 key bytes); any
other secret is feedwatch's raw key bytes, so it is handed over as bytes.
Exits 0 only if there is at least one request and every one verifies.
"""

import json
import sys

from standardwebhooks import Webhook


def signing_key(path):
    with open(path, encoding="utf-8") as f:
        secret = f.read().strip()
    if secret.startswith("whsec_"):
        return secret
    return secret.encode("utf-8")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    hook = Webhook(signing_key(argv[2]))
    checked = failed = 0
    with open(argv[1], encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            request = json.loads(line)
            checked += 1
            try:
                payload = hook.verify(request["body"], request["headers"])
            except Exception as e:  # any failure of any kind is a rejection
                failed += 1
                print(f"line {number}: rejected: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            if payload.get("data", {}).get("id") != request["headers"].get("webhook-id"):
                failed += 1
                print(f"line {number}: data.id is not the webhook-id", file=sys.stderr)
    if checked == 0:
        print("no requests to verify", file=sys.stderr)
        return 1
    print(f"standardwebhooks: {checked - failed} of {checked} verified")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
