//! Storage that does not grow without bound, checked on a real database
//! file through the real binary: compressed text reads back exactly, and
//! `keep_versions` / `keep_for` prune old versions and delivered events but
//! never an item's current version nor an event still owed to a sink.

use crate::support::*;

const FEED: &str = "/tag/frontline/feed/";
const NAME: &str = "frontline";
/// A sentence of item 1 ("More children at risk of extra-familial harm…").
const SENTENCE: &str = "The charity, which delivers the fast-track Approach Social Work qualifying training programme, also found practitioners were battling high caseloads and a lack of resources";

struct Watch {
    server: TestServer,
    fw: Feedwatch,
}

impl Watch {
    /// A folder watching the Frontline feed after the settings and sinks of
    /// `config`, baselined.
    fn new(config: Toml) -> Watch {
        let server = TestServer::start();
        let fw = Feedwatch::new();
        fw.write_config(config.feed(NAME, &server.url(FEED)));
        let watch = Watch { server, fw };
        watch.serve_edit(0);
        watch.check(0);
        watch
    }

    /// Serves the clean feed, with item 1's sentence marked `edit` (0: as published).
    fn serve_edit(&self, edit: usize) {
        let xml = clean_feed();
        let xml = if edit == 0 {
            xml
        } else {
            replace(&xml, SENTENCE, &format!("{SENTENCE} (revision {edit})"))
        };
        self.server.set(FEED, Response::rss(xml));
    }

    fn check(&self, code: i32) -> Output {
        let out = self.fw.run(&["check"]);
        out.assert_code(code);
        out
    }

    /// The version numbers `history` lists for item 1, newest first.
    fn versions(&self) -> Vec<String> {
        let out = self.fw.run(&["history", NAME, KEYS[1]]);
        out.assert_code(0);
        out.lines()
            .iter()
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    }

    /// One line of `stats`, by its label.
    fn stat(&self, label: &str) -> String {
        let out = self.fw.run(&["stats"]);
        out.assert_code(0);
        out.lines()
            .iter()
            .find(|l| l.starts_with(label))
            .or_fail(format!("no {label:?} line in:\n{}", out.stdout))
            .to_string()
    }

    /// The first number on a `stats` line.
    fn count(&self, label: &str) -> u64 {
        let line = self.stat(label);
        line[label.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .or_fail(format!("no count in {line:?}"))
    }

    /// Makes every stored version and event look a year old.
    fn age_everything(&self) {
        let db = rusqlite::Connection::open(self.fw.database_path()).or_fail("open the database");
        db.execute_batch(
            "UPDATE version SET seen_at = '2000-01-01T00:00:00Z';
             UPDATE event SET created_at = '2000-01-01T00:00:00Z';",
        )
        .or_fail("age the history");
    }
}

#[test]
fn compressed_text_reads_back_exactly() {
    let watch = Watch::new(Toml::journal());
    // The feed's long article bodies are stored compressed.
    let versions = watch.stat("versions");
    assert!(
        !versions.contains("(0 compressed)"),
        "nothing was compressed: {versions}"
    );
    // The same items compared with what was stored make no new version, so
    // the text came back byte for byte (a comment defeats the 304).
    let xml = format!("{}<!-- served again -->", clean_feed());
    watch.server.set(FEED, Response::rss(xml));
    let out = watch.check(0);
    assert!(
        out.stdout.contains("0 new versions, 0 events"),
        "{}",
        out.stdout
    );
    assert_eq!(watch.count("versions"), 10);
    // An edit is found in the stored text and shown against it.
    watch.serve_edit(1);
    watch.check(0);
    let events = watch.fw.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let diff = events[0]["changes"][0]["diff"].as_str().unwrap_or_default();
    assert!(diff.contains(&format!("-{SENTENCE}")), "{diff}");
    assert!(diff.contains("(revision 1)"), "{diff}");
}

#[test]
fn only_distinct_versions_are_stored() {
    let watch = Watch::new(Toml::journal());
    for _ in 0..3 {
        watch.check(0);
    }
    assert_eq!(watch.count("versions"), 10);
    watch.serve_edit(1);
    watch.check(0);
    watch.check(0);
    assert_eq!(watch.count("versions"), 11);
    assert_eq!(watch.versions(), ["v2", "v1"]);
}

#[test]
fn keep_versions_keeps_the_newest_and_never_the_current_one() {
    let watch = Watch::new(Toml::journal().setting("keep_versions = 2"));
    for edit in 1..=4 {
        watch.serve_edit(edit);
        watch.check(0);
    }
    assert_eq!(watch.versions(), ["v5", "v4"]);
    // Nine items with one version each, and item 1's last two.
    assert_eq!(watch.count("versions"), 11);

    // Keeping one version keeps the current one of every item, and the
    // next change is still found against it.
    let one = watch.fw.config_path();
    let text = std::fs::read_to_string(&one).unwrap_or_default();
    watch
        .fw
        .write_config(text.replace("keep_versions = 2", "keep_versions = 1"));
    watch.check(0);
    assert_eq!(watch.versions(), ["v5"]);
    assert_eq!(watch.count("versions"), 10);
    watch.serve_edit(6);
    watch.check(0);
    assert_eq!(watch.versions(), ["v6"]);
    let last = watch.fw.events().pop().unwrap_or_default();
    assert_eq!(last["type"], "item.updated", "{last:#}");
    assert_eq!(last["item"]["version"], 6, "{last:#}");
}

#[test]
fn keep_for_prunes_replaced_versions_and_delivered_events_only() {
    // A webhook sink that cannot be reached owes every item.updated event.
    let watch = Watch::new(
        Toml::journal()
            .setting("keep_for = \"30d\"")
            .webhook("unreachable", "http://127.0.0.1:9/hook")
            .line("events = [\"item.updated\"]"),
    );
    // item.new events go to the log sink only, and are delivered at once.
    let fresh = insert_item_top(
        &clean_feed(),
        "fresh-1",
        "A fresh story",
        "https://www.communitycare.co.uk/fresh-1/",
        "Tue, 04 Feb 2025 09:00:00 +0000",
        "<p>Fresh.</p>",
    );
    watch.server.set(FEED, Response::rss(fresh));
    watch.check(0);
    watch.serve_edit(1);
    watch.check(1);
    watch.serve_edit(2);
    watch.check(1);
    assert_eq!(watch.versions(), ["v3", "v2", "v1"]);
    assert_eq!(watch.count("events"), 3);

    // Nothing is a month old yet: nothing goes.
    watch.check(1);
    assert_eq!(watch.versions(), ["v3", "v2", "v1"]);
    assert_eq!(watch.count("events"), 3);

    watch.age_everything();
    watch.check(1);
    // The current version stays however old; the replaced ones go.
    assert_eq!(watch.versions(), ["v3"]);
    // The delivered item.new event went; the two item.updated events still
    // owed to the webhook sink stay.
    assert_eq!(watch.count("events"), 2);
    let out = watch.fw.run(&["deliveries"]);
    out.assert_code(0);
    assert_eq!(
        out.lines()
            .iter()
            .filter(|l| l.contains("item.updated"))
            .count(),
        4,
        "{}",
        out.stdout
    );
}

#[test]
fn retention_settings_are_checked() {
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::new()
            .setting("keep_versions = 0\nkeep_for = \"soon\"")
            .source("a", "http://127.0.0.1:9/feed"),
    );
    let out = fw.run(&["validate"]);
    out.assert_code(2);
    assert!(out.stderr.contains("keep_versions"), "{}", out.stderr);
    assert!(out.stderr.contains("keep_for"), "{}", out.stderr);
}

#[test]
fn stats_shows_the_size_of_the_database() {
    let watch = Watch::new(Toml::journal());
    let size = watch.stat("size");
    assert!(size.contains("KiB") || size.contains("MiB"), "{size}");
    let versions = watch.stat("versions");
    assert!(versions.contains("per version"), "{versions}");
    assert_eq!(watch.count("sources"), 1);
    assert_eq!(watch.count("items"), 10);
    assert!(watch.stat("retention").contains("every version"));
}

/// A page whose text is too long to compress where the poll runs: it is
/// compressed on a blocking thread, and reads back just as exactly.
#[test]
fn a_long_page_is_compressed_and_reads_back_exactly() {
    let server = TestServer::start();
    let page = |edit: &str| {
        let paragraphs: String = (0..6000)
            .map(|n| {
                format!(
                    "<p>Paragraph {n} of the council's minutes, item {}.</p>\n",
                    n * 7
                )
            })
            .collect();
        let paragraphs = paragraphs.replace("Paragraph 3000 ", &format!("Paragraph 3000 {edit}"));
        Response::ok(format!(
            "<html><body><main>{paragraphs}</main></body></html>"
        ))
        .header("Content-Type", "text/html; charset=UTF-8")
    };
    server.set("/minutes", page(""));
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .source("minutes", &server.url("/minutes"))
            .line("type = \"page\""),
    );
    fw.run(&["check"]).assert_code(0);
    let stats = fw.run(&["stats"]);
    assert!(
        stats.stdout.contains("versions      1 (1 compressed)"),
        "{}",
        stats.stdout
    );
    // Served again with a new validator: the same text, no new version.
    server.set("/minutes", page("").header("ETag", "\"again\""));
    let out = fw.run(&["check"]);
    out.assert_code(0);
    assert!(out.stdout.contains("0 new versions"), "{}", out.stdout);
    // One paragraph edited: found against the stored text.
    server.set("/minutes", page("(amended) "));
    fw.run(&["check"]).assert_code(0);
    let events = fw.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let diff = events[0]["changes"][0]["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains("+Paragraph 3000 (amended) of the council"),
        "{diff}"
    );
    assert_eq!(
        diff.lines().filter(|l| l.starts_with('+')).count(),
        2,
        "{diff}"
    );
}
