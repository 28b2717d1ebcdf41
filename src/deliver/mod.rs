//! Delivery: which sinks an event goes to, and draining the outbox to them.

pub mod attempt;
pub mod chat;
pub mod command;
pub mod email;
pub mod lease;
pub mod log;
pub mod message;
pub mod outbox;
pub mod sender;
pub mod webhook;

pub use lease::Leases;

use std::collections::HashMap;
use std::path::Path;

use chrono::Utc;
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::{Config, SinkKind, SourceConfig};
use crate::event::EventKind;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("cannot write events to sink {sink:?}")]
    Log {
        sink: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Routes events to sinks: the source's `sinks`, filtered by each sink's `events` globs.
#[derive(Debug, Clone, Default)]
pub struct Router {
    filters: HashMap<String, GlobSet>,
}

impl Router {
    pub fn new(config: &Config) -> Router {
        let filters = config
            .sinks
            .iter()
            .map(|sink| {
                let mut set = GlobSetBuilder::new();
                for pattern in &sink.events {
                    // Patterns were checked when the configuration was validated.
                    if let Ok(glob) = Glob::new(pattern) {
                        set.add(glob);
                    }
                }
                let set = set.build().unwrap_or_else(|_| GlobSet::empty());
                (sink.name.clone(), set)
            })
            .collect();
        Router { filters }
    }

    pub fn sinks_for(&self, kind: EventKind, source: &SourceConfig) -> Vec<String> {
        source
            .sinks
            .iter()
            .filter(|name| {
                self.filters
                    .get(name.as_str())
                    .is_some_and(|set| set.is_match(kind.as_str()))
            })
            .cloned()
            .collect()
    }
}

/// Writes every pending event of each log sink this process delivers
/// (holds the lease of), oldest first, and marks them delivered only once
/// they are flushed to disk.
pub fn flush_log_sinks(
    store: &mut Store,
    config: &Config,
    leases: &Leases,
) -> Result<usize, DeliverError> {
    let mut written = 0;
    for sink in &config.sinks {
        let SinkKind::Log { path } = &sink.kind else {
            continue;
        };
        if leases.holds(&sink.name) {
            written += flush_log_sink(store, &sink.name, path.as_deref())?;
        }
    }
    Ok(written)
}

/// Writes one log sink's pending events.
pub fn flush_log_sink(
    store: &mut Store,
    name: &str,
    path: Option<&Path>,
) -> Result<usize, DeliverError> {
    let mut written = 0;
    loop {
        let batch = store.pending_deliveries(name, 512)?;
        if batch.is_empty() {
            return Ok(written);
        }
        let events: Vec<_> = batch.iter().map(|d| &d.event).collect();
        if let Err(source) = log::append(path, &events) {
            let message = format!("{source}");
            if let Some(first) = batch.first() {
                // A full disk may refuse this too: the event stays pending either way.
                let _ = store.delivery_failed(name, first.seq, &message);
            }
            return Err(DeliverError::Log {
                sink: name.to_string(),
                source,
            });
        }
        let seqs: Vec<i64> = batch.iter().map(|d| d.seq).collect();
        store.mark_delivered(name, &seqs, Utc::now())?;
        written += seqs.len();
    }
}

/// Pending events a log sink's last deliverer appended but did not live to
/// mark delivered; how many. Runs when this process has just taken the
/// sinks' leases, before anything is appended.
pub fn recover_log_sinks(
    store: &mut Store,
    config: &Config,
    taken: &[String],
) -> Result<usize, DeliverError> {
    let mut recovered = 0;
    for sink in config.sinks.iter().filter(|s| taken.contains(&s.name)) {
        let SinkKind::Log { path: Some(path) } = &sink.kind else {
            continue;
        };
        let written = log::written_ids(path).map_err(|source| DeliverError::Log {
            sink: sink.name.clone(),
            source,
        })?;
        if written.is_empty() {
            continue;
        }
        let seqs: Vec<i64> = store
            .pending_deliveries(&sink.name, 4096)?
            .iter()
            .filter(|d| written.contains(&d.event.id))
            .map(|d| d.seq)
            .collect();
        if !seqs.is_empty() {
            store.mark_delivered(&sink.name, &seqs, Utc::now())?;
            recovered += seqs.len();
        }
    }
    Ok(recovered)
}
