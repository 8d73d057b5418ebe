//! One endpoint's admission control: in-flight limit, rate limit and
//! circuit breaker, asked together before each attempt.

use serde::{Deserialize, Serialize};

use super::circuit::CircuitBreaker;
use super::rate_limit::TokenBucket;
use super::retry::OutcomeClass;

/// Why an [`EndpointGate`] held an attempt back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Blocked {
    /// The in-flight limit is reached: ask again after a
    /// [`release`](EndpointGate::release).
    Busy,
    /// The rate limit: ask again at `until` (milliseconds).
    RateLimited {
        /// When a token will be there.
        until: u64,
    },
    /// The circuit breaker is open: ask again at `until` (milliseconds).
    CircuitOpen {
        /// When a probe may go.
        until: u64,
    },
}

impl Blocked {
    /// When to ask again (milliseconds), or `None` for "after a release".
    pub fn retry_at(&self) -> Option<u64> {
        match *self {
            Blocked::Busy => None,
            Blocked::RateLimited { until } | Blocked::CircuitOpen { until } => Some(until),
        }
    }
}

/// An admitted attempt: hand it back to [`EndpointGate::release`] with its
/// outcome. Not `Clone`, so each admission is released once.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "release the permit with the attempt's outcome"]
pub struct Permit(());

/// Admission control for one endpoint: at most `max_in_flight` attempts at
/// once, an optional [`TokenBucket`] and an optional [`CircuitBreaker`].
///
/// Ask [`try_acquire`](Self::try_acquire) before sending an attempt; a
/// delivery held back is not an attempt, so its retry schedule is not used
/// up. After the attempt, [`release`](Self::release) the permit with the
/// outcome's class. Limits hold per gate, so per worker process; a sender
/// with several workers divides the budget among them.
///
/// ```
/// use webwire::webhook::{Blocked, CircuitBreaker, EndpointGate, OutcomeClass, TokenBucket};
///
/// let mut gate = EndpointGate::new(1)
///     .with_rate_limit(TokenBucket::new(10, 10))
///     .with_circuit_breaker(CircuitBreaker::new(5, 1_000, 60_000));
/// let now = 1_000;
/// let permit = gate.try_acquire(now)?;
/// assert_eq!(gate.try_acquire(now), Err(Blocked::Busy));
/// gate.release(permit, OutcomeClass::Success, now + 20);
/// let permit = gate.try_acquire(now + 20)?;
/// # gate.release(permit, OutcomeClass::Success, now + 20);
/// # Ok::<(), Blocked>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointGate {
    max_in_flight: u32,
    #[serde(skip)]
    in_flight: u32,
    rate_limit: Option<TokenBucket>,
    breaker: Option<CircuitBreaker>,
}

impl EndpointGate {
    /// At most `max_in_flight` attempts at once (0 counts as 1), no rate
    /// limit, no breaker.
    pub fn new(max_in_flight: u32) -> Self {
        Self {
            max_in_flight: max_in_flight.max(1),
            in_flight: 0,
            rate_limit: None,
            breaker: None,
        }
    }

    /// Adds a rate limit.
    pub fn with_rate_limit(mut self, bucket: TokenBucket) -> Self {
        self.rate_limit = Some(bucket);
        self
    }

    /// Adds a circuit breaker.
    pub fn with_circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Admits an attempt at `now_ms`, or says why not and until when.
    ///
    /// The checks run cheapest first and take nothing unless all pass,
    /// except that a breaker's half-open probe slot is taken before the
    /// rate limit is asked (a probe that then waits for a token is still
    /// the only request out).
    pub fn try_acquire(&mut self, now_ms: u64) -> Result<Permit, Blocked> {
        if self.in_flight >= self.max_in_flight {
            return Err(Blocked::Busy);
        }
        if let Some(breaker) = &mut self.breaker {
            breaker
                .allow(now_ms)
                .map_err(|until| Blocked::CircuitOpen { until })?;
        }
        if let Some(bucket) = &mut self.rate_limit {
            bucket
                .try_take(now_ms)
                .map_err(|until| Blocked::RateLimited { until })?;
        }
        self.in_flight += 1;
        Ok(Permit(()))
    }

    /// Returns a permit with the class of its attempt's outcome (see
    /// [`RetryPolicy::classify`](super::RetryPolicy::classify)), observed at
    /// `now_ms`.
    pub fn release(&mut self, permit: Permit, class: OutcomeClass, now_ms: u64) {
        let Permit(()) = permit;
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(breaker) = &mut self.breaker {
            breaker.record(class, now_ms);
        }
    }

    /// Attempts admitted and not yet released.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The breaker, if any.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::BreakerState;

    #[test]
    fn in_flight_limit_counts_permits() {
        let mut gate = EndpointGate::new(2);
        let a = gate.try_acquire(0).unwrap();
        let b = gate.try_acquire(0).unwrap();
        assert_eq!(gate.try_acquire(0), Err(Blocked::Busy));
        assert_eq!(gate.in_flight(), 2);
        gate.release(a, OutcomeClass::Retry, 1);
        let c = gate.try_acquire(1).unwrap();
        gate.release(b, OutcomeClass::Success, 2);
        gate.release(c, OutcomeClass::Success, 2);
        assert_eq!(gate.in_flight(), 0);
    }

    #[test]
    fn rate_limit_and_breaker_report_when() {
        let mut gate = EndpointGate::new(10)
            .with_rate_limit(TokenBucket::new(1, 1))
            .with_circuit_breaker(CircuitBreaker::new(1, 5_000, 5_000));
        let permit = gate.try_acquire(0).unwrap();
        assert_eq!(
            gate.try_acquire(0),
            Err(Blocked::RateLimited { until: 1_000 })
        );
        assert_eq!(
            Blocked::RateLimited { until: 1_000 }.retry_at(),
            Some(1_000)
        );
        gate.release(permit, OutcomeClass::Retry, 100);
        assert_eq!(
            gate.try_acquire(2_000),
            Err(Blocked::CircuitOpen { until: 5_100 })
        );
        // The probe: the breaker's slot, then a token.
        let probe = gate.try_acquire(5_100).unwrap();
        assert_eq!(
            gate.circuit_breaker().map(CircuitBreaker::state),
            Some(BreakerState::HalfOpen)
        );
        gate.release(probe, OutcomeClass::Success, 5_200);
        assert!(gate.try_acquire(6_200).is_ok());
        assert_eq!(Blocked::Busy.retry_at(), None);
    }
}
