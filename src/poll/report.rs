//! How a poll went, as `check` prints it.

use chrono::{DateTime, Utc};

use super::PollError;
use crate::error::error_chain;

/// How a poll went, for the caller's summary and exit code.
#[derive(Debug)]
pub struct PollReport {
    pub source: String,
    pub result: Result<Summary, PollError>,
    /// No poll of this source before then (Retry-After, backoff, cache hints).
    pub not_before: Option<DateTime<Utc>>,
    /// No request to this source's host before then (a 429 with Retry-After).
    pub host_not_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub not_modified: bool,
    pub items: usize,
    pub new_versions: usize,
    pub events: usize,
    pub baseline: bool,
    /// Followed articles that could not be read (each logged with its item).
    pub article_errors: usize,
}

impl std::fmt::Display for PollReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.result {
            Err(e) if e.is_superseded() => write!(
                f,
                "{}: not recorded: another feedwatch process polled it meanwhile",
                self.source
            ),
            Err(e) => write!(f, "{}: error: {}", self.source, error_chain(e)),
            Ok(s) => {
                let plural =
                    |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
                if s.not_modified {
                    write!(f, "{}: not modified", self.source)?;
                    if s.new_versions > 0 || s.events > 0 {
                        let versions = plural(s.new_versions, "new version");
                        write!(f, ", {versions}, {}", plural(s.events, "event"))?;
                    }
                } else {
                    write!(
                        f,
                        "{}: {}, {}, {}{}",
                        self.source,
                        plural(s.items, "item"),
                        plural(s.new_versions, "new version"),
                        plural(s.events, "event"),
                        if s.baseline { " (baseline)" } else { "" }
                    )?;
                }
                if s.article_errors > 0 {
                    write!(f, ", {} not read", plural(s.article_errors, "article"))?;
                }
                Ok(())
            }
        }
    }
}
