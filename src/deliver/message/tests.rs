use super::*;
use crate::event::{Bulk, Change, Draft, ItemRef, SourceRef};

fn event(kind: EventKind, title: &str) -> Event {
    Draft::new(kind)
        .about(ItemRef {
            key: "https://example.org/?p=1".into(),
            title: title.into(),
            link: "https://example.org/story".into(),
            published: None,
            version: 2,
        })
        .into_event(
            &SourceRef {
                name: "frontline".into(),
                url: "https://example.org/feed".into(),
            },
            chrono::Utc::now(),
        )
}

/// A message with `n` changes, each a replaced word in a long sentence.
fn many_changes(n: usize, word: &str) -> Message {
    let before: Vec<String> = (0..n * 12).map(|i| format!("w{i}")).collect();
    let mut after = before.clone();
    for i in 0..n {
        after[i * 12 + 6] = format!("{word}{i}");
    }
    let mut e = event(EventKind::ItemUpdated, "A story");
    e.changes.push(Change {
        field: "content".into(),
        before: before.join(" "),
        after: after.join(" "),
        diff: String::new(),
    });
    Message::from_event(&e)
}

/// A message whose rendering with `markup` measures exactly `len`.
fn exactly(len: usize, markup: &dyn Markup, measure: Measure, filler: char) -> Message {
    let mut m = Message {
        headline: "H".into(),
        link: None,
        sections: vec![Section {
            field: "title".into(),
            spans: vec![Span::Same(String::new()), Span::Added("x".into())],
        }],
        more: "feedwatch diff s k".into(),
    };
    let base = measure.of(&render(&m, markup, 1));
    let unit = measure.of(&filler.to_string());
    let fill: String = std::iter::repeat_n(filler, (len - base) / unit).collect();
    m.sections[0].spans[0] = Span::Same(fill);
    m
}

#[test]
fn headlines_say_what_changed_first() {
    let mut e = event(EventKind::ItemUpdated, "Pay rise");
    for field in ["title", "content"] {
        e.changes.push(Change {
            field: field.into(),
            before: "a b".into(),
            after: "a c".into(),
            diff: String::new(),
        });
    }
    assert_eq!(
        Message::from_event(&e).headline,
        "Edited: Pay rise (title, content)"
    );
    let m = Message::from_event(&event(EventKind::ItemNew, "Story\n  one"));
    assert_eq!(m.headline, "New: Story one");
    assert_eq!(m.link.as_deref(), Some("https://example.org/story"));
    assert_eq!(
        Message::from_event(&event(EventKind::ItemRemoved, "Gone")).headline,
        "Taken down: Gone"
    );
    let mut failing = event(EventKind::SourceFailing, "");
    failing.item = None;
    failing.error = Some("HTTP 503".into());
    assert_eq!(
        Message::from_event(&failing).headline,
        "Failing: frontline — HTTP 503"
    );
    let mut bulk = event(EventKind::BulkChange, "");
    bulk.item = None;
    bulk.items = vec![bulk_item(); 10];
    bulk.bulk = Some(Bulk {
        field: "title".into(),
        edit: "prefix_added".into(),
        added: "SPAM ".into(),
        removed: String::new(),
        summary: String::new(),
    });
    assert_eq!(
        Message::from_event(&bulk).headline,
        "Feed defaced: prefix \"SPAM\" added to 10 titles"
    );
}

fn bulk_item() -> ItemRef {
    ItemRef {
        key: "k".into(),
        title: "t".into(),
        link: String::new(),
        published: None,
        version: 1,
    }
}

#[test]
fn only_web_links_are_kept() {
    assert_eq!(web_link("javascript:alert(1)"), None);
    assert_eq!(web_link("data:text/html,x"), None);
    assert_eq!(web_link("/relative"), None);
    assert_eq!(
        web_link("https://e.org/a b|c>").as_deref(),
        Some("https://e.org/a%20b%7Cc%3E")
    );
}

#[test]
fn the_diff_command_is_quoted_for_the_shell() {
    let m = Message::from_event(&event(EventKind::ItemNew, "x"));
    assert_eq!(m.more, "feedwatch diff frontline https://example.org/?p=1");
    assert_eq!(shell_word("it's here"), r"'it'\''s here'");
}

#[test]
fn a_message_at_the_limit_is_whole_and_one_over_is_cut() {
    struct Plain;
    impl Markup for Plain {
        fn text(&self, s: &str) -> String {
            s.to_string()
        }
        fn link(&self, url: &str) -> String {
            url.to_string()
        }
    }
    for (measure, filler) in [
        (Measure::Chars, '€'),
        (Measure::Utf16, '😀'),
        (Measure::Bytes, 'é'),
    ] {
        let limit = 100;
        let at = exactly(limit, &Plain, measure, filler);
        let whole = fit(&at, &Plain, limit, measure).unwrap_or_default();
        assert_eq!(measure.of(&whole), limit, "{measure:?}");
        assert!(!whole.contains("left out"));
        let cut = fit(&at, &Plain, limit - 1, measure).unwrap_or_default();
        assert!(measure.of(&cut) < limit, "{measure:?}");
        assert!(cut.contains("1 more change left out; see feedwatch diff s k"));
    }
}

#[test]
fn measures_count_as_the_platforms_do() {
    assert_eq!(Measure::Chars.of("a😀é"), 3);
    assert_eq!(Measure::Utf16.of("a😀é"), 4);
    assert_eq!(Measure::Bytes.of("a😀é"), 7);
}

#[test]
fn long_diffs_are_cut_to_the_most_changes_that_fit() {
    let m = many_changes(400, "changed");
    assert_eq!(m.changes(), 400);
    struct Plain;
    impl Markup for Plain {
        fn text(&self, s: &str) -> String {
            s.to_string()
        }
        fn link(&self, url: &str) -> String {
            url.to_string()
        }
    }
    let text = fit(&m, &Plain, 1000, Measure::Bytes).unwrap_or_default();
    assert!(text.len() <= 1000);
    let kept = text.matches("{+changed").count();
    assert!(kept > 5, "{text}");
    assert!(text.ends_with(&format!(
        "… {} more changes left out; see feedwatch diff frontline https://example.org/?p=1",
        400 - kept
    )));
    // One change more would not have fitted.
    assert!(render(&m, &Plain, kept + 1).len() > 1000);
}
