//! Serving one fixture and reading it back through `feedwatch test --json`.

use std::fs;

use serde_json::Value;

use super::fail::OrFail;
use super::runner::Feedwatch;
use super::server::{Response, TestServer};

/// A fixture's bytes, by its path under `tests/fixtures/`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    fs::read(&full).or_fail(format!("read {full}"))
}

/// What `test URL --json` printed for `body` served with `headers`.
pub fn read_served(body: Vec<u8>, headers: &[(&str, &str)]) -> Value {
    let server = TestServer::start();
    let mut response = Response::ok(body);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    server.set("/feed", response);
    let fw = Feedwatch::new();
    let out = fw.run(&["test", &server.url("/feed"), "--json"]);
    out.assert_code(0);
    serde_json::from_str(out.stdout.trim()).or_fail(format!(
        "read the JSON `test --json` printed:\n{}",
        out.stdout
    ))
}

/// A fixture as a server would label it by its name, read through `test --json`.
pub fn read_fixture(path: &str) -> Value {
    let content_type = if path.ends_with(".json") {
        "application/feed+json"
    } else {
        "application/xml"
    };
    read_served(fixture(path), &[("Content-Type", content_type)])
}

/// The items `test --json` printed.
pub fn items(json: &Value) -> &[Value] {
    json["items"].as_array().map_or(&[], Vec::as_slice)
}

/// One string field of every item.
pub fn field<'a>(json: &'a Value, name: &str) -> Vec<&'a str> {
    items(json)
        .iter()
        .map(|i| i[name].as_str().unwrap_or("<null>"))
        .collect()
}

/// The warnings `test --json` printed.
pub fn warnings(json: &Value) -> Vec<&str> {
    json["warnings"]
        .as_array()
        .map(|w| w.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
