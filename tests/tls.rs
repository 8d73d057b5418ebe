//! `wss://` for real: `examples/echo_server --tls-cert/--tls-key` and
//! `examples/client --ca` against Python `websockets` over Python's own TLS
//! (the `ssl` module), with certificates made here at test time by rcgen:
//! a test CA, a `localhost` certificate it signed, an expired one, and one
//! from a CA nobody trusts. The bad ones must fail the handshake with a
//! clear error, before the WebSocket request is sent.
#![cfg(feature = "ws")]

mod interop_support;

use std::process::Command;

use interop_support::certs::certs;
use interop_support::{Proc, STEP, example, python_peer};

/// Our client sends two lines to `url` and gets them back, then closes.
fn echo_through_client(url: &str, ca: &str) {
    let mut client = Proc::spawn(
        "client",
        Command::new(example("client")).args(["--ca", ca, url]),
    );
    for line in ["over TLS", "ünïcode ✓"] {
        client.write(format!("{line}\n").as_bytes());
        assert_eq!(client.line(STEP), line, "stderr: {}", client.stderr());
    }
    client.close_stdin();
    client.wait_success(STEP);
}

#[test]
fn python_client_over_tls_against_echo_server() {
    let test = "python websockets client over TLS";
    let Some(mut peer) = python_peer(test) else {
        return;
    };
    let certs = certs();
    let (_server, port) = certs.echo_server("good");
    for case in ["text", "binary"] {
        let mut cmd = python_peer(test).unwrap();
        cmd.env("WS_PEER_CA", certs.path("ca.pem")).args([
            "client",
            &format!("wss://localhost:{port}/"),
            case,
        ]);
        let mut client = Proc::spawn("python client", &mut cmd);
        let out = client.rest(STEP * 3);
        assert!(client.wait(STEP).success(), "{out:?}\n{}", client.stderr());
        assert!(out.contains(&format!("PASS {case}")), "{out:?}");
    }
    // The same client, trusting nothing of ours, is refused by Python's
    // own verification, and the server carries on.
    peer.args(["client", &format!("wss://localhost:{port}/"), "text"]);
    let mut refused = Proc::spawn("python client", &mut peer);
    assert!(!refused.wait(STEP).success());
    assert!(
        refused.stderr().contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        refused.stderr()
    );
    echo_through_client(&format!("wss://localhost:{port}/"), &certs.arg("ca.pem"));
}

#[test]
fn our_client_over_tls_against_python_server() {
    let test = "python websockets server over TLS";
    let Some(mut peer) = python_peer(test) else {
        return;
    };
    let certs = certs();
    peer.env("WS_PEER_CERT", certs.path("good.pem"))
        .env("WS_PEER_KEY", certs.path("good.key"))
        .arg("server");
    let server = Proc::spawn("python server", &mut peer);
    let line = server.line_starting_with("listening on ", STEP);
    let port = line.trim().rsplit(':').next().unwrap().to_owned();
    assert!(line.contains("wss://"), "{line}");
    echo_through_client(&format!("wss://localhost:{port}/"), &certs.arg("ca.pem"));
}

/// Each bad certificate fails our client's TLS handshake with a message
/// that says what is wrong.
#[test]
fn bad_certificates_fail_with_clear_errors() {
    let certs = certs();
    let (_good, good_port) = certs.echo_server("good");
    let (_expired, expired_port) = certs.echo_server("expired");
    let (_unknown, unknown_port) = certs.echo_server("unknown");
    let ca = certs.arg("ca.pem");
    for (url, ca, expect) in [
        (
            format!("wss://localhost:{unknown_port}/"),
            Some(ca.as_str()),
            "UnknownIssuer",
        ),
        // Trusting only Mozilla's roots, the test CA is unknown too.
        (
            format!("wss://localhost:{good_port}/"),
            None,
            "UnknownIssuer",
        ),
        (
            format!("wss://127.0.0.1:{good_port}/"),
            Some(ca.as_str()),
            "not valid for name",
        ),
        (
            format!("wss://localhost:{expired_port}/"),
            Some(ca.as_str()),
            "expired",
        ),
    ] {
        let mut command = Command::new(example("client"));
        if let Some(ca) = ca {
            command.args(["--ca", ca]);
        }
        let mut client = Proc::spawn("client", command.arg(&url));
        client.close_stdin();
        assert!(!client.wait(STEP).success(), "{url} connected");
        let stderr = client.stderr();
        assert!(
            stderr.contains("TLS handshake") && stderr.contains(expect),
            "{url}: expected {expect:?} in:\n{stderr}"
        );
    }
    // A plain ws:// client to the TLS port gets no WebSocket either.
    let mut plain = Proc::spawn(
        "client",
        Command::new(example("client")).arg(format!("ws://localhost:{good_port}/")),
    );
    plain.close_stdin();
    assert!(!plain.wait(STEP).success());
}

/// The tokio adapter over tokio-rustls: Python's client against `tokio_echo`
/// and `hyper_upgrade` (its `/ws` route) over TLS, and `tokio_client --ca`
/// against `tokio_echo`.
#[test]
fn tokio_examples_over_tls() {
    let test = "python websockets client against the tokio examples over TLS";
    let Some(_) = python_peer(test) else {
        return;
    };
    let certs = certs();
    let (_echo, echo_port) = certs.server("tokio_echo", "good");
    let (_hyper, hyper_port) = certs.server("hyper_upgrade", "good");
    for url in [
        format!("wss://localhost:{echo_port}/"),
        format!("wss://localhost:{hyper_port}/ws"),
    ] {
        let mut cmd = python_peer(test).unwrap();
        cmd.env("WS_PEER_CA", certs.path("ca.pem"))
            .args(["client", &url, "binary"]);
        let mut client = Proc::spawn("python client", &mut cmd);
        let out = client.rest(STEP * 3);
        assert!(
            client.wait(STEP).success(),
            "{url}: {out:?}\n{}",
            client.stderr()
        );
        assert!(out.contains(&"PASS binary".to_owned()), "{url}: {out:?}");
    }
    if cfg!(feature = "getrandom") {
        let mut client = Proc::spawn(
            "tokio_client",
            Command::new(example("tokio_client")).args([
                "--ca",
                &certs.arg("ca.pem"),
                &format!("wss://localhost:{echo_port}/"),
            ]),
        );
        client.write(b"tokio over TLS\n");
        assert_eq!(client.line(STEP), "tokio over TLS", "{}", client.stderr());
        client.close_stdin();
        client.wait_success(STEP);
        let mut refused = Proc::spawn(
            "tokio_client",
            Command::new(example("tokio_client")).arg(format!("wss://localhost:{echo_port}/")),
        );
        refused.close_stdin();
        assert!(!refused.wait(STEP).success());
        assert!(
            refused.stderr().contains("UnknownIssuer"),
            "{}",
            refused.stderr()
        );
    }
}
