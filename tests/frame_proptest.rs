//! Property tests: encode → decode round trips for arbitrary frames and
//! message sequences, in both directions and any chunking.
#![cfg(feature = "ws")]

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use webwire::Status;
use webwire::random::SeededRandom;
use webwire::ws::{CloseCode, CloseFrame, Encoder, FrameHeader, Incoming, Limits, OpCode, Role};

#[derive(Debug, Clone)]
enum Msg {
    Text(String, usize),
    Binary(Vec<u8>, usize),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        ("\\PC{0,200}", 1usize..64).prop_map(|(s, f)| Msg::Text(s, f)),
        (proptest::collection::vec(any::<u8>(), 0..600), 1usize..700)
            .prop_map(|(b, f)| Msg::Binary(b, f)),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Ping),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Msg::Pong),
        proptest::option::of((
            prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999],
            "[a-zé]{0,40}"
        ))
        .prop_map(Msg::Close),
    ]
}

fn encode(enc: &mut Encoder<SeededRandom>, m: &Msg, out: &mut Vec<u8>) -> Incoming {
    match m {
        Msg::Text(s, f) => {
            enc.encode_fragmented(OpCode::Text, s.as_bytes(), *f, out)
                .unwrap();
            Incoming::Text(s.clone())
        }
        Msg::Binary(b, f) => {
            enc.encode_fragmented(OpCode::Binary, b, *f, out).unwrap();
            Incoming::Binary(Bytes::from(b.clone()))
        }
        Msg::Ping(p) => {
            enc.encode_ping(p, out).unwrap();
            Incoming::Ping(Bytes::from(p.clone()))
        }
        Msg::Pong(p) => {
            enc.encode_pong(p, out).unwrap();
            Incoming::Pong(Bytes::from(p.clone()))
        }
        Msg::Close(c) => {
            let frame = c
                .as_ref()
                .map(|(code, reason)| CloseFrame::new(CloseCode(*code), reason.clone()));
            enc.encode_close(frame.as_ref(), out).unwrap();
            Incoming::Close(frame)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn messages_round_trip_both_roles(msgs in proptest::collection::vec(msg(), 0..12), seed: u64, client_sends: bool) {
        let (from, to) = if client_sends { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let mut enc = Encoder::new(from, SeededRandom::new(seed));
        let mut wire = Vec::new();
        let expected: Vec<Incoming> = msgs.iter().map(|m| encode(&mut enc, m, &mut wire)).collect();
        let out = common::decode_all_ways(to, Limits::default(), &wire);
        prop_assert_eq!(out.error, None);
        prop_assert_eq!(out.messages, expected);
    }

    #[test]
    fn header_round_trip(fin: bool, rsv in 0u8..8, op in 0usize..6, mask: Option<[u8; 4]>, len in prop_oneof![0u64..200, 60_000u64..70_000, 0u64..(1 << 63)]) {
        let opcode = [OpCode::Continuation, OpCode::Text, OpCode::Binary, OpCode::Close, OpCode::Ping, OpCode::Pong][op];
        let (fin, len) = if opcode.is_control() { (true, len % 126) } else { (fin, len) };
        let header = FrameHeader { fin, rsv, opcode, mask, payload_len: len };
        let mut wire = BytesMut::new();
        header.encode(&mut wire);
        prop_assert_eq!(wire.len(), header.encoded_len());
        prop_assert_eq!(FrameHeader::parse(&wire), Ok(Status::Complete((header, wire.len()))));
    }

    #[test]
    fn parse_never_overreads(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(Status::Complete((h, n))) = FrameHeader::parse(&bytes) {
            prop_assert!(n <= bytes.len());
            prop_assert_eq!(n, h.encoded_len().max(n));
        }
    }
}
