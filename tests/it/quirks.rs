//! Feeds that are not quite right, read the way a lenient reader would:
//! one small fixture per quirk, served over HTTP and read back through
//! `feedwatch test --json`, and through a real poll where the warning matters.

use crate::support::reading::{field, fixture, items, read_fixture, read_served, warnings};
use crate::support::{Feedwatch, OrFail, Response, TestServer, Toml};

#[track_caller]
fn assert_warned(json: &serde_json::Value, words: &str) {
    let warnings = warnings(json);
    assert_eq!(warnings.len(), 1, "{json:#}");
    assert!(warnings[0].contains(words), "{warnings:?}");
}

#[test]
fn a_bare_ampersand_is_text() {
    let json = read_fixture("quirks/bare-ampersand.xml");
    assert_eq!(json["title"], "Fish & chips weekly");
    assert_eq!(field(&json, "title"), ["Cod & chips price rise"]);
    assert_eq!(
        field(&json, "link"),
        ["https://chippy.example/news?id=7&lang=en"]
    );
    assert_eq!(field(&json, "published"), ["2025-02-03T12:00:00Z"]);
    assert_eq!(
        field(&json, "summary"),
        ["Up 20p from Monday & no change to peas."]
    );
    assert_warned(&json, "bare '&'");
}

#[test]
fn an_undeclared_entity_stays_as_written() {
    let json = read_fixture("quirks/undeclared-entity.xml");
    assert_eq!(field(&json, "title"), ["Meeting &clubname; tonight"]);
    assert_eq!(field(&json, "link"), ["https://club.example/meeting"]);
    assert_eq!(field(&json, "summary"), ["Bring &snacks; please."]);
    assert_warned(&json, "undeclared entities kept as text (&clubname;)");
}

#[test]
fn html_entities_decode_as_a_browser_would() {
    let json = read_fixture("quirks/html-entities.xml");
    assert_eq!(json["title"], "Café society");
    assert_eq!(
        field(&json, "title"),
        // The no-break space folds like any other space; the Latin-1 entities
        // browsers still read without a semicolon are read, except where a
        // letter, digit or `=` follows, as in a query string.
        ["Open late — café & bar…", "Café menu © 2025"]
    );
    assert_eq!(
        field(&json, "summary"),
        ["\u{201c}Worth it\u{201d} – a regular © 2025", ""]
    );
    assert_eq!(
        field(&json, "link"),
        [
            "https://cafe.example/late",
            "https://cafe.example/menu?lang=fr&copy=1"
        ]
    );
    assert_warned(&json, "HTML entities decoded");
}

#[test]
fn elements_left_open_at_the_end_are_closed() {
    let json = read_fixture("quirks/unclosed-at-end.xml");
    assert_eq!(field(&json, "title"), ["First story", "Second story"]);
    assert_eq!(
        field(&json, "link"),
        ["https://cut.example/1", "https://cut.example/2"]
    );
    assert_eq!(
        items(&json)[1]["summary"],
        "The server stopped sending here"
    );
    assert_warned(&json, "left open at the end closed");
}

#[test]
fn control_characters_are_removed() {
    let json = read_fixture("quirks/control-chars.xml");
    assert_eq!(json["title"], "Control characters");
    assert_eq!(field(&json, "title"), ["Bell and escape gone"]);
    assert_eq!(field(&json, "summary"), ["Form feed"]);
    assert_warned(&json, "4 control characters removed");
}

#[test]
fn dates_in_every_common_form() {
    let json = read_fixture("quirks/dates.xml");
    let want = "2025-02-04T09:00:00Z";
    let mut read = 0;
    for item in items(&json) {
        let key = item["key"].as_str().unwrap_or_default();
        let published = &item["published"];
        match key {
            "w3cdtf-day" => assert_eq!(published, "2025-02-04T00:00:00Z"),
            "w3cdtf-month" => assert_eq!(published, "2025-02-01T00:00:00Z"),
            "w3cdtf-year" => assert_eq!(published, "2025-01-01T00:00:00Z"),
            "unparseable" => assert!(published.is_null(), "{item}"),
            _ => assert_eq!(published, want, "{key}"),
        }
        read += 1;
    }
    assert_eq!(read, 15, "an unparseable date must not drop its item");
    assert!(warnings(&json).is_empty());
}

#[test]
fn html_text_xhtml_and_escaped_content_read_the_same() {
    let json = read_fixture("quirks/content-types.xml");
    assert_eq!(
        field(&json, "key"),
        [
            "urn:example:html",
            "urn:example:text",
            "urn:example:xhtml",
            "urn:example:cdata",
            "urn:example:raw-html"
        ]
    );
    for item in items(&json) {
        assert_eq!(item["title"], "Same text", "{item}");
        assert_eq!(item["content"], "Tom & Jerry ran.", "{item}");
    }
}

#[test]
fn raw_html_in_a_description_is_kept_whole() {
    let json = read_fixture("quirks/raw-html-description.xml");
    assert_eq!(
        field(&json, "summary"),
        ["Intro bold text\nand a link after."]
    );
}

#[test]
fn relative_links_resolve_against_xml_base_and_content_location() {
    let json = read_served(
        fixture("quirks/relative-links.xml"),
        &[
            ("Content-Type", "application/rss+xml"),
            ("Content-Location", "https://origin.example/feeds/main.xml"),
        ],
    );
    assert_eq!(
        field(&json, "link"),
        [
            "https://origin.example/feeds/stories/one",
            "https://mirror.example/base/stories/two"
        ]
    );
    assert_eq!(
        items(&json)[1]["enclosure"]["url"],
        "https://mirror.example/base/audio/two.mp3"
    );
    let without = read_served(
        fixture("quirks/relative-links.xml"),
        &[("Content-Type", "application/rss+xml")],
    );
    let first = field(&without, "link")[0].to_string();
    assert!(
        first.starts_with("http://127.0.0.1:") && first.ends_with("/stories/one"),
        "{first}"
    );
}

#[test]
fn a_poll_of_an_ill_formed_feed_succeeds_with_a_warning_in_sources() {
    let server = TestServer::start();
    server.set("/feed", Response::rss(fixture("quirks/bare-ampersand.xml")));
    let fw = Feedwatch::new();
    fw.write_config(Toml::settings().feed("chippy", &server.url("/feed")));
    let check = fw.run(&["check"]);
    check.assert_code(0);
    assert!(
        check.stdout.starts_with("chippy: 1 item"),
        "{}",
        check.stdout
    );
    let sources = fw.run(&["sources"]);
    sources.assert_code(0);
    let row = sources
        .lines()
        .into_iter()
        .find(|l| l.starts_with("chippy"))
        .or_fail(format!("no row: {}", sources.stdout))
        .to_string();
    assert!(row.contains(" ok "), "{row}");
    assert!(
        row.contains("warning: ill-formed XML read leniently: 5 bare '&' read as text"),
        "{row}"
    );

    // Once the feed is fixed the warning goes.
    let fixed = String::from_utf8(fixture("quirks/bare-ampersand.xml"))
        .unwrap_or_default()
        .replace("& ", "&amp; ")
        .replace("&lang", "&amp;lang");
    server.set("/feed", Response::rss(fixed));
    fw.run(&["check"]).assert_code(0);
    let sources = fw.run(&["sources"]);
    assert!(!sources.stdout.contains("warning"), "{}", sources.stdout);
}

#[test]
fn a_permalink_guid_is_the_link_of_an_item_without_one() {
    let json = read_fixture("quirks/guid-as-link.xml");
    assert_eq!(
        field(&json, "key"),
        [
            "https://guids.example/posts/1",
            "https://guids.example/?p=2",
            "https://guids.example/posts/3"
        ]
    );
    assert_eq!(
        field(&json, "link"),
        [
            "https://guids.example/posts/1",
            "",
            "https://guids.example/read/3"
        ]
    );
    assert!(warnings(&json).is_empty());
}
