//! Reports people read: the changes of a period as text for a terminal,
//! Markdown, JSON for scripts, one self-contained HTML page, or an Atom feed.
//! Rendering takes plain events and returns text; nothing here does I/O
//! except [`publish`], which writes the files a static web server serves.

mod atom;
mod html;
mod json;
mod markdown;
pub(crate) mod publish;
pub(crate) mod text;
pub(crate) mod words;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::event::{Event, EventKind, SourceRef};

/// The renderings `report` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Html,
    Atom,
}

/// The changes of one period, newest first.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub events: &'a [Event],
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Makes the Atom feed's id: the same seed gives the same feed.
    pub feed_seed: &'a str,
    /// Where the published files are served (`report_url`), for the feed's links.
    pub site: Option<&'a url::Url>,
}

/// Renders a report; `colour` only matters for text.
pub fn render(report: &Report<'_>, format: Format, colour: bool) -> String {
    match format {
        Format::Text => text::render(report, colour),
        Format::Markdown => markdown::render(report),
        Format::Json => json::render(report),
        Format::Html => html::render(report),
        Format::Atom => atom::render(report),
    }
}

/// The start of a period of `length` ending `now`; a length reaching past
/// 1970 (say "1000 years") starts there instead of overflowing.
pub fn period_start(now: DateTime<Utc>, length: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(length)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .filter(|t| *t > DateTime::UNIX_EPOCH)
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// What happened, in a reader's words.
pub(crate) fn label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ItemNew => "new",
        EventKind::ItemUpdated => "edited",
        EventKind::ItemRemoved => "taken down",
        EventKind::ItemFlapping => "flapping",
        EventKind::PageChanged => "page changed",
        EventKind::BulkChange => "bulk change",
        EventKind::SourceFailing => "failing",
        EventKind::SourceRecovered => "recovered",
    }
}

/// One line naming what an event is about.
pub(crate) fn headline(event: &Event) -> String {
    match &event.held {
        Some(reason) => format!("[held back: {reason}] {}", plain_headline(event)),
        None => plain_headline(event),
    }
}

fn plain_headline(event: &Event) -> String {
    if let Some(bulk) = &event.bulk {
        return bulk.summary.clone();
    }
    match (&event.item, event.kind) {
        (Some(item), _) if !item.title.trim().is_empty() => item.title.clone(),
        (Some(item), _) => item.key.clone(),
        (None, EventKind::SourceFailing) => "the source is failing".into(),
        (None, EventKind::SourceRecovered) => "the source works again".into(),
        (None, EventKind::PageChanged) => "the page changed".into(),
        (None, _) => event.source.name.clone(),
    }
}

/// The link an event points a reader to: the story for an item event, else
/// the source. Only `http` and `https` links are ever offered.
pub(crate) fn link_of(event: &Event) -> Option<String> {
    match &event.item {
        Some(item) => web_link(&item.link),
        None => web_link(&event.source.url),
    }
}

/// A URL a reader can safely follow: absolute `http` or `https`, normalised.
pub(crate) fn web_link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// Events grouped by source: sources in order of their newest event, each
/// group newest first (the order the events came in).
pub(crate) fn by_source(events: &[Event]) -> Vec<(&SourceRef, Vec<&Event>)> {
    let mut groups: Vec<(&SourceRef, Vec<&Event>)> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for event in events {
        let at = *index.entry(&event.source.name).or_insert_with(|| {
            groups.push((&event.source, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(event);
    }
    groups
}

/// How many events of each kind each source had, for the summary.
pub(crate) struct Counts<'a> {
    /// The kinds present, in their documented order.
    pub kinds: Vec<EventKind>,
    /// Per source (in `by_source` order), the count of each of `kinds`.
    pub rows: Vec<(&'a str, Vec<usize>)>,
}

impl<'a> Counts<'a> {
    pub fn of(groups: &[(&'a SourceRef, Vec<&Event>)]) -> Counts<'a> {
        let kinds: Vec<EventKind> = EventKind::ALL
            .into_iter()
            .filter(|k| groups.iter().any(|(_, es)| es.iter().any(|e| e.kind == *k)))
            .collect();
        let rows = groups
            .iter()
            .map(|(source, events)| {
                let counts = kinds
                    .iter()
                    .map(|k| events.iter().filter(|e| e.kind == *k).count())
                    .collect();
                (source.name.as_str(), counts)
            })
            .collect();
        Counts { kinds, rows }
    }

    pub fn totals(&self) -> Vec<usize> {
        (0..self.kinds.len())
            .map(|i| self.rows.iter().map(|(_, c)| c[i]).sum())
            .collect()
    }
}

/// "2026-11-29 17:40 UTC" from an event timestamp; the text as given when
/// it is not a timestamp.
pub(crate) fn human_time(timestamp: &str) -> String {
    DateTime::parse_from_rfc3339(timestamp)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| timestamp.to_string())
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Appends `text` escaped for HTML or XML text and attribute values alike,
/// leaving out characters XML 1.0 does not allow.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => {}
        }
    }
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    escape_into(&mut out, text);
    out
}

fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A `urn:uuid:` made from the first 128 bits of a SHA-256 of `seed`.
pub(crate) fn uuid_urn(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid_from(u128::from_be_bytes(bytes))
}

/// An event's id as a `urn:uuid:` (the ULID's 128 bits), stable forever.
pub(crate) fn event_urn(id: &str) -> String {
    match id
        .strip_prefix("evt_")
        .and_then(|u| ulid::Ulid::from_string(u).ok())
    {
        Some(ulid) => uuid_from(ulid.0),
        None => uuid_urn(id),
    }
}

fn uuid_from(n: u128) -> String {
    let h = format!("{n:032x}");
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_drops_what_xml_forbids() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>\u{1b}[2J\u{0}"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;[2J"
        );
    }

    #[test]
    fn only_web_links_are_offered() {
        assert_eq!(web_link("javascript:alert(1)"), None);
        assert_eq!(web_link("data:text/html,hi"), None);
        assert_eq!(web_link("/relative"), None);
        assert_eq!(
            web_link(" https://example.org/a b ").as_deref(),
            Some("https://example.org/a%20b")
        );
    }

    #[test]
    fn event_urns_are_stable_uuids() {
        let id = "evt_01JDX3ZQ5V8Y9W7T6S5R4Q3P2N";
        let urn = event_urn(id);
        assert_eq!(urn, event_urn(id));
        assert_eq!(urn.len(), "urn:uuid:".len() + 36);
        assert_ne!(urn, event_urn("evt_01JDX3ZQ5V8Y9W7T6S5R4Q3P2M"));
        assert_eq!(uuid_urn("a"), uuid_urn("a"));
    }
}
