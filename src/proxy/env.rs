//! The environment conventions: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
//! and `NO_PROXY`, as curl reads them.

use std::net::IpAddr;

use super::{Proxy, ProxyError, split_host_port};

impl Proxy {
    /// The proxy for a connection to `host:port` with URL scheme `scheme`
    /// (`wss`/`https` or `ws`/`http`), by the usual variables read through
    /// `var`: `https_proxy`/`HTTPS_PROXY` for secure schemes,
    /// `http_proxy` for plain ones (lower case only, as curl, since CGI
    /// servers put a request's `Proxy:` header in `HTTP_PROXY`), else
    /// `all_proxy`/`ALL_PROXY`; none if `no_proxy`/`NO_PROXY` matches the
    /// host (see [`NoProxy`]). Lower case wins over upper case; empty
    /// values count as unset.
    ///
    /// ```
    /// use webwire::proxy::{Proxy, ProxyKind};
    ///
    /// let env = |name: &str| match name {
    ///     "HTTPS_PROXY" => Some("http://proxy.corp:3128".to_owned()),
    ///     "ALL_PROXY" => Some("socks5://socks.corp".to_owned()),
    ///     "NO_PROXY" => Some("localhost,.internal,10.0.0.0/8".to_owned()),
    ///     _ => None,
    /// };
    /// let proxy = Proxy::from_env_with(env, "wss", "example.com", 443)?.unwrap();
    /// assert_eq!(proxy.addr(), ("proxy.corp", 3128));
    /// let plain = Proxy::from_env_with(env, "ws", "example.com", 80)?.unwrap();
    /// assert_eq!(plain.kind(), ProxyKind::Socks5);
    /// assert_eq!(Proxy::from_env_with(env, "wss", "api.internal", 443)?, None);
    /// assert_eq!(Proxy::from_env_with(env, "wss", "10.1.2.3", 443)?, None);
    /// # Ok::<(), webwire::proxy::ProxyError>(())
    /// ```
    pub fn from_env_with(
        var: impl Fn(&str) -> Option<String>,
        scheme: &str,
        host: &str,
        port: u16,
    ) -> Result<Option<Self>, ProxyError> {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| var(n).filter(|v| !v.trim().is_empty()))
        };
        if let Some(no_proxy) = get(&["no_proxy", "NO_PROXY"]) {
            if NoProxy::parse(&no_proxy).matches(host, port) {
                return Ok(None);
            }
        }
        let secure = scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https");
        let specific = if secure {
            get(&["https_proxy", "HTTPS_PROXY"])
        } else {
            get(&["http_proxy"])
        };
        match specific.or_else(|| get(&["all_proxy", "ALL_PROXY"])) {
            Some(url) => Proxy::parse(url.trim()).map(Some),
            None => Ok(None),
        }
    }

    /// [`from_env_with`](Self::from_env_with) on the process environment.
    pub fn from_env(scheme: &str, host: &str, port: u16) -> Result<Option<Self>, ProxyError> {
        Self::from_env_with(|name| std::env::var(name).ok(), scheme, host, port)
    }
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `*`: every host.
    All,
    /// A name: itself and its subdomains (a leading `.` or `*.` is
    /// ignored), optionally one port.
    Domain(String, Option<u16>),
    /// An address or a CIDR block.
    Network(IpAddr, u8, Option<u16>),
}

/// A parsed `NO_PROXY` list: comma- or space-separated entries, each `*`,
/// a host name (matching itself and its subdomains; `.example.com`,
/// `*.example.com` and `example.com` mean the same), an IP address, or a
/// CIDR block (`10.0.0.0/8`, `fd00::/8`), optionally with `:port`.
/// Matching is case-insensitive; entries that parse as nothing are
/// ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoProxy(Vec<Entry>);

impl NoProxy {
    /// Parses a `NO_PROXY` value.
    pub fn parse(value: &str) -> Self {
        let entries = value
            .split([',', ' ', '\t'])
            .filter_map(|raw| {
                let raw = raw.trim();
                if raw == "*" {
                    return Some(Entry::All);
                }
                if let Some((ip, bits)) = raw.split_once('/') {
                    let ip: IpAddr = ip.trim_matches(['[', ']']).parse().ok()?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    let bits: u8 = bits.parse().ok().filter(|b| *b <= max)?;
                    return Some(Entry::Network(ip, bits, None));
                }
                let (host, port) = split_host_port(raw)?;
                if let Ok(ip) = host.parse::<IpAddr>() {
                    let bits = if ip.is_ipv4() { 32 } else { 128 };
                    return Some(Entry::Network(ip, bits, port));
                }
                let name = host.trim_start_matches("*.").trim_start_matches('.');
                (!name.is_empty()).then(|| Entry::Domain(name.to_ascii_lowercase(), port))
            })
            .collect();
        Self(entries)
    }

    /// Whether a connection to `host:port` bypasses the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_matches(['[', ']']);
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        self.0.iter().any(|entry| match entry {
            Entry::All => true,
            Entry::Domain(name, p) => {
                port_ok(p)
                    && (host == *name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }
            Entry::Network(net, bits, p) => {
                port_ok(p) && ip.is_some_and(|ip| in_network(ip, *net, *bits))
            }
        })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), bits),
        _ => false,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xFFu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_entries() {
        let n = NoProxy::parse(
            " localhost, .Example.COM ,*.corp:8443 192.168.0.0/16,::1,[fe80::]/10, 10.1.2.3:80, junk/99,",
        );
        for (host, port, expected) in [
            ("localhost", 1, true),
            ("LOCALHOST.", 1, true),
            ("example.com", 443, true),
            ("api.example.com", 443, true),
            ("badexample.com", 443, false),
            ("a.corp", 8443, true),
            ("a.corp", 443, false),
            ("192.168.7.7", 1, true),
            ("192.169.0.1", 1, false),
            ("[::1]", 1, true),
            ("fe80::1234", 1, true),
            ("fec0::1", 1, false),
            ("10.1.2.3", 80, true),
            ("10.1.2.3", 81, false),
            ("example.org", 1, false),
        ] {
            assert_eq!(n.matches(host, port), expected, "{host}:{port}");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
    }

    #[test]
    fn variables_in_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let vars = env(&[
            ("https_proxy", "http://lower:1"),
            ("HTTPS_PROXY", "http://upper:2"),
            ("HTTP_PROXY", "http://cgi-header:3"),
            ("ALL_PROXY", " "),
        ]);
        let p = Proxy::from_env_with(vars, "https", "h", 443)
            .unwrap()
            .unwrap();
        assert_eq!(p.addr(), ("lower", 1));
        // HTTP_PROXY (upper case) is not read; ALL_PROXY is blank.
        assert_eq!(Proxy::from_env_with(vars, "ws", "h", 80).unwrap(), None);
        let bad = env(&[("all_proxy", "ftp://x")]);
        assert!(Proxy::from_env_with(bad, "ws", "h", 80).is_err());
    }
}
