//! The in-place fast path (`RequestParser::feed_with` + `RequestHead::accept`)
//! must decide exactly as the `http` path (`feed` + `accept` +
//! `write_response`): same response bytes, same agreement, same error, on
//! real captures and on every mutation of them, under several server
//! configurations, whole and one byte at a time.
#![cfg(feature = "ws")]

use std::path::Path;

use webwire::Status;
use webwire::random::{RandomSource, SeededRandom};
use webwire::ws::handshake::{
    HandshakeError, HandshakeLimits, RequestParser, ServerConfig, accept,
};

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/handshake")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a server decides: the response bytes and the agreed subprotocol and
/// extensions, or the error; plus the bytes the head used.
type Decision = Result<(Vec<u8>, Option<String>, Vec<String>, usize), HandshakeError>;

fn via_http(wire: &[u8], chunk: usize, config: &ServerConfig) -> Option<Decision> {
    via_http_with(wire, chunk, config, HandshakeLimits::default())
}

fn via_http_with(
    wire: &[u8],
    chunk: usize,
    config: &ServerConfig,
    limits: HandshakeLimits,
) -> Option<Decision> {
    let mut parser = RequestParser::new(limits);
    let mut fed = 0;
    for piece in wire.chunks(chunk) {
        match parser.feed(piece) {
            Err(e) => return Some(Err(e)),
            Ok(Status::Partial) => fed += piece.len(),
            Ok(Status::Complete((request, used))) => {
                return Some(accept(&request, config).map(|a| {
                    let mut out = Vec::new();
                    a.write_response(&mut out);
                    let ext = a.extensions.iter().map(ToString::to_string).collect();
                    (out, a.protocol, ext, fed + used)
                }));
            }
        }
    }
    None
}

fn in_place(wire: &[u8], chunk: usize, config: &ServerConfig) -> Option<Decision> {
    in_place_with(wire, chunk, config, HandshakeLimits::default())
}

fn in_place_with(
    wire: &[u8],
    chunk: usize,
    config: &ServerConfig,
    limits: HandshakeLimits,
) -> Option<Decision> {
    let mut parser = RequestParser::new(limits);
    let mut fed = 0;
    for piece in wire.chunks(chunk) {
        let mut out = Vec::new();
        match parser.feed_with(piece, |head| head.accept(config, &mut out)) {
            Err(e) => return Some(Err(e)),
            Ok(Status::Partial) => fed += piece.len(),
            Ok(Status::Complete((Err(e), _))) => {
                assert!(out.is_empty(), "nothing is written on error");
                return Some(Err(e));
            }
            Ok(Status::Complete((Ok(agreed), used))) => {
                let ext = agreed.extensions.iter().map(ToString::to_string).collect();
                return Some(Ok((out, agreed.protocol, ext, fed + used)));
            }
        }
    }
    None
}

fn configs() -> Vec<ServerConfig> {
    #[allow(unused_mut)] // pushed to with `deflate` only
    let mut configs = vec![
        ServerConfig::new(),
        ServerConfig::new().with_protocols(["superchat", "chat"]),
        ServerConfig::new().with_protocol_selector(|offered| offered.last().map(|s| s.to_string())),
        ServerConfig::new().with_allowed_origins(["https://app.example.com"]),
        ServerConfig::new()
            .with_header("x-served-by", "webwire")
            .unwrap()
            .with_header("set-cookie", "a=1")
            .unwrap()
            .with_header("set-cookie", "b=2")
            .unwrap(),
    ];
    #[cfg(feature = "deflate")]
    configs.push(
        ServerConfig::new()
            .with_deflate(webwire::ws::deflate::DeflateConfig::default())
            .with_protocols(["chat"]),
    );
    configs
}

fn agree(wire: &[u8], what: &str) -> usize {
    let mut accepted = 0;
    for (i, config) in configs().iter().enumerate() {
        for chunk in [wire.len().max(1), 1, 7] {
            let a = via_http(wire, chunk, config);
            let b = in_place(wire, chunk, config);
            assert_eq!(a, b, "{what}, config {i}, chunk {chunk}");
            accepted += usize::from(matches!(a, Some(Ok(_))));
        }
    }
    accepted
}

#[test]
fn captures_agree() {
    for name in [
        "request-chromium.http",
        "request-firefox.http",
        "request-python-websockets.http",
        "request-node-ws.http",
        "request-curl.http",
    ] {
        let wire = data(name);
        // Accepted by every configuration but the origin allow-list (the
        // ones without Origin pass it too).
        assert!(agree(&wire, name) >= 3 * (configs().len() - 1), "{name}");
    }
}

/// Every line of a capture removed, duplicated, emptied, upper-cased, given
/// another value; random byte flips.
#[test]
fn mutations_agree() {
    let wire = data("request-chromium.http");
    let text = String::from_utf8(wire.clone()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let mut variants: Vec<Vec<u8>> = Vec::new();
    let join = |lines: &[String]| lines.join("\r\n").into_bytes();
    for i in 0..lines.len() {
        let owned: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let mut v = owned.clone();
        v.remove(i);
        variants.push(join(&v));
        let mut v = owned.clone();
        v.insert(i, owned[i].clone());
        variants.push(join(&v));
        let mut v = owned.clone();
        v[i] = owned[i].to_uppercase();
        variants.push(join(&v));
        if let Some((name, _)) = owned[i].split_once(':') {
            for value in [
                "",
                " ",
                "13",
                "websocket, upgrade",
                "dGhlIHNhbXBsZSBub25jZQ",
                "a;b=\"c",
                "\tx\t",
                "é",
            ] {
                let mut v = owned.clone();
                v[i] = format!("{name}:{value}");
                variants.push(join(&v));
            }
        }
    }
    // Request targets `http::Uri` takes or refuses.
    for target in [
        "/chat<",
        "/a`b",
        "/#frag",
        "/?q=<>",
        "*",
        "http://example.com/chat",
        "//x",
        "/%zz",
        "/{}|",
    ] {
        variants.push(text.replacen("/chat", target, 1).into_bytes());
        variants.push(
            text.replacen("/chat", target, 1)
                .replacen("GET", "PUT", 1)
                .into_bytes(),
        );
    }
    let mut rng = SeededRandom::new(11);
    for _ in 0..300 {
        let mut v = wire.clone();
        let at = rng.next_u32() as usize % v.len();
        v[at] ^= 1 << (rng.next_u32() % 8);
        variants.push(v);
    }
    for (i, v) in variants.iter().enumerate() {
        agree(v, &format!("variant {i}: {:?}", String::from_utf8_lossy(v)));
    }
}

/// Past 64 header lines (a raised limit) the in-place path takes its slow
/// lane (no per-field masks, no one-shot parse); the paths still agree, at
/// and over the limit, and with more lines than `http` could hold.
#[test]
fn raised_limits_agree() {
    let wire = data("request-chromium.http");
    let text = String::from_utf8(wire).unwrap();
    let (head, _) = text.split_at(text.len() - 2);
    let base_lines = head.lines().skip(1).count();
    for (extra, max_headers) in [(100, 200), (100, 120), (300, 200), (9000, 100_000)] {
        let mut request = head.to_string();
        for i in 0..extra {
            // Some of them repeat fields the handshake reads.
            let line = match i % 50 {
                7 => "Connection: keep-alive\r\n".to_string(),
                9 => "Sec-WebSocket-Protocol: chat\r\n".to_string(),
                _ => format!("X-Filler-{i}: {i}\r\n"),
            };
            request.push_str(&line);
        }
        request.push_str("\r\n");
        let limits = HandshakeLimits::default()
            .with_max_headers(max_headers)
            .with_max_head_size(1 << 20);
        for config in configs() {
            for chunk in [request.len(), 1000] {
                let a = via_http_with(request.as_bytes(), chunk, &config, limits);
                let b = in_place_with(request.as_bytes(), chunk, &config, limits);
                assert_eq!(a, b, "{extra} lines, limit {max_headers}, chunk {chunk}");
            }
        }
        let outcome = in_place_with(request.as_bytes(), 1000, &configs()[0], limits);
        assert_eq!(
            matches!(outcome, Some(Ok(_))),
            extra + base_lines <= max_headers.min(8192),
            "{extra}"
        );
    }
}

/// The headers the handshake writes itself cannot be added as extras, so
/// both paths always write the same lines in the same order.
#[test]
fn reserved_extra_headers_are_refused() {
    for name in [
        "Upgrade",
        "connection",
        "Sec-WebSocket-Accept",
        "sec-websocket-protocol",
        "Sec-WebSocket-Extensions",
    ] {
        assert_eq!(
            ServerConfig::new().with_header(name, "x").unwrap_err(),
            HandshakeError::ReservedHeader(name.to_string())
        );
    }
    assert!(ServerConfig::new().with_header("x-upgrade", "x").is_ok());
}

/// RFC 9112 §3.2: a request with more than one `Host` line is a 400, on
/// both paths alike, however the lines are spelled or placed, with equal or
/// different values.
#[test]
fn duplicate_host_is_400_on_both_paths() {
    let base = "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
                Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                Sec-WebSocket-Version: 13\r\n";
    let one = format!("{base}\r\n");
    assert!(agree(one.as_bytes(), "one host") > 0);
    for extra in [
        "Host: example.com\r\n",
        "host: evil.example\r\n",
        "HOST: example.com:80\r\n",
        "Host: \r\n",
    ] {
        let wire = format!("{base}X-Between: 1\r\n{extra}\r\n");
        assert_eq!(agree(wire.as_bytes(), extra), 0, "{extra:?}");
        for config in configs() {
            for chunk in [wire.len(), 1] {
                let err = in_place(wire.as_bytes(), chunk, &config)
                    .expect("complete")
                    .unwrap_err();
                assert_eq!(err, HandshakeError::DuplicateHost, "{extra:?}");
                assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
            }
        }
    }
}
