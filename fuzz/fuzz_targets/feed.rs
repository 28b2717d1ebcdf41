//! Bytes as a server might send them → decoding → parsing → identity →
//! detection. Beyond "no panic": keys are unique, and a document compared
//! with itself yields no events.
#![no_main]

use std::collections::{HashMap, HashSet};

use feedwatch::config::{Field, Track};
use feedwatch::detect::{Held, Rules, Snapshot, detect};
use feedwatch::source::feed;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/rss+xml; charset=utf-8"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/atom+xml; charset=utf-16"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let base = url::Url::parse("https://example.org/feed/").ok();
    let Ok(doc) = feed::read(body, content_type, base.as_ref()) else {
        return;
    };
    let mut keys = HashSet::new();
    for item in &doc.items {
        assert!(keys.insert(item.key.as_str()), "duplicate key {:?}", item.key);
    }
    let held: HashMap<String, Held> = doc
        .items
        .iter()
        .enumerate()
        .map(|(position, item)| {
            let held = Held {
                version: 1,
                snapshot: Snapshot::from_item(item, &[]),
                present: true,
                position: u32::try_from(position).ok(),
            };
            (item.key.clone(), held)
        })
        .collect();
    let rules = Rules {
        compare: &Field::ALL,
        track: Track {
            new: true,
            updated: true,
            removed: true,
        },
        ignore: &[],
        quiet: false,
    };
    let again = detect(&held, &doc.items, &rules);
    assert!(again.drafts.is_empty(), "events from an unchanged document");
    let fresh = detect(&HashMap::new(), &doc.items, &rules);
    assert_eq!(fresh.drafts.len(), doc.items.len());
});
