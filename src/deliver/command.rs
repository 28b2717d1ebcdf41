//! The command sink: one run of a program per event, the event's JSON on
//! standard input. Exit 0 is delivered; anything else is retried, with the
//! last line the program wrote to standard error as the reason.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::attempt::{Answer, Attempt, Sent};
use crate::event::Event;

#[derive(Debug, Clone)]
pub struct CommandSink {
    argv: Vec<String>,
    timeout: Duration,
}

impl CommandSink {
    pub fn new(argv: Vec<String>, timeout: Duration) -> CommandSink {
        CommandSink { argv, timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs the program once for `event`; it is killed when it outlives
    /// the timeout (or the attempt is abandoned on shutdown).
    pub async fn exchange(&self, event: &Event) -> Sent {
        let Some((program, args)) = self.argv.split_first() else {
            return Attempt::Rejected("the command names no program".into()).into();
        };
        let child = Command::new(program)
            .args(args)
            .env("FEEDWATCH_EVENT_TYPE", event.kind.as_str())
            .env("FEEDWATCH_EVENT_ID", &event.id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(e) => return retry(format!("cannot run {program}: {e}")),
        };
        if let Some(mut stdin) = child.stdin.take() {
            let json = event.to_json();
            // A program that does not read its input closes the pipe: not
            // a failure of ours, its exit status decides.
            let _ = tokio::time::timeout(self.timeout, stdin.write_all(json.as_bytes())).await;
        }
        let output = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Err(_) => {
                return retry(format!(
                    "{program} did not finish within {}",
                    humantime::format_duration(self.timeout)
                ));
            }
            Ok(Err(e)) => return retry(format!("cannot wait for {program}: {e}")),
            Ok(Ok(output)) => output,
        };
        let stderr = String::from_utf8_lossy(&output.stderr);
        let status = output.status;
        let answer = Answer {
            status: status.to_string(),
            code: u16::try_from(status.code().unwrap_or(-1)).unwrap_or(u16::MAX),
            body: format!("{}{stderr}", String::from_utf8_lossy(&output.stdout)),
            ..Answer::default()
        };
        let attempt = if status.success() {
            Attempt::Delivered
        } else {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
            Attempt::Retry {
                error: match last {
                    Some(line) => format!("{program} {status}: {}", line.trim()),
                    None => format!("{program} {status}"),
                },
                after: None,
            }
        };
        Sent {
            attempt,
            answer: Some(answer),
        }
    }
}

fn retry(error: String) -> Sent {
    Attempt::Retry { error, after: None }.into()
}
