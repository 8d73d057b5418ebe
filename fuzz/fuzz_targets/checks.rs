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

fn run(role: Role, limits: Limits, data: &[u8], chunk: usize) -> Outcome {
    let mut dec = Decoder::with_limits(role, limits);
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
