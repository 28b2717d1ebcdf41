//! `report` in every format, read back the way its reader would: the real
//! binary on a database filled by real polls of a local origin.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::changes::*;
use crate::support::{Feedwatch, OrFail, Response, TestServer, Toml};

/// Timestamps, ports and event ids differ from run to run.
fn stable(text: &str) -> String {
    let rules = [
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?( UTC|Z)",
            "[TIME]",
        ),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"evt_[0-9A-Z]{26}", "evt_[ID]"),
    ];
    let mut text = text.to_string();
    for (pattern, with) in rules {
        let re = regex::Regex::new(pattern).or_fail("a valid pattern");
        text = re.replace_all(&text, with).into_owned();
    }
    text
}

#[test]
fn text_report_groups_changes_with_unified_diffs() {
    let c = Changes::recorded("");

    let text = c.stdout(&["report"]);

    assert!(!text.contains('\u{1b}'), "colour in a pipe:\n{text}");
    assert!(text.starts_with("4 changes in 1 source from "), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let kinds: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("  2"))
        .filter_map(|l| l.split_whitespace().nth(3))
        .collect();
    assert_eq!(
        kinds,
        [
            "item.updated",
            "source.bulk_change",
            "item.updated",
            "item.new"
        ],
        "newest first:\n{text}"
    );
    assert!(text.contains(&format!("-{}", "The charity")), "{text}");
    assert!(
        text.contains(NEW_WORDS) && text.contains(OLD_WORDS),
        "{text}"
    );
    assert!(
        text.contains(HOSTILE_TITLE_EDITED),
        "shown as text:\n{text}"
    );
    insta::assert_snapshot!("text_report", stable(&text));
}

#[test]
fn text_report_is_coloured_only_on_a_terminal() {
    let c = Changes::recorded("");
    let on_terminal = |extra: &[&str], env: Option<(&str, &str)>| {
        let args: Vec<&str> = ["report"].iter().chain(extra).copied().collect();
        let inner = c.fw.command(&args);
        let mut line = format!("'{}'", inner.get_program().to_string_lossy());
        for arg in inner.get_args() {
            line.push_str(&format!(" '{}'", arg.to_string_lossy()));
        }
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .current_dir(c.fw.dir())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().or_fail("run script(1) for a terminal");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let coloured = on_terminal(&[], None);
    let flag = on_terminal(&["--no-color"], None);
    let env = on_terminal(&[], Some(("NO_COLOR", "1")));

    assert!(coloured.contains("\u{1b}[32m+"), "{coloured}");
    assert!(coloured.contains("\u{1b}[31m-"), "{coloured}");
    assert!(!flag.contains('\u{1b}'), "{flag}");
    assert!(!env.contains('\u{1b}'), "{env}");
    assert!(flag.contains("source.bulk_change"), "{flag}");
}

#[test]
fn markdown_report_has_headings_links_and_diff_blocks() {
    let c = Changes::recorded("");

    let md = c.stdout(&["report", "--format", "markdown"]);

    assert!(md.starts_with("# Changes from "), "{md}");
    assert!(md.contains(&format!("\n## {NAME}\n")), "{md}");
    assert!(md.contains(&format!("](<{EDITED_LINK}>)")), "{md}");
    assert!(md.contains("```diff\n--- before\n+++ after\n"), "{md}");
    assert!(
        md.contains("| item.new | item.updated | source.bulk_change |"),
        "{md}"
    );
    assert!(md.contains(&format!("| {NAME} | 1 | 2 | 1 |")), "{md}");
    let outside_code: String = md.split("```").step_by(2).collect();
    assert!(
        !outside_code.contains("<script>"),
        "raw markup in Markdown:\n{md}"
    );
    assert!(md.contains("\\<script\\>"), "{md}");
    assert!(!md.contains("javascript:"), "{md}");
    insta::assert_snapshot!("markdown_report", stable(&md));
}

#[test]
fn json_report_is_the_events_newest_first() {
    let c = Changes::recorded("");

    let json = c.stdout(&["report", "--format", "json"]);

    let report: Vec<Value> = serde_json::from_str(&json).or_fail("the report is JSON");
    let mut logged = c.fw.events();
    logged.reverse();
    assert_eq!(report, logged, "the same events the log sink wrote");
    let new = report
        .iter()
        .find(|e| e["type"] == "item.new")
        .or_fail("an item.new event");
    assert_eq!(new["item"]["title"], HOSTILE_TITLE);
}

#[test]
fn html_report_is_self_contained_escaped_and_marks_words() {
    let c = Changes::recorded("");

    let html = c.stdout(&["report", "--format", "html"]);

    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("Content-Security-Policy"));
    let lower = html.to_lowercase();
    for forbidden in [
        "<script",
        "src=",
        "<link",
        "url(",
        "@import",
        "<iframe",
        "javascript:",
    ] {
        assert!(
            !lower.contains(forbidden),
            "{forbidden} in the page:\n{html}"
        );
    }
    assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
    assert!(html.contains("apologises <ins>again</ins>"), "{html}");
    assert!(
        html.contains("<del>also</del> found <ins>that many</ins> practitioners"),
        "{html}"
    );
    assert!(html.contains("battling <ins>very</ins> high"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"{EDITED_LINK}\"")),
        "story linked"
    );
    assert!(
        html.contains("<ins>极速赛车168最新开奖号码</ins> "),
        "{html}"
    );
    let summary = between(&html, "<div class=\"summary\">", "</div>");
    for cell in [
        "<th scope=\"col\">new</th>",
        "<th scope=\"col\">edited</th>",
    ] {
        assert!(summary.contains(cell), "{summary}");
    }
    assert!(
        summary.contains(&format!(
            "{NAME}</a></th><td>1</td><td>2</td><td>1</td><td>4</td>"
        )),
        "{summary}"
    );
    assert_eq!(html.matches("<article ").count(), EVENT_COUNT);
}

#[test]
fn atom_report_is_a_feed_with_one_entry_per_event() {
    let c = Changes::recorded("");

    let xml = c.stdout(&["report", "--format", "atom"]);
    let again = c.stdout(&["report", "--format", "atom"]);

    let feed = feed_rs::parser::parse(xml.as_bytes()).or_fail("feed-rs reads the feed");
    assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
    assert!(feed.id.starts_with("urn:uuid:"), "{}", feed.id);
    assert!(feed.updated.is_some() && feed.title.is_some());
    assert_eq!(feed.entries.len(), EVENT_COUNT);
    let ids: BTreeSet<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), EVENT_COUNT, "entry ids are unique");
    assert!(ids.iter().all(|id| id.starts_with("urn:uuid:")));
    assert_eq!(xml, again, "the same events give the same feed");
    for entry in &feed.entries {
        assert!(
            entry.updated.is_some() && entry.title.is_some(),
            "{entry:?}"
        );
    }
    let hostile = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.contains("again"))
        })
        .or_fail("the hostile title's edit");
    let title = &hostile.title.as_ref().or_fail("a title").content;
    assert!(
        title.contains(HOSTILE_TITLE_EDITED),
        "shown as text: {title}"
    );
    let body = hostile
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .unwrap_or_default();
    assert!(body.contains("apologises <ins>again</ins>"), "{body}");
    assert!(!body.contains("<script"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
    let edited = feed
        .entries
        .iter()
        .find(|e| e.links.iter().any(|l| l.href == EDITED_LINK))
        .or_fail("an entry linking to the edited story");
    let body = edited
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .unwrap_or_default();
    assert!(
        body.contains("<del>also</del> found <ins>that many</ins>"),
        "{body}"
    );
    assert!(body.contains("<br>"), "line breaks kept as markup: {body}");
    for fancy in ["<time", "<details", "class=", "style"] {
        assert!(!body.contains(fancy), "{fancy} in feed content: {body}");
    }
}

#[test]
fn report_filters_by_source_type_and_time() {
    let c = Changes::recorded("");
    let count = |args: &[&str]| {
        let mut all = vec!["report", "--format", "json"];
        all.extend(args);
        let v: Vec<Value> = serde_json::from_str(&c.stdout(&all)).or_fail("JSON");
        v.len()
    };

    assert_eq!(count(&["--type", "item.new"]), 1);
    assert_eq!(count(&["--type", "item.*"]), 3);
    assert_eq!(count(&["--type", "item.new,source.bulk_change"]), 2);
    assert_eq!(count(&["--source", NAME]), EVENT_COUNT);
    assert_eq!(count(&["--since", "1h"]), EVENT_COUNT);
    assert_eq!(count(&["--since", "10000000years"]), EVENT_COUNT);
    assert_eq!(count(&["--from", "2000-01-01"]), EVENT_COUNT);
    assert_eq!(count(&["--from", "2999-01-01T00:00:00Z"]), 0);

    let unknown = c.fw.run(&["report", "--source", "nosuch"]);
    unknown.assert_code(2);
    assert!(unknown.stderr.contains("nosuch"), "{}", unknown.stderr);
    let bad_type = c.fw.run(&["report", "--type", "item.edited"]);
    bad_type.assert_code(2);
    assert!(
        bad_type.stderr.contains("item.updated"),
        "{}",
        bad_type.stderr
    );
    c.fw.run(&["report", "--from", "last tuesday"])
        .assert_code(2);
    c.fw.run(&["report", "--since", "1h", "--from", "2000-01-01"])
        .assert_code(2);
    let none = c.stdout(&["report", "--from", "2999-01-01"]);
    assert!(none.starts_with("No changes from"), "{none}");
}

#[test]
fn report_into_a_closed_pipe_exits_quietly() {
    let c = Changes::recorded("");
    for format in ["text", "html"] {
        let mut child =
            c.fw.command(&["report", "--format", format])
                .stdout(Stdio::piped())
                .spawn()
                .or_fail("spawn");
        drop(child.stdout.take());
        let out = child.wait_with_output().or_fail("wait");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{stderr}"
        );
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).or_fail(format!("no {start} in\n{text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[test]
fn page_changes_are_reported_with_word_diffs() {
    let page = include_str!("../fixtures/chamberlain-road-to-recovery.html");
    let server = TestServer::start();
    server.set(
        "/recovery/",
        Response::ok(page).header("Content-Type", "text/html; charset=utf-8"),
    );
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .source("recovery", &server.url("/recovery/"))
            .line("type = \"page\"\nselect = \"article\""),
    );
    fw.run(&["check"]).assert_code(0);
    let edited = page.replace(
        "the average caseload is now a more manageable 18.",
        "the average caseload is now 23.",
    );
    server.set(
        "/recovery/",
        Response::ok(edited).header("Content-Type", "text/html; charset=utf-8"),
    );
    fw.run(&["check"]).assert_code(0);

    let html = fw.run(&["report", "--format", "html"]);
    let text = fw.run(&["report"]);

    html.assert_code(0);
    assert!(
        html.stdout.contains("class=\"change page-changed\""),
        "{}",
        html.stdout
    );
    assert!(
        html.stdout
            .contains("now <del>a more manageable 18.</del><ins>23.</ins>"),
        "{}",
        html.stdout
    );
    assert!(text.stdout.contains("page.changed"), "{}", text.stdout);
    assert!(
        text.stdout.contains("+While social workers"),
        "{}",
        text.stdout
    );
}
