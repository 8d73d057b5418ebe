//! The request headers the handshake reads, looked up the same way in an
//! `http::HeaderMap` and in a head parsed in place, so both paths share one
//! validation.

use http::HeaderMap;
use http::header::{self, HeaderName};

/// A header the handshake reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Host,
    Upgrade,
    Connection,
    Version,
    Key,
    Origin,
    Protocol,
    Extensions,
}

impl Field {
    const ALL: [Field; 8] = [
        Field::Host,
        Field::Upgrade,
        Field::Connection,
        Field::Version,
        Field::Key,
        Field::Origin,
        Field::Protocol,
        Field::Extensions,
    ];

    pub(crate) fn name(self) -> HeaderName {
        match self {
            Field::Host => header::HOST,
            Field::Upgrade => header::UPGRADE,
            Field::Connection => header::CONNECTION,
            Field::Version => header::SEC_WEBSOCKET_VERSION,
            Field::Key => header::SEC_WEBSOCKET_KEY,
            Field::Origin => header::ORIGIN,
            Field::Protocol => header::SEC_WEBSOCKET_PROTOCOL,
            Field::Extensions => header::SEC_WEBSOCKET_EXTENSIONS,
        }
    }

    /// The name in lower case (as `name().as_str()`, without the lookup).
    fn lower(self) -> &'static str {
        match self {
            Field::Host => "host",
            Field::Upgrade => "upgrade",
            Field::Connection => "connection",
            Field::Version => "sec-websocket-version",
            Field::Key => "sec-websocket-key",
            Field::Origin => "origin",
            Field::Protocol => "sec-websocket-protocol",
            Field::Extensions => "sec-websocket-extensions",
        }
    }

    /// Which field a header name is, if any (names compared
    /// case-insensitively, lengths first: most names are ruled out by that).
    fn of(name: &[u8]) -> Option<Field> {
        let field = match name.len() {
            4 => Field::Host,
            6 => Field::Origin,
            7 => Field::Upgrade,
            10 => Field::Connection,
            17 => Field::Key,
            21 => Field::Version,
            22 => Field::Protocol,
            24 => Field::Extensions,
            _ => return None,
        };
        eq_name(name, field.lower()).then_some(field)
    }
}

/// Whether a header name (a token, as httparse checked) is `lower`, a
/// lower-case name of letters and dashes, in any case. Setting bit 5 maps
/// an upper-case letter to its lower case and leaves `-` as it is; the only
/// other byte it maps onto one of those is CR, which no token contains.
fn eq_name(name: &[u8], lower: &str) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower.as_bytes())
            .fold(0u8, |diff, (&a, &b)| diff | ((a | 0x20) ^ b))
            == 0
}

/// Header values by field: every line of that header, in order.
pub(crate) trait HeaderLookup {
    /// The values of every line of `field`.
    fn lines(&self, field: Field) -> impl Iterator<Item = &[u8]>;

    /// The first value of `field`.
    fn first(&self, field: Field) -> Option<&[u8]> {
        self.lines(field).next()
    }
}

impl HeaderLookup for HeaderMap {
    fn lines(&self, field: Field) -> impl Iterator<Item = &[u8]> {
        self.get_all(field.name()).into_iter().map(|v| v.as_bytes())
    }
}

/// The headers of a head parsed in place, each sorted into its field once.
#[derive(Debug)]
pub(crate) struct RawHeaders<'a> {
    headers: &'a [httparse::Header<'a>],
    /// Per field, a bit per header line (heads of at most 64 lines).
    masks: Option<[u64; Field::ALL.len()]>,
}

impl<'a> RawHeaders<'a> {
    pub(crate) fn new(headers: &'a [httparse::Header<'a>]) -> Self {
        let masks = (headers.len() <= 64).then(|| {
            let mut masks = [0u64; Field::ALL.len()];
            for (i, h) in headers.iter().enumerate() {
                if let Some(field) = Field::of(h.name.as_bytes()) {
                    masks[field as usize] |= 1 << i;
                }
            }
            masks
        });
        Self { headers, masks }
    }

    pub(crate) fn all(&self) -> &'a [httparse::Header<'a>] {
        self.headers
    }
}

impl HeaderLookup for RawHeaders<'_> {
    fn lines(&self, field: Field) -> impl Iterator<Item = &[u8]> {
        let headers = self.headers;
        let mut mask = self.masks.map(|masks| masks[field as usize]);
        let mut next = 0;
        std::iter::from_fn(move || match &mut mask {
            Some(bits) => {
                let i = bits.trailing_zeros() as usize;
                *bits &= bits.wrapping_sub(1);
                headers.get(i).map(|h| h.value)
            }
            // Past 64 lines (only with a raised limit) every name is compared.
            None => {
                let (i, h) = headers
                    .iter()
                    .enumerate()
                    .skip(next)
                    .find(|(_, h)| Field::of(h.name.as_bytes()) == Some(field))?;
                next = i + 1;
                Some(h.value)
            }
        })
    }
}

/// A header value as text: visible ASCII, spaces and tabs, as
/// `http::HeaderValue::to_str` accepts.
pub(crate) fn as_text(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// Whether a comma-separated header (all its lines) lists `token`,
/// compared case-insensitively (RFC 9110 §5.6.1).
///
/// `token` is lower-case letters, so the comparison is [`eq_name`]'s (a CR
/// could pass for a dash, but there is none, and header values hold no CR).
pub(crate) fn has_token(headers: &impl HeaderLookup, field: Field, token: &str) -> bool {
    debug_assert!(token.bytes().all(|b| b.is_ascii_lowercase()));
    let is_token = |t: &[u8]| eq_name(t.trim_ascii(), token);
    headers
        .lines(field)
        // Usually the line is the token alone.
        .any(|v| is_token(v) || v.split(|&b| b == b',').any(is_token))
}

/// The comma-separated tokens of a header, all its lines, trimmed; empty
/// elements skipped. `None` if a line is not text.
pub(crate) fn token_list(headers: &impl HeaderLookup, field: Field) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    for value in headers.lines(field) {
        out.extend(
            as_text(value)?
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty()),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_name() {
        for field in Field::ALL {
            let name = field.name();
            assert_eq!(field.lower(), name.as_str());
            assert_eq!(Field::of(name.as_str().as_bytes()), Some(field));
            assert_eq!(
                Field::of(name.as_str().to_ascii_uppercase().as_bytes()),
                Some(field)
            );
        }
        assert_eq!(Field::of(b"Hosts"), None);
        assert_eq!(Field::of(b"ORIGIN"), Some(Field::Origin));
        assert_eq!(Field::of(b"Origim"), None);
        assert_eq!(Field::of(b"Sec_WebSocket_Key"), None);
        // Every byte that is not the letter (either case) or the dash.
        for field in Field::ALL {
            let lower = field.lower().as_bytes();
            for i in 0..lower.len() {
                for b in 0..=255u8 {
                    let mut name = lower.to_vec();
                    name[i] = b;
                    let same = b.to_ascii_lowercase() == lower[i];
                    // CR, the one false match, never occurs in a token.
                    let cr_for_dash = lower[i] == b'-' && b == b'\r';
                    assert_eq!(
                        eq_name(&name, field.lower()),
                        same || cr_for_dash,
                        "{name:?}"
                    );
                }
            }
        }
        assert_eq!(Field::of(b"Hast"), None);
        assert_eq!(Field::of(b""), None);
    }

    #[test]
    fn raw_lookup_agrees_with_header_map() {
        let lines: Vec<(String, String)> = (0..70)
            .map(|i| match i % 5 {
                0 => ("Connection".into(), format!("c{i}")),
                1 => ("X-Other".into(), format!("o{i}")),
                2 => ("sec-websocket-PROTOCOL".into(), format!("p{i}")),
                3 => ("Hast".into(), format!("h{i}")),
                _ => ("host".into(), format!("h{i}")),
            })
            .collect();
        // Below and above the 64 lines the masks cover.
        for n in [0, 1, 5, 64, 65, 70] {
            let raw: Vec<httparse::Header<'_>> = lines[..n]
                .iter()
                .map(|(k, v)| httparse::Header {
                    name: k,
                    value: v.as_bytes(),
                })
                .collect();
            let mut map = HeaderMap::new();
            for (k, v) in &lines[..n] {
                map.append(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            let raw = RawHeaders::new(&raw);
            for field in Field::ALL {
                let a: Vec<&[u8]> = raw.lines(field).collect();
                let b: Vec<&[u8]> = HeaderLookup::lines(&map, field).collect();
                assert_eq!(a, b, "{field:?} with {n} lines");
            }
        }
    }

    #[test]
    fn token_lists() {
        let mut h = HeaderMap::new();
        h.append(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        h.append(header::CONNECTION, "x".parse().unwrap());
        assert!(has_token(&h, Field::Connection, "upgrade"));
        assert!(has_token(&h, Field::Connection, "x"));
        assert!(!has_token(&h, Field::Connection, "keep"));
        assert!(!has_token(&h, Field::Connection, "upgrad"));
        assert_eq!(
            token_list(&h, Field::Connection).unwrap(),
            ["keep-alive", "Upgrade", "x"]
        );
        assert_eq!(as_text(b"a\tb c"), Some("a\tb c"));
        assert_eq!(as_text(b"a\x7f"), None);
        assert_eq!(as_text(b"\xc3\xa9"), None);
    }
}
