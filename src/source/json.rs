//! JSON Feed 1.0 and 1.1, read directly: feed-rs refuses a whole feed for
//! a numeric `id` or a missing title, and leaves relative URLs as written.

use serde_json::{Map, Value};
use url::Url;

use super::dates;
use super::identity::Fields;
use super::{Enclosure, Item};
use crate::text;

/// A JSON Feed's title and items, keys not yet assigned.
pub(crate) struct JsonFeed {
    pub title: String,
    pub entries: Vec<Fields>,
}

/// Reads a JSON Feed; the error says why the text is not one.
pub(crate) fn read(text: &str, base: Option<&Url>) -> Result<JsonFeed, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("unreadable JSON ({e})"))?;
    let feed = value
        .as_object()
        .ok_or_else(|| "the document is not a JSON object".to_string())?;
    let version = string(feed, "version");
    let items = feed.get("items").and_then(Value::as_array);
    let Some(items) = items else {
        return Err(if version.starts_with("https://jsonfeed.org/version/") {
            "it has no \"items\" list".into()
        } else {
            "it has neither a JSON Feed \"version\" nor an \"items\" list".into()
        });
    };
    let feed_authors = authors(feed);
    let entries = items
        .iter()
        .filter_map(Value::as_object)
        .map(|item| fields(item, base, &feed_authors))
        .collect();
    Ok(JsonFeed {
        title: text::single_line(&string(feed, "title")),
        entries,
    })
}

fn fields(item: &Map<String, Value>, base: Option<&Url>, feed_authors: &str) -> Fields {
    let guid = match item.get("id") {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let link = [string(item, "url"), string(item, "external_url")]
        .into_iter()
        .find(|u| !u.trim().is_empty())
        .map(|u| resolve(&u, base))
        .unwrap_or_default();
    let html = string(item, "content_html");
    let content = if html.trim().is_empty() {
        text::fold(&string(item, "content_text"))
    } else {
        text::html_to_text(&html)
    };
    let own_authors = authors(item);
    let enclosure = item
        .get("attachments")
        .and_then(Value::as_array)
        .and_then(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .find(|a| !string(a, "url").is_empty())
        })
        .map(|a| Enclosure {
            url: resolve(&string(a, "url"), base),
            media_type: string(a, "mime_type"),
        });
    Fields {
        guid,
        item: Item {
            key: String::new(),
            title: text::single_line(&string(item, "title")),
            link,
            published: dates::parse(&string(item, "date_published")),
            updated: dates::parse(&string(item, "date_modified")),
            author: if own_authors.is_empty() {
                feed_authors.to_string()
            } else {
                own_authors
            },
            summary: text::fold(&string(item, "summary")),
            content,
            enclosure,
        },
    }
}

/// A string member, or empty.
fn string(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The names of `authors` (1.1) or `author` (1.0), joined.
fn authors(object: &Map<String, Value>) -> String {
    let list: Vec<&Value> = match (object.get("authors"), object.get("author")) {
        (Some(Value::Array(list)), _) => list.iter().collect(),
        (_, Some(one)) => vec![one],
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn resolve(url: &str, base: Option<&Url>) -> String {
    let url = url.trim();
    match (Url::parse(url), base) {
        (Ok(absolute), _) => absolute.to_string(),
        (Err(url::ParseError::RelativeUrlWithoutBase), Some(base)) => base
            .join(url)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| url.to_string()),
        _ => url.to_string(),
    }
}
