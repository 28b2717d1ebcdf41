//! Politeness: how many polls may be in flight overall and per host, how far
//! apart requests to one host start, and how long to leave a source alone
//! after failures, Retry-After, cache hints and moves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::Settings;

/// The longest a Retry-After or a failure backoff can postpone a source.
pub const RETRY_CAP: Duration = Duration::from_secs(24 * 3600);
/// The longest cache headers or `<ttl>` can stretch a source's interval.
pub const HINT_CAP: Duration = Duration::from_secs(6 * 3600);
/// Permanent redirects in a row before the source is relinked.
pub const MOVES_TO_RELINK: u32 = 3;

/// Permits for one poll; dropping them frees the slots.
pub struct Slot {
    _global: OwnedSemaphorePermit,
    _host: OwnedSemaphorePermit,
}

struct Host {
    slots: Arc<Semaphore>,
    /// No request starts before this: spacing and a host-wide Retry-After.
    not_before: tokio::time::Instant,
}

pub struct Limits {
    global: Arc<Semaphore>,
    per_host: usize,
    spacing: Duration,
    hosts: Mutex<HashMap<String, Host>>,
    /// Once cancelled, nothing waits for a slot any more.
    stop: CancellationToken,
}

impl Limits {
    /// The limits `[settings]` sets: `concurrency`, `per_host`, `host_spacing`.
    pub fn of(settings: &Settings) -> Limits {
        Limits::new(
            settings.concurrency,
            settings.per_host,
            settings.host_spacing,
        )
    }

    /// `spacing` is the least time between two request starts to one remote host.
    pub fn new(concurrency: usize, per_host: usize, spacing: Duration) -> Limits {
        Limits {
            global: Arc::new(Semaphore::new(concurrency.max(1))),
            per_host: per_host.max(1),
            spacing,
            hosts: Mutex::new(HashMap::new()),
            stop: CancellationToken::new(),
        }
    }

    /// Limits whose waits end, with no slot, when `stop` is cancelled: a
    /// poll that has not started its request stops at once at shutdown.
    pub fn stopped_by(self, stop: CancellationToken) -> Limits {
        Limits { stop, ..self }
    }

    /// Waits for a free slot on `host` and overall, then for the host's next
    /// permitted start; `None` once the limits are stopped.
    pub async fn acquire(&self, host: &str) -> Option<Slot> {
        tokio::select! {
            biased;
            () = self.stop.cancelled() => None,
            slot = self.wait_for(host) => slot,
        }
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// The host slot is taken first so a busy host does not hold global
    /// slots others could use.
    async fn wait_for(&self, host: &str) -> Option<Slot> {
        let sem = Arc::clone(&self.host(host, |h| Arc::clone(&h.slots)));
        let host_slot = sem.acquire_owned().await.ok()?;
        let global = Arc::clone(&self.global).acquire_owned().await.ok()?;
        let spacing = if is_local(host) {
            Duration::ZERO
        } else {
            self.spacing
        };
        let start = self.host(host, |h| {
            let now = tokio::time::Instant::now();
            let start = h.not_before.max(now);
            h.not_before = start + spacing;
            start
        });
        tokio::time::sleep_until(start).await;
        Some(Slot {
            _global: global,
            _host: host_slot,
        })
    }

    /// Keeps every request to `host` waiting until `until` (a 429's Retry-After).
    pub fn pause_host(&self, host: &str, until: DateTime<Utc>) {
        let wait = (until - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(RETRY_CAP);
        self.host(host, |h| {
            h.not_before = h.not_before.max(tokio::time::Instant::now() + wait);
        });
    }

    fn host<T>(&self, host: &str, f: impl FnOnce(&mut Host) -> T) -> T {
        let mut hosts = crate::sync::lock(&self.hosts);
        let entry = hosts.entry(host.to_string()).or_insert_with(|| Host {
            slots: Arc::new(Semaphore::new(self.per_host)),
            not_before: tokio::time::Instant::now(),
        });
        f(entry)
    }
}

/// A small random delay added to each interval firing, so sources that
/// started together drift apart; cron schedules keep their exact times.
pub fn schedule_jitter(schedule: &crate::schedule::Schedule) -> Duration {
    match schedule {
        crate::schedule::Schedule::Every(every) => {
            let cap = (*every / 20).min(Duration::from_secs(30));
            let millis = u64::try_from(cap.as_millis()).unwrap_or(0);
            if millis == 0 {
                Duration::ZERO
            } else {
                Duration::from_millis(rand::random_range(0..millis))
            }
        }
        crate::schedule::Schedule::Cron(_) => Duration::ZERO,
    }
}

/// The name per-host limits know a URL's host by: the host in lower case,
/// or the scheme where there is none (`file` for local files).
pub fn host_key(url: &Url) -> String {
    url.host_str()
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| url.scheme().to_string())
}

/// Loopback and local files need no spacing: nobody else's server is asked.
fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "file" | "[::1]" | "::1") || host.starts_with("127.")
}

/// Exponential backoff after consecutive failures: the interval, doubled for
/// each failure after the first, capped at a day (or the interval if longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    interval.saturating_mul(factor).min(RETRY_CAP.max(interval))
}

/// Parses `Retry-After` (seconds or an HTTP date), capped.
pub fn retry_delay(value: &str, now: SystemTime) -> Option<Duration> {
    crate::fetch::parse_retry_after(value, now).map(|d| d.min(RETRY_CAP))
}

/// A server's freshness hint lengthens the interval, never shortens it.
pub fn lengthened(interval: Duration, hint: Option<Duration>) -> Option<Duration> {
    hint.filter(|h| *h > interval)
        .map(|h| h.min(HINT_CAP.max(interval)))
}

pub fn longest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// A run of permanent redirects to the same place.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moved {
    pub to: Option<String>,
    pub seen: u32,
}

/// Counts permanent moves to the same address; returns the new run and, on
/// the poll that confirms it, the address to poll from now on.
pub fn track_move(previous: &Moved, moved_to: Option<&Url>) -> (Moved, Option<String>) {
    let Some(to) = moved_to.map(Url::to_string) else {
        return (Moved::default(), None);
    };
    let seen = if previous.to.as_deref() == Some(to.as_str()) {
        previous.seen + 1
    } else {
        1
    };
    let relink = (seen == MOVES_TO_RELINK).then(|| to.clone());
    (Moved { to: Some(to), seen }, relink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn per_host_limit_holds_while_other_hosts_proceed() {
        let limits = Limits::new(4, 1, Duration::ZERO);
        let first = limits.acquire("a.example").await;
        assert!(first.is_some());
        let blocked =
            tokio::time::timeout(Duration::from_millis(50), limits.acquire("a.example")).await;
        assert!(blocked.is_err(), "a second slot on the same host must wait");
        let other = limits.acquire("b.example").await;
        assert!(other.is_some());
        drop(first);
        assert!(limits.acquire("a.example").await.is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_are_spaced_but_loopback_is_not() {
        let limits = Limits::new(8, 8, Duration::from_secs(2));
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            let _slot = limits.acquire("news.example").await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        let local = tokio::time::Instant::now();
        for _ in 0..3 {
            let _slot = limits.acquire("127.0.0.1").await;
        }
        assert_eq!(local.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_host_waits_until_the_retry_time() {
        let limits = Limits::new(8, 8, Duration::ZERO);
        limits.pause_host("busy.example", Utc::now() + Duration::from_secs(120));
        let start = tokio::time::Instant::now();
        let _slot = limits.acquire("busy.example").await;
        assert!(start.elapsed() >= Duration::from_secs(119));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let m = Duration::from_secs(60);
        assert_eq!(backoff(m, 1), m);
        assert_eq!(backoff(m, 2), 2 * m);
        assert_eq!(backoff(m, 4), 8 * m);
        assert_eq!(backoff(m, 40), RETRY_CAP);
        let weekly = Duration::from_secs(7 * 86400);
        assert_eq!(backoff(weekly, 5), weekly);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_delay("120", now), Some(Duration::from_secs(120)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(300));
        assert_eq!(retry_delay(&date, now), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay("999999999", now), Some(RETRY_CAP));
        assert_eq!(retry_delay("soon", now), None);
    }

    #[test]
    fn hints_lengthen_but_never_shorten() {
        let m15 = Duration::from_secs(900);
        assert_eq!(lengthened(m15, Some(Duration::from_secs(60))), None);
        assert_eq!(
            lengthened(m15, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            lengthened(m15, Some(Duration::from_secs(86400 * 30))),
            Some(HINT_CAP)
        );
    }

    #[test]
    fn three_moves_in_a_row_relink_once() {
        let to = Url::parse("https://new.example/feed").ok();
        let (m1, r1) = track_move(&Moved::default(), to.as_ref());
        let (m2, r2) = track_move(&m1, to.as_ref());
        let (m3, r3) = track_move(&m2, to.as_ref());
        let (_, r4) = track_move(&m3, to.as_ref());
        assert_eq!((r1, r2), (None, None));
        assert_eq!(r3.as_deref(), Some("https://new.example/feed"));
        assert_eq!(r4, None, "announced once");
        let (reset, _) = track_move(&m2, None);
        assert_eq!(reset, Moved::default());
    }
}
