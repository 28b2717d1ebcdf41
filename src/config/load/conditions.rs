//! Alert conditions (`alert_if`, `alert_unless`, `alert_fields`,
//! `min_change`): allowed in `[settings]` as defaults and in each
//! `[[source]]`, where each key given replaces the default.

use super::not_a_field;
use super::values::{Checker, Table, regexes};
use crate::config::{Conditions, Field};

/// The keys read here, in both kinds of table.
pub(super) const KEYS: [&str; 4] = ["alert_if", "alert_unless", "alert_fields", "min_change"];

/// The conditions of table `t`, each key left out taken from `defaults`.
pub(super) fn read(ck: &mut Checker<'_>, t: &Table<'_>, defaults: &Conditions) -> Conditions {
    Conditions {
        alert_if: regexes(ck, t, "alert_if").unwrap_or_else(|| defaults.alert_if.clone()),
        alert_unless: regexes(ck, t, "alert_unless")
            .unwrap_or_else(|| defaults.alert_unless.clone()),
        alert_fields: fields(ck, t).unwrap_or_else(|| defaults.alert_fields.clone()),
        min_change: ck.int(t, "min_change", 0).unwrap_or(defaults.min_change),
    }
}

/// `None` when the key is absent; a present key with bad patterns keeps the good ones.
fn fields(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Vec<Field>> {
    let names = ck.strings(t, "alert_fields")?;
    let mut out = Vec::with_capacity(names.len());
    for s in names {
        match Field::parse(s.value) {
            Some(field) if !out.contains(&field) => out.push(field),
            Some(_) => {}
            None => not_a_field(ck, t, "alert_fields", &s),
        }
    }
    Some(out)
}
