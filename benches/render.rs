//! How long rendering N changes takes in each report format.
//!
//! `cargo bench --bench render` renders 10,000 changes made from the
//! Frontline feed's real stories (edited paragraphs, defaced titles, new and
//! removed stories) and prints the time per format. Under `cargo test` it
//! renders a few hundred, only to show it still runs.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use feedwatch::diff;
use feedwatch::event::{Bulk, Change, Draft, Event, EventKind, ItemRef, SourceRef};
use feedwatch::report::{Format, Report, render};
use feedwatch::source::{Item, feed};

const FEED: &str = include_str!("../tests/fixtures/communitycare-frontline-clean.xml");

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 10_000 } else { 300 };
    let items = feed::read(FEED.as_bytes(), None, None)
        .map(|d| d.items)
        .unwrap_or_default();
    assert!(!items.is_empty(), "the fixture feed has stories");
    let start = DateTime::parse_from_rfc3339("2026-11-23T08:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let events: Vec<Event> = (0..n)
        .rev()
        .map(|i| {
            event(
                i,
                &items[i % items.len()],
                start + Duration::seconds(i as i64),
            )
        })
        .collect();
    let report = Report {
        events: &events,
        from: start,
        to: start + Duration::seconds(n as i64),
        feed_seed: "bench",
        site: None,
    };
    println!("rendering {n} changes");
    for format in [
        Format::Text,
        Format::Markdown,
        Format::Json,
        Format::Html,
        Format::Atom,
    ] {
        let began = Instant::now();
        let out = render(&report, format, false);
        let took = began.elapsed();
        println!(
            "{:<9} {:>8.3} s  {:>7.1} µs per change  {:>6.1} MB",
            format!("{format:?}").to_lowercase(),
            took.as_secs_f64(),
            took.as_secs_f64() * 1e6 / n as f64,
            out.len() as f64 / 1e6
        );
    }
}

/// A change of one of the kinds a real feed produces, cycling through them.
fn event(i: usize, item: &Item, at: DateTime<Utc>) -> Event {
    let source = SourceRef {
        name: format!("source-{}", i % 7),
        url: format!("https://example.org/{}/feed/", i % 7),
    };
    let about = ItemRef {
        key: format!("{}#{i}", item.key),
        title: item.title.clone(),
        link: item.link.clone(),
        published: None,
        version: 2,
    };
    let draft = match i % 10 {
        0..=5 => {
            let after = edit_words(&item.content, i);
            let mut d = Draft::new(EventKind::ItemUpdated).about(about);
            d.changes = vec![change("content", &item.content, &after)];
            d
        }
        6 | 7 => {
            let after = format!("极速赛车168最新开奖号码 {}", item.title);
            let mut d = Draft::new(EventKind::BulkChange);
            d.bulk = Some(Bulk {
                field: "title".into(),
                edit: "prefix_added".into(),
                added: "极速赛车168最新开奖号码 ".into(),
                removed: String::new(),
                summary: "prefix added to the title of 10 items".into(),
            });
            d.items = vec![about; 10];
            d.changes = vec![change("title", &item.title, &after)];
            d
        }
        8 => Draft::new(EventKind::ItemNew).about(about),
        _ => Draft::new(EventKind::ItemRemoved).about(about),
    };
    draft.into_event(&source, at)
}

fn change(field: &str, before: &str, after: &str) -> Change {
    Change {
        field: field.into(),
        before: before.into(),
        after: after.into(),
        diff: diff::unified(before, after),
    }
}

/// The text with a few words replaced, somewhere different each time.
fn edit_words(text: &str, seed: usize) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let at = (seed * 7919) % words.len().max(1);
    words
        .iter()
        .enumerate()
        .map(|(j, w)| match j {
            j if j == at => "considerably",
            j if j == at + 1 => "fewer",
            _ => w,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
