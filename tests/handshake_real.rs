//! Upgrade requests and responses captured from real peers (see
//! tests/data/handshake/README.md): Chromium, Firefox, Python `websockets`,
//! Node `ws` and libcurl (curl). Each is parsed whole and one byte at a time.
#![cfg(feature = "ws")]

use std::path::Path;

use webwire::Status;
use webwire::ws::handshake::{
    ClientConfig, ClientHandshake, ClientOutcome, ExtensionOffer, RequestParser, ServerConfig,
    accept, accept_key,
};

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/handshake")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(wire: &[u8], chunk: usize) -> http::Request<()> {
    let mut parser = RequestParser::default();
    let mut fed = 0;
    for piece in wire.chunks(chunk) {
        if let Status::Complete((request, used)) = parser.feed(piece).expect("valid request") {
            assert_eq!(fed + used, wire.len());
            return request;
        }
        fed += piece.len();
    }
    panic!("incomplete");
}

#[test]
fn real_requests_are_accepted() {
    for name in [
        "request-chromium.http",
        "request-firefox.http",
        "request-python-websockets.http",
        "request-node-ws.http",
        "request-curl.http",
    ] {
        let wire = data(name);
        let request = parse(&wire, wire.len());
        let bytewise = parse(&wire, 1);
        assert_eq!(request.headers(), bytewise.headers(), "{name}");
        let key = request.headers()["sec-websocket-key"].as_bytes().to_vec();
        let accepted = accept(&request, &ServerConfig::new().with_protocols(["chat"]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(accepted.response.status(), 101, "{name}");
        assert_eq!(
            accepted.response.headers()["sec-websocket-accept"],
            accept_key(&key).as_str(),
            "{name}"
        );
        // curl offers no subprotocol unless told to.
        let offered = request.headers().contains_key("sec-websocket-protocol");
        assert_eq!(offered, name != "request-curl.http", "{name}");
        let expected = offered.then_some("chat");
        assert_eq!(accepted.protocol.as_deref(), expected, "{name}");
    }
}

#[test]
fn browsers_send_an_origin_that_the_policy_checks() {
    for name in ["request-chromium.http", "request-firefox.http"] {
        let request = parse(&data(name), 64);
        let strict = ServerConfig::new().with_allowed_origins(["https://app.example.com"]);
        assert!(accept(&request, &strict).is_err(), "{name}");
        let open = ServerConfig::new().with_allowed_origins(["http://127.0.0.1:9100"]);
        assert!(accept(&request, &open).is_ok(), "{name}");
    }
}

#[test]
fn real_responses_are_accepted() {
    let deflate =
        ExtensionOffer::new("permessage-deflate").with_param("client_max_window_bits", None);
    for (name, extensions) in [
        ("response-node-ws.http", 0),
        ("response-python-websockets.http", 1),
    ] {
        let wire = data(name);
        for chunk in [1, wire.len()] {
            let config = ClientConfig::new()
                .with_protocols(["chat"])
                .with_extension(deflate.clone());
            let mut client =
                ClientHandshake::with_key("ws://127.0.0.1:9105/chat", config, *b"the sample nonce")
                    .unwrap();
            let mut outcome = None;
            for piece in wire.chunks(chunk) {
                if let Status::Complete((o, _)) =
                    client.feed(piece).unwrap_or_else(|e| panic!("{name}: {e}"))
                {
                    outcome = Some(o);
                    break;
                }
            }
            let Some(ClientOutcome::Accepted(acc)) = outcome else {
                panic!("{name}: not accepted")
            };
            assert_eq!(acc.protocol.as_deref(), Some("chat"));
            assert_eq!(acc.extensions.len(), extensions, "{name}");
        }
    }
}
