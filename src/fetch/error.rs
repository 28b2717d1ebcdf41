//! Why a fetch failed, in words a user can act on. URLs are shown without
//! query or credentials, which may hold tokens.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Response, header};
use url::Url;

use super::{FetchRequest, guard};

/// Why a fetch failed. URLs are shown without query or credentials, which
/// may hold tokens.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("could not set up the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("the user agent {0:?} is not a valid HTTP header value")]
    InvalidUserAgent(String),
    #[error("cannot fetch {url}: only http, https and file URLs are supported")]
    UnsupportedScheme { url: String },
    #[error("could not connect to {url}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("TLS handshake with {url} failed")]
    Tls {
        url: String,
        #[source]
        source: rustls::Error,
    },
    #[error("request to {url} timed out after {}", humantime::format_duration(*after))]
    Timeout { url: String, after: Duration },
    #[error("redirect loop at {url}")]
    RedirectLoop { url: String },
    #[error("gave up on {url} after {max} redirects")]
    TooManyRedirects { url: String, max: usize },
    #[error("{url} redirects to an unusable address {location:?}")]
    BadRedirect { url: String, location: String },
    #[error("server answered {} for {url}", status_line(*status, reason))]
    Status {
        url: String,
        status: u16,
        reason: String,
        retry_after: Option<String>,
    },
    #[error("response body from {url} is larger than the {} limit", ByteSize(*limit))]
    TooLarge { url: String, limit: u64 },
    #[error("could not read the response body from {url}")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error(
        "refused to fetch {url}: links taken from fetched content may not reach private addresses (set allow_private_links = true to allow them)"
    )]
    PrivateAddress {
        url: String,
        #[source]
        source: guard::Refused,
    },
    #[error("cannot sign in to {url}")]
    Secret {
        url: String,
        #[source]
        source: crate::config::SecretReadError,
    },
    #[error(
        "the password or token for {url} cannot be sent in a header (it holds control characters)"
    )]
    BadCredential { url: String },
    #[error("{url} does not name a local file")]
    NotAFilePath { url: String },
    #[error("could not read {}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// The raw `Retry-After` value of an error status, for the scheduler to honour.
    pub fn retry_after(&self) -> Option<&str> {
        match self {
            FetchError::Status { retry_after, .. } => retry_after.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub(super) fn status_error(response: &Response) -> FetchError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    FetchError::Status {
        url: redacted(response.url()),
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_owned(),
        retry_after,
    }
}

pub(super) fn classify(err: reqwest::Error, url: &Url, req: &FetchRequest<'_>) -> FetchError {
    if let Some(refused) = guard::refusal_in(&err) {
        return refused_error(err.url().unwrap_or(url), refused.clone());
    }
    let shown = redacted(err.url().unwrap_or(url));
    if let Some(tls) = tls_error(&err) {
        return FetchError::Tls {
            url: shown,
            source: tls.clone(),
        };
    }
    // The URL is already in our own message; reqwest's would repeat it.
    let err = err.without_url();
    if err.is_timeout() {
        FetchError::Timeout {
            url: redacted(req.url),
            after: req.timeout,
        }
    } else if err.is_connect() {
        FetchError::Connect {
            url: shown,
            source: err,
        }
    } else if err.is_body() || err.is_decode() {
        FetchError::Body {
            url: shown,
            source: err,
        }
    } else {
        FetchError::Request {
            url: shown,
            source: err,
        }
    }
}

/// The TLS failure under a connect error. rustls reaches us wrapped in
/// `io::Error`s (one in another), whose `source()` skips what they wrap, so
/// look inside each.
fn tls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        current = match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    None
}

pub(super) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Both fail only for URLs that cannot carry credentials at all.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

fn status_line(status: u16, reason: &str) -> String {
    if reason.is_empty() {
        status.to_string()
    } else {
        format!("{status} {reason}")
    }
}

struct ByteSize(u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self.0 {
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            n => write!(f, "{n} bytes"),
        }
    }
}

pub(super) fn refused_error(url: &Url, refused: guard::Refused) -> FetchError {
    FetchError::PrivateAddress {
        url: redacted(url),
        source: refused,
    }
}
