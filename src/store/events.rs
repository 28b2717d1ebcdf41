//! The outbox: events and their per-sink delivery state.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::sql::Stamp;
use super::{Result, SourceId, Store};
use crate::event::Event;

/// An event to store, with the sinks that must receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub event: Event,
    pub sinks: Vec<String>,
}

/// A stored event in outbox order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    pub event: Event,
}

/// An event waiting for (or done with) one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub seq: i64,
    pub sink: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub event: Event,
}

pub(super) fn insert(tx: &Connection, source: SourceId, new: &NewEvent) -> rusqlite::Result<()> {
    let e = &new.event;
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO event (id, source_id, type, item_key, created_at, payload, held)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING seq",
        )?
        .query_row(
            params![
                e.id,
                source.0,
                e.kind.as_str(),
                e.item.as_ref().map(|i| i.key.as_str()),
                e.timestamp,
                e.to_json(),
                e.held
            ],
            |r| r.get(0),
        )?;
    let mut stmt = tx.prepare_cached("INSERT INTO delivery (event_seq, sink) VALUES (?1, ?2)")?;
    // A held-back event is a record, not an alert: it goes to no sink.
    for sink in new.sinks.iter().filter(|_| e.held.is_none()) {
        stmt.execute(params![seq, sink])?;
    }
    Ok(())
}

fn parse_event(payload: &str) -> rusqlite::Result<Event> {
    serde_json::from_str(payload).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Store {
    /// Pending deliveries of one sink, oldest first.
    pub fn pending_deliveries(&self, sink: &str, limit: usize) -> Result<Vec<DeliveryRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.event_seq, d.sink, d.state, d.attempts, d.last_error, e.payload
             FROM delivery d JOIN event e ON e.seq = d.event_seq
             WHERE d.sink = ?1 AND d.state = 'pending'
             ORDER BY d.event_seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![sink, limit], |r| {
            let payload: String = r.get(5)?;
            Ok(DeliveryRow {
                seq: r.get(0)?,
                sink: r.get(1)?,
                state: r.get(2)?,
                attempts: r.get(3)?,
                last_error: r.get(4)?,
                event: parse_event(&payload)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks deliveries done, in one transaction.
    pub fn mark_delivered(&mut self, sink: &str, seqs: &[i64], at: DateTime<Utc>) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE delivery SET state = 'delivered', delivered_at = ?3, attempts = attempts + 1,
                                     last_error = NULL
                 WHERE sink = ?1 AND event_seq = ?2",
            )?;
            let at = Stamp(at);
            for seq in seqs {
                stmt.execute(params![sink, seq, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Counts an attempt that failed; the delivery stays pending.
    pub fn delivery_failed(&mut self, sink: &str, seq: i64, error: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE delivery SET attempts = attempts + 1, last_error = ?3
             WHERE sink = ?1 AND event_seq = ?2",
            params![sink, seq, error],
        )?;
        Ok(())
    }

    /// Events created at or after `since`, oldest first; with `held`, the
    /// ones the alert conditions held back as well.
    pub fn events_since(&self, since: DateTime<Utc>, held: bool) -> Result<Vec<EventRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, payload FROM event WHERE created_at >= ?1 AND (?2 OR held IS NULL)
             ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![Stamp(since), held], |r| {
            let payload: String = r.get(1)?;
            Ok(EventRow {
                seq: r.get(0)?,
                event: parse_event(&payload)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
