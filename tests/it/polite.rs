//! Being a good citizen, seen from the server: permanent moves relink the
//! source after three polls, Retry-After and cache hints push the next poll
//! back, and validators are always sent once the server gave them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::support::hostile;
use crate::support::*;

fn watch(server: &TestServer, path: &str) -> Feedwatch {
    watch_every(server, path, "15m")
}

/// One source, `news`, at `path`, polled every `interval`.
fn watch_every(server: &TestServer, path: &str, interval: &str) -> Feedwatch {
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .source("news", &server.url(path))
            .line(format!("interval = \"{interval}\"")),
    );
    fw
}

/// One source for each of `paths`, named `news-0`, `news-1`, … in order.
fn watch_all(server: &TestServer, paths: &[&str]) -> Feedwatch {
    let mut config = Toml::journal();
    for (n, path) in paths.iter().enumerate() {
        config = config
            .source(&format!("news-{n}"), &server.url(path))
            .line("interval = \"15m\"");
    }
    let fw = Feedwatch::new();
    fw.write_config(config);
    fw
}

/// The NEXT POLL column of `sources` for the one source.
fn next_poll(fw: &Feedwatch) -> DateTime<Utc> {
    let out = fw.run(&["sources"]);
    out.assert_code(0);
    let lines = out.lines();
    let column = lines
        .first()
        .and_then(|header| header.find("NEXT POLL"))
        .or_fail(format!("no NEXT POLL column in:\n{}", out.stdout));
    let line = lines
        .iter()
        .find(|l| l.starts_with("news "))
        .or_fail(format!("no line for the source in:\n{}", out.stdout));
    let next: String = line
        .chars()
        .skip(column)
        .take_while(|c| !c.is_whitespace())
        .collect();
    DateTime::parse_from_rfc3339(&next)
        .map(|t| t.with_timezone(&Utc))
        .or_fail(format!("next poll {next:?} in {line:?}"))
}

/// Whole minutes from `before` to the next poll, allowing for the stored
/// time's whole seconds.
fn minutes_until_next(fw: &Feedwatch, before: DateTime<Utc>) -> i64 {
    ((next_poll(fw) - before).num_seconds() + 30) / 60
}

#[test]
fn a_permanent_move_seen_three_times_relinks_the_source() {
    let server = TestServer::start();
    server.set(
        "/old.xml",
        Response::new(301).header("Location", "/new.xml"),
    );
    server.set("/new.xml", Response::rss(clean_feed()));
    let fw = watch(&server, "/old.xml");
    for _ in 0..3 {
        fw.run(&["check"]).assert_code(0);
    }
    assert_eq!(server.hits("/old.xml"), 3);
    let sources = fw.run(&["sources"]);
    assert!(
        sources
            .stdout
            .contains(&format!("moved permanently to {}", server.url("/new.xml"))),
        "{}",
        sources.stdout
    );
    fw.run(&["check"]).assert_code(0);
    assert_eq!(
        server.hits("/old.xml"),
        3,
        "the old address is no longer asked"
    );
    assert_eq!(server.hits("/new.xml"), 4);
    assert_eq!(server.requests("/new.xml")[3].status, 304);
}

#[test]
fn a_temporary_redirect_never_relinks() {
    let server = TestServer::start();
    server.set("/feed", Response::new(302).header("Location", "/today.xml"));
    server.set("/today.xml", Response::rss(clean_feed()));
    let fw = watch(&server, "/feed");
    for _ in 0..4 {
        fw.run(&["check"]).assert_code(0);
    }
    assert_eq!(server.hits("/feed"), 4);
    assert!(!fw.run(&["sources"]).stdout.contains("moved"));
}

#[test]
fn retry_after_on_a_503_postpones_the_source() {
    let server = TestServer::start();
    server.set("/feed", Response::new(503).header("Retry-After", "7200"));
    let fw = watch(&server, "/feed");
    let before = Utc::now();
    fw.run(&["check"]).assert_code(1);
    let next = next_poll(&fw);
    assert!(
        next >= before + chrono::Duration::seconds(7190),
        "next poll {next} is sooner than Retry-After asked"
    );
}

#[test]
fn failures_back_off_exponentially_and_reset_on_success() {
    let server = TestServer::start();
    server.set("/feed", Response::new(500));
    let fw = watch(&server, "/feed");
    let mut gaps = Vec::new();
    for _ in 0..3 {
        let before = Utc::now();
        fw.run(&["check"]).assert_code(1);
        gaps.push(minutes_until_next(&fw, before));
    }
    assert_eq!(gaps, [15, 30, 60], "15m interval doubled per failure");
    server.set("/feed", Response::rss(clean_feed()));
    let before = Utc::now();
    fw.run(&["check"]).assert_code(0);
    assert_eq!(minutes_until_next(&fw, before), 15);
}

#[test]
fn cache_max_age_lengthens_but_never_shortens_the_interval() {
    let server = TestServer::start();
    server.set(
        "/long",
        Response::rss(clean_feed()).header("Cache-Control", "max-age=7200"),
    );
    let fw = watch(&server, "/long");
    let before = Utc::now();
    fw.run(&["check"]).assert_code(0);
    assert_eq!(minutes_until_next(&fw, before), 120);

    server.set(
        "/long",
        Response::rss(clean_feed()).header("Cache-Control", "max-age=60"),
    );
    let before = Utc::now();
    fw.run(&["check"]).assert_code(0);
    assert_eq!(minutes_until_next(&fw, before), 15);
}

#[test]
fn every_request_after_the_first_carries_validators_and_no_cookie() {
    let server = TestServer::start();
    server.set(
        "/feed",
        Response::rss(clean_feed()).header("Set-Cookie", "session=abc"),
    );
    let fw = watch(&server, "/feed");
    for _ in 0..3 {
        fw.run(&["check"]).assert_code(0);
    }
    let requests = server.requests("/feed");
    assert_eq!(requests.len(), 3);
    for r in &requests[1..] {
        assert!(r.header("if-none-match").is_some(), "{:?}", r.headers);
        assert!(r.header("cookie").is_none());
        assert!(r.header("referer").is_none());
    }
    let agent = requests[0].header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("feedwatch/"), "{agent}");
}

/// A check asks one host for its sources one after another: the first
/// fetches (no validators yet) each close their connection, since an idle
/// connection would keep the buffer a whole document grew; once the server
/// has given validators, the 304s share one connection, and the last
/// request of the host closes it.
#[test]
fn a_check_asks_one_host_over_one_kept_connection() {
    let server = TestServer::start();
    server.keep_connections();
    let paths = ["/a.xml", "/b.xml", "/c.xml"];
    for path in paths {
        server.set(path, Response::rss(clean_feed()));
    }
    let fw = watch_all(&server, &paths);
    let requests = |server: &TestServer| {
        let mut all: Vec<Recorded> = paths.iter().flat_map(|p| server.requests(p)).collect();
        all.sort_by_key(|r| r.at);
        all
    };

    fw.run(&["check"]).assert_code(0);
    let first = requests(&server);
    assert_eq!(first.len(), 3, "{first:#?}");
    for r in &first {
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.header("connection"), Some("close"), "{r:#?}");
    }
    let connections: std::collections::BTreeSet<u64> = first.iter().map(|r| r.connection).collect();
    assert_eq!(connections.len(), 3, "{first:#?}");

    fw.run(&["check"]).assert_code(0);
    let second: Vec<Recorded> = requests(&server).into_iter().skip(3).collect();
    assert_eq!(second.len(), 3, "{second:#?}");
    assert!(second.iter().all(|r| r.status == 304), "{second:#?}");
    assert!(
        second.iter().all(|r| r.connection == second[0].connection),
        "the 304s came on more than one connection: {second:#?}"
    );
    let closing: Vec<Option<&str>> = second.iter().map(|r| r.header("connection")).collect();
    assert_eq!(closing, [None, None, Some("close")], "{second:#?}");
}

/// The daemon's polls of a host are seconds or minutes apart: after a first
/// fetch (no validators) the connection is closed, and after a conditional
/// request it is kept for the host's next poll.
#[test]
fn the_daemon_keeps_a_connection_after_a_conditional_request() {
    let server = TestServer::start();
    server.keep_connections();
    server.set("/feed.xml", Response::rss(clean_feed()));
    let fw = watch_every(&server, "/feed.xml", "1s");
    let mut daemon = fw.spawn_daemon();
    let polled = daemon.wait_for_hits(&server, "/feed.xml", 4, Duration::from_secs(60));
    daemon.signal("TERM");
    let code = daemon.wait_exit(Duration::from_secs(20));
    assert!(polled, "fewer than 4 polls\n{}", daemon.stderr());
    assert_eq!(code, 0, "{}", daemon.stderr());

    let requests = server.requests("/feed.xml");
    let first = &requests[0];
    assert_eq!(first.header("if-none-match"), None, "{first:#?}");
    assert_eq!(first.header("connection"), Some("close"), "{first:#?}");
    let later = &requests[1..];
    for r in later {
        assert_eq!(r.status, 304, "{r:#?}");
        assert_eq!(r.header("connection"), None, "{r:#?}");
    }
    assert!(
        later.iter().all(|r| r.connection == later[0].connection),
        "conditional polls came on more than one connection: {later:#?}"
    );
    assert_ne!(later[0].connection, first.connection);
}

/// `check` asks a host for its sources one after another, but a source that
/// is slow to answer hands the rest to a free worker: the host's other
/// sources are asked while it is still waited on.
#[test]
fn a_slow_source_does_not_hold_up_the_rest_of_its_host() {
    let server = TestServer::start();
    let hits = server.hit_counter();
    let others_first = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&others_first);
    let release = move || {
        let done = hits("/b.xml") + hits("/c.xml") == 2;
        flag.fetch_or(done, Ordering::SeqCst);
        done
    };
    server.set_raw(
        "/slow.xml",
        hostile::held_until(release, Duration::from_secs(20)),
    );
    for path in ["/b.xml", "/c.xml"] {
        server.set(path, Response::rss(clean_feed()));
    }
    let fw = watch_all(&server, &["/slow.xml", "/b.xml", "/c.xml"]);
    let out = fw.run(&["check"]);
    out.assert_code(0);
    assert!(
        others_first.load(Ordering::SeqCst),
        "the host's other sources waited for the slow one: {}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
}
