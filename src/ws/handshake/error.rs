//! Handshake errors, each with the HTTP status to answer with.

use http::{HeaderValue, Response, StatusCode, Version, header};

/// Why an opening handshake failed.
///
/// On the server side every variant maps to a status ([`status`](Self::status))
/// and a ready-to-send response: [`response`](Self::response), which closes
/// the HTTP/1.1 connection, or [`response_for`](Self::response_for) the
/// request's version, which over HTTP/2 and HTTP/3 refuses the stream only.
/// On the client side the variants name what the server got wrong.
///
/// ```
/// use http::StatusCode;
/// use webwire::ws::handshake::HandshakeError;
///
/// let err = HandshakeError::UnsupportedVersion;
/// assert_eq!(err.status(), StatusCode::UPGRADE_REQUIRED);
/// let response = err.response();
/// assert_eq!(response.headers()["sec-websocket-version"], "13");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The header block is larger than the configured limit.
    #[error("header block larger than {0} bytes")]
    HeadTooLarge(usize),
    /// More header fields than the configured limit.
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    /// Not a parseable HTTP/1.1 message.
    #[error("malformed HTTP message: {0}")]
    Malformed(&'static str),
    /// The request method is not GET (or CONNECT for HTTP/2 and HTTP/3).
    #[error("method {0} cannot open a WebSocket")]
    Method(String),
    /// HTTP/1.0 or older.
    #[error("HTTP/1.1 or later is required")]
    HttpVersion,
    /// No Host header (HTTP/1.1), or no authority (HTTP/2, HTTP/3).
    #[error("missing Host")]
    MissingHost,
    /// More than one `Host` line (HTTP/1.1): RFC 9112 §3.2 requires a 400.
    #[error("more than one Host header")]
    DuplicateHost,
    /// `Upgrade` does not list `websocket`.
    #[error("Upgrade header does not list websocket")]
    NotWebSocketUpgrade,
    /// `Connection` does not list `upgrade`.
    #[error("Connection header does not list upgrade")]
    NotConnectionUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated or not 16 base64-encoded bytes.
    #[error("Sec-WebSocket-Key missing or not 16 base64-encoded bytes")]
    InvalidKey,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("Sec-WebSocket-Version must be 13")]
    UnsupportedVersion,
    /// The origin policy refused the request's `Origin`.
    #[error("origin not allowed")]
    OriginRejected,
    /// A `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions` header that
    /// cannot be parsed.
    #[error("malformed {0} header")]
    MalformedHeader(&'static str),
    /// HTTP/2 or HTTP/3: the extended CONNECT `:protocol` is not `websocket`.
    #[error("extended CONNECT without :protocol websocket")]
    NotWebSocketProtocol,
    /// HTTP/2 or HTTP/3: `:scheme` or `:path` missing.
    #[error("extended CONNECT without :scheme or :path")]
    MissingSchemeOrPath,
    /// Client: the URI is not `ws://`, `wss://`, `http://` or `https://`
    /// with a host, or has user information.
    #[error("invalid WebSocket URI: {0}")]
    InvalidUri(String),
    /// Client: the response's `Sec-WebSocket-Accept` does not match the key.
    #[error("Sec-WebSocket-Accept does not match the key")]
    AcceptMismatch,
    /// Client: the server chose a subprotocol the client did not offer, or
    /// sent several.
    #[error("server chose a subprotocol that was not offered")]
    UnexpectedProtocol,
    /// Client: the server accepted an extension (or parameters) the client
    /// did not offer.
    #[error("server accepted an extension that was not offered: {0}")]
    UnexpectedExtension(String),
    /// A header value that is not valid in an `http` header.
    #[error("invalid header value for {0}")]
    InvalidHeaderValue(String),
    /// An extra header that the handshake writes itself (`upgrade`,
    /// `connection` and `sec-websocket-*` on both sides, and `host` and
    /// `origin` in the client's request), or a connection-specific one that
    /// HTTP/2 and HTTP/3 forbid (`keep-alive`, `proxy-connection`,
    /// `transfer-encoding`, `te`).
    #[error("header {0} is the handshake's own")]
    ReservedHeader(String),
    /// An extended CONNECT (`:protocol`) on a version that has none: it
    /// exists only in HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220).
    #[error("extended CONNECT needs HTTP/2 or HTTP/3, not {0:?}")]
    ExtendedConnectVersion(http::Version),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with over HTTP/1.1.
    pub fn status(&self) -> StatusCode {
        self.status_for(Version::HTTP_11)
    }

    /// The HTTP status a server answers this error with over `version`.
    /// Over HTTP/2 and HTTP/3 a WebSocket version mismatch is a `400`, not
    /// HTTP/1.1's `426`, which asks for an `Upgrade` header those versions
    /// forbid.
    pub fn status_for(&self, version: Version) -> StatusCode {
        match self {
            Self::HeadTooLarge(_) | Self::TooManyHeaders(_) => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            Self::UnsupportedVersion if !is_multiplexed(version) => StatusCode::UPGRADE_REQUIRED,
            Self::OriginRejected => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// An HTTP/1.1 response that refuses the handshake and closes the
    /// connection: the status, `Connection: close`, `Content-Length: 0`, and
    /// for a version mismatch `Sec-WebSocket-Version: 13` (RFC 6455 §4.4).
    pub fn response(&self) -> Response<()> {
        self.response_for(Version::HTTP_11)
    }

    /// [`response`](Self::response) for a request of `version`. Over HTTP/2
    /// and HTTP/3 it refuses only the stream: no `Connection` header (those
    /// versions forbid connection-specific fields, and the `h2` crate
    /// refuses to send a response that has one) and the status of
    /// [`status_for`](Self::status_for).
    ///
    /// ```
    /// use http::Version;
    /// use webwire::ws::handshake::HandshakeError;
    ///
    /// let refusal = HandshakeError::UnsupportedVersion.response_for(Version::HTTP_2);
    /// assert_eq!(refusal.status(), 400);
    /// assert_eq!(refusal.version(), Version::HTTP_2);
    /// assert!(refusal.headers().get("connection").is_none());
    /// assert_eq!(refusal.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn response_for(&self, version: Version) -> Response<()> {
        let mut response = Response::new(());
        *response.status_mut() = self.status_for(version);
        *response.version_mut() = version;
        let headers = response.headers_mut();
        if !is_multiplexed(version) {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        if matches!(self, Self::UnsupportedVersion) {
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        response
    }

    /// Appends [`response`](Self::response) as HTTP/1.1 bytes to `out`.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        super::write_response(&self.response(), out);
    }
}

/// HTTP/2 and HTTP/3: many streams on one connection, no connection-specific
/// header fields.
pub(crate) fn is_multiplexed(version: Version) -> bool {
    version == Version::HTTP_2 || version == Version::HTTP_3
}
