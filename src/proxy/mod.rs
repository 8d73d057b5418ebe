//! Proxy tunnels for clients: HTTP CONNECT (RFC 9110 §9.3.6) with optional
//! Basic auth, and SOCKS5 (RFC 1928) with optional username/password
//! (RFC 1929), the target's name resolved by the proxy.
//!
//! Sans-IO like the rest: a [`Tunnel`] hands out the bytes to write to the
//! proxy and takes the bytes read from it, until it says the tunnel is
//! established; from then on the connection carries the WebSocket handshake
//! (or TLS, then the handshake, for `wss://`) or a webhook request. Every
//! refusal is a typed [`ProxyError`]; replies are read into a bounded
//! buffer and no reply panics.
//!
//! ```
//! use webwire::proxy::{Proxy, TunnelStatus};
//!
//! let proxy = Proxy::parse("http://alice:secret@proxy.internal:3128")?;
//! assert_eq!(proxy.addr(), ("proxy.internal", 3128));
//! // Connect a socket to proxy.addr(), then:
//! let mut tunnel = proxy.tunnel("example.com", 443)?;
//! let request = tunnel.poll_transmit().unwrap();
//! assert!(request.starts_with(b"CONNECT example.com:443 HTTP/1.1\r\n"));
//! // Write it, read the proxy's answer and feed it in:
//! let reply = b"HTTP/1.1 200 Connection established\r\n\r\n";
//! assert_eq!(tunnel.receive(reply)?, TunnelStatus::Established { consumed: reply.len() });
//! // The socket is now a connection to example.com:443.
//! # Ok::<(), webwire::proxy::ProxyError>(())
//! ```

mod env;
mod http_connect;
mod socks5;

use std::fmt;

pub use env::NoProxy;
pub use http_connect::HttpConnect;
pub use socks5::{Socks5, Socks5Reply};

/// The most bytes of a proxy's reply held while waiting for its end
/// (an HTTP CONNECT response head; a SOCKS5 reply is at most 262).
pub const MAX_REPLY_LEN: usize = 16 * 1024;

/// Why a proxy could not be used, or refused the tunnel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL does not parse.
    #[error("invalid proxy URL: {0}")]
    InvalidUrl(String),
    /// A proxy scheme other than `http`, `socks5` and `socks5h`.
    #[error("unsupported proxy scheme `{0}`: use http://, socks5:// or socks5h://")]
    UnsupportedScheme(String),
    /// The target host cannot be sent to the proxy (empty, too long for
    /// SOCKS5, or with characters no host name has).
    #[error("invalid target host `{0}`")]
    InvalidTarget(String),
    /// SOCKS5 carries user names and passwords of at most 255 bytes each.
    #[error("SOCKS5 user names and passwords are at most 255 bytes")]
    CredentialsTooLong,
    /// The HTTP proxy wants credentials (407), or refused the ones sent.
    #[error("the proxy requires authentication (407){}", challenge_suffix(.challenge))]
    AuthenticationRequired {
        /// Its `Proxy-Authenticate` challenge, if it sent one.
        challenge: Option<String>,
    },
    /// The HTTP proxy refused the CONNECT with this status.
    #[error("the proxy refused the tunnel with HTTP status {status}")]
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The SOCKS5 proxy accepts none of the offered methods (no
    /// authentication, or username/password when credentials are set).
    #[error("the SOCKS5 proxy accepts none of the offered authentication methods")]
    NoAcceptableMethod,
    /// The SOCKS5 proxy refused the user name and password.
    #[error("the SOCKS5 proxy refused the credentials (status {status})")]
    AuthenticationFailed {
        /// The RFC 1929 status byte.
        status: u8,
    },
    /// The SOCKS5 proxy refused the connection.
    #[error("the SOCKS5 proxy refused the connection: {0}")]
    Refused(Socks5Reply),
    /// The reply breaks the protocol.
    #[error("malformed proxy reply: {0}")]
    MalformedReply(&'static str),
    /// The reply did not end within [`MAX_REPLY_LEN`] bytes.
    #[error("the proxy's reply exceeds {MAX_REPLY_LEN} bytes")]
    ReplyTooLong,
    /// Input arrived after the tunnel was established or had failed.
    #[error("the tunnel is no longer negotiating")]
    Finished,
}

fn challenge_suffix(challenge: &Option<String>) -> String {
    challenge
        .as_ref()
        .map(|c| format!(": {c}"))
        .unwrap_or_default()
}

/// Where a tunnel stands after [`Tunnel::receive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TunnelStatus {
    /// Feed more of the proxy's reply.
    NeedMore,
    /// The tunnel is open. The first `consumed` bytes of the latest input
    /// were the proxy's; any after them already come from the target.
    Established {
        /// Bytes of the latest input that belonged to the proxy's reply.
        consumed: usize,
    },
}

/// The proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyKind {
    /// HTTP CONNECT.
    Http,
    /// SOCKS5, the target's name resolved by the proxy.
    Socks5,
}

/// A user name and password for the proxy. `Debug` does not show the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A proxy: kind, address and optional credentials, from a URL such as
/// `http://user:pass@proxy:3128` or `socks5://proxy:1080`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

impl Proxy {
    /// Parses a proxy URL: `http://`, `socks5://` or `socks5h://` (both
    /// SOCKS5 schemes let the proxy resolve the target's name, which keeps
    /// the lookup, and the name, off the client's network), optional
    /// `user:password@` (percent-decoded), host, and port (default 80 for
    /// HTTP, 1080 for SOCKS5). A URL without a scheme is an HTTP proxy, as
    /// in curl's `HTTPS_PROXY` conventions.
    pub fn parse(url: &str) -> Result<Self, ProxyError> {
        let invalid = |why: &str| ProxyError::InvalidUrl(format!("{why} in `{}`", redact(url)));
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), url),
        };
        let (kind, default_port) = match scheme.as_str() {
            "http" => (ProxyKind::Http, 80),
            "socks5" | "socks5h" => (ProxyKind::Socks5, 1080),
            _ => return Err(ProxyError::UnsupportedScheme(scheme)),
        };
        // Only an authority; a trailing `/` is tolerated.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(invalid("a path, query or fragment"));
        }
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let credentials = match userinfo {
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                Some(Credentials {
                    user: percent_decode(user).ok_or_else(|| invalid("bad percent-encoding"))?,
                    password: percent_decode(password)
                        .ok_or_else(|| invalid("bad percent-encoding"))?,
                })
            }
            None => None,
        };
        let (host, port) =
            split_host_port(hostport).ok_or_else(|| invalid("a bad host or port"))?;
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if kind == ProxyKind::Socks5
            && credentials
                .as_ref()
                .is_some_and(|c| c.user.len() > 255 || c.password.len() > 255)
        {
            return Err(ProxyError::CredentialsTooLong);
        }
        Ok(Self {
            kind,
            host: host.to_owned(),
            port: port.unwrap_or(default_port),
            credentials,
        })
    }

    /// The protocol.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// Where to connect: the proxy's host (brackets removed from an IPv6
    /// literal) and port.
    pub fn addr(&self) -> (&str, u16) {
        (&self.host, self.port)
    }

    /// The credentials, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// A tunnel through this proxy to `host:port` (a name, which the proxy
    /// resolves, or an IP literal, IPv6 with or without brackets).
    pub fn tunnel(&self, host: &str, port: u16) -> Result<Tunnel, ProxyError> {
        Ok(match self.kind {
            ProxyKind::Http => {
                Tunnel::Http(HttpConnect::new(host, port, self.credentials.as_ref())?)
            }
            ProxyKind::Socks5 => {
                Tunnel::Socks5(Socks5::new(host, port, self.credentials.as_ref())?)
            }
        })
    }
}

/// A tunnel being negotiated through a [`Proxy`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Tunnel {
    /// HTTP CONNECT.
    Http(HttpConnect),
    /// SOCKS5.
    Socks5(Socks5),
}

impl Tunnel {
    /// Bytes to write to the proxy now, if any. Call it after creating the
    /// tunnel and after every [`receive`](Self::receive).
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            Tunnel::Http(t) => t.poll_transmit(),
            Tunnel::Socks5(t) => t.poll_transmit(),
        }
    }

    /// Feeds bytes read from the proxy.
    pub fn receive(&mut self, data: &[u8]) -> Result<TunnelStatus, ProxyError> {
        match self {
            Tunnel::Http(t) => t.receive(data),
            Tunnel::Socks5(t) => t.receive(data),
        }
    }
}

/// `user:password@` hidden in error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            format!("{}://***@{}", &url[..start], &url[at + 1..])
        }
        (None, Some(at)) => format!("***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
pub(crate) fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(parse_port(after.strip_prefix(':')?)?))),
        };
    }
    match s.rsplit_once(':') {
        // More than one colon and no brackets: an IPv6 literal without port.
        Some((host, _)) if host.contains(':') => Some((s, None)),
        Some((host, port)) => Some((host, Some(parse_port(port)?))),
        None => Some((s, None)),
    }
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A target host as sent to a proxy: a name of visible ASCII without
/// delimiters, or an IP literal.
pub(crate) fn check_target(host: &str) -> Result<&str, ProxyError> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ok = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b));
    if ok {
        Ok(host)
    } else {
        Err(ProxyError::InvalidTarget(host.escape_debug().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = Proxy::parse("socks5h://u%40x:p%3Aw@[::1]:9050/").unwrap();
        assert_eq!(p.kind(), ProxyKind::Socks5);
        assert_eq!(p.addr(), ("::1", 9050));
        let c = p.credentials().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("u@x", "p:w"));
        assert!(!format!("{c:?}").contains("p:w"));
        let p = Proxy::parse("proxy.corp:3128").unwrap();
        assert_eq!(
            (p.kind(), p.addr()),
            (ProxyKind::Http, ("proxy.corp", 3128))
        );
        assert_eq!(Proxy::parse("socks5://h").unwrap().addr(), ("h", 1080));
        assert_eq!(Proxy::parse("HTTP://h").unwrap().addr(), ("h", 80));
        for bad in [
            "http://",
            "http://h:99999",
            "http://h:x",
            "http://h/path",
            "http://u:%zz@h",
            "http://[::1",
        ] {
            assert!(
                matches!(Proxy::parse(bad), Err(ProxyError::InvalidUrl(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Proxy::parse("https://h"),
            Err(ProxyError::UnsupportedScheme("https".into()))
        );
        let long = format!("socks5://{}:p@h", "u".repeat(256));
        assert_eq!(Proxy::parse(&long), Err(ProxyError::CredentialsTooLong));
        let err = Proxy::parse("http://user:hunter2@h/x")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }
}
