use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::{Clock, Scheduler};

/// How long [`drive`] sleeps at most, so a jump of the wall clock is noticed within this time.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Sends the name of each source to `dispatch` when it falls due, until `cancel` fires or
/// the receiver goes away. Whoever receives a name polls the source, then calls
/// [`Scheduler::finish`] and `wake.notify_one()`; `wake` also announces sources added or
/// changed from outside.
pub async fn drive(
    scheduler: Arc<Mutex<Scheduler>>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
    dispatch: UnboundedSender<String>,
) {
    loop {
        let (due, wakeup) = {
            let mut scheduler = crate::sync::lock(&scheduler);
            let due = scheduler.take_due(clock.now());
            (due, scheduler.next_wakeup())
        };
        for name in due {
            tracing::trace!(source = %name, "due");
            if dispatch.send(name).is_err() {
                return;
            }
        }
        let pause = wakeup.map_or(MAX_SLEEP, |at| {
            (at - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(MAX_SLEEP)
        });
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = dispatch.closed() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::mpsc;
    use tokio::task::JoinHandle;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::super::test_util::{at, cron, mins};
    use super::super::{Schedule, TokioClock};
    use super::*;

    type PollTime = Arc<dyn Fn(&str) -> Duration + Send + Sync>;

    /// Runs `drive` with a consumer that acts like the daemon: it records when each source
    /// fires, "polls" for a simulated time, then finishes and wakes the scheduler.
    struct Harness {
        scheduler: Arc<Mutex<Scheduler>>,
        clock: Arc<TokioClock>,
        wake: Arc<Notify>,
        cancel: CancellationToken,
        driver: JoinHandle<()>,
        fires: Arc<Mutex<HashMap<String, Vec<DateTime<Utc>>>>>,
        overlaps: Arc<AtomicUsize>,
    }

    impl Harness {
        fn start(
            start: DateTime<Utc>,
            sources: Vec<(String, Schedule, DateTime<Utc>)>,
            poll: PollTime,
        ) -> Self {
            let clock = Arc::new(TokioClock::starting_at(start));
            let mut scheduler = Scheduler::new();
            for (name, schedule, first_due) in sources {
                scheduler.upsert(&name, schedule, first_due);
            }
            let scheduler = Arc::new(Mutex::new(scheduler));
            let wake = Arc::new(Notify::new());
            let cancel = CancellationToken::new();
            let (tx, rx) = mpsc::unbounded_channel();
            let driver = tokio::spawn(drive(
                scheduler.clone(),
                clock.clone(),
                wake.clone(),
                cancel.clone(),
                tx,
            ));
            let harness = Harness {
                scheduler,
                clock,
                wake,
                cancel,
                driver,
                fires: Arc::default(),
                overlaps: Arc::default(),
            };
            tokio::spawn(harness.consume(rx, poll));
            harness
        }

        fn consume(
            &self,
            mut rx: mpsc::UnboundedReceiver<String>,
            poll: PollTime,
        ) -> impl Future<Output = ()> + use<> {
            let (scheduler, clock, wake) = (
                self.scheduler.clone(),
                self.clock.clone(),
                self.wake.clone(),
            );
            let (fires, overlaps) = (self.fires.clone(), self.overlaps.clone());
            let in_flight = Arc::new(Mutex::new(HashSet::new()));
            async move {
                while let Some(name) = rx.recv().await {
                    let now = clock.now();
                    fires
                        .lock()
                        .expect("fires")
                        .entry(name.clone())
                        .or_default()
                        .push(now);
                    if !in_flight.lock().expect("in flight").insert(name.clone()) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    let (scheduler, clock, wake, in_flight) = (
                        scheduler.clone(),
                        clock.clone(),
                        wake.clone(),
                        in_flight.clone(),
                    );
                    let poll_time = poll(&name);
                    tokio::spawn(async move {
                        tokio::time::sleep(poll_time).await;
                        in_flight.lock().expect("in flight").remove(&name);
                        crate::sync::lock(&scheduler).finish(&name, clock.now(), None);
                        wake.notify_one();
                    });
                }
            }
        }

        async fn run_until(&self, t: DateTime<Utc>) {
            let pause = (t - self.clock.now())
                .to_std()
                .expect("a time in the future");
            tokio::time::sleep(pause).await;
        }

        async fn stop(self) -> HashMap<String, Vec<DateTime<Utc>>> {
            self.cancel.cancel();
            self.driver.await.expect("drive ends cleanly");
            assert_eq!(
                self.overlaps.load(Ordering::SeqCst),
                0,
                "a poll overlapped itself"
            );
            let fires = self.fires.lock().expect("fires");
            fires.clone()
        }
    }

    fn every_poll_takes(d: Duration) -> PollTime {
        Arc::new(move |_: &str| d)
    }

    fn source(
        name: &str,
        schedule: Schedule,
        first_due: DateTime<Utc>,
    ) -> Vec<(String, Schedule, DateTime<Utc>)> {
        vec![(name.to_owned(), schedule, first_due)]
    }

    fn assert_spacing(fires: &[DateTime<Utc>], gap: TimeDelta) {
        for pair in fires.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                gap,
                "between {} and {}",
                pair[0],
                pair[1]
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_15m_fires_288_times_in_three_days() {
        let start = at("2026-01-05T00:00:00Z");
        let harness = Harness::start(
            start,
            source("s", Schedule::Every(mins(15)), start),
            every_poll_takes(Duration::from_secs(40)),
        );
        harness
            .run_until(start + TimeDelta::days(3) - TimeDelta::seconds(1))
            .await;
        let fires = harness.stop().await.remove("s").expect("fired");
        assert_eq!(fires.len(), 288);
        assert_eq!(fires[0], start);
        assert_spacing(&fires, TimeDelta::minutes(15));
    }

    #[tokio::test(start_paused = true)]
    async fn hourly_cron_fires_on_the_hour() {
        let start = at("2026-01-05T00:10:00Z");
        let hourly = cron("0 0 * * * *", None);
        let first = hourly.next_after(start);
        let harness = Harness::start(
            start,
            source("s", hourly, first),
            every_poll_takes(Duration::from_secs(90)),
        );
        harness.run_until(at("2026-01-07T00:10:00Z")).await;
        let fires = harness.stop().await.remove("s").expect("fired");
        assert_eq!(fires.len(), 48);
        assert_eq!(fires[0], at("2026-01-05T01:00:00Z"));
        assert!(
            fires
                .iter()
                .all(|t| t.timestamp() % 3600 == 0 && t.timestamp_subsec_nanos() == 0)
        );
        assert_spacing(&fires, TimeDelta::hours(1));
    }

    #[tokio::test(start_paused = true)]
    async fn daily_london_cron_follows_local_time_across_spring_change() {
        let start = at("2026-03-26T12:00:00Z");
        let daily = cron("0 30 1 * * *", Some("Europe/London"));
        let first = daily.next_after(start);
        let harness = Harness::start(start, source("s", daily, first), every_poll_takes(mins(2)));
        harness.run_until(at("2026-04-01T00:00:00Z")).await;
        let fires = harness.stop().await.remove("s").expect("fired");
        // 01:30 GMT, then on the 29th 01:30 does not exist (01:00 GMT becomes 02:00 BST), so it
        // fires as the gap ends, then 01:30 BST.
        let expected = [
            "2026-03-27T01:30:00Z",
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-31T00:30:00Z",
        ];
        assert_eq!(fires, expected.map(at));
        let local: Vec<String> = fires
            .iter()
            .map(|t| {
                t.with_timezone(&chrono_tz::Europe::London)
                    .format("%d %H:%M %Z")
                    .to_string()
            })
            .collect();
        assert_eq!(
            local,
            [
                "27 01:30 GMT",
                "28 01:30 GMT",
                "29 02:00 BST",
                "30 01:30 BST",
                "31 01:30 BST"
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn overrunning_poll_never_overlaps_and_skips_missed_firings() {
        let start = at("2026-01-05T00:00:00Z");
        let harness = Harness::start(
            start,
            source("slow", Schedule::Every(mins(10)), start),
            every_poll_takes(mins(25)),
        );
        harness
            .run_until(start + TimeDelta::days(1) - TimeDelta::seconds(1))
            .await;
        let fires = harness.stop().await.remove("slow").expect("fired");
        // Due at :00, finished at :25, so :10 and :20 are skipped and :30 is next.
        assert_eq!(fires.len(), 48);
        assert_eq!(fires[0], start);
        assert_spacing(&fires, TimeDelta::minutes(30));
    }

    /// Regression: repeated jobs that silently stop firing under load.
    #[tokio::test(start_paused = true)]
    async fn thousand_sources_all_keep_firing_for_a_week() {
        let start = at("2026-01-05T00:00:00Z");
        let end = start + TimeDelta::weeks(1);
        let intervals = [10, 15, 20, 30, 60, 120, 360, 1440].map(mins);
        let sources: Vec<_> = (0..1000u64)
            .map(|i| {
                let interval = intervals[i as usize % intervals.len()];
                let first_due = start + TimeDelta::seconds((i * 7 % 300) as i64);
                (
                    format!("source-{i:04}"),
                    Schedule::Every(interval),
                    first_due,
                )
            })
            .collect();
        let expected: HashMap<String, usize> = sources
            .iter()
            .map(|(name, schedule, first_due)| {
                let Schedule::Every(interval) = schedule else {
                    unreachable!()
                };
                let span = (end - *first_due).to_std().expect("before the end");
                let count = span.as_secs().div_ceil(interval.as_secs());
                (name.clone(), count as usize)
            })
            .collect();
        let poll: PollTime = Arc::new(|name: &str| {
            let n: u64 = name
                .trim_start_matches("source-")
                .parse()
                .expect("numbered");
            Duration::from_secs(1 + n % 500)
        });
        let harness = Harness::start(start, sources, poll);
        harness.run_until(end - TimeDelta::milliseconds(500)).await;
        let fires = harness.stop().await;
        let total: usize = fires.values().map(Vec::len).sum();
        assert_eq!(fires.len(), 1000);
        for (name, count) in &expected {
            assert_eq!(fires[name].len(), *count, "{name}");
        }
        assert_eq!(total, expected.values().sum::<usize>());
        println!("1,000 sources, 7 simulated days, {total} fires");
    }

    #[tokio::test(start_paused = true)]
    async fn remove_stops_a_source_and_upsert_adds_one_mid_run() {
        let start = at("2026-01-05T00:00:00Z");
        let sources = vec![
            ("gone".to_owned(), Schedule::Every(mins(5)), start),
            ("stays".to_owned(), Schedule::Every(mins(20)), start),
        ];
        let harness = Harness::start(start, sources, every_poll_takes(Duration::from_secs(30)));
        // At 01:00:10 the 01:00 poll of "gone" is still in flight.
        harness.run_until(start + TimeDelta::seconds(3610)).await;
        let added_at = harness.clock.now();
        {
            let mut scheduler = crate::sync::lock(&harness.scheduler);
            assert!(scheduler.is_running("gone"));
            scheduler.remove("gone");
            scheduler.upsert("new", Schedule::Every(mins(10)), added_at);
        }
        harness.wake.notify_one();
        harness
            .run_until(start + TimeDelta::hours(2) + TimeDelta::seconds(30))
            .await;
        assert_eq!(
            crate::sync::lock(&harness.scheduler)
                .names()
                .collect::<Vec<_>>(),
            ["new", "stays"]
        );
        let fires = harness.stop().await;
        assert_eq!(fires["gone"].len(), 13, "00:00 to 01:00, then nothing");
        assert_eq!(fires["gone"].last(), Some(&(start + TimeDelta::hours(1))));
        assert_eq!(fires["new"].len(), 7, "01:00:10 to 02:00:10");
        assert_eq!(fires["new"][0], added_at);
        assert_spacing(&fires["new"], TimeDelta::minutes(10));
        assert_eq!(fires["stays"].len(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_ends_drive_without_waiting() {
        let start = at("2026-01-05T00:00:00Z");
        let far = start + TimeDelta::days(1);
        let harness = Harness::start(
            start,
            source("s", Schedule::Every(mins(60)), far),
            every_poll_takes(Duration::ZERO),
        );
        harness.run_until(start + TimeDelta::seconds(5)).await;
        let before = tokio::time::Instant::now();
        let fires = harness.stop().await;
        assert_eq!(tokio::time::Instant::now(), before);
        assert!(fires.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn drive_ends_when_nobody_receives() {
        let clock = Arc::new(TokioClock::starting_at(at("2026-01-05T00:00:00Z")));
        let mut scheduler = Scheduler::new();
        scheduler.upsert("s", Schedule::Every(mins(60)), at("2026-01-06T00:00:00Z"));
        let (tx, rx) = mpsc::unbounded_channel();
        drop(rx);
        let before = tokio::time::Instant::now();
        let scheduler = Arc::new(Mutex::new(scheduler));
        drive(
            scheduler,
            clock,
            Arc::new(Notify::new()),
            CancellationToken::new(),
            tx,
        )
        .await;
        assert_eq!(tokio::time::Instant::now(), before);
    }
}
