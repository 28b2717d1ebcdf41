//! Properties of the alert conditions over generated feeds: conditions
//! decide which events are raised and never which versions are stored.

use feedwatch::config::Conditions;
use feedwatch::detect::{Detection, Rules, detect};
use feedwatch::event::{Draft, EventKind};
use proptest::prelude::*;
use regex::Regex;

use crate::detect_properties::{COMPARE, GenItem, TRACK_ALL, gen_item, held_after, read};
use crate::support::OrFail;

fn detect_with(before: &[GenItem], after: &[GenItem], conditions: &Conditions) -> Detection {
    let rules = Rules {
        compare: &COMPARE,
        track: TRACK_ALL,
        ignore: &[],
        quiet: false,
        conditions,
    };
    let before = read(before);
    detect(&held_after(&before), &read(after), &rules)
}

fn pattern(p: &str) -> Regex {
    Regex::new(p).or_fail("a valid pattern")
}

fn is_item_event(d: &Draft) -> bool {
    matches!(d.kind, EventKind::ItemNew | EventKind::ItemUpdated)
}

fn two_polls() -> impl Strategy<Value = (Vec<GenItem>, Vec<GenItem>)> {
    (
        prop::collection::vec(gen_item(), 0..10),
        prop::collection::vec(gen_item(), 0..10),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_condition_matching_everything_changes_nothing((before, after) in two_polls()) {
        let everything = Conditions {
            alert_if: vec![pattern("")],
            ..Conditions::default()
        };
        let plain = detect_with(&before, &after, &Conditions::default());
        let conditioned = detect_with(&before, &after, &everything);
        prop_assert_eq!(&conditioned.drafts, &plain.drafts);
        prop_assert!(conditioned.held.is_empty(), "held: {:?}", conditioned.held);
        prop_assert_eq!(conditioned.writes, plain.writes);
        prop_assert_eq!(conditioned.gone, plain.gone);
    }

    #[test]
    fn a_condition_matching_nothing_raises_nothing_and_stores_every_version(
        (before, after) in two_polls(),
        unless in prop::bool::ANY,
    ) {
        // `a^` cannot match anything; `(?s).|^$` matches any text, empty included.
        let nothing = if unless {
            Conditions { alert_unless: vec![pattern("(?s).|^$")], ..Conditions::default() }
        } else {
            Conditions { alert_if: vec![pattern("a^")], ..Conditions::default() }
        };
        let plain = detect_with(&before, &after, &Conditions::default());
        let conditioned = detect_with(&before, &after, &nothing);
        prop_assert!(
            !conditioned.drafts.iter().any(is_item_event),
            "raised: {:?}", conditioned.drafts
        );
        let others: Vec<&Draft> = plain.drafts.iter().filter(|d| !is_item_event(d)).collect();
        let kept: Vec<&Draft> = conditioned.drafts.iter().collect();
        prop_assert_eq!(kept, others);
        let held: Vec<&Draft> = conditioned.held.iter().map(|h| &h.draft).collect();
        let items: Vec<&Draft> = plain.drafts.iter().filter(|d| is_item_event(d)).collect();
        prop_assert_eq!(held, items);
        prop_assert_eq!(conditioned.writes, plain.writes);
        prop_assert_eq!(conditioned.gone, plain.gone);
    }
}
