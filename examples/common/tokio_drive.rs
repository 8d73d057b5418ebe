//! The tokio adapter the tokio examples (and benches/compare's echo server)
//! share: `serve` answers the opening handshake and `drive` runs a server
//! `Connection` over any async byte stream as an echo server.
//!
//! One future per turn writes what `poll_transmit` produced, reads, and
//! fires the connection's timer. Sans-IO pays off in memory here: the
//! connection copies what it needs out of every read, so all connections on
//! a runtime thread read into one shared 32 KiB buffer (`READ_BUF`, borrowed
//! only inside a poll) and an idle connection holds no read buffer at all.
//! Nor a send buffer: once written, it is freed (see `drive`). A peer that
//! does not read pins at most `MAX_UNSENT` (tests/hostile_examples.rs).

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use webwire::Status;
use webwire::ws::handshake::{
    HandshakeError, HandshakeLimits, Negotiated, RequestParser, ServerConfig,
};
use webwire::ws::{Config, Connection, Event, Transmit};

/// Most bytes held for a peer that does not read what it is sent (pongs,
/// echoes): the connection is read only while fewer are unsent, and a read
/// takes no more than the room left, so what it brings in stays within
/// this too. A peer that pings without reading thus pins at most 32 KiB
/// here, then its writes stall in the kernel.
const MAX_UNSENT: usize = 32 * 1024;

thread_local! {
    /// The read buffer every connection on this thread reads into.
    pub static READ_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_UNSENT]);
}

/// Polls one read of at most `max` bytes into the shared buffer and hands
/// `take` the bytes read (empty at end of stream) or the error.
pub fn poll_read_shared<S: AsyncRead + Unpin, T>(
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

/// The opening handshake on `io` as `server` says, then [`drive`] with the
/// `Config` that `config` makes of what was agreed.
#[allow(dead_code)] // hyper_upgrade leaves the handshake to hyper
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    server: &ServerConfig,
    config: impl FnOnce(&Negotiated) -> Config,
) -> io::Result<()> {
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let mut response = Vec::new();
    // The in-place fast path: validated on the parsed head, the 101 written
    // straight into `response`, no `http` types built. `Ok(None)`: the
    // client left before its request was complete.
    type Step = io::Result<Option<Result<(Negotiated, Vec<u8>), HandshakeError>>>;
    let step: Step = loop {
        let step = poll_fn(|cx| {
            poll_read_shared(&mut io, cx, usize::MAX, |read| match read {
                Err(e) => Some(Err(e)),
                Ok([]) => Some(Ok(None)),
                Ok(input) => match parser.feed_with(input, |h| h.accept(server, &mut response)) {
                    Ok(Status::Partial) => None,
                    // Frames pipelined behind the request are copied out of
                    // the shared buffer.
                    Ok(Status::Complete((agreed, used))) => {
                        Some(Ok(Some(agreed.map(|a| (a, input[used..].to_vec())))))
                    }
                    Err(err) => Some(Ok(Some(Err(err)))),
                },
            })
        })
        .await;
        if let Some(step) = step {
            break step;
        }
    };
    let (agreed, rest) = match step? {
        Some(Ok(done)) => done,
        Some(Err(err)) => {
            err.write_response(&mut response);
            return io.write_all(&response).await;
        }
        None => return Ok(()),
    };
    io.write_all(&response).await?;
    drop((parser, response)); // an idle connection keeps neither
    drive(io, config(&agreed), &rest).await
}

/// Runs a server connection over any async byte stream, echoing messages,
/// until it ends.
pub async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    config: Config,
    initial: &[u8],
) -> io::Result<()> {
    let mut conn = Connection::server(config, Instant::now());
    let (mut out, mut sent, mut done) = (Vec::new(), 0, false);
    take(&mut conn, initial, &mut out, &mut done);
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    loop {
        echo(&mut conn);
        if sent == out.len() {
            // Written: free it rather than keep it. The next message gets a
            // chunk the allocator just had back (warm in cache), where a kept
            // buffer per connection would be cold by then, and an idle
            // connection holds no send buffer.
            out = Vec::new();
            sent = 0;
        }
        // New bytes are appended behind any not yet written.
        done |= conn.poll_transmit(&mut out) == Transmit::Shutdown;
        if done && sent == out.len() {
            return io.shutdown().await;
        }
        let deadline = conn.poll_timeout();
        if let Some(at) = deadline {
            timer.as_mut().reset(at.into());
        }
        // Ready once anything moved: bytes written, a read handed to the
        // connection, or the timer fired.
        poll_fn(|cx| {
            let mut moved = false;
            while sent < out.len() {
                match Pin::new(&mut io).poll_write(cx, &out[sent..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => (sent, moved) = (sent + n, true),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            // Backpressure: a peer that does not read stops being read, and
            // a read brings in no more than `out` has room for.
            if !done && out.len() - sent < MAX_UNSENT {
                let room = MAX_UNSENT - (out.len() - sent);
                let read = poll_read_shared(&mut io, cx, room, |read| match read {
                    Ok(input) if !input.is_empty() => {
                        drop_written(&mut out, &mut sent);
                        take(&mut conn, input, &mut out, &mut done);
                    }
                    // End of stream or a broken socket: at most once more,
                    // while `out` still holds bytes.
                    _ => conn.handle_eof(),
                });
                moved |= read.is_ready();
            }
            if deadline.is_some() && timer.as_mut().poll(cx).is_ready() {
                conn.handle_timeout(Instant::now());
                moved = true;
            }
            if moved {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        })
        .await?;
    }
}

/// Drops the bytes of `out` that were written (`..sent`) before more are
/// appended: all of it is freed (as in `drive`), part of it moved out, or a
/// peer that reads slowly, never letting `out` drain, would have it hold all
/// it was ever sent.
fn drop_written(out: &mut Vec<u8>, sent: &mut usize) {
    if *sent == out.len() {
        *out = Vec::new();
    } else {
        out.drain(..*sent);
    }
    *sent = 0;
}

/// Feeds all of `input` to the connection. Whenever it stops taking input
/// (events to drain, a pong to hand out), echoes the events and appends
/// what is queued to `out`, so nothing read is kept aside.
fn take(conn: &mut Connection, mut input: &[u8], out: &mut Vec<u8>, done: &mut bool) {
    loop {
        let used = conn.handle_data(Instant::now(), input);
        input = &input[used..];
        if input.is_empty() {
            return;
        }
        echo(conn);
        *done |= conn.poll_transmit(out) == Transmit::Shutdown;
    }
}

/// Echoes text as text and binary as binary.
fn echo(conn: &mut Connection) {
    while let Some(event) = conn.poll_event() {
        let _ = match event {
            Event::Text(text) => conn.send_text(&text),
            Event::Binary(data) => conn.send_binary(&data),
            _ => Ok(()),
        };
    }
}
