//! A small HTTP/1.1 server for the tests: routes can be changed while it runs,
//! validators are answered the way a well-behaved origin would, and every
//! request is kept for inspection. A raw route hands the connection to the
//! test, to misbehave at the byte level.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The Last-Modified value sent with every 200 that does not set its own.
pub const LAST_MODIFIED: &str = "Mon, 03 Feb 2025 17:33:00 GMT";

const MAX_HEAD: usize = 64 * 1024;
const MAX_REQUEST_BODY: usize = 16 * 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// What a route answers.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Self {
        Response::new(200).body(body)
    }

    /// A 200 carrying an RSS document, labelled the way WordPress labels it.
    pub fn rss(xml: impl Into<Vec<u8>>) -> Self {
        Response::ok(xml).header("Content-Type", "application/rss+xml; charset=UTF-8")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One request as the server saw it, with the answer it gave.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request target without its query string.
    pub path: String,
    pub target: String,
    /// Header names are lowercase; repeated headers are joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub at: Instant,
    /// Which connection it came on, counted from 0 in the order accepted.
    pub connection: u64,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers a request on a raw route by writing whatever it likes on the
/// connection (the request has already been read). The connection is closed
/// when it returns, without a graceful shutdown.
pub type RawHandler = Arc<dyn Fn(&mut TcpStream) + Send + Sync>;

/// The status recorded for a request answered by a raw route.
pub const RAW_STATUS: u16 = 0;

/// The strong ETag the server attaches to a 200 body that has none of its own.
pub fn etag(body: &[u8]) -> String {
    format!("\"{:016x}\"", fnv1a64(body))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Response>>,
    raw: Mutex<HashMap<String, RawHandler>>,
    log: Mutex<Vec<Recorded>>,
    stopping: AtomicBool,
    /// Serve further requests on a connection until the client closes it
    /// or asks for `Connection: close`.
    keep_alive: AtomicBool,
    connections: AtomicU64,
}

/// Bound to 127.0.0.1 on a free port; stops accepting when dropped.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port on 127.0.0.1");
        let addr = listener.local_addr().expect("read the test server address");
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(&listener, &shared))
        };
        TestServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Keeps connections open for further requests, as most origins do,
    /// instead of closing each after its answer.
    pub fn keep_connections(&self) {
        self.shared.keep_alive.store(true, Ordering::SeqCst);
    }

    /// Replaces what `path` answers from the next request on.
    pub fn set(&self, path: &str, response: Response) {
        lock(&self.shared.raw).remove(path);
        lock(&self.shared.routes).insert(path.to_owned(), response);
    }

    /// Hands every request for `path` to `handler`, from the next request on.
    /// Its requests are recorded with status [`RAW_STATUS`].
    pub fn set_raw(&self, path: &str, handler: impl Fn(&mut TcpStream) + Send + Sync + 'static) {
        lock(&self.shared.routes).remove(path);
        lock(&self.shared.raw).insert(path.to_owned(), Arc::new(handler));
    }

    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn hits(&self, path: &str) -> usize {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.path == path)
            .count()
    }

    /// `hits`, for a raw handler to look at while it holds its answer.
    pub fn hit_counter(&self) -> impl Fn(&str) -> usize + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move |path| lock(&shared.log).iter().filter(|r| r.path == path).count()
    }

    /// Waits until `path` has been requested at least `count` times in all.
    pub fn wait_for_hits(&self, path: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.hits(path) >= count {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // accept() only returns on a connection, so make one to let the loop see the flag.
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(acceptor) = self.acceptor.take()
            && woke
        {
            let _ = acceptor.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the log from the others.
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

struct Request {
    method: String,
    target: String,
    headers: BTreeMap<String, String>,
}

impl Request {
    /// The target without its query string.
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let connection = shared.connections.fetch_add(1, Ordering::SeqCst);
    loop {
        let Some(request) = read_request(&mut stream)? else {
            return Ok(());
        };
        let path = request.path().to_owned();
        let raw = lock(&shared.raw).get(&path).cloned();
        if let Some(handler) = raw {
            record(shared, &request, RAW_STATUS, Vec::new(), connection);
            handler(&mut stream);
            return Ok(());
        }
        let response = answer(shared, &request);
        record(
            shared,
            &request,
            response.status,
            response.headers.clone(),
            connection,
        );
        let keep = shared.keep_alive.load(Ordering::SeqCst)
            && !request
                .headers
                .get("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        stream.write_all(&encode(&response, request.method == "HEAD", keep))?;
        stream.flush()?;
        if !keep {
            let _ = stream.shutdown(Shutdown::Write);
            return Ok(());
        }
    }
}

fn record(
    shared: &Shared,
    request: &Request,
    status: u16,
    headers: Vec<(String, String)>,
    connection: u64,
) {
    lock(&shared.log).push(Recorded {
        method: request.method.clone(),
        path: request.path().to_owned(),
        target: request.target.clone(),
        headers: request.headers.clone(),
        status,
        response_headers: headers,
        at: Instant::now(),
        connection,
    });
}

fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
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
    let target = request_line.next().unwrap_or_default().to_owned();
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
    let body_len = headers
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST_BODY);
    let mut have = buf.len() - (head_end + 4);
    while have < body_len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        have += n;
    }
    Ok(Some(Request {
        method,
        target,
        headers,
    }))
}

fn answer(shared: &Shared, request: &Request) -> Response {
    let Some(mut response) = lock(&shared.routes).get(request.path()).cloned() else {
        return Response::new(404)
            .header("Content-Type", "text/plain")
            .body("not found");
    };
    if response.status != 200 {
        return response;
    }
    if response.header_value("ETag").is_none() {
        let tag = etag(&response.body);
        response = response.header("ETag", &tag);
    }
    if response.header_value("Last-Modified").is_none() {
        response = response.header("Last-Modified", LAST_MODIFIED);
    }
    let current = response.header_value("ETag").unwrap_or_default().to_owned();
    match request.headers.get("if-none-match") {
        Some(wanted) if etag_matches(wanted, &current) => Response {
            status: 304,
            headers: response
                .headers
                .into_iter()
                .filter(|(n, _)| {
                    n.eq_ignore_ascii_case("etag") || n.eq_ignore_ascii_case("last-modified")
                })
                .collect(),
            body: Vec::new(),
        },
        _ => response,
    }
}

/// If-None-Match uses the weak comparison (RFC 9110, 13.1.2).
fn etag_matches(if_none_match: &str, current: &str) -> bool {
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    if_none_match
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == strip(current))
}

fn encode(response: &Response, head_only: bool, keep: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodiless = response.status == 304 || response.status == 204;
    if !bodiless {
        out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    out.push_str(if keep {
        "\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
    let mut bytes = out.into_bytes();
    if !bodiless && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    bytes
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
