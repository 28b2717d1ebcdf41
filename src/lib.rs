//! feedwatch: a change-tracking monitor for feeds and web pages.
//!
//! One poll follows the data's path: [`schedule`] says a source is due,
//! [`fetch`] gets its bytes, [`source`] reads them into items, [`detect`]
//! compares them with what [`store`] holds, the store writes versions and
//! events in one transaction, and [`deliver`] hands the events to sinks.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod deliver;
pub mod detect;
pub mod diff;
pub mod error;
pub mod event;
pub mod fetch;
pub mod follow;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod opml;
pub mod polite;
pub mod poll;
pub mod prune;
pub mod report;
pub mod schedule;
pub mod source;
pub mod store;
mod sync;
pub mod text;

/// The version reported in the User-Agent and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
