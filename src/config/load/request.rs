//! The request keys a source and `[settings]` share: `headers`,
//! `basic_auth`, `bearer_file`/`bearer_env`, `cookies_file` and `proxy`.

use reqwest::header::{HeaderName, HeaderValue};

use super::values::{Checker, Spanned, Table};
use super::{Bases, check_url, later_of, table};
use crate::config::request::parse_cookies;
use crate::config::{Auth, CookieFile, RequestConfig, SecretRef, readable_by_others};

/// Allowed in `[settings]` and in every `[[source]]`.
pub(super) const REQUEST_KEYS: [&str; 6] = [
    "headers",
    "basic_auth",
    "bearer_file",
    "bearer_env",
    "cookies_file",
    "proxy",
];
const BASIC_AUTH_KEYS: [&str; 3] = ["username", "password_file", "password_env"];
const PROXY_SCHEMES: [&str; 4] = ["http", "https", "socks5", "socks5h"];

/// Headers feedwatch sets itself, or that have a key of their own.
const RESERVED_HEADERS: [(&str, &str); 10] = [
    (
        "authorization",
        "use `basic_auth` or `bearer_file`/`bearer_env`, which keep the secret out of this file",
    ),
    (
        "cookie",
        "use `cookies_file`, which keeps the cookies out of this file",
    ),
    (
        "proxy-authorization",
        "put the proxy's user and password in the `proxy` URL",
    ),
    ("user-agent", "use the `user_agent` key"),
    ("host", "feedwatch sets it from the URL"),
    ("content-length", "feedwatch sets it itself"),
    ("transfer-encoding", "feedwatch sets it itself"),
    ("connection", "feedwatch sets it itself"),
    (
        "if-none-match",
        "feedwatch sets it for conditional requests",
    ),
    (
        "if-modified-since",
        "feedwatch sets it for conditional requests",
    ),
];

/// The request keys of `t`; `user_agent` is read by the caller.
pub(super) fn read(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> RequestConfig {
    RequestConfig {
        headers: headers(ck, t),
        user_agent: None,
        auth: auth(ck, t, bases),
        cookies: cookies(ck, t, bases),
        proxy: proxy(ck, t),
    }
}

fn headers(ck: &mut Checker<'_>, t: &Table<'_>) -> Vec<(String, String)> {
    let Some(headers) = table(ck, t, "headers") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, key_at) in headers.keys() {
        let Some(value) = ck.string(&headers, name) else {
            continue;
        };
        let path = headers.path(name);
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            let message = format!("`{name}` is not a valid HTTP header name");
            ck.problem(key_at, path, message);
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if let Some((_, why)) = RESERVED_HEADERS.iter().find(|(n, _)| *n == lower) {
            ck.problem(key_at, path, format!("`{name}` cannot be set here; {why}"));
            continue;
        }
        if HeaderValue::from_str(value.value).is_err() {
            let message = "is not a valid HTTP header value; write it on one line, without control characters";
            ck.problem(value.at, path, message);
            continue;
        }
        out.push((name.to_string(), value.value.to_string()));
    }
    out
}

fn auth(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<Auth> {
    let bearer_at = ["bearer_file", "bearer_env"]
        .into_iter()
        .filter_map(|k| Some((k, t.get(k)?.key_at)))
        .max_by_key(|&(_, at)| at);
    if let (Some(basic), Some((key, at))) = (t.get("basic_auth"), bearer_at) {
        let (key, at) = if basic.key_at > at {
            ("basic_auth", basic.key_at)
        } else {
            (key, at)
        };
        let message = "give either `basic_auth` or a bearer token, not both";
        ck.problem(at, t.path(key), message);
        return None;
    }
    let bearer = secret(ck, t, bases, ("bearer_file", "bearer_env"));
    if let Some(bearer) = bearer {
        return Some(Auth::Bearer(bearer));
    }
    let basic = table(ck, t, "basic_auth")?;
    ck.check_keys(&basic, &BASIC_AUTH_KEYS, |_| None);
    let username = ck.required_string(&basic, "username", "basic sign-in needs a user name");
    if basic.get("password_file").is_none() && basic.get("password_env").is_none() {
        let why = "this key is required but missing; name the file holding the password, or use `password_env`";
        ck.problem(basic.at, basic.path("password_file"), why);
    }
    let password = secret(ck, &basic, bases, ("password_file", "password_env"));
    if username.is_some_and(|u| u.value.contains(':')) {
        let at = username.map_or(basic.at, |u| u.at);
        ck.problem(
            at,
            basic.path("username"),
            "a basic sign-in user name cannot contain `:`",
        );
        return None;
    }
    Some(Auth::Basic {
        username: username?.value.to_string(),
        password: password?,
    })
}

/// A secret given by a file or an environment variable, not both.
fn secret(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    bases: &Bases,
    (file_key, env_key): (&str, &str),
) -> Option<SecretRef> {
    if let Some((key, at)) = later_of(t, file_key, env_key) {
        let message = format!("give either `{file_key}` or `{env_key}`, not both");
        ck.problem(at, t.path(key), message);
        return None;
    }
    if let Some(file) = ck.string(t, file_key) {
        let path = non_blank_path(ck, t, file_key, file, bases)?;
        warn_if_readable(ck, t, file_key, file.at, &path);
        return Some(SecretRef::File(path));
    }
    let env = ck.string(t, env_key)?;
    if !is_env_name(env.value) {
        let message = format!(
            "`{}` is not an environment variable name; use letters, digits and `_`, not starting with a digit",
            env.value
        );
        ck.problem(env.at, t.path(env_key), message);
        return None;
    }
    Some(SecretRef::Env(env.value.to_string()))
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
}

fn non_blank_path(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    key: &str,
    s: Spanned<&str>,
    bases: &Bases,
) -> Option<std::path::PathBuf> {
    if s.value.trim().is_empty() {
        ck.problem(s.at, t.path(key), "must not be empty");
        return None;
    }
    Some(bases.config(s.value))
}

/// Only when the file system is consulted (`load`, not `parse_str`).
fn warn_if_readable(
    ck: &mut Checker<'_>,
    t: &Table<'_>,
    key: &str,
    at: usize,
    path: &std::path::Path,
) {
    if !ck.reads_files {
        return;
    }
    if let Some(warning) = readable_by_others(path) {
        ck.warning(at, t.path(key), warning);
    }
}

/// Read and parsed here, so a bad file is a problem of the configuration.
fn cookies(ck: &mut Checker<'_>, t: &Table<'_>, bases: &Bases) -> Option<CookieFile> {
    let s = ck.string(t, "cookies_file")?;
    let path = non_blank_path(ck, t, "cookies_file", s, bases)?;
    if !ck.reads_files {
        return Some(CookieFile {
            path,
            cookies: Default::default(),
        });
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            let message = format!("cannot read the cookies file {}: {e}", path.display());
            ck.problem(s.at, t.path("cookies_file"), message);
            return None;
        }
    };
    warn_if_readable(ck, t, "cookies_file", s.at, &path);
    match parse_cookies(&text) {
        Ok(cookies) => Some(CookieFile {
            path,
            cookies: std::sync::Arc::new(cookies),
        }),
        Err(e) => {
            let message = format!(
                "{} is not a cookies.txt file ({e}); write it in the Netscape format browsers export, seven fields separated by tabs",
                path.display()
            );
            ck.problem(s.at, t.path("cookies_file"), message);
            None
        }
    }
}

fn proxy(ck: &mut Checker<'_>, t: &Table<'_>) -> Option<url::Url> {
    t.get("proxy")?;
    let url = check_url(
        ck,
        t,
        "proxy",
        &PROXY_SCHEMES,
        "the proxy to send requests through",
    )?;
    if url.host_str().is_none_or(str::is_empty) {
        let at = t.get("proxy").map_or(t.at, |e| e.at);
        ck.problem(at, t.path("proxy"), "the proxy URL needs a host");
        return None;
    }
    Some(url)
}
