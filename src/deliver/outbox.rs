//! Draining the outbox to webhook and email sinks: one worker per sink,
//! strictly in order, retrying with backoff until the event is delivered or
//! dead.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::Leases;
use super::attempt::Attempt;
use super::sender::Sender;
use crate::config::Config;
use crate::error::error_chain;
use crate::event::Event;
use crate::metrics::{DeliveryOutcome, METRICS};
use crate::store::{Shared, StoreError};

/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The least wait a receiver's Retry-After can ask for: `0` would be a busy loop.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often an idle worker looks for work queued by another process (a
/// `check` beside the daemon leaves its events to the daemon).
const IDLE_CHECK: Duration = Duration::from_secs(5);
/// The most events one digest message carries; the rest go in the next.
const DIGEST_MOST: usize = 500;

/// An outbox sink (a webhook, a chat service, a command) ready to send.
#[derive(Debug, Clone)]
pub struct OutboxSink {
    pub name: String,
    pub sender: Sender,
    pub retry_for: Duration,
}

/// The configured sinks delivered through the outbox. A sink whose secret
/// cannot be read is left out (its events wait, queued) and the reason
/// logged, without the secret.
pub fn outbox_sinks(config: &Config) -> Vec<OutboxSink> {
    let mut sinks = Vec::new();
    for sink in &config.sinks {
        let Some(retry_for) = sink.kind.retry_for() else {
            continue;
        };
        match Sender::build(sink, &config.settings.user_agent) {
            Ok(None) => {}
            Ok(Some(built)) => {
                if let Some(w) = built.warning {
                    warn!(sink = %sink.name, "{w}");
                }
                sinks.push(OutboxSink {
                    name: sink.name.clone(),
                    sender: built.sender,
                    retry_for,
                });
            }
            Err(e) => {
                error!(sink = %sink.name, "sink not started, its events stay queued: {}", error_chain(&e));
            }
        }
    }
    sinks
}

/// What one step of a worker came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Delivered,
    /// The head of the queue was given up on (rejected, or out of retry
    /// time); the next event is due at once.
    Dead,
    /// The head of the queue failed or is not due: nothing before this time.
    Wait(DateTime<Utc>),
    /// Nothing queued.
    Idle,
    /// The receiver answered 410; nothing is sent until re-enabled.
    Disabled,
    /// Another process delivers this sink's events (it holds the lease).
    NotHeld,
    /// A digest's window is open: its message goes at this time.
    Gathering(DateTime<Utc>),
}

/// Tries the head of the sink's queue once, if it is due (with the rest of
/// its window, for a digest).
pub async fn attempt_next(
    sink: &OutboxSink,
    store: &Shared,
    leases: &Leases,
) -> Result<Step, StoreError> {
    if !leases.holds_for(&sink.name, sink.sender.timeout()) {
        return Ok(Step::NotHeld);
    }
    let name = sink.name.clone();
    let (disabled, head) = store
        .run(move |s| Ok((s.sink_disabled(&name)?, s.next_pending(&name)?)))
        .await?;
    if disabled.is_some() {
        return Ok(Step::Disabled);
    }
    let Some(head) = head else {
        return Ok(Step::Idle);
    };
    let now = Utc::now();
    if let Some(at) = head.next_attempt.filter(|at| *at > now) {
        return Ok(Step::Wait(at));
    }
    let batch = match sink.sender.window() {
        None => vec![(head.seq, head.event.clone())],
        Some(window) => {
            let closes = head.created_at + chrono::Duration::from_std(window).unwrap_or_default();
            if closes > now {
                return Ok(Step::Gathering(closes));
            }
            window_events(store, &sink.name, closes).await?
        }
    };
    let events: Vec<Event> = batch.iter().map(|(_, e)| e.clone()).collect();
    let seqs: Vec<i64> = batch.iter().map(|(seq, _)| *seq).collect();
    let attempt = sink.sender.send(&events, now.timestamp()).await;
    let carried = Carried {
        head: head.seq,
        id: head.event.id,
        attempts: head.attempts,
        seqs,
        expired: now - head.created_at
            >= chrono::Duration::from_std(sink.retry_for).unwrap_or_default(),
    };
    settle(sink, store, carried, attempt).await
}

/// The deliveries one attempt carried: the queue's head and, for a digest,
/// the rest of its window.
struct Carried {
    head: i64,
    id: String,
    attempts: u32,
    seqs: Vec<i64>,
    /// The head has been retried for as long as the sink allows.
    expired: bool,
}

/// The pending events of a digest whose window closed at `closes`, oldest first.
async fn window_events(
    store: &Shared,
    sink: &str,
    closes: DateTime<Utc>,
) -> Result<Vec<(i64, Event)>, StoreError> {
    let name = sink.to_string();
    let pending = store
        .run(move |s| s.pending_deliveries(&name, DIGEST_MOST))
        .await?;
    Ok(pending
        .into_iter()
        .filter(|d| {
            chrono::DateTime::parse_from_rfc3339(&d.event.timestamp).map_or(true, |t| t < closes)
        })
        .map(|d| (d.seq, d.event))
        .collect())
}

/// Records what an attempt came to, for every event it carried.
async fn settle(
    sink: &OutboxSink,
    store: &Shared,
    carried: Carried,
    attempt: Attempt,
) -> Result<Step, StoreError> {
    let now = Utc::now();
    let Carried {
        head: seq,
        id,
        attempts,
        seqs,
        expired,
    } = carried;
    let name = sink.name.clone();
    let kill = |error: String| {
        let (name, seqs) = (name.clone(), seqs.clone());
        move |s: &mut crate::store::Store| {
            seqs.iter()
                .try_for_each(|seq| s.kill_delivery(&name, *seq, &error))
        }
    };
    let step = match attempt {
        Attempt::Delivered => {
            METRICS.delivery(DeliveryOutcome::Delivered);
            let seqs = seqs.clone();
            store
                .run(move |s| s.mark_delivered(&name, &seqs, Utc::now()))
                .await?;
            Step::Delivered
        }
        Attempt::Retry { error, .. } if expired => {
            METRICS.delivery(DeliveryOutcome::Dead);
            warn!(sink = %sink.name, event = %id, "giving up after the retry period: {error}");
            store.run(kill(error)).await?;
            Step::Dead
        }
        Attempt::Retry { error, after } => {
            METRICS.delivery(DeliveryOutcome::Retried);
            // The receiver's own Retry-After is honoured within bounds: the
            // whole queue waits behind this event.
            let wait = after
                .map(|after| after.clamp(MIN_RETRY_AFTER, MAX_BACKOFF))
                .unwrap_or_else(|| backoff(attempts));
            let next = now + wait;
            info!(sink = %sink.name, event = %id, "delivery failed, retrying in {}: {error}", humantime::format_duration(round(wait)));
            store
                .run(move |s| s.retry_delivery(&name, seq, &error, next))
                .await?;
            Step::Wait(next)
        }
        Attempt::Gone(error) => {
            METRICS.delivery(DeliveryOutcome::Disabled);
            warn!(sink = %sink.name, "receiver answered 410 Gone: sink disabled until `feedwatch redeliver` or a reload");
            store
                .run(move |s| {
                    s.retry_delivery(&name, seq, &error, now)?;
                    s.disable_sink(&name, &error, now)
                })
                .await?;
            Step::Disabled
        }
        Attempt::Rejected(error) => {
            METRICS.delivery(DeliveryOutcome::Dead);
            warn!(sink = %sink.name, event = %id, "delivery rejected, event is dead: {error}");
            store.run(kill(error)).await?;
            Step::Dead
        }
    };
    Ok(step)
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs().max(1))
}

/// Exponential backoff with ±20% jitter so many senders do not retry in step.
fn backoff(attempts: u32) -> Duration {
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << attempts.min(16))
        .min(MAX_BACKOFF);
    let jitter = rand::random_range(0.8..1.2);
    base.mul_f64(jitter)
}

/// What one pass over a sink's queue came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub delivered: usize,
    /// Given up on during this pass.
    pub dead: usize,
    /// A digest window is still open: its events wait by design.
    pub gathering: bool,
}

/// Sends everything that is due now, stopping at the first event that must
/// wait for a retry (order is kept); for `check`.
pub async fn drain_once(
    sink: &OutboxSink,
    store: &Shared,
    leases: &Leases,
) -> Result<Drained, StoreError> {
    let mut done = Drained::default();
    loop {
        match attempt_next(sink, store, leases).await? {
            Step::Delivered => done.delivered += 1,
            Step::Dead => done.dead += 1,
            Step::Gathering(_) => {
                done.gathering = true;
                return Ok(done);
            }
            Step::Wait(_) | Step::Idle | Step::Disabled | Step::NotHeld => return Ok(done),
        }
    }
}

/// The daemon's worker for one sink: runs until cancelled, even in the
/// middle of an attempt (the event stays queued and is sent again later:
/// delivery is at least once).
pub async fn run_worker(
    sink: OutboxSink,
    store: Shared,
    leases: Arc<Leases>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        // Listen before looking at the queue: `notify_waiters` wakes only
        // listeners, so events stored during the attempt would otherwise
        // wait for the idle check.
        let stored = wake.notified();
        tokio::pin!(stored);
        stored.as_mut().enable();
        let step = tokio::select! {
            _ = cancel.cancelled() => return,
            step = attempt_next(&sink, &store, &leases) => step,
        };
        let pause = match step {
            Ok(Step::Delivered | Step::Dead) => continue,
            Ok(Step::Wait(at) | Step::Gathering(at)) => (at - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(IDLE_CHECK),
            Ok(Step::Idle | Step::Disabled | Step::NotHeld) => IDLE_CHECK,
            Err(e) => {
                error!(sink = %sink.name, "outbox error: {}", error_chain(&e));
                IDLE_CHECK
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = stored => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// The daemon's worker for one log sink. The daemon appends its own events
/// as it commits them; this appends the rest: events another process
/// recorded and left to it, and those a failed append left pending.
pub async fn run_log_worker(
    name: String,
    path: Option<PathBuf>,
    store: Shared,
    leases: Arc<Leases>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(IDLE_CHECK) => {}
        }
        if !leases.holds(&name) {
            continue;
        }
        let (sink, file) = (name.clone(), path.clone());
        let flushed = store
            .run(move |s| Ok(super::flush_log_sink(s, &sink, file.as_deref())))
            .await;
        match flushed {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => {
                info!(sink = %name, events = n, "appended events queued by another process")
            }
            Ok(Err(e)) => {
                warn!(sink = %name, "delivery to a log sink failed, events stay queued: {}", error_chain(&e))
            }
            Err(e) => error!(sink = %name, "outbox error: {}", error_chain(&e)),
        }
    }
}
