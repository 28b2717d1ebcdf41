//! The same items and titles as Python's feedparser, fixture by fixture:
//! feedparser reads each XML fixture, feedwatch reads it through
//! `test --json`, and both lists of titles must match once reduced to text
//! the way feedwatch stores every title. (feedparser does not read JSON
//! Feed, so those fixtures are left to tests/it/formats.rs.)

use std::process::Command;

use crate::support::OrFail;
use crate::support::reading::{field, fixture, read_served};

const PYTHON_VAR: &str = "FEEDWATCH_FEEDPARSER_PYTHON";
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/feedparser_items.py"
);

fn nonempty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Every XML fixture of formats/ and quirks/, as paths under tests/fixtures/.
fn xml_fixtures() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut paths = Vec::new();
    for folder in ["formats", "quirks"] {
        let entries = std::fs::read_dir(format!("{root}/{folder}")).or_fail("list the fixtures");
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".json") {
                paths.push(format!("{folder}/{name}"));
            }
        }
    }
    paths.sort();
    paths
}

/// A title as feedwatch keeps it: markup reduced to text, control
/// characters gone, whitespace folded.
fn as_kept(title: &str) -> String {
    let clean: String = title.chars().filter(|c| !c.is_control()).collect();
    feedwatch::text::single_line(&clean)
}

#[test]
fn every_xml_fixture_reads_the_same_titles_as_feedparser() {
    let python = nonempty_var(PYTHON_VAR);
    let in_ci = nonempty_var("CI").is_some_and(|v| v != "false" && v != "0");
    assert!(
        python.is_some() || !in_ci,
        "CI must compare with feedparser: set {PYTHON_VAR} to a python that has the \
         `feedparser` package (see .ci/run)"
    );
    let Some(python) = python else {
        eprintln!("note: {PYTHON_VAR} is not set, so nothing was compared with feedparser");
        return;
    };
    let fixtures = xml_fixtures();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let output = Command::new(&python)
        .arg(SCRIPT)
        .args(fixtures.iter().map(|f| format!("{root}/{f}")))
        .output()
        .or_fail("run feedparser");
    assert!(
        output.status.success(),
        "feedparser failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: serde_json::Value =
        serde_json::from_slice(&output.stdout).or_fail("feedparser printed JSON");
    let mut differences = Vec::new();
    for path in &fixtures {
        let want: Vec<String> = theirs[format!("{root}/{path}")]
            .as_array()
            .map(|titles| {
                titles
                    .iter()
                    .map(|t| as_kept(t.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let json = read_served(fixture(path), &[("Content-Type", "application/xml")]);
        let ours: Vec<String> = field(&json, "title")
            .into_iter()
            .map(String::from)
            .collect();
        if ours != want {
            differences.push(format!(
                "{path}:\n  feedparser {want:?}\n  feedwatch  {ours:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "titles differ from feedparser's:\n{}",
        differences.join("\n")
    );
    eprintln!(
        "{} fixtures read alike by feedparser and feedwatch",
        fixtures.len()
    );
}
