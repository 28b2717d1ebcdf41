//! `feedwatch run` under a service manager: the notify protocol as systemd
//! sees it, over a real Unix datagram socket.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::*;

/// Collects notify messages until `done` says enough or time runs out.
fn collect(
    socket: &UnixDatagram,
    within: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    while Instant::now() < deadline && !done(&seen) {
        if let Ok(n) = socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            seen.extend(text.lines().map(str::to_string));
        }
    }
    seen
}

fn count(seen: &[String], message: &str) -> usize {
    seen.iter().filter(|m| m.as_str() == message).count()
}

#[test]
fn ready_watchdog_status_reload_and_stopping_reach_the_service_manager() {
    let server = TestServer::start();
    server.set("/feed", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::new()
            .sink("journal", "log")
            .line("path = \"alerts.jsonl\"")
            .source("news", &server.url("/feed"))
            .line("interval = \"1s\""),
    );
    let path = fw.dir().join("notify.sock");
    let socket = UnixDatagram::bind(&path).or_fail("bind notify socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .or_fail("read timeout");
    let socket_path = path.display().to_string();
    let mut daemon = fw.spawn_daemon_with(&[
        ("NOTIFY_SOCKET", socket_path.as_str()),
        ("WATCHDOG_USEC", "600000"),
    ]);

    let seen = collect(&socket, Duration::from_secs(20), |s| {
        count(s, "WATCHDOG=1") >= 3 && s.iter().any(|m| m.starts_with("STATUS="))
    });
    assert_eq!(
        seen.first().map(String::as_str),
        Some("READY=1"),
        "{seen:?}"
    );
    assert!(
        count(&seen, "WATCHDOG=1") >= 3,
        "regular watchdog pings: {seen:?}"
    );
    let status = seen
        .iter()
        .find(|m| m.starts_with("STATUS="))
        .cloned()
        .unwrap_or_default();
    assert!(status.contains("1 sources"), "{status}");
    assert!(status.contains("deliveries pending"), "{status}");

    daemon.signal("HUP");
    let seen = collect(&socket, Duration::from_secs(10), |s| {
        s.iter().any(|m| m == "RELOADING=1") && s.iter().rev().any(|m| m == "READY=1")
    });
    let reloading = seen.iter().position(|m| m == "RELOADING=1");
    let ready = seen.iter().rposition(|m| m == "READY=1");
    assert!(
        matches!((reloading, ready), (Some(r), Some(o)) if r < o),
        "RELOADING=1 then READY=1 around a reload: {seen:?}"
    );

    daemon.signal("TERM");
    let seen = collect(&socket, Duration::from_secs(10), |s| {
        s.iter().any(|m| m == "STOPPING=1")
    });
    assert!(seen.iter().any(|m| m == "STOPPING=1"), "{seen:?}");
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), 0);
}

#[test]
fn without_notify_socket_the_daemon_runs_as_usual() {
    let server = TestServer::start();
    server.set("/feed", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::new()
            .source("news", &server.url("/feed"))
            .line("interval = \"1s\""),
    );
    let mut daemon = fw.spawn_daemon_with(&[("WATCHDOG_USEC", "600000")]);
    assert!(server.wait_for_hits("/feed", 2, Duration::from_secs(20)));
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), 0);
    assert!(!daemon.stderr().contains("notify"), "{}", daemon.stderr());
}

/// Reads the metrics page with a plain HTTP/1.1 request.
fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text
}

fn sample(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_count_polls_changes_and_failures() {
    let server = TestServer::start();
    server.set("/feed", Response::rss(clean_feed()));
    server.set("/broken", Response::new(500));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .or_fail("a free port");
    let addr = format!("127.0.0.1:{port}");
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::new()
            .setting(format!("metrics = \"{addr}\"\nfail_after = 1"))
            .sink("journal", "log")
            .line("path = \"alerts.jsonl\"")
            .source("news", &server.url("/feed"))
            .line("interval = \"1s\"")
            .source("broken", &server.url("/broken"))
            .line("interval = \"1s\""),
    );
    let mut daemon = fw.spawn_daemon();
    assert!(server.wait_for_hits("/feed", 3, Duration::from_secs(20)));
    assert!(server.wait_for_hits("/broken", 1, Duration::from_secs(20)));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut page = String::new();
    while Instant::now() < deadline {
        page = scrape(&addr);
        if sample(&page, "feedwatch_sources_failing") == Some(1.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        sample(&page, "feedwatch_polls_total{outcome=\"not_modified\"}").is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert!(
        sample(&page, "feedwatch_polls_total{outcome=\"error\"}").is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert_eq!(
        sample(&page, "feedwatch_changes_total{type=\"source.failing\"}"),
        Some(1.0),
        "{page}"
    );
    assert_eq!(sample(&page, "feedwatch_sources"), Some(2.0));
    assert_eq!(sample(&page, "feedwatch_sources_failing"), Some(1.0));
    assert!(sample(&page, "feedwatch_poll_duration_seconds_count").is_some_and(|n| n >= 3.0));
    assert!(page.contains("# TYPE feedwatch_poll_duration_seconds histogram"));
    daemon.signal("TERM");
    assert_eq!(daemon.wait_exit(Duration::from_secs(15)), 0);
}

#[test]
fn under_journald_lines_carry_priorities_and_no_timestamps() {
    let server = TestServer::start();
    server.set("/broken", Response::new(500));
    let fw = Feedwatch::new();
    fw.write_config(Toml::new().source("broken", &server.url("/broken")));
    let out = fw.run_with_env(&["check"], &[("JOURNAL_STREAM", "8:12345")]);
    out.assert_code(1);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("poll failed"))
        .or_fail(format!("no warning in {:?}", out.stderr));
    assert!(line.starts_with("<4>"), "{line}");
    let timestamp = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:").or_fail("regex");
    assert!(!timestamp.is_match(line), "no timestamp expected: {line}");

    let plain = fw.run(&["check"]);
    let line = plain
        .stderr
        .lines()
        .find(|l| l.contains("poll failed"))
        .unwrap_or_default();
    assert!(!line.starts_with('<'), "{line}");
}
