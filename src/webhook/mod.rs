//! Webhooks: signing and verifying HTTP requests.
//!
//! A sender signs each request with a shared secret (or, for Standard
//! Webhooks v1a, an Ed25519 key); the receiver verifies the signature over
//! the raw body before trusting a byte of it. Everything here is sans-IO:
//! bytes and [`http`] types in, headers and typed results out, time passed in
//! as unix seconds (with thin `*_now` helpers that read the system clock).
//!
//! | type | role |
//! | --- | --- |
//! | [`Scheme`] | one provider's format: [`standard`](Scheme::standard), [`svix`](Scheme::svix), [`github`](Scheme::github), [`stripe`](Scheme::stripe), [`slack`](Scheme::slack), [`shopify`](Scheme::shopify), [`custom`](Scheme::custom) |
//! | [`Secret`] | an HMAC secret or Ed25519 key; `Debug` is redacted |
//! | [`Signer`] | body → signature headers, or a ready `http::Request` |
//! | [`Verifier`] | headers + body + now → [`Verified`] or [`VerifyError`] |
//! | [`ReplayGuard`] | claim, process, commit: each message processed once, none lost; [`InMemoryReplayGuard`] |
//! | [`RetryPolicy`] | pure: attempt + outcome → [`Decision`] (retry when, give up, disable) |
//! | [`Delivery`] | one event to one endpoint: attempts, next due time; serde-persistable |
//! | [`EndpointHealth`] | disables an endpoint after 410 or days of failure |
//! | [`Endpoint`] | URL, signer, event filters; [`fan_out`] signs an event for each |
//! | [`SsrfPolicy`] | refuses endpoint URLs and resolved addresses that are not public |
//! | [`EndpointGate`] | per endpoint: in-flight limit, [`TokenBucket`] rate limit, [`CircuitBreaker`] |
//! | [`Lease`], [`sendable_in_order`] | workers sharing a queue; ordering keys |
//!
//! ```
//! use webwire::webhook::{Admission, InMemoryReplayGuard, Scheme, Secret, Signer, Verifier, VerifyError};
//!
//! let scheme = Scheme::stripe();
//! let secret = Secret::parse(&scheme, "whsec_test_secret")?;
//! let now = 1_700_000_000;
//!
//! // Sender.
//! let signer = Signer::new(scheme.clone(), secret.clone())?;
//! let request = signer.request("https://example.com/hooks", "evt_1", now, br#"{"ok":true}"#.to_vec())?;
//!
//! // Receiver.
//! let verifier = Verifier::new(scheme, secret)?;
//! let mut guard = InMemoryReplayGuard::new(verifier.tolerance(), 10_000);
//! if let Admission::Process(claim) =
//!     verifier.verify_and_claim(request.headers(), request.body(), now + 3, &mut guard)?
//! {
//!     // Process the event, then commit (or release the claim if that failed).
//!     claim.commit(&mut guard, now + 3);
//! }
//!
//! // The same request again is a duplicate: answer 2xx, process nothing.
//! let again = verifier.verify_and_claim(request.headers(), request.body(), now + 4, &mut guard)?;
//! assert!(matches!(again, Admission::Duplicate(_)));
//! // A changed body does not verify.
//! let forged = verifier.verify(request.headers(), br#"{"ok":false}"#, now + 5);
//! assert_eq!(forged, Err(VerifyError::NoMatchingSignature));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Delivery
//!
//! Senders get a delivery engine that decides and never waits: an
//! [`Endpoint`] (checked by an [`SsrfPolicy`]) signs each attempt, a
//! [`Delivery`] records outcomes and says when the next attempt is due
//! according to its [`RetryPolicy`], and [`EndpointHealth`] says when to stop
//! calling an endpoint. The caller sends the requests, keeps the clock and
//! stores the (serialisable) state, for example in an outbox table.
//! Before each attempt an [`EndpointGate`] says whether the endpoint may be
//! called now (in-flight limit, rate limit, circuit breaker); [`Lease`]s
//! let several workers share the table, and [`sendable_in_order`] keeps
//! messages with the same ordering key in order. `examples/webhook_outbox`
//! runs all of it on SQLite and PostgreSQL.

mod circuit;
mod delivery;
mod endpoint;
mod gate;
mod header_value;
mod health;
mod lease;
mod message;
mod ordering;
mod rate_limit;
mod replay;
mod retry;
mod scheme;
mod secret;
mod sign;
mod ssrf;
mod verify;

/// The retry schedules and jitter, shared with WebSocket reconnection.
pub use crate::backoff::{Jitter, Schedule};
pub use circuit::{BreakerState, CircuitBreaker};
pub use delivery::{Attempt, Delivery, DeliveryError, DeliveryState};
pub use endpoint::{Dispatch, Endpoint, EndpointError, EventFilter, fan_out};
pub use gate::{Blocked, EndpointGate, Permit};
pub use health::{DEFAULT_DISABLE_AFTER, DisableReason, EndpointHealth, HealthStatus};
pub use lease::Lease;
pub use message::{EndpointId, Message};
pub use ordering::sendable_in_order;
pub use rate_limit::TokenBucket;
pub use replay::{ClaimState, DEFAULT_CLAIM_LEASE, InMemoryReplayGuard, ReplayGuard, ReplayKey};
pub use retry::{
    Classification, Decision, GiveUpReason, Outcome, OutcomeClass, RetryPolicy, RetryState,
    parse_retry_after,
};
pub use scheme::{CustomScheme, DEFAULT_TOLERANCE, Encoding, Scheme, SchemeError, SecretFormat};
pub use secret::{Secret, SecretError};
pub use sign::{DEFAULT_USER_AGENT, SignError, Signer};
pub use ssrf::{AddressClass, SsrfError, SsrfPolicy};
pub use verify::{Admission, Claim, Verified, Verifier, VerifyError};

/// The system clock as unix seconds (0 if it reads before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
