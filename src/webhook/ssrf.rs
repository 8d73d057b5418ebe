//! The SSRF guard: which endpoint URLs and resolved addresses a webhook
//! sender may connect to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::Uri;
use serde::{Deserialize, Serialize};

/// A kind of address that is not on the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AddressClass {
    /// `0.0.0.0/8` ("this network"), `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`, and the names `localhost` and `*.localhost`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, unique local
    /// `fc00::/7`, deprecated site-local `fec0::/10`, local-use NAT64
    /// `64:ff9b:1::/48`.
    Private,
    /// Shared address space for carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    /// `169.254.0.0/16` (cloud metadata services live here), `fe80::/10`.
    LinkLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`,
    /// `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// An IPv4-mapped IPv6 address `::ffff:a.b.c.d` of a public IPv4
    /// address (a mapped special address gets that address's class).
    Ipv4Mapped,
    /// Other special-purpose ranges: `192.0.0.0/24`, `192.88.99.0/24`,
    /// `240.0.0.0/4`, `::/8` (IPv4-compatible `::a.b.c.d` and all of it but
    /// `::`, `::1`, `::ffff:0:0/96`, `::ffff:0:0:0/96`, `64:ff9b::/96` and
    /// `64:ff9b:1::/48`), discard-only `100::/64`, `2001::/23` (Teredo,
    /// ORCHID…).
    Reserved,
}

impl AddressClass {
    /// The class of `ip`, or `None` for a public address.
    ///
    /// IPv6 addresses that embed an IPv4 address take the class of the
    /// embedded address when it is special: IPv4-mapped `::ffff:a.b.c.d`
    /// (whose public addresses are [`Ipv4Mapped`](Self::Ipv4Mapped)),
    /// IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765), NAT64 `64:ff9b::/96`
    /// and 6to4 `2002::/16` (whose public addresses are public).
    pub fn of(ip: IpAddr) -> Option<Self> {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Option<Self> {
        let [a, b, c, _] = ip.octets();
        Some(match (a, b, c) {
            (0, _, _) => Self::Unspecified,
            (10, _, _) => Self::Private,
            (100, 64..=127, _) => Self::SharedCgnat,
            (127, _, _) => Self::Loopback,
            (169, 254, _) => Self::LinkLocal,
            (172, 16..=31, _) => Self::Private,
            (192, 0, 0) => Self::Reserved,
            (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Self::Documentation,
            (192, 88, 99) => Self::Reserved,
            (192, 168, _) => Self::Private,
            (198, 18..=19, _) => Self::Benchmarking,
            (224..=239, _, _) => Self::Multicast,
            (255, 255, 255) if ip == Ipv4Addr::BROADCAST => Self::Broadcast,
            (240..=255, _, _) => Self::Reserved,
            _ => return None,
        })
    }

    fn of_v6(ip: Ipv6Addr) -> Option<Self> {
        let s = ip.segments();
        let embedded = |hi: u16, lo: u16| {
            let [a, b] = hi.to_be_bytes();
            let [c, d] = lo.to_be_bytes();
            Ipv4Addr::new(a, b, c, d)
        };
        match s {
            [0, 0, 0, 0, 0, 0, 0, 0] => Some(Self::Unspecified),
            [0, 0, 0, 0, 0, 0, 0, 1] => Some(Self::Loopback),
            [0, 0, 0, 0, 0, 0xffff, hi, lo] => {
                Some(Self::of_v4(embedded(hi, lo)).unwrap_or(Self::Ipv4Mapped))
            }
            // IPv4-translated (RFC 2765 SIIT): a translator delivers it to
            // the embedded address.
            [0, 0, 0, 0, 0xffff, 0, hi, lo] => Self::of_v4(embedded(hi, lo)),
            [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Self::of_v4(embedded(hi, lo)),
            [0x64, 0xff9b, 1, ..] => Some(Self::Private),
            // The rest of ::/8, reserved by the IETF (RFC 4291 §2.4):
            // IPv4-compatible `::a.b.c.d` (deprecated), and everything not
            // carved out above.
            [first, ..] if first & 0xff00 == 0 => Some(Self::Reserved),
            [0x100, 0, 0, 0, ..] => Some(Self::Reserved),
            [0x2001, 2, 0, ..] => Some(Self::Benchmarking),
            [0x2001, 0xdb8, ..] => Some(Self::Documentation),
            [0x2001, 0..=0x1ff, ..] => Some(Self::Reserved),
            [0x2002, hi, lo, ..] => Self::of_v4(embedded(hi, lo)),
            [0x3fff, 0..=0x0fff, ..] => Some(Self::Documentation),
            [first, ..] if first & 0xfe00 == 0xfc00 => Some(Self::Private),
            [first, ..] if first & 0xffc0 == 0xfe80 => Some(Self::LinkLocal),
            [first, ..] if first & 0xffc0 == 0xfec0 => Some(Self::Private),
            [first, ..] if first & 0xff00 == 0xff00 => Some(Self::Multicast),
            _ => None,
        }
    }
}

/// Why a URL or address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SsrfError {
    /// Not an absolute URL.
    #[error("not an absolute http(s) URL")]
    InvalidUrl,
    /// A scheme other than `https` (or `http` when allowed).
    #[error("URL scheme `{0}` is not allowed")]
    SchemeNotAllowed(String),
    /// The URL carries a user name or password.
    #[error("URLs with user information are not allowed")]
    UserInfo,
    /// The host is empty or holds characters a DNS name cannot.
    #[error("invalid host `{0}`")]
    InvalidHost(String),
    /// A host that some resolvers read as an IPv4 address in decimal,
    /// octal or hexadecimal (`2130706433`, `0177.0.0.1`, `0x7f.1`).
    #[error("ambiguous numeric host `{0}`: write IPv4 addresses as four decimal octets")]
    AmbiguousIpv4(String),
    /// The address is in a range the policy refuses.
    #[error("address {ip} is {class:?}, which is not allowed")]
    BlockedAddress {
        /// The address.
        ip: IpAddr,
        /// Its range.
        class: AddressClass,
    },
    /// The host resolved to no address.
    #[error("the host resolved to no address")]
    NoAddresses,
}

/// Which endpoint URLs and addresses a sender may call, to keep a webhook
/// from reaching internal services (server-side request forgery).
///
/// The default is strict: `https` only, no user information, and no address
/// outside the public internet (see [`AddressClass`]). Hosts that some
/// resolver would read as a numeric IPv4 address (`2130706433`,
/// `0177.0.0.1`, `0x7f.1`, `127.1`) are refused outright.
///
/// A name is checked twice: the URL with [`check_url`](Self::check_url)
/// (which [`Endpoint::new`](super::Endpoint::new) runs), then, right before each connection, every
/// address it resolves to. The library does no I/O, so the second check is
/// the caller's to run, and the one that stops an attacker whose DNS
/// answers with an internal address: hand your resolver's answer to
/// [`connect_addrs`](Self::connect_addrs) (or
/// [`Endpoint::connect_addrs`](super::Endpoint::connect_addrs)), which returns the socket addresses that may
/// be used, and connect to one of exactly those (never to the name again: a
/// second lookup could answer differently). Without this check the guard
/// only stops literal addresses. Redirects must not be followed (the
/// default [`Classification`](super::Classification) gives up on 3xx).
///
/// ```
/// use std::net::IpAddr;
/// use webwire::webhook::{AddressClass, SsrfError, SsrfPolicy};
///
/// let strict = SsrfPolicy::default();
/// assert!(strict.check_url("https://hooks.example.com/in").is_ok());
/// assert!(matches!(strict.check_url("http://hooks.example.com/in"), Err(SsrfError::SchemeNotAllowed(_))));
/// assert!(matches!(strict.check_url("https://[::ffff:127.0.0.1]/"), Err(SsrfError::BlockedAddress { .. })));
/// assert!(matches!(strict.check_url("https://0x7f.1/"), Err(SsrfError::AmbiguousIpv4(_))));
///
/// // After DNS: every address must pass; connect to what comes back.
/// let url = strict.check_url("https://hooks.example.com/in")?;
/// let resolved: [IpAddr; 1] = ["93.184.215.14".parse()?];
/// assert_eq!(strict.connect_addrs(&url, resolved)?, ["93.184.215.14:443".parse()?]);
/// let rebinding: [IpAddr; 2] = ["93.184.215.14".parse()?, "10.0.0.7".parse()?];
/// assert!(strict.connect_addrs(&url, rebinding).is_err());
///
/// // A local test setup.
/// let local = SsrfPolicy::default().allow_http().allow(AddressClass::Loopback);
/// assert!(local.check_url("http://127.0.0.1:8080/hooks").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SsrfPolicy {
    /// Whether plain `http` URLs are allowed.
    pub allow_http: bool,
    /// Address classes that are allowed despite not being public.
    pub allowed: Vec<AddressClass>,
}

impl SsrfPolicy {
    /// The strict default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also allows `http` URLs.
    pub fn allow_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Also allows addresses of `class`.
    pub fn allow(mut self, class: AddressClass) -> Self {
        if !self.allowed.contains(&class) {
            self.allowed.push(class);
        }
        self
    }

    /// Checks an endpoint URL, returning it parsed. Only literal addresses
    /// are checked here; a name's addresses are checked by
    /// [`connect_addrs`](Self::connect_addrs) once resolved.
    pub fn check_url(&self, url: &str) -> Result<Uri, SsrfError> {
        let uri: Uri = url.parse().map_err(|_| SsrfError::InvalidUrl)?;
        self.check_uri(&uri)?;
        Ok(uri)
    }

    /// The checks of [`check_url`](Self::check_url) on a parsed URL; the
    /// host's address if it is a literal one.
    fn check_uri(&self, uri: &Uri) -> Result<Option<IpAddr>, SsrfError> {
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(SsrfError::InvalidUrl);
        };
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if self.allow_http => {}
            other => return Err(SsrfError::SchemeNotAllowed(other.to_owned())),
        }
        if authority.as_str().contains('@') {
            return Err(SsrfError::UserInfo);
        }
        self.check_host(authority.host())
    }

    /// The socket addresses to connect to for `url`, given every address
    /// its host resolved to (your resolver's answer, such as
    /// `tokio::net::lookup_host` or `ToSocketAddrs` mapped to their IPs):
    /// the safe way to open a webhook connection.
    ///
    /// `url` is checked again as by [`check_url`](Self::check_url), then
    /// every resolved address as by [`check_resolved`](Self::check_resolved):
    /// one blocked address refuses them all (an attacker's DNS can mix a
    /// private address into a public answer), and an empty answer is
    /// [`SsrfError::NoAddresses`]. The addresses come back in the
    /// resolver's order without repeats, with the URL's port (or the
    /// scheme's default, 443 or 80). Connect to one of them, not to the name
    /// (another lookup could answer differently), and keep the name for TLS
    /// and the `Host` header. If the URL's host is an IP literal, that
    /// address is the only one returned and `resolved` is not looked at.
    pub fn connect_addrs(
        &self,
        url: &Uri,
        resolved: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<SocketAddr>, SsrfError> {
        let port = port_of(url);
        if let Some(ip) = self.check_uri(url)? {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let mut out: Vec<SocketAddr> = Vec::new();
        for ip in resolved {
            self.check_ip(ip)?;
            let addr = SocketAddr::new(ip, port);
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
        if out.is_empty() {
            return Err(SsrfError::NoAddresses);
        }
        Ok(out)
    }

    /// Checks a URL's host: an IP literal by its class (and returns it), a
    /// name by its shape.
    fn check_host(&self, host: &str) -> Result<Option<IpAddr>, SsrfError> {
        let invalid = || SsrfError::InvalidHost(host.to_owned());
        if let Some(inner) = host.strip_prefix('[') {
            let literal = inner.strip_suffix(']').ok_or_else(invalid)?;
            // Zone ids (`fe80::1%eth0`) do not parse, so they are refused too.
            let ip = IpAddr::V6(literal.parse::<Ipv6Addr>().map_err(|_| invalid())?);
            return self.check_ip(ip).map(|()| Some(ip));
        }
        let name = host.strip_suffix('.').unwrap_or(host);
        if name.is_empty()
            || name.len() > 253
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            || name
                .split('.')
                .any(|label| label.is_empty() || label.len() > 63)
        {
            return Err(invalid());
        }
        // As in the WHATWG URL parser: a numeric last label makes the whole
        // host an IPv4 address, in whatever base its parts look like.
        let last = name.rsplit('.').next().unwrap_or(name);
        if is_numeric_label(last) {
            let ip = IpAddr::V4(
                canonical_ipv4(name).ok_or_else(|| SsrfError::AmbiguousIpv4(host.to_owned()))?,
            );
            return self.check_ip(ip).map(|()| Some(ip));
        }
        let lower = name.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            self.check_class(IpAddr::V4(Ipv4Addr::LOCALHOST), AddressClass::Loopback)?;
        }
        Ok(None)
    }

    /// Checks one address, such as a resolved one or the peer of an open
    /// connection.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), SsrfError> {
        match AddressClass::of(ip) {
            Some(class) => self.check_class(ip, class),
            None => Ok(()),
        }
    }

    fn check_class(&self, ip: IpAddr, class: AddressClass) -> Result<(), SsrfError> {
        if self.allowed.contains(&class) {
            Ok(())
        } else {
            Err(SsrfError::BlockedAddress { ip, class })
        }
    }

    /// Checks every address a host resolved to: all must pass (otherwise
    /// an attacker's DNS could mix a private address in), and there must be
    /// at least one. [`connect_addrs`](Self::connect_addrs) does this and
    /// also returns the socket addresses to use.
    pub fn check_resolved(
        &self,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) -> Result<(), SsrfError> {
        let mut any = false;
        for ip in addresses {
            self.check_ip(ip)?;
            any = true;
        }
        if any {
            Ok(())
        } else {
            Err(SsrfError::NoAddresses)
        }
    }
}

/// The URL's port, or its scheme's default (443, or 80 for `http`).
pub(crate) fn port_of(url: &Uri) -> u16 {
    url.port_u16().unwrap_or_else(|| {
        match url
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            true => 80,
            false => 443,
        }
    })
}

/// Whether a label reads as a number to the WHATWG URL parser: decimal
/// digits, or `0x` followed by hex digits (possibly none).
fn is_numeric_label(label: &str) -> bool {
    match label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"))
    {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Four decimal octets without leading zeros, the only form every parser
/// reads the same way.
fn canonical_ipv4(host: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = host.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty()
            || part.len() > 3
            || (part.len() > 1 && part.starts_with('0'))
            || !part.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels() {
        assert!(is_numeric_label("0x"));
        assert!(is_numeric_label("0X7f"));
        assert!(is_numeric_label("0177"));
        assert!(!is_numeric_label("7f"));
        assert!(!is_numeric_label(""));
        assert_eq!(canonical_ipv4("1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(canonical_ipv4("1.2.3.04"), None);
        assert_eq!(canonical_ipv4("1.2.3.256"), None);
        assert_eq!(canonical_ipv4("1.2.3"), None);
        assert_eq!(canonical_ipv4("1.2.3.4.5"), None);
    }
}
