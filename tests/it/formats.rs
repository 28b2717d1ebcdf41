//! Every feed format feedwatch reads, one small fixture each, served over
//! HTTP and read back through `feedwatch test --json`: the items, their
//! titles, links and dates.

use serde_json::Value;

use crate::support::reading::{field, fixture, items, read_fixture, warnings};
use crate::support::{Feedwatch, OrFail, Response, TestServer, Toml};

/// The fields every format is checked on, item by item.
struct Want<'a> {
    title: &'a str,
    keys: &'a [&'a str],
    titles: &'a [&'a str],
    links: &'a [&'a str],
    published: &'a [Option<&'a str>],
}

#[track_caller]
fn assert_read(json: &Value, want: &Want) {
    assert_eq!(json["kind"], "feed");
    assert_eq!(json["title"], want.title, "{json:#}");
    assert_eq!(field(json, "key"), want.keys, "{json:#}");
    assert_eq!(field(json, "title"), want.titles, "{json:#}");
    assert_eq!(field(json, "link"), want.links, "{json:#}");
    let published: Vec<Option<&str>> = items(json)
        .iter()
        .map(|i| i["published"].as_str())
        .collect();
    assert_eq!(published, want.published, "{json:#}");
    assert!(
        warnings(json).is_empty(),
        "a well-formed feed warned: {json:#}"
    );
}

const COUNCIL_LINKS: [&str; 2] = [
    "https://council.example/news/library-hours",
    "https://council.example/news/bins",
];
const COUNCIL_DATES: [Option<&str>; 2] =
    [Some("2025-02-03T10:15:00Z"), Some("2025-01-31T16:00:00Z")];

fn council(json: &Value, title: &str) {
    assert_read(
        json,
        &Want {
            title,
            keys: &COUNCIL_LINKS,
            titles: &["Library hours extended", "Bin collection changes"],
            links: &COUNCIL_LINKS,
            published: &COUNCIL_DATES,
        },
    );
    assert_eq!(
        field(json, "summary"),
        [
            "The central library now opens until 8pm.",
            "Collections move to Tuesdays from March."
        ]
    );
}

#[test]
fn rss_0_91() {
    council(&read_fixture("formats/rss091.xml"), "Council news 0.91");
}

#[test]
fn rss_0_92() {
    council(&read_fixture("formats/rss092.xml"), "Council news 0.92");
}

#[test]
fn rss_0_93() {
    council(&read_fixture("formats/rss093.xml"), "Council news 0.93");
}

#[test]
fn rss_0_94() {
    council(&read_fixture("formats/rss094.xml"), "Council news 0.94");
}

#[test]
fn rss_without_a_version() {
    council(
        &read_fixture("formats/rss-no-version.xml"),
        "Council news without a version",
    );
}

#[test]
fn rss_2_0_in_a_namespace_of_its_own() {
    let links = ["http://scripting.example/2003/01/namespaces"];
    let json = read_fixture("formats/rss20-namespaced.xml");
    assert_read(
        &json,
        &Want {
            title: "Scripting news",
            keys: &links,
            titles: &["Namespaces considered"],
            links: &links,
            published: &[Some("2003-01-01T12:00:00Z")],
        },
    );
    assert_eq!(items(&json)[0]["author"], "Dave");
}

#[test]
fn rss_0_90() {
    let links = [
        "http://parish.example/notices/roof",
        "http://parish.example/notices/fete",
    ];
    assert_read(
        &read_fixture("formats/rss090.rdf"),
        &Want {
            title: "Parish notices",
            keys: &links,
            titles: &["Hall roof repaired", "Fete moved to Sunday"],
            links: &links,
            published: &[None, None],
        },
    );
}

#[test]
fn rss_2_0_keeps_every_item_field() {
    let json = read_fixture("formats/rss20.xml");
    assert_read(
        &json,
        &Want {
            title: "Frontline podcast",
            keys: &["podcast-episode-2", "podcast-episode-1"],
            titles: &["Episode 2: caseloads", "Episode 1: first year"],
            // The comments link comes first in the item and is not its own.
            links: &[
                "https://podcast.example/episodes/2",
                "https://podcast.example/episodes/1",
            ],
            published: &[Some("2025-02-04T09:00:00Z"), Some("2025-01-28T09:00:00Z")],
        },
    );
    let first = &items(&json)[0];
    assert_eq!(first["author"], "Sam Patel");
    assert_eq!(first["summary"], "What a fair caseload looks like.");
    assert_eq!(
        first["content"],
        "What a fair caseload looks like, in the words of three practitioners."
    );
    assert_eq!(first["updated"], "2025-02-04T09:00:00Z");
    assert_eq!(
        first["enclosure"]["url"],
        "https://podcast.example/audio/2.mp3"
    );
    assert_eq!(first["enclosure"]["type"], "audio/mpeg");
}

#[test]
fn rss_1_0_keeps_an_item_without_a_link() {
    let json = read_fixture("formats/rss10.rdf");
    // rdf:about names the item: its identity, though not its link.
    assert_eq!(
        field(&json, "key"),
        [
            "https://charity.example/posts/appeal",
            "https://charity.example/posts/volunteers"
        ]
    );
    assert_eq!(
        field(&json, "title"),
        ["Winter appeal opens", "Volunteers thanked"]
    );
    assert_eq!(
        field(&json, "link"),
        ["https://charity.example/posts/appeal", ""]
    );
    assert_eq!(json["title"], "Charity bulletin");
    let items = items(&json);
    assert_eq!(items[0]["published"], "2025-01-15T08:30:00Z");
    assert_eq!(items[1]["published"], "2025-01-10T00:00:00Z");
    assert_eq!(items[0]["author"], "Charity team");
    assert_eq!(
        items[1]["summary"],
        "A note of thanks, with no link of its own."
    );
}

#[test]
fn atom_0_3_with_escaped_base64_and_inline_content() {
    let json = read_fixture("formats/atom03.xml");
    assert_read(
        &json,
        &Want {
            title: "Old blog",
            keys: &[
                "tag:oldblog.example,2004:escaped",
                "tag:oldblog.example,2004:base64",
                "tag:oldblog.example,2004:inline",
            ],
            titles: &["Escaped post", "Base64 post", "Inline markup post"],
            links: &[
                "http://oldblog.example/2004/06/escaped",
                "http://oldblog.example/2004/05/base64",
                "http://oldblog.example/2004/05/inline",
            ],
            // issued; created when there is no issued; a W3C-DTF day.
            published: &[
                Some("2004-06-01T08:00:00Z"),
                Some("2004-05-19T12:00:00Z"),
                Some("2004-05-10T00:00:00Z"),
            ],
        },
    );
    assert_eq!(
        field(&json, "updated"),
        [
            "2004-06-02T10:00:00Z",
            "2004-05-20T12:00:00Z",
            "2004-05-10T08:00:00Z"
        ]
    );
    assert_eq!(
        field(&json, "content"),
        [
            "An escaped paragraph.",
            "An encoded paragraph.",
            "An inline paragraph."
        ]
    );
    assert_eq!(items(&json)[1]["summary"], "Encoded for safety");
    assert_eq!(field(&json, "author"), ["Alex", "Alex", "Alex"]);
}

#[test]
fn atom_1_0_resolves_xml_base_and_keeps_every_field() {
    let json = read_fixture("formats/atom10.xml");
    assert_read(
        &json,
        &Want {
            title: "Newsroom",
            keys: &[
                "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
                "urn:uuid:2225c695-cfb8-4ebb-aaaa-80da344efa6b",
            ],
            titles: &["Budget agreed", "Plain title"],
            links: &[
                "https://news.example/blog/posts/budget",
                "https://news.example/archive/2025/01/plain",
            ],
            published: &[Some("2025-02-03T16:00:00Z"), None],
        },
    );
    let first = &items(&json)[0];
    assert_eq!(first["updated"], "2025-02-04T09:00:00Z");
    assert_eq!(first["author"], "Priya Shah");
    assert_eq!(first["summary"], "The council agreed its budget.");
    assert_eq!(first["content"], "The council agreed its budget.");
    assert_eq!(
        first["enclosure"]["url"],
        "https://news.example/blog/files/budget.pdf"
    );
    assert_eq!(first["enclosure"]["type"], "application/pdf");
    assert_eq!(items(&json)[1]["content"], "Escaped & tidy.");
}

#[test]
fn json_feed_1_0() {
    let json = read_fixture("formats/jsonfeed10.json");
    assert_eq!(json["title"], "Microblog");
    assert_eq!(field(&json, "key"), ["2", "1"]);
    assert_eq!(field(&json, "title"), ["Second post", ""]);
    let links = field(&json, "link");
    assert_eq!(links[0], "https://micro.example/2");
    assert!(
        links[1].starts_with("http://127.0.0.1:") && links[1].ends_with("/1"),
        "a relative url resolves against the feed's address: {links:?}"
    );
    assert_eq!(
        field(&json, "published"),
        ["2025-02-04T09:00:00Z", "2025-02-01T09:00:00Z"]
    );
    assert_eq!(items(&json)[1]["updated"], "2025-02-02T09:00:00Z");
    assert_eq!(field(&json, "author"), ["Jo Bloggs", "Jo Bloggs"]);
    assert_eq!(
        field(&json, "content"),
        ["Hello again.", "A post without a title."]
    );
    assert_eq!(items(&json)[1]["summary"], "Untitled");
    assert_eq!(
        items(&json)[0]["enclosure"]["url"],
        "https://micro.example/2.mp3"
    );
    assert_eq!(items(&json)[0]["enclosure"]["type"], "audio/mpeg");
}

#[test]
fn json_feed_1_1() {
    let json = read_fixture("formats/jsonfeed11.json");
    assert_eq!(json["title"], "Team notes");
    assert_eq!(
        field(&json, "key"),
        ["https://notes.example/b", "https://notes.example/a"]
    );
    assert_eq!(field(&json, "title"), ["Note B", "Note A"]);
    assert_eq!(
        field(&json, "link"),
        ["https://notes.example/b", "https://elsewhere.example/a"]
    );
    let published: Vec<&Value> = items(&json).iter().map(|i| &i["published"]).collect();
    assert_eq!(
        published,
        [&Value::from("2025-02-04T09:00:00Z"), &Value::Null]
    );
    assert_eq!(field(&json, "author"), ["Ana, Ben", "Team"]);
    assert_eq!(field(&json, "content"), ["Second note.", "First note."]);
}

#[test]
fn cdf() {
    let links = [
        "http://intranet.example/canteen.htm",
        "http://intranet.example/parking.htm",
    ];
    let json = read_fixture("formats/channel.cdf");
    assert_read(
        &json,
        &Want {
            title: "Intranet headlines",
            keys: &links,
            titles: &["Canteen menu", "Parking closed Friday"],
            links: &links,
            published: &[None, None],
        },
    );
    assert_eq!(
        field(&json, "updated"),
        ["1998-11-05T09:00:00Z", "1998-11-04T17:30:00Z"]
    );
    assert_eq!(
        field(&json, "summary"),
        ["This week's menu", "The car park is resurfaced"]
    );
}

/// The poll path reads the old formats too: a `check` of an Atom 0.3 feed
/// and of a CDF channel holds every item, under the titles `test` shows.
#[test]
fn a_poll_holds_every_item_of_the_old_formats() {
    let server = TestServer::start();
    server.set(
        "/atom03",
        Response::ok(fixture("formats/atom03.xml")).header("Content-Type", "application/atom+xml"),
    );
    server.set(
        "/cdf",
        Response::ok(fixture("formats/channel.cdf")).header("Content-Type", "application/x-cdf"),
    );
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::settings()
            .source("atom03", &server.url("/atom03"))
            .source("cdf", &server.url("/cdf")),
    );
    let check = fw.run(&["check"]);
    check.assert_code(0);
    assert!(check.stdout.contains("atom03: 3 items"), "{}", check.stdout);
    assert!(check.stdout.contains("cdf: 2 items"), "{}", check.stdout);
    for (source, titles) in [
        (
            "atom03",
            &["Escaped post", "Base64 post", "Inline markup post"][..],
        ),
        ("cdf", &["Canteen menu", "Parking closed Friday"][..]),
    ] {
        let history = fw.run(&["history", source]);
        history.assert_code(0);
        let lines = history.lines();
        assert_eq!(lines.len(), titles.len(), "{}", history.stdout);
        for (line, title) in lines.iter().zip(titles) {
            assert!(line.ends_with(title), "{source}: {line:?} is not {title:?}");
        }
    }
}

/// Every version keeps its enclosure: a replaced podcast file is a new
/// version holding the new address and type, the old one kept as it was.
#[test]
fn each_version_keeps_its_enclosure() {
    let server = TestServer::start();
    let original = String::from_utf8(fixture("formats/rss20.xml")).or_fail("fixture");
    server.set("/podcast", Response::rss(original.clone()));
    let fw = Feedwatch::new();
    fw.write_config(Toml::settings().source("podcast", &server.url("/podcast")));
    fw.run(&["check"]).assert_code(0);
    let replaced = original.replace(
        "<enclosure url=\"https://podcast.example/audio/2.mp3\" length=\"1234\" type=\"audio/mpeg\"/>",
        "<enclosure url=\"https://podcast.example/audio/2-fixed.m4a\" length=\"1300\" type=\"audio/mp4\"/>",
    );
    assert_ne!(replaced, original, "the fixture has the enclosure replaced");
    server.set("/podcast", Response::rss(replaced));
    fw.run(&["check"]).assert_code(0);

    let db = rusqlite::Connection::open(fw.dir().join("feedwatch.db")).or_fail("database");
    let mut stmt = db
        .prepare(
            "SELECT v.version, v.enclosure_url, v.enclosure_type FROM version v
             JOIN item i ON i.id = v.item_id ORDER BY i.key, v.version",
        )
        .or_fail("query");
    let rows: Vec<(u32, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(Iterator::collect)
        .or_fail("rows");
    let has = |version: u32, url: &str, media_type: &str| {
        rows.iter()
            .any(|(v, u, t)| *v == version && u == url && t == media_type)
    };
    assert!(
        has(1, "https://podcast.example/audio/2.mp3", "audio/mpeg"),
        "{rows:?}"
    );
    assert!(
        has(2, "https://podcast.example/audio/2-fixed.m4a", "audio/mp4"),
        "{rows:?}"
    );
    assert!(
        has(1, "https://podcast.example/audio/1.mp3", "audio/mpeg"),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|(v, u, _)| *v == 2 && u.ends_with("1.mp3")),
        "{rows:?}"
    );
}
