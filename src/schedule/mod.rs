//! When each source is due.
//!
//! [`Scheduler`] is plain data: a due time per source, with a time-ordered index beside it
//! so finding the next wakeup and the due sources costs O(log n), not O(n), at 10,000
//! sources. [`drive`] is the one future that turns due times into dispatched names.
//!
//! We keep this scheduler of our own rather than using tokio-cron-scheduler: its loop reads
//! the wall clock, so paused tokio time cannot drive it in tests, and repeated jobs can stop
//! firing under load (its upstream issue #113).

mod cron;
mod drive;
mod scheduler;

pub use cron::CronSchedule;
pub use drive::drive;
pub use scheduler::Scheduler;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

/// The cap on [`startup_jitter`]: a restart spreads polls over at most this much time.
const MAX_JITTER: Duration = Duration::from_secs(5 * 60);

/// Where a cron expression that never fires again is next due: far enough to be inert,
/// near enough that the arithmetic cannot overflow.
const NEVER: TimeDelta = TimeDelta::days(365);

/// How often a source is polled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// A fixed interval, measured from the previous due time.
    Every(Duration),
    /// The occurrences of a cron expression in a time zone.
    Cron(CronSchedule),
}

impl Schedule {
    /// The first occurrence strictly after `t`.
    ///
    /// `Every(d)` gives `t + d`, with a floor of one second so a zero interval cannot spin.
    /// A cron expression with no occurrence left gives `t` plus one year.
    pub fn next_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Schedule::Every(interval) => add_std(t, effective_interval(*interval)),
            Schedule::Cron(cron) => cron.next_after(t).unwrap_or_else(|| {
                t.checked_add_signed(NEVER)
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            }),
        }
    }

    /// The typical gap between two polls: the interval, or for a cron expression the gap
    /// between its next two occurrences.
    pub fn nominal_interval(&self) -> Duration {
        match self {
            Schedule::Every(interval) => *interval,
            Schedule::Cron(_) => {
                let first = self.next_after(Utc::now());
                let second = self.next_after(first);
                (second - first).to_std().unwrap_or(Duration::ZERO)
            }
        }
    }

    /// The first occurrence strictly after `now`, keeping the phase set by `anchor` (an
    /// earlier occurrence), so a poll that overran skips the firings it missed.
    fn first_after(&self, anchor: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        let Schedule::Every(interval) = self else {
            return self.next_after(now);
        };
        let period = effective_interval(*interval).as_nanos();
        let elapsed = (now - anchor).to_std().unwrap_or(Duration::ZERO).as_nanos();
        let step = period - elapsed % period;
        i64::try_from(step)
            .ok()
            .and_then(|nanos| now.checked_add_signed(TimeDelta::nanoseconds(nanos)))
            .unwrap_or_else(|| self.next_after(now))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(interval) => {
                write!(f, "every {}", humantime::format_duration(*interval))
            }
            Schedule::Cron(cron) => write!(f, "cron {cron}"),
        }
    }
}

fn effective_interval(interval: Duration) -> Duration {
    interval.max(Duration::from_secs(1))
}

fn add_std(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|delta| t.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Where the current time comes from, so tests can drive time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall time that advances with [`tokio::time::Instant`], so paused tokio time drives it.
#[cfg(test)]
#[derive(Clone, Copy, Debug)]
pub struct TokioClock {
    wall: DateTime<Utc>,
    origin: tokio::time::Instant,
}

#[cfg(test)]
impl TokioClock {
    /// A clock that reads `wall` now and advances with tokio's time from here on.
    pub fn starting_at(wall: DateTime<Utc>) -> Self {
        TokioClock {
            wall,
            origin: tokio::time::Instant::now(),
        }
    }
}

#[cfg(test)]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        add_std(self.wall, self.origin.elapsed())
    }
}

/// A random delay in `[0, min(nominal interval, 5 min))` for a source's first poll, so a
/// start does not fire every source at once.
pub fn startup_jitter(schedule: &Schedule) -> Duration {
    let cap = schedule.nominal_interval().min(MAX_JITTER);
    let cap = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    if cap == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..cap))
}

#[cfg(test)]
mod test_util {
    use super::*;

    pub fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a valid RFC 3339 time")
    }

    pub fn cron(expr: &str, tz: Option<&str>) -> Schedule {
        Schedule::Cron(CronSchedule::parse(expr, tz).expect("a valid cron expression"))
    }

    pub fn mins(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{at, cron, mins};
    use super::*;

    #[test]
    fn display_reads_like_the_configuration() {
        assert_eq!(Schedule::Every(mins(15)).to_string(), "every 15m");
        assert_eq!(Schedule::Every(mins(90)).to_string(), "every 1h 30m");
        assert_eq!(
            cron("0  */15 * * * *", Some("Europe/London")).to_string(),
            "cron 0 */15 * * * * (Europe/London)"
        );
        assert_eq!(
            cron("0 0 9 * * MON-FRI", None).to_string(),
            "cron 0 0 9 * * MON-FRI (UTC)"
        );
    }

    #[test]
    fn next_after_is_strictly_after() {
        let hourly = cron("0 0 * * * *", None);
        let t = at("2026-01-05T10:00:00Z");
        assert_eq!(hourly.next_after(t), at("2026-01-05T11:00:00Z"));
        assert_eq!(
            hourly.next_after(at("2026-01-05T10:59:59.9Z")),
            at("2026-01-05T11:00:00Z")
        );
        assert_eq!(
            Schedule::Every(mins(15)).next_after(t),
            at("2026-01-05T10:15:00Z")
        );
        assert_eq!(
            Schedule::Every(Duration::ZERO).next_after(t),
            at("2026-01-05T10:00:01Z")
        );
        assert_eq!(hourly.nominal_interval(), mins(60));
        assert_eq!(Schedule::Every(mins(15)).nominal_interval(), mins(15));
    }

    #[test]
    fn startup_jitter_stays_below_interval_and_five_minutes() {
        for _ in 0..200 {
            assert!(startup_jitter(&Schedule::Every(mins(60))) < mins(5));
            assert!(
                startup_jitter(&Schedule::Every(Duration::from_secs(30))) < Duration::from_secs(30)
            );
        }
        assert_eq!(
            startup_jitter(&Schedule::Every(Duration::ZERO)),
            Duration::ZERO
        );
    }
}
