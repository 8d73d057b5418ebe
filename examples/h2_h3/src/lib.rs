//! webwire WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) on real
//! stacks: the `h2` crate, and `quinn` + hyperium's `h3` (as the `hpx-h3`
//! fork publishes it, until an `h3` release knows `:protocol websocket`).
//!
//! The library's `Connection` does not care what carries its bytes. Each
//! module here turns one kind of stream into a tokio `AsyncRead +
//! AsyncWrite`, so the same `WebSocketStream` (`common/stream.rs`) runs over
//! TCP, TLS, an HTTP/2 stream or an HTTP/3 stream:
//!
//! - [`h2_io`]: an HTTP/2 stream (`h2::SendStream` + `h2::RecvStream`), with
//!   flow control: received bytes give the peer window back only once the
//!   WebSocket has read them, so a slow reader stalls its own stream (and
//!   holds that stream's window of the connection's: see [`h2_io`]).
//! - [`h3_io`]: an HTTP/3 request stream (the server's or the client's).
//! - [`echo`]: the echo behaviour of the `echo_server` example, for any of
//!   them; [`client`]: the connect helpers; [`stdio_session`]: the
//!   stdin/stdout session of the `client` binary (shared with
//!   `tokio_client`); [`multiplex`]: many WebSockets on one HTTP/2
//!   connection beside one that does not read (the `multiplex` binary).
//!
//! END_STREAM (HTTP/2) and a finished stream (HTTP/3) are the transport's
//! end; a reset stream comes out of the transport as an `io::Error` holding
//! [`stream::StreamReset`], which `WebSocketStream` hands to
//! `Connection::handle_stream_reset`.

#[path = "../../common/stdio_session.rs"]
pub mod stdio_session;
#[path = "../../common/stream.rs"]
pub mod stream;
#[path = "../../common/tls.rs"]
#[allow(dead_code)]
pub mod tls;

pub mod client;
pub mod echo;
pub mod h2_io;
pub mod h3_io;
pub mod multiplex;

/// Errors of the connect and serve helpers.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// ALPN protocol ids.
pub const ALPN_H2: &[u8] = b"h2";
/// HTTP/1.1's ALPN id.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";
/// HTTP/3's ALPN id.
pub const ALPN_H3: &[u8] = b"h3";
