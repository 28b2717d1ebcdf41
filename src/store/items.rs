//! Items and their versions.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Result, SourceId, Store, pack};
use crate::detect::{Held, ItemWrite, Snapshot};

/// One line of `history SOURCE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRow {
    pub key: String,
    pub title: String,
    pub link: String,
    pub versions: u32,
    pub first_seen: String,
    pub last_change: String,
    pub present: bool,
}

/// One stored version of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    pub version: u32,
    pub seen_at: String,
    pub snapshot: Snapshot,
}

/// The columns of a version as [`snapshot_at`] reads them, in order.
pub(super) const SNAPSHOT_COLUMNS: &str =
    "v.title, v.link, v.published, v.updated, v.author, v.summary, v.content, v.article, v.packed,
     v.enclosure_url, v.enclosure_type";

/// Reads the [`SNAPSHOT_COLUMNS`] starting at column `at`.
pub(super) fn snapshot_at(r: &Row, at: usize) -> rusqlite::Result<Snapshot> {
    let packed: i64 = r.get(at + 8)?;
    Ok(Snapshot {
        title: r.get(at)?,
        link: r.get(at + 1)?,
        published: r.get(at + 2)?,
        updated: r.get(at + 3)?,
        author: r.get(at + 4)?,
        summary: pack::column(r, at + 5, packed, pack::SUMMARY)?,
        content: pack::column(r, at + 6, packed, pack::CONTENT)?,
        article: pack::column(r, at + 7, packed, pack::ARTICLE)?,
        enclosure_url: r.get(at + 9)?,
        enclosure_type: r.get(at + 10)?,
    })
}

fn held_row(r: &Row) -> rusqlite::Result<(String, Held)> {
    Ok((
        r.get(0)?,
        Held {
            version: r.get(1)?,
            present: r.get(2)?,
            position: r.get(3)?,
            snapshot: snapshot_at(r, 4)?,
        },
    ))
}

impl Store {
    /// The items detection needs: every one present at the last poll, and
    /// any of `keys` held from before (a story that came back).
    pub fn held_items<'a>(
        &self,
        source: SourceId,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Held>> {
        // One read transaction for every lookup: each statement outside one
        // would take and release the database's locks on its own, ten times
        // for a ten-item feed seen for the first time.
        let tx = self.conn.unchecked_transaction()?;
        let held = self.held_in_transaction(source, keys)?;
        tx.commit()?;
        Ok(held)
    }

    fn held_in_transaction<'a>(
        &self,
        source: SourceId,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, Held>> {
        let mut held = HashMap::new();
        let mut present = self.conn.prepare_cached(&format!(
            "SELECT i.key, i.current_version, i.present, i.position, {SNAPSHOT_COLUMNS} FROM item i
             JOIN version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.source_id = ?1 AND i.present = 1"
        ))?;
        for row in present.query_map([source.0], held_row)? {
            let (key, h) = row?;
            held.insert(key, h);
        }
        let mut one = self.conn.prepare_cached(&format!(
            "SELECT i.key, i.current_version, i.present, i.position, {SNAPSHOT_COLUMNS} FROM item i
             JOIN version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.source_id = ?1 AND i.key = ?2"
        ))?;
        for key in keys {
            if held.contains_key(key) {
                continue;
            }
            if let Some((k, h)) = one.query_row(params![source.0, key], held_row).optional()? {
                held.insert(k, h);
            }
        }
        Ok(held)
    }

    pub fn items_of(&self, source: &str) -> Result<Vec<ItemRow>> {
        let id = self.source_id(source)?;
        let mut stmt = self.conn.prepare(
            "SELECT i.key, v.title, v.link, i.current_version, i.first_seen, i.last_change, i.present
             FROM item i JOIN version v ON v.item_id = i.id AND v.version = i.current_version
             WHERE i.source_id = ?1
             ORDER BY i.present DESC, COALESCE(i.position, 1e9), i.last_change DESC",
        )?;
        let rows = stmt.query_map([id.0], |r| {
            Ok(ItemRow {
                key: r.get(0)?,
                title: r.get(1)?,
                link: r.get(2)?,
                versions: r.get(3)?,
                first_seen: r.get(4)?,
                last_change: r.get(5)?,
                present: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The last `limit` stored versions of each of `keys`, newest first:
    /// what flapping is judged against.
    pub fn recent_versions(
        &self,
        source: SourceId,
        keys: &[String],
        limit: usize,
    ) -> Result<HashMap<String, Vec<Snapshot>>> {
        let tx = self.conn.unchecked_transaction()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {SNAPSHOT_COLUMNS} FROM version v JOIN item i ON i.id = v.item_id
             WHERE i.source_id = ?1 AND i.key = ?2
             ORDER BY v.version DESC LIMIT ?3"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out = HashMap::with_capacity(keys.len());
        for key in keys {
            let rows = stmt.query_map(params![source.0, key, limit], |r| snapshot_at(r, 0))?;
            out.insert(key.clone(), rows.collect::<rusqlite::Result<_>>()?);
        }
        drop(stmt);
        tx.commit()?;
        Ok(out)
    }

    /// Every version of one item, newest first.
    pub fn versions_of(&self, source: &str, key: &str) -> Result<Vec<VersionRow>> {
        let id = self.source_id(source)?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT v.version, v.seen_at, {SNAPSHOT_COLUMNS}
             FROM version v JOIN item i ON i.id = v.item_id
             WHERE i.source_id = ?1 AND i.key = ?2
             ORDER BY v.version DESC"
        ))?;
        let rows = stmt.query_map(params![id.0, key], |r| {
            Ok(VersionRow {
                version: r.get(0)?,
                seen_at: r.get(1)?,
                snapshot: snapshot_at(r, 2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

pub(super) fn write_item(
    tx: &Connection,
    source: SourceId,
    w: &ItemWrite,
    frames: Option<&pack::Frames>,
    at: &str,
) -> rusqlite::Result<()> {
    match &w.new_version {
        None => {
            tx.prepare_cached(
                "UPDATE item SET last_seen = ?3, present = 1, position = ?4, published = ?5
                 WHERE source_id = ?1 AND key = ?2",
            )?
            .execute(params![source.0, w.key, at, w.position, w.published])?;
        }
        Some((version, snap)) => {
            let item_id: i64 = tx
                .prepare_cached(
                    "INSERT INTO item (source_id, key, first_seen, last_seen, last_change, present,
                                       position, published, current_version)
                     VALUES (?1, ?2, ?3, ?3, ?3, 1, ?4, ?5, ?6)
                     ON CONFLICT(source_id, key) DO UPDATE SET
                        last_seen = excluded.last_seen, last_change = excluded.last_change,
                        present = 1, position = excluded.position,
                        published = excluded.published, current_version = excluded.current_version
                     RETURNING id",
                )?
                .query_row(
                    params![source.0, w.key, at, w.position, w.published, version],
                    |r| r.get(0),
                )?;
            let packed_here;
            let frames = match frames {
                Some(frames) => frames,
                None => {
                    packed_here = pack::Frames::of(snap);
                    &packed_here
                }
            };
            let packed = frames.bits();
            let [summary, content, article] = frames.columns(snap);
            tx.prepare_cached(
                "INSERT OR REPLACE INTO version (item_id, version, seen_at, title, link, published,
                                      updated, author, summary, content, article, packed,
                                      enclosure_url, enclosure_type)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )?
            .execute(params![
                item_id,
                version,
                at,
                snap.title,
                snap.link,
                snap.published,
                snap.updated,
                snap.author,
                summary,
                content,
                article,
                packed,
                snap.enclosure_url,
                snap.enclosure_type
            ])?;
        }
    }
    Ok(())
}

pub(super) fn mark_gone(tx: &Connection, source: SourceId, key: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE item SET present = 0 WHERE source_id = ?1 AND key = ?2")?
        .execute(params![source.0, key])?;
    Ok(())
}
