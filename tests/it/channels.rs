//! The chat and command channels: slack, discord, telegram, ntfy, matrix and
//! command sinks driven by the real binary against a loopback double of each
//! platform, through the same outbox as webhooks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::thread;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::support::channels::{Double, Platform, txn_id};
use crate::support::hooks::{Feed, Listed, delivery_states, listing, stop};
use crate::support::*;

const FEED: &str = "/news/feed/";
const SOON: Duration = Duration::from_secs(15);
const STOP: Duration = Duration::from_secs(20);
const HOSTILE: &str = "<!channel> @everyone @here <b>x</b> [link](http://evil) *bold* <script>";

/// An origin serving the clean Frontline feed, a double per platform and a
/// configuration with a journal and a sink per double, baselined by `check`.
struct Bench {
    origin: TestServer,
    doubles: Vec<Double>,
    fw: Feedwatch,
}

impl Bench {
    fn new(extra: &str) -> Bench {
        let bench = Bench {
            origin: TestServer::start(),
            doubles: Double::all(),
            fw: Feedwatch::new(),
        };
        bench.origin.set(FEED, Response::rss(clean_feed()));
        bench.write_config(extra);
        bench.fw.run(&["check"]).assert_code(0);
        bench
    }

    fn write_config(&self, extra: &str) {
        let mut toml = Toml::journal();
        for d in &self.doubles {
            toml = toml
                .sink(d.name(), d.name())
                .line(d.sink_lines(self.fw.dir()));
        }
        toml = toml
            .feed("news", &self.origin.url(FEED))
            .line("interval = \"1s\"")
            .line("track = [\"new\", \"updated\", \"removed\"]")
            .line(extra);
        self.fw.write_config(toml);
    }

    fn serve(&self, xml: String) {
        self.origin.set(FEED, Response::rss(xml));
    }

    fn double(&self, platform: Platform) -> &Double {
        self.doubles
            .iter()
            .find(|d| d.platform == platform)
            .or_fail("a double of every platform")
    }

    fn failed(&self) -> Vec<Listed> {
        let out = self.fw.run(&["deliveries", "--failed"]);
        out.assert_code(0);
        listing(&out)
    }
}

fn story(xml: &str, n: usize, title: &str, link: &str) -> String {
    insert_item_top(
        xml,
        &format!("https://news.example.org/?p={n}"),
        title,
        link,
        "Tue, 04 Feb 2025 09:00:00 +0000",
        &format!("<p>Story number {n}.</p>"),
    )
}

#[test]
fn the_defaced_feed_makes_exactly_one_message_on_every_channel() {
    let b = Bench::new("");
    b.serve(defaced_feed());

    let out = b.fw.run(&["check"]);

    out.assert_code(0);
    let events = b.fw.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "source.bulk_change");
    let prefix = SPAM_PREFIX.trim();
    for d in &b.doubles {
        let messages = d.messages();
        assert_eq!(messages.len(), 1, "{}: {messages:#?}", d.name());
        assert_eq!(d.requests().len(), 1, "{}", d.name());
        let first = messages[0].lines().next().unwrap_or_default();
        assert!(
            first.contains("Feed defaced: prefix") && first.contains(prefix),
            "{}: {first}",
            d.name()
        );
        assert!(
            first.contains("added to 10 titles"),
            "{}: {first}",
            d.name()
        );
    }
}

#[test]
fn a_hostile_title_pings_nobody_and_injects_nothing_on_any_channel() {
    let b = Bench::new("");
    // Escaped once more than the feed format needs: after the markup is
    // reduced to text, the title still holds every character.
    let title = HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    b.serve(story(
        &clean_feed(),
        1,
        &title,
        "javascript:alert(document.cookie)",
    ));

    b.fw.run(&["check"]).assert_code(0);

    assert_eq!(b.fw.events()[0]["item"]["title"], HOSTILE);

    for d in &b.doubles {
        let requests = d.requests();
        assert_eq!(requests.len(), 1, "{}", d.name());
        let text = d.check(&requests[0]).or_fail(d.name());
        assert!(
            !requests[0].body.contains("javascript:"),
            "{}: a link was made",
            d.name()
        );
        let first = text.lines().next().unwrap_or_default();
        assert!(first.contains("New: "), "{}: {text}", d.name());
        inert(d.platform, &requests[0], &text);
    }
}

/// The platform's checks that the hostile title is only text there.
fn inert(platform: Platform, request: &Delivery, text: &str) {
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
    match platform {
        Platform::Slack => {
            // `<` starts every Slack link and mention; none may come from the feed.
            assert!(!text.contains('<'), "{text}");
            assert!(
                text.contains("&lt;!channel&gt; @everyone @here &lt;b&gt;x&lt;/b&gt;"),
                "{text}"
            );
            let fallback = body["text"].as_str().unwrap_or_default();
            assert!(!fallback.contains('<'), "{fallback}");
        }
        Platform::Discord => {
            assert_eq!(body["allowed_mentions"], serde_json::json!({"parse": []}));
            for c in ['@', '[', ']', '(', ')', '<', '*'] {
                let unescaped = text
                    .char_indices()
                    .filter(|(_, x)| *x == c)
                    .filter(|(i, _)| !text[..*i].ends_with('\\'))
                    .count();
                // The headline's own `**` bold is the only unescaped `*`.
                let allowed = if c == '*' { 4 } else { 0 };
                assert_eq!(unescaped, allowed, "unescaped {c:?} in {text}");
            }
            assert!(
                text.contains(r"http\://evil"),
                "no bare link may form: {text}"
            );
        }
        Platform::Telegram => {
            let stripped = text
                .replace("<b>", "")
                .replace("</b>", "")
                .replace("<i>", "")
                .replace("</i>", "")
                .replace("<code>", "")
                .replace("</code>", "");
            assert!(!stripped.contains('<'), "{text}");
            assert!(text.contains("&lt;script&gt;") && text.contains("&lt;b&gt;x&lt;/b&gt;"));
        }
        Platform::Matrix => {
            let html = body["formatted_body"].as_str().unwrap_or_default();
            for tag in ["<script", "<b>", "<a "] {
                assert!(!html.contains(tag), "{tag} in {html}");
            }
            assert!(html.contains("&lt;script&gt;"), "{html}");
            assert!(
                text.contains(HOSTILE),
                "the plain body keeps the title as text: {text}"
            );
        }
        Platform::Ntfy => {
            assert_eq!(request.header("markdown"), Some("no"));
            assert_eq!(
                request.header("click"),
                None,
                "no link to a javascript: URL"
            );
            assert!(text.contains(HOSTILE), "plain text as it is: {text}");
        }
    }
}

/// Reads `deliveries`' `next try` time.
fn next_try(row: &Listed) -> DateTime<Utc> {
    let text = row
        .next_try
        .as_deref()
        .or_fail(format!("no next try in {}", row.line));
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_fail(format!("read the next try of {}", row.line))
}

#[test]
fn each_platform_is_left_alone_for_as_long_as_it_asks() {
    let b = Bench::new("");
    // Far longer than the first backoff (5 s), so the wait seen is the platform's.
    let wait = 1800;
    for d in &b.doubles {
        d.rate_limit(wait);
    }
    b.serve(story(
        &clean_feed(),
        1,
        "Pay rise agreed",
        "https://news.example.org/1",
    ));
    let before = Utc::now();

    b.fw.run(&["check"]);

    let after = Utc::now();
    let failed = b.failed();
    for d in &b.doubles {
        assert_eq!(d.requests().len(), 1, "{}", d.name());
        let row = failed
            .iter()
            .find(|r| r.sink == d.name())
            .or_fail(format!("{} pending after its 429", d.name()));
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("pending", 1),
            "{}",
            row.line
        );
        let at = next_try(row);
        // Discord's body asks for 1799.5 s; the least wait is one second.
        // `deliveries` shows whole seconds.
        let least = before + chrono::Duration::seconds(wait as i64 - 2);
        let most = after + chrono::Duration::seconds(wait as i64 + 1);
        assert!(
            at >= least && at <= most,
            "{}: next try {at}, asked {wait}s from {before}",
            d.name()
        );
    }
    // A second run finds every event not yet due: nothing is sent early.
    b.fw.run(&["check"]);
    for d in &b.doubles {
        assert_eq!(d.requests().len(), 1, "{} was retried early", d.name());
    }
}

#[test]
fn a_short_wait_is_honoured_and_then_the_message_goes() {
    let b = Bench::new("");
    for d in &b.doubles {
        d.rate_limit(1);
    }
    b.serve(story(
        &clean_feed(),
        1,
        "Pay rise agreed",
        "https://news.example.org/1",
    ));
    let mut daemon = b.fw.spawn_daemon();
    assert!(
        daemon.wait_for_stderr("running", SOON),
        "{}",
        daemon.stderr()
    );

    let sent = b.doubles.iter().all(|d| {
        d.receiver.wait_until(SOON, |all| {
            all.iter().filter(|r| r.succeeded()).count() == 1
        })
    });
    stop(&mut daemon, STOP);

    assert!(sent, "{}", daemon.stderr());
    for d in &b.doubles {
        let requests = d.requests();
        assert_eq!(requests.len(), 2, "{}: one 429, then the message", d.name());
        assert_eq!(requests[0].status, Some(429));
        assert!(
            requests[1].at.duration_since(requests[0].at) >= Duration::from_millis(900),
            "{} retried before the wait it was told",
            d.name()
        );
        assert_eq!(
            d.check(&requests[1]),
            d.check(&requests[0]),
            "the same message again"
        );
    }
}

#[test]
fn a_permanent_refusal_kills_the_event_at_once_with_the_platforms_words() {
    let b = Bench::new("");
    let texts: Vec<&str> = b.doubles.iter().map(Double::refuse).collect();
    b.serve(story(
        &clean_feed(),
        1,
        "Pay rise agreed",
        "https://news.example.org/1",
    ));

    let first = b.fw.run(&["check"]);
    let second = b.fw.run(&["check"]);

    let failed = b.failed();
    let printed = format!(
        "{}{}{}{}",
        first.stdout,
        first.stderr,
        second.stderr,
        failed.iter().map(|r| r.line.clone()).collect::<String>()
    );
    for secret in Platform::secrets() {
        assert!(
            !printed.contains(secret),
            "a secret was printed:\n{printed}"
        );
    }
    for (d, text) in b.doubles.iter().zip(texts) {
        assert_eq!(d.requests().len(), 1, "{} was tried again", d.name());
        let row = failed
            .iter()
            .find(|r| r.sink == d.name())
            .or_fail(format!("{} listed as failed", d.name()));
        assert_eq!(
            (row.state.as_str(), row.attempts),
            ("dead", 1),
            "{}",
            row.line
        );
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.contains(text), "{}: {error}", d.name());
    }
    let db = b.fw.database_path();
    assert_eq!(delivery_states(&db).get("dead"), Some(&5));
}

#[test]
fn matrix_sends_under_the_event_id_and_a_redelivery_reuses_it() {
    let b = Bench::new("");
    b.serve(story(
        &clean_feed(),
        1,
        "Pay rise agreed",
        "https://news.example.org/1",
    ));
    b.fw.run(&["check"]).assert_code(0);
    let events = b.fw.events();
    let id = events[0]["id"].as_str().or_fail("an event id").to_owned();
    let matrix = b.double(Platform::Matrix);

    b.fw.run(&["redeliver", &id]).assert_code(0);
    b.fw.run(&["check"]).assert_code(0);

    let puts = matrix.requests();
    assert_eq!(puts.len(), 2, "sent, then sent again");
    for put in &puts {
        assert_eq!(txn_id(put).as_deref(), Some(id.as_str()), "{}", put.path);
        matrix.check(put).or_fail("a documented room send");
    }
    assert_eq!(matrix.messages().len(), 1, "one message by transaction id");
    // The other channels were re-sent too: at least once, not at most.
    assert_eq!(b.double(Platform::Slack).requests().len(), 2);
}

#[test]
fn no_message_is_lost_on_any_channel_while_the_daemon_is_killed_again_and_again() {
    let b = Bench::new("");
    let mut feed = Feed::serve(&b.origin, FEED);
    let db = b.fw.database_path();
    for d in &b.doubles {
        d.slow(Duration::from_millis(250));
    }
    for round in 0..4 {
        let mut daemon = b.fw.spawn_daemon();
        feed.publish(&b.origin);
        thread::sleep(Duration::from_millis(700 + 300 * round));
        daemon.signal("KILL");
        assert_eq!(daemon.wait_exit(STOP), 128 + 9, "round {round}");
    }
    let titles: Vec<String> = (1..=feed.stories.len())
        .map(|n| format!("Story {n} of news-feed"))
        .collect();
    let mut daemon = b.fw.spawn_daemon();
    assert!(
        daemon.wait_for_stderr("running", SOON),
        "{}",
        daemon.stderr()
    );
    let all_sent = b.doubles.iter().all(|d| {
        d.receiver.wait_until(Duration::from_secs(30), |all| {
            let messages = unescaped(d.messages_in(all));
            titles
                .iter()
                .all(|t| messages.iter().any(|m| m.contains(t.as_str())))
        })
    });
    stop(&mut daemon, STOP);

    let got: Vec<(&str, Vec<String>)> =
        b.doubles.iter().map(|d| (d.name(), d.messages())).collect();
    assert!(
        all_sent,
        "wanted {titles:?}, got {got:#?}\n{}",
        daemon.stderr()
    );
    let states = delivery_states(&db);
    assert_eq!(
        states.keys().collect::<Vec<_>>(),
        ["delivered"],
        "{states:?}"
    );
    for d in &b.doubles {
        let messages = unescaped(d.messages());
        for t in &titles {
            let n = messages.iter().filter(|m| m.contains(t.as_str())).count();
            assert!(n >= 1, "{}: {t} missing", d.name());
            if d.platform == Platform::Matrix {
                assert_eq!(n, 1, "matrix posted {t} twice");
            }
        }
    }
}

/// Messages with Markdown's backslash escapes taken out, to look for a title.
fn unescaped(messages: Vec<String>) -> Vec<String> {
    messages.into_iter().map(|m| m.replace('\\', "")).collect()
}

/// A script that keeps what it was given and exits with `status`.
fn script(dir: &std::path::Path, status: i32) -> String {
    let path = dir.join("on-event.sh");
    let text = format!(
        "#!/bin/sh\ncat > \"$(dirname \"$0\")/stdin.json\"\nprintf '%s %s\\n' \"$FEEDWATCH_EVENT_TYPE\" \"$FEEDWATCH_EVENT_ID\" >> \"$(dirname \"$0\")/env.txt\"\necho 'something went wrong' >&2\necho 'disk quota exceeded' >&2\nexit {status}\n"
    );
    fs::write(&path, text).or_fail("write the script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).or_fail("chmod the script");
    path.display().to_string()
}

fn command_bench(status: i32) -> (Feedwatch, TestServer) {
    let fw = Feedwatch::new();
    let origin = TestServer::start();
    origin.set(FEED, Response::rss(clean_feed()));
    let program = script(fw.dir(), status);
    fw.write_config(
        Toml::journal()
            .sink("run", "command")
            .line(format!("command = [\"{program}\", \"--from-feedwatch\"]"))
            .line("timeout = \"10s\"")
            .feed("news", &origin.url(FEED)),
    );
    fw.run(&["check"]).assert_code(0);
    origin.set(
        FEED,
        Response::rss(story(
            &clean_feed(),
            1,
            "Pay rise agreed",
            "https://news.example.org/1",
        )),
    );
    (fw, origin)
}

#[test]
fn the_command_gets_the_event_on_stdin_and_its_type_and_id_in_the_environment() {
    let (fw, _origin) = command_bench(0);

    fw.run(&["check"]).assert_code(0);

    let events = fw.events();
    let id = events[0]["id"].as_str().or_fail("an event id");
    let stdin = fs::read_to_string(fw.dir().join("stdin.json")).or_fail("the script's input");
    let given: serde_json::Value = serde_json::from_str(&stdin).or_fail("JSON on stdin");
    assert_eq!(given, events[0]);
    let env = fs::read_to_string(fw.dir().join("env.txt")).or_fail("the script's environment");
    assert_eq!(env, format!("item.new {id}\n"));
    let out = fw.run(&["deliveries"]);
    assert!(
        out.stdout.contains(&format!("{id}  run  delivered")),
        "{}",
        out.stdout
    );
}

#[test]
fn a_failing_command_is_retried_with_its_last_words_on_stderr() {
    let (fw, _origin) = command_bench(3);

    fw.run(&["check"]);

    let out = fw.run(&["deliveries", "--failed"]);
    let rows = listing(&out);
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("pending", 1));
    let error = rows[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("exit status: 3") && error.ends_with("disk quota exceeded"),
        "{error}"
    );
}

#[test]
fn notify_test_prints_what_each_receiver_answered() {
    let b = Bench::new("");
    for d in &b.doubles {
        let out = b.fw.run(&["notify-test", d.name()]);
        out.assert_code(0);
        let requests = d.requests();
        assert_eq!(requests.len(), 1, "{}: sent at once", d.name());
        let text = d.check(&requests[0]).or_fail(d.name());
        assert!(text.contains("feedwatch test"), "{}: {text}", d.name());
        assert!(
            out.stdout.contains("answer: 2"),
            "{}: {}",
            d.name(),
            out.stdout
        );
        assert!(out.stdout.contains("result: delivered"), "{}", out.stdout);
        let printed = format!("{}{}", out.stdout, out.stderr);
        for secret in Platform::secrets() {
            assert!(
                !printed.contains(secret),
                "{} printed a secret:\n{printed}",
                d.name()
            );
        }
    }
    let slack = b.double(Platform::Slack);
    let said = slack.refuse();
    let out = b.fw.run(&["notify-test", "slack"]);
    out.assert_code(1);
    assert!(
        out.stdout.contains("answer: 404 Not Found"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(said), "{}", out.stdout);
    // Nothing went through the outbox.
    assert!(b.fw.run(&["deliveries"]).stdout.is_empty());
}

#[test]
fn notify_test_works_for_webhook_and_log_sinks_too() {
    let fw = Feedwatch::new();
    let receiver = crate::support::receiver::Receiver::start();
    fw.write_config(
        Toml::journal()
            .webhook("hook", &receiver.url("/hook"))
            .source("news", "https://news.example.org/feed"),
    );

    let hook = fw.run(&["notify-test", "hook"]);
    let journal = fw.run(&["notify-test", "journal"]);
    let missing = fw.run(&["notify-test", "nowhere"]);

    hook.assert_code(0);
    assert!(
        hook.stdout.contains("answer: 204 No Content"),
        "{}",
        hook.stdout
    );
    let posts = receiver.all();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].event()["source"]["name"], "feedwatch-notify-test");
    journal.assert_code(0);
    assert_eq!(fw.events()[0]["source"]["name"], "feedwatch-notify-test");
    missing.assert_code(2);
}
