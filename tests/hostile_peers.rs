//! Bounded under hostile peers and careless configuration: memory a peer
//! can pin per connection (counting allocator with a peak), queues that stop
//! growing, and settings that used to panic. The same peers against the
//! example servers, as processes: `tests/hostile_examples.rs`.
#![cfg(feature = "ws")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use webwire::random::SeededRandom;
use webwire::ws::{
    CloseCode, Config, Connection, Decoder, Encoder, Event, IN_PLACE_RESERVE, Initiator, Limits,
    OpCode, Role, SendError, State, Transmit,
};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);
static REALLOCS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: a test-only wrapper around the system allocator that counts bytes;
// the library itself forbids unsafe code.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        REALLOCS.fetch_add(1, Ordering::SeqCst);
        grew(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The count is global: tests that measure take turns.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The budget per hostile connection (issue: under 64 KiB in every case).
const BUDGET: isize = 64 * 1024;

fn server(config: Config) -> Connection<SeededRandom> {
    Connection::new(Role::Server, config, SeededRandom::new(0), Instant::now())
}

/// A masked frame header announcing `len` payload bytes, without the payload.
fn masked_header(first_byte: u8, len: u64) -> Vec<u8> {
    let mut h = vec![first_byte, 0x80 | 127];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[1, 2, 3, 4]);
    h
}

/// 1,000 connections each announce a 16 MiB frame (binary, text, or the
/// first fragment of a message) and send one byte: nothing is reserved from
/// the announced length.
#[test]
fn announced_big_frames_pin_nothing() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let before = LIVE.load(Ordering::SeqCst);
    let mut conns = Vec::new();
    for i in 0..1000 {
        let first = [0x82, 0x81, 0x02][i % 3]; // binary, text, binary without FIN
        let mut wire = masked_header(first, 16 << 20);
        wire.push(b'a' ^ 1);
        let mut conn = Box::new(server(Config::default()));
        assert_eq!(conn.handle_data(now, &wire), wire.len());
        assert_eq!(conn.poll_event(), None);
        conns.push(conn);
        let held = LIVE.load(Ordering::SeqCst) - before;
        assert!(
            held <= BUDGET * (i as isize + 1),
            "{} connections hold {held} bytes",
            i + 1
        );
    }
    let per_conn = (LIVE.load(Ordering::SeqCst) - before) / 1000;
    eprintln!("a connection that announced a 16 MiB frame and sent 1 byte: {per_conn} B of heap");
    assert!(per_conn < 4096, "{per_conn} bytes per connection");
}

/// `decode_buf` keeps a single-frame binary message in the caller's buffer:
/// it reserves room for what may arrive next, not the announced 16 MiB.
#[test]
fn decode_buf_reserves_a_bounded_amount() {
    let mut dec = Decoder::new(Role::Server);
    let mut buf = BytesMut::from(&masked_header(0x82, 16 << 20)[..]);
    buf.extend_from_slice(b"x");
    assert_eq!(dec.decode_buf(&mut buf), Ok(None));
    assert!(
        buf.capacity() <= IN_PLACE_RESERVE + 64,
        "reserved {} bytes",
        buf.capacity()
    );
}

/// A message in fragments grows to its size and no further: continuation
/// frames cannot double its buffer past the message limit.
#[test]
fn fragments_never_grow_a_message_past_its_limit() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const LIMIT: usize = 1 << 20;
    let mut wire = Vec::new();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(1));
    let first = vec![7u8; 600 << 10];
    let rest = vec![7u8; LIMIT - first.len()];
    peer.encode_frame(false, 0, OpCode::Binary, &first, &mut wire);
    peer.encode_frame(true, 0, OpCode::Continuation, &rest, &mut wire);
    let limits = Limits::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT);
    let mut conn = server(Config::default().with_limits(limits));
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    // As a socket would deliver it: 16 KiB at a time.
    for piece in wire.chunks(16 << 10) {
        assert_eq!(conn.handle_data(Instant::now(), piece), piece.len());
    }
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let Some(Event::Binary(message)) = conn.poll_event() else {
        panic!("no message");
    };
    assert_eq!(message.len(), LIMIT);
    eprintln!("peak heap while receiving a 1 MiB message in two fragments: {peak} B");
    assert!(
        peak <= LIMIT as isize + 16 * 1024,
        "peak {peak} bytes for a {LIMIT}-byte message"
    );
}

/// A read full of empty frames stops at the event cap; the rest is taken
/// once the events are drained, and every frame is delivered.
#[test]
fn a_flood_of_tiny_frames_is_taken_in_bounded_steps() {
    let mut wire = Vec::new();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(1));
    let mut count = 0;
    while wire.len() < 64 * 1024 {
        peer.encode_binary(&[], &mut wire);
        count += 1;
    }
    let mut conn = server(Config::default());
    let mut input = &wire[..];
    let (mut events, mut rounds) = (0, 0);
    while !input.is_empty() {
        let used = conn.handle_data(Instant::now(), input);
        input = &input[used..];
        assert!(!input.is_empty() || !conn.is_input_blocked());
        let mut queued = 0;
        while let Some(event) = conn.poll_event() {
            assert_eq!(event, Event::Binary(Default::default()));
            queued += 1;
        }
        assert!(queued <= webwire::ws::DEFAULT_MAX_QUEUED_EVENTS, "{queued}");
        events += queued;
        rounds += 1;
    }
    assert_eq!(events, count);
    assert!(rounds > 1, "the cap never applied");
    assert!(!conn.is_input_blocked());
}

/// A message in 1-byte continuation frames, never finished: text (its
/// characters split between frames) or binary.
fn one_byte_fragments(text: bool, fragments: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(1));
    let payload = if text {
        "é".repeat(fragments.div_ceil(2)).into_bytes()
    } else {
        vec![0xAB; fragments]
    };
    for (i, byte) in payload[..fragments].iter().enumerate() {
        let opcode = match (i, text) {
            (0, true) => OpCode::Text,
            (0, false) => OpCode::Binary,
            _ => OpCode::Continuation,
        };
        peer.encode_frame(false, 0, opcode, &[*byte], &mut wire);
    }
    wire
}

/// Connections each receive a message in 1-byte continuation frames, text
/// and binary, interleaved in 16 KiB reads as a server with many peers sees
/// them, never finished. Each holds the message's bytes and nothing per
/// fragment.
#[test]
fn one_byte_fragment_floods_hold_only_what_arrived() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const CONNS: usize = 64;
    const FRAGMENTS: usize = 8192;
    let wires = [
        one_byte_fragments(true, FRAGMENTS),
        one_byte_fragments(false, FRAGMENTS),
    ];
    let now = Instant::now();
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut conns: Vec<_> = (0..CONNS)
        .map(|_| Box::new(server(Config::default())))
        .collect();
    for start in (0..wires[0].len()).step_by(16 << 10) {
        for (i, conn) in conns.iter_mut().enumerate() {
            let wire = &wires[i % 2];
            let piece = &wire[start..wire.len().min(start + (16 << 10))];
            assert_eq!(conn.handle_data(now, piece), piece.len());
            assert_eq!(conn.poll_event(), None);
        }
    }
    let held = (LIVE.load(Ordering::SeqCst) - before) / CONNS as isize;
    let peak = (PEAK.load(Ordering::SeqCst) - before) / CONNS as isize;
    eprintln!(
        "{FRAGMENTS} 1-byte fragments ({} KiB on the wire): {held} B of heap per connection \
         (peak {peak} B)",
        wires[0].len() / 1024
    );
    assert!(held < BUDGET, "{held} bytes per connection");
    // The message's bytes and the connection; nothing per fragment.
    assert!(
        held <= (FRAGMENTS + 4096) as isize,
        "{held} bytes per connection for a {FRAGMENTS}-byte message"
    );
    drop(conns);

    // How often the message buffer grows: one binary message alone.
    let mut conn = server(Config::default());
    let reallocs = REALLOCS.load(Ordering::SeqCst);
    for piece in wires[1].chunks(16 << 10) {
        assert_eq!(conn.handle_data(now, piece), piece.len());
    }
    let reallocs = REALLOCS.load(Ordering::SeqCst) - reallocs;
    eprintln!("{FRAGMENTS} 1-byte binary fragments: {reallocs} reallocations");
    // Growth doubles with arrivals: a logarithmic number of reallocations
    // (about 13 for 8,192 fragments), not one per fragment. Parallel tests
    // may realloc too, hence the slack.
    assert!(reallocs <= 64, "{reallocs} reallocations for one message");
}

/// Deflate bombs on many connections at once, interleaved in small reads so
/// that all of them are inflating together: each fails with 1009 having
/// inflated about the message limit, and a failed connection keeps none of
/// what it inflated.
#[cfg(feature = "deflate")]
#[test]
fn deflate_bombs_on_many_connections_release_what_they_inflated() {
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::parse_extensions;
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const CONNS: usize = 32;
    const LIMIT: usize = 1 << 20;
    // 8 MiB of zeros, about 8 KiB compressed.
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut compressed = Vec::with_capacity(64 << 10);
    compress
        .compress_vec(
            &vec![0u8; 8 << 20],
            &mut compressed,
            flate2::FlushCompress::Sync,
        )
        .unwrap();
    let mut wire = vec![0xc2, 0x80 | 126];
    wire.extend_from_slice(&(compressed.len() as u16).to_be_bytes());
    wire.extend_from_slice(&[0; 4]); // a zero key masks nothing
    wire.extend_from_slice(&compressed);
    let config = DeflateConfig::default();
    let (params, _) = config
        .accept_offers(&parse_extensions(&config.offer().to_string()).unwrap())
        .unwrap();
    let limits = Limits::default().with_max_message_size(LIMIT);
    let config = Config::default()
        .with_deflate(Some(params))
        .with_limits(limits);
    let now = Instant::now();
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut conns: Vec<_> = (0..CONNS).map(|_| Box::new(server(config))).collect();
    // 256 compressed bytes at a time inflate to about 256 KiB: several
    // rounds before any connection reaches the limit.
    let mut failed = vec![false; CONNS];
    for piece in wire.chunks(256) {
        for (conn, failed) in conns.iter_mut().zip(&mut failed) {
            if !*failed {
                assert_eq!(conn.handle_data(now, piece), piece.len());
                *failed = conn.poll_event().is_some();
            }
        }
    }
    let peak = (PEAK.load(Ordering::SeqCst) - before) / CONNS as isize;
    let held = (LIVE.load(Ordering::SeqCst) - before) / CONNS as isize;
    eprintln!(
        "{CONNS} deflate bombs at once ({} B each, limit {LIMIT} B): peak {peak} B per \
         connection, {held} B held per failed connection",
        wire.len()
    );
    let mut out = Vec::new();
    for (conn, failed) in conns.iter_mut().zip(&failed) {
        assert!(failed, "a bomb was not refused");
        assert_eq!(conn.poll_transmit(&mut out), Transmit::Bytes(4));
        assert_eq!(out, [0x88, 0x02, 0x03, 0xF1], "close frame with 1009");
        out.clear();
    }
    assert!(
        peak <= (LIMIT + LIMIT / 2) as isize + 256 * 1024,
        "peak {peak} bytes per connection, limit {LIMIT}"
    );
    assert!(held < BUDGET, "{held} bytes held per failed connection");
    // A failed decoder frees its inflater's window.
    assert!(held <= 2048, "{held} bytes held per failed connection");
}

/// Upgrade requests arriving one byte at a time on 1,000 connections hold
/// what arrived; one that sends a 16 KiB head (the default limit) and never
/// ends it holds at most about that.
#[test]
fn slow_handshakes_hold_what_arrived() {
    use webwire::ws::handshake::{HandshakeLimits, RequestParser};
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    const CONNS: usize = 1000;
    let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut parsers: Vec<_> = (0..CONNS)
        .map(|_| Box::new(RequestParser::new(HandshakeLimits::default())))
        .collect();
    // All but the last byte, one byte per connection per round.
    for byte in request[..request.len() - 1].chunks(1) {
        for parser in &mut parsers {
            assert!(matches!(parser.feed(byte), Ok(webwire::Status::Partial)));
        }
    }
    let held = (LIVE.load(Ordering::SeqCst) - before) / CONNS as isize;
    let peak = (PEAK.load(Ordering::SeqCst) - before) / CONNS as isize;
    eprintln!(
        "a {}-byte upgrade request but its last byte, 1 byte at a time: {held} B of heap \
         per connection (peak {peak} B)",
        request.len()
    );
    assert!(held < BUDGET, "{held} bytes per connection");
    assert!(held <= 1024, "{held} bytes per connection");
    // Every one completes with its last byte.
    for parser in &mut parsers {
        assert!(matches!(
            parser.feed(&request[request.len() - 1..]),
            Ok(webwire::Status::Complete(_))
        ));
    }
    drop(parsers);

    // Slowloris with a big head: header lines up to just under the limit,
    // 1 KiB at a time, never the blank line that ends the head.
    const BIG: usize = 100;
    let mut head = request[..request.len() - 2].to_vec();
    while head.len() < HandshakeLimits::default().max_head_size() - 300 {
        head.extend_from_slice(b"X-Pad: ");
        head.extend_from_slice(&[b'a'; 200]);
        head.extend_from_slice(b"\r\n");
    }
    let before = LIVE.load(Ordering::SeqCst);
    let mut parsers: Vec<_> = (0..BIG)
        .map(|_| Box::new(RequestParser::new(HandshakeLimits::default())))
        .collect();
    for piece in head.chunks(1024) {
        for parser in &mut parsers {
            assert!(matches!(parser.feed(piece), Ok(webwire::Status::Partial)));
        }
    }
    let held = (LIVE.load(Ordering::SeqCst) - before) / BIG as isize;
    eprintln!(
        "a {}-byte head never ended: {held} B of heap per connection",
        head.len()
    );
    assert!(held < BUDGET, "{held} bytes per connection");
}

/// A peer that pings and never reads: at most one pong is pending, and
/// input stops until it is handed out.
#[test]
fn pings_without_reading_queue_one_pong() {
    let mut wire = Vec::new();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(1));
    for i in 0..1000u32 {
        peer.encode_ping(&[0xAB; 125][..(i % 126) as usize], &mut wire)
            .unwrap();
    }
    let mut conn = server(Config::default());
    let used = conn.handle_data(Instant::now(), &wire);
    assert!(used < wire.len());
    while conn.poll_event().is_some() {}
    assert!(conn.is_input_blocked());
    // The driver cannot write (the peer does not read): nothing more is taken.
    assert_eq!(conn.handle_data(Instant::now(), &wire[used..]), 0);
    assert!(
        conn.buffered_amount() <= 2 + 125,
        "{}",
        conn.buffered_amount()
    );
    // Once written, the next ping is answered: every ping gets its pong.
    let (mut input, mut out, mut pongs) = (&wire[..], Vec::new(), 0);
    let mut conn = server(Config::default());
    while !input.is_empty() {
        let used = conn.handle_data(Instant::now(), input);
        input = &input[used..];
        while conn.poll_event().is_some() {}
        if let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
            pongs += 1;
            assert_eq!(out[0], 0x8A);
            out.clear();
        }
    }
    assert_eq!(pongs, 1000);
}

/// The send buffer limit counts frame headers, not only payload bytes.
#[test]
fn send_buffer_counts_wire_bytes() {
    let mut conn = server(Config::default().with_max_send_buffer(100));
    conn.send_binary(&[0; 95]).unwrap(); // 97 bytes on the wire
    assert_eq!(conn.buffered_amount(), 97);
    assert_eq!(
        conn.send_binary(&[0; 2]),
        Err(SendError::BufferFull {
            buffered: 97,
            limit: 100
        })
    );
    // Fragments each carry a header: 10 one-byte frames are 30 bytes.
    let mut conn = server(
        Config::default()
            .with_max_send_buffer(29)
            .with_fragment_size(Some(1)),
    );
    assert!(matches!(
        conn.send_text("0123456789"),
        Err(SendError::BufferFull { .. })
    ));
    let mut conn = server(
        Config::default()
            .with_max_send_buffer(30)
            .with_fragment_size(Some(1)),
    );
    conn.send_text("0123456789").unwrap();
    assert_eq!(conn.buffered_amount(), 30);
    // A client's frames carry a mask too.
    let mut client = Connection::new(
        Role::Client,
        Config::default().with_max_send_buffer(10),
        SeededRandom::new(1),
        Instant::now(),
    );
    assert!(client.send_binary(&[0; 5]).is_err());
    client.send_binary(&[0; 4]).unwrap();
    assert_eq!(client.buffered_amount(), 10);
}

/// Timeouts too long for an `Instant`, and limits at `usize::MAX`, mean
/// "never" and "no limit" instead of an overflow panic.
#[test]
fn extreme_configuration_does_not_panic() {
    let now = Instant::now();
    let config = Config::default()
        .with_ping_interval(Some(Duration::MAX))
        .with_idle_timeout(Some(Duration::MAX))
        .with_close_timeout(Duration::MAX)
        .with_max_send_buffer(usize::MAX)
        .with_max_queued_events(0)
        .with_fragment_size(Some(0))
        .with_limits(
            Limits::default()
                .with_max_frame_size(usize::MAX)
                .with_max_message_size(usize::MAX),
        );
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, config, SeededRandom::new(3), now);
        assert_eq!(conn.poll_timeout(), None);
        conn.send_text("hi").unwrap();
        let mut peer = Encoder::new(
            if role == Role::Server {
                Role::Client
            } else {
                Role::Server
            },
            SeededRandom::new(4),
        );
        let mut wire = Vec::new();
        peer.encode_text("one", &mut wire);
        peer.encode_text("two", &mut wire);
        let mut input = &wire[..];
        let mut got = Vec::new();
        while !input.is_empty() {
            let used = conn.handle_data(now, input);
            input = &input[used..];
            got.extend(std::iter::from_fn(|| conn.poll_event()));
        }
        assert_eq!(got, [Event::Text("one".into()), Event::Text("two".into())]);
        conn.close(now, CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(conn.poll_timeout(), None);
        conn.handle_timeout(now + Duration::from_secs(1 << 40));
        assert_eq!(conn.state(), State::ClosingSent);
    }
}

/// The peer's close frame arrived and is queued; the application calls
/// `close` before polling it. The peer started closing.
#[test]
fn close_after_an_unpolled_peer_close_reports_the_peer() {
    let now = Instant::now();
    for role in [Role::Server, Role::Client] {
        let mut conn = Connection::new(role, Config::default(), SeededRandom::new(3), now);
        let peer_role = if role == Role::Server {
            Role::Client
        } else {
            Role::Server
        };
        let mut wire = Vec::new();
        Encoder::new(peer_role, SeededRandom::new(4))
            .encode_close(
                Some(&webwire::ws::CloseFrame::new(CloseCode::GOING_AWAY, "bye")),
                &mut wire,
            )
            .unwrap();
        assert_eq!(conn.handle_data(now, &wire), wire.len());
        conn.close(now, CloseCode::NORMAL, "").unwrap();
        assert_eq!(
            conn.poll_event(),
            Some(Event::Closed {
                code: CloseCode::GOING_AWAY,
                reason: "bye".into(),
                initiator: Initiator::Peer,
            })
        );
    }
    // Without a queued peer close, `close` is ours.
    let mut conn = server(Config::default());
    conn.close(now, CloseCode::NORMAL, "").unwrap();
    let mut wire = Vec::new();
    Encoder::new(Role::Client, SeededRandom::new(4))
        .encode_close(None, &mut wire)
        .unwrap();
    assert_eq!(conn.handle_data(now, &wire), wire.len());
    assert!(matches!(
        conn.poll_event(),
        Some(Event::Closed {
            initiator: Initiator::Local,
            ..
        })
    ));
}

/// With the message limit at `usize::MAX`, inflating used to overflow
/// `max + slack`.
#[cfg(feature = "deflate")]
#[test]
fn deflate_with_unbounded_limits_does_not_overflow() {
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::parse_extensions;
    let config = DeflateConfig::default().with_threshold(0);
    let (params, _) = config
        .accept_offers(&parse_extensions(&config.offer().to_string()).unwrap())
        .unwrap();
    let unbounded = Limits::default()
        .with_max_frame_size(usize::MAX)
        .with_max_message_size(usize::MAX);
    let now = Instant::now();
    let mut client = Connection::new(
        Role::Client,
        Config::default().with_deflate(Some(params)),
        SeededRandom::new(1),
        now,
    );
    let mut server = server(
        Config::default()
            .with_deflate(Some(params))
            .with_limits(unbounded),
    );
    let text = "compress me, compress me, compress me ".repeat(20);
    client.send_text(&text).unwrap();
    client.send_binary(text.as_bytes()).unwrap();
    let mut wire = Vec::new();
    while let Transmit::Bytes(_) = client.poll_transmit(&mut wire) {}
    assert_eq!(wire[0] & 0x40, 0x40, "compressed");
    assert_eq!(server.handle_data(now, &wire), wire.len());
    assert_eq!(server.poll_event(), Some(Event::Text(text.clone())));
    assert_eq!(
        server.poll_event(),
        Some(Event::Binary(text.into_bytes().into()))
    );
}
