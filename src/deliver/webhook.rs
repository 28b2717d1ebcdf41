//! The webhook sink: Standard Webhooks over HTTP POST, one attempt at a time.
//! Retry policy lives with the caller; this says what one attempt came to.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use sha2::Sha256;
use url::Url;

use super::attempt::{Answer, Attempt, SecretError, Sent, http_client, read_secret};
use crate::config::SecretRef;
use crate::event::Event;

/// Reads a sink's signing key. A `whsec_` prefix means the rest is the
/// base64 of the key bytes, as Standard Webhooks says; anything else is used
/// as raw bytes. The second value is a warning to log, if any.
pub fn load_secret(secret: &SecretRef) -> Result<(Vec<u8>, Option<String>), SecretError> {
    let (raw, warning) = read_secret(secret)?;
    Ok((decode_secret(&raw)?, warning))
}

pub fn decode_secret(raw: &str) -> Result<Vec<u8>, SecretError> {
    let key = match raw.strip_prefix("whsec_") {
        Some(b64) => STANDARD.decode(b64).map_err(|_| SecretError::Base64)?,
        None => raw.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(SecretError::Empty);
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes keys of any length, so the error branch is never taken.
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return "v1,".to_string();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The Standard Webhooks envelope around an event.
pub fn body(event: &Event) -> String {
    // Written by hand so the event inside keeps its documented field order.
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        text(event.kind.as_str()),
        text(&event.timestamp),
        event.to_json()
    )
}

/// One webhook receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: Url,
    key: Option<Vec<u8>>,
    timeout: Duration,
}

impl Webhook {
    /// The longest one send may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn new(
        url: Url,
        key: Option<Vec<u8>>,
        timeout: Duration,
        user_agent: &str,
    ) -> Result<Webhook, reqwest::Error> {
        let client = http_client(user_agent, timeout)?;
        Ok(Webhook {
            client,
            url,
            key,
            timeout,
        })
    }

    /// Posts one event, signed with the attempt's own timestamp; what it
    /// came to and what the receiver answered.
    pub async fn exchange(&self, event: &Event, now_unix: i64) -> Sent {
        let body = body(event);
        let mut request = self
            .client
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("webhook-id", event.id.as_str())
            .header("webhook-timestamp", now_unix.to_string());
        if let Some(key) = &self.key {
            request = request.header("webhook-signature", sign(key, &event.id, now_unix, &body));
        }
        let sent = tokio::time::timeout(self.timeout, request.body(body).send()).await;
        let response = match sent {
            Err(_) => return retry(format!("no answer within {:?}", self.timeout), None).into(),
            Ok(Err(e)) => return retry(crate::error::error_chain(&without_url(e)), None).into(),
            Ok(Ok(response)) => response,
        };
        let attempt = classify(&response);
        Sent {
            attempt,
            answer: Some(Answer::read(response).await),
        }
    }
}

fn retry(error: String, after: Option<Duration>) -> Attempt {
    Attempt::Retry { error, after }
}

/// reqwest errors carry the URL, which may hold a token: leave it out.
fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

fn classify(response: &reqwest::Response) -> Attempt {
    let status = response.status();
    if status.is_success() {
        return Attempt::Delivered;
    }
    let text = format!(
        "receiver answered {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    )
    .trim_end()
    .to_string();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::fetch::parse_retry_after(v, std::time::SystemTime::now()));
    match status {
        StatusCode::GONE => Attempt::Gone(text),
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => retry(text, retry_after),
        s if s.is_server_error() => retry(text, retry_after),
        _ => Attempt::Rejected(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_specification_example() {
        // The example from the Standard Webhooks specification.
        let key = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_default();
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn body_wraps_the_event_in_the_standard_envelope() {
        let event = crate::event::Draft::new(crate::event::EventKind::SourceRecovered).into_event(
            &crate::event::SourceRef {
                name: "n".into(),
                url: "https://e.org/\"q\"".into(),
            },
            chrono::Utc::now(),
        );
        let parsed: serde_json::Value = serde_json::from_str(&body(&event)).unwrap_or_default();
        assert_eq!(parsed["type"], "source.recovered");
        assert_eq!(parsed["timestamp"], event.timestamp.as_str());
        assert_eq!(parsed["data"]["id"], event.id.as_str());
        assert_eq!(parsed["data"]["source"]["url"], "https://e.org/\"q\"");
    }

    #[test]
    fn secrets_without_prefix_are_raw_bytes() {
        assert_eq!(decode_secret("abc").unwrap_or_default(), b"abc");
        assert!(matches!(
            decode_secret("whsec_!!!"),
            Err(SecretError::Base64)
        ));
        assert!(matches!(decode_secret(""), Err(SecretError::Empty)));
    }
}
