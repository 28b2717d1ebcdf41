//! `[[sink]]` tables of the chat and push services, and of `command`.

use std::time::Duration;

use url::Url;

use super::super::values::{Checker, Table};
use super::{Bases, DEFAULT_RETRY_FOR, DEFAULT_WEBHOOK_TIMEOUT, Kind, check_url, secret};
use crate::config::{Platform, SecretRef, SinkKind};

/// A command is given longer than an HTTP request: it may do real work.
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest attempt: well under the two-minute delivery lease.
const MAX_TIMEOUT: Duration = Duration::from_secs(90);
const TELEGRAM_API: &str = "https://api.telegram.org";

const SLACK_KEYS: [&str; 4] = ["url_file", "url_env", "timeout", "retry_for"];
const TELEGRAM_KEYS: [&str; 6] = [
    "token_file",
    "token_env",
    "chat_id",
    "api_url",
    "timeout",
    "retry_for",
];
const NTFY_KEYS: [&str; 6] = [
    "url",
    "token_file",
    "token_env",
    "priority",
    "timeout",
    "retry_for",
];
const MATRIX_KEYS: [&str; 6] = [
    "homeserver",
    "room_id",
    "token_file",
    "token_env",
    "timeout",
    "retry_for",
];
const COMMAND_KEYS: [&str; 3] = ["command", "timeout", "retry_for"];

/// The sink types this file reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Channel {
    Slack,
    Discord,
    Telegram,
    Ntfy,
    Matrix,
    Command,
}

impl Channel {
    pub(super) fn parse(name: &str) -> Option<Channel> {
        Some(match name {
            "slack" => Channel::Slack,
            "discord" => Channel::Discord,
            "telegram" => Channel::Telegram,
            "ntfy" => Channel::Ntfy,
            "matrix" => Channel::Matrix,
            "command" => Channel::Command,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Discord => "discord",
            Channel::Telegram => "telegram",
            Channel::Ntfy => "ntfy",
            Channel::Matrix => "matrix",
            Channel::Command => "command",
        }
    }

    pub(super) fn keys(self) -> &'static [&'static str] {
        match self {
            Channel::Slack | Channel::Discord => &SLACK_KEYS,
            Channel::Telegram => &TELEGRAM_KEYS,
            Channel::Ntfy => &NTFY_KEYS,
            Channel::Matrix => &MATRIX_KEYS,
            Channel::Command => &COMMAND_KEYS,
        }
    }
}

/// Why an inline secret is refused, for keys that would hold one.
pub(super) fn inline_secret(kind: Kind, key: &str) -> Option<String> {
    let Kind::Channel(channel) = kind else {
        return None;
    };
    let what = match (channel, key) {
        (Channel::Slack | Channel::Discord, "url") => "url",
        (Channel::Telegram | Channel::Ntfy | Channel::Matrix, "token") => "token",
        _ => return None,
    };
    Some(format!(
        "the {} {what} is a secret and is never written inline; put it in a file named by \
         `{what}_file` or in an environment variable named by `{what}_env`",
        channel.name()
    ))
}

pub(super) fn read(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    bases: &Bases,
    channel: Channel,
) -> Option<SinkKind> {
    let timeout = attempt_timeout(ck, t);
    let retry_for = ck.duration(t, "retry_for").unwrap_or(DEFAULT_RETRY_FOR);
    if channel == Channel::Command {
        let argv = command(ck, t);
        return Some(SinkKind::Command {
            argv: argv?,
            timeout: timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            retry_for,
        });
    }
    let platform = platform(ck, t, bases, channel)?;
    Some(SinkKind::Chat {
        platform,
        timeout: timeout.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT),
        retry_for,
    })
}

fn platform(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    bases: &Bases,
    channel: Channel,
) -> Option<Platform> {
    match channel {
        Channel::Slack => Some(Platform::Slack {
            url: required_secret(ck, t, bases, "url", "the incoming-webhook URL")?,
        }),
        Channel::Discord => Some(Platform::Discord {
            url: required_secret(ck, t, bases, "url", "the channel's webhook URL")?,
        }),
        Channel::Telegram => telegram(ck, t, bases),
        Channel::Ntfy => ntfy(ck, t, bases),
        Channel::Matrix => matrix(ck, t, bases),
        Channel::Command => None,
    }
}

/// A secret that must be given through `{what}_file` or `{what}_env`.
fn required_secret(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    bases: &Bases,
    what: &str,
    meaning: &str,
) -> Option<SecretRef> {
    let (file, env) = (format!("{what}_file"), format!("{what}_env"));
    if t.get(&file).is_none() && t.get(&env).is_none() && t.get(what).is_none() {
        ck.missing(
            t,
            &file,
            &format!("{meaning} is a secret: name a file holding it with `{file}`, or an environment variable with `{env}`"),
        );
        return None;
    }
    secret(ck, t, bases, &file, &env)
}

fn telegram(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<Platform> {
    let token = required_secret(ck, t, bases, "token", "the bot token");
    let chat_id = chat_id(ck, t);
    let api_url = optional_url(ck, t, "api_url", TELEGRAM_API);
    Some(Platform::Telegram {
        api_url: api_url?,
        token: token?,
        chat_id: chat_id?,
    })
}

/// `chat_id`: a number (negative for groups) or `@channelname`, written as
/// a TOML integer or string.
fn chat_id(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<String> {
    let why = "the chat to post to: a numeric id or \"@channelname\"";
    let Some(entry) = t.get("chat_id") else {
        ck.missing(t, "chat_id", why);
        return None;
    };
    if let Some(n) = entry.item.as_integer() {
        return Some(n.to_string());
    }
    let s = ck.required_string(t, "chat_id", why)?;
    let v = s.value.trim();
    let numeric = v.strip_prefix('-').unwrap_or(v);
    let valid = (!numeric.is_empty() && numeric.chars().all(|c| c.is_ascii_digit()))
        || (v.len() > 1 && v.starts_with('@'));
    if !valid {
        ck.problem(
            s.at,
            t.path("chat_id"),
            format!("`{v}` is not a chat id; {why}"),
        );
        return None;
    }
    Some(v.to_string())
}

fn ntfy(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<Platform> {
    let url = check_url(
        ck,
        t,
        "url",
        &["http", "https"],
        "the ntfy server and topic, like \"https://ntfy.sh/mytopic\"",
    );
    if let Some(u) = &url
        && u.path().trim_matches('/').is_empty()
        && let Some(e) = t.get("url")
    {
        ck.problem(
            e.at,
            t.path("url"),
            "names no topic; add it to the path, like \"https://ntfy.sh/mytopic\"",
        );
    }
    let token = secret(ck, t, bases, "token_file", "token_env");
    let priority = ck.int::<u8>(t, "priority", 1);
    if let (Some(p), Some(e)) = (priority, t.get("priority"))
        && p > 5
    {
        ck.problem(
            e.at,
            t.path("priority"),
            format!("must be 1 (min) to 5 (max), found {p}"),
        );
    }
    let topic = url.filter(|u| !u.path().trim_matches('/').is_empty());
    Some(Platform::Ntfy {
        url: topic?,
        token,
        priority: priority.filter(|p| *p <= 5),
    })
}

fn matrix(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<Platform> {
    let homeserver = check_url(
        ck,
        t,
        "homeserver",
        &["http", "https"],
        "the homeserver's base URL, like \"https://matrix.example.org\"",
    );
    let token = required_secret(ck, t, bases, "token", "the access token");
    let why = "the room to post to, like \"!abcdef:example.org\"";
    let room = ck.required_string(t, "room_id", why);
    let room_id = room.and_then(|r| {
        let v = r.value.trim();
        if v.starts_with('!') && v.contains(':') {
            return Some(v.to_string());
        }
        ck.problem(
            r.at,
            t.path("room_id"),
            format!("`{v}` is not a room id; {why} (an alias starting with # is not accepted)"),
        );
        None
    });
    Some(Platform::Matrix {
        homeserver: homeserver?,
        room_id: room_id?,
        token: token?,
    })
}

/// `timeout`, bounded: an attempt has to end well within the lease under
/// which a process delivers the sink, or it would never start.
fn attempt_timeout(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Duration> {
    let timeout = ck.duration(t, "timeout")?;
    if timeout > MAX_TIMEOUT || timeout.is_zero() {
        let at = t.get("timeout").map_or(t.at, |e| e.at);
        ck.problem(
            at,
            t.path("timeout"),
            format!(
                "must be more than zero and at most {}, as one attempt must end well within the two minutes a process holds a sink",
                humantime::format_duration(MAX_TIMEOUT)
            ),
        );
        return None;
    }
    Some(timeout)
}

/// A URL that has a default when left out.
fn optional_url(ck: &mut Checker<'_>, t: &Table<'_>, key: &str, default: &str) -> Option<Url> {
    if t.get(key).is_none() {
        return Url::parse(default).ok();
    }
    check_url(ck, t, key, &["http", "https"], "")
}

fn command(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Vec<String>> {
    let why = "the program to run and its arguments, like [\"/usr/local/bin/notify\", \"--quiet\"]";
    if t.get("command").is_none() {
        ck.missing(t, "command", why);
        return None;
    }
    let argv = ck.strings(t, "command")?;
    let Some(program) = argv.first() else {
        let at = t.get("command").map_or(t.at, |e| e.at);
        ck.problem(at, t.path("command"), format!("must name a program; {why}"));
        return None;
    };
    if program.value.trim().is_empty() {
        ck.problem(
            program.at,
            t.path("command"),
            "the program must not be empty",
        );
        return None;
    }
    Some(argv.iter().map(|a| a.value.to_string()).collect())
}
