//! Discord channel webhooks: Markdown escaped, no mention allowed, no
//! embeds unfurled.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{Outgoing, by_status, said, seconds};
use crate::deliver::attempt::{Answer, Attempt};
use crate::deliver::message::{Markup, Measure, Message, fit};

/// `content` holds at most 2,000 characters.
pub const LIMIT: usize = 2000;
/// The message flag that stops links unfurling into embeds.
const SUPPRESS_EMBEDS: u32 = 1 << 2;

pub struct Markdown;

impl Markup for Markdown {
    fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len() + s.len() / 4);
        for (i, c) in s.char_indices() {
            // Every character Discord's Markdown gives a meaning to, `@` so
            // no mention forms, and the `:` of `://` so no bare link does.
            let bare_link = c == ':' && s[i..].starts_with("://");
            if bare_link || "\\*_~`|>#-[]()<@".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
    fn headline(&self, s: &str) -> String {
        format!("**{}**", self.text(s))
    }
    fn link(&self, url: &str) -> String {
        // In angle brackets: a link without an embed. The URL is
        // percent-encoded, so it holds no `>`.
        format!("<{url}>")
    }
    fn field(&self, name: &str) -> String {
        format!("*{}:*", self.text(name))
    }
    fn removed(&self, s: &str) -> String {
        format!("~~{}~~", self.text(s.trim()))
    }
    fn added(&self, s: &str) -> String {
        format!("**{}**", self.text(s.trim()))
    }
    fn code(&self, s: &str) -> String {
        format!("`{}`", s.replace('`', "'"))
    }
}

pub fn content(message: &Message) -> Result<String, String> {
    fit(message, &Markdown, LIMIT, Measure::Chars)
        .ok_or_else(|| "discord: the message cannot be cut to fit".to_string())
}

pub fn request(url: &Url, message: &Message) -> Result<Outgoing, String> {
    let body = json!({
        "content": content(message)?,
        "allowed_mentions": {"parse": []},
        "flags": SUPPRESS_EMBEDS,
    });
    Ok(Outgoing::json(Method::POST, url.clone(), &body))
}

/// Errors are JSON: `{"message": "Unknown Webhook", "code": 10015}`; a
/// 429's body says `retry_after` in (fractional) seconds, as does the
/// `X-RateLimit-Reset-After` header.
pub fn classify(answer: &Answer) -> Attempt {
    let json = answer.json();
    let detail = match (json["message"].as_str(), json["code"].as_i64()) {
        (Some(m), Some(code)) if code != 0 => format!("{m} (code {code})"),
        (Some(m), _) => m.to_string(),
        _ => answer.body.clone(),
    };
    let after = seconds(&json["retry_after"]).or_else(|| reset_after(answer));
    by_status(answer, after, said("discord", answer, &detail))
}

fn reset_after(answer: &Answer) -> Option<Duration> {
    let value = answer
        .headers
        .get("x-ratelimit-reset-after")?
        .to_str()
        .ok()?;
    seconds(&serde_json::Value::from(value.trim().parse::<f64>().ok()?))
}
