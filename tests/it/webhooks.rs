//! What a webhook receiver gets: the Standard Webhooks wire format, checked by
//! an independent verifier (and by the reference Python library when CI
//! provides it), and secrets that never show anywhere else.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::hooks::*;
use crate::support::signature::{self, TOLERANCE};
use crate::support::*;

const PYTHON_VAR: &str = "FEEDWATCH_STANDARDWEBHOOKS_PYTHON";
const VERIFY_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/verify_standardwebhooks.py"
);

/// Everything the specification says about one POST carrying `event`.
#[track_caller]
fn assert_standard_webhook(post: &Delivery, event: &Value, secret: &str, other: &str) {
    assert_eq!(post.method, "POST");
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body = post.json();
    let mut keys: Vec<&str> = body
        .as_object()
        .or_fail("the body is a JSON object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "timestamp", "type"], "envelope: {body:#}");
    assert_eq!(&body["data"], event, "data is the stored event");
    assert_eq!(body["type"], event["type"]);
    assert_eq!(body["timestamp"], event["timestamp"]);
    assert_eq!(
        post.id(),
        str_of(event, "/id"),
        "webhook-id is the event id"
    );
    let sent: u64 = post
        .header("webhook-timestamp")
        .and_then(|t| t.parse().ok())
        .or_fail("webhook-timestamp is unix seconds");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .or_fail("the clock is after 1970")
        .as_secs();
    assert!(
        sent.abs_diff(now) <= 120,
        "webhook-timestamp {sent}, now {now}"
    );
    signature::verify(secret, post).or_fail(format!("verify the signature of {post:#?}"));
    assert!(
        signature::verify(other, post).is_err(),
        "the signature also verifies with another sink's secret"
    );
}

#[test]
fn the_verifier_accepts_the_specification_example_and_nothing_else() {
    // The worked example of the Standard Webhooks specification.
    let key = signature::key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    let at = UNIX_EPOCH + Duration::from_secs(1_614_265_330);
    let verify = |body: &str, sig: &str, now: SystemTime| {
        let headers = |name: &str| match name {
            "webhook-id" => Some("msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
            "webhook-timestamp" => Some("1614265330".to_owned()),
            "webhook-signature" => Some(sig.to_owned()),
            _ => None,
        };
        signature::verify_at(&key, headers, body, now)
    };
    let body = r#"{"test": 2432232314}"#;

    assert_eq!(verify(body, good, at), Ok(()));
    assert_eq!(verify(body, &format!("v1,Zm9v {good}"), at), Ok(()));
    assert!(verify(r#"{"test": 2432232315}"#, good, at).is_err());
    assert!(verify(body, &good.replace("v1,", "v2,"), at).is_err());
    assert!(verify(body, good, at + TOLERANCE + Duration::from_secs(1)).is_err());
    assert_eq!(signature::key("raw secret"), b"raw secret");
}

/// Two webhook sinks, one keyed by a `whsec_` file and one by a raw env
/// secret, and two stories delivered by `check`; returns the journal.
fn two_signed_deliveries(b: &Bench) -> Vec<Value> {
    write_secret(b.fw.dir(), "filed.secret", &file_secret(), 0o600);
    let mut feed = Feed::serve(&b.origin, "/a/feed/");
    b.fw.write_config(
        Toml::journal()
            .webhook("filed", &b.hook_url("filed"))
            .line("secret_file = \"filed.secret\"")
            .webhook("envd", &b.hook_url("envd"))
            .line(secret_env_line())
            .feed("a", &feed.url(&b.origin))
            .line("interval = \"1s\""),
    );
    b.check().assert_code(0);
    feed.publish(&b.origin);
    feed.publish(&b.origin);
    b.check().assert_code(0);
    let journal = b.fw.events();
    assert_eq!(
        event_types(&journal),
        ["item.new", "item.new"],
        "{journal:#?}"
    );
    journal
}

#[test]
fn every_post_is_a_signed_standard_webhook() {
    let b = Bench::new();
    let journal = two_signed_deliveries(&b);

    for (path, secret, other) in [
        ("/filed", file_secret(), ENV_SECRET.to_owned()),
        ("/envd", ENV_SECRET.to_owned(), file_secret()),
    ] {
        let posts = b.receiver.to_path(path);
        assert_eq!(posts.len(), journal.len(), "{path}: {posts:#?}");
        for (post, event) in posts.iter().zip(&journal) {
            assert_standard_webhook(post, event, &secret, &other);
        }
    }
}

fn nonempty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Runs the reference verifier; its exit status and everything it printed.
fn reference_verify(python: &str, captured: &Path, secret: &Path) -> (bool, String) {
    let out = Command::new(python)
        .arg(VERIFY_SCRIPT)
        .arg(captured)
        .arg(secret)
        .output()
        .or_fail(format!("run {python} {VERIFY_SCRIPT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_reference_standardwebhooks_library_verifies_real_deliveries() {
    let python = nonempty_var(PYTHON_VAR);
    let in_ci = nonempty_var("CI").is_some_and(|v| v != "false" && v != "0");
    assert!(
        python.is_some() || !in_ci,
        "CI must verify deliveries with the reference library: set {PYTHON_VAR} to a python \
         that has the `standardwebhooks` package (see .ci/run)"
    );
    let b = Bench::new();
    let journal = two_signed_deliveries(&b);
    let env_secret = write_secret(b.fw.dir(), "envd.secret", ENV_SECRET, 0o600);
    let wrong = write_secret(b.fw.dir(), "wrong.secret", "not-the-secret", 0o600);
    let mut captures = Vec::new();
    for (path, secret) in [
        ("/filed", b.fw.dir().join("filed.secret")),
        ("/envd", env_secret),
    ] {
        let posts = b.receiver.to_path(path);
        assert_eq!(posts.len(), journal.len(), "{path}: {posts:#?}");
        let text = std::fs::read_to_string(&secret).or_fail("read the secret back");
        for post in &posts {
            signature::verify(text.trim(), post).or_fail("the Rust verifier accepts it");
        }
        let captured = b.fw.dir().join(format!("{}.jsonl", path.trim_matches('/')));
        let lines: Vec<String> = posts.iter().map(Delivery::capture_line).collect();
        std::fs::write(&captured, lines.join("\n") + "\n").or_fail("write the capture");
        captures.push((captured, secret));
    }

    let Some(python) = python else {
        eprintln!(
            "note: {PYTHON_VAR} is not set, so only the Rust verifier checked the deliveries"
        );
        return;
    };
    for (captured, secret) in &captures {
        let (ok, text) = reference_verify(&python, captured, secret);
        assert!(
            ok,
            "standardwebhooks rejected {}:\n{text}",
            captured.display()
        );
        eprint!("{text}");
        let (ok, text) = reference_verify(&python, captured, &wrong);
        assert!(
            !ok,
            "the reference check passed with a wrong secret:\n{text}"
        );
    }
}

#[test]
fn secrets_never_appear_in_any_output() {
    let b = Bench::new();
    let mut feed = Feed::serve(&b.origin, "/a/feed/");
    write_secret(b.fw.dir(), "filed.secret", &file_secret(), 0o600);
    let config = Toml::journal()
        .webhook("filed", &b.hook_url("filed"))
        .line("secret_file = \"filed.secret\"")
        .webhook("envd", &b.hook_url("envd"))
        .line(secret_env_line())
        .feed("a", &feed.url(&b.origin))
        .line("interval = \"1s\"")
        .to_string();
    b.fw.write_config(&config);
    let trace = |args: &[&str]| {
        b.fw.run_with_env(
            args,
            &[(SECRET_ENV, ENV_SECRET), ("FEEDWATCH_LOG", "trace")],
        )
    };
    let mut outputs = vec![("validate", trace(&["validate"]))];
    outputs.push(("baseline check", trace(&["check"])));
    feed.publish(&b.origin);
    b.receiver.script([Reply::retry_after(500, 1)]);
    outputs.push(("check", trace(&["check"])));
    for args in [
        &["sources"][..],
        &["deliveries"],
        &["deliveries", "--failed"],
        &["history", "a"],
    ] {
        outputs.push((args[0], trace(args)));
    }
    outputs.push(("check again", trace(&["check"])));
    let broken = format!("whsec_{ENV_SECRET}");
    outputs.push((
        "check with a bad secret",
        b.fw.run_with_env(&["check"], &[(SECRET_ENV, broken.as_str())]),
    ));
    let polls = b.origin.hits("/a/feed/");
    let mut daemon =
        b.fw.spawn_daemon_with(&[(SECRET_ENV, ENV_SECRET), ("FEEDWATCH_LOG", "debug")]);
    let running = daemon.wait_for_stderr("running", Duration::from_secs(15));
    let retried = b
        .receiver
        .wait_until(Duration::from_secs(15), |posts| posts.len() >= 3);
    assert!(running && retried, "{}", daemon.stderr());
    let polled = daemon.wait_for_hits(&b.origin, "/a/feed/", polls + 2, Duration::from_secs(15));
    assert!(polled, "{}", daemon.stderr());
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(20));
    b.fw.write_config(config.replace(
        &format!("secret_env = \"{SECRET_ENV}\""),
        &format!("secret = \"{ENV_SECRET}\""),
    ));
    outputs.push(("validate with an inline secret", b.run(&["validate"])));

    for (what, out) in &outputs {
        assert_no_secret(&format!("{what} stdout"), &out.stdout);
        assert_no_secret(&format!("{what} stderr"), &out.stderr);
    }
    assert_eq!(outputs[0].1.code, 0, "{}", outputs[0].1.stderr);
    assert_eq!(outputs.last().map(|(_, o)| o.code), Some(2));
    let bad = &outputs
        .iter()
        .find(|(what, _)| *what == "check with a bad secret")
        .or_fail("ran")
        .1;
    assert!(
        bad.stderr.contains("base64"),
        "the bad secret was not reported: {}",
        bad.stderr
    );
    assert_no_secret("daemon log", &daemon.stderr());
    assert_no_secret(
        "alerts.jsonl",
        &serde_json::to_string(&b.fw.events()).or_fail("json"),
    );
    let posts = b.receiver.all();
    assert!(posts.len() >= 3, "{posts:#?}");
    for post in &posts {
        assert_no_secret("a webhook request", &post.capture_line());
        let secret = if post.path == "/filed" {
            file_secret()
        } else {
            ENV_SECRET.to_owned()
        };
        signature::verify(&secret, post).or_fail("the secrets were in use");
    }
}

#[test]
fn a_secret_file_readable_by_others_is_warned_about() {
    let b = Bench::new();
    let secret = write_secret(b.fw.dir(), "filed.secret", &file_secret(), 0o600);
    let feed = Feed::serve(&b.origin, "/a/feed/");
    b.fw.write_config(
        Toml::journal()
            .webhook("filed", &b.hook_url("filed"))
            .line("secret_file = \"filed.secret\"")
            .feed("a", &feed.url(&b.origin))
            .line("interval = \"1s\""),
    );

    let private = b.check();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .or_fail("chmod 644");
    let shared = b.check();
    let mut daemon = b.fw.spawn_daemon();
    let warned = daemon.wait_for_stderr("readable", Duration::from_secs(15));
    assert!(daemon.wait_for_stderr("running", Duration::from_secs(15)));
    daemon.signal("TERM");
    daemon.wait_exit(Duration::from_secs(20));

    private.assert_code(0);
    assert!(!private.stderr.contains("readable"), "{}", private.stderr);
    shared.assert_code(0);
    let warning = shared
        .stderr
        .lines()
        .find(|l| l.contains("readable"))
        .or_fail(format!("no warning at mode 644:\n{}", shared.stderr));
    assert!(
        warning.contains("filed.secret") && warning.contains("chmod"),
        "{warning}"
    );
    assert!(warned, "the daemon did not warn:\n{}", daemon.stderr());
    assert_no_secret("the warning", &shared.stderr);
}

#[test]
fn a_sink_whose_secret_cannot_be_read_keeps_its_events_and_check_fails() {
    let b = Bench::new();
    let mut feed = b.baselined_hook("");
    feed.publish(&b.origin);

    let unset = b.fw.run(&["check"]);

    assert!(b.receiver.all().is_empty(), "sent without its secret");
    assert!(unset.stderr.contains(SECRET_ENV), "{}", unset.stderr);
    let rows = b.deliveries(&["--sink", "hook"]);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].state, "pending");
    unset.assert_code(1);
    b.check().assert_code(0);
    assert_eq!(b.hook_ids("/hook"), [rows[0].id.clone()]);
}
