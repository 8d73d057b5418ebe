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
//! * Client: [`ClientHandshake`] builds the request and validates the
//!   response, handing non-`101` answers back as a typed outcome.
//! * HTTP/2 and HTTP/3: [`accept_extended_connect`] and
//!   [`ClientHandshake::extended_connect_request`].
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
mod extensions;
mod h2;
mod head;
mod server;

pub use client::{ClientConfig, ClientHandshake, ClientOutcome};
pub use error::HandshakeError;
pub use extensions::{ExtensionOffer, parse_extensions};
pub use h2::{EXTENDED_CONNECT_PROTOCOL, accept_extended_connect};
pub use head::{HandshakeLimits, RequestParser, write_response};
pub use server::{Accepted, OriginPolicy, ServerConfig, accept};

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
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Appends a caller's extra header, checking its name and value.
pub(crate) fn append_header(
    headers: &mut http::HeaderMap,
    name: &str,
    value: &str,
) -> Result<(), HandshakeError> {
    let bad = || HandshakeError::InvalidHeaderValue(name.to_owned());
    let header_name = http::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
    let header_value = http::HeaderValue::from_str(value).map_err(|_| bad())?;
    headers.append(header_name, header_value);
    Ok(())
}

/// Whether a comma-separated header (all its lines) lists `token`,
/// compared case-insensitively (RFC 9110 §5.6.1).
pub(crate) fn has_token(
    headers: &http::HeaderMap,
    name: http::header::HeaderName,
    token: &str,
) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The comma-separated tokens of a header, all its lines, trimmed; empty
/// elements skipped. `None` if a line is not visible ASCII.
pub(crate) fn token_list(
    headers: &http::HeaderMap,
    name: http::header::HeaderName,
) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for value in headers.get_all(name) {
        let value = value.to_str().ok()?;
        out.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6455_section_1_3_accept_key() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn token_lists() {
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::CONNECTION,
            "keep-alive, Upgrade".parse().unwrap(),
        );
        h.append(http::header::CONNECTION, "x".parse().unwrap());
        assert!(has_token(&h, http::header::CONNECTION, "upgrade"));
        assert!(has_token(&h, http::header::CONNECTION, "X"));
        assert!(!has_token(&h, http::header::CONNECTION, "upgrad"));
        assert_eq!(
            token_list(&h, http::header::CONNECTION).unwrap(),
            ["keep-alive", "Upgrade", "x"]
        );
    }
}
