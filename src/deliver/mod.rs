//! Delivery: which sinks an event goes to, and draining the outbox to them.

pub mod log;
pub mod outbox;
pub mod webhook;

use std::collections::HashMap;

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

/// Writes every pending event of every log sink, oldest first, and marks
/// them delivered only once they are flushed to disk.
pub fn flush_log_sinks(store: &mut Store, config: &Config) -> Result<usize, DeliverError> {
    let mut written = 0;
    for sink in &config.sinks {
        let SinkKind::Log { path } = &sink.kind else {
            continue;
        };
        loop {
            let batch = store.pending_deliveries(&sink.name, 512)?;
            if batch.is_empty() {
                break;
            }
            let events: Vec<_> = batch.iter().map(|d| &d.event).collect();
            if let Err(source) = log::append(path.as_deref(), &events) {
                let message = format!("{source}");
                if let Some(first) = batch.first() {
                    store.delivery_failed(&sink.name, first.seq, &message)?;
                }
                return Err(DeliverError::Log {
                    sink: sink.name.clone(),
                    source,
                });
            }
            let seqs: Vec<i64> = batch.iter().map(|d| d.seq).collect();
            store.mark_delivered(&sink.name, &seqs, Utc::now())?;
            written += seqs.len();
        }
    }
    Ok(written)
}
