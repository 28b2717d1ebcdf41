//! Plain text for a terminal or a pipe: grouped by source, newest first, with
//! the unified diffs. Colour only when asked; control characters from feeds
//! never reach the terminal.

use std::fmt::Write;

use super::{Counts, Report, by_source, headline, human_time, link_of, plural};
use crate::event::{Event, EventKind};

pub(super) fn render(report: &Report<'_>, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    let groups = by_source(report.events);
    let period = format!(
        "from {} to {}",
        human_time(&crate::event::format_time(report.from)),
        human_time(&crate::event::format_time(report.to))
    );
    if groups.is_empty() {
        let _ = writeln!(out, "No changes {period}.");
        return out;
    }
    let _ = writeln!(
        out,
        "{}",
        paint.bold(&format!(
            "{} in {} {period}",
            plural(report.events.len(), "change"),
            plural(groups.len(), "source"),
        ))
    );
    let counts = Counts::of(&groups);
    for ((source, events), (_, row)) in groups.iter().zip(&counts.rows) {
        let kinds: Vec<String> = counts
            .kinds
            .iter()
            .zip(row)
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {}", k.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "\n{}  {}  {}",
            paint.bold(&line(&source.name)),
            paint.dim(&line(&source.url)),
            kinds.join(", ")
        );
        for event in events {
            event_text(&mut out, event, paint);
        }
    }
    out
}

fn event_text(out: &mut String, event: &Event, paint: Paint) {
    let version = event
        .item
        .as_ref()
        .filter(|_| {
            matches!(
                event.kind,
                EventKind::ItemUpdated | EventKind::ItemFlapping | EventKind::PageChanged
            )
        })
        .map(|i| format!("  v{}", i.version))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {}  {}  {}{version}",
        human_time(&event.timestamp),
        paint.kind(event.kind),
        line(&headline(event))
    );
    if let Some(link) = link_of(event).filter(|_| event.item.is_some()) {
        let _ = writeln!(out, "    {}", paint.dim(&link));
    }
    if let Some(error) = &event.error {
        let _ = writeln!(out, "    {}", line(error));
    }
    for item in &event.items {
        let _ = writeln!(out, "    - {}", line(&item.title));
    }
    for change in &event.changes {
        let _ = writeln!(out, "    {}:", line(&change.field));
        for l in block(&change.diff).lines() {
            let painted = match l.as_bytes() {
                [b'-', b'-', b'-', ..] | [b'+', b'+', b'+', ..] => paint.bold(l),
                [b'+', ..] => paint.green(l),
                [b'-', ..] => paint.red(l),
                [b'@', ..] => paint.cyan(l),
                _ => l.to_string(),
            };
            let _ = writeln!(out, "      {painted}");
        }
    }
}

/// Text for one line: control characters (escape sequences, line breaks)
/// become spaces.
pub(crate) fn line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text for a block: line breaks and tabs kept, other control characters dropped.
pub(crate) fn block(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

/// ANSI colours, or nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint(pub bool);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.wrap("36", text)
    }

    fn kind(self, kind: EventKind) -> String {
        let code = match kind {
            EventKind::ItemNew | EventKind::SourceRecovered => "32",
            EventKind::ItemUpdated | EventKind::ItemFlapping | EventKind::PageChanged => "33",
            EventKind::ItemRemoved | EventKind::SourceFailing => "31",
            EventKind::BulkChange => "35",
        };
        self.wrap(code, kind.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_never_reach_the_terminal() {
        assert_eq!(line("a\u{1b}[2Jb\nc"), "a [2Jb c");
        assert_eq!(block("a\u{1b}]0;x\u{7}\nb"), "a]0;x\nb");
    }
}
