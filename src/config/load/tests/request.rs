//! The request keys: headers, user agent, sign-in, cookies and proxy, and
//! how a source's are laid over `[settings]`'.

use super::*;
use crate::config::{Auth, RequestConfig};

fn request_of(text: &str, source: &str) -> RequestConfig {
    valid(text)
        .source(source)
        .map(|s| s.request.clone())
        .unwrap_or_else(|| panic!("no source {source}"))
}

const TWO: &str = r#"
[settings]
headers = { "Accept-Language" = "en-GB", "X-Team" = "all" }
bearer_env = "FEED_TOKEN"
proxy = "http://proxy.internal:3128"

[[source]]
name = "own"
url = "https://e.org/feed"
user_agent = "Desk/1"
headers = { "x-team" = "desk" }
basic_auth = { username = "desk", password_file = "desk.password" }
proxy = "socks5h://127.0.0.1:1080"

[[source]]
name = "plain"
url = "https://e.org/other"
"#;

#[test]
fn a_source_lays_its_keys_over_the_settings() {
    let own = request_of(TWO, "own");
    assert_eq!(
        own.headers,
        [
            ("Accept-Language".to_string(), "en-GB".to_string()),
            ("x-team".to_string(), "desk".to_string())
        ]
    );
    assert_eq!(own.user_agent.as_deref(), Some("Desk/1"));
    assert_eq!(
        own.auth,
        Some(Auth::Basic {
            username: "desk".to_string(),
            password: SecretRef::File(PathBuf::from("/etc/feedwatch/desk.password")),
        })
    );
    assert_eq!(
        own.proxy.map(|u| u.to_string()).as_deref(),
        Some("socks5h://127.0.0.1:1080")
    );
    let plain = request_of(TWO, "plain");
    assert_eq!(plain.headers.len(), 2);
    assert_eq!(plain.user_agent, None);
    assert_eq!(
        plain.auth,
        Some(Auth::Bearer(SecretRef::Env("FEED_TOKEN".to_string())))
    );
    assert_eq!(
        plain.proxy.map(|u| u.to_string()).as_deref(),
        Some("http://proxy.internal:3128/")
    );
}

#[test]
fn debug_output_shows_no_header_value_cookie_or_proxy_password() {
    let text = r#"
[[source]]
name = "s"
url = "https://e.org/feed"
headers = { "X-Api-Key" = "key-value-never-shown" }
proxy = "http://user:proxy-password-never-shown@proxy.internal:3128"
"#;
    let shown = format!("{:?}", valid(text));
    assert!(shown.contains("X-Api-Key"), "{shown}");
    assert!(!shown.contains("key-value-never-shown"), "{shown}");
    assert!(!shown.contains("proxy-password-never-shown"), "{shown}");
}

#[test]
fn parse_str_reads_no_cookies_file() {
    let text =
        "[[source]]\nname = \"s\"\nurl = \"https://e.org/\"\ncookies_file = \"no-such-file.txt\"\n";
    let request = request_of(text, "s");
    let cookies = request.cookies.unwrap_or_else(|| panic!("no cookies file"));
    assert_eq!(
        cookies.path,
        PathBuf::from("/etc/feedwatch/no-such-file.txt")
    );
    assert!(cookies.cookies.is_empty());
}

#[test]
fn contradictions_and_bad_values_are_named() {
    let text = r#"
[[source]]
name = "s"
url = "https://e.org/feed"
basic_auth = { username = "desk", password_env = "PW" }
bearer_file = "token"
headers = { "Cookie" = "a=b", "Bad Name" = "x" }
proxy = "ftp://proxy.internal"
"#;
    let found = problems(text);
    let keys: Vec<&str> = found.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "source \"s\".bearer_file",
            "source \"s\".headers.Cookie",
            "source \"s\".headers.Bad Name",
            "source \"s\".proxy"
        ],
        "{found:?}"
    );
    assert!(found[1].message.contains("cookies_file"), "{found:?}");
}
