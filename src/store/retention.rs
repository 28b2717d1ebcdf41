//! Pruning old history, and what the database holds.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::sql::Stamp;
use super::{Result, Store};
use crate::config::Retention;

/// Rows deleted in one transaction, so a prune never holds the database long.
const BATCH: i64 = 2000;

/// What one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub versions: u64,
    pub events: u64,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        self.versions == 0 && self.events == 0
    }
}

/// Sizes and counts for `stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub file_bytes: u64,
    pub wal_bytes: u64,
    pub free_bytes: u64,
    pub sources: u64,
    pub items: u64,
    pub items_present: u64,
    pub versions: u64,
    /// Bytes of every version's columns as stored (compressed where packed).
    pub version_bytes: u64,
    /// Versions with at least one compressed column.
    pub versions_packed: u64,
    pub events: u64,
    pub deliveries_pending: u64,
    pub deliveries_dead: u64,
}

impl Store {
    /// Deletes at most one batch of what `retention` lets go, in one
    /// transaction; call again while it returns something. Never deletes an
    /// item's current version, nor an event with a delivery not yet done.
    pub fn prune_batch(&mut self, retention: &Retention, now: DateTime<Utc>) -> Result<Pruned> {
        let tx = self.conn.transaction()?;
        let mut pruned = Pruned::default();
        if let Some(keep) = retention.keep_versions {
            // Version numbers count up without gaps until pruned, so the
            // newest `keep` of an item are those above current - keep.
            pruned.versions += count(tx.execute(
                "DELETE FROM version WHERE (item_id, version) IN (
                     SELECT v.item_id, v.version FROM version v JOIN item i ON i.id = v.item_id
                     WHERE v.version <= i.current_version - ?1 LIMIT ?2)",
                params![keep, BATCH],
            )?);
        }
        if let Some(age) = retention.keep_for {
            let cutoff = Stamp(now - chrono::Duration::from_std(age).unwrap_or_default());
            // A version goes once a later one replaced it before the cutoff,
            // so the change a recent version made can still be shown.
            pruned.versions += count(tx.execute(
                "DELETE FROM version WHERE (item_id, version) IN (
                     SELECT v.item_id, v.version FROM version v
                     WHERE EXISTS (SELECT 1 FROM version n
                                   WHERE n.item_id = v.item_id AND n.version > v.version
                                     AND n.seen_at < ?1)
                     LIMIT ?2)",
                params![cutoff, BATCH],
            )?);
            pruned.events += count(tx.execute(
                "DELETE FROM event WHERE seq IN (
                     SELECT e.seq FROM event e
                     WHERE e.created_at < ?1
                       AND NOT EXISTS (SELECT 1 FROM delivery d
                                       WHERE d.event_seq = e.seq AND d.state <> 'delivered')
                     LIMIT ?2)",
                params![cutoff, BATCH],
            )?);
        }
        tx.commit()?;
        Ok(pruned)
    }

    /// Sizes and counts of what is stored; `path` is the database file.
    pub fn stats(&self, path: &Path) -> Result<Stats> {
        let file_len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let (page_size, free_pages): (u64, u64) = self.conn.query_row(
            "SELECT (SELECT page_size FROM pragma_page_size()),
                    (SELECT freelist_count FROM pragma_freelist_count())",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut stats = self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM source),
                    (SELECT COUNT(*) FROM item),
                    (SELECT COUNT(*) FROM item WHERE present = 1),
                    (SELECT COUNT(*) FROM event),
                    (SELECT COUNT(*) FROM delivery WHERE state = 'pending'),
                    (SELECT COUNT(*) FROM delivery WHERE state = 'dead')",
            [],
            |r| {
                Ok(Stats {
                    sources: r.get(0)?,
                    items: r.get(1)?,
                    items_present: r.get(2)?,
                    events: r.get(3)?,
                    deliveries_pending: r.get(4)?,
                    deliveries_dead: r.get(5)?,
                    ..Stats::default()
                })
            },
        )?;
        (stats.versions, stats.version_bytes, stats.versions_packed) = self.conn.query_row(
            "SELECT COUNT(*),
                    COALESCE(SUM(octet_length(title) + octet_length(link)
                        + COALESCE(octet_length(published), 0) + COALESCE(octet_length(updated), 0)
                        + octet_length(author) + octet_length(summary) + octet_length(content)
                        + octet_length(article) + octet_length(seen_at)
                        + COALESCE(octet_length(enclosure_url), 0)
                        + COALESCE(octet_length(enclosure_type), 0)), 0),
                    COALESCE(SUM(packed <> 0), 0)
             FROM version",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        stats.file_bytes = file_len(path);
        stats.wal_bytes = file_len(Path::new(&wal));
        stats.free_bytes = page_size * free_pages;
        Ok(stats)
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
