//! `validate` on broken configuration files: every problem is named by file,
//! line, column and key, all of them in one run, with exit code 2.

use crate::support::{Feedwatch, OrFail, Output};

const HEAD: &str = r#"[settings]
database = "feedwatch.db"
interval = "30m"

[[sink]]
name = "journal"
type = "log"
path = "alerts.jsonl"
"#;

const FRONTLINE: &str = r#"source "frontline""#;

fn with_source(body: &str) -> String {
    format!(
        "{HEAD}\n[[source]]\nname = \"frontline\"\nurl = \"https://www.communitycare.co.uk/tag/frontline/feed/\"\n{body}\n"
    )
}

/// One `{file}:{line}:{column}: {key}: {message}` line of stderr.
#[derive(Debug)]
struct Problem {
    line: usize,
    column: usize,
    /// `{key}: {message}`
    rest: String,
}

fn problems(stderr: &str) -> Vec<Problem> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("feedwatch.toml:"))
        .filter_map(|(_, after)| {
            let mut parts = after.splitn(3, ':');
            let line = parts.next()?.parse().ok()?;
            let column = parts.next()?.parse().ok()?;
            let rest = parts.next()?.strip_prefix(' ')?;
            Some(Problem {
                line,
                column,
                rest: rest.to_owned(),
            })
        })
        .collect()
}

/// The 1-based number of the `nth` line (0 = first) that contains `needle`.
fn line_of(text: &str, needle: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .map(|(i, _)| i + 1)
        .or_fail(format!("{needle:?} is not in the file"))
}

fn validate(text: &str) -> (Feedwatch, Output) {
    let fw = Feedwatch::new();
    fw.write_config(text);
    let out = fw.run(&["validate"]);
    (fw, out)
}

/// `rest` names `key`, possibly narrowed to one element of a list (`key[0]`).
fn names_key(problem: &Problem, key: &str) -> bool {
    problem
        .rest
        .strip_prefix(key)
        .is_some_and(|after| after.starts_with(':') || after.starts_with('['))
}

fn assert_one_problem(text: &str, line: usize, key: &str) {
    let (_fw, out) = validate(text);
    out.assert_code(2);
    let found = problems(&out.stderr);
    assert_eq!(
        found.len(),
        1,
        "expected one problem at line {line}:\n{}",
        out.stderr
    );
    let problem = &found[0];
    assert_eq!(problem.line, line, "{}", out.stderr);
    assert!(problem.column >= 1, "{}", out.stderr);
    assert!(
        names_key(problem, key),
        "expected key {key}:\n{}",
        out.stderr
    );
    assert!(
        problem.rest.len() > key.len() + 2,
        "no message: {}",
        out.stderr
    );
}

#[test]
fn an_unknown_key_is_named_where_it_is() {
    let text = with_source("intervl = \"15m\"");
    assert_one_problem(
        &text,
        line_of(&text, "intervl", 0),
        &format!("{FRONTLINE}.intervl"),
    );
}

#[test]
fn a_duplicate_source_name_points_at_the_second_one() {
    let text = with_source("")
        + "\n[[source]]\nname = \"frontline\"\nurl = \"https://example.org/feed/\"\n";
    assert_one_problem(
        &text,
        line_of(&text, "name = \"frontline\"", 1),
        &format!("{FRONTLINE}.name"),
    );
}

#[test]
fn a_bad_url_is_named() {
    let text = format!("{HEAD}\n[[source]]\nname = \"frontline\"\nurl = \"not a url\"\n");
    assert_one_problem(
        &text,
        line_of(&text, "not a url", 0),
        &format!("{FRONTLINE}.url"),
    );
}

#[test]
fn a_bad_duration_is_named() {
    let text = with_source("interval = \"fifteen\"");
    assert_one_problem(
        &text,
        line_of(&text, "fifteen", 0),
        &format!("{FRONTLINE}.interval"),
    );
}

#[test]
fn a_bad_cron_expression_is_named() {
    let text = with_source("schedule = \"* * *\"");
    assert_one_problem(
        &text,
        line_of(&text, "schedule", 0),
        &format!("{FRONTLINE}.schedule"),
    );
}

#[test]
fn a_bad_regex_is_named() {
    let text = with_source("ignore = ['(']");
    assert_one_problem(
        &text,
        line_of(&text, "ignore", 0),
        &format!("{FRONTLINE}.ignore"),
    );
}

#[test]
fn a_missing_sink_is_named() {
    let text = with_source("sinks = [\"journal\", \"newsroom\"]");
    assert_one_problem(
        &text,
        line_of(&text, "sinks", 0),
        &format!("{FRONTLINE}.sinks"),
    );
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let text = HEAD.replace(
        "interval = \"30m\"\n",
        "interval = \"30m\"\nconcurrency = \"many\"\n",
    ) + "\n[[source]]\nname = \"frontline\"\nurl = \"https://example.org/feed/\"\n";
    assert_one_problem(
        &text,
        line_of(&text, "concurrency", 0),
        "settings.concurrency",
    );
}

const MANY_PROBLEMS: &str = r#"[settings]
database = "feedwatch.db"
concurrency = "many"

[[sink]]
name = "journal"
type = "log"
path = "alerts.jsonl"

[[source]]
name = "frontline"
url = "https://www.communitycare.co.uk/tag/frontline/feed/"
intervl = "15m"
ignore = ['(']

[[source]]
name = "council"
url = "not a url"
interval = "fifteen"

[[source]]
name = "blog"
url = "https://example.org/feed/"
schedule = "* * *"
sinks = ["journal", "newsroom"]

[[source]]
name = "frontline"
url = "https://example.org/other/feed/"
"#;

#[test]
fn every_problem_is_reported_in_one_run_in_line_order() {
    let text = MANY_PROBLEMS;
    let expected = [
        (line_of(text, "concurrency", 0), "settings.concurrency"),
        (line_of(text, "intervl", 0), r#"source "frontline".intervl"#),
        (line_of(text, "ignore", 0), r#"source "frontline".ignore"#),
        (line_of(text, "not a url", 0), r#"source "council".url"#),
        (line_of(text, "fifteen", 0), r#"source "council".interval"#),
        (line_of(text, "schedule", 0), r#"source "blog".schedule"#),
        (line_of(text, "sinks", 0), r#"source "blog".sinks"#),
        (
            line_of(text, "name = \"frontline\"", 1),
            r#"source "frontline".name"#,
        ),
    ];

    let (_fw, out) = validate(text);

    out.assert_code(2);
    let found = problems(&out.stderr);
    let lines: Vec<usize> = found.iter().map(|p| p.line).collect();
    let wanted: Vec<usize> = expected.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, wanted, "{}", out.stderr);
    for (problem, (_, key)) in found.iter().zip(expected) {
        assert!(names_key(problem, key), "expected {key}: {problem:?}");
    }
}

#[test]
fn a_complete_valid_file_passes() {
    let feed_file = concat!(
        "file://",
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/communitycare-frontline-clean.xml"
    );
    let text = format!(
        r#"[settings]
database = "feedwatch.db"
interval = "30m"
timeout = "30s"
max_body = "15MiB"
concurrency = 16
per_host = 2
user_agent = "feedwatch-tests/0 (+https://example.org/)"
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
secret_env = "NEWSROOM_WEBHOOK_SECRET"
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
name = "frontline-local"
url = "{feed_file}"
schedule = "0 */15 * * * *"
tz = "Europe/London"

[[source]]
name = "chamberlain-recovery"
url = "https://chamberlainfiles.com/childrens-social-care-on-the-road-to-recovery/"
type = "page"
select = ["article .entry-content", "main"]
exclude = [".advert", ".related"]
"#
    );
    let fw = Feedwatch::new();
    fw.write_config(&text);

    let out = fw.run_with_env(
        &["validate"],
        &[(
            "NEWSROOM_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )],
    );

    out.assert_code(0);
    assert!(problems(&out.stderr).is_empty(), "{}", out.stderr);
}

/// Line and column (1-based) of the first `needle` in `text`.
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let line = line_of(text, needle, 0);
    let column = text
        .lines()
        .nth(line - 1)
        .and_then(|l| l.find(needle))
        .map(|at| at + 1)
        .or_fail(format!("{needle:?} is not in the file"));
    (line, column)
}

/// `validate` reports exactly one problem, at `needle`, naming `key`, and
/// saying `says`.
fn assert_problem_at(text: &str, needle: &str, key: &str, says: &str) {
    let (_fw, out) = validate(text);
    out.assert_code(2);
    let found = problems(&out.stderr);
    assert_eq!(found.len(), 1, "{}", out.stderr);
    let (line, column) = position_of(text, needle);
    assert_eq!(
        (found[0].line, found[0].column),
        (line, column),
        "{}",
        out.stderr
    );
    assert!(
        names_key(&found[0], key),
        "expected key {key}:\n{}",
        out.stderr
    );
    assert!(
        found[0].rest.contains(says),
        "expected {says:?}:\n{}",
        out.stderr
    );
}

#[test]
fn a_header_value_with_a_control_character_is_named() {
    let text = with_source(r#"headers = { "X-Team" = "desk\u0007" }"#);
    let key = format!("{FRONTLINE}.headers.X-Team");
    assert_problem_at(
        &text,
        r#""desk\u0007""#,
        &key,
        "not a valid HTTP header value",
    );
}

#[test]
fn a_password_from_both_a_file_and_the_environment_is_refused() {
    let text = with_source(
        r#"basic_auth = { username = "desk", password_file = "pw", password_env = "PW" }"#,
    );
    let key = format!("{FRONTLINE}.basic_auth.password_env");
    assert_problem_at(&text, "password_env", &key, "not both");
}

#[test]
fn a_proxy_of_another_scheme_is_refused() {
    let text = with_source(r#"proxy = "ftp://proxy.example.org:21""#);
    let key = format!("{FRONTLINE}.proxy");
    assert_problem_at(&text, "\"ftp:", &key, "`socks5h`");
}

#[test]
fn basic_auth_without_a_username_is_refused() {
    let text = with_source(r#"basic_auth = { password_env = "PW" }"#);
    let key = format!("{FRONTLINE}.basic_auth.username");
    assert_problem_at(&text, "{ password_env", &key, "required but missing");
}

#[test]
fn an_unreadable_cookies_file_is_named() {
    let text = with_source(r#"cookies_file = "missing-cookies.txt""#);
    let key = format!("{FRONTLINE}.cookies_file");
    assert_problem_at(
        &text,
        "\"missing-cookies",
        &key,
        "cannot read the cookies file",
    );
}

#[test]
fn a_cookies_file_not_in_the_netscape_format_is_named() {
    let fw = Feedwatch::new();
    std::fs::write(fw.dir().join("cookies.txt"), "session=abc\n").or_fail("write cookies.txt");
    let text = with_source(r#"cookies_file = "cookies.txt""#);
    fw.write_config(&text);
    let out = fw.run(&["validate"]);
    out.assert_code(2);
    let found = problems(&out.stderr);
    assert_eq!(found.len(), 1, "{}", out.stderr);
    assert_eq!(
        (found[0].line, found[0].column),
        position_of(&text, "\"cookies.txt")
    );
    assert!(
        found[0].rest.contains("line 1: expected seven fields"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_email_sink_names_every_missing_or_contradictory_key() {
    let text = format!(
        "{HEAD}\n[[sink]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"smtp+starttls://\"\nto = [\"newsroom@example.org\", \"not an address\"]\nusername = \"feedwatch\"\ndigest = \"soon\"\npassword_file = \"smtp.password\"\npassword_env = \"SMTP_PASSWORD\"\n"
    );
    let header = line_of(&text, "name = \"mail\"", 0) - 1;
    let expected = [
        (header, r#"sink "mail".from"#),
        (line_of(&text, "smtp =", 0), r#"sink "mail".smtp"#),
        (line_of(&text, "not an address", 0), r#"sink "mail".to"#),
        (line_of(&text, "digest", 0), r#"sink "mail".digest"#),
        (
            line_of(&text, "password_env", 0),
            r#"sink "mail".password_env"#,
        ),
    ];
    let (_fw, out) = validate(&text);
    out.assert_code(2);
    let found = problems(&out.stderr);
    let lines: Vec<usize> = found.iter().map(|p| p.line).collect();
    let wanted: Vec<usize> = expected.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, wanted, "{}", out.stderr);
    for (problem, (_, key)) in found.iter().zip(expected) {
        assert!(names_key(problem, key), "expected {key}: {problem:?}");
        assert!(problem.column >= 1, "{problem:?}");
    }
    assert!(out.stderr.contains("names no host"), "{}", out.stderr);
}

#[test]
fn plain_smtp_to_a_remote_host_is_a_validate_warning() {
    let text = format!(
        "{HEAD}\n[[sink]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"smtp://mail.example.org\"\nfrom = \"fw@example.org\"\nto = [\"newsroom@example.org\"]\n"
    );
    let (_fw, out) = validate(&text);
    out.assert_code(0);
    let line = line_of(&text, "smtp =", 0);
    assert!(
        out.stderr
            .contains(&format!("feedwatch.toml:{line}:8: sink \"mail\".smtp")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("unencrypted"), "{}", out.stderr);
}

const CHANNEL_PROBLEMS: &str = r##"[settings]
database = "feedwatch.db"

[[sink]]
name = "slack"
type = "slack"
url = "https://hooks.slack.com/services/T/B/X"

[[sink]]
name = "discord"
type = "discord"
url_file = "discord.url"
url_env = "DISCORD_URL"

[[sink]]
name = "telegram"
type = "telegram"
chat_id = "general"
api_url = "ftp://api.example.org"

[[sink]]
name = "ntfy"
type = "ntfy"
url = "https://ntfy.example.org/"
priority = 9
path = "x.log"

[[sink]]
name = "matrix"
type = "matrix"
homeserver = "https://matrix.example.org"
room_id = "#newsroom:example.org"
token_env = "9TOKEN"
timeout = "5m"

[[sink]]
name = "run"
type = "command"
command = []
timeout = "soon"
"##;

#[test]
fn every_missing_or_contradictory_key_of_a_channel_sink_is_named() {
    let text = CHANNEL_PROBLEMS;
    let sink = |name: &str, key: &str| format!("sink \"{name}\".{key}");
    let expected = [
        (
            line_of(text, "url = \"https://hooks.slack", 0),
            sink("slack", "url"),
        ),
        (line_of(text, "url_env", 0), sink("discord", "url_env")),
        (
            line_of(text, "name = \"telegram\"", 0) - 1,
            sink("telegram", "token_file"),
        ),
        (line_of(text, "chat_id", 0), sink("telegram", "chat_id")),
        (line_of(text, "api_url", 0), sink("telegram", "api_url")),
        (line_of(text, "ntfy.example.org", 0), sink("ntfy", "url")),
        (line_of(text, "priority", 0), sink("ntfy", "priority")),
        (line_of(text, "path", 0), sink("ntfy", "path")),
        (line_of(text, "room_id", 0), sink("matrix", "room_id")),
        (line_of(text, "token_env", 0), sink("matrix", "token_env")),
        (line_of(text, "5m", 0), sink("matrix", "timeout")),
        (line_of(text, "command = []", 0), sink("run", "command")),
        (line_of(text, "soon", 0), sink("run", "timeout")),
    ];

    let (_fw, out) = validate(text);

    out.assert_code(2);
    let mut found: Vec<(usize, String)> = problems(&out.stderr)
        .iter()
        .map(|p| (p.line, p.rest.clone()))
        .collect();
    found.sort_by_key(|(line, _)| *line);
    let lines: Vec<usize> = found.iter().map(|(line, _)| *line).collect();
    let mut wanted: Vec<usize> = expected.iter().map(|(line, _)| *line).collect();
    wanted.sort_unstable();
    assert_eq!(lines, wanted, "{}", out.stderr);
    for (line, key) in &expected {
        assert!(
            found
                .iter()
                .any(|(l, rest)| l == line && rest.starts_with(&format!("{key}:"))),
            "expected {key} at line {line}:\n{}",
            out.stderr
        );
    }
    assert!(
        out.stderr.contains("the slack url is a secret"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("`path` applies only to log sinks, and this is a ntfy sink")
    );
}

#[test]
fn every_channel_sink_in_its_documented_form_passes() {
    let text = format!(
        r#"{HEAD}
[[sink]]
name = "team-slack"
type = "slack"
url_env = "SLACK_WEBHOOK_URL"

[[sink]]
name = "team-discord"
type = "discord"
url_file = "discord.url"
events = ["item.*"]

[[sink]]
name = "phone"
type = "telegram"
token_env = "TELEGRAM_BOT_TOKEN"
chat_id = -1001234567890
retry_for = "6h"

[[sink]]
name = "push"
type = "ntfy"
url = "https://ntfy.sh/feedwatch-alerts"
token_file = "ntfy.token"
priority = 4

[[sink]]
name = "room"
type = "matrix"
homeserver = "https://matrix.example.org"
room_id = "!newsroom:example.org"
token_env = "MATRIX_TOKEN"

[[sink]]
name = "script"
type = "command"
command = ["/usr/local/bin/on-change", "--quiet"]
timeout = "30s"
"#
    );
    let (_fw, out) = validate(&text);
    out.assert_code(0);
    assert!(out.stdout.contains("7 sinks"), "{}", out.stdout);
}
