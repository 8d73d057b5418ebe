//! The delivery state machine and endpoint health.

use serde::{Deserialize, Serialize};

use super::retry::{Decision, GiveUpReason, Outcome, RetryPolicy, RetryState};
use crate::random::{RandomSource, SeededRandom};

/// Five days: an endpoint failing this long is disabled by default.
pub const DEFAULT_DISABLE_AFTER: u64 = 5 * 24 * 3600;

/// One message to deliver: the same id, type and body on every attempt and
/// to every endpoint, so receivers can deduplicate by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The webhook (message) id, such as `msg_2b9v…`: non-empty visible
    /// ASCII, sent in the scheme's id header.
    pub id: String,
    /// The event type that endpoint filters match, such as `invoice.paid`.
    pub event_type: String,
    /// The request body, usually JSON.
    pub payload: String,
}

impl Event {
    /// An event with `id`, `event_type` and `payload`.
    pub fn new(
        id: impl Into<String>,
        event_type: impl Into<String>,
        payload: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            event_type: event_type.into(),
            payload: payload.into(),
        }
    }
}

/// Names an endpoint in a [`Delivery`] (whatever key the caller stores
/// endpoints under).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EndpointId(pub String);

impl From<&str> for EndpointId {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for EndpointId {
    fn from(id: String) -> Self {
        Self(id)
    }
}

impl std::fmt::Display for EndpointId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that widths and alignment apply.
        f.pad(&self.0)
    }
}

/// One attempt's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attempt {
    /// When its outcome was observed (unix seconds).
    pub at: u64,
    /// What happened.
    pub outcome: Outcome,
    /// What the policy decided.
    pub decision: Decision,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryState {
    /// Waiting for its next attempt, due at [`Delivery::next_due`].
    Pending,
    /// Delivered.
    Delivered,
    /// Given up.
    Failed {
        /// Why.
        reason: GiveUpReason,
    },
    /// The endpoint said it is gone; it should be disabled.
    EndpointGone {
        /// The status that said so.
        status: u16,
    },
}

/// Why [`Delivery::on_outcome`] refused an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The delivery already ended; nothing was recorded.
    #[error("the delivery already ended ({0:?})")]
    Finished(DeliveryState),
}

/// A webhook delivery to one endpoint: the event, the attempts so far and
/// when the next one is due.
///
/// It decides; you do the I/O and the storage. Ask [`next_due`](Self::next_due)
/// when to send, send the request (signed afresh each time by
/// [`Endpoint::request`](super::Endpoint::request), with the same webhook
/// id), then report what happened with [`on_outcome`](Self::on_outcome).
///
/// The whole state, including the policy and the jitter generator (seeded
/// from a [`RandomSource`] at creation), is `serde`-serialisable: persist it
/// after every outcome (an outbox row, a queue message) and a restarted
/// process resumes with the same schedule, without losing or repeating an
/// attempt's record.
///
/// ```
/// use webwire::random::SeededRandom;
/// use webwire::webhook::{Delivery, DeliveryState, Event, Outcome, RetryPolicy};
///
/// let event = Event::new("msg_1", "invoice.paid", r#"{"amount":42}"#);
/// let created = 1_700_000_000;
/// let mut delivery = Delivery::new(event, "ep_1".into(), RetryPolicy::standard_webhooks(), created, &mut SeededRandom::new(7));
/// assert_eq!(delivery.next_due(), Some(created)); // immediately
///
/// // 503: try again 5 seconds later.
/// delivery.on_outcome(Outcome::status(503), created + 1)?;
/// assert_eq!(delivery.next_due(), Some(created + 6));
///
/// // Persist, restore, carry on.
/// let saved = serde_json::to_string(&delivery)?;
/// let mut delivery: Delivery = serde_json::from_str(&saved)?;
/// delivery.on_outcome(Outcome::status(200), created + 6)?;
/// assert_eq!(delivery.state(), DeliveryState::Delivered);
/// assert_eq!(delivery.next_due(), None);
/// assert_eq!(delivery.attempts().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    event: Event,
    endpoint: EndpointId,
    policy: RetryPolicy,
    random: SeededRandom,
    created_at: u64,
    attempts: Vec<Attempt>,
    state: DeliveryState,
    next_due: u64,
    /// The delay chosen before the next attempt (decorrelated jitter grows
    /// from it).
    last_delay: u64,
}

impl Delivery {
    /// A delivery of `event` to `endpoint`, created at `now` (unix seconds),
    /// retried by `policy`; its jitter generator is seeded from `random`.
    pub fn new<R: RandomSource + ?Sized>(
        event: Event,
        endpoint: EndpointId,
        policy: RetryPolicy,
        now: u64,
        random: &mut R,
    ) -> Self {
        let first = policy.first_delay();
        Self {
            event,
            endpoint,
            random: SeededRandom::new(random.next_u64()),
            policy,
            created_at: now,
            attempts: Vec::new(),
            state: DeliveryState::Pending,
            next_due: now.saturating_add(first),
            last_delay: first,
        }
    }

    /// Records the outcome of an attempt observed at `now` and decides what
    /// comes next. An early attempt is recorded as any other; a `now`
    /// before the previous attempt counts as no time passing.
    pub fn on_outcome(&mut self, outcome: Outcome, now: u64) -> Result<Decision, DeliveryError> {
        if self.state != DeliveryState::Pending {
            return Err(DeliveryError::Finished(self.state));
        }
        let now = self
            .attempts
            .last()
            .map_or(now, |previous| now.max(previous.at))
            .max(self.created_at);
        let state = RetryState {
            attempts: u32::try_from(self.attempts.len())
                .unwrap_or(u32::MAX)
                .saturating_add(1),
            elapsed: now - self.created_at,
            previous_delay: self.last_delay,
        };
        let decision = self.policy.decide(state, &outcome, &mut self.random);
        match decision {
            Decision::Retry { delay } => {
                self.next_due = now.saturating_add(delay);
                self.last_delay = delay;
            }
            Decision::Delivered => self.state = DeliveryState::Delivered,
            Decision::GiveUp { reason } => self.state = DeliveryState::Failed { reason },
            Decision::DisableEndpoint { status } => {
                self.state = DeliveryState::EndpointGone { status }
            }
        }
        self.attempts.push(Attempt {
            at: now,
            outcome,
            decision,
        });
        Ok(decision)
    }

    /// Stops the delivery as failed (the endpoint was disabled or deleted, or
    /// an operator cancelled it); no effect once it has ended.
    pub fn cancel(&mut self, reason: GiveUpReason) {
        if self.state == DeliveryState::Pending {
            self.state = DeliveryState::Failed { reason };
        }
    }

    /// When the next attempt is due (unix seconds); `None` once the delivery
    /// has ended.
    pub fn next_due(&self) -> Option<u64> {
        (self.state == DeliveryState::Pending).then_some(self.next_due)
    }

    /// Whether an attempt is due at `now`.
    pub fn is_due(&self, now: u64) -> bool {
        self.next_due().is_some_and(|due| due <= now)
    }

    /// Where the delivery stands.
    pub fn state(&self) -> DeliveryState {
        self.state
    }

    /// Whether the delivery has ended, successfully or not.
    pub fn is_finished(&self) -> bool {
        self.state != DeliveryState::Pending
    }

    /// The event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The webhook id every attempt carries.
    pub fn webhook_id(&self) -> &str {
        &self.event.id
    }

    /// The endpoint it goes to.
    pub fn endpoint(&self) -> &EndpointId {
        &self.endpoint
    }

    /// The policy it follows.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// When it was created (unix seconds).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// The attempts so far, oldest first.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }
}

/// Whether an endpoint should still be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthStatus {
    /// Its latest outcome was a success (or there was none yet).
    Healthy,
    /// Failing, but not for long enough to disable it.
    Failing {
        /// When the current run of failures began (unix seconds).
        since: u64,
        /// How many outcomes in a row failed.
        consecutive_failures: u32,
    },
    /// Disabled: stop sending to it until an operator re-enables it.
    Disabled {
        /// Why.
        reason: DisableReason,
        /// When (unix seconds).
        at: u64,
    },
}

/// Why an endpoint was disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DisableReason {
    /// It answered with a status classified as "gone" (410).
    Gone {
        /// That status.
        status: u16,
    },
    /// It failed continuously for longer than the allowed period.
    FailingTooLong {
        /// Since when (unix seconds).
        since: u64,
    },
}

/// The health of one endpoint across all its deliveries.
///
/// Feed it every decision about the endpoint; an endpoint failing
/// continuously for [`disable_after`](Self::disable_after) seconds (default
/// [5 days](DEFAULT_DISABLE_AFTER)), or answering 410 Gone, is disabled. One
/// success resets it. Serialisable, to store beside the endpoint.
///
/// ```
/// use webwire::webhook::{Decision, EndpointHealth, GiveUpReason, HealthStatus};
///
/// let mut health = EndpointHealth::new();
/// let t0 = 1_700_000_000;
/// let failed = Decision::Retry { delay: 60 };
/// health.record(&failed, t0);
/// assert!(matches!(health.status(), HealthStatus::Failing { since, .. } if since == t0));
///
/// // Still failing five days later: disabled.
/// let status = health.record(&failed, t0 + 5 * 24 * 3600);
/// assert!(matches!(status, HealthStatus::Disabled { .. }));
/// assert!(health.is_disabled());
///
/// // An operator re-enables it; one success resets it.
/// health.enable();
/// health.record(&Decision::Delivered, t0 + 6 * 24 * 3600);
/// assert_eq!(health.status(), HealthStatus::Healthy);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EndpointHealth {
    disable_after: u64,
    consecutive_failures: u32,
    failing_since: Option<u64>,
    disabled: Option<(DisableReason, u64)>,
    last_success: Option<u64>,
}

impl Default for EndpointHealth {
    fn default() -> Self {
        Self::new()
    }
}

impl EndpointHealth {
    /// A healthy endpoint, disabled after [`DEFAULT_DISABLE_AFTER`] of
    /// continuous failure.
    pub const fn new() -> Self {
        Self::with_disable_after(DEFAULT_DISABLE_AFTER)
    }

    /// A healthy endpoint, disabled after `seconds` of continuous failure.
    pub const fn with_disable_after(seconds: u64) -> Self {
        Self {
            disable_after: seconds,
            consecutive_failures: 0,
            failing_since: None,
            disabled: None,
            last_success: None,
        }
    }

    /// Records a decision about one of the endpoint's deliveries, taken at
    /// `now` (unix seconds), and returns the resulting status.
    ///
    /// [`Decision::Delivered`] resets it; [`Decision::DisableEndpoint`]
    /// disables it; any other decision is a failure. Decisions arriving
    /// after it was disabled change nothing.
    pub fn record(&mut self, decision: &Decision, now: u64) -> HealthStatus {
        if self.disabled.is_some() {
            return self.status();
        }
        match decision {
            Decision::Delivered => {
                self.consecutive_failures = 0;
                self.failing_since = None;
                self.last_success = Some(now);
            }
            Decision::DisableEndpoint { status } => {
                self.note_failure(now);
                self.disabled = Some((DisableReason::Gone { status: *status }, now));
            }
            Decision::Retry { .. } | Decision::GiveUp { .. } => {
                let since = self.note_failure(now);
                if now.saturating_sub(since) >= self.disable_after {
                    self.disabled = Some((DisableReason::FailingTooLong { since }, now));
                }
            }
        }
        self.status()
    }

    /// Counts a failure; returns when the run of failures began.
    fn note_failure(&mut self, now: u64) -> u64 {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        *self.failing_since.get_or_insert(now)
    }

    /// The current status.
    pub fn status(&self) -> HealthStatus {
        match (self.disabled, self.failing_since) {
            (Some((reason, at)), _) => HealthStatus::Disabled { reason, at },
            (None, Some(since)) => HealthStatus::Failing {
                since,
                consecutive_failures: self.consecutive_failures,
            },
            (None, None) => HealthStatus::Healthy,
        }
    }

    /// Whether the endpoint is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled.is_some()
    }

    /// Re-enables the endpoint and forgets its failures (an operator fixed
    /// it).
    pub fn enable(&mut self) {
        self.disabled = None;
        self.consecutive_failures = 0;
        self.failing_since = None;
    }

    /// How many outcomes in a row failed.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// When the current run of failures began.
    pub fn failing_since(&self) -> Option<u64> {
        self.failing_since
    }

    /// When the latest success was recorded.
    pub fn last_success(&self) -> Option<u64> {
        self.last_success
    }

    /// Seconds of continuous failure before the endpoint is disabled.
    pub fn disable_after(&self) -> u64 {
        self.disable_after
    }
}
