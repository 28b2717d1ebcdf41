//! What a source's request settings add to each hop of a request: its own
//! user agent on every hop; its headers, sign-in and cookies only while the
//! hop stays on the source's own host and port.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::error::redacted;
use super::{FetchError, FetchRequest};
use crate::config::Auth;

/// The `Authorization` value the request signs in with, its secret read now
/// so a rotated password or token is used from the next poll on.
pub(super) fn authorization(req: &FetchRequest<'_>) -> Result<Option<HeaderValue>, FetchError> {
    let Some(auth) = req.extras.and_then(|e| e.config.auth.as_ref()) else {
        return Ok(None);
    };
    let secret_error = |source| FetchError::Secret {
        url: redacted(req.url),
        source,
    };
    let value = match auth {
        Auth::Basic { username, password } => {
            let password = password.read().map_err(secret_error)?;
            let pair = STANDARD.encode(format!("{username}:{password}"));
            HeaderValue::from_str(&format!("Basic {pair}"))
        }
        Auth::Bearer(token) => {
            let token = token.read().map_err(secret_error)?;
            HeaderValue::from_str(&format!("Bearer {token}"))
        }
    };
    let mut value = value.map_err(|_| FetchError::BadCredential {
        url: redacted(req.url),
    })?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// Adds the configured headers to one hop's request to `url`.
pub(super) fn add(
    headers: &mut HeaderMap,
    req: &FetchRequest<'_>,
    authorization: Option<&HeaderValue>,
    url: &Url,
) {
    let Some(extras) = req.extras else {
        return;
    };
    let config = extras.config;
    if let Some(agent) = config
        .user_agent
        .as_deref()
        .and_then(|a| HeaderValue::from_str(a).ok())
    {
        headers.insert(header::USER_AGENT, agent);
    }
    if !same_origin(url, extras.origin) {
        return;
    }
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        if let (Ok(name), Ok(mut value)) = (name, value) {
            // Custom headers often carry keys: never shown in debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
    }
    if let Some(value) = authorization {
        headers.insert(header::AUTHORIZATION, value.clone());
    }
    if let Some(cookie) = cookie_header(extras.config, url) {
        headers.insert(header::COOKIE, cookie);
    }
}

/// The same host (compared without case) and port, the scheme's default
/// when none is written, as reqwest decides whether a redirect keeps
/// `Authorization`. So http to https on the same host drops them too: a
/// source that moves there is configured with its https URL.
pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    let host = |u: &Url| u.host_str().map(str::to_ascii_lowercase);
    host(a) == host(b) && a.port_or_known_default() == b.port_or_known_default()
}

/// The cookies of the file that apply to `url` now, in one `Cookie` header.
fn cookie_header(config: &crate::config::RequestConfig, url: &Url) -> Option<HeaderValue> {
    let cookies = config.cookies.as_ref()?;
    let now = chrono::Utc::now().timestamp();
    let pairs: Vec<String> = cookies
        .cookies
        .iter()
        .filter(|c| c.applies_to(url, now))
        .map(|c| format!("{}={}", c.name, c.value))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut value = HeaderValue::from_str(&pairs.join("; ")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn origins_differ_by_host_or_port() {
        let a = url("http://Example.org/feed");
        assert!(same_origin(&a, &url("http://example.org/other")));
        assert!(!same_origin(&a, &url("http://example.org:8080/feed")));
        assert!(!same_origin(&a, &url("http://www.example.org/feed")));
        assert!(!same_origin(&a, &url("https://example.org/feed")));
        let tls = url("https://example.org/feed");
        assert!(same_origin(&tls, &url("https://example.org:443/x")));
    }
}
