//! `history` and `diff`: the versions of one story and what changed between
//! them, read from a database filled by real polls.

use crate::support::KEYS;
use crate::support::changes::*;

#[test]
fn diff_shows_the_last_change_by_default() {
    let c = Changes::recorded("");

    let last = c.stdout(&["diff", NAME, EDITED_KEY]);
    let out = c.stdout(&["diff", NAME, EDITED_KEY, "--to", "2"]);

    assert!(last.starts_with("v2 ("), "{last}");
    assert!(last.contains("--- v2/title\n+++ v3/title\n"), "{last}");
    assert!(
        last.contains("\n+极速赛车168最新开奖号码 More children"),
        "{last}"
    );
    assert!(!last.contains("content"), "{last}");
    assert!(out.starts_with("v1 ("), "{out}");
    assert!(out.contains("--- v1/content\n+++ v2/content\n@@"), "{out}");
    let minus = out.lines().find(|l| l.starts_with("-The charity"));
    let plus = out.lines().find(|l| l.starts_with("+The charity"));
    assert!(minus.is_some_and(|l| l.contains(OLD_WORDS)), "{out}");
    assert!(plus.is_some_and(|l| l.contains(NEW_WORDS)), "{out}");
    assert!(!out.contains("v1/title"), "only changed fields: {out}");
    assert!(!out.contains('\u{1b}'), "colour in a pipe: {out}");
}

#[test]
fn diff_between_chosen_versions_and_word_by_word() {
    let c = Changes::recorded("");

    let title = c.stdout(&["diff", NAME, EDITED_KEY, "--from", "1", "--to", "3"]);
    let words = c.stdout(&["diff", NAME, HOSTILE_KEY, "--word"]);
    let same = c.stdout(&["diff", NAME, HOSTILE_KEY, "--from", "2", "--to", "2"]);

    assert!(title.contains("--- v1/title\n+++ v3/title\n"), "{title}");
    assert!(
        title.contains("--- v1/content\n+++ v3/content\n"),
        "{title}"
    );
    assert!(words.contains("title:\n"), "{words}");
    assert!(words.contains("cuts & apologises {+again+}"), "{words}");
    assert!(!words.contains("[-"), "nothing was removed: {words}");
    assert!(same.contains("do not differ"), "{same}");
}

#[test]
fn diff_refuses_what_is_not_held() {
    let c = Changes::recorded("");

    let no_version = c.fw.run(&["diff", NAME, EDITED_KEY, "--to", "9"]);
    let no_item = c.fw.run(&["diff", NAME, "https://example.org/nothing"]);
    let no_source = c.fw.run(&["diff", "nosuch", EDITED_KEY]);

    no_version.assert_code(2);
    assert!(
        no_version.stderr.contains("versions held: 1, 2, 3"),
        "{}",
        no_version.stderr
    );
    no_item.assert_code(2);
    assert!(
        no_item.stderr.contains("history frontline"),
        "{}",
        no_item.stderr
    );
    no_source.assert_code(2);
    assert!(no_source.stderr.contains("nosuch"), "{}", no_source.stderr);
}

#[test]
fn a_story_seen_once_has_nothing_to_compare() {
    let c = Changes::new("");
    c.serve_step(0);
    c.fw.run(&["check"]).assert_code(0);

    let out = c.stdout(&["diff", NAME, KEYS[3]]);

    assert!(out.contains("nothing to compare"), "{out}");
}

#[test]
fn history_of_an_item_names_the_fields_each_version_changed() {
    let c = Changes::recorded("");

    let out = c.stdout(&["history", NAME, EDITED_KEY]);
    let items = c.stdout(&["history", NAME]);

    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("v3 ") && lines[0].ends_with("(title changed)"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("v2 ") && lines[1].ends_with("(content changed)"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("v1 ") && lines[2].ends_with("(first seen)"),
        "{out}"
    );
    assert!(items.contains(HOSTILE_KEY), "{items}");
    c.fw.run(&["history", "nosuch"]).assert_code(2);
}
