//! feedwatch: a change-tracking monitor for feeds and web pages.
//!
//! Layout, in the order one poll's data flows through it:
//!
//! ```text
//! schedule   when each source is due (the daemon's timer queue)
//! polite     per-host limits, Retry-After, backoff, cache hints
//! fetch      HTTP and files: conditional requests, limits, redirects
//! source     bytes → items (feeds) or text (pages); item identity
//! follow     the article pages items link to
//! detect     held items vs read items → versions to write, event drafts
//! diff       line and word diffs of changed fields
//! store      SQLite: versions and events in one transaction, the outbox
//! deliver    events → log, webhook, email, chat and command sinks, in order,
//!            at least once, one deliverer per sink (a lease)
//! poll       one poll as a list of the steps above
//!
//! daemon     tasks, signals, reload, shutdown (with notify, metrics, prune)
//! commands   what each subcommand does, given the configuration (cli, config)
//! report     changes rendered as text, markdown, html, json, atom
//! ```
//!
//! Shared by all: `config` (the checked configuration), `event` (what an
//! alert is), `text` (markup and whitespace reduced to comparable text),
//! `error` (how errors read).

pub mod cli;
pub mod commands;
pub mod config;
mod daemon;
mod deliver;
pub mod detect;
pub mod diff;
pub mod error;
pub mod event;
pub mod fetch;
mod follow;
pub mod logging;
mod metrics;
mod notify;
mod opml;
mod polite;
mod poll;
mod prune;
pub mod report;
mod schedule;
pub mod source;
mod store;
mod sync;
pub mod text;

/// The version reported in the User-Agent and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
