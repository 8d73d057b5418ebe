//! Invariants the fuzz targets assert. Shared with `tests/fuzz_corpus.rs`,
//! which replays the checked-in corpus under `cargo test`.
#![allow(dead_code)]

use bytes::BytesMut;
use webwire::Status;
use webwire::random::SeededRandom;
use webwire::ws::{Decoder, Encoder, FrameHeader, Incoming, Limits, ProtocolError, Role};

/// Header parsing: never consumes more than it is given, and what it parsed
/// encodes to a header that parses back the same.
pub fn frame_header(data: &[u8]) {
    match FrameHeader::parse(data) {
        Ok(Status::Complete((header, consumed))) => {
            assert!(consumed <= data.len());
            assert!(consumed >= header.encoded_len());
            let mut out = Vec::new();
            header.encode(&mut out);
            assert_eq!(out.len(), header.encoded_len());
            assert_eq!(
                FrameHeader::parse(&out),
                Ok(Status::Complete((header, out.len())))
            );
        }
        Ok(Status::Partial) => assert!(data.len() < webwire::ws::MAX_HEADER_LEN),
        Err(e) => {
            let code = e.close_code().0;
            assert!(code == 1002 || code == 1007 || code == 1009, "{e}");
        }
    }
}

type Outcome = (Vec<Incoming>, Option<ProtocolError>);

fn decoder(role: Role, limits: Limits, deflate: bool) -> Decoder {
    let dec = Decoder::with_limits(role, limits);
    #[cfg(feature = "deflate")]
    if deflate {
        let offers =
            webwire::ws::handshake::parse_extensions("permessage-deflate").expect("valid offer");
        let (params, _) = webwire::ws::deflate::DeflateConfig::default()
            .accept_offers(&offers)
            .expect("accepted");
        return dec.with_deflate(&params);
    }
    #[cfg(not(feature = "deflate"))]
    let _ = deflate;
    dec
}

fn run(role: Role, limits: Limits, data: &[u8], chunk: usize) -> Outcome {
    run_with(role, limits, data, chunk, false)
}

fn run_with(role: Role, limits: Limits, data: &[u8], chunk: usize, deflate: bool) -> Outcome {
    let mut dec = decoder(role, limits, deflate);
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        let mut rest = piece;
        loop {
            match dec.decode(rest) {
                Ok((used, msg)) => {
                    assert!(used <= rest.len(), "consumed more than given");
                    rest = &rest[used..];
                    match msg {
                        Some(m) => out.push(m),
                        None => {
                            assert!(rest.is_empty(), "None means all input was taken");
                            break;
                        }
                    }
                }
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

fn run_buf(role: Role, limits: Limits, data: &[u8], chunk: usize) -> Outcome {
    let mut dec = Decoder::with_limits(role, limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in data.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode_buf(&mut buf) {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

/// Message assembly in `role`: whole and chunked input agree, every decoded
/// message re-encodes (by the other role) and decodes to itself.
pub fn decode(role: Role, data: &[u8]) {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    // Small limits so the fuzzer reaches the 1009 paths.
    let limits = Limits::default()
        .with_max_frame_size(4096)
        .with_max_message_size(8192);
    let chunk = usize::from(first % 17) + 1;
    let whole = run(role, limits, data, usize::MAX);
    let chunked = run(role, limits, data, chunk);
    assert_eq!(whole, chunked);
    assert_eq!(whole, run_buf(role, limits, data, chunk + 3));
    if let Some(e) = &whole.1 {
        let code = e.close_code().0;
        assert!(code == 1002 || code == 1007 || code == 1009, "{e}");
    }
    let peer = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut enc = Encoder::new(peer, SeededRandom::new(u64::from(first)));
    let mut wire = Vec::new();
    for m in &whole.0 {
        match m {
            Incoming::Text(t) => enc.encode_text(t, &mut wire),
            Incoming::Binary(b) => enc.encode_binary(b, &mut wire),
            Incoming::Ping(p) => enc.encode_ping(p, &mut wire).expect("ping ≤ 125"),
            Incoming::Pong(p) => enc.encode_pong(p, &mut wire).expect("pong ≤ 125"),
            Incoming::Close(c) => enc
                .encode_close(c.as_ref(), &mut wire)
                .expect("valid close"),
        }
    }
    let again = run(role, Limits::default(), &wire, usize::MAX);
    assert_eq!(again, (whole.0, None));
}

fn feed_request(
    data: &[u8],
    chunk: usize,
) -> Option<Result<(http::Request<()>, usize), webwire::ws::handshake::HandshakeError>> {
    let mut parser = webwire::ws::handshake::RequestParser::default();
    let mut fed = 0;
    for piece in data.chunks(chunk.max(1)) {
        match parser.feed(piece) {
            Ok(Status::Complete((req, used))) => {
                assert!(used <= piece.len());
                return Some(Ok((req, fed + used)));
            }
            Ok(Status::Partial) => fed += piece.len(),
            Err(e) => return Some(Err(e)),
        }
    }
    None
}

/// Upgrade request parsing: chunking never changes the outcome; whatever
/// parses can be validated without panicking, and an accepted request's
/// response satisfies a client with the same key.
pub fn handshake_request(data: &[u8]) {
    use webwire::ws::handshake::{ServerConfig, accept};
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let whole = feed_request(data, usize::MAX);
    let chunked = feed_request(data, usize::from(first % 13) + 1);
    match (&whole, &chunked) {
        (Some(Ok((a, n))), Some(Ok((b, m)))) => {
            assert_eq!(
                (a.method(), a.uri(), a.headers(), n),
                (b.method(), b.uri(), b.headers(), m)
            );
        }
        (Some(Err(a)), Some(Err(b))) => assert_eq!(a, b),
        (None, None) => {}
        other => panic!("chunking changed the outcome: {other:?}"),
    }
    let config = ServerConfig::new().with_protocols(["chat"]);
    // The in-place path decides as the `http` path does, whole and chunked.
    let in_place = |chunk: usize| {
        let mut parser = webwire::ws::handshake::RequestParser::default();
        let mut fed = 0;
        for piece in data.chunks(chunk) {
            let mut out = Vec::new();
            match parser.feed_with(piece, |head| head.accept(&config, &mut out)) {
                Ok(Status::Partial) => fed += piece.len(),
                Ok(Status::Complete((agreed, used))) => {
                    return Some(agreed.map(|a| (a.protocol, out, fed + used)));
                }
                Err(e) => return Some(Err(e)),
            }
        }
        None
    };
    let via_http = whole.as_ref().map(|outcome| {
        outcome.clone().and_then(|(request, used)| {
            accept(&request, &config).map(|accepted| {
                let mut out = Vec::new();
                accepted.write_response(&mut out);
                (accepted.protocol, out, used)
            })
        })
    });
    assert_eq!(via_http, in_place(usize::MAX));
    assert_eq!(via_http, in_place(usize::from(first % 13) + 1));
    let Some(Ok((request, _))) = whole else {
        return;
    };
    match accept(&request, &config) {
        Ok(accepted) => {
            let mut out = Vec::new();
            accepted.write_response(&mut out);
            assert!(out.starts_with(b"HTTP/1.1 101 "));
        }
        Err(e) => {
            let mut out = Vec::new();
            e.write_response(&mut out);
            assert!(e.status().is_client_error());
        }
    }
}

/// Response parsing: chunking never changes the outcome, and nothing panics.
pub fn handshake_response(data: &[u8]) {
    use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome};
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let run = |chunk: usize| {
        let config = ClientConfig::new().with_protocols(["chat"]);
        let mut client =
            ClientHandshake::with_key("ws://example.com/", config, *b"the sample nonce")
                .expect("valid uri");
        let mut fed = 0;
        for piece in data.chunks(chunk.max(1)) {
            match client.feed(piece) {
                Ok(Status::Complete((outcome, used))) => {
                    let accepted = matches!(outcome, ClientOutcome::Accepted(_));
                    return Some(Ok((accepted, fed + used)));
                }
                Ok(Status::Partial) => fed += piece.len(),
                Err(e) => return Some(Err(e)),
            }
        }
        None
    };
    assert_eq!(run(usize::MAX), run(usize::from(first % 13) + 1));
}

/// Message assembly with permessage-deflate: whole and chunked input agree;
/// (Compiled where webwire's `deflate` feature is on; the fuzz crate turns
/// its own `deflate` feature on by default.)
/// inflated messages stay within the message limit, errors carry a close code.
#[cfg(feature = "deflate")]
pub fn decode_deflate(data: &[u8]) {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let role = if first & 0x80 == 0 {
        Role::Client
    } else {
        Role::Server
    };
    let limits = Limits::default()
        .with_max_frame_size(4096)
        .with_max_message_size(64 * 1024);
    let whole = run_with(role, limits, data, usize::MAX, true);
    let chunked = run_with(role, limits, data, usize::from(first % 17) + 1, true);
    assert_eq!(whole, chunked);
    for m in &whole.0 {
        let len = match m {
            Incoming::Text(t) => t.len(),
            Incoming::Binary(b) => b.len(),
            _ => 0,
        };
        assert!(len <= 64 * 1024, "inflated past the limit");
    }
    if let Some(e) = &whole.1 {
        let code = e.close_code().0;
        assert!(code == 1002 || code == 1007 || code == 1009, "{e}");
    }
}

/// Reads little-endian integers off the front of the fuzz input.
struct Bytes8<'a>(&'a [u8]);

impl Bytes8<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }
    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |acc, i| acc | u64::from(self.u8()) << (8 * i))
    }
    /// A size: small, near a boundary, or anything up to `usize::MAX`.
    fn size(&mut self) -> usize {
        match self.u8() % 4 {
            0 => usize::from(self.u8()),
            1 => usize::MAX - usize::from(self.u8()),
            _ => self.u64() as usize,
        }
    }
    fn duration(&mut self) -> std::time::Duration {
        match self.u8() % 3 {
            0 => std::time::Duration::MAX,
            1 => std::time::Duration::from_millis(u64::from(self.u8())),
            _ => std::time::Duration::from_secs(self.u64()),
        }
    }
}

/// Any configuration, any input: a `Connection` built from arbitrary
/// settings (limits, queue and buffer bounds, timeouts up to
/// `Duration::MAX`, fragment sizes including 0, and with `deflate`
/// permessage-deflate built from any window bits, level and threshold) never panics, takes no more input than it is given, keeps its
/// event queue within the configured cap, and keeps its send buffer within
/// its limit apart from control frames.
pub fn connection_config(data: &[u8]) {
    use std::time::{Duration, Instant};
    use webwire::ws::{CloseCode, Config, Connection, Transmit};

    let mut input = Bytes8(data);
    let flags = input.u8();
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let limits = Limits::default()
        .with_max_frame_size(input.size())
        .with_max_message_size(input.size());
    let queue = input.size();
    let send_buffer = input.size();
    #[allow(unused_mut)]
    let mut config = Config::default()
        .with_limits(limits)
        .with_auto_pong(flags & 2 == 0)
        .with_fragment_size((flags & 4 != 0).then(|| input.size()))
        .with_max_send_buffer(send_buffer)
        .with_max_queued_events(queue)
        .with_close_timeout(input.duration())
        .with_ping_interval((flags & 8 != 0).then(|| input.duration()))
        .with_idle_timeout((flags & 16 != 0).then(|| input.duration()));
    #[cfg(feature = "deflate")]
    if flags & 32 != 0 {
        use webwire::ws::deflate::DeflateConfig;
        // Settings go through the builders, which clamp; what they agree
        // on is what a connection gets.
        let deflate = DeflateConfig::default()
            .with_server_max_window_bits(input.u8())
            .with_client_max_window_bits(input.u8())
            .with_server_no_context_takeover(input.u8() & 1 == 1)
            .with_client_no_context_takeover(input.u8() & 1 == 1)
            .with_level(u32::from(input.u8()))
            .with_threshold(usize::from(input.u8()));
        let offers = webwire::ws::handshake::parse_extensions(&deflate.offer().to_string())
            .expect("our own offer parses");
        let (params, _) = deflate
            .accept_offers(&offers)
            .expect("our own offer is accepted");
        config = config.with_deflate(Some(params));
    }
    let chunk = usize::from(input.u8()) + 1;
    let wire = input.0;

    let start = Instant::now();
    let mut now = start;
    let mut conn = Connection::new(role, config, SeededRandom::new(9), now);
    let mut out = Vec::new();
    let text = "webwire ".repeat(usize::from(flags >> 6) * 40);
    for (i, piece) in wire.chunks(chunk).enumerate() {
        let mut rest = piece;
        while !rest.is_empty() {
            let used = conn.handle_data(now, rest);
            assert!(used <= rest.len());
            rest = &rest[used..];
            let cap = queue.max(1);
            let mut events = 0;
            while conn.poll_event().is_some() {
                events += 1;
            }
            assert!(events <= cap, "{events} events queued, cap {cap}");
            // Commands of every kind; refusals are typed errors.
            let _ = match i % 4 {
                0 => conn.send_text(&text),
                1 => conn.send_binary(text.as_bytes()),
                2 => conn.send_ping(b"fuzz"),
                _ => conn.send_pong(b""),
            };
            // Control frames (pongs, the close) may pass the limit by a
            // frame each; data never does.
            assert!(
                conn.buffered_amount() <= send_buffer.saturating_add(3 * (14 + 125)),
                "{} buffered, limit {send_buffer}",
                conn.buffered_amount()
            );
            while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
                out.clear();
            }
            if used == 0 && !conn.is_input_blocked() {
                panic!("no progress while not blocked");
            }
        }
        now += Duration::from_millis(u64::from(piece[0]) * 10);
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
    }
    let _ = conn.close(now, CloseCode::NORMAL, "done");
    conn.handle_timeout(now + Duration::from_secs(3600));
    conn.handle_eof();
    while conn.poll_event().is_some() {}
    while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
        out.clear();
    }
}

/// A proxy's reply fed to a tunnel: byte 0 picks the chunk size (1..=64)
/// and, in its top bit, whether credentials are set; the rest is what the
/// proxy sends. The tunnel never panics, never claims more bytes than it
/// was given, writes bounded messages, and once established or failed
/// accepts nothing more. The bytes after byte 0, as text, are also parsed
/// as a proxy URL and a `NO_PROXY` list.
pub fn proxy_tunnel(kind: webwire::proxy::ProxyKind, data: &[u8]) {
    use webwire::proxy::{NoProxy, Proxy, ProxyError, ProxyKind, TunnelStatus};

    let Some((&control, reply)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(reply);
    if let Ok(proxy) = Proxy::parse(&text) {
        let _ = proxy.tunnel("example.com", 443);
    }
    let _ = NoProxy::parse(&text).matches("api.example.com", 443);

    let url = match (kind, control & 0x80 != 0) {
        (ProxyKind::Http, false) => "http://proxy:3128",
        (ProxyKind::Http, true) => "http://user:pass@proxy:3128",
        (_, false) => "socks5://proxy",
        (_, true) => "socks5://user:pass@proxy",
    };
    let mut tunnel = Proxy::parse(url)
        .and_then(|p| p.tunnel("example.com", 443))
        .expect("a valid proxy and target");
    let chunk = usize::from(control & 0x3F) + 1;
    let mut ended = false;
    for piece in reply.chunks(chunk) {
        while let Some(out) = tunnel.poll_transmit() {
            assert!(
                out.len() <= 1024,
                "a {}-byte message to the proxy",
                out.len()
            );
        }
        let result = tunnel.receive(piece);
        if ended {
            assert_eq!(result, Err(ProxyError::Finished));
            continue;
        }
        match result {
            Ok(TunnelStatus::NeedMore) => {}
            Ok(TunnelStatus::Established { consumed }) => {
                assert!(consumed <= piece.len());
                ended = true;
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                ended = true;
            }
            Ok(_) => ended = true,
        }
    }
}
