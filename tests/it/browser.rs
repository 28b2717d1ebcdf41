//! The HTML report as a person sees it: rendered by a real browser (headless
//! Chromium) at phone and laptop widths. The rendered DOM must hold the
//! inserted words inside `ins` elements, and the script hidden in a story
//! title must not have run. Screenshots are kept in the target folder.
//!
//! CI installs Chromium; elsewhere the test says so and passes when no
//! browser is installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::OrFail;
use crate::support::changes::*;

pub(crate) fn chromium() -> Option<PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    let path = std::env::var_os("PATH").unwrap_or_default();
    candidates.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

pub(crate) fn headless(browser: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .stdin(Stdio::null());
    cmd
}

/// The DOM a phone-sized headless Chromium builds from `url`, after
/// checking that the browser ran.
pub(crate) fn phone_dom(browser: &Path, profile: &Path, url: &str) -> String {
    let out = headless(browser, profile)
        .args(["--window-size=390,844", "--dump-dom"])
        .arg(url)
        .output()
        .or_fail("run Chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Width and height of a PNG file, from its header.
pub(crate) fn png_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).or_fail("read the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(16), word(20))
}

#[test]
fn a_browser_shows_marked_words_and_runs_no_script() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Chromium for this test"
        );
        eprintln!("no Chromium installed: the browser check did not run");
        return;
    };
    let c = Changes::recorded("");
    let html = c.stdout(&["report", "--format", "html"]);
    let page = c.fw.dir().join("changes.html");
    fs::write(&page, &html).or_fail("write the page");
    let url = format!("file://{}", page.display());
    let profile = c.fw.dir().join("chromium-profile");

    let dom = phone_dom(&browser, &profile, &url);

    // Parsed and serialised by the browser: what it built, not what we wrote.
    assert!(dom.contains("<title>Changes from "), "{dom}");
    assert!(
        !dom.contains("pwned</title>"),
        "the injected script ran:\n{dom}"
    );
    assert!(
        !dom.to_lowercase().contains("<script"),
        "a script element:\n{dom}"
    );
    assert!(dom.contains("<ins>that many</ins>"), "{dom}");
    assert!(dom.contains("<ins>very</ins>"), "{dom}");
    assert!(dom.contains("<ins>again</ins>"), "{dom}");
    assert!(dom.contains("<del>also</del>"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt;"),
        "{dom}"
    );

    let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    fs::create_dir_all(&artifacts).or_fail("create the artifact folder");
    for (name, width, height) in [("phone", 390, 2400), ("laptop", 1366, 1600)] {
        let shot = artifacts.join(format!("report-{name}.png"));
        let _ = fs::remove_file(&shot);
        let status = headless(&browser, &profile)
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--screenshot={}", shot.display()))
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .or_fail("run Chromium for a screenshot");
        assert!(status.success());
        assert_eq!(png_size(&shot).0, width, "{}", shot.display());
        eprintln!("screenshot: {}", shot.display());
    }
}
