//! Shared by the integration tests (`mod support;`); each test uses only
//! part of it.
#![allow(dead_code)]

pub mod postgres;

use std::io::Write as _;
use std::process::{Command, Stdio};

/// Runs the built `webhook_outbox --db DB ARGS` with `stdin`: whether it
/// succeeded, its stdout and its stderr.
pub fn run_outbox(db: &str, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webhook_outbox"))
        .args(["--db", db])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start webhook_outbox");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
