//! The opening handshake (RFC 6455 §4), over HTTP/1.1 and, by extended
//! CONNECT, over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220).
//!
//! Sans-IO like the rest of the crate: bytes and `http` types in, `http`
//! types and bytes out.
//!
//! * Server: [`RequestParser`] reads the upgrade request incrementally (in
//!   linear time, however the bytes are split) into an `http::Request<()>`;
//!   [`accept`] validates it, negotiates a subprotocol and extensions and
//!   builds the `101` response, or returns a [`HandshakeError`] with a
//!   ready-to-send error response. [`accept`] works just as well on a
//!   request your framework (hyper, axum) parsed.
//! * Server, fast path: [`RequestParser::feed_with`] hands the head over
//!   parsed in place ([`RequestHead`]), and [`RequestHead::accept`] applies
//!   the same validation and writes the `101` bytes directly: no `http`
//!   types, no copies, about three times faster.
//! * Client: [`ClientHandshake`] builds the request and validates the
//!   response, handing non-`101` answers back as a typed outcome.
//! * HTTP/2 and HTTP/3: [`accept_extended_connect`] and
//!   [`ClientHandshake::extended_connect_request`]; a refusal is
//!   [`HandshakeError::response_for`] the request's version. The stream then
//!   carries frames as a TCP connection would: see
//!   [`Connection`](crate::ws::Connection) for how END_STREAM and a reset
//!   stream map to its inputs.
//!
//! ```
//! use webwire::Status;
//! use webwire::random::SeededRandom;
//! use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome, RequestParser, ServerConfig, accept};
//!
//! // Client: build the request.
//! let client = ClientHandshake::new("ws://example.com/chat", ClientConfig::new().with_protocols(["chat"]), &mut SeededRandom::new(1))?;
//! let mut wire = Vec::new();
//! client.write_request(&mut wire);
//!
//! // Server: parse, validate, answer.
//! let mut parser = RequestParser::default();
//! let Status::Complete((request, used)) = parser.feed(&wire)? else { panic!("need more") };
//! assert_eq!(used, wire.len());
//! let accepted = accept(&request, &ServerConfig::new().with_protocols(["chat"]))?;
//! let mut reply = Vec::new();
//! accepted.write_response(&mut reply);
//!
//! // Client: validate the response.
//! let mut client = client;
//! let Status::Complete((ClientOutcome::Accepted(done), _)) = client.feed(&reply)? else { panic!() };
//! assert_eq!(done.protocol.as_deref(), Some("chat"));
//! # Ok::<(), webwire::ws::handshake::HandshakeError>(())
//! ```

mod client;
mod error;
mod extended_connect;
mod extensions;
mod fields;
mod head;
mod limits;
mod request;
mod response;
mod server;

pub use client::{ClientConfig, ClientHandshake, ClientOutcome};
pub use error::HandshakeError;
pub use extended_connect::{EXTENDED_CONNECT_PROTOCOL, accept_extended_connect};
pub use extensions::{ExtensionOffer, parse_extensions};
pub use limits::HandshakeLimits;
pub use request::{RequestHead, RequestParser};
pub use response::write_response;
pub use server::{Accepted, Negotiated, OriginPolicy, ServerConfig, accept};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455
/// §4.2.2): base64(SHA-1(key + GUID)).
///
/// ```
/// use webwire::ws::handshake::accept_key;
///
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    String::from_utf8_lossy(&accept_key_bytes(key)).into_owned()
}

/// [`accept_key`] on the stack.
pub(crate) fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; 28];
    // 20 bytes always encode to 28 characters.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(sha.finalize(), &mut out);
    out
}

/// Which end of the handshake a configuration belongs to: each writes its
/// own set of headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The upgrade request.
    Client,
    /// The `101` (or `200`) response.
    Server,
}

/// Whether the handshake writes the header `name` (lower case, as
/// `HeaderName` keeps it) itself on `side`, so that an extra header of that
/// name would send it twice: `upgrade`, `connection` and every
/// `sec-websocket-*` on both sides, and in the client's request also `host`
/// and `origin` (set with [`ClientConfig::with_origin`]). The other
/// connection-specific fields (`keep-alive`, `proxy-connection`,
/// `transfer-encoding`, `te`) are refused too: HTTP/2 and HTTP/3 forbid them
/// (RFC 9113 §8.2.2, RFC 9114 §4.2), and a `101` or an upgrade request has no
/// use for them.
fn is_reserved(name: &http::header::HeaderName, side: Side) -> bool {
    let name = name.as_str();
    matches!(
        name,
        "upgrade" | "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "te"
    ) || name.starts_with("sec-websocket-")
        || (side == Side::Client && matches!(name, "host" | "origin"))
}

/// Checks a caller's extra header for `side` and appends it to `headers`:
/// an invalid name or value is [`HandshakeError::InvalidHeaderValue`], a
/// header the handshake writes itself [`HandshakeError::ReservedHeader`].
/// Both configurations' `with_header` come here.
pub(crate) fn append_extra_header(
    headers: &mut http::HeaderMap,
    side: Side,
    name: &str,
    value: &str,
) -> Result<(), HandshakeError> {
    let bad = || HandshakeError::InvalidHeaderValue(name.to_owned());
    let header_name = http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
    if is_reserved(&header_name, side) {
        return Err(HandshakeError::ReservedHeader(name.to_owned()));
    }
    let header_value = http::HeaderValue::from_str(value).map_err(|_| bad())?;
    headers.append(header_name, header_value);
    Ok(())
}

/// Adds the configured extra headers to a request or response, after the
/// handshake's own (which they never repeat).
pub(crate) fn add_extra_headers(out: &mut http::HeaderMap, extra: &http::HeaderMap) {
    for (name, value) in extra {
        out.append(name, value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys from the captures and edge values, with accept values computed
    /// independently (Python's `hashlib` and `base64`).
    #[test]
    fn accept_keys_computed_elsewhere() {
        for (key, accept) in [
            ("pNZVUapZREcqAflGyqKNrw==", "Ku2Ju/Gx6X9E/afikpvCr70PVKY="),
            ("i9IAnq7DnpwlBIXwMPIwyQ==", "59gpmxuRioXl7cVbTaKLA6IL8F0="),
            ("AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI="),
            ("/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g="),
        ] {
            assert_eq!(accept_key(key.as_bytes()), accept, "{key}");
        }
    }

    #[test]
    fn reserved_names_by_side() {
        use http::header::HeaderName;
        for (name, client, server) in [
            ("host", true, false),
            ("origin", true, false),
            ("upgrade", true, true),
            ("connection", true, true),
            ("sec-websocket-key", true, true),
            ("sec-websocket-accept", true, true),
            ("sec-websocket-x", true, true),
            ("authorization", false, false),
            ("x-host", false, false),
            ("sec-websocket", false, false),
            ("keep-alive", true, true),
            ("transfer-encoding", true, true),
            ("proxy-connection", true, true),
            ("te", true, true),
            ("tea", false, false),
        ] {
            let name = HeaderName::from_static(name);
            assert_eq!(is_reserved(&name, Side::Client), client, "{name}");
            assert_eq!(is_reserved(&name, Side::Server), server, "{name}");
        }
        let mut headers = http::HeaderMap::new();
        assert_eq!(
            append_extra_header(&mut headers, Side::Client, "bad name", "x"),
            Err(HandshakeError::InvalidHeaderValue("bad name".into()))
        );
        assert_eq!(
            append_extra_header(&mut headers, Side::Server, "x-ok", "\n"),
            Err(HandshakeError::InvalidHeaderValue("x-ok".into()))
        );
        assert!(headers.is_empty());
    }

    #[test]
    fn rfc6455_section_1_3_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
