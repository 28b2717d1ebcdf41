"""feedwatch and urlwatch over the same feeds, phase by phase.

Generates N distinct feeds from the seed (about 77 KB and 10 items each),
serves them with nginx (its own ETag and Last-Modified), and measures each
tool's CPU seconds (user + sys), wall time and peak RSS from the kernel's own
accounting of the child process (wait4). Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

HOSTS = 250  # loopback addresses 127.0.0.1 .. 127.0.0.250, as many "sites"
CHANGED_EVERY = 10  # every tenth feed changes: 10 %


# ---------------------------------------------------------------- the corpus

def split_seed(seed):
    items = re.findall(r"\t<item>.*?</item>\n", seed, re.S)
    start = seed.index(items[0])
    end = seed.index(items[-1]) + len(items[-1])
    return seed[:start], items, seed[end:]


def guid_of(item):
    return re.search(r"<guid[^>]*>([^<]*)</guid>", item).group(1)


def make_distinct(item, n):
    """The seed item as feed n publishes it: its own guid, link and a line of text."""
    item = re.sub(r"(<guid[^>]*>[^<]*)</guid>", lambda m: f"{m.group(1)}-f{n}</guid>", item)
    item = re.sub(r"<link>([^<]*)</link>", lambda m: f"<link>{m.group(1)}?f={n}</link>", item)
    return item.replace(
        "<content:encoded><![CDATA[",
        f"<content:encoded><![CDATA[<p>Edition {n} of this story.</p>\n",
        1,
    )


def new_story(template, n):
    guid = f"https://www.communitycare.co.uk/?p=900000-f{n}"
    item = re.sub(r"<guid([^>]*)>[^<]*</guid>", lambda m: f"<guid{m.group(1)}>{guid}</guid>", template)
    item = re.sub(r"<title>[^<]*</title>", f"<title>Council {n} expands its fostering service</title>", item)
    item = re.sub(r"<link>[^<]*</link>", f"<link>https://www.communitycare.co.uk/2025/02/04/fostering-{n}/</link>", item)
    item = re.sub(r"<pubDate>[^<]*</pubDate>", "<pubDate>Tue, 04 Feb 2025 09:00:00 +0000</pubDate>", item)
    item = item.replace(
        "<content:encoded><![CDATA[",
        f"<content:encoded><![CDATA[<p>Council {n} announced a new fostering service today.</p>\n",
        1,
    )
    return item, guid


def edited(item):
    return item.replace(
        "]]></content:encoded>",
        "<p>This story was corrected on 4 February 2025.</p>]]></content:encoded>",
        1,
    )


class Corpus:
    def __init__(self, seed_path, root, count):
        with open(seed_path, encoding="utf-8") as f:
            self.head, self.items, self.tail = split_seed(f.read())
        self.root = root
        self.count = count
        self.www = os.path.join(root, "www")

    def path(self, n):
        return os.path.join(self.www, f"feed-{n}.xml")

    def url(self, n, port):
        return f"http://127.0.0.{n % HOSTS + 1}:{port}/feed-{n}.xml"

    def feed_items(self, n):
        return [make_distinct(i, n) for i in self.items]

    def write(self, n, items, bump=0):
        head = self.head.replace("Frontline Archives", f"Frontline Archives {n}", 1)
        path = self.path(n)
        with open(path, "w", encoding="utf-8") as f:
            f.write(head + "".join(items) + self.tail)
        if bump:
            st = os.stat(path)
            os.utime(path, (st.st_atime, st.st_mtime + bump))

    def generate(self):
        os.makedirs(self.www, exist_ok=True)
        for n in range(self.count):
            self.write(n, self.feed_items(n))

    def change(self):
        """10 % of the feeds: a new story on top (the oldest rolls off) and
        two stories edited. Returns the events feedwatch must report."""
        expected = Counter()
        for n in range(0, self.count, CHANGED_EVERY):
            items = self.feed_items(n)
            story, guid = new_story(items[0], n)
            expected[(f"feed-{n}", "item.new", guid)] += 1
            for k in (1, 2):
                expected[(f"feed-{n}", "item.updated", guid_of(items[k]))] += 1
                items[k] = edited(items[k])
            self.write(n, [story] + items[:-1], bump=60)
        return expected


# ------------------------------------------------------------------ nginx

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, root, www):
        self.dir = os.path.join(root, "nginx")
        self.www = www
        self.port = free_port()

    def start(self):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        listens = "".join(f"    listen 127.0.0.{h}:{self.port};\n" for h in range(1, HOSTS + 1))
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf = f"""{user}worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/logs/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  types {{ application/rss+xml xml; }}
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  server {{
{listens}    root {self.www};
  }}
}}
"""
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-p", self.dir, "-c", os.path.join(self.dir, "nginx.conf")], check=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nginx did not start")

    def stop(self):
        try:
            with open(os.path.join(self.dir, "nginx.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGQUIT)
        except (OSError, ValueError):
            pass


# ------------------------------------------------------------ measurement

def measure(cmd, out_path, env=None):
    """Runs `cmd` to the end; CPU, wall and peak RSS of that process alone."""
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "user": usage.ru_utime,
        "sys": usage.ru_stime,
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "code": proc.returncode,
    }


def clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDWATCH_")}
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "*"
    return env


class Feedwatch:
    def __init__(self, binary, root, corpus, port, name="feedwatch"):
        self.binary = binary
        self.dir = os.path.join(root, name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.config = os.path.join(self.dir, "feedwatch.toml")
        sources = "".join(
            f'\n[[source]]\nname = "feed-{n}"\nurl = "{corpus.url(n, port)}"\ntype = "feed"\n'
            for n in range(corpus.count)
        )
        with open(self.config, "w") as f:
            f.write(
                '[settings]\ndatabase = "feedwatch.db"\ninterval = "5m"\n\n'
                '[[sink]]\nname = "journal"\ntype = "log"\npath = "alerts.jsonl"\n' + sources
            )

    def cmd(self, *args):
        return [self.binary, "--config", self.config, *args]

    def check(self, phase):
        return measure(self.cmd("check"), os.path.join(self.dir, f"{phase}.out"), clean_env())

    def events(self):
        path = os.path.join(self.dir, "alerts.jsonl")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stats(self):
        out = subprocess.run(self.cmd("stats"), capture_output=True, text=True, env=clean_env())
        return out.stdout


class Urlwatch:
    def __init__(self, binary, root, corpus, port):
        self.binary = binary
        self.dir = os.path.join(root, "urlwatch-run")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.urls = os.path.join(self.dir, "urls.yaml")
        self.config = os.path.join(self.dir, "urlwatch.yaml")
        self.cache = os.path.join(self.dir, "cache.db")
        with open(self.urls, "w") as f:
            f.write("---\n".join(f"name: feed-{n}\nurl: {corpus.url(n, port)}\n" for n in range(corpus.count)))
        with open(self.config, "w") as f:
            f.write(
                "display:\n  new: true\n  error: true\n  unchanged: false\n"
                "report:\n  text:\n    details: true\n    footer: false\n    line_length: 75\n"
                "  stdout:\n    enabled: true\n    color: false\n"
            )

    def check(self, phase):
        cmd = [self.binary, "--urls", self.urls, "--config", self.config, "--cache", self.cache]
        env = clean_env()
        env["HOME"] = self.dir
        return measure(cmd, os.path.join(self.dir, f"{phase}.out"), env)


# ----------------------------------------------------------------- report

def fmt(m):
    return f"{m['cpu']:7.2f} CPU-s ({m['user']:.2f} user + {m['sys']:.2f} sys) {m['wall']:7.2f} s wall {m['rss_mb']:6.1f} MB RSS"


def ratio(a, b):
    return b / a if a > 0 else float("inf")


def verify(fw, before, expected):
    got = Counter()
    for e in fw.events()[before:]:
        keys = [e["item"]["key"]] if e.get("item") else [i["key"] for i in e.get("items", [])]
        for key in keys or [None]:
            got[(e["source"]["name"], e["type"], key)] += 1
    missing = expected - got
    extra = got - expected
    for what, diff in (("missing", missing), ("unexpected", extra)):
        for k, n in sorted(diff.items(), key=str)[:10]:
            print(f"    {what}: {k} x{n}")
    return not missing and not extra, sum(got.values())


def main_phases(args, corpus, port):
    fw = Feedwatch(args.feedwatch, args.work, corpus, port)
    uw = Urlwatch(args.urlwatch, args.work, corpus, port) if args.urlwatch_runs else None
    results = {}
    ok = True
    for phase in ("cold", "warm", "changed"):
        expected = Counter()
        if phase == "changed":
            expected = corpus.change()
        before = len(fw.events())
        f = fw.check(phase)
        u = uw.check(phase) if uw else None
        results[phase] = (f, u)
        print(f"  {phase:<8} feedwatch {fmt(f)}  exit {f['code']}")
        if u:
            print(f"  {'':<8} urlwatch  {fmt(u)}  exit {u['code']}")
            print(
                f"  {'':<8} urlwatch / feedwatch: CPU {ratio(f['cpu'], u['cpu']):.1f}x, "
                f"wall {ratio(f['wall'], u['wall']):.1f}x, RSS {ratio(f['rss_mb'], u['rss_mb']):.1f}x"
            )
        good, n = verify(fw, before, expected)
        print(f"  {'':<8} feedwatch reported {n} events, {'exactly as expected' if good else 'NOT as expected'}")
        ok &= good and f["code"] == 0
    stats = fw.stats()
    per = re.search(r"versions\s+(\d+).*?, ([\d.]+ \w+) stored, ([\d.]+ \w+) per version", stats)
    size = re.search(r"size\s+([\d.]+ \w+)", stats)
    if per and size:
        print(f"  storage  {per.group(1)} versions, {per.group(3)} stored per version, database {size.group(1)}")
    return results, ok


def scale_cold(args, port):
    corpus = Corpus(args.seed, os.path.join(args.work, f"n{args.scale}"), args.scale)
    if not os.path.exists(corpus.path(args.scale - 1)):
        corpus.generate()
    nginx = Nginx(corpus.root, corpus.www)
    nginx.start()
    try:
        fw = Feedwatch(args.feedwatch, corpus.root, corpus, nginx.port)
        m = fw.check("cold")
        print(f"  cold     feedwatch {fmt(m)}  exit {m['code']}")
        if args.daemon_minutes > 0:
            daemon(args, fw)
    finally:
        nginx.stop()


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def polls_recorded(fw):
    import sqlite3

    db = sqlite3.connect(os.path.join(fw.dir, "feedwatch.db"))
    try:
        return db.execute("SELECT COALESCE(SUM(polls), 0) FROM source").fetchone()[0]
    finally:
        db.close()


def daemon(args, fw):
    seconds = args.daemon_minutes * 60
    polls_before = polls_recorded(fw)
    err = open(os.path.join(fw.dir, "daemon.log"), "wb")
    proc = subprocess.Popen(fw.cmd("run"), stdout=err, stderr=err, stdin=subprocess.DEVNULL, env=clean_env())
    started = time.monotonic()
    peak = 0.0
    try:
        while time.monotonic() - started < seconds and proc.poll() is None:
            time.sleep(5)
            peak = max(peak, proc_rss_mb(proc.pid, "VmRSS"))
        cpu = proc_cpu(proc.pid)
        hwm = proc_rss_mb(proc.pid, "VmHWM")
        wall = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    with open(os.path.join(fw.dir, "daemon.log"), encoding="utf-8", errors="replace") as f:
        failed = f.read().count("poll failed")
    polls = polls_recorded(fw) - polls_before
    print(
        f"  daemon   {args.scale} sources every 5 min for {wall / 60:.1f} min: {polls} polls "
        f"({failed} failed), {cpu:.1f} CPU-s, {100 * cpu / wall:.2f} % of one core, "
        f"peak RSS {max(peak, hwm):.1f} MB"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--work", required=True)
    p.add_argument("--feedwatch", required=True)
    p.add_argument("--urlwatch", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--feeds", type=int, default=1000)
    p.add_argument("--scale", type=int, default=10000, help="feeds for the cold check at scale; 0 skips")
    p.add_argument("--daemon-minutes", type=float, default=10)
    p.add_argument("--no-urlwatch", dest="urlwatch_runs", action="store_false")
    args = p.parse_args()
    args.work = os.path.abspath(args.work)

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start")
    corpus = Corpus(args.seed, os.path.join(args.work, f"n{args.feeds}"), args.feeds)
    shutil.rmtree(corpus.www, ignore_errors=True)
    corpus.generate()
    size = os.path.getsize(corpus.path(0))
    print(f"== {args.feeds} feeds of {size / 1000:.0f} KB, {len(corpus.items)} items each, nginx on {HOSTS} loopback addresses")
    nginx = Nginx(corpus.root, corpus.www)
    nginx.start()
    try:
        results, ok = main_phases(args, corpus, nginx.port)
    finally:
        nginx.stop()
    if args.scale > 0:
        print(f"== {args.scale} feeds at scale")
        scale_cold(args, nginx.port)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
