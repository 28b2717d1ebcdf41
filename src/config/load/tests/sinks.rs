use std::time::Duration;

use super::*;

#[test]
fn sinks_are_checked() {
    let text = r#"[[sink]]
name = "a"
type = "log"
url = "https://example.org/"

[[sink]]
name = "a"
type = "pager"

[[sink]]
name = "hook"
type = "webhook"
url = "file:///tmp/x"
secret_file = "hook.secret"
secret_env = "HOOK_SECRET"
path = "x.log"
events = ["item.[", "item.udpated"]

[[sink]]
type = "log"
"#;
    let list = problems(text);
    let got: Vec<(usize, &str)> = list.iter().map(|p| (p.line, p.key.as_str())).collect();
    let expected = [
        (4, "sink \"a\".url"),
        (7, "sink \"a\".name"),
        (8, "sink \"a\".type"),
        (13, "sink \"hook\".url"),
        (15, "sink \"hook\".secret_env"),
        (16, "sink \"hook\".path"),
        (17, "sink \"hook\".events"),
        (19, "sink[4].name"),
    ];
    assert_eq!(got, expected, "{list:#?}");
    assert!(
        list[0]
            .message
            .contains("applies only to webhook or ntfy sinks, and this is a log sink")
    );
    assert!(
        list[1]
            .message
            .contains("the sink on line 2 is already named `a`")
    );
    assert!(
        list[3]
            .message
            .contains("`file` URLs are not allowed here; use `http` or `https`")
    );
    assert!(
        list[4]
            .message
            .contains("either `secret_file` or `secret_env`")
    );
    assert!(list[6].message.contains("`item.[` is not a valid pattern"));
}

#[test]
fn webhook_secrets_and_event_warnings() {
    let text = "[[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://h.example.org/\"\nsecret_env = \"HOOK_SECRET\"\nevents = [\"item.udpated\"]\ntimeout = \"5s\"\nretry_for = \"1h\"\n";
    let config = valid(text);
    let SinkKind::Webhook {
        secret,
        timeout,
        retry_for,
        ..
    } = &config.sinks[0].kind
    else {
        panic!("expected a webhook");
    };
    assert_eq!(
        secret.as_ref(),
        Some(&SecretRef::Env("HOOK_SECRET".to_string()))
    );
    assert_eq!(
        (*timeout, *retry_for),
        (Duration::from_secs(5), Duration::from_secs(3600))
    );
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(config.warnings[0].contains(":6:11: sink \"hook\".events: `item.udpated` matches no event type (did you mean `item.updated`?)"));
}

#[test]
fn email_sinks_are_read_with_their_defaults() {
    let text = "[[sink]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"smtp+starttls://mail.example.org\"\nfrom = \"Feedwatch <fw@example.org>\"\nto = [\"a@example.org\", \"B <b@example.org>\"]\nusername = \"fw\"\npassword_env = \"SMTP_PASSWORD\"\ndigest = \"1h\"\n";
    let config = valid(text);
    let SinkKind::Email(email) = &config.sinks[0].kind else {
        panic!("expected an email sink");
    };
    assert_eq!(email.smtp.host, "mail.example.org");
    assert_eq!(email.smtp.port, 587);
    assert_eq!(email.smtp.security, crate::config::SmtpSecurity::StartTls);
    assert_eq!(email.from.email.to_string(), "fw@example.org");
    assert_eq!(email.to.len(), 2);
    assert_eq!(
        email.password,
        Some(SecretRef::Env("SMTP_PASSWORD".to_string()))
    );
    assert_eq!(email.digest, Some(Duration::from_secs(3600)));
    assert_eq!(email.retry_for, Duration::from_secs(24 * 3600));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn email_sinks_name_every_missing_or_contradictory_key() {
    let text = r#"[[sink]]
name = "mail"
type = "email"
smtp = "https://mail.example.org"
from = "not an address"
to = []
username = "fw"
url = "https://example.org/"
password = "hunter2"
digest = "0s"
ca_file = "ca.pem"

[[sink]]
name = "bare"
type = "email"
password_file = "pw"
password_env = "PW"
"#;
    let list = problems(text);
    let got: Vec<(usize, &str)> = list.iter().map(|p| (p.line, p.key.as_str())).collect();
    let expected = [
        (4, "sink \"mail\".smtp"),
        (5, "sink \"mail\".from"),
        (6, "sink \"mail\".to"),
        (7, "sink \"mail\".username"),
        (8, "sink \"mail\".url"),
        (9, "sink \"mail\".password"),
        (10, "sink \"mail\".digest"),
        (13, "sink \"bare\".smtp"),
        (13, "sink \"bare\".from"),
        (13, "sink \"bare\".to"),
        (16, "sink \"bare\".password_file"),
        (17, "sink \"bare\".password_env"),
    ];
    assert_eq!(got, expected, "{list:#?}");
    assert!(list[1].message.contains("is not an email address"));
    assert!(list[5].message.contains("inline passwords are not allowed"));
    assert!(list[10].message.contains("a password needs a `username`"));
}

#[test]
fn plain_smtp_to_another_host_is_a_warning_and_a_login_in_the_url_a_problem() {
    let head = "[[sink]]\nname = \"mail\"\ntype = \"email\"\nfrom = \"fw@example.org\"\nto = \"a@example.org\"\n";
    let config = valid(&format!("{head}smtp = \"smtp://mail.example.org\"\n"));
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].contains("unencrypted"),
        "{:?}",
        config.warnings
    );
    let local = valid(&format!("{head}smtp = \"smtp://127.0.0.1:2525\"\n"));
    assert!(local.warnings.is_empty(), "{:?}", local.warnings);
    let p = only_problem(&format!("{head}smtp = \"smtps://u:p@mail.example.org\"\n"));
    assert_problem(
        &p,
        (6, 8),
        "sink \"mail\".smtp",
        "put no login in the server URL",
    );
    let p = only_problem(&format!(
        "{head}smtp = \"smtp://127.0.0.1\"\nca_file = \"ca.pem\"\n"
    ));
    assert_problem(&p, (7, 1), "sink \"mail\".ca_file", "a CA file is for TLS");
}
