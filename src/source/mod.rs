//! What is watched: documents turned into plain items with stable identities.

pub mod decode;
pub mod feed;
pub mod normalize;

use chrono::{DateTime, Utc};

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
