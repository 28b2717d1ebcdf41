//! A webhook receiver for the tests: bound to 127.0.0.1 on a free port, it
//! keeps every POST (headers and body) and answers from a script of replies,
//! which can wait before answering or never answer at all.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);
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
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            hang: false,
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
            .unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {}", self.body))
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
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Default for Receiver {
    fn default() -> Self {
        Self::start()
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver port on 127.0.0.1");
        let addr = listener.local_addr().expect("read the receiver address");
        let shared = Arc::new(Shared {
            script: Mutex::new(VecDeque::new()),
            fallback: Mutex::new(Reply::status(204)),
            log: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(&listener, &shared))
        };
        Receiver {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
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
        self.shared.stopping.store(true, Ordering::SeqCst);
        // accept() returns only on a connection: make one so the loop sees the flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take()
            && woke
        {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(shared);
                thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(request) = read_request(&mut stream)? else {
        return Ok(());
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

fn read_request(stream: &mut TcpStream) -> io::Result<Option<Delivery>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split_whitespace();
    let method = request_line.next().unwrap_or_default().to_owned();
    let target = request_line.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        headers
            .entry(name.trim().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value.trim());
            })
            .or_insert_with(|| value.trim().to_owned());
    }
    let length = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_BODY);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Some(Delivery {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        status: None,
        closed_after: None,
    }))
}

fn encode(reply: &Reply) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.status != 204 {
        out.push_str("Content-Length: 0\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        408 => "Request Timeout",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
