//! The server's side of reading the upgrade request: [`RequestParser`] and
//! the in-place [`RequestHead`].

use std::mem::MaybeUninit;

use http::{Method, Request, Version};

use super::HandshakeError;
use super::fields::RawHeaders;
use super::head::{
    HeadReader, MAX_HEADER_LINES, header_map, httparse_error, names_fit, scan_head_end, version,
};
use super::limits::HandshakeLimits;
use crate::Status;

/// Reads the client's upgrade request from bytes as they arrive.
///
/// [`feed`](Self::feed) returns [`Status::Partial`] until the header block is
/// complete, then the request and how many bytes of that call's input it
/// used: bytes after the head (frames a client pipelined behind its
/// handshake) are the caller's, to hand to the frame decoder.
///
/// ```
/// use webwire::Status;
/// use webwire::ws::handshake::RequestParser;
///
/// let mut parser = RequestParser::default();
/// let wire = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n\x81\x80";
/// assert!(parser.feed(&wire[..10])?.is_partial());
/// let Status::Complete((request, used)) = parser.feed(&wire[10..])? else { panic!() };
/// assert_eq!(request.uri(), "/chat");
/// assert_eq!(&wire[10 + used..], b"\x81\x80"); // pipelined frame bytes
/// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Default)]
pub struct RequestParser {
    reader: HeadReader,
    limits: HandshakeLimits,
}

impl RequestParser {
    /// A parser with `limits`.
    pub fn new(limits: HandshakeLimits) -> Self {
        Self {
            reader: HeadReader::default(),
            limits,
        }
    }

    /// Takes the next bytes of the request. See the type's docs.
    pub fn feed(&mut self, input: &[u8]) -> Result<Status<(Request<()>, usize)>, HandshakeError> {
        match self.feed_with(input, |head| head.to_request())? {
            Status::Partial => Ok(Status::Partial),
            Status::Complete((request, used)) => Ok(Status::Complete((request?, used))),
        }
    }

    /// Like [`feed`](Self::feed), but once the head is complete `inspect`
    /// sees it parsed in place, as a [`RequestHead`] borrowed from the bytes:
    /// no `http` types are built and nothing is copied. This is the fast
    /// path: route on the target, check a cookie, then
    /// [`accept`](RequestHead::accept) writes the `101` straight into your
    /// buffer. Returns what `inspect` returned and how many bytes of `input`
    /// the head used.
    ///
    /// ```
    /// use webwire::Status;
    /// use webwire::ws::handshake::{RequestParser, ServerConfig};
    ///
    /// let wire = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n";
    /// let config = ServerConfig::new();
    /// let mut response = Vec::new();
    /// let mut parser = RequestParser::default();
    /// let Status::Complete((outcome, used)) = parser.feed_with(wire, |head| {
    ///     assert_eq!(head.target(), "/chat");
    ///     head.accept(&config, &mut response)
    /// })? else { panic!("need more") };
    /// outcome?;
    /// assert_eq!(used, wire.len());
    /// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    /// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
    /// ```
    pub fn feed_with<R>(
        &mut self,
        input: &[u8],
        inspect: impl FnOnce(&RequestHead<'_>) -> R,
    ) -> Result<Status<(R, usize)>, HandshakeError> {
        // The usual case, a whole head in one read, is parsed in place.
        let inspect = match self.reader.is_empty() {
            true => match try_whole(input, self.limits, inspect) {
                Ok(done) => return Ok(Status::Complete(done)),
                Err(inspect) => inspect,
            },
            false => inspect,
        };
        if self.reader.is_empty() {
            if let Ok(end) = scan_head_end(input, 0) {
                if end > self.limits.max_head_size {
                    return Err(HandshakeError::HeadTooLarge(self.limits.max_head_size));
                }
                let out = parse_request_head(&input[..end], self.limits.max_headers, inspect)?;
                return Ok(Status::Complete((out, end)));
            }
        }
        let Some(used) = self.reader.feed(input, self.limits.max_head_size)? else {
            return Ok(Status::Partial);
        };
        let out = parse_request_head(self.reader.head(), self.limits.max_headers, inspect);
        self.reader.clear();
        Ok(Status::Complete((out?, used)))
    }
}

/// An HTTP/1.1 request head parsed in place, borrowed from the bytes it was
/// read from: what [`RequestParser::feed_with`] hands over.
///
/// Method, target and header names and values are as sent (httparse has
/// checked their syntax); [`to_request`](Self::to_request) converts to an
/// `http::Request`, [`accept`](Self::accept) validates the upgrade and writes
/// the response.
#[derive(Debug)]
pub struct RequestHead<'a> {
    method: &'a str,
    target: &'a str,
    version: Version,
    headers: RawHeaders<'a>,
    /// The whole head, which the header values point into.
    bytes: &'a [u8],
}

impl<'a> RequestHead<'a> {
    /// The method, such as `GET`.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent, such as `/chat?room=1`.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Every header line in order: name as sent, raw value.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.all().iter().map(|h| (h.name, h.value))
    }

    /// The first value of the header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .all()
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Whether the target is one `http::Uri` accepts (as
    /// [`to_request`](Self::to_request) requires). An origin-form target of
    /// unreserved, sub-delim, `:@/%?` characters always is; anything else is
    /// left to `http` to decide.
    pub(crate) fn target_is_uri(&self) -> bool {
        const PLAIN: [bool; 256] = {
            let mut t = [false; 256];
            let mut b = 0;
            while b < 256 {
                let c = b as u8;
                t[b] = c.is_ascii_alphanumeric()
                    || matches!(c, b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&'..=b'/')
                    || matches!(c, b':' | b';' | b'=' | b'?' | b'@' | b'%');
                b += 1;
            }
            t
        };
        let t = self.target.as_bytes();
        (t.first() == Some(&b'/') && t.len() < 0x1000 && t.iter().all(|&b| PLAIN[usize::from(b)]))
            || self.target.parse::<http::Uri>().is_ok()
    }

    pub(crate) fn raw_headers(&self) -> &RawHeaders<'a> {
        &self.headers
    }

    /// Converts to an `http::Request<()>` (what [`RequestParser::feed`]
    /// returns). Fails if the target is not a valid URI.
    pub fn to_request(&self) -> Result<Request<()>, HandshakeError> {
        let method = Method::from_bytes(self.method.as_bytes())
            .map_err(|_| HandshakeError::Malformed("invalid method"))?;
        let uri: http::Uri = self
            .target
            .parse()
            .map_err(|_| HandshakeError::Malformed("invalid request target"))?;
        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = header_map(self.bytes, self.headers.all())?;
        Ok(request)
    }
}

/// The first read's fast path: when `input` holds a whole, valid head,
/// httparse finds its end itself, sparing the terminator scan; `inspect` is
/// handed back otherwise, for the general path to decide (so errors never
/// depend on how the bytes were split).
fn try_whole<R, F>(input: &[u8], limits: HandshakeLimits, inspect: F) -> Result<(R, usize), F>
where
    F: FnOnce(&RequestHead<'_>) -> R,
{
    // httparse skips blank lines before the request line, which the
    // terminator scan would take for the end of the head.
    if matches!(input.first(), None | Some(b'\r' | b'\n')) || limits.max_headers > 64 {
        return Err(inspect);
    }
    let head = input.get(..limits.max_head_size).unwrap_or(input);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
    let slots = slots.get_mut(..limits.max_headers).unwrap_or_default();
    let mut req = httparse::Request::new(&mut []);
    let Ok(httparse::Status::Complete(end)) = req.parse_with_uninit_headers(head, slots) else {
        return Err(inspect);
    };
    match request_head(req, head.get(..end).unwrap_or(head)) {
        Some(parsed) => Ok((inspect(&parsed), end)),
        None => Err(inspect),
    }
}

/// Parses a complete request head in place and hands it to `inspect`.
pub(crate) fn parse_request_head<R>(
    head: &[u8],
    max_headers: usize,
    inspect: impl FnOnce(&RequestHead<'_>) -> R,
) -> Result<R, HandshakeError> {
    let max_headers = max_headers.min(MAX_HEADER_LINES);
    // Header slots on the stack for the usual limit: no allocation.
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 64];
    let mut heap = Vec::new();
    let slots = if max_headers <= stack.len() {
        &mut stack[..max_headers]
    } else {
        heap.resize_with(max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    match req
        .parse_with_uninit_headers(head, slots)
        .map_err(|e| httparse_error(e, max_headers))?
    {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(HandshakeError::Malformed("incomplete head")),
    }
    let parsed = request_head(req, head).ok_or(HandshakeError::Malformed("invalid header name"))?;
    Ok(inspect(&parsed))
}

/// A [`RequestHead`] over what httparse parsed from `bytes`, or `None` if a
/// header name is too long for an `http::HeaderName`: both parse paths
/// build it here, so both refuse the same heads.
fn request_head<'a>(req: httparse::Request<'a, 'a>, bytes: &'a [u8]) -> Option<RequestHead<'a>> {
    let headers: &'a [httparse::Header<'a>] = req.headers;
    names_fit(headers).then(|| RequestHead {
        method: req.method.unwrap_or_default(),
        target: req.path.unwrap_or_default(),
        version: version(req.version),
        headers: RawHeaders::new(headers),
        bytes,
    })
}
