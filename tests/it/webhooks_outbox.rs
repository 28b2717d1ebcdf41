//! Which webhook gets which event, and the outbox as an operator sees it,
//! driven by `check`: routing by `sinks` and `events`, failing/recovered
//! alerts, dead and retried deliveries, `deliveries` and `redeliver`, a 410
//! and `retry_for`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::support::hooks::*;
use crate::support::signature;
use crate::support::*;

/// Sinks `items` (item.* only) and `ops` (source.* only); source `loud` goes
/// to every sink, `quiet` only to the journal. Baselined.
fn routed(b: &Bench) -> (Feed, Feed) {
    let loud = Feed::serve(&b.origin, "/loud/feed/");
    let quiet = Feed::serve(&b.origin, "/quiet/feed/");
    b.fw.write_config(
        Toml::journal()
            .setting("fail_after = 2")
            .webhook("items", &b.hook_url("items"))
            .line(secret_env_line())
            .line("events = [\"item.*\"]")
            .webhook("ops", &b.hook_url("ops"))
            .line(secret_env_line())
            .line("events = [\"source.*\"]")
            .feed("loud", &loud.url(&b.origin))
            .line("interval = \"1s\"")
            .feed("quiet", &quiet.url(&b.origin))
            .line("interval = \"1s\"")
            .line("sinks = [\"journal\"]"),
    );
    b.check().assert_code(0);
    (loud, quiet)
}

/// The ids of the journal's two events, oldest first.
fn two_event_ids(b: &Bench) -> [String; 2] {
    <[String; 2]>::try_from(event_ids(&b.fw.events()))
        .map_err(|ids| format!("{ids:?}"))
        .or_fail("expected two events")
}

#[test]
fn events_go_only_to_the_sinks_their_source_and_filters_allow() {
    let b = Bench::new();
    let (mut loud, mut quiet) = routed(&b);

    let loud_key = loud.publish(&b.origin);
    quiet.publish(&b.origin);
    b.check().assert_code(0);

    let journal = b.fw.events();
    assert_eq!(
        event_types(&journal),
        ["item.new", "item.new"],
        "{journal:#?}"
    );
    let items = delivered_events(&b.receiver.to_path("/items"));
    assert_eq!(items.len(), 1, "{items:#?}");
    assert_eq!(str_of(&items[0], "/source/name"), "loud");
    assert_eq!(str_of(&items[0], "/item/key"), loud_key);
    assert!(
        b.receiver.to_path("/ops").is_empty(),
        "item.new reached `ops`"
    );
    let quiet_posts: Vec<Delivery> = b
        .receiver
        .all()
        .into_iter()
        .filter(|d| d.body.contains("\"quiet\""))
        .collect();
    assert!(
        quiet_posts.is_empty(),
        "sinks = [\"journal\"] was not kept: {quiet_posts:#?}"
    );
}

#[test]
fn failing_and_recovered_are_alerted_once_each_to_the_sinks_that_want_them() {
    let b = Bench::new();
    let (loud, _quiet) = routed(&b);
    loud.fail(&b.origin, 500);

    b.check().assert_code(1);
    assert!(
        b.fw.events().is_empty(),
        "failing after one failure: {:#?}",
        b.fw.events()
    );
    b.check().assert_code(1);
    assert_eq!(
        event_types(&b.fw.events()),
        ["source.failing"],
        "after fail_after = 2 failures"
    );
    b.check().assert_code(1);
    b.check().assert_code(1);
    loud.heal(&b.origin);
    b.check().assert_code(0);
    b.check().assert_code(0);

    let journal = b.fw.events();
    assert_eq!(
        event_types(&journal),
        ["source.failing", "source.recovered"],
        "{journal:#?}"
    );
    assert!(journal.iter().all(|e| str_of(e, "/source/name") == "loud"));
    assert!(
        journal[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "{:#}",
        journal[0]
    );
    assert_eq!(b.receiver.to_path("/ops").len(), 2, "one POST per alert");
    let ops = delivered_events(&b.receiver.to_path("/ops"));
    assert_eq!(
        event_ids(&ops),
        event_ids(&journal),
        "`ops` gets exactly these: {ops:#?}"
    );
    assert!(
        b.receiver.to_path("/items").is_empty(),
        "a source.* event reached the item.* sink"
    );
    for post in b.receiver.all() {
        signature::verify(ENV_SECRET, &post).or_fail("signed");
    }
}

fn row<'a>(rows: &'a [Listed], id: &str, sink: &str) -> &'a Listed {
    rows.iter()
        .find(|r| r.id == id && r.sink == sink)
        .or_fail(format!("no {sink} line for {id}: {rows:#?}"))
}

#[test]
fn deliveries_lists_the_outbox_and_redeliver_queues_again() {
    let b = Bench::new();
    let mut feed = b.baselined_hook("");
    b.receiver.script([Reply::status(400)]);
    feed.publish(&b.origin);
    let out = b.check();
    out.assert_code(1);
    b.receiver.script([Reply::status(503)]);
    feed.publish(&b.origin);
    b.check().assert_code(1);
    let [dead, waiting] = two_event_ids(&b);

    let all = b.deliveries(&[]);
    assert_eq!(all.len(), 4, "{all:#?}");
    assert_eq!(all[0].id, waiting, "newest first");
    let d = row(&all, &dead, "hook");
    assert_eq!((d.state.as_str(), d.attempts), ("dead", 1), "{}", d.line);
    assert!(
        d.last_error.as_deref().is_some_and(|e| e.contains("400")),
        "{}",
        d.line
    );
    let w = row(&all, &waiting, "hook");
    assert_eq!((w.state.as_str(), w.attempts), ("pending", 1), "{}", w.line);
    assert!(
        w.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{}",
        w.line
    );
    let next: DateTime<Utc> = w
        .next_try
        .as_deref()
        .and_then(|t| t.parse().ok())
        .or_fail(format!("no next try time: {}", w.line));
    let wait = (next - Utc::now()).num_seconds();
    assert!(
        (2..=7).contains(&wait),
        "the first backoff is about 5 s, not {wait} s"
    );
    for id in [&dead, &waiting] {
        let j = row(&all, id, "journal");
        assert_eq!(
            (j.state.as_str(), j.attempts),
            ("delivered", 1),
            "{}",
            j.line
        );
        assert_eq!((j.kind.as_str(), j.source.as_str()), ("item.new", "a"));
    }
    let failed = b.deliveries(&["--failed"]);
    let mut listed: Vec<(&str, &str)> = failed
        .iter()
        .map(|r| (r.id.as_str(), r.sink.as_str()))
        .collect();
    listed.sort_unstable();
    let mut expected = [(dead.as_str(), "hook"), (waiting.as_str(), "hook")];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    assert!(
        b.deliveries(&["--sink", "hook"])
            .iter()
            .all(|r| r.sink == "hook")
    );
    assert_eq!(b.deliveries(&["--sink", "journal"]).len(), 2);
    assert!(b.deliveries(&["--failed", "--sink", "journal"]).is_empty());
    let unknown = b.run(&["deliveries", "--sink", "nowhere"]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("nowhere"), "{}", unknown.stderr);

    let again = b.run(&["redeliver", "--all-failed"]);
    again.assert_code(0);
    assert!(
        again.stdout.contains("1 delivery queued again"),
        "{}",
        again.stdout
    );
    b.check().assert_code(1);
    assert_eq!(
        b.hook_ids("/hook"),
        std::slice::from_ref(&dead),
        "the dead event after redeliver"
    );
    b.run(&["redeliver", &waiting]).assert_code(0);
    b.check().assert_code(0);
    assert_eq!(b.hook_ids("/hook"), [dead.clone(), waiting.clone()]);

    assert!(b.deliveries(&["--failed"]).is_empty());
    for r in b.deliveries(&["--sink", "hook"]) {
        assert_eq!(
            (r.state.as_str(), r.attempts),
            ("delivered", 2),
            "{}",
            r.line
        );
    }
    let posts = b.receiver.to_path("/hook");
    assert_eq!(
        posts.iter().map(Delivery::id).collect::<Vec<_>>(),
        [&dead, &waiting, &dead, &waiting]
    );
    for post in &posts {
        signature::verify(ENV_SECRET, post).or_fail("every attempt is signed");
    }
    let nothing = b.run(&["redeliver", "evt_01NOSUCHEVENT"]);
    nothing.assert_code(2);
    assert!(
        nothing.stderr.contains("evt_01NOSUCHEVENT"),
        "{}",
        nothing.stderr
    );
}

#[test]
fn a_dead_event_does_not_hold_up_the_next_in_check() {
    let b = Bench::new();
    let mut feed = b.baselined_hook("");
    b.receiver.script([Reply::status(400)]);
    feed.publish(&b.origin);
    feed.publish(&b.origin);

    let out = b.check();

    let [dead, next] = two_event_ids(&b);
    assert_eq!(
        b.hook_ids("/hook"),
        [next],
        "the event after the rejected one was not sent\n{}",
        out.stderr
    );
    assert_eq!(row(&b.deliveries(&[]), &dead, "hook").state, "dead");
    out.assert_code(1);
}

#[test]
fn a_410_disables_the_sink_until_redeliver() {
    let b = Bench::new();
    let mut feed = b.baselined_hook("");
    b.receiver.script([Reply::status(410)]);
    feed.publish(&b.origin);
    let first = b.check();
    first.assert_code(1);
    assert!(first.stderr.contains("disabled"), "{}", first.stderr);
    feed.publish(&b.origin);
    b.check().assert_code(1);

    assert_eq!(b.receiver.all().len(), 1, "a POST after the 410");
    let [gone, later] = two_event_ids(&b);
    let rows = b.deliveries(&["--sink", "hook"]);
    let g = row(&rows, &gone, "hook");
    assert_eq!(g.state, "pending", "{}", g.line);
    assert!(
        g.last_error.as_deref().is_some_and(|e| e.contains("410")),
        "{}",
        g.line
    );
    assert_eq!(row(&rows, &later, "hook").attempts, 0);

    b.run(&["redeliver", "--all-failed"]).assert_code(0);
    b.check().assert_code(0);
    assert_eq!(b.hook_ids("/hook"), [gone, later]);
}

#[test]
fn retry_for_bounds_how_long_an_event_is_retried() {
    let b = Bench::new();
    // Event times are whole seconds, so the window may close up to 1 s early.
    let mut feed = b.baselined_hook("retry_for = \"3s\"");
    b.receiver.otherwise(Reply::retry_after(503, 1));
    feed.publish(&b.origin);
    b.check().assert_code(1);
    std::thread::sleep(Duration::from_millis(3100));

    let out = b.check();

    let rows = b.deliveries(&["--failed"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(
        (rows[0].state.as_str(), rows[0].attempts),
        ("dead", 2),
        "{}",
        rows[0].line
    );
    assert!(out.stderr.contains("giving up"), "{}", out.stderr);
    out.assert_code(1);
}
