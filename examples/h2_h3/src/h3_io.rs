//! An HTTP/3 request stream as a tokio `AsyncRead + AsyncWrite`, for a
//! WebSocket opened by extended CONNECT (RFC 9220).
//!
//! `h3` sends with `async fn`s that borrow the stream, so the stream is
//! split: the receive half is polled in place, the send half moves into
//! each write's future and comes back with its result (one write in
//! flight: the next waits for it, which is the backpressure QUIC's flow
//! control gives). The write's bytes are copied into its future: one
//! write's worth (at most the adapter's 32 KiB) beyond what
//! `WebSocketStream` counts as unsent. A finished stream is end of file;
//! shutting down finishes ours. A stream the peer reset (`RESET_STREAM`) is
//! an `io::Error` holding [`StreamReset`] on the next read; the peer's
//! `STOP_SENDING` shows on the next write or finish only.
//!
//! Two limits of `h3` 0.0.8's API (which `hpx-h3` keeps), worked around or
//! documented here:
//!
//! - An empty DATA frame reads as the end of the stream, like the real end.
//!   The real end reads as the end every time it is polled, an empty frame
//!   only once, so the end is [`END_POLLS`] ends in a row: a peer would
//!   need that many empty frames in one go to end its own WebSocket early.
//! - A stream dropped while a write is under way is finished by quinn with
//!   a DATA frame cut short, which the peer's HTTP/3 treats as an error of
//!   the whole connection. Drop a WebSocket only after its close (or let
//!   `WebSocketStream` shut it down); a stream dropped between writes is
//!   stopped with `H3_REQUEST_CANCELLED`, which affects that stream only.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h3::error::StreamError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::stream::StreamReset;

type Quic = h3::quinn::BidiStream<Bytes>;
type SendQuic = h3::quinn::SendStream<Bytes>;
type RecvQuic = h3::quinn::RecvStream;

/// How many ends in a row are the end of a stream (see the module docs).
pub const END_POLLS: usize = 1024;

/// QUIC transport settings for both ends: room for 1,024 WebSockets on one
/// connection, and windows that let 1 MiB messages flow without waiting for
/// every acknowledgement. A WebSocket whose reader stalls holds its stream's
/// window (512 KiB) of the connection's 32 MiB: 64 stalled readers stall
/// the whole connection, as in HTTP/2.
pub fn transport_config() -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config
        .max_concurrent_bidi_streams(1024u32.into())
        .stream_receive_window((512u32 << 10).into())
        .receive_window((32u32 << 20).into())
        .send_window(32 << 20);
    config
}

/// A write or finish under way: the send half comes back with its result.
type Sending<S> = Pin<Box<dyn Future<Output = (S, Result<(), StreamError>)> + Send>>;

/// The receive half of a request stream (server's or client's).
pub trait RecvHalf: Unpin + Send + 'static {
    /// The next DATA, `None` at the end of the stream.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, StreamError>>;
}

/// The send half of a request stream (server's or client's).
pub trait SendHalf: Sized + Send + Unpin + 'static {
    /// Sends `data`.
    fn send(self, data: Bytes) -> Sending<Self>;
    /// Finishes the stream.
    fn finish(self) -> Sending<Self>;
    /// Resets the stream with `H3_REQUEST_CANCELLED`.
    fn cancel(&mut self);
}

macro_rules! halves {
    ($stream:ident) => {
        impl RecvHalf for h3::$stream::RequestStream<RecvQuic, Bytes> {
            fn poll_recv(
                &mut self,
                cx: &mut Context<'_>,
            ) -> Poll<Result<Option<Bytes>, StreamError>> {
                self.poll_recv_data(cx)
                    .map_ok(|data| data.map(|mut data| data.copy_to_bytes(data.remaining())))
            }
        }

        impl SendHalf for h3::$stream::RequestStream<SendQuic, Bytes> {
            fn send(mut self, data: Bytes) -> Sending<Self> {
                Box::pin(async move {
                    let result = self.send_data(data).await;
                    (self, result)
                })
            }

            fn cancel(&mut self) {
                self.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
            }

            fn finish(mut self) -> Sending<Self> {
                Box::pin(async move {
                    let result = RequestStreamFinish::finish(&mut self).await;
                    (self, result)
                })
            }
        }

        impl RequestStreamFinish for h3::$stream::RequestStream<SendQuic, Bytes> {
            async fn finish(&mut self) -> Result<(), StreamError> {
                h3::$stream::RequestStream::finish(self).await
            }
        }
    };
}

/// `finish` by another name, so the macro can call it without recursion.
trait RequestStreamFinish {
    fn finish(&mut self) -> impl Future<Output = Result<(), StreamError>> + Send;
}

halves!(server);
halves!(client);

/// The server's request stream, split.
pub type ServerStream = H3Stream<
    h3::server::RequestStream<SendQuic, Bytes>,
    h3::server::RequestStream<RecvQuic, Bytes>,
>;
/// The client's request stream, split.
pub type ClientStream = H3Stream<
    h3::client::RequestStream<SendQuic, Bytes>,
    h3::client::RequestStream<RecvQuic, Bytes>,
>;

/// Both halves of one HTTP/3 request stream.
pub struct H3Stream<S: SendHalf, R> {
    recv: R,
    /// `None` while a write or the finish holds it.
    send: Option<S>,
    sending: Option<Sending<S>>,
    /// The rest of the last DATA, not yet read.
    data: Bytes,
    finished: bool,
}

impl ServerStream {
    /// The server's stream after `send_response`.
    pub fn server(stream: h3::server::RequestStream<Quic, Bytes>) -> Self {
        let (send, recv) = stream.split();
        H3Stream::new(send, recv)
    }
}

impl ClientStream {
    /// The client's stream after `recv_response`.
    pub fn client(stream: h3::client::RequestStream<Quic, Bytes>) -> Self {
        let (send, recv) = stream.split();
        H3Stream::new(send, recv)
    }
}

impl<S: SendHalf, R: RecvHalf> H3Stream<S, R> {
    fn new(send: S, recv: R) -> Self {
        Self {
            recv,
            send: Some(send),
            sending: None,
            data: Bytes::new(),
            finished: false,
        }
    }

    /// Drives the write or finish under way to its end.
    fn poll_sent(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(sending) = &mut self.sending {
            let (send, result) = ready!(sending.as_mut().poll(cx));
            self.sending = None;
            self.send = Some(send);
            result.map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

/// An `h3` stream error as an `io::Error`: the peer's reset carries its code
/// as [`StreamReset`].
pub fn io_error(error: StreamError) -> io::Error {
    match error {
        StreamError::RemoteTerminate { code, .. } => io::Error::other(StreamReset(code.value())),
        other => io::Error::other(other),
    }
}

impl<S: SendHalf, R> Drop for H3Stream<S, R> {
    fn drop(&mut self) {
        // Not finished: quinn would finish it on drop, and the peer would
        // take what it got for the whole message. Cancel it instead.
        if !self.finished {
            if let Some(send) = &mut self.send {
                send.cancel();
            }
        }
    }
}

impl<S: SendHalf, R: RecvHalf> AsyncRead for H3Stream<S, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut ends = 0;
        while self.data.is_empty() {
            match ready!(self.recv.poll_recv(cx)) {
                Ok(Some(data)) => self.data = data,
                // An empty DATA frame, or the end (see the module docs).
                Ok(None) if ends + 1 < END_POLLS => ends += 1,
                Ok(None) => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(io_error(e))),
            }
        }
        let n = self.data.len().min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: SendHalf, R: RecvHalf> AsyncWrite for H3Stream<S, R> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_sent(cx))?;
        let Some(send) = self.send.take() else {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        };
        self.sending = Some(send.send(Bytes::copy_from_slice(data)));
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_sent(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_sent(cx))?;
        if !self.finished {
            self.finished = true;
            if let Some(send) = self.send.take() {
                self.sending = Some(send.finish());
            }
            ready!(self.poll_sent(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}
