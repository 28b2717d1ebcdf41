//! Exit codes and error sentences as a script sees them.

use crate::support::*;

fn with_one_source(fw: &Feedwatch, server: &TestServer) {
    fw.write_config(Toml::new().source("news", &server.url("/feed")));
}

#[test]
fn a_database_from_a_newer_version_is_refused_with_exit_3() {
    let server = TestServer::start();
    let fw = Feedwatch::new();
    with_one_source(&fw, &server);
    fw.run(&["sources"]).assert_code(0);
    let conn = rusqlite::Connection::open(fw.database_path()).or_fail("open db");
    conn.pragma_update(None, "user_version", 999)
        .or_fail("set version");
    drop(conn);
    let out = fw.run(&["sources"]);
    out.assert_code(3);
    assert!(out.stderr.contains("newer feedwatch"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn a_corrupt_database_is_exit_3_not_a_panic() {
    let server = TestServer::start();
    let fw = Feedwatch::new();
    with_one_source(&fw, &server);
    std::fs::write(fw.database_path(), vec![0x42u8; 8192]).or_fail("write junk");
    let out = fw.run(&["check"]);
    out.assert_code(3);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
}

#[test]
fn unknown_sources_and_missing_files_are_usage_errors() {
    let server = TestServer::start();
    let fw = Feedwatch::new();
    with_one_source(&fw, &server);
    let out = fw.run(&["check", "nope"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no source named nope"),
        "{}",
        out.stderr
    );

    std::fs::remove_file(fw.config_path()).or_fail("remove config");
    let out = fw.run(&["validate"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("cannot read the configuration file"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let server = TestServer::start();
    server.set("/feed", Response::rss(clean_feed()));
    let fw = Feedwatch::new();
    with_one_source(&fw, &server);
    fw.run(&["check"]).assert_code(0);
    let mut child = fw
        .command(&["history", "news"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .or_fail("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().or_fail("wait");
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}
