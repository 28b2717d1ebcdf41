//! Flapping: a story flipping between versions already seen (a CDN serving
//! two cached copies, a feed rotating a text) is reported once as an edit,
//! then once as `item.flapping`, then not again until it settles on a
//! version never seen before.
//!
//! The rule, over the compared fields only (so dates moving alone never
//! count): an edit whose new text equals one of the item's last
//! [`HISTORY`] stored versions is a flip. The first flip after a version
//! never seen before raises `item.flapping`; a flip made while the current
//! version was itself a repeat is held back; an edit to a never-seen text
//! raises `item.updated` as usual and starts over.

use std::collections::HashMap;

use super::{Detection, HeldBack, Snapshot};
use crate::config::Field;
use crate::event::EventKind;

/// Stored versions of an item looked at, the current one included.
pub const HISTORY: usize = 8;

/// What flips are held back for.
pub const REASON: &str = "flapping between versions already seen";

/// The compared text of a version, as one comparable value.
fn fingerprint(s: &Snapshot, compare: &[Field]) -> Vec<String> {
    compare.iter().map(|f| s.field(*f).to_string()).collect()
}

/// Turns the edits in `detection` that return to a version already seen
/// into one `item.flapping` or a held-back event. `history` holds, by item
/// key, the item's last stored versions, newest (the current one) first.
pub fn apply(
    detection: &mut Detection,
    history: &HashMap<String, Vec<Snapshot>>,
    compare: &[Field],
) {
    let new_text: HashMap<&str, Vec<String>> = detection
        .writes
        .iter()
        .filter_map(|w| {
            let (_, snap) = w.new_version.as_ref()?;
            Some((w.key.as_str(), fingerprint(snap, compare)))
        })
        .collect();
    let mut raised = Vec::with_capacity(detection.drafts.len());
    let mut held = Vec::new();
    for mut draft in std::mem::take(&mut detection.drafts) {
        let key = draft.item.as_ref().map(|i| i.key.as_str());
        let seen = key.and_then(|k| Some((new_text.get(k)?, history.get(k)?)));
        let flip = match seen {
            Some((text, versions)) if draft.kind == EventKind::ItemUpdated => {
                flip(text, versions, compare)
            }
            _ => Flip::No,
        };
        match flip {
            Flip::No => raised.push(draft),
            Flip::First => {
                draft.kind = EventKind::ItemFlapping;
                raised.push(draft);
            }
            Flip::Again => held.push(HeldBack {
                draft,
                reason: REASON.to_string(),
            }),
        }
    }
    detection.drafts = raised;
    detection.held.extend(held);
}

enum Flip {
    No,
    First,
    Again,
}

fn flip(text: &[String], versions: &[Snapshot], compare: &[Field]) -> Flip {
    // Versions differing only in fields not compared count as one.
    let mut texts: Vec<Vec<String>> = Vec::with_capacity(versions.len());
    for v in versions {
        let t = fingerprint(v, compare);
        if texts.last() != Some(&t) {
            texts.push(t);
        }
    }
    let Some((current, older)) = texts.split_first() else {
        return Flip::No;
    };
    if !texts.iter().any(|t| t.as_slice() == text) {
        return Flip::No;
    }
    if older.contains(current) {
        Flip::Again
    } else {
        Flip::First
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::ItemWrite;
    use crate::event::{Draft, ItemRef};

    const TITLE: &[Field] = &[Field::Title];

    fn snap(title: &str) -> Snapshot {
        Snapshot {
            title: title.into(),
            ..Snapshot::default()
        }
    }

    /// The event raised when the item, having been `past` (oldest first),
    /// now reads `now`.
    fn after(past: &[&str], now: &str) -> Option<EventKind> {
        let version = past.len() as u32 + 1;
        let mut d = Detection::default();
        d.writes.push(ItemWrite {
            key: "k".into(),
            position: 0,
            published: None,
            new_version: Some((version, snap(now))),
        });
        d.drafts
            .push(Draft::new(EventKind::ItemUpdated).about(ItemRef {
                key: "k".into(),
                title: now.into(),
                link: String::new(),
                published: None,
                version,
            }));
        let history = [(
            "k".to_string(),
            past.iter().rev().map(|t| snap(t)).collect(),
        )]
        .into();
        apply(&mut d, &history, TITLE);
        d.drafts.first().map(|d| d.kind)
    }

    #[test]
    fn a_b_a_b_a_is_one_edit_then_one_flapping_then_silence() {
        assert_eq!(after(&["A"], "B"), Some(EventKind::ItemUpdated));
        assert_eq!(after(&["A", "B"], "A"), Some(EventKind::ItemFlapping));
        assert_eq!(after(&["A", "B", "A"], "B"), None);
        assert_eq!(after(&["A", "B", "A", "B"], "A"), None);
        assert_eq!(
            after(&["A", "B", "A", "B", "A"], "C"),
            Some(EventKind::ItemUpdated)
        );
        assert_eq!(
            after(&["A", "B", "A", "B", "A", "C"], "A"),
            Some(EventKind::ItemFlapping)
        );
    }
}
