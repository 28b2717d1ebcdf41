//! Properties of identity and detection over generated feeds: the real
//! parser reads each generated document, the real detector compares it with
//! what a previous poll of the same document would have stored.

use std::collections::HashMap;

use feedwatch::config::{Conditions, Field, Track};
use feedwatch::detect::{Detection, Held, Rules, Snapshot, detect};
use feedwatch::event::EventKind;
use feedwatch::source::{Item, feed};
use proptest::prelude::*;

use crate::support::OrFail;

pub(crate) const COMPARE: [Field; 4] = [Field::Title, Field::Link, Field::Summary, Field::Content];
pub(crate) const TRACK_ALL: Track = Track {
    new: true,
    updated: true,
    removed: true,
};

/// One generated `<item>`; small alphabets so guids, links and texts collide
/// often, which is where identity goes wrong.
#[derive(Debug, Clone)]
pub(crate) struct GenItem {
    guid: Option<String>,
    link: Option<String>,
    title: String,
    description: String,
    published: Option<u32>,
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("care"),
            Just("council"),
            Just("<b>report</b>"),
            Just("&amp;"),
            Just("  "),
            Just("news"),
            Just("<p>"),
            Just("x"),
        ],
        0..5,
    )
    .prop_map(|words| words.join(" "))
}

pub(crate) fn gen_item() -> impl Strategy<Value = GenItem> {
    (
        prop::option::of("[a-c]{1,2}"),
        prop::option::of(("[a-c]{1,2}", prop::bool::ANY)),
        text(),
        text(),
        prop::option::of(0u32..5),
    )
        .prop_map(|(guid, link, title, description, published)| GenItem {
            guid,
            link: link.map(|(path, fragment)| {
                format!(
                    "https://example.org/{path}{}",
                    if fragment { "#top" } else { "" }
                )
            }),
            title,
            description,
            published,
        })
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(items: &[GenItem]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Generated</title>\n",
    );
    for i in items {
        out.push_str("<item>");
        if let Some(g) = &i.guid {
            out.push_str(&format!("<guid isPermaLink=\"false\">{g}</guid>"));
        }
        if let Some(l) = &i.link {
            out.push_str(&format!("<link>{l}</link>"));
        }
        out.push_str(&format!("<title>{}</title>", xml_escape(&i.title)));
        out.push_str(&format!(
            "<description>{}</description>",
            xml_escape(&i.description)
        ));
        if let Some(day) = i.published {
            out.push_str(&format!(
                "<pubDate>Mon, {:02} Dec 2024 10:00:00 +0000</pubDate>",
                day + 10
            ));
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel></rss>\n");
    out
}

pub(crate) fn read(items: &[GenItem]) -> Vec<Item> {
    feed::parse(&rss(items), None)
        .or_fail("a generated feed must parse")
        .items
}

/// What the store holds after a poll that read `items`.
pub(crate) fn held_after(items: &[Item]) -> HashMap<String, Held> {
    items
        .iter()
        .enumerate()
        .map(|(position, item)| {
            (
                item.key.clone(),
                Held {
                    version: 1,
                    snapshot: Snapshot::from_item(item, &[]),
                    present: true,
                    position: u32::try_from(position).ok(),
                },
            )
        })
        .collect()
}

fn detect_after(before: &[Item], after: &[Item]) -> Detection {
    let rules = Rules {
        compare: &COMPARE,
        track: TRACK_ALL,
        ignore: &[],
        quiet: false,
        conditions: &Conditions::default(),
    };
    detect(&held_after(before), after, &rules)
}

fn assert_nothing_changed(d: &Detection) -> Result<(), TestCaseError> {
    prop_assert!(d.drafts.is_empty(), "events: {:?}", d.drafts);
    prop_assert!(d.gone.is_empty(), "gone: {:?}", d.gone);
    let rewritten: Vec<&str> = d
        .writes
        .iter()
        .filter(|w| w.new_version.is_some())
        .map(|w| w.key.as_str())
        .collect();
    prop_assert!(rewritten.is_empty(), "new versions for {rewritten:?}");
    Ok(())
}

fn feed_and_shuffle() -> impl Strategy<Value = (Vec<GenItem>, Vec<GenItem>)> {
    prop::collection::vec(gen_item(), 0..12)
        .prop_flat_map(|items| (Just(items.clone()), Just(items).prop_shuffle()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_same_feed_twice_yields_no_events(items in prop::collection::vec(gen_item(), 0..12)) {
        let first = read(&items);
        let second = read(&items);
        assert_nothing_changed(&detect_after(&first, &second))?;
    }

    #[test]
    fn reordering_items_yields_no_events((items, shuffled) in feed_and_shuffle()) {
        let d = detect_after(&read(&items), &read(&shuffled));
        assert_nothing_changed(&d)?;
    }

    #[test]
    fn identity_never_depends_on_item_order((items, shuffled) in feed_and_shuffle()) {
        let by_key = |items: Vec<Item>| -> HashMap<String, Item> {
            items.into_iter().map(|i| (i.key.clone(), i)).collect()
        };
        let a = read(&items);
        let b = read(&shuffled);
        prop_assert_eq!(a.len(), b.len());
        prop_assert_eq!(by_key(a), by_key(b));
    }

    #[test]
    fn adding_one_item_yields_exactly_one_new(
        items in prop::collection::vec(gen_item(), 0..12),
        at in any::<prop::sample::Index>(),
        fresh in gen_item(),
    ) {
        let before = read(&items);
        let mut grown = items.clone();
        // A guid outside the generated alphabet: a story never seen before.
        let added = GenItem { guid: Some("fresh-story".into()), ..fresh };
        grown.insert(at.index(items.len() + 1), added);
        let d = detect_after(&before, &read(&grown));
        prop_assert_eq!(d.drafts.len(), 1, "events: {:?}", d.drafts);
        prop_assert_eq!(d.drafts[0].kind, EventKind::ItemNew);
        let key = d.drafts[0].item.as_ref().map(|i| i.key.as_str());
        prop_assert_eq!(key, Some("fresh-story"));
        prop_assert!(d.gone.is_empty());
    }

    #[test]
    fn ignore_patterns_are_applied_to_a_fixed_point(
        body in "[ab ]{0,16}",
    ) {
        let ignore = [regex::Regex::new("ab").map_err(|e| TestCaseError::fail(e.to_string()))?];
        let once = feedwatch::text::apply_ignore(&body, &ignore);
        let twice = feedwatch::text::apply_ignore(&once, &ignore);
        prop_assert_eq!(&once, &twice);
        prop_assert!(!once.contains("ab"), "{once:?} still matches");
    }
}
