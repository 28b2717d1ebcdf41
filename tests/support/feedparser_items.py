"""Prints, as JSON, the titles feedparser reads from each feed file named on
the command line: {"path": ["title", ...], ...}."""

import json
import sys

import feedparser

out = {}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        parsed = feedparser.parse(f.read())
    out[path] = [entry.get("title", "") for entry in parsed.entries]
print(json.dumps(out))
