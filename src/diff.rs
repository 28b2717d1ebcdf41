//! Diffs people read: unified line diffs for events, bounded in time.

use std::time::{Duration, Instant};

use similar::TextDiff;

/// How long one diff may take before `similar` settles for a coarser answer
/// (whole blocks of lines shown as removed and added).
const DEADLINE: Duration = Duration::from_millis(500);

/// How long all the diffs of one poll may take together: past it, every
/// further diff takes the coarse answer at once, so no mix of inputs can
/// hold up a poll.
pub const POLL_BUDGET: Duration = Duration::from_secs(2);

/// A unified diff from `before` to `after` with three lines of context.
pub fn unified(before: &str, after: &str) -> String {
    unified_by(before, after, Instant::now() + DEADLINE)
}

/// Like [`unified`], settling for the coarse answer at `budget` if that
/// comes before the usual deadline.
pub fn unified_by(before: &str, after: &str, budget: Instant) -> String {
    labelled(before, after, "before", "after", budget)
}

/// A unified diff with the given names in its `---`/`+++` header.
pub fn unified_labelled(before: &str, after: &str, old: &str, new: &str) -> String {
    labelled(before, after, old, new, Instant::now() + DEADLINE)
}

fn labelled(before: &str, after: &str, old: &str, new: &str, budget: Instant) -> String {
    let before = with_final_newline(before);
    let after = with_final_newline(after);
    TextDiff::configure()
        .deadline(budget.min(Instant::now() + DEADLINE))
        .diff_lines(before.as_str(), after.as_str())
        .unified_diff()
        .context_radius(3)
        .missing_newline_hint(false)
        .header(old, new)
        .to_string()
}

fn with_final_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// The one contiguous edit that turns `before` into `after`, found by
/// trimming their common prefix and suffix (on character boundaries).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Edit {
    pub kind: EditKind,
    pub removed: String,
    pub added: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditKind {
    PrefixAdded,
    SuffixAdded,
    TextInserted,
    PrefixRemoved,
    SuffixRemoved,
    TextRemoved,
    TextReplaced,
}

impl EditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EditKind::PrefixAdded => "prefix_added",
            EditKind::SuffixAdded => "suffix_added",
            EditKind::TextInserted => "text_inserted",
            EditKind::PrefixRemoved => "prefix_removed",
            EditKind::SuffixRemoved => "suffix_removed",
            EditKind::TextRemoved => "text_removed",
            EditKind::TextReplaced => "text_replaced",
        }
    }
}

/// Describes the edit between two different strings; `None` when equal.
pub fn edit(before: &str, after: &str) -> Option<Edit> {
    if before == after {
        return None;
    }
    // Whole-string prefixes and suffixes first, so "S" + "tory" and "SPAM Story"
    // read as "SPAM " added in front, the same edit on every item.
    let whole = |kind, removed: &str, added: &str| {
        Some(Edit {
            kind,
            removed: removed.to_string(),
            added: added.to_string(),
        })
    };
    if let Some(added) = after.strip_suffix(before) {
        return whole(EditKind::PrefixAdded, "", added);
    }
    if let Some(added) = after.strip_prefix(before) {
        return whole(EditKind::SuffixAdded, "", added);
    }
    if let Some(removed) = before.strip_suffix(after) {
        return whole(EditKind::PrefixRemoved, removed, "");
    }
    if let Some(removed) = before.strip_prefix(after) {
        return whole(EditKind::SuffixRemoved, removed, "");
    }
    let prefix = common_prefix(before, after);
    let (b_rest, a_rest) = (&before[prefix..], &after[prefix..]);
    let suffix = common_suffix(b_rest, a_rest);
    let removed = &b_rest[..b_rest.len() - suffix];
    let added = &a_rest[..a_rest.len() - suffix];
    let at_start = prefix == 0;
    let at_end = suffix == 0;
    let kind = match (removed.is_empty(), added.is_empty()) {
        (true, _) if at_start => EditKind::PrefixAdded,
        (true, _) if at_end => EditKind::SuffixAdded,
        (true, _) => EditKind::TextInserted,
        (false, true) if at_start => EditKind::PrefixRemoved,
        (false, true) if at_end => EditKind::SuffixRemoved,
        (false, true) => EditKind::TextRemoved,
        (false, false) => EditKind::TextReplaced,
    };
    Some(Edit {
        kind,
        removed: removed.to_string(),
        added: added.to_string(),
    })
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, ca), cb)| ca != cb)
        .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i)
}

fn common_suffix(a: &str, b: &str) -> usize {
    let mut len = 0;
    for (ca, cb) in a.chars().rev().zip(b.chars().rev()) {
        if ca != cb {
            break;
        }
        len += ca.len_utf8();
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_marks_the_changed_line() {
        let d = unified("one\ntwo\nthree", "one\n2\nthree");
        assert!(d.starts_with("--- before\n+++ after\n@@"));
        assert!(d.contains("\n-two\n"));
        assert!(d.contains("\n+2\n"));
    }

    #[test]
    fn a_spent_budget_still_gives_a_correct_diff() {
        let before: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let after: String = (0..2000).rev().map(|i| format!("line {i}\n")).collect();
        let d = unified_by(&before, &after, Instant::now());
        assert!(d.starts_with("--- before\n+++ after\n@@"));
        // Coarse or not, applying it must give `after`: every line of after
        // is there as context or an addition.
        let rebuilt: String = d
            .lines()
            .skip(2)
            .filter(|l| l.starts_with('+') || l.starts_with(' '))
            .map(|l| format!("{}\n", &l[1..]))
            .collect();
        assert_eq!(rebuilt, after);
    }

    #[test]
    fn prefix_edit_is_named() {
        let e = edit("Title", "极速赛车168最新开奖号码 Title");
        assert_eq!(
            e,
            Some(Edit {
                kind: EditKind::PrefixAdded,
                removed: String::new(),
                added: "极速赛车168最新开奖号码 ".into()
            })
        );
    }

    #[test]
    fn other_edits_are_named() {
        let kind = |a: &str, b: &str| edit(a, b).map(|e| e.kind);
        assert_eq!(kind("abc", "abcX"), Some(EditKind::SuffixAdded));
        assert_eq!(kind("abc", "aXbc"), Some(EditKind::TextInserted));
        assert_eq!(kind("Xabc", "abc"), Some(EditKind::PrefixRemoved));
        assert_eq!(kind("abcX", "abc"), Some(EditKind::SuffixRemoved));
        assert_eq!(kind("aXbc", "abc"), Some(EditKind::TextRemoved));
        assert_eq!(kind("a1c", "a2c"), Some(EditKind::TextReplaced));
        assert_eq!(kind("same", "same"), None);
    }

    #[test]
    fn a_prefix_sharing_a_first_letter_is_still_a_prefix() {
        let e = edit("Story 1", "SPAM Story 1");
        assert_eq!(
            e.map(|e| (e.kind, e.added)),
            Some((EditKind::PrefixAdded, "SPAM ".into()))
        );
    }

    #[test]
    fn repeated_characters_do_not_overlap() {
        let e = edit("aa", "aaa").map(|e| e.added);
        assert_eq!(e.as_deref(), Some("a"));
    }
}
