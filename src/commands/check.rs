//! `check`: poll sources once, now.

use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;

use super::{AppError, Status, emit, load_config, poller, runtime};
use crate::cli::Cli;
use crate::config::{Config, SinkKind};
use crate::deliver::{Router, outbox};
use crate::polite::Limits;
use crate::poll::{self, Poller};
use crate::report::publish;

pub fn check(cli: &Cli, names: &[String]) -> Result<Status, AppError> {
    let config = Arc::new(load_config(cli)?);
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
    let limits = Limits::new(
        config.settings.concurrency,
        config.settings.per_host,
        config.settings.host_spacing,
    );
    let (reports, undelivered) = runtime()?.block_on(async {
        // Every source's state in one read; should that fail, each poll
        // reads its own and reports what went wrong.
        let pairs: Vec<(String, String)> = sources
            .iter()
            .map(|s| (s.name.clone(), s.url.to_string()))
            .collect();
        let states = poll::blocking(&poller.store, move |s| {
            s.source_states(pairs.iter().map(|(n, u)| (n.as_str(), u.as_str())))
        })
        .await
        .ok()
        .filter(|states| states.len() == sources.len());
        let mut states = states.map(Vec::into_iter);
        let polls = sources
            .into_iter()
            .map(|source| (states.as_mut().and_then(Iterator::next), source));
        let reports = futures_util::stream::iter(polls)
            .map(|(state, source)| {
                let (poller, router, limits, config) = (&poller, &router, &limits, &config);
                async move {
                    let next = Some(Utc::now() + source.schedule.nominal_interval());
                    match state {
                        Some(state) => {
                            poll::poll_from(poller, config, router, limits, &source, state, next)
                                .await
                        }
                        None => poll::poll(poller, config, router, limits, &source, next).await,
                    }
                }
            })
            .buffer_unordered(config.settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await;
        let undelivered = deliver_webhooks(&config, &poller).await;
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
    let failed = reports.iter().any(|r| r.result.is_err()) || undelivered;
    Ok(if failed { 1 } else { 0 })
}

/// Rewrites the published reports when `report_dir` is set, as the daemon does.
fn publish_reports(config: &Config, poller: &Poller) {
    let Some(target) = publish::Target::of(&config.settings) else {
        return;
    };
    let now = Utc::now();
    let loaded = publish::window_events(&poll::lock(&poller.store), target.window, now);
    let result = loaded
        .map_err(publish::PublishError::from)
        .and_then(|(from, events)| publish::write(&target, &events, from, now));
    if let Err(e) = result {
        tracing::warn!(
            "cannot publish the change reports: {}",
            poll::error_chain(&e)
        );
    }
}

/// Sends what is due to each webhook sink once; true when a delivery was
/// given up on or something is left queued (it is retried by the daemon or
/// the next `check`).
async fn deliver_webhooks(config: &Config, poller: &Poller) -> bool {
    let mut failed = false;
    for sink in outbox::webhook_sinks(config) {
        match outbox::drain_once(&sink, &poller.store).await {
            Ok(done) => {
                if done.delivered > 0 {
                    tracing::info!(sink = %sink.name, delivered = done.delivered, "webhook deliveries sent");
                }
                failed |= done.dead > 0;
            }
            Err(e) => {
                tracing::error!(sink = %sink.name, "outbox error: {e}");
                failed = true;
            }
        }
    }
    // Every webhook sink, also one that could not start (its secret
    // unreadable): what it leaves queued is a failed delivery.
    let webhooks = config
        .sinks
        .iter()
        .filter(|s| matches!(s.kind, SinkKind::Webhook { .. }));
    for sink in webhooks {
        let waiting = poll::lock(&poller.store)
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
