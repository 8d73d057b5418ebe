//! Server handshake (RFC 6455 §4.2): incremental parsing, validation, every
//! rejection path with its status, and linear cost.
#![cfg(feature = "ws")]

use http::StatusCode;
use webwire::Status;
use webwire::random::{RandomSource, SeededRandom};
use webwire::ws::handshake::{
    HandshakeError, HandshakeLimits, RequestParser, ServerConfig, accept,
};

const CHROMIUM_LIKE: &str = "GET /chat HTTP/1.1\r\n\
Host: 127.0.0.1:9001\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://127.0.0.1:8000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
\r\n";

fn parse_all(
    wire: &[u8],
    chunk: usize,
    limits: HandshakeLimits,
) -> Result<(http::Request<()>, usize), HandshakeError> {
    let mut parser = RequestParser::new(limits);
    let mut fed = 0;
    for piece in wire.chunks(chunk) {
        match parser.feed(piece)? {
            Status::Complete((req, used)) => return Ok((req, fed + used)),
            Status::Partial => fed += piece.len(),
        }
    }
    panic!("incomplete after {fed} bytes");
}

/// Parses whole, byte by byte and in random chunks; all must agree.
fn parse(wire: &[u8]) -> Result<(http::Request<()>, usize), HandshakeError> {
    let whole = parse_all(wire, wire.len().max(1), HandshakeLimits::default());
    for chunk in [1, 2, 3, 7, 64] {
        let other = parse_all(wire, chunk, HandshakeLimits::default());
        match (&whole, &other) {
            (Ok((a, n)), Ok((b, m))) => {
                assert_eq!(
                    (a.uri(), a.headers(), n),
                    (b.uri(), b.headers(), m),
                    "chunk {chunk}"
                );
            }
            (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "chunk {chunk}"),
        }
    }
    whole
}

fn reject(request: &str) -> HandshakeError {
    let (req, _) = parse(request.as_bytes()).expect("parses");
    accept(&req, &ServerConfig::new()).expect_err("must be rejected")
}

#[test]
fn accepts_a_browser_request_and_keeps_pipelined_bytes() {
    let mut wire = CHROMIUM_LIKE.as_bytes().to_vec();
    wire.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    let (req, used) = parse(&wire).unwrap();
    assert_eq!(used, CHROMIUM_LIKE.len());
    assert_eq!(
        &wire[used..],
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    );
    let accepted = accept(
        &req,
        &ServerConfig::new().with_protocols(["superchat", "chat"]),
    )
    .unwrap();
    // Server preference wins among the client's offers.
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    // No extension is supported yet: permessage-deflate is declined.
    assert!(accepted.extensions.is_empty());
    let mut out = Vec::new();
    accepted.write_response(&mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nsec-websocket-protocol: superchat\r\n\r\n"
    );
}

#[test]
fn random_chunks_agree() {
    let wire = CHROMIUM_LIKE.as_bytes();
    let mut rng = SeededRandom::new(5);
    for _ in 0..50 {
        let mut parser = RequestParser::default();
        let mut pos = 0;
        loop {
            let n = (1 + rng.next_u32() as usize % 40).min(wire.len() - pos);
            match parser.feed(&wire[pos..pos + n]).unwrap() {
                Status::Complete((_, used)) => {
                    assert_eq!(pos + used, wire.len());
                    break;
                }
                Status::Partial => pos += n,
            }
        }
    }
}

fn without(header: &str) -> String {
    CHROMIUM_LIKE
        .split("\r\n")
        .filter(|l| {
            !l.to_ascii_lowercase()
                .starts_with(&header.to_ascii_lowercase())
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn replace(header: &str, line: &str) -> String {
    CHROMIUM_LIKE
        .split("\r\n")
        .map(|l| {
            if l.to_ascii_lowercase()
                .starts_with(&header.to_ascii_lowercase())
            {
                line
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn rejections_with_status() {
    let cases: Vec<(String, HandshakeError, StatusCode)> = vec![
        (
            CHROMIUM_LIKE.replacen("GET", "POST", 1),
            HandshakeError::Method("POST".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            CHROMIUM_LIKE.replacen("HTTP/1.1", "HTTP/1.0", 1),
            HandshakeError::HttpVersion,
            StatusCode::BAD_REQUEST,
        ),
        (
            without("Host:"),
            HandshakeError::MissingHost,
            StatusCode::BAD_REQUEST,
        ),
        (
            without("Upgrade:"),
            HandshakeError::NotWebSocketUpgrade,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace("Upgrade:", "Upgrade: h2c"),
            HandshakeError::NotWebSocketUpgrade,
            StatusCode::BAD_REQUEST,
        ),
        (
            without("Connection:"),
            HandshakeError::NotConnectionUpgrade,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace("Connection:", "Connection: keep-alive"),
            HandshakeError::NotConnectionUpgrade,
            StatusCode::BAD_REQUEST,
        ),
        (
            without("Sec-WebSocket-Version:"),
            HandshakeError::UnsupportedVersion,
            StatusCode::UPGRADE_REQUIRED,
        ),
        (
            replace("Sec-WebSocket-Version:", "Sec-WebSocket-Version: 8"),
            HandshakeError::UnsupportedVersion,
            StatusCode::UPGRADE_REQUIRED,
        ),
        (
            without("Sec-WebSocket-Key:"),
            HandshakeError::InvalidKey,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace("Sec-WebSocket-Key:", "Sec-WebSocket-Key: dGhlIHNhbXBsZQ=="),
            HandshakeError::InvalidKey,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace(
                "Sec-WebSocket-Key:",
                "Sec-WebSocket-Key: not base64 at all!!!!",
            ),
            HandshakeError::InvalidKey,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace(
                "Sec-WebSocket-Key:",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ),
            HandshakeError::InvalidKey,
            StatusCode::BAD_REQUEST,
        ),
        (
            replace(
                "Sec-WebSocket-Extensions:",
                "Sec-WebSocket-Extensions: permessage-deflate; =",
            ),
            HandshakeError::MalformedHeader("Sec-WebSocket-Extensions"),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (request, err, status) in cases {
        let got = reject(&request);
        assert_eq!(got, err, "{request}");
        assert_eq!(got.status(), status);
        let mut out = Vec::new();
        got.write_response(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(&format!("HTTP/1.1 {} ", status.as_u16())),
            "{text}"
        );
        assert!(text.contains("connection: close\r\n"));
        if status == StatusCode::UPGRADE_REQUIRED {
            assert!(text.contains("sec-websocket-version: 13\r\n"));
        }
    }
}

#[test]
fn origin_policy_403() {
    let (req, _) = parse(CHROMIUM_LIKE.as_bytes()).unwrap();
    let strict = ServerConfig::new().with_allowed_origins(["https://app.example.com"]);
    let err = accept(&req, &strict).unwrap_err();
    assert_eq!(err, HandshakeError::OriginRejected);
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert!(
        accept(
            &req,
            &ServerConfig::new().with_allowed_origins(["HTTP://127.0.0.1:8000"])
        )
        .is_ok()
    );
    let check = ServerConfig::new().with_origin_check(|o| o == Some("http://127.0.0.1:8000"));
    assert!(accept(&req, &check).is_ok());
    // Non-browser clients send no Origin: allowed by an allow-list.
    let (req, _) = parse(without("Origin:").as_bytes()).unwrap();
    assert!(accept(&req, &strict).is_ok());
}

#[test]
fn subprotocol_selection() {
    let (req, _) = parse(CHROMIUM_LIKE.as_bytes()).unwrap();
    let none = accept(&req, &ServerConfig::new().with_protocols(["mqtt"])).unwrap();
    assert_eq!(none.protocol, None);
    assert!(
        !none
            .response
            .headers()
            .contains_key("sec-websocket-protocol")
    );
    let picked = accept(
        &req,
        &ServerConfig::new()
            .with_protocol_selector(|offered| offered.last().map(|s| s.to_string())),
    )
    .unwrap();
    assert_eq!(picked.protocol.as_deref(), Some("superchat"));
    // A selector that invents a protocol is ignored rather than breaking the client.
    let invented = accept(
        &req,
        &ServerConfig::new().with_protocol_selector(|_| Some("nope".into())),
    )
    .unwrap();
    assert_eq!(invented.protocol, None);
}

#[test]
fn extra_headers_are_added() {
    let (req, _) = parse(CHROMIUM_LIKE.as_bytes()).unwrap();
    let accepted = accept(
        &req,
        &ServerConfig::new()
            .with_header("x-served-by", "webwire")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(accepted.response.headers()["x-served-by"], "webwire");
    assert!(ServerConfig::new().with_header("bad name", "x").is_err());
}

#[test]
fn head_size_and_header_count_limits_431() {
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let err = parse_all(big.as_bytes(), 1000, HandshakeLimits::default()).unwrap_err();
    assert_eq!(err, HandshakeError::HeadTooLarge(16 * 1024));
    assert_eq!(err.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Raised limit: fine.
    assert!(
        parse_all(
            big.as_bytes(),
            1000,
            HandshakeLimits::default().with_max_head_size(32 * 1024)
        )
        .is_ok()
    );

    let many: String = (0..65).map(|i| format!("X-{i}: v\r\n")).collect();
    let req = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
    let err = parse_all(req.as_bytes(), 10, HandshakeLimits::default()).unwrap_err();
    assert_eq!(err, HandshakeError::TooManyHeaders(64));
    assert_eq!(err.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn malformed_heads_400() {
    for bad in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET / HTTP/1.1\r\nX: \x01\r\n\r\n",
    ] {
        let err = parse_all(bad.as_bytes(), 3, HandshakeLimits::default()).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{bad:?}: {err}");
    }
}

/// A 64 KiB head fed a byte at a time: the cost must grow linearly with the
/// head (a parser that re-parses from the start on every byte, as one peer
/// crate's did, grows quadratically). Compares 64 KiB against 16 KiB:
/// linear is ×4, quadratic ×16.
#[test]
fn byte_at_a_time_is_linear() {
    fn head(size: usize) -> Vec<u8> {
        let mut h = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        let line = format!("X-Filler: {}\r\n", "f".repeat(2000));
        while h.len() + line.len() + 2 < size {
            h.extend_from_slice(line.as_bytes());
        }
        h.extend_from_slice(b"\r\n");
        h
    }
    let time = |wire: &[u8]| {
        let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
        let start = std::time::Instant::now();
        for _ in 0..3 {
            assert!(parse_all(wire, 1, limits).is_ok());
        }
        start.elapsed().as_secs_f64()
    };
    let (small, large) = (head(16 * 1024), head(64 * 1024));
    time(&small); // warm up
    let ratio = (0..3)
        .map(|_| time(&large) / time(&small))
        .fold(f64::MAX, f64::min);
    assert!(
        ratio < 8.0,
        "64 KiB took {ratio:.1}x the time of 16 KiB byte by byte: not linear"
    );
    let one_shot = {
        let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
        let start = std::time::Instant::now();
        for _ in 0..3 {
            assert!(parse_all(&large, large.len(), limits).is_ok());
        }
        start.elapsed().as_secs_f64()
    };
    eprintln!(
        "64 KiB head: byte by byte {:.2} ms, one shot {:.3} ms",
        time(&large) * 1e3 / 3.0,
        one_shot * 1e3 / 3.0
    );
}
