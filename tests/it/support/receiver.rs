//! A webhook receiver for the tests: bound to 127.0.0.1 on a free port, it
//! keeps every POST (headers and body) and answers from a script of replies,
//! which can wait before answering or never answer at all.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fail::OrFail;
use super::loopback::{Loopback, head, lock, read_request};

/// How long a hung answer holds a connection open at most.
const MAX_HANG: Duration = Duration::from_secs(60);
const TICK: Duration = Duration::from_millis(20);

/// How the receiver answers one request.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Accept and read the request, then never answer.
    pub hang: bool,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            hang: false,
            body: Vec::new(),
        }
    }

    /// The status with a JSON body, as chat services answer.
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply::text(status, &body.to_string()).header("Content-Type", "application/json")
    }

    /// The status with a plain-text body.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            body: body.as_bytes().to_vec(),
            ..Reply::status(status)
        }
    }

    /// Holds the connection open without a word until the sender gives up.
    pub fn hang() -> Reply {
        Reply {
            hang: true,
            ..Reply::status(0)
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The status with `Retry-After: {seconds}`.
    pub fn retry_after(status: u16, seconds: u64) -> Reply {
        Reply::status(status).header("Retry-After", &seconds.to_string())
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub method: String,
    pub path: String,
    /// Lowercase names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: String,
    /// When the whole request had been read.
    pub at: Instant,
    /// The status it was answered with; `None` while hung or if never answered.
    pub status: Option<u16>,
    /// For a hung request: how long after `at` the sender closed the connection.
    pub closed_after: Option<Duration>,
}

impl Delivery {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The `webhook-id` header (empty when missing).
    pub fn id(&self) -> &str {
        self.header("webhook-id").unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .or_fail(format!("read the webhook body as JSON:\n{}", self.body))
    }

    /// The event inside the envelope.
    pub fn event(&self) -> Value {
        self.json()["data"].clone()
    }

    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// `{"headers": {...}, "body": "..."}`, one line of a capture file.
    pub fn capture_line(&self) -> String {
        serde_json::json!({"headers": self.headers, "body": self.body}).to_string()
    }
}

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Reply>,
    log: Mutex<Vec<Delivery>>,
    stopping: AtomicBool,
}

/// Answers 204 unless told otherwise; stops when dropped.
pub struct Receiver {
    loopback: Loopback,
    shared: Arc<Shared>,
}

impl Default for Receiver {
    fn default() -> Self {
        Self::start()
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let shared = Arc::new(Shared {
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(Reply::status(204)),
            log: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let loopback = {
            let shared = Arc::clone(&shared);
            Loopback::start("the webhook receiver", move |stream| serve(stream, &shared))
        };
        Receiver { loopback, shared }
    }

    pub fn url(&self, path: &str) -> String {
        self.loopback.url(path)
    }

    /// Queues replies for the next requests, in order, after any still queued.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// What every request gets once the script has run out.
    pub fn otherwise(&self, reply: Reply) {
        *lock(&self.shared.fallback) = reply;
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<Delivery> {
        lock(&self.shared.log).clone()
    }

    pub fn to_path(&self, path: &str) -> Vec<Delivery> {
        self.all().into_iter().filter(|d| d.path == path).collect()
    }

    /// Requests answered with a 2xx, in arrival order.
    pub fn succeeded(&self, path: &str) -> Vec<Delivery> {
        self.to_path(path)
            .into_iter()
            .filter(Delivery::succeeded)
            .collect()
    }

    /// Waits until `done` holds for the requests so far; false on timeout.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&[Delivery]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&lock(&self.shared.log)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(TICK);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // Hung answers end too; the listener itself stops when the loopback is dropped.
        self.shared.stopping.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let Some(request) = read_request(&mut stream)? else {
        return Ok(());
    };
    let path = request.path().to_owned();
    let request = Delivery {
        method: request.method,
        path,
        headers: request.headers,
        body: String::from_utf8_lossy(&request.body).into_owned(),
        at: Instant::now(),
        status: None,
        closed_after: None,
    };
    let reply = lock(&shared.script)
        .pop_front()
        .unwrap_or_else(|| lock(&shared.fallback).clone());
    let index = {
        let mut log = lock(&shared.log);
        log.push(request);
        log.len() - 1
    };
    if reply.hang {
        let waited = wait_for_close(&mut stream, shared)?;
        lock(&shared.log)[index].closed_after = waited;
        return Ok(());
    }
    if !reply.delay.is_zero() {
        thread::sleep(reply.delay);
    }
    stream.write_all(&encode(&reply))?;
    stream.flush()?;
    lock(&shared.log)[index].status = Some(reply.status);
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Reads until the sender closes the connection; how long that took, or
/// `None` if the receiver stopped or gave up first.
fn wait_for_close(stream: &mut TcpStream, shared: &Shared) -> io::Result<Option<Duration>> {
    let start = Instant::now();
    stream.set_read_timeout(Some(TICK))?;
    let mut sink = [0u8; 1024];
    while start.elapsed() < MAX_HANG && !shared.stopping.load(Ordering::SeqCst) {
        match stream.read(&mut sink) {
            Ok(0) => return Ok(Some(start.elapsed())),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok(Some(start.elapsed())),
        }
    }
    Ok(None)
}

fn encode(reply: &Reply) -> Vec<u8> {
    let length = (reply.status != 204).then_some(reply.body.len());
    let mut bytes = head(reply.status, &reply.headers, length, false);
    if reply.status != 204 {
        bytes.extend_from_slice(&reply.body);
    }
    bytes
}
