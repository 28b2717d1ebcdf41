//! Email over TLS and with a login, against aiosmtpd: STARTTLS and smtps to
//! a server whose certificate comes from a CA made in the test and trusted
//! through `ca_file`, and a password read from `password_file`.

use std::thread;
use std::time::Duration;

use crate::email::{FROM, TO};
use crate::support::changes::{self, FEED};
use crate::support::hooks::write_secret;
use crate::support::smtp::{self, Smtp};
use crate::support::*;

/// Sends the first step's two events through a TLS server (`mode`), the
/// sink trusting the test's own CA through `ca_file`.
fn sent_over_tls(mode: &str, scheme: &str) {
    let Some(python) = smtp::python() else { return };
    let fw = Feedwatch::new();
    let origin = TestServer::start();
    let (ca, cert, key) = smtp::certificates(fw.dir());
    let server = Smtp::start_tls(&python, &fw.dir().join("mail"), mode, &cert, &key);
    let sink = |extra: &str| {
        changes::config(&origin, "", "1s")
            .sink("mail", "email")
            .line(format!("smtp = \"{scheme}://127.0.0.1:{}\"", server.port))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{TO}\"]"))
            .line(extra)
    };
    // Without the CA the server is not trusted: nothing is sent, the
    // events wait.
    fw.write_config(sink(""));
    origin.set(FEED, Response::rss(changes::feed_at(0)));
    fw.run(&["check"]).assert_code(0);
    origin.set(FEED, Response::rss(changes::feed_at(1)));
    fw.run(&["check"]).assert_code(1);
    assert!(server.messages().is_empty());
    let pending = fw.run(&["deliveries"]).stdout;
    assert!(pending.contains("  mail  pending"), "{pending}");

    fw.write_config(sink(&format!("ca_file = \"{}\"", ca.display())));
    let mut received = Vec::new();
    for _ in 0..40 {
        fw.run(&["check"]);
        received = server.messages();
        if received.len() >= 2 {
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(received.len(), 2, "{}", fw.run(&["deliveries"]).stdout);
    assert!(received.iter().all(|r| r.tls), "sent in the clear");
}

#[test]
fn starttls_to_a_server_trusted_through_ca_file() {
    sent_over_tls("starttls", "smtp+starttls");
}

#[test]
fn smtps_to_a_server_trusted_through_ca_file() {
    sent_over_tls("smtps", "smtps");
}

#[test]
fn a_login_reads_the_password_file_and_a_refused_login_is_retried_not_dead() {
    const PASSWORD: &str = "fw-smtp-password-5d2e9a-never-print-me";
    let Some(python) = smtp::python() else { return };
    let fw = Feedwatch::new();
    let origin = TestServer::start();
    let (ca, cert, key) = smtp::certificates(fw.dir());
    let server = Smtp::start_with_login(
        &python,
        &fw.dir().join("mail"),
        (&cert, &key),
        "feedwatch",
        PASSWORD,
    );
    let config = |password_file: &str| {
        changes::config(&origin, "", "1s")
            .sink("mail", "email")
            .line(format!(
                "smtp = \"smtp+starttls://127.0.0.1:{}\"",
                server.port
            ))
            .line(format!("from = \"{FROM}\""))
            .line(format!("to = [\"{TO}\"]"))
            .line(format!("ca_file = \"{}\"", ca.display()))
            .line("username = \"feedwatch\"")
            .line(format!("password_file = \"{password_file}\""))
    };
    // A wrong password: the login is refused (535), which no retry of the
    // message would change, but fixing the password would; the event waits.
    write_secret(fw.dir(), "wrong.password", "not-the-password", 0o600);
    fw.write_config(config("wrong.password"));
    origin.set(FEED, Response::rss(changes::feed_at(0)));
    fw.run(&["check"]).assert_code(0);
    origin.set(FEED, Response::rss(changes::feed_at(1)));
    let refused = fw.run(&["check"]);
    refused.assert_code(1);
    let listed = fw.run(&["deliveries"]).stdout;
    assert!(listed.contains("  mail  pending"), "{listed}");
    assert!(listed.contains("535"), "{listed}");
    assert!(!listed.contains("  mail  dead"), "{listed}");

    write_secret(fw.dir(), "smtp.password", PASSWORD, 0o600);
    fw.write_config(config("smtp.password"));
    let mut outputs = vec![refused.stdout, refused.stderr, listed];
    let mut received = Vec::new();
    for _ in 0..40 {
        let out = fw.run(&["check"]);
        outputs.extend([out.stdout, out.stderr]);
        received = server.messages();
        if received.len() >= 2 {
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(received.len(), 2, "{}", fw.run(&["deliveries"]).stdout);
    for text in &outputs {
        assert!(!text.contains(PASSWORD), "the password was printed: {text}");
    }
}
