//! A circuit breaker: stop calling an endpoint that keeps failing, probe it
//! now and then, resume when it answers.

use serde::{Deserialize, Serialize};

use super::retry::OutcomeClass;

/// Where a [`CircuitBreaker`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BreakerState {
    /// Requests flow; `failures` in a row so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// No requests until `until` (milliseconds).
    Open {
        /// When one probe may go.
        until: u64,
    },
    /// One probe is out; its outcome closes or reopens the breaker.
    HalfOpen,
}

/// A circuit breaker for one endpoint, driven by the caller's millisecond
/// clock.
///
/// After `threshold` failed attempts in a row (timeouts, refused
/// connections, 5xx: outcomes classified [`OutcomeClass::Retry`]) it opens
/// for `cool_down` milliseconds, during which [`allow`](Self::allow) refuses;
/// then one probe may go. A probe that succeeds closes it; one that fails
/// opens it again for twice as long (up to `max_cool_down`). Other outcomes
/// (2xx, and 4xx the receiver meant) show the endpoint is up and close it.
///
/// Where [`EndpointHealth`](super::EndpointHealth) disables an endpoint
/// after days, the breaker spares a struggling receiver (and the sender's
/// workers) the full retry load in the meantime. Deliveries it holds back are
/// not attempts: their schedule is not used up.
///
/// ```
/// use webwire::webhook::{BreakerState, CircuitBreaker, OutcomeClass};
///
/// let mut breaker = CircuitBreaker::new(2, 1_000, 60_000);
/// let t0 = 5_000;
/// breaker.allow(t0)?;
/// breaker.record(OutcomeClass::Retry, t0);
/// breaker.allow(t0)?;
/// breaker.record(OutcomeClass::Retry, t0);
/// // Two failures in a row: open for a second.
/// assert_eq!(breaker.allow(t0 + 10), Err(t0 + 1_000));
/// // Then one probe; while it is out, nothing else goes.
/// breaker.allow(t0 + 1_000)?;
/// assert_eq!(breaker.state(), BreakerState::HalfOpen);
/// assert!(breaker.allow(t0 + 1_001).is_err());
/// breaker.record(OutcomeClass::Success, t0 + 1_050);
/// assert_eq!(breaker.state(), BreakerState::Closed { failures: 0 });
/// # Ok::<(), u64>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: u64,
    max_cool_down: u64,
    /// The cool-down of the current or next opening.
    current_cool_down: u64,
    state: BreakerState,
    /// When the half-open probe went out (a probe whose outcome never
    /// comes, say from a crashed worker, expires after a cool-down).
    probe_since: u64,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures (0 counts as 1), for
    /// `cool_down_ms`, doubling on each failed probe up to `max_cool_down_ms`.
    pub fn new(threshold: u32, cool_down_ms: u64, max_cool_down_ms: u64) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down: cool_down_ms,
            max_cool_down: max_cool_down_ms.max(cool_down_ms),
            current_cool_down: cool_down_ms,
            state: BreakerState::Closed { failures: 0 },
            probe_since: 0,
        }
    }

    /// Whether a request may go at `now_ms`; if not, when to ask again
    /// (milliseconds). A request it allows must be followed by
    /// [`record`](Self::record) of its outcome.
    pub fn allow(&mut self, now_ms: u64) -> Result<(), u64> {
        match self.state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } if now_ms >= until => {
                self.state = BreakerState::HalfOpen;
                self.probe_since = now_ms;
                Ok(())
            }
            BreakerState::Open { until } => Err(until),
            BreakerState::HalfOpen => {
                let expires = self.probe_since.saturating_add(self.current_cool_down);
                if now_ms >= expires {
                    // The probe's outcome was lost: send another.
                    self.probe_since = now_ms;
                    Ok(())
                } else {
                    Err(expires)
                }
            }
        }
    }

    /// Records the class of an allowed request's outcome, observed at
    /// `now_ms`.
    pub fn record(&mut self, class: OutcomeClass, now_ms: u64) {
        let failed = class == OutcomeClass::Retry;
        match (self.state, failed) {
            (_, false) => {
                self.state = BreakerState::Closed { failures: 0 };
                self.current_cool_down = self.cool_down;
            }
            (BreakerState::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                self.state = if failures >= self.threshold {
                    BreakerState::Open {
                        until: now_ms.saturating_add(self.current_cool_down),
                    }
                } else {
                    BreakerState::Closed { failures }
                };
            }
            (BreakerState::HalfOpen, true) => {
                self.current_cool_down = self
                    .current_cool_down
                    .saturating_mul(2)
                    .clamp(1, self.max_cool_down.max(1));
                self.state = BreakerState::Open {
                    until: now_ms.saturating_add(self.current_cool_down),
                };
            }
            // A late outcome of a request allowed before it opened.
            (BreakerState::Open { .. }, true) => {}
        }
    }

    /// Where it stands.
    pub fn state(&self) -> BreakerState {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_probes_double_the_cool_down_up_to_the_cap() {
        let mut breaker = CircuitBreaker::new(1, 100, 350);
        breaker.record(OutcomeClass::Retry, 0);
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..4 {
            let until = breaker.allow(now).unwrap_err();
            waits.push(until - now);
            now = until;
            breaker.allow(now).unwrap();
            breaker.record(OutcomeClass::Retry, now);
        }
        assert_eq!(waits, [100, 200, 350, 350]);
        // A success resets the cool-down too.
        breaker.allow(now + 350).unwrap();
        breaker.record(OutcomeClass::GiveUp, now + 350);
        breaker.record(OutcomeClass::Retry, now + 400);
        assert_eq!(breaker.allow(now + 400), Err(now + 500));
    }

    #[test]
    fn failures_below_the_threshold_and_late_outcomes() {
        let mut breaker = CircuitBreaker::new(3, 1_000, 1_000);
        breaker.record(OutcomeClass::Retry, 0);
        breaker.record(OutcomeClass::Retry, 0);
        breaker.record(OutcomeClass::Success, 0);
        breaker.record(OutcomeClass::Retry, 0);
        breaker.record(OutcomeClass::Retry, 0);
        assert_eq!(breaker.allow(0), Ok(()));
        breaker.record(OutcomeClass::Retry, 10);
        assert_eq!(breaker.allow(10), Err(1_010));
        // Outcomes of requests already out when it opened change nothing.
        breaker.record(OutcomeClass::Retry, 20);
        assert_eq!(breaker.allow(20), Err(1_010));
    }

    #[test]
    fn a_lost_probe_expires() {
        let mut breaker = CircuitBreaker::new(1, 50, 50);
        breaker.record(OutcomeClass::Retry, 0);
        assert_eq!(breaker.allow(50), Ok(()));
        assert_eq!(breaker.allow(60), Err(100));
        assert_eq!(breaker.allow(100), Ok(()));
        let mut zero = CircuitBreaker::new(0, 0, 0);
        zero.record(OutcomeClass::Retry, u64::MAX);
        assert_eq!(zero.allow(u64::MAX), Ok(()));
        zero.record(OutcomeClass::Retry, u64::MAX);
        assert!(matches!(zero.state(), BreakerState::Open { .. }));
    }
}
