//! Webhook delivery by `feedwatch run`: retries that honour the receiver,
//! at-least-once in order through SIGKILLs, a hung or gone receiver, and a
//! queue that is worked as soon as there is something in it.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::hooks::*;
use crate::support::signature;
use crate::support::*;

const A: &str = "/a/feed/";
const B: &str = "/b/feed/";
const SOON: Duration = Duration::from_secs(10);
const STOP: Duration = Duration::from_secs(20);

/// Journal, webhook `hook` and sources `a` and `b` (1 s interval), baselined.
fn two_sources(b: &Bench, hook_extra: &str) -> (Feed, Feed) {
    let a = Feed::serve(&b.origin, A);
    let c = Feed::serve(&b.origin, B);
    b.fw.write_config(
        Toml::journal()
            .webhook("hook", &b.hook_url("hook"))
            .line(secret_env_line())
            .line(hook_extra)
            .feed("a", &a.url(&b.origin))
            .line("interval = \"1s\"")
            .feed("b", &c.url(&b.origin))
            .line("interval = \"1s\""),
    );
    b.check().assert_code(0);
    (a, c)
}

fn journal_ids(b: &Bench) -> Vec<String> {
    first_ids(b.fw.complete_events().iter().map(|e| str_of(e, "/id")))
}

/// True once every event of the journal has been answered 2xx by the receiver.
fn all_delivered(b: &Bench, posts: &[Delivery]) -> bool {
    let delivered: Vec<&str> = posts
        .iter()
        .filter(|p| p.succeeded())
        .map(Delivery::id)
        .collect();
    let journal = journal_ids(b);
    !journal.is_empty() && journal.iter().all(|id| delivered.contains(&id.as_str()))
}

#[track_caller]
fn assert_all_signed(posts: &[Delivery]) {
    for post in posts {
        signature::verify(ENV_SECRET, post).or_fail(format!("verify the signature of {post:#?}"));
    }
}

#[test]
fn retries_through_503_and_429_until_every_event_arrives_in_order() {
    let b = Bench::new();
    let (mut a, mut c) = two_sources(&b, "");
    b.receiver.script([
        Reply::retry_after(503, 1),
        Reply::retry_after(503, 1),
        Reply::retry_after(502, 1),
        Reply::retry_after(429, 1),
    ]);
    for _ in 0..2 {
        a.publish(&b.origin);
        c.publish(&b.origin);
    }
    b.check().assert_code(1);
    let journal = b.fw.events();
    assert_eq!(journal.len(), 4, "{journal:#?}");

    let mut daemon = b.spawn_daemon();
    let arrived = b
        .receiver
        .wait_until(Duration::from_secs(20), |posts| all_delivered(&b, posts));
    stop(&mut daemon, STOP);

    let posts = b.receiver.to_path("/hook");
    assert!(arrived, "{posts:#?}\n--- stderr\n{}", daemon.stderr());
    let statuses: Vec<Option<u16>> = posts.iter().take(5).map(|p| p.status).collect();
    let expected = [503, 503, 502, 429, 204].map(Some);
    assert_eq!(statuses, expected, "{posts:#?}");
    let first = &posts[..5];
    assert!(
        first
            .iter()
            .all(|p| p.id() == str_of(&journal[0], "/id") && p.event() == journal[0]),
        "a retry changed the webhook-id or the event: {first:#?}"
    );
    for pair in first[1..].windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(900),
            "Retry-After: 1 not honoured: {gap:?}"
        );
    }
    assert_all_signed(&posts);
    assert_eq!(
        ids_by_source(&delivered_events(&posts)),
        ids_by_source(&journal),
        "per-source order"
    );
}

#[test]
fn sigkill_while_stories_arrive_loses_nothing() {
    let b = Bench::new();
    let (a, c) = two_sources(&b, "");
    let mut feeds = [a, c];
    // A slow answer widens the window between a POST and its being recorded.
    b.receiver
        .otherwise(Reply::status(204).after(Duration::from_millis(150)));
    let db = b.fw.database_path();

    for (round, ms) in [300u64, 1300, 700, 1100, 500, 900].into_iter().enumerate() {
        let mut daemon = b.spawn_daemon();
        feeds[round % 2].publish(&b.origin);
        thread::sleep(Duration::from_millis(ms / 2));
        feeds[(round + 1) % 2].publish(&b.origin);
        thread::sleep(Duration::from_millis(ms / 2));
        daemon.signal("KILL");
        assert_eq!(daemon.wait_exit(STOP), 128 + 9, "round {round}");
        assert_eq!(integrity(&db), "ok", "after SIGKILL in round {round}");
    }
    let keys: Vec<String> = feeds.iter().flat_map(|f| f.stories.clone()).collect();
    let mut daemon = b.spawn_daemon();
    assert!(
        daemon.wait_for_stderr("running", SOON),
        "{}",
        daemon.stderr()
    );
    let detected = b.wait_for_stories(&keys, Duration::from_secs(15));
    let delivered = b
        .receiver
        .wait_until(Duration::from_secs(15), |posts| all_delivered(&b, posts));
    stop(&mut daemon, STOP);

    assert!(
        detected,
        "stories missing from the journal\n{}",
        daemon.stderr()
    );
    let journal = b.fw.events();
    let posts = b.receiver.to_path("/hook");
    assert!(
        delivered,
        "{} events, {} posts\n{}",
        journal.len(),
        posts.len(),
        daemon.stderr()
    );
    assert_eq!(integrity(&db), "ok");
    let states = delivery_states(&db);
    assert_eq!(
        states.keys().collect::<Vec<_>>(),
        ["delivered"],
        "{states:?}"
    );
    let mut ids_of_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in journal.iter().chain(&delivered_events(&posts)) {
        assert_eq!(str_of(event, "/type"), "item.new", "{event:#}");
        let ids = ids_of_key
            .entry(str_of(event, "/item/key").to_owned())
            .or_default();
        let id = str_of(event, "/id").to_owned();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    assert_eq!(ids_of_key.len(), keys.len(), "{ids_of_key:#?}");
    for (key, ids) in &ids_of_key {
        assert_eq!(ids.len(), 1, "{key} was alerted under several ids: {ids:?}");
    }
    for post in &posts {
        let same: Vec<&Delivery> = posts.iter().filter(|p| p.id() == post.id()).collect();
        assert!(same.iter().all(|p| p.event() == post.event()), "{same:#?}");
    }
    assert_all_signed(&posts);
    assert_eq!(
        ids_by_source(&delivered_events(&posts)),
        ids_by_source(&journal),
        "per-source order"
    );
    eprintln!(
        "{} stories, {} POSTs, {} answered 2xx",
        keys.len(),
        posts.len(),
        posts.iter().filter(|p| p.succeeded()).count()
    );
}

#[test]
fn a_hung_receiver_does_not_hold_up_polling() {
    let b = Bench::new();
    let (mut a, mut c) = two_sources(&b, "timeout = \"5s\"");
    b.receiver.script([Reply::retry_after(503, 1)]);
    b.receiver.otherwise(Reply::hang());
    a.publish(&b.origin);
    b.check().assert_code(1);

    let mut daemon = b.spawn_daemon();
    let hung = b.receiver.wait_until(SOON, |posts| posts.len() >= 2);
    assert!(hung, "no attempt from the daemon\n{}", daemon.stderr());
    let polls = (b.origin.hits(A), b.origin.hits(B));
    let keys = [a.publish(&b.origin), c.publish(&b.origin)];
    let landed = b.wait_for_stories(&keys, Duration::from_secs(3));
    let still_hung = b.receiver.all()[1].closed_after.is_none();
    let closed = b
        .receiver
        .wait_until(SOON, |posts| posts[1].closed_after.is_some());
    let deadline = Instant::now() + Duration::from_secs(3);
    let rows = loop {
        let rows = b.deliveries(&["--sink", "hook"]);
        if rows.last().is_some_and(|r| r.attempts >= 2) || Instant::now() >= deadline {
            break rows;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let polled = (b.origin.hits(A), b.origin.hits(B));
    stop(&mut daemon, STOP);

    assert!(
        landed && still_hung,
        "stories waited for the hung receiver\n{}",
        daemon.stderr()
    );
    assert!(
        polled.0 >= polls.0 + 2 && polled.1 >= polls.1 + 2,
        "{polls:?} → {polled:?}"
    );
    assert!(closed, "the attempt never gave up\n{}", daemon.stderr());
    let waited = b.receiver.all()[1].closed_after.or_fail("closed");
    assert!(
        (Duration::from_millis(4500)..=Duration::from_secs(7)).contains(&waited),
        "timeout = 5s, the attempt took {waited:?}"
    );
    let head = rows.last().or_fail("the first event is listed");
    assert_eq!(
        (head.state.as_str(), head.attempts),
        ("pending", 2),
        "{}",
        head.line
    );
    let error = head.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("within 5s") || error.contains("timed out"),
        "{}",
        head.line
    );
}

#[test]
fn a_410_disables_the_sink_until_a_reload() {
    let b = Bench::new();
    let (mut a, _c) = two_sources(&b, "");
    b.receiver.script([Reply::status(410)]);
    a.publish(&b.origin);
    b.check().assert_code(1);

    let mut daemon = b.spawn_daemon();
    let key = a.publish(&b.origin);
    let detected = b.wait_for_stories(&[key], SOON);
    thread::sleep(Duration::from_secs(1));
    let quiet = b.receiver.all().len();
    let rows = b.deliveries(&["--sink", "hook"]);
    daemon.signal("HUP");
    let resumed = b
        .receiver
        .wait_until(SOON, |posts| all_delivered(&b, posts));
    stop(&mut daemon, STOP);

    assert!(detected, "{}", daemon.stderr());
    assert_eq!(quiet, 1, "POSTs to a sink that answered 410");
    let gone = rows.last().or_fail("listed");
    assert!(
        gone.last_error
            .as_deref()
            .is_some_and(|e| e.contains("410")),
        "{}",
        gone.line
    );
    assert!(resumed, "no delivery after the reload\n{}", daemon.stderr());
    assert_eq!(b.hook_ids("/hook"), journal_ids(&b));
}

#[test]
fn a_story_found_while_the_queue_is_empty_is_posted_at_once() {
    let b = Bench::new();
    let (mut a, _c) = two_sources(&b, "");
    let mut daemon = b.spawn_daemon();
    assert!(
        daemon.wait_for_hits(&b.origin, A, 2, SOON),
        "{}",
        daemon.stderr()
    );

    let key = a.publish(&b.origin);
    let detected = b.wait_for_stories(std::slice::from_ref(&key), SOON);
    let found = Instant::now();
    let posted = b
        .receiver
        .wait_until(SOON, |posts| all_delivered(&b, posts));
    let waited = found.elapsed();
    stop(&mut daemon, STOP);

    assert!(detected, "{}", daemon.stderr());
    assert!(
        posted && waited < Duration::from_secs(5),
        "the event reached the journal but the webhook only after {waited:?} (posted: {posted})"
    );
}

#[test]
fn retry_after_zero_is_not_a_busy_loop() {
    let b = Bench::new();
    let (mut a, _c) = two_sources(&b, "");
    b.receiver
        .script(std::iter::repeat_n(Reply::retry_after(503, 0), 200));
    a.publish(&b.origin);
    b.check().assert_code(1);

    let mut daemon = b.spawn_daemon();
    let started = b.receiver.wait_until(SOON, |posts| posts.len() >= 2);
    thread::sleep(Duration::from_secs(2));
    stop(&mut daemon, STOP);

    assert!(started, "{}", daemon.stderr());
    let posts = b.receiver.all();
    let window = posts[1].at + Duration::from_secs(2);
    let fast = posts.iter().filter(|p| p.at <= window).count();
    assert!(fast <= 5, "{fast} attempts within 2 s of the first retry");
}

#[test]
fn sigterm_does_not_wait_for_a_hung_receiver() {
    let b = Bench::new();
    let (mut a, _c) = two_sources(&b, "timeout = \"30s\"");
    b.receiver.script([Reply::retry_after(503, 1)]);
    b.receiver.otherwise(Reply::hang());
    a.publish(&b.origin);
    b.check().assert_code(1);
    let mut daemon = b.spawn_daemon();
    assert!(
        b.receiver.wait_until(SOON, |posts| posts.len() >= 2),
        "{}",
        daemon.stderr()
    );

    let asked = Instant::now();
    daemon.signal("TERM");
    let code = daemon.wait_exit(Duration::from_secs(40));
    let took = asked.elapsed();

    assert_eq!(code, 0, "{}", daemon.stderr());
    assert!(
        took < Duration::from_secs(5),
        "SIGTERM took {took:?}\n{}",
        daemon.stderr()
    );
    let rows = b.deliveries(&["--sink", "hook"]);
    assert_eq!(
        rows.last().map(|r| r.state.as_str()),
        Some("pending"),
        "{rows:#?}"
    );
}
