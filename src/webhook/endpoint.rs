//! Endpoints, event-type filters and fan-out.

use std::net::{IpAddr, SocketAddr};

use http::{Request, Uri};
use serde::{Deserialize, Serialize};

use super::delivery::Delivery;
use super::message::{EndpointId, Message};
use super::retry::RetryPolicy;
use super::sign::{SignError, Signer};
use super::ssrf::{SsrfError, SsrfPolicy, port_of};
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
/// use webwire::webhook::{fan_out, Endpoint, Message, Scheme, Secret, Signer, SsrfPolicy};
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
/// let event = Message::new("msg_1", "invoice.paid", r#"{"amount":42}"#);
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
/// let other = Message::new("msg_2", "customer.created", "{}");
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
    pub fn request(&self, event: &Message, now: u64) -> Result<Request<Vec<u8>>, SignError> {
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
        event: &Message,
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
    event: &Message,
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
