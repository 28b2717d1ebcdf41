//! `add`, `remove` and `discover` on a hand-kept configuration file: the file
//! before and after differs by exactly the table added or removed, byte for
//! byte, comments and odd spacing included.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::support::reading::fixture;
use crate::support::*;

/// The title the clean Frontline feed carries, as a source name.
const FEED_NAME: &str = "frontline-archives-community-care";

/// A news article page (a seed fixture) whose head links to its feeds the
/// way WordPress pages do: the tag feed by a path, the comments feed in full.
fn article_with_feeds(server: &TestServer) -> String {
    let page = String::from_utf8(fixture("communitycare-birmingham-frontline.html"))
        .or_fail("the article page is UTF-8");
    let links = format!(
        "<head>\n<link rel=\"stylesheet\" href=\"/style.css\">\n\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"Community Care &raquo; Frontline Tag Feed\" href=\"/tag/frontline/feed/\" />\n\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"Comments\" href=\"{}\" />",
        server.url("/comments/feed/")
    );
    assert!(page.contains("<head>"));
    page.replacen("<head>", &links, 1)
}

/// The origin: the article at `/story`, its two feeds, and a page using `<base href>`.
fn origin() -> TestServer {
    let server = TestServer::start();
    let html = |body: String| Response::ok(body).header("Content-Type", "text/html; charset=utf-8");
    server.set("/story", html(article_with_feeds(&server)));
    server.set("/tag/frontline/feed/", Response::rss(clean_feed()));
    server.set("/copy/feed/", Response::rss(clean_feed()));
    let atom = fixture("formats/atom10.xml");
    server.set(
        "/comments/feed/",
        Response::ok(atom).header("Content-Type", "application/atom+xml"),
    );
    let based = "<html><head><title>Sections</title><base href=\"/sections/uk/\">\
        <link rel=\"alternate\" type=\"application/feed+json\" href=\"feed.json\"></head><body></body></html>";
    server.set("/based", html(based.to_string()));
    server.set("/care.xml", Response::rss(clean_feed()));
    server
}

/// A configuration kept by hand: comments, odd spacing, a commented-out key.
fn hand_kept(server: &TestServer) -> String {
    format!(
        "# feedwatch — what we watch\n#   kept by hand, edited by tools\n\n[settings]\n\
         database   =   \"feedwatch.db\"      # beside this file\ninterval=\"1h\"\n\n\
         [[sink]]\n  name = \"journal\"     # JSON lines\n  type = \"log\"\n  path = \"alerts.jsonl\"\n\n\
         # The care feed, checked hourly\n[[source]]\nname = \"care\"\nurl  = \"{}\"\n   type = 'feed'\n   # interval = \"15m\"\n\n\
         # trailing remark\n",
        server.url("/care.xml")
    )
}

fn setup() -> (TestServer, Feedwatch, String) {
    let server = origin();
    let fw = Feedwatch::new();
    let text = hand_kept(&server);
    fw.write_config(&text);
    (server, fw, text)
}

fn config_text(fw: &Feedwatch) -> String {
    fs::read_to_string(fw.config_path()).or_fail("read feedwatch.toml")
}

/// The table `add` appends, after one blank line.
fn table(name: &str, url: &str, kind: &str) -> String {
    format!("\n[[source]]\nname = \"{name}\"\nurl = \"{url}\"\ntype = \"{kind}\"\n")
}

#[test]
fn add_on_a_page_appends_its_first_feed_and_changes_nothing_else() {
    let (server, fw, before) = setup();
    fs::set_permissions(fw.config_path(), fs::Permissions::from_mode(0o640)).or_fail("chmod");
    let out = fw.run(&["add", &server.url("/story")]);
    out.assert_code(0);
    let feed = server.url("/tag/frontline/feed/");
    assert_eq!(
        config_text(&fw),
        before.clone() + &table(FEED_NAME, &feed, "feed")
    );
    assert!(
        out.stdout
            .contains("feed: Frontline Archives - Community Care (10 items)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("systemctl reload feedwatch"),
        "{}",
        out.stdout
    );
    let mode = fs::metadata(fw.config_path())
        .or_fail("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    fw.run(&["validate"]).assert_code(0);
    assert_eq!(server.hits("/story"), 1);
    assert_eq!(server.hits("/tag/frontline/feed/"), 1);
}

#[test]
fn a_taken_name_gets_a_number() {
    let (server, fw, before) = setup();
    fw.run(&["add", &server.url("/story")]).assert_code(0);
    fw.run(&["add", &server.url("/copy/feed/"), "--interval", "2h"])
        .assert_code(0);
    let second = table(
        &format!("{FEED_NAME}-2"),
        &server.url("/copy/feed/"),
        "feed",
    ) + "interval = \"2h\"\n";
    let first = table(FEED_NAME, &server.url("/tag/frontline/feed/"), "feed");
    assert_eq!(config_text(&fw), format!("{before}{first}{second}"));
}

#[test]
fn a_watched_url_is_refused_naming_its_source() {
    let (server, fw, before) = setup();
    let out = fw.run(&["add", &server.url("/care.xml")]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("already watched by the source `care`"),
        "{}",
        out.stderr
    );
    fw.run(&["add", &server.url("/story"), "--name", "tagged"])
        .assert_code(0);
    let out = fw.run(&["add", &server.url("/story")]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("already watched by the source `tagged`"),
        "{}",
        out.stderr
    );
    let tagged = table("tagged", &server.url("/tag/frontline/feed/"), "feed");
    assert_eq!(config_text(&fw), before + &tagged);
}

#[test]
fn a_result_the_loader_refuses_is_not_written() {
    let (server, fw, before) = setup();
    let out = fw.run(&["add", &server.url("/story"), "--name", "front line!"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("is not a valid source name"),
        "{}",
        out.stderr
    );
    assert_eq!(config_text(&fw), before);
    let leftovers: Vec<_> = fs::read_dir(fw.dir())
        .or_fail("list the folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn discover_lists_each_feed_with_its_absolute_url() {
    let (server, fw, _) = setup();
    let out = fw.run(&["discover", &server.url("/story")]);
    out.assert_code(0);
    assert_eq!(
        out.lines(),
        [
            format!(
                "1  rss   {}  Community Care » Frontline Tag Feed",
                server.url("/tag/frontline/feed/")
            ),
            format!("2  atom  {}  Comments", server.url("/comments/feed/")),
        ]
    );
    let out = fw.run(&["discover", &server.url("/based")]);
    out.assert_code(0);
    assert_eq!(
        out.lines(),
        [format!(
            "1  json  {}  (untitled)",
            server.url("/sections/uk/feed.json")
        )]
    );
}

#[test]
fn discover_on_a_feed_says_it_is_one() {
    let (server, fw, _) = setup();
    let out = fw.run(&["discover", &server.url("/care.xml")]);
    out.assert_code(1);
    assert!(out.stderr.contains("is a feed itself"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn pick_chooses_another_feed_and_page_watches_the_page_itself() {
    let (server, fw, before) = setup();
    fw.run(&["add", &server.url("/story"), "--pick", "2"])
        .assert_code(0);
    let comments = table("newsroom", &server.url("/comments/feed/"), "feed");
    let out = fw.run(&["add", &server.url("/story"), "--page", "--name", "story"]);
    out.assert_code(0);
    assert!(
        out.stdout
            .starts_with("page: Birmingham partners Frontline"),
        "{}",
        out.stdout
    );
    let page = table("story", &server.url("/story"), "page");
    assert_eq!(config_text(&fw), format!("{before}{comments}{page}"));
    let out = fw.run(&["add", &server.url("/story"), "--pick", "3"]);
    out.assert_code(2);
    assert!(out.stderr.contains("offers 2 feeds"), "{}", out.stderr);
}

#[test]
fn remove_takes_out_its_table_alone_and_add_then_remove_round_trips() {
    let (server, fw, before) = setup();
    fw.run(&["add", &server.url("/story")]).assert_code(0);
    let out = fw.run(&["remove", FEED_NAME]);
    out.assert_code(0);
    assert!(out.stdout.contains("history stays"), "{}", out.stdout);
    assert_eq!(config_text(&fw), before);
    fw.run(&["remove", "care"]).assert_code(0);
    let without_care = before.replace(
        &format!(
            "# The care feed, checked hourly\n[[source]]\nname = \"care\"\nurl  = \"{}\"\n   type = 'feed'\n   # interval = \"15m\"\n\n",
            server.url("/care.xml")
        ),
        "",
    );
    assert_ne!(without_care, before);
    assert_eq!(config_text(&fw), without_care);
}

#[test]
fn an_unknown_name_is_refused_with_a_suggestion() {
    let (_server, fw, before) = setup();
    let out = fw.run(&["remove", "cre"]);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("no source named `cre` (did you mean `care`?)"),
        "{}",
        out.stderr
    );
    assert_eq!(config_text(&fw), before);
}

fn items_held(fw: &Feedwatch, source: &str) -> i64 {
    let db = crate::support::hooks::open_read_only(&fw.database_path());
    db.query_row(
        "SELECT COUNT(*) FROM item i JOIN source s ON s.id = i.source_id WHERE s.name = ?1",
        [source],
        |r| r.get(0),
    )
    .or_fail("count the items held")
}

#[test]
fn purge_deletes_the_history_and_plain_remove_keeps_it() {
    let (server, fw, _) = setup();
    fw.run(&["add", &server.url("/story"), "--name", "tagged"])
        .assert_code(0);
    fw.run(&["check"]).assert_code(0);
    assert_eq!(items_held(&fw, "care"), 10);
    assert_eq!(items_held(&fw, "tagged"), 10);
    fw.run(&["remove", "care"]).assert_code(0);
    assert_eq!(items_held(&fw, "care"), 10);
    let out = fw.run(&["remove", "tagged", "--purge"]);
    out.assert_code(0);
    assert!(
        out.stdout.contains("deleted its history: 10 items"),
        "{}",
        out.stdout
    );
    assert_eq!(items_held(&fw, "tagged"), 0);
}
