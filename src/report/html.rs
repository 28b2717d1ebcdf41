//! One self-contained HTML page: inline CSS, no scripts, nothing loaded from
//! elsewhere, readable on a laptop and a phone. A summary of counts on top,
//! then per source each change: the story linked, when, and a word diff with
//! `<del>`/`<ins>`. Every piece of feed text is escaped, and a Content
//! Security Policy forbids scripts should anything slip through.

use std::fmt::Write;

use super::words::{self, Piece};
use super::{
    Counts, Report, by_source, escape, escape_into, headline, human_time, label, link_of, plural,
    web_link,
};
use crate::event::{Change, Event, EventKind, format_time};

/// Unchanged words kept either side of a change.
const CONTEXT_WORDS: usize = 25;

/// Items of a bulk change listed by name; the rest are counted.
const BULK_ITEMS_LISTED: usize = 100;

const STYLE: &str = include_str!("style.css");

pub(super) fn render(report: &Report<'_>) -> String {
    let mut out = String::with_capacity(4096 + report.events.len() * 1024);
    let from = human_time(&format_time(report.from));
    let to = human_time(&format_time(report.to));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <meta name=\"generator\" content=\"feedwatch {}\">\n\
         <title>Changes from {from} to {to}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        crate::VERSION
    );
    let groups = by_source(report.events);
    let _ = write!(
        out,
        "<header>\n<h1>Changes</h1>\n<p class=\"period\">From <time datetime=\"{}\">{from}</time> to <time datetime=\"{}\">{to}</time>: {} in {}.</p>\n",
        format_time(report.from),
        format_time(report.to),
        plural(report.events.len(), "change"),
        plural(groups.len(), "source"),
    );
    if !groups.is_empty() {
        summary(&mut out, &Counts::of(&groups));
    }
    out.push_str("</header>\n<main>\n");
    for (i, (source, events)) in groups.iter().enumerate() {
        let _ = write!(
            out,
            "<section id=\"source-{i}\">\n<h2>{}</h2>\n",
            escape(&source.name)
        );
        match web_link(&source.url) {
            Some(url) => {
                let _ = writeln!(
                    out,
                    "<p class=\"source-url\"><a href=\"{}\" rel=\"noopener noreferrer\">{}</a></p>",
                    escape(&url),
                    escape(&url)
                );
            }
            None => {
                let _ = writeln!(out, "<p class=\"source-url\">{}</p>", escape(&source.url));
            }
        }
        for event in events {
            article(&mut out, event);
        }
        out.push_str("</section>\n");
    }
    let _ = write!(
        out,
        "</main>\n<footer>Made by feedwatch {} at <time datetime=\"{}\">{to}</time>.</footer>\n</body>\n</html>\n",
        crate::VERSION,
        format_time(report.to),
    );
    out
}

fn summary(out: &mut String, counts: &Counts<'_>) {
    out.push_str("<div class=\"summary\"><table>\n<thead><tr><th scope=\"col\">Source</th>");
    for kind in &counts.kinds {
        let _ = write!(out, "<th scope=\"col\">{}</th>", label(*kind));
    }
    out.push_str("<th scope=\"col\">All</th></tr></thead>\n<tbody>\n");
    for (i, (name, row)) in counts.rows.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><a href=\"#source-{i}\">{}</a></th>",
            escape(name)
        );
        for n in row {
            let _ = write!(out, "<td>{n}</td>");
        }
        let _ = writeln!(out, "<td>{}</td></tr>", row.iter().sum::<usize>());
    }
    let totals = counts.totals();
    out.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">All</th>");
    for n in &totals {
        let _ = write!(out, "<td>{n}</td>");
    }
    let _ = writeln!(
        out,
        "<td>{}</td></tr></tfoot>\n</table></div>",
        totals.iter().sum::<usize>()
    );
}

fn article(out: &mut String, event: &Event) {
    let _ = write!(
        out,
        "<article class=\"change {}\" id=\"{}\">\n<h3>",
        kind_class(event.kind),
        escape(&event.id)
    );
    let title = escape(&headline(event));
    match link_of(event).filter(|_| event.item.is_some()) {
        Some(link) => {
            let _ = write!(
                out,
                "<a href=\"{}\" rel=\"noopener noreferrer\">{title}</a>",
                escape(&link)
            );
        }
        None => out.push_str(&title),
    }
    let _ = write!(
        out,
        "</h3>\n<p class=\"meta\"><span class=\"kind\">{}</span> <time datetime=\"{}\">{}</time>",
        label(event.kind),
        escape(&event.timestamp),
        escape(&human_time(&event.timestamp))
    );
    if let Some(item) = event
        .item
        .as_ref()
        .filter(|_| event.kind != EventKind::ItemNew)
    {
        let _ = write!(out, " · version {}", item.version);
    }
    out.push_str("</p>\n");
    body(out, event, Flavour::Page);
    out.push_str("</article>\n");
}

/// Where an HTML fragment goes: this page, or an Atom entry's content, where
/// readers drop styles and unfamiliar elements, so only plain markup is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavour {
    Page,
    Feed,
}

/// What changed, as an HTML fragment.
pub(super) fn body(out: &mut String, event: &Event, flavour: Flavour) {
    if let Some(published) = event
        .item
        .as_ref()
        .and_then(|i| i.published.as_deref())
        .filter(|_| event.kind == EventKind::ItemNew)
    {
        let when = escape(&human_time(published));
        let _ = match flavour {
            Flavour::Page => writeln!(
                out,
                "<p>Published <time datetime=\"{}\">{when}</time>.</p>",
                escape(published)
            ),
            Flavour::Feed => writeln!(out, "<p>Published {when}.</p>"),
        };
    }
    if let Some(error) = &event.error {
        out.push_str("<p class=\"error\">");
        escape_into(out, error);
        out.push_str("</p>\n");
    }
    for change in &event.changes {
        field(out, change, flavour);
    }
    if !event.items.is_empty() {
        let count = plural(event.items.len(), "item");
        let _ = match flavour {
            Flavour::Page => write!(
                out,
                "<details><summary>{count}</summary>\n<ul class=\"items\">\n"
            ),
            Flavour::Feed => write!(out, "<p>{count}:</p>\n<ul>\n"),
        };
        for item in event.items.iter().take(BULK_ITEMS_LISTED) {
            out.push_str("<li>");
            match web_link(&item.link) {
                Some(link) => {
                    let _ = write!(
                        out,
                        "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
                        escape(&link),
                        escape(&item.title)
                    );
                }
                None => escape_into(out, &item.title),
            }
            out.push_str("</li>\n");
        }
        if event.items.len() > BULK_ITEMS_LISTED {
            let _ = writeln!(
                out,
                "<li>and {} more</li>",
                event.items.len() - BULK_ITEMS_LISTED
            );
        }
        out.push_str(match flavour {
            Flavour::Page => "</ul></details>\n",
            Flavour::Feed => "</ul>\n",
        });
    }
}

fn field(out: &mut String, change: &Change, flavour: Flavour) {
    // The page keeps line breaks with CSS; a feed reader needs them as markup.
    let text = |out: &mut String, text: &str| match flavour {
        Flavour::Page => escape_into(out, text),
        Flavour::Feed => {
            for (i, line) in text.split('\n').enumerate() {
                if i > 0 {
                    out.push_str("<br>");
                }
                escape_into(out, line);
            }
        }
    };
    match flavour {
        Flavour::Page => out.push_str("<div class=\"field\"><h4>"),
        Flavour::Feed => out.push_str("<p><strong>"),
    }
    escape_into(out, &change.field);
    out.push_str(match flavour {
        Flavour::Page => "</h4><p class=\"diff\">",
        Flavour::Feed => "</strong></p>\n<p>",
    });
    for piece in words::diff(&change.before, &change.after, Some(CONTEXT_WORDS)) {
        match piece {
            Piece::Same(same) => text(out, &same),
            Piece::Removed(removed) => {
                out.push_str("<del>");
                text(out, &removed);
                out.push_str("</del>");
            }
            Piece::Added(added) => {
                out.push_str("<ins>");
                text(out, &added);
                out.push_str("</ins>");
            }
            Piece::Gap => out.push_str(match flavour {
                Flavour::Page => "<span class=\"gap\">…</span>",
                Flavour::Feed => " … ",
            }),
        }
    }
    out.push_str(match flavour {
        Flavour::Page => "</p></div>\n",
        Flavour::Feed => "</p>\n",
    });
}

fn kind_class(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ItemNew => "item-new",
        EventKind::ItemUpdated => "item-updated",
        EventKind::ItemRemoved => "item-removed",
        EventKind::ItemFlapping => "item-flapping",
        EventKind::PageChanged => "page-changed",
        EventKind::BulkChange => "bulk-change",
        EventKind::SourceFailing => "source-failing",
        EventKind::SourceRecovered => "source-recovered",
    }
}
