//! Test doubles of the chat and push services, one loopback receiver per
//! platform: each checks a request exactly as its platform documents it
//! (method, path with the bot token, topic or transaction id, headers, JSON
//! fields) and can answer with that platform's own rate-limit and
//! permanent-error forms.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use super::fail::OrFail;
use super::receiver::{Delivery, Receiver, Reply};

/// Distinctive secrets, so a leak is found by a plain search.
pub const SLACK_PATH: &str = "/services/T0FW00000/B0FW00000/slacksecret7c41d2";
pub const DISCORD_PATH: &str = "/api/webhooks/1234567890/discordsecret93be05";
pub const TELEGRAM_TOKEN: &str = "123456:telegramsecretAAE5d0";
pub const TELEGRAM_CHAT: i64 = -1001234567890;
pub const NTFY_TOPIC: &str = "/feedwatch-alerts";
pub const NTFY_TOKEN: &str = "tk_ntfysecret0e77aa";
pub const MATRIX_TOKEN: &str = "syt_matrixsecret_41bb";
pub const MATRIX_ROOM: &str = "!newsroom:example.org";
/// How the room id appears in the request path: percent-encoded.
const MATRIX_ROOM_PATH: &str = "%21newsroom%3Aexample.org";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Discord,
    Telegram,
    Ntfy,
    Matrix,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Slack,
        Platform::Discord,
        Platform::Telegram,
        Platform::Ntfy,
        Platform::Matrix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Telegram => "telegram",
            Platform::Ntfy => "ntfy",
            Platform::Matrix => "matrix",
        }
    }

    pub fn secrets() -> [&'static str; 5] {
        [
            "slacksecret7c41d2",
            "discordsecret93be05",
            TELEGRAM_TOKEN,
            NTFY_TOKEN,
            MATRIX_TOKEN,
        ]
    }
}

/// One platform's service on 127.0.0.1.
pub struct Double {
    pub platform: Platform,
    pub receiver: Receiver,
}

impl Double {
    /// Answers every request the way the platform answers success.
    pub fn start(platform: Platform) -> Double {
        let receiver = Receiver::start();
        receiver.otherwise(ok(platform));
        Double { platform, receiver }
    }

    /// Answers success only after `delay`, so a kill can land mid-send.
    pub fn slow(&self, delay: std::time::Duration) {
        self.receiver.otherwise(ok(self.platform).after(delay));
    }

    /// Every platform's double.
    pub fn all() -> Vec<Double> {
        Platform::ALL.into_iter().map(Double::start).collect()
    }

    pub fn name(&self) -> &'static str {
        self.platform.name()
    }

    /// The `[[sink]]` lines (after name and type) for this double, its
    /// secrets written to files in `dir` readable by the owner only.
    pub fn sink_lines(&self, dir: &Path) -> String {
        let secret = |file: &str, value: &str| {
            let path = dir.join(file);
            fs::write(&path, format!("{value}\n")).or_fail("write a secret file");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .or_fail("chmod a secret file");
            file.to_owned()
        };
        let base = self.receiver.url("");
        let base = base.trim_end_matches('/');
        match self.platform {
            Platform::Slack => {
                let file = secret("slack.url", &format!("{base}{SLACK_PATH}"));
                format!("url_file = \"{file}\"")
            }
            Platform::Discord => {
                let file = secret("discord.url", &format!("{base}{DISCORD_PATH}"));
                format!("url_file = \"{file}\"")
            }
            Platform::Telegram => {
                let file = secret("telegram.token", TELEGRAM_TOKEN);
                format!("token_file = \"{file}\"\nchat_id = {TELEGRAM_CHAT}\napi_url = \"{base}\"")
            }
            Platform::Ntfy => {
                let file = secret("ntfy.token", NTFY_TOKEN);
                format!("url = \"{base}{NTFY_TOPIC}\"\ntoken_file = \"{file}\"\npriority = 4")
            }
            Platform::Matrix => {
                let file = secret("matrix.token", MATRIX_TOKEN);
                format!(
                    "homeserver = \"{base}\"\nroom_id = \"{MATRIX_ROOM}\"\ntoken_file = \"{file}\""
                )
            }
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Delivery> {
        self.receiver.all()
    }

    /// The texts of the requests answered 2xx, each checked as the platform
    /// requires; for Matrix, one per transaction id, as a homeserver keeps them.
    pub fn messages(&self) -> Vec<String> {
        self.messages_in(&self.requests())
    }

    /// [`Double::messages`] of the requests given (inside `wait_until`).
    pub fn messages_in(&self, requests: &[Delivery]) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        requests
            .iter()
            .filter(|d| d.succeeded())
            .filter(|d| self.platform != Platform::Matrix || seen.insert(d.path.clone()))
            .map(|d| {
                self.check(d)
                    .or_fail(format!("{} request as documented", self.name()))
            })
            .collect()
    }

    /// Checks one request as the platform documents it; the message text.
    pub fn check(&self, d: &Delivery) -> Result<String, String> {
        let method = if self.platform == Platform::Matrix {
            "PUT"
        } else {
            "POST"
        };
        expect("method", d.method.as_str(), method)?;
        match self.platform {
            Platform::Slack => {
                expect("path", d.path.as_str(), SLACK_PATH)?;
                expect_json(d)?;
                let body = d.json();
                expect("block type", &body["blocks"][0]["type"], &json!("section"))?;
                let text = &body["blocks"][0]["text"];
                expect("text type", &text["type"], &json!("mrkdwn"))?;
                expect("verbatim", &text["verbatim"], &json!(true))?;
                body["text"].as_str().ok_or("no fallback text")?;
                let text = text["text"].as_str().ok_or("no section text")?;
                limit(text.chars().count(), 3000)?;
                Ok(text.to_owned())
            }
            Platform::Discord => {
                expect("path", d.path.as_str(), DISCORD_PATH)?;
                expect_json(d)?;
                let body = d.json();
                expect(
                    "allowed_mentions",
                    &body["allowed_mentions"],
                    &json!({"parse": []}),
                )?;
                let content = body["content"].as_str().ok_or("no content")?;
                limit(content.chars().count(), 2000)?;
                Ok(content.to_owned())
            }
            Platform::Telegram => {
                expect(
                    "path",
                    d.path.as_str(),
                    format!("/bot{TELEGRAM_TOKEN}/sendMessage").as_str(),
                )?;
                expect_json(d)?;
                let body = d.json();
                expect("chat_id", &body["chat_id"], &json!(TELEGRAM_CHAT))?;
                expect("parse_mode", &body["parse_mode"], &json!("HTML"))?;
                let text = body["text"].as_str().ok_or("no text")?;
                limit(text.encode_utf16().count(), 4096)?;
                Ok(text.to_owned())
            }
            Platform::Ntfy => {
                expect("path", d.path.as_str(), NTFY_TOPIC)?;
                expect(
                    "authorization",
                    header(d, "authorization"),
                    format!("Bearer {NTFY_TOKEN}").as_str(),
                )?;
                expect(
                    "content-type",
                    header(d, "content-type"),
                    "text/plain; charset=utf-8",
                )?;
                expect("markdown", header(d, "markdown"), "no")?;
                expect("priority", header(d, "priority"), "4")?;
                limit(d.body.len(), 4096)?;
                Ok(d.body.clone())
            }
            Platform::Matrix => {
                let txn = txn_id(d).ok_or(format!("not a room send path: {}", d.path))?;
                if !txn.starts_with("evt_") {
                    return Err(format!("transaction id {txn} is not an event id"));
                }
                expect(
                    "authorization",
                    header(d, "authorization"),
                    format!("Bearer {MATRIX_TOKEN}").as_str(),
                )?;
                expect_json(d)?;
                let body = d.json();
                expect("msgtype", &body["msgtype"], &json!("m.notice"))?;
                expect("format", &body["format"], &json!("org.matrix.custom.html"))?;
                expect("m.mentions", &body["m.mentions"], &json!({}))?;
                body["formatted_body"].as_str().ok_or("no formatted_body")?;
                Ok(body["body"].as_str().ok_or("no body")?.to_owned())
            }
        }
    }

    /// Answers the next request with the platform's rate-limit form asking
    /// for `seconds` of rest.
    pub fn rate_limit(&self, seconds: u64) {
        let reply = match self.platform {
            Platform::Slack => Reply::text(429, "rate_limited").header("Retry-After", &seconds.to_string()),
            // The body's fractional seconds are what Discord documents; no
            // Retry-After, so that the body is what is honoured.
            Platform::Discord => Reply::json(
                429,
                &json!({"message": "You are being rate limited.", "retry_after": seconds as f64 - 0.5, "global": false}),
            )
            .header("X-RateLimit-Reset-After", &format!("{}.5", seconds.saturating_sub(1))),
            Platform::Telegram => Reply::json(
                429,
                &json!({"ok": false, "error_code": 429, "description": format!("Too Many Requests: retry after {seconds}"), "parameters": {"retry_after": seconds}}),
            ),
            Platform::Ntfy => Reply::json(
                429,
                &json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"}),
            )
            .header("Retry-After", &seconds.to_string()),
            Platform::Matrix => Reply::json(
                429,
                &json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": seconds * 1000}),
            ),
        };
        self.receiver.script([reply]);
    }

    /// Answers the next request with the platform's "this will never work"
    /// form; the text `deliveries --failed` must show.
    pub fn refuse(&self) -> &'static str {
        let (reply, text) = match self.platform {
            Platform::Slack => (Reply::text(404, "channel_not_found"), "channel_not_found"),
            Platform::Discord => (
                Reply::json(404, &json!({"message": "Unknown Webhook", "code": 10015})),
                "Unknown Webhook",
            ),
            Platform::Telegram => (
                Reply::json(
                    400,
                    &json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
                ),
                "Bad Request: chat not found",
            ),
            Platform::Ntfy => (
                Reply::json(
                    403,
                    &json!({"code": 40301, "http": 403, "error": "forbidden"}),
                ),
                "forbidden",
            ),
            Platform::Matrix => (
                Reply::json(
                    401,
                    &json!({"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed."}),
                ),
                "M_UNKNOWN_TOKEN: Invalid access token passed.",
            ),
        };
        self.receiver.script([reply]);
        text
    }
}

/// The platform's success answer.
fn ok(platform: Platform) -> Reply {
    match platform {
        Platform::Slack => Reply::text(200, "ok"),
        Platform::Discord => Reply::status(204),
        Platform::Telegram => Reply::json(
            200,
            &json!({"ok": true, "result": {"message_id": 7, "chat": {"id": TELEGRAM_CHAT}}}),
        ),
        Platform::Ntfy => Reply::json(200, &json!({"id": "sPs71M8A2T", "event": "message"})),
        Platform::Matrix => Reply::json(200, &json!({"event_id": "$YUwRidLecu:example.org"})),
    }
}

/// The transaction id of a Matrix room send, if the path is one.
pub fn txn_id(d: &Delivery) -> Option<String> {
    let prefix = format!("/_matrix/client/v3/rooms/{MATRIX_ROOM_PATH}/send/m.room.message/");
    d.path.strip_prefix(&prefix).map(str::to_owned)
}

fn header<'a>(d: &'a Delivery, name: &str) -> &'a str {
    d.header(name).unwrap_or_default()
}

fn expect_json(d: &Delivery) -> Result<(), String> {
    expect(
        "content-type",
        header(d, "content-type"),
        "application/json",
    )
}

fn expect<T: PartialEq + std::fmt::Debug + ?Sized>(
    what: &str,
    got: &T,
    want: &T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: expected {want:?}, got {got:?}"))
    }
}

fn limit(len: usize, max: usize) -> Result<(), String> {
    if len <= max {
        Ok(())
    } else {
        Err(format!("{len} is over the limit of {max}"))
    }
}
