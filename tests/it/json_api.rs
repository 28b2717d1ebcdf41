//! JSON API sources: a WordPress REST API listing of the Frontline posts,
//! read through a jq filter into items (tracked like a feed's) or into one
//! document (tracked like a page's text).

use std::fs;

use serde_json::Value;

use crate::support::*;

const API: &str = "/wp-json/wp/v2/posts";
const NAME: &str = "posts";
const ITEMS: &str = r#"jq = '.[] | {id, title: .title.rendered, link, content: .content.rendered, published: (.date_gmt + "Z")}'"#;
const DOCUMENT: &str = r#"jq = '{count: length, titles: map(.title.rendered)}'"#;
const SECOND_TITLE: &str =
    "More children at risk of extra-familial harm or reliant on food banks, say social workers";

fn posts() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/communitycare-wp-posts.json"
    );
    let text = fs::read_to_string(path).or_fail("read the posts fixture");
    serde_json::from_str(&text).or_fail("the posts fixture is JSON")
}

fn list(posts: &Value) -> &Vec<Value> {
    posts.as_array().or_fail("the posts are a list")
}

fn json(value: &Value) -> Response {
    Response::ok(value.to_string()).header("Content-Type", "application/json; charset=UTF-8")
}

struct Watch {
    server: TestServer,
    fw: Feedwatch,
}

impl Watch {
    fn new(extra: &str) -> Watch {
        let server = TestServer::start();
        let fw = Feedwatch::new();
        let toml = Toml::journal()
            .source(NAME, &server.url(API))
            .line("type = \"json\"")
            .line(extra);
        fw.write_config(toml);
        Watch { server, fw }
    }

    fn baselined(extra: &str) -> Watch {
        let w = Watch::new(extra);
        w.serve(&posts());
        assert!(w.check(0).is_empty(), "the first poll alerted");
        w
    }

    fn serve(&self, value: &Value) {
        self.server.set(API, json(value));
    }

    /// Runs `check`, expecting `code`, and returns the events it added.
    fn check(&self, code: i32) -> Vec<Value> {
        let before = self.fw.events().len();
        self.fw.run(&["check"]).assert_code(code);
        self.fw.events().split_off(before)
    }
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

#[test]
fn items_from_the_filter_are_new_updated_and_removed_like_a_feeds() {
    let w = Watch::baselined(&format!(
        "{ITEMS}\ntrack = [\"new\", \"updated\", \"removed\"]"
    ));
    let mut edited = posts();
    edited[1]["title"]["rendered"] = Value::from(format!("Updated: {SECOND_TITLE}"));
    w.serve(&edited);

    let updated = w.check(0);

    assert_eq!(kinds(&updated), ["item.updated"], "{updated:#?}");
    assert_eq!(updated[0]["item"]["key"], "211568");
    let change = &updated[0]["changes"][0];
    assert_eq!(change["field"], "title");
    assert_eq!(change["before"], SECOND_TITLE);
    let diff = change["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains(&format!("+Updated: {SECOND_TITLE}")),
        "{diff}"
    );

    let mut next = list(&edited).clone();
    next.remove(1);
    let mut fresh = next[0].clone();
    fresh["id"] = Value::from(215020);
    fresh["title"]["rendered"] = Value::from("Frontline expands to Birmingham");
    fresh["link"] = Value::from("https://www.communitycare.co.uk/2025/02/04/frontline-expands/");
    next.insert(0, fresh);
    w.serve(&Value::Array(next));

    let changed = w.check(0);

    assert_eq!(
        kinds(&changed),
        ["item.new", "item.removed"],
        "{changed:#?}"
    );
    assert_eq!(changed[0]["item"]["key"], "215020");
    assert_eq!(changed[0]["item"]["published"], "2024-12-19T14:00:15Z");
    assert_eq!(changed[1]["item"]["key"], "211568");
}

#[test]
fn any_other_result_is_one_document_with_a_diff() {
    let w = Watch::baselined(DOCUMENT);
    let mut edited = posts();
    edited[1]["title"]["rendered"] = Value::from("Children at risk, say social workers");
    w.serve(&edited);

    let events = w.check(0);

    assert_eq!(kinds(&events), ["page.changed"], "{events:#?}");
    let change = &events[0]["changes"][0];
    let after = change["after"].as_str().unwrap_or_default();
    assert!(
        after.starts_with("{\n  \"count\": 3,\n  \"titles\": [\n"),
        "{after}"
    );
    let diff = change["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains(&format!("-    \"{SECOND_TITLE}\",")),
        "{diff}"
    );
    assert!(
        diff.contains("+    \"Children at risk, say social workers\","),
        "{diff}"
    );
    assert!(w.check(0).is_empty(), "the same document again alerted");
}

#[test]
fn a_filter_that_does_not_compile_is_a_validate_error_at_its_value() {
    let w = Watch::new("jq = '.[] | {id, title: .title.rendered'");

    let out = w.fw.run(&["validate"]);

    out.assert_code(2);
    let text = fs::read_to_string(w.fw.config_path()).or_fail("read the config");
    let line = text
        .lines()
        .position(|l| l.starts_with("jq = "))
        .or_fail("the jq line")
        + 1;
    let at = format!(":{line}:6: source \"{NAME}\".jq: the jq filter does not compile: ");
    assert!(out.stderr.contains(&at), "no {at:?} in {}", out.stderr);
    assert!(
        out.stderr.contains("offset 33 of the filter"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("expected"), "{}", out.stderr);
}

#[test]
fn a_failing_filter_or_a_body_that_is_not_json_fails_the_poll_and_keeps_the_items() {
    let w = Watch::new(&format!(
        "{ITEMS}\ntrack = [\"new\", \"updated\", \"removed\"]"
    ));
    w.fw.write_config(
        fs::read_to_string(w.fw.config_path())
            .or_fail("read the config")
            .replace("[settings]\n", "[settings]\nfail_after = 2\n"),
    );
    w.serve(&posts());
    assert!(w.check(0).is_empty());
    w.serve(&serde_json::json!({"code": "rest_maintenance", "message": "Back soon"}));

    let first = w.check(1);
    let status = w.fw.run(&["sources"]);
    w.server
        .set(API, Response::ok("<html><body>Back soon</body></html>"));
    let second = w.check(1);
    let out = w.fw.run(&["check"]);
    w.serve(&posts());
    let recovered = w.check(0);

    assert!(first.is_empty(), "{first:#?}");
    assert!(
        status.stdout.contains("jq filter failed"),
        "{}",
        status.stdout
    );
    assert_eq!(kinds(&second), ["source.failing"], "{second:#?}");
    let error = second[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("not JSON"), "{error}");
    assert!(
        out.stderr.contains("the response is not JSON"),
        "{}",
        out.stderr
    );
    assert_eq!(kinds(&recovered), ["source.recovered"], "{recovered:#?}");
    let history = w.fw.run(&["history", NAME]);
    assert_eq!(history.lines().len(), 3, "{}", history.stdout);
}

#[test]
fn test_shows_what_the_filter_yields() {
    let items = Watch::new(ITEMS);
    items.serve(&posts());
    let document = Watch::new(DOCUMENT);
    document.serve(&posts());

    let shown = items.fw.run(&["test", NAME]);
    let as_json = items.fw.run(&["test", NAME, "--json"]);
    let text = document.fw.run(&["test", NAME]);

    shown.assert_code(0);
    assert!(shown.stdout.starts_with("json: "), "{}", shown.stdout);
    assert!(shown.stdout.contains("(3 items)"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("  key:       214135"),
        "{}",
        shown.stdout
    );
    assert!(
        shown
            .stdout
            .contains(&format!("  title:     {SECOND_TITLE}")),
        "{}",
        shown.stdout
    );
    let value: Value = serde_json::from_str(&as_json.stdout).or_fail("test --json prints JSON");
    assert_eq!(value["kind"], "json");
    assert_eq!(value["items"][2]["key"], "206903");
    text.assert_code(0);
    assert!(text.stdout.contains("  \"count\": 3,"), "{}", text.stdout);
    assert!(!items.fw.database_path().exists(), "test stores nothing");
}

#[test]
fn alert_conditions_look_at_the_words_a_document_change_added_or_removed() {
    let w = Watch::baselined(&format!("{DOCUMENT}\nalert_if = ['(?i)birmingham']"));
    let mut quiet = posts();
    quiet[1]["title"]["rendered"] = Value::from("Children at risk, say social workers");
    let mut loud = quiet.clone();
    loud[0]["title"]["rendered"] = Value::from("Frontline expands to Birmingham");

    w.serve(&quiet);
    let held = w.check(0);
    w.serve(&loud);
    let raised = w.check(0);

    assert!(held.is_empty(), "{held:#?}");
    assert_eq!(kinds(&raised), ["page.changed"], "{raised:#?}");
    let report = w.fw.run(&["report", "--all", "--no-color"]);
    assert!(
        report
            .stdout
            .contains("[held back: alert_if matched nothing it changed]"),
        "{}",
        report.stdout
    );
}

#[test]
fn a_filter_that_never_ends_fails_the_poll_at_its_deadline() {
    let w = Watch::new("jq = 'def forever: forever; forever'");
    w.serve(&posts());

    let out = w.fw.run(&["check"]);

    out.assert_code(1);
    assert!(
        out.stderr.contains("the jq filter ran longer than 5 s"),
        "{}",
        out.stderr
    );
}
