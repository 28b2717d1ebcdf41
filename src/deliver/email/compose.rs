//! The message itself: headers that thread, filter and identify it, around
//! a `multipart/alternative` of text and HTML.
//!
//! Ids are derived, never stored: an event's message is
//! `<EVENT-ID@DOMAIN>`, so a retried send is recognisably the same message;
//! every message about one story (or one page) says it replies to
//! `<story.HASH@DOMAIN>`, a hash of the source and the item key, so mail
//! readers thread a story's edits together with nothing remembered.

use std::time::SystemTime;

use chrono::DateTime;
use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use sha2::{Digest, Sha256};

use super::content;
use crate::event::{Event, EventKind};

/// Who a message is from and to, and the list it belongs to.
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// The sink's name, for `List-Id` and the footer.
    pub sink: String,
}

impl Letterhead {
    /// The right-hand side of every id: the sender's domain.
    fn domain(&self) -> &str {
        self.from.email.domain()
    }

    /// `<SINK.feedwatch.localhost>`, the sink's name reduced to what a
    /// list id may hold.
    pub fn list_id(&self) -> String {
        let slug: String = self
            .sink
            .chars()
            .map(|c| match c {
                'a'..='z' | '0'..='9' | '-' => c,
                'A'..='Z' => c.to_ascii_lowercase(),
                _ => '-',
            })
            .collect();
        format!("feedwatch alerts <{slug}.feedwatch.localhost>")
    }
}

/// The `Message-ID` of the message for `events` (one event, or a digest).
pub fn message_id(head: &Letterhead, events: &[Event]) -> String {
    match events {
        [one] => format!("<{}@{}>", one.id, head.domain()),
        many => {
            let first = many.first().map_or("empty", |e| e.id.as_str());
            format!("<digest.{first}.{}@{}>", many.len(), head.domain())
        }
    }
}

/// The id every message about the same story replies to: one thread per
/// item, one per page, and one for a source's failing and recovering.
pub fn thread_id(head: &Letterhead, event: &Event) -> Option<String> {
    // An item key never starts with a NUL, so the source's own threads
    // cannot meet a story's.
    let key = match (&event.item, event.kind) {
        (Some(item), _) => item.key.as_str(),
        (None, EventKind::PageChanged) => "",
        (None, EventKind::SourceFailing | EventKind::SourceRecovered) => "\0health",
        _ => return None,
    };
    let mut hash = Sha256::new();
    hash.update(event.source.name.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("<story.{hex}@{}>", head.domain()))
}

/// One message for `events`: a single event, or a digest of several.
pub fn message(head: &Letterhead, events: &[Event]) -> Result<Message, lettre::error::Error> {
    let footer = format!(
        "Sent by feedwatch to the email sink \"{}\". Event{}: {}.",
        head.sink,
        if events.len() == 1 { "" } else { "s" },
        events
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut builder = Message::builder()
        .from(head.from.clone())
        .subject(content::subject(events))
        .message_id(Some(message_id(head, events)))
        .date(date_of(events))
        .raw_header(raw("List-Id", head.list_id()))
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        // Out-of-office replies to an alert help nobody.
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()));
    for to in &head.to {
        builder = builder.to(to.clone());
    }
    if let [one] = events
        && let Some(thread) = thread_id(head, one)
    {
        builder = builder.in_reply_to(thread.clone()).references(thread);
    }
    builder.multipart(MultiPart::alternative_plain_html(
        content::text(events, &footer),
        content::html(events, &footer),
    ))
}

fn raw(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// When the newest event happened: a retried message keeps its date.
fn date_of(events: &[Event]) -> SystemTime {
    events
        .iter()
        .filter_map(|e| DateTime::parse_from_rfc3339(&e.timestamp).ok())
        .max()
        .map_or_else(SystemTime::now, SystemTime::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Draft, ItemRef, SourceRef};

    fn head() -> Letterhead {
        let Ok(from) = "Alerts <alerts@example.org>".parse() else {
            panic!("a valid address did not parse");
        };
        Letterhead {
            from,
            to: Vec::new(),
            sink: "News Room".into(),
        }
    }

    fn about(key: &str) -> Event {
        let source = SourceRef {
            name: "s".into(),
            url: "https://example.org/".into(),
        };
        Draft::new(EventKind::ItemUpdated)
            .about(ItemRef {
                key: key.into(),
                title: "T".into(),
                link: String::new(),
                published: None,
                version: 2,
            })
            .into_event(&source, chrono::Utc::now())
    }

    #[test]
    fn one_story_has_one_thread() {
        let (a, b, c) = (about("k1"), about("k1"), about("k2"));
        assert_eq!(thread_id(&head(), &a), thread_id(&head(), &b));
        assert_ne!(thread_id(&head(), &a), thread_id(&head(), &c));
        assert_ne!(
            message_id(&head(), std::slice::from_ref(&a)),
            message_id(&head(), &[b])
        );
        assert_eq!(
            message_id(&head(), std::slice::from_ref(&a)),
            format!("<{}@example.org>", a.id)
        );
    }

    #[test]
    fn a_sources_failing_and_recovering_make_one_thread() {
        let source = SourceRef {
            name: "s".into(),
            url: "https://example.org/".into(),
        };
        let now = chrono::Utc::now();
        let [failing, recovered, page] = [
            EventKind::SourceFailing,
            EventKind::SourceRecovered,
            EventKind::PageChanged,
        ]
        .map(|kind| Draft::new(kind).into_event(&source, now));
        let health = thread_id(&head(), &failing);
        assert!(health.is_some());
        assert_eq!(health, thread_id(&head(), &recovered));
        assert_ne!(health, thread_id(&head(), &page));
    }

    #[test]
    fn no_feed_text_can_add_a_header() {
        let mut event = about("k1");
        if let Some(item) = event.item.as_mut() {
            item.title = "Story\r\nBcc: victim@example.org\nX-Injected: yes 极速".into();
        }
        let mut head = head();
        head.to = vec![head.from.clone()];
        let Ok(message) = message(&head, &[event]) else {
            panic!("the message was not built");
        };
        let raw = String::from_utf8_lossy(&message.formatted()).to_string();
        let headers = raw.split("\r\n\r\n").next().unwrap_or_default();
        for line in headers.split("\r\n") {
            assert!(
                !line.starts_with("Bcc:") && !line.starts_with("X-Injected:"),
                "{headers}"
            );
        }
        assert!(headers.is_ascii(), "{headers}");
    }

    #[test]
    fn list_ids_are_made_of_safe_characters() {
        assert_eq!(
            head().list_id(),
            "feedwatch alerts <news-room.feedwatch.localhost>"
        );
    }
}
