//! One message per change, with several processes at work and with a full
//! disk: the daemon and `check` runs beside it deliver each event once,
//! a killed daemon loses nothing, and a disk that fills up loses nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::disk::SmallDisk;
use crate::support::hooks::*;
use crate::support::*;

const FEEDS: usize = 10;
const ROUNDS: usize = 11;
const CHECKS: usize = 5;
const SETTLE: Duration = Duration::from_secs(60);
const STOP: Duration = Duration::from_secs(20);

/// The journal, webhook `hook` and `FEEDS` feeds polled every second,
/// baselined by a first `check`.
fn watched(b: &Bench) -> Vec<Feed> {
    let feeds: Vec<Feed> = (0..FEEDS)
        .map(|n| Feed::serve(&b.origin, &format!("/f{n}/feed/")))
        .collect();
    let mut config = Toml::journal()
        .webhook("hook", &b.hook_url("hook"))
        .line(secret_env_line());
    for (n, feed) in feeds.iter().enumerate() {
        config = config
            .feed(&format!("f{n}"), &feed.url(&b.origin))
            .line("interval = \"1s\"");
    }
    b.fw.write_config(config);
    b.check().assert_code(0);
    feeds
}

/// How often each value occurs.
fn counts<'a>(values: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    counts
}

fn repeated<'a>(counts: &BTreeMap<&'a str, usize>) -> Vec<(&'a str, usize)> {
    counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, n)| (*v, *n))
        .collect()
}

/// The keys of the stories the journal announced as new.
fn new_keys(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| str_of(e, "/type") == "item.new")
        .map(|e| str_of(e, "/item/key"))
        .collect()
}

/// Publishes `ROUNDS` stories on every feed while `CHECKS` `check` runs
/// go on beside the daemon; `midway` runs once, half-way through. Returns
/// the stories' keys and how many checks said the daemon delivers.
fn busy(b: &Bench, feeds: &mut [Feed], midway: impl FnOnce() + Send) -> (Vec<String>, usize) {
    let publishing = AtomicBool::new(true);
    let left_to_daemon = AtomicUsize::new(0);
    let keys = thread::scope(|s| {
        for _ in 0..CHECKS {
            s.spawn(|| {
                while publishing.load(Ordering::Acquire) {
                    let out = b.check();
                    assert!(
                        out.code == 0,
                        "a check beside the daemon failed\n--- stdout\n{}\n--- stderr\n{}",
                        out.stdout,
                        out.stderr
                    );
                    if out
                        .stdout
                        .contains("queued for delivery by the running daemon")
                    {
                        left_to_daemon.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        let mut keys = Vec::new();
        let mut midway = Some(midway);
        for round in 0..ROUNDS {
            for feed in feeds.iter_mut() {
                keys.push(feed.publish(&b.origin));
            }
            if round == ROUNDS / 2
                && let Some(midway) = midway.take()
            {
                midway();
            }
            thread::sleep(Duration::from_millis(400));
        }
        publishing.store(false, Ordering::Release);
        keys
    });
    (keys, left_to_daemon.into_inner())
}

/// Waits until every story is in the journal and every journal event has
/// reached the receiver.
fn settle(b: &Bench, keys: &[String]) {
    assert!(
        b.wait_for_stories(keys, SETTLE),
        "stories missing from the journal"
    );
    let journal: Vec<String> = event_ids(&b.fw.complete_events());
    let arrived = b.receiver.wait_until(SETTLE, |posts| {
        let got: Vec<&str> = posts
            .iter()
            .filter(|p| p.succeeded())
            .map(Delivery::id)
            .collect();
        journal.iter().all(|id| got.contains(&id.as_str()))
    });
    assert!(arrived, "events of the journal never reached the receiver");
}

#[test]
fn check_beside_the_daemon_records_and_leaves_delivery_to_it() {
    let b = Bench::new();
    let mut feeds = watched(&b);
    let mut daemon = b.spawn_daemon();
    assert!(
        daemon.wait_for_stderr("running", Duration::from_secs(15)),
        "{}",
        daemon.stderr()
    );
    let key = feeds[0].publish(&b.origin);
    // Asked before the daemon's next poll, the check finds the story first.
    let out = b.run(&["check", "f0"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains("1 event queued for delivery by the running daemon"),
        "{}",
        out.stdout
    );
    assert!(b.wait_for_stories(std::slice::from_ref(&key), SETTLE));
    stop(&mut daemon, STOP);
    let events = b.fw.complete_events();
    assert_eq!(new_keys(&events), [key.as_str()]);
}

#[test]
fn the_daemon_and_five_checks_deliver_every_event_exactly_once() {
    let b = Bench::new();
    let mut feeds = watched(&b);
    let mut daemon = b.spawn_daemon();
    let (keys, left_to_daemon) = busy(&b, &mut feeds, || {});
    assert!(keys.len() >= 100);
    settle(&b, &keys);
    stop(&mut daemon, STOP);

    let events = b.fw.complete_events();
    let ids = event_ids(&events);
    let in_journal = counts(ids.iter().map(String::as_str));
    assert_eq!(repeated(&in_journal), [], "events appended twice");
    let stories = counts(new_keys(&events));
    assert_eq!(repeated(&stories), [], "stories announced twice");
    assert_eq!(stories.len(), keys.len(), "stories never announced");
    let posts = b.receiver.succeeded("/hook");
    let at_hook = counts(posts.iter().map(Delivery::id));
    assert_eq!(repeated(&at_hook), [], "events posted twice");
    assert_eq!(
        at_hook.keys().collect::<Vec<_>>(),
        in_journal.keys().collect::<Vec<_>>()
    );
    assert!(
        left_to_daemon > 0,
        "no check said it left its events to the daemon"
    );
    assert_eq!(integrity(&b.fw.database_path()), "ok");
}

#[test]
fn a_daemon_killed_midway_loses_nothing_and_repeats_at_most_the_send_in_flight() {
    let b = Bench::new();
    let mut feeds = watched(&b);
    let mut daemon = b.spawn_daemon();
    let pid = daemon.pid();
    let (keys, _) = busy(&b, &mut feeds, || {
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(killed, "kill -KILL {pid}");
    });
    assert_eq!(daemon.wait_exit(STOP), 128 + 9);
    // The checks went on without it; one more after the last story, then a
    // new daemon, as after a crash.
    b.check().assert_code(0);
    let mut daemon = b.spawn_daemon();
    assert!(daemon.wait_for_stderr("running", Duration::from_secs(15)));
    settle(&b, &keys);
    stop(&mut daemon, STOP);

    let events = b.fw.complete_events();
    let ids: Vec<String> = event_ids(&events);
    let in_journal_owned = counts(ids.iter().map(String::as_str));
    assert_eq!(
        repeated(&in_journal_owned),
        [],
        "the journal repeats events (a killed holder's appends are recognised)"
    );
    let stories = counts(new_keys(&events));
    assert_eq!(repeated(&stories), [], "stories announced twice");
    assert_eq!(stories.len(), keys.len(), "stories never announced");
    let posts = b.receiver.succeeded("/hook");
    let at_hook = counts(posts.iter().map(Delivery::id));
    let missing: Vec<&&str> = in_journal_owned
        .keys()
        .filter(|id| !at_hook.contains_key(**id))
        .collect();
    assert_eq!(missing, Vec::<&&str>::new(), "events never posted");
    // One webhook sink sends one event at a time: at most that one was cut
    // off mid-way by the kill and sent again.
    let again = repeated(&at_hook);
    assert!(
        again.len() <= 1 && again.iter().all(|(_, n)| *n == 2),
        "more repeats than sends in flight: {again:?}"
    );
    assert_eq!(integrity(&b.fw.database_path()), "ok");
}

/// Text that compresses badly, so stored versions take room.
fn noise(seed: u64, words: usize) -> String {
    let mut x = seed | 1;
    (0..words)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:x}", x % 0xffff_ffff)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The database on a small tmpfs, or (where nothing can be mounted) capped
/// at that size, to the same effect.
struct Cramped {
    disk: Option<SmallDisk>,
    database: std::path::PathBuf,
}

impl Cramped {
    fn new(fw: &Feedwatch, size: u64) -> Cramped {
        match SmallDisk::mount(size) {
            Some(disk) => Cramped {
                database: disk.path().join("feedwatch.db"),
                disk: Some(disk),
            },
            None => Cramped {
                database: fw.database_path(),
                disk: None,
            },
        }
    }

    fn settings(&self, size: u64) -> String {
        match self.disk {
            Some(_) => format!("database = \"{}\"", self.database.display()),
            None => format!("database = \"feedwatch.db\"\nmax_database_size = {size}"),
        }
    }

    fn fill(&self) {
        if let Some(disk) = &self.disk {
            disk.fill(0);
        }
    }

    fn free_up(&self, fw: &Feedwatch, config: &Toml, daemon: &Daemon) {
        match &self.disk {
            Some(disk) => disk.free_up(),
            None => {
                // The cap is raised: the file is read again on reload.
                let text = config.to_string();
                let raised = text.replace(
                    "max_database_size = ",
                    "max_database_size = \"1GiB\"\n# was ",
                );
                assert_ne!(raised, text, "the cap is not in the configuration");
                fw.write_config(raised);
                daemon.signal("HUP");
            }
        }
    }
}

/// The daemon's line about `name`'s poll failing on a full disk.
fn disk_full_line<'a>(name: &str, stderr: &'a str) -> Option<&'a str> {
    stderr
        .lines()
        .find(|l| l.contains(name) && l.contains("disk full"))
}

#[test]
fn a_full_disk_fails_the_polls_that_need_room_and_every_change_is_found_once_after() {
    const DISK: u64 = 16 << 20;
    const CAP: u64 = 1536 << 10;
    let b = Bench::new();
    let cramped = Cramped::new(&b.fw, DISK);
    let mut big = Feed::serve(&b.origin, "/big/feed/");
    let mut small: Vec<Feed> = (0..3)
        .map(|n| Feed::serve(&b.origin, &format!("/small{n}/feed/")))
        .collect();
    let mut config = Toml::new()
        .setting(cramped.settings(CAP))
        .sink("journal", "log")
        .line("path = \"alerts.jsonl\"")
        .feed("big", &big.url(&b.origin))
        .line("interval = \"1s\"");
    for (n, feed) in small.iter().enumerate() {
        config = config
            .feed(&format!("small{n}"), &feed.url(&b.origin))
            .line("interval = \"1s\"");
    }
    b.fw.write_config(&config);
    b.check().assert_code(0);
    let mut daemon = b.spawn_daemon();
    assert!(daemon.wait_for_stderr("running", Duration::from_secs(15)));

    cramped.fill();
    let mut keys = Vec::new();
    for n in 0..40 {
        keys.push(big.publish_with(&b.origin, &format!("<p>{}</p>", noise(n, 10_000))));
    }
    for feed in &mut small {
        keys.push(feed.publish(&b.origin));
    }
    let deadline = Instant::now() + SETTLE;
    while disk_full_line("big", &daemon.stderr()).is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let stderr = daemon.stderr();
    let line = disk_full_line("big", &stderr)
        .or_fail(format!("no disk-full error for big\n--- stderr\n{stderr}"));
    assert!(
        line.contains(&cramped.database.display().to_string()),
        "the error does not name the database: {line}"
    );
    // The daemon carries on: the other sources are still asked.
    let asked = b.origin.hits("/small0/feed/");
    thread::sleep(Duration::from_secs(3));
    assert!(daemon.is_running(), "{}", daemon.stderr());
    assert!(b.origin.hits("/small0/feed/") > asked, "polling stopped");
    assert_eq!(integrity(&cramped.database), "ok");

    cramped.free_up(&b.fw, &config, &daemon);
    assert!(
        b.wait_for_stories(&keys, SETTLE),
        "changes made while the disk was full were never found\n{}",
        daemon.stderr()
    );
    stop(&mut daemon, STOP);
    let events = b.fw.complete_events();
    let stories = counts(new_keys(&events));
    assert_eq!(repeated(&stories), [], "stories announced twice");
    assert_eq!(stories.len(), keys.len());
    assert_eq!(integrity(&cramped.database), "ok");
}

#[test]
fn a_full_disk_during_a_log_append_leaves_the_events_pending_not_lost() {
    let b = Bench::new();
    let disk = SmallDisk::mount(1 << 20);
    let alerts = match &disk {
        Some(disk) => disk.path().join("alerts.jsonl"),
        None => b.fw.dir().join("full.jsonl"),
    };
    let mut feed = Feed::serve(&b.origin, "/a/feed/");
    b.fw.write_config(
        Toml::settings()
            .sink("journal", "log")
            .line(format!("path = \"{}\"", alerts.display()))
            .feed("a", &feed.url(&b.origin)),
    );
    b.check().assert_code(0);
    // Room for less than the three events about to be appended at once.
    match &disk {
        Some(disk) => disk.fill(1500),
        None => std::os::unix::fs::symlink("/dev/full", &alerts).or_fail("link /dev/full"),
    }
    let keys: Vec<String> = (0..3).map(|_| feed.publish(&b.origin)).collect();

    let out = b.check();
    out.assert_code(1);
    let listed = b.run(&["deliveries"]);
    listed.assert_code(0);
    assert_eq!(
        listed
            .lines()
            .iter()
            .filter(|l| l.contains("pending"))
            .count(),
        3,
        "{}",
        listed.stdout
    );
    let failed = b.run(&["deliveries", "--failed"]);
    assert!(
        failed.stdout.contains("No space left on device"),
        "{}",
        failed.stdout
    );
    // (/dev/full reads as endless zeros: only a real file is read back.)
    let kept = match alerts.is_file() {
        true => std::fs::read(&alerts).or_fail("read the log"),
        false => Vec::new(),
    };
    assert!(
        kept.is_empty() || kept.ends_with(b"\n"),
        "part of a batch was left in the log"
    );

    match &disk {
        Some(disk) => disk.free_up(),
        None => {
            std::fs::remove_file(&alerts).or_fail("unlink");
        }
    }
    b.check().assert_code(0);
    let text = std::fs::read_to_string(&alerts).or_fail("read the log");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).or_fail("parse a log line"))
        .collect();
    let mut got: Vec<&str> = new_keys(&events);
    got.sort_unstable();
    let mut want: Vec<&str> = keys.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want);
}
