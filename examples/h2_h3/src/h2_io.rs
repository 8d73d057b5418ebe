//! An HTTP/2 stream as a tokio `AsyncRead + AsyncWrite`, for a WebSocket
//! opened by extended CONNECT (RFC 8441).
//!
//! - Reading hands out DATA frames and gives their bytes back to the peer's
//!   flow-control window only as they are read: a WebSocket whose reader
//!   stalls stops its peer on this stream, and the other streams of the
//!   connection go on. A stalled stream holds its stream window of the
//!   connection's window, so enough stalled readers stall the whole
//!   connection: with `h2_echo`'s and the client's windows (256 KiB per
//!   stream, 16 MiB per connection), 64 of them.
//! - Writing waits for window (`poll_capacity`) and sends at most what the
//!   window allows: one write never queues more than the peer lets in.
//! - END_STREAM from the peer is end of file; shutting down sends
//!   END_STREAM. A stream the peer reset (`RST_STREAM`) is an `io::Error`
//!   holding [`StreamReset`] with its error code.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stream::StreamReset;

/// Both halves of one HTTP/2 stream.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// The rest of the last DATA frame, not yet read.
    data: Bytes,
    end_sent: bool,
}

impl H2Stream {
    /// The stream whose response (server) or request (client) headers have
    /// been sent: `send` from `send_response` / `send_request`, `recv` the
    /// request's or response's body.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Self {
            send,
            recv,
            data: Bytes::new(),
            end_sent: false,
        }
    }
}

/// An `h2` error as an `io::Error`: a stream the peer reset carries its
/// code as [`StreamReset`] (resets h2 made itself, and GOAWAY, stay plain
/// errors).
pub fn io_error(error: h2::Error) -> io::Error {
    if error.is_reset() && error.is_remote() {
        if let Some(reason) = error.reason() {
            return io::Error::other(StreamReset(u32::from(reason).into()));
        }
    }
    if error.is_io() {
        return error
            .into_io()
            .unwrap_or_else(|| io::Error::other("HTTP/2 I/O error"));
    }
    io::Error::other(error)
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.data.is_empty() {
            match ready!(self.recv.poll_data(cx)) {
                None => return Poll::Ready(Ok(())), // END_STREAM
                Some(Ok(data)) => self.data = data,
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = self.data.len().min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data.advance(n);
        // Window back for what the WebSocket took, and only that.
        let _ = self.recv.flow_control().release_capacity(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // A reset while we only write: no DATA would ever get through. (h2
        // reports its own resets and GOAWAY here too; they are rare enough
        // to be told apart on the read side, which sees the same stream.)
        if let Poll::Ready(reset) = self.send.poll_reset(cx) {
            return Poll::Ready(Err(match reset {
                Ok(reason) => io::Error::other(StreamReset(u32::from(reason).into())),
                Err(e) => io_error(e),
            }));
        }
        self.send.reserve_capacity(data.len());
        loop {
            let window = self.send.capacity();
            if window > 0 {
                let n = window.min(data.len());
                self.send
                    .send_data(Bytes::copy_from_slice(&data[..n]), false)
                    .map_err(io_error)?;
                return Poll::Ready(Ok(n));
            }
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection task writes what `send_data` queued.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.end_sent {
            self.end_sent = true;
            self.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}
