//! Followed articles: per item, where its article was fetched from, the
//! validators to echo next time, and the last error.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::{Result, SourceId, Store};
use crate::fetch::Validators;

/// What the store knows of an item's article before a poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArticleState {
    /// When the item was first seen (RFC 3339).
    pub first_seen: String,
    /// The address the stored article text came from.
    pub url: Option<String>,
    pub validators: Validators,
    pub error: Option<String>,
}

/// What one poll learned about an item's article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArticleWrite {
    pub key: String,
    pub url: String,
    /// `None` leaves the stored validators as they are.
    pub validators: Option<Validators>,
    /// Why the article could not be read this time; `None` clears it.
    pub error: Option<String>,
}

impl Store {
    /// The article state of every item of `source` present at the last poll.
    pub fn article_states(&self, source: SourceId) -> Result<HashMap<String, ArticleState>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, first_seen, article_url, article_etag, article_last_modified, article_error
             FROM item WHERE source_id = ?1 AND present = 1",
        )?;
        let rows = stmt.query_map([source.0], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ArticleState {
                    first_seen: r.get(1)?,
                    url: r.get(2)?,
                    validators: Validators {
                        etag: r.get(3)?,
                        last_modified: r.get(4)?,
                    },
                    error: r.get(5)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Written after the item's own row, so a new item's article lands with it.
pub(super) fn write_article(
    tx: &Connection,
    source: SourceId,
    w: &ArticleWrite,
    at: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE item SET article_url = ?3, article_checked = ?4, article_error = ?5
         WHERE source_id = ?1 AND key = ?2",
    )?
    .execute(params![source.0, w.key, w.url, at, w.error])?;
    if let Some(v) = &w.validators {
        tx.prepare_cached(
            "UPDATE item SET article_etag = ?3, article_last_modified = ?4
             WHERE source_id = ?1 AND key = ?2",
        )?
        .execute(params![source.0, w.key, v.etag, v.last_modified])?;
    }
    Ok(())
}
