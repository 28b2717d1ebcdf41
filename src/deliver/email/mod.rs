//! The email sink: events as mail through an SMTP server, one attempt at a
//! time. Retry policy lives with the outbox; this says what one attempt
//! came to, the same way the webhook sink does.

mod compose;
mod content;

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use reqwest::header::HeaderMap;

use super::attempt::{Answer, Attempt, SecretError, Sent, read_secret};
use crate::config::{EmailSink, SmtpSecurity};
use crate::error::error_chain;
use crate::event::Event;

pub use compose::Letterhead;

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("cannot read the SMTP password")]
    Password(#[source] SecretError),
    #[error("the SMTP password is empty")]
    EmptyPassword,
    #[error("cannot read the CA file {}", path.display())]
    CaFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up TLS for {host}")]
    Tls {
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
}

/// SMTP answers that are about the login, not the message: the sink is
/// misconfigured, and every event would fail the same way, so they are
/// retried (and logged) rather than each event declared dead.
const LOGIN_CODES: [&str; 4] = ["530", "534", "535", "538"];

/// One email sink, ready to send.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    head: Letterhead,
    timeout: Duration,
    /// One message per window of this length, if set.
    pub digest: Option<Duration>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the password: it is left out.
        f.debug_struct("Mailer")
            .field("head", &self.head)
            .field("timeout", &self.timeout)
            .field("digest", &self.digest)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Sets up the sink named `name`; the second value is a warning to log.
    pub fn new(name: &str, sink: &EmailSink) -> Result<(Mailer, Option<String>), EmailError> {
        let server = &sink.smtp;
        let tls = tls(sink)?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.port)
            .timeout(Some(sink.timeout))
            .tls(tls);
        let mut warning = None;
        if let (Some(user), Some(secret)) = (&sink.username, &sink.password) {
            let (password, warned) = read_secret(secret).map_err(EmailError::Password)?;
            // A file's last line break is not part of the password.
            let password = password.trim_end_matches(['\r', '\n']).to_string();
            if password.is_empty() {
                return Err(EmailError::EmptyPassword);
            }
            warning = warned;
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let mailer = Mailer {
            transport: builder.build(),
            head: Letterhead {
                from: sink.from.clone(),
                to: sink.to.clone(),
                sink: name.to_string(),
            },
            timeout: sink.timeout,
            digest: sink.digest,
        };
        Ok((mailer, warning))
    }

    /// The longest one send may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends one message for `events`: one event, or a digest of several.
    pub async fn send(&self, events: &[Event]) -> Attempt {
        self.exchange(events).await.attempt
    }

    /// One message sent, keeping the server's last answer to it.
    pub async fn exchange(&self, events: &[Event]) -> Sent {
        let message = match compose::message(&self.head, events) {
            Ok(message) => message,
            Err(e) => return Attempt::Rejected(format!("cannot build the message: {e}")).into(),
        };
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Err(_) => retry(format!("no answer within {:?}", self.timeout)).into(),
            Ok(Ok(response)) => {
                let code = response.code().to_string();
                Sent {
                    attempt: Attempt::Delivered,
                    answer: Some(Answer {
                        code: code.parse().unwrap_or_default(),
                        status: code,
                        headers: HeaderMap::new(),
                        body: response.message().collect::<Vec<_>>().join("\n"),
                    }),
                }
            }
            Ok(Err(e)) => classify(&e).into(),
        }
    }
}

fn retry(error: String) -> Attempt {
    Attempt::Retry { error, after: None }
}

/// 5xx answers about the message are final; 4xx, no answer, refused
/// connections and TLS failures are worth another try.
fn classify(e: &lettre::transport::smtp::Error) -> Attempt {
    let text = format!("SMTP server: {}", error_chain(e));
    let login = e
        .status()
        .is_some_and(|code| LOGIN_CODES.contains(&code.to_string().as_str()));
    if e.is_permanent() && !login {
        Attempt::Rejected(text)
    } else {
        retry(text)
    }
}

fn tls(sink: &EmailSink) -> Result<Tls, EmailError> {
    let host = &sink.smtp.host;
    let tls_error = |source| EmailError::Tls {
        host: host.clone(),
        source,
    };
    if sink.smtp.security == SmtpSecurity::Plain {
        return Ok(Tls::None);
    }
    let mut params = TlsParameters::builder(host.clone());
    if let Some(path) = &sink.ca_file {
        let pem = std::fs::read(path).map_err(|source| EmailError::CaFile {
            path: path.clone(),
            source,
        })?;
        params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(tls_error)?);
    }
    let params = params.build_rustls().map_err(tls_error)?;
    Ok(match sink.smtp.security {
        SmtpSecurity::Tls => Tls::Wrapper(params),
        _ => Tls::Required(params),
    })
}
