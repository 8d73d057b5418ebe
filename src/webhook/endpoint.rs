//! Endpoints, event-type filters, fan-out and the SSRF guard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use http::{Request, Uri};
use serde::{Deserialize, Serialize};

use super::delivery::{Delivery, EndpointId, Event};
use super::retry::RetryPolicy;
use super::sign::{SignError, Signer};
use crate::random::RandomSource;

/// Where a webhook goes: URL, signer (scheme and secrets), the event types it
/// wants, whether it is enabled, and optionally its own retry policy.
///
/// The URL is checked by an [`SsrfPolicy`] when the endpoint is built, and
/// the endpoint keeps that policy for the second check, which only the
/// caller can run since the library does no I/O: resolve
/// [`host_and_port`](Self::host_and_port) with your resolver, pass the
/// answers to [`connect_addrs`](Self::connect_addrs), and connect to one of
/// the socket addresses it returns, never to the name again (a second
/// lookup could answer differently: DNS rebinding). `Endpoint` is not
/// serialisable because it holds secrets: store its parts (the secret
/// encrypted) and rebuild it.
///
/// ```
/// use webwire::webhook::{fan_out, Endpoint, Event, Scheme, Secret, Signer, SsrfPolicy};
///
/// let scheme = Scheme::standard();
/// let signer = Signer::new(scheme.clone(), Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?)?;
/// let guard = SsrfPolicy::default();
/// let billing = Endpoint::new("ep_billing", "https://billing.example.com/hooks", signer.clone(), &guard)?
///     .with_filter("invoice.*")?;
/// let audit = Endpoint::new("ep_audit", "https://audit.example.com/hooks", signer, &guard)?;
///
/// // Private addresses are refused.
/// assert!(Endpoint::new("ep_evil", "https://169.254.169.254/latest", billing.signer().clone(), &guard).is_err());
///
/// let event = Event::new("msg_1", "invoice.paid", r#"{"amount":42}"#);
/// let requests = fan_out([&billing, &audit], &event, 1_700_000_000)?;
/// assert_eq!(requests.len(), 2);
/// assert_eq!(requests[0].request.headers()["webhook-id"], "msg_1");
///
/// // Before sending: resolve the host, keep only checked addresses.
/// assert_eq!(billing.host_and_port(), ("billing.example.com", 443));
/// let resolved: Vec<std::net::IpAddr> = vec!["93.184.215.14".parse()?]; // your resolver's answer
/// let connect_to = billing.connect_addrs(resolved)?;
/// assert_eq!(connect_to, ["93.184.215.14:443".parse()?]);
/// // A rebinding answer is refused as a whole.
/// let rebound: Vec<std::net::IpAddr> = vec!["93.184.215.14".parse()?, "127.0.0.1".parse()?];
/// assert!(billing.connect_addrs(rebound).is_err());
///
/// let other = Event::new("msg_2", "customer.created", "{}");
/// assert_eq!(fan_out([&billing, &audit], &other, 1_700_000_000)?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Endpoint {
    id: EndpointId,
    url: Uri,
    signer: Signer,
    filters: Vec<EventFilter>,
    enabled: bool,
    policy: Option<RetryPolicy>,
    guard: SsrfPolicy,
}

/// Why an endpoint could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The URL was refused.
    #[error(transparent)]
    Url(#[from] SsrfError),
    /// An event-type filter is malformed.
    #[error("invalid event filter `{0}`: use `type.name`, `prefix.*` or `*`")]
    InvalidFilter(String),
}

impl Endpoint {
    /// An enabled endpoint receiving every event type, once `url` passes
    /// `guard`. The endpoint keeps `guard` to check the addresses the URL's
    /// host resolves to ([`connect_addrs`](Self::connect_addrs)).
    pub fn new(
        id: impl Into<EndpointId>,
        url: &str,
        signer: Signer,
        guard: &SsrfPolicy,
    ) -> Result<Self, EndpointError> {
        Ok(Self {
            id: id.into(),
            url: guard.check_url(url)?,
            signer,
            filters: Vec::new(),
            enabled: true,
            policy: None,
            guard: guard.clone(),
        })
    }

    /// Also receives events matching `pattern` (see [`EventFilter::parse`]).
    /// An endpoint without filters receives every event.
    pub fn with_filter(mut self, pattern: &str) -> Result<Self, EndpointError> {
        self.filters.push(EventFilter::parse(pattern)?);
        Ok(self)
    }

    /// Retries this endpoint's deliveries with `policy` instead of the
    /// caller's default.
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Enables or disables the endpoint (disable it when its
    /// [`EndpointHealth`](super::EndpointHealth) says so).
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// The endpoint's id.
    pub fn id(&self) -> &EndpointId {
        &self.id
    }

    /// The checked URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The event-type filters (empty: every event).
    pub fn filters(&self) -> &[EventFilter] {
        &self.filters
    }

    /// Whether it is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Its own retry policy, if any.
    pub fn policy(&self) -> Option<&RetryPolicy> {
        self.policy.as_ref()
    }

    /// The SSRF policy the URL passed, which
    /// [`connect_addrs`](Self::connect_addrs) applies.
    pub fn ssrf_policy(&self) -> &SsrfPolicy {
        &self.guard
    }

    /// What to resolve before connecting: the URL's host (an IPv6 literal
    /// without its brackets) and port (the scheme's default, 443 or 80,
    /// when the URL has none).
    pub fn host_and_port(&self) -> (&str, u16) {
        let host = self.url.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        (host, port_of(&self.url))
    }

    /// The socket addresses to connect to, given every address the URL's
    /// host resolved to (the caller's resolver's answer, in its order):
    /// [`SsrfPolicy::connect_addrs`] under the endpoint's own policy.
    ///
    /// This is the check to run before every connection: all the answers
    /// must pass (one blocked address refuses them all), and the request
    /// goes to one of the addresses returned, not to the name.
    pub fn connect_addrs(
        &self,
        resolved: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<SocketAddr>, SsrfError> {
        self.guard.connect_addrs(&self.url, resolved)
    }

    /// Whether it wants events of `event_type`.
    pub fn accepts(&self, event_type: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| f.matches(event_type))
    }

    /// Whether it is enabled and wants events of `event_type`.
    pub fn should_receive(&self, event_type: &str) -> bool {
        self.enabled && self.accepts(event_type)
    }

    /// The signed `POST` of `event` to this endpoint at `now` (unix
    /// seconds). Sign afresh for every attempt: the timestamp must be
    /// current, the webhook id stays the event's.
    pub fn request(&self, event: &Event, now: u64) -> Result<Request<Vec<u8>>, SignError> {
        let mut request = self.signer.request(
            &self.url.to_string(),
            &event.id,
            now,
            event.payload.clone().into_bytes(),
        )?;
        // Parsing our own rendering cannot change the URI; keep the checked one.
        *request.uri_mut() = self.url.clone();
        Ok(request)
    }

    /// A new [`Delivery`] of `event` to this endpoint, created at `now`,
    /// under the endpoint's policy or else `default_policy`.
    pub fn delivery<R: RandomSource + ?Sized>(
        &self,
        event: &Event,
        default_policy: &RetryPolicy,
        now: u64,
        random: &mut R,
    ) -> Delivery {
        let policy = self.policy.as_ref().unwrap_or(default_policy).clone();
        Delivery::new(event.clone(), self.id.clone(), policy, now, random)
    }
}

/// One signed request of a [`fan_out`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Dispatch {
    /// The endpoint it goes to.
    pub endpoint: EndpointId,
    /// The signed request.
    pub request: Request<Vec<u8>>,
}

/// The signed requests carrying `event` at `now` (unix seconds) to every
/// enabled endpoint that wants its type, in the endpoints' order.
///
/// Fails only if the event cannot be signed (its id is not visible ASCII),
/// which is the same for every endpoint.
pub fn fan_out<'a>(
    endpoints: impl IntoIterator<Item = &'a Endpoint>,
    event: &Event,
    now: u64,
) -> Result<Vec<Dispatch>, SignError> {
    endpoints
        .into_iter()
        .filter(|endpoint| endpoint.should_receive(&event.event_type))
        .map(|endpoint| {
            Ok(Dispatch {
                endpoint: endpoint.id.clone(),
                request: endpoint.request(event, now)?,
            })
        })
        .collect()
}

/// An event-type filter: an exact type, a prefix wildcard, or everything.
///
/// ```
/// use webwire::webhook::EventFilter;
///
/// let invoices = EventFilter::parse("invoice.*")?;
/// assert!(invoices.matches("invoice.paid"));
/// assert!(invoices.matches("invoice.payment.failed"));
/// assert!(!invoices.matches("invoice"));
/// assert!(!invoices.matches("invoices.paid"));
/// assert!(EventFilter::parse("*")?.matches("anything"));
/// assert!(EventFilter::parse("in*voice").is_err());
/// # Ok::<(), webwire::webhook::EndpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventFilter {
    /// Every event type (`*`).
    Any,
    /// Exactly this type.
    Exact(String),
    /// Types starting with this prefix, which ends with `.` (`invoice.*`
    /// is `Prefix("invoice.")`).
    Prefix(String),
}

impl EventFilter {
    /// Parses `*`, `prefix.*` or an exact type; a `*` anywhere else, or an
    /// empty pattern, is an error.
    pub fn parse(pattern: &str) -> Result<Self, EndpointError> {
        let invalid = || EndpointError::InvalidFilter(pattern.to_owned());
        if pattern == "*" {
            return Ok(Self::Any);
        }
        if let Some(prefix) = pattern.strip_suffix('*') {
            if prefix.len() < 2 || !prefix.ends_with('.') || prefix.contains('*') {
                return Err(invalid());
            }
            return Ok(Self::Prefix(prefix.to_owned()));
        }
        if pattern.is_empty() || pattern.contains('*') {
            return Err(invalid());
        }
        Ok(Self::Exact(pattern.to_owned()))
    }

    /// Whether `event_type` matches.
    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => event_type == exact,
            Self::Prefix(prefix) => {
                event_type.len() > prefix.len() && event_type.starts_with(prefix.as_str())
            }
        }
    }
}

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
/// (which [`Endpoint::new`] runs), then, right before each connection, every
/// address it resolves to. The library does no I/O, so the second check is
/// the caller's to run, and the one that stops an attacker whose DNS
/// answers with an internal address: hand your resolver's answer to
/// [`connect_addrs`](Self::connect_addrs) (or
/// [`Endpoint::connect_addrs`]), which returns the socket addresses that may
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
fn port_of(url: &Uri) -> u16 {
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
