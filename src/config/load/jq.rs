//! The `jq` filter of a `type = "json"` source, compiled once here so a
//! filter that cannot run is a `validate` error, not a failing poll.

use super::values::{Checker, Table};
use crate::config::SourceKind;
use crate::source::jq;

pub(super) const KEYS: [&str; 1] = ["jq"];

/// The filter when the source is a JSON one and it compiles.
pub(super) fn read(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    kind: Option<SourceKind>,
) -> Option<String> {
    let is_json = kind == Some(SourceKind::Json);
    let Some(code) = ck.string(t, "jq") else {
        if is_json && t.get("jq").is_none() {
            ck.missing(t, "jq", "a `type = \"json\"` source needs the jq filter that reads it, like jq = '.items[] | {id, title, link: .url}'");
        }
        return None;
    };
    if !is_json {
        let message = "`jq` reads JSON APIs; give this source `type = \"json\"` as well";
        ck.problem(code.at, t.path("jq"), message);
        return None;
    }
    match jq::check(code.value) {
        Ok(()) => Some(code.value.to_string()),
        Err(e) => {
            let message = format!("the jq filter does not compile: {e}");
            ck.problem(code.at, t.path("jq"), message);
            None
        }
    }
}
