//! Item identity: which story an entry is, whichever reader found it.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use url::Url;

use super::Item;

/// An entry's fields, with the guid kept apart until keys are assigned.
pub(super) struct Fields {
    pub guid: String,
    pub item: Item,
}

/// Identity per the contract: guid, else own link, else a hash of title and
/// content; a guid repeated within one feed is told apart by link. Never
/// depends on item order.
pub(super) fn assign_keys(fields: Vec<Fields>) -> Vec<Item> {
    let base_keys: Vec<String> = fields.iter().map(base_key).collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for k in &base_keys {
        *counts.entry(k.as_str()).or_default() += 1;
    }
    let repeated: Vec<bool> = base_keys
        .iter()
        .map(|k| counts.get(k.as_str()).copied().unwrap_or(0) > 1)
        .collect();
    let mut keyed: Vec<Item> = Vec::with_capacity(fields.len());
    for ((f, base), repeated) in fields.into_iter().zip(base_keys).zip(repeated) {
        let mut item = f.item;
        item.key = if repeated {
            disambiguate(&base, &item)
        } else {
            base
        };
        keyed.push(item);
    }
    drop_exact_duplicates(keyed)
}

fn base_key(f: &Fields) -> String {
    if !f.guid.is_empty() {
        return f.guid.clone();
    }
    if !f.item.link.is_empty() {
        return normalize_link(&f.item.link);
    }
    content_hash(&f.item)
}

fn disambiguate(base: &str, item: &Item) -> String {
    let link = normalize_link(&item.link);
    if link.is_empty() || link == base {
        format!("{base} {}", content_hash(item))
    } else {
        format!("{base} {link}")
    }
}

/// Identical keys that survive disambiguation are the same story listed
/// twice. Which copy is kept must not depend on where each copy sits, so the
/// least by content wins, at the place of the first.
fn drop_exact_duplicates(items: Vec<Item>) -> Vec<Item> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        match at.get(&item.key) {
            Some(&i) => {
                if content_order(&item, &kept[i]) == std::cmp::Ordering::Less {
                    kept[i] = item;
                }
            }
            None => {
                at.insert(item.key.clone(), kept.len());
                kept.push(item);
            }
        }
    }
    kept
}

fn content_order(a: &Item, b: &Item) -> std::cmp::Ordering {
    (&a.title, &a.link, a.published, a.updated)
        .cmp(&(&b.title, &b.link, b.published, b.updated))
        .then_with(|| (&a.author, &a.summary, &a.content).cmp(&(&b.author, &b.summary, &b.content)))
}

pub fn normalize_link(link: &str) -> String {
    let trimmed = link.trim();
    match Url::parse(trimmed) {
        Ok(mut url) => {
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => trimmed.to_string(),
    }
}

fn content_hash(item: &Item) -> String {
    let mut h = Sha256::new();
    h.update(item.title.as_bytes());
    h.update([0]);
    h.update(item.content.as_bytes());
    h.update([0]);
    h.update(item.summary.as_bytes());
    let digest = h.finalize();
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}
