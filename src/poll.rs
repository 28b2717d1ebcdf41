//! One poll of one source: fetch → read → detect → store (one transaction)
//! → deliver to log sinks. Every failure ends here as that source's error.

use std::error::Error;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tracing::{info, instrument, warn};

use crate::config::{Config, SourceConfig, SourceKind};
use crate::deliver::{self, Router};
use crate::detect::{self, Rules};
use crate::event::{Draft, EventKind, SourceRef};
use crate::fetch::{FetchOutcome, FetchRequest, Fetcher, Validators};
use crate::source::{self, Document};
use crate::store::{NewEvent, Outcome, PollRecord, SourceState, Store, StoreError};

/// Feed types we ask for first; anything is accepted.
pub const FEED_ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
     application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// The shared parts every poll uses.
pub struct Poller {
    pub fetcher: Fetcher,
    pub store: Arc<Mutex<Store>>,
}

/// How a poll went, for the caller's summary and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub source: String,
    pub result: Result<Summary, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub not_modified: bool,
    pub items: usize,
    pub new_versions: usize,
    pub events: usize,
    pub baseline: bool,
}

impl std::fmt::Display for PollReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Err(e) => write!(f, "{}: error: {e}", self.source),
            Ok(s) if s.not_modified => write!(f, "{}: not modified", self.source),
            Ok(s) => {
                let plural =
                    |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                write!(
                    f,
                    "{}: {}, {}, {}{}",
                    self.source,
                    plural(s.items, "item"),
                    plural(s.new_versions, "new version"),
                    plural(s.events, "event"),
                    if s.baseline { " (baseline)" } else { "" }
                )
            }
        }
    }
}

/// Joins an error and its causes into one line: "outer: inner: root".
pub fn error_chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}

pub(crate) fn lock(store: &Mutex<Store>) -> MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs store work on the blocking pool so async tasks never wait on SQLite.
async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<Store>>,
    work: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, String> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || work(&mut lock(&store)))
        .await
        .map_err(|e| format!("database task failed: {e}"))?
        .map_err(|e| error_chain(&e))
}

/// A poll as one list of steps; `next_due` is stored with the outcome.
#[instrument(skip_all, fields(source = %source.name))]
pub async fn poll(
    poller: &Poller,
    config: &Arc<Config>,
    router: &Router,
    source: &Arc<SourceConfig>,
    next_due: Option<DateTime<Utc>>,
) -> PollReport {
    let report = |result| PollReport {
        source: source.name.clone(),
        result,
    };
    let (name, url) = (source.name.clone(), source.url.to_string());
    let state = match blocking(&poller.store, move |s| s.source_state(&name, &url)).await {
        Ok(state) => state,
        Err(e) => return report(Err(e)),
    };
    let step = Step {
        poller,
        config,
        router,
        source,
        state,
        now: Utc::now(),
        next_due,
    };
    let result = match step.fetch_and_read().await {
        Ok(Read::Document(doc, validators)) => step.record_document(doc, validators).await,
        Ok(Read::NotModified(validators)) => step.record_not_modified(validators).await,
        Err(Failure { error, validators }) => step.record_failure(error, validators).await,
    };
    match &result {
        Ok(s) if s.events > 0 => info!(events = s.events, "changes recorded"),
        Ok(_) => {}
        Err(e) => warn!("poll failed: {e}"),
    }
    report(result)
}

enum Read {
    NotModified(Validators),
    Document(Document, Validators),
}

struct Failure {
    error: String,
    validators: Option<Validators>,
}

struct Step<'a> {
    poller: &'a Poller,
    config: &'a Arc<Config>,
    router: &'a Router,
    source: &'a Arc<SourceConfig>,
    state: SourceState,
    now: DateTime<Utc>,
    next_due: Option<DateTime<Utc>>,
}

impl Step<'_> {
    async fn fetch_and_read(&self) -> Result<Read, Failure> {
        let fail = |error: String| Failure {
            error,
            validators: None,
        };
        let request = FetchRequest {
            url: &self.source.url,
            validators: &self.state.validators,
            timeout: self.source.timeout,
            max_body: self.source.max_body,
            accept: FEED_ACCEPT,
        };
        let fetched = match self.poller.fetcher.fetch(&request).await {
            Ok(FetchOutcome::NotModified { validators }) => {
                return Ok(Read::NotModified(validators));
            }
            Ok(FetchOutcome::Fetched(f)) => f,
            Err(e) => return Err(fail(error_chain(&e))),
        };
        if self.source.kind == Some(SourceKind::Page) {
            return Err(fail(
                "page sources are not supported by this version".into(),
            ));
        }
        let base = fetched.final_url.clone();
        let body = fetched.body;
        let doc = tokio::task::spawn_blocking(move || source::feed::parse(&body, Some(&base)))
            .await
            .map_err(|e| fail(format!("the feed reader failed: {e}")))?
            .map_err(|e| fail(error_chain(&e)))?;
        Ok(Read::Document(doc, fetched.validators))
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
            at: self.now,
            outcome,
            validators: None,
            kind: None,
            writes: Vec::new(),
            gone: Vec::new(),
            events: Vec::new(),
            failing: false,
            next_due: self.next_due,
        }
    }

    async fn record_document(
        &self,
        doc: Document,
        validators: Validators,
    ) -> Result<Summary, String> {
        let source_id = self.state.id;
        let keys: Vec<String> = doc.items.iter().map(|i| i.key.clone()).collect();
        let held = blocking(&self.poller.store, move |s| {
            s.held_items(source_id, keys.iter().map(String::as_str))
        })
        .await?;
        let quiet = !self.state.baselined && !self.config.settings.alert_on_first_poll;
        let rules = Rules {
            compare: &self.source.compare,
            track: self.source.track,
            ignore: &self.source.ignore,
            quiet,
        };
        let detection = detect::detect(&held, &doc.items, &rules);
        let mut drafts = self.recovered();
        drafts.extend(detection.drafts);
        let mut rec = self.record(Outcome::Ok);
        rec.validators = Some(validators);
        rec.kind = Some(SourceKind::Feed.as_str().to_string());
        rec.events = self.events(drafts);
        let summary = Summary {
            not_modified: false,
            items: doc.items.len(),
            new_versions: detection
                .writes
                .iter()
                .filter(|w| w.new_version.is_some())
                .count(),
            events: rec.events.len(),
            baseline: quiet,
        };
        rec.writes = detection.writes;
        rec.gone = detection.gone;
        self.commit(rec).await?;
        Ok(summary)
    }

    async fn record_not_modified(&self, validators: Validators) -> Result<Summary, String> {
        let mut rec = self.record(Outcome::NotModified);
        rec.validators = Some(validators);
        rec.events = self.events(self.recovered());
        let events = rec.events.len();
        self.commit(rec).await?;
        Ok(Summary {
            not_modified: true,
            events,
            ..Summary::default()
        })
    }

    async fn record_failure(
        &self,
        error: String,
        validators: Option<Validators>,
    ) -> Result<Summary, String> {
        let failures = self.state.consecutive_failures + 1;
        let failing = self.state.failing || failures >= self.config.settings.fail_after;
        let mut rec = self.record(Outcome::Failed(error.clone()));
        rec.validators = validators;
        rec.failing = failing;
        if failing && !self.state.failing {
            let mut draft = Draft::new(EventKind::SourceFailing);
            draft.error = Some(error.clone());
            rec.events = self.events(vec![draft]);
        }
        self.commit(rec).await?;
        Err(error)
    }

    async fn commit(&self, rec: PollRecord) -> Result<(), String> {
        let config = Arc::clone(self.config);
        blocking(&self.poller.store, move |s| {
            s.record_poll(&rec)?;
            if let Err(e) = deliver::flush_log_sinks(s, &config) {
                warn!(
                    "delivery to a log sink failed, events stay queued: {}",
                    error_chain(&e)
                );
            }
            Ok(())
        })
        .await
    }
}
