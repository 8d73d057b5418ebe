//! One test per RFC 6455 §5 rule: the exact error and close code, with the
//! input fed whole, 1 byte at a time and in random chunks.
#![cfg(feature = "ws")]

mod common;

use bytes::Bytes;
use common::{client_frame, decode_all_ways, decode_err, decode_ok, server_frame};
use webwire::ws::{CloseCode, CloseFrame, Incoming, Limits, ProtocolError, Role};

fn assert_fails(wire: &[u8], err: ProtocolError, code: CloseCode) {
    let got = decode_err(Role::Server, wire);
    assert_eq!(got, err);
    assert_eq!(got.close_code(), code);
}

#[test]
fn rsv_bits_without_extension_1002() {
    for rsv in 1..8u8 {
        assert_fails(
            &client_frame(0x81 | (rsv << 4), b"x"),
            ProtocolError::ReservedBits(rsv),
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn reserved_opcodes_1002() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        assert_fails(
            &client_frame(0x80 | op, b""),
            ProtocolError::ReservedOpcode(op),
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn control_frames_must_have_fin_1002() {
    for op in [0x8, 0x9, 0xA] {
        assert_fails(
            &client_frame(op, b""),
            ProtocolError::FragmentedControlFrame,
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn control_frames_at_most_125_bytes_1002() {
    for op in [0x88, 0x89, 0x8A] {
        assert_fails(
            &client_frame(op, &[b'a'; 126]),
            ProtocolError::ControlFrameTooLarge(126),
            CloseCode::PROTOCOL_ERROR,
        );
    }
    // 125 is fine.
    assert_eq!(
        decode_ok(Role::Server, &client_frame(0x89, &[b'a'; 125])),
        [Incoming::Ping(Bytes::from(vec![b'a'; 125]))]
    );
}

#[test]
fn server_rejects_unmasked_1002() {
    assert_fails(
        &server_frame(0x81, b"hi"),
        ProtocolError::UnmaskedFrame,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn client_rejects_masked_1002() {
    let err = decode_err(Role::Client, &client_frame(0x81, b"hi"));
    assert_eq!(err, ProtocolError::MaskedFrame);
    assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
}

#[test]
fn length_with_top_bit_set_1002() {
    let wire = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
    assert_fails(
        &wire,
        ProtocolError::InvalidPayloadLength,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn frame_over_limit_1009_from_the_header_alone() {
    let limits = Limits::default().with_max_frame_size(1000);
    // Only the header: no payload has been sent, yet the frame is refused.
    let wire = [0x82, 0xfe, 0x03, 0xe9, 1, 2, 3, 4];
    let out = decode_all_ways(Role::Server, limits, &wire);
    assert_eq!(
        out.error,
        Some(ProtocolError::FrameTooLarge {
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(out.fed_at_error, Some(wire.len()));
    assert_eq!(out.error.unwrap().close_code(), CloseCode::MESSAGE_TOO_BIG);
    // Default limit: 16 MiB.
    let mut wire = vec![0x82, 0xff];
    wire.extend_from_slice(&((16u64 << 20) + 1).to_be_bytes());
    wire.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(
        decode_err(Role::Server, &wire).close_code(),
        CloseCode::MESSAGE_TOO_BIG
    );
}

#[test]
fn message_over_limit_1009_at_the_fragment_that_exceeds_it() {
    let limits = Limits::default()
        .with_max_frame_size(100)
        .with_max_message_size(150);
    let mut wire = client_frame(0x02, &[0; 100]);
    let first = wire.len();
    wire.extend(client_frame(0x80, &[0; 51]));
    let out = decode_all_ways(Role::Server, limits, &wire);
    assert_eq!(
        out.error,
        Some(ProtocolError::MessageTooLarge { len: 151, max: 150 })
    );
    // Refused as soon as the second header is in (2 + 4 mask bytes).
    assert_eq!(out.fed_at_error, Some(first + 6));
    // Exactly at the limit is fine.
    let mut ok = client_frame(0x01, &[b'a'; 100]);
    ok.extend(client_frame(0x80, &[b'b'; 50]));
    let out = decode_all_ways(Role::Server, limits, &ok);
    assert_eq!(out.error, None);
    assert_eq!(out.messages.len(), 1);
}

#[test]
fn fragmentation_with_interleaved_control_frames() {
    let mut wire = client_frame(0x01, b"Hel");
    wire.extend(client_frame(0x89, b"p1"));
    wire.extend(client_frame(0x00, b"l"));
    wire.extend(client_frame(0x8A, b""));
    wire.extend(client_frame(0x80, b"o"));
    wire.extend(client_frame(0x02, b"\x00\x01"));
    wire.extend(client_frame(0x80, b"\x02"));
    assert_eq!(
        decode_ok(Role::Server, &wire),
        [
            Incoming::Ping(Bytes::from_static(b"p1")),
            Incoming::Pong(Bytes::new()),
            Incoming::Text("Hello".into()),
            Incoming::Binary(Bytes::from_static(b"\x00\x01\x02")),
        ]
    );
}

#[test]
fn empty_fragments_and_messages() {
    let mut wire = client_frame(0x01, b"");
    wire.extend(client_frame(0x00, b""));
    wire.extend(client_frame(0x80, b""));
    wire.extend(client_frame(0x82, b""));
    assert_eq!(
        decode_ok(Role::Server, &wire),
        [
            Incoming::Text(String::new()),
            Incoming::Binary(Bytes::new())
        ]
    );
}

#[test]
fn continuation_without_start_1002() {
    assert_fails(
        &client_frame(0x80, b"x"),
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
    assert_fails(
        &client_frame(0x00, b"x"),
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
    // After a complete message, too.
    let mut wire = client_frame(0x81, b"done");
    wire.extend(client_frame(0x80, b"x"));
    assert_fails(
        &wire,
        ProtocolError::UnexpectedContinuation,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn new_message_inside_fragmented_message_1002() {
    for second in [0x81, 0x82, 0x01, 0x02] {
        let mut wire = client_frame(0x01, b"part");
        wire.extend(client_frame(second, b"x"));
        assert_fails(
            &wire,
            ProtocolError::ExpectedContinuation,
            CloseCode::PROTOCOL_ERROR,
        );
    }
}

#[test]
fn invalid_utf8_fails_fast_inside_a_frame_1007() {
    // Autobahn 6.4.3: κόσμε, then F4 90 80 80 (above U+10FFFF), in one frame.
    let payload =
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64";
    let wire = client_frame(0x81, payload);
    let out = decode_all_ways(Role::Server, Limits::default(), &wire);
    assert_eq!(out.error, Some(ProtocolError::InvalidUtf8));
    assert_eq!(out.error.unwrap().close_code(), CloseCode::INVALID_PAYLOAD);
    // 6 header bytes, 11 valid bytes, F4, then 0x90 is the byte that decides.
    assert_eq!(out.fed_at_error, Some(6 + 11 + 2));
}

#[test]
fn invalid_utf8_fails_fast_across_fragments_1007() {
    // The fragment carrying the bad byte fails before the final fragment.
    let mut wire = client_frame(0x01, "κόσμε".as_bytes());
    wire.extend(client_frame(0x00, b"\xf4\x90"));
    let before_final = wire.len();
    wire.extend(client_frame(0x80, b"\x80\x80edited"));
    let out = decode_all_ways(Role::Server, Limits::default(), &wire);
    assert_eq!(out.error, Some(ProtocolError::InvalidUtf8));
    assert!(out.fed_at_error.unwrap() <= before_final);
}

#[test]
fn text_ending_mid_code_point_1007() {
    let mut wire = client_frame(0x01, b"caf\xc3");
    wire.extend(client_frame(0x80, b""));
    assert_fails(
        &wire,
        ProtocolError::InvalidUtf8,
        CloseCode::INVALID_PAYLOAD,
    );
}

#[test]
fn code_points_split_across_fragments_are_fine() {
    let text = "aé€😀";
    let bytes = text.as_bytes();
    for cut in 0..=bytes.len() {
        let mut wire = client_frame(0x01, &bytes[..cut]);
        wire.extend(client_frame(0x80, &bytes[cut..]));
        assert_eq!(
            decode_ok(Role::Server, &wire),
            [Incoming::Text(text.into())],
            "cut at {cut}"
        );
    }
}

#[test]
fn close_payload_of_one_byte_1002() {
    assert_fails(
        &client_frame(0x88, b"\x03"),
        ProtocolError::InvalidClosePayload,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn close_codes_accepted_and_rejected() {
    let accepted = [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ];
    for code in accepted {
        let wire = client_frame(0x88, &code.to_be_bytes());
        assert_eq!(
            decode_ok(Role::Server, &wire),
            [Incoming::Close(Some(CloseFrame::new(CloseCode(code), "")))]
        );
    }
    let rejected = [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ];
    for code in rejected {
        let wire = client_frame(0x88, &code.to_be_bytes());
        assert_fails(
            &wire,
            ProtocolError::InvalidCloseCode(code),
            CloseCode::PROTOCOL_ERROR,
        );
    }
    // No payload: no status.
    assert_eq!(
        decode_ok(Role::Server, &client_frame(0x88, b"")),
        [Incoming::Close(None)]
    );
}

#[test]
fn close_reason_must_be_utf8_1007() {
    assert_fails(
        &client_frame(0x88, b"\x03\xe8bad\xff"),
        ProtocolError::InvalidCloseReason,
        CloseCode::INVALID_PAYLOAD,
    );
    assert_eq!(
        decode_ok(Role::Server, &client_frame(0x88, b"\x03\xe8caf\xc3\xa9")),
        [Incoming::Close(Some(CloseFrame::new(
            CloseCode::NORMAL,
            "café"
        )))]
    );
}

#[test]
fn defaults_are_16_and_64_mib() {
    let l = Limits::default();
    assert_eq!(l.max_frame_size(), 16 * 1024 * 1024);
    assert_eq!(l.max_message_size(), 64 * 1024 * 1024);
}

#[test]
fn large_fragmented_message_within_limits() {
    // 20 MiB in 2 MiB fragments: over the frame limit in total, under the
    // message limit, so it is delivered.
    let payload: Vec<u8> = (0..20u32 << 20).map(|i| i as u8).collect();
    let mut wire = Vec::new();
    let mut chunks = payload.chunks(2 << 20).peekable();
    let mut first = true;
    while let Some(c) = chunks.next() {
        let fin = if chunks.peek().is_none() { 0x80 } else { 0 };
        let op = if first { 0x02 } else { 0x00 };
        first = false;
        wire.extend(client_frame(fin | op, c));
    }
    let out = common::feed_chunks(Role::Server, Limits::default(), &wire, &mut || 65536);
    assert_eq!(out.error, None);
    assert_eq!(out.messages, [Incoming::Binary(payload.into())]);
}
