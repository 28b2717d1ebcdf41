//! Slack incoming webhooks: a mrkdwn section block, `&`, `<` and `>`
//! escaped and `verbatim` set, so feed text makes no link and no mention.

use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{Outgoing, by_status, said};
use crate::deliver::attempt::{Answer, Attempt};
use crate::deliver::message::{Markup, Measure, Message, fit};

/// A section block's text holds at most 3,000 characters.
pub const LIMIT: usize = 3000;

/// Answers that mean the webhook will never work again.
const PERMANENT: [&str; 6] = [
    "invalid_token",
    "channel_not_found",
    "no_service",
    "channel_is_archived",
    "action_prohibited",
    "posting_to_general_channel_denied",
];

pub struct Mrkdwn;

impl Markup for Mrkdwn {
    fn text(&self, s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }
    fn headline(&self, s: &str) -> String {
        format!("*{}*", self.text(s))
    }
    fn link(&self, url: &str) -> String {
        // `web_link` gave a percent-encoded URL with `|` encoded too.
        format!("<{url}|Open the story>")
    }
    fn field(&self, name: &str) -> String {
        format!("_{}:_", self.text(name))
    }
    fn removed(&self, s: &str) -> String {
        // Slack styles only words set apart by spaces: `~a~*b*` would show
        // its marks, so a replacement reads `~a~ *b*`.
        format!("~{}~ ", self.text(s.trim()))
    }
    fn added(&self, s: &str) -> String {
        format!("*{}*", self.text(s.trim()))
    }
    fn code(&self, s: &str) -> String {
        format!("`{}`", self.text(s))
    }
}

pub fn text(message: &Message) -> Result<String, String> {
    fit(message, &Mrkdwn, LIMIT, Measure::Chars)
        .ok_or_else(|| "slack: the message cannot be cut to fit".to_string())
}

pub fn request(url: &Url, message: &Message) -> Result<Outgoing, String> {
    let body = json!({
        "text": Mrkdwn.text(&message.headline),
        "blocks": [{
            "type": "section",
            "text": {"type": "mrkdwn", "text": text(message)?, "verbatim": true},
        }],
        "unfurl_links": false,
        "unfurl_media": false,
    });
    Ok(Outgoing::json(Method::POST, url.clone(), &body))
}

/// Slack answers in plain text: `ok`, or an error code such as
/// `invalid_token`. Its 4xx codes are permanent; 429 carries Retry-After.
pub fn classify(answer: &Answer) -> Attempt {
    let body = answer.body.trim();
    let text = said("slack", answer, body);
    if PERMANENT.contains(&body) {
        return Attempt::Rejected(text);
    }
    by_status(answer, None, text)
}
