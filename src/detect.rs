//! Old items versus new items: which stories are new, edited or taken down,
//! and when many edits are really one (a defaced feed).

pub mod conditions;
pub mod flapping;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use regex::Regex;

use crate::config::{Conditions, Field, Track};
use crate::diff::{self, Edit};
use crate::event::{Bulk, Change, Draft, EventKind, ItemRef, format_time};
use crate::source::Item;
use crate::text;
use conditions::Candidate;

/// A stored version of an item: normalised text, `ignore` patterns removed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub title: String,
    pub link: String,
    pub published: Option<String>,
    pub updated: Option<String>,
    pub author: String,
    pub summary: String,
    pub content: String,
    pub article: String,
    /// The enclosure's address and media type; empty when there is none.
    pub enclosure_url: String,
    pub enclosure_type: String,
}

impl Snapshot {
    pub fn from_item(item: &Item, ignore: &[Regex]) -> Snapshot {
        Snapshot {
            title: text::apply_ignore(&item.title, ignore),
            link: item.link.clone(),
            published: item.published.map(format_time),
            updated: item.updated.map(format_time),
            author: item.author.clone(),
            summary: text::apply_ignore(&item.summary, ignore),
            content: text::apply_ignore(&item.content, ignore),
            article: String::new(),
            enclosure_url: item
                .enclosure
                .as_ref()
                .map(|e| e.url.clone())
                .unwrap_or_default(),
            enclosure_type: item
                .enclosure
                .as_ref()
                .map(|e| e.media_type.clone())
                .unwrap_or_default(),
        }
    }

    pub fn field(&self, field: Field) -> &str {
        match field {
            Field::Title => &self.title,
            Field::Link => &self.link,
            Field::Summary => &self.summary,
            Field::Content => &self.content,
            Field::Author => &self.author,
            Field::Published => self.published.as_deref().unwrap_or(""),
            Field::Article => &self.article,
        }
    }

    pub fn item_ref(&self, key: &str, version: u32) -> ItemRef {
        ItemRef {
            key: key.to_string(),
            title: self.title.clone(),
            link: self.link.clone(),
            published: self.published.clone(),
            version,
        }
    }
}

/// What the store holds of an item: its current version and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub version: u32,
    pub snapshot: Snapshot,
    pub present: bool,
    /// Position in the document when last seen (0 = first).
    pub position: Option<u32>,
}

/// The user's rules for one source.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub compare: &'a [Field],
    pub track: Track,
    pub ignore: &'a [Regex],
    /// The first poll of a source records quietly.
    pub quiet: bool,
    /// Which of the changes found are raised.
    pub conditions: &'a Conditions,
}

/// An item as it must be written after this poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemWrite {
    pub key: String,
    pub position: u32,
    pub published: Option<String>,
    /// A new version number and its text, when anything stored differs.
    pub new_version: Option<(u32, Snapshot)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detection {
    pub writes: Vec<ItemWrite>,
    /// Items that were present and are no longer in the document.
    pub gone: Vec<String>,
    pub drafts: Vec<Draft>,
    /// Changes the conditions held back: recorded, never delivered.
    pub held: Vec<HeldBack>,
}

/// An event the alert conditions decided not to raise, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBack {
    pub draft: Draft,
    pub reason: String,
}

/// Compares the held items with a freshly read document.
pub fn detect(held: &HashMap<String, Held>, items: &[Item], rules: &Rules) -> Detection {
    detect_with_articles(held, items, &HashMap::new(), rules)
}

/// Like [`detect`], for a source that follows links: `articles` holds the
/// article text read in this poll, by item key; an item without one keeps
/// the article it had.
pub fn detect_with_articles(
    held: &HashMap<String, Held>,
    items: &[Item],
    articles: &HashMap<String, String>,
    rules: &Rules,
) -> Detection {
    let mut out = Detection::default();
    let mut updates: Vec<PendingUpdate> = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let mut snapshot = Snapshot::from_item(item, rules.ignore);
        snapshot.article = articles
            .get(&item.key)
            .or_else(|| held.get(&item.key).map(|h| &h.snapshot.article))
            .cloned()
            .unwrap_or_default();
        let position = u32::try_from(position).unwrap_or(u32::MAX);
        let write = |new_version| ItemWrite {
            key: item.key.clone(),
            position,
            published: snapshot.published.clone(),
            new_version,
        };
        match held.get(&item.key) {
            None => {
                if !rules.quiet && rules.track.new {
                    let draft =
                        Draft::new(EventKind::ItemNew).about(snapshot.item_ref(&item.key, 1));
                    let candidate = Candidate::New {
                        after: &snapshot,
                        compare: rules.compare,
                    };
                    out.raise_or_hold(draft, conditions::verdict(rules.conditions, candidate));
                }
                out.writes.push(write(Some((1, snapshot.clone()))));
            }
            Some(h) if h.snapshot == snapshot => out.writes.push(write(None)),
            Some(h) => {
                let version = h.version + 1;
                let changed = changed_fields(&h.snapshot, &snapshot, rules.compare);
                if !rules.quiet && rules.track.updated && !changed.is_empty() {
                    updates.push(PendingUpdate {
                        key: item.key.clone(),
                        before: h.snapshot.clone(),
                        after: snapshot.clone(),
                        version,
                        fields: changed,
                    });
                }
                out.writes.push(write(Some((version, snapshot.clone()))));
            }
        }
    }
    out.gone = vanished(held, items);
    if !rules.quiet && rules.track.removed {
        out.drafts.extend(removals(held, items, &out.gone));
    }
    fold_bulk(updates, items.len(), rules.conditions, &mut out);
    out
}

/// Article edits found while the feed itself answered 304: each held item
/// whose freshly read article differs gets a new version, reported as
/// `item.updated` (or folded into one bulk change) like any other edit.
pub fn detect_articles(
    held: &HashMap<String, Held>,
    articles: &HashMap<String, String>,
    rules: &Rules,
) -> Detection {
    let mut out = Detection::default();
    let mut updates = Vec::new();
    let mut keys: Vec<&String> = articles.keys().collect();
    keys.sort_by_key(|k| held.get(*k).and_then(|h| h.position));
    for key in keys {
        let (Some(h), Some(text)) = (held.get(key), articles.get(key)) else {
            continue;
        };
        if !h.present || h.snapshot.article == *text {
            continue;
        }
        let after = Snapshot {
            article: text.clone(),
            ..h.snapshot.clone()
        };
        let version = h.version + 1;
        let fields = changed_fields(&h.snapshot, &after, rules.compare);
        if !rules.quiet && rules.track.updated && !fields.is_empty() {
            updates.push(PendingUpdate {
                key: key.clone(),
                before: h.snapshot.clone(),
                after: after.clone(),
                version,
                fields,
            });
        }
        out.writes.push(ItemWrite {
            key: key.clone(),
            position: h.position.unwrap_or(0),
            published: after.published.clone(),
            new_version: Some((version, after)),
        });
    }
    let present = held.values().filter(|h| h.present).count();
    fold_bulk(updates, present, rules.conditions, &mut out);
    out
}

/// The name pages give their one compared field in `page.changed` events.
pub const PAGE_FIELD: &str = "text";

/// Compares a page's stored text with the text just read. Only the selected
/// text counts: a new title alone is neither an event nor a version. Any
/// other key still held (the source's old address) is let go. The alert
/// conditions look at the words the change added or removed; a page has no
/// fields to choose among, so `alert_fields` does not apply.
pub fn detect_page(
    held: &HashMap<String, Held>,
    key: &str,
    page: Snapshot,
    quiet: bool,
    conditions: &Conditions,
) -> Detection {
    let mut out = Detection::default();
    let mut gone: Vec<String> = held
        .iter()
        .filter(|(k, h)| h.present && k.as_str() != key)
        .map(|(k, _)| k.clone())
        .collect();
    gone.sort();
    out.gone = gone;
    let write = |new_version| ItemWrite {
        key: key.to_string(),
        position: 0,
        published: None,
        new_version,
    };
    let previous = held.get(key);
    if previous.is_some_and(|h| h.snapshot.content == page.content) {
        out.writes.push(write(None));
        return out;
    }
    let version = previous.map_or(1, |h| h.version + 1);
    let empty = Snapshot::default();
    let held_page = previous.map_or(&empty, |h| &h.snapshot);
    let before = held_page.content.as_str();
    if !quiet {
        let mut draft = Draft::new(EventKind::PageChanged).about(page.item_ref(key, version));
        draft.changes = vec![Change {
            field: PAGE_FIELD.to_string(),
            before: before.to_string(),
            after: page.content.clone(),
            diff: diff::unified(before, &page.content),
        }];
        let whole_text = Conditions {
            alert_fields: Vec::new(),
            ..conditions.clone()
        };
        let candidate = Candidate::Edit {
            before: held_page,
            after: &page,
            fields: &[Field::Content],
        };
        out.raise_or_hold(draft, conditions::verdict(&whole_text, candidate));
    }
    out.writes.push(write(Some((version, page))));
    out
}

/// The compared fields that differ. An article read for the first time (the
/// item's link was never read before, or following was just turned on) is
/// stored but is not an edit.
fn changed_fields(before: &Snapshot, after: &Snapshot, compare: &[Field]) -> Vec<Field> {
    compare
        .iter()
        .copied()
        .filter(|f| before.field(*f) != after.field(*f))
        .filter(|f| *f != Field::Article || !before.article.is_empty())
        .collect()
}

fn vanished(held: &HashMap<String, Held>, items: &[Item]) -> Vec<String> {
    let present: HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
    let mut gone: Vec<(&u32, &String)> = held
        .iter()
        .filter(|(k, h)| h.present && !present.contains(k.as_str()))
        .map(|(k, h)| (h.position.as_ref().unwrap_or(&u32::MAX), k))
        .collect();
    gone.sort();
    gone.into_iter().map(|(_, k)| k.clone()).collect()
}

/// A vanished item was taken down (not rolled off the end) when an item
/// older than it is still in the document: older by date when both have
/// one, else lower in the previous document.
fn removals(held: &HashMap<String, Held>, items: &[Item], gone: &[String]) -> Vec<Draft> {
    let mut drafts = Vec::new();
    for key in gone {
        let Some(missing) = held.get(key) else {
            continue;
        };
        let taken_down = items.iter().any(|item| {
            let by_date = match (&missing.snapshot.published, item.published) {
                (Some(m), Some(p)) => Some(format_time(p) < *m),
                _ => None,
            };
            let by_position = match (missing.position, held.get(&item.key)) {
                (Some(m), Some(h)) if h.present => h.position.map(|p| p > m),
                _ => None,
            };
            by_date.or(by_position).unwrap_or(false)
        });
        if taken_down {
            drafts.push(
                Draft::new(EventKind::ItemRemoved)
                    .about(missing.snapshot.item_ref(key, missing.version)),
            );
        }
    }
    drafts
}

struct PendingUpdate {
    key: String,
    before: Snapshot,
    after: Snapshot,
    version: u32,
    fields: Vec<Field>,
}

fn change(field: Field, before: &Snapshot, after: &Snapshot, budget: Instant) -> Change {
    let (b, a) = (before.field(field), after.field(field));
    Change {
        field: field.as_str().to_string(),
        before: b.to_string(),
        after: a.to_string(),
        diff: diff::unified_by(b, a, budget),
    }
}

impl Detection {
    fn raise_or_hold(&mut self, draft: Draft, verdict: Result<(), conditions::Reason>) {
        match verdict {
            Ok(()) => self.drafts.push(draft),
            Err(reason) => self.held.push(HeldBack {
                draft,
                reason: reason.to_string(),
            }),
        }
    }
}

/// Folds one edit repeated on at least 3 items and half of the document into
/// a single `source.bulk_change`; what remains becomes `item.updated`, raised
/// or held back as the conditions say. A bulk change is the source's own
/// event (a defacement), so conditions on items never hold it back.
fn fold_bulk(
    mut updates: Vec<PendingUpdate>,
    document_items: usize,
    conditions: &Conditions,
    out: &mut Detection,
) {
    let budget = Instant::now() + diff::POLL_BUDGET;
    let mut groups: BTreeMap<(Field, String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, u) in updates.iter().enumerate() {
        for &field in &u.fields {
            if let Some(Edit {
                kind,
                removed,
                added,
            }) = diff::edit(u.before.field(field), u.after.field(field))
            {
                let sig = (field, kind.as_str().to_string(), removed, added);
                groups.entry(sig).or_default().push(i);
            }
        }
    }
    for ((field, edit, removed, added), members) in groups {
        if members.len() < 3 || members.len() * 2 < document_items {
            continue;
        }
        let mut draft = bulk_draft(field, &edit, &removed, &added, &members, &updates);
        if let Some(&first) = members.first() {
            let (before, after) = (&updates[first].before, &updates[first].after);
            draft.changes = vec![change(field, before, after, budget)];
        }
        out.drafts.push(draft);
        for &i in &members {
            updates[i].fields.retain(|f| *f != field);
        }
    }
    for u in updates.into_iter().filter(|u| !u.fields.is_empty()) {
        let mut draft =
            Draft::new(EventKind::ItemUpdated).about(u.after.item_ref(&u.key, u.version));
        draft.changes = u
            .fields
            .iter()
            .map(|f| change(*f, &u.before, &u.after, budget))
            .collect();
        let candidate = Candidate::Edit {
            before: &u.before,
            after: &u.after,
            fields: &u.fields,
        };
        out.raise_or_hold(draft, conditions::verdict(conditions, candidate));
    }
}

fn bulk_draft(
    field: Field,
    edit: &str,
    removed: &str,
    added: &str,
    members: &[usize],
    updates: &[PendingUpdate],
) -> Draft {
    let what = match (removed.is_empty(), added.is_empty()) {
        (true, _) => format!("{:?} added to", added),
        (false, true) => format!("{:?} removed from", removed),
        (false, false) => format!("{:?} replaced by {:?} in", removed, added),
    };
    let place = edit.split('_').next().unwrap_or("text");
    let summary = format!(
        "{} {what} the {} of {} items",
        if place == "text" { "text" } else { place },
        field.as_str(),
        members.len()
    );
    let mut draft = Draft::new(EventKind::BulkChange);
    draft.bulk = Some(Bulk {
        field: field.as_str().to_string(),
        edit: edit.to_string(),
        added: added.to_string(),
        removed: removed.to_string(),
        summary,
    });
    draft.items = members
        .iter()
        .map(|&i| {
            updates[i]
                .after
                .item_ref(&updates[i].key, updates[i].version)
        })
        .collect();
    draft
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, title: &str, content: &str) -> Item {
        Item {
            key: key.into(),
            title: title.into(),
            link: format!("https://e.org/{key}"),
            published: None,
            updated: None,
            author: String::new(),
            summary: String::new(),
            content: content.into(),
            enclosure: None,
        }
    }

    fn hold(items: &[Item]) -> HashMap<String, Held> {
        items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let held = Held {
                    version: 1,
                    snapshot: Snapshot::from_item(it, &[]),
                    present: true,
                    position: Some(i as u32),
                };
                (it.key.clone(), held)
            })
            .collect()
    }

    const COMPARE: &[Field] = &[Field::Title, Field::Link, Field::Summary, Field::Content];
    static NO_CONDITIONS: Conditions = Conditions {
        alert_if: Vec::new(),
        alert_unless: Vec::new(),
        alert_fields: Vec::new(),
        min_change: 0,
    };

    fn rules(quiet: bool) -> Rules<'static> {
        Rules {
            compare: COMPARE,
            track: Track {
                new: true,
                updated: true,
                removed: true,
            },
            ignore: &[],
            quiet,
            conditions: &NO_CONDITIONS,
        }
    }

    fn kinds(d: &Detection) -> Vec<EventKind> {
        d.drafts.iter().map(|d| d.kind).collect()
    }

    fn feed(n: usize) -> Vec<Item> {
        (0..n)
            .map(|i| item(&format!("k{i}"), &format!("Story {i}"), "body"))
            .collect()
    }

    #[test]
    fn first_poll_is_quiet_but_stores_versions() {
        let d = detect(&HashMap::new(), &feed(3), &rules(true));
        assert!(d.drafts.is_empty());
        assert!(
            d.writes
                .iter()
                .all(|w| w.new_version.as_ref().is_some_and(|v| v.0 == 1))
        );
    }

    #[test]
    fn unchanged_feed_writes_no_version() {
        let items = feed(4);
        let d = detect(&hold(&items), &items, &rules(false));
        assert!(d.drafts.is_empty());
        assert!(d.writes.iter().all(|w| w.new_version.is_none()));
    }

    #[test]
    fn one_edit_is_one_update_with_a_diff() {
        let items = feed(4);
        let mut next = items.clone();
        next[1].content = "body\nA new sentence.".into();
        let d = detect(&hold(&items), &next, &rules(false));
        assert_eq!(kinds(&d), [EventKind::ItemUpdated]);
        let change = &d.drafts[0].changes[0];
        assert_eq!(change.field, "content");
        assert!(change.diff.contains("+A new sentence."));
        assert_eq!(d.drafts[0].item.as_ref().map(|i| i.version), Some(2));
    }

    #[test]
    fn same_prefix_on_every_title_is_one_bulk_change() {
        let items = feed(10);
        let next: Vec<Item> = items
            .iter()
            .map(|i| Item {
                title: format!("SPAM {}", i.title),
                ..i.clone()
            })
            .collect();
        let d = detect(&hold(&items), &next, &rules(false));
        assert_eq!(kinds(&d), [EventKind::BulkChange]);
        let bulk = d.drafts[0].bulk.clone().unwrap_or_else(|| panic!("bulk"));
        assert_eq!(bulk.added, "SPAM ");
        assert_eq!(bulk.edit, "prefix_added");
        assert_eq!(d.drafts[0].items.len(), 10);
    }

    #[test]
    fn two_similar_edits_are_not_bulk() {
        let items = feed(10);
        let mut next = items.clone();
        next[0].title = format!("X {}", next[0].title);
        next[1].title = format!("X {}", next[1].title);
        let d = detect(&hold(&items), &next, &rules(false));
        assert_eq!(kinds(&d), [EventKind::ItemUpdated, EventKind::ItemUpdated]);
    }

    #[test]
    fn removed_from_middle_but_not_rolled_off_end() {
        let items = feed(5);
        let mut middle = items.clone();
        middle.remove(2);
        let d = detect(&hold(&items), &middle, &rules(false));
        assert_eq!(kinds(&d), [EventKind::ItemRemoved]);
        assert_eq!(d.gone, ["k2"]);

        let mut rolled = items.clone();
        rolled.pop();
        let d = detect(&hold(&items), &rolled, &rules(false));
        assert!(d.drafts.is_empty());
        assert_eq!(d.gone, ["k4"]);
    }

    #[test]
    fn ignored_text_and_markup_are_not_edits() {
        let re = [Regex::new(r"\d+ comments").unwrap_or_else(|e| panic!("{e}"))];
        let mut r = rules(false);
        r.ignore = &re;
        let items = [item("a", "T", "body 3 comments")];
        let held: HashMap<String, Held> = items
            .iter()
            .map(|it| {
                let snapshot = Snapshot::from_item(it, &re);
                (
                    it.key.clone(),
                    Held {
                        version: 1,
                        snapshot,
                        present: true,
                        position: Some(0),
                    },
                )
            })
            .collect();
        let next = vec![item("a", "T", "body 7 comments")];
        let d = detect(&held, &next, &r);
        assert!(d.drafts.is_empty());
        assert!(d.writes[0].new_version.is_none());
    }

    #[test]
    fn an_article_read_for_the_first_time_is_stored_but_not_an_edit() {
        let items = feed(4);
        let mut r = rules(false);
        let compare = [Field::Title, Field::Article];
        r.compare = &compare;
        let first: HashMap<String, String> = [("k1".to_string(), "The story.".to_string())].into();
        let d = detect_with_articles(&hold(&items), &items, &first, &r);
        assert!(d.drafts.is_empty(), "{:?}", d.drafts);
        assert_eq!(
            d.writes.iter().filter(|w| w.new_version.is_some()).count(),
            1
        );

        let mut held = hold(&items);
        if let Some(h) = held.get_mut("k1") {
            h.snapshot.article = "The story.".into();
        }
        let edited: HashMap<String, String> =
            [("k1".to_string(), "The edited story.".to_string())].into();
        let d = detect_articles(&held, &edited, &r);
        assert_eq!(kinds(&d), [EventKind::ItemUpdated]);
        assert_eq!(d.drafts[0].changes[0].field, "article");
        let untouched = detect_with_articles(&held, &items, &HashMap::new(), &r);
        assert!(untouched.writes.iter().all(|w| w.new_version.is_none()));
    }

    #[test]
    fn new_item_is_reported() {
        let items = feed(3);
        let mut next = vec![item("fresh", "Fresh", "x")];
        next.extend(items.clone());
        let d = detect(&hold(&items), &next, &rules(false));
        assert_eq!(kinds(&d), [EventKind::ItemNew]);
        assert_eq!(
            d.drafts[0].item.as_ref().map(|i| i.key.as_str()),
            Some("fresh")
        );
    }
}
