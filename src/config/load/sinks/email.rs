//! `type = "email"` sinks: an SMTP server, a sender, recipients, and how
//! the sender logs in.

use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use super::super::values::{Checker, Spanned, Table, did_you_mean, one_of};
use super::{Bases, DEFAULT_RETRY_FOR, secret};
use crate::config::{EmailSink, SinkKind, SmtpSecurity, SmtpServer};

pub(super) const KEYS: [&str; 10] = [
    "smtp",
    "from",
    "to",
    "username",
    "password_file",
    "password_env",
    "digest",
    "ca_file",
    "timeout",
    "retry_for",
];

const SCHEMES: [&str; 3] = ["smtp+starttls", "smtps", "smtp"];
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// A zero window would be a message per event under another name.
const MIN_DIGEST: Duration = Duration::from_secs(1);

/// Reports keys an email sink does not take, naming the sink kind a key
/// belongs to when it belongs to another.
pub(super) const INLINE_PASSWORD: &str = "inline passwords are not allowed, so that the \
     password never sits in a file that is shared, versioned or printed; put it in a file named \
     by `password_file` or in an environment variable named by `password_env`";

pub(super) fn read(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<SinkKind> {
    let smtp = smtp(ck, t);
    let from = ck
        .required_string(t, "from", "an email sink needs a sender address")
        .and_then(|s| mailbox(ck, t, "from", s));
    let to = recipients(ck, t);
    let username = ck.string(t, "username");
    let password = secret(ck, t, bases, "password_file", "password_env");
    login_pairs(ck, t);
    let digest = digest(ck, t);
    let ca_file = ck
        .string(t, "ca_file")
        .and_then(|s| ca_file(ck, t, s, bases));
    if let (Some(server), Some(_)) = (&smtp, t.get("ca_file"))
        && server.security == SmtpSecurity::Plain
    {
        let at = t.get("ca_file").map_or(t.at, |e| e.key_at);
        ck.problem(
            at,
            t.path("ca_file"),
            "a CA file is for TLS; use `smtps://` or `smtp+starttls://` in `smtp`, or leave `ca_file` out",
        );
    }
    let timeout = ck.duration(t, "timeout");
    let retry_for = ck.duration(t, "retry_for");
    Some(SinkKind::Email(Box::new(EmailSink {
        smtp: smtp?,
        from: from?,
        to: to?,
        username: username.map(|u| u.value.to_string()),
        password,
        digest,
        ca_file,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        retry_for: retry_for.unwrap_or(DEFAULT_RETRY_FOR),
    })))
}

fn smtp(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<SmtpServer> {
    let s = ck.required_string(
        t,
        "smtp",
        "an email sink needs its server, like \"smtp+starttls://mail.example.org:587\"",
    )?;
    let raw = s.value.trim();
    let mut bad = |message: String| {
        ck.problem(s.at, t.path("smtp"), message);
        None
    };
    let url = match Url::parse(raw) {
        Ok(url) => url,
        Err(e) => return bad(format!("`{raw}` is not a valid server URL: {e}")),
    };
    let security = match url.scheme() {
        "smtp" => SmtpSecurity::Plain,
        "smtp+starttls" => SmtpSecurity::StartTls,
        "smtps" => SmtpSecurity::Tls,
        other => {
            let hint = did_you_mean(other, SCHEMES);
            return bad(format!(
                "`{other}` is not an SMTP scheme{hint}; use {}",
                one_of(&SCHEMES)
            ));
        }
    };
    if !url.username().is_empty() || url.password().is_some() {
        return bad(
            "put no login in the server URL; use `username` with `password_file` or `password_env`"
                .to_string(),
        );
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return bad(format!("`{raw}` names no host"));
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return bad(format!(
            "`{raw}` has a path or query; give only the scheme, host and port"
        ));
    }
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url.port().unwrap_or(match security {
        SmtpSecurity::Plain => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    });
    if security == SmtpSecurity::Plain && !is_loopback(&host) {
        ck.warning(
            s.at,
            t.path("smtp"),
            format!(
                "`smtp://` sends mail (and any password) unencrypted to {host}; \
                 use `smtp+starttls://` or `smtps://` unless this is a trusted local relay"
            ),
        );
    }
    Some(SmtpServer {
        security,
        host,
        port,
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn mailbox(ck: &mut Checker<'_>, t: &Table<'_>, key: &str, s: Spanned<&str>) -> Option<Mailbox> {
    match Mailbox::from_str(s.value.trim()) {
        Ok(mailbox) => Some(mailbox),
        Err(e) => {
            ck.problem(
                s.at,
                t.path(key),
                format!(
                    "`{}` is not an email address ({e}); write \"alerts@example.org\" or \"Alerts <alerts@example.org>\"",
                    s.value
                ),
            );
            None
        }
    }
}

fn recipients(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Vec<Mailbox>> {
    if t.get("to").is_none() {
        ck.missing(
            t,
            "to",
            "an email sink needs a list of recipients, like to = [\"newsroom@example.org\"]",
        );
        return None;
    }
    let list = ck.one_or_more_strings(t, "to")?;
    if list.is_empty() {
        let at = t.get("to").map_or(t.at, |e| e.at);
        ck.problem(at, t.path("to"), "name at least one recipient");
        return None;
    }
    let before = ck.problems.len();
    let parsed: Vec<Mailbox> = list
        .into_iter()
        .filter_map(|s| mailbox(ck, t, "to", s))
        .collect();
    (ck.problems.len() == before).then_some(parsed)
}

/// A login needs both halves.
fn login_pairs(ck: &mut Checker<'_>, t: &Table<'_>) {
    let username = t.get("username");
    let password = ["password_file", "password_env"]
        .into_iter()
        .find_map(|k| t.get(k).map(|e| (k, e.key_at)));
    match (username, password) {
        (Some(u), None) => ck.problem(
            u.key_at,
            t.path("username"),
            "a username needs a password: add `password_file` or `password_env`",
        ),
        (None, Some((key, at))) => ck.problem(
            at,
            t.path(key),
            "a password needs a `username` to log in with",
        ),
        _ => {}
    }
}

fn digest(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<Duration> {
    let window = ck.duration(t, "digest")?;
    if window < MIN_DIGEST {
        let at = t.get("digest").map_or(t.at, |e| e.at);
        ck.problem(
            at,
            t.path("digest"),
            format!(
                "a digest window must be at least {}; leave `digest` out for one message per event",
                humantime::format_duration(MIN_DIGEST)
            ),
        );
        return None;
    }
    Some(window)
}

fn ca_file(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    s: Spanned<&str>,
    bases: &Bases,
) -> Option<std::path::PathBuf> {
    if s.value.trim().is_empty() {
        ck.problem(s.at, t.path("ca_file"), "must not be empty");
        return None;
    }
    Some(bases.config(s.value))
}
