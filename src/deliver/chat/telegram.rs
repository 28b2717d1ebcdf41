//! Telegram bots: `sendMessage` with `parse_mode` HTML and every piece of
//! feed text escaped.

use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

use super::{Outgoing, by_status, said, seconds};
use crate::deliver::attempt::{Answer, Attempt};
use crate::deliver::message::{Markup, Measure, Message, fit};

/// A message holds at most 4,096 characters, which Telegram counts in
/// UTF-16 code units. Counting the markup too, as here, errs on the safe side.
pub const LIMIT: usize = 4096;

pub struct Html;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Markup for Html {
    fn text(&self, s: &str) -> String {
        escape(s)
    }
    fn headline(&self, s: &str) -> String {
        format!("<b>{}</b>", escape(s))
    }
    fn link(&self, url: &str) -> String {
        format!("<a href=\"{}\">Open the story</a>", escape(url))
    }
    fn field(&self, name: &str) -> String {
        format!("<i>{}:</i>", escape(name))
    }
    fn removed(&self, s: &str) -> String {
        format!("<s>{}</s>", escape(s))
    }
    fn added(&self, s: &str) -> String {
        format!("<b>{}</b>", escape(s))
    }
    fn code(&self, s: &str) -> String {
        format!("<code>{}</code>", escape(s))
    }
}

pub fn text(message: &Message) -> Result<String, String> {
    fit(message, &Html, LIMIT, Measure::Utf16)
        .ok_or_else(|| "telegram: the message cannot be cut to fit".to_string())
}

/// `{api_url}/bot{token}/sendMessage`: the token is part of the path.
pub fn request(
    api_url: &Url,
    token: &str,
    chat_id: &str,
    message: &Message,
) -> Result<Outgoing, String> {
    let base = api_url.as_str().trim_end_matches('/');
    let url = Url::parse(&format!("{base}/bot{token}/sendMessage"))
        .map_err(|_| "telegram: the bot token does not fit in a URL".to_string())?;
    // A numeric id is sent as a number, `@channel` as a string.
    let chat: Value = chat_id
        .parse::<i64>()
        .map_or_else(|_| Value::from(chat_id), Value::from);
    let body = json!({
        "chat_id": chat,
        "text": text(message)?,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": true},
    });
    Ok(Outgoing::json(Method::POST, url, &body))
}

/// `{"ok": false, "error_code": 429, "description": "Too Many Requests:
/// retry after 5", "parameters": {"retry_after": 5}}`; `ok: true` is sent.
pub fn classify(answer: &Answer) -> Attempt {
    let json = answer.json();
    let description = json["description"].as_str().unwrap_or(&answer.body);
    let text = said("telegram", answer, description);
    if (200..300).contains(&answer.code) && json["ok"] == Value::Bool(false) {
        return Attempt::Rejected(text);
    }
    let after = seconds(&json["parameters"]["retry_after"]);
    by_status(answer, after, text)
}
