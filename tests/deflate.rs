//! permessage-deflate (RFC 7692): the §7.2.3 examples byte for byte,
//! negotiation in both roles, round trips under every parameter set, and
//! the size limit applied to inflated bytes.
#![cfg(feature = "deflate")]

use std::time::Instant;

use bytes::Bytes;
use webwire::Status;
use webwire::random::SeededRandom;
use webwire::ws::deflate::{DeflateConfig, DeflateParams};
use webwire::ws::handshake::{
    ClientConfig, ClientHandshake, ClientOutcome, RequestParser, ServerConfig, accept,
    parse_extensions,
};
use webwire::ws::{
    CloseCode, Config, Connection, ConnectionError, Decoder, Event, Incoming, Limits,
    ProtocolError, Role, Transmit,
};

fn params(config: DeflateConfig) -> DeflateParams {
    let offers = parse_extensions(&config.offer().to_string()).unwrap();
    config.accept_offers(&offers).unwrap().0
}

fn decode_all(
    role: Role,
    params: &DeflateParams,
    wire: &[u8],
    chunk: usize,
) -> Result<Vec<Incoming>, ProtocolError> {
    let mut dec = Decoder::with_limits(role, Limits::default()).with_deflate(params);
    let mut out = Vec::new();
    for piece in wire.chunks(chunk) {
        let mut rest = piece;
        while let (used, Some(m)) = dec.decode(rest)? {
            rest = &rest[used..];
            out.push(m);
        }
    }
    Ok(out)
}

fn text(s: &str) -> Incoming {
    Incoming::Text(s.into())
}

#[test]
fn rfc7692_examples_decode() {
    let p = params(DeflateConfig::default());
    let cases: Vec<(&str, Vec<u8>, Vec<Incoming>)> = vec![
        (
            "7.2.3.1 one frame",
            vec![0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
            vec![text("Hello")],
        ),
        (
            "7.2.3.1 fragmented",
            vec![
                0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
            ],
            vec![text("Hello")],
        ),
        (
            "7.2.3.2 shared window",
            vec![
                0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11,
                0x00, 0x00,
            ],
            vec![text("Hello"), text("Hello")],
        ),
        (
            "7.2.3.3 no compression",
            vec![
                0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            vec![text("Hello")],
        ),
        (
            "7.2.3.4 BFINAL",
            vec![0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            vec![text("Hello")],
        ),
        (
            "7.2.3.5 two blocks",
            vec![
                0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07,
                0x00,
            ],
            vec![text("Hello")],
        ),
    ];
    for (name, wire, expect) in cases {
        for chunk in [wire.len(), 1, 3] {
            assert_eq!(
                decode_all(Role::Client, &p, &wire, chunk).unwrap(),
                expect,
                "{name}, chunk {chunk}"
            );
        }
    }
    // BFINAL then another message: a fresh stream each time.
    let mut twice = vec![0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    twice.extend_from_slice(&twice.clone());
    assert_eq!(
        decode_all(Role::Client, &p, &twice, 1).unwrap(),
        [text("Hello"), text("Hello")]
    );
}

fn server_client(
    server: DeflateConfig,
    client: DeflateConfig,
) -> (Connection<SeededRandom>, Connection<SeededRandom>) {
    // A real handshake, so the agreed parameters come from negotiation.
    let hs = ClientHandshake::new(
        "ws://x/",
        ClientConfig::new().with_deflate(client),
        &mut SeededRandom::new(1),
    )
    .unwrap();
    let mut wire = Vec::new();
    hs.write_request(&mut wire);
    let Status::Complete((req, _)) = RequestParser::default().feed(&wire).unwrap() else {
        panic!()
    };
    let accepted = accept(&req, &ServerConfig::new().with_deflate(server)).unwrap();
    let mut reply = Vec::new();
    accepted.write_response(&mut reply);
    let mut hs = hs;
    let Status::Complete((ClientOutcome::Accepted(acc), _)) = hs.feed(&reply).unwrap() else {
        panic!()
    };
    assert!(
        accepted.deflate.is_some() && acc.deflate.is_some(),
        "deflate not agreed"
    );
    let now = Instant::now();
    let s = Connection::new(
        Role::Server,
        Config::default().with_deflate(accepted.deflate),
        SeededRandom::new(2),
        now,
    );
    let c = Connection::new(
        Role::Client,
        Config::default().with_deflate(acc.deflate),
        SeededRandom::new(3),
        now,
    );
    (s, c)
}

fn transmit(from: &mut Connection<SeededRandom>) -> Vec<u8> {
    let mut out = Vec::new();
    while let Transmit::Bytes(_) = from.poll_transmit(&mut out) {}
    out
}

#[test]
fn rfc7692_examples_encode() {
    let config = DeflateConfig::default().with_threshold(0);
    let (mut server, _) = server_client(config, config);
    server.send_text("Hello").unwrap();
    assert_eq!(
        transmit(&mut server),
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    // The second message reuses the window (§7.2.3.2).
    server.send_text("Hello").unwrap();
    assert_eq!(
        transmit(&mut server),
        [0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]
    );
    // Opted out: plain frame, RSV1 clear.
    server.send_text_uncompressed("Hello").unwrap();
    assert_eq!(transmit(&mut server), b"\x81\x05Hello");
}

fn events(conn: &mut Connection<SeededRandom>) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

#[test]
fn round_trips_under_every_parameter_set() {
    use webwire::random::RandomSource;
    let mut rng = SeededRandom::new(7);
    let messages: Vec<String> = (0..40)
        .map(|i| {
            let n = (rng.next_u32() % 3000) as usize;
            format!("{i}: ").repeat(n / 4 + 1) + &"é€😀".repeat(i % 5)
        })
        .collect();
    let expect: Vec<Event> = messages
        .iter()
        .flat_map(|m| {
            [
                Event::Text(m.clone()),
                Event::Binary(Bytes::from(m.clone().into_bytes())),
            ]
        })
        .collect();
    for bits in [8u8, 9, 10, 12, 15] {
        for no_context in [false, true] {
            for fragment in [None, Some(17)] {
                let config = DeflateConfig::default()
                    .with_server_max_window_bits(bits)
                    .with_client_max_window_bits(bits)
                    .with_no_context_takeover(no_context)
                    .with_threshold(10);
                let what = format!("bits {bits}, no_context {no_context}, fragment {fragment:?}");
                for chunk in [usize::MAX, 1, 13] {
                    let (mut server, client) = server_client(config, config);
                    let mut client = Connection::new(
                        Role::Client,
                        client.config().with_fragment_size(fragment),
                        SeededRandom::new(4),
                        Instant::now(),
                    );
                    for m in &messages {
                        client.send_text(m).unwrap();
                        client.send_binary(m.as_bytes()).unwrap();
                    }
                    let wire = transmit(&mut client);
                    for piece in wire.chunks(chunk) {
                        assert_eq!(server.handle_data(Instant::now(), piece), piece.len());
                    }
                    assert_eq!(events(&mut server), expect, "{what}, chunk {chunk}");

                    // And back, server to client.
                    for m in &messages {
                        server.send_text(m).unwrap();
                    }
                    let wire = transmit(&mut server);
                    // zlib cannot compress with a 256-byte window: sent plain.
                    let rsv1 = if bits == 8 { 0 } else { 0x40 };
                    assert_eq!(wire[0] & 0x40, rsv1, "{what}");
                    for piece in wire.chunks(chunk) {
                        assert_eq!(client.handle_data(Instant::now(), piece), piece.len());
                    }
                    let texts: Vec<Event> =
                        messages.iter().map(|m| Event::Text(m.clone())).collect();
                    assert_eq!(events(&mut client), texts, "{what}, chunk {chunk}");
                }
            }
        }
    }
}

#[test]
fn negotiation_server_side() {
    let ours = DeflateConfig::default();
    let accept_str = |offer: &str| {
        ours.accept_offers(&parse_extensions(offer).unwrap())
            .map(|(_, r)| r.to_string())
    };
    assert_eq!(
        accept_str("permessage-deflate").as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        accept_str("permessage-deflate; client_max_window_bits").as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        accept_str("permessage-deflate; server_max_window_bits=10; client_no_context_takeover")
            .as_deref(),
        Some("permessage-deflate; client_no_context_takeover; server_max_window_bits=10")
    );
    // Unknown, repeated or out-of-range parameters: that offer is declined,
    // the next acceptable one is taken.
    for bad in [
        "permessage-deflate; foo",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "x-other",
    ] {
        assert_eq!(accept_str(bad), None, "{bad}");
        let with_fallback = format!("{bad}, permessage-deflate; client_max_window_bits");
        assert_eq!(
            accept_str(&with_fallback).as_deref(),
            Some("permessage-deflate"),
            "{with_fallback}"
        );
    }
    // A server that wants small client windows asks for them when allowed.
    let small = DeflateConfig::default().with_client_max_window_bits(10);
    let (p, r) = small
        .accept_offers(&parse_extensions("permessage-deflate; client_max_window_bits").unwrap())
        .unwrap();
    assert_eq!(
        r.to_string(),
        "permessage-deflate; client_max_window_bits=10"
    );
    assert_eq!(p.client_max_window_bits(), 10);
}

#[test]
fn negotiation_client_side() {
    let ours = DeflateConfig::default().with_server_max_window_bits(12);
    let check = |resp: &str| ours.check_response(&parse_extensions(resp).unwrap()[0]);
    let p =
        check("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9").unwrap();
    assert_eq!(
        (p.server_max_window_bits(), p.client_max_window_bits()),
        (10, 9)
    );
    for bad in [
        "permessage-deflate; server_max_window_bits=13",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; unknown",
        "permessage-deflate; server_max_window_bits=8; server_max_window_bits=8",
    ] {
        assert!(check(bad).is_err(), "{bad}");
    }
    // A response naming deflate when the client did not offer it fails the handshake.
    let hs =
        ClientHandshake::with_key("ws://x/", ClientConfig::new(), *b"the sample nonce").unwrap();
    let resp = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        .header("sec-websocket-extensions", "permessage-deflate")
        .body(())
        .unwrap();
    assert!(hs.check_response(&resp).is_err());
    let hs = ClientHandshake::with_key(
        "ws://x/",
        ClientConfig::new().with_deflate(DeflateConfig::default()),
        *b"the sample nonce",
    )
    .unwrap();
    let ClientOutcome::Accepted(acc) = hs.check_response(&resp).unwrap() else {
        panic!()
    };
    assert!(acc.deflate.is_some());
}

#[test]
fn rsv1_rules_with_deflate() {
    let p = params(DeflateConfig::default());
    // RSV1 on a continuation frame, or on a control frame: 1002.
    let cont = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(
        decode_all(Role::Client, &p, &cont, 64),
        Err(ProtocolError::ReservedBits(0b100))
    );
    assert_eq!(
        decode_all(Role::Client, &p, &[0xc9, 0x00], 64),
        Err(ProtocolError::ReservedBits(0b100))
    );
    // RSV2/RSV3 stay reserved.
    assert_eq!(
        decode_all(Role::Client, &p, &[0xa1, 0x00], 64),
        Err(ProtocolError::ReservedBits(0b010))
    );
    // Corrupt DEFLATE data: 1007.
    let err = decode_all(Role::Client, &p, &[0xc1, 0x03, 0xff, 0xff, 0xff], 64).unwrap_err();
    assert_eq!(err, ProtocolError::InvalidCompressedData);
    assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
    // Compressed invalid UTF-8: 1007 too.
    let mut enc = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(64);
    enc.compress_vec(b"ok\xff", &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4);
    let mut wire = vec![0xc1, out.len() as u8];
    wire.extend_from_slice(&out);
    assert_eq!(
        decode_all(Role::Client, &p, &wire, 1),
        Err(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn inflated_size_limit_fails_with_1009() {
    let p = params(DeflateConfig::default());
    // 10 MiB of zeros compresses to about 10 KiB.
    let mut enc = flate2::Compress::new(flate2::Compression::default(), false);
    let zeros = vec![0u8; 10 << 20];
    let mut out = Vec::with_capacity(64 << 10);
    enc.compress_vec(&zeros, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    out.truncate(out.len() - 4);
    assert!(out.len() < 64 << 10);
    let mut wire = vec![0xc2, 0x7e];
    wire.extend_from_slice(&(out.len() as u16).to_be_bytes());
    wire.extend_from_slice(&out);
    let limits = Limits::default().with_max_message_size(1 << 20);
    let mut dec = Decoder::with_limits(Role::Client, limits).with_deflate(&p);
    let err = dec.decode(&wire).unwrap_err();
    assert!(
        matches!(err, ProtocolError::MessageTooLarge { max, .. } if max == 1 << 20),
        "{err:?}"
    );
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
    // The connection fails with 1009 too.
    let mut conn = Connection::new(
        Role::Client,
        Config::default().with_limits(limits).with_deflate(Some(p)),
        SeededRandom::new(1),
        Instant::now(),
    );
    assert_eq!(conn.handle_data(Instant::now(), &wire), wire.len());
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Failed(ConnectionError::Protocol(
            ProtocolError::MessageTooLarge { .. }
        )))
    ));
}

#[test]
fn incompressible_messages_go_plain_and_the_window_stays_in_step() {
    use webwire::random::RandomSource;
    let config = DeflateConfig::default().with_threshold(0);
    let (mut server, mut client) = server_client(config, config);
    let mut noise = vec![0u8; 4096];
    SeededRandom::new(5).fill_bytes(&mut noise);
    let text = "compressible text, compressible text, compressible text";
    // Compressible, incompressible, then compressible again: the third one
    // must not refer to bytes the peer never inflated.
    client.send_text(text).unwrap();
    client.send_binary(&noise).unwrap();
    client.send_text(text).unwrap();
    let wire = transmit(&mut client);
    // The first byte of each (masked, client) frame: FIN, RSV1, opcode.
    let frames: Vec<u8> = {
        let mut firsts = Vec::new();
        let mut pos = 0;
        while pos < wire.len() {
            firsts.push(wire[pos]);
            let len7 = (wire[pos + 1] & 0x7f) as usize;
            let (len, hl) = match len7 {
                126 => (
                    u16::from_be_bytes([wire[pos + 2], wire[pos + 3]]) as usize,
                    4,
                ),
                127 => (
                    u64::from_be_bytes(wire[pos + 2..pos + 10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n, 2),
            };
            pos += hl + 4 + len;
        }
        firsts
    };
    assert_eq!(frames, [0xc1, 0x82, 0xc1], "compressed, plain, compressed");
    assert!(wire.len() < text.len() * 2 + noise.len() + 40);
    assert_eq!(server.handle_data(Instant::now(), &wire), wire.len());
    assert_eq!(
        events(&mut server),
        [
            Event::Text(text.into()),
            Event::Binary(Bytes::from(noise)),
            Event::Text(text.into())
        ]
    );
}
