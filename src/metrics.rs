//! Prometheus metrics: counters kept in atomics for the life of the process,
//! served as text by a tiny HTTP endpoint when `[settings] metrics` is set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::event::EventKind;
use crate::store::Shared;

/// Upper bounds of the poll duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const POLL_OUTCOMES: [&str; 3] = ["ok", "not_modified", "error"];
const DELIVERY_OUTCOMES: [&str; 4] = ["delivered", "retried", "dead", "disabled"];

pub struct Metrics {
    polls: [AtomicU64; 3],
    changes: [AtomicU64; EventKind::ALL.len()],
    deliveries: [AtomicU64; 4],
    poll_buckets: [AtomicU64; 10],
    poll_count: AtomicU64,
    poll_micros: AtomicU64,
}

/// The process's metrics; counters only ever go up.
pub static METRICS: Metrics = Metrics {
    polls: [const { AtomicU64::new(0) }; 3],
    changes: [const { AtomicU64::new(0) }; EventKind::ALL.len()],
    deliveries: [const { AtomicU64::new(0) }; 4],
    poll_buckets: [const { AtomicU64::new(0) }; 10],
    poll_count: AtomicU64::new(0),
    poll_micros: AtomicU64::new(0),
};

#[derive(Debug, Clone, Copy)]
pub enum PollOutcome {
    Ok = 0,
    NotModified = 1,
    Error = 2,
}

#[derive(Debug, Clone, Copy)]
pub enum DeliveryOutcome {
    Delivered = 0,
    Retried = 1,
    Dead = 2,
    Disabled = 3,
}

impl Metrics {
    pub fn poll(&self, outcome: PollOutcome, took: Duration) {
        self.polls[outcome as usize].fetch_add(1, Relaxed);
        let seconds = took.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.poll_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.poll_count.fetch_add(1, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.poll_micros.fetch_add(micros, Relaxed);
    }

    pub fn change(&self, kind: EventKind) {
        let at = EventKind::ALL.iter().position(|k| *k == kind);
        if let Some(count) = at.and_then(|i| self.changes.get(i)) {
            count.fetch_add(1, Relaxed);
        }
    }

    pub fn delivery(&self, outcome: DeliveryOutcome) {
        self.deliveries[outcome as usize].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition, with gauges read from the store.
    pub fn render(&self, sources: usize, failing: u64, outbox: u64) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        let labelled = |label: &str, names: &[&str], values: &[AtomicU64]| {
            names
                .iter()
                .zip(values)
                .map(|(n, v)| (format!("{{{label}=\"{n}\"}}"), v.load(Relaxed).to_string()))
                .collect::<Vec<_>>()
        };
        let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        family(
            "feedwatch_polls_total",
            "counter",
            "Polls by outcome.",
            labelled("outcome", &POLL_OUTCOMES, &self.polls),
        );
        family(
            "feedwatch_changes_total",
            "counter",
            "Events raised, by type.",
            labelled("type", &kinds, &self.changes),
        );
        family(
            "feedwatch_deliveries_total",
            "counter",
            "Webhook delivery attempts, by outcome.",
            labelled("outcome", &DELIVERY_OUTCOMES, &self.deliveries),
        );
        let count = self.poll_count.load(Relaxed);
        let mut histogram: Vec<(String, String)> = BUCKETS
            .iter()
            .zip(&self.poll_buckets)
            .map(|(b, n)| {
                (
                    format!("_bucket{{le=\"{b}\"}}"),
                    n.load(Relaxed).to_string(),
                )
            })
            .collect();
        histogram.push(("_bucket{le=\"+Inf\"}".into(), count.to_string()));
        let sum = self.poll_micros.load(Relaxed) as f64 / 1e6;
        histogram.push(("_sum".into(), sum.to_string()));
        histogram.push(("_count".into(), count.to_string()));
        family(
            "feedwatch_poll_duration_seconds",
            "histogram",
            "Time from request to recorded outcome.",
            histogram,
        );
        let gauge = |v: String| vec![(String::new(), v)];
        family(
            "feedwatch_sources",
            "gauge",
            "Sources configured.",
            gauge(sources.to_string()),
        );
        family(
            "feedwatch_sources_failing",
            "gauge",
            "Sources past fail_after consecutive failures.",
            gauge(failing.to_string()),
        );
        family(
            "feedwatch_outbox_depth",
            "gauge",
            "Deliveries waiting to be sent.",
            gauge(outbox.to_string()),
        );
        out
    }
}

/// Serves `GET /metrics` (any path, in fact) until cancelled.
pub async fn serve(
    listener: TcpListener,
    store: Shared,
    sources: Arc<std::sync::atomic::AtomicUsize>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let store = store.clone();
        let sources = sources.load(Relaxed);
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
            let gauges = store.run(|s| s.health_summary()).await;
            let (failing, outbox) = gauges.map_or((0, 0), |h| (h.failing, h.pending));
            let body = METRICS.render(sources, failing, outbox);
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        });
    }
}

/// Binds the metrics address; an error is logged, never fatal.
pub async fn bind(addr: SocketAddr) -> Option<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!("cannot serve metrics on {addr}: {e}");
            None
        }
    }
}
