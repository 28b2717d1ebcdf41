//! How requests to a source are made beyond the defaults: extra headers, a
//! user agent of its own, sign-in, cookies from a file and a proxy. Secrets
//! are named here (a file or an environment variable), never held, and no
//! `Debug` output shows a header value, a cookie or a proxy's password.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use url::Url;

use super::SecretRef;

/// Settings' values, overridden key by key by a source's own.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RequestConfig {
    /// Sent to the source's own host only; names as written, values checked.
    pub headers: Vec<(String, String)>,
    /// Replaces `settings.user_agent` for this source.
    pub user_agent: Option<String>,
    pub auth: Option<Auth>,
    pub cookies: Option<CookieFile>,
    /// `None`: the `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` environment decides.
    pub proxy: Option<Url>,
}

impl RequestConfig {
    /// Nothing beyond the defaults.
    pub const NONE: RequestConfig = RequestConfig {
        headers: Vec::new(),
        user_agent: None,
        auth: None,
        cookies: None,
        proxy: None,
    };

    /// These settings with `over`'s keys in their place where `over` has
    /// them; headers are merged, the source's winning on a name both give.
    pub fn overridden_by(&self, over: RequestConfig) -> RequestConfig {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(name, _)| {
                !over
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name))
            })
            .cloned()
            .collect();
        headers.extend(over.headers);
        RequestConfig {
            headers,
            user_agent: over.user_agent.or_else(|| self.user_agent.clone()),
            auth: over.auth.or_else(|| self.auth.clone()),
            cookies: over.cookies.or_else(|| self.cookies.clone()),
            proxy: over.proxy.or_else(|| self.proxy.clone()),
        }
    }

    /// The secret files named, for the check of who may read them.
    pub fn secret_files(&self) -> Vec<&Path> {
        let mut files = Vec::new();
        if let Some(
            Auth::Basic {
                password: SecretRef::File(path),
                ..
            }
            | Auth::Bearer(SecretRef::File(path)),
        ) = &self.auth
        {
            files.push(path.as_path());
        }
        if let Some(cookies) = &self.cookies {
            files.push(cookies.path.as_path());
        }
        files
    }
}

impl fmt::Debug for RequestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RequestConfig")
            .field("headers", &names)
            .field("user_agent", &self.user_agent)
            .field("auth", &self.auth)
            .field("cookies", &self.cookies)
            .field("proxy", &self.proxy.as_ref().map(shown_proxy))
            .finish()
    }
}

/// A proxy URL as it may be shown: without its password.
pub fn shown_proxy(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// How a request signs in. The secret is read when a request is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Basic …`.
    Basic {
        username: String,
        password: SecretRef,
    },
    /// `Authorization: Bearer …`.
    Bearer(SecretRef),
}

/// A Netscape `cookies.txt`, read when the configuration is loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieFile {
    pub path: PathBuf,
    pub cookies: Arc<Vec<Cookie>>,
}

impl fmt::Debug for CookieFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieFile")
            .field("path", &self.path)
            .field("cookies", &self.cookies.len())
            .finish()
    }
}

/// One line of a `cookies.txt`.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    /// Lowercase, without a leading dot.
    pub domain: String,
    /// The TRUE flag (or a leading dot): subdomains match too.
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    /// Seconds since the epoch; 0 for a session cookie, which never expires here.
    pub expires: i64,
    pub name: String,
    pub value: String,
}

impl Cookie {
    /// Whether this cookie goes with a request to `url` at `now` (seconds
    /// since the epoch), by the domain, path, secure and expiry rules.
    pub fn applies_to(&self, url: &Url, now: i64) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let domain_ok = host == self.domain
            || (self.include_subdomains
                && host
                    .strip_suffix(self.domain.as_str())
                    .is_some_and(|rest| rest.ends_with('.')));
        let path = url.path();
        let path_ok = path == self.path
            || (path.starts_with(self.path.as_str())
                && (self.path.ends_with('/') || path[self.path.len()..].starts_with('/')));
        let secure_ok = !self.secure || url.scheme() == "https";
        let fresh = self.expires == 0 || self.expires > now;
        domain_ok && path_ok && secure_ok && fresh
    }
}

/// Why a line of a cookies file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct CookieLineError {
    pub line: usize,
    pub reason: &'static str,
}

/// Parses the Netscape format: seven tab-separated fields per line; `#`
/// lines are comments except the `#HttpOnly_` prefix curl writes.
pub fn parse_cookies(text: &str) -> Result<Vec<Cookie>, CookieLineError> {
    let mut cookies = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let line = line.strip_prefix("#HttpOnly_").unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fail = |reason| CookieLineError {
            line: n + 1,
            reason,
        };
        let fields: Vec<&str> = line.split('\t').collect();
        let [domain, flag, path, secure, expires, name, value] = fields[..] else {
            return Err(fail("expected seven fields separated by tabs"));
        };
        let bool_of = |s: &str| s.eq_ignore_ascii_case("TRUE");
        let domain = domain.trim().to_ascii_lowercase();
        if domain.trim_start_matches('.').is_empty() {
            return Err(fail("the domain is empty"));
        }
        let expires = expires
            .trim()
            .parse::<i64>()
            .map_err(|_| fail("the expiry is not a number of seconds"))?;
        if name.is_empty() {
            return Err(fail("the cookie has no name"));
        }
        cookies.push(Cookie {
            include_subdomains: bool_of(flag) || domain.starts_with('.'),
            domain: domain.trim_start_matches('.').to_string(),
            path: if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            },
            secure: bool_of(secure),
            expires,
            name: name.to_string(),
            value: value.to_string(),
        });
    }
    Ok(cookies)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn jar() -> Vec<Cookie> {
        let text = "# Netscape HTTP Cookie File\n\
            .example.org\tTRUE\t/\tFALSE\t0\twide\t1\n\
            exact.org\tFALSE\t/news\tFALSE\t0\tnarrow\t2\n\
            #HttpOnly_secure.org\tFALSE\t/\tTRUE\t0\tsecret\t3\n\
            old.org\tFALSE\t/\tFALSE\t1000\tstale\t4\n";
        parse_cookies(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn names(u: &str) -> Vec<String> {
        jar()
            .iter()
            .filter(|c| c.applies_to(&url(u), 2000))
            .map(|c| c.name.clone())
            .collect()
    }

    #[test]
    fn cookies_go_only_where_their_domain_path_and_flags_allow() {
        assert_eq!(names("http://example.org/"), ["wide"]);
        assert_eq!(names("http://www.example.org/x"), ["wide"]);
        assert!(names("http://badexample.org/").is_empty());
        assert_eq!(names("http://exact.org/news"), ["narrow"]);
        assert_eq!(names("http://exact.org/news/today"), ["narrow"]);
        assert!(names("http://exact.org/newsroom").is_empty());
        assert!(names("http://www.exact.org/news").is_empty());
        assert!(names("http://secure.org/").is_empty());
        assert_eq!(names("https://secure.org/"), ["secret"]);
        assert!(names("http://old.org/").is_empty());
    }

    #[test]
    fn malformed_lines_are_named() {
        let err = parse_cookies("a.org\tTRUE\t/\n").err();
        assert_eq!(err.map(|e| e.line), Some(1));
        let err = parse_cookies("# c\n\na.org\tTRUE\t/\tFALSE\tsoon\tn\tv\n").err();
        assert_eq!(err.map(|e| e.line), Some(3));
    }
}
