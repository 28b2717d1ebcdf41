//! What an email says: a headline naming what changed, the story's link,
//! and the changed words with a little context, as plain text and as HTML
//! with inline styles (mail readers drop `<style>` blocks and remote
//! content). Every piece of feed text is escaped in the HTML, and only
//! `http`/`https` links are made.

use std::fmt::Write;

pub use crate::deliver::message::{headline, long_headline};
use crate::event::{Change, Event, EventKind};
use crate::report::words::{self, Piece};
use crate::report::{escape, escape_into, human_time, link_of, plural, web_link};

/// Unchanged words kept either side of a change: enough to read the
/// sentence, short enough for a phone.
const CONTEXT_WORDS: usize = 12;
/// Items of a bulk change listed by name; the rest are counted.
const ITEMS_LISTED: usize = 20;
/// Longest headline kept in a subject, in characters.
const SUBJECT_CHARS: usize = 180;

const DEL: &str = "background:#ffe1e1;color:#8a1010;text-decoration:line-through";
const INS: &str = "background:#d9f5dd;color:#0b5a1c;text-decoration:underline";
const MUTED: &str = "color:#5c5c5c;font-size:14px";
const CARD: &str = "margin:16px 0;padding:10px 12px;border:1px solid #d9d9d6;border-left:4px solid";

/// A subject for one event or a digest of several, on one line.
pub fn subject(events: &[Event]) -> String {
    let text = match events {
        [one] => headline(one),
        many => {
            let heads: Vec<String> = many.iter().map(headline).collect();
            format!("{}: {}", plural(many.len(), "change"), heads.join("; "))
        }
    };
    format!("[feedwatch] {}", one_line(&text, SUBJECT_CHARS))
}

/// Control characters (CR and LF among them) and runs of whitespace become
/// one space, so no feed text can start a new header line.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let folded = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if folded.chars().count() <= max_chars {
        return folded;
    }
    let mut cut: String = folded.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The text/plain part: each event's headline, link and word diff, with
/// removals as `[-…-]` and additions as `{+…+}` (as wdiff writes them).
pub fn text(events: &[Event], footer: &str) -> String {
    let mut out = String::new();
    if events.len() > 1 {
        let _ = writeln!(out, "{}\n", plural(events.len(), "change"));
    }
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push_str("\n----\n\n");
        }
        text_event(&mut out, event);
    }
    let _ = write!(out, "\n-- \n{footer}\n");
    out
}

fn text_event(out: &mut String, event: &Event) {
    let _ = writeln!(out, "{}", one_line(&long_headline(event), usize::MAX));
    if let Some(link) = link_of(event) {
        let _ = writeln!(out, "{link}");
    }
    let _ = writeln!(
        out,
        "{} · {}",
        event.source.name,
        human_time(&event.timestamp)
    );
    if let Some(error) = &event.error {
        let _ = writeln!(out, "\n{error}");
    }
    for change in &event.changes {
        let _ = writeln!(out, "\n{}:", change.field);
        for piece in pieces(change) {
            match piece {
                Piece::Same(s) => out.push_str(&s),
                Piece::Removed(s) => {
                    let _ = write!(out, "[-{s}-]");
                }
                Piece::Added(s) => {
                    let _ = write!(out, "{{+{s}+}}");
                }
                Piece::Gap => {
                    if !out.ends_with(char::is_whitespace) {
                        out.push(' ');
                    }
                    out.push_str("… ");
                }
            }
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    }
    if !event.items.is_empty() {
        let _ = writeln!(out, "\n{}:", plural(event.items.len(), "item"));
        for item in event.items.iter().take(ITEMS_LISTED) {
            let _ = writeln!(out, "- {}", one_line(&item.title, usize::MAX));
        }
        if event.items.len() > ITEMS_LISTED {
            let _ = writeln!(out, "- and {} more", event.items.len() - ITEMS_LISTED);
        }
    }
}

fn pieces(change: &Change) -> Vec<Piece<'_>> {
    words::diff(&change.before, &change.after, Some(CONTEXT_WORDS))
}

/// The text/html part: one self-contained page, styles inline, nothing
/// loaded from elsewhere.
pub fn html(events: &[Event], footer: &str) -> String {
    let mut out = String::with_capacity(2048 * events.len());
    let title = escape(&one_line(&subject(events), usize::MAX));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n\
         <body style=\"margin:0;padding:12px;background:#fdfdfc;color:#1b1b1b;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;overflow-wrap:anywhere\">\n\
         <div style=\"max-width:640px;margin:0 auto\">\n"
    );
    if events.len() > 1 {
        let _ = writeln!(
            out,
            "<h1 style=\"font-size:20px;margin:4px 0\">{}</h1>",
            plural(events.len(), "change")
        );
    }
    for event in events {
        html_event(&mut out, event);
    }
    out.push_str("<p style=\"");
    out.push_str(MUTED);
    out.push_str("\">");
    escape_into(&mut out, footer);
    out.push_str("</p>\n</div>\n</body>\n</html>\n");
    out
}

fn html_event(out: &mut String, event: &Event) {
    let _ = write!(
        out,
        "<div style=\"{CARD} {}\">\n<h2 style=\"font-size:17px;margin:0 0 4px\">",
        colour(event.kind)
    );
    let headline = escape(&one_line(&long_headline(event), usize::MAX));
    match link_of(event) {
        Some(link) => {
            let _ = write!(
                out,
                "<a href=\"{}\" style=\"color:#1f4fa8\">{headline}</a>",
                escape(&link)
            );
        }
        None => out.push_str(&headline),
    }
    let _ = writeln!(
        out,
        "</h2>\n<p style=\"{MUTED};margin:0\">{} · {}</p>",
        escape(&event.source.name),
        escape(&human_time(&event.timestamp))
    );
    if let Some(error) = &event.error {
        let _ = writeln!(
            out,
            "<p style=\"font-family:ui-monospace,monospace;font-size:14px\">{}</p>",
            escape(error)
        );
    }
    for change in &event.changes {
        html_change(out, change);
    }
    html_items(out, event);
    out.push_str("</div>\n");
}

fn html_change(out: &mut String, change: &Change) {
    let _ = write!(
        out,
        "<p style=\"{MUTED};margin:10px 0 2px;text-transform:uppercase;letter-spacing:0.05em\">{}</p>\n\
         <p style=\"white-space:pre-wrap;margin:0\">",
        escape(&change.field)
    );
    for piece in pieces(change) {
        match piece {
            Piece::Same(s) => escape_into(out, &s),
            Piece::Removed(s) => {
                let _ = write!(out, "<del style=\"{DEL}\">{}</del>", escape(&s));
            }
            Piece::Added(s) => {
                let _ = write!(out, "<ins style=\"{INS}\">{}</ins>", escape(&s));
            }
            Piece::Gap => {
                let _ = write!(out, "<span style=\"{MUTED}\"> … </span>");
            }
        }
    }
    out.push_str("</p>\n");
}

fn html_items(out: &mut String, event: &Event) {
    if event.items.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<p style=\"margin:10px 0 2px\">{}:</p>\n<ul style=\"margin:0;padding-left:20px\">",
        plural(event.items.len(), "item")
    );
    for item in event.items.iter().take(ITEMS_LISTED) {
        let name = escape(&item.title);
        match web_link(&item.link) {
            Some(link) => {
                let _ = writeln!(
                    out,
                    "<li><a href=\"{}\" style=\"color:#1f4fa8\">{name}</a></li>",
                    escape(&link)
                );
            }
            None => {
                let _ = writeln!(out, "<li>{name}</li>");
            }
        }
    }
    if event.items.len() > ITEMS_LISTED {
        let _ = writeln!(
            out,
            "<li>and {} more</li>",
            event.items.len() - ITEMS_LISTED
        );
    }
    out.push_str("</ul>\n");
}

fn colour(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ItemNew | EventKind::SourceRecovered => "#2e8b4a",
        EventKind::ItemUpdated | EventKind::ItemFlapping | EventKind::PageChanged => "#c28a00",
        EventKind::ItemRemoved | EventKind::SourceFailing => "#c0392b",
        EventKind::BulkChange => "#8e44ad",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Draft, ItemRef, SourceRef};

    fn edited(title: &str) -> Event {
        let mut draft = Draft::new(EventKind::ItemUpdated).about(ItemRef {
            key: "k".into(),
            title: title.into(),
            link: "javascript:alert(1)".into(),
            published: None,
            version: 2,
        });
        draft.changes.push(Change {
            field: "title".into(),
            before: "Old <i>words</i>".into(),
            after: title.into(),
            diff: String::new(),
        });
        let source = SourceRef {
            name: "s".into(),
            url: "https://example.org/feed".into(),
        };
        draft.into_event(&source, chrono::Utc::now())
    }

    #[test]
    fn subjects_are_one_line_whatever_the_title() {
        let event = edited("Line one\r\nBcc: victim@example.org\u{0}\tend");
        assert_eq!(
            subject(&[event]),
            "[feedwatch] Edited: Line one Bcc: victim@example.org end"
        );
    }

    #[test]
    fn hostile_titles_are_escaped_and_bad_links_not_made() {
        let hostile = "<!channel> @everyone <b>x</b> [link](http://evil) <script>";
        let html = html(&[edited(hostile)], "footer");
        assert!(!html.contains("<b>x"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("href=\"http://evil"), "{html}");
    }

    fn source_event(kind: EventKind, error: Option<&str>) -> Event {
        let mut draft = Draft::new(kind);
        draft.error = error.map(str::to_string);
        let source = SourceRef {
            name: "council".into(),
            url: "https://example.org/news".into(),
        };
        draft.into_event(&source, chrono::Utc::now())
    }

    #[test]
    fn every_kind_of_event_says_what_happened_first() {
        let failing = source_event(EventKind::SourceFailing, Some("HTTP 503"));
        assert_eq!(headline(&failing), "Failing: council — HTTP 503");
        let recovered = source_event(EventKind::SourceRecovered, None);
        assert_eq!(headline(&recovered), "Recovered: council");
        let page = source_event(EventKind::PageChanged, None);
        assert_eq!(headline(&page), "Page changed: council");
        let mut removed = edited("Gone story");
        removed.kind = EventKind::ItemRemoved;
        assert_eq!(headline(&removed), "Taken down: Gone story");
        let mut new = edited("Fresh story");
        new.kind = EventKind::ItemNew;
        assert_eq!(long_headline(&new), "New: Fresh story");
        let mut bulk = source_event(EventKind::BulkChange, None);
        bulk.bulk = Some(crate::event::Bulk {
            field: "title".into(),
            edit: "prefix_added".into(),
            added: "SPAM ".into(),
            removed: String::new(),
            summary: String::new(),
        });
        bulk.items = vec![new.item.clone().unwrap_or_else(|| unreachable!()); 3];
        assert_eq!(
            headline(&bulk),
            "Feed defaced: prefix \"SPAM\" added to 3 titles"
        );
        assert_eq!(
            subject(&[failing, recovered]),
            "[feedwatch] 2 changes: Failing: council — HTTP 503; Recovered: council"
        );
    }

    #[test]
    fn edits_name_their_fields() {
        assert_eq!(long_headline(&edited("New")), "Edited: New (title)");
    }
}
