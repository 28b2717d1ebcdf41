//! The Community Care "Frontline" feed and the edits the tests make to it.

use std::fs;

use super::fail::OrFail;

pub const CLEAN_FEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/communitycare-frontline-clean.xml"
);
pub const DEFACED_FEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/communitycare-frontline.xml"
);

/// The gambling-spam prefix injected into every title of the defaced copy.
pub const SPAM_PREFIX: &str = "极速赛车168最新开奖号码 ";

/// The guids of the clean feed's items, in feed order (newest first).
pub const KEYS: [&str; 10] = [
    "https://www.communitycare.co.uk/?p=214135",
    "https://www.communitycare.co.uk/?p=211568",
    "https://www.communitycare.co.uk/?p=206903",
    "https://www.communitycare.co.uk/?p=206532",
    "https://www.communitycare.co.uk/?p=205683",
    "https://www.communitycare.co.uk/?p=203955",
    "https://www.communitycare.co.uk/?p=198385",
    "https://www.communitycare.co.uk/?p=198131",
    "https://www.communitycare.co.uk/?p=196541",
    "https://www.communitycare.co.uk/?p=195501",
];

pub fn clean_feed() -> String {
    fs::read_to_string(CLEAN_FEED).or_fail("read the clean Frontline feed fixture")
}

pub fn defaced_feed() -> String {
    fs::read_to_string(DEFACED_FEED).or_fail("read the defaced Frontline feed fixture")
}

pub fn item_count(xml: &str) -> usize {
    xml.matches("<item>").count()
}

/// Removes the `n`th item (0 = the first, newest one), with its line breaks.
pub fn remove_item(xml: &str, n: usize) -> String {
    let (start, end) = item_span(xml, n);
    format!("{}{}", &xml[..start], &xml[end..])
}

/// Puts a new item above all the others, as a site publishing a story would.
pub fn insert_item_top(
    xml: &str,
    guid: &str,
    title: &str,
    link: &str,
    pubdate: &str,
    body_html: &str,
) -> String {
    let (start, _) = item_span(xml, 0);
    let item = format!(
        "\t<item>\n\
         \t\t<title>{title}</title>\n\
         \t\t<link>{link}</link>\n\
         \t\t<pubDate>{pubdate}</pubDate>\n\
         \t\t<guid isPermaLink=\"false\">{guid}</guid>\n\
         \t\t<content:encoded><![CDATA[{body_html}]]></content:encoded>\n\
         \t</item>\n",
        title = escape(title),
        link = escape(link),
        pubdate = escape(pubdate),
        guid = escape(guid),
    );
    format!("{}{}{}", &xml[..start], item, &xml[start..])
}

/// Replaces every occurrence of `from`, which must be present.
pub fn replace(xml: &str, from: &str, to: &str) -> String {
    assert!(
        xml.contains(from),
        "the feed does not contain the text to replace: {from:?}"
    );
    xml.replace(from, to)
}

/// The byte range of the `n`th item, from the start of its line to the end of
/// the line closing it.
fn item_span(xml: &str, n: usize) -> (usize, usize) {
    let open = xml
        .match_indices("<item>")
        .nth(n)
        .or_fail(format!("the feed has no item number {n}"))
        .0;
    let start = xml[..open].rfind('\n').map_or(0, |nl| nl + 1);
    let close = open
        + xml[open..]
            .find("</item>")
            .or_fail(format!("item number {n} is not closed"))
        + "</item>".len();
    let end = match xml[close..].find('\n') {
        Some(nl) => close + nl + 1,
        None => xml.len(),
    };
    (start, end)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
