//! Published reports: with `[settings] report_dir`, the daemon (and `check`)
//! rewrite `changes.html` and `changes.atom` after polls that found changes,
//! whole files only, so a static web server can serve them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::changes::*;
use crate::support::{Daemon, OrFail, Response};

const SETTINGS: &str = "report_dir = \"public\"\nreport_window = \"2d\"\nreport_url = \"https://news.example.org/feedwatch\"";
const PATIENCE: Duration = Duration::from_secs(20);

/// Reads the published feed whenever it exists; every read must be a whole feed.
fn published_entries(dir: &Path) -> Option<usize> {
    let bytes = fs::read(dir.join("changes.atom")).ok()?;
    let feed = feed_rs::parser::parse(bytes.as_slice()).or_fail(format!(
        "a reader saw a partial feed:\n{}",
        String::from_utf8_lossy(&bytes)
    ));
    Some(feed.entries.len())
}

/// Waits until the published feed has `n` entries, reading it all the while.
fn wait_for_entries(dir: &Path, n: usize, daemon: &mut Daemon) {
    let deadline = Instant::now() + PATIENCE;
    while published_entries(dir) != Some(n) {
        assert!(
            Instant::now() < deadline && daemon.is_running(),
            "changes.atom never had {n} entries (has {:?})\n--- stderr\n{}",
            published_entries(dir),
            daemon.stderr()
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn the_daemon_publishes_after_polls_that_found_changes() {
    let c = Changes::new("");
    c.fw.write_config(config(&c.server, SETTINGS, "1s"));
    let public = c.fw.dir().join("public");
    c.serve_step(0);
    let mut daemon = c.fw.spawn_daemon();
    assert!(
        daemon.wait_for_hits(&c.server, FEED, 3, PATIENCE),
        "{}",
        daemon.stderr()
    );
    assert!(
        !public.join("changes.html").exists(),
        "published after polls that found nothing"
    );

    c.serve_step(1);
    wait_for_entries(&public, 2, &mut daemon);
    c.serve_step(2);
    wait_for_entries(&public, EVENT_COUNT, &mut daemon);

    let html = fs::read_to_string(public.join("changes.html")).or_fail("changes.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<del>also</del> found <ins>that many</ins> "),
        "{html}"
    );
    assert!(html.contains("added to the title of 10 items"), "{html}");
    assert!(!html.to_lowercase().contains("<script"), "{html}");
    assert_eq!(html.matches("<article ").count(), EVENT_COUNT);
    let names: Vec<String> = fs::read_dir(&public)
        .or_fail("list public")
        .map(|e| {
            e.or_fail("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["changes.atom", "changes.html"],
        "left behind: {names:?}"
    );
    daemon.signal("TERM");
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        daemon.stderr()
    );
}

#[test]
fn check_publishes_too_and_the_window_bounds_the_files() {
    let c = Changes::recorded(SETTINGS);
    let public = c.fw.dir().join("public");

    assert_eq!(published_entries(&public), Some(EVENT_COUNT));
    let atom = fs::read(public.join("changes.atom")).or_fail("changes.atom");
    let feed = feed_rs::parser::parse(atom.as_slice()).or_fail("a feed");
    let links: Vec<(Option<&str>, &str)> = feed
        .links
        .iter()
        .map(|l| (l.rel.as_deref(), l.href.as_str()))
        .collect();
    assert_eq!(
        links,
        [
            (
                Some("self"),
                "https://news.example.org/feedwatch/changes.atom"
            ),
            (
                Some("alternate"),
                "https://news.example.org/feedwatch/changes.html"
            ),
        ]
    );
    let html = fs::read_to_string(public.join("changes.html")).or_fail("changes.html");
    assert_eq!(html.matches("<article ").count(), EVENT_COUNT);

    // A window that ends before the changes: the next change publishes only itself.
    c.fw.write_config(config(
        &c.server,
        "report_dir = \"public\"\nreport_window = \"1s\"",
        "15m",
    ));
    thread::sleep(Duration::from_millis(2100));
    c.server.set(FEED, Response::rss(feed_at(1)));
    c.fw.run(&["check"]).assert_code(0);
    let after = published_entries(&public);
    assert!(
        matches!(after, Some(n) if n < EVENT_COUNT && n > 0),
        "window of 1s still shows {after:?} entries"
    );
}

#[test]
fn an_unwritable_report_dir_does_not_fail_the_poll() {
    let c = Changes::new("");
    fs::write(c.fw.dir().join("taken"), "a file, not a folder").or_fail("write");
    c.fw.write_config(config(&c.server, "report_dir = \"taken/public\"", "15m"));
    c.serve_step(0);
    c.fw.run(&["check"]).assert_code(0);
    c.serve_step(1);

    let out = c.fw.run(&["check"]);

    out.assert_code(0);
    assert!(out.stderr.contains("cannot publish"), "{}", out.stderr);
    assert_eq!(c.fw.events().len(), 2, "the events are still recorded");
}

#[test]
fn published_files_are_readable_by_a_web_server_whatever_the_umask() {
    let c = Changes::new("");
    c.fw.write_config(config(
        &c.server,
        "report_dir = \"public/feedwatch\"",
        "15m",
    ));
    // As under the systemd unit, which sets UMask=0077.
    let check_with_umask = || {
        let cmd = c.fw.command(&["check"]);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 077; exec \"$@\"")
            .arg("sh")
            .arg(cmd.get_program())
            .args(cmd.get_args())
            .current_dir(c.fw.dir())
            .status()
            .or_fail("run check under umask 077");
        assert!(status.success());
    };
    c.serve_step(0);
    check_with_umask();
    c.serve_step(1);
    check_with_umask();

    let public = c.fw.dir().join("public");
    let dir = public.join("feedwatch");
    for path in [
        public.clone(),
        dir.clone(),
        dir.join("changes.html"),
        dir.join("changes.atom"),
    ] {
        let mode = fs::metadata(&path).or_fail("stat").permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o044,
            0o044,
            "{} is not readable by others: {mode:o}",
            path.display()
        );
    }
}

#[test]
fn report_url_must_be_a_web_address() {
    let c = Changes::new("");
    c.fw.write_config(config(
        &c.server,
        "report_url = \"ftp://example.org/\"",
        "15m",
    ));

    let out = c.fw.run(&["validate"]);

    out.assert_code(2);
    assert!(out.stderr.contains("settings.report_url"), "{}", out.stderr);
}

#[test]
fn a_daemon_given_a_report_dir_publishes_the_changes_it_already_holds() {
    let c = Changes::recorded("");
    c.fw.write_config(config(&c.server, SETTINGS, "1h"));
    let public = c.fw.dir().join("public");
    assert!(!public.exists());

    let mut daemon = c.fw.spawn_daemon();
    wait_for_entries(&public, EVENT_COUNT, &mut daemon);

    daemon.signal("TERM");
    assert_eq!(
        daemon.wait_exit(Duration::from_secs(10)),
        0,
        "{}",
        daemon.stderr()
    );
}
