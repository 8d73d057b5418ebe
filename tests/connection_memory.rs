//! Heap held by an idle server connection, measured with a counting
//! allocator: the published figure (README) is checked here. Also the number
//! of allocations the handshake makes for hostile extension offers.
#![cfg(feature = "ws")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use webwire::random::SeededRandom;
use webwire::ws::{Config, Connection, Encoder, Event, Role, Transmit};

struct Counting;

thread_local! {
    /// Allocations (and reallocations) made by this thread: per thread, so
    /// tests running in parallel do not disturb each other's count.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes this thread allocated minus those it freed: per thread too, so
    /// that another test's allocations (or the harness's) never count.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: the slot may be gone while the thread is torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn count_bytes(delta: isize) {
    let _ = LIVE.try_with(|n| n.set(n.get() + delta));
}

/// Heap bytes held by this thread's allocations now.
fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Runs `f` and counts the allocations it made on this thread.
#[cfg_attr(not(feature = "deflate"), allow(dead_code))]
fn allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

// SAFETY: a test-only wrapper around the system allocator that counts bytes;
// the library itself forbids unsafe code.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        count_bytes(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_bytes(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        count_bytes(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The count is global: tests that measure take turns.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn idle_server_connection_holds_at_most_1_kib() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let mut wire = Vec::new();
    let mut client = Encoder::new(Role::Client, SeededRandom::new(1));
    client.encode_text("hello", &mut wire);
    client.encode_binary(&[7; 300], &mut wire);
    client.encode_ping(b"ping", &mut wire).unwrap();

    let before = live();
    let mut conns: Vec<Box<Connection<SeededRandom>>> = Vec::new();
    for _ in 0..1000 {
        let mut conn = Box::new(Connection::new(
            Role::Server,
            Config::default(),
            SeededRandom::new(0),
            now,
        ));
        // Some traffic first: echo a few messages, then go idle.
        assert_eq!(conn.handle_data(now, &wire), wire.len());
        while let Some(e) = conn.poll_event() {
            match e {
                Event::Text(t) => conn.send_text(&t).unwrap(),
                Event::Binary(b) => conn.send_binary(&b).unwrap(),
                _ => {}
            }
        }
        let mut out = Vec::new();
        while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
            out.clear();
        }
        drop(out);
        conns.push(conn);
    }
    let per_conn = (live() - before) as f64 / 1000.0;
    eprintln!(
        "idle server connection: {per_conn:.0} bytes of heap (size_of = {})",
        size_of::<Connection<SeededRandom>>()
    );
    assert!(per_conn <= 1024.0, "idle connection holds {per_conn} bytes");
    assert!(
        per_conn >= size_of::<Connection<SeededRandom>>() as f64,
        "the count must include the connection itself"
    );
}

/// A caller that reuses one `out` (as the tokio adapter does) exchanges
/// buffers with the connection; after a burst of large messages the idle
/// connection must not keep a large one.
#[test]
fn reused_send_buffer_is_not_pinned_after_a_burst() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let mut wire = Vec::new();
    let mut client = Encoder::new(Role::Client, SeededRandom::new(1));
    for _ in 0..3 {
        client.encode_binary(&vec![7; 1 << 20], &mut wire);
    }
    client.encode_text("small", &mut wire);
    client.encode_text("again", &mut wire);

    let before = live();
    let mut conn = Box::new(Connection::new(
        Role::Server,
        Config::default(),
        SeededRandom::new(0),
        now,
    ));
    let mut out = Vec::new();
    // One message at a time, `out` cleared and reused between them.
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let (one, tail) = rest.split_at(rest.len().min(1 << 16));
        rest = tail;
        assert_eq!(conn.handle_data(now, one), one.len());
        while let Some(e) = conn.poll_event() {
            match e {
                Event::Text(t) => conn.send_text(&t).unwrap(),
                Event::Binary(b) => conn.send_binary(&b).unwrap(),
                _ => {}
            }
            while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
                out.clear();
            }
        }
    }
    drop(out);
    let held = live() - before;
    assert!(
        held <= 2048 + webwire::ws::KEPT_SEND_BUFFER as isize,
        "idle connection holds {held} bytes after a burst"
    );
    assert!(
        held < 1 << 20,
        "a 1 MiB send buffer stayed pinned: {held} bytes"
    );
    drop(conn);
}

/// Heap of an idle server connection with permessage-deflate after some
/// traffic, for three parameter sets. Published in the README.
#[cfg(feature = "deflate")]
#[test]
fn idle_server_connection_with_deflate() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::parse_extensions;

    let now = Instant::now();
    let measure = |config: DeflateConfig| -> f64 {
        let offer = config.offer().to_string();
        let (params, _) = config
            .accept_offers(&parse_extensions(&offer).unwrap())
            .unwrap();
        // What a client would send: compressed messages.
        let mut client = Connection::new(
            Role::Client,
            Config::default().with_deflate(Some(params)),
            SeededRandom::new(1),
            now,
        );
        let text = "a message that is long enough to be compressed, ".repeat(8);
        client.send_text(&text).unwrap();
        let mut wire = Vec::new();
        while let Transmit::Bytes(_) = client.poll_transmit(&mut wire) {}
        assert_eq!(wire[0] & 0x40, 0x40, "compressed");

        let before = live();
        let mut conns = Vec::new();
        for _ in 0..20 {
            let mut conn = Box::new(Connection::new(
                Role::Server,
                Config::default().with_deflate(Some(params)),
                SeededRandom::new(0),
                now,
            ));
            assert_eq!(conn.handle_data(now, &wire), wire.len());
            while let Some(e) = conn.poll_event() {
                if let Event::Text(t) = e {
                    conn.send_text(&t).unwrap();
                }
            }
            let mut out = Vec::new();
            while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
                out.clear();
            }
            conns.push(conn);
        }
        (live() - before) as f64 / 20.0
    };
    let full = measure(DeflateConfig::default());
    let small = measure(
        DeflateConfig::default()
            .with_server_max_window_bits(9)
            .with_client_max_window_bits(9),
    );
    let released = measure(DeflateConfig::default().with_no_context_takeover(true));
    eprintln!(
        "idle server connection with deflate: window 15 {full:.0} B, window 9 {small:.0} B, no context takeover {released:.0} B"
    );
    // Without context takeover nothing is kept between messages.
    assert!(released <= 1024.0, "{released}");
    assert!(
        small < full,
        "smaller windows must cost less: {small} vs {full}"
    );
}

/// A 16 KiB `Sec-WebSocket-Extensions` of hostile offers costs the
/// server a small, fixed number of allocations on both paths, however many
/// offers it holds: offers of extensions the server does not support are
/// only checked, and only the first few permessage-deflate offers (with no
/// more parameters than permessage-deflate has) are looked at. The client
/// stops at the first offer it did not make.
#[cfg(feature = "deflate")]
#[test]
fn hostile_extension_offers_allocate_a_bounded_amount() {
    use webwire::Status;
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::{
        ClientConfig, ClientHandshake, HandshakeLimits, RequestParser, ServerConfig, accept,
    };

    const BOUND: u64 = 32;
    let config = ServerConfig::new().with_deflate(DeflateConfig::default());
    let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
    let hostile = [
        ("a,a,a", "a,".repeat(8 * 1024), true),
        ("a;b", "a; b, ".repeat(16 * 1024 / 6), true),
        (
            "permessage-deflate repeated",
            "permessage-deflate, ".repeat(16 * 1024 / 20),
            true,
        ),
        (
            "permessage-deflate with many parameters",
            format!("permessage-deflate{}", "; a".repeat(16 * 1024 / 3)),
            true,
        ),
        // Only the first few permessage-deflate offers are tried: the
        // valid one after hundreds of invalid ones is declined.
        (
            "invalid permessage-deflate offers",
            "permessage-deflate; server_max_window_bits=99, ".repeat(16 * 1024 / 46),
            false,
        ),
    ];
    for (what, offers, agreed) in &hostile {
        assert!(offers.len() >= 15 * 1024, "{what}: {} bytes", offers.len());
        let wire = format!(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {offers}\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
        );

        // In place: parse and answer.
        let mut parser = RequestParser::new(limits);
        let mut out = Vec::with_capacity(4096);
        let (outcome, n_in_place) = allocations(|| {
            parser.feed_with(wire.as_bytes(), |head| head.accept(&config, &mut out))
        });
        let Ok(Status::Complete((Ok(in_place), _))) = outcome else {
            panic!("{what}: {outcome:?}")
        };

        // The `http` path: the answer alone (building the request copies
        // the head once, whatever it holds).
        let mut parser = RequestParser::new(limits);
        let parsed = parser.feed(wire.as_bytes());
        let Ok(Status::Complete((request, _))) = parsed else {
            panic!("{what}: {parsed:?}")
        };
        let (accepted, n_http) = allocations(|| accept(&request, &config));
        let accepted = accepted.unwrap();
        assert_eq!(accepted.deflate, in_place.deflate, "{what}");
        assert_eq!(accepted.deflate.is_some(), *agreed, "{what}");

        // Client: a server that answers with these offers.
        let client = ClientHandshake::with_key(
            "ws://example.com/chat",
            ClientConfig::new().with_deflate(DeflateConfig::default()),
            *b"the sample nonce",
        )
        .unwrap();
        let response = http::Response::builder()
            .status(101)
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .header("sec-websocket-extensions", offers.as_str())
            .body(())
            .unwrap();
        let (checked, n_client) = allocations(|| client.check_response(&response));
        assert!(checked.is_err(), "{what}");

        eprintln!(
            "{what}: {n_in_place} allocations in place, {n_http} via http, {n_client} in the client"
        );
        assert!(
            n_in_place < BOUND,
            "{what}: {n_in_place} allocations in place"
        );
        assert!(n_http < BOUND, "{what}: {n_http} allocations via http");
        assert!(
            n_client < BOUND,
            "{what}: {n_client} allocations in the client"
        );
    }
}
