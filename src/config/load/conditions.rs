//! Alert conditions (`alert_if`, `alert_unless`, `alert_fields`,
//! `min_change`): allowed in `[settings]` as defaults and in each
//! `[[source]]`, where each key given replaces the default.

use regex::Regex;

use super::values::{Checker, Table, did_you_mean, list, regex_reason};
use crate::config::{Conditions, Field};

/// The keys read here, in both kinds of table.
pub(super) const KEYS: [&str; 4] = ["alert_if", "alert_unless", "alert_fields", "min_change"];

/// The conditions of table `t`, each key left out taken from `defaults`.
pub(super) fn read(ck: &mut Checker<'_>, t: &Table<'_>, defaults: &Conditions) -> Conditions {
    Conditions {
        alert_if: patterns(ck, t, "alert_if").unwrap_or_else(|| defaults.alert_if.clone()),
        alert_unless: patterns(ck, t, "alert_unless")
            .unwrap_or_else(|| defaults.alert_unless.clone()),
        alert_fields: fields(ck, t).unwrap_or_else(|| defaults.alert_fields.clone()),
        min_change: ck.int(t, "min_change", 0).unwrap_or(defaults.min_change),
    }
}

/// `None` when the key is absent; a present key with bad patterns keeps the good ones.
fn patterns(ck: &mut Checker<'_>, t: &Table<'_>, key: &str) -> Option<Vec<Regex>> {
    t.get(key)?;
    let written = ck.strings(t, key).unwrap_or_default();
    let mut out = Vec::with_capacity(written.len());
    for p in written {
        match Regex::new(p.value) {
            Ok(re) => out.push(re),
            Err(e) => {
                let message = format!(
                    "`{}` is not a valid regular expression: {}",
                    p.value,
                    regex_reason(&e)
                );
                ck.problem(p.at, t.path(key), message);
            }
        }
    }
    Some(out)
}

fn fields(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Vec<Field>> {
    let names = ck.strings(t, "alert_fields")?;
    let all = Field::ALL.map(Field::as_str);
    let mut out = Vec::with_capacity(names.len());
    for s in names {
        match Field::parse(s.value) {
            Some(field) if !out.contains(&field) => out.push(field),
            Some(_) => {}
            None => {
                let hint = did_you_mean(s.value, all);
                let message = format!(
                    "`{}` is not an item field{hint}; the fields are {}",
                    s.value,
                    list(&all)
                );
                ck.problem(s.at, t.path("alert_fields"), message);
            }
        }
    }
    Some(out)
}
