//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1): offers as name + parameters.

use std::fmt;

/// One extension offer or response: a name and its parameters.
///
/// ```
/// use webwire::ws::handshake::{ExtensionOffer, parse_extensions};
///
/// let offers = parse_extensions("permessage-deflate; client_max_window_bits, x-foo; a=\"b,c\"")?;
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), None)]);
/// assert_eq!(offers[1].params, [("a".to_string(), Some("b,c".to_string()))]);
/// assert_eq!(offers[0].to_string(), "permessage-deflate; client_max_window_bits");
/// # Ok::<(), webwire::ws::handshake::HandshakeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// Parameters in order: name and optional value (unquoted).
    pub params: Vec<(String, Option<String>)>,
}

impl ExtensionOffer {
    /// An offer with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// This offer with one more parameter.
    pub fn with_param(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.params.push((name.into(), value.map(str::to_owned)));
        self
    }
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            write!(f, "; {name}")?;
            if let Some(v) = value {
                if !v.is_empty() && v.bytes().all(is_tchar) {
                    write!(f, "={v}")?;
                } else {
                    f.write_str("=\"")?;
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// A token as a `String` (token characters are ASCII).
fn text(token: &[u8]) -> String {
    String::from_utf8_lossy(token).into_owned()
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~');
        b += 1;
    }
    t
};

/// Parses one `Sec-WebSocket-Extensions` value into offers.
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, super::HandshakeError> {
    let mut out = Vec::new();
    parse_into(value, Some(&mut out))?;
    Ok(out)
}

/// Checks the syntax of a `Sec-WebSocket-Extensions` value without
/// collecting the offers (a server that supports none still refuses
/// malformed ones).
pub(crate) fn check_extensions(value: &str) -> Result<(), super::HandshakeError> {
    parse_into(value, None)
}

fn parse_into(
    value: &str,
    mut out: Option<&mut Vec<ExtensionOffer>>,
) -> Result<(), super::HandshakeError> {
    let err = || super::HandshakeError::MalformedHeader("Sec-WebSocket-Extensions");
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let keep = out.is_some();
    loop {
        p.ows();
        if p.eof() {
            break;
        }
        if p.peek() == Some(b',') {
            // Empty list elements are allowed (RFC 9110 §5.6.1).
            p.i += 1;
            continue;
        }
        let name = p.token().ok_or_else(err)?;
        let mut offer = keep.then(|| ExtensionOffer::new(text(name)));
        loop {
            p.ows();
            match p.peek() {
                None => break,
                Some(b',') => {
                    p.i += 1;
                    break;
                }
                Some(b';') => {
                    p.i += 1;
                    p.ows();
                    let pname = p.token().ok_or_else(err)?;
                    p.ows();
                    let value = if p.peek() == Some(b'=') {
                        p.i += 1;
                        p.ows();
                        Some(if p.peek() == Some(b'"') {
                            p.quoted(keep).ok_or_else(err)?
                        } else {
                            p.token()
                                .map(|t| if keep { text(t) } else { String::new() })
                                .ok_or_else(err)?
                        })
                    } else {
                        None
                    };
                    if let Some(offer) = &mut offer {
                        offer.params.push((text(pname), value));
                    }
                }
                Some(_) => return Err(err()),
            }
        }
        if let (Some(out), Some(offer)) = (out.as_deref_mut(), offer) {
            out.push(offer);
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        self.s.get(start..self.i).filter(|t| !t.is_empty())
    }
    /// A quoted string, unescaped; only checked (an empty `String` back)
    /// unless `keep`.
    fn quoted(&mut self, keep: bool) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.i += 1;
            let b = match b {
                b'"' => break,
                b'\\' => {
                    let escaped = self.peek()?;
                    self.i += 1;
                    escaped
                }
                _ => b,
            };
            if keep {
                out.push(b);
            }
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_params() {
        let offers = parse_extensions("permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate").unwrap();
        assert_eq!(offers.len(), 2);
        assert_eq!(
            offers[0].params[1],
            ("server_max_window_bits".into(), Some("10".into()))
        );
        assert_eq!(offers[1], ExtensionOffer::new("permessage-deflate"));
        assert_eq!(parse_extensions(" , a ,, b;x=\"1\" ").unwrap().len(), 2);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "a;",
            "a; =1",
            "a b",
            "a;x=",
            "a;x=\"unterminated",
            ";a",
            "a;x=\"\\",
        ] {
            assert!(parse_extensions(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_characters() {
        let expected = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        for b in 0..=255u8 {
            assert_eq!(is_tchar(b), expected(b), "{b:#x}");
        }
    }

    #[test]
    fn display_round_trips() {
        let offer = ExtensionOffer::new("x")
            .with_param("a", Some("b c"))
            .with_param("d", None)
            .with_param("q", Some("\"\\"));
        let parsed = parse_extensions(&offer.to_string()).unwrap();
        assert_eq!(parsed, [offer]);
    }
}
