//! The sinks delivered through the outbox, behind one `send`: each kind says
//! what one attempt came to ([`Attempt`]) and the outbox decides what follows.

use std::time::Duration;

use super::attempt::{Attempt, Sent, SetupError};
use super::chat::Chat;
use super::command::CommandSink;
use super::email::{EmailError, Mailer};
use super::webhook::{Webhook, load_secret};
use crate::config::{SinkConfig, SinkKind};
use crate::event::Event;

/// Why a sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Email(#[from] EmailError),
}

/// One sink that the outbox delivers to.
#[derive(Debug, Clone)]
pub enum Sender {
    Webhook(Webhook),
    Chat(Chat),
    Command(CommandSink),
    Email(Box<Mailer>),
}

impl Sender {
    /// The sender for an outbox sink, with its secret read; `None` for a log sink.
    pub fn build(sink: &SinkConfig, user_agent: &str) -> Result<Option<Built>, BuildError> {
        let built = match &sink.kind {
            SinkKind::Log { .. } => return Ok(None),
            SinkKind::Webhook {
                url,
                secret,
                timeout,
                ..
            } => {
                let loaded = secret.as_ref().map(load_secret).transpose();
                let (key, warning) = match loaded.map_err(SetupError::from)? {
                    Some((key, warning)) => (Some(key), warning),
                    None => (None, None),
                };
                let hook = Webhook::new(url.clone(), key, *timeout, user_agent)
                    .map_err(SetupError::from)?;
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
            SinkKind::Email(email) => {
                let (mailer, warning) = Mailer::new(&sink.name, email)?;
                Built::new(Sender::Email(Box::new(mailer)), warning)
            }
        };
        Ok(Some(built))
    }

    /// The longest one attempt may take.
    pub fn timeout(&self) -> Duration {
        match self {
            Sender::Webhook(hook) => hook.timeout(),
            Sender::Chat(chat) => chat.timeout(),
            Sender::Command(command) => command.timeout(),
            Sender::Email(mailer) => mailer.timeout(),
        }
    }

    /// For a digest, how long events gather before one message takes them all.
    pub fn window(&self) -> Option<Duration> {
        match self {
            Sender::Email(mailer) => mailer.digest,
            Sender::Webhook(_) | Sender::Chat(_) | Sender::Command(_) => None,
        }
    }

    /// Sends `events`: the first alone, unless the sink sends digests.
    pub async fn send(&self, events: &[Event], now_unix: i64) -> Attempt {
        match (self, events) {
            (Sender::Email(mailer), [_, ..]) => mailer.send(events).await,
            (_, [event, ..]) => self.exchange(event, now_unix).await.attempt,
            (_, []) => Attempt::Delivered,
        }
    }

    /// One attempt, keeping the receiver's answer.
    pub async fn exchange(&self, event: &Event, now_unix: i64) -> Sent {
        match self {
            Sender::Webhook(hook) => hook.exchange(event, now_unix).await,
            Sender::Chat(chat) => chat.exchange(event).await,
            Sender::Command(command) => command.exchange(event).await,
            Sender::Email(mailer) => mailer.exchange(std::slice::from_ref(event)).await,
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
