//! Published reports: `changes.html` and `changes.atom` in `report_dir`,
//! rewritten after polls that found changes so a static web server can
//! serve them. Each file is replaced whole (temporary file, then rename), so
//! a reader never sees half of one.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Format, Report, render};
use crate::event::Event;
use crate::store::{Shared, Store, StoreError};

pub const HTML_FILE: &str = "changes.html";
pub const ATOM_FILE: &str = "changes.atom";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read the events to publish")]
    Store(#[from] StoreError),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Where and how far back to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub dir: PathBuf,
    pub window: Duration,
    /// Where `dir` is served, when the configuration says.
    pub url: Option<url::Url>,
}

impl Target {
    /// The publishing settings, when `report_dir` is set.
    pub fn of(settings: &crate::config::Settings) -> Option<Target> {
        Some(Target {
            dir: settings.report_dir.clone()?,
            window: settings.report_window,
            url: settings.report_url.clone(),
        })
    }
}

/// The events of the window ending `now`, newest first.
pub fn window_events(
    store: &Store,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Vec<Event>), StoreError> {
    let from = super::period_start(now, window);
    let mut events: Vec<Event> = store
        .events_since(from, false)?
        .into_iter()
        .map(|row| row.event)
        .collect();
    events.reverse();
    Ok((from, events))
}

/// Renders both files and puts them in place; the database is only read
/// before, so other work goes on while this renders.
pub fn write(
    target: &Target,
    events: &[Event],
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), PublishError> {
    let dir = &target.dir;
    make_dir(dir).map_err(|source| PublishError::Write {
        path: dir.clone(),
        source,
    })?;
    let seed = fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
    let seed = seed.to_string_lossy();
    let report = Report {
        events,
        from,
        to: now,
        feed_seed: &seed,
        site: target.url.as_ref(),
    };
    for (name, format) in [(HTML_FILE, Format::Html), (ATOM_FILE, Format::Atom)] {
        let path = dir.join(name);
        replace_file(&path, render(&report, format, false).as_bytes())
            .map_err(|source| PublishError::Write { path, source })?;
    }
    Ok(())
}

/// Reads the window from the store and writes both files.
pub fn publish(store: &Store, target: &Target, now: DateTime<Utc>) -> Result<usize, PublishError> {
    let (from, events) = window_events(store, target.window, now)?;
    write(target, &events, from, now)?;
    Ok(events.len())
}

/// The files are meant for a web server running as another user, whatever
/// the daemon's umask (the systemd unit sets 0077).
const FILE_MODE: u32 = 0o644;
const DIR_MODE: u32 = 0o755;

/// Creates the folder (and any missing parents) readable by others; an
/// existing folder is left as its owner set it.
fn make_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = vec![dir.to_path_buf()];
    while let Some(parent) = missing.last().and_then(|d| d.parent()) {
        if parent.as_os_str().is_empty() || parent.exists() {
            break;
        }
        missing.push(parent.to_path_buf());
    }
    fs::create_dir_all(dir)?;
    for created in missing {
        fs::set_permissions(&created, fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Writes `bytes` beside `path` and renames the result over it.
fn replace_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The daemon's publisher: waits to be woken after a poll that found
/// changes, then rewrites the files once however many polls woke it. When
/// it starts and the files are missing (`report_dir` just configured), it
/// publishes the changes already held, if there are any.
pub async fn run_worker(
    target: Target,
    store: Shared,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    let mut only_if_missing = true;
    loop {
        if !only_if_missing {
            tokio::select! {
                _ = wake.notified() => {}
                _ = cancel.cancelled() => return,
            }
        }
        let missing = std::mem::take(&mut only_if_missing);
        if missing && target.dir.join(ATOM_FILE).exists() {
            continue;
        }
        let (target, store) = (target.clone(), store.clone());
        let done = tokio::task::spawn_blocking(move || {
            let now = Utc::now();
            let loaded = window_events(&store.lock(), target.window, now);
            let (from, events) = loaded?;
            if missing && events.is_empty() {
                return Ok(None);
            }
            write(&target, &events, from, now)?;
            Ok::<_, PublishError>(Some((events.len(), target)))
        })
        .await;
        match done {
            Ok(Ok(Some((n, target)))) => {
                tracing::info!(events = n, dir = %target.dir.display(), "published the change reports");
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(
                "cannot publish the change reports: {}",
                crate::error::error_chain(&e)
            ),
            Err(e) => tracing::warn!("the report publisher failed: {e}"),
        }
    }
}
