//! Heap held by an idle server connection, measured with a counting
//! allocator: the published figure (README) is checked here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use webwire::random::SeededRandom;
use webwire::ws::{Config, Connection, Encoder, Event, Role, Transmit};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: a test-only wrapper around the system allocator that counts bytes;
// the library itself forbids unsafe code.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
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

    let before = LIVE.load(Ordering::SeqCst);
    let mut conns: Vec<Box<Connection<SeededRandom>>> = Vec::new();
    for _ in 0..1000 {
        let mut conn = Box::new(Connection::new(
            Role::Server,
            Config::default(),
            SeededRandom::new(0),
            now,
        ));
        // Some traffic first: echo a few messages, then go idle.
        conn.handle_data(now, &wire);
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
    let per_conn = (LIVE.load(Ordering::SeqCst) - before) as f64 / 1000.0;
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

    let before = LIVE.load(Ordering::SeqCst);
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
        conn.handle_data(now, one);
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
    let held = LIVE.load(Ordering::SeqCst) - before;
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

        let before = LIVE.load(Ordering::SeqCst);
        let mut conns = Vec::new();
        for _ in 0..20 {
            let mut conn = Box::new(Connection::new(
                Role::Server,
                Config::default().with_deflate(Some(params)),
                SeededRandom::new(0),
                now,
            ));
            conn.handle_data(now, &wire);
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
        (LIVE.load(Ordering::SeqCst) - before) as f64 / 20.0
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
