//! Retention: history older than `keep_versions` / `keep_for` allows is
//! pruned after every `check` and hourly by the daemon, a batch at a time so
//! polls can write in between.

use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::Retention;
use crate::error::error_chain;
use crate::store::{Pruned, Shared, StoreError};

/// How often the daemon prunes.
const EVERY: Duration = Duration::from_secs(3600);

/// Prunes until nothing more is due.
pub async fn prune(store: &Shared, retention: Retention) -> Result<Pruned, StoreError> {
    let mut total = Pruned::default();
    if !retention.prunes() {
        return Ok(total);
    }
    loop {
        let batch = store
            .run(move |s| s.prune_batch(&retention, Utc::now()))
            .await?;
        if batch.is_empty() {
            return Ok(total);
        }
        total.versions += batch.versions;
        total.events += batch.events;
    }
}

/// Logs what a prune removed, or why it could not.
pub fn log(result: &Result<Pruned, StoreError>) {
    match result {
        Ok(p) if p.is_empty() => {}
        Ok(p) => info!(
            versions = p.versions,
            events = p.events,
            "pruned old history"
        ),
        Err(e) => warn!("cannot prune old history: {}", error_chain(e)),
    }
}

/// The daemon's pruning task: at start, then hourly, with the retention of
/// the configuration in force.
pub async fn run(
    store: Shared,
    mut retention: watch::Receiver<Retention>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let current = *retention.borrow_and_update();
        tokio::select! {
            _ = stop.cancelled() => return,
            result = prune(&store, current) => log(&result),
        }
    }
}
