//! What one attempt at a sink came to, what the receiver answered, and
//! reading the secrets sinks are set up with: shared by every kind of sink.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::config::{SecretReadError, SecretRef, readable_by_others};

/// The most of an answer's body kept: enough for any error a service sends.
const MAX_ANSWER: usize = 64 << 10;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again (408, 429, 5xx, no answer), not before `after` if given.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    /// 410 Gone: the receiver asks us to stop; the sink is disabled.
    Gone(String),
    /// Any other answer: retrying the same request will not help.
    Rejected(String),
}

/// What an attempt came to, and what the receiver answered if it did.
#[derive(Debug)]
pub struct Sent {
    pub attempt: Attempt,
    pub answer: Option<Answer>,
}

impl From<Attempt> for Sent {
    fn from(attempt: Attempt) -> Sent {
        Sent {
            attempt,
            answer: None,
        }
    }
}

/// A receiver's answer: an HTTP status line and body, or a command's exit.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// `200 OK`, or `exit status 0`.
    pub status: String,
    pub code: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The status and the first part of the body.
    pub async fn read(mut response: reqwest::Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(MAX_ANSWER);
        Answer {
            status: format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            )
            .trim_end()
            .to_string(),
            code: status.as_u16(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Read(#[from] SecretReadError),
    #[error("the secret starts with whsec_ but the rest is not valid base64")]
    Base64,
    #[error("the secret is empty")]
    Empty,
}

/// Reads a secret as text, trimmed (a token, a webhook URL). The second
/// value is a warning to log, if any.
pub fn read_secret(secret: &SecretRef) -> Result<(String, Option<String>), SecretError> {
    let text = secret.read()?;
    let warning = match secret {
        SecretRef::File(path) => readable_by_others(path),
        SecretRef::Env(_) => None,
    };
    Ok((text, warning))
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read the sink's secret")]
    Secret(#[from] SecretError),
    #[error("cannot set up the HTTP client")]
    Client(#[from] reqwest::Error),
    #[error("the secret does not hold a valid http or https URL")]
    SecretUrl,
}

/// The HTTP client a sink sends with: its own User-Agent, no redirects
/// followed (a receiver that moved must be configured anew), no Referer,
/// connecting within `timeout` and at most 10 s.
pub fn http_client(user_agent: &str, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
}
