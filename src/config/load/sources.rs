//! `[[source]]` tables: what is watched, how often, and what counts as a change.

use std::collections::HashMap;
use std::time::Duration;

use regex::Regex;
use url::{Host, Url};

use super::values::{Checker, Spanned, Table, did_you_mean, list, regexes};
use super::{Bases, Tables, check_name, check_url, later_of, not_a_field, request, user_agent};
use super::{conditions, jq};
use crate::config::{Field, Settings, SourceConfig, SourceKind, Track};
use crate::schedule::{CronSchedule, Schedule};

const SOURCE_KEYS: [&str; 18] = [
    "user_agent",
    "name",
    "url",
    "type",
    "interval",
    "schedule",
    "tz",
    "timeout",
    "max_body",
    "track",
    "compare",
    "ignore",
    "sinks",
    "follow_links",
    "article_select",
    "select",
    "exclude",
    "follow_for",
];
/// How long after an item is first seen its article is still re-checked.
const DEFAULT_FOLLOW_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_COMPARE: [Field; 4] = [Field::Title, Field::Link, Field::Summary, Field::Content];
const DEFAULT_TRACK: Track = Track {
    new: true,
    updated: true,
    removed: false,
};
/// Below this, polling a server someone else runs is impolite.
const POLITE_INTERVAL: Duration = Duration::from_secs(60);

pub(super) fn read<'a>(
    ck: &mut Checker<'_>,
    tables: &Tables<'a>,
    settings: &Settings,
    sink_names: &[String],
    bases: &Bases,
) -> Vec<SourceConfig> {
    let mut seen = HashMap::new();
    let mut sources = Vec::with_capacity(tables.len());
    for (i, &(inner, at)) in tables.iter().enumerate() {
        let mut t = Table {
            inner,
            at,
            label: format!("source[{}]", i + 1),
        };
        let name = ck.required_string(&t, "name", "every [[source]] needs a name");
        if let Some(name) = name {
            t.label = format!("source \"{}\"", name.value);
            check_name(ck, &t, name, "source", &mut seen);
        }
        sources.extend(read_one(ck, &t, name, settings, sink_names, bases));
    }
    sources
}

fn read_one(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    name: Option<Spanned<&str>>,
    settings: &Settings,
    sink_names: &[String],
    bases: &Bases,
) -> Option<SourceConfig> {
    let keys: Vec<&str> = SOURCE_KEYS
        .into_iter()
        .chain(request::REQUEST_KEYS)
        .chain(conditions::KEYS)
        .chain(jq::KEYS)
        .collect();
    ck.check_keys(t, &keys, |_| None);
    let own = crate::config::RequestConfig {
        user_agent: user_agent(ck, t),
        ..request::read(ck, t, bases)
    };
    let why = "every [[source]] needs the URL to watch";
    let url = check_url(ck, t, "url", &["http", "https", "file"], why);
    let kind = source_kind(ck, t);
    let schedule = schedule(ck, t, settings.interval);
    let follow_links = ck.bool(t, "follow_links").unwrap_or(false);
    let source = SourceConfig {
        name: name?.value.to_string(),
        kind,
        timeout: ck.duration(t, "timeout").unwrap_or(settings.timeout),
        max_body: ck.size(t, "max_body").unwrap_or(settings.max_body),
        track: track(ck, t),
        compare: compare(ck, t, follow_links),
        ignore: ignore(ck, t),
        sinks: sink_refs(ck, t, sink_names),
        follow_links,
        follow_for: ck.duration(t, "follow_for").unwrap_or(DEFAULT_FOLLOW_FOR),
        article_select: selector(ck, t, "article_select"),
        select: selectors(ck, t, "select"),
        exclude: selectors(ck, t, "exclude"),
        conditions: conditions::read(ck, t, &settings.conditions),
        jq: jq::read(ck, t, kind),
        url: url?,
        schedule,
        request: settings.request.overridden_by(own),
    };
    warn_about_kind(ck, t, kind);
    warn_if_impolite(ck, t, &source);
    Some(source)
}

fn source_kind(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<SourceKind> {
    let s = ck.string(t, "type")?;
    match s.value {
        "feed" => Some(SourceKind::Feed),
        "page" => Some(SourceKind::Page),
        "json" => Some(SourceKind::Json),
        other => {
            let hint = did_you_mean(other, ["feed", "page", "json"]);
            let message = format!(
                "`{other}` is not a source type{hint}; use \"feed\", \"page\" or \"json\", or leave it out to decide from the first response"
            );
            ck.problem(s.at, t.path("type"), message);
            None
        }
    }
}

fn schedule(ck: &mut Checker<'_>, t: &Table<'_>, default: Duration) -> Schedule {
    if let Some((key, at)) = later_of(t, "interval", "schedule") {
        let message = "give either `interval` or `schedule`, not both";
        ck.problem(at, t.path(key), message);
    }
    let tz = time_zone(ck, t);
    let interval = ck.duration(t, "interval");
    if t.get("schedule").is_none() {
        if let Some(e) = t.get("tz") {
            let message = "`tz` applies only to a cron `schedule`; an `interval` runs the same in every time zone";
            ck.problem(e.key_at, t.path("tz"), message);
        }
        return Schedule::Every(interval.unwrap_or(default));
    }
    let Some(expr) = ck.string(t, "schedule") else {
        return Schedule::Every(default);
    };
    match CronSchedule::parse(expr.value, tz) {
        Ok(cron) => Schedule::Cron(cron),
        Err(e) => {
            let message = format!(
                "`{}` is not a valid cron schedule ({e}); write six fields with seconds first, like \"0 */15 * * * *\"",
                expr.value
            );
            ck.problem(expr.at, t.path("schedule"), message);
            Schedule::Every(default)
        }
    }
}

/// The `tz` name when it is a known IANA zone.
fn time_zone<'a>(ck: &mut Checker<'_>, t: &Table<'a>) -> Option<&'a str> {
    let s = ck.string(t, "tz")?;
    if s.value.parse::<chrono_tz::Tz>().is_ok() {
        return Some(s.value);
    }
    let message = format!(
        "`{}` is not an IANA time zone name{}; write it like \"Europe/London\" or \"UTC\"",
        s.value,
        zone_hint(s.value)
    );
    ck.problem(s.at, t.path("tz"), message);
    None
}

/// Suggests `Europe/London` for `London` as well as for `Europe/Londn`.
fn zone_hint(name: &str) -> String {
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
    let mut by_city = names().filter(|zone| {
        zone.rsplit('/')
            .next()
            .is_some_and(|city| city.eq_ignore_ascii_case(name))
    });
    match (by_city.next(), by_city.next()) {
        (Some(zone), None) => format!(" (did you mean `{zone}`?)"),
        _ => did_you_mean(name, names()),
    }
}

fn track(ck: &mut Checker<'_>, t: &Table<'_>) -> Track {
    let Some(kinds) = ck.strings(t, "track") else {
        return DEFAULT_TRACK;
    };
    let mut track = Track::default();
    for s in kinds {
        match s.value {
            "new" => track.new = true,
            "updated" => track.updated = true,
            "removed" => track.removed = true,
            other => {
                let hint = did_you_mean(other, ["new", "updated", "removed"]);
                let message = format!(
                    "`{other}` is not a kind of change{hint}; use \"new\", \"updated\" or \"removed\""
                );
                ck.problem(s.at, t.path("track"), message);
            }
        }
    }
    track
}

fn compare(ck: &mut Checker<'_>, t: &Table<'_>, follow_links: bool) -> Vec<Field> {
    let Some(names) = ck.strings(t, "compare") else {
        // Following links is asking for the article's edits to count.
        let mut fields = DEFAULT_COMPARE.to_vec();
        if follow_links {
            fields.push(Field::Article);
        }
        return fields;
    };
    let mut fields = Vec::with_capacity(names.len());
    for s in names {
        match Field::parse(s.value) {
            Some(Field::Article) if !follow_links => {
                let message = "`article` is compared only when `follow_links = true`; without it there is no article text";
                ck.warning(s.at, t.path("compare"), message);
                fields.push(Field::Article);
            }
            Some(field) if !fields.contains(&field) => fields.push(field),
            Some(_) => {}
            None => not_a_field(ck, t, "compare", &s),
        }
    }
    fields
}

fn ignore(ck: &mut Checker<'_>, t: &Table<'_>) -> Vec<Regex> {
    regexes(ck, t, "ignore").unwrap_or_default()
}

fn sink_refs(ck: &mut Checker<'_>, t: &Table<'_>, sink_names: &[String]) -> Vec<String> {
    let Some(refs) = ck.strings(t, "sinks") else {
        return sink_names.to_vec();
    };
    let mut out: Vec<String> = Vec::with_capacity(refs.len());
    for r in refs {
        if out.iter().any(|s| s == r.value) {
            continue;
        }
        if sink_names.iter().any(|s| s == r.value) {
            out.push(r.value.to_string());
            continue;
        }
        let names: Vec<&str> = sink_names.iter().map(String::as_str).collect();
        let hint = did_you_mean(r.value, names.iter().copied());
        let message = format!(
            "there is no sink named `{}`{hint}; the sinks are {}",
            r.value,
            list(&names)
        );
        ck.problem(r.at, t.path("sinks"), message);
    }
    out
}

fn selector(ck: &mut Checker<'_>, t: &Table<'_>, key: &str) -> Option<String> {
    let s = ck.string(t, key)?;
    usable_selector(ck, t, key, s)
}

fn selectors(ck: &mut Checker<'_>, t: &Table<'_>, key: &str) -> Vec<String> {
    let list = ck.one_or_more_strings(t, key).unwrap_or_default();
    list.into_iter()
        .filter_map(|s| usable_selector(ck, t, key, s))
        .collect()
}

fn usable_selector(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    key: &str,
    s: Spanned<&str>,
) -> Option<String> {
    let value = non_blank(ck, t, key, s)?;
    match crate::source::page::check_selector(&value) {
        Ok(()) => Some(value),
        Err(reason) => {
            let message = format!(
                "`{value}` is not a CSS selector that can be used ({reason}); write it like \"article .entry-content\""
            );
            ck.problem(s.at, t.path(key), message);
            None
        }
    }
}

fn non_blank(ck: &mut Checker<'_>, t: &Table<'_>, key: &str, s: Spanned<&str>) -> Option<String> {
    if s.value.trim().is_empty() {
        ck.problem(s.at, t.path(key), "must not be empty");
        return None;
    }
    Some(s.value.to_string())
}

/// Keys that do nothing for the declared type are legal but worth a word.
fn warn_about_kind(ck: &mut Checker<'_>, t: &Table<'_>, kind: Option<SourceKind>) {
    let unused: &[&str] = match kind {
        Some(SourceKind::Feed) => &["select", "exclude"],
        Some(SourceKind::Page) => &["follow_links", "article_select", "follow_for"],
        Some(SourceKind::Json) => &["select", "exclude"],
        None => &[],
    };
    for key in unused {
        if let Some(e) = t.get(key) {
            let message = match kind {
                Some(SourceKind::Feed) => {
                    "applies only to pages; this source is a feed, so it has no effect"
                }
                Some(SourceKind::Json) => {
                    "applies only to pages; this source is read through its jq filter, so it has no effect"
                }
                _ => "applies only to feeds; this source is a page, so it has no effect",
            };
            ck.warning(e.key_at, t.path(key), message);
        }
    }
}

fn warn_if_impolite(ck: &mut Checker<'_>, t: &Table<'_>, source: &SourceConfig) {
    let Schedule::Every(every) = source.schedule else {
        return;
    };
    if every >= POLITE_INTERVAL || is_local(&source.url) {
        return;
    }
    let at = t.get("interval").map_or(t.at, |e| e.at);
    let message = format!(
        "polls every {} which is under a minute; it will be honoured as written, but polling someone else's server that often is impolite and may get you blocked",
        humantime::format_duration(every)
    );
    ck.warning(at, t.path("interval"), message);
}

fn is_local(url: &Url) -> bool {
    match url.host() {
        _ if url.scheme() == "file" => true,
        None => true,
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
    }
}
