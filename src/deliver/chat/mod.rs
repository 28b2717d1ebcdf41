//! Chat and push services: one module per platform says how a message is
//! written and posted there, and what the platform's answer means (sent,
//! wait and retry, or never going to work). The outbox does the rest.

mod discord;
mod matrix;
mod ntfy;
mod slack;
mod telegram;

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, RETRY_AFTER};
use url::Url;

use super::attempt::{Answer, Attempt, Sent, SetupError, http_client, read_secret};
use super::message::Message;
use crate::config::{Platform, SecretRef};
use crate::event::Event;

/// One chat or push sink, with its secrets read.
#[derive(Debug, Clone)]
pub struct Chat {
    client: reqwest::Client,
    target: Target,
    timeout: Duration,
}

/// Where and how to post; the secrets are inside and never printed.
#[derive(Clone)]
enum Target {
    Slack {
        url: Url,
    },
    Discord {
        url: Url,
    },
    Telegram {
        api_url: Url,
        token: String,
        chat_id: String,
    },
    Ntfy {
        url: Url,
        token: Option<String>,
        priority: Option<u8>,
    },
    Matrix {
        homeserver: Url,
        room_id: String,
        token: String,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs of Slack and Discord and every token are secrets.
        f.write_str(self.platform())
    }
}

impl Target {
    fn platform(&self) -> &'static str {
        match self {
            Target::Slack { .. } => "slack",
            Target::Discord { .. } => "discord",
            Target::Telegram { .. } => "telegram",
            Target::Ntfy { .. } => "ntfy",
            Target::Matrix { .. } => "matrix",
        }
    }
}

/// One HTTP request to a platform.
#[derive(Debug)]
pub struct Outgoing {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, String)>,
    pub body: String,
}

impl Outgoing {
    fn json(method: Method, url: Url, body: &serde_json::Value) -> Outgoing {
        Outgoing {
            method,
            url,
            headers: vec![(CONTENT_TYPE, "application/json".to_string())],
            body: body.to_string(),
        }
    }

    fn bearer(mut self, token: Option<&str>) -> Outgoing {
        if let Some(token) = token {
            self.headers
                .push((AUTHORIZATION, format!("Bearer {token}")));
        }
        self
    }
}

fn secret(secret: &SecretRef, warnings: &mut Vec<String>) -> Result<String, SetupError> {
    let (value, warning) = read_secret(secret)?;
    warnings.extend(warning);
    Ok(value)
}

fn secret_url(secret_ref: &SecretRef, warnings: &mut Vec<String>) -> Result<Url, SetupError> {
    let text = secret(secret_ref, warnings)?;
    Url::parse(&text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or(SetupError::SecretUrl)
}

impl Chat {
    /// Reads the platform's secrets; the second value is a warning to log.
    pub fn new(
        platform: &Platform,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<(Chat, Option<String>), SetupError> {
        let mut warnings = Vec::new();
        let target = match platform {
            Platform::Slack { url } => Target::Slack {
                url: secret_url(url, &mut warnings)?,
            },
            Platform::Discord { url } => Target::Discord {
                url: secret_url(url, &mut warnings)?,
            },
            Platform::Telegram {
                api_url,
                token,
                chat_id,
            } => Target::Telegram {
                api_url: api_url.clone(),
                token: secret(token, &mut warnings)?,
                chat_id: chat_id.clone(),
            },
            Platform::Ntfy {
                url,
                token,
                priority,
            } => Target::Ntfy {
                url: url.clone(),
                token: token
                    .as_ref()
                    .map(|t| secret(t, &mut warnings))
                    .transpose()?,
                priority: *priority,
            },
            Platform::Matrix {
                homeserver,
                room_id,
                token,
            } => Target::Matrix {
                homeserver: homeserver.clone(),
                room_id: room_id.clone(),
                token: secret(token, &mut warnings)?,
            },
        };
        let client = http_client(user_agent, timeout)?;
        let chat = Chat {
            client,
            target,
            timeout,
        };
        Ok((chat, warnings.into_iter().next()))
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The request that carries `event` to the platform.
    fn request(&self, event: &Event) -> Result<Outgoing, String> {
        let message = Message::from_event(event);
        match &self.target {
            Target::Slack { url } => slack::request(url, &message),
            Target::Discord { url } => discord::request(url, &message),
            Target::Telegram {
                api_url,
                token,
                chat_id,
            } => telegram::request(api_url, token, chat_id, &message),
            Target::Ntfy {
                url,
                token,
                priority,
            } => ntfy::request(url, *priority, &message).map(|o| o.bearer(token.as_deref())),
            Target::Matrix {
                homeserver,
                room_id,
                token,
            } => matrix::request(homeserver, room_id, &event.id, &message)
                .map(|o| o.bearer(Some(token))),
        }
    }

    fn classify(&self, answer: &Answer) -> Attempt {
        match &self.target {
            Target::Slack { .. } => slack::classify(answer),
            Target::Discord { .. } => discord::classify(answer),
            Target::Telegram { .. } => telegram::classify(answer),
            Target::Ntfy { .. } => ntfy::classify(answer),
            Target::Matrix { .. } => matrix::classify(answer),
        }
    }

    /// One attempt to post `event`.
    pub async fn exchange(&self, event: &Event) -> Sent {
        let outgoing = match self.request(event) {
            Ok(outgoing) => outgoing,
            Err(error) => return Attempt::Rejected(error).into(),
        };
        let mut request = self
            .client
            .request(outgoing.method, outgoing.url)
            .timeout(self.timeout)
            .body(outgoing.body);
        for (name, value) in outgoing.headers {
            request = request.header(name, value);
        }
        let platform = self.target.platform();
        let response = match tokio::time::timeout(self.timeout, request.send()).await {
            Err(_) => return retry(format!("{platform}: no answer within {:?}", self.timeout)),
            // The URL may hold a token (Telegram) or be the secret (Slack, Discord).
            Ok(Err(e)) => return retry(crate::error::error_chain(&e.without_url())),
            Ok(Ok(response)) => response,
        };
        let answer = Answer::read(response).await;
        Sent {
            attempt: self.classify(&answer),
            answer: Some(answer),
        }
    }
}

fn retry(error: String) -> Sent {
    Attempt::Retry { error, after: None }.into()
}

/// The standard outcomes by status, for what a platform's own answer does
/// not settle: 2xx sent; 408, 429 and 5xx retried (honouring Retry-After);
/// any other 4xx will never work, so the event is dead at once with `text`.
fn by_status(answer: &Answer, after: Option<Duration>, text: String) -> Attempt {
    let code = answer.code;
    if (200..300).contains(&code) {
        return Attempt::Delivered;
    }
    let after = after.or_else(|| retry_after_header(answer));
    match code {
        408 | 429 | 500..=599 => Attempt::Retry { error: text, after },
        _ => Attempt::Rejected(text),
    }
}

fn retry_after_header(answer: &Answer) -> Option<Duration> {
    let value = answer.headers.get(RETRY_AFTER)?.to_str().ok()?;
    crate::fetch::parse_retry_after(value, std::time::SystemTime::now())
}

/// Seconds, possibly fractional, as a wait.
fn seconds(value: &serde_json::Value) -> Option<Duration> {
    let s = value.as_f64().filter(|s| s.is_finite() && *s >= 0.0)?;
    Some(Duration::from_secs_f64(s.min(86_400.0)))
}

/// The platform's own words, one line and short enough for a listing.
fn said(platform: &str, answer: &Answer, detail: &str) -> String {
    let detail = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    let detail: String = detail.chars().take(300).collect();
    if detail.is_empty() {
        format!("{platform} answered {}", answer.status)
    } else {
        format!("{platform} answered {}: {detail}", answer.status)
    }
}

#[cfg(test)]
mod tests;
