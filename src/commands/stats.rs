//! `stats`: how big the database is and what fills it.

use super::{AppError, Context, Status, emit, open_store};
use crate::config::Retention;

pub fn stats(ctx: Context) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let path = &config.settings.database;
    let store = open_store(path)?;
    let s = store.stats(path)?;
    let per_version = s.version_bytes.checked_div(s.versions).unwrap_or(0);
    let lines = [
        format!("database      {}", path.display()),
        format!(
            "size          {} (file {}, write-ahead log {}, free {})",
            bytes(s.file_bytes + s.wal_bytes),
            bytes(s.file_bytes),
            bytes(s.wal_bytes),
            bytes(s.free_bytes)
        ),
        format!("sources       {}", s.sources),
        format!("items         {} ({} present)", s.items, s.items_present),
        format!(
            "versions      {} ({} compressed), {} stored, {} per version",
            s.versions,
            s.versions_packed,
            bytes(s.version_bytes),
            bytes(per_version)
        ),
        format!(
            "events        {} ({} deliveries pending, {} dead)",
            s.events, s.deliveries_pending, s.deliveries_dead
        ),
        format!("retention     {}", retention(&config.settings.retention)),
    ];
    for line in lines {
        emit(&line)?;
    }
    Ok(0)
}

fn retention(r: &Retention) -> String {
    let versions = r.keep_versions.map(|n| format!("keep_versions = {n}"));
    let age = r
        .keep_for
        .map(|d| format!("keep_for = {}", humantime::format_duration(d)));
    let parts: Vec<String> = versions.into_iter().chain(age).collect();
    if parts.is_empty() {
        "every version and event kept".to_string()
    } else {
        parts.join(", ")
    }
}

/// A byte count for people: B, KiB, MiB, GiB.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
