//! A real SMTP server for the email tests: aiosmtpd, run from the python
//! that `FEEDWATCH_AIOSMTPD_PYTHON` names (CI installs it), writing every
//! message it receives to a folder. Without that variable outside CI the
//! tests print a note and pass without running.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::fail::OrFail;

pub const PYTHON_VAR: &str = "FEEDWATCH_AIOSMTPD_PYTHON";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");

/// The python with aiosmtpd, or `None` (with a note) where it may be missing.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var(PYTHON_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    match python {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                !in_ci,
                "CI must run the email tests against aiosmtpd: set {PYTHON_VAR} to a python that has it"
            );
            eprintln!("{PYTHON_VAR} is not set: the email test did not run");
            None
        }
    }
}

/// A free port on 127.0.0.1, for a server started later.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .or_fail("find a free port")
        .port()
}

/// One received message: the raw bytes, the envelope's recipients, and
/// whether it came over TLS.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: Vec<u8>,
    pub recipients: Vec<String>,
    pub tls: bool,
}

/// A running aiosmtpd; stopped when dropped. Messages are kept in `dir`,
/// so a server started again on the same folder keeps counting.
pub struct Smtp {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Smtp {
    /// Starts the server on `port` (0: any) writing to `dir`; RCPT TO any
    /// of `rejected` is answered 550.
    pub fn start(python: &Path, dir: &Path, port: u16, rejected: &[&str]) -> Smtp {
        let rejects = rejected.iter().flat_map(|r| ["--reject", r]);
        Smtp::spawn(python, dir, port, rejects.map(str::to_owned).collect())
    }

    /// Starts a server speaking TLS (`mode` "starttls" or "smtps") with
    /// the certificate and key in these PEM files.
    pub fn start_tls(python: &Path, dir: &Path, mode: &str, cert: &Path, key: &Path) -> Smtp {
        Smtp::spawn(python, dir, 0, tls_args(mode, cert, key))
    }

    /// A STARTTLS server that takes mail only after AUTH as `user` with `password`.
    pub fn start_with_login(
        python: &Path,
        dir: &Path,
        (cert, key): (&Path, &Path),
        user: &str,
        password: &str,
    ) -> Smtp {
        let mut args = tls_args("starttls", cert, key);
        args.extend(["--login".to_owned(), format!("{user}:{password}")]);
        Smtp::spawn(python, dir, 0, args)
    }

    fn spawn(python: &Path, dir: &Path, port: u16, args: Vec<String>) -> Smtp {
        fs::create_dir_all(dir).or_fail("create the mail folder");
        let mut child = Command::new(python)
            .arg(SCRIPT)
            .arg(dir)
            .arg(port.to_string())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .or_fail("start the SMTP server");
        let stdout = child.stdout.take().or_fail("the SMTP server's stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .or_fail("read the SMTP server's port");
        let port = line
            .trim()
            .parse()
            .or_fail(format!("the SMTP server printed {line:?}, not its port"));
        Smtp {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        received(&self.dir)
    }

    /// Waits until at least `count` messages arrived; returns them all.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count || Instant::now() > deadline {
                return messages;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_args(mode: &str, cert: &Path, key: &Path) -> Vec<String> {
    vec![
        "--tls".to_owned(),
        mode.to_owned(),
        "--cert".to_owned(),
        cert.display().to_string(),
        "--key".to_owned(),
        key.display().to_string(),
    ]
}

/// A certificate authority and a certificate it signed for 127.0.0.1, as
/// PEM files in `dir`: (CA, certificate, key).
pub fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().or_fail("make the CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).or_fail("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).or_fail("sign the CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().or_fail("make the server key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .or_fail("server parameters")
        .signed_by(&key, &issuer)
        .or_fail("sign the server certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    fs::write(&paths.0, ca.pem()).or_fail("write the CA");
    fs::write(&paths.1, cert.pem()).or_fail("write the certificate");
    fs::write(&paths.2, key.serialize_pem()).or_fail("write the key");
    paths
}

/// The messages written to `dir`, in the order they arrived.
pub fn received(dir: &Path) -> Vec<Received> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|eml| {
            let meta = fs::read_to_string(eml.with_extension("json")).or_fail("read an envelope");
            let meta: serde_json::Value = serde_json::from_str(&meta).or_fail("parse an envelope");
            let recipients = meta["rcpt_tos"]
                .as_array()
                .or_fail("an envelope lists its recipients")
                .iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect();
            Received {
                raw: fs::read(&eml).or_fail("read a message"),
                recipients,
                tls: meta["tls"].as_bool().unwrap_or(false),
            }
        })
        .collect()
}
