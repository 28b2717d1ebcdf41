//! The test support itself: the HTTP origin's validators and log, the runner's
//! plumbing, and the fixture edits.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use crate::support::*;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

fn request(server: &TestServer, method: &str, target: &str, headers: &[(&str, &str)]) -> Answer {
    let url = server.url("");
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).or_fail("connect to the test server");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .or_fail("set a read timeout");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).or_fail("send a request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).or_fail("read the answer");
    parse(&raw)
}

fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Answer {
    request(server, "GET", path, headers)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_fail("an answer with a header block");
    let head = String::from_utf8(raw[..split].to_vec()).or_fail("an ASCII header block");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .or_fail("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

#[test]
fn a_200_carries_a_body_derived_etag_and_a_fixed_last_modified() {
    let server = TestServer::start();
    server.set("/feed.xml", Response::rss("<rss/>"));

    let answer = get(&server, "/feed.xml", &[]);

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"<rss/>");
    assert_eq!(answer.header("etag"), Some(etag(b"<rss/>").as_str()));
    assert_eq!(answer.header("last-modified"), Some(LAST_MODIFIED));
    assert_eq!(answer.header("content-length"), Some("6"));
    assert_eq!(answer.header("connection"), Some("close"));
    assert_eq!(
        answer.header("content-type"),
        Some("application/rss+xml; charset=UTF-8")
    );
}

#[test]
fn etag_is_strong_stable_and_changes_with_the_body() {
    let tag = etag(b"one");
    assert!(tag.starts_with('"') && tag.ends_with('"') && tag.len() == 18);
    assert_eq!(tag, etag(b"one"));
    assert_ne!(tag, etag(b"two"));
    assert_eq!(etag(b""), "\"cbf29ce484222325\"");
}

#[test]
fn a_matching_if_none_match_gets_304_without_a_body() {
    let server = TestServer::start();
    server.set("/feed.xml", Response::ok("hello"));
    let tag = etag(b"hello");

    let answer = get(&server, "/feed.xml", &[("If-None-Match", &tag)]);

    assert_eq!(answer.status, 304);
    assert!(answer.body.is_empty());
    assert_eq!(answer.header("etag"), Some(tag.as_str()));
    assert_eq!(answer.header("content-length"), None);
    let log = server.requests("/feed.xml");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, 304);
    assert_eq!(log[0].header("if-none-match"), Some(tag.as_str()));
}

#[test]
fn a_weak_or_listed_validator_also_matches() {
    let server = TestServer::start();
    server.set("/feed.xml", Response::ok("hello"));
    let tag = etag(b"hello");

    let weak = get(
        &server,
        "/feed.xml",
        &[("If-None-Match", &format!("W/{tag}"))],
    );
    let listed = get(
        &server,
        "/feed.xml",
        &[("If-None-Match", &format!("\"other\", {tag}"))],
    );

    assert_eq!(weak.status, 304);
    assert_eq!(listed.status, 304);
}

#[test]
fn a_stale_or_foreign_validator_gets_the_new_body() {
    let server = TestServer::start();
    server.set("/feed.xml", Response::ok("first"));
    let old = etag(b"first");
    server.set("/feed.xml", Response::ok("second"));

    let stale = get(&server, "/feed.xml", &[("If-None-Match", &old)]);
    let foreign = get(&server, "/feed.xml", &[("If-None-Match", "\"nope\"")]);

    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, b"second");
    assert_eq!(stale.header("etag"), Some(etag(b"second").as_str()));
    assert_eq!(foreign.status, 200);
    let statuses: Vec<u16> = server
        .requests("/feed.xml")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [200, 200]);
}

#[test]
fn an_explicit_etag_replaces_the_derived_one() {
    let server = TestServer::start();
    server.set("/feed.xml", Response::ok("body").header("ETag", "\"v7\""));

    let fresh = get(&server, "/feed.xml", &[]);
    let again = get(&server, "/feed.xml", &[("If-None-Match", "\"v7\"")]);

    assert_eq!(fresh.count("etag"), 1);
    assert_eq!(fresh.header("etag"), Some("\"v7\""));
    assert_eq!(again.status, 304);
}

#[test]
fn errors_carry_no_validators_and_are_never_304() {
    let server = TestServer::start();
    server.set("/broken.xml", Response::new(500).body("boom"));

    let answer = get(&server, "/broken.xml", &[("If-None-Match", &etag(b"boom"))]);

    assert_eq!(answer.status, 500);
    assert_eq!(answer.body, b"boom");
    assert_eq!(answer.header("etag"), None);
    assert_eq!(answer.header("last-modified"), None);
    assert_eq!(server.requests("/broken.xml")[0].status, 500);
}

#[test]
fn unknown_paths_are_404_and_still_logged() {
    let server = TestServer::start();

    let answer = get(&server, "/missing", &[]);

    assert_eq!(answer.status, 404);
    assert_eq!(server.hits("/missing"), 1);
    assert_eq!(server.requests("/missing")[0].status, 404);
}

#[test]
fn the_log_keeps_method_path_query_and_lowercased_headers() {
    let server = TestServer::start();
    server.set("/hook", Response::new(204));

    let answer = request(
        &server,
        "POST",
        "/hook?attempt=2",
        &[("X-Custom", "Yes"), ("Content-Length", "0")],
    );
    get(&server, "/other", &[]);

    assert_eq!(answer.status, 204);
    let log = server.requests("/hook");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, "/hook");
    assert_eq!(log[0].target, "/hook?attempt=2");
    assert_eq!(log[0].header("x-custom"), Some("Yes"));
    assert_eq!(log[0].header("X-CUSTOM"), Some("Yes"));
    assert!(log[0].headers.keys().all(|k| *k == k.to_ascii_lowercase()));
    assert_eq!(server.hits("/other"), 1);
}

#[test]
fn a_request_body_is_read_before_answering() {
    let server = TestServer::start();
    server.set("/hook", Response::ok("thanks"));
    let url = server.url("");
    let host = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).or_fail("connect");
    let body = "x".repeat(100_000);
    let head = format!(
        "POST /hook HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).or_fail("send head");
    stream.write_all(body.as_bytes()).or_fail("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).or_fail("read");

    let answer = parse(&raw);

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"thanks");
}

#[test]
fn routes_change_while_serving_and_waiting_sees_concurrent_hits() {
    let server = TestServer::start();
    server.set("/a", Response::ok("a"));
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| get(&server, "/a", &[]));
        }
    });

    assert!(server.wait_for_hits("/a", 8, Duration::from_secs(5)));
    assert!(!server.wait_for_hits("/a", 9, Duration::from_millis(100)));
    server.set("/a", Response::new(503));
    assert_eq!(get(&server, "/a", &[]).status, 503);
}

#[test]
fn dropping_the_server_stops_it() {
    let server = TestServer::start();
    server.set("/a", Response::ok("a"));
    let url = server.url("");
    let host = url.trim_start_matches("http://").to_owned();

    drop(server);

    let refused = TcpStream::connect(&host)
        .and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(2)))?;
            s.write_all(b"GET /a HTTP/1.1\r\n\r\n")?;
            let mut raw = Vec::new();
            s.read_to_end(&mut raw)?;
            Ok(raw)
        })
        .map(|raw| raw.is_empty())
        .unwrap_or(true);
    assert!(refused, "the server still answered after being dropped");
}

#[test]
fn removing_an_item_takes_exactly_that_item() {
    let xml = clean_feed();
    assert_eq!(item_count(&xml), 10);

    let middle = remove_item(&xml, 4);
    let last = remove_item(&xml, 9);

    assert_eq!(item_count(&middle), 9);
    assert_eq!(middle.matches("</item>").count(), 9);
    assert!(!middle.contains(KEYS[4]));
    assert!(
        KEYS.iter()
            .enumerate()
            .all(|(i, k)| i == 4 || middle.contains(k))
    );
    assert!(!last.contains(KEYS[9]));
    assert!(last.trim_end().ends_with("</channel>\n</rss>"));
    assert!(middle.contains("</item>\n\t<item>"));
}

#[test]
fn an_inserted_item_comes_first_and_is_escaped() {
    let xml = clean_feed();

    let more = insert_item_top(
        &xml,
        "https://www.communitycare.co.uk/?p=999999",
        "Pay & conditions <update>",
        "https://www.communitycare.co.uk/2025/02/04/pay/",
        "Tue, 04 Feb 2025 09:00:00 +0000",
        "<p>Body text.</p>",
    );

    assert_eq!(item_count(&more), 11);
    let first_guid = more.find("?p=999999").or_fail("the new guid");
    let old_first = more.find(KEYS[0]).or_fail("the old first guid");
    assert!(first_guid < old_first);
    assert!(more.contains("<title>Pay &amp; conditions &lt;update&gt;</title>"));
    assert!(more.contains("<![CDATA[<p>Body text.</p>]]>"));
    assert!(more.contains("</generator>\n\t<item>\n\t\t<title>Pay"));
}

#[test]
fn replacing_changes_every_occurrence() {
    let changed = replace("<p>a</p><p>b</p>", "<p>", "<p class=\"x\">");
    assert_eq!(changed, "<p class=\"x\">a</p><p class=\"x\">b</p>");
}

#[test]
#[should_panic(expected = "does not contain")]
fn replacing_absent_text_fails_the_test() {
    replace(&clean_feed(), "no such sentence anywhere", "x");
}

#[test]
fn the_defaced_feed_is_the_clean_one_with_prefixed_titles() {
    let clean = clean_feed();
    let defaced = defaced_feed();

    assert_eq!(defaced.replace(SPAM_PREFIX, ""), clean);
    assert_eq!(
        defaced.matches(&format!("<title>{SPAM_PREFIX}")).count(),
        11
    );
    assert!(KEYS.iter().all(|k| clean.matches(k).count() == 1));
}

#[test]
fn events_are_empty_without_a_log_and_parsed_line_by_line() {
    let fw = Feedwatch::new();
    assert!(fw.events().is_empty());

    std::fs::write(
        fw.alerts_path(),
        "{\"id\":\"evt_1\",\"type\":\"item.new\"}\n\n{\"id\":\"evt_2\",\"type\":\"item.removed\"}\n",
    )
    .or_fail("write alerts");

    let events = fw.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["id"], "evt_2");
    assert_eq!(events[0]["type"], "item.new");
}

#[test]
fn the_runner_reports_the_exit_code_of_the_binary() {
    let fw = Feedwatch::new();
    fw.write_config("");
    assert_eq!(
        std::fs::read_to_string(fw.config_path()).or_fail("config"),
        ""
    );

    let out = fw.run(&["--help"]);

    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
}

#[test]
fn a_built_configuration_has_settings_first_and_lines_in_the_last_table() {
    let toml = Toml::journal()
        .feed("news", "http://127.0.0.1:9/feed")
        .line("")
        .line("interval = \"1s\"")
        .setting("fail_after = 2");

    assert_eq!(
        toml.to_string(),
        "[settings]\ndatabase = \"feedwatch.db\"\nfail_after = 2\n\n\
         [[sink]]\nname = \"journal\"\ntype = \"log\"\npath = \"alerts.jsonl\"\n\n\
         [[source]]\nname = \"news\"\nurl = \"http://127.0.0.1:9/feed\"\ntype = \"feed\"\n\
         interval = \"1s\"\n"
    );
    let fw = Feedwatch::new();
    fw.write_config(&toml);
    fw.run(&["validate"]).assert_code(0);
}
