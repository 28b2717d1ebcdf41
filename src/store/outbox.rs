//! Delivery bookkeeping for sinks that can fail: attempts, retries, dead
//! letters, and sinks a receiver switched off.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::sql::Stamp;
use super::{Result, Store};
use crate::event::Event;

/// The oldest pending delivery of a sink, with when it may next be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub seq: i64,
    pub attempts: u32,
    pub next_attempt: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub event: Event,
}

/// One line of `deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryListing {
    pub event_id: String,
    pub kind: String,
    pub source: String,
    pub created_at: String,
    pub sink: String,
    pub state: String,
    pub attempts: u32,
    pub next_attempt: Option<String>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

impl Store {
    /// The head of a sink's queue: deliveries go out strictly in order, so a
    /// source's later events never overtake its earlier ones.
    pub fn next_pending(&self, sink: &str) -> Result<Option<DueDelivery>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT d.event_seq, d.attempts, d.next_attempt, e.created_at, e.payload
                 FROM delivery d JOIN event e ON e.seq = d.event_seq
                 WHERE d.sink = ?1 AND d.state = 'pending'
                 ORDER BY d.event_seq LIMIT 1",
            )?
            .query_row([sink], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, Option<Stamp>>(2)?,
                    r.get::<_, Stamp>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .optional()?;
        let Some((seq, attempts, next, created, payload)) = row else {
            return Ok(None);
        };
        let event: Event = serde_json::from_str(&payload).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(Some(DueDelivery {
            seq,
            attempts,
            next_attempt: next.map(|t| t.0),
            created_at: created.0,
            event,
        }))
    }

    /// Counts a failed attempt and sets when to try again.
    pub fn retry_delivery(
        &mut self,
        sink: &str,
        seq: i64,
        error: &str,
        next: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE delivery SET attempts = attempts + 1, last_error = ?3, next_attempt = ?4
             WHERE sink = ?1 AND event_seq = ?2",
            params![sink, seq, error, Stamp(next)],
        )?;
        Ok(())
    }

    /// Gives up on a delivery; it stays listed by `deliveries --failed`.
    pub fn kill_delivery(&mut self, sink: &str, seq: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE delivery SET state = 'dead', attempts = attempts + 1, last_error = ?3,
                                 next_attempt = NULL
             WHERE sink = ?1 AND event_seq = ?2",
            params![sink, seq, error],
        )?;
        Ok(())
    }

    pub fn disable_sink(&mut self, sink: &str, reason: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sink_state (name, disabled_at, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET disabled_at = excluded.disabled_at,
                                             reason = excluded.reason",
            params![sink, Stamp(at), reason],
        )?;
        Ok(())
    }

    /// Why a sink is disabled, if it is.
    pub fn sink_disabled(&self, sink: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT reason FROM sink_state WHERE name = ?1 AND disabled_at IS NOT NULL",
                [sink],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn enable_sinks(&mut self) -> Result<()> {
        self.conn.execute("DELETE FROM sink_state", [])?;
        Ok(())
    }

    /// Queues deliveries to `sinks` again: one event's (whatever their
    /// state), or every dead one. Re-enables disabled sinks. Returns how many
    /// were queued.
    pub fn redeliver(&mut self, event_id: Option<&str>, sinks: &[String]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut n = 0;
        for sink in sinks {
            n += match event_id {
                Some(id) => tx.execute(
                    "UPDATE delivery SET state = 'pending', next_attempt = NULL
                     WHERE sink = ?2 AND event_seq = (SELECT seq FROM event WHERE id = ?1)",
                    params![id, sink],
                )?,
                None => tx.execute(
                    "UPDATE delivery SET state = 'pending', next_attempt = NULL
                     WHERE sink = ?1 AND state = 'dead'",
                    [sink],
                )?,
            };
        }
        tx.execute("DELETE FROM sink_state", [])?;
        tx.commit()?;
        Ok(n)
    }

    /// Deliveries for `deliveries`, newest first.
    pub fn list_deliveries(
        &self,
        failed_only: bool,
        sink: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeliveryListing>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.id, e.type, s.name, e.created_at, d.sink, d.state, d.attempts,
                    d.next_attempt, d.last_error, d.delivered_at
             FROM delivery d JOIN event e ON e.seq = d.event_seq
             JOIN source s ON s.id = e.source_id
             WHERE (?1 = 0 OR d.state = 'dead' OR (d.state = 'pending' AND d.attempts > 0))
               AND (?2 IS NULL OR d.sink = ?2)
             ORDER BY d.event_seq DESC, d.sink LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![failed_only, sink, limit], |r| {
            Ok(DeliveryListing {
                event_id: r.get(0)?,
                kind: r.get(1)?,
                source: r.get(2)?,
                created_at: r.get(3)?,
                sink: r.get(4)?,
                state: r.get(5)?,
                attempts: r.get(6)?,
                next_attempt: r.get(7)?,
                last_error: r.get(8)?,
                delivered_at: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
