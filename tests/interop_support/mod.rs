//! Shared plumbing for the WebSocket interop tests (`interop_python`,
//! `interop_node`, `interop_chromium`) and `hostile_examples`: building and
//! starting the examples, child processes that are killed when dropped, line
//! readers and waits that never block for longer than a deadline, and the
//! skip-or-fail rule for missing peers.
#![allow(dead_code)]

pub mod certs;
mod process;

#[allow(unused_imports)] // each test uses a part
pub use process::{Proc, TempDir, ci, env_var, peer_missing};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long any single step (start-up, one echo, an exit) may take.
pub const STEP: Duration = Duration::from_secs(20);

/// Where the peer scripts live.
pub const SUPPORT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop_support");

/// The path of an example binary, built (once per test process, and only
/// if out of date) with the features this test was built with, into the
/// same target directory and profile.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(build_examples)
        .as_ref()
        .unwrap_or_else(|e| {
            panic!("cannot build the examples: {e}");
        });
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

fn build_examples() -> Result<PathBuf, String> {
    // This test runs as <target>/<profile>/deps/<test>-<hash>.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or("unexpected test binary location")?;
    let target_dir = profile_dir.parent().ok_or("unexpected target layout")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    // The same features as this test, so that what `cargo test` already
    // built is reused instead of rebuilt.
    let features: Vec<&str> = [
        ("ws", cfg!(feature = "ws")),
        ("webhook", cfg!(feature = "webhook")),
        ("serde", cfg!(feature = "serde")),
        ("getrandom", cfg!(feature = "getrandom")),
        ("arbitrary", cfg!(feature = "arbitrary")),
        ("deflate", cfg!(feature = "deflate")),
        ("ed25519", cfg!(feature = "ed25519")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let cargo = env_var("CARGO").unwrap_or_else(|| env!("CARGO").to_owned());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--profile", profile, "--target-dir"])
        .arg(target_dir)
        .args(["--example", "echo_server", "--example", "client"])
        .args(["--example", "tokio_echo"])
        .arg("--no-default-features");
    if cfg!(feature = "getrandom") {
        // Its masking keys come from the OS.
        cmd.args(["--example", "tokio_client"]);
    }
    cmd.args(["--example", "hyper_upgrade"]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(profile_dir.join("examples"))
}

/// The extensions negotiated between our examples (built with this test's
/// features, so with permessage-deflate iff the `deflate` feature is on)
/// and a peer that does (`peer_deflate`) or does not offer or accept it.
pub fn negotiated(peer_deflate: bool) -> &'static str {
    if peer_deflate && cfg!(feature = "deflate") {
        "permessage-deflate"
    } else {
        "none"
    }
}

/// Starts `echo_server` on a free port; returns it and its `ws://` URL.
pub fn echo_server() -> (Proc, String) {
    let server = Proc::spawn(
        "echo_server",
        Command::new(example("echo_server")).args(["--addr", "127.0.0.1:0"]),
    );
    let url = listening_url(&server);
    (server, url)
}

/// Reads the `listening on ws://HOST:PORT` line every server here prints.
pub fn listening_url(server: &Proc) -> String {
    let line = server.line_starting_with("listening on ", STEP);
    let url = line["listening on ".len()..].trim().to_owned();
    assert!(
        url.starts_with("ws://127.0.0.1:"),
        "unexpected address line {line:?}"
    );
    url
}

/// Starts `examples/client` against `url`.
pub fn our_client(url: &str) -> Proc {
    Proc::spawn("client", Command::new(example("client")).arg(url))
}

/// Lines our client is asked to send in the client-side tests, with what
/// it must print for each (the peer's echo server answers `!binary N` with
/// N binary bytes, `!ping` with a ping of its own and then `pong ok` once
/// our pong arrived).
pub fn client_script() -> Vec<(String, String)> {
    let big: String = "0123456789abcdef".repeat(8 * 1024); // 128 KiB
    let mut script: Vec<(String, String)> =
        ["hello", "héllo wörld ✓ 🦀", "", "  spaces and\ttabs  "]
            .into_iter()
            .map(|s| (s.to_owned(), s.to_owned()))
            .collect();
    script.push((big.clone(), big));
    script.push(("!binary 0".into(), "<binary 0 bytes>".into()));
    script.push(("!binary 1048576".into(), "<binary 1048576 bytes>".into()));
    script.push(("!ping".into(), "pong ok".into()));
    script.push(("last".into(), "last".into()));
    script
}

/// Runs `client_script` through our client against the peer's echo
/// `server` at `url`, one line at a time, then ends stdin and expects a
/// clean close with 1000 on both sides and exit 0.
pub fn run_client_script(server: &Proc, url: &str, server_deflate: bool) {
    let mut client = our_client(url);
    expect_connected(server, server_deflate);
    for (send, expect) in client_script() {
        client.write(format!("{send}\n").as_bytes());
        let got = client.line(STEP);
        assert!(
            got == expect,
            "sent {:?}: expected {:?}, got {:?}",
            abbreviate(&send),
            abbreviate(&expect),
            abbreviate(&got)
        );
    }
    client.close_stdin();
    let rest = client.rest(STEP);
    assert!(
        rest.is_empty(),
        "unexpected output after the script: {rest:?}"
    );
    client.wait_success(STEP);
    let stderr = client.stderr();
    assert!(
        stderr.contains("closed: 1000"),
        "client did not report the 1000 close; stderr:\n{stderr}"
    );
    let closed = server.line_starting_with("closed ", STEP);
    assert_eq!(closed.trim_end(), "closed 1000", "what the server received");
}

/// Runs our client against the peer's echo `server`, which is told to
/// close first with `code`: our client echoes the code and exits 0 without
/// its stdin ending.
pub fn run_server_close(server: &Proc, url: &str, code: u16, server_deflate: bool) {
    let mut client = our_client(url);
    expect_connected(server, server_deflate);
    client.write(b"before\n");
    assert_eq!(client.line(STEP), "before");
    client.write(format!("!close {code}\n").as_bytes());
    let rest = client.rest(STEP);
    assert!(rest.is_empty(), "unexpected output: {rest:?}");
    // The session ends without our stdin ending: the server closed it.
    client.wait_success(STEP);
    std::thread::sleep(Duration::from_millis(50));
    let stderr = client.stderr();
    assert!(
        stderr.contains(&format!("closed: {code}")),
        "client did not report the server's {code} close; stderr:\n{stderr}"
    );
    // Our close frame echoed the server's code and reason.
    let closed = server.line_starting_with("closed ", STEP);
    assert_eq!(
        closed,
        format!("closed {code} server bye"),
        "what the server received"
    );
}

/// Reads the peer server's `connected extensions: NAMES` line and checks
/// what was negotiated with our client.
fn expect_connected(server: &Proc, server_deflate: bool) {
    let line = server.line_starting_with("connected ", STEP);
    assert_eq!(
        line,
        format!("connected extensions: {}", negotiated(server_deflate)),
        "extensions the peer server negotiated with our client"
    );
}

/// Long strings shortened for assertion messages.
pub fn abbreviate(s: &str) -> String {
    if s.len() <= 80 {
        return s.to_owned();
    }
    let cut = (0..=60).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// Runs `peer version` (a peer script's `version` mode) and returns the
/// version it prints, or reports the peer missing (failing under CI).
pub fn peer_version(test: &str, mut peer: Command, hint: &str) -> Option<String> {
    let problem = match run_bounded(peer.arg("version"), STEP) {
        Ok((status, stdout, _)) if status.success() => {
            let version = stdout.trim().to_owned();
            eprintln!("{test}: peer version {version}");
            return Some(version);
        }
        Ok((status, _, stderr)) => stderr.lines().last().map_or_else(
            || format!("the peer script failed ({status})"),
            str::to_owned,
        ),
        Err(e) => e,
    };
    peer_missing(test, &problem, hint);
    None
}

/// Runs `cmd` to completion within `timeout` (killing it otherwise);
/// returns its exit status, stdout and stderr, or why it could not run.
pub fn run_bounded(
    cmd: &mut Command,
    timeout: Duration,
) -> Result<(ExitStatus, String, String), String> {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let pipes = (child.stdout.take(), child.stderr.take());
    let readers = [
        pipes.0.map(|p| Box::new(p) as Box<dyn Read + Send>),
        pipes.1.map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{program} did not finish within {timeout:?}"));
            }
        }
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    Ok((status, stdout, stderr))
}

/// Runs one case of a peer's scripted client against our `echo_server`,
/// with the peer offering permessage-deflate or not: the peer prints the
/// extensions negotiated and `PASS CASE` and exits 0, or says what differed.
pub fn peer_client_case(peer: &str, mut cmd: Command, case: &str, deflate: bool) {
    let (_server, url) = echo_server();
    cmd.args(["client", &url, case]);
    if deflate {
        cmd.arg("deflate");
    }
    let mut client = Proc::spawn(peer, &mut cmd);
    let out = client.rest(STEP * 3);
    let status = client.wait(STEP);
    let expected = [
        format!("extensions: {}", negotiated(deflate)),
        format!("PASS {case}"),
    ];
    assert!(
        status.success() && out == expected,
        "{peer} case {case} (deflate offered: {deflate}) against echo_server: {status}\n\
         expected {expected:?}\nstdout: {out:?}\nstderr:\n{}",
        client.stderr()
    );
}

/// The Python `websockets` peer (`python ws_peer.py`), if `websockets` is
/// importable: `$WEBWIRE_PYTHON`, else the virtualenv .ci/run sets up, else
/// `python3`.
pub fn python_peer(test: &str) -> Option<Command> {
    let cmd = || {
        let python = env_var("WEBWIRE_PYTHON").unwrap_or_else(|| {
            let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/pyenv/bin/python");
            if Path::new(venv).is_file() {
                venv.into()
            } else {
                "python3".into()
            }
        });
        let mut cmd = Command::new(python);
        cmd.arg(format!("{SUPPORT_DIR}/ws_peer.py"));
        cmd
    };
    peer_version(
        test,
        cmd(),
        "Install it with `pip install websockets` and set WEBWIRE_PYTHON to that python",
    )?;
    Some(cmd())
}
