//! Frame-layer hot paths (workloads W1–W5 of the frame-layer issue) with a
//! memcpy of the same bytes as the yardstick. Peer crates are compared in
//! `benches/compare`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use webwire::random::SeededRandom;
use webwire::ws::{Decoder, Encoder, Incoming, OpCode, Role, apply_mask};

const READ: usize = 64 * 1024;

fn mixed_text(len: usize) -> String {
    let unit = "héllo wörld € 😀 plain ascii text, ";
    let mut s = String::with_capacity(len + unit.len());
    while s.len() < len {
        s.push_str(unit);
    }
    while s.len() > len {
        s.pop();
    }
    s
}

fn client() -> Encoder<SeededRandom> {
    Encoder::new(Role::Client, SeededRandom::new(1))
}

/// Decodes `wire` as a server, as if read from a socket 64 KiB at a time;
/// returns (messages, payload bytes).
fn decode(wire: &[u8]) -> (usize, usize) {
    let mut dec = Decoder::new(Role::Server);
    let (mut n, mut bytes) = (0, 0);
    for read in wire.chunks(READ) {
        let mut rest = read;
        while let (used, Some(m)) = dec.decode(rest).expect("valid input") {
            rest = &rest[used..];
            n += 1;
            bytes += match &m {
                Incoming::Text(t) => t.len(),
                Incoming::Binary(b) => b.len(),
                _ => 0,
            };
        }
    }
    (n, bytes)
}

/// The same through a `BytesMut` receive buffer and `decode_buf`, as a
/// tokio-codec-style caller would.
fn decode_buf(wire: &[u8]) -> (usize, usize) {
    let mut dec = Decoder::new(Role::Server);
    let mut buf = bytes::BytesMut::with_capacity(READ);
    let (mut n, mut bytes) = (0, 0);
    for read in wire.chunks(READ) {
        buf.extend_from_slice(read);
        while let Some(m) = dec.decode_buf(&mut buf).expect("valid input") {
            n += 1;
            bytes += match &m {
                Incoming::Text(t) => t.len(),
                Incoming::Binary(b) => b.len(),
                _ => 0,
            };
        }
    }
    (n, bytes)
}

fn bench_decode(c: &mut Criterion, name: &str, wire: Vec<u8>, expect: (usize, usize)) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(wire.len() as u64));
    assert_eq!(decode(&wire), expect);
    g.bench_function("webwire", |b| {
        b.iter(|| black_box(decode(black_box(&wire))))
    });
    assert_eq!(decode_buf(&wire), expect);
    g.bench_function("webwire BytesMut", |b| {
        b.iter(|| black_box(decode_buf(black_box(&wire))))
    });
    let mut dst = vec![0u8; wire.len()];
    g.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&wire)))
    });
    g.finish();
}

fn w1(c: &mut Criterion) {
    let mut wire = Vec::new();
    let mut enc = client();
    for _ in 0..100_000 {
        enc.encode_text("0123456789abcdef", &mut wire);
    }
    bench_decode(c, "W1 decode 100k x 16 B text", wire, (100_000, 1_600_000));
}

fn w2(c: &mut Criterion) {
    let payload = vec![0x5a; 1 << 20];
    let mut wire = Vec::new();
    client().encode_binary(&payload, &mut wire);
    bench_decode(c, "W2 decode 1 MiB binary frame", wire, (1, 1 << 20));
}

fn w3(c: &mut Criterion) {
    let text = mixed_text(64 * 1024);
    let mut wire = Vec::new();
    let mut enc = client();
    for _ in 0..16 {
        enc.encode_text(&text, &mut wire);
    }
    bench_decode(
        c,
        "W3 decode 16 x 64 KiB mixed UTF-8 text",
        wire,
        (16, 16 * text.len()),
    );
}

fn w4(c: &mut Criterion) {
    let text = mixed_text(1 << 20);
    let mut wire = Vec::new();
    client()
        .encode_fragmented(
            OpCode::Text,
            text.as_bytes(),
            text.len().div_ceil(64),
            &mut wire,
        )
        .unwrap();
    bench_decode(
        c,
        "W4 decode 1 MiB text in 64 fragments",
        wire,
        (1, text.len()),
    );
}

/// Encodes 100,000 16-byte text messages per iteration.
fn encode_small<R: webwire::random::RandomSource>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    mut enc: Encoder<R>,
    out: &mut Vec<u8>,
) {
    g.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            for _ in 0..100_000 {
                enc.encode_text(black_box("0123456789abcdef"), out);
            }
            black_box(out.len())
        })
    });
}

fn w5(c: &mut Criterion) {
    let mut g = c.benchmark_group("W5a encode 100k x 16 B text (client)");
    g.throughput(Throughput::Elements(100_000));
    let mut out = Vec::with_capacity(100_000 * 22);
    encode_small(&mut g, "webwire", client(), &mut out);
    #[cfg(feature = "getrandom")]
    {
        let thread = Encoder::new(Role::Client, webwire::random::ThreadRandom);
        encode_small(&mut g, "webwire ThreadRandom", thread, &mut out);
        let os = Encoder::new(Role::Client, webwire::random::OsRandom::new());
        encode_small(&mut g, "webwire OsRandom", os, &mut out);
    }
    g.finish();

    let mut g = c.benchmark_group("W5b encode 1 MiB binary (client)");
    g.throughput(Throughput::Bytes(1 << 20));
    let payload = vec![0x5a; 1 << 20];
    let mut out = Vec::with_capacity((1 << 20) + 14);
    let mut enc = client();
    g.bench_function("webwire", |b| {
        b.iter(|| {
            out.clear();
            enc.encode_binary(black_box(&payload), &mut out);
            black_box(out.len())
        })
    });
    let mut dst = vec![0u8; payload.len()];
    g.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&payload)))
    });
    g.finish();
}

fn mask(c: &mut Criterion) {
    let mut g = c.benchmark_group("mask 64 KiB in place");
    let mut data = vec![0x5a; 64 * 1024];
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("webwire", |b| {
        b.iter(|| apply_mask(black_box(&mut data), [1, 2, 3, 4], 1))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = w1, w2, w3, w4, w5, mask
}
criterion_main!(benches);
