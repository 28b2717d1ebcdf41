//! `sources` and `history`: reading what the store holds.

use super::{AppError, Status, emit, load_config, open_store};
use crate::cli::Cli;
use crate::store::SourceRow;

pub fn sources(cli: &Cli) -> Result<Status, AppError> {
    let config = load_config(cli)?;
    let store = open_store(&config.settings.database)?;
    let rows = store.list_sources()?;
    let mut table = vec![
        [
            "NAME",
            "KIND",
            "SCHEDULE",
            "LAST POLL",
            "OUTCOME",
            "ITEMS",
            "NEXT POLL",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let mut errors = Vec::new();
    for source in &config.sources {
        let row = rows.iter().find(|r| r.name == source.name);
        let kind = source
            .kind
            .map(|k| k.as_str().to_string())
            .or_else(|| row.and_then(|r| r.kind.clone()))
            .unwrap_or_else(|| "?".into());
        table.push(vec![
            source.name.clone(),
            kind,
            source.schedule.to_string(),
            row.and_then(|r| r.last_poll.clone())
                .unwrap_or_else(|| "never".into()),
            row.map(outcome).unwrap_or_else(|| "-".into()),
            row.map_or(0, |r| r.items_held).to_string(),
            row.and_then(|r| r.next_due.clone())
                .unwrap_or_else(|| "-".into()),
        ]);
        let moved = row
            .and_then(|r| r.effective_url.as_ref())
            .map(|u| format!("moved permanently to {u}"));
        let warning = row
            .and_then(|r| r.last_warning.as_ref())
            .map(|w| format!("warning: {w}"));
        let notes: Vec<String> = moved
            .into_iter()
            .chain(row.and_then(|r| r.last_error.clone()))
            .chain(warning)
            .collect();
        errors.push((!notes.is_empty()).then(|| notes.join("; ")));
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let errors = std::iter::once(None).chain(errors);
    for (row, error) in table.iter().zip(errors) {
        let mut line = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        if let Some(error) = error {
            line.push_str("  ");
            line.push_str(&error);
        }
        emit(line.trim_end())?;
    }
    Ok(0)
}

fn outcome(row: &SourceRow) -> String {
    match row.last_outcome.as_deref() {
        Some("error") if row.consecutive_failures > 1 => {
            format!("error x{}", row.consecutive_failures)
        }
        Some(o) => o.to_string(),
        None => "-".into(),
    }
}

pub fn history(cli: &Cli, source: &str, item: Option<&str>) -> Result<Status, AppError> {
    let config = load_config(cli)?;
    let store = open_store(&config.settings.database)?;
    match item {
        None => {
            for row in store.items_of(source)? {
                let gone = if row.present { "" } else { "  (gone)" };
                emit(&format!(
                    "{}  v{}  {}  {}{gone}",
                    row.key, row.versions, row.last_change, row.title
                ))?;
            }
        }
        Some(key) => {
            let versions = store.versions_of(source, key)?;
            if versions.is_empty() {
                return Err(AppError::Usage(format!(
                    "source {source:?} holds no item {key:?}; `feedwatch history {source}` lists them"
                )));
            }
            for v in versions {
                emit(&format!(
                    "v{}  {}  {}",
                    v.version, v.seen_at, v.snapshot.title
                ))?;
            }
        }
    }
    Ok(0)
}
