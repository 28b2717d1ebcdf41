//! The daemon: owns the tasks. Schedules every source, runs each due poll in
//! its own task within the politeness limits, reloads on SIGHUP and stops
//! cleanly on SIGTERM/SIGINT.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

use crate::config::{self, Config, SinkKind, SourceConfig};
use crate::deliver::{self, Leases, Router, lease, outbox};
use crate::error::error_chain;
use crate::event::format_time;
use crate::fetch::FetchError;
use crate::metrics;
use crate::notify::Notifier;
use crate::polite::{self, Limits};
use crate::poll::{self, Poller, PollerError};
use crate::report::publish;
use crate::schedule::{self, Clock, Scheduler, SystemClock};
use crate::store::{Store, StoreError};

/// How often `STATUS=` is refreshed when no watchdog asks for more.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// How long in-flight polls may run on after a stop is asked for.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client")]
    Http(#[source] FetchError),
    #[error("cannot listen for signals")]
    Signals(#[source] std::io::Error),
}

impl DaemonError {
    pub fn is_store(&self) -> bool {
        matches!(self, DaemonError::Store(_))
    }
}

/// What a poll task needs; replaced as a whole on reload.
struct Current {
    config: Arc<Config>,
    router: Arc<Router>,
    limits: Arc<Limits>,
    sources: HashMap<String, Arc<SourceConfig>>,
}

impl Current {
    /// `stopping` ends the waits of polls that have not started a request.
    fn new(config: Config, stopping: &CancellationToken) -> Current {
        let limits = Limits::of(&config.settings).stopped_by(stopping.child_token());
        Current {
            router: Arc::new(Router::new(&config)),
            limits: Arc::new(limits),
            sources: config
                .sources
                .iter()
                .map(|s| (s.name.clone(), Arc::new(s.clone())))
                .collect(),
            config: Arc::new(config),
        }
    }
}

struct Daemon {
    config_path: PathBuf,
    database_override: Option<PathBuf>,
    current: Current,
    poller: Arc<Poller>,
    scheduler: Arc<Mutex<Scheduler>>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    tracker: TaskTracker,
    /// The root of every task's cancellation: cancelled last, it abandons
    /// polls still running after the grace period.
    abandon: CancellationToken,
    /// A child of `abandon`, cancelled when a stop is asked for: the
    /// scheduler, sink workers, pruning and metrics stop, and so do polls
    /// that are only waiting for their turn.
    stopping: CancellationToken,
    /// A child of `stopping` for the sink workers of the current
    /// configuration, replaced on reload.
    workers: CancellationToken,
    notifier: Notifier,
    /// Sources configured, for the metrics endpoint.
    source_count: Arc<AtomicUsize>,
    /// The retention in force, for the pruning task.
    retention: tokio::sync::watch::Sender<crate::config::Retention>,
    /// Woken after a poll that found changes, to rewrite the published reports.
    publish: Arc<Notify>,
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(
    config_path: PathBuf,
    database_override: Option<PathBuf>,
    config: Config,
) -> Result<(), DaemonError> {
    let store = Store::open(&config.settings.database)?;
    let leases = Leases::new("daemon");
    let poller = Poller::new(store, &config.settings, leases).map_err(|e| match e {
        PollerError::Store(e) => DaemonError::Store(e),
        PollerError::Http(e) => DaemonError::Http(e),
    })?;
    let poller = Arc::new(poller);
    let retention = tokio::sync::watch::Sender::new(config.settings.retention);
    let abandon = CancellationToken::new();
    let stopping = abandon.child_token();
    let mut daemon = Daemon {
        config_path,
        database_override,
        current: Current::new(config, &stopping),
        poller,
        scheduler: Arc::new(Mutex::new(Scheduler::new())),
        clock: Arc::new(SystemClock),
        wake: Arc::new(Notify::new()),
        tracker: TaskTracker::new(),
        workers: stopping.child_token(),
        abandon,
        stopping,
        notifier: Notifier::from_env(),
        source_count: Arc::new(AtomicUsize::new(0)),
        retention,
        publish: Arc::new(Notify::new()),
    };
    daemon.take_leases().await;
    daemon.deliver_leftovers();
    daemon.serve_metrics().await;
    daemon.start_workers();
    daemon.start_pruning();
    daemon.schedule_all();
    daemon.serve().await
}

impl Daemon {
    fn scheduler(&self) -> std::sync::MutexGuard<'_, Scheduler> {
        crate::sync::lock(&self.scheduler)
    }

    /// Becomes the deliverer of every sink no other process delivers; the
    /// lease keeper takes the others as they come free.
    async fn take_leases(&self) {
        let (leases, store) = (&self.poller.leases, &self.poller.store);
        match lease::take_all(leases, store, &self.current.config).await {
            Ok(_) => {
                for sink in &self.current.config.sinks {
                    if let Some(holder) = leases.holder_of(&sink.name) {
                        info!(sink = %sink.name, "another feedwatch process ({holder}) delivers this sink's events; taking over when it is done");
                    }
                }
            }
            Err(e) => warn!("cannot take the sinks' leases: {e}"),
        }
    }

    /// Events stored but not delivered before a stop or crash go out first.
    fn deliver_leftovers(&self) {
        let mut store = self.poller.store.lock();
        let leases = &self.poller.leases;
        match deliver::flush_log_sinks(&mut store, &self.current.config, leases) {
            Ok(0) => {}
            Ok(n) => info!(events = n, "delivered events left from the last run"),
            Err(e) => warn!("cannot deliver queued events: {}", error_chain(&e)),
        }
    }

    async fn serve_metrics(&self) {
        self.source_count
            .store(self.current.sources.len(), Ordering::Relaxed);
        let Some(addr) = self.current.config.settings.metrics else {
            return;
        };
        if let Some(listener) = metrics::bind(addr).await {
            info!("serving metrics on http://{addr}/metrics");
            self.tracker.spawn(metrics::serve(
                listener,
                self.poller.store.clone(),
                Arc::clone(&self.source_count),
                self.stopping.clone(),
            ));
        }
    }

    /// One delivery task per sink, so a hung receiver holds up only its
    /// own, and the keeper of their leases.
    fn start_workers(&mut self) {
        self.workers = self.stopping.child_token();
        let (store, leases) = (&self.poller.store, &self.poller.leases);
        let wake = &self.poller.outbox;
        self.tracker.spawn(lease::keep(
            Arc::clone(leases),
            store.clone(),
            Arc::clone(&self.current.config),
            Arc::clone(wake),
            self.workers.clone(),
        ));
        for sink in outbox::outbox_sinks(&self.current.config) {
            self.tracker.spawn(outbox::run_worker(
                sink,
                store.clone(),
                Arc::clone(leases),
                Arc::clone(wake),
                self.workers.clone(),
            ));
        }
        for sink in &self.current.config.sinks {
            if let SinkKind::Log { path } = &sink.kind {
                self.tracker.spawn(outbox::run_log_worker(
                    sink.name.clone(),
                    path.clone(),
                    store.clone(),
                    Arc::clone(leases),
                    Arc::clone(wake),
                    self.workers.clone(),
                ));
            }
        }
        if let Some(target) = publish::Target::of(&self.current.config.settings) {
            self.tracker.spawn(publish::run_worker(
                target,
                self.poller.store.clone(),
                Arc::clone(&self.publish),
                self.workers.clone(),
            ));
        }
    }

    fn start_pruning(&self) {
        self.tracker.spawn(crate::prune::run(
            self.poller.store.clone(),
            self.retention.subscribe(),
            self.stopping.clone(),
        ));
    }

    /// Adds every source, keeping a stored next poll time when it is still
    /// ahead, else spreading first polls with jitter.
    fn schedule_all(&mut self) {
        let now = self.clock.now();
        let names: Vec<String> = self.current.sources.keys().cloned().collect();
        for name in names {
            self.add_source(&name, now);
        }
        info!(sources = self.current.sources.len(), "sources scheduled");
    }

    fn add_source(&self, name: &str, now: chrono::DateTime<Utc>) {
        let Some(source) = self.current.sources.get(name) else {
            return;
        };
        let stored = self.poller.store.lock().next_due_of(name).ok().flatten();
        let horizon = now + source.schedule.nominal_interval();
        let first = match stored {
            Some(due) if due > now && due <= horizon => due,
            _ => now + schedule::startup_jitter(&source.schedule),
        };
        self.scheduler()
            .upsert(name, source.schedule.clone(), first);
    }

    async fn serve(&mut self) -> Result<(), DaemonError> {
        let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
        let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
        let (tx, mut due) = mpsc::unbounded_channel();
        let driver = tokio::spawn(schedule::drive(
            Arc::clone(&self.scheduler),
            Arc::clone(&self.clock),
            Arc::clone(&self.wake),
            self.stopping.clone(),
            tx,
        ));
        info!("feedwatch {} running", crate::VERSION);
        self.notifier.send("READY=1");
        let watchdog = self.notifier.watchdog_interval();
        let mut tick = tokio::time::interval(watchdog.unwrap_or(STATUS_EVERY).min(STATUS_EVERY));
        loop {
            tokio::select! {
                Some(name) = due.recv() => self.dispatch(name),
                _ = hup.recv() => self.reload(),
                _ = term.recv() => { info!("SIGTERM: stopping"); break; }
                _ = int.recv() => { info!("SIGINT: stopping"); break; }
                _ = tick.tick(), if self.notifier.enabled() => {
                    self.report_health(watchdog.is_some(), &driver).await;
                }
            }
        }
        self.notifier.send("STOPPING=1");
        self.stopping.cancel();
        let _ = driver.await;
        self.shutdown().await;
        Ok(())
    }

    /// Sends `STATUS=` and, only while the database answers and the
    /// scheduler keeps up, `WATCHDOG=1`. Runs in the main loop, so a stuck
    /// loop stops the pings too.
    async fn report_health(&self, watchdog: bool, driver: &tokio::task::JoinHandle<()>) {
        let summary = self.poller.store.run(|s| s.health_summary());
        let Ok(Ok(health)) = tokio::time::timeout(Duration::from_secs(10), summary).await else {
            warn!("the database did not answer the health check");
            return;
        };
        self.notifier.send(&format!(
            "STATUS={} sources, {} failing, last poll {}, {} deliveries pending",
            self.current.sources.len(),
            health.failing,
            health.last_poll.map_or("never".into(), format_time),
            health.pending,
        ));
        let now = self.clock.now();
        let overdue = self
            .scheduler()
            .next_wakeup()
            .is_some_and(|due| now - due > chrono::Duration::seconds(60));
        if watchdog && !overdue && !driver.is_finished() {
            self.notifier.send("WATCHDOG=1");
        } else if watchdog {
            warn!("the scheduler is not keeping up; withholding the watchdog ping");
        }
    }

    /// Starts one poll task; the source is finished in the scheduler however
    /// the poll ends, so it is never stuck as running.
    fn dispatch(&self, name: String) {
        let Some(source) = self.current.sources.get(&name).cloned() else {
            self.scheduler().remove(&name);
            return;
        };
        let config = Arc::clone(&self.current.config);
        let router = Arc::clone(&self.current.router);
        let limits = Arc::clone(&self.current.limits);
        let poller = Arc::clone(&self.poller);
        let scheduler = Arc::clone(&self.scheduler);
        let clock = Arc::clone(&self.clock);
        let wake = Arc::clone(&self.wake);
        let abandon = self.abandon.clone();
        let publish = Arc::clone(&self.publish);
        self.tracker.spawn(async move {
            let host = polite::host_key(&source.url);
            let work = async {
                let next = source.schedule.next_after(clock.now());
                poll::poll(&poller, &config, &router, &limits, &source, Some(next)).await
            };
            let report = tokio::select! {
                report = work => Some(report),
                _ = abandon.cancelled() => {
                    warn!(source = %source.name, "poll abandoned at shutdown");
                    None
                }
            };
            if report
                .as_ref()
                .is_some_and(|r| r.result.as_ref().is_ok_and(|s| s.events > 0))
            {
                publish.notify_one();
            }
            if let Some(until) = report.as_ref().and_then(|r| r.host_not_before) {
                limits.pause_host(&host, until);
            }
            let mut s = crate::sync::lock(&scheduler);
            let natural = s.due_at(&source.name).map(|due| {
                source.schedule.next_after(due) + polite::schedule_jitter(&source.schedule)
            });
            let not_before = report.and_then(|r| r.not_before);
            let earliest = match (natural, not_before) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            s.finish(&source.name, clock.now(), earliest);
            drop(s);
            wake.notify_one();
        });
    }

    /// Reads the configuration again; a bad file keeps the running one.
    fn reload(&mut self) {
        self.notifier.send("RELOADING=1");
        self.apply_reload();
        self.notifier.send("READY=1");
    }

    fn apply_reload(&mut self) {
        let mut config = match config::load(&self.config_path) {
            Ok(config) => config,
            Err(e) => {
                error!(
                    "reload failed, keeping the running configuration: {}",
                    error_chain(&e)
                );
                return;
            }
        };
        if let Some(db) = &self.database_override {
            config.settings.database = db.clone();
        }
        if config.settings.database != self.current.config.settings.database {
            warn!("a new database path takes effect only after a restart");
            config.settings.database = self.current.config.settings.database.clone();
        }
        for warning in &config.warnings {
            warn!("{warning}");
        }
        self.retention.send_replace(config.settings.retention);
        let old = std::mem::replace(&mut self.current, Current::new(config, &self.stopping));
        self.source_count
            .store(self.current.sources.len(), Ordering::Relaxed);
        let (added, removed, changed) = self.reschedule(&old);
        info!(
            sources = self.current.sources.len(),
            added, removed, changed, "configuration reloaded"
        );
        self.deliver_leftovers();
        self.workers.cancel();
        let sinks: Vec<String> = self
            .current
            .config
            .sinks
            .iter()
            .map(|s| s.name.clone())
            .collect();
        let mut store = self.poller.store.lock();
        if let Err(e) = self.poller.leases.keep_only(&mut store, &sinks) {
            warn!(
                "cannot give up the leases of removed sinks: {}",
                error_chain(&e)
            );
        }
        if let Err(e) = store.cap_size(self.current.config.settings.max_database_size) {
            warn!("cannot change max_database_size: {}", error_chain(&e));
        }
        if let Err(e) = store.enable_sinks() {
            warn!("cannot re-enable sinks: {}", error_chain(&e));
        }
        drop(store);
        self.start_workers();
        self.wake.notify_one();
    }

    /// Applies a new source list to the scheduler; returns counts of
    /// added, removed and changed sources.
    fn reschedule(&self, old: &Current) -> (usize, usize, usize) {
        let now = self.clock.now();
        let (mut added, mut removed, mut changed) = (0, 0, 0);
        for name in old.sources.keys() {
            if !self.current.sources.contains_key(name) {
                self.scheduler().remove(name);
                removed += 1;
            }
        }
        for (name, source) in &self.current.sources {
            match old.sources.get(name) {
                None => {
                    self.add_source(name, now);
                    added += 1;
                }
                Some(before) if before.schedule != source.schedule => {
                    let first = now + schedule::startup_jitter(&source.schedule);
                    self.scheduler()
                        .upsert(name, source.schedule.clone(), first);
                    changed += 1;
                }
                Some(before) if before != source => changed += 1,
                Some(_) => {}
            }
        }
        (added, removed, changed)
    }

    /// Lets in-flight polls finish within the grace period, then abandons them.
    async fn shutdown(&self) {
        self.stopping.cancel();
        self.tracker.close();
        if tokio::time::timeout(GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            warn!("polls still running after {GRACE:?}; abandoning them");
            self.abandon.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), self.tracker.wait()).await;
        }
        // Another process may deliver at once, rather than after the lapse.
        let leases = Arc::clone(&self.poller.leases);
        if let Err(e) = self.poller.store.run(move |s| leases.release(s)).await {
            warn!("cannot give up the sinks' leases: {}", error_chain(&e));
        }
        info!("stopped");
    }
}
