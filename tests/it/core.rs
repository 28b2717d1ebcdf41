//! One poll at a time with `check`: what is recorded, what is alerted and what
//! is deliberately left quiet, for the Community Care "Frontline" feed.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::watch::{FEED, NAME, Watch};
use crate::support::*;

const TRACK_REMOVED: &str = r#"track = ["new", "updated", "removed"]"#;

/// The fourth paragraph of "More children at risk of extra-familial harm…" (item 1).
const OLD_SENTENCE: &str = "The charity, which delivers the fast-track Approach Social Work qualifying training programme, also found practitioners were battling high caseloads and a lack of resources, with most feeling that they did not see children on their caseloads often enough.";
const NEW_SENTENCE: &str = "The charity, which delivers the fast-track Approach Social Work qualifying training programme, found that a minority of practitioners saw children on their caseloads often enough.";

const NEW_KEY: &str = "https://www.communitycare.co.uk/?p=215020";
const NEW_TITLE: &str = "Frontline expands fast-track programme to Birmingham";
const NEW_LINK: &str = "https://www.communitycare.co.uk/2025/02/04/frontline-expands-fast-track-programme-to-birmingham/";
const NEW_PUBDATE: &str = "Tue, 04 Feb 2025 09:00:00 +0000";
const NEW_BODY: &str = "<p>Frontline and Birmingham City Council will partner to bring the fast-track programme to the West Midlands.</p>\n<p>The first cohort starts in September.</p>";

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn only_event<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    assert_eq!(events.len(), 1, "expected one {kind} event: {events:#?}");
    assert_eq!(events[0]["type"], kind, "{:#}", events[0]);
    &events[0]
}

fn str_field<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .or_fail(format!("no string at {pointer} in {value:#}"))
}

fn assert_timestamp(text: &str) {
    let b = text.as_bytes();
    let shape = b.len() >= 20
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
        && (text.ends_with('Z') || text[19..].contains(['+', '-']));
    assert!(shape, "not an RFC 3339 timestamp: {text:?}");
}

fn assert_envelope(event: &Value, server: &TestServer) {
    let id = str_field(event, "/id");
    assert!(
        id.starts_with("evt_") && id.len() > 4,
        "bad event id {id:?}"
    );
    assert_timestamp(str_field(event, "/timestamp"));
    assert_eq!(str_field(event, "/source/name"), NAME);
    assert_eq!(str_field(event, "/source/url"), server.url(FEED));
}

fn folded(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of a unified diff's lines that start with `sign`, headers left out.
fn diff_side(diff: &str, sign: char) -> String {
    let header = if sign == '+' { "+++" } else { "---" };
    let lines: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with(sign) && !l.starts_with(header))
        .map(|l| &l[1..])
        .collect();
    folded(&lines.join(" "))
}

#[test]
fn first_check_of_a_feed_is_a_quiet_baseline() {
    let watch = Watch::new("");
    watch.serve(&clean_feed());

    let out = watch.fw.run(&["check"]);

    out.assert_code(0);
    assert!(watch.fw.events().is_empty(), "{:#?}", watch.fw.events());
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "one line per source: {}", out.stdout);
    assert!(lines[0].contains(NAME), "{}", out.stdout);
    let history = watch.fw.run(&["history", NAME]);
    history.assert_code(0);
    for key in KEYS {
        let holding = history.lines().iter().filter(|l| l.contains(key)).count();
        assert_eq!(holding, 1, "{key} in history:\n{}", history.stdout);
    }
    let listed = history
        .lines()
        .iter()
        .filter(|l| l.contains("https://www.communitycare.co.uk/?p="))
        .count();
    assert_eq!(listed, 10, "{}", history.stdout);
}

#[test]
fn defaced_titles_are_one_bulk_change_not_ten_updates() {
    let watch = Watch::baselined("");
    watch.serve(&defaced_feed());

    let events = watch.check();

    assert!(of_type(&events, "item.updated").is_empty(), "{events:#?}");
    let bulk = only_event(&events, "source.bulk_change");
    assert_envelope(bulk, &watch.server);
    assert!(bulk.to_string().contains(SPAM_PREFIX.trim()));
    assert_eq!(str_field(bulk, "/bulk/field"), "title");
    assert_eq!(str_field(bulk, "/bulk/edit"), "prefix_added");
    assert_eq!(str_field(bulk, "/bulk/added").trim(), SPAM_PREFIX.trim());
    let items = bulk["items"].as_array().or_fail("an items array");
    let keys: BTreeSet<&str> = items.iter().map(|i| str_field(i, "/key")).collect();
    assert_eq!(items.len(), 10, "{bulk:#}");
    assert_eq!(keys, KEYS.into_iter().collect());
}

#[test]
fn an_edited_paragraph_is_one_update_with_a_diff() {
    let watch = Watch::baselined("");
    watch.serve(&replace(&clean_feed(), OLD_SENTENCE, NEW_SENTENCE));

    let events = watch.check();

    let event = only_event(&events, "item.updated");
    assert_envelope(event, &watch.server);
    assert_eq!(str_field(event, "/item/key"), KEYS[1]);
    assert_eq!(event["item"]["version"], 2, "{event:#}");
    let changes = event["changes"].as_array().or_fail("a changes array");
    assert_eq!(changes.len(), 1, "only the content changed: {event:#}");
    let change = &changes[0];
    assert_eq!(str_field(change, "/field"), "content");
    assert!(folded(str_field(change, "/before")).contains(OLD_SENTENCE));
    assert!(folded(str_field(change, "/after")).contains(NEW_SENTENCE));
    assert!(!folded(str_field(change, "/after")).contains(OLD_SENTENCE));
    let diff = str_field(change, "/diff");
    // A diff that splits text into sentences may keep the full stop apart.
    let (old, new) = (
        OLD_SENTENCE.trim_end_matches('.'),
        NEW_SENTENCE.trim_end_matches('.'),
    );
    assert!(diff_side(diff, '+').contains(new), "{diff}");
    assert!(diff_side(diff, '-').contains(old), "{diff}");
    assert!(!diff_side(diff, '+').contains(old), "{diff}");
    assert_eq!(watch.history_lines(KEYS[1]), 2);
    assert_eq!(watch.history_lines(KEYS[0]), 1);
}

#[test]
fn markup_only_changes_are_not_edits() {
    let watch = Watch::baselined("");
    let mut xml = clean_feed();
    xml = replace(
        &xml,
        "an online survey of 570 children’s social workers",
        "an online survey of <strong>570 children’s <em>social workers</em></strong>",
    );
    xml = replace(&xml, "<p>", r#"<p class="article-body" data-block="para">"#);
    xml = replace(&xml, "</p>\n<p", "</p>\n\n\t\t\t  <p");
    xml = replace(
        &xml,
        "battling high caseloads",
        "battling\n\t\t    high   caseloads",
    );
    watch.serve(&xml);

    let events = watch.check();

    assert_eq!(watch.last_status(), 200, "the edited feed was not fetched");
    assert!(events.is_empty(), "markup alone raised: {events:#?}");
}

#[test]
fn a_new_story_at_the_top_is_one_new_item_event() {
    let watch = Watch::baselined("");
    watch.serve(&insert_item_top(
        &clean_feed(),
        NEW_KEY,
        NEW_TITLE,
        NEW_LINK,
        NEW_PUBDATE,
        NEW_BODY,
    ));

    let events = watch.check();

    let event = only_event(&events, "item.new");
    assert_envelope(event, &watch.server);
    assert_eq!(str_field(event, "/item/key"), NEW_KEY);
    assert_eq!(str_field(event, "/item/title"), NEW_TITLE);
    assert_eq!(str_field(event, "/item/link"), NEW_LINK);
    assert!(str_field(event, "/item/published").starts_with("2025-02-04T09:00:00"));
    assert_eq!(event["item"]["version"], 1, "{event:#}");
}

#[test]
fn a_story_taken_down_from_the_middle_is_removed_when_tracked() {
    let watch = Watch::baselined(TRACK_REMOVED);
    watch.serve(&remove_item(&clean_feed(), 4));

    let events = watch.check();

    let event = only_event(&events, "item.removed");
    assert_envelope(event, &watch.server);
    assert_eq!(str_field(event, "/item/key"), KEYS[4]);
}

#[test]
fn a_story_taken_down_is_silent_with_the_default_track() {
    let watch = Watch::baselined("");
    watch.serve(&remove_item(&clean_feed(), 4));

    let events = watch.check();

    assert_eq!(watch.last_status(), 200);
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn the_oldest_story_rolling_off_the_end_is_not_a_removal() {
    let watch = Watch::baselined(TRACK_REMOVED);
    watch.serve(&remove_item(&clean_feed(), 9));

    let events = watch.check();

    assert_eq!(watch.last_status(), 200);
    assert!(events.is_empty(), "{events:#?}");
}

#[test]
fn an_unchanged_feed_is_fetched_conditionally_and_stores_nothing() {
    let watch = Watch::baselined("");

    let events = watch.check();

    assert!(events.is_empty(), "{events:#?}");
    let requests = watch.server.requests(FEED);
    assert_eq!(requests.len(), 2);
    let sent = requests[0]
        .response_header("etag")
        .or_fail("an ETag was sent");
    assert_eq!(sent, etag(clean_feed().as_bytes()));
    assert_eq!(requests[0].status, 200);
    assert_eq!(requests[1].header("if-none-match"), Some(sent));
    assert_eq!(requests[1].status, 304);
    for key in KEYS {
        assert_eq!(watch.history_lines(key), 1, "versions of {key}");
    }
}

#[test]
fn a_conditional_request_echoes_last_modified() {
    let watch = Watch::baselined("");

    watch.check();

    let requests = watch.server.requests(FEED);
    assert_eq!(requests[1].header("if-modified-since"), Some(LAST_MODIFIED));
}

#[test]
fn a_failing_source_does_not_stop_the_healthy_one() {
    let server = TestServer::start();
    let fw = Feedwatch::new();
    server.set(FEED, Response::rss(clean_feed()));
    server.set("/broken/feed/", Response::new(500).body("database error"));
    fw.write_config(
        Toml::journal()
            .feed(NAME, &server.url(FEED))
            .feed("broken", &server.url("/broken/feed/")),
    );

    let out = fw.run(&["check"]);

    out.assert_code(1);
    assert_eq!(out.lines().len(), 2, "one line per source: {}", out.stdout);
    assert!(out.lines().iter().any(|l| l.contains("broken")));
    let history = fw.run(&["history", NAME]);
    history.assert_code(0);
    assert!(
        KEYS.iter().all(|k| history.stdout.contains(k)),
        "{}",
        history.stdout
    );
    let listing = fw.run(&["sources"]);
    listing.assert_code(0);
    let broken = listing
        .lines()
        .into_iter()
        .find(|l| l.trim_start().starts_with("broken"))
        .or_fail(format!(
            "no line for the failing source:\n{}",
            listing.stdout
        ));
    assert!(broken.contains("500"), "{broken}");

    server.set("/broken/feed/", Response::rss(clean_feed()));
    fw.run(&["check"]).assert_code(0);
    let recovered = fw.run(&["history", "broken"]);
    assert!(
        KEYS.iter().all(|k| recovered.stdout.contains(k)),
        "{}",
        recovered.stdout
    );
    let item_events: Vec<Value> = fw
        .events()
        .into_iter()
        .filter(|e| str_field(e, "/type").starts_with("item."))
        .collect();
    assert!(item_events.is_empty(), "{item_events:#?}");
}

#[test]
fn test_json_lists_the_items_of_a_feed_url() {
    let watch = Watch::new("");
    watch.serve(&clean_feed());

    let out = watch.fw.run(&["test", &watch.server.url(FEED), "--json"]);

    out.assert_code(0);
    let shown: Value = serde_json::from_str(&out.stdout).or_fail("JSON on stdout");
    assert_eq!(shown["kind"], "feed");
    let items = shown["items"].as_array().or_fail("an items array");
    assert_eq!(items.len(), 10);
    let keys: BTreeSet<&str> = items.iter().map(|i| str_field(i, "/key")).collect();
    assert_eq!(keys, KEYS.into_iter().collect());
    for item in items {
        assert!(!str_field(item, "/title").is_empty(), "{item:#}");
        assert!(str_field(item, "/link").starts_with("https://www.communitycare.co.uk/20"));
    }
    let first = items
        .iter()
        .find(|i| i["key"] == KEYS[0])
        .or_fail("the newest story");
    assert_eq!(
        str_field(first, "/title"),
        "How managers are inspiring social workers to progress in their careers"
    );
}

#[test]
fn event_ids_are_unique_across_runs() {
    let watch = Watch::baselined(TRACK_REMOVED);
    let second_key = "https://www.communitycare.co.uk/?p=215021";
    let mut xml = insert_item_top(
        &clean_feed(),
        NEW_KEY,
        NEW_TITLE,
        NEW_LINK,
        NEW_PUBDATE,
        NEW_BODY,
    );
    xml = insert_item_top(
        &xml,
        second_key,
        "Social work apprenticeships open in the West Midlands",
        "https://www.communitycare.co.uk/2025/02/05/social-work-apprenticeships-open/",
        "Wed, 05 Feb 2025 08:30:00 +0000",
        "<p>Applications open today.</p>",
    );
    watch.serve(&xml);
    let added = watch.check();
    xml = replace(&xml, OLD_SENTENCE, NEW_SENTENCE);
    watch.serve(&xml);
    let edited = watch.check();
    watch.serve(&remove_item(&xml, 6));
    let removed = watch.check();

    assert_eq!(of_type(&added, "item.new").len(), 2, "{added:#?}");
    assert_eq!(of_type(&edited, "item.updated").len(), 1, "{edited:#?}");
    assert_eq!(of_type(&removed, "item.removed").len(), 1, "{removed:#?}");
    let events = watch.fw.events();
    assert_eq!(events.len(), 4, "{events:#?}");
    let ids: BTreeSet<&str> = events.iter().map(|e| str_field(e, "/id")).collect();
    assert_eq!(ids.len(), 4, "repeated ids: {events:#?}");
    assert!(ids.iter().all(|id| id.starts_with("evt_")));
}
