//! Interop with the Python `websockets` package (PyPI): its client against
//! `examples/echo_server`, and `examples/client` against its server.
//!
//! The peer is `tests/interop_support/ws_peer.py`, run by `$WEBWIRE_PYTHON`
//! (default: `target/pyenv/bin/python` if .ci/run created it, else
//! `python3`), which must have `websockets` installed (.ci/run pins the
//! version in .ci/requirements.txt). Without it the tests print a
//! notice and pass, except under CI (`CI` set), where they fail.
#![cfg(feature = "ws")]

mod interop_support;

use interop_support::{Proc, listening_url, peer_client_case, run_client_script, run_server_close};

/// Runs one case of the peer's client against echo_server, with the peer
/// offering permessage-deflate (`deflate`) or not.
fn client_case(case: &str, deflate: bool) {
    let test = format!("python websockets client, case {case}");
    if let Some(cmd) = interop_support::python_peer(&test) {
        peer_client_case("python websockets client", cmd, case, deflate);
    }
}

#[test]
fn python_client_text_echo() {
    client_case("text", false);
}

#[test]
fn python_client_text_echo_offering_deflate() {
    client_case("text", true);
}

#[test]
fn python_client_binary_echo_up_to_1_mib() {
    client_case("binary", false);
}

#[test]
fn python_client_binary_echo_up_to_1_mib_offering_deflate() {
    client_case("binary", true);
}

#[test]
fn python_client_fragmented_messages() {
    client_case("fragmented", false);
}

#[test]
fn python_client_fragmented_messages_offering_deflate() {
    client_case("fragmented", true);
}

#[test]
fn python_client_ping_pong() {
    client_case("ping", false);
}

#[test]
fn python_client_ping_pong_offering_deflate() {
    client_case("ping", true);
}

#[test]
fn python_client_pipelined_messages_in_order() {
    client_case("pipelined", false);
}

#[test]
fn python_client_pipelined_messages_in_order_offering_deflate() {
    client_case("pipelined", true);
}

#[test]
fn python_client_close_code_and_reason_echoed() {
    client_case("close", false);
}

#[test]
fn python_client_close_code_and_reason_echoed_offering_deflate() {
    client_case("close", true);
}

#[test]
fn python_client_normal_close() {
    client_case("close_normal", false);
}

#[test]
fn python_client_normal_close_offering_deflate() {
    client_case("close_normal", true);
}

/// The peer's echo server, accepting permessage-deflate (`deflate`) or not.
fn python_server(deflate: bool) -> Option<(Proc, String)> {
    let mut cmd = interop_support::python_peer("python websockets server")?;
    cmd.arg("server");
    if deflate {
        cmd.arg("deflate");
    }
    let server = Proc::spawn("python websockets server", &mut cmd);
    let url = listening_url(&server);
    Some((server, url))
}

#[test]
fn our_client_against_python_server() {
    if let Some((server, url)) = python_server(false) {
        run_client_script(&server, &url, false);
    }
}

#[test]
fn our_client_against_python_server_accepting_deflate() {
    if let Some((server, url)) = python_server(true) {
        run_client_script(&server, &url, true);
    }
}

#[test]
fn our_client_answers_python_server_close() {
    if let Some((server, url)) = python_server(false) {
        run_server_close(&server, &url, 4002, false);
    }
}

#[test]
fn our_client_answers_python_server_close_with_deflate() {
    if let Some((server, url)) = python_server(true) {
        run_server_close(&server, &url, 4002, true);
    }
}
