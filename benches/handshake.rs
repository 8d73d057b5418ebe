//! W6: parse a browser's upgrade request from bytes, validate it, compute
//! the accept key and serialise the 101 response: in place
//! (`feed_with` + `RequestHead::accept`), and through `http` types
//! (`feed` + `accept`). SHA-1 of the key alone is
//! the yardstick. Also: a 64 KiB head fed one byte at a time against one shot
//! (the parser must stay linear).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use webwire::Status;
use webwire::ws::handshake::{HandshakeLimits, RequestParser, ServerConfig, accept, accept_key};

/// A real Chromium 156 upgrade request (tests/data/handshake/request-chromium.http).
const CHROMIUM: &[u8] = include_bytes!("../tests/data/handshake/request-chromium.http");

fn w6(c: &mut Criterion) {
    let config = ServerConfig::new();
    let mut out = Vec::with_capacity(256);
    let mut g = c.benchmark_group("W6 upgrade request -> 101 response");
    g.bench_function("webwire", |b| {
        b.iter(|| {
            let mut parser = RequestParser::default();
            out.clear();
            let Ok(Status::Complete((Ok(negotiated), _))) =
                parser.feed_with(black_box(CHROMIUM), |head| head.accept(&config, &mut out))
            else {
                panic!("valid request")
            };
            black_box((negotiated, out.len()))
        })
    });
    g.bench_function("webwire via http::Request", |b| {
        b.iter(|| {
            let mut parser = RequestParser::default();
            let Ok(Status::Complete((request, _))) = parser.feed(black_box(CHROMIUM)) else {
                panic!("valid request")
            };
            let accepted = accept(&request, &config).expect("valid request");
            out.clear();
            accepted.write_response(&mut out);
            black_box(out.len())
        })
    });
    g.bench_function("SHA-1 accept key alone", |b| {
        b.iter(|| black_box(accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ=="))))
    });
    g.finish();
}

fn linear(c: &mut Criterion) {
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    let line = format!("X-Filler: {}\r\n", "f".repeat(2000));
    while head.len() + line.len() + 2 < 64 * 1024 {
        head.extend_from_slice(line.as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
    let mut g = c.benchmark_group("64 KiB request head");
    g.sample_size(10);
    g.bench_function("one shot", |b| {
        b.iter(|| {
            let mut p = RequestParser::new(limits);
            assert!(!p.feed(black_box(&head)).expect("valid").is_partial());
        })
    });
    g.bench_function("one byte at a time", |b| {
        b.iter(|| {
            let mut p = RequestParser::new(limits);
            for byte in head.chunks(1) {
                if let Status::Complete(_) = p.feed(black_box(byte)).expect("valid") {
                    break;
                }
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = w6, linear
}
criterion_main!(benches);
