//! Per-source fetch state, and the one transaction that records a poll.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::pack::Frames;
use super::sql::Stamp;
use super::{Result, SourceId, Store, StoreError, articles, events, items};
use crate::detect::ItemWrite;
use crate::event::format_time;
use crate::fetch::Validators;
use crate::polite::Moved;
use crate::source::SourceKind;

/// What [`Store::purge_source`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub items: u64,
    pub events: u64,
}

/// What the poller needs to know about a source before polling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub id: SourceId,
    pub validators: Validators,
    pub kind: Option<SourceKind>,
    pub baselined: bool,
    pub consecutive_failures: u32,
    pub failing: bool,
    pub next_due: Option<DateTime<Utc>>,
    /// The address polled instead of the configured one, after a confirmed move.
    pub effective_url: Option<String>,
    pub moved: Moved,
    /// Polls recorded so far: a poll is written only if no other process
    /// recorded one of this source since this state was read.
    pub polls: u64,
}

/// How a poll ended, as shown by `sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    NotModified,
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotModified => "not modified",
            Outcome::Failed(_) => "error",
        }
    }
}

/// Everything one poll writes, applied in one transaction.
#[derive(Debug, Clone)]
pub struct PollRecord {
    pub source: SourceId,
    /// The source's poll count when its state was read (see [`SourceState::polls`]).
    pub polls_before: u64,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
    /// `None` leaves the stored validators as they are.
    pub validators: Option<Validators>,
    pub kind: Option<SourceKind>,
    pub writes: Vec<ItemWrite>,
    pub gone: Vec<String>,
    pub events: Vec<events::NewEvent>,
    pub failing: bool,
    pub next_due: Option<DateTime<Utc>>,
    /// `None` leaves the redirect run as it is.
    pub moved: Option<Moved>,
    /// A new effective address, once a move is confirmed.
    pub relink: Option<String>,
    /// What the document read had wrong with it; stored with an `Ok` outcome.
    pub warning: Option<String>,
    /// Followed articles fetched (or tried) in this poll.
    pub articles: Vec<articles::ArticleWrite>,
    /// The long texts of `writes`' new versions, compressed ahead, one per
    /// write in order; a write without them is compressed as it is stored.
    pub frames: Vec<Frames>,
}

/// How the watch stands, for `STATUS=` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Sources that have failed `fail_after` polls in a row.
    pub failing: u64,
    pub last_poll: Option<DateTime<Utc>>,
    /// Deliveries waiting, for every sink.
    pub pending: u64,
}

/// One line of `sources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub name: String,
    pub url: String,
    pub kind: Option<SourceKind>,
    pub last_poll: Option<String>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub last_warning: Option<String>,
    pub consecutive_failures: u32,
    pub next_due: Option<String>,
    pub items_held: u64,
    pub polls: u64,
    pub effective_url: Option<String>,
}

impl Store {
    /// The source's state, creating its row on first sight. Only reads
    /// when the row is there with the same address, as on nearly every poll.
    pub fn source_state(&mut self, name: &str, url: &str) -> Result<SourceState> {
        if let Some((state, stored)) = self.read_state(name)?
            && stored == url
        {
            return Ok(state);
        }
        self.conn
            .prepare_cached(
                "INSERT INTO source (name, url) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET url = excluded.url, effective_url = NULL,
                                                 moved_to = NULL, moved_seen = 0
                 WHERE url <> excluded.url",
            )?
            .execute(params![name, url])?;
        self.read_state(name)?
            .map(|(state, _)| state)
            .ok_or_else(|| StoreError::UnknownSource(name.to_string()))
    }

    /// The states of many sources at once, as [`Store::source_state`]
    /// gives each, in one transaction.
    pub fn source_states<'a>(
        &mut self,
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Vec<SourceState>> {
        self.conn.execute_batch("BEGIN")?;
        let states = sources
            .into_iter()
            .map(|(name, url)| self.source_state(name, url))
            .collect::<Result<Vec<_>>>();
        match states {
            Ok(states) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(states)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    fn read_state(&self, name: &str) -> Result<Option<(SourceState, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, etag, last_modified, kind, baselined, consecutive_failures, failing, next_due,
                    effective_url, moved_to, moved_seen, url, polls
             FROM source WHERE name = ?1",
        )?;
        let row = stmt
            .query_row([name], |r| {
                let state = SourceState {
                    id: SourceId(r.get(0)?),
                    validators: Validators {
                        etag: r.get(1)?,
                        last_modified: r.get(2)?,
                    },
                    kind: r.get(3)?,
                    baselined: r.get(4)?,
                    consecutive_failures: r.get(5)?,
                    failing: r.get(6)?,
                    next_due: r.get::<_, Option<Stamp>>(7)?.map(|t| t.0),
                    effective_url: r.get(8)?,
                    moved: Moved {
                        to: r.get(9)?,
                        seen: r.get(10)?,
                    },
                    polls: r.get(12)?,
                };
                Ok((state, r.get(11)?))
            })
            .optional()?;
        Ok(row)
    }

    /// When each known source is next due, for restarts that keep their rhythm.
    pub fn next_due_of(&self, name: &str) -> Result<Option<DateTime<Utc>>> {
        let due: Option<Option<Stamp>> = self
            .conn
            .query_row("SELECT next_due FROM source WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(due.flatten().map(|t| t.0))
    }

    /// Writes several polls in one transaction, each poll in a savepoint of
    /// its own: one poll that cannot be written is rolled back alone, and
    /// its result says why. A failure of the transaction itself fails all.
    pub fn record_polls(&mut self, recs: &[PollRecord]) -> Result<Vec<Result<()>>> {
        let path = self.path.clone();
        self.write_polls(recs)
            .map(|results| {
                results
                    .into_iter()
                    .map(|r| r.map_err(|e| e.at(&path)))
                    .collect()
            })
            .map_err(|e| e.at(&path))
    }

    fn write_polls(&mut self, recs: &[PollRecord]) -> Result<Vec<Result<()>>> {
        let mut tx = self.conn.transaction()?;
        let mut results = Vec::with_capacity(recs.len());
        for rec in recs {
            let mut sp = tx.savepoint()?;
            let written = write_poll(&sp, rec);
            if written.is_err() && sp.is_autocommit() {
                // SQLite rolled the whole transaction back (a full disk
                // does): no poll of the batch is written.
                sp.set_drop_behavior(rusqlite::DropBehavior::Ignore);
                return written.map(|()| Vec::new());
            }
            results.push(match written {
                Ok(()) => sp.commit().map_err(StoreError::from),
                // Dropping the savepoint rolls this poll back.
                Err(e) => Err(e),
            });
        }
        tx.commit()?;
        Ok(results)
    }

    /// Deletes a source's row and, through the schema's cascades, its
    /// items, versions, events and their deliveries, in one transaction.
    /// Returns the items and events deleted, or `None` when nothing was held.
    pub fn purge_source(&mut self, name: &str) -> Result<Option<Purged>> {
        let tx = self.conn.transaction()?;
        let count = |sql: &str| -> Result<u64> {
            Ok(tx
                .query_row(sql, [name], |r| r.get::<_, i64>(0))?
                .unsigned_abs())
        };
        let purged = Purged {
            items: count(
                "SELECT COUNT(*) FROM item i JOIN source s ON s.id = i.source_id WHERE s.name = ?1",
            )?,
            events: count(
                "SELECT COUNT(*) FROM event e JOIN source s ON s.id = e.source_id WHERE s.name = ?1",
            )?,
        };
        let deleted = tx.execute("DELETE FROM source WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok((deleted > 0).then_some(purged))
    }

    pub fn list_sources(&self) -> Result<Vec<SourceRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT s.name, s.url, s.kind, s.last_poll, s.last_outcome, s.last_error,
                    s.consecutive_failures, s.next_due, s.polls, s.effective_url,
                    (SELECT COUNT(*) FROM item i WHERE i.source_id = s.id AND i.present = 1),
                    s.last_warning
             FROM source s ORDER BY s.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceRow {
                name: r.get(0)?,
                url: r.get(1)?,
                kind: r.get(2)?,
                last_poll: r.get(3)?,
                last_outcome: r.get(4)?,
                last_error: r.get(5)?,
                consecutive_failures: r.get(6)?,
                next_due: r.get(7)?,
                polls: r.get(8)?,
                effective_url: r.get(9)?,
                items_held: r.get(10)?,
                last_warning: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sources failing, the latest poll, and deliveries waiting: for `STATUS=`.
    pub fn health_summary(&self) -> Result<Health> {
        Ok(self.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM source WHERE failing = 1),
                    (SELECT MAX(last_poll) FROM source),
                    (SELECT COUNT(*) FROM delivery WHERE state = 'pending')",
            [],
            |r| {
                Ok(Health {
                    failing: r.get(0)?,
                    last_poll: r.get::<_, Option<Stamp>>(1)?.map(|t| t.0),
                    pending: r.get(2)?,
                })
            },
        )?)
    }

    pub(super) fn source_id(&self, name: &str) -> Result<SourceId> {
        self.conn
            .query_row("SELECT id FROM source WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?
            .map(SourceId)
            .ok_or_else(|| StoreError::UnknownSource(name.to_string()))
    }
}

/// Everything one poll writes: the source's state, item versions, events.
fn write_poll(tx: &Connection, rec: &PollRecord) -> Result<()> {
    update_source(tx, rec)?;
    let at = format_time(rec.at);
    for (n, write) in rec.writes.iter().enumerate() {
        items::write_item(tx, rec.source, write, rec.frames.get(n), &at)?;
    }
    for article in &rec.articles {
        articles::write_article(tx, rec.source, article, &at)?;
    }
    for key in &rec.gone {
        items::mark_gone(tx, rec.source, key)?;
    }
    for event in &rec.events {
        events::insert(tx, rec.source, event)?;
    }
    Ok(())
}

fn update_source(tx: &Connection, rec: &PollRecord) -> Result<()> {
    let ok = !matches!(rec.outcome, Outcome::Failed(_));
    let error = match &rec.outcome {
        Outcome::Failed(e) => Some(e.as_str()),
        _ => None,
    };
    let updated = tx
        .prepare_cached(
            "UPDATE source SET
            last_poll = ?2,
            last_outcome = ?3,
            last_error = ?4,
            last_success = CASE WHEN ?5 THEN ?2 ELSE last_success END,
            consecutive_failures = CASE WHEN ?5 THEN 0 ELSE consecutive_failures + 1 END,
            baselined = CASE WHEN ?5 AND ?6 THEN 1 ELSE baselined END,
            failing = ?7,
            next_due = ?8,
            kind = COALESCE(?9, kind),
            polls = polls + 1
         WHERE id = ?1 AND polls = ?10",
        )?
        .execute(params![
            rec.source.0,
            Stamp(rec.at),
            rec.outcome.label(),
            error,
            ok,
            rec.outcome == Outcome::Ok,
            rec.failing,
            rec.next_due.map(Stamp),
            rec.kind,
            rec.polls_before,
        ])?;
    if updated == 0 {
        return Err(StoreError::Superseded);
    }
    if let Some(moved) = &rec.moved {
        tx.prepare_cached("UPDATE source SET moved_to = ?2, moved_seen = ?3 WHERE id = ?1")?
            .execute(params![rec.source.0, moved.to, moved.seen])?;
    }
    // A document read anew replaces the warning; a 304 or a failure keeps it.
    if rec.outcome == Outcome::Ok {
        tx.prepare_cached("UPDATE source SET last_warning = ?2 WHERE id = ?1")?
            .execute(params![rec.source.0, rec.warning])?;
    }
    if let Some(url) = &rec.relink {
        tx.prepare_cached("UPDATE source SET effective_url = ?2 WHERE id = ?1")?
            .execute(params![rec.source.0, url])?;
    }
    if let Some(v) = &rec.validators {
        tx.prepare_cached("UPDATE source SET etag = ?2, last_modified = ?3 WHERE id = ?1")?
            .execute(params![rec.source.0, v.etag, v.last_modified])?;
    }
    Ok(())
}
