//! What is watched: documents turned into plain items with stable identities.

pub mod decode;
pub mod feed;

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
}

/// What one fetched feed yields.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    /// In document order: the first is usually the newest.
    pub items: Vec<Item>,
    /// RSS `<ttl>` in minutes, when given.
    pub ttl_minutes: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed that can be read: {0}")]
    Feed(#[source] feed_rs::parser::ParseFeedError),
    #[error("the feed parser failed on this document ({0})")]
    Panicked(String),
}
