use std::time::Duration;

use super::*;
use crate::schedule::Schedule;

#[test]
fn unknown_source_key_names_the_source() {
    let text = format!("{SOURCE}selector = \"main\"\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (4, 1),
        "source \"a\".selector",
        "did you mean `select`?",
    );
}

#[test]
fn duplicate_source_name_points_at_the_second_and_names_the_first_line() {
    let text = format!("{SOURCE}\n[[source]]\nname = \"a\"\nurl = \"https://example.org/other\"\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (6, 8),
        "source \"a\".name",
        "the source on line 2 is already named `a`",
    );
}

#[test]
fn bad_source_names_are_refused() {
    let text = "[[source]]\nname = \"my feed\"\nurl = \"https://example.org/\"\n";
    let p = only_problem(text);
    assert_problem(
        &p,
        (2, 8),
        "source \"my feed\".name",
        "letters, digits, `.`, `_` and `-`",
    );
}

#[test]
fn bad_urls_say_what_is_wrong() {
    let cases = [
        ("example.org/feed", "not an absolute URL"),
        ("ftp://example.org/feed", "`ftp` URLs are not allowed here"),
        ("https://exa mple.org/", "not a valid URL"),
        ("file:feeds/local.xml", "relative file URL"),
        ("file://feeds/local.xml", "relative file URL"),
        ("file:./local.xml", "relative file URL"),
    ];
    for (url, message) in cases {
        let text = format!("[[source]]\nname = \"a\"\nurl = \"{url}\"\n");
        let p = only_problem(&text);
        assert_problem(&p, (3, 7), "source \"a\".url", message);
    }
}

#[test]
fn absolute_file_urls_are_allowed() {
    for url in [
        "file:///srv/feeds/local.xml",
        "file://localhost/srv/x.xml",
        "file:/srv/x.xml",
    ] {
        let text = format!("[[source]]\nname = \"a\"\nurl = \"{url}\"\n");
        assert_eq!(valid(&text).sources[0].url.scheme(), "file");
    }
}

#[test]
fn bad_durations_are_refused_with_an_example() {
    let text = format!("{SOURCE}interval = \"15x\"\ntimeout = \"0s\"\n[settings]\ninterval = 15\n");
    let list = problems(&text);
    assert_eq!(list.len(), 3, "{list:#?}");
    assert_problem(
        &list[0],
        pos(&text, "\"15x\""),
        "source \"a\".interval",
        "unknown time unit",
    );
    assert_problem(
        &list[1],
        pos(&text, "\"0s\""),
        "source \"a\".timeout",
        "longer than zero",
    );
    assert_problem(
        &list[2],
        (7, 12),
        "settings.interval",
        "expected a duration string like \"15m\", found an integer",
    );
}

#[test]
fn bad_cron_and_time_zone_are_reported() {
    let text = format!("{SOURCE}schedule = \"*/15 * * * *\"\ntz = \"Europe/Londn\"\n");
    let list = problems(&text);
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_problem(
        &list[0],
        (4, 12),
        "source \"a\".schedule",
        "not a valid cron schedule",
    );
    assert_problem(
        &list[1],
        (5, 6),
        "source \"a\".tz",
        "did you mean `Europe/London`?",
    );
}

#[test]
fn tz_without_a_schedule_is_an_error() {
    let text = format!("{SOURCE}interval = \"1h\"\ntz = \"Europe/London\"\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (5, 1),
        "source \"a\".tz",
        "applies only to a cron `schedule`",
    );
}

#[test]
fn interval_and_schedule_together_is_an_error_at_the_later_key() {
    let text = format!("{SOURCE}schedule = \"0 0 * * * *\"\ninterval = \"1h\"\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (5, 1),
        "source \"a\".interval",
        "either `interval` or `schedule`, not both",
    );
}

#[test]
fn bad_regex_points_at_its_own_string() {
    let text = format!("{SOURCE}ignore = ['ok', '(\\d+']\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (4, 17),
        "source \"a\".ignore",
        "not a valid regular expression: unclosed group",
    );
}

#[test]
fn missing_sink_reference_lists_the_sinks() {
    let text = format!(
        "[[sink]]\nname = \"journal\"\ntype = \"log\"\n{SOURCE}sinks = [\"journal\", \"jornal\", \"slack\"]\n"
    );
    let list = problems(&text);
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_problem(
        &list[0],
        pos(&text, "\"jornal\""),
        "source \"a\".sinks",
        "did you mean `journal`?",
    );
    assert_problem(
        &list[1],
        pos(&text, "\"slack\""),
        "source \"a\".sinks",
        "the sinks are `journal`",
    );
}

#[test]
fn missing_name_and_url_point_at_the_table_header() {
    let text = format!("{SOURCE}\n[[source]]\ntype = \"feed\"\n");
    let list = problems(&text);
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_problem(&list[0], (5, 1), "source[2].name", "required but missing");
    assert_problem(&list[1], (5, 1), "source[2].url", "required but missing");
}

#[test]
fn a_short_interval_warns_for_remote_hosts_only() {
    let remote = format!("{SOURCE}interval = \"10s\"\n");
    let config = valid(&remote);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    let warning = &config.warnings[0];
    assert!(
        warning.starts_with(
            "/etc/feedwatch/feedwatch.toml:4:12: source \"a\".interval: polls every 10s"
        ),
        "{warning}"
    );
    assert!(warning.contains("honoured as written") && warning.contains("impolite"));
    assert!(
        matches!(config.sources[0].schedule, Schedule::Every(d) if d == Duration::from_secs(10))
    );

    for url in [
        "http://127.0.0.1:8080/feed",
        "http://localhost/feed",
        "http://[::1]/",
        "file:///srv/feed.xml",
    ] {
        let text = format!("[[source]]\nname = \"a\"\nurl = \"{url}\"\ninterval = \"1s\"\n");
        assert!(valid(&text).warnings.is_empty(), "{url} should not warn");
    }

    let inherited = format!("[settings]\ninterval = \"30s\"\n{SOURCE}");
    assert_eq!(valid(&inherited).warnings.len(), 1);
}

#[test]
fn keys_that_do_nothing_for_the_declared_type_warn() {
    let text = format!("{SOURCE}type = \"feed\"\nselect = [\"main\", \"article\"]\n");
    let config = valid(&text);
    assert_eq!(config.sources[0].select, ["main", "article"]);
    assert_eq!(config.warnings.len(), 1);
    assert!(config.warnings[0].contains("applies only to pages"));
}

#[test]
fn a_bare_city_suggests_its_time_zone() {
    let text = format!("{SOURCE}schedule = \"0 0 * * * *\"\ntz = \"london\"\n");
    let p = only_problem(&text);
    assert_problem(
        &p,
        (5, 6),
        "source \"a\".tz",
        "did you mean `Europe/London`?",
    );
}

#[test]
fn a_valid_time_zone_is_accepted_with_a_schedule() {
    let text = format!("{SOURCE}schedule = \"0 30 9 * * MON-FRI\"\ntz = \"Europe/London\"\n");
    assert!(matches!(
        valid(&text).sources[0].schedule,
        Schedule::Cron(_)
    ));
}
