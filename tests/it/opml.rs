//! `import-opml`: a feed reader's subscription list becomes `[[source]]`
//! tables that `validate` accepts and `check` polls.

use std::fs;

use crate::support::*;

const OPML: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/subscriptions.opml"
);

/// The settings, and any imported tables after them.
fn settings(imported: &str) -> String {
    format!("{}\n{imported}", Toml::settings())
}

fn names(toml: &str) -> Vec<String> {
    toml.lines()
        .filter_map(|l| l.strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_string())
        .collect()
}

#[test]
fn every_feed_becomes_a_source_that_validate_accepts() {
    let fw = Feedwatch::new();
    fw.write_config(settings(""));

    let out = fw.run(&["import-opml", OPML]);

    out.assert_code(0);
    assert_eq!(
        names(&out.stdout),
        [
            "frontline-community-care",
            "community-care",
            "birmingham-children-s-trust-news",
            "news",
            "news-2",
            "quoted-blog-with-signs",
            "news-example-cn",
        ],
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.matches("[[source]]").count(), 7);
    assert!(
        out.stdout
            .contains("url = \"http://news.example.cn/rss.xml\"")
    );
    assert!(
        out.stdout
            .contains("url = \"https://politics.example.org/feed?format=rss&limit=50\"")
    );
    assert!(
        out.stdout
            .contains("# News (in Social work / Councils & charities)")
    );
    assert!(
        out.stderr.contains("listed more than once"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("file:///etc/passwd"), "{}", out.stderr);

    fw.write_config(settings(&out.stdout));
    let valid = fw.run(&["validate"]);
    valid.assert_code(0);
    assert!(valid.stdout.contains("7 sources"), "{}", valid.stdout);
}

#[test]
fn imported_sources_poll_like_any_other() {
    let server = TestServer::start();
    server.set("/tag/frontline/feed/", Response::rss(clean_feed()));
    server.set("/feed/", Response::rss(defaced_feed()));
    let opml = fs::read_to_string(OPML)
        .or_fail("read the OPML fixture")
        .replace("https://www.communitycare.co.uk/", &server.url("/"));
    let fw = Feedwatch::new();
    let list = fw.dir().join("subscriptions.opml");
    fs::write(&list, opml).or_fail("write the OPML file");
    fw.write_config(settings(""));
    let out = fw.run(&["import-opml", &list.to_string_lossy()]);
    out.assert_code(0);
    let ours: String = out
        .stdout
        .split("\n\n")
        .filter(|table| table.contains("127.0.0.1"))
        .collect::<Vec<_>>()
        .join("\n\n");
    fw.write_config(settings(&ours));

    let check = fw.run(&["check"]);

    check.assert_code(0);
    assert!(
        check.stdout.contains("frontline-community-care: 10 items"),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("community-care: 10 items"),
        "{}",
        check.stdout
    );
}

#[test]
fn what_is_not_an_opml_list_is_refused_clearly() {
    let fw = Feedwatch::new();
    fw.write_config(settings(""));
    let rss = fw.dir().join("feed.xml");
    fs::write(&rss, clean_feed()).or_fail("write");
    let empty = fw.dir().join("empty.opml");
    fs::write(
        &empty,
        "<opml version=\"2.0\"><body><outline text=\"Folder\"/></body></opml>",
    )
    .or_fail("write");
    let broken = fw.dir().join("broken.opml");
    fs::write(&broken, "<opml><body><outline text=\"a></body></opml>").or_fail("write");

    let cases = [
        (fw.dir().join("missing.opml"), "cannot read"),
        (rss, "not OPML: its root element is <rss>"),
        (empty, "lists no feeds"),
        (broken, "malformed"),
    ];
    for (path, expected) in cases {
        let out = fw.run(&["import-opml", &path.to_string_lossy()]);
        out.assert_code(2);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}
