//! `report`, `diff` and `import-opml`: the reading side.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use chrono::Utc;
use globset::Glob;

use super::{AppError, Context, Status, emit, open_store};
use crate::cli::{DiffArgs, ReportArgs};
use crate::config::{Config, Field};
use crate::event::{Event, EventKind};
use crate::report::text::{Paint, block};
use crate::report::words::{self, Piece};
use crate::report::{self, Format, Report};
use crate::store::{Store, VersionRow};

/// Unchanged words kept either side of a change in `diff --word`.
const WORD_CONTEXT: usize = 25;

pub fn report(ctx: Context, args: &ReportArgs) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let kinds = event_kinds(&args.types)?;
    let store = open_store(&config.settings.database)?;
    check_sources(&config, &store, &args.sources)?;
    let now = Utc::now();
    let from = args.from.unwrap_or_else(|| {
        report::period_start(now, args.since.unwrap_or(config.settings.report_window))
    });
    let mut events: Vec<Event> = store
        .events_since(from, args.all)?
        .into_iter()
        .map(|row| row.event)
        .filter(|e| args.sources.is_empty() || args.sources.contains(&e.source.name))
        .filter(|e| kinds.contains(&e.kind))
        .collect();
    events.reverse();
    let seed = std::fs::canonicalize(&config.settings.database)
        .unwrap_or_else(|_| config.settings.database.clone());
    let seed = seed.to_string_lossy();
    let report = Report {
        events: &events,
        from,
        to: now,
        feed_seed: &seed,
        site: config.settings.report_url.as_ref(),
    };
    let colour = args.format == Format::Text && colour(args.no_color);
    write_out(&report::render(&report, args.format, colour))?;
    Ok(0)
}

pub fn diff(ctx: Context, args: &DiffArgs) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let store = open_store(&config.settings.database)?;
    check_sources(&config, &store, std::slice::from_ref(&args.source))?;
    let versions = store
        .versions_of(&args.source, &args.item)
        .map_err(super::inspect::unknown_source)?;
    let Some(latest) = versions.first().map(|v| v.version) else {
        return Err(AppError::Usage(format!(
            "source {:?} holds no item {:?}; `feedwatch history {}` lists them",
            args.source, args.item, args.source
        )));
    };
    let to = args.to.unwrap_or(latest);
    // Versions may have been pruned: the one before is the newest held below `to`.
    let before = versions.iter().map(|v| v.version).find(|&v| v < to);
    let Some(from) = args.from.or(before) else {
        emit(&format!(
            "v{to} is the oldest version held of this item: nothing to compare"
        ))?;
        return Ok(0);
    };
    let held: Vec<String> = versions
        .iter()
        .rev()
        .map(|v| v.version.to_string())
        .collect();
    let find = |n: u32| {
        versions.iter().find(|v| v.version == n).ok_or_else(|| {
            AppError::Usage(format!(
                "the item has no version {n}; versions held: {}",
                held.join(", ")
            ))
        })
    };
    let (old, new) = (find(from)?, find(to)?);
    let paint = Paint(colour(args.no_color));
    write_out(&version_diff(old, new, args.word, paint))?;
    Ok(0)
}

/// Every field that differs between two versions, as unified or word diffs.
fn version_diff(old: &VersionRow, new: &VersionRow, word: bool, paint: Paint) -> String {
    let mut out = format!(
        "{}\n",
        paint.bold(&format!(
            "v{} ({}) → v{} ({})",
            old.version, old.seen_at, new.version, new.seen_at
        ))
    );
    let mut differs = false;
    for field in Field::ALL {
        let (before, after) = (old.snapshot.field(field), new.snapshot.field(field));
        if before == after {
            continue;
        }
        differs = true;
        let name = field.as_str();
        if word {
            out.push_str(&paint.bold(&format!("{name}:")));
            out.push('\n');
            out.push_str(&word_diff(&block(before), &block(after), paint));
            out.push_str("\n\n");
            continue;
        }
        let old_label = format!("v{}/{name}", old.version);
        let new_label = format!("v{}/{name}", new.version);
        let text =
            crate::diff::unified_labelled(&block(before), &block(after), &old_label, &new_label);
        for line in text.lines() {
            let painted = match line.as_bytes() {
                [b'-', b'-', b'-', ..] | [b'+', b'+', b'+', ..] => paint.bold(line),
                [b'+', ..] => paint.green(line),
                [b'-', ..] => paint.red(line),
                [b'@', ..] => paint.cyan(line),
                _ => line.to_string(),
            };
            out.push_str(&painted);
            out.push('\n');
        }
    }
    if !differs {
        out.push_str("the two versions do not differ\n");
    }
    out
}

/// `[-removed-]{+added+}` marks inline, as `git diff --word-diff=plain` writes them.
fn word_diff(before: &str, after: &str, paint: Paint) -> String {
    words::diff(before, after, Some(WORD_CONTEXT))
        .into_iter()
        .map(|piece| match piece {
            Piece::Same(text) => text.to_string(),
            Piece::Removed(text) => paint.red(&format!("[-{text}-]")),
            Piece::Added(text) => paint.green(&format!("{{+{text}+}}")),
            Piece::Gap => " … ".to_string(),
        })
        .collect()
}

/// `import-opml`: `[[source]]` tables for every feed in an OPML file.
pub fn import_opml(path: &Path) -> Result<Status, AppError> {
    let bytes = std::fs::read(path).map_err(|source| AppError::Input {
        what: format!("cannot read {}", path.display()),
        source: Box::new(source),
    })?;
    let outlines = crate::opml::parse(&bytes).map_err(|source| AppError::Input {
        what: format!("{} is not a readable OPML file", path.display()),
        source: Box::new(source),
    })?;
    let import = crate::opml::sources(&outlines);
    for skipped in &import.skipped {
        tracing::warn!("{skipped}");
    }
    if import.sources.is_empty() {
        return Err(AppError::Usage(format!(
            "{} lists no feeds (outlines with an xmlUrl)",
            path.display()
        )));
    }
    write_out(&crate::opml::to_toml(&import.sources))?;
    Ok(0)
}

/// The kinds `--type` selects (all when none is given); patterns like `item.*` allowed.
fn event_kinds(patterns: &[String]) -> Result<Vec<EventKind>, AppError> {
    if patterns.is_empty() {
        return Ok(EventKind::ALL.to_vec());
    }
    let mut kinds = Vec::new();
    for pattern in patterns {
        let matcher = Glob::new(pattern.trim()).map(|g| g.compile_matcher());
        let matched: Vec<EventKind> = EventKind::ALL
            .into_iter()
            .filter(|k| matcher.as_ref().is_ok_and(|m| m.is_match(k.as_str())))
            .collect();
        if matched.is_empty() {
            let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
            return Err(AppError::Usage(format!(
                "--type {pattern:?} matches no event type; the types are {}",
                known.join(", ")
            )));
        }
        kinds.extend(matched);
    }
    Ok(kinds)
}

/// Names given on the command line must be configured or held.
fn check_sources(config: &Config, store: &Store, names: &[String]) -> Result<(), AppError> {
    if names.iter().all(|n| config.source(n).is_some()) {
        return Ok(());
    }
    let held: Vec<String> = store.list_sources()?.into_iter().map(|r| r.name).collect();
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| config.source(n).is_none() && !held.contains(n))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(AppError::Usage(format!(
        "no source named {} in {} or the database",
        unknown.join(", "),
        config.path.display()
    )))
}

/// Colour only on a terminal, and never with `--no-color` or a non-empty `NO_COLOR`.
fn colour(no_color: bool) -> bool {
    let env_says_no = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && !env_says_no && io::stdout().is_terminal()
}

/// Writes everything to standard output; a closed pipe ends the command quietly.
fn write_out(text: &str) -> Result<(), AppError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => AppError::ClosedPipe,
            _ => AppError::Output(e),
        })
}
