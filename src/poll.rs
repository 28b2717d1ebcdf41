//! One poll of one source: fetch → read → detect → store (one transaction)
//! → deliver to log sinks. Every failure ends here as that source's error.

mod commit;
mod error;
mod held;
mod report;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};
use url::Url;

use crate::config::{Config, Settings, SourceConfig, SourceKind};
use crate::deliver::{Leases, Router};
use crate::detect::{self, Rules};
use crate::error::error_chain;
use crate::event::{Draft, EventKind, SourceRef};
use crate::fetch::{self, FetchError, FetchOutcome, FetchRequest, Fetcher, Hints, Validators};
use crate::follow::{self, Followed, Following};
use crate::metrics::{METRICS, PollOutcome};
use crate::polite::{self, Limits};
use crate::source::page::Page;
use crate::source::{self, Document};
use crate::store::{
    ArticleState, NewEvent, Outcome, PollRecord, Shared, SourceState, Store, StoreError,
};

pub use commit::Commits;
use commit::compress_ahead;
pub use error::PollError;
pub use report::{PollReport, Summary};

/// Documents larger than this are parsed one at a time.
const BIG_DOCUMENT: usize = 1024 * 1024;
static BIG_PARSES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Documents parsed at once: one per core. Parsing is all CPU, so more at a
/// time would only hold more documents in memory, each on its own thread.
static PARSES: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
});

/// The shared parts every poll uses.
pub struct Poller {
    pub fetcher: Fetcher,
    pub store: Shared,
    /// Woken after every commit, so sink workers send new events at once.
    pub outbox: Arc<tokio::sync::Notify>,
    /// Polls waiting to be written; see [`commit::CommitQueue`].
    pub commits: Commits,
    /// The sinks this process delivers.
    pub leases: Arc<Leases>,
}

/// Why a process cannot poll.
#[derive(Debug, thiserror::Error)]
pub enum PollerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot set up the HTTP client")]
    Http(#[source] FetchError),
}

impl Poller {
    /// What a process polls with: the database it has opened and an HTTP
    /// client sending the configured User-Agent.
    pub fn new(store: Store, settings: &Settings, leases: Leases) -> Result<Poller, PollerError> {
        store.cap_size(settings.max_database_size)?;
        Ok(Poller {
            leases: Arc::new(leases),
            fetcher: Fetcher::new(&settings.user_agent).map_err(PollerError::Http)?,
            store: Shared::new(store),
            outbox: Arc::new(tokio::sync::Notify::new()),
            commits: Commits::default(),
        })
    }
}

/// A poll as one list of steps; `next_due` is stored with the outcome.
pub async fn poll(
    poller: &Poller,
    config: &Arc<Config>,
    router: &Router,
    limits: &Limits,
    source: &Arc<SourceConfig>,
    next_due: Option<DateTime<Utc>>,
) -> PollReport {
    let (name, url) = (source.name.clone(), source.url.to_string());
    match poller.store.run(move |s| s.source_state(&name, &url)).await {
        Ok(state) => {
            let known = Known {
                state,
                keep_alive: true,
            };
            poll_from(poller, config, router, limits, source, known, next_due).await
        }
        Err(e) => PollReport {
            source: source.name.clone(),
            result: Err(e.into()),
            not_before: None,
            host_not_before: None,
        },
    }
}

/// What is known of a source before its poll.
pub struct Known {
    /// As stored after its last poll.
    pub state: SourceState,
    /// Whether its connection may be kept for the host's next request
    /// (false when nothing more will be asked of that host soon).
    pub keep_alive: bool,
}

/// A poll of a source whose stored state was read beforehand (as `check`
/// reads every source's at once).
#[instrument(skip_all, fields(source = %source.name))]
pub async fn poll_from(
    poller: &Poller,
    config: &Arc<Config>,
    router: &Router,
    limits: &Limits,
    source: &Arc<SourceConfig>,
    known: Known,
    next_due: Option<DateTime<Utc>>,
) -> PollReport {
    let Known { state, keep_alive } = known;
    let step = Step {
        poller,
        config,
        router,
        limits,
        source,
        state,
        keep_alive,
        now: Utc::now(),
        next_due,
    };
    let started = std::time::Instant::now();
    // The host's slot is held for the source's own request only: followed
    // articles take their own hosts' slots one at a time afterwards, so a
    // poll never waits for one slot while holding another.
    let Some(slot) = limits.acquire(&polite::host_key(&source.url)).await else {
        // Nothing was asked of the server, so nothing is recorded.
        return PollReport {
            source: source.name.clone(),
            result: Err(PollError::Stopped),
            not_before: None,
            host_not_before: None,
        };
    };
    let read = step.fetch_and_read().await;
    drop(slot);
    let mut report = match read {
        Ok(Read::Document(doc, validators, hints)) => {
            step.record_document(doc, validators, &hints).await
        }
        Ok(Read::Page(page, validators, hints)) => step.record_page(page, validators, &hints).await,
        Ok(Read::NotModified(validators, hints)) => {
            step.record_not_modified(validators, &hints).await
        }
        Err(failure) => step.record_failure(failure).await,
    };
    let outcome = match &report.result {
        Ok(s) if s.not_modified => PollOutcome::NotModified,
        Ok(_) => PollOutcome::Ok,
        Err(_) => PollOutcome::Error,
    };
    METRICS.poll(outcome, started.elapsed());
    match &report.result {
        Ok(s) if s.events > 0 => info!(events = s.events, "changes recorded"),
        Ok(_) => {}
        Err(e) if e.is_superseded() => info!("{}", error_chain(e)),
        Err(e) => warn!("poll failed: {}", error_chain(e)),
    }
    report.source = source.name.clone();
    report
}

fn minutes(m: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(m) * 60)
}

enum Read {
    NotModified(Validators, Hints),
    Document(Document, Validators, Hints),
    Page(Page, Validators, Hints),
}

/// What a successful read tells the record besides its detection.
struct Recorded {
    kind: SourceKind,
    items: usize,
    validators: Validators,
    /// The longest wait the server asked for (cache headers, `<ttl>`).
    hint: Option<std::time::Duration>,
    /// What was wrong with the document but could be read past.
    warnings: Vec<String>,
    followed: Followed,
}

struct Step<'a> {
    poller: &'a Poller,
    config: &'a Arc<Config>,
    router: &'a Router,
    limits: &'a Limits,
    source: &'a Arc<SourceConfig>,
    state: SourceState,
    keep_alive: bool,
    now: DateTime<Utc>,
    next_due: Option<DateTime<Utc>>,
}

impl Step<'_> {
    async fn fetch_and_read(&self) -> Result<Read, PollError> {
        let url = self.url();
        let request = FetchRequest {
            url: &url,
            validators: &self.state.validators,
            keep_alive: self.keep_alive,
            timeout: self.source.timeout,
            max_body: self.source.max_body,
            accept: match self.known_kind() {
                Some(SourceKind::Page) => fetch::PAGE_ACCEPT,
                Some(SourceKind::Json) => fetch::JSON_ACCEPT,
                _ => fetch::FEED_ACCEPT,
            },
            extras: Some(fetch::Extras {
                config: &self.source.request,
                origin: &self.source.url,
            }),
        };
        let fetched = match self.poller.fetcher.fetch(&request).await {
            Ok(FetchOutcome::NotModified { validators, hints }) => {
                return Ok(Read::NotModified(validators, hints));
            }
            Ok(FetchOutcome::Fetched(f)) => f,
            Err(e) => return Err(e.into()),
        };
        let kind = self.kind(&fetched.body, fetched.content_type.as_deref());
        let base = fetched.base_url();
        let body = fetched.body;
        let content_type = fetched.content_type.clone();
        // A big document costs many times its size while it is decoded and
        // parsed; one at a time keeps the daemon's memory bounded whatever
        // mix of sources is due.
        let _big = if body.len() > BIG_DOCUMENT {
            BIG_PARSES.acquire().await.ok()
        } else {
            None
        };
        let _parse = PARSES.acquire().await.ok();
        if kind == SourceKind::Json {
            let yielded = self.read_json(body, base).await?;
            return Ok(held::json_read(yielded, fetched.validators, fetched.hints));
        }
        if kind == SourceKind::Page {
            let (select, exclude) = (self.source.select.clone(), self.source.exclude.clone());
            let page = tokio::task::spawn_blocking(move || {
                source::page::read(&body, content_type.as_deref(), &select, &exclude)
            })
            .await
            .map_err(|e| PollError::Reader("page", e))??;
            return Ok(Read::Page(page, fetched.validators, fetched.hints));
        }
        let doc = tokio::task::spawn_blocking(move || {
            source::feed::read(&body, content_type.as_deref(), Some(&base))
        })
        .await
        .map_err(|e| PollError::Reader("feed", e))??;
        Ok(Read::Document(doc, fetched.validators, fetched.hints))
    }

    /// The configured type, else the one the first response decided.
    fn kind(&self, body: &[u8], content_type: Option<&str>) -> SourceKind {
        self.known_kind()
            .unwrap_or_else(|| source::sniff(body, content_type))
    }

    /// The type before anything is fetched, when configured or remembered.
    fn known_kind(&self) -> Option<SourceKind> {
        self.source.kind.or(self.state.kind)
    }

    /// What to remember the source as: a JSON source stays one whether
    /// its filter yielded items or a document.
    fn recorded_kind(&self, read: SourceKind) -> SourceKind {
        match self.source.kind {
            Some(SourceKind::Json) => SourceKind::Json,
            _ => read,
        }
    }

    /// The configured address, or where a confirmed permanent move leads.
    fn url(&self) -> Url {
        self.state
            .effective_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| self.source.url.clone())
    }

    /// Applies a "not before" to both the stored next poll and the report.
    fn postpone(&self, rec: &mut PollRecord, not_before: Option<DateTime<Utc>>) {
        if let Some(t) = not_before {
            rec.next_due = Some(rec.next_due.map_or(t, |due| due.max(t)));
        }
    }

    /// When cache hints ask for a longer wait than the interval.
    fn lengthened(&self, hint: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
        let base = self.source.schedule.nominal_interval();
        polite::lengthened(base, hint).map(|d| self.now + d)
    }

    /// Counts permanent redirects to the same place; the third in a row relinks.
    fn track_move(&self, rec: &mut PollRecord, hints: &Hints) {
        let (moved, relink) = polite::track_move(&self.state.moved, hints.moved_to.as_ref());
        if let Some(url) = &relink {
            info!(to = %url, "source moved permanently; polling the new address from now on");
        }
        rec.moved = Some(moved);
        rec.relink = relink;
    }

    fn source_ref(&self) -> SourceRef {
        SourceRef {
            name: self.source.name.clone(),
            url: self.source.url.to_string(),
        }
    }

    fn events(&self, drafts: Vec<Draft>) -> Vec<NewEvent> {
        let source = self.source_ref();
        drafts
            .into_iter()
            .map(|d| {
                let sinks = self.router.sinks_for(d.kind, self.source);
                NewEvent {
                    event: d.into_event(&source, self.now),
                    sinks,
                }
            })
            .collect()
    }

    fn recovered(&self) -> Vec<Draft> {
        if self.state.failing {
            vec![Draft::new(EventKind::SourceRecovered)]
        } else {
            Vec::new()
        }
    }

    fn record(&self, outcome: Outcome) -> PollRecord {
        PollRecord {
            source: self.state.id,
            polls_before: self.state.polls,
            at: self.now,
            outcome,
            validators: None,
            kind: None,
            writes: Vec::new(),
            gone: Vec::new(),
            events: Vec::new(),
            failing: false,
            next_due: self.next_due,
            moved: None,
            relink: None,
            warning: None,
            articles: Vec::new(),
            frames: Vec::new(),
        }
    }

    fn report(&self, result: Result<Summary, PollError>) -> PollReport {
        PollReport {
            source: self.source.name.clone(),
            result,
            not_before: None,
            host_not_before: None,
        }
    }

    async fn record_document(
        &self,
        doc: Document,
        validators: Validators,
        hints: &Hints,
    ) -> PollReport {
        let source_id = self.state.id;
        let keys: Vec<String> = doc.items.iter().map(|i| i.key.clone()).collect();
        let following = self.source.follow_links;
        let loaded = self
            .poller
            .store
            .run(move |s| {
                let held = s.held_items(source_id, keys.iter().map(String::as_str))?;
                let states = if following {
                    s.article_states(source_id)?
                } else {
                    HashMap::new()
                };
                Ok((held, states))
            })
            .await;
        let (held, states) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => return self.report(Err(e.into())),
        };
        let followed = if following {
            let links = doc.items.iter().map(|i| (i.key.as_str(), i.link.as_str()));
            self.follow(links, &states).await
        } else {
            Followed::default()
        };
        let detection =
            detect::detect_with_articles(&held, &doc.items, &followed.texts, &self.rules());
        let detection = match self.unflap(detection).await {
            Ok(detection) => detection,
            Err(e) => return self.report(Err(e.into())),
        };
        let hint = polite::longest(hints.fresh_for, doc.ttl_minutes.map(minutes));
        let read = Recorded {
            kind: self.recorded_kind(SourceKind::Feed),
            items: doc.items.len(),
            validators,
            hint,
            warnings: doc.warnings,
            followed,
        };
        self.record_detection(detection, read, hints).await
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            compare: &self.source.compare,
            track: self.source.track,
            ignore: &self.source.ignore,
            quiet: self.quiet(),
            conditions: &self.source.conditions,
        }
    }

    /// Reads the articles of the given items that are due.
    async fn follow<'i>(
        &self,
        items: impl IntoIterator<Item = (&'i str, &'i str)>,
        states: &HashMap<String, ArticleState>,
    ) -> Followed {
        let wanted = follow::due(items, states, self.source.follow_for, self.now);
        let following = Following {
            fetcher: &self.poller.fetcher,
            limits: Some(self.limits),
            source: self.source,
            allow_private_links: self.config.settings.allow_private_links,
        };
        following.follow(wanted, states).await
    }

    async fn record_page(&self, page: Page, validators: Validators, hints: &Hints) -> PollReport {
        let source_id = self.state.id;
        let key = self.source.url.to_string();
        let wanted = key.clone();
        let held = match self
            .poller
            .store
            .run(move |s| s.held_items(source_id, [wanted.as_str()]))
            .await
        {
            Ok(held) => held,
            Err(e) => return self.report(Err(e.into())),
        };
        let snapshot = detect::Snapshot {
            title: page.title,
            link: key.clone(),
            content: crate::text::apply_ignore(&page.text, &self.source.ignore),
            ..detect::Snapshot::default()
        };
        let conditions = &self.source.conditions;
        let detection = detect::detect_page(&held, &key, snapshot, self.quiet(), conditions);
        let read = Recorded {
            kind: self.recorded_kind(SourceKind::Page),
            items: 1,
            validators,
            hint: hints.fresh_for,
            warnings: Vec::new(),
            followed: Followed::default(),
        };
        self.record_detection(detection, read, hints).await
    }

    /// The first poll of a source records quietly unless asked otherwise.
    fn quiet(&self) -> bool {
        !self.state.baselined && !self.config.settings.alert_on_first_poll
    }

    async fn record_detection(
        &self,
        detection: detect::Detection,
        read: Recorded,
        hints: &Hints,
    ) -> PollReport {
        let mut drafts = self.recovered();
        drafts.extend(detection.drafts);
        let mut rec = self.record(Outcome::Ok);
        rec.validators = Some(read.validators);
        self.track_move(&mut rec, hints);
        rec.kind = Some(read.kind);
        if !read.warnings.is_empty() {
            warn!("read despite problems: {}", read.warnings.join("; "));
            rec.warning = Some(read.warnings.join("; "));
        }
        if let Some(note) = read.followed.warning() {
            rec.warning = Some(match rec.warning.take() {
                Some(w) => format!("{w}; {note}"),
                None => note,
            });
        }
        rec.events = self.events(drafts);
        let raised = rec.events.len();
        rec.events.extend(self.held_events(detection.held));
        let summary = Summary {
            not_modified: false,
            items: read.items,
            new_versions: detection
                .writes
                .iter()
                .filter(|w| w.new_version.is_some())
                .count(),
            events: raised,
            baseline: self.quiet(),
            article_errors: read.followed.errors.len(),
        };
        rec.articles = read.followed.writes;
        rec.writes = detection.writes;
        rec.gone = detection.gone;
        let mut rec = match compress_ahead(rec).await {
            Ok(rec) => rec,
            Err(e) => return self.report(Err(e)),
        };
        let not_before = self.lengthened(read.hint);
        self.postpone(&mut rec, not_before);
        let mut report = self.report(self.commit(rec).await.map(|()| summary));
        report.not_before = not_before;
        report
    }

    /// Nothing new in the feed; the articles of its items are still
    /// re-checked, since a story can be edited without the feed knowing.
    async fn record_not_modified(&self, validators: Validators, hints: &Hints) -> PollReport {
        let mut rec = self.record(Outcome::NotModified);
        rec.validators = Some(validators);
        self.track_move(&mut rec, hints);
        let mut drafts = self.recovered();
        let mut summary = Summary {
            not_modified: true,
            ..Summary::default()
        };
        if self.source.follow_links {
            let source_id = self.state.id;
            let loaded = self
                .poller
                .store
                .run(move |s| Ok((s.held_items(source_id, [])?, s.article_states(source_id)?)))
                .await;
            let (held, states) = match loaded {
                Ok(loaded) => loaded,
                Err(e) => return self.report(Err(e.into())),
            };
            let mut present: Vec<(&String, &detect::Held)> =
                held.iter().filter(|(_, h)| h.present).collect();
            present.sort_by_key(|(_, h)| h.position);
            let links = present
                .iter()
                .map(|(k, h)| (k.as_str(), h.snapshot.link.as_str()));
            let followed = self.follow(links, &states).await;
            let detection = detect::detect_articles(&held, &followed.texts, &self.rules());
            summary.new_versions = detection.writes.len();
            summary.article_errors = followed.errors.len();
            rec.warning = followed.warning();
            drafts.extend(detection.drafts);
            rec.events.extend(self.held_events(detection.held));
            rec.writes = detection.writes;
            rec.articles = followed.writes;
        }
        let held = std::mem::take(&mut rec.events);
        rec.events = self.events(drafts);
        summary.events = rec.events.len();
        rec.events.extend(held);
        let not_before = self.lengthened(hints.fresh_for);
        self.postpone(&mut rec, not_before);
        let mut report = self.report(self.commit(rec).await.map(|()| summary));
        report.not_before = not_before;
        report
    }

    /// Records a failure, raising `source.failing` once, and works out how
    /// long to leave the source (and, after a 429, its host) alone.
    async fn record_failure(&self, failure: PollError) -> PollReport {
        let failures = self.state.consecutive_failures + 1;
        let failing = self.state.failing || failures >= self.config.settings.fail_after;
        let retry = failure
            .retry_after()
            .filter(|_| matches!(failure.status(), Some(429 | 503)))
            .and_then(|v| polite::retry_delay(v, std::time::SystemTime::now()));
        let base = self.source.schedule.nominal_interval();
        let not_before = self.now + polite::backoff(base, failures).max(retry.unwrap_or_default());
        let error = error_chain(&failure);
        let mut rec = self.record(Outcome::Failed(error.clone()));
        rec.failing = failing;
        self.postpone(&mut rec, Some(not_before));
        if failing && !self.state.failing {
            let mut draft = Draft::new(EventKind::SourceFailing);
            draft.error = Some(error);
            rec.events = self.events(vec![draft]);
        }
        let status = failure.status();
        let committed = self.commit(rec).await;
        let mut report = self.report(Err(match committed {
            Ok(()) => failure,
            Err(e) => PollError::NotRecorded {
                failure: Box::new(failure),
                source: Box::new(e),
            },
        }));
        report.not_before = Some(not_before);
        if status == Some(429) {
            report.host_not_before = retry.map(|r| self.now + r);
        }
        report
    }

    async fn commit(&self, rec: PollRecord) -> Result<(), PollError> {
        let kinds: Vec<EventKind> = rec
            .events
            .iter()
            .filter(|e| e.event.held.is_none())
            .map(|e| e.event.kind)
            .collect();
        commit::commit(self.poller, self.config, rec).await?;
        kinds.into_iter().for_each(|k| METRICS.change(k));
        self.poller.outbox.notify_waiters();
        Ok(())
    }
}
