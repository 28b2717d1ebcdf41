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
