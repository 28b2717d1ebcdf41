//! `check`: poll sources once, now.

use std::sync::Arc;

use chrono::Utc;
use futures_util::StreamExt;

use super::{AppError, Status, emit, load_config, poller, runtime};
use crate::cli::Cli;
use crate::deliver::Router;
use crate::polite::Limits;
use crate::poll;

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
    let reports = runtime()?.block_on(async {
        futures_util::stream::iter(sources)
            .map(|source| {
                let (poller, router, limits, config) = (&poller, &router, &limits, &config);
                async move {
                    let _slot = limits.acquire(&source.host_key()).await;
                    let next = Utc::now() + source.schedule.nominal_interval();
                    poll::poll(poller, config, router, &source, Some(next)).await
                }
            })
            .buffer_unordered(config.settings.concurrency.max(1))
            .collect::<Vec<_>>()
            .await
    });
    let mut reports = reports;
    reports.sort_by(|a, b| a.source.cmp(&b.source));
    for report in &reports {
        emit(&report.to_string())?;
    }
    Ok(if reports.iter().any(|r| r.result.is_err()) {
        1
    } else {
        0
    })
}
