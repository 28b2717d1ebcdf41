//! JSON for scripts: an array of events exactly as SPEC.md shapes them
//! (the same objects the log sink writes), newest first.

use super::Report;

pub(super) fn render(report: &Report<'_>) -> String {
    // Events are plain strings and numbers: serialising cannot fail.
    let mut out = serde_json::to_string_pretty(report.events).unwrap_or_else(|_| "[]".into());
    out.push('\n');
    out
}
