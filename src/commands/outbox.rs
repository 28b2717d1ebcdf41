//! `deliveries` and `redeliver`: the operator's view of the outbox.

use super::{AppError, Context, Status, emit, open_store};
use crate::cli::{DeliveriesArgs, RedeliverArgs};

pub fn deliveries(ctx: Context, args: &DeliveriesArgs) -> Result<Status, AppError> {
    let config = ctx.config()?;
    if let Some(sink) = &args.sink
        && config.sink(sink).is_none()
    {
        return Err(AppError::Usage(format!(
            "no sink named {sink:?} in {}",
            config.path.display()
        )));
    }
    let store = open_store(&config.settings.database)?;
    let rows = store.list_deliveries(args.failed, args.sink.as_deref(), args.limit)?;
    let digests: Vec<&str> = config
        .sinks
        .iter()
        .filter(|s| matches!(&s.kind, crate::config::SinkKind::Email(e) if e.digest.is_some()))
        .map(|s| s.name.as_str())
        .collect();
    for row in rows {
        let when = match row.state.as_str() {
            "delivered" => row.delivered_at.clone().unwrap_or_default(),
            "pending" if row.next_attempt.is_none() && digests.contains(&row.sink.as_str()) => {
                "in the next digest".into()
            }
            "pending" => row
                .next_attempt
                .as_ref()
                .map(|t| format!("next try {t}"))
                .unwrap_or_else(|| "due now".into()),
            _ => String::new(),
        };
        let mut line = format!(
            "{}  {}  {}  {}  {}  attempts {}  {}",
            row.event_id, row.sink, row.state, row.kind, row.source, row.attempts, when
        );
        if let Some(error) = &row.last_error {
            line.push_str("  last error: ");
            line.push_str(error);
        }
        emit(line.trim_end())?;
    }
    Ok(0)
}

pub fn redeliver(ctx: Context, args: &RedeliverArgs) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let mut store = open_store(&config.settings.database)?;
    // Log sinks are written at once and never fail quietly; only outbox
    // deliveries (webhooks, chat services, commands) are sent again.
    let webhooks: Vec<String> = config
        .sinks
        .iter()
        .filter(|s| s.kind.retry_for().is_some())
        .map(|s| s.name.clone())
        .collect();
    let queued = store.redeliver(args.id.as_deref(), &webhooks)?;
    if queued == 0
        && let Some(id) = &args.id
    {
        return Err(AppError::Usage(format!("no deliveries for event {id:?}")));
    }
    emit(&format!(
        "{queued} deliver{} queued again; a running daemon sends {} within a minute",
        if queued == 1 { "y" } else { "ies" },
        if queued == 1 { "it" } else { "them" }
    ))?;
    Ok(0)
}
