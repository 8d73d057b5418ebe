//! Reading an HTTP/1.1 head (request or response) incrementally, in linear
//! time, and writing one.

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Version};

use super::HandshakeError;
use super::fields::RawHeaders;
use crate::Status;

/// Limits on the handshake's header block.
///
/// ```
/// use webwire::ws::handshake::HandshakeLimits;
///
/// let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
/// assert_eq!(limits.max_headers, 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeLimits {
    /// Largest header block, request line and blank line included (default
    /// 16 KiB). Larger: 431.
    pub max_head_size: usize,
    /// Most header fields (default 64; at most 8,192 are ever accepted, as
    /// the `http` types hold no more than 32,768). More: 431.
    pub max_headers: usize,
}

impl HandshakeLimits {
    /// These limits with `max_head_size` set to `bytes`.
    pub const fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// These limits with `max_headers` set to `count`.
    pub const fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        Self {
            max_head_size: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// Collects bytes up to the blank line that ends an HTTP head. Each byte is
/// scanned once, however the input is split, so the cost is linear.
#[derive(Debug, Default)]
pub(crate) struct HeadReader {
    buf: Vec<u8>,
    /// Where the terminator search resumes.
    scanned: usize,
}

impl HeadReader {
    /// Takes bytes from `input` until the head is complete. Returns the
    /// bytes of `input` that belong to the head once it is, `None` while
    /// more are needed (all of `input` was taken).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        max_size: usize,
    ) -> Result<Option<usize>, HandshakeError> {
        let start = self.buf.len();
        // One byte past the limit is enough to know it was exceeded.
        let take = input
            .len()
            .min(max_size.saturating_add(1).saturating_sub(start));
        self.buf.extend_from_slice(&input[..take]);
        if let Some(end) = self.find_end() {
            if end > max_size {
                return Err(HandshakeError::HeadTooLarge(max_size));
            }
            self.buf.truncate(end);
            return Ok(Some(end - start));
        }
        if self.buf.len() > max_size {
            return Err(HandshakeError::HeadTooLarge(max_size));
        }
        Ok(None)
    }

    /// Finds the end of the head, resuming where the last search stopped.
    fn find_end(&mut self) -> Option<usize> {
        match scan_head_end(&self.buf, self.scanned) {
            Ok(end) => Some(end),
            Err(resume) => {
                self.scanned = resume;
                None
            }
        }
    }

    /// Whether no bytes are held.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The complete head.
    pub(crate) fn head(&self) -> &[u8] {
        &self.buf
    }

    /// Frees the buffer.
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Finds the end of an HTTP head in `buf`, searching from `from`: a line
/// feed followed by an empty line (`\n\n` or `\n\r\n`; RFC 9112 §2.2 lets
/// recipients accept bare LF). `Ok(end)`, or `Err(resume)`: where to resume
/// once more bytes have arrived.
pub(crate) fn scan_head_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut p = from;
    while let Some(lf) = find_lf(buf, p) {
        match buf.get(lf + 1..) {
            Some([b'\n', ..]) => return Ok(lf + 2),
            Some([b'\r', b'\n', ..]) => return Ok(lf + 3),
            // Not enough bytes yet to tell.
            Some([]) | Some([b'\r']) => return Err(lf),
            _ => p = lf + 1,
        }
    }
    Err(buf.len())
}

/// The first line feed in `buf` at or after `from`, eight bytes at a time.
fn find_lf(buf: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const LFS: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let rest = buf.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut at = from;
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        // A zero byte in `x` is a line feed; the lowest flagged byte is
        // exact (borrows only flag bytes above a real zero).
        let x = u64::from_le_bytes(bytes) ^ LFS;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let i = words.remainder().iter().position(|&b| b == b'\n')?;
    Some(at + i)
}

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

fn httparse_error(e: httparse::Error, max_headers: usize) -> HandshakeError {
    match e {
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders(max_headers),
        httparse::Error::HeaderName => HandshakeError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HandshakeError::Malformed("invalid header value"),
        httparse::Error::NewLine => HandshakeError::Malformed("invalid line ending"),
        httparse::Error::Status => HandshakeError::Malformed("invalid status"),
        httparse::Error::Token => HandshakeError::Malformed("invalid token"),
        httparse::Error::Version => HandshakeError::Malformed("invalid HTTP version"),
    }
}

/// Builds the header map. Values share one copy of the head instead of one
/// allocation each.
fn header_map(head: &[u8], headers: &[httparse::Header<'_>]) -> Result<HeaderMap, HandshakeError> {
    let shared = Bytes::copy_from_slice(head);
    let base = head.as_ptr() as usize;
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HandshakeError::Malformed("invalid header name"))?;
        // httparse hands out slices of `head`; find the same bytes in `shared`.
        let start = (h.value.as_ptr() as usize).wrapping_sub(base);
        let value = match shared.get(start..start.wrapping_add(h.value.len())) {
            Some(bytes) if bytes == h.value => {
                HeaderValue::from_maybe_shared(shared.slice(start..start + h.value.len()))
            }
            _ => HeaderValue::from_bytes(h.value),
        }
        .map_err(|_| HandshakeError::Malformed("invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

fn version(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
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
    if !names_fit(req.headers) {
        return Err(inspect);
    }
    let parsed = RequestHead {
        method: req.method.unwrap_or_default(),
        target: req.path.unwrap_or_default(),
        version: version(req.version),
        headers: RawHeaders::new(req.headers),
        bytes: head.get(..end).unwrap_or(head),
    };
    Ok((inspect(&parsed), end))
}

/// Most header lines any head may have, whatever the limits say: the `http`
/// types hold at most 32,768.
pub(crate) const MAX_HEADER_LINES: usize = 8192;

/// Whether every header name fits an `http::HeaderName` (at most 65,535
/// bytes, reachable only with a raised head size limit), so that both server
/// paths refuse the same heads.
fn names_fit(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().all(|h| h.name.len() < 1 << 16)
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
    if !names_fit(req.headers) {
        return Err(HandshakeError::Malformed("invalid header name"));
    }
    let parsed = RequestHead {
        method: req.method.unwrap_or_default(),
        target: req.path.unwrap_or_default(),
        version: version(req.version),
        headers: RawHeaders::new(req.headers),
        bytes: head,
    };
    Ok(inspect(&parsed))
}

/// Parses a complete response head.
pub(crate) fn parse_response_head(
    head: &[u8],
    max_headers: usize,
) -> Result<Response<()>, HandshakeError> {
    let max_headers = max_headers.min(MAX_HEADER_LINES);
    let mut headers = vec![httparse::EMPTY_HEADER; max_headers];
    let mut res = httparse::Response::new(&mut headers);
    match res
        .parse(head)
        .map_err(|e| httparse_error(e, max_headers))?
    {
        httparse::Status::Complete(_) => {}
        httparse::Status::Partial => return Err(HandshakeError::Malformed("incomplete head")),
    }
    let status = http::StatusCode::from_u16(res.code.unwrap_or_default())
        .map_err(|_| HandshakeError::Malformed("invalid status"))?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version(res.version);
    *response.headers_mut() = header_map(head, res.headers)?;
    Ok(response)
}

/// Appends an HTTP/1.1 response head (status line, headers, blank line).
///
/// ```
/// use webwire::ws::handshake::write_response;
///
/// let response = http::Response::builder().status(101).header("upgrade", "websocket").body(())?;
/// let mut out = Vec::new();
/// write_response(&response, &mut out);
/// assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n");
/// # Ok::<(), http::Error>(())
/// ```
pub fn write_response(response: &Response<()>, out: &mut Vec<u8>) {
    let status = response.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("Unknown").as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers(response.headers(), out);
}

/// Appends headers and the blank line that ends the head.
pub(crate) fn write_headers(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_across_splits() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        for cut in 0..head.len() {
            let mut r = HeadReader::default();
            let first = r.feed(&head[..cut], 1000).unwrap();
            let total = match first {
                Some(n) => n,
                None => cut + r.feed(&head[cut..], 1000).unwrap().expect("complete"),
            };
            assert_eq!(total, head.len() - 4, "cut {cut}");
            assert_eq!(r.head(), &head[..head.len() - 4]);
        }
    }

    #[test]
    fn finds_every_line_feed() {
        let mut buf = vec![b'a'; 40];
        for lf in 0..buf.len() {
            buf[lf] = b'\n';
            for from in 0..buf.len() {
                let expected = buf[from..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|i| from + i);
                assert_eq!(find_lf(&buf, from), expected, "lf {lf} from {from}");
            }
            // Bytes that differ from a line feed by one bit, and 0x8a.
            buf[lf] = [0x0b, 0x8a, 0x0e, 0x02, 0x09][lf % 5];
        }
        assert_eq!(find_lf(b"\x0b\n", 0), Some(1));
        assert_eq!(find_lf(b"ab", 5), None);
    }

    #[test]
    fn bare_lf_heads() {
        let mut r = HeadReader::default();
        assert_eq!(
            r.feed(b"GET / HTTP/1.1\nHost: a\n\nX", 100).unwrap(),
            Some(24)
        );
    }

    #[test]
    fn limit_is_exact() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut r = HeadReader::default();
        assert_eq!(r.feed(head, head.len()).unwrap(), Some(head.len()));
        let mut r = HeadReader::default();
        assert_eq!(
            r.feed(head, head.len() - 1),
            Err(HandshakeError::HeadTooLarge(head.len() - 1))
        );
        // Without a terminator, refused once past the limit.
        let mut r = HeadReader::default();
        assert_eq!(r.feed(&[b'a'; 10], 10).unwrap(), None);
        assert_eq!(r.feed(b"a", 10), Err(HandshakeError::HeadTooLarge(10)));
    }
}
