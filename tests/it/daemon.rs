//! `feedwatch run` as a service manager drives it: polling on schedule,
//! reloading on SIGHUP, stopping cleanly on SIGTERM and SIGINT.

use std::thread;
use std::time::{Duration, Instant};

use crate::support::*;

const A: &str = "/a/feed/";
const B: &str = "/b/feed/";
const STARTUP: Duration = Duration::from_secs(15);
const STOP: Duration = Duration::from_secs(10);
const SOON: Duration = Duration::from_secs(10);

fn config(server: &TestServer, sources: &[(&str, &str)]) -> String {
    let mut config = Toml::journal();
    for (name, path) in sources {
        config = config
            .feed(name, &server.url(path))
            .line("interval = \"1s\"");
    }
    config.to_string()
}

/// A daemon watching source `a`, started and seen polling once.
fn running() -> (TestServer, Feedwatch, Daemon) {
    let server = TestServer::start();
    server.set(A, Response::rss(clean_feed()));
    server.set(B, Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    fw.write_config(config(&server, &[("a", A)]));
    let mut daemon = fw.spawn_daemon();
    let polled = daemon.wait_for_hits(&server, A, 1, STARTUP);
    assert!(
        polled,
        "source a was never polled (daemon running: {})\n--- stderr\n{}",
        daemon.is_running(),
        daemon.stderr()
    );
    (server, fw, daemon)
}

fn stop(daemon: &mut Daemon) {
    daemon.signal("TERM");
    let code = daemon.wait_exit(STOP);
    let stderr = daemon.stderr();
    assert_eq!(code, 0, "exit after SIGTERM\n--- stderr\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn polls_on_its_interval_and_stops_on_sigterm() {
    let (server, _fw, mut daemon) = running();

    assert!(
        daemon.wait_for_hits(&server, A, 3, STARTUP),
        "fewer than 3 polls\n--- stderr\n{}",
        daemon.stderr()
    );
    let polls = server.requests(A);
    let spread = polls[2].at.duration_since(polls[0].at);
    assert!(
        spread >= Duration::from_millis(1500),
        "3 polls within {spread:?}: the 1 s interval was not honoured"
    );
    assert_eq!(polls[1].status, 304, "the second poll was not conditional");

    stop(&mut daemon);
}

#[test]
fn sigint_stops_it_cleanly_too() {
    let (_server, _fw, mut daemon) = running();

    daemon.signal("INT");

    let code = daemon.wait_exit(STOP);
    assert_eq!(
        code,
        0,
        "exit after SIGINT\n--- stderr\n{}",
        daemon.stderr()
    );
}

#[test]
fn sighup_starts_polling_a_source_added_to_the_file() {
    let (server, fw, mut daemon) = running();
    assert_eq!(server.hits(B), 0);

    fw.write_config(config(&server, &[("a", A), ("b", B)]));
    daemon.signal("HUP");

    assert!(
        daemon.wait_for_hits(&server, B, 1, SOON),
        "the added source was never polled\n--- stderr\n{}",
        daemon.stderr()
    );
    assert!(
        daemon.wait_for_stderr("configuration reloaded", SOON),
        "{}",
        daemon.stderr()
    );
    let before = server.hits(A);
    assert!(
        daemon.wait_for_hits(&server, A, before + 1, SOON),
        "source a stopped"
    );
    stop(&mut daemon);
}

#[test]
fn a_broken_reload_keeps_the_running_configuration() {
    let (server, fw, mut daemon) = running();
    let broken = config(&server, &[("a", A), ("b", B)])
        .replace("interval = \"1s\"\n", "interval = \"fifteen\"\n");
    assert!(broken.contains("fifteen"));

    fw.write_config(&broken);
    daemon.signal("HUP");

    assert!(
        daemon.wait_for_stderr("reload failed", SOON),
        "{}",
        daemon.stderr()
    );
    let before = server.hits(A);
    assert!(
        daemon.wait_for_hits(&server, A, before + 2, SOON),
        "source a stopped being polled after the failed reload\n--- stderr\n{}",
        daemon.stderr()
    );
    assert_eq!(server.hits(B), 0, "part of the broken file was applied");
    stop(&mut daemon);
}

#[test]
fn a_story_published_while_running_is_alerted() {
    let (server, fw, mut daemon) = running();
    assert!(daemon.wait_for_hits(&server, A, 2, SOON), "no second poll");
    assert!(fw.events().is_empty(), "{:#?}", fw.events());

    server.set(
        A,
        Response::rss(insert_item_top(
            &clean_feed(),
            "https://www.communitycare.co.uk/?p=215020",
            "Frontline expands fast-track programme to Birmingham",
            "https://www.communitycare.co.uk/2025/02/04/frontline-expands/",
            "Tue, 04 Feb 2025 09:00:00 +0000",
            "<p>The first cohort starts in September.</p>",
        )),
    );

    let deadline = Instant::now() + SOON;
    let events = loop {
        let events = fw.complete_events();
        if !events.is_empty() || Instant::now() >= deadline {
            break events;
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        events.len(),
        1,
        "{events:#?}\n--- stderr\n{}",
        daemon.stderr()
    );
    assert_eq!(events[0]["type"], "item.new");
    assert_eq!(
        events[0]["item"]["key"],
        "https://www.communitycare.co.uk/?p=215020"
    );
    stop(&mut daemon);
}

/// Fifteen polls waiting behind one host's Retry-After have asked nothing
/// of the server: SIGTERM ends them at once instead of letting them run on
/// for the grace period, and none of them records anything.
#[test]
fn sigterm_while_polls_wait_behind_a_retry_after_exits_at_once() {
    let server = TestServer::start();
    let paths: Vec<String> = (0..16).map(|n| format!("/held/{n}.xml")).collect();
    let mut config = Toml::journal().setting("per_host = 1");
    for (n, path) in paths.iter().enumerate() {
        server.set(path, Response::new(429).header("Retry-After", "300"));
        config = config
            .feed(&format!("s{n:02}"), &server.url(path))
            .line("interval = \"1s\"");
    }
    let fw = Feedwatch::new();
    fw.write_config(config);
    let mut daemon = fw.spawn_daemon();
    let hits = |server: &TestServer| paths.iter().map(|p| server.hits(p)).sum::<usize>();
    let deadline = Instant::now() + STARTUP;
    while hits(&server) == 0 && daemon.is_running() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        hits(&server) > 0,
        "no source was polled\n{}",
        daemon.stderr()
    );
    // Every first poll is due within a second of the start: by now all of
    // them are running, and all but those already answered wait for the host.
    thread::sleep(Duration::from_millis(2500));
    let asked = hits(&server);
    assert!(
        asked < 16,
        "the host's Retry-After held nothing back: {asked} requests"
    );

    let sent = Instant::now();
    daemon.signal("TERM");
    let code = daemon.wait_exit(STOP);
    let took = sent.elapsed();

    let stderr = daemon.stderr();
    assert_eq!(code, 0, "exit after SIGTERM\n--- stderr\n{stderr}");
    assert!(
        took < Duration::from_secs(1),
        "took {took:?} to stop with {} polls waiting\n--- stderr\n{stderr}",
        16 - asked
    );
    assert!(!stderr.contains("abandon"), "{stderr}");
    assert_eq!(
        hits(&server),
        asked,
        "a waiting poll was sent after SIGTERM"
    );
    let db = rusqlite::Connection::open(fw.database_path()).or_fail("open the database");
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .or_fail("run the integrity check");
    assert_eq!(integrity, "ok");
    let polled: usize = db
        .query_row(
            "SELECT COUNT(*) FROM source WHERE last_poll IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .or_fail("count the polled sources");
    assert_eq!(
        polled, asked,
        "only the sources that were asked have a poll recorded"
    );
}
