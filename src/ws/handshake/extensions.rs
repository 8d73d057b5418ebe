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
    offers(value).map(|o| o.map(|o| o.to_offer())).collect()
}

/// The offers of one `Sec-WebSocket-Extensions` value, in order, each
/// checked as it is reached and borrowed from the value: nothing is
/// allocated until [`RawOffer::to_offer`]. After a malformed offer the
/// iterator yields the error, then ends.
pub(crate) fn offers(value: &str) -> Offers<'_> {
    Offers {
        value,
        p: Parser {
            s: value.as_bytes(),
            i: 0,
        },
        done: false,
    }
}

/// See [`offers`].
#[derive(Debug)]
pub(crate) struct Offers<'a> {
    value: &'a str,
    p: Parser<'a>,
    done: bool,
}

/// One well-formed offer as it appears in the header: its name and the text
/// of its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawOffer<'a> {
    /// The whole offer, as sent (less the whitespace around it).
    text: &'a str,
    name: &'a str,
    /// From just after the name to the end of the offer: `; a=1; b`.
    params: &'a str,
    param_count: usize,
}

impl<'a> RawOffer<'a> {
    /// The offer as sent.
    // Read by permessage-deflate negotiation only.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) fn as_str(&self) -> &'a str {
        self.text
    }

    /// The extension token.
    pub(crate) fn name(&self) -> &'a str {
        self.name
    }

    /// How many parameters it has.
    // Read by permessage-deflate negotiation only.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    pub(crate) fn param_count(&self) -> usize {
        self.param_count
    }

    /// The offer as an [`ExtensionOffer`] (quoted values unescaped).
    pub(crate) fn to_offer(self) -> ExtensionOffer {
        let mut offer = ExtensionOffer::new(self.name);
        let mut p = Parser {
            s: self.params.as_bytes(),
            i: 0,
        };
        // The parameters were checked when the offer was read.
        loop {
            p.ows();
            if p.peek() != Some(b';') {
                break;
            }
            p.i += 1;
            let Some((name, value)) = p.param() else {
                break;
            };
            offer.params.push((text(name), value.map(Value::unescaped)));
        }
        offer
    }
}

impl<'a> Iterator for Offers<'a> {
    type Item = Result<RawOffer<'a>, super::HandshakeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.offer();
        self.done = !matches!(next, Some(Ok(_)));
        next
    }
}

impl<'a> Offers<'a> {
    fn offer(&mut self) -> Option<Result<RawOffer<'a>, super::HandshakeError>> {
        let err = || super::HandshakeError::MalformedHeader("Sec-WebSocket-Extensions");
        let p = &mut self.p;
        loop {
            p.ows();
            match p.peek()? {
                // Empty list elements are allowed (RFC 9110 §5.6.1).
                b',' => p.i += 1,
                _ => break,
            }
        }
        let name_start = p.i;
        if p.token().is_none() {
            return Some(Err(err()));
        }
        let params_start = p.i;
        let mut params_end = p.i;
        let mut param_count = 0;
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
                    if p.param().is_none() {
                        return Some(Err(err()));
                    }
                    param_count += 1;
                    params_end = p.i;
                }
                Some(_) => return Some(Err(err())),
            }
        }
        // Token characters and the delimiters around them are ASCII, so
        // these are character boundaries.
        match (
            self.value.get(name_start..params_end),
            self.value.get(name_start..params_start),
            self.value.get(params_start..params_end),
        ) {
            (Some(text), Some(name), Some(params)) => Some(Ok(RawOffer {
                text,
                name,
                params,
                param_count,
            })),
            _ => Some(Err(err())),
        }
    }
}

/// A parameter value as it appears in the header.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Token(&'a [u8]),
    /// Between the quotes, escapes still in.
    Quoted(&'a [u8]),
}

impl Value<'_> {
    fn unescaped(self) -> String {
        match self {
            Value::Token(t) => text(t),
            Value::Quoted(q) => {
                let mut out = Vec::with_capacity(q.len());
                let mut bytes = q.iter();
                while let Some(&b) = bytes.next() {
                    match b {
                        b'\\' => out.extend(bytes.next()),
                        _ => out.push(b),
                    }
                }
                // Only ASCII backslashes were removed from UTF-8 text.
                String::from_utf8(out)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        }
    }
}

#[derive(Debug)]
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
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
    /// One parameter after its `;`: `name` or `name=value`, with optional
    /// whitespace around the `=`.
    fn param(&mut self) -> Option<(&'a [u8], Option<Value<'a>>)> {
        self.ows();
        let name = self.token()?;
        self.ows();
        if self.peek() != Some(b'=') {
            return Some((name, None));
        }
        self.i += 1;
        self.ows();
        let value = match self.peek() {
            Some(b'"') => Value::Quoted(self.quoted()?),
            _ => Value::Token(self.token()?),
        };
        Some((name, Some(value)))
    }
    /// A quoted string: what is between the quotes, escapes still in.
    fn quoted(&mut self) -> Option<&'a [u8]> {
        self.i += 1; // opening quote
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => {
                    let inner = self.s.get(start..self.i)?;
                    self.i += 1;
                    return Some(inner);
                }
                b'\\' => {
                    self.i += 1;
                    self.peek()?;
                    self.i += 1;
                }
                _ => self.i += 1,
            }
        }
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
    fn raw_offers_are_borrowed_and_counted() {
        let value = " , a ; x = 1 ;y=\"q,\\\"\" ,, b,c;z";
        let raw: Vec<RawOffer<'_>> = offers(value).map(Result::unwrap).collect();
        assert_eq!(
            raw.iter()
                .map(|o| (o.name(), o.param_count()))
                .collect::<Vec<_>>(),
            [("a", 2), ("b", 0), ("c", 1)]
        );
        assert_eq!(raw[0].as_str(), "a ; x = 1 ;y=\"q,\\\"\"");
        assert_eq!(raw[1].as_str(), "b");
        assert_eq!(
            raw[0].to_offer(),
            ExtensionOffer::new("a")
                .with_param("x", Some("1"))
                .with_param("y", Some("q,\""))
        );
        assert_eq!(
            raw.iter().map(|o| o.to_offer()).collect::<Vec<_>>(),
            parse_extensions(value).unwrap()
        );
        // The error comes where the offer is malformed, then nothing.
        let mut it = offers("a, b c, d");
        assert_eq!(it.next().map(|o| o.map(|o| o.name())), Some(Ok("a")));
        assert!(matches!(it.next(), Some(Err(_))));
        assert_eq!(it.next(), None);
        assert_eq!(offers("").next(), None);
        assert_eq!(offers(" ,, ").next(), None);
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
