//! `check`: poll sources once, now.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{AppError, Context, Status, command_runtime, emit, poller};
use crate::config::{Config, SourceConfig};
use crate::deliver::{self, Router, lease, outbox};
use crate::polite::Limits;
use crate::poll::{self, Known, PollReport, Poller};
use crate::report::publish;
use crate::store::SourceState;

pub fn check(ctx: Context, names: &[String]) -> Result<Status, AppError> {
    let config = Arc::new(ctx.config()?);
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| config.source(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::Usage(format!(
            "no source named {} in {}",
            unknown.join(", "),
            config.path.display()
        )));
    }
    let sources: Vec<_> = config
        .sources
        .iter()
        .filter(|s| names.is_empty() || names.contains(&s.name))
        .map(|s| Arc::new(s.clone()))
        .collect();
    let poller = poller(&config)?;
    let router = Router::new(&config);
    let limits = Limits::of(&config.settings);
    let (reports, undelivered) = command_runtime()?.block_on(async {
        // Every source's state in one read; should that fail, each poll
        // reads its own and reports what went wrong.
        let pairs: Vec<(String, String)> = sources
            .iter()
            .map(|s| (s.name.clone(), s.url.to_string()))
            .collect();
        let states = poller
            .store
            .run(move |s| s.source_states(pairs.iter().map(|(n, u)| (n.as_str(), u.as_str()))))
            .await
            .ok()
            .filter(|states| states.len() == sources.len());
        let mut states = states.into_iter().flatten();
        let planned = sources
            .into_iter()
            .map(|source| (source, states.next()))
            .collect();
        let lanes = Lanes::new(lanes(planned, config.settings.per_host));
        let workers = (0..config.settings.concurrency.max(1)).map(|_| async {
            let mut reports = Vec::new();
            while let Some(mut lane) = lanes.next().await {
                while let Some((source, state)) = lane.pop_front() {
                    let more = !lane.is_empty();
                    let poll =
                        poll_planned(&poller, &config, &router, &limits, source, state, more);
                    tokio::pin!(poll);
                    // A slow answer hands the rest of the lane to a worker
                    // that is free, if any, while this one waits for it.
                    let mut handed = !more;
                    let report = loop {
                        tokio::select! {
                            report = &mut poll => break report,
                            () = tokio::time::sleep(SLOW), if !handed => {
                                handed = true;
                                lanes.hand_back(std::mem::take(&mut lane));
                            }
                        }
                    };
                    reports.push(report);
                }
                lanes.finished();
            }
            reports
        });
        let reports: Vec<PollReport> = futures_util::future::join_all(workers)
            .await
            .into_iter()
            .flatten()
            .collect();
        let undelivered = deliver(&config, &poller).await;
        crate::prune::log(&crate::prune::prune(&poller.store, config.settings.retention).await);
        (reports, undelivered)
    });
    let mut reports = reports;
    reports.sort_by(|a, b| a.source.cmp(&b.source));
    // One write for the whole summary, not one per source.
    let summary: Vec<String> = reports.iter().map(ToString::to_string).collect();
    if !summary.is_empty() {
        emit(&summary.join("\n"))?;
    }
    if reports
        .iter()
        .any(|r| r.result.as_ref().is_ok_and(|s| s.events > 0))
    {
        publish_reports(&config, &poller);
    }
    let failed = reports
        .iter()
        .any(|r| r.result.as_ref().is_err_and(|e| !e.is_superseded()))
        || undelivered;
    Ok(if failed { 1 } else { 0 })
}

type Planned = (Arc<SourceConfig>, Option<SourceState>);

/// One source of a lane: keeping the connection when the lane has `more` to
/// ask of the host.
async fn poll_planned(
    poller: &Poller,
    config: &Arc<Config>,
    router: &Router,
    limits: &Limits,
    source: Arc<SourceConfig>,
    state: Option<SourceState>,
    more: bool,
) -> PollReport {
    let next = Some(Utc::now() + source.schedule.nominal_interval());
    match state {
        Some(state) => {
            let known = Known {
                state,
                keep_alive: more,
            };
            poll::poll_from(poller, config, router, limits, &source, known, next).await
        }
        None => poll::poll(poller, config, router, limits, &source, next).await,
    }
}

/// A poll taking longer than this hands the rest of its lane to another
/// worker: one slow or hanging source does not hold up its host's others
/// (which still keep to the per-host limits).
const SLOW: Duration = Duration::from_secs(3);

/// The lanes of a check, shared by its workers.
struct Lanes {
    state: Mutex<LaneState>,
    changed: tokio::sync::Notify,
}

struct LaneState {
    waiting: VecDeque<VecDeque<Planned>>,
    /// Lanes being polled, any of which may yet hand its rest back.
    running: usize,
}

impl Lanes {
    fn new(lanes: Vec<Vec<Planned>>) -> Lanes {
        Lanes {
            state: Mutex::new(LaneState {
                waiting: lanes.into_iter().map(VecDeque::from).collect(),
                running: 0,
            }),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LaneState> {
        crate::sync::lock(&self.state)
    }

    /// The next lane to poll, waiting while none is left but some running
    /// lane may still hand its rest back; `None` when all are done.
    async fn next(&self) -> Option<VecDeque<Planned>> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(lane) = state.waiting.pop_front() {
                    state.running += 1;
                    return Some(lane);
                }
                if state.running == 0 {
                    return None;
                }
            }
            changed.await;
        }
    }

    /// The rest of a lane whose poll is slow, first in line for the next
    /// free worker.
    fn hand_back(&self, rest: VecDeque<Planned>) {
        if rest.is_empty() {
            return;
        }
        self.lock().waiting.push_front(rest);
        self.changed.notify_one();
    }

    /// A lane taken by `next` is done.
    fn finished(&self) {
        let mut state = self.lock();
        state.running = state.running.saturating_sub(1);
        drop(state);
        self.changed.notify_waiters();
    }
}

/// Sources of one host polled one after another before a second lane is
/// opened for it.
const LANE: usize = 8;

/// The sources of a check in lanes, each polled one source after another,
/// so that a host's connection serves its next source and is closed after
/// the lane's last. Most checks are answered with 304s, for which a kept
/// connection saves more round trips than a second one in parallel would;
/// a host with many sources gets more lanes, never more than it may take
/// requests at once. Hosts keep the order the configuration gives them.
fn lanes(sources: Vec<Planned>, per_host: usize) -> Vec<Vec<Planned>> {
    let mut hosts: Vec<Vec<Planned>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for planned in sources {
        // A file has no connection to share: each is a lane of its own.
        if planned.0.url.host_str().is_none() {
            hosts.push(vec![planned]);
            continue;
        }
        let key = crate::polite::host_key(&planned.0.url);
        let at = *index.entry(key).or_insert_with(|| {
            hosts.push(Vec::new());
            hosts.len() - 1
        });
        hosts[at].push(planned);
    }
    let mut lanes = Vec::new();
    for host in hosts {
        let count = host.len().div_ceil(LANE).clamp(1, per_host.max(1));
        let mut dealt: Vec<Vec<Planned>> = (0..count).map(|_| Vec::new()).collect();
        for (i, planned) in host.into_iter().enumerate() {
            dealt[i % count].push(planned);
        }
        lanes.extend(dealt);
    }
    lanes
}

/// Rewrites the published reports when `report_dir` is set, as the daemon does.
fn publish_reports(config: &Config, poller: &Poller) {
    let Some(target) = publish::Target::of(&config.settings) else {
        return;
    };
    if let Err(e) = publish::publish(&poller.store.lock(), &target, Utc::now()) {
        tracing::warn!(
            "cannot publish the change reports: {}",
            crate::error::error_chain(&e)
        );
    }
}

/// How long `check` waits for another `check` to finish delivering a
/// sink before leaving its events to that one.
const LEASE_WAIT: Duration = Duration::from_secs(60);

/// Delivers what this check recorded, and anything else pending, to every
/// sink no other process delivers; says how many events are left to the
/// running daemon. True when something could not be delivered.
async fn deliver(config: &Arc<Config>, poller: &Poller) -> bool {
    let leases = &poller.leases;
    let deadline = Instant::now() + LEASE_WAIT;
    loop {
        if let Err(e) = lease::take_all(leases, &poller.store, config).await {
            tracing::error!("cannot take the sinks' leases: {e}");
            return true;
        }
        let busy = config
            .sinks
            .iter()
            .any(|s| leases.holder_of(&s.name).as_deref() == Some("check"));
        if !busy || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let held: Vec<String> = config
        .sinks
        .iter()
        .filter(|s| leases.holds(&s.name))
        .map(|s| s.name.clone())
        .collect();
    let failed = tokio::select! {
        failed = deliver_held(config, poller) => failed,
        () = renew(poller, held) => false,
    };
    let leases = Arc::clone(&poller.leases);
    if let Err(e) = poller.store.run(move |s| leases.release(s)).await {
        tracing::warn!(
            "cannot give up the sinks' leases: {}",
            crate::error::error_chain(&e)
        );
    }
    say_who_delivers(config, poller);
    failed
}

/// Keeps this check's leases from lapsing while it delivers; never ends.
async fn renew(poller: &Poller, held: Vec<String>) {
    loop {
        tokio::time::sleep(lease::RENEW).await;
        let (leases, held) = (Arc::clone(&poller.leases), held.clone());
        if let Err(e) = poller.store.run(move |s| leases.take(s, &held)).await {
            tracing::warn!(
                "cannot renew the sinks' leases: {}",
                crate::error::error_chain(&e)
            );
        }
    }
}

/// One line per kind of other deliverer that has this check's events.
fn say_who_delivers(config: &Config, poller: &Poller) {
    for (role, by) in [
        ("daemon", "the running daemon"),
        ("check", "another `feedwatch check`"),
    ] {
        let sinks: Vec<String> = config
            .sinks
            .iter()
            .filter(|s| poller.leases.holder_of(&s.name).as_deref() == Some(role))
            .map(|s| s.name.clone())
            .collect();
        let n = poller.commits.handed_off_to(&sinks);
        if n > 0 {
            let events = if n == 1 { "event" } else { "events" };
            // Standard output may be closed (`| head`); the events are queued either way.
            let _ = emit(&format!("{n} {events} queued for delivery by {by}"));
        }
    }
}

/// Appends to the log sinks and sends what is due to each outbox sink (webhooks, channels, commands)
/// once, for the sinks this process holds; true when a delivery was given
/// up on or something is left queued (it is retried by the daemon or the
/// next `check`).
async fn deliver_held(config: &Arc<Config>, poller: &Poller) -> bool {
    let (leases, settings) = (Arc::clone(&poller.leases), Arc::clone(config));
    let logs = poller
        .store
        .run(move |s| Ok(deliver::flush_log_sinks(s, &settings, &leases)))
        .await;
    let mut failed = match logs {
        Ok(Ok(_)) => false,
        Ok(Err(e)) => {
            tracing::warn!(
                "delivery to a log sink failed, events stay queued: {}",
                crate::error::error_chain(&e)
            );
            true
        }
        Err(e) => {
            tracing::error!("outbox error: {}", crate::error::error_chain(&e));
            true
        }
    };
    let mut gathering = Vec::new();
    for sink in outbox::outbox_sinks(config) {
        match outbox::drain_once(&sink, &poller.store, &poller.leases).await {
            Ok(done) => {
                if done.delivered > 0 {
                    tracing::info!(sink = %sink.name, delivered = done.delivered, "deliveries sent");
                }
                if done.gathering {
                    gathering.push(sink.name.clone());
                }
                failed |= done.dead > 0;
            }
            Err(e) => {
                tracing::error!(sink = %sink.name, "outbox error: {}", crate::error::error_chain(&e));
                failed = true;
            }
        }
    }
    // Every sink this process delivers, also a webhook that could not
    // start (its secret unreadable): what it leaves queued is a failed
    // delivery, unless a digest is gathering it on purpose.
    let held = config
        .sinks
        .iter()
        .filter(|s| poller.leases.holds(&s.name) && !gathering.contains(&s.name));
    for sink in held {
        let waiting = poller
            .store
            .lock()
            .next_pending(&sink.name)
            .map(|d| d.is_some())
            .unwrap_or(true);
        if waiting {
            tracing::warn!(
                sink = %sink.name,
                "some events are still queued for this sink; see `feedwatch deliveries`"
            );
            failed = true;
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Dirs, parse_str};

    /// Sources named `host-n`, the hosts' sources interleaved in the file.
    fn planned(hosts: &[(&str, usize)]) -> Vec<Planned> {
        let most = hosts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let mut text = String::new();
        for n in 0..most {
            for (host, count) in hosts {
                if n < *count {
                    text.push_str(&format!(
                        "[[source]]\nname = \"{host}-{n}\"\nurl = \"https://{host}/{n}.xml\"\n"
                    ));
                }
            }
        }
        let config = parse_str(&text, Path::new("feedwatch.toml"), &Dirs::default())
            .unwrap_or_else(|e| panic!("{e}"));
        config
            .sources
            .into_iter()
            .map(|s| (Arc::new(s), None))
            .collect()
    }

    fn names(lanes: &[Vec<Planned>]) -> Vec<Vec<String>> {
        lanes
            .iter()
            .map(|lane| lane.iter().map(|(s, _)| s.name.clone()).collect())
            .collect()
    }

    #[test]
    fn a_host_keeps_one_lane_until_it_has_many_sources() {
        let lanes = lanes(planned(&[("a.example", 3), ("b.example", 20)]), 2);
        let lanes = names(&lanes);
        assert_eq!(lanes.len(), 3, "{lanes:?}");
        assert_eq!(lanes[0], ["a.example-0", "a.example-1", "a.example-2"]);
        let evens: Vec<String> = (0..20)
            .step_by(2)
            .map(|n| format!("b.example-{n}"))
            .collect();
        let odds: Vec<String> = (1..20)
            .step_by(2)
            .map(|n| format!("b.example-{n}"))
            .collect();
        assert_eq!(lanes[1], evens);
        assert_eq!(lanes[2], odds);
    }

    #[test]
    fn lanes_never_outnumber_what_a_host_may_take_at_once() {
        let lanes = lanes(planned(&[("a.example", 100)]), 3);
        assert_eq!(lanes.len(), 3);
        assert_eq!(lanes.iter().map(Vec::len).sum::<usize>(), 100);
        let one = super::lanes(planned(&[("a.example", 100)]), 1);
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn files_have_no_connection_to_share() {
        let text = "[[source]]\nname = \"a\"\nurl = \"file:///srv/a.xml\"\n\
                    [[source]]\nname = \"b\"\nurl = \"file:///srv/b.xml\"\n";
        let config = parse_str(text, Path::new("feedwatch.toml"), &Dirs::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let planned = config
            .sources
            .into_iter()
            .map(|s| (Arc::new(s), None))
            .collect();
        assert_eq!(names(&lanes(planned, 2)), [["a"], ["b"]]);
    }

    #[tokio::test]
    async fn a_lane_handed_back_goes_to_a_waiting_worker() {
        use futures_util::FutureExt;

        let lanes = Lanes::new(lanes(planned(&[("a.example", 3)]), 2));
        let mut taken = lanes.next().await.expect("the host's lane");
        taken.pop_front();
        // Nothing waits, but the running lane may still hand its rest back.
        let second = lanes.next();
        tokio::pin!(second);
        assert!((&mut second).now_or_never().is_none());
        lanes.hand_back(std::mem::take(&mut taken));
        let rest = second.await.expect("the rest of the lane");
        let rest: Vec<&str> = rest.iter().map(|(s, _)| s.name.as_str()).collect();
        assert_eq!(rest, ["a.example-1", "a.example-2"]);
        lanes.finished();
        let third = lanes.next();
        tokio::pin!(third);
        assert!((&mut third).now_or_never().is_none(), "one lane still runs");
        lanes.finished();
        assert!(third.await.is_none());
    }
}
