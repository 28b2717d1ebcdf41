//! Requests as a source needs them: its own headers and user agent, basic
//! and bearer sign-in, cookies from a `cookies.txt`, a proxy. Sign-in,
//! headers and cookies go only to the source's own host; no command shows
//! them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::support::hooks::write_secret;
use crate::support::proxy::Proxy;
use crate::support::*;

const PASSWORD: &str = "pw-5e1f0a-never-print-me";
const TOKEN: &str = "tok-b7c3d9-never-print-me";
const HEADER_KEY: &str = "hdr-2a9e44-never-print-me";
const COOKIE: &str = "ck-81f0c6-never-print-me";
const PROXY_PASSWORD: &str = "px-c40e7d-never-print-me";
const TOKEN_ENV: &str = "FW_TEST_BEARER";

/// The same origin under another name, which is another host to a client.
fn on_localhost(url: &str) -> String {
    url.replacen("127.0.0.1", "localhost", 1)
}

fn feed_server() -> TestServer {
    let server = TestServer::start();
    server.set("/feed", Response::rss(clean_feed()));
    server
}

/// The one request made for `path`, failing the test otherwise.
fn only_request(server: &TestServer, path: &str) -> Recorded {
    let requests = server.requests(path);
    assert_eq!(requests.len(), 1, "requests for {path}: {requests:?}");
    requests.into_iter().next().or_fail("one request")
}

/// A cookies.txt line, tab-separated as browsers export it.
fn cookie_line(
    domain: &str,
    subdomains: bool,
    path: &str,
    secure: bool,
    expires: i64,
    name: &str,
    value: &str,
) -> String {
    let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
    format!(
        "{domain}\t{}\t{path}\t{}\t{expires}\t{name}\t{value}\n",
        flag(subdomains),
        flag(secure)
    )
}

#[test]
fn settings_headers_and_a_source_user_agent_arrive() {
    let server = feed_server();
    server.set("/other", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .setting("headers = { \"Accept-Language\" = \"en-GB\" }")
            .feed("news", &server.url("/feed"))
            .line("user_agent = \"NewsDesk/2.0 (+mailto:desk@example.org)\"")
            .line("headers = { \"X-Team\" = \"desk\" }")
            .feed("other", &server.url("/other")),
    );
    fw.run(&["check"]).assert_code(0);
    let news = only_request(&server, "/feed");
    assert_eq!(
        news.header("user-agent"),
        Some("NewsDesk/2.0 (+mailto:desk@example.org)")
    );
    assert_eq!(news.header("accept-language"), Some("en-GB"));
    assert_eq!(news.header("x-team"), Some("desk"));
    let other = only_request(&server, "/other");
    assert!(
        other
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("feedwatch/"))
    );
    assert_eq!(other.header("accept-language"), Some("en-GB"));
    assert_eq!(other.header("x-team"), None);
}

#[test]
fn basic_and_bearer_sign_in_arrive() {
    let server = feed_server();
    server.set("/bearer", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    write_secret(fw.dir(), "password", PASSWORD, 0o600);
    fw.write_config(
        Toml::journal()
            .feed("basic", &server.url("/feed"))
            .line("basic_auth = { username = \"desk\", password_file = \"password\" }")
            .feed("bearer", &server.url("/bearer"))
            .line(format!("bearer_env = \"{TOKEN_ENV}\"")),
    );
    fw.run_with_env(&["check"], &[(TOKEN_ENV, TOKEN)])
        .assert_code(0);
    let basic = format!("Basic {}", STANDARD.encode(format!("desk:{PASSWORD}")));
    assert_eq!(
        only_request(&server, "/feed").header("authorization"),
        Some(basic.as_str())
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        only_request(&server, "/bearer").header("authorization"),
        Some(bearer.as_str())
    );
}

#[test]
fn a_cookie_goes_only_to_the_host_and_path_it_names() {
    let server = feed_server();
    server.set("/page", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    let jar = [
        "# Netscape HTTP Cookie File\n".to_string(),
        cookie_line("127.0.0.1", false, "/feed", false, 0, "session", "abc"),
        cookie_line("localhost", false, "/", false, 0, "other", "xyz"),
        cookie_line(".localhost", true, "/", false, 0, "wide", "all"),
        cookie_line("127.0.0.1", false, "/", true, 0, "secure", "https-only"),
        cookie_line("127.0.0.1", false, "/", false, 1000, "expired", "old"),
        cookie_line("127.0.0.1", false, "/elsewhere", false, 0, "pathed", "no"),
        cookie_line("example.org", true, "/", false, 0, "foreign", "no"),
    ]
    .concat();
    write_secret(fw.dir(), "cookies.txt", &jar, 0o600);
    fw.write_config(
        Toml::journal()
            .setting("cookies_file = \"cookies.txt\"")
            .feed("near", &server.url("/feed"))
            .feed("far", &on_localhost(&server.url("/page"))),
    );
    fw.run(&["check"]).assert_code(0);
    assert_eq!(
        only_request(&server, "/feed").header("cookie"),
        Some("session=abc")
    );
    assert_eq!(
        only_request(&server, "/page").header("cookie"),
        Some("other=xyz; wide=all")
    );
}

#[test]
fn a_redirect_to_another_host_carries_no_sign_in_headers_or_cookies() {
    let server = feed_server();
    server.set("/same", Response::new(302).header("Location", "/feed"));
    let elsewhere = on_localhost(&server.url("/elsewhere"));
    server.set("/moved", Response::new(302).header("Location", &elsewhere));
    server.set("/elsewhere", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    let jar = [
        cookie_line("127.0.0.1", false, "/", false, 0, "session", COOKIE),
        cookie_line("localhost", false, "/", false, 0, "there", COOKIE),
    ]
    .concat();
    write_secret(fw.dir(), "cookies.txt", &jar, 0o600);
    let signed = format!(
        "bearer_env = \"{TOKEN_ENV}\"\ncookies_file = \"cookies.txt\"\nheaders = {{ \"X-Api-Key\" = \"{HEADER_KEY}\" }}"
    );
    fw.write_config(
        Toml::journal()
            .feed("same", &server.url("/same"))
            .line(&signed)
            .feed("moved", &server.url("/moved"))
            .line(&signed),
    );
    fw.run_with_env(&["check"], &[(TOKEN_ENV, TOKEN)])
        .assert_code(0);
    let bearer = format!("Bearer {TOKEN}");
    for asked in [
        only_request(&server, "/same"),
        only_request(&server, "/moved"),
        only_request(&server, "/feed"),
    ] {
        assert_eq!(
            asked.header("authorization"),
            Some(bearer.as_str()),
            "{}",
            asked.path
        );
        assert!(asked.header("cookie").is_some(), "{}", asked.path);
        assert_eq!(
            asked.header("x-api-key"),
            Some(HEADER_KEY),
            "{}",
            asked.path
        );
    }
    let there = only_request(&server, "/elsewhere");
    assert!(
        there
            .header("host")
            .is_some_and(|h| h.starts_with("localhost:"))
    );
    assert_eq!(there.header("authorization"), None);
    assert_eq!(there.header("cookie"), None);
    assert_eq!(there.header("x-api-key"), None);
}

/// A feed whose one item links to `link`.
fn linking_feed(link: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>{link}</link>\
         <item><guid>a</guid><title>A</title><link>{link}</link></item></channel></rss>"
    )
}

#[test]
fn a_followed_article_on_another_host_gets_no_sign_in() {
    let server = TestServer::start();
    let page =
        "<html><body><article><p>Story text long enough to read.</p></article></body></html>";
    server.set(
        "/here",
        Response::ok(page).header("Content-Type", "text/html"),
    );
    server.set(
        "/there",
        Response::ok(page).header("Content-Type", "text/html"),
    );
    server.set(
        "/near.xml",
        Response::rss(linking_feed(&server.url("/here"))),
    );
    server.set(
        "/far.xml",
        Response::rss(linking_feed(&on_localhost(&server.url("/there")))),
    );
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .setting("allow_private_links = true")
            .setting(format!("bearer_env = \"{TOKEN_ENV}\""))
            .feed("near", &server.url("/near.xml"))
            .line("follow_links = true")
            .feed("far", &server.url("/far.xml"))
            .line("follow_links = true"),
    );
    fw.run_with_env(&["check"], &[(TOKEN_ENV, TOKEN)])
        .assert_code(0);
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        only_request(&server, "/here").header("authorization"),
        Some(bearer.as_str())
    );
    assert_eq!(
        only_request(&server, "/there").header("authorization"),
        None
    );
}

#[test]
fn a_configured_proxy_carries_plain_requests_and_tunnels_https() {
    let server = feed_server();
    let proxy = Proxy::start();
    let no_tls = crate::support::hostile::GarbageListener::start();
    let tls_url = no_tls.https_url("/feed");
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .setting(format!("proxy = \"{}\"", proxy.url()))
            .feed("news", &server.url("/feed"))
            .line("headers = { \"X-Team\" = \"desk\" }")
            .feed("secure", &tls_url),
    );
    // The far end answers the TLS handshake with garbage, so the tunnelled
    // source fails, after its CONNECT.
    fw.run(&["check"]).assert_code(1);
    let seen = proxy.seen();
    assert!(
        seen.contains(&format!("GET {}", server.url("/feed"))),
        "{seen:?}"
    );
    let authority = tls_url
        .trim_start_matches("https://")
        .trim_end_matches("/feed");
    assert!(seen.contains(&format!("CONNECT {authority}")), "{seen:?}");
    assert_eq!(
        only_request(&server, "/feed").header("x-team"),
        Some("desk")
    );
}

#[test]
fn http_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host() {
    let server = feed_server();
    let proxy = Proxy::start();
    let fw = Feedwatch::new();
    fw.write_config(Toml::journal().feed("news", &server.url("/feed")));
    let through = [
        ("HTTP_PROXY", proxy.url()),
        ("NO_PROXY", String::new()),
        ("no_proxy", String::new()),
    ];
    let env: Vec<(&str, &str)> = through.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fw.run_with_env(&["check"], &env).assert_code(0);
    assert_eq!(proxy.seen(), [format!("GET {}", server.url("/feed"))]);
    let proxy_url = proxy.url();
    let bypass = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "127.0.0.1"),
        ("no_proxy", "127.0.0.1"),
    ];
    fw.run_with_env(&["check"], &bypass).assert_code(0);
    assert_eq!(proxy.seen().len(), 1, "{:?}", proxy.seen());
    assert_eq!(server.hits("/feed"), 2);
}

#[test]
fn a_secret_file_others_can_read_is_warned_about() {
    let server = feed_server();
    let fw = Feedwatch::new();
    write_secret(fw.dir(), "token", TOKEN, 0o644);
    fw.write_config(
        Toml::journal()
            .feed("news", &server.url("/feed"))
            .line("bearer_file = \"token\""),
    );
    let out = fw.run(&["validate"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("source \"news\".bearer_file: the secret file")
            && out.stderr.contains("readable by every user"),
        "{}",
        out.stderr
    );
    write_secret(fw.dir(), "token", TOKEN, 0o600);
    let out = fw.run(&["validate"]);
    assert!(
        !out.stderr.contains("readable by every user"),
        "{}",
        out.stderr
    );
}

#[test]
fn no_command_shows_a_password_token_header_cookie_or_proxy_password() {
    let server = feed_server();
    server.set("/private", Response::new(401));
    let proxy = Proxy::start();
    let proxied = proxy
        .url()
        .replacen("http://", &format!("http://user:{PROXY_PASSWORD}@"), 1);
    let fw = Feedwatch::new();
    write_secret(fw.dir(), "password", PASSWORD, 0o600);
    write_secret(
        fw.dir(),
        "cookies.txt",
        &cookie_line("127.0.0.1", false, "/", false, 0, "s", COOKIE),
        0o600,
    );
    fw.write_config(
        Toml::journal()
            .setting("cookies_file = \"cookies.txt\"")
            .setting(format!("headers = {{ \"X-Api-Key\" = \"{HEADER_KEY}\" }}"))
            .feed("basic", &server.url("/feed"))
            .line("basic_auth = { username = \"desk\", password_file = \"password\" }")
            .line(format!("proxy = \"{proxied}\""))
            .feed("bearer", &server.url("/private"))
            .line(format!("bearer_env = \"{TOKEN_ENV}\"")),
    );
    let env = [(TOKEN_ENV, TOKEN), ("FEEDWATCH_LOG", "trace")];
    let mut said = String::new();
    for args in [
        &["validate"][..],
        &["check"],
        &["sources"],
        &["test", "basic"],
        &["test", "bearer"],
        &["test", "--json", "basic"],
        &["-vvv", "history", "basic"],
    ] {
        let out = fw.run_with_env(args, &env);
        said.push_str(&out.stdout);
        said.push_str(&out.stderr);
    }
    assert!(
        said.contains("401"),
        "the failing source is reported:\n{said}"
    );
    assert!(!proxy.seen().is_empty(), "the proxy was used");
    let basic = STANDARD.encode(format!("desk:{PASSWORD}"));
    for secret in [
        PASSWORD,
        TOKEN,
        HEADER_KEY,
        COOKIE,
        PROXY_PASSWORD,
        basic.as_str(),
    ] {
        if let Some(at) = said.find(secret) {
            let line_start = said[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = said[at..].find('\n').map_or(said.len(), |i| at + i);
            panic!(
                "a command showed {secret:?}: {}",
                &said[line_start..line_end]
            );
        }
    }
}

#[test]
fn the_cookies_file_is_read_again_on_sighup() {
    let server = feed_server();
    let fw = Feedwatch::new();
    let jar = |value: &str| cookie_line("127.0.0.1", false, "/", false, 0, "session", value);
    write_secret(fw.dir(), "cookies.txt", &jar("first"), 0o600);
    fw.write_config(
        Toml::journal()
            .feed("news", &server.url("/feed"))
            .line("interval = \"1s\"")
            .line("cookies_file = \"cookies.txt\""),
    );
    let mut daemon = fw.spawn_daemon();
    let soon = std::time::Duration::from_secs(20);
    assert!(
        daemon.wait_for_hits(&server, "/feed", 1, soon),
        "{}",
        daemon.stderr()
    );
    write_secret(fw.dir(), "cookies.txt", &jar("second"), 0o600);
    daemon.signal("HUP");
    assert!(
        daemon.wait_for_stderr("configuration reloaded", soon),
        "{}",
        daemon.stderr()
    );
    let reloaded_at = server.hits("/feed");
    assert!(
        daemon.wait_for_hits(&server, "/feed", reloaded_at + 1, soon),
        "{}",
        daemon.stderr()
    );
    let cookies: Vec<String> = server
        .requests("/feed")
        .iter()
        .map(|r| r.header("cookie").unwrap_or_default().to_string())
        .collect();
    assert_eq!(cookies.first().map(String::as_str), Some("session=first"));
    assert_eq!(cookies.last().map(String::as_str), Some("session=second"));
    crate::support::hooks::stop(&mut daemon, soon);
}

#[test]
fn a_signed_in_source_still_asks_conditionally() {
    let server = feed_server();
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .feed("news", &server.url("/feed"))
            .line(format!("bearer_env = \"{TOKEN_ENV}\"")),
    );
    fw.run_with_env(&["check"], &[(TOKEN_ENV, TOKEN)])
        .assert_code(0);
    fw.run_with_env(&["check"], &[(TOKEN_ENV, TOKEN)])
        .assert_code(0);
    let requests = server.requests("/feed");
    assert_eq!(requests.len(), 2);
    let again = &requests[1];
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(again.header("authorization"), Some(bearer.as_str()));
    assert!(again.header("if-none-match").is_some(), "{again:?}");
    assert_eq!(again.status, 304);
}

#[test]
fn a_missing_token_fails_the_poll_naming_the_variable() {
    let server = feed_server();
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .feed("news", &server.url("/feed"))
            .line(format!("bearer_env = \"{TOKEN_ENV}\"")),
    );
    let out = fw.run(&["check"]);
    out.assert_code(1);
    assert!(out.stderr.contains(TOKEN_ENV), "{}", out.stderr);
    assert_eq!(server.hits("/feed"), 0);
}

#[test]
fn a_cookie_the_server_sets_is_never_sent_back() {
    let server = TestServer::start();
    server.set(
        "/feed",
        Response::rss(clean_feed()).header("Set-Cookie", "tracker=1; Path=/"),
    );
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .feed("news", &server.url("/feed"))
            .line("interval = \"1s\""),
    );
    let mut daemon = fw.spawn_daemon();
    let soon = std::time::Duration::from_secs(20);
    assert!(
        daemon.wait_for_hits(&server, "/feed", 3, soon),
        "{}",
        daemon.stderr()
    );
    crate::support::hooks::stop(&mut daemon, soon);
    for asked in server.requests("/feed") {
        assert_eq!(asked.header("cookie"), None);
    }
}

#[test]
fn a_socks5h_proxy_is_asked_for_the_host_by_name() {
    let server = feed_server();
    let socks = Proxy::start_socks();
    let proxy = socks.url().replacen("http://", "socks5h://", 1);
    let url = on_localhost(&server.url("/feed"));
    let fw = Feedwatch::new();
    fw.write_config(
        Toml::journal()
            .feed("news", &url)
            .line(format!("proxy = \"{proxy}\"")),
    );
    fw.run(&["check"]).assert_code(0);
    let port = url.trim_start_matches("http://localhost:");
    let port = port.split('/').next().unwrap_or_default();
    assert_eq!(socks.seen(), [format!("CONNECT localhost:{port}")]);
    assert_eq!(server.hits("/feed"), 1);
}
