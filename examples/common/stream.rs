//! `WebSocketStream`: a webwire [`Connection`] over any tokio byte stream as
//! a `futures` [`Stream`] of incoming [`Message`]s and a [`Sink`] of
//! outgoing ones, with [`accept`], [`connect`] and [`client_handshake`] for
//! the opening handshake. Copy this file into a service: it needs tokio
//! (`net`, `io-util`, `time`), `futures-util` (`sink`, `std`) and `bytes`.
//!
//! ```ignore
//! let mut ws = connect("ws://127.0.0.1:9001/", ClientConfig::new(), Config::default()).await?;
//! ws.send(Message::Text("hello".into())).await?;
//! while let Some(msg) = ws.next().await { /* Text, Binary, Ping, Pong, Close */ }
//! let (mut tx, mut rx) = ws.split(); // halves that work from two tasks
//! ```
//!
//! What it does for you:
//!
//! - **Reading** happens in `poll_next`, which also writes what is queued
//!   (pongs, close replies, messages fed to the sink and not yet flushed:
//!   `feed` them and they go out in one write when the stream next waits
//!   for input), fires the connection's timers (keepalive pings, idle and
//!   close timeouts) and shuts the transport down when the connection says
//!   so. Keep polling the stream (or its half) for as long as the
//!   connection lives: nothing is read, no ping answered, no timer fired
//!   otherwise.
//! - **Backpressure.** `poll_ready` waits until fewer than [`MAX_UNSENT`]
//!   bytes are queued, so a peer that does not read stalls our sends, not
//!   our memory. Reading takes up to the room left below that mark, and
//!   512 bytes at a time past it, not waiting for our writes; but what reading itself
//!   queues is held back: an automatic pong goes out only while fewer
//!   than [`MAX_UNSENT`] bytes wait, and until it can, the connection
//!   takes no input, so a peer that floods pings without reading stops
//!   being read. So a WebSocket whose sink is stuck behind a peer that
//!   waits for us to read can still read (an echo peer over a
//!   flow-controlled HTTP/2 stream would otherwise deadlock with us).
//! - **Closing.** `poll_close` (`SinkExt::close`) starts the closing
//!   handshake with 1000 (send a [`Message::Close`] first for another
//!   code) and drives it until the transport is shut down or the close
//!   timeout fires. The stream yields the peer's close as
//!   [`Message::Close`] once the closing handshake is done and the
//!   transport shut down, then ends; a transport that ends without one is
//!   an [`Error::Io`] (`UnexpectedEof`), a protocol failure or timeout an
//!   [`Error::Connection`] (the close frame owed to the peer has been sent).
//! - **Two tasks.** `StreamExt::split` gives halves that work from two
//!   tasks at once: once a second task polls, every I/O and timer wake-up
//!   wakes both (one task alone pays nothing for this). Flush the sink
//!   half (`send`, or `feed` then `flush`): what is only fed goes out when
//!   the other task's stream half next polls, which may be much later.
//! - **Memory.** Reads go into one 32 KiB buffer per runtime thread,
//!   borrowed only inside a poll (the connection copies out what it keeps),
//!   and the send buffer is freed once written: an idle connection holds
//!   no buffer at all, only the `Connection` and this struct.
//!
//! Cancel-safe: all state lives in the struct, so dropping a `next()` or
//! `send()` future (in a `select!`) loses nothing.
#![allow(dead_code)] // each includer uses a part

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream::FusedStream;
use futures_util::task::AtomicWaker;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use webwire::Status;
use webwire::random::{NoRandom, RandomSource};
use webwire::ws::handshake::{
    ClientConfig, ClientHandshake, ClientOutcome, HandshakeLimits, Negotiated, RequestParser,
    ServerConfig,
};
use webwire::ws::{
    CloseCode, Config, Connection, ConnectionError, Event, SendError, State, Transmit,
};

/// Most bytes waiting to be written before `poll_ready` waits (the
/// high-water mark); also the most a read brings in.
pub const MAX_UNSENT: usize = 32 * 1024;

/// What a read may bring in when [`MAX_UNSENT`] bytes wait already: enough
/// to let a peer that waits for us to read make progress, little enough
/// that what a ping flood leaves unread (behind a pong that waits for room)
/// stays small.
const MIN_READ: usize = 512;

thread_local! {
    /// The read buffer every connection on this thread reads into.
    static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_UNSENT]);
}

/// Errors from a boxed handshake or connect.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a transport over an HTTP/2 or HTTP/3 stream returns, inside
/// an `io::Error` (`io::Error::other(StreamReset(code))`), when the peer
/// reset the stream with `code`: the stream then ends with
/// [`Error::Connection`]`(ConnectionError::StreamReset(code))`, not as a
/// broken transport (see `Connection::handle_stream_reset`). TCP streams
/// never return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReset(pub u64);

impl StreamReset {
    /// The reset code `error` carries, if it is a `StreamReset`.
    pub fn code(error: &io::Error) -> Option<u64> {
        Some(error.get_ref()?.downcast_ref::<StreamReset>()?.0)
    }
}

impl fmt::Display for StreamReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream reset by the peer (error code {:#x})", self.0)
    }
}

impl std::error::Error for StreamReset {}

/// A WebSocket message, received or to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping. Received ones have been answered already (`auto_pong`).
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close: code and reason, or `None` for a close frame without a
    /// code (1005). Sent, it starts the closing handshake (`None`: 1000).
    Close(Option<(CloseCode, String)>),
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Message::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Message::Binary(data.into())
    }
}

/// What can go wrong on a [`WebSocketStream`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or ended without a closing handshake
    /// (`UnexpectedEof`).
    Io(io::Error),
    /// The connection failed: the peer broke the protocol (the close frame
    /// with its code was sent), or the idle or close timeout passed.
    Connection(ConnectionError),
    /// A message could not be queued: the connection is closing or closed,
    /// or the send buffer limit (`Config::max_send_buffer`) was reached.
    Send(SendError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport: {e}"),
            Error::Connection(e) => write!(f, "connection failed: {e}"),
            Error::Send(e) => write!(f, "send: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Connection(e) => Some(e),
            Error::Send(e) => Some(e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            other => io::Error::other(other),
        }
    }
}

/// A WebSocket connection over `S`: a [`Stream`] of received messages and a
/// [`Sink`] of messages to send. `R` supplies a client's masking keys
/// (servers: [`NoRandom`]). See the module docs.
pub struct WebSocketStream<S, R = NoRandom> {
    core: Core<S, R>,
    wake: Wakeup,
}

/// Everything but the wake-up routing, so that a poll can borrow both.
struct Core<S, R> {
    io: S,
    conn: Connection<R>,
    /// Bytes handed out by the connection; written up to `sent`.
    out: Vec<u8>,
    sent: usize,
    /// Bytes read that the connection did not take yet (it stops taking
    /// input while `max_queued_events` events wait): nearly always empty,
    /// and then unallocated.
    unread: Vec<u8>,
    /// Events `poll_close` took from the connection to finish the closing
    /// handshake, for the stream to hand out (at most `max_queued_events`).
    held: VecDeque<Event>,
    /// The stream's last item (the close, or the failure), handed out once
    /// the transport is shut down.
    ending: Option<Result<Message, Error>>,
    /// Why reading ended, if it failed.
    read_error: Option<io::Error>,
    /// Armed at the connection's next deadline; made on first need.
    timer: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
    read_done: bool,
    unflushed: bool,
    shutdown_wanted: bool,
    transport_done: bool,
    finished: bool,
    close_started: bool,
    /// Something the other half may be waiting for happened.
    notify: bool,
}

/// What a drive of the connection is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// The next message (the stream).
    Next,
    /// The end of the closing handshake (the sink's `poll_close`).
    Close,
}

impl<S, R> WebSocketStream<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    /// Wraps a connection whose handshake is done on `io`; `read_ahead` is
    /// what was read past the handshake (frames already sent), if anything.
    pub fn from_parts(io: S, conn: Connection<R>, read_ahead: Vec<u8>) -> Self {
        let mut core = Core {
            io,
            conn,
            out: Vec::new(),
            sent: 0,
            unread: Vec::new(),
            held: VecDeque::new(),
            ending: None,
            read_error: None,
            timer: None,
            armed: None,
            read_done: false,
            unflushed: false,
            shutdown_wanted: false,
            transport_done: false,
            finished: false,
            close_started: false,
            notify: false,
        };
        if !read_ahead.is_empty() {
            let used = core.feed(&read_ahead);
            core.keep_unread(read_ahead, used);
        }
        Self {
            core,
            wake: Wakeup::Direct(None),
        }
    }

    /// The connection: its state, configuration, bytes buffered.
    pub fn connection(&self) -> &Connection<R> {
        &self.core.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.core.io
    }

    /// The transport, mutably (reading or writing it breaks the stream).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.core.io
    }

    /// Runs `poll` with the context the transport and timer must see
    /// (`side` says which half is polling), then wakes the other half if it
    /// may be waiting for what happened.
    fn with_core<T>(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
        poll: impl FnOnce(&mut Core<S, R>, &mut Context<'_>) -> T,
    ) -> T {
        let waker = self.wake.waker(cx, side);
        let out = poll(&mut self.core, &mut Context::from_waker(waker));
        if std::mem::take(&mut self.core.notify) {
            self.wake.notify();
        }
        out
    }
}

impl<S, R> Core<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    /// Bytes waiting to be written: handed out and not written, and queued
    /// in the connection.
    fn unsent(&self) -> usize {
        self.out.len() - self.sent + self.conn.buffered_amount()
    }

    /// Feeds `input` to the connection; whenever it stops taking input to
    /// hand out a pong, appends what is queued to `out` and goes on, while
    /// fewer than [`MAX_UNSENT`] bytes wait to be written. Returns how much
    /// it took: less than all while events wait to be polled, or while a
    /// pong waits for room (the connection then takes no input, so a ping
    /// flood stops being read).
    fn feed(&mut self, input: &[u8]) -> usize {
        let now = now();
        let mut used = 0;
        loop {
            used += self.conn.handle_data(now, &input[used..]);
            if used == input.len() || self.unsent() >= MAX_UNSENT || !self.transmit_appending() {
                return used;
            }
        }
    }

    /// Keeps what `feed` did not take of `input` for later.
    fn keep_unread(&mut self, mut input: Vec<u8>, used: usize) {
        if used < input.len() {
            input.drain(..used);
            self.unread = input;
        }
    }

    /// Appends what the connection has queued to `out` (dropping what was
    /// written first, so a slow reader cannot make it hold everything it was
    /// ever sent); true if there was anything.
    fn transmit_appending(&mut self) -> bool {
        if self.sent == self.out.len() {
            self.out = Vec::new();
        } else {
            self.out.drain(..self.sent);
        }
        self.sent = 0;
        match self.conn.poll_transmit(&mut self.out) {
            Transmit::Bytes(_) => true,
            Transmit::Shutdown => {
                self.shutdown_wanted = true;
                false
            }
            Transmit::Idle => false,
        }
    }

    /// Writes everything queued. Once written, the buffer is freed: the
    /// next message gets a chunk the allocator just had back, and an idle
    /// connection holds no send buffer.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.sent == self.out.len() {
                self.out = Vec::new();
                self.sent = 0;
                match self.conn.poll_transmit(&mut self.out) {
                    Transmit::Bytes(_) => {}
                    Transmit::Shutdown => {
                        self.shutdown_wanted = true;
                        break;
                    }
                    Transmit::Idle => break,
                }
            }
            match Pin::new(&mut self.io).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.sent += n;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed {
            std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// One read into the thread's buffer, fed to the connection.
    fn poll_read(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<()> {
        READ_BUF.with_borrow_mut(|buf| {
            let len = buf.len().min(room);
            let mut read = ReadBuf::new(&mut buf[..len]);
            match Pin::new(&mut self.io).poll_read(cx, &mut read) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.end_of_input(Some(e));
                    Poll::Ready(())
                }
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    self.end_of_input(None);
                    Poll::Ready(())
                }
                Poll::Ready(Ok(())) => {
                    let input = read.filled();
                    let used = self.feed(input);
                    if used < input.len() {
                        self.unread.extend_from_slice(&input[used..]);
                    }
                    Poll::Ready(())
                }
            }
        })
    }

    fn end_of_input(&mut self, error: Option<io::Error>) {
        self.read_done = true;
        match error.as_ref().and_then(StreamReset::code) {
            Some(code) => self.conn.handle_stream_reset(code),
            None => {
                self.read_error = error;
                self.conn.handle_eof();
            }
        }
    }

    /// The transport broke while writing: the connection is over. A reset
    /// stream ends it as a reset read would: the messages received before
    /// it are still handed out, then `ConnectionError::StreamReset`.
    fn broken(&mut self, error: io::Error) {
        match StreamReset::code(&error) {
            Some(code) => self.conn.handle_stream_reset(code),
            None => {
                if self.ending.is_none() {
                    self.ending = Some(Err(Error::Io(error)));
                }
                self.conn.handle_eof();
            }
        }
        self.read_done = true;
        self.transport_done = true;
        self.notify = true;
    }

    /// [`broken`](Self::broken), for the sink: the error to return now.
    fn broken_sink(&mut self, error: io::Error) -> Error {
        let now = match StreamReset::code(&error) {
            Some(code) => Error::Connection(ConnectionError::StreamReset(code)),
            None => Error::Io(error.kind().into()),
        };
        self.broken(error);
        now
    }

    /// The next event: held ones first.
    fn next_event(&mut self) -> Option<Event> {
        let event = self.held.pop_front().or_else(|| self.conn.poll_event())?;
        if self.close_started {
            // `poll_close` may be waiting for input the event queue blocked.
            self.notify = true;
        }
        Some(event)
    }

    /// Turns an event into a message to yield now (`Ok`), or the stream's
    /// last item (`Err`), or nothing.
    fn message(&mut self, event: Event) -> Option<Result<Message, Result<Message, Error>>> {
        Some(match event {
            Event::Text(text) => Ok(Message::Text(text)),
            Event::Binary(data) => Ok(Message::Binary(data)),
            Event::Ping(data) => Ok(Message::Ping(data)),
            Event::Pong(data) => Ok(Message::Pong(data)),
            Event::Closed { code, .. } if code == CloseCode::ABNORMAL => Err(Err(Error::Io(
                self.read_error.take().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer ended the transport without a closing handshake",
                    )
                }),
            ))),
            Event::Closed { code, reason, .. } if code == CloseCode::NO_STATUS_RECEIVED => Err(Ok(
                Message::Close((!reason.is_empty()).then_some((code, reason))),
            )),
            Event::Closed { code, reason, .. } => Err(Ok(Message::Close(Some((code, reason))))),
            Event::Failed(e) => Err(Err(Error::Connection(e))),
            _ => return None,
        })
    }

    /// Drives the connection until there is a message (`Goal::Next`: the
    /// item, or `None` at the end) or the transport is shut down
    /// (`Goal::Close`: `None`). Every step that makes progress loops; the
    /// last ones register for what they wait on.
    fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        goal: Goal,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            // 1. Events.
            if goal == Goal::Next && self.ending.is_none() {
                if let Some(event) = self.next_event() {
                    match self.message(event) {
                        Some(Ok(message)) => return Poll::Ready(Some(Ok(message))),
                        Some(Err(last)) => {
                            // Handed out once the closing is done.
                            self.ending = Some(last);
                            self.notify = true;
                        }
                        None => {}
                    }
                    continue;
                }
            }
            if goal == Goal::Close {
                let cap = self.conn.config().max_queued_events().max(1);
                while self.held.len() < cap {
                    let Some(event) = self.conn.poll_event() else {
                        break;
                    };
                    self.held.push_back(event);
                    self.notify = true;
                }
            }
            // 2. Input read earlier that the connection could not take then.
            if !self.unread.is_empty() && !self.transport_done {
                let unread = std::mem::take(&mut self.unread);
                let used = self.feed(&unread);
                self.keep_unread(unread, used);
                if used > 0 {
                    continue;
                }
            }
            // 3. Write, then shut down once the connection says so.
            if !self.transport_done {
                if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                    self.broken(e);
                }
            }
            if self.shutdown_wanted
                && !self.transport_done
                && self.sent == self.out.len()
                // An error here changes nothing: the connection is over.
                && Pin::new(&mut self.io).poll_shutdown(cx).is_ready()
            {
                self.transport_done = true;
                self.notify = true;
            }
            if self.transport_done {
                if goal == Goal::Next {
                    if self.ending.is_none() && (!self.held.is_empty() || self.has_events()) {
                        continue; // what arrived before the end goes first
                    }
                    self.finished = true;
                    return Poll::Ready(self.ending.take());
                }
                return Poll::Ready(None);
            }
            // 4. Read, unless the connection takes no input now (a pong
            // waits to be handed out, or events to be polled): up to the
            // room left below the high-water mark, or a little past it, so
            // that a peer waiting for us to read is read (see the module
            // docs) while what a read can leave unread stays small.
            let room = MAX_UNSENT.saturating_sub(self.unsent()).max(MIN_READ);
            if !self.read_done
                && !self.shutdown_wanted
                && self.unread.is_empty()
                && !self.conn.is_input_blocked()
                && self.poll_read(cx, room).is_ready()
            {
                continue;
            }
            // 5. Timers.
            if let Some(deadline) = self.conn.poll_timeout() {
                let at = tokio::time::Instant::from_std(deadline);
                if self.timer.is_none() {
                    self.timer = Some(Box::pin(tokio::time::sleep_until(at)));
                    self.armed = Some(deadline);
                }
                if let Some(timer) = &mut self.timer {
                    if self.armed != Some(deadline) {
                        timer.as_mut().reset(at);
                        self.armed = Some(deadline);
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        self.armed = None;
                        self.conn.handle_timeout(now());
                        continue;
                    }
                }
            }
            return Poll::Pending;
        }
    }

    /// Whether the connection has an event waiting (polls it into `held`).
    fn has_events(&mut self) -> bool {
        match self.conn.poll_event() {
            Some(event) => {
                self.held.push_back(event);
                true
            }
            None => false,
        }
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<S, R> Stream for WebSocketStream<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    type Item = Result<Message, Error>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        // The common case first: a message the last read brought in. No
        // I/O, so no waker to register.
        let core = &mut this.core;
        if core.ending.is_none() && core.held.is_empty() && !core.close_started {
            match core.conn.poll_event() {
                Some(Event::Text(text)) => return Poll::Ready(Some(Ok(Message::Text(text)))),
                Some(Event::Binary(data)) => return Poll::Ready(Some(Ok(Message::Binary(data)))),
                Some(event) => match core.message(event) {
                    Some(Ok(message)) => return Poll::Ready(Some(Ok(message))),
                    Some(Err(last)) => {
                        // Handed out once the closing is done, below.
                        core.ending = Some(last);
                        core.notify = true;
                    }
                    None => {}
                },
                None => {}
            }
        }
        this.with_core(cx, Side::Read, |core, cx| core.poll_drive(cx, Goal::Next))
    }
}

impl<S, R> FusedStream for WebSocketStream<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    fn is_terminated(&self) -> bool {
        self.core.finished
    }
}

impl<S, R> Sink<Message> for WebSocketStream<S, R>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    type Error = Error;

    /// Ready while fewer than [`MAX_UNSENT`] bytes wait to be written;
    /// otherwise writes first.
    #[inline]
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.core.unsent() < MAX_UNSENT || this.core.transport_done {
            return Poll::Ready(Ok(()));
        }
        this.with_core(cx, Side::Write, |core, cx| match core.poll_write_out(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(core.broken_sink(e))),
            Poll::Pending => Poll::Pending,
        })
    }

    /// Queues the message in the connection (encoded, masked, compressed).
    #[inline]
    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        let conn = &mut self.get_mut().core.conn;
        match message {
            Message::Text(text) => conn.send_text(&text)?,
            Message::Binary(data) => conn.send_binary(&data)?,
            Message::Ping(data) => conn.send_ping(&data)?,
            Message::Pong(data) => conn.send_pong(&data)?,
            Message::Close(close) => {
                let (code, reason) = close.unwrap_or((CloseCode::NORMAL, String::new()));
                conn.close(now(), code, &reason)?
            }
        }
        Ok(())
    }

    /// Writes everything queued.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().with_core(cx, Side::Write, |core, cx| {
            if core.transport_done {
                return Poll::Ready(Ok(()));
            }
            match std::task::ready!(core.poll_write_out(cx)) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) => Poll::Ready(Err(core.broken_sink(e))),
            }
        })
    }

    /// Starts the closing handshake with 1000 (unless a [`Message::Close`]
    /// already did) and drives it until the transport is shut down: the
    /// peer's close arrived, or the close timeout passed. Messages that
    /// arrive meanwhile stay for the stream. Transport errors end it too
    /// (the stream reports them).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().with_core(cx, Side::Write, |core, cx| {
            if !core.close_started {
                core.close_started = true;
                if core.conn.state() == State::Open {
                    let _ = core.conn.close(now(), CloseCode::NORMAL, "");
                }
            }
            core.poll_drive(cx, Goal::Close).map(|_| Ok(()))
        })
    }
}

// ---- wake-ups for two tasks ----

/// Which half is polling.
#[derive(Clone, Copy)]
enum Side {
    Read,
    Write,
}

/// How the transport and the timer wake the task(s) using the stream.
///
/// The transport keeps one waker per direction and the timer one in all,
/// so with halves in two tasks, the last task to poll would take the
/// other's wake-ups (a read half that writes a pong, a sink that reads the
/// close reply). While one task polls, its own waker is passed through
/// (`Direct`); once a second one does, both register here and a proxy
/// that wakes both is passed instead (`Shared`), for good.
enum Wakeup {
    Direct(Option<Waker>),
    Shared { wakers: Arc<Wakers>, proxy: Waker },
}

#[derive(Default)]
struct Wakers {
    read: AtomicWaker,
    write: AtomicWaker,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.read.wake();
        self.write.wake();
    }
}

impl Wakeup {
    /// The waker to poll with on behalf of `cx`'s task.
    fn waker<'a>(&'a mut self, cx: &'a Context<'_>, side: Side) -> &'a Waker {
        if let Wakeup::Direct(last) = self {
            match last {
                // The data pointer alone: `will_wake` also compares vtable
                // addresses, which differ for one waker in some runtimes
                // (a `const` vtable has a copy per codegen unit), and a
                // needless switch to `Shared` costs a waker clone per poll.
                Some(w) if w.data() == cx.waker().data() => return cx.waker(),
                None => {
                    *last = Some(cx.waker().clone());
                    return cx.waker();
                }
                Some(first) => {
                    // A second task: the first may be waiting too.
                    let wakers = Arc::new(Wakers::default());
                    wakers.read.register(first);
                    wakers.write.register(first);
                    let proxy = Waker::from(Arc::clone(&wakers));
                    *self = Wakeup::Shared { wakers, proxy };
                }
            }
        }
        let Wakeup::Shared { wakers, proxy } = self else {
            unreachable!("switched to shared above")
        };
        match side {
            Side::Read => wakers.read.register(cx.waker()),
            Side::Write => wakers.write.register(cx.waker()),
        }
        proxy
    }

    /// Wakes both tasks, when there are two.
    fn notify(&self) {
        if let Wakeup::Shared { proxy, .. } = self {
            proxy.wake_by_ref();
        }
    }
}

// ---- handshakes ----

/// Polls one read of at most `max` bytes into the thread's buffer and hands
/// `take` the bytes read (empty at end of stream) or the error.
fn poll_read_shared<S: AsyncRead + Unpin, T>(
    io: &mut S,
    cx: &mut Context<'_>,
    max: usize,
    take: impl FnOnce(io::Result<&[u8]>) -> T,
) -> Poll<T> {
    READ_BUF.with_borrow_mut(|buf| {
        let len = buf.len().min(max);
        let mut read = ReadBuf::new(&mut buf[..len]);
        Pin::new(io)
            .poll_read(cx, &mut read)
            .map(|r| take(r.map(|()| read.filled())))
    })
}

/// The server's opening handshake on `io` (the in-place fast path:
/// `RequestParser::feed_with` + `RequestHead::accept`, no `http` types),
/// then the connection with the `Config` that `config` makes of what was
/// agreed (pass `agreed.deflate` on with `--features deflate`). A refused
/// request gets its 4xx response and an `InvalidData` error.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    server: &ServerConfig,
    config: impl FnOnce(&Negotiated) -> Config,
) -> io::Result<WebSocketStream<S>> {
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let mut response = Vec::new();
    let step = loop {
        let step = poll_fn(|cx| {
            poll_read_shared(&mut io, cx, usize::MAX, |read| match read {
                Err(e) => Some(Err(e)),
                Ok([]) => Some(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client left during the handshake",
                ))),
                Ok(input) => match parser.feed_with(input, |h| h.accept(server, &mut response)) {
                    Ok(Status::Partial) => None,
                    // Frames pipelined behind the request are copied out of
                    // the shared buffer.
                    Ok(Status::Complete((agreed, used))) => {
                        Some(Ok(agreed.map(|a| (a, input[used..].to_vec()))))
                    }
                    Err(err) => Some(Ok(Err(err))),
                },
            })
        })
        .await;
        if let Some(step) = step {
            break step?;
        }
    };
    let (agreed, read_ahead) = match step {
        Ok(done) => done,
        Err(err) => {
            err.write_response(&mut response);
            io.write_all(&response).await?;
            let _ = io.shutdown().await;
            return Err(io::Error::new(io::ErrorKind::InvalidData, err));
        }
    };
    io.write_all(&response).await?;
    drop((parser, response)); // an idle connection keeps neither
    let conn = Connection::server(config(&agreed), now());
    Ok(WebSocketStream::from_parts(io, conn, read_ahead))
}

/// Connects to a `ws://` URL over TCP and completes the opening handshake,
/// with masking keys from the OS. Any other scheme is an error, before
/// anything is sent: a `wss://` URL must never go out in cleartext (for
/// TLS, connect a TLS stream yourself and use [`client_handshake`]).
#[cfg(feature = "getrandom")]
pub async fn connect(
    url: &str,
    client: ClientConfig,
    config: Config,
) -> Result<WebSocketStream<TcpStream, webwire::random::ThreadRandom>, BoxError> {
    connect_with(url, client, config, webwire::random::ThreadRandom).await
}

/// [`connect`] with masking keys from `random`.
pub async fn connect_with<R: RandomSource + Unpin>(
    url: &str,
    client: ClientConfig,
    config: Config,
    mut random: R,
) -> Result<WebSocketStream<TcpStream, R>, BoxError> {
    let handshake = ClientHandshake::new(url, client, &mut random)?;
    let uri = handshake.request().uri();
    if uri.scheme_str() != Some("ws") {
        return Err(format!(
            "{url}: connect speaks ws:// (cleartext) only; for wss://, connect a TLS \
             stream and use client_handshake"
        )
        .into());
    }
    let authority = uri.authority().ok_or("no host")?;
    let port = authority.port_u16().unwrap_or(80);
    // An IPv6 literal is bracketed in a URL, not in a socket address.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    finish_client(stream, handshake, config, random).await
}

/// Connects to a `wss://` URL: TCP, then TLS with `tls` (the server's
/// certificate checked against the URL's host before the handshake is
/// sent), then the opening handshake, with masking keys from the OS.
#[cfg(feature = "getrandom")]
pub async fn connect_tls(
    url: &str,
    tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    client: ClientConfig,
    config: Config,
) -> Result<
    WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>, webwire::random::ThreadRandom>,
    BoxError,
> {
    let uri: http::Uri = url.parse()?;
    if uri.scheme_str() != Some("wss") {
        return Err(format!("{url}: connect_tls speaks wss:// only").into());
    }
    let authority = uri.authority().ok_or("no host")?;
    let port = authority.port_u16().unwrap_or(443);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    client_handshake(stream, url, client, config, webwire::random::ThreadRandom).await
}

/// The client's opening handshake for `url` over any stream (TCP, TLS, …):
/// the scheme is not checked against the transport, so a `wss://` URL over
/// a TLS stream is fine. The response's permessage-deflate parameters are
/// applied to `config`.
pub async fn client_handshake<S, R>(
    io: S,
    url: &str,
    client: ClientConfig,
    config: Config,
    mut random: R,
) -> Result<WebSocketStream<S, R>, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    let handshake = ClientHandshake::new(url, client, &mut random)?;
    finish_client(io, handshake, config, random).await
}

async fn finish_client<S, R>(
    mut io: S,
    mut handshake: ClientHandshake,
    config: Config,
    random: R,
) -> Result<WebSocketStream<S, R>, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: RandomSource + Unpin,
{
    let mut request = Vec::new();
    handshake.write_request(&mut request);
    io.write_all(&request).await?;
    drop(request);
    let (outcome, read_ahead) = loop {
        let step = poll_fn(|cx| {
            poll_read_shared(&mut io, cx, usize::MAX, |read| match read {
                Err(e) => Some(Err(BoxError::from(e))),
                Ok([]) => Some(Err(
                    "the server closed the connection during the handshake".into()
                )),
                Ok(input) => match handshake.feed(input) {
                    Ok(Status::Partial) => None,
                    Ok(Status::Complete((outcome, used))) => {
                        Some(Ok((outcome, input[used..].to_vec())))
                    }
                    Err(e) => Some(Err(e.into())),
                },
            })
        })
        .await;
        if let Some(step) = step {
            break step?;
        }
    };
    match outcome {
        ClientOutcome::Accepted(accepted) => {
            #[cfg(feature = "deflate")]
            let config = config.with_deflate(accepted.deflate);
            let _ = accepted;
            let conn = Connection::client(config, random, now());
            Ok(WebSocketStream::from_parts(io, conn, read_ahead))
        }
        ClientOutcome::Rejected(response) => {
            Err(format!("the server refused the upgrade: {}", response.status()).into())
        }
        other => Err(format!("unexpected handshake outcome: {other:?}").into()),
    }
}
