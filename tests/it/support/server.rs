//! A small HTTP/1.1 server for the tests: routes can be changed while it runs,
//! validators are answered the way a well-behaved origin would, and every
//! request is kept for inspection. A raw route hands the connection to the
//! test, to misbehave at the byte level.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::loopback::{Loopback, Request, head, lock, read_request};

/// The Last-Modified value sent with every 200 that does not set its own.
pub const LAST_MODIFIED: &str = "Mon, 03 Feb 2025 17:33:00 GMT";

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
    /// Serve further requests on a connection until the client closes it
    /// or asks for `Connection: close`.
    keep_alive: AtomicBool,
    connections: AtomicU64,
}

/// Bound to 127.0.0.1 on a free port; stops accepting when dropped.
pub struct TestServer {
    loopback: Loopback,
    shared: Arc<Shared>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let shared = Arc::new(Shared::default());
        let loopback = {
            let shared = Arc::clone(&shared);
            Loopback::start("the test origin", move |stream| serve(stream, &shared))
        };
        TestServer { loopback, shared }
    }

    pub fn url(&self, path: &str) -> String {
        self.loopback.url(path)
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

fn serve(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
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
    let bodiless = response.status == 304 || response.status == 204;
    let length = (!bodiless).then_some(response.body.len());
    let mut bytes = head(response.status, &response.headers, length, keep);
    if !bodiless && !head_only {
        bytes.extend_from_slice(&response.body);
    }
    bytes
}
