//! Client handshake (RFC 6455 §4.1) and the HTTP/2 / HTTP/3 extended
//! CONNECT bootstrap (RFC 8441, RFC 9220), both roles.
#![cfg(feature = "ws")]

use webwire::Status;
use webwire::random::{FixedRandom, SeededRandom};
use webwire::ws::handshake::{
    ClientConfig, ClientHandshake, ClientOutcome, ExtensionOffer, HandshakeError, RequestParser,
    ServerConfig, accept, accept_extended_connect,
};

fn sample_client(config: ClientConfig) -> ClientHandshake {
    ClientHandshake::new(
        "ws://server.example.com:8080/chat?room=1",
        config,
        &mut FixedRandom::new(*b"the sample nonce"),
    )
    .unwrap()
}

const OK_HEAD: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

fn feed_all(
    client: &mut ClientHandshake,
    wire: &[u8],
    chunk: usize,
) -> Result<(ClientOutcome, usize), HandshakeError> {
    let mut fed = 0;
    for piece in wire.chunks(chunk) {
        if let Status::Complete((outcome, used)) = client.feed(piece)? {
            return Ok((outcome, fed + used));
        }
        fed += piece.len();
    }
    panic!("incomplete");
}

#[test]
fn request_bytes() {
    let client = sample_client(
        ClientConfig::new()
            .with_origin("http://example.com")
            .with_protocols(["chat", "superchat"]),
    );
    let mut out = Vec::new();
    client.write_request(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /chat?room=1 HTTP/1.1\r\nhost: server.example.com:8080\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\norigin: http://example.com\r\n\
         sec-websocket-protocol: chat, superchat\r\n\r\n"
    );
}

#[test]
fn random_keys_differ() {
    let mut rng = SeededRandom::new(9);
    let a = ClientHandshake::new("ws://a/", ClientConfig::new(), &mut rng).unwrap();
    let b = ClientHandshake::new("ws://a/", ClientConfig::new(), &mut rng).unwrap();
    assert_ne!(
        a.request().headers()["sec-websocket-key"],
        b.request().headers()["sec-websocket-key"]
    );
}

#[test]
fn bad_uris() {
    for uri in [
        "http//x",
        "ftp://a/",
        "ws://user:pw@a/",
        "/relative",
        "ws:///nohost",
    ] {
        let err =
            ClientHandshake::new(uri, ClientConfig::new(), &mut SeededRandom::new(1)).unwrap_err();
        assert!(matches!(err, HandshakeError::InvalidUri(_)), "{uri}: {err}");
    }
}

#[test]
fn accepts_in_any_chunking_and_leaves_frames() {
    let mut wire = format!("{OK_HEAD}Sec-WebSocket-Protocol: chat\r\n\r\n").into_bytes();
    wire.extend_from_slice(b"\x81\x05Hello");
    for chunk in [1, 2, 5, 13, wire.len()] {
        let mut client = sample_client(ClientConfig::new().with_protocols(["chat"]));
        let (outcome, used) = feed_all(&mut client, &wire, chunk).unwrap();
        assert_eq!(&wire[used..], b"\x81\x05Hello");
        let ClientOutcome::Accepted(acc) = outcome else {
            panic!("rejected")
        };
        assert_eq!(acc.protocol.as_deref(), Some("chat"));
    }
}

#[test]
fn response_rejections() {
    let cases: Vec<(String, HandshakeError)> = vec![
        (
            OK_HEAD.replace("Upgrade: websocket\r\n", ""),
            HandshakeError::NotWebSocketUpgrade,
        ),
        (
            OK_HEAD.replace("Connection: Upgrade\r\n", ""),
            HandshakeError::NotConnectionUpgrade,
        ),
        (
            OK_HEAD.replace(
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            HandshakeError::AcceptMismatch,
        ),
        (
            OK_HEAD.replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            HandshakeError::AcceptMismatch,
        ),
        (
            format!("{OK_HEAD}Sec-WebSocket-Protocol: other\r\n"),
            HandshakeError::UnexpectedProtocol,
        ),
        (
            format!("{OK_HEAD}Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"),
            HandshakeError::UnexpectedProtocol,
        ),
        (
            format!("{OK_HEAD}Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            HandshakeError::UnexpectedExtension("permessage-deflate".into()),
        ),
    ];
    for (head, err) in cases {
        let mut client = sample_client(ClientConfig::new().with_protocols(["chat"]));
        let wire = format!("{head}\r\n");
        assert_eq!(
            feed_all(&mut client, wire.as_bytes(), 4).unwrap_err(),
            err,
            "{head}"
        );
    }
}

#[test]
fn offered_extension_may_be_accepted() {
    let mut client = sample_client(
        ClientConfig::new()
            .with_extension(ExtensionOffer::new("x-test").with_param("a", Some("1"))),
    );
    assert_eq!(
        client.request().headers()["sec-websocket-extensions"],
        "x-test; a=1"
    );
    let wire = format!("{OK_HEAD}Sec-WebSocket-Extensions: x-test; a=1\r\n\r\n");
    let (ClientOutcome::Accepted(acc), _) = feed_all(&mut client, wire.as_bytes(), 7).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        acc.extensions,
        [ExtensionOffer::new("x-test").with_param("a", Some("1"))]
    );
}

#[test]
fn non_101_is_a_typed_outcome() {
    for (status, extra) in [
        (302, "Location: https://elsewhere/\r\n"),
        (401, "WWW-Authenticate: Bearer\r\n"),
        (403, ""),
    ] {
        let mut client = sample_client(ClientConfig::new());
        let wire = format!("HTTP/1.1 {status} X\r\n{extra}Content-Length: 3\r\n\r\nabc");
        let (outcome, used) = feed_all(&mut client, wire.as_bytes(), 3).unwrap();
        let ClientOutcome::Rejected(resp) = outcome else {
            panic!("accepted")
        };
        assert_eq!(resp.status().as_u16(), status);
        assert_eq!(&wire.as_bytes()[used..], b"abc");
        if status == 302 {
            assert_eq!(resp.headers()["location"], "https://elsewhere/");
        }
    }
}

#[test]
fn client_and_server_agree() {
    let client = ClientHandshake::new(
        "ws://localhost:9001/",
        ClientConfig::new().with_protocols(["b", "a"]),
        &mut SeededRandom::new(3),
    )
    .unwrap();
    let mut wire = Vec::new();
    client.write_request(&mut wire);
    let mut parser = RequestParser::default();
    let Status::Complete((req, _)) = parser.feed(&wire).unwrap() else {
        panic!()
    };
    let accepted = accept(&req, &ServerConfig::new().with_protocols(["a", "b"])).unwrap();
    let mut reply = Vec::new();
    accepted.write_response(&mut reply);
    let mut client = client;
    let Status::Complete((ClientOutcome::Accepted(acc), n)) = client.feed(&reply).unwrap() else {
        panic!()
    };
    assert_eq!(n, reply.len());
    assert_eq!(acc.protocol.as_deref(), Some("a"));
    // The same response handed over as an http::Response (hyper users).
    assert!(matches!(
        client.check_response(&accepted.response).unwrap(),
        ClientOutcome::Accepted(_)
    ));
}

#[test]
fn extended_connect_both_roles() {
    let client = ClientHandshake::new(
        "wss://example.com/chat",
        ClientConfig::new()
            .with_protocols(["chat"])
            .with_origin("https://example.com"),
        &mut SeededRandom::new(1),
    )
    .unwrap();
    let request = client
        .extended_connect_request(http::Version::HTTP_2)
        .unwrap();
    assert_eq!(request.method(), "CONNECT");
    assert_eq!(request.uri(), "https://example.com/chat");
    assert_eq!(request.headers()["sec-websocket-version"], "13");
    assert!(!request.headers().contains_key("sec-websocket-key"));
    assert!(!request.headers().contains_key("upgrade"));

    let config = ServerConfig::new().with_protocols(["chat"]);
    let accepted = accept_extended_connect(&request, Some("websocket"), &config).unwrap();
    assert_eq!(accepted.response.status(), 200);
    assert!(
        !accepted
            .response
            .headers()
            .contains_key("sec-websocket-accept")
    );
    let ClientOutcome::Accepted(acc) = client
        .check_extended_connect_response(&accepted.response)
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(acc.protocol.as_deref(), Some("chat"));

    // Rejections.
    assert_eq!(
        accept_extended_connect(&request, None, &config).unwrap_err(),
        HandshakeError::NotWebSocketProtocol
    );
    assert_eq!(
        accept_extended_connect(&request, Some("webtransport"), &config).unwrap_err(),
        HandshakeError::NotWebSocketProtocol
    );
    let mut get = request.clone();
    *get.method_mut() = http::Method::GET;
    assert!(matches!(
        accept_extended_connect(&get, Some("websocket"), &config).unwrap_err(),
        HandshakeError::Method(_)
    ));
    let mut old = request.clone();
    old.headers_mut()
        .insert("sec-websocket-version", "8".parse().unwrap());
    assert_eq!(
        accept_extended_connect(&old, Some("websocket"), &config).unwrap_err(),
        HandshakeError::UnsupportedVersion
    );
    let mut no_path = request.clone();
    *no_path.uri_mut() = "example.com:443".parse().unwrap();
    assert_eq!(
        accept_extended_connect(&no_path, Some("websocket"), &config).unwrap_err(),
        HandshakeError::MissingSchemeOrPath
    );
    let strict = ServerConfig::new().with_allowed_origins(["https://other.example"]);
    assert_eq!(
        accept_extended_connect(&request, Some("websocket"), &strict).unwrap_err(),
        HandshakeError::OriginRejected
    );

    let refused = http::Response::builder().status(404).body(()).unwrap();
    assert!(matches!(
        client.check_extended_connect_response(&refused).unwrap(),
        ClientOutcome::Rejected(_)
    ));
}

/// The version is checked on both sides: extended CONNECT exists only in
/// HTTP/2 and HTTP/3; an HTTP/3 request gets an HTTP/3 answer, and a
/// refusal over either carries no connection-specific header (the `h2`
/// crate refuses to send one that does).
#[test]
fn extended_connect_versions_and_refusals() {
    let client = sample_client(ClientConfig::new());
    assert_eq!(
        client
            .extended_connect_request(http::Version::HTTP_11)
            .unwrap_err(),
        HandshakeError::ExtendedConnectVersion(http::Version::HTTP_11)
    );
    let config = ServerConfig::new();
    let h3 = client
        .extended_connect_request(http::Version::HTTP_3)
        .unwrap();
    assert_eq!(h3.version(), http::Version::HTTP_3);
    let accepted = accept_extended_connect(&h3, Some("websocket"), &config).unwrap();
    assert_eq!(accepted.response.version(), http::Version::HTTP_3);
    assert_eq!(accepted.response.status(), 200);

    let mut over_h1 = h3.clone();
    *over_h1.version_mut() = http::Version::HTTP_11;
    let err = accept_extended_connect(&over_h1, Some("websocket"), &config).unwrap_err();
    assert_eq!(
        err,
        HandshakeError::ExtendedConnectVersion(http::Version::HTTP_11)
    );
    assert_eq!(err.response_for(over_h1.version()).status(), 400);

    let mut old = h3.clone();
    old.headers_mut()
        .insert("sec-websocket-version", "8".parse().unwrap());
    let err = accept_extended_connect(&old, Some("websocket"), &config).unwrap_err();
    for version in [http::Version::HTTP_2, http::Version::HTTP_3] {
        let refusal = err.response_for(version);
        assert_eq!(refusal.status(), 400, "{version:?}: no 426 without Upgrade");
        assert_eq!(refusal.version(), version);
        assert_eq!(refusal.headers()["sec-websocket-version"], "13");
        for forbidden in ["connection", "keep-alive", "upgrade", "transfer-encoding"] {
            assert!(refusal.headers().get(forbidden).is_none(), "{forbidden}");
        }
    }
    // HTTP/1.1 keeps its 426 and closes the connection.
    let h1 = err.response_for(http::Version::HTTP_11);
    assert_eq!(h1.status(), 426);
    assert_eq!(h1.headers()["connection"], "close");
    assert_eq!(err.response().headers(), h1.headers());

    // Connection-specific fields cannot sneak in as extra headers.
    for name in ["Keep-Alive", "proxy-connection", "Transfer-Encoding", "TE"] {
        assert_eq!(
            ServerConfig::new().with_header(name, "x").unwrap_err(),
            HandshakeError::ReservedHeader(name.to_string())
        );
    }
}

/// The headers the request builder writes itself cannot be added as extras:
/// the request would carry them twice (two `Host` lines are a 400 under
/// RFC 9112 §3.2, two keys make the server refuse the handshake). They are
/// refused with the same typed error as on the server side, whatever the
/// case of the name.
#[test]
fn reserved_extra_headers_are_refused() {
    for name in [
        "Host",
        "host",
        "Upgrade",
        "CONNECTION",
        "Sec-WebSocket-Key",
        "sec-websocket-version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Accept",
        "Origin",
    ] {
        assert_eq!(
            ClientConfig::new().with_header(name, "x").unwrap_err(),
            HandshakeError::ReservedHeader(name.to_string()),
            "{name}"
        );
    }
    // Anything else is the caller's, and is sent once, as given.
    let client = sample_client(
        ClientConfig::new()
            .with_header("authorization", "Bearer t0ken")
            .unwrap()
            .with_header("x-host", "a")
            .unwrap()
            .with_header("cookie", "a=1")
            .unwrap(),
    );
    let headers = client.request().headers();
    assert_eq!(headers.get_all("host").iter().count(), 1);
    assert_eq!(headers["authorization"], "Bearer t0ken");
    assert_eq!(headers["x-host"], "a");
    let h2 = client
        .extended_connect_request(http::Version::HTTP_2)
        .unwrap();
    assert_eq!(h2.headers()["authorization"], "Bearer t0ken");
    assert!(h2.headers().get("host").is_none());
}
