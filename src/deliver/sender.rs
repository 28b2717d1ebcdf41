//! The sinks delivered through the outbox, behind one `send`: each kind says
//! what one attempt came to ([`Attempt`]) and the outbox decides what follows.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::chat::Chat;
use super::command::CommandSink;
use super::webhook::{Attempt, SecretError, Webhook, load_secret};
use crate::config::{SinkConfig, SinkKind};
use crate::event::Event;

/// The most of an answer's body kept: enough for any error a service sends.
const MAX_ANSWER: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read the sink's secret")]
    Secret(#[from] SecretError),
    #[error("cannot set up the HTTP client")]
    Client(#[from] reqwest::Error),
    #[error("the secret does not hold a valid http or https URL")]
    SecretUrl,
}

/// One sink that the outbox delivers to.
#[derive(Debug, Clone)]
pub enum Sender {
    Webhook(Webhook),
    Chat(Chat),
    Command(CommandSink),
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

impl Sender {
    /// The sender for an outbox sink, with its secret read; `None` for a log sink.
    pub fn build(sink: &SinkConfig, user_agent: &str) -> Result<Option<Built>, SetupError> {
        let built = match &sink.kind {
            SinkKind::Log { .. } => return Ok(None),
            SinkKind::Webhook {
                url,
                secret,
                timeout,
                ..
            } => {
                let (key, warning) = match secret.as_ref().map(load_secret).transpose()? {
                    Some((key, warning)) => (Some(key), warning),
                    None => (None, None),
                };
                let hook = Webhook::new(url.clone(), key, *timeout, user_agent)?;
                Built::new(Sender::Webhook(hook), warning)
            }
            SinkKind::Chat {
                platform, timeout, ..
            } => {
                let (chat, warning) = Chat::new(platform, *timeout, user_agent)?;
                Built::new(Sender::Chat(chat), warning)
            }
            SinkKind::Command { argv, timeout, .. } => Built::new(
                Sender::Command(CommandSink::new(argv.clone(), *timeout)),
                None,
            ),
        };
        Ok(Some(built))
    }

    /// The longest one attempt may take.
    pub fn timeout(&self) -> Duration {
        match self {
            Sender::Webhook(hook) => hook.timeout(),
            Sender::Chat(chat) => chat.timeout(),
            Sender::Command(command) => command.timeout(),
        }
    }

    pub async fn send(&self, event: &Event, now_unix: i64) -> Attempt {
        self.exchange(event, now_unix).await.attempt
    }

    /// One attempt, keeping the receiver's answer.
    pub async fn exchange(&self, event: &Event, now_unix: i64) -> Sent {
        match self {
            Sender::Webhook(hook) => hook.exchange(event, now_unix).await,
            Sender::Chat(chat) => chat.exchange(event).await,
            Sender::Command(command) => command.exchange(event).await,
        }
    }
}

/// A sender and a warning about its secret worth logging, if any.
#[derive(Debug)]
pub struct Built {
    pub sender: Sender,
    pub warning: Option<String>,
}

impl Built {
    fn new(sender: Sender, warning: Option<String>) -> Built {
        Built { sender, warning }
    }
}
