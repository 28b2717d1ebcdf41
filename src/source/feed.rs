//! Feeds: every RSS, RDF, Atom and CDF dialect through normalisation and
//! feed-rs, JSON Feed through a reader of our own, with identities of our own.

use std::panic::{AssertUnwindSafe, catch_unwind};

use url::Url;

use super::identity::{Fields, assign_keys};
use super::{Document, Enclosure, Item, ParseError};
use super::{dates, json, normalize};
use crate::text;

/// Reads a feed as served: decodes it to UTF-8 (BOM, HTTP charset, XML
/// declaration, detection), drops any DOCTYPE so no entity can expand or
/// reach outside, then parses it.
pub fn read(
    body: &[u8],
    content_type: Option<&str>,
    base: Option<&Url>,
) -> Result<Document, ParseError> {
    let decoded = super::decode::xml_to_utf8(body, content_type);
    let xml = super::decode::strip_doctype(&decoded.text);
    parse(&xml, base)
}

/// Parses a feed that is already UTF-8 text. A parser panic is this
/// document's error, never the caller's.
pub fn parse(text: &str, base: Option<&Url>) -> Result<Document, ParseError> {
    if text.trim_start().starts_with('{') {
        let feed = json::read(text, base).map_err(ParseError::Json)?;
        return Ok(Document {
            title: feed.title,
            items: assign_keys(feed.entries),
            ttl_minutes: None,
            warnings: Vec::new(),
        });
    }
    let normalized = normalize::xml(text);
    let mut doc = read_xml(normalized.xml.as_bytes(), base, &normalized.not_permalinks)?;
    doc.warnings = normalized.warnings;
    Ok(doc)
}

/// Documents larger than this with more than [`ITEMS_PER_CHUNK`] items are
/// read a slice of items at a time (see `super::chunks`).
const SPLIT_ABOVE: usize = 1024 * 1024;
const ITEMS_PER_CHUNK: usize = 500;

/// feed-rs on a normalised document; a big one a slice of items at a time,
/// so the parser's model of it never has to be whole.
fn read_xml(
    bytes: &[u8],
    base: Option<&Url>,
    not_permalinks: &[String],
) -> Result<Document, ParseError> {
    let chunks = if bytes.len() > SPLIT_ABOVE {
        std::str::from_utf8(bytes)
            .ok()
            .and_then(|xml| super::chunks::split(xml, ITEMS_PER_CHUNK))
    } else {
        None
    };
    let Some(chunks) = chunks else {
        let (head, items) = read_one(bytes, base, not_permalinks)?;
        return Ok(head.into_document(items));
    };
    let mut head: Option<Head> = None;
    let mut items = Vec::new();
    for chunk in chunks {
        let (h, mut more) = read_one(chunk.as_bytes(), base, not_permalinks)?;
        items.append(&mut more);
        head.get_or_insert(h);
    }
    Ok(head.unwrap_or_default().into_document(items))
}

/// What a feed says of itself.
#[derive(Default)]
struct Head {
    title: String,
    ttl_minutes: Option<u32>,
}

impl Head {
    fn into_document(self, items: Vec<Fields>) -> Document {
        Document {
            title: self.title,
            items: assign_keys(items),
            ttl_minutes: self.ttl_minutes,
            warnings: Vec::new(),
        }
    }
}

/// One document through feed-rs. An RSS item with no link of its own has
/// its guid as link, as long as the guid is a web address and not marked
/// `isPermaLink="false"`.
fn read_one(
    bytes: &[u8],
    base: Option<&Url>,
    not_permalinks: &[String],
) -> Result<(Head, Vec<Fields>), ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.map(Url::as_str))
        // An empty id marks "the feed gave none", so identity never rests on a generated one.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(dates::parse)
        .build();
    let parsed = catch_unwind(AssertUnwindSafe(|| parser.parse(bytes)))
        .map_err(|panic| ParseError::Panicked(panic_message(panic.as_ref())))?;
    let feed = parsed.map_err(ParseError::Feed)?;
    // Entries without an author of their own have the feed's, as Atom says.
    let feed_author = names(&feed.authors);
    let rss = !matches!(
        feed.feed_type,
        feed_rs::model::FeedType::Atom | feed_rs::model::FeedType::JSON
    );
    let items = feed
        .entries
        .into_iter()
        .map(entry_fields)
        .map(|mut f| {
            if f.item.author.is_empty() {
                f.item.author.clone_from(&feed_author);
            }
            if rss
                && f.item.link.is_empty()
                && is_web_address(&f.guid)
                && !not_permalinks.contains(&f.guid)
            {
                f.item.link = f.guid.clone();
            }
            f
        })
        .collect();
    let head = Head {
        title: feed
            .title
            .map(|t| text::single_line(&t.content))
            .unwrap_or_default(),
        ttl_minutes: feed.ttl,
    };
    Ok((head, items))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn entry_fields(entry: feed_rs::model::Entry) -> Fields {
    let link = own_link(&entry.links).unwrap_or_default();
    let enclosure = enclosure(&entry);
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(text::html_to_text)
        .unwrap_or_default();
    let summary = entry
        .summary
        .as_ref()
        .map(|s| text::html_to_text(&s.content))
        .unwrap_or_default();
    let author = names(&entry.authors);
    Fields {
        guid: entry.id.trim().to_string(),
        item: Item {
            key: String::new(),
            title: entry
                .title
                .map(|t| text::single_line(&t.content))
                .unwrap_or_default(),
            link,
            published: entry.published.filter(rfc3339_year),
            updated: entry.updated.filter(rfc3339_year),
            author,
            summary,
            content,
            enclosure,
        },
    }
}

fn is_web_address(text: &str) -> bool {
    Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

fn names(people: &[feed_rs::model::Person]) -> String {
    people
        .iter()
        .filter_map(|p| p.name.as_deref().map(str::trim))
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first media file: an RSS enclosure (feed-rs keeps those as media), or
/// an Atom `rel="enclosure"` link.
fn enclosure(entry: &feed_rs::model::Entry) -> Option<Enclosure> {
    let media = entry
        .media
        .iter()
        .flat_map(|m| m.content.iter())
        .find_map(|c| {
            c.url.as_ref().map(|url| Enclosure {
                url: url.to_string(),
                media_type: c
                    .content_type
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            })
        });
    media.or_else(|| {
        entry
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("enclosure") && !l.href.trim().is_empty())
            .map(|l| Enclosure {
                url: l.href.trim().to_string(),
                media_type: l.media_type.clone().unwrap_or_default(),
            })
    })
}

/// RFC 3339 has four-digit years; a date past them is not a date anyone meant.
fn rfc3339_year(time: &chrono::DateTime<chrono::Utc>) -> bool {
    (0..=9999).contains(&chrono::Datelike::year(time))
}

/// The item's own link: an alternate, never replies, enclosures or self.
fn own_link(links: &[feed_rs::model::Link]) -> Option<String> {
    // Comment links (RSS `<comments>`, `wfw:commentRss`) are never the item's own.
    let usable = |l: &&feed_rs::model::Link| !l.href.trim().is_empty() && l.target.is_none();
    links
        .iter()
        .filter(usable)
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| {
            links.iter().filter(usable).find(|l| {
                !matches!(
                    l.rel.as_deref(),
                    Some("replies" | "enclosure" | "self" | "edit" | "related" | "via")
                )
            })
        })
        .map(|l| l.href.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../tests/fixtures/communitycare-frontline-clean.xml");

    #[test]
    fn seed_feed_reads_ten_items_keyed_by_guid() {
        let doc = parse(SEED, None).unwrap_or_default();
        assert_eq!(doc.items.len(), 10);
        assert_eq!(
            doc.items[0].key,
            "https://www.communitycare.co.uk/?p=214135"
        );
        assert!(doc.items[0].title.starts_with("How managers are inspiring"));
        assert!(doc.items[0].content.contains("Patricia has been working"));
        assert!(
            doc.items[0]
                .link
                .starts_with("https://www.communitycare.co.uk/2024/12/19/")
        );
        assert_eq!(doc.title, "Frontline Archives - Community Care");
    }

    fn rss(items: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"
        )
    }

    #[test]
    fn identity_falls_back_to_link_then_hash_and_ignores_order() {
        let a = "<item><title>A</title><link>https://e.org/a#top</link></item>";
        let b = "<item><title>B</title><description>body</description></item>";
        let c = "<item><guid>g1</guid><title>C</title></item>";
        let keys = |xml: String| {
            let mut k: Vec<String> = parse(&xml, None)
                .map(|d| d.items.into_iter().map(|i| i.key).collect())
                .unwrap_or_default();
            k.sort();
            k
        };
        let forward = keys(rss(&format!("{a}{b}{c}")));
        let backward = keys(rss(&format!("{c}{b}{a}")));
        assert_eq!(forward, backward);
        assert!(forward.contains(&"https://e.org/a".to_string()));
        assert!(forward.contains(&"g1".to_string()));
        assert!(forward.iter().any(|k| k.starts_with("sha256:")));
    }

    #[test]
    fn repeated_guid_is_told_apart_by_link() {
        let xml = rss("<item><guid>same</guid><link>https://e.org/1</link></item>\
                       <item><guid>same</guid><link>https://e.org/2</link></item>");
        let doc = parse(&xml, None).unwrap_or_default();
        let keys: Vec<&str> = doc.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["same https://e.org/1", "same https://e.org/2"]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &b"not a feed"[..],
            b"<html><body>hi</body></html>",
            b"\xff\xfe<\x00r\x00",
            b"",
        ] {
            assert!(read(bytes, None, None).is_err());
        }
    }

    #[test]
    fn a_big_feed_read_in_slices_gives_what_it_gives_whole() {
        let mut items = String::new();
        for n in 0..(ITEMS_PER_CHUNK * 3 + 7) {
            items.push_str(&format!(
                "<item><guid>g{n}</guid><title>Story {n}</title><link>https://e.org/{n}</link>\
                 <description>{}</description></item>\n",
                "words ".repeat(150)
            ));
        }
        let xml = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Big</title>\
             <ttl>90</ttl>{items}</channel></rss>"
        );
        assert!(xml.len() > SPLIT_ABOVE);
        let sliced = read_xml(xml.as_bytes(), None, &[]).unwrap_or_default();
        let (head, whole) = read_one(xml.as_bytes(), None, &[])
            .map(|(h, i)| (h, assign_keys(i)))
            .unwrap_or_default();
        assert_eq!(sliced.items.len(), ITEMS_PER_CHUNK * 3 + 7);
        assert_eq!(sliced.items, whole);
        assert_eq!(sliced.title, head.title);
        assert_eq!(sliced.ttl_minutes, Some(90));
    }
}
