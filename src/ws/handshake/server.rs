//! Server side: validate an upgrade request and answer it.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version, header};

use super::extensions::{ExtensionOffer, RawOffer, offers};
use super::fields::{Field, HeaderLookup, as_text, has_token, token_list};
use super::request::RequestHead;
use super::{HandshakeError, accept_key_bytes};

type OriginCheck = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;
type ProtocolSelector = Arc<dyn Fn(&[&str]) -> Option<String> + Send + Sync>;

/// Which `Origin`s may open a WebSocket (RFC 6455 §10.2).
///
/// Browsers always send `Origin`; checking it is what stops another site's
/// page from opening a WebSocket with your users' cookies. Clients that are
/// not browsers often send none: a request without `Origin` passes
/// [`AllowList`](Self::AllowList), and [`Check`](Self::Check) sees `None`.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum OriginPolicy {
    /// Any origin, or none (the default).
    #[default]
    Any,
    /// These origins (`scheme://host[:port]`, compared case-insensitively),
    /// or none.
    AllowList(Vec<String>),
    /// Your function decides; it gets the `Origin` value if there is one.
    Check(OriginCheck),
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("Any"),
            Self::AllowList(list) => f.debug_tuple("AllowList").field(list).finish(),
            Self::Check(_) => f.write_str("Check(..)"),
        }
    }
}

#[derive(Clone, Default)]
enum ProtocolChoice {
    #[default]
    None,
    Preference(Vec<String>),
    Select(ProtocolSelector),
}

/// How a server answers upgrade requests: origin policy, subprotocols,
/// extra response headers.
///
/// ```
/// use webwire::ws::handshake::ServerConfig;
///
/// let config = ServerConfig::new()
///     .with_protocols(["graphql-transport-ws", "graphql-ws"])
///     .with_allowed_origins(["https://app.example.com"])
///     .with_header("server", "webwire")?;
/// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
/// ```
#[derive(Clone, Default)]
pub struct ServerConfig {
    origin: OriginPolicy,
    protocols: ProtocolChoice,
    headers: HeaderMap,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::ws::deflate::DeflateConfig>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocols: &dyn fmt::Debug = match &self.protocols {
            ProtocolChoice::None => &"none",
            ProtocolChoice::Preference(list) => list,
            ProtocolChoice::Select(_) => &"selector",
        };
        f.debug_struct("ServerConfig")
            .field("origin", &self.origin)
            .field("protocols", protocols)
            .field("headers", &self.headers)
            .finish()
    }
}

impl ServerConfig {
    /// Any origin, no subprotocols, no extra headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subprotocols the server speaks, most preferred first: the first of
    /// these that the client offered is chosen. If none was offered the
    /// handshake succeeds without a subprotocol.
    pub fn with_protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols =
            ProtocolChoice::Preference(protocols.into_iter().map(Into::into).collect());
        self
    }

    /// A function that picks the subprotocol from the client's offers, in
    /// the client's order. It must return one of them or `None`.
    pub fn with_protocol_selector(
        mut self,
        select: impl Fn(&[&str]) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.protocols = ProtocolChoice::Select(Arc::new(select));
        self
    }

    /// Only these origins (or none) may connect; others get 403.
    pub fn with_allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.origin = OriginPolicy::AllowList(origins.into_iter().map(Into::into).collect());
        self
    }

    /// A function that decides on the `Origin` (403 when it returns false).
    pub fn with_origin_check(
        mut self,
        check: impl Fn(Option<&str>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.origin = OriginPolicy::Check(Arc::new(check));
        self
    }

    /// Accept permessage-deflate offers this configuration can honour
    /// (RFC 7692); others are declined.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn with_deflate(mut self, deflate: crate::ws::deflate::DeflateConfig) -> Self {
        self.deflate = Some(deflate);
        self
    }

    /// The origin policy.
    pub fn with_origin_policy(mut self, policy: OriginPolicy) -> Self {
        self.origin = policy;
        self
    }

    /// A header to add to every successful response. The headers the
    /// handshake writes itself (`upgrade`, `connection`, `sec-websocket-*`)
    /// are refused with [`HandshakeError::ReservedHeader`].
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, HandshakeError> {
        super::append_extra_header(&mut self.headers, super::Side::Server, name, value)?;
        Ok(self)
    }

    fn origin_allowed(&self, headers: &impl HeaderLookup) -> bool {
        if matches!(self.origin, OriginPolicy::Any) {
            return true;
        }
        let origin = headers.first(Field::Origin).and_then(as_text);
        match &self.origin {
            OriginPolicy::Any => true,
            OriginPolicy::AllowList(list) => {
                origin.is_none_or(|o| list.iter().any(|a| a.eq_ignore_ascii_case(o)))
            }
            OriginPolicy::Check(check) => check(origin),
        }
    }

    fn choose_protocol(
        &self,
        headers: &impl HeaderLookup,
    ) -> Result<Option<String>, HandshakeError> {
        if matches!(self.protocols, ProtocolChoice::None) {
            return Ok(None);
        }
        let offered = token_list(headers, Field::Protocol)
            .ok_or(HandshakeError::MalformedHeader("Sec-WebSocket-Protocol"))?;
        Ok(match &self.protocols {
            ProtocolChoice::None => None,
            ProtocolChoice::Preference(ours) => {
                ours.iter().find(|p| offered.contains(&p.as_str())).cloned()
            }
            // A selector that invents a protocol would break the client.
            ProtocolChoice::Select(select) => {
                select(&offered).filter(|p| offered.contains(&p.as_str()))
            }
        })
    }
}

/// An accepted handshake, in either role: what was agreed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Accepted {
    /// The response: `101 Switching Protocols` over HTTP/1.1, `200` over
    /// HTTP/2 and HTTP/3. The server sends it; the client received it.
    pub response: Response<()>,
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
    /// The extensions accepted, as sent in the response.
    pub extensions: Vec<ExtensionOffer>,
    /// permessage-deflate, if it was agreed: pass it to
    /// [`Config::with_deflate`](crate::ws::Config::with_deflate).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub deflate: Option<crate::ws::deflate::DeflateParams>,
}

impl Accepted {
    /// Appends the response as HTTP/1.1 bytes to `out` (server side).
    pub fn write_response(&self, out: &mut Vec<u8>) {
        super::write_response(&self.response, out);
    }
}

/// Validates an HTTP/1.1 upgrade request (RFC 6455 §4.2.1) and builds the
/// `101` response: the accept key, the chosen subprotocol, the accepted
/// extensions and the configured extra headers.
///
/// Works on a request from [`RequestParser`](super::RequestParser) or from
/// your framework. Extension offers are parsed; the ones this server does not
/// support are declined (left out of the response), as RFC 6455 §9.1 asks.
///
/// ```
/// use webwire::ws::handshake::{ServerConfig, accept};
///
/// let request = http::Request::builder()
///     .uri("/chat")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "keep-alive, Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .body(())?;
/// let accepted = accept(&request, &ServerConfig::new())?;
/// assert_eq!(accepted.response.status(), 101);
/// assert_eq!(accepted.response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept<B>(request: &Request<B>, config: &ServerConfig) -> Result<Accepted, HandshakeError> {
    let headers = request.headers();
    let key = check_upgrade(request.method().as_str(), request.version(), headers)?;
    let negotiated = negotiate(headers, config)?;

    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept =
        HeaderValue::from_maybe_shared(bytes::Bytes::copy_from_slice(&accept_key_bytes(key)))
            .map_err(|_| HandshakeError::InvalidKey)?;
    out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    negotiated.finish(response, config)
}

impl RequestHead<'_> {
    /// Validates this upgrade request exactly as [`accept`] does and appends
    /// the `101` response to `out`, without building `http` types: the fast
    /// path of [`RequestParser::feed_with`](super::RequestParser::feed_with).
    /// On error nothing is written; send
    /// [`HandshakeError::write_response`] instead.
    ///
    /// The response has the same headers as [`accept`]'s, in the same order
    /// (`upgrade`, `connection`, `sec-websocket-accept`, the subprotocol and
    /// extensions if any, then the configured extra headers).
    pub fn accept(
        &self,
        config: &ServerConfig,
        out: &mut Vec<u8>,
    ) -> Result<Negotiated, HandshakeError> {
        if !self.target_is_uri() {
            return Err(HandshakeError::Malformed("invalid request target"));
        }
        let headers = self.raw_headers();
        let key = check_upgrade(self.method(), self.version(), headers)?;
        let negotiated = negotiate(headers, config)?;
        out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
              connection: Upgrade\r\nsec-websocket-accept: ",
        );
        out.extend_from_slice(&accept_key_bytes(key));
        out.extend_from_slice(b"\r\n");
        if let Some(p) = &negotiated.protocol {
            out.extend_from_slice(b"sec-websocket-protocol: ");
            out.extend_from_slice(p.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        for (i, e) in negotiated.extensions.iter().enumerate() {
            out.extend_from_slice(match i {
                0 => b"sec-websocket-extensions: ".as_slice(),
                _ => b", ",
            });
            out.extend_from_slice(e.to_string().as_bytes());
        }
        if !negotiated.extensions.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
        super::response::write_headers(&config.headers, out);
        Ok(negotiated)
    }
}

/// RFC 6455 §4.2.1 checks of an HTTP/1.1 upgrade request; the key.
fn check_upgrade<'h>(
    method: &str,
    version: Version,
    headers: &'h impl HeaderLookup,
) -> Result<&'h [u8], HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::Method(method.to_owned()));
    }
    if version < Version::HTTP_11 {
        return Err(HandshakeError::HttpVersion);
    }
    // Exactly one Host line (RFC 9112 §3.2: none or several is a 400).
    let mut hosts = headers.lines(Field::Host);
    match (hosts.next(), hosts.next()) {
        (None, _) => return Err(HandshakeError::MissingHost),
        (Some(_), Some(_)) => return Err(HandshakeError::DuplicateHost),
        (Some(_), None) => {}
    }
    if !has_token(headers, Field::Upgrade, "websocket") {
        return Err(HandshakeError::NotWebSocketUpgrade);
    }
    if !has_token(headers, Field::Connection, "upgrade") {
        return Err(HandshakeError::NotConnectionUpgrade);
    }
    check_version(headers)?;
    websocket_key(headers)
}

/// `Sec-WebSocket-Version: 13`, exactly one (426 otherwise).
pub(crate) fn check_version(headers: &impl HeaderLookup) -> Result<(), HandshakeError> {
    let mut versions = headers.lines(Field::Version);
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.trim_ascii() == b"13" => Ok(()),
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// The one `Sec-WebSocket-Key`, checked to be 16 base64-encoded bytes.
fn websocket_key(headers: &impl HeaderLookup) -> Result<&[u8], HandshakeError> {
    let mut keys = headers.lines(Field::Key);
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(HandshakeError::InvalidKey);
    };
    // Padded, canonical base64 of 16 bytes: 24 characters.
    let key = key.trim_ascii();
    match key.len() == 24 && crate::encoding::b64_exact::<16>(key).is_some() {
        true => Ok(key),
        false => Err(HandshakeError::InvalidKey),
    }
}

/// What a handshake agreed besides the upgrade itself: what
/// [`RequestHead::accept`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// The subprotocol chosen, if any.
    pub protocol: Option<String>,
    /// The extensions accepted, as sent in the response.
    pub extensions: Vec<ExtensionOffer>,
    /// permessage-deflate, if it was agreed: pass it to
    /// [`Config::with_deflate`](crate::ws::Config::with_deflate).
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub deflate: Option<crate::ws::deflate::DeflateParams>,
}

impl Negotiated {
    /// Completes `response` and wraps it up.
    pub(crate) fn finish(
        self,
        mut response: Response<()>,
        config: &ServerConfig,
    ) -> Result<Accepted, HandshakeError> {
        finish_response(&mut response, config, &self.protocol, &self.extensions)?;
        Ok(Accepted {
            response,
            protocol: self.protocol,
            extensions: self.extensions,
            #[cfg(feature = "deflate")]
            deflate: self.deflate,
        })
    }
}

/// Origin, subprotocol and extensions: the part HTTP/1.1 and extended
/// CONNECT share.
pub(crate) fn negotiate(
    headers: &impl HeaderLookup,
    config: &ServerConfig,
) -> Result<Negotiated, HandshakeError> {
    if !config.origin_allowed(headers) {
        return Err(HandshakeError::OriginRejected);
    }
    let protocol = config.choose_protocol(headers)?;
    let mut negotiated = Negotiated {
        protocol,
        extensions: Vec::new(),
        #[cfg(feature = "deflate")]
        deflate: None,
    };
    // Every offer is checked, in place: malformed ones are refused. Those
    // this server does not support are declined without being copied.
    let mut considered = 0;
    for value in headers.lines(Field::Extensions) {
        let value =
            as_text(value).ok_or(HandshakeError::MalformedHeader("Sec-WebSocket-Extensions"))?;
        for offer in offers(value) {
            negotiated.consider(&offer?, config, &mut considered);
        }
    }
    Ok(negotiated)
}

impl Negotiated {
    /// Agrees to `offer` if `config` supports it and nothing was agreed for
    /// that extension yet: offers are tried in order, the first this server
    /// can honour is taken (RFC 7692 §5.1). `considered` counts the ones
    /// tried, which are the only ones copied.
    #[cfg_attr(not(feature = "deflate"), allow(unused_variables))]
    fn consider(&mut self, offer: &RawOffer<'_>, config: &ServerConfig, considered: &mut usize) {
        #[cfg(feature = "deflate")]
        if let Some(deflate) = config.deflate {
            if self.deflate.is_none() && considers_deflate(offer, considered) {
                let offer = offer.to_offer();
                if let Some((params, response)) =
                    deflate.accept_offers(std::slice::from_ref(&offer))
                {
                    self.deflate = Some(params);
                    self.extensions.push(response);
                }
            }
        }
    }
}

/// At most this many permessage-deflate offers are looked at in one request
/// (later ones are declined): clients send one to three, each a fallback
/// for the one before. Together with [`DEFLATE_PARAMS`], this bounds the
/// copies a request full of offers can cause.
#[cfg(feature = "deflate")]
const MAX_DEFLATE_OFFERS: usize = 4;

/// permessage-deflate has four parameters (RFC 7692 §7.1); an offer with
/// more repeats or invents one, and is declined (RFC 7692 §5.1).
#[cfg(feature = "deflate")]
pub(crate) const DEFLATE_PARAMS: usize = 4;

/// Whether `offer` is a permessage-deflate offer worth trying, counting the
/// ones tried in `considered`.
#[cfg(feature = "deflate")]
fn considers_deflate(offer: &RawOffer<'_>, considered: &mut usize) -> bool {
    if !offer
        .name()
        .eq_ignore_ascii_case(crate::ws::deflate::PERMESSAGE_DEFLATE)
        || offer.param_count() > DEFLATE_PARAMS
        || *considered >= MAX_DEFLATE_OFFERS
    {
        return false;
    }
    *considered += 1;
    true
}

/// Adds the chosen subprotocol, extensions and extra headers.
pub(crate) fn finish_response(
    response: &mut Response<()>,
    config: &ServerConfig,
    protocol: &Option<String>,
    extensions: &[ExtensionOffer],
) -> Result<(), HandshakeError> {
    let out = response.headers_mut();
    if let Some(p) = protocol {
        let value = HeaderValue::from_str(p)
            .map_err(|_| HandshakeError::MalformedHeader("Sec-WebSocket-Protocol"))?;
        out.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    if !extensions.is_empty() {
        let list = extensions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let value = HeaderValue::from_str(&list)
            .map_err(|_| HandshakeError::MalformedHeader("Sec-WebSocket-Extensions"))?;
        out.insert(header::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    super::add_extra_headers(out, &config.headers);
    Ok(())
}
