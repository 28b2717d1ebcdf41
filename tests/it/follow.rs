//! Followed articles: a feed whose items link to the seed articles on a local
//! origin. Quiet edits to a published story are caught even while the feed
//! answers 304, articles are re-checked conditionally, and links that lead
//! to private addresses are refused unless the configuration allows them.

use std::fs;
use std::time::Duration;

use feedwatch::fetch::{FetchError, FetchOutcome, FetchRequest, Fetcher, Validators};
use serde_json::Value;
use url::Url;

use crate::support::hostile;
use crate::support::*;

const FEED: &str = "/feed/";
const NAME: &str = "cc";

/// Item key (guid), article path, seed page.
const ARTICLES: [(&str, &str, &str); 3] = [
    (
        "p-1",
        "/2016/06/14/birmingham-frontline/",
        "communitycare-birmingham-frontline.html",
    ),
    (
        "p-2",
        "/2016/05/24/birmingham-trust/",
        "fostering-birmingham-trust.html",
    ),
    (
        "p-3",
        "/2017/01/10/road-to-recovery/",
        "chamberlain-road-to-recovery.html",
    ),
];

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read_to_string(&path).or_fail(format!("read {path}"))
}

fn html(body: &str) -> Response {
    Response::ok(body).header("Content-Type", "text/html; charset=UTF-8")
}

/// An RSS feed whose items link to the articles (and to comment pages,
/// which must never be fetched).
fn feed(server: &TestServer) -> String {
    let items: String = ARTICLES
        .iter()
        .map(|(key, path, _)| {
            let link = server.url(path);
            format!(
                "<item><title>Story {key}</title><link>{link}</link>\
                 <comments>{link}comments/</comments>\
                 <guid isPermaLink=\"false\">{key}</guid>\
                 <description>Summary of {key}</description></item>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Community Care</title>\
         <link>{}</link>{items}</channel></rss>",
        server.url("/")
    )
}

struct Watch {
    server: TestServer,
    fw: Feedwatch,
}

impl Watch {
    fn new(allow_private: bool, extra: &str) -> Watch {
        let server = TestServer::start();
        server.set(FEED, Response::rss(feed(&server)));
        for (_, path, page) in ARTICLES {
            server.set(path, html(&fixture(page)));
        }
        let fw = Feedwatch::new();
        fw.write_config(
            Toml::journal()
                .setting(format!("allow_private_links = {allow_private}"))
                .feed(NAME, &server.url(FEED))
                .line("follow_links = true")
                .line(extra),
        );
        Watch { server, fw }
    }

    fn baselined(extra: &str) -> Watch {
        let watch = Watch::new(true, extra);
        assert!(watch.check().is_empty(), "the first poll alerted");
        watch
    }

    fn check(&self) -> Vec<Value> {
        let before = self.fw.events().len();
        self.fw.run(&["check"]).assert_code(0);
        self.fw.events().split_off(before)
    }

    fn edit_article(&self, n: usize, from: &str, to: &str) {
        let (_, path, page) = ARTICLES[n];
        self.server
            .set(path, html(&replace(&fixture(page), from, to)));
    }

    /// Article `n` answers with `response` instead of its page.
    fn answer(&self, n: usize, response: Response) {
        self.server.set(ARTICLES[n].1, response);
    }

    /// Article `n` is its page again.
    fn restore(&self, n: usize) {
        self.server
            .set(ARTICLES[n].1, html(&fixture(ARTICLES[n].2)));
    }
}

const FIGURE_BEFORE: &str = "up to 24 Frontline participants";
const FIGURE_AFTER: &str = "up to 12 Frontline participants";

#[test]
fn a_stealth_edit_is_item_updated_with_field_article_while_the_feed_is_unchanged() {
    let watch = Watch::baselined("");
    watch.edit_article(0, FIGURE_BEFORE, FIGURE_AFTER);
    let events = watch.check();
    assert_eq!(
        watch.server.requests(FEED).last().map(|r| r.status),
        Some(304),
        "the feed itself changed"
    );
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["type"], "item.updated");
    assert_eq!(event["item"]["key"], "p-1");
    assert_eq!(event["item"]["version"], 2);
    let changes = event["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0]["field"], "article");
    let diff = changes[0]["diff"].as_str().unwrap_or_default();
    assert!(
        diff.contains(&format!("\n-The move will see {FIGURE_BEFORE}")),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("\n+The move will see {FIGURE_AFTER}")),
        "{diff}"
    );

    // Nothing changed since: no event, no new version.
    assert!(watch.check().is_empty());
}

#[test]
fn a_stealth_edit_is_caught_when_the_feed_changed_too() {
    let watch = Watch::baselined("article_select = \"article .entry-content\"");
    let mut xml = feed(&watch.server);
    xml = xml.replace("Summary of p-3", "Summary of p-3, updated");
    watch.server.set(FEED, Response::rss(xml));
    watch.edit_article(0, FIGURE_BEFORE, FIGURE_AFTER);
    let events = watch.check();
    let fields: Vec<(String, String)> = events
        .iter()
        .flat_map(|e| {
            let key = e["item"]["key"].as_str().unwrap_or_default().to_string();
            e["changes"].as_array().into_iter().flatten().map(move |c| {
                (
                    key.clone(),
                    c["field"].as_str().unwrap_or_default().to_string(),
                )
            })
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("p-1".to_string(), "article".to_string()),
            ("p-3".to_string(), "summary".to_string())
        ]
    );
}

#[test]
fn articles_are_rechecked_with_conditional_get_and_comments_never_fetched() {
    let watch = Watch::baselined("");
    assert!(watch.check().is_empty());
    for (_, path, _) in ARTICLES {
        let requests = watch.server.requests(path);
        assert_eq!(requests.len(), 2, "{path}");
        assert!(requests[0].header("if-none-match").is_none());
        assert_eq!(
            requests[1].header("if-none-match"),
            Some(etag(fixture_of(path).as_bytes()).as_str())
        );
        assert_eq!(requests[1].status, 304);
        assert_eq!(watch.server.hits(&format!("{path}comments/")), 0);
    }
}

fn fixture_of(path: &str) -> String {
    let page = ARTICLES
        .iter()
        .find(|(_, p, _)| *p == path)
        .map(|(_, _, page)| *page)
        .unwrap_or_default();
    fixture(page)
}

#[test]
fn changes_around_the_article_raise_nothing() {
    let watch = Watch::baselined("");
    let (_, path, page) = ARTICLES[1];
    let edited = fixture(page)
        .replace("Close Menu", "Open Menu")
        .replace("Wednesday 25 May 2016", "Thursday 26 May 2016")
        .replace(
            "<aside class=\"related\">\n\n</aside>",
            "<aside class=\"related\"><h2>Similar Articles</h2><ul><li><a href=\"/x\">Another story</a></li></ul></aside>",
        )
        .replace("Find out if you could be a foster carer", "Could you foster?");
    watch.server.set(path, html(&edited));
    assert!(watch.check().is_empty());
}

#[test]
fn follow_for_bounds_how_long_articles_are_rechecked() {
    let watch = Watch::baselined("follow_for = \"1s\"");
    let (_, path, _) = ARTICLES[0];
    let hits = watch.server.hits(path);
    std::thread::sleep(Duration::from_millis(2100));
    watch.edit_article(0, FIGURE_BEFORE, FIGURE_AFTER);
    assert!(watch.check().is_empty());
    assert_eq!(
        watch.server.hits(path),
        hits,
        "an article past follow_for was fetched again"
    );
}

#[test]
fn a_loopback_link_is_refused_unless_private_links_are_allowed() {
    let watch = Watch::new(false, "");
    let out = watch.fw.run(&["check"]);
    out.assert_code(0);
    // The configured source on 127.0.0.1 is trusted and polled; the links in it are not.
    assert_eq!(watch.server.hits(FEED), 1);
    for (key, path, _) in ARTICLES {
        assert_eq!(watch.server.hits(path), 0, "{path} was requested");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.contains(key) && l.contains("refused to fetch")),
            "no error for {key}:\n{}",
            out.stderr
        );
    }
    assert!(out.stdout.contains("3 articles not read"), "{}", out.stdout);
    assert!(
        out.stderr.contains("127.0.0.1 is a loopback address"),
        "{}",
        out.stderr
    );

    let sources = watch.fw.run(&["sources"]);
    assert!(
        sources
            .stdout
            .contains("warning: article of p-1 not read: refused to fetch"),
        "{}",
        sources.stdout
    );
    assert!(
        sources.stdout.contains("(and 2 more)"),
        "{}",
        sources.stdout
    );

    let shown = watch.fw.run(&["test", NAME]);
    shown.assert_code(0);
    assert!(
        shown
            .stdout
            .contains("  article:   not read: refused to fetch"),
        "{}",
        shown.stdout
    );
    assert_eq!(watch.server.hits(ARTICLES[0].1), 0);
}

#[test]
fn test_shows_the_article_text_of_the_first_items() {
    let watch = Watch::new(true, "");
    let out = watch.fw.run(&["test", NAME]);
    out.assert_code(0);
    assert!(
        out.stdout
            .contains(&format!("\n    The move will see {FIGURE_BEFORE}")),
        "{}",
        out.stdout
    );
    let json = watch.fw.run(&["test", NAME, "--json"]);
    let value: Value = serde_json::from_str(&json.stdout).unwrap_or_default();
    let article = value["items"][1]["article"].as_str().unwrap_or_default();
    assert!(
        article
            .contains("Birmingham council’s children’s services is to become an independent trust")
    );
    assert!(!article.contains("Close Menu"));
}

/// Fetches `path` on `server` through a public-looking name pinned to the
/// server, the way a link in a feed would be fetched.
async fn fetch_link(
    server: &TestServer,
    path: &str,
    allow_private: bool,
) -> Result<FetchOutcome, FetchError> {
    let local = Url::parse(&server.url("/")).or_fail("parse the origin's URL");
    let port = local.port().unwrap_or(80);
    let addr = format!("127.0.0.1:{port}")
        .parse()
        .or_fail("parse the origin's address");
    let fetcher = Fetcher::with_pinned_hosts("feedwatch-test", &[("news.example.org", addr)])
        .or_fail("build a fetcher with the name pinned to the origin");
    let url = Url::parse(&format!("http://news.example.org:{port}{path}"))
        .or_fail("parse the link's URL");
    let validators = Validators::default();
    let request = FetchRequest {
        url: &url,
        validators: &validators,
        timeout: Duration::from_secs(10),
        max_body: 1 << 20,
        accept: "text/html",
        keep_alive: true,
        extras: None,
    };
    fetcher.fetch_link(&request, allow_private).await
}

#[tokio::test]
async fn a_redirect_from_a_public_name_to_a_private_address_is_refused() {
    let server = TestServer::start();
    let port = Url::parse(&server.url("/"))
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(80);
    server.set("/story/", html("<article><p>A story</p></article>"));
    server.set("/private/", html("<p>internal</p>"));
    server.set(
        "/to-literal/",
        Response::new(302).header("Location", &server.url("/private/")),
    );
    server.set(
        "/to-name/",
        Response::new(301).header("Location", &format!("http://localhost:{port}/private/")),
    );
    server.set(
        "/to-mapped/",
        Response::new(302).header(
            "Location",
            &format!("http://[::ffff:127.0.0.1]:{port}/private/"),
        ),
    );

    // The pinned public-looking name itself is reachable.
    let story = fetch_link(&server, "/story/", false).await;
    assert!(matches!(story, Ok(FetchOutcome::Fetched(_))), "{story:?}");

    for hop in ["/to-literal/", "/to-name/", "/to-mapped/"] {
        let refused = fetch_link(&server, hop, false).await;
        let message = match &refused {
            Err(e @ FetchError::PrivateAddress { .. }) => feedwatch::error::error_chain(e),
            other => panic!("{hop}: {other:?}"),
        };
        assert!(message.contains("refused to fetch"), "{message}");
        assert!(
            message.contains("loopback") || message.contains("private"),
            "{message}"
        );
        assert_eq!(server.hits(hop), 1);
    }
    assert_eq!(server.hits("/private/"), 0, "a private address was reached");

    // With allow_private_links the same redirect is followed.
    let allowed = fetch_link(&server, "/to-literal/", true).await;
    assert!(
        matches!(allowed, Ok(FetchOutcome::Fetched(_))),
        "{allowed:?}"
    );
    assert_eq!(server.hits("/private/"), 1);
}

#[test]
fn turning_following_on_reads_the_articles_quietly() {
    let watch = Watch::new(true, "");
    let config = std::fs::read_to_string(watch.fw.config_path()).unwrap_or_default();
    watch
        .fw
        .write_config(config.replace("follow_links = true", "follow_links = false"));
    assert!(watch.check().is_empty());
    assert_eq!(watch.server.hits(ARTICLES[0].1), 0);

    watch.fw.write_config(&config);
    assert!(
        watch.check().is_empty(),
        "reading the articles for the first time alerted"
    );
    assert_eq!(watch.server.hits(ARTICLES[0].1), 1);

    watch.edit_article(0, FIGURE_BEFORE, FIGURE_AFTER);
    let events = watch.check();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["changes"][0]["field"], "article");
}

#[test]
fn one_unreadable_article_never_stops_the_others() {
    let watch = Watch::baselined("");
    watch.answer(0, Response::new(500).body("database down"));
    watch.answer(1, Response::new(404).body("gone"));
    watch.edit_article(2, "a more manageable 18.", "a more manageable 21.");
    let out = watch.fw.run(&["check"]);
    out.assert_code(0);
    assert!(out.stdout.contains("2 articles not read"), "{}", out.stdout);
    assert!(
        out.stderr.contains("500 Internal Server Error"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("404 Not Found"), "{}", out.stderr);
    let events = watch.fw.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["item"]["key"], "p-3");
    assert_eq!(events[0]["changes"][0]["field"], "article");

    // The failed ones kept their articles: readable again, unchanged, nothing to say.
    watch.restore(0);
    watch.restore(1);
    assert!(watch.check().is_empty());
}

#[test]
fn a_site_that_answers_429_is_asked_for_no_more_articles_in_that_poll() {
    let watch = Watch::baselined("");
    let (_, first, _) = ARTICLES[0];
    watch.answer(
        0,
        Response::new(429)
            .header("Retry-After", "1")
            .body("slow down"),
    );
    watch.edit_article(2, "a more manageable 18.", "a more manageable 21.");
    let out = watch.fw.run(&["check"]);
    out.assert_code(0);
    assert!(out.stderr.contains("429"), "{}", out.stderr);
    assert!(
        out.stderr.contains("2 articles wait for the next poll"),
        "{}",
        out.stderr
    );
    // Baseline and this poll: the throttled article was asked once more,
    // the others not at all.
    assert_eq!(watch.server.hits(first), 2);
    for (_, path, _) in &ARTICLES[1..] {
        assert_eq!(watch.server.hits(path), 1, "{path}");
    }
    assert!(watch.fw.events().is_empty());

    // Once the site is willing again, the poll reads them all, and the edit
    // made meanwhile is caught.
    watch.restore(0);
    let events = watch.check();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["item"]["key"], "p-3");
    assert_eq!(events[0]["changes"][0]["field"], "article");
}

#[test]
fn an_article_429_with_retry_after_holds_back_the_next_source_on_that_host() {
    let watch = Watch::baselined("");
    watch
        .server
        .set("/other.xml", Response::rss(hostile::rss(&[("o-1", "One")])));
    watch.fw.write_config(
        Toml::journal()
            .setting("allow_private_links = true")
            .feed(NAME, &watch.server.url(FEED))
            .line("follow_links = true")
            .feed("other", &watch.server.url("/other.xml")),
    );
    let (_, first, _) = ARTICLES[0];
    watch.server.set(
        first,
        Response::new(429)
            .header("Retry-After", "2")
            .body("slow down"),
    );
    watch.fw.run(&["check"]).assert_code(0);
    let throttled = watch.server.requests(first);
    let other = watch.server.requests("/other.xml");
    assert_eq!((throttled.len(), other.len()), (2, 1));
    // The same host's next source waited out the Retry-After (whole
    // seconds, so at least one of the two had passed).
    let waited = other[0].at.duration_since(throttled[1].at);
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
}
