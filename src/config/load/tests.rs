use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::{Field, SecretRef, SinkKind, SourceKind, Track};
use crate::schedule::Schedule;

mod conditions;
mod request;
mod sinks;
mod sources;

const CONFIG_PATH: &str = "/etc/feedwatch/feedwatch.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str(text, Path::new(CONFIG_PATH), &Dirs::default())
}

fn valid(text: &str) -> Config {
    valid_at(text, Path::new(CONFIG_PATH), &Dirs::default())
}

fn valid_at(text: &str, path: &Path, dirs: &Dirs) -> Config {
    match parse_str(text, path, dirs) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid configuration, got:\n{e}"),
    }
}

fn error_text(text: &str) -> String {
    match parse(text) {
        Err(e) => e.to_string(),
        Ok(config) => panic!("expected an error, got {config:?}"),
    }
}

fn problems(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(ConfigError::Invalid(p)) => p.list,
        other => panic!("expected problems, got {other:?}"),
    }
}

fn only_problem(text: &str) -> Problem {
    let mut list = problems(text);
    assert_eq!(list.len(), 1, "expected one problem, got {list:#?}");
    list.remove(0)
}

/// 1-based line and column where `needle` first occurs in `text`.
fn pos(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not in text"));
    values::line_column(text, at)
}

fn assert_problem(p: &Problem, at: (usize, usize), key: &str, message_part: &str) {
    assert_eq!((p.line, p.column), at, "position of {p:?}");
    assert_eq!(p.key, key, "key of {p:?}");
    assert!(
        p.message.contains(message_part),
        "message {:?} should contain {message_part:?}",
        p.message
    );
}

const SOURCE: &str = "[[source]]\nname = \"a\"\nurl = \"https://example.org/feed\"\n";

const SPEC_EXAMPLE: &str = r#"
[settings]
database = "feedwatch.db"
interval = "30m"
timeout = "30s"
max_body = "15MiB"
concurrency = 16
per_host = 2
user_agent = "feedwatch/0.1 (+https://example.org/)"
alert_on_first_poll = false
allow_private_links = false
fail_after = 3

[[sink]]
name = "journal"
type = "log"
path = "alerts.jsonl"

[[sink]]
name = "newsroom"
type = "webhook"
url = "https://hooks.example.org/feedwatch"
secret_file = "/etc/feedwatch/newsroom.secret"
events = ["item.*", "page.changed", "source.*"]

[[source]]
name = "communitycare-frontline"
url = "https://www.communitycare.co.uk/tag/frontline/feed/"
type = "feed"
interval = "15m"
track = ["new", "updated", "removed"]
compare = ["title", "link", "content"]
ignore = ['\d+ comments?']
sinks = ["journal", "newsroom"]
follow_links = false
article_select = "article"

[[source]]
name = "chamberlain-recovery"
url = "https://chamberlainfiles.com/childrens-social-care-on-the-road-to-recovery/"
type = "page"
schedule = "0 */15 * * * *"
tz = "Europe/London"
select = "article .entry-content"
exclude = [".advert", ".related"]
"#;

#[test]
fn spec_example_parses_with_the_right_values() {
    let config = valid(SPEC_EXAMPLE);
    let s = &config.settings;
    assert_eq!(s.database, PathBuf::from("/etc/feedwatch/feedwatch.db"));
    assert_eq!(s.interval, Duration::from_secs(30 * 60));
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(s.max_body, 15 * 1024 * 1024);
    assert_eq!((s.concurrency, s.per_host, s.fail_after), (16, 2, 3));
    assert_eq!(s.user_agent, "feedwatch/0.1 (+https://example.org/)");
    assert!(!s.alert_on_first_poll && !s.allow_private_links);
    assert_eq!(s.log_format, LogFormat::Text);

    assert_eq!(config.sinks.len(), 2);
    let journal = config.sink("journal").expect("journal sink");
    let SinkKind::Log { path } = &journal.kind else {
        panic!("journal should be a log sink");
    };
    assert_eq!(
        path.as_deref(),
        Some(Path::new("/etc/feedwatch/alerts.jsonl"))
    );
    assert_eq!(journal.events, ["*"]);
    let newsroom = config.sink("newsroom").expect("newsroom sink");
    let SinkKind::Webhook {
        url,
        secret,
        timeout,
        retry_for,
    } = &newsroom.kind
    else {
        panic!("newsroom should be a webhook");
    };
    assert_eq!(url.as_str(), "https://hooks.example.org/feedwatch");
    let secret_path = PathBuf::from("/etc/feedwatch/newsroom.secret");
    assert_eq!(secret.as_ref(), Some(&SecretRef::File(secret_path)));
    assert_eq!(*timeout, Duration::from_secs(15));
    assert_eq!(*retry_for, Duration::from_secs(24 * 3600));
    assert_eq!(newsroom.events, ["item.*", "page.changed", "source.*"]);

    let feed = config
        .source("communitycare-frontline")
        .expect("feed source");
    assert_eq!(feed.kind, Some(SourceKind::Feed));
    assert!(matches!(feed.schedule, Schedule::Every(d) if d == Duration::from_secs(900)));
    let all = Track {
        new: true,
        updated: true,
        removed: true,
    };
    assert_eq!(feed.track, all);
    assert_eq!(feed.compare, [Field::Title, Field::Link, Field::Content]);
    assert_eq!(feed.ignore.len(), 1);
    assert!(feed.ignore[0].is_match("12 comments"));
    assert_eq!(feed.sinks, ["journal", "newsroom"]);
    assert_eq!(feed.article_select.as_deref(), Some("article"));
    assert_eq!((feed.timeout, feed.max_body), (s.timeout, s.max_body));

    let page = config.source("chamberlain-recovery").expect("page source");
    assert_eq!(page.kind, Some(SourceKind::Page));
    assert!(matches!(page.schedule, Schedule::Cron(_)));
    assert_eq!(page.select, ["article .entry-content"]);
    assert_eq!(page.exclude, [".advert", ".related"]);
    assert_eq!(page.sinks, ["journal", "newsroom"]);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn defaults_fill_everything_left_out() {
    let config = valid(SOURCE);
    let s = &config.settings;
    assert_eq!(s.database, PathBuf::from("/etc/feedwatch/feedwatch.db"));
    // The defaults the documentation gives.
    assert_eq!(s.interval, Duration::from_secs(30 * 60));
    assert_eq!((s.timeout, s.max_body), (Duration::from_secs(30), 15 << 20));
    assert_eq!((s.concurrency, s.per_host, s.fail_after), (16, 2, 3));
    assert!(s.user_agent.starts_with(&format!(
        "feedwatch/{} (+https://",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(config.sinks.len(), 1);
    assert_eq!(config.sinks[0].name, "stdout");
    assert!(matches!(config.sinks[0].kind, SinkKind::Log { path: None }));
    let source = &config.sources[0];
    assert_eq!(source.kind, None);
    assert!(matches!(source.schedule, Schedule::Every(d) if d == Duration::from_secs(30 * 60)));
    assert_eq!(
        source.track,
        Track {
            new: true,
            updated: true,
            removed: false
        }
    );
    assert_eq!(
        source.compare,
        [Field::Title, Field::Link, Field::Summary, Field::Content]
    );
    assert_eq!(source.sinks, ["stdout"]);
    assert!(!source.follow_links && source.select.is_empty() && source.ignore.is_empty());
}

#[test]
fn sources_inherit_the_settings_interval_timeout_and_max_body() {
    let text = format!(
        "[settings]\ninterval = \"2h\"\ntimeout = \"5s\"\nmax_body = 4096\nlog_format = \"json\"\n{SOURCE}"
    );
    let config = valid(&text);
    let source = &config.sources[0];
    assert!(matches!(source.schedule, Schedule::Every(d) if d == Duration::from_secs(7200)));
    assert_eq!(
        (source.timeout, source.max_body),
        (Duration::from_secs(5), 4096)
    );
    assert_eq!(config.settings.log_format, LogFormat::Json);
}

#[test]
fn inline_tables_are_accepted_like_headers() {
    let text = "settings = { interval = \"1h\" }\nsource = [{ name = \"a\", url = \"https://example.org/\" }]\n";
    let config = valid(text);
    assert_eq!(config.settings.interval, Duration::from_secs(3600));
    assert_eq!(config.sources[0].name, "a");
}

#[test]
fn unknown_key_lists_the_allowed_keys_and_suggests_the_closest() {
    let text = "[settings]\nintervall = \"5m\"\n";
    let p = only_problem(text);
    assert_problem(&p, (2, 1), "settings.intervall", "did you mean `interval`?");
    assert!(
        p.message.contains("`database`, `interval`"),
        "{}",
        p.message
    );

    let p = only_problem("colour = \"blue\"\n");
    assert_problem(
        &p,
        (1, 1),
        "colour",
        "the keys allowed here are `settings`, `sink` and `source`",
    );
    assert!(!p.message.contains("did you mean"));
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let text = "[settings]\nconcurrency = \"16\"\nalert_on_first_poll = \"yes\"\nmax_body = 1.5\n";
    let list = problems(text);
    assert_eq!(list.len(), 3, "{list:#?}");
    assert_problem(
        &list[0],
        (2, 15),
        "settings.concurrency",
        "expected a whole number, found a string",
    );
    assert_problem(
        &list[1],
        (3, 23),
        "settings.alert_on_first_poll",
        "expected true or false, found a string",
    );
    assert_problem(&list[2], (4, 12), "settings.max_body", "found a float");

    let text = format!("{SOURCE}ignore = 'x'\ntrack = [\"new\", 3]\n");
    let list = problems(&text);
    assert_problem(
        &list[0],
        (4, 10),
        "source \"a\".ignore",
        "expected an array of strings, found a string",
    );
    assert_problem(
        &list[1],
        (5, 17),
        "source \"a\".track",
        "expected each entry to be a string, found an integer",
    );

    let p = only_problem("settings = 3\n");
    assert_problem(
        &p,
        (1, 12),
        "settings",
        "expected a table written as [settings], found an integer",
    );
    let p = only_problem("[sink]\nname = \"x\"\n");
    assert_problem(
        &p,
        (1, 1),
        "sink",
        "expected tables written as [[sink]], found a table",
    );
}

#[test]
fn out_of_range_and_unknown_words_are_refused() {
    let text = "[settings]\nconcurrency = 0\nper_host = -1\nfail_after = 0\nlog_format = \"jsn\"\nmax_body = \"15 parsecs\"\n";
    let list = problems(text);
    let keys: Vec<&str> = list.iter().map(|p| p.key.as_str()).collect();
    let expected = [
        "settings.concurrency",
        "settings.per_host",
        "settings.fail_after",
        "settings.log_format",
        "settings.max_body",
    ];
    assert_eq!(keys, expected);
    assert!(list[0].message.contains("at least 1, found 0"));
    assert!(list[3].message.contains("did you mean `json`?"));

    let text = format!("{SOURCE}type = \"fed\"\ntrack = [\"deleted\"]\ncompare = [\"titel\"]\n");
    let list = problems(&text);
    assert_eq!(list.len(), 3, "{list:#?}");
    assert!(list[0].message.contains("did you mean `feed`?"));
    assert!(
        list[1]
            .message
            .contains("\"new\", \"updated\" or \"removed\"")
    );
    assert!(list[2].message.contains("did you mean `title`?"));
}

#[test]
fn syntax_error_is_one_problem_with_its_position() {
    let text = "[settings]\ninterval = \"30m\nconcurrency = 2\n";
    let p = only_problem(text);
    assert_eq!((p.line, p.column), (2, 16));
    assert_eq!(p.key, "");
    assert!(
        p.message.starts_with("this is not valid TOML: "),
        "{}",
        p.message
    );

    let p = only_problem("[settings]\ninterval = \"1m\"\ninterval = \"2m\"\n");
    assert_eq!(p.line, 3);
    assert!(p.message.contains("duplicate key"), "{}", p.message);
}

#[test]
fn several_problems_are_all_reported_in_file_order() {
    let text = r#"[[source]]
name = "one"
url = "https://example.org/one"
sinks = ["nowhere"]

[settings]
interval = "soon"
colour = "blue"

[[sink]]
name = "hook"
type = "webhook"
url = "https://hooks.example.org/"
secret = "hunter2"

[[source]]
name = "one"
url = "example.org"
"#;
    let err = error_text(text);
    let lines: Vec<String> = err.to_string().lines().map(String::from).collect();
    let prefixes = [
        "/etc/feedwatch/feedwatch.toml:4:10: source \"one\".sinks: there is no sink named `nowhere`",
        "/etc/feedwatch/feedwatch.toml:7:12: settings.interval: `soon` is not a duration",
        "/etc/feedwatch/feedwatch.toml:8:1: settings.colour: unknown key",
        "/etc/feedwatch/feedwatch.toml:14:1: sink \"hook\".secret: inline secrets are not allowed",
        "/etc/feedwatch/feedwatch.toml:17:8: source \"one\".name: the source on line 2",
        "/etc/feedwatch/feedwatch.toml:18:7: source \"one\".url: `example.org` is not an absolute URL",
    ];
    assert_eq!(lines.len(), prefixes.len(), "{lines:#?}");
    for (line, prefix) in lines.iter().zip(prefixes) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}"
        );
    }
}

#[test]
fn relative_paths_resolve_against_the_service_folders() {
    let text = format!(
        "[settings]\ndatabase = \"fw.db\"\n[[sink]]\nname = \"j\"\ntype = \"log\"\npath = \"alerts.jsonl\"\n[[sink]]\nname = \"o\"\ntype = \"log\"\npath = \"-\"\n[[sink]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"https://h.example.org/\"\nsecret_file = \"h.secret\"\n{SOURCE}"
    );
    let path = Path::new("conf/feedwatch.toml");
    let resolve = |dirs: Dirs| {
        let config = valid_at(&text, path, &dirs);
        let log_path = match &config.sinks[0].kind {
            SinkKind::Log { path } => path.clone(),
            other => panic!("expected a log sink, got {other:?}"),
        };
        assert!(matches!(config.sinks[1].kind, SinkKind::Log { path: None }));
        let SinkKind::Webhook { secret, .. } = &config.sinks[2].kind else {
            panic!("expected a webhook");
        };
        assert_eq!(
            secret.as_ref(),
            Some(&SecretRef::File("conf/h.secret".into()))
        );
        (config.settings.database, log_path)
    };
    let state = Some(PathBuf::from("/var/lib/feedwatch"));
    let logs = Some(PathBuf::from("/var/log/feedwatch"));
    assert_eq!(
        resolve(Dirs::default()),
        ("conf/fw.db".into(), Some("conf/alerts.jsonl".into()))
    );
    assert_eq!(
        resolve(Dirs {
            state: state.clone(),
            logs: None
        }),
        (
            "/var/lib/feedwatch/fw.db".into(),
            Some("/var/lib/feedwatch/alerts.jsonl".into())
        )
    );
    assert_eq!(
        resolve(Dirs { state, logs }),
        (
            "/var/lib/feedwatch/fw.db".into(),
            Some("/var/log/feedwatch/alerts.jsonl".into())
        )
    );
}

#[test]
fn absolute_paths_are_kept() {
    let text = "[settings]\ndatabase = \"/srv/fw.db\"\n";
    let dirs = Dirs {
        state: Some("/var/lib/feedwatch".into()),
        logs: None,
    };
    let config = valid_at(text, Path::new(CONFIG_PATH), &dirs);
    assert_eq!(config.settings.database, PathBuf::from("/srv/fw.db"));
}

#[test]
fn problem_display_is_file_line_column_key_message() {
    let err = error_text("[settings]\nfail_after = 0\n");
    assert_eq!(
        err.to_string(),
        "/etc/feedwatch/feedwatch.toml:2:14: settings.fail_after: must be at least 1, found 0"
    );
    let err = error_text("[settings\n");
    assert!(
        err.to_string()
            .starts_with("/etc/feedwatch/feedwatch.toml:1:10: this is not valid TOML")
    );
}

#[test]
fn load_reads_the_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("feedwatch.toml");
    match load(&path) {
        Err(ConfigError::Read { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected a read error, got {other:?}"),
    }
    std::fs::write(&path, SOURCE).expect("config written");
    let config = load(&path).expect("valid config");
    assert_eq!(config.path, path);
    assert_eq!(config.sources[0].name, "a");
}

/// A reload counts a source as changed only when one of its settings is.
#[test]
fn a_source_read_twice_is_equal_and_any_setting_changes_that() {
    let same = valid(SPEC_EXAMPLE);
    let again = valid(SPEC_EXAMPLE);
    assert!(same.sources.iter().zip(&again.sources).all(|(a, b)| a == b));
    let edited = SPEC_EXAMPLE.replace(r"'\d+ comments?'", r"'\d+ replies'");
    let edited = valid(&edited);
    assert_ne!(same.sources[0], edited.sources[0]);
    assert_eq!(same.sources[1], edited.sources[1]);
}
