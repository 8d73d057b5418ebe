//! Client side: build the upgrade request, validate the response.

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};

use super::extensions::{ExtensionOffer, offers};
use super::fields::{Field, has_token};
use super::head::HeadReader;
use super::limits::HandshakeLimits;
use super::response::{parse_response_head, write_headers};
use super::server::Accepted;
use super::{HandshakeError, accept_key};
use crate::Status;
use crate::random::RandomSource;

/// What a client asks for: origin, subprotocols, extensions, extra headers.
///
/// ```
/// use webwire::ws::handshake::ClientConfig;
///
/// let config = ClientConfig::new()
///     .with_origin("https://app.example.com")
///     .with_protocols(["chat.v2", "chat.v1"])
///     .with_header("authorization", "Bearer t0ken")?;
/// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: HeaderMap,
    limits: HandshakeLimits,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::ws::deflate::DeflateConfig>,
}

impl ClientConfig {
    /// No origin, subprotocols, extensions or extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends `Origin` (browsers always do; other clients may).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Subprotocols to offer, most preferred first.
    pub fn with_protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// An extension to offer. The server may accept it; the response is
    /// checked to name only offered extensions.
    pub fn with_extension(mut self, offer: ExtensionOffer) -> Self {
        self.extensions.push(offer);
        self
    }

    /// Offer permessage-deflate (RFC 7692) with these parameters; the
    /// server's answer is checked against them.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn with_deflate(mut self, deflate: crate::ws::deflate::DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// An extra request header (such as `Authorization` or `Cookie`), sent
    /// after the handshake's own. The headers the request carries anyway
    /// (`host`, `upgrade`, `connection`, `origin`, which
    /// [`with_origin`](Self::with_origin) sets, and every `sec-websocket-*`,
    /// set by [`with_protocols`](Self::with_protocols),
    /// [`with_extension`](Self::with_extension) and the handshake itself) are
    /// refused with [`HandshakeError::ReservedHeader`]: sent twice, they
    /// would get the request refused (two `Host` lines are a 400, RFC 9112
    /// §3.2) or misread. An invalid name or value is
    /// [`HandshakeError::InvalidHeaderValue`].
    ///
    /// ```
    /// use webwire::ws::handshake::{ClientConfig, HandshakeError};
    ///
    /// assert!(ClientConfig::new().with_header("cookie", "session=1").is_ok());
    /// assert_eq!(
    ///     ClientConfig::new().with_header("Host", "elsewhere.example").unwrap_err(),
    ///     HandshakeError::ReservedHeader("Host".into())
    /// );
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, HandshakeError> {
        super::append_extra_header(&mut self.headers, super::Side::Client, name, value)?;
        Ok(self)
    }

    /// Limits on the response's header block.
    pub fn with_limits(mut self, limits: HandshakeLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// How the server answered.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientOutcome {
    /// The server switched to WebSocket; frames follow.
    Accepted(Accepted),
    /// The server answered with another status (a redirect, 401, 403, …):
    /// its status and headers, for the caller to act on. Any body follows
    /// the head on the wire and was not read.
    Rejected(Response<()>),
}

/// A client's opening handshake: the request to send, then the response to
/// check.
///
/// The 16-byte key comes from an injected [`RandomSource`], so tests can fix
/// it. The response is read incrementally with [`feed`](Self::feed) (bytes
/// after the head are frames, and are left to the caller), or checked as an
/// `http::Response` from your HTTP client with
/// [`check_response`](Self::check_response).
///
/// ```
/// use webwire::Status;
/// use webwire::random::FixedRandom;
/// use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome};
///
/// // RFC 6455's sample key "the sample nonce".
/// let mut random = FixedRandom::new(*b"the sample nonce");
/// let mut client = ClientHandshake::new("ws://server.example.com/chat", ClientConfig::new(), &mut random)?;
/// assert_eq!(client.request().headers()["sec-websocket-key"], "dGhlIHNhbXBsZSBub25jZQ==");
///
/// let reply = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///               Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// let Status::Complete((ClientOutcome::Accepted(_), used)) = client.feed(reply)? else { panic!() };
/// assert_eq!(used, reply.len());
/// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
/// ```
#[derive(Debug)]
pub struct ClientHandshake {
    request: Request<()>,
    expected_accept: String,
    config: ClientConfig,
    reader: HeadReader,
}

impl ClientHandshake {
    /// A handshake for `uri` (`ws://`, `wss://`, `http://` or `https://`)
    /// with a key from `random`.
    pub fn new(
        uri: &str,
        config: ClientConfig,
        random: &mut impl RandomSource,
    ) -> Result<Self, HandshakeError> {
        let mut key = [0u8; 16];
        random.fill_bytes(&mut key);
        Self::with_key(uri, config, key)
    }

    /// A handshake for `uri` with the given key.
    pub fn with_key(
        uri: &str,
        config: ClientConfig,
        key: [u8; 16],
    ) -> Result<Self, HandshakeError> {
        let bad = |why: &str| HandshakeError::InvalidUri(format!("{uri}: {why}"));
        let parsed: Uri = uri.parse().map_err(|_| bad("not a URI"))?;
        match parsed.scheme_str() {
            Some("ws" | "wss" | "http" | "https") => {}
            _ => return Err(bad("scheme must be ws, wss, http or https")),
        }
        let authority = parsed.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("user information is not allowed"));
        }
        if authority.host().is_empty() {
            return Err(bad("no host"));
        }
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        let expected_accept = accept_key(key.as_bytes());

        let mut request = Request::new(());
        *request.uri_mut() = parsed.clone();
        let headers = request.headers_mut();
        let value = |s: &str| {
            HeaderValue::from_str(s).map_err(|_| HandshakeError::InvalidHeaderValue(s.to_owned()))
        };
        headers.insert(header::HOST, value(authority.as_str())?);
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::SEC_WEBSOCKET_KEY, value(&key)?);
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        add_offers(headers, &config)?;
        Ok(Self {
            request,
            expected_accept,
            config,
            reader: HeadReader::default(),
        })
    }

    /// The request to send (its URI is the one given, `ws://` and all).
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// Appends the request as HTTP/1.1 bytes to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        let target = self
            .request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str());
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        write_headers(self.request.headers(), out);
    }

    /// Takes the next bytes of the server's response. Once the head is
    /// complete, returns the outcome and how many bytes of this call's input
    /// it used; the rest are WebSocket frames (or a rejection's body).
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<(ClientOutcome, usize)>, HandshakeError> {
        let Some(used) = self.reader.feed(input, self.config.limits.max_head_size)? else {
            return Ok(Status::Partial);
        };
        let response = parse_response_head(self.reader.head(), self.config.limits.max_headers);
        self.reader.clear();
        Ok(Status::Complete((self.check_response(&response?)?, used)))
    }

    /// Checks an HTTP/1.1 response (RFC 6455 §4.1): a `101` must upgrade to
    /// websocket with the right accept key, and name only a subprotocol and
    /// extensions that were offered. Any other status is
    /// [`ClientOutcome::Rejected`].
    pub fn check_response<B>(
        &self,
        response: &Response<B>,
    ) -> Result<ClientOutcome, HandshakeError> {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Ok(ClientOutcome::Rejected(head_of(response)));
        }
        let headers = response.headers();
        if !has_token(headers, Field::Upgrade, "websocket") {
            return Err(HandshakeError::NotWebSocketUpgrade);
        }
        if !has_token(headers, Field::Connection, "upgrade") {
            return Err(HandshakeError::NotConnectionUpgrade);
        }
        let mut accepts = headers.get_all(header::SEC_WEBSOCKET_ACCEPT).iter();
        match (accepts.next(), accepts.next()) {
            (Some(v), None) if v.as_bytes().trim_ascii() == self.expected_accept.as_bytes() => {}
            _ => return Err(HandshakeError::AcceptMismatch),
        }
        self.accepted(response)
    }

    /// The request for an extended CONNECT over HTTP/2 (RFC 8441) or HTTP/3
    /// (RFC 9220), of that `version`: `CONNECT`, the `https`/`http` URI,
    /// `sec-websocket-version: 13` and the offers. Send it with `:protocol`
    /// set to [`EXTENDED_CONNECT_PROTOCOL`](super::EXTENDED_CONNECT_PROTOCOL):
    /// with the `h2` crate, insert `h2::ext::Protocol::from_static("websocket")`
    /// into the request's extensions; with `h3` (after 0.0.8, or the `hpx-h3`
    /// fork), `h3::ext::Protocol::WEBSOCKET`.
    /// Any other version is [`HandshakeError::ExtendedConnectVersion`].
    ///
    /// ```
    /// use http::Version;
    /// use webwire::random::SeededRandom;
    /// use webwire::ws::handshake::{ClientConfig, ClientHandshake};
    ///
    /// let client = ClientHandshake::new("wss://example.com/chat", ClientConfig::new(), &mut SeededRandom::new(1))?;
    /// let request = client.extended_connect_request(Version::HTTP_3)?;
    /// assert_eq!(request.method(), "CONNECT");
    /// assert_eq!(request.version(), Version::HTTP_3);
    /// assert_eq!(request.uri(), "https://example.com/chat");
    /// assert!(client.extended_connect_request(Version::HTTP_11).is_err());
    /// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
    /// ```
    pub fn extended_connect_request(
        &self,
        version: Version,
    ) -> Result<Request<()>, HandshakeError> {
        if !super::error::is_multiplexed(version) {
            return Err(HandshakeError::ExtendedConnectVersion(version));
        }
        let uri = self.request.uri();
        let scheme = match uri.scheme_str() {
            Some("ws" | "http") => "http",
            _ => "https",
        };
        let authority = uri.authority().map_or("", |a| a.as_str());
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let uri: Uri = format!("{scheme}://{authority}{path}")
            .parse()
            .map_err(|_| HandshakeError::InvalidUri(uri.to_string()))?;
        let mut request = Request::new(());
        *request.method_mut() = Method::CONNECT;
        *request.uri_mut() = uri;
        *request.version_mut() = version;
        let headers = request.headers_mut();
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        add_offers(headers, &self.config)?;
        Ok(request)
    }

    /// Checks the response to an extended CONNECT: any 2xx opens the
    /// WebSocket (RFC 8441 §5); anything else is [`ClientOutcome::Rejected`].
    pub fn check_extended_connect_response<B>(
        &self,
        response: &Response<B>,
    ) -> Result<ClientOutcome, HandshakeError> {
        if !response.status().is_success() {
            return Ok(ClientOutcome::Rejected(head_of(response)));
        }
        self.accepted(response)
    }

    /// Subprotocol and extension checks shared by both transports.
    fn accepted<B>(&self, response: &Response<B>) -> Result<ClientOutcome, HandshakeError> {
        let headers = response.headers();
        let mut protocols = headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter();
        let protocol = match (protocols.next(), protocols.next()) {
            (None, _) => None,
            (Some(p), None) => {
                let p = p
                    .to_str()
                    .map_err(|_| HandshakeError::UnexpectedProtocol)?
                    .trim();
                if !self.config.protocols.iter().any(|o| o == p) {
                    return Err(HandshakeError::UnexpectedProtocol);
                }
                Some(p.to_owned())
            }
            _ => return Err(HandshakeError::UnexpectedProtocol),
        };
        let mut extensions = Vec::new();
        #[cfg(feature = "deflate")]
        let mut deflate = None;
        for value in headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS) {
            let value = value
                .to_str()
                .map_err(|_| HandshakeError::MalformedHeader("Sec-WebSocket-Extensions"))?;
            // One offer at a time: the first the client did not make ends
            // the check before the rest is even copied.
            for ext in offers(value) {
                let ext = ext?;
                #[cfg(feature = "deflate")]
                if let (Some(ours), true) = (
                    &self.config.deflate,
                    ext.name()
                        .eq_ignore_ascii_case(crate::ws::deflate::PERMESSAGE_DEFLATE),
                ) {
                    // One answer, with no more parameters than
                    // permessage-deflate has.
                    if deflate.is_some() || ext.param_count() > super::server::DEFLATE_PARAMS {
                        return Err(HandshakeError::UnexpectedExtension(ext.as_str().to_owned()));
                    }
                    let ext = ext.to_offer();
                    deflate = Some(ours.check_response(&ext)?);
                    extensions.push(ext);
                    continue;
                }
                if !self
                    .config
                    .extensions
                    .iter()
                    .any(|o| o.name.eq_ignore_ascii_case(ext.name()))
                {
                    return Err(HandshakeError::UnexpectedExtension(ext.name().to_owned()));
                }
                extensions.push(ext.to_offer());
            }
        }
        Ok(ClientOutcome::Accepted(Accepted {
            response: head_of(response),
            protocol,
            extensions,
            #[cfg(feature = "deflate")]
            deflate,
        }))
    }
}

/// Origin, subprotocol and extension offers, and extra headers.
fn add_offers(headers: &mut HeaderMap, config: &ClientConfig) -> Result<(), HandshakeError> {
    let value = |s: &str| {
        HeaderValue::from_str(s).map_err(|_| HandshakeError::InvalidHeaderValue(s.to_owned()))
    };
    if let Some(origin) = &config.origin {
        headers.insert(header::ORIGIN, value(origin)?);
    }
    if !config.protocols.is_empty() {
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            value(&config.protocols.join(", "))?,
        );
    }
    #[allow(unused_mut)]
    let mut offers: Vec<String> = config.extensions.iter().map(ToString::to_string).collect();
    #[cfg(feature = "deflate")]
    if let Some(deflate) = &config.deflate {
        offers.push(deflate.offer().to_string());
    }
    if !offers.is_empty() {
        let list = offers.join(", ");
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, value(&list)?);
    }
    super::add_extra_headers(headers, &config.headers);
    Ok(())
}

/// A response's status, version and headers, without its body.
fn head_of<B>(response: &Response<B>) -> Response<()> {
    let mut head = Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    head
}
