//! The WebSocket connection state machine: bytes in, events out; messages
//! in, bytes out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::close_code::CloseCode;
use super::close_frame::CloseFrame;
use super::decoder::{Decoder, Incoming};
use super::encoder::Encoder;
use super::error::{EncodeError, ProtocolError};
use super::frame::{FrameHeader, OpCode};
use super::limits::Limits;
use super::role::Role;
use crate::random::{NoRandom, RandomSource};

/// Connection settings. Every buffer is bounded; the defaults suit a server
/// talking to browsers.
///
/// ```
/// use std::time::Duration;
/// use webwire::ws::Config;
///
/// let config = Config::default()
///     .with_ping_interval(Some(Duration::from_secs(20)))
///     .with_idle_timeout(Some(Duration::from_secs(60)));
/// assert!(config.auto_pong());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Frame and message size limits for what is received.
    pub(crate) limits: Limits,
    /// Answer pings with pongs automatically (default on). Pings are still
    /// reported as events.
    pub(crate) auto_pong: bool,
    /// Split messages sent into frames of at most this many bytes (default:
    /// one frame per message).
    pub(crate) fragment_size: Option<usize>,
    /// Most bytes waiting to be written, frame headers included (default
    /// 64 MiB). A send that would exceed it fails with
    /// [`SendError::BufferFull`].
    pub(crate) max_send_buffer: usize,
    /// Most events waiting to be polled (default 256). Once reached,
    /// [`Connection::handle_data`] stops taking input until they are
    /// drained, so a flood of tiny frames cannot grow the queue.
    pub(crate) max_queued_events: usize,
    /// How long to wait for the peer's close frame, or for the server to
    /// close the transport, once closing has started (default 5 s). A
    /// duration too long to represent as an `Instant` means no limit; the
    /// same holds for the two timers below.
    pub(crate) close_timeout: Duration,
    /// Send a ping when nothing was received for this long (default off).
    pub(crate) ping_interval: Option<Duration>,
    /// Fail the connection when nothing was received for this long (default
    /// off). With a ping interval shorter than this, a live peer's pongs
    /// keep the connection open.
    pub(crate) idle_timeout: Option<Duration>,
    /// permessage-deflate as negotiated in the handshake (default off).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub(crate) deflate: Option<super::deflate::DeflateParams>,
}

impl Config {
    /// Frame and message size limits for what is received.
    pub const fn limits(&self) -> Limits {
        self.limits
    }

    /// Answer pings with pongs automatically (default on). Pings are still
    /// reported as events.
    pub const fn auto_pong(&self) -> bool {
        self.auto_pong
    }

    /// Split messages sent into frames of at most this many bytes (default:
    /// one frame per message).
    pub const fn fragment_size(&self) -> Option<usize> {
        self.fragment_size
    }

    /// Most bytes waiting to be written, frame headers included (default
    /// 64 MiB). A send that would exceed it fails with
    /// [`SendError::BufferFull`].
    pub const fn max_send_buffer(&self) -> usize {
        self.max_send_buffer
    }

    /// Most events waiting to be polled (default 256). Once reached,
    /// [`Connection::handle_data`] stops taking input until they are
    /// drained, so a flood of tiny frames cannot grow the queue.
    pub const fn max_queued_events(&self) -> usize {
        self.max_queued_events
    }

    /// How long to wait for the peer's close frame, or for the server to
    /// close the transport, once closing has started (default 5 s). A
    /// duration too long to represent as an `Instant` means no limit; the
    /// same holds for the two timers below.
    pub const fn close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// Send a ping when nothing was received for this long (default off).
    pub const fn ping_interval(&self) -> Option<Duration> {
        self.ping_interval
    }

    /// Fail the connection when nothing was received for this long (default
    /// off). With a ping interval shorter than this, a live peer's pongs
    /// keep the connection open.
    pub const fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// permessage-deflate as negotiated in the handshake (default off).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub const fn deflate(&self) -> Option<super::deflate::DeflateParams> {
        self.deflate
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            auto_pong: true,
            fragment_size: None,
            max_send_buffer: 64 << 20,
            max_queued_events: DEFAULT_MAX_QUEUED_EVENTS,
            close_timeout: Duration::from_secs(5),
            ping_interval: None,
            idle_timeout: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

impl Config {
    /// With these receive limits.
    pub const fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// With automatic pongs on or off.
    pub const fn with_auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }
    /// With outgoing messages split into frames of at most `bytes`.
    pub const fn with_fragment_size(mut self, bytes: Option<usize>) -> Self {
        self.fragment_size = bytes;
        self
    }
    /// With this bound on bytes waiting to be written.
    pub const fn with_max_send_buffer(mut self, bytes: usize) -> Self {
        self.max_send_buffer = bytes;
        self
    }
    /// With this bound on events waiting to be polled (at least 1).
    pub const fn with_max_queued_events(mut self, events: usize) -> Self {
        self.max_queued_events = events;
        self
    }
    /// With this close timeout.
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }
    /// With this keepalive ping interval.
    pub const fn with_ping_interval(mut self, interval: Option<Duration>) -> Self {
        self.ping_interval = interval;
        self
    }
    /// With this idle timeout.
    pub const fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// With permessage-deflate, using the parameters the handshake agreed.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub const fn with_deflate(mut self, params: Option<super::deflate::DeflateParams>) -> Self {
        self.deflate = params;
        self
    }
}

/// Where the connection is in its life (RFC 6455 §4–7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    ClosingSent,
    /// The closing handshake is done or the connection failed; the
    /// transport is (being) shut down.
    Closed,
}

/// Who started the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This endpoint.
    Local,
    /// The peer.
    Peer,
}

/// Why a connection failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer broke the protocol; a close frame with its code was sent.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Nothing was received within the idle timeout.
    #[error("idle timeout")]
    IdleTimeout,
    /// The closing handshake did not finish within the close timeout.
    #[error("close timeout")]
    CloseTimeout,
    /// The peer reset the HTTP/2 or HTTP/3 stream that carried the
    /// connection, with this error code, before the closing handshake was
    /// done: see [`Connection::handle_stream_reset`].
    #[error("stream reset by the peer (error code {0:#x})")]
    StreamReset(u64),
}

/// Something that happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping (already answered if `auto_pong` is on).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The connection closed: the peer's close code and reason (1005 if its
    /// close frame had none, 1006 if the transport ended without one).
    Closed {
        /// The close code received.
        code: CloseCode,
        /// The close reason received.
        reason: String,
        /// Who started closing.
        initiator: Initiator,
    },
    /// The connection failed. Any close frame owed to the peer has been
    /// queued; shut the transport down once [`Connection::poll_transmit`]
    /// says so.
    Failed(ConnectionError),
}

/// An event waiting in the queue. A peer's close frame and a protocol
/// failure take effect (close frame queued, sending stopped) when the
/// application reaches them, so replies to the messages before them still go
/// out first, in order.
#[derive(Debug)]
enum Queued {
    Event(Event),
    PeerClose(Option<CloseFrame>),
    Failure(ProtocolError),
}

/// What [`Connection::poll_transmit`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transmit {
    /// Nothing to write now.
    Idle,
    /// This many bytes were appended to the buffer: write them.
    Bytes(usize),
    /// Everything was written: shut the transport down (close the socket,
    /// or finish the HTTP/2 stream).
    Shutdown,
}

/// Bytes on the wire for a message of `payload` bytes sent by `role` in
/// frames of at most `size` bytes: the payload plus each frame's header.
fn wire_len(role: Role, payload: usize, size: usize) -> usize {
    let header = |len: usize| {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: (role == Role::Client).then_some([0; 4]),
            payload_len: len as u64,
        }
        .encoded_len()
    };
    let size = size.max(1);
    let full = payload / size;
    let last = payload % size;
    let mut total = payload.saturating_add(full.saturating_mul(header(size)));
    if last > 0 || payload == 0 {
        total = total.saturating_add(header(last));
    }
    total
}

/// A command the connection cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The connection is closing or closed: no more messages may be sent.
    #[error("the connection is closing or closed")]
    Closed,
    /// The bytes waiting to be written would exceed `max_send_buffer`.
    #[error("send buffer full: {buffered} bytes waiting, limit {limit}")]
    BufferFull {
        /// Bytes waiting now.
        buffered: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The frame itself is not allowed (control payload too long, invalid
    /// close code).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// How many events may wait to be polled by default: see
/// [`Config::max_queued_events`].
pub const DEFAULT_MAX_QUEUED_EVENTS: usize = 256;

/// The largest send buffer a connection keeps between messages (64 KiB):
/// see [`Connection::poll_transmit`].
pub const KEPT_SEND_BUFFER: usize = 64 * 1024;

/// A WebSocket connection after the handshake, as a sans-IO state machine.
///
/// Drive it from any I/O:
///
/// 1. Feed what you read with [`handle_data`](Self::handle_data), and
///    [`handle_eof`](Self::handle_eof) when the transport ends
///    ([`handle_stream_reset`](Self::handle_stream_reset) when an HTTP/2 or
///    HTTP/3 stream is reset). It returns
///    how much it took: when that is less than you gave it (events or a
///    pong wait to be drained), do 2 and 3, then feed the rest.
/// 2. Drain [`poll_event`](Self::poll_event) until `None`.
/// 3. Drain [`poll_transmit`](Self::poll_transmit) and write what it appends;
///    on [`Transmit::Shutdown`], close the transport (over HTTP/2 or
///    HTTP/3, end the stream). Nothing is ever handed out after the close
///    frame, so the stream is never written past it.
/// 4. Arm a timer for [`poll_timeout`](Self::poll_timeout) and call
///    [`handle_timeout`](Self::handle_timeout) when it fires.
///
/// Do 2–4 after every input and after every command (`send_*`, `close`).
/// Nothing blocks, sleeps or reads a clock: time is the `now` you pass in.
///
/// Reading and writing can run in separate tasks: share the connection
/// behind a mutex, hold the lock only for the call itself (never across an
/// `.await`), and wake the writer whenever an input or command may have
/// queued bytes. Every call finishes its work before returning, so dropping
/// a future between calls loses nothing (cancel-safe by construction).
///
/// ```
/// use std::time::Instant;
/// use webwire::random::SeededRandom;
/// use webwire::ws::{Config, Connection, Event, Transmit};
///
/// let now = Instant::now();
/// let mut client = Connection::client(Config::default(), SeededRandom::new(1), now);
/// let mut server = Connection::server(Config::default(), now);
///
/// client.send_text("hello")?;
/// let mut wire = Vec::new();
/// while let Transmit::Bytes(_) = client.poll_transmit(&mut wire) {}
/// assert_eq!(server.handle_data(now, &wire), wire.len());
/// assert_eq!(server.poll_event(), Some(Event::Text("hello".into())));
/// # Ok::<(), webwire::ws::SendError>(())
/// ```
#[derive(Debug)]
pub struct Connection<R = NoRandom> {
    role: Role,
    config: Config,
    decoder: Decoder,
    encoder: Encoder<R>,
    state: State,
    /// Bytes waiting to be written.
    pending: Vec<u8>,
    /// An automatic pong is in `pending`, not yet handed out: the next ping
    /// waits (one pending control reply at a time, RFC 6455 §5.5.3).
    pong_pending: bool,
    events: VecDeque<Queued>,
    /// Close once `pending` is written.
    shutdown: bool,
    /// Input after a failure or the peer's close frame is ignored.
    input_done: bool,
    initiator: Option<Initiator>,
    close_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    idle_deadline: Option<Instant>,
    /// When the peer's close frame arrived: the client's wait for the
    /// server to end the transport starts then.
    last_now: Instant,
    #[cfg(feature = "deflate")]
    deflater: Option<super::deflate::Deflater>,
}

impl Connection {
    /// A server connection whose handshake completed at `now`. Servers
    /// never mask, so it takes no random source.
    pub fn server(config: Config, now: Instant) -> Self {
        Self::new(Role::Server, config, NoRandom::new(), now)
    }
}

impl<R: RandomSource> Connection<R> {
    /// A client connection whose handshake completed at `now`; `random`
    /// supplies its masking keys (RFC 6455 §5.3: unpredictable, so use
    /// [`ThreadRandom`](crate::random::ThreadRandom) outside tests).
    pub fn client(config: Config, random: R, now: Instant) -> Self {
        Self::new(Role::Client, config, random, now)
    }

    /// A connection for `role` whose handshake has completed at `now`.
    /// `random` supplies masking keys (clients) and nothing else.
    pub fn new(role: Role, config: Config, random: R, now: Instant) -> Self {
        #[allow(unused_mut)]
        let mut decoder = Decoder::with_limits(role, config.limits);
        #[cfg(feature = "deflate")]
        if let Some(params) = &config.deflate {
            decoder = decoder.with_deflate(params);
        }
        let mut conn = Self {
            role,
            config,
            decoder,
            encoder: Encoder::new(role, random),
            state: State::Open,
            pending: Vec::new(),
            pong_pending: false,
            events: VecDeque::new(),
            shutdown: false,
            input_done: false,
            initiator: None,
            close_deadline: None,
            next_ping: None,
            idle_deadline: None,
            last_now: now,
            #[cfg(feature = "deflate")]
            deflater: config
                .deflate
                .map(|p| super::deflate::Deflater::new(&p, role)),
        };
        conn.arm_keepalive(now);
        conn
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the connection is in its life.
    pub fn state(&self) -> State {
        self.state
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Bytes queued and not yet handed out by [`poll_transmit`](Self::poll_transmit).
    pub fn buffered_amount(&self) -> usize {
        self.pending.len()
    }

    /// Whether the transport should be shut down once pending bytes are written.
    pub fn is_shutdown_requested(&self) -> bool {
        self.shutdown
    }

    // ---- inputs ----

    /// Takes bytes read from the transport at `now` and returns how many it
    /// consumed. Events and replies (pongs, close frames) are queued; drain
    /// them afterwards.
    ///
    /// It stops early, leaving the rest of `data` to you, when
    /// [`Config::max_queued_events`] events wait to be polled, or after a
    /// ping whose automatic pong has not yet been handed out by
    /// [`poll_transmit`](Self::poll_transmit) (so at most one pong is ever
    /// pending, and still every ping is answered). Then drain events and
    /// transmit, and call again with the rest;
    /// [`is_input_blocked`](Self::is_input_blocked) says whether that is
    /// needed first. Bounded memory against a peer that floods tiny frames
    /// or pings without reading comes from this: the driver stops reading,
    /// and the peer's writes stall.
    ///
    /// Bytes that follow the handshake in the same read belong here too.
    /// After the peer's close frame or a failure, input is ignored (all of
    /// it counts as consumed).
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use webwire::random::SeededRandom;
    /// # use webwire::ws::{Config, Connection, Encoder, Event, Role, Transmit};
    /// # let now = Instant::now();
    /// # let mut conn = Connection::new(Role::Server, Config::default().with_max_queued_events(2), SeededRandom::new(0), now);
    /// # let mut read = Vec::new();
    /// # let mut peer = Encoder::new(Role::Client, SeededRandom::new(1));
    /// # for _ in 0..5 { peer.encode_text("hi", &mut read); }
    /// let mut input = &read[..];
    /// let mut out = Vec::new();
    /// while !input.is_empty() {
    ///     let used = conn.handle_data(now, input);
    ///     input = &input[used..];
    ///     while let Some(event) = conn.poll_event() { /* handle it */ }
    ///     while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) { /* write `out` */ }
    /// }
    /// ```
    #[must_use = "bytes not consumed must be fed again once events and transmit are drained"]
    pub fn handle_data(&mut self, now: Instant, data: &[u8]) -> usize {
        if self.input_done || data.is_empty() {
            return data.len();
        }
        self.arm_keepalive(now);
        let mut pos = 0;
        while pos < data.len() && !self.input_done {
            if self.is_input_blocked() {
                return pos;
            }
            let rest = data.get(pos..).unwrap_or_default();
            match self.decoder.decode(rest) {
                Ok((used, message)) => {
                    pos += used;
                    match message {
                        Some(m) => self.on_incoming(now, m),
                        None => break,
                    }
                }
                Err(e) => {
                    self.input_done = true;
                    self.events.push_back(Queued::Failure(e));
                    return data.len();
                }
            }
        }
        if self.input_done {
            // Whatever follows a close frame is ignored: consumed.
            return data.len();
        }
        pos
    }

    /// Whether [`handle_data`](Self::handle_data) would take no input now:
    /// events must be polled first (the queue is at
    /// [`Config::max_queued_events`]), or an automatic pong handed out by
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn is_input_blocked(&self) -> bool {
        !self.input_done
            && (self.pong_pending || self.events.len() >= self.config.max_queued_events.max(1))
    }

    /// The transport's read side ended: TCP's end of stream (or a reset
    /// connection), or END_STREAM on an HTTP/2 or HTTP/3 stream. After the
    /// peer's close frame this is the orderly end; before it, the connection
    /// closes with [`CloseCode::ABNORMAL`] (1006).
    pub fn handle_eof(&mut self) {
        self.shutdown = true;
        if self.input_done {
            // After the peer's close frame (or a failure) this is the
            // orderly end: the client's wait for it is over.
            if self.state == State::Closed {
                self.close_deadline = None;
            }
            return;
        }
        self.input_done = true;
        self.state = State::Closed;
        self.clear_timers();
        self.events.push_back(Queued::Event(Event::Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            initiator: self.initiator.unwrap_or(Initiator::Peer),
        }));
    }

    /// The peer reset the HTTP/2 or HTTP/3 stream carrying the connection
    /// (`RST_STREAM`, or `RESET_STREAM` / `STOP_SENDING`) with `error_code`.
    ///
    /// The stream takes no more bytes: what was not yet handed out by
    /// [`poll_transmit`](Self::poll_transmit) is dropped and the next call
    /// says [`Transmit::Shutdown`]. Unless the connection had already closed
    /// (closing handshake done, or failed), the messages received before
    /// the reset are still polled, then
    /// [`Event::Failed`]`(`[`ConnectionError::StreamReset`]`)`. A close
    /// frame of the peer's or a protocol failure not yet polled is dropped
    /// for it, since no close frame can be sent any more.
    ///
    /// ```
    /// use std::time::Instant;
    /// use webwire::ws::{Config, Connection, ConnectionError, Event, Transmit};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::server(Config::default(), now);
    /// server.send_text("unsent")?;
    /// server.handle_stream_reset(0x8); // HTTP/2 CANCEL
    /// assert_eq!(server.poll_event(), Some(Event::Failed(ConnectionError::StreamReset(0x8))));
    /// assert_eq!(server.poll_transmit(&mut Vec::new()), Transmit::Shutdown);
    /// # Ok::<(), webwire::ws::SendError>(())
    /// ```
    pub fn handle_stream_reset(&mut self, error_code: u64) {
        self.input_done = true;
        self.shutdown = true;
        self.pending.clear();
        self.pong_pending = false;
        self.clear_timers();
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.events
            .retain(|queued| matches!(queued, Queued::Event(_)));
        self.events
            .push_back(Queued::Event(Event::Failed(ConnectionError::StreamReset(
                error_code,
            ))));
    }

    /// A deadline from [`poll_timeout`](Self::poll_timeout) passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.close_deadline.is_some_and(|d| d <= now) {
            self.close_deadline = None;
            self.input_done = true;
            self.shutdown = true;
            if self.state != State::Closed {
                self.state = State::Closed;
                self.events
                    .push_back(Queued::Event(Event::Failed(ConnectionError::CloseTimeout)));
            }
            return;
        }
        if self.idle_deadline.is_some_and(|d| d <= now) {
            self.idle_deadline = None;
            self.next_ping = None;
            if self.state != State::Closed {
                // The peer is gone or stuck: tell it (if it listens) and end.
                let frame = CloseFrame::new(CloseCode::GOING_AWAY, "idle timeout");
                let _ = self.encoder.encode_close(Some(&frame), &mut self.pending);
                self.state = State::Closed;
                self.input_done = true;
                self.shutdown = true;
                self.events
                    .push_back(Queued::Event(Event::Failed(ConnectionError::IdleTimeout)));
            }
            return;
        }
        if self.next_ping.is_some_and(|d| d <= now) {
            if self.state == State::Open {
                let _ = self.encoder.encode_ping(b"webwire", &mut self.pending);
            }
            self.next_ping = self.config.ping_interval.and_then(|i| now.checked_add(i));
        }
    }

    // ---- commands ----

    /// Queues a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_data(OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_data(OpCode::Binary, data)
    }

    /// Queues a ping with up to 125 bytes of data. Like messages, not
    /// after this end's close frame: nothing follows it on the wire.
    pub fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_can_send_control(data.len())?;
        Ok(self.encoder.encode_ping(data, &mut self.pending)?)
    }

    /// Queues a pong (an unsolicited pong is a heartbeat, RFC 6455 §5.5.3).
    /// Not after this end's close frame.
    pub fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_can_send_control(data.len())?;
        Ok(self.encoder.encode_pong(data, &mut self.pending)?)
    }

    /// Starts the closing handshake at `now`: queues a close frame with
    /// `code` and `reason` and waits (up to the close timeout) for the
    /// peer's. Sending messages is no longer allowed.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        // Checked (code, reason length) before anything is written.
        self.encoder
            .encode_close(Some(&CloseFrame::new(code, reason)), &mut self.pending)?;
        self.state = State::ClosingSent;
        // The peer's close frame may already be queued, not yet polled: then
        // it started closing, and ours is the reply.
        let peer_first = self
            .events
            .iter()
            .any(|q| matches!(q, Queued::PeerClose(_)));
        self.initiator = Some(if peer_first {
            Initiator::Peer
        } else {
            Initiator::Local
        });
        self.next_ping = None;
        self.idle_deadline = None;
        self.close_deadline = now.checked_add(self.config.close_timeout);
        Ok(())
    }

    // ---- outputs ----

    /// The next event, if any.
    ///
    /// The peer's close frame and a protocol failure take effect when they
    /// are polled: until then, replies to earlier messages may still be sent.
    pub fn poll_event(&mut self) -> Option<Event> {
        let Some(queued) = self.events.pop_front() else {
            // A burst must not pin its queue to an idle connection.
            if self.events.capacity() > 16 {
                self.events = VecDeque::new();
            }
            return None;
        };
        Some(match queued {
            Queued::Event(event) => event,
            Queued::PeerClose(frame) => self.on_close(frame),
            Queued::Failure(err) => self.fail_protocol(err),
        })
    }

    /// Appends the bytes waiting to be written to `out`. When nothing is
    /// waiting and the connection is over, says to shut the transport down.
    ///
    /// An empty `out` is exchanged rather than copied into: it gets the
    /// connection's send buffer and the connection keeps `out`'s allocation
    /// (up to [`KEPT_SEND_BUFFER`] bytes; a larger one is freed) for what it
    /// sends next. A caller that clears and reuses one `out` thus alternates
    /// two buffers without allocating; one that passes a fresh `Vec::new()`
    /// each time leaves an idle connection without a send buffer.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Transmit {
        if self.pending.is_empty() {
            return if self.shutdown {
                Transmit::Shutdown
            } else {
                Transmit::Idle
            };
        }
        let n = self.pending.len();
        self.pong_pending = false;
        if out.is_empty() {
            std::mem::swap(out, &mut self.pending);
        } else {
            out.extend_from_slice(&self.pending);
            self.pending.clear();
        }
        // A burst of large messages must not pin its buffer to an idle
        // connection.
        if self.pending.capacity() > KEPT_SEND_BUFFER {
            self.pending = Vec::new();
        }
        Transmit::Bytes(n)
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.close_deadline, self.idle_deadline, self.next_ping]
            .into_iter()
            .flatten()
            .min()
    }

    // ---- internals ----

    fn send_data(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.send_message(opcode, payload, true)
    }

    /// Queues a text message that is never compressed, whatever was
    /// negotiated (for data that is already compressed, or secrets that must
    /// not share a compression context with attacker-chosen text).
    pub fn send_text_uncompressed(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes(), false)
    }

    /// Queues a binary message that is never compressed.
    pub fn send_binary_uncompressed(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data, false)
    }

    fn send_message(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        let size = self.config.fragment_size.unwrap_or(usize::MAX).max(1);
        // Compressed output is never larger than the payload (otherwise the
        // message goes out plain), so this bounds both.
        self.check_can_send(wire_len(self.role, payload.len(), size))?;
        #[cfg(feature = "deflate")]
        if compress {
            if let Some(compressed) = self.deflater.as_mut().and_then(|d| d.compress(payload)) {
                self.encoder
                    .encode_message(opcode, 0b100, &compressed, size, &mut self.pending);
                return Ok(());
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = compress;
        self.encoder
            .encode_message(opcode, 0, payload, size, &mut self.pending);
        Ok(())
    }

    /// Checks that a ping or pong of `len` bytes may be queued: only while
    /// open, since our close frame is the last frame we send.
    fn check_can_send_control(&self, len: usize) -> Result<(), SendError> {
        if self.state != State::Open {
            return Err(SendError::Closed);
        }
        self.check_can_send(wire_len(self.role, len, usize::MAX))
    }

    /// Checks that a message of `wire` bytes on the wire (headers included)
    /// may be queued.
    fn check_can_send(&self, wire: usize) -> Result<(), SendError> {
        if self.shutdown || self.state == State::Closed {
            return Err(SendError::Closed);
        }
        let buffered = self.pending.len();
        if buffered.saturating_add(wire) > self.config.max_send_buffer {
            return Err(SendError::BufferFull {
                buffered,
                limit: self.config.max_send_buffer,
            });
        }
        Ok(())
    }

    fn on_incoming(&mut self, now: Instant, message: Incoming) {
        match message {
            Incoming::Text(t) => self.events.push_back(Queued::Event(Event::Text(t))),
            Incoming::Binary(b) => self.events.push_back(Queued::Event(Event::Binary(b))),
            Incoming::Ping(p) => {
                // Answer while we may still send; under backpressure skip the
                // pong (answering only the latest ping is allowed, §5.5.3).
                let wire = wire_len(self.role, p.len(), usize::MAX);
                let room = self.pending.len().saturating_add(wire) <= self.config.max_send_buffer;
                if self.config.auto_pong && self.state == State::Open && room {
                    self.pong_pending |= self.encoder.encode_pong(&p, &mut self.pending).is_ok();
                }
                self.events.push_back(Queued::Event(Event::Ping(p)));
            }
            Incoming::Pong(p) => self.events.push_back(Queued::Event(Event::Pong(p))),
            Incoming::Close(frame) => {
                // Nothing after a close frame is read (RFC 6455 §5.5.1).
                self.input_done = true;
                self.last_now = now;
                self.events.push_back(Queued::PeerClose(frame));
            }
        }
    }

    fn on_close(&mut self, frame: Option<CloseFrame>) -> Event {
        let initiator = match self.state {
            State::Open => {
                // Echo the peer's code (none if it sent none) and finish.
                let _ = self.encoder.encode_close(frame.as_ref(), &mut self.pending);
                Initiator::Peer
            }
            _ => self.initiator.unwrap_or(Initiator::Local),
        };
        self.initiator = Some(initiator);
        self.state = State::Closed;
        self.next_ping = None;
        self.idle_deadline = None;
        match self.role {
            // The server closes the TCP connection first (RFC 6455 §7.1.1).
            Role::Server => {
                self.shutdown = true;
                self.close_deadline = None;
            }
            // A client waits for the server to do so, for a while.
            Role::Client => {
                self.close_deadline = self.last_now.checked_add(self.config.close_timeout)
            }
        }
        let (code, reason) = match frame {
            Some(f) => (f.code, f.reason),
            None => (CloseCode::NO_STATUS_RECEIVED, String::new()),
        };
        Event::Closed {
            code,
            reason,
            initiator,
        }
    }

    fn fail_protocol(&mut self, err: ProtocolError) -> Event {
        if self.state == State::Open {
            let frame = CloseFrame::new(err.close_code(), "");
            let _ = self.encoder.encode_close(Some(&frame), &mut self.pending);
        }
        self.state = State::Closed;
        self.shutdown = true;
        self.clear_timers();
        Event::Failed(ConnectionError::Protocol(err))
    }

    fn clear_timers(&mut self) {
        self.close_deadline = None;
        self.next_ping = None;
        self.idle_deadline = None;
    }

    fn arm_keepalive(&mut self, now: Instant) {
        if self.state != State::Open {
            return;
        }
        self.next_ping = self.config.ping_interval.and_then(|i| now.checked_add(i));
        self.idle_deadline = self.config.idle_timeout.and_then(|t| now.checked_add(t));
    }
}
