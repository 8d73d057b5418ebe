//! RFC 6455 §5.7 examples, byte for byte, encoded and decoded (whole,
//! 1 byte at a time and in random chunks).
#![cfg(feature = "ws")]

mod common;

use bytes::Bytes;
use common::decode_ok;
use webwire::random::FixedRandom;
use webwire::ws::{Encoder, Incoming, OpCode, Role};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn client() -> Encoder<FixedRandom> {
    Encoder::new(Role::Client, FixedRandom::new(KEY))
}

#[test]
fn single_frame_unmasked_text() {
    let wire = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut out = Vec::new();
    Encoder::server().encode_text("Hello", &mut out);
    assert_eq!(out, wire);
    assert_eq!(
        decode_ok(Role::Client, &wire),
        [Incoming::Text("Hello".into())]
    );
}

#[test]
fn single_frame_masked_text() {
    let wire = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut out = Vec::new();
    client().encode_text("Hello", &mut out);
    assert_eq!(out, wire);
    assert_eq!(
        decode_ok(Role::Server, &wire),
        [Incoming::Text("Hello".into())]
    );
}

#[test]
fn fragmented_unmasked_text() {
    let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let mut out = Vec::new();
    Encoder::server()
        .encode_fragmented(OpCode::Text, b"Hello", 3, &mut out)
        .unwrap();
    assert_eq!(out, wire);
    assert_eq!(
        decode_ok(Role::Client, &wire),
        [Incoming::Text("Hello".into())]
    );
}

#[test]
fn unmasked_ping_and_masked_pong() {
    let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
    let mut out = Vec::new();
    Encoder::server().encode_ping(b"Hello", &mut out).unwrap();
    assert_eq!(out, ping);
    assert_eq!(
        decode_ok(Role::Client, &ping),
        [Incoming::Ping(Bytes::from_static(b"Hello"))]
    );

    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    out.clear();
    client().encode_pong(b"Hello", &mut out).unwrap();
    assert_eq!(out, pong);
    assert_eq!(
        decode_ok(Role::Server, &pong),
        [Incoming::Pong(Bytes::from_static(b"Hello"))]
    );
}

#[test]
fn binary_256_bytes() {
    let payload: Vec<u8> = (0..=255).collect();
    let mut wire = vec![0x82, 0x7e, 0x01, 0x00];
    wire.extend_from_slice(&payload);
    let mut out = Vec::new();
    Encoder::server().encode_binary(&payload, &mut out);
    assert_eq!(out, wire);
    assert_eq!(
        decode_ok(Role::Client, &wire),
        [Incoming::Binary(payload.into())]
    );
}

#[test]
fn binary_64_kib() {
    let payload: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    let mut wire = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    wire.extend_from_slice(&payload);
    let mut out = Vec::new();
    Encoder::server().encode_binary(&payload, &mut out);
    assert_eq!(out, wire);
    assert_eq!(
        decode_ok(Role::Client, &wire),
        [Incoming::Binary(payload.clone().into())]
    );

    // The same, masked by a client.
    let mut masked = Vec::new();
    client().encode_binary(&payload, &mut masked);
    assert_eq!(
        &masked[..14],
        &[
            0x82, 0xff, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x37, 0xfa, 0x21, 0x3d
        ]
    );
    assert_eq!(
        decode_ok(Role::Server, &masked),
        [Incoming::Binary(payload.into())]
    );
}
