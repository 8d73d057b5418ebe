//! WebSocket over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): the extended
//! CONNECT handshake.
//!
//! The `http` crate has no field for the `:protocol` pseudo-header, and each
//! HTTP/2 or HTTP/3 crate carries it its own way, so the functions here take
//! it as a plain string:
//!
//! * `hyper` server: `request.extensions().get::<hyper::ext::Protocol>().map(|p| p.as_str())`;
//!   enable it with `http2::Builder::enable_connect_protocol()`.
//! * `h2` server: `request.extensions().get::<h2::ext::Protocol>().map(|p| p.as_str())`;
//!   enable it with `h2::server::Builder::enable_connect_protocol()`.
//! * `h3` server (after 0.0.8, which has no WebSocket protocol, or the
//!   `hpx-h3` fork): `request.extensions().get::<h3::ext::Protocol>()`,
//!   compared with `h3::ext::Protocol::WEBSOCKET` (enable with
//!   `enable_extended_connect(true)`).
//!
//! After a `200`, the stream carries WebSocket frames exactly as a TCP
//! connection would: feed its DATA to [`Connection::handle_data`], write
//! what [`Connection::poll_transmit`] hands out, end the stream (END_STREAM,
//! or `finish()`) on [`Transmit::Shutdown`], call
//! [`Connection::handle_eof`] when the peer ends its side, and
//! [`Connection::handle_stream_reset`] when it resets the stream.
//!
//! [`Connection::handle_data`]: crate::ws::Connection::handle_data
//! [`Connection::poll_transmit`]: crate::ws::Connection::poll_transmit
//! [`Connection::handle_eof`]: crate::ws::Connection::handle_eof
//! [`Connection::handle_stream_reset`]: crate::ws::Connection::handle_stream_reset
//! [`Transmit::Shutdown`]: crate::ws::Transmit::Shutdown

use http::{Method, Request, Response, StatusCode};

use super::HandshakeError;
use super::error::is_multiplexed;
use super::server::{Accepted, ServerConfig, check_version, negotiate};

/// The `:protocol` value that asks for a WebSocket.
pub const EXTENDED_CONNECT_PROTOCOL: &str = "websocket";

/// Validates an extended CONNECT request (RFC 8441 §4–5, RFC 9220 §3): an
/// HTTP/2 or HTTP/3 request (its `version()`, as `hyper`, `h2` and `h3` set
/// it), `:method CONNECT`, `:protocol websocket` (passed as `protocol`),
/// `:scheme`, `:path` and `:authority` present, `sec-websocket-version: 13`;
/// then the origin policy, subprotocol and extensions as over HTTP/1.1.
/// Builds the `200` response, of the request's version. On an error, answer
/// with [`HandshakeError::response_for`] the request's version.
///
/// ```
/// use webwire::ws::handshake::{ServerConfig, accept_extended_connect};
///
/// let request = http::Request::builder()
///     .method("CONNECT")
///     .version(http::Version::HTTP_2)
///     .uri("https://example.com/chat")
///     .header("sec-websocket-version", "13")
///     .header("sec-websocket-protocol", "chat")
///     .body(())?;
/// let config = ServerConfig::new().with_protocols(["chat"]);
/// let response = match accept_extended_connect(&request, Some("websocket"), &config) {
///     Ok(accepted) => {
///         assert_eq!(accepted.protocol.as_deref(), Some("chat"));
///         accepted.response
///     }
///     Err(refused) => refused.response_for(request.version()),
/// };
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.version(), http::Version::HTTP_2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_extended_connect<B>(
    request: &Request<B>,
    protocol: Option<&str>,
    config: &ServerConfig,
) -> Result<Accepted, HandshakeError> {
    if !is_multiplexed(request.version()) {
        return Err(HandshakeError::ExtendedConnectVersion(request.version()));
    }
    if request.method() != Method::CONNECT {
        return Err(HandshakeError::Method(request.method().to_string()));
    }
    if !protocol.is_some_and(|p| p.eq_ignore_ascii_case(EXTENDED_CONNECT_PROTOCOL)) {
        return Err(HandshakeError::NotWebSocketProtocol);
    }
    let uri = request.uri();
    if uri.scheme().is_none() || uri.path_and_query().is_none() {
        return Err(HandshakeError::MissingSchemeOrPath);
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(HandshakeError::MissingHost);
    }
    let headers = request.headers();
    check_version(headers)?;
    let negotiated = negotiate(headers, config)?;
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::OK;
    *response.version_mut() = request.version();
    negotiated.finish(response, config)
}
