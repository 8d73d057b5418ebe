//! Interop with the Node package `ws` (npm): its client against
//! `examples/echo_server`, and `examples/client` against its server.
//!
//! The peer is `tests/interop_support/ws_peer.js`, run by `$WEBWIRE_NODE`
//! (default `node`) with `NODE_PATH=$WEBWIRE_NODE_PATH` (default
//! `target/node-peers/node_modules`, where .ci/run installs the pinned `ws`
//! with `npm install --prefix target/node-peers ws@VERSION`). Without them
//! the tests print a notice and pass, except under CI (`CI` set), where they
//! fail.
#![cfg(feature = "ws")]

mod interop_support;

use std::process::Command;

use interop_support::{
    Proc, SUPPORT_DIR, env_var, listening_url, peer_client_case, peer_version, run_client_script,
    run_server_close,
};

const HINT: &str = "Run `npm install --prefix target/node-peers ws` and set \
                    WEBWIRE_NODE_PATH=$PWD/target/node-peers/node_modules";

/// The peer command (`node ws_peer.js`), if `ws` can be loaded.
fn peer(test: &str) -> Option<Command> {
    let cmd = || {
        let node_path = env_var("WEBWIRE_NODE_PATH").unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/target/node-peers/node_modules"
            )
            .into()
        });
        let mut cmd = Command::new(env_var("WEBWIRE_NODE").unwrap_or_else(|| "node".into()));
        cmd.env("NODE_PATH", node_path)
            .arg(format!("{SUPPORT_DIR}/ws_peer.js"));
        cmd
    };
    peer_version(test, cmd(), HINT)?;
    Some(cmd())
}

/// Runs one case of the peer's client against echo_server, with the peer
/// offering permessage-deflate (`deflate`) or not.
fn client_case(case: &str, deflate: bool) {
    let test = format!("node ws client, case {case}");
    if let Some(cmd) = peer(&test) {
        peer_client_case("node ws client", cmd, case, deflate);
    }
}

#[test]
fn node_client_text_echo() {
    client_case("text", false);
}

#[test]
fn node_client_text_echo_offering_deflate() {
    client_case("text", true);
}

#[test]
fn node_client_binary_echo_up_to_1_mib() {
    client_case("binary", false);
}

#[test]
fn node_client_binary_echo_up_to_1_mib_offering_deflate() {
    client_case("binary", true);
}

#[test]
fn node_client_fragmented_messages() {
    client_case("fragmented", false);
}

#[test]
fn node_client_fragmented_messages_offering_deflate() {
    client_case("fragmented", true);
}

#[test]
fn node_client_ping_pong() {
    client_case("ping", false);
}

#[test]
fn node_client_ping_pong_offering_deflate() {
    client_case("ping", true);
}

#[test]
fn node_client_pipelined_messages_in_order() {
    client_case("pipelined", false);
}

#[test]
fn node_client_pipelined_messages_in_order_offering_deflate() {
    client_case("pipelined", true);
}

#[test]
fn node_client_close_code_and_reason_echoed() {
    client_case("close", false);
}

#[test]
fn node_client_close_code_and_reason_echoed_offering_deflate() {
    client_case("close", true);
}

#[test]
fn node_client_normal_close() {
    client_case("close_normal", false);
}

#[test]
fn node_client_normal_close_offering_deflate() {
    client_case("close_normal", true);
}

/// The peer's echo server, accepting permessage-deflate (`deflate`) or not.
fn node_server(deflate: bool) -> Option<(Proc, String)> {
    let mut cmd = peer("node ws server")?;
    cmd.arg("server");
    if deflate {
        cmd.arg("deflate");
    }
    let server = Proc::spawn("node ws server", &mut cmd);
    let url = listening_url(&server);
    Some((server, url))
}

#[test]
fn our_client_against_node_server() {
    if let Some((server, url)) = node_server(false) {
        run_client_script(&server, &url, false);
    }
}

#[test]
fn our_client_against_node_server_accepting_deflate() {
    if let Some((server, url)) = node_server(true) {
        run_client_script(&server, &url, true);
    }
}

#[test]
fn our_client_answers_node_server_close() {
    if let Some((server, url)) = node_server(false) {
        run_server_close(&server, &url, 4002, false);
    }
}

#[test]
fn our_client_answers_node_server_close_with_deflate() {
    if let Some((server, url)) = node_server(true) {
        run_server_close(&server, &url, 4002, true);
    }
}
