//! An Atom 1.0 feed of changes, so any feed reader can follow them: one
//! entry per event, ids derived from the event ids (stable across rewrites),
//! the word diff as HTML content.

use std::fmt::Write;

use super::{Report, escape, event_urn, headline, html, label, link_of, uuid_urn};
use crate::event::{Event, format_time};

pub(super) fn render(report: &Report<'_>) -> String {
    let mut out = String::with_capacity(1024 + report.events.len() * 1024);
    // A feed is as new as its newest entry, so rewriting it unchanged
    // leaves it unchanged.
    let updated = report
        .events
        .iter()
        .map(|e| e.timestamp.as_str())
        .max()
        .map_or_else(|| format_time(report.to), str::to_string);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <id>{}</id>\n\
         <title>feedwatch: changes</title>\n\
         <subtitle>New, edited and removed stories noticed by feedwatch</subtitle>\n\
         <updated>{}</updated>\n\
         <author><name>feedwatch</name></author>\n\
         <generator version=\"{}\">feedwatch</generator>\n",
        uuid_urn(&format!("feedwatch changes {}", report.feed_seed)),
        escape(&updated),
        crate::VERSION,
    );
    if let Some(site) = report.site {
        for (rel, kind, file) in [
            ("self", "application/atom+xml", super::publish::ATOM_FILE),
            ("alternate", "text/html", super::publish::HTML_FILE),
        ] {
            if let Ok(href) = site.join(file) {
                let _ = writeln!(
                    out,
                    "<link rel=\"{rel}\" type=\"{kind}\" href=\"{}\"/>",
                    escape(href.as_str())
                );
            }
        }
    }
    for event in report.events {
        entry(&mut out, event);
    }
    out.push_str("</feed>\n");
    out
}

fn entry(out: &mut String, event: &Event) {
    let title = format!(
        "{}: {}: {}",
        event.source.name,
        label(event.kind),
        headline(event)
    );
    let _ = write!(
        out,
        "<entry>\n<id>{}</id>\n<title>{}</title>\n<updated>{}</updated>\n",
        event_urn(&event.id),
        escape(&one_line(&title)),
        escape(&event.timestamp),
    );
    if let Some(link) = link_of(event) {
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            escape(&link)
        );
    }
    let _ = writeln!(out, "<category term=\"{}\"/>", escape(event.kind.as_str()));
    let mut body = String::new();
    let _ = writeln!(
        body,
        "<p><strong>{}</strong> in {}</p>",
        label(event.kind),
        escape(&event.source.name)
    );
    html::body(&mut body, event, html::Flavour::Feed);
    let _ = write!(
        out,
        "<content type=\"html\">{}</content>\n</entry>\n",
        escape(&body)
    );
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Change, Draft, EventKind, ItemRef, SourceRef};

    #[test]
    fn control_characters_and_markup_keep_the_feed_well_formed() {
        let source = SourceRef {
            name: "s".into(),
            url: "https://example.org/feed".into(),
        };
        let hostile = "A \u{0}\u{1b}[2J <b>bold</b> & \u{FFFE} title ]]>";
        let mut draft = Draft::new(EventKind::ItemUpdated).about(ItemRef {
            key: "k".into(),
            title: hostile.into(),
            link: "javascript:alert(1)".into(),
            published: None,
            version: 2,
        });
        draft.changes = vec![Change {
            field: "title".into(),
            before: "A title".into(),
            after: hostile.into(),
            diff: String::new(),
        }];
        let events = vec![draft.into_event(&source, chrono::Utc::now())];
        let report = Report {
            events: &events,
            from: chrono::Utc::now(),
            to: chrono::Utc::now(),
            feed_seed: "seed",
            site: None,
        };

        let xml = render(&report);

        let feed = feed_rs::parser::parse(xml.as_bytes());
        let entries = feed.map(|f| f.entries).unwrap_or_default();
        assert_eq!(entries.len(), 1, "{xml}");
        let title = entries[0].title.as_ref().map(|t| t.content.clone());
        assert_eq!(
            title.as_deref(),
            Some("s: edited: A [2J <b>bold</b> &  title ]]>")
        );
        assert!(entries[0].links.is_empty(), "no javascript: link");
    }
}
