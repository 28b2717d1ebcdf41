//! What is watched: documents turned into plain items with stable identities.

mod chunks;
pub mod dates;
pub mod decode;
pub mod discover;
pub mod feed;
mod identity;
pub mod jq;
mod json;
pub mod normalize;
pub mod page;

use chrono::{DateTime, Utc};

/// What a source is read as: a feed of items, or one page of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Feed,
    Page,
    /// A JSON API read through a jq filter: items, or one document.
    Json,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Page => "page",
            SourceKind::Json => "json",
        }
    }
}

/// One story as read from a document, its text already reduced from markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub title: String,
    pub link: String,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub author: String,
    pub summary: String,
    pub content: String,
    /// The first enclosure (RSS), `rel="enclosure"` link (Atom) or attachment (JSON Feed).
    pub enclosure: Option<Enclosure>,
}

/// A file attached to an item: a podcast episode, an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enclosure {
    pub url: String,
    /// The media type as the feed gave it; empty when it gave none.
    pub media_type: String,
}

/// What one fetched feed yields.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    /// In document order: the first is usually the newest.
    pub items: Vec<Item>,
    /// RSS `<ttl>` in minutes, when given.
    pub ttl_minutes: Option<u32>,
    /// What was wrong with the document but could be read past, one line each.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed that can be read: {0}")]
    Feed(#[source] feed_rs::parser::ParseFeedError),
    #[error("the feed parser failed on this document ({0})")]
    Panicked(String),
    #[error("not a JSON Feed that can be read: {0}")]
    Json(String),
}

/// Decides from a first response whether a source is a feed or a page: the
/// document's first element when it can be seen (`rss`, `feed`, `rdf:RDF`,
/// CDF's `CHANNEL` or a JSON object make a feed, `html` a page), else the
/// declared type.
pub fn sniff(body: &[u8], content_type: Option<&str>) -> SourceKind {
    use SourceKind::{Feed, Page};
    let head = &body[..body.len().min(4096)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let start = lower.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if start.starts_with('{') {
        return Feed;
    }
    match first_element(start).as_deref() {
        Some("rss" | "feed" | "rdf:rdf" | "rdf" | "channel") => return Feed,
        Some("html") => return Page,
        _ => {}
    }
    let declared = content_type.unwrap_or_default().to_ascii_lowercase();
    if declared.contains("html") || lower.contains("<html") || lower.contains("<body") {
        Page
    } else {
        Feed
    }
}

/// The name of the first element, past the XML declaration, comments,
/// processing instructions and any DOCTYPE.
fn first_element(mut rest: &str) -> Option<String> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->")? + 3..];
        } else if rest.starts_with("<!doctype") {
            if rest.starts_with("<!doctype html") {
                return Some("html".into());
            }
            rest = &rest[rest.find('>')? + 1..];
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
        } else if let Some(after) = rest.strip_prefix('<') {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_'))
                .collect();
            return (!name.is_empty()).then_some(name);
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod sniff_tests {
    use super::sniff;
    use crate::source::SourceKind::{Feed, Page};

    #[test]
    fn first_element_decides_then_the_declared_type() {
        let cases: [(&[u8], Option<&str>, _); 9] = [
            (
                b"<?xml version=\"1.0\"?>\n<rss version=\"2.0\">",
                Some("text/html"),
                Feed,
            ),
            (
                b"\xef\xbb\xbf<feed xmlns=\"http://www.w3.org/2005/Atom\">",
                None,
                Feed,
            ),
            (b"<?xml version=\"1.0\"?><!-- c --><rdf:RDF>", None, Feed),
            (b"<CHANNEL HREF=\"http://e.org/\">", Some("text/html"), Feed),
            (
                b"{\"version\": \"https://jsonfeed.org/version/1.1\"}",
                None,
                Feed,
            ),
            (
                b"<!DOCTYPE html><html><body>",
                Some("application/xml"),
                Page,
            ),
            (
                b"<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\">",
                None,
                Page,
            ),
            (b"<p>hello</p>", Some("text/html; charset=utf-8"), Page),
            (b"not markup", None, Feed),
        ];
        for (body, content_type, kind) in cases {
            assert_eq!(
                sniff(body, content_type),
                kind,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
