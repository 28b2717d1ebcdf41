//! Matrix: an `m.notice` PUT with the event id as the transaction id, so a
//! retry of the same event can never post twice; a plain `body` beside a
//! `formatted_body` of escaped HTML, and no mention of anyone.

use reqwest::Method;
use serde_json::json;
use url::Url;

use super::{Outgoing, by_status, said, seconds};
use crate::deliver::attempt::{Answer, Attempt};
use crate::deliver::message::{Markup, Measure, Message, fit};

/// An event is at most 65,536 bytes as JSON; each of the two renderings
/// gets well under half of it.
pub const LIMIT: usize = 24_000;

pub struct Html;

impl Markup for Html {
    fn text(&self, s: &str) -> String {
        super::telegram::escape(s)
    }
    fn headline(&self, s: &str) -> String {
        format!("<strong>{}</strong>", self.text(s))
    }
    fn link(&self, url: &str) -> String {
        format!("<a href=\"{}\">Open the story</a>", self.text(url))
    }
    fn field(&self, name: &str) -> String {
        format!("<em>{}:</em>", self.text(name))
    }
    fn removed(&self, s: &str) -> String {
        format!("<del>{}</del>", self.text(s))
    }
    fn added(&self, s: &str) -> String {
        format!("<strong>{}</strong>", self.text(s))
    }
    fn code(&self, s: &str) -> String {
        format!("<code>{}</code>", self.text(s))
    }
    fn newline(&self) -> &'static str {
        "<br>"
    }
}

pub fn content(message: &Message) -> Result<serde_json::Value, String> {
    let too_long = || "matrix: the message cannot be cut to fit".to_string();
    let body = fit(message, &super::ntfy::Plain, LIMIT, Measure::Bytes).ok_or_else(too_long)?;
    let html = fit(message, &Html, LIMIT, Measure::Bytes).ok_or_else(too_long)?;
    Ok(json!({
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": html,
        // Present and empty: nobody is mentioned, and clients do not look
        // for names or @room in the text.
        "m.mentions": {},
    }))
}

/// Every byte but the unreserved ones percent-encoded: room ids hold `!` and `:`.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn request(
    homeserver: &Url,
    room_id: &str,
    txn_id: &str,
    message: &Message,
) -> Result<Outgoing, String> {
    let base = homeserver.as_str().trim_end_matches('/');
    let url = format!(
        "{base}/_matrix/client/v3/rooms/{}/send/m.room.message/{}",
        path_segment(room_id),
        path_segment(txn_id)
    );
    let url = Url::parse(&url).map_err(|e| format!("matrix: bad room URL: {e}"))?;
    Ok(Outgoing::json(Method::PUT, url, &content(message)?))
}

/// `{"errcode": "M_LIMIT_EXCEEDED", "error": "…", "retry_after_ms": 2000}`.
pub fn classify(answer: &Answer) -> Attempt {
    let json = answer.json();
    let detail = match (json["errcode"].as_str(), json["error"].as_str()) {
        (Some(code), Some(error)) => format!("{code}: {error}"),
        (Some(code), None) => code.to_string(),
        _ => answer.body.clone(),
    };
    let text = said("matrix", answer, &detail);
    let after = json["retry_after_ms"]
        .as_f64()
        .and_then(|ms| seconds(&serde_json::Value::from(ms / 1000.0)));
    if json["errcode"] == "M_LIMIT_EXCEEDED" {
        return Attempt::Retry { error: text, after };
    }
    by_status(answer, after, text)
}
