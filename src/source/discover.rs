//! The feeds an HTML page offers: its `<link rel="alternate">` elements of
//! RSS, Atom and JSON Feed types, resolved against `<base href>` or the
//! page's own address, in the order the page lists them.

use dom_query::Document;
use url::Url;

use super::page::{PageError, guarded, too_deep};
use crate::text;

/// One feed a page links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub url: Url,
    /// As the link's `title` gives it; often empty.
    pub title: String,
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    JsonFeed,
}

impl Format {
    fn of(media_type: &str) -> Option<Format> {
        let essence = media_type.split(';').next().unwrap_or_default().trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/rss+xml" | "application/rdf+xml" => Some(Format::Rss),
            "application/atom+xml" => Some(Format::Atom),
            "application/feed+json" | "application/json+feed" => Some(Format::JsonFeed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::JsonFeed => "json",
        }
    }
}

/// The feeds `html` (fetched from `page`) offers; one listed twice is kept once.
pub fn feeds(
    html: &[u8],
    content_type: Option<&str>,
    page: &Url,
) -> Result<Vec<Offered>, PageError> {
    let decoded = super::decode::html_to_utf8(html, content_type);
    if too_deep(&decoded.text) {
        return Err(PageError::TooDeep);
    }
    guarded(|| {
        let doc = Document::from(decoded.text.as_str());
        let base = doc
            .select("base[href]")
            .nodes()
            .first()
            .and_then(|b| b.attr("href"))
            .and_then(|href| page.join(href.trim()).ok())
            .unwrap_or_else(|| page.clone());
        let mut found: Vec<Offered> = Vec::new();
        for link in doc.select("link[rel][href][type]").nodes() {
            let rel = link.attr("rel").unwrap_or_default();
            if !rel
                .split_ascii_whitespace()
                .any(|r| r.eq_ignore_ascii_case("alternate"))
            {
                continue;
            }
            let Some(format) = link.attr("type").and_then(|t| Format::of(&t)) else {
                continue;
            };
            let href = link.attr("href").unwrap_or_default();
            let Ok(url) = base.join(href.trim()) else {
                continue;
            };
            if !matches!(url.scheme(), "http" | "https") || found.iter().any(|f| f.url == url) {
                continue;
            }
            let title = link.attr("title").unwrap_or_default();
            found.push(Offered {
                url,
                title: text::single_line(&text::fold(&title)),
                format,
            });
        }
        Ok(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://news.example.org/2026/story/").unwrap_or_else(|e| panic!("{e}"))
    }

    fn urls(html: &str) -> Vec<String> {
        feeds(html.as_bytes(), None, &page())
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|f| format!("{} {} {}", f.format.as_str(), f.url, f.title))
            .collect()
    }

    #[test]
    fn alternate_feed_links_resolve_against_the_page() {
        let html = r#"<html><head>
            <link rel="stylesheet" type="text/css" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="All news" href="/feed/">
            <link rel="Alternate home" type="application/atom+xml; charset=utf-8" href="atom.xml">
            <link rel="alternate" type="application/feed+json" title=" JSON
               feed " href="https://other.example.org/feed.json">
            <link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
            <link rel="alternate" type="application/rss+xml" href="/feed/">
            </head><body></body></html>"#;
        assert_eq!(
            urls(html),
            [
                "rss https://news.example.org/feed/ All news",
                "atom https://news.example.org/2026/story/atom.xml ",
                "json https://other.example.org/feed.json JSON feed",
            ]
        );
    }

    #[test]
    fn base_href_decides_what_relative_links_mean() {
        let html = r#"<head><base href="/sections/"><link rel="alternate"
            type="application/rss+xml" href="uk.rss"></head>"#;
        assert_eq!(
            urls(html),
            ["rss https://news.example.org/sections/uk.rss "]
        );
    }
}
