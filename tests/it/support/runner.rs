//! Runs the real `feedwatch` binary the way a user would, in a throwaway folder.

use std::fmt::Display;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fail::OrFail;
use super::server::TestServer;

/// A one-shot command that takes longer than this is treated as hung.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

const POLL: Duration = Duration::from_millis(20);

/// What a finished command left behind.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Non-blank stdout lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// Panics with everything the command printed when its exit code is not `expected`.
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A folder holding `feedwatch.toml`, the database and the alert log of one test.
pub struct Feedwatch {
    dir: tempfile::TempDir,
}

impl Default for Feedwatch {
    fn default() -> Self {
        Self::new()
    }
}

impl Feedwatch {
    pub fn new() -> Feedwatch {
        let dir = tempfile::Builder::new()
            .prefix("feedwatch-test-")
            .tempdir()
            .or_fail("create a temporary folder");
        Feedwatch { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("feedwatch.toml")
    }

    pub fn database_path(&self) -> PathBuf {
        self.dir().join("feedwatch.db")
    }

    pub fn alerts_path(&self) -> PathBuf {
        self.dir().join("alerts.jsonl")
    }

    /// Writes `feedwatch.toml`: a [`Toml`](super::toml::Toml) or any text.
    pub fn write_config(&self, text: impl Display) {
        fs::write(self.config_path(), text.to_string()).or_fail("write feedwatch.toml");
    }

    /// The binary with `--config` pointing into this folder, a clean
    /// environment and no stdin.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        cmd.arg("--config").arg(self.config_path()).args(args);
        // The user's own settings must not leak into the run.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("FEEDWATCH_") {
                cmd.env_remove(&name);
            }
        }
        for name in [
            "STATE_DIRECTORY",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "LISTEN_FDS",
            "LISTEN_PID",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
        ] {
            cmd.env_remove(name);
        }
        cmd.env("FEEDWATCH_LOG", "info")
            .env("NO_COLOR", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .current_dir(self.dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(args, &[])
    }

    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().or_fail("start the feedwatch binary");
        let stdout = read_all_later(child.stdout.take());
        let stderr = read_all_later(child.stderr.take());
        let status = match wait_until(&mut child, Instant::now() + RUN_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "feedwatch {args:?} was still running after {} s",
                    RUN_TIMEOUT.as_secs()
                );
            }
        };
        Output {
            code: exit_code(status),
            stdout: collected(stdout, "stdout"),
            stderr: collected(stderr, "stderr"),
        }
    }

    /// Every event in the log sink's file, in order; empty when the file does not exist.
    pub fn events(&self) -> Vec<Value> {
        parse_events(&self.alerts_text())
    }

    /// Like [`Feedwatch::events`], leaving out a last line still being written
    /// by a running daemon.
    pub fn complete_events(&self) -> Vec<Value> {
        let text = self.alerts_text();
        let complete = text.rfind('\n').map_or("", |end| &text[..=end]);
        parse_events(complete)
    }

    fn alerts_text(&self) -> String {
        match fs::read_to_string(self.alerts_path()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            read => read.or_fail("read alerts.jsonl"),
        }
    }

    /// Starts `feedwatch run`; its stderr is collected as it arrives.
    pub fn spawn_daemon(&self) -> Daemon {
        self.spawn_daemon_with(&[])
    }

    /// Starts `feedwatch run` with extra environment variables.
    pub fn spawn_daemon_with(&self, env: &[(&str, &str)]) -> Daemon {
        let mut cmd = self.command(&["run"]);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().or_fail("start feedwatch run");
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect_lines(child.stderr.take(), Arc::clone(&stderr)),
            collect_lines(child.stdout.take(), Arc::new(Mutex::new(String::new()))),
        ];
        Daemon {
            child,
            stderr,
            readers,
            code: None,
        }
    }
}

/// A running `feedwatch run`; killed on drop if the test did not stop it.
pub struct Daemon {
    child: Child,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    code: Option<i32>,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// False once the process has exited, whatever the reason.
    pub fn is_running(&mut self) -> bool {
        if self.code.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.code = Some(exit_code(status));
                self.join_readers();
                false
            }
            _ => true,
        }
    }

    /// Waits until stderr contains `needle`; false on timeout or if the daemon exited without it.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().contains(needle) {
                return true;
            }
            if !self.is_running() {
                return self.stderr().contains(needle);
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until `path` has been requested `count` times in all; false on
    /// timeout or as soon as the daemon has exited.
    pub fn wait_for_hits(
        &mut self,
        server: &TestServer,
        path: &str,
        count: usize,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if server.hits(path) >= count {
                return true;
            }
            if !self.is_running() || Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .or_fail("run kill");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// The exit code (128 + signal number if a signal ended it); panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        if let Some(code) = self.code {
            return code;
        }
        match wait_until(&mut self.child, Instant::now() + timeout) {
            Some(status) => {
                let code = exit_code(status);
                self.code = Some(code);
                self.join_readers();
                code
            }
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.join_readers();
                panic!(
                    "feedwatch run did not exit within {} s\n--- stderr\n{}",
                    timeout.as_secs_f32(),
                    self.stderr()
                );
            }
        }
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.code.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn parse_events(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).or_fail(format!("read an alerts.jsonl line as JSON: {l}")))
        .collect()
}

fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().or_fail("wait for feedwatch") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// The exit code, or 128 + the number of the signal that ended the process.
pub fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Reads a child's pipe to its end on a thread of its own, so that neither
/// pipe can fill up and stall the child; see [`collected`].
pub fn read_all_later<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What [`read_all_later`] read from the pipe named `pipe`.
pub fn collected(reader: JoinHandle<String>, pipe: &str) -> String {
    reader
        .join()
        .map_err(|_| "its reader panicked")
        .or_fail(format!("collect {pipe}"))
}

fn collect_lines<R: Read + Send + 'static>(
    pipe: Option<R>,
    into: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            into.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push_str(&String::from_utf8_lossy(&line));
            line.clear();
        }
    })
}
