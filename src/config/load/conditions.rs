//! Alert conditions (`alert_if`, `alert_unless`, `alert_fields`,
//! `min_change`): allowed in `[settings]` as defaults and in each
//! `[[source]]`, where each key given replaces the default.

use super::values::{Checker, Table, did_you_mean, list, regexes};
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
