//! Shared helpers: feed a decoder whole, 1 byte at a time, and in random
//! chunks, and check all three agree.
#![allow(dead_code)]

use bytes::BytesMut;
use webwire::random::{RandomSource, SeededRandom};
use webwire::ws::{Decoder, Incoming, Limits, ProtocolError, Role};

/// What a decoder produced from a byte stream, and how many input bytes had
/// been handed to it when it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub messages: Vec<Incoming>,
    pub error: Option<ProtocolError>,
    pub fed_at_error: Option<usize>,
}

/// Feeds `wire` to `Decoder::decode` in the given chunk sizes, draining
/// each chunk before the next.
pub fn feed_chunks(
    role: Role,
    limits: Limits,
    wire: &[u8],
    sizes: &mut dyn FnMut() -> usize,
) -> Outcome {
    let mut dec = Decoder::with_limits(role, limits);
    let mut messages = Vec::new();
    let mut fed = 0;
    while fed < wire.len() {
        let n = sizes().clamp(1, wire.len() - fed);
        let mut chunk = &wire[fed..fed + n];
        fed += n;
        loop {
            match dec.decode(chunk) {
                Ok((used, msg)) => {
                    assert!(used <= chunk.len());
                    chunk = &chunk[used..];
                    match msg {
                        Some(m) => messages.push(m),
                        None => {
                            assert!(chunk.is_empty(), "None means all input was taken");
                            break;
                        }
                    }
                }
                Err(e) => {
                    // The decoder stays failed.
                    assert_eq!(dec.decode(b"more"), Err(e.clone()));
                    return Outcome {
                        messages,
                        error: Some(e),
                        fed_at_error: Some(fed),
                    };
                }
            }
        }
    }
    Outcome {
        messages,
        error: None,
        fed_at_error: None,
    }
}

/// `feed_chunks` or `feed_buf`.
type Feeder = fn(Role, Limits, &[u8], &mut dyn FnMut() -> usize) -> Outcome;

/// Feeds `wire` through `Decoder::decode_buf` and a `BytesMut` receive
/// buffer, in the given chunk sizes.
pub fn feed_buf(
    role: Role,
    limits: Limits,
    wire: &[u8],
    sizes: &mut dyn FnMut() -> usize,
) -> Outcome {
    let mut dec = Decoder::with_limits(role, limits);
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut fed = 0;
    while fed < wire.len() {
        let n = sizes().clamp(1, wire.len() - fed);
        buf.extend_from_slice(&wire[fed..fed + n]);
        fed += n;
        loop {
            match dec.decode_buf(&mut buf) {
                Ok(Some(m)) => messages.push(m),
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        messages,
                        error: Some(e),
                        fed_at_error: Some(fed),
                    };
                }
            }
        }
    }
    Outcome {
        messages,
        error: None,
        fed_at_error: None,
    }
}

/// Decodes `wire` whole, byte by byte and in seeded random chunks; asserts
/// the messages and error agree, and returns the one-byte outcome (whose
/// `fed_at_error` tells exactly which byte triggered a failure).
pub fn decode_all_ways(role: Role, limits: Limits, wire: &[u8]) -> Outcome {
    let whole = feed_chunks(role, limits, wire, &mut || usize::MAX);
    let bytewise = feed_chunks(role, limits, wire, &mut || 1);
    assert_eq!(whole.messages, bytewise.messages, "whole vs 1-byte");
    assert_eq!(whole.error, bytewise.error, "whole vs 1-byte");
    let buffered = feed_buf(role, limits, wire, &mut || 61);
    assert_eq!(whole.messages, buffered.messages, "whole vs BytesMut");
    assert_eq!(whole.error, buffered.error, "whole vs BytesMut");
    // Random splits, through both entry points (decode_buf keeps a pending
    // binary frame in the buffer and unmasks it in place).
    let feeders: [(&str, Feeder); 2] = [("slices", feed_chunks), ("BytesMut", feed_buf)];
    for (how, feed) in feeders {
        for seed in 0..8 {
            let mut rng = SeededRandom::new(seed);
            let random = feed(role, limits, wire, &mut || {
                1 + (rng.next_u32() % 97) as usize
            });
            assert_eq!(
                whole.messages, random.messages,
                "whole vs random {how} (seed {seed})"
            );
            assert_eq!(
                whole.error, random.error,
                "whole vs random {how} (seed {seed})"
            );
        }
    }
    bytewise
}

/// Decodes with default limits in every way; panics on error.
pub fn decode_ok(role: Role, wire: &[u8]) -> Vec<Incoming> {
    let out = decode_all_ways(role, Limits::default(), wire);
    assert_eq!(out.error, None);
    out.messages
}

/// Decodes with default limits in every way; returns the error.
pub fn decode_err(role: Role, wire: &[u8]) -> ProtocolError {
    decode_all_ways(role, Limits::default(), wire)
        .error
        .expect("expected a protocol error")
}

/// A masked client frame with the given first byte and payload.
pub fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![b0];
    push_len(&mut out, 0x80, payload.len());
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// An unmasked server frame with the given first byte and payload.
pub fn server_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    push_len(&mut out, 0, payload.len());
    out.extend_from_slice(payload);
    out
}

fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: usize) {
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xffff {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}
