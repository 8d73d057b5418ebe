//! `examples/client` through real proxies nobody here wrote, and its
//! reconnection against a restarted `examples/echo_server`.
//!
//! - HTTP CONNECT: pproxy (PyPI, `$WEBWIRE_PYTHON -m pproxy`), without and
//!   with Basic credentials; a wrong password is its 407.
//! - SOCKS5: microsocks (Debian), without and with RFC 1929 credentials; a
//!   wrong password is its RFC 1929 refusal.
//!
//! Each test checks the proxy's own log line naming `localhost:PORT`, so
//! the traffic really went through it and the proxy resolved the name.
//! Peers that are missing make the tests print a notice and pass, except
//! under CI, where they fail.
#![cfg(feature = "ws")]

mod interop_support;

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use interop_support::{Proc, STEP, echo_server, env_var, example, peer_missing};

/// The port of a `ws://127.0.0.1:PORT` URL.
fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .unwrap()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The Python that has pproxy, if any.
fn pproxy_python(test: &str) -> Option<String> {
    let python = env_var("WEBWIRE_PYTHON").unwrap_or_else(|| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import pproxy"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        peer_missing(
            test,
            "pproxy is not installed",
            "pip install -r .ci/requirements.txt",
        );
        return None;
    }
    Some(python)
}

/// pproxy with an HTTP CONNECT listener, credentials optional; its port.
fn pproxy(python: &str, credentials: Option<&str>) -> (Proc, u16) {
    let listen = match credentials {
        Some(c) => format!("http://127.0.0.1:0#{c}"),
        None => "http://127.0.0.1:0".to_owned(),
    };
    let proxy = Proc::spawn(
        "pproxy",
        Command::new(python)
            .args(["-m", "pproxy", "--auth", "-1", "-v", "-l", &listen])
            // Its readiness line must not sit in a pipe buffer.
            .env("PYTHONUNBUFFERED", "1"),
    );
    // `Serving on ipv? 127.0.0.1:PORT by http`: `--auth -1` keeps it from
    // trusting an address for 30 days after one good login.
    let line = proxy.line_starting_with("Serving on ipv", STEP);
    let port = line
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("pproxy said {line:?}"));
    (proxy, port)
}

/// microsocks on a free port, credentials optional; its port, once it
/// accepts connections.
fn microsocks(test: &str, credentials: Option<(&str, &str)>) -> Option<(Proc, u16)> {
    let program = env_var("WEBWIRE_MICROSOCKS").unwrap_or_else(|| "microsocks".into());
    if Command::new(&program).arg("-h").output().is_err() {
        peer_missing(
            test,
            "microsocks is not installed",
            "apt-get install microsocks",
        );
        return None;
    }
    let port = free_port();
    let mut command = Command::new(program);
    command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, password)) = credentials {
        command.args(["-u", user, "-P", password]);
    }
    let proxy = Proc::spawn("microsocks", &mut command);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some((proxy, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("microsocks did not listen on {port}: {}", proxy.stderr());
}

/// Runs our client through `proxy` to the echo server: two lines echoed,
/// a clean close; then the proxy's `log` must name the target.
fn echo_through(proxy: &str, echo_port: u16, env: &[(&str, &str)], log: impl Fn() -> String) {
    let url = format!("ws://localhost:{echo_port}/");
    let mut command = Command::new(example("client"));
    if !proxy.is_empty() {
        command.args(["--proxy", proxy]);
    }
    command.arg(&url);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut client = Proc::spawn("client", &mut command);
    for line in ["through the proxy", "and back"] {
        client.write(format!("{line}\n").as_bytes());
        assert_eq!(client.line(STEP), line, "stderr: {}", client.stderr());
    }
    client.close_stdin();
    client.wait_success(STEP);
    let target = format!("localhost:{echo_port}");
    let deadline = std::time::Instant::now() + STEP;
    while !log().contains(&target) {
        assert!(
            std::time::Instant::now() < deadline,
            "the proxy's log does not show {target}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// pproxy's log so far: it logs each tunnel on stdout
/// (`http 127.0.0.1:N -> HOST:PORT`).
fn log_of(proxy: &Proc) -> impl Fn() -> String + '_ {
    let seen = std::cell::RefCell::new(String::new());
    move || {
        for line in proxy.available() {
            seen.borrow_mut().push_str(&line);
            seen.borrow_mut().push('\n');
        }
        seen.borrow().clone()
    }
}

/// Runs our client through `proxy`, expecting it to fail with `error`.
fn refused_by(proxy: &str, echo_port: u16, error: &str) {
    let mut client = Proc::spawn(
        "client",
        Command::new(example("client"))
            .args(["--proxy", proxy])
            .arg(format!("ws://localhost:{echo_port}/")),
    );
    client.close_stdin();
    let status = client.wait(STEP);
    assert!(!status.success(), "the client got through");
    let stderr = client.stderr();
    assert!(stderr.contains(error), "expected {error:?} in:\n{stderr}");
}

#[test]
fn http_connect_proxy_with_and_without_credentials() {
    let test = "client through pproxy (HTTP CONNECT)";
    let Some(python) = pproxy_python(test) else {
        return;
    };
    let (_echo, url) = echo_server();
    let echo_port = port_of(&url);

    let (open, port) = pproxy(&python, None);
    echo_through(
        &format!("http://127.0.0.1:{port}"),
        echo_port,
        &[],
        log_of(&open),
    );

    let (guarded, port) = pproxy(&python, Some("alice:s3cret"));
    echo_through(
        &format!("http://alice:s3cret@127.0.0.1:{port}"),
        echo_port,
        &[],
        log_of(&guarded),
    );
    refused_by(
        &format!("http://alice:wrong@127.0.0.1:{port}"),
        echo_port,
        "requires authentication (407)",
    );
}

#[test]
fn socks5_proxy_with_and_without_credentials() {
    let test = "client through microsocks (SOCKS5)";
    let (_echo, url) = echo_server();
    let echo_port = port_of(&url);
    let Some((open, port)) = microsocks(test, None) else {
        return;
    };
    echo_through(
        &format!("socks5://127.0.0.1:{port}"),
        echo_port,
        &[],
        || open.stderr(),
    );

    let Some((guarded, port)) = microsocks(test, Some(("bob", "pa:ss"))) else {
        return;
    };
    echo_through(
        &format!("socks5h://bob:pa%3Ass@127.0.0.1:{port}"),
        echo_port,
        &[],
        || guarded.stderr(),
    );
    refused_by(
        &format!("socks5://bob:nope@127.0.0.1:{port}"),
        echo_port,
        "refused the credentials",
    );
}

/// `ALL_PROXY` sends the client through the proxy; `NO_PROXY` naming the
/// host sends it straight to the server.
#[test]
fn proxy_environment_variables() {
    let test = "client with ALL_PROXY / NO_PROXY (microsocks)";
    let (_echo, url) = echo_server();
    let echo_port = port_of(&url);
    let Some((proxy, port)) = microsocks(test, None) else {
        return;
    };
    let all_proxy = format!("socks5://127.0.0.1:{port}");
    echo_through("", echo_port, &[("ALL_PROXY", &all_proxy)], || {
        proxy.stderr()
    });
    let before = proxy.stderr().matches("connected to").count();
    echo_through(
        "",
        echo_port,
        &[
            ("ALL_PROXY", &all_proxy),
            ("NO_PROXY", "example.com, localhost"),
        ],
        // Direct: the target is never in the proxy's log again.
        || format!("localhost:{echo_port}"),
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(proxy.stderr().matches("connected to").count(), before);
}

/// Kill the server under `client --reconnect`, start it again on the same
/// port: the client reconnects by itself and every line sent after the
/// restart is echoed, including those typed while the server was down.
#[test]
fn client_reconnects_after_the_server_restarts() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let start = || {
        let server = Proc::spawn(
            "echo_server",
            Command::new(example("echo_server")).args(["--addr", &addr]),
        );
        server.line_starting_with("listening on ", STEP);
        server
    };
    let mut server = start();
    let mut client = Proc::spawn(
        "client",
        Command::new(example("client")).args(["--reconnect", &format!("ws://{addr}/")]),
    );
    client.write(b"before\n");
    assert_eq!(client.line(STEP), "before");

    drop(server); // killed: no close frame
    let deadline = std::time::Instant::now() + STEP;
    while !client.stderr().contains("reconnecting in") {
        assert!(std::time::Instant::now() < deadline, "{}", client.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    client.write(b"while down\n");
    server = start();
    client.write(b"after\n");
    assert_eq!(
        client.line(STEP),
        "while down",
        "stderr: {}",
        client.stderr()
    );
    assert_eq!(client.line(STEP), "after");
    assert!(client.stderr().matches("connected").count() >= 2);
    client.close_stdin();
    client.wait_success(STEP);
    drop(server);
}
