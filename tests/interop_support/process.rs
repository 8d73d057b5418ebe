//! Test plumbing that needs nothing but std, shared by this crate's interop
//! tests and the example packages' (`#[path]`-included): child processes
//! that are killed when dropped, line readers and waits that never block
//! for longer than a deadline, scratch directories, and the skip-or-fail
//! rule for missing peers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether we run under CI, where a missing peer is a failure.
pub fn ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

/// A peer is unavailable: fails under CI, otherwise prints a notice. The
/// caller returns (skips) afterwards.
pub fn peer_missing(test: &str, problem: &str, hint: &str) {
    assert!(
        !ci(),
        "CI is set but the interop peer for {test} is unavailable: {problem}. {hint}"
    );
    eprintln!("SKIPPED {test}: {problem}. {hint}");
}

/// A non-empty environment variable.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A child process that is killed (and reaped) when dropped, with its
/// stdout and stderr read by threads: stdout line by line, stderr whole.
pub struct Proc {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: std::sync::Arc<Mutex<String>>,
}

impl Proc {
    /// Starts `cmd` with piped stdin, stdout and stderr.
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::sync::Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr_pipe);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        Self {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            stderr,
        }
    }

    /// The operating system's id for the process.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The next stdout line, waiting at most `timeout`; panics (with the
    /// process's stderr) on timeout or end of output.
    pub fn line(&self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "{}: no output line within {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => {
                // Give stderr a moment to be collected for the message.
                std::thread::sleep(Duration::from_millis(100));
                panic!("{}: stdout ended; stderr:\n{}", self.name, self.stderr())
            }
        }
    }

    /// Reads stdout lines until one starts with `prefix`; returns it.
    pub fn line_starting_with(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.line(left);
            if line.starts_with(prefix) {
                return line;
            }
            eprintln!("{}: {line}", self.name);
        }
    }

    /// The stdout lines that have arrived and were not read yet, without
    /// waiting.
    pub fn available(&self) -> Vec<String> {
        std::iter::from_fn(|| self.lines.try_recv().ok()).collect()
    }

    /// The remaining stdout lines, up to the end of output (at most `timeout`).
    pub fn rest(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!(
                    "{}: output did not end within {timeout:?}; got {lines:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
            }
        }
    }

    /// Writes to the process's stdin.
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(data)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot write stdin: {e}", self.name));
    }

    /// Closes the process's stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit, at most `timeout`; panics if it does not.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        self.try_wait(timeout).unwrap_or_else(|| {
            panic!(
                "{} did not exit within {timeout:?}; stderr:\n{}",
                self.name,
                self.stderr()
            )
        })
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn try_wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => return None,
                Err(e) => panic!("{}: wait failed: {e}", self.name),
            }
        }
    }

    /// Waits for exit and asserts success.
    pub fn wait_success(&mut self, timeout: Duration) {
        let status = self.wait(timeout);
        // Let the reader thread collect the last of stderr.
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            status.success(),
            "{} exited with {status}; stderr:\n{}",
            self.name,
            self.stderr()
        );
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A scratch directory under the target directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
