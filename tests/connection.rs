//! An in-memory client/server pair with virtual time: every scenario runs
//! with the bytes delivered whole, 1 byte at a time and in 7-byte pieces.
#![cfg(feature = "ws")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use webwire::random::SeededRandom;
use webwire::ws::{
    CloseCode, Config, Connection, ConnectionError, Event, Initiator, ProtocolError, Role,
    SendError, State, Transmit,
};

struct Side {
    conn: Connection<SeededRandom>,
    events: Vec<Event>,
    /// Bytes delivered and not yet taken (the connection stops taking input
    /// while events or a pong wait).
    inbox: Vec<u8>,
    shut: bool,
    eof_delivered: bool,
}

struct Pair {
    client: Side,
    server: Side,
    now: Instant,
    split: usize,
    /// The network delivers nothing while false.
    connected: bool,
}

impl Pair {
    fn new(split: usize, client: Config, server: Config) -> Self {
        let now = Instant::now();
        let side = |role, config, seed| Side {
            conn: Connection::new(role, config, SeededRandom::new(seed), now),
            events: Vec::new(),
            inbox: Vec::new(),
            shut: false,
            eof_delivered: false,
        };
        Pair {
            client: side(Role::Client, client, 1),
            server: side(Role::Server, server, 2),
            now,
            split,
            connected: true,
        }
    }

    fn default(split: usize) -> Self {
        Self::new(split, Config::default(), Config::default())
    }

    /// Moves bytes and shutdowns until nothing changes; events are collected.
    fn pump(&mut self) {
        self.pump_with(|_, _| {});
    }

    /// Like `pump`, with an application callback per event (it may send).
    fn pump_with(&mut self, mut app: impl FnMut(&mut Connection<SeededRandom>, &Event)) {
        for _ in 0..10_000 {
            let mut progress = false;
            for from_client in [true, false] {
                let (from, to) = if from_client {
                    (&mut self.client, &mut self.server)
                } else {
                    (&mut self.server, &mut self.client)
                };
                // What arrived earlier, in pieces of `split`, until the
                // connection stops taking input.
                while !from.inbox.is_empty() {
                    let n = from.inbox.len().min(self.split);
                    let used = from.conn.handle_data(self.now, &from.inbox[..n]);
                    from.inbox.drain(..used);
                    progress |= used > 0;
                    if used < n {
                        break;
                    }
                }
                while let Some(e) = from.conn.poll_event() {
                    app(&mut from.conn, &e);
                    from.events.push(e);
                    progress = true;
                }
                if !self.connected {
                    continue;
                }
                let mut out = Vec::new();
                match from.conn.poll_transmit(&mut out) {
                    Transmit::Bytes(_) => {
                        to.inbox.extend_from_slice(&out);
                        progress = true;
                    }
                    Transmit::Shutdown if !from.shut => {
                        from.shut = true;
                        progress = true;
                    }
                    _ => {}
                }
                if from.shut && !to.eof_delivered && to.inbox.is_empty() {
                    to.eof_delivered = true;
                    to.conn.handle_eof();
                    progress = true;
                }
            }
            if !progress {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        for side in [&mut self.client, &mut self.server] {
            if side.conn.poll_timeout().is_some_and(|t| t <= self.now) {
                side.conn.handle_timeout(self.now);
            }
        }
    }
}

const SPLITS: [usize; 3] = [usize::MAX, 1, 7];

#[test]
fn messages_both_ways() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        p.client.conn.send_text("hello").unwrap();
        p.client.conn.send_binary(&[1, 2, 3]).unwrap();
        p.server.conn.send_text("héllo back").unwrap();
        p.client.conn.send_ping(b"p").unwrap();
        p.pump();
        assert_eq!(
            p.server.events,
            [
                Event::Text("hello".into()),
                Event::Binary(Bytes::from_static(&[1, 2, 3])),
                Event::Ping(Bytes::from_static(b"p"))
            ]
        );
        // The server answered the ping by itself.
        assert_eq!(
            p.client.events,
            [
                Event::Text("héllo back".into()),
                Event::Pong(Bytes::from_static(b"p"))
            ]
        );
    }
}

#[test]
fn fragmented_sends_arrive_whole() {
    for split in SPLITS {
        let mut p = Pair::new(
            split,
            Config::default().with_fragment_size(Some(3)),
            Config::default(),
        );
        p.client.conn.send_text("a longer message").unwrap();
        p.pump();
        assert_eq!(p.server.events, [Event::Text("a longer message".into())]);
    }
}

#[test]
fn close_started_by_the_client() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        p.client
            .conn
            .close(p.now, CloseCode::NORMAL, "bye")
            .unwrap();
        assert_eq!(p.client.conn.state(), State::ClosingSent);
        assert_eq!(p.client.conn.send_text("late"), Err(SendError::Closed));
        // Nor a control frame: our close frame is the last thing we send.
        assert_eq!(p.client.conn.send_ping(b"late"), Err(SendError::Closed));
        assert_eq!(p.client.conn.send_pong(b"late"), Err(SendError::Closed));
        p.pump();
        let closed = |initiator| Event::Closed {
            code: CloseCode::NORMAL,
            reason: "bye".into(),
            initiator,
        };
        assert_eq!(p.server.events, [closed(Initiator::Peer)]);
        assert_eq!(p.client.events, [closed(Initiator::Local)]);
        // The server ends the transport; the client then does too.
        assert!(p.server.shut && p.client.shut);
        assert_eq!(
            (p.client.conn.state(), p.server.conn.state()),
            (State::Closed, State::Closed)
        );
        assert_eq!(p.client.conn.poll_timeout(), None);
    }
}

#[test]
fn close_started_by_the_server_without_a_code() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        p.server
            .conn
            .close(p.now, CloseCode::GOING_AWAY, "")
            .unwrap();
        p.pump();
        assert_eq!(
            p.client.events,
            [Event::Closed {
                code: CloseCode::GOING_AWAY,
                reason: String::new(),
                initiator: Initiator::Peer
            }]
        );
        assert_eq!(
            p.server.events,
            [Event::Closed {
                code: CloseCode::GOING_AWAY,
                reason: String::new(),
                initiator: Initiator::Local
            }]
        );
        assert!(p.server.shut && p.client.shut);
    }
}

#[test]
fn simultaneous_close() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        p.client.conn.close(p.now, CloseCode::NORMAL, "c").unwrap();
        p.server.conn.close(p.now, CloseCode(4000), "s").unwrap();
        p.pump();
        assert_eq!(
            p.client.events,
            [Event::Closed {
                code: CloseCode(4000),
                reason: "s".into(),
                initiator: Initiator::Local
            }]
        );
        assert_eq!(
            p.server.events,
            [Event::Closed {
                code: CloseCode::NORMAL,
                reason: "c".into(),
                initiator: Initiator::Local
            }]
        );
        assert!(p.server.shut && p.client.shut);
    }
}

#[test]
fn close_timeout_when_the_peer_never_answers() {
    let mut p = Pair::default(usize::MAX);
    p.client.conn.close(p.now, CloseCode::NORMAL, "").unwrap();
    p.connected = false;
    assert_eq!(
        p.client.conn.poll_timeout(),
        Some(p.now + Duration::from_secs(5))
    );
    p.advance(Duration::from_secs(4));
    p.pump();
    assert!(p.client.events.is_empty());
    p.advance(Duration::from_secs(1));
    p.pump();
    assert_eq!(
        p.client.events,
        [Event::Failed(ConnectionError::CloseTimeout)]
    );
    let mut out = Vec::new();
    assert!(matches!(
        p.client.conn.poll_transmit(&mut out),
        Transmit::Bytes(_)
    ));
    assert_eq!(p.client.conn.poll_transmit(&mut out), Transmit::Shutdown);
}

#[test]
fn keepalive_pings_keep_a_live_peer_open() {
    for split in SPLITS {
        let config = Config::default()
            .with_ping_interval(Some(Duration::from_secs(10)))
            .with_idle_timeout(Some(Duration::from_secs(25)));
        let mut p = Pair::new(split, config, Config::default());
        for _ in 0..10 {
            p.advance(Duration::from_secs(10));
            p.pump();
        }
        // Ten pings, ten pongs, and the connection is still open.
        let pongs = p
            .client
            .events
            .iter()
            .filter(|e| matches!(e, Event::Pong(_)))
            .count();
        assert_eq!(pongs, 10);
        assert_eq!(p.client.conn.state(), State::Open);
    }
}

#[test]
fn idle_timeout_when_the_peer_is_gone() {
    let config = Config::default()
        .with_ping_interval(Some(Duration::from_secs(10)))
        .with_idle_timeout(Some(Duration::from_secs(25)));
    let mut p = Pair::new(1, config, Config::default());
    p.connected = false;
    for _ in 0..2 {
        p.advance(Duration::from_secs(10));
        p.pump();
    }
    assert_eq!(p.client.conn.state(), State::Open);
    p.advance(Duration::from_secs(5));
    p.pump();
    assert_eq!(
        p.client.events,
        [Event::Failed(ConnectionError::IdleTimeout)]
    );
    assert_eq!(p.client.conn.state(), State::Closed);
    assert_eq!(p.client.conn.send_text("x"), Err(SendError::Closed));
}

#[test]
fn backpressure_is_bounded_and_typed() {
    let mut p = Pair::new(
        usize::MAX,
        Config::default().with_max_send_buffer(1000),
        Config::default(),
    );
    p.client.conn.send_binary(&[0; 600]).unwrap();
    assert!(p.client.conn.buffered_amount() >= 600);
    let err = p.client.conn.send_binary(&[0; 600]).unwrap_err();
    assert!(
        matches!(err, SendError::BufferFull { limit: 1000, .. }),
        "{err:?}"
    );
    p.pump();
    assert_eq!(p.client.conn.buffered_amount(), 0);
    p.client.conn.send_binary(&[0; 600]).unwrap();
    p.pump();
    assert_eq!(p.server.events.len(), 2);
}

#[test]
fn protocol_error_fails_with_its_code_after_earlier_replies() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        // A valid message and a frame with a reserved opcode in one read.
        let mut wire = Vec::new();
        let mut enc = webwire::ws::Encoder::new(Role::Client, SeededRandom::new(3));
        enc.encode_text("first", &mut wire);
        enc.encode_frame(true, 0, webwire::ws::OpCode::Binary, b"x", &mut wire);
        let bad = wire.len() - 7; // the second frame's first byte
        wire[bad] = 0x83;
        p.server.inbox.extend_from_slice(&wire);
        // The application echoes; the echo goes out before the close frame.
        p.pump_with(|conn, e| {
            if let Event::Text(t) = e {
                conn.send_text(t).unwrap();
            }
        });
        assert_eq!(
            p.server.events,
            [
                Event::Text("first".into()),
                Event::Failed(ConnectionError::Protocol(ProtocolError::ReservedOpcode(3)))
            ]
        );
        assert_eq!(
            p.client.events,
            [
                Event::Text("first".into()),
                Event::Closed {
                    code: CloseCode::PROTOCOL_ERROR,
                    reason: String::new(),
                    initiator: Initiator::Peer
                }
            ]
        );
        assert!(p.server.shut);
    }
}

#[test]
fn eof_without_close_is_abnormal() {
    let mut p = Pair::default(usize::MAX);
    p.server.conn.handle_eof();
    p.pump();
    assert_eq!(
        p.server.events,
        [Event::Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            initiator: Initiator::Peer
        }]
    );
    assert_eq!(p.server.conn.send_text("x"), Err(SendError::Closed));
}

#[test]
fn invalid_close_commands() {
    let mut p = Pair::default(usize::MAX);
    assert!(matches!(
        p.client.conn.close(p.now, CloseCode::ABNORMAL, ""),
        Err(SendError::Encode(_))
    ));
    assert!(matches!(
        p.client
            .conn
            .close(p.now, CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::Encode(_))
    ));
    assert!(matches!(
        p.client.conn.send_ping(&[0; 126]),
        Err(SendError::Encode(_))
    ));
    assert_eq!(p.client.conn.state(), State::Open);
}

/// Over HTTP/2 and HTTP/3 a reset stream is a failure with its error code:
/// the messages before it are still delivered, nothing more is written
/// (queued bytes are dropped), and sending is over.
#[test]
fn stream_reset_fails_after_earlier_messages() {
    let mut p = Pair::default(usize::MAX);
    p.client.conn.send_text("a").unwrap();
    p.client.conn.send_binary(b"b").unwrap();
    let mut wire = Vec::new();
    while let Transmit::Bytes(_) = p.client.conn.poll_transmit(&mut wire) {}
    assert_eq!(p.server.conn.handle_data(p.now, &wire), wire.len());
    p.server.conn.send_text("queued reply").unwrap();
    p.server.conn.handle_stream_reset(0x8);
    let events: Vec<_> = std::iter::from_fn(|| p.server.conn.poll_event()).collect();
    assert_eq!(
        events,
        [
            Event::Text("a".into()),
            Event::Binary(Bytes::from_static(b"b")),
            Event::Failed(ConnectionError::StreamReset(0x8)),
        ]
    );
    assert_eq!(p.server.conn.state(), State::Closed);
    let mut out = Vec::new();
    assert_eq!(p.server.conn.poll_transmit(&mut out), Transmit::Shutdown);
    assert!(out.is_empty());
    assert_eq!(p.server.conn.send_text("x"), Err(SendError::Closed));
    assert_eq!(p.server.conn.poll_timeout(), None);
    // Input after the reset is ignored.
    assert_eq!(p.server.conn.handle_data(p.now, &wire), wire.len());
    assert_eq!(p.server.conn.poll_event(), None);
}

/// A peer's close frame the application has not polled yet cannot be
/// answered once the stream is reset: the reset is what it sees.
#[test]
fn stream_reset_drops_an_unanswered_close() {
    let mut p = Pair::default(usize::MAX);
    p.client
        .conn
        .close(p.now, CloseCode::NORMAL, "bye")
        .unwrap();
    let mut wire = Vec::new();
    while let Transmit::Bytes(_) = p.client.conn.poll_transmit(&mut wire) {}
    assert_eq!(p.server.conn.handle_data(p.now, &wire), wire.len());
    p.server.conn.handle_stream_reset(0x0);
    assert_eq!(
        p.server.conn.poll_event(),
        Some(Event::Failed(ConnectionError::StreamReset(0)))
    );
    assert_eq!(p.server.conn.poll_event(), None);
    assert_eq!(
        p.server.conn.poll_transmit(&mut Vec::new()),
        Transmit::Shutdown
    );
    // The client, waiting for the answer to its close, fails the same way.
    p.client.conn.handle_stream_reset(0x10c);
    assert_eq!(
        p.client.conn.poll_event(),
        Some(Event::Failed(ConnectionError::StreamReset(0x10c)))
    );
}

/// END_STREAM after the closing handshake is the clean end (it is
/// `handle_eof`), and a reset after it changes nothing: no event, no bytes.
#[test]
fn stream_end_after_close_is_clean_and_a_late_reset_is_ignored() {
    for split in SPLITS {
        let mut p = Pair::default(split);
        p.server
            .conn
            .close(p.now, CloseCode::GOING_AWAY, "restart")
            .unwrap();
        p.pump();
        let closed = |initiator| Event::Closed {
            code: CloseCode::GOING_AWAY,
            reason: "restart".into(),
            initiator,
        };
        assert_eq!(p.server.events, [closed(Initiator::Local)]);
        assert_eq!(p.client.events, [closed(Initiator::Peer)]);
        for side in [&mut p.client, &mut p.server] {
            side.conn.handle_stream_reset(0x8);
            assert_eq!(side.conn.poll_event(), None);
            assert_eq!(side.conn.poll_transmit(&mut Vec::new()), Transmit::Shutdown);
            assert_eq!(side.conn.state(), State::Closed);
        }
    }
}
