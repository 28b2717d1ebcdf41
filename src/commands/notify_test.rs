//! `notify-test SINK`: a sample event sent through one sink at once, past
//! the outbox, and the receiver's answer printed.

use chrono::Utc;

use super::{AppError, Context, Status, command_runtime, emit};
use crate::config::{Config, SinkConfig, SinkKind};
use crate::deliver::attempt::{Attempt, Sent};
use crate::deliver::log;
use crate::deliver::sender::Sender;

use crate::event::{Change, Draft, Event, EventKind, ItemRef, SourceRef};

/// The source name every sample event carries, so a receiver can tell it apart.
pub const TEST_SOURCE: &str = "feedwatch-notify-test";

pub fn notify_test(ctx: Context, name: &str) -> Result<Status, AppError> {
    let config = ctx.config()?;
    let Some(sink) = config.sink(name) else {
        return Err(AppError::Usage(format!(
            "no sink named {name:?} in {}",
            config.path.display()
        )));
    };
    let event = sample_event();
    if let SinkKind::Log { path } = &sink.kind {
        return match log::append(path.as_deref(), &[&event]) {
            Ok(()) => {
                let place = path
                    .as_ref()
                    .map_or("standard output".into(), |p| p.display().to_string());
                emit(&format!(
                    "sink {name}: test event {} appended to {place}",
                    event.id
                ))?;
                Ok(0)
            }
            Err(e) => {
                emit(&format!("sink {name}: cannot append the test event: {e}"))?;
                Ok(1)
            }
        };
    }
    let sent = send(&config, sink, &event)?;
    report(name, &event, &sent)
}

fn send(config: &Config, sink: &SinkConfig, event: &Event) -> Result<Sent, AppError> {
    let built = Sender::build(sink, &config.settings.user_agent)
        .map_err(|e| {
            AppError::Usage(format!(
                "sink {:?} cannot be set up: {}",
                sink.name,
                crate::error::error_chain(&e)
            ))
        })?
        .ok_or_else(|| AppError::Usage(format!("sink {:?} has nothing to send to", sink.name)))?;
    if let Some(w) = built.warning {
        tracing::warn!(sink = %sink.name, "{w}");
    }
    let now = Utc::now().timestamp();
    Ok(command_runtime()?.block_on(built.sender.exchange(event, now)))
}

fn report(name: &str, event: &Event, sent: &Sent) -> Result<Status, AppError> {
    emit(&format!("sink {name}: sent test event {}", event.id))?;
    if let Some(answer) = &sent.answer {
        emit(&format!("answer: {}", answer.status))?;
        let body = answer.body.trim_end();
        if !body.is_empty() {
            emit(body)?;
        }
    }
    let (verdict, status) = match &sent.attempt {
        Attempt::Delivered => ("delivered".to_string(), 0),
        Attempt::Retry { error, after } => {
            let wait = after.map_or(String::new(), |a| {
                format!(" (asked to wait {})", humantime::format_duration(a))
            });
            (format!("failed, would be retried{wait}: {error}"), 1)
        }
        Attempt::Gone(error) => (format!("failed, the sink would be disabled: {error}"), 1),
        Attempt::Rejected(error) => (format!("failed, would never work: {error}"), 1),
    };
    emit(&format!("result: {verdict}"))?;
    Ok(status)
}

/// An edited story, marked as a test in its source and its title.
fn sample_event() -> Event {
    let before = "Council publishes its children's services report";
    let after = "Council publishes its revised children's services report";
    let mut draft = Draft::new(EventKind::ItemUpdated).about(ItemRef {
        key: "feedwatch-test-item".into(),
        title: format!("[feedwatch test] {after}"),
        link: "https://example.org/feedwatch-test".into(),
        published: None,
        version: 2,
    });
    draft.changes.push(Change {
        field: "title".into(),
        before: before.into(),
        after: after.into(),
        diff: crate::diff::unified(before, after),
    });
    let source = SourceRef {
        name: TEST_SOURCE.into(),
        url: "https://example.org/feedwatch-test/feed".into(),
    };
    draft.into_event(&source, Utc::now())
}
