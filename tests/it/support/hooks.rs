//! What the webhook tests share: distinctive secrets and the sinks keyed by
//! them, feeds that gain stories, the outbox as `deliveries` prints it, and a
//! look at the database from outside.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::fail::OrFail;
use super::fixtures::{clean_feed, insert_item_top};
use super::receiver::{Delivery, Receiver};
use super::runner::{Daemon, Feedwatch, Output};
use super::server::{Response, TestServer};
use super::toml::Toml;

/// The environment variable the `secret_env` sinks name.
pub const SECRET_ENV: &str = "FW_TEST_HOOK_SECRET";
/// A raw secret, distinctive so that any leak is found by a plain search.
pub const ENV_SECRET: &str = "fw-env-secret-7c41d2-never-print-me";
/// The key bytes behind [`file_secret`]; printable, so a decoded leak shows too.
pub const FILE_KEY: &str = "fw-file-key-93be05-never-print-me";

/// A `whsec_` secret: the base64 of [`FILE_KEY`].
pub fn file_secret() -> String {
    format!("whsec_{}", STANDARD.encode(FILE_KEY))
}

/// Every form of the test secrets that must never be printed.
pub fn secret_forms() -> Vec<String> {
    vec![
        ENV_SECRET.to_owned(),
        FILE_KEY.to_owned(),
        file_secret(),
        STANDARD.encode(FILE_KEY),
        STANDARD.encode(ENV_SECRET),
    ]
}

/// Writes a secret file (with a trailing newline, as `echo` would) and sets its mode.
pub fn write_secret(dir: &Path, name: &str, secret: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{secret}\n")).or_fail("write the secret file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).or_fail("chmod the secret file");
    path
}

/// The line of a webhook sink keyed by the secret in [`SECRET_ENV`].
pub fn secret_env_line() -> String {
    format!("secret_env = \"{SECRET_ENV}\"")
}

/// A feed on the test origin that gains a story on demand.
pub struct Feed {
    pub path: String,
    xml: String,
    /// The keys of the stories published so far, oldest first.
    pub stories: Vec<String>,
}

impl Feed {
    /// The clean Frontline feed, served at once.
    pub fn serve(server: &TestServer, path: &str) -> Feed {
        let feed = Feed {
            path: path.to_owned(),
            xml: clean_feed(),
            stories: Vec::new(),
        };
        server.set(path, Response::rss(feed.xml.clone()));
        feed
    }

    pub fn url(&self, server: &TestServer) -> String {
        server.url(&self.path)
    }

    /// Puts a new story at the top; returns its key.
    pub fn publish(&mut self, server: &TestServer) -> String {
        let n = self.stories.len() + 1;
        self.publish_with(server, &format!("<p>Story number {n}.</p>"))
    }

    /// Puts a new story with this body at the top; returns its key.
    pub fn publish_with(&mut self, server: &TestServer, body_html: &str) -> String {
        let n = self.stories.len() + 1;
        let slug = self.path.trim_matches('/').replace('/', "-");
        let key = format!("https://news.example.org/{slug}/story-{n}");
        self.xml = insert_item_top(
            &self.xml,
            &key,
            &format!("Story {n} of {slug}"),
            &key,
            "Tue, 04 Feb 2025 09:00:00 +0000",
            body_html,
        );
        server.set(&self.path, Response::rss(self.xml.clone()));
        self.stories.push(key.clone());
        key
    }

    /// Answers every poll with this status from now on.
    pub fn fail(&self, server: &TestServer, status: u16) {
        server.set(&self.path, Response::new(status).body("broken"));
    }

    pub fn heal(&self, server: &TestServer) {
        server.set(&self.path, Response::rss(self.xml.clone()));
    }
}

pub fn event_ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| str_of(e, "/id").to_owned()).collect()
}

pub fn event_types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| str_of(e, "/type").to_owned())
        .collect()
}

pub fn str_of<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .or_fail(format!("no string at {pointer} in {value:#}"))
}

/// Event ids in order, each once (at-least-once delivery may repeat them).
pub fn first_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.to_owned()))
        .map(str::to_owned)
        .collect()
}

/// The ids of the events of each source, in the order given.
pub fn ids_by_source(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in events {
        let source = str_of(event, "/source/name").to_owned();
        let id = str_of(event, "/id").to_owned();
        let ids = by.entry(source).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    by
}

/// The events inside the 2xx-answered requests, in order of first arrival.
pub fn delivered_events(deliveries: &[Delivery]) -> Vec<Value> {
    let mut seen = HashSet::new();
    deliveries
        .iter()
        .filter(|d| d.succeeded())
        .filter(|d| seen.insert(d.id().to_owned()))
        .map(Delivery::event)
        .collect()
}

/// One line of `feedwatch deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub sink: String,
    pub state: String,
    pub kind: String,
    pub source: String,
    pub attempts: u32,
    pub next_try: Option<String>,
    pub last_error: Option<String>,
    pub line: String,
}

/// Reads `deliveries` output: `ID  SINK  STATE  TYPE  SOURCE  attempts N  [WHEN]  [last error: …]`.
pub fn listing(out: &Output) -> Vec<Listed> {
    out.lines()
        .into_iter()
        .map(|line| {
            let (fields, last_error) = match line.split_once("  last error: ") {
                Some((fields, error)) => (fields, Some(error.to_owned())),
                None => (line, None),
            };
            let parts: Vec<&str> = fields
                .split("  ")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            assert!(parts.len() >= 6, "unexpected deliveries line: {line}");
            let attempts = parts[5]
                .strip_prefix("attempts ")
                .and_then(|n| n.parse().ok())
                .or_fail(format!("no attempt count in: {line}"));
            Listed {
                id: parts[0].to_owned(),
                sink: parts[1].to_owned(),
                state: parts[2].to_owned(),
                kind: parts[3].to_owned(),
                source: parts[4].to_owned(),
                attempts,
                next_try: parts
                    .get(6)
                    .and_then(|w| w.strip_prefix("next try "))
                    .map(str::to_owned),
                last_error,
                line: line.to_owned(),
            }
        })
        .collect()
}

/// The database opened read-only, as an outside tool would.
pub fn open_read_only(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .or_fail(format!("open {} read-only", path.display()))
}

/// `PRAGMA integrity_check`, joined into one string ("ok" when intact).
pub fn integrity(path: &Path) -> String {
    let conn = open_read_only(path);
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .or_fail("prepare integrity_check");
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .or_fail("run integrity_check")
        .collect::<Result<_, _>>()
        .or_fail("read integrity_check");
    rows.join("; ")
}

/// How many deliveries are in each state, e.g. `{"delivered": 12}`.
pub fn delivery_states(path: &Path) -> BTreeMap<String, u32> {
    let conn = open_read_only(path);
    let mut stmt = conn
        .prepare("SELECT state, COUNT(*) FROM delivery GROUP BY state")
        .or_fail("prepare the delivery count");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .or_fail("count deliveries")
        .collect::<Result<_, _>>()
        .or_fail("read the delivery count")
}

/// Fails the test if any form of the test secrets appears in `text`.
#[track_caller]
pub fn assert_no_secret(what: &str, text: &str) {
    for secret in secret_forms() {
        assert!(
            !text.contains(&secret),
            "{what} shows a secret ({secret:?}):\n{text}"
        );
    }
}

/// A feed origin, a receiver and a feedwatch folder; commands get the env secret.
pub struct Bench {
    pub origin: TestServer,
    pub receiver: Receiver,
    pub fw: Feedwatch,
}

impl Default for Bench {
    fn default() -> Self {
        Self::new()
    }
}

impl Bench {
    pub fn new() -> Bench {
        Bench {
            origin: TestServer::start(),
            receiver: Receiver::start(),
            fw: Feedwatch::new(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.fw.run_with_env(args, &[(SECRET_ENV, ENV_SECRET)])
    }

    pub fn check(&self) -> Output {
        self.run(&["check"])
    }

    /// Where a webhook sink named `name` posts: its own path on the receiver.
    pub fn hook_url(&self, name: &str) -> String {
        self.receiver.url(&format!("/{name}"))
    }

    pub fn deliveries(&self, args: &[&str]) -> Vec<Listed> {
        let mut all = vec!["deliveries"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        out.assert_code(0);
        listing(&out)
    }

    pub fn hook_ids(&self, path: &str) -> Vec<String> {
        first_ids(self.receiver.succeeded(path).iter().map(Delivery::id))
    }

    /// Journal + webhook `hook` + one source polled every second, baselined
    /// by a first `check`.
    pub fn baselined_hook(&self, hook_extra: &str) -> Feed {
        let feed = Feed::serve(&self.origin, "/a/feed/");
        self.fw.write_config(
            Toml::journal()
                .webhook("hook", &self.hook_url("hook"))
                .line(secret_env_line())
                .line(hook_extra)
                .feed("a", &feed.url(&self.origin))
                .line("interval = \"1s\""),
        );
        self.check().assert_code(0);
        feed
    }

    pub fn spawn_daemon(&self) -> Daemon {
        self.fw.spawn_daemon_with(&[(SECRET_ENV, ENV_SECRET)])
    }

    /// Waits until the journal holds an event about each of `keys`; false on timeout.
    pub fn wait_for_stories(&self, keys: &[String], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.fw.complete_events();
            let found = |key: &String| {
                events
                    .iter()
                    .any(|e| e.pointer("/item/key").and_then(Value::as_str) == Some(key))
            };
            if keys.iter().all(found) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// SIGTERM, then expects a clean exit within `timeout`.
#[track_caller]
pub fn stop(daemon: &mut Daemon, timeout: Duration) {
    daemon.signal("TERM");
    let code = daemon.wait_exit(timeout);
    assert_eq!(
        code,
        0,
        "exit after SIGTERM\n--- stderr\n{}",
        daemon.stderr()
    );
}
