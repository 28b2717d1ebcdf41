use super::*;
use crate::config::{Field, SourceKind};

#[test]
fn a_source_takes_each_condition_from_settings_unless_it_gives_its_own() {
    let text = format!(
        "[settings]\nalert_if = ['a']\nmin_change = 4\nalert_fields = [\"title\"]\n\n\
         {SOURCE}alert_if = ['b', 'c']\n\n\
         [[source]]\nname = \"z\"\nurl = \"https://example.org/z\"\nmin_change = 0\n"
    );
    let config = valid(&text);
    let (a, z) = (&config.sources[0].conditions, &config.sources[1].conditions);
    let patterns = |c: &crate::config::Conditions| -> Vec<String> {
        c.alert_if.iter().map(|r| r.as_str().to_string()).collect()
    };
    assert_eq!(patterns(a), ["b", "c"]);
    assert_eq!((a.min_change, z.min_change), (4, 0));
    assert_eq!(patterns(z), ["a"]);
    assert_eq!(z.alert_fields, [Field::Title]);
    assert!(valid(SOURCE).sources[0].conditions == Default::default());
}

#[test]
fn a_json_source_needs_a_filter_and_only_a_json_source_takes_one() {
    let missing = only_problem(&format!("{SOURCE}type = \"json\"\n"));
    assert_problem(&missing, (1, 1), "source \"a\".jq", "needs the jq filter");
    let text = format!("{SOURCE}jq = '.items[]'\n");
    let untyped = only_problem(&text);
    assert_problem(
        &untyped,
        pos(&text, "'.items"),
        "source \"a\".jq",
        "type = \"json\"",
    );
    let json = valid(&format!("{SOURCE}type = \"json\"\njq = '.items[]'\n"));
    assert_eq!(json.sources[0].kind, Some(SourceKind::Json));
    assert_eq!(json.sources[0].jq.as_deref(), Some(".items[]"));
}

#[test]
fn a_filter_that_does_not_compile_points_at_its_value_with_jaqs_offset() {
    let text = format!("{SOURCE}type = \"json\"\njq = '.items[] | nosuch'\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        pos(&text, "'.items"),
        "source \"a\".jq",
        "undefined filter `nosuch` at offset 11 of the filter",
    );
}
