//! Alert conditions: whether a change detection found is worth an alert.
//! They decide events only; every version is stored whatever they say.

use std::time::{Duration, Instant};

use similar::{ChangeTag, TextDiff};

use super::Snapshot;
use crate::config::{Conditions, Field};

/// How long the word diff of one field may take before settling for a
/// coarser answer (whole stretches seen as removed and added).
const DEADLINE: Duration = Duration::from_millis(200);

/// A change as the conditions see it.
#[derive(Debug, Clone, Copy)]
pub enum Candidate<'a> {
    /// A story seen for the first time: all its text is new.
    New {
        after: &'a Snapshot,
        compare: &'a [Field],
    },
    /// An edit of the `fields` that differ.
    Edit {
        before: &'a Snapshot,
        after: &'a Snapshot,
        fields: &'a [Field],
    },
}

/// Why a change raised nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No `alert_if` pattern matched the text it added or changed.
    NoMatch,
    /// This `alert_unless` pattern matched.
    Unless(String),
    /// It changed this many characters, fewer than `min_change`.
    TooSmall { changed: usize, min: usize },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::NoMatch => f.write_str("alert_if matched nothing it changed"),
            Reason::Unless(p) => write!(f, "alert_unless matched `{p}`"),
            Reason::TooSmall { changed, min } => {
                let s = if *changed == 1 { "" } else { "s" };
                write!(
                    f,
                    "{changed} character{s} changed, under min_change = {min}"
                )
            }
        }
    }
}

/// `Ok` when the change is raised, else why it is held back.
pub fn verdict(conditions: &Conditions, candidate: Candidate<'_>) -> Result<(), Reason> {
    if !conditions.any() {
        return Ok(());
    }
    let text = match candidate {
        Candidate::New { after, compare } => new_text(after, watched(conditions, compare)),
        Candidate::Edit {
            before,
            after,
            fields,
        } => {
            if conditions.min_change > 0 {
                let changed = fields
                    .iter()
                    .map(|f| characters_changed(before.field(*f), after.field(*f)))
                    .sum();
                if changed < conditions.min_change {
                    let min = conditions.min_change;
                    return Err(Reason::TooSmall { changed, min });
                }
            }
            edited_text(before, after, watched(conditions, fields))
        }
    };
    matches(conditions, &text)
}

fn matches(conditions: &Conditions, text: &str) -> Result<(), Reason> {
    if !conditions.alert_if.is_empty() && !conditions.alert_if.iter().any(|re| re.is_match(text)) {
        return Err(Reason::NoMatch);
    }
    match conditions.alert_unless.iter().find(|re| re.is_match(text)) {
        Some(re) => Err(Reason::Unless(re.as_str().to_string())),
        None => Ok(()),
    }
}

/// The fields the patterns look at: `alert_fields` among `fields`, or all of them.
fn watched(conditions: &Conditions, fields: &[Field]) -> Vec<Field> {
    fields
        .iter()
        .copied()
        .filter(|f| conditions.alert_fields.is_empty() || conditions.alert_fields.contains(f))
        .collect()
}

fn new_text(after: &Snapshot, fields: Vec<Field>) -> String {
    let texts: Vec<&str> = fields.into_iter().map(|f| after.field(f)).collect();
    texts.join("\n")
}

/// The words an edit removed and the words it added, one per line, so a
/// pattern can match a word that went as well as one that came.
fn edited_text(before: &Snapshot, after: &Snapshot, fields: Vec<Field>) -> String {
    let mut out = String::new();
    for f in fields {
        let (old, new) = (before.field(f), after.field(f));
        let deadline = Instant::now() + DEADLINE;
        let diff = TextDiff::configure()
            .deadline(deadline)
            .diff_words(old, new);
        let mut last = ChangeTag::Equal;
        for change in diff.iter_all_changes() {
            let word = change.value();
            if change.tag() == ChangeTag::Equal {
                last = ChangeTag::Equal;
                continue;
            }
            if word.trim().is_empty() {
                continue;
            }
            // Words changed together stay together, so a phrase can match.
            out.push(if change.tag() == last { ' ' } else { '\n' });
            out.push_str(word);
            last = change.tag();
        }
    }
    out.trim_start().to_string()
}

/// Characters an edit changed in one field: the larger of what went and
/// what came, so replacing "3" with "4" is one character.
fn characters_changed(old: &str, new: &str) -> usize {
    let deadline = Instant::now() + DEADLINE;
    let diff = TextDiff::configure()
        .deadline(deadline)
        .diff_chars(old, new);
    let (mut removed, mut added) = (0, 0);
    for change in diff.iter_all_changes() {
        let n = change.value().chars().count();
        match change.tag() {
            ChangeTag::Delete => removed += n,
            ChangeTag::Insert => added += n,
            ChangeTag::Equal => {}
        }
    }
    removed.max(added)
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn re(p: &str) -> Regex {
        Regex::new(p).unwrap_or_else(|e| panic!("{e}"))
    }

    fn snap(title: &str, content: &str) -> Snapshot {
        Snapshot {
            title: title.into(),
            content: content.into(),
            ..Snapshot::default()
        }
    }

    const BOTH: &[Field] = &[Field::Title, Field::Content];

    #[test]
    fn alert_if_looks_at_the_words_an_edit_added_or_removed() {
        let c = Conditions {
            alert_if: vec![re("(?i)ofsted")],
            ..Conditions::default()
        };
        let before = snap("Ofsted report", "Rated good.");
        let edit = |after: &Snapshot| {
            verdict(
                &c,
                Candidate::Edit {
                    before: &before,
                    after,
                    fields: BOTH,
                },
            )
        };
        assert_eq!(
            edit(&snap("Ofsted report", "Rated outstanding.")),
            Err(Reason::NoMatch)
        );
        assert_eq!(edit(&snap("Report", "Rated good.")), Ok(()));
        assert_eq!(
            edit(&snap("Ofsted report", "Rated good. Ofsted says.")),
            Ok(())
        );
    }

    #[test]
    fn alert_fields_limit_what_the_patterns_see() {
        let c = Conditions {
            alert_unless: vec![re("typo")],
            alert_fields: vec![Field::Title],
            ..Conditions::default()
        };
        let after = snap("A typo fixed", "body typo");
        let new = Candidate::New {
            after: &after,
            compare: BOTH,
        };
        assert_eq!(verdict(&c, new), Err(Reason::Unless("typo".into())));
        let after = snap("A story", "body typo");
        let new = Candidate::New {
            after: &after,
            compare: BOTH,
        };
        assert_eq!(verdict(&c, new), Ok(()));
    }

    #[test]
    fn min_change_counts_characters_changed() {
        let c = Conditions {
            min_change: 3,
            ..Conditions::default()
        };
        let before = snap("T", "Funding of £3m");
        let small = snap("T", "Funding of £4m");
        let large = snap("T", "Funding of £3m withdrawn");
        let edit = |after| Candidate::Edit {
            before: &before,
            after,
            fields: BOTH,
        };
        assert_eq!(
            verdict(&c, edit(&small)),
            Err(Reason::TooSmall { changed: 1, min: 3 })
        );
        assert_eq!(verdict(&c, edit(&large)), Ok(()));
    }
}
