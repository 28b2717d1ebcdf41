//! `sources` and `history`: reading what the store holds.

use super::{AppError, Context, Status, emit, open_store};
use crate::config::{Field, SourceKind};
use crate::report::text::line;
use crate::store::{SourceRow, StoreError, VersionRow};

pub fn sources(ctx: Context) -> Result<Status, AppError> {
    let config = ctx.config()?;
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
            .or_else(|| row.and_then(|r| r.kind))
            .map_or("?", SourceKind::as_str)
            .to_string();
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

pub fn history(ctx: Context, source: &str, item: Option<&str>) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let store = open_store(&config.settings.database)?;
    match item {
        None => {
            for row in store.items_of(source).map_err(unknown_source)? {
                let gone = if row.present { "" } else { "  (gone)" };
                emit(&format!(
                    "{}  v{}  {}  {}{gone}",
                    line(&row.key),
                    row.versions,
                    row.last_change,
                    line(&row.title)
                ))?;
            }
        }
        Some(key) => {
            let versions = store.versions_of(source, key).map_err(unknown_source)?;
            if versions.is_empty() {
                return Err(AppError::Usage(format!(
                    "source {source:?} holds no item {key:?}; `feedwatch history {source}` lists them"
                )));
            }
            for (i, v) in versions.iter().enumerate() {
                let what = match versions.get(i + 1) {
                    Some(older) => changed_fields(older, v),
                    None if v.version == 1 => "  (first seen)".to_string(),
                    None => String::new(),
                };
                emit(&format!(
                    "v{}  {}  {}{what}",
                    v.version,
                    v.seen_at,
                    line(&v.snapshot.title)
                ))?;
            }
        }
    }
    Ok(0)
}

/// "  (title, content changed)": what differs from the version before.
fn changed_fields(older: &VersionRow, newer: &VersionRow) -> String {
    let fields: Vec<&str> = Field::ALL
        .into_iter()
        .filter(|f| older.snapshot.field(*f) != newer.snapshot.field(*f))
        .map(Field::as_str)
        .collect();
    if fields.is_empty() {
        return String::new();
    }
    format!("  ({} changed)", fields.join(", "))
}

/// A source name the database does not know is a usage error, not a database one.
pub(crate) fn unknown_source(e: StoreError) -> AppError {
    match e {
        StoreError::UnknownSource(name) => AppError::Usage(format!(
            "no source named {name:?} has been polled; `feedwatch sources` lists them"
        )),
        other => AppError::Store(other),
    }
}
