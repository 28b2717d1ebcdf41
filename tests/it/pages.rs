//! Page sources with `check` and `test`: the four seed articles served from a
//! local origin inside their site chrome, and only the story counts.

use std::fs;

use serde_json::Value;

use crate::support::*;

const PAGE: &str = "/news/birmingham-trust/";
const NAME: &str = "trust";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read_to_string(&path).or_fail(format!("read {path}"))
}

/// The fostering article with a "Similar Articles" list filled in, as the
/// live page shows it.
fn fostering() -> String {
    replace(
        &fixture("fostering-birmingham-trust.html"),
        "<aside class=\"related\">\n\n</aside>",
        "<aside class=\"related\">\n<h2>Similar Articles</h2>\n<ul>\n\
         <li><a href=\"/a\">Birmingham partners Frontline scheme</a></li>\n\
         <li><a href=\"/b\">Frontline expands to Birmingham</a></li>\n</ul>\n</aside>",
    )
}

fn html(body: &str) -> Response {
    Response::ok(body).header("Content-Type", "text/html; charset=UTF-8")
}

fn config(url: &str, extra: &str) -> Toml {
    Toml::journal().source(NAME, url).line(extra)
}

const STORY: &str = "type = \"page\"\nselect = \"article\"\nexclude = [\".advert\"]";

struct Watch {
    server: TestServer,
    fw: Feedwatch,
}

impl Watch {
    fn new(extra: &str, page: &str) -> Watch {
        let server = TestServer::start();
        server.set(PAGE, html(page));
        let fw = Feedwatch::new();
        fw.write_config(config(&server.url(PAGE), extra));
        Watch { server, fw }
    }

    /// Takes the quiet first poll.
    fn baselined(extra: &str, page: &str) -> Watch {
        let watch = Watch::new(extra, page);
        assert!(watch.check().is_empty(), "the first poll alerted");
        watch
    }

    fn serve(&self, page: &str) {
        self.server.set(PAGE, html(page));
    }

    fn check(&self) -> Vec<Value> {
        let before = self.fw.events().len();
        self.fw.run(&["check"]).assert_code(0);
        self.fw.events().split_off(before)
    }

    fn test_json(&self) -> Value {
        let out = self.fw.run(&["test", NAME, "--json"]);
        out.assert_code(0);
        serde_json::from_str(&out.stdout)
            .or_fail(format!("read the JSON `test` printed:\n{}", out.stdout))
    }
}

#[test]
fn select_article_gives_the_story_and_exclude_removes_the_advert() {
    let watch = Watch::new(STORY, &fostering());
    let json = watch.test_json();
    assert_eq!(json["kind"], "page");
    let text = json["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Children’s services in Birmingham to be run by independent trust\n"));
    assert!(text.contains(
        "\nBirmingham council’s children’s services is to become an independent trust after not improving fast enough, it has been revealed.\n"
    ));
    for chrome in [
        "Similar Articles",
        "Frontline expands to Birmingham",
        "Start your fostering journey today",
        "Close Menu",
        "Find out if you could be a foster carer",
    ] {
        assert!(!text.contains(chrome), "{chrome:?} is in the text:\n{text}");
    }

    let without_exclude = Watch::new("type = \"page\"\nselect = \"article\"", &fostering());
    let text = without_exclude.test_json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("\nStart your fostering journey today\n"));
}

#[test]
fn test_shows_the_text_line_by_line_and_says_it_sniffed_a_page() {
    let watch = Watch::new(
        "select = \"article\"",
        &fixture("communitycare-birmingham-frontline.html"),
    );
    let out = watch.fw.run(&["test", NAME]);
    out.assert_code(0);
    let first = out.lines().first().copied().unwrap_or_default().to_string();
    assert!(
        first.starts_with("page (sniffed from the response): Birmingham partners Frontline scheme"),
        "{first}"
    );
    assert!(out.stdout.contains(
        "\n  The move will see up to 24 Frontline participants based in Birmingham’s services after they join the training programme in summer 2017.\n"
    ));
    assert!(!out.stdout.contains("Cookie Consent"));
}

#[test]
fn changes_to_the_chrome_raise_nothing_and_store_nothing() {
    let watch = Watch::baselined(STORY, &fostering());
    let page = fostering()
        .replace("Wednesday 25 May 2016", "Thursday 26 May 2016")
        .replace("Close Menu", "Open Menu")
        .replace(
            "Birmingham partners Frontline scheme",
            "Ofsted rates Birmingham ‘requires improvement’",
        )
        .replace(
            "Start your fostering journey today",
            "Foster with us: apply in ten minutes",
        )
        .replace("<title>Children’s", "<title>(1) Children’s")
        .replace(
            "Find out if you could be a foster carer",
            "Could you foster?",
        );
    watch.serve(&page);
    assert!(watch.check().is_empty());
    let history = watch.fw.run(&["history", NAME]);
    history.assert_code(0);
    assert!(history.stdout.contains("  v1  "), "{}", history.stdout);
    assert!(
        !history.stdout.contains("  v2  "),
        "a second version was stored:\n{}",
        history.stdout
    );
}

#[test]
fn one_changed_figure_is_one_page_changed_with_its_diff() {
    let watch = Watch::baselined(STORY, &fixture("communitycare-birmingham-frontline.html"));
    let page = replace(
        &fixture("communitycare-birmingham-frontline.html"),
        "up to 24 Frontline participants",
        "up to 40 Frontline participants",
    );
    watch.serve(&page);
    let events = watch.check();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["type"], "page.changed");
    assert_eq!(event["item"]["version"], 2);
    assert_eq!(event["item"]["key"], watch.server.url(PAGE));
    assert_eq!(event["changes"].as_array().map(Vec::len), Some(1));
    let diff = event["changes"][0]["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains("\n-The move will see up to 24 Frontline participants"),
        "{diff}"
    );
    assert!(
        diff.contains("\n+The move will see up to 40 Frontline participants"),
        "{diff}"
    );
    assert_eq!(
        diff.lines().filter(|l| l.starts_with(['+', '-'])).count(),
        4,
        "{diff}"
    );

    // The same page again is no change.
    assert!(watch.check().is_empty());
}

#[test]
fn unchanged_page_is_asked_for_conditionally() {
    let watch = Watch::baselined(STORY, &fixture("chamberlain-road-to-recovery.html"));
    assert!(watch.check().is_empty());
    let requests = watch.server.requests(PAGE);
    let last = requests
        .last()
        .map(|r| (r.status, r.header("if-none-match").is_some()));
    assert_eq!(last, Some((304, true)));
    let accept = requests
        .last()
        .and_then(|r| r.header("accept"))
        .unwrap_or_default();
    assert!(accept.starts_with("text/html"), "{accept}");
}

#[test]
fn ignore_patterns_apply_to_page_text() {
    let extra = format!("{STORY}\nignore = ['Posted on \\d+/\\d+/\\d+']");
    let page = fixture("communitycare-birmingham-frontline.html");
    let watch = Watch::baselined(&extra, &page);
    watch.serve(&replace(
        &page,
        "Posted on 14/06/2016",
        "Posted on 15/06/2016",
    ));
    assert!(watch.check().is_empty());
}

#[test]
fn a_selector_that_matches_nothing_is_a_clear_error() {
    let watch = Watch::new("type = \"page\"\nselect = \"#story-body\"", &fostering());
    let out = watch.fw.run(&["check"]);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("nothing on the page matches select = `#story-body`"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_bad_selector_is_a_configuration_error() {
    let watch = Watch::new(
        "type = \"page\"\nselect = \"article >\"\nexclude = [\".advert\", \"div[[\"]",
        &fostering(),
    );
    let out = watch.fw.run(&["validate"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("source \"trust\".select"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("source \"trust\".exclude"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("is not a CSS selector"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_kind_is_sniffed_once_and_remembered() {
    let watch = Watch::baselined("select = \"article\"", &fostering());
    let sources = watch.fw.run(&["sources"]);
    assert!(
        sources
            .stdout
            .lines()
            .any(|l| l.starts_with(NAME) && l.contains(" page ")),
        "{}",
        sources.stdout
    );
    // Served as XML from now on, it is still read as the page it was.
    watch.server.set(
        PAGE,
        Response::ok(fostering()).header("Content-Type", "application/xml"),
    );
    assert!(watch.check().is_empty());

    let feed = TestServer::start();
    feed.set("/feed/", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    fw.write_config(config(&feed.url("/feed/"), ""));
    fw.run(&["check"]).assert_code(0);
    let out = fw.run(&["test", NAME]);
    assert!(
        out.stdout
            .starts_with("feed (sniffed from the response): Frontline Archives"),
        "{}",
        out.stdout
    );
    let sources = fw.run(&["sources"]);
    assert!(
        sources
            .stdout
            .lines()
            .any(|l| l.starts_with(NAME) && l.contains(" feed ")),
        "{}",
        sources.stdout
    );
}

#[test]
fn charset_comes_from_http_then_meta_then_the_bytes() {
    let latin1 = |meta: &str| -> Vec<u8> {
        let mut page = format!("<html><head>{meta}</head><body><article><p>").into_bytes();
        page.extend_from_slice(b"Caf\xe9 ouvert \xe0 No\xebl");
        page.extend_from_slice(b"</p></article></body></html>");
        page
    };
    let watch = Watch::new("type = \"page\"\nselect = \"article\"", "");
    let cases: [(Vec<u8>, &str); 3] = [
        (latin1("<meta charset=\"windows-1252\">"), "text/html"),
        (
            latin1("<meta charset=\"utf-8\">"),
            "text/html; charset=ISO-8859-1",
        ),
        (latin1(""), "text/html"),
    ];
    for (body, content_type) in cases {
        watch.server.set(
            PAGE,
            Response::ok(body).header("Content-Type", content_type),
        );
        let text = watch.test_json()["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert_eq!(text, "Café ouvert à Noël", "served as {content_type}");
    }
}
