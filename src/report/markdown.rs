//! Markdown for notes and issue trackers: a heading per source and story,
//! links, and fenced `diff` blocks. Feed text is escaped so that a title can
//! neither start markup nor smuggle HTML into the rendered note.

use std::fmt::Write;

use super::text::{block, line};
use super::{Counts, Report, by_source, headline, human_time, link_of, plural, web_link};
use crate::event::{Event, format_time};

pub(super) fn render(report: &Report<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Changes from {} to {}\n",
        human_time(&format_time(report.from)),
        human_time(&format_time(report.to))
    );
    let groups = by_source(report.events);
    if groups.is_empty() {
        out.push_str("No changes.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{} in {}.\n",
        plural(report.events.len(), "change"),
        plural(groups.len(), "source")
    );
    summary(&mut out, &Counts::of(&groups));
    for (source, events) in &groups {
        let _ = writeln!(out, "\n## {}\n", text(&source.name));
        match web_link(&source.url) {
            Some(url) => {
                let _ = writeln!(out, "<{}>\n", autolink(&url));
            }
            None => {
                let _ = writeln!(out, "{}\n", text(&source.url));
            }
        }
        for event in events {
            event_md(&mut out, event);
        }
    }
    out
}

fn summary(out: &mut String, counts: &Counts<'_>) {
    out.push_str("| source |");
    for kind in &counts.kinds {
        let _ = write!(out, " {} |", kind.as_str());
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(counts.kinds.len()));
    out.push('\n');
    for (name, row) in &counts.rows {
        let _ = write!(out, "| {} |", text(name));
        for n in row {
            let _ = write!(out, " {n} |");
        }
        out.push('\n');
    }
}

fn event_md(out: &mut String, event: &Event) {
    let title = text(&headline(event));
    match link_of(event).filter(|_| event.item.is_some()) {
        Some(link) => {
            let _ = writeln!(out, "### [{title}](<{}>)\n", autolink(&link));
        }
        None => {
            let _ = writeln!(out, "### {title}\n");
        }
    }
    let mut meta = format!(
        "`{}` · {}",
        event.kind.as_str(),
        human_time(&event.timestamp)
    );
    if let Some(item) = &event.item {
        let _ = write!(meta, " · version {}", item.version);
    }
    let _ = writeln!(out, "{meta}\n");
    if let Some(error) = &event.error {
        let _ = writeln!(out, "> {}\n", text(error));
    }
    for item in &event.items {
        match web_link(&item.link) {
            Some(link) => {
                let _ = writeln!(out, "- [{}](<{}>)", text(&item.title), autolink(&link));
            }
            None => {
                let _ = writeln!(out, "- {}", text(&item.title));
            }
        }
    }
    if !event.items.is_empty() {
        out.push('\n');
    }
    for change in &event.changes {
        let diff = block(&change.diff);
        let fence = "`".repeat(longest_backtick_run(&diff).max(2) + 1);
        let _ = writeln!(out, "**{}**\n", text(&change.field));
        let _ = writeln!(
            out,
            "{fence}diff\n{}\n{fence}\n",
            diff.trim_end_matches('\n')
        );
    }
}

/// Feed text as Markdown text: one line, with every character that could
/// start markup or HTML escaped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in line(s).chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL that can sit inside `<…>` in Markdown: no spaces or angle brackets.
fn autolink(url: &str) -> String {
    url.replace(' ', "%20")
        .replace('<', "%3C")
        .replace('>', "%3E")
}

fn longest_backtick_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        best = best.max(run);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_cannot_start_markup_or_html() {
        assert_eq!(
            text("<script>alert(1)</script> [x](y)"),
            "\\<script\\>alert(1)\\</script\\> \\[x\\](y)"
        );
    }

    #[test]
    fn fences_outgrow_backticks_in_the_diff() {
        assert_eq!(longest_backtick_run("a ```` b ``"), 4);
    }
}
