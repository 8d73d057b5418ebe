//! The delivery state machine: one message to one endpoint, attempt after
//! attempt, persistable between them.

use serde::{Deserialize, Serialize};

use super::message::{EndpointId, Message};
use super::retry::{Decision, GiveUpReason, Outcome, RetryPolicy, RetryState};
use crate::random::{RandomSource, SeededRandom};

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

/// A webhook delivery to one endpoint: the message, the attempts so far and
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
/// use webwire::webhook::{Delivery, DeliveryState, Message, Outcome, RetryPolicy};
///
/// let event = Message::new("msg_1", "invoice.paid", r#"{"amount":42}"#);
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
    message: Message,
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
    /// A delivery of `message` to `endpoint`, created at `now` (unix seconds),
    /// retried by `policy`; its jitter generator is seeded from `random`.
    pub fn new<R: RandomSource + ?Sized>(
        message: Message,
        endpoint: EndpointId,
        policy: RetryPolicy,
        now: u64,
        random: &mut R,
    ) -> Self {
        let first = policy.first_delay();
        Self {
            message,
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

    /// The message delivered.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The webhook id every attempt carries.
    pub fn webhook_id(&self) -> &str {
        &self.message.id
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
