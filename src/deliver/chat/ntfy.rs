//! ntfy: the message as plain text (Markdown off) posted to the topic URL.

use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderName};
use url::Url;

use super::{Outgoing, by_status, said};
use crate::deliver::attempt::{Answer, Attempt};
use crate::deliver::message::{Markup, Measure, Message, fit};

/// A longer message is turned into an attachment: 4,096 bytes.
pub const LIMIT: usize = 4096;

pub struct Plain;

impl Markup for Plain {
    fn text(&self, s: &str) -> String {
        s.to_string()
    }
    fn link(&self, url: &str) -> String {
        url.to_string()
    }
}

pub fn text(message: &Message) -> Result<String, String> {
    fit(message, &Plain, LIMIT, Measure::Bytes)
        .ok_or_else(|| "ntfy: the message cannot be cut to fit".to_string())
}

pub fn request(url: &Url, priority: Option<u8>, message: &Message) -> Result<Outgoing, String> {
    let mut headers = vec![
        (CONTENT_TYPE, "text/plain; charset=utf-8".to_string()),
        (HeaderName::from_static("markdown"), "no".to_string()),
    ];
    if let Some(p) = priority {
        headers.push((HeaderName::from_static("priority"), p.to_string()));
    }
    if let Some(link) = &message.link {
        headers.push((HeaderName::from_static("click"), link.clone()));
    }
    Ok(Outgoing {
        method: Method::POST,
        url: url.clone(),
        headers,
        body: text(message)?,
    })
}

/// Errors are JSON: `{"code": 40101, "http": 401, "error": "unauthorized"}`.
pub fn classify(answer: &Answer) -> Attempt {
    let json = answer.json();
    let detail = json["error"].as_str().unwrap_or(&answer.body);
    by_status(answer, None, said("ntfy", answer, detail))
}
