//! Reading an HTTP/1.1 head incrementally, in linear time, and the helpers
//! the request and response parsers share.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Version};

use super::HandshakeError;

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

pub(crate) fn httparse_error(e: httparse::Error, max_headers: usize) -> HandshakeError {
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
pub(crate) fn header_map(
    head: &[u8],
    headers: &[httparse::Header<'_>],
) -> Result<HeaderMap, HandshakeError> {
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

pub(crate) fn version(minor: Option<u8>) -> Version {
    match minor {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    }
}

/// Most header lines any head may have, whatever the limits say: the `http`
/// types hold at most 32,768.
pub(crate) const MAX_HEADER_LINES: usize = 8192;

/// Whether every header name fits an `http::HeaderName` (at most 65,535
/// bytes, reachable only with a raised head size limit), so that both server
/// paths refuse the same heads.
pub(crate) fn names_fit(headers: &[httparse::Header<'_>]) -> bool {
    headers.iter().all(|h| h.name.len() < 1 << 16)
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
