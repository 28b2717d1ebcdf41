//! Writing polls: one writer at a time takes every queued poll record into
//! one transaction; texts are compressed before they reach it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use tracing::warn;

use super::{PARSES, PollError, Poller};
use crate::config::Config;
use crate::deliver::{self, Leases};
use crate::detect::ItemWrite;
use crate::error::error_chain;
use crate::store::{Frames, PollRecord, Shared};

/// Poll records waiting for the database, each with where its result goes.
pub type Commits = Arc<CommitQueue>;

/// Polls waiting to be written, and whether a writer is at work on them.
#[derive(Default)]
pub struct CommitQueue {
    queue: Mutex<Vec<QueuedCommit>>,
    writing: AtomicBool,
    /// Set once the log sinks have nothing pending, as far as this process
    /// knows: batches without events then leave them alone.
    logs_flushed: AtomicBool,
    /// Events written whose sinks (some of them) another process delivers,
    /// counted by the sinks they go to.
    handed_off: Mutex<HashMap<Vec<String>, usize>>,
}

impl CommitQueue {
    /// How many events written so far go to any of `sinks` while this
    /// process did not deliver them.
    pub fn handed_off_to(&self, sinks: &[String]) -> usize {
        crate::sync::lock(&self.handed_off)
            .iter()
            .filter(|(to, _)| to.iter().any(|s| sinks.contains(s)))
            .map(|(_, n)| n)
            .sum()
    }

    fn queue(&self) -> MutexGuard<'_, Vec<QueuedCommit>> {
        crate::sync::lock(&self.queue)
    }

    fn push(&self, commit: QueuedCommit) {
        self.queue().push(commit);
    }

    /// Becomes the writer unless one is already at work.
    fn start_writing(&self) -> bool {
        !self.writing.swap(true, Ordering::AcqRel)
    }

    /// Stops being the writer, unless polls were queued meanwhile and no
    /// other writer has started for them: then this one carries on.
    fn carry_on(&self) -> bool {
        self.writing.store(false, Ordering::Release);
        !self.queue().is_empty() && self.start_writing()
    }
}

/// Writes queued polls until none are left, one writer at a time. Polls
/// that finish while a batch is written queue up and go in the next
/// transaction together (a savepoint each), so a busy moment costs one
/// commit and one thread, not one of each per poll.
fn write_all_queued(store: &Shared, commits: &CommitQueue, config: &Config, leases: &Leases) {
    loop {
        let batch = std::mem::take(&mut *commits.queue());
        // A batch that panics is lost to its polls (each is told the
        // writer stopped), never to the polls queued behind it.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            write_queued(store, batch, config, commits, leases);
        }));
        if !commits.carry_on() {
            return;
        }
    }
}

/// Writes one batch of polls in one transaction, then hands the log sinks
/// what was committed (and anything left from before: the first batch of
/// a process, or any after a failed delivery, always looks).
fn write_queued(
    store: &Shared,
    batch: Vec<QueuedCommit>,
    config: &Config,
    commits: &CommitQueue,
    leases: &Leases,
) {
    let logs_flushed = &commits.logs_flushed;
    if batch.is_empty() {
        return;
    }
    let mut store = store.lock();
    let (records, senders): (Vec<PollRecord>, Vec<_>) = batch.into_iter().unzip();
    let results: Vec<Result<(), PollError>> = match store.record_polls(&records) {
        Ok(results) => results
            .into_iter()
            .map(|r| r.map_err(PollError::from))
            .collect(),
        Err(e) => {
            let e = Arc::new(e);
            records
                .iter()
                .map(|_| Err(PollError::Batch(Arc::clone(&e))))
                .collect()
        }
    };
    let written: Vec<&PollRecord> = records
        .iter()
        .zip(&results)
        .filter(|(_, written)| written.is_ok())
        .map(|(r, _)| r)
        .collect();
    let new_events = written.iter().any(|r| !r.events.is_empty());
    count_handed_off(commits, leases, &written);
    if new_events || !logs_flushed.load(Ordering::Acquire) {
        match deliver::flush_log_sinks(&mut store, config, leases) {
            Ok(_) => logs_flushed.store(true, Ordering::Release),
            Err(e) => {
                logs_flushed.store(false, Ordering::Release);
                warn!(
                    "delivery to a log sink failed, events stay queued: {}",
                    error_chain(&e)
                );
            }
        }
    }
    drop(store);
    for (sender, result) in senders.into_iter().zip(results) {
        let _ = sender.send(result);
    }
}

fn count_handed_off(commits: &CommitQueue, leases: &Leases, written: &[&PollRecord]) {
    let mut handed_off = crate::sync::lock(&commits.handed_off);
    for event in written.iter().flat_map(|r| &r.events) {
        if event.sinks.iter().any(|s| !leases.holds(s)) {
            *handed_off.entry(event.sinks.clone()).or_default() += 1;
        }
    }
}

type QueuedCommit = (PollRecord, oneshot::Sender<Result<(), PollError>>);

/// Compresses the texts of a poll's new versions before the write, so that
/// the writer, one at a time, does not. A feed's worth of text is
/// compressed where the poll runs (a fraction of a millisecond; handing it
/// to another thread cost more than the work: a tenth of a cold check's CPU);
/// more goes to a blocking thread, taking a parser's turn. A poll whose task
/// is lost records nothing, and the next poll finds the same changes.
pub(super) async fn compress_ahead(mut rec: PollRecord) -> Result<PollRecord, PollError> {
    let texts: usize = rec
        .writes
        .iter()
        .filter_map(|w| w.new_version.as_ref())
        .map(|(_, s)| s.summary.len() + s.content.len() + s.article.len())
        .sum();
    if texts == 0 {
        return Ok(rec);
    }
    let writes = std::mem::take(&mut rec.writes);
    let (writes, frames) = if texts <= COMPRESS_IN_PLACE {
        compress(writes)
    } else {
        let _turn = PARSES.acquire().await.ok();
        tokio::task::spawn_blocking(move || compress(writes))
            .await
            .map_err(PollError::Compress)?
    };
    rec.writes = writes;
    rec.frames = frames;
    Ok(rec)
}

/// Text a poll compresses where it runs: about half a millisecond's work.
const COMPRESS_IN_PLACE: usize = 256 * 1024;

fn compress(writes: Vec<ItemWrite>) -> (Vec<ItemWrite>, Vec<Frames>) {
    let frames = writes
        .iter()
        .map(|w| {
            w.new_version
                .as_ref()
                .map(|(_, snapshot)| Frames::of(snapshot))
                .unwrap_or_default()
        })
        .collect();
    (writes, frames)
}

/// Queues a poll record and waits until it is written (or could not be).
pub(super) async fn commit(
    poller: &Poller,
    config: &Arc<Config>,
    rec: PollRecord,
) -> Result<(), PollError> {
    let (sender, result) = oneshot::channel();
    poller.commits.push((rec, sender));
    if poller.commits.start_writing() {
        let (store, commits, config, leases) = (
            poller.store.clone(),
            Arc::clone(&poller.commits),
            Arc::clone(config),
            Arc::clone(&poller.leases),
        );
        tokio::task::spawn_blocking(move || write_all_queued(&store, &commits, &config, &leases));
    }
    result.await.unwrap_or(Err(PollError::WriterStopped))
}
