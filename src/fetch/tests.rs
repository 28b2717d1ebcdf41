//! Tests against a tiny HTTP/1.1 server on 127.0.0.1 that records every
//! request head it receives.

use super::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const HTTP_DATE: &[u8] = b"Sat, 01 Feb 2025 10:00:00 GMT";
const USER_AGENT: &str = "feedwatch-test/1.0 (+https://example.org/bot)";
static NO_VALIDATORS: Validators = Validators {
    etag: None,
    last_modified: None,
};

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&[u8]> {
        let found = self.headers.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.as_slice())
    }
}

enum Body {
    Sized(Vec<u8>),
    /// Delimited by closing the connection, so no Content-Length.
    Unsized(Vec<u8>),
    /// One byte every 200 ms.
    Drip,
}

struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Body,
}

impl Reply {
    fn new(status: &'static str, body: Body) -> Reply {
        let headers = Vec::new();
        Reply {
            status,
            headers,
            body,
        }
    }
    fn ok(body: &[u8]) -> Reply {
        Reply::new("200 OK", Body::Sized(body.to_vec()))
    }
    fn empty(status: &'static str) -> Reply {
        Reply::new(status, Body::Sized(Vec::new()))
    }
    fn redirect(to: &str) -> Reply {
        Reply::empty("302 Found").with("Location", to)
    }
    fn with(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Reply {
        self.headers.push((name, value.as_ref().to_vec()));
        self
    }
}

struct Server {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (handler, shared) = (Arc::new(handler), Arc::clone(&log));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&shared));
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Server { addr, log }
    }
    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("http://{}{path}", self.addr)).expect("url")
    }
    fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("log").clone()
    }
}

fn serve(mut stream: TcpStream, handler: &dyn Fn(&Recorded) -> Reply, log: &Mutex<Vec<Recorded>>) {
    let Some(request) = read_head(&mut stream) else {
        return;
    };
    let reply = handler(&request);
    log.lock().expect("log").push(request);
    let _ = write_reply(&mut stream, reply);
}

fn read_head(stream: &mut TcpStream) -> Option<Recorded> {
    let (mut head, mut byte) = (Vec::new(), [0u8; 1]);
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let mut lines = head.split(|&b| b == b'\n').map(|line| line.trim_ascii());
    let request_line = String::from_utf8_lossy(lines.next()?).into_owned();
    let path = request_line.split(' ').nth(1)?.to_owned();
    let headers = lines
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&line[..colon]).to_ascii_lowercase();
            Some((name, line[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    Some(Recorded { path, headers })
}

fn write_reply(stream: &mut TcpStream, reply: Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {}\r\nConnection: close\r\n", reply.status).into_bytes();
    for (name, value) in &reply.headers {
        head.extend_from_slice(format!("{name}: ").as_bytes());
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if let Body::Sized(body) = &reply.body {
        head.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head)?;
    match reply.body {
        Body::Sized(body) | Body::Unsized(body) => stream.write_all(&body),
        Body::Drip => loop {
            stream.write_all(b"x")?;
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(200));
        },
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(USER_AGENT).expect("client")
}

fn request<'a>(url: &'a Url, validators: &'a Validators) -> FetchRequest<'a> {
    FetchRequest {
        url,
        validators,
        timeout: Duration::from_secs(5),
        max_body: 1024 * 1024,
        accept: "application/rss+xml, */*;q=0.8",
        keep_alive: true,
        extras: None,
    }
}

async fn get(url: &Url) -> Result<FetchOutcome, FetchError> {
    fetcher().fetch(&request(url, &NO_VALIDATORS)).await
}

fn fetched(outcome: Result<FetchOutcome, FetchError>) -> Fetched {
    match outcome.expect("fetch") {
        FetchOutcome::Fetched(fetched) => fetched,
        other => panic!("expected a body, got {other:?}"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn validators_are_echoed_byte_for_byte_and_a_304_refreshes_them() {
    let etag = b"W/\"a b\xe9\"".to_vec();
    let first = etag.clone();
    let server = Server::start(move |req| match req.header("if-none-match") {
        None => Reply::ok(b"<rss/>")
            .with("ETag", &first)
            .with("Last-Modified", HTTP_DATE),
        Some(_) => Reply::empty("304 Not Modified").with("ETag", "\"v2\""),
    });
    let url = server.url("/feed");
    let first = fetched(get(&url).await);
    assert_eq!(first.validators.etag.as_deref(), Some(etag.as_slice()));
    assert_eq!(first.validators.last_modified.as_deref(), Some(HTTP_DATE));

    let second = fetcher().fetch(&request(&url, &first.validators)).await;
    let expected = Validators {
        etag: Some(b"\"v2\"".to_vec()),
        last_modified: Some(HTTP_DATE.to_vec()),
    };
    assert_eq!(
        second.expect("fetch"),
        FetchOutcome::NotModified {
            validators: expected,
            hints: Hints::default()
        }
    );
    let seen = &server.requests()[1];
    assert_eq!(seen.header("if-none-match"), Some(etag.as_slice()));
    assert_eq!(seen.header("if-modified-since"), Some(HTTP_DATE));
    let accept = seen.header("accept");
    assert_eq!(accept, Some(&b"application/rss+xml, */*;q=0.8"[..]));
}

#[tokio::test]
async fn a_bare_304_keeps_the_stored_validators_and_bad_ones_are_not_sent() {
    let server = Server::start(|_| Reply::empty("304 Not Modified"));
    let url = server.url("/feed");
    let stored = Validators {
        etag: Some(b"\"ok\"".to_vec()),
        last_modified: Some(b"bad\nvalue".to_vec()),
    };
    let outcome = fetcher()
        .fetch(&request(&url, &stored))
        .await
        .expect("fetch");
    let validators = stored.clone();
    assert_eq!(
        outcome,
        FetchOutcome::NotModified {
            validators,
            hints: Hints::default()
        }
    );
    assert_eq!(server.requests()[0].header("if-modified-since"), None);
}

#[tokio::test]
async fn compressed_bodies_are_decompressed() {
    let text = b"<rss>compressed</rss>".repeat(50);
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 9, 22);
        writer.write_all(&text).expect("brotli");
    }
    let mut deflate = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&text).expect("deflate");
    let bodies = [
        ("gzip", gzip(&text)),
        ("br", brotli),
        ("deflate", deflate.finish().expect("deflate")),
    ];
    let server = Server::start(move |req| {
        let (encoding, body) = bodies
            .iter()
            .find(|(name, _)| req.path.ends_with(name))
            .expect("known encoding");
        Reply::ok(body).with("Content-Encoding", encoding)
    });
    for encoding in ["gzip", "br", "deflate"] {
        let body = fetched(get(&server.url(&format!("/{encoding}"))).await).body;
        assert_eq!(body, text, "{encoding}");
    }
    let sent = server.requests()[0]
        .header("accept-encoding")
        .map(<[u8]>::to_vec);
    let sent = String::from_utf8(sent.expect("accept-encoding")).expect("ascii");
    assert!(
        sent.contains("gzip") && sent.contains("br") && sent.contains("deflate"),
        "{sent}"
    );
}

#[tokio::test]
async fn a_small_gzip_body_expanding_past_the_limit_is_rejected() {
    let bomb = gzip(&vec![0u8; 8 * 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let server = Server::start(move |_| Reply::ok(&bomb).with("Content-Encoding", "gzip"));
    let url = server.url("/bomb");
    let mut req = request(&url, &NO_VALIDATORS);
    req.max_body = 64 * 1024;
    let err = fetcher().fetch(&req).await.expect_err("too large");
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
    let expected = format!("response body from {url} is larger than the 64 KiB limit");
    assert_eq!(err.to_string(), expected);
}

#[tokio::test]
async fn a_plain_body_past_the_limit_is_rejected_with_or_without_a_length() {
    let server = Server::start(|req| match req.path.as_str() {
        "/sized" => Reply::ok(&[b'a'; 2048]),
        "/exact" => Reply::new("200 OK", Body::Unsized(vec![b'a'; 1024])),
        _ => Reply::new("200 OK", Body::Unsized(vec![b'a'; 2048])),
    });
    for path in ["/sized", "/unsized"] {
        let url = server.url(path);
        let mut req = request(&url, &NO_VALIDATORS);
        req.max_body = 1024;
        let err = fetcher().fetch(&req).await.expect_err("too large");
        assert!(
            err.to_string().ends_with("is larger than the 1 KiB limit"),
            "{err}"
        );
    }
    let url = server.url("/exact");
    let mut req = request(&url, &NO_VALIDATORS);
    req.max_body = 1024;
    assert_eq!(fetched(fetcher().fetch(&req).await).body.len(), 1024);
}

#[tokio::test]
async fn a_dripping_server_times_out_on_time() {
    let server = Server::start(|_| Reply::new("200 OK", Body::Drip));
    let url = server.url("/slow");
    let mut req = request(&url, &NO_VALIDATORS);
    req.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = fetcher().fetch(&req).await.expect_err("timeout");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("request to {url} timed out after 1s")
    );
}

#[tokio::test]
async fn identifies_itself_keeps_no_cookies_and_sends_no_referer() {
    let server = Server::start(|req| match req.path.as_str() {
        "/start" => Reply::redirect("/feed").with("Set-Cookie", "session=abc; Path=/"),
        _ => Reply::ok(b"body").with("Set-Cookie", "tracker=1; Path=/"),
    });
    let result = fetched(get(&server.url("/start")).await);
    assert_eq!(result.final_url, server.url("/feed"));
    fetched(get(&server.url("/start")).await);
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    for seen in &requests {
        assert_eq!(seen.header("user-agent"), Some(USER_AGENT.as_bytes()));
        assert_eq!(seen.header("cookie"), None, "{}", seen.path);
        assert_eq!(seen.header("referer"), None, "{}", seen.path);
    }
}

#[tokio::test]
async fn error_statuses_carry_status_reason_and_retry_after() {
    let server = Server::start(|req| match req.path.as_str() {
        "/busy" => Reply::empty("503 Service Unavailable").with("Retry-After", "120"),
        _ => Reply::empty("500 Internal Server Error"),
    });
    let err = get(&server.url("/broken?token=secret"))
        .await
        .expect_err("500");
    assert_eq!((err.status(), err.retry_after()), (Some(500), None));
    let expected = format!(
        "server answered 500 Internal Server Error for {}",
        server.url("/broken")
    );
    assert_eq!(err.to_string(), expected);

    let err = get(&server.url("/busy")).await.expect_err("503");
    assert_eq!((err.status(), err.retry_after()), (Some(503), Some("120")));
    assert!(
        err.to_string()
            .starts_with("server answered 503 Service Unavailable for ")
    );
}

#[tokio::test]
async fn redirects_stop_at_loops_and_after_five_hops() {
    let server = Server::start(|req| match req.path.as_str() {
        "/loop/a" => Reply::redirect("/loop/b"),
        "/loop/b" => Reply::redirect("/loop/a"),
        "/hop/0" => Reply::ok(b"arrived"),
        path => {
            let left: u32 = path.trim_start_matches("/hop/").parse().expect("hop count");
            Reply::redirect(&format!("/hop/{}", left - 1))
        }
    });
    let err = get(&server.url("/loop/a")).await.expect_err("loop");
    assert_eq!(
        err.to_string(),
        format!("redirect loop at {}", server.url("/loop/a"))
    );

    assert_eq!(fetched(get(&server.url("/hop/5")).await).body, b"arrived");
    let err = get(&server.url("/hop/6")).await.expect_err("too many");
    assert!(
        matches!(err, FetchError::TooManyRedirects { max: 5, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("gave up on {} after 5 redirects", server.url("/hop/6"))
    );
}

#[tokio::test]
async fn files_are_read_with_a_synthetic_etag_and_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, b"<rss/>").expect("write");
    let url = Url::from_file_path(&path).expect("file url");
    let first = fetched(get(&url).await);
    assert_eq!(first.body, b"<rss/>");
    let etag = String::from_utf8(first.validators.etag.clone().expect("etag")).expect("ascii");
    assert!(etag.starts_with('"') && etag.ends_with("-6\""), "{etag}");

    let again = fetcher()
        .fetch(&request(&url, &first.validators))
        .await
        .expect("fetch");
    let validators = first.validators.clone();
    assert_eq!(
        again,
        FetchOutcome::NotModified {
            validators,
            hints: Hints::default()
        }
    );

    let mut req = request(&url, &NO_VALIDATORS);
    req.max_body = 5;
    let err = fetcher().fetch(&req).await.expect_err("too large");
    assert!(
        err.to_string()
            .ends_with("is larger than the 5 bytes limit"),
        "{err}"
    );

    let missing = Url::from_file_path(dir.path().join("gone.xml")).expect("file url");
    let err = get(&missing).await.expect_err("missing");
    assert!(matches!(err, FetchError::File { .. }), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_and_an_odd_scheme_are_clear_errors() {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/feed?key=secret")).expect("url");
    let err = get(&url).await.expect_err("refused");
    assert!(matches!(err, FetchError::Connect { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("could not connect to http://127.0.0.1:{port}/feed")
    );

    let url = Url::parse("ftp://example.org/feed").expect("url");
    let err = get(&url).await.expect_err("scheme");
    assert!(
        matches!(err, FetchError::UnsupportedScheme { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_chain_of_permanent_redirects_reports_the_new_address() {
    let server = Server::start(|req| match req.path.as_str() {
        "/old" => Reply::empty("301 Moved Permanently").with("Location", "/older"),
        "/older" => Reply::empty("308 Permanent Redirect").with("Location", "/new"),
        "/temp" => Reply::redirect("/new"),
        "/new" => Reply::ok(b"<rss/>").with("Cache-Control", "public, max-age=3600"),
        _ => Reply::empty("404 Not Found"),
    });
    let moved = fetched(get(&server.url("/old")).await);
    assert_eq!(moved.hints.moved_to, Some(server.url("/new")));
    assert_eq!(moved.hints.fresh_for, Some(Duration::from_secs(3600)));
    let temporary = fetched(get(&server.url("/temp")).await);
    assert_eq!(temporary.final_url, server.url("/new"));
    assert_eq!(temporary.hints.moved_to, None, "a 302 never relinks");
    let direct = fetched(get(&server.url("/new")).await);
    assert_eq!(direct.hints.moved_to, None);
}

#[tokio::test]
async fn expires_is_read_relative_to_the_server_date() {
    let server = Server::start(|_| {
        Reply::ok(b"<rss/>")
            .with("Date", "Mon, 23 Nov 2026 18:00:00 GMT")
            .with("Expires", "Mon, 23 Nov 2026 20:00:00 GMT")
    });
    let got = fetched(get(&server.url("/feed")).await);
    assert_eq!(got.hints.fresh_for, Some(Duration::from_secs(7200)));
}
