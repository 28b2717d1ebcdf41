//! `[[sink]]` tables: where events are delivered.

mod channels;
mod email;

use std::collections::HashMap;
use std::time::Duration;

use globset::Glob;

use super::values::{Checker, Table, did_you_mean, list};
use super::{Bases, Tables, check_name, check_url, later_of};
use crate::config::{SecretRef, SinkConfig, SinkKind};
use crate::event::EventKind;
use channels::Channel;

const COMMON_KEYS: [&str; 3] = ["name", "type", "events"];
const LOG_KEYS: [&str; 1] = ["path"];
const WEBHOOK_KEYS: [&str; 5] = ["url", "secret_file", "secret_env", "timeout", "retry_for"];
pub(super) const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(15);
pub(super) const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(24 * 60 * 60);

const INLINE_SECRET: &str = "inline secrets are not allowed, so that the secret never sits in a \
     file that is shared, versioned or printed; put it in a file named by `secret_file` or in \
     an environment variable named by `secret_env`";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Log,
    Webhook,
    Email,
    Channel(Channel),
}

impl Kind {
    const NAMES: [&str; 9] = [
        "log", "webhook", "email", "slack", "discord", "telegram", "ntfy", "matrix", "command",
    ];

    fn parse(name: &str) -> Option<Kind> {
        match name {
            "log" => Some(Kind::Log),
            "webhook" => Some(Kind::Webhook),
            "email" => Some(Kind::Email),
            other => Channel::parse(other).map(Kind::Channel),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Log => "log",
            Kind::Webhook => "webhook",
            Kind::Email => "email",
            Kind::Channel(c) => c.name(),
        }
    }

    /// The keys this type takes besides the common ones.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Kind::Log => &LOG_KEYS,
            Kind::Webhook => &WEBHOOK_KEYS,
            Kind::Email => &email::KEYS,
            Kind::Channel(c) => c.keys(),
        }
    }

    fn all() -> impl Iterator<Item = Kind> {
        Kind::NAMES.into_iter().filter_map(Kind::parse)
    }
}

/// The valid sinks, and the name of every sink the file declares (valid or
/// not) so that sources referring to a broken sink are not reported twice.
pub(super) fn read<'a>(
    ck: &mut Checker<'_>,
    tables: &Tables<'a>,
    bases: &Bases,
) -> (Vec<SinkConfig>, Vec<String>) {
    if tables.is_empty() {
        let stdout = SinkConfig {
            name: "stdout".to_string(),
            kind: SinkKind::Log { path: None },
            events: vec!["*".to_string()],
        };
        return (vec![stdout], vec!["stdout".to_string()]);
    }
    let mut seen = HashMap::new();
    let mut sinks = Vec::with_capacity(tables.len());
    let mut names = Vec::with_capacity(tables.len());
    for (i, &(inner, at)) in tables.iter().enumerate() {
        let mut t = Table {
            inner,
            at,
            label: format!("sink[{}]", i + 1),
        };
        let name = ck.required_string(&t, "name", "every [[sink]] needs a name");
        if let Some(name) = name {
            t.label = format!("sink \"{}\"", name.value);
            check_name(ck, &t, name, "sink", &mut seen);
            names.push(name.value.to_string());
        }
        let kind = sink_kind(ck, &t);
        check_sink_keys(ck, &t, kind);
        let events = events(ck, &t);
        let kind = match kind {
            Some(Kind::Log) => Some(log(ck, &t, bases)),
            Some(Kind::Webhook) => webhook(ck, &t, bases),
            Some(Kind::Email) => email::read(ck, &t, bases),
            Some(Kind::Channel(c)) => channels::read(ck, &t, bases, c),
            None => None,
        };
        if let (Some(name), Some(kind)) = (name, kind) {
            sinks.push(SinkConfig {
                name: name.value.to_string(),
                kind,
                events,
            });
        }
    }
    (sinks, names)
}

fn sink_kind(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Kind> {
    let types = list(&Kind::NAMES);
    let s = ck.required_string(t, "type", &format!("say which: {types}"))?;
    let kind = Kind::parse(s.value);
    if kind.is_none() {
        let hint = did_you_mean(s.value, Kind::NAMES);
        ck.problem(
            s.at,
            t.path("type"),
            format!("`{}` is not a sink type{hint}; use {types}", s.value),
        );
    }
    kind
}

fn check_sink_keys(ck: &mut Checker<'_>, t: &Table<'_>, kind: Option<Kind>) {
    let mut allowed = COMMON_KEYS.to_vec();
    match kind {
        Some(kind) => allowed.extend(kind.keys()),
        None => {
            for key in Kind::all().flat_map(|k| k.keys().iter()) {
                if !allowed.contains(key) {
                    allowed.push(key);
                }
            }
        }
    }
    ck.check_keys(t, &allowed, |key| {
        if key == "secret" {
            return Some(INLINE_SECRET.to_string());
        }
        if kind == Some(Kind::Email) && key == "password" {
            return Some(email::INLINE_PASSWORD.to_string());
        }
        if let Some(hint) = kind.and_then(|k| channels::inline_secret(k, key)) {
            return Some(hint);
        }
        let this = kind?;
        let owners: Vec<&str> = Kind::all()
            .filter(|k| k.keys().contains(&key))
            .map(Kind::name)
            .collect();
        if owners.is_empty() {
            return None;
        }
        Some(format!(
            "`{key}` applies only to {} sinks, and this is a {} sink",
            or_list(&owners),
            this.name()
        ))
    });
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

fn events(ck: &mut Checker<'_>, t: &Table<'_>) -> Vec<String> {
    let Some(patterns) = ck.strings(t, "events") else {
        return vec!["*".to_string()];
    };
    if patterns.is_empty() {
        ck.warning(
            t.get("events").map_or(t.at, |e| e.at),
            t.path("events"),
            "an empty list sends this sink no events at all",
        );
    }
    let mut out = Vec::with_capacity(patterns.len());
    for p in patterns {
        match Glob::new(p.value) {
            Err(e) => ck.problem(
                p.at,
                t.path("events"),
                format!("`{}` is not a valid pattern: {}", p.value, e.kind()),
            ),
            Ok(glob) => {
                let matcher = glob.compile_matcher();
                let kinds = EventKind::ALL.map(EventKind::as_str);
                if !kinds.iter().any(|kind| matcher.is_match(kind)) {
                    let hint = did_you_mean(p.value, kinds);
                    ck.warning(
                        p.at,
                        t.path("events"),
                        format!(
                            "`{}` matches no event type{hint}; the event types are {}",
                            p.value,
                            list(&kinds)
                        ),
                    );
                }
                out.push(p.value.to_string());
            }
        }
    }
    out
}

fn log(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> SinkKind {
    let path = match ck.string(t, "path") {
        None => None,
        Some(s) if matches!(s.value, "-" | "stdout") => None,
        Some(s) if s.value.trim().is_empty() => {
            ck.problem(
                s.at,
                t.path("path"),
                "must not be empty; leave it out (or write \"stdout\") for standard output",
            );
            None
        }
        Some(s) => Some(bases.logs(s.value)),
    };
    SinkKind::Log { path }
}

fn webhook(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<SinkKind> {
    let url = check_url(
        ck,
        t,
        "url",
        &["http", "https"],
        "a webhook needs a URL to POST to",
    );
    let secret = secret(ck, t, bases, "secret_file", "secret_env");
    let timeout = ck.duration(t, "timeout");
    let retry_for = ck.duration(t, "retry_for");
    Some(SinkKind::Webhook {
        url: url?,
        secret,
        timeout: timeout.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT),
        retry_for: retry_for.unwrap_or(DEFAULT_RETRY_FOR),
    })
}

/// A secret named by a `*_file` or a `*_env` key (not both); `None` when
/// neither is given or the one given is unusable (reported).
pub(super) fn secret(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    bases: &Bases,
    file_key: &str,
    env_key: &str,
) -> Option<SecretRef> {
    if let Some((key, at)) = later_of(t, file_key, env_key) {
        ck.problem(
            at,
            t.path(key),
            format!("give either `{file_key}` or `{env_key}`, not both"),
        );
    }
    let file = ck.string(t, file_key);
    let env = ck.string(t, env_key);
    if let Some(f) = file {
        if f.value.trim().is_empty() {
            ck.problem(f.at, t.path(file_key), "must not be empty");
            return None;
        }
        return Some(SecretRef::File(bases.config(f.value)));
    }
    let env = env?;
    let valid = env
        .value
        .chars()
        .enumerate()
        .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if env.value.is_empty() || !valid {
        ck.problem(
            env.at,
            t.path(env_key),
            format!(
                "`{}` is not an environment variable name; use letters, digits and `_`, not starting with a digit",
                env.value
            ),
        );
        return None;
    }
    Some(SecretRef::Env(env.value.to_string()))
}
