//! Alert conditions on the real binary: `alert_if`, `alert_unless`,
//! `alert_fields` and `min_change` decide which item events are raised,
//! while every version is still stored.

use serde_json::Value;

use crate::support::watch::{FEED, NAME, Watch};
use crate::support::*;

/// Item 0's title, reworded in the tests.
const TITLE_0: &str = "How managers are inspiring social workers to progress in their careers";
/// In item 2's content.
const BURSARY: &str = "worth £18,000";
/// Item 1's title.
const TITLE_1: &str =
    "More children at risk of extra-familial harm or reliant on food banks, say social workers";

/// `type key` of each event, in order.
fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let key = e["item"]["key"].as_str().unwrap_or("-");
            format!("{} {key}", e["type"].as_str().unwrap_or("?"))
        })
        .collect()
}

fn retitled() -> String {
    replace(
        &clean_feed(),
        TITLE_0,
        "How managers inspire social workers to progress",
    )
}

fn new_story(xml: &str, guid: &str, body: &str) -> String {
    insert_item_top(
        xml,
        guid,
        "Frontline expands fast-track programme to Birmingham",
        &format!("https://www.communitycare.co.uk/{guid}/"),
        "Tue, 04 Feb 2025 09:00:00 +0000",
        body,
    )
}

#[test]
fn alert_if_raises_only_the_changes_whose_text_matches() {
    let w = Watch::baselined(r"alert_if = ['£\d']");
    let xml = replace(&retitled(), BURSARY, "worth £19,000");
    let xml = new_story(
        &xml,
        "plain",
        "<p>The first cohort starts in September.</p>",
    );
    let xml = new_story(&xml, "paid", "<p>Trainees receive £21,000.</p>");
    w.serve(&xml);

    let events = w.check();

    assert_eq!(
        summary(&events),
        ["item.new paid", &format!("item.updated {}", KEYS[2])],
        "{events:#?}"
    );
    assert_eq!(
        w.history_lines(KEYS[0]),
        2,
        "the held-back edit is still stored"
    );
    assert_eq!(
        w.history_lines("plain"),
        1,
        "the held-back story is still stored"
    );
}

#[test]
fn alert_unless_holds_back_the_changes_whose_text_matches() {
    let w = Watch::baselined(r"alert_unless = ['(?i)updated on \d+']");
    let xml = replace(
        &retitled(),
        BURSARY,
        "worth £18,000 (article updated on 5 February)",
    );
    w.serve(&xml);

    let events = w.check();

    assert_eq!(
        summary(&events),
        [format!("item.updated {}", KEYS[0])],
        "{events:#?}"
    );
    assert_eq!(w.history_lines(KEYS[2]), 2);
}

#[test]
fn alert_fields_limit_the_patterns_to_the_fields_named() {
    let w = Watch::baselined("alert_if = ['(?i)ofsted']\nalert_fields = [\"title\"]");
    let xml = replace(&clean_feed(), TITLE_1, "Ofsted: more children at risk");
    let xml = replace(&xml, BURSARY, "worth £18,000, Ofsted said");
    w.serve(&xml);

    let events = w.check();

    assert_eq!(
        summary(&events),
        [format!("item.updated {}", KEYS[1])],
        "{events:#?}"
    );
    assert_eq!(events[0]["changes"][0]["field"], "title");
    assert_eq!(w.history_lines(KEYS[2]), 2);
}

#[test]
fn min_change_holds_back_edits_smaller_than_it() {
    let w = Watch::baselined("min_change = 5");
    let xml = replace(&retitled(), BURSARY, "worth £19,000");
    w.serve(&xml);

    let events = w.check();

    assert_eq!(
        summary(&events),
        [format!("item.updated {}", KEYS[0])],
        "{events:#?}"
    );
    assert_eq!(w.history_lines(KEYS[2]), 2);
}

#[test]
fn settings_give_the_default_conditions_and_a_source_replaces_them() {
    let server = TestServer::start();
    let fw = Feedwatch::new();
    let toml = Toml::journal()
        .setting("min_change = 1000")
        .feed("quiet", &server.url(FEED))
        .feed("loud", &server.url(FEED))
        .line("min_change = 0");
    fw.write_config(toml);
    server.set(FEED, Response::rss(clean_feed()));
    fw.run(&["check"]).assert_code(0);
    server.set(FEED, Response::rss(retitled()));

    fw.run(&["check"]).assert_code(0);

    let events = fw.events();
    let sources: Vec<&str> = events
        .iter()
        .filter_map(|e| e["source"]["name"].as_str())
        .collect();
    assert_eq!(sources, ["loud"], "{events:#?}");
}

#[test]
fn a_bad_condition_is_a_validate_error_at_its_line_and_column() {
    let fw = Feedwatch::new();
    let toml = Toml::journal()
        .setting("alert_unless = ['(unclosed']")
        .feed(NAME, "https://example.org/feed")
        .line("alert_if = ['ok', '[z-a]']\nalert_fields = [\"titel\"]\nmin_change = -1");
    fw.write_config(&toml);
    let text = toml.to_string();
    let at = |needle: &str| {
        let offset = text.find(needle).or_fail("the needle is in the file");
        let line = text[..offset].lines().count().max(1);
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        format!(":{}:{}:", line, offset - line_start + 1)
    };

    let out = fw.run(&["validate"]);

    out.assert_code(2);
    for (needle, key) in [
        ("'(unclosed'", "settings.alert_unless"),
        ("'[z-a]'", "source \"frontline\".alert_if"),
        ("\"titel\"", "source \"frontline\".alert_fields"),
        ("-1", "source \"frontline\".min_change"),
    ] {
        let expected = format!("{} {key}:", at(needle));
        assert!(
            out.stderr.lines().any(|l| l.contains(&expected)),
            "no {expected:?} in {}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("did you mean `title`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_story_flipping_between_two_versions_is_reported_once_then_flapping_then_not_again() {
    let w = Watch::baselined("");
    let (a, b, c) = (
        clean_feed(),
        retitled(),
        replace(&clean_feed(), TITLE_0, "Managers, inspired"),
    );
    let mut raised = Vec::new();

    for xml in [&b, &a, &b, &a, &c, &a] {
        w.serve(xml);
        raised.push(summary(&w.check()).join(", "));
    }

    let updated = format!("item.updated {}", KEYS[0]);
    let flapping = format!("item.flapping {}", KEYS[0]);
    assert_eq!(
        raised,
        [&updated, &flapping, "", "", &updated, &flapping],
        "B, A, B, A, C, A after a baseline of A"
    );
    assert_eq!(w.history_lines(KEYS[0]), 7, "every version is stored");
}

#[test]
fn dates_moving_alone_raise_nothing_and_do_not_count_as_a_flip() {
    let w = Watch::baselined("");
    let moved = replace(
        &clean_feed(),
        "Thu, 19 Dec 2024 14:00:15 +0000",
        "Fri, 20 Dec 2024 09:00:00 +0000",
    );
    let retitled_moved = replace(
        &retitled(),
        "Thu, 19 Dec 2024 14:00:15 +0000",
        "Fri, 20 Dec 2024 09:00:00 +0000",
    );
    let mut raised = Vec::new();

    for xml in [&moved, &retitled(), &retitled_moved, &clean_feed()] {
        w.serve(xml);
        raised.push(summary(&w.check()).join(", "));
    }

    let updated = format!("item.updated {}", KEYS[0]);
    let flapping = format!("item.flapping {}", KEYS[0]);
    assert_eq!(raised, ["", &updated, "", &flapping]);
    assert_eq!(
        w.history_lines(KEYS[0]),
        5,
        "a date that moved is still a version"
    );
}

#[test]
fn report_all_shows_what_the_conditions_held_back_marked_as_such() {
    let w = Watch::baselined("min_change = 5");
    w.serve(&replace(&retitled(), BURSARY, "worth £19,000"));
    w.check();
    let report = |args: &[&str]| {
        let out = w.fw.run(args);
        out.assert_code(0);
        out.stdout
    };

    let plain = report(&["report", "--no-color"]);
    let all = report(&["report", "--all", "--no-color"]);
    let json = report(&["report", "--all", "--format", "json"]);
    let markdown = report(&["report", "--all", "--format", "markdown"]);
    let held = "[held back: 1 character changed, under min_change = 5]";

    assert!(plain.contains("How managers inspire"), "{plain}");
    assert!(!plain.contains("held back"), "{plain}");
    assert!(!plain.contains("Frontline rebrands"), "{plain}");
    assert!(all.contains(&format!("{held} Frontline rebrands")), "{all}");
    assert!(
        !all.contains("held back: 1 character changed, under min_change = 5] How"),
        "{all}"
    );
    assert!(markdown.contains("held back"), "{markdown}");
    let value: Value = serde_json::from_str(&json).or_fail("report --format json is JSON");
    let reasons: Vec<&str> = value
        .as_array()
        .or_fail("a list of events")
        .iter()
        .filter_map(|e| e["held"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["1 character changed, under min_change = 5"],
        "{json}"
    );
    let delivered = w.fw.events();
    assert_eq!(
        delivered.len(),
        1,
        "a held-back event is never delivered: {delivered:#?}"
    );
}
