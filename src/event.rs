//! Events: the alerts feedwatch raises, in the JSON shape scripts rely on.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// What happened. The names are part of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "item.new")]
    ItemNew,
    #[serde(rename = "item.updated")]
    ItemUpdated,
    #[serde(rename = "item.removed")]
    ItemRemoved,
    /// A story flipping between versions already seen: raised once, then
    /// silence until it settles on a version never seen before.
    #[serde(rename = "item.flapping")]
    ItemFlapping,
    #[serde(rename = "page.changed")]
    PageChanged,
    #[serde(rename = "source.bulk_change")]
    BulkChange,
    #[serde(rename = "source.failing")]
    SourceFailing,
    #[serde(rename = "source.recovered")]
    SourceRecovered,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::ItemNew,
        EventKind::ItemUpdated,
        EventKind::ItemRemoved,
        EventKind::ItemFlapping,
        EventKind::PageChanged,
        EventKind::BulkChange,
        EventKind::SourceFailing,
        EventKind::SourceRecovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ItemNew => "item.new",
            EventKind::ItemUpdated => "item.updated",
            EventKind::ItemRemoved => "item.removed",
            EventKind::ItemFlapping => "item.flapping",
            EventKind::PageChanged => "page.changed",
            EventKind::BulkChange => "source.bulk_change",
            EventKind::SourceFailing => "source.failing",
            EventKind::SourceRecovered => "source.recovered",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub name: String,
    pub url: String,
}

/// The item an event is about, as of the version named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRef {
    pub key: String,
    pub title: String,
    pub link: String,
    pub published: Option<String>,
    pub version: u32,
}

/// One changed field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
    pub diff: String,
}

/// The one edit shared by many items of a `source.bulk_change`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bulk {
    pub field: String,
    /// `prefix_added`, `suffix_added`, `text_inserted`, `prefix_removed`,
    /// `suffix_removed`, `text_removed` or `text_replaced`.
    pub edit: String,
    pub added: String,
    pub removed: String,
    pub summary: String,
}

/// An event before it has an id and a time: what detection produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: EventKind,
    pub item: Option<ItemRef>,
    pub changes: Vec<Change>,
    pub bulk: Option<Bulk>,
    pub items: Vec<ItemRef>,
    pub error: Option<String>,
}

impl Draft {
    pub fn new(kind: EventKind) -> Draft {
        Draft {
            kind,
            item: None,
            changes: Vec::new(),
            bulk: None,
            items: Vec::new(),
            error: None,
        }
    }

    pub fn about(mut self, item: ItemRef) -> Draft {
        self.item = Some(item);
        self
    }

    /// Gives the draft its identity: a ULID, so ids sort by time.
    pub fn into_event(self, source: &SourceRef, at: DateTime<Utc>) -> Event {
        let ulid = ulid::Ulid::from_datetime(at.into());
        Event {
            id: format!("evt_{ulid}"),
            kind: self.kind,
            timestamp: format_time(at),
            source: source.clone(),
            item: self.item,
            changes: self.changes,
            bulk: self.bulk,
            items: self.items,
            error: self.error,
            held: None,
        }
    }
}

/// An alert, stored before it is delivered and delivered exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub timestamp: String,
    pub source: SourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemRef>,
    #[serde(default)]
    pub changes: Vec<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk: Option<Bulk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the alert conditions held this event back; such an event is
    /// recorded for `report --all` and never delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

impl Event {
    pub fn to_json(&self) -> String {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// RFC 3339 in UTC with whole seconds and a `Z`, as everywhere in events.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_json_has_the_documented_shape() {
        let source = SourceRef {
            name: "frontline".into(),
            url: "https://example.org/feed".into(),
        };
        let at = DateTime::parse_from_rfc3339("2026-11-23T18:04:05Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let event = Draft::new(EventKind::ItemNew)
            .about(ItemRef {
                key: "k".into(),
                title: "T".into(),
                link: "https://example.org/a".into(),
                published: Some("2024-12-19T14:00:15Z".into()),
                version: 1,
            })
            .into_event(&source, at);
        let v: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap_or_default();
        assert!(event.id.starts_with("evt_01"));
        assert_eq!(v["type"], "item.new");
        assert_eq!(v["timestamp"], "2026-11-23T18:04:05Z");
        assert_eq!(v["source"]["name"], "frontline");
        assert_eq!(v["item"]["version"], 1);
        assert!(v["changes"].as_array().is_some_and(Vec::is_empty));
        assert!(v.get("bulk").is_none());
        let back: Event = serde_json::from_value(v).unwrap_or_else(|_| event.clone());
        assert_eq!(back, event);
    }
}
