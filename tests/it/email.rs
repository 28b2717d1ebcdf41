//! Email sinks against a real SMTP server (aiosmtpd on 127.0.0.1): every
//! message read back with an independent MIME parser. Headers that thread
//! and identify, both parts with the word diff, a hostile title escaped,
//! one message for a defaced feed, digests, a 550 that kills the event, a
//! server that is down and comes back, SIGKILLs that lose nothing, and the
//! HTML part in a browser at phone width. TLS and logins: `email_tls`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::changes::{self, EDITED_KEY, EDITED_LINK, FEED, HOSTILE_KEY, NAME};
use crate::support::hooks::{Feed, delivery_states, integrity, listing, stop, str_of};
use crate::support::smtp::{self, Received, Smtp};
use crate::support::*;

const SOON: Duration = Duration::from_secs(15);
pub const FROM: &str = "feedwatch@alerts.example.org";
pub const TO: &str = "newsroom@example.org";
/// The worst a feed title might carry: chat mentions, markup, Markdown and a script.
const CHAT_HOSTILE: &str =
    "<!channel> @everyone @here <b>x</b> [link](http://evil) *bold* <script>";
const CHAT_HOSTILE_KEY: &str = "https://www.communitycare.co.uk/?p=999002";

/// A watched folder, an origin and an SMTP server; `None` where aiosmtpd
/// is not installed outside CI.
struct Mail {
    fw: Feedwatch,
    origin: TestServer,
    smtp: Smtp,
}

impl Mail {
    fn start(rejected: &[&str]) -> Option<Mail> {
        let python = smtp::python()?;
        let fw = Feedwatch::new();
        let smtp = Smtp::start(&python, &fw.dir().join("mail"), 0, rejected);
        Some(Mail {
            fw,
            origin: TestServer::start(),
            smtp,
        })
    }

    /// The Frontline feed on the origin, the journal, and an email sink
    /// `mail` with `extra` lines.
    fn configure(&self, smtp_url: &str, extra: &str) {
        self.fw.write_config(
            changes::config(&self.origin, "", "1s")
                .sink("mail", "email")
                .line(format!("smtp = \"{smtp_url}\""))
                .line(format!("from = \"Feedwatch <{FROM}>\""))
                .line(format!("to = [\"{TO}\"]"))
                .line(extra),
        );
    }

    fn serve(&self, xml: String) {
        self.origin.set(FEED, Response::rss(xml));
    }

    fn check(&self) -> Output {
        self.fw.run(&["check"])
    }
}

/// A received message, parsed.
struct Parsed {
    raw: Vec<u8>,
}

impl Parsed {
    fn of(received: &Received) -> Parsed {
        Parsed {
            raw: received.raw.clone(),
        }
    }

    fn message(&self) -> mail_parser::Message<'_> {
        MessageParser::default()
            .parse(&self.raw)
            .or_fail("parse a received message")
    }

    fn subject(&self) -> String {
        self.message().subject().unwrap_or_default().to_owned()
    }

    fn message_id(&self) -> String {
        self.message().message_id().unwrap_or_default().to_owned()
    }

    fn header(&self, name: &str) -> String {
        self.message()
            .header_raw(name)
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The text/plain and text/html parts' decoded text, checking that the
    /// message is a `multipart/alternative` of exactly those two.
    fn parts(&self) -> (String, String) {
        let message = self.message();
        let root = message.root_part().content_type().or_fail("a Content-Type");
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative")),
            "{}",
            String::from_utf8_lossy(&self.raw)
        );
        let types: Vec<String> = message
            .parts
            .iter()
            .skip(1)
            .filter_map(|p| p.content_type())
            .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or_default()))
            .collect();
        assert_eq!(types, ["text/plain", "text/html"]);
        let text = message.text_part(0).or_fail("a text part");
        let html = message.html_part(0).or_fail("an html part");
        // Lines travel as CRLF; the text is compared as written.
        (
            text.text_contents().or_fail("text").replace("\r\n", "\n"),
            html.text_contents().or_fail("html").replace("\r\n", "\n"),
        )
    }
}

fn parsed(messages: &[Received]) -> Vec<Parsed> {
    messages.iter().map(Parsed::of).collect()
}

/// The thread id a story's messages reply to, computed here from its
/// definition: a hash of the source's name and the item key.
fn story_id(source: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(source.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let hex: String = hash.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("story.{hex}@alerts.example.org")
}

fn event_of<'a>(journal: &'a [Value], kind: &str, key: &str) -> Vec<&'a Value> {
    journal
        .iter()
        .filter(|e| {
            str_of(e, "/type") == kind
                && e.pointer("/item/key").and_then(Value::as_str) == Some(key)
        })
        .collect()
}

fn by_id<'a>(messages: &'a [Parsed], event: &Value) -> &'a Parsed {
    let id = format!("{}@alerts.example.org", str_of(event, "/id"));
    messages
        .iter()
        .find(|m| m.message_id() == id)
        .or_fail(format!("no message with Message-ID <{id}>"))
}

/// The feed of the fourth step: the hostile story edited once more and a
/// story titled with chat markup published.
fn fourth_feed() -> String {
    let xml = changes::feed_at(2).replace("apologises again", "apologises again, twice");
    let escaped = CHAT_HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    insert_item_top(
        &xml,
        CHAT_HOSTILE_KEY,
        &escaped,
        "https://www.communitycare.co.uk/chat-markup",
        "Thu, 06 Feb 2025 10:00:00 +0000",
        "<p>Text.</p>",
    )
}

#[test]
fn each_change_arrives_as_a_threaded_multipart_message_with_feed_text_escaped() {
    let Some(m) = Mail::start(&[]) else { return };
    m.configure(&m.smtp.url(), "");
    for step in 0..3 {
        m.serve(changes::feed_at(step));
        m.check().assert_code(0);
    }
    m.serve(fourth_feed());
    m.check().assert_code(0);
    let journal = m.fw.events();
    let messages = parsed(&m.smtp.wait_for(journal.len(), SOON));
    assert_eq!(messages.len(), journal.len(), "{journal:#?}");
    assert!(m.smtp.messages().iter().all(|r| r.recipients == [TO]));

    // One message per event, identified by the event's id.
    let ids: BTreeSet<String> = messages.iter().map(Parsed::message_id).collect();
    let expected: BTreeSet<String> = journal
        .iter()
        .map(|e| format!("{}@alerts.example.org", str_of(e, "/id")))
        .collect();
    assert_eq!(ids, expected);

    // The content edit: headers, both parts, the word diff.
    let edit = by_id(&messages, event_of(&journal, "item.updated", EDITED_KEY)[0]);
    let title = str_of(
        event_of(&journal, "item.updated", EDITED_KEY)[0],
        "/item/title",
    );
    assert_eq!(edit.subject(), format!("[feedwatch] Edited: {title}"));
    assert_eq!(edit.header("Auto-Submitted"), "auto-generated");
    assert!(
        edit.header("List-Id")
            .ends_with("<mail.feedwatch.localhost>"),
        "{}",
        edit.header("List-Id")
    );
    let parsed_edit = edit.message();
    assert!(parsed_edit.date().is_some());
    let from = parsed_edit.from().and_then(|a| a.first()).or_fail("From");
    assert_eq!(from.address(), Some(FROM));
    let to = parsed_edit.to().and_then(|a| a.first()).or_fail("To");
    assert_eq!(to.address(), Some(TO));
    let (text, html) = edit.parts();
    assert!(
        text.starts_with(&format!("Edited: {title} (content)\n{EDITED_LINK}\n")),
        "{text}"
    );
    assert!(
        text.contains("[-also-]") && text.contains("{+that many+}"),
        "{text}"
    );
    assert!(
        html.contains(">that many</ins>") && html.contains(">also</del>"),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"{EDITED_LINK}\"")), "{html}");
    for remote in ["<img", "<link", "src=", "url(", "@import", "<script"] {
        assert!(!html.to_lowercase().contains(remote), "{remote} in {html}");
    }

    // The hostile story: one thread, its markup shown and never made.
    let hostile: Vec<&Parsed> = ["item.new", "item.updated"]
        .iter()
        .flat_map(|kind| event_of(&journal, kind, HOSTILE_KEY))
        .map(|e| by_id(&messages, e))
        .collect();
    assert_eq!(
        hostile.len(),
        3,
        "one new and two edits of the hostile story"
    );
    let thread = story_id(NAME, HOSTILE_KEY);
    for message in &hostile {
        let replied = message.message();
        assert_eq!(replied.in_reply_to().as_text(), Some(thread.as_str()));
        assert_eq!(replied.references().as_text(), Some(thread.as_str()));
        let (_, html) = message.parts();
        assert!(html.contains("&lt;script&gt;document.title"), "{html}");
        assert!(!html.contains("<b>denies"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
    assert!(
        hostile[1]
            .subject()
            .starts_with("[feedwatch] Edited: <script>")
    );
    let other = story_id(NAME, EDITED_KEY);
    assert_eq!(edit.message().in_reply_to().as_text(), Some(other.as_str()));

    let chat = by_id(
        &messages,
        event_of(&journal, "item.new", CHAT_HOSTILE_KEY)[0],
    );
    assert_eq!(chat.subject(), format!("[feedwatch] New: {CHAT_HOSTILE}"));
    let (text, html) = chat.parts();
    assert!(text.contains(CHAT_HOSTILE), "{text}");
    assert!(
        html.contains("&lt;!channel&gt; @everyone @here &lt;b&gt;x&lt;/b&gt; [link](http://evil) *bold* &lt;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("href=\"http://evil"), "{html}");
    assert!(!html.contains("<b>x"), "{html}");
}

#[test]
fn a_defaced_feed_sends_one_message() {
    let Some(m) = Mail::start(&[]) else { return };
    m.configure(&m.smtp.url(), "");
    m.serve(clean_feed());
    m.check().assert_code(0);
    m.serve(defaced_feed());
    m.check().assert_code(0);
    let journal = m.fw.events();
    assert_eq!(journal.len(), 1, "{journal:#?}");
    let messages = parsed(&m.smtp.wait_for(1, SOON));
    assert_eq!(messages.len(), 1);
    let subject = messages[0].subject();
    assert_eq!(
        subject,
        format!(
            "[feedwatch] Feed defaced: prefix {:?} added to 10 titles",
            SPAM_PREFIX.trim_end()
        ),
    );
    let (text, html) = messages[0].parts();
    assert!(text.contains("10 items:"), "{text}");
    assert!(html.contains(SPAM_PREFIX.trim_end()), "{html}");

    // Sent again by hand, it is recognisably the same message.
    let id = str_of(&journal[0], "/id");
    m.fw.run(&["redeliver", id]).assert_code(0);
    m.check().assert_code(0);
    let again = parsed(&m.smtp.wait_for(2, SOON));
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].message_id(), again[0].message_id());
    assert_eq!(again[1].message_id(), format!("{id}@alerts.example.org"));
    assert_eq!(again[1].subject(), subject);
    assert_eq!(again[1].header("Date"), again[0].header("Date"));
}

#[test]
fn a_digest_sends_one_message_for_a_window() {
    let Some(m) = Mail::start(&[]) else { return };
    m.configure(&m.smtp.url(), "digest = \"8s\"");
    for step in 0..3 {
        m.serve(changes::feed_at(step));
        // A digest gathering its window is not a failed delivery.
        m.check().assert_code(0);
    }
    let journal = m.fw.events();
    assert_eq!(journal.len(), 4, "{journal:#?}");
    assert!(
        m.smtp.messages().is_empty(),
        "sent before the window closed"
    );
    let waiting = m.fw.run(&["deliveries", "--sink", "mail"]).stdout;
    assert_eq!(waiting.matches("  mail  pending").count(), 4, "{waiting}");
    assert_eq!(
        waiting.matches("in the next digest").count(),
        4,
        "{waiting}"
    );
    let mut messages = Vec::new();
    for _ in 0..60 {
        thread::sleep(Duration::from_millis(500));
        m.check().assert_code(0);
        messages = m.smtp.messages();
        if !messages.is_empty() {
            break;
        }
    }
    let messages = parsed(&messages);
    assert_eq!(messages.len(), 1, "one message for the window");
    assert!(
        messages[0].subject().starts_with("[feedwatch] 4 changes: "),
        "{}",
        messages[0].subject()
    );
    let (text, html) = messages[0].parts();
    for event in &journal {
        let id = str_of(event, "/id");
        assert!(
            text.contains(id) && html.contains(id),
            "{id} missing:\n{text}"
        );
    }
    assert!(text.contains("{+that many+}"), "{text}");
    assert!(html.contains(">that many</ins>"), "{html}");
    let states = delivery_states(&m.fw.database_path());
    assert_eq!(states.get("delivered"), Some(&8), "{states:?}");
}

#[test]
fn a_permanent_refusal_makes_the_event_dead_with_the_servers_words() {
    let rejected = "gone@example.org";
    let Some(m) = Mail::start(&[rejected]) else {
        return;
    };
    m.fw.write_config(
        changes::config(&m.origin, "", "1s")
            .sink("mail", "email")
            .line(format!("smtp = \"{}\"", m.smtp.url()))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{rejected}\"]")),
    );
    m.serve(changes::feed_at(0));
    m.check().assert_code(0);
    m.serve(changes::feed_at(1));
    m.check().assert_code(1);
    let failed = m.fw.run(&["deliveries", "--failed"]);
    failed.assert_code(0);
    let dead = listing(&failed);
    assert_eq!(dead.len(), 2, "{}", failed.stdout);
    assert!(failed.stdout.contains("550"), "{}", failed.stdout);
    assert!(
        failed
            .stdout
            .contains("mailbox unavailable, no such user here"),
        "{}",
        failed.stdout
    );
    assert!(m.smtp.messages().is_empty());
}

#[test]
fn a_server_that_is_down_leaves_events_pending_until_it_is_back() {
    let Some(python) = smtp::python() else { return };
    let fw = Feedwatch::new();
    let origin = TestServer::start();
    let port = smtp::free_port();
    fw.write_config(
        changes::config(&origin, "", "1s")
            .sink("mail", "email")
            .line(format!("smtp = \"smtp://127.0.0.1:{port}\""))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{TO}\"]")),
    );
    origin.set(FEED, Response::rss(changes::feed_at(0)));
    fw.run(&["check"]).assert_code(0);
    origin.set(FEED, Response::rss(changes::feed_at(1)));
    fw.run(&["check"]).assert_code(1);
    let pending = fw.run(&["deliveries"]);
    let mail_rows: Vec<_> = pending
        .stdout
        .lines()
        .filter(|l| l.contains("  mail  "))
        .collect();
    assert_eq!(mail_rows.len(), 2, "{}", pending.stdout);
    assert!(
        mail_rows.iter().all(|l| l.contains("pending")),
        "{}",
        pending.stdout
    );
    assert!(
        mail_rows
            .iter()
            .any(|l| l.contains("last error: SMTP server: Connection error")),
        "{}",
        pending.stdout
    );

    let smtp = Smtp::start(&python, &fw.dir().join("mail"), port, &[]);
    let mut received = Vec::new();
    for _ in 0..60 {
        fw.run(&["check"]);
        received = smtp.messages();
        if received.len() >= 2 {
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(received.len(), 2, "{}", fw.run(&["deliveries"]).stdout);
    let states = delivery_states(&fw.database_path());
    assert_eq!(states.get("pending"), None, "{states:?}");
}

#[test]
fn sigkill_of_the_daemon_mid_stream_loses_no_message() {
    let Some(m) = Mail::start(&[]) else { return };
    let mut feed = Feed::serve(&m.origin, "/stream/feed/");
    m.fw.write_config(
        Toml::journal()
            .sink("mail", "email")
            .line(format!("smtp = \"{}\"", m.smtp.url()))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{TO}\"]"))
            .feed("stream", &feed.url(&m.origin))
            .line("interval = \"1s\""),
    );
    m.check().assert_code(0);
    let db = m.fw.database_path();
    for (round, ms) in [300u64, 1300, 700, 1100].into_iter().enumerate() {
        let mut daemon = m.fw.spawn_daemon();
        feed.publish(&m.origin);
        thread::sleep(Duration::from_millis(ms / 2));
        feed.publish(&m.origin);
        thread::sleep(Duration::from_millis(ms / 2));
        daemon.signal("KILL");
        assert_eq!(daemon.wait_exit(SOON), 128 + 9, "round {round}");
        assert_eq!(integrity(&db), "ok", "after SIGKILL in round {round}");
    }
    let mut daemon = m.fw.spawn_daemon();
    assert!(
        daemon.wait_for_stderr("running", SOON),
        "{}",
        daemon.stderr()
    );
    let mut all = false;
    for _ in 0..60 {
        let journal: BTreeSet<String> =
            m.fw.complete_events()
                .iter()
                .map(|e| format!("{}@alerts.example.org", str_of(e, "/id")))
                .collect();
        let sent: BTreeSet<String> = parsed(&m.smtp.messages())
            .iter()
            .map(Parsed::message_id)
            .collect();
        let keys_seen = m.fw.complete_events().len() >= feed.stories.len();
        if keys_seen && !journal.is_empty() && journal.is_subset(&sent) {
            all = true;
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    stop(&mut daemon, SOON);
    assert!(all, "{}", daemon.stderr());
    let states = delivery_states(&db);
    assert_eq!(states.get("pending"), None, "{states:?}");
    assert_eq!(states.get("dead"), None, "{states:?}");
    let journal = m.fw.events();
    assert_eq!(journal.len(), feed.stories.len(), "{journal:#?}");
}

#[test]
fn the_html_part_reads_on_a_phone() {
    let Some(browser) = crate::browser::chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Chromium for this test"
        );
        eprintln!("no Chromium installed: the email screenshot was not taken");
        return;
    };
    let Some(m) = Mail::start(&[]) else { return };
    m.configure(&m.smtp.url(), "");
    for step in 0..3 {
        m.serve(changes::feed_at(step));
        m.check().assert_code(0);
    }
    let journal = m.fw.events();
    let messages = parsed(&m.smtp.wait_for(journal.len(), SOON));
    let edit = by_id(&messages, event_of(&journal, "item.updated", EDITED_KEY)[0]);
    let (_, html) = edit.parts();
    let page = m.fw.dir().join("message.html");
    std::fs::write(&page, &html).or_fail("write the HTML part");
    let blank = m.fw.dir().join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><title>blank</title>").or_fail("write a blank page");
    let profile = m.fw.dir().join("chromium-profile");
    let url = |p: &std::path::Path| format!("file://{}", p.display());

    let dom = crate::browser::phone_dom(&browser, &profile, &url(&page));
    assert!(dom.contains(">that many</ins>"), "{dom}");
    assert!(!dom.to_lowercase().contains("<script"), "{dom}");

    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("email-screenshots");
    std::fs::create_dir_all(&artifacts).or_fail("create the artifact folder");
    let mut sizes = Vec::new();
    for (name, source) in [("email-phone", &page), ("blank-phone", &blank)] {
        let shot = artifacts.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let status = crate::browser::headless(&browser, &profile)
            .arg("--window-size=390,1200")
            .arg(format!("--screenshot={}", shot.display()))
            .arg(url(source))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .or_fail("run Chromium for a screenshot");
        assert!(status.success());
        assert_eq!(crate::browser::png_size(&shot).0, 390, "{}", shot.display());
        sizes.push(
            std::fs::metadata(&shot)
                .or_fail("stat the screenshot")
                .len(),
        );
        eprintln!("screenshot: {}", shot.display());
    }
    // Text and colour compress far worse than an empty page does.
    assert!(
        sizes[0] > sizes[1] * 3,
        "the message looks blank: {sizes:?} bytes"
    );
}

#[test]
fn notify_test_sends_a_sample_message_and_prints_the_servers_answer() {
    let rejected = "gone@example.org";
    let Some(m) = Mail::start(&[rejected]) else {
        return;
    };
    m.configure(&m.smtp.url(), "");
    let out = m.fw.run(&["notify-test", "mail"]);
    out.assert_code(0);
    assert!(out.stdout.contains("answer: 250"), "{}", out.stdout);
    let got = parsed(&m.smtp.wait_for(1, SOON));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].subject().contains("[feedwatch test]"),
        "{}",
        got[0].subject()
    );

    m.fw.write_config(
        changes::config(&m.origin, "", "1s")
            .sink("mail", "email")
            .line(format!("smtp = \"{}\"", m.smtp.url()))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{rejected}\"]")),
    );
    let out = m.fw.run(&["notify-test", "mail"]);
    out.assert_code(1);
    assert!(out.stdout.contains("550"), "{}", out.stdout);
    assert_eq!(m.smtp.messages().len(), 1, "a refused sample was delivered");
}
