use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};

use super::*;
use crate::deliver::message::{Measure, Message, Span};
use crate::event::{Change, Draft, EventKind, ItemRef, SourceRef};

const HOSTILE: &str = "<!channel> @everyone @here <b>x</b> [link](http://evil) *bold* <script>";

fn hostile_event() -> Event {
    let mut draft = Draft::new(EventKind::ItemUpdated).about(ItemRef {
        key: "k".into(),
        title: HOSTILE.into(),
        link: "javascript:alert(1)".into(),
        published: None,
        version: 2,
    });
    draft.changes.push(Change {
        field: "title".into(),
        before: "plain".into(),
        after: HOSTILE.into(),
        diff: String::new(),
    });
    draft.into_event(
        &SourceRef {
            name: "s".into(),
            url: "https://e.org/".into(),
        },
        chrono::Utc::now(),
    )
}

fn answer(code: u16, body: &str, headers: &[(&'static str, &str)]) -> Answer {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(*name, v);
        }
    }
    Answer {
        status: code.to_string(),
        code,
        headers: map,
        body: body.into(),
    }
}

fn retry_after(attempt: &Attempt) -> Option<Duration> {
    match attempt {
        Attempt::Retry { after, .. } => *after,
        _ => None,
    }
}

#[test]
fn hostile_text_is_inert_in_every_markup() {
    let m = Message::from_event(&hostile_event());
    assert_eq!(m.link, None, "javascript: links are never made");
    let slack = slack::text(&m).unwrap_or_default();
    assert!(!slack.contains("<!") && !slack.contains("<script") && !slack.contains("<b>"));
    assert!(slack.contains("&lt;!channel&gt;"));
    let discord = discord::content(&m).unwrap_or_default();
    assert!(discord.contains(r"\[link\]\(http\://evil\)"));
    assert!(discord.contains(r"\@everyone") && discord.contains(r"\<script"));
    let telegram = telegram::text(&m).unwrap_or_default();
    assert!(!telegram.contains("<script") && !telegram.contains("<b>x"));
    assert!(telegram.contains("&lt;script&gt;"));
    let matrix = matrix::content(&m).unwrap_or_default();
    let html = matrix["formatted_body"].as_str().unwrap_or_default();
    assert!(!html.contains("<script") && html.contains("&lt;b&gt;x&lt;/b&gt;"));
    assert_eq!(matrix["m.mentions"], serde_json::json!({}));
}

#[test]
fn every_platform_cuts_within_its_own_limit() {
    let mut e = hostile_event();
    let before: Vec<String> = (0..6000).map(|i| format!("w{i}")).collect();
    let after: Vec<String> = before
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i % 7 == 3 {
                format!("😀<&{i}")
            } else {
                w.clone()
            }
        })
        .collect();
    e.changes[0].before = before.join(" ");
    e.changes[0].after = after.join(" ");
    let m = Message::from_event(&e);
    let checks: [(String, usize, Measure); 4] = [
        (
            slack::text(&m).unwrap_or_default(),
            slack::LIMIT,
            Measure::Chars,
        ),
        (
            discord::content(&m).unwrap_or_default(),
            discord::LIMIT,
            Measure::Chars,
        ),
        (
            telegram::text(&m).unwrap_or_default(),
            telegram::LIMIT,
            Measure::Utf16,
        ),
        (
            ntfy::text(&m).unwrap_or_default(),
            ntfy::LIMIT,
            Measure::Bytes,
        ),
    ];
    for (text, limit, measure) in checks {
        let len = measure.of(&text);
        assert!(len <= limit && len > limit / 2, "{len} of {limit}: {text}");
        assert!(text.contains("more changes left out"), "{text}");
    }
}

#[test]
fn the_longest_headline_fits_the_smallest_limit_with_every_character_escaped() {
    let mut e = hostile_event();
    let worst = "\"".repeat(5000);
    if let Some(item) = e.item.as_mut() {
        item.title = worst.clone();
    }
    e.changes[0].after = worst;
    let m = Message::from_event(&e);
    assert!(matches!(
        m.sections[0].spans[..],
        [Span::Removed(_), Span::Added(_)]
    ));
    assert!(discord::content(&m).is_ok());
    assert!(telegram::text(&m).is_ok());
    assert!(slack::text(&m).is_ok());
}

#[test]
fn slack_texts_that_mean_never_are_permanent() {
    let a = slack::classify(&answer(404, "channel_not_found", &[]));
    assert_eq!(
        a,
        Attempt::Rejected("slack answered 404: channel_not_found".into())
    );
    let a = slack::classify(&answer(429, "rate_limited", &[("retry-after", "30")]));
    assert_eq!(retry_after(&a), Some(Duration::from_secs(30)));
    assert_eq!(slack::classify(&answer(200, "ok", &[])), Attempt::Delivered);
}

#[test]
fn discord_waits_the_fractional_seconds_it_asks_for() {
    let body = r#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#;
    let a = discord::classify(&answer(429, body, &[]));
    assert_eq!(retry_after(&a), Some(Duration::from_millis(2500)));
    let a = discord::classify(&answer(429, "", &[("x-ratelimit-reset-after", "1.25")]));
    assert_eq!(retry_after(&a), Some(Duration::from_millis(1250)));
    let a = discord::classify(&answer(
        404,
        r#"{"message": "Unknown Webhook", "code": 10015}"#,
        &[],
    ));
    assert_eq!(
        a,
        Attempt::Rejected("discord answered 404: Unknown Webhook (code 10015)".into())
    );
}

#[test]
fn telegram_and_matrix_read_their_own_error_forms() {
    let body = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#;
    let a = telegram::classify(&answer(429, body, &[]));
    assert_eq!(retry_after(&a), Some(Duration::from_secs(7)));
    let body = r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#;
    assert_eq!(
        telegram::classify(&answer(400, body, &[])),
        Attempt::Rejected("telegram answered 400: Bad Request: chat not found".into())
    );
    let body =
        r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":1500}"#;
    let a = matrix::classify(&answer(429, body, &[]));
    assert_eq!(retry_after(&a), Some(Duration::from_millis(1500)));
    let body = r#"{"errcode":"M_UNKNOWN_TOKEN","error":"Invalid access token passed."}"#;
    assert!(matches!(
        matrix::classify(&answer(401, body, &[])),
        Attempt::Rejected(e) if e.contains("M_UNKNOWN_TOKEN: Invalid access token")
    ));
}

#[test]
fn matrix_room_ids_are_encoded_in_the_path() {
    let m = Message::from_event(&hostile_event());
    let hs = Url::parse("https://hs.example.org/").unwrap_or_else(|_| unreachable!());
    let out = matrix::request(&hs, "!room:example.org", "evt_01", &m).map(|o| o.url.to_string());
    assert_eq!(
        out.as_deref(),
        Ok(
            "https://hs.example.org/_matrix/client/v3/rooms/%21room%3Aexample.org/send/m.room.message/evt_01"
        )
    );
}
