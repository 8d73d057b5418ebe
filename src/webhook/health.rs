//! Endpoint health: when to stop calling an endpoint that keeps failing.

use serde::{Deserialize, Serialize};

use super::retry::Decision;

/// Five days: an endpoint failing this long is disabled by default.
pub const DEFAULT_DISABLE_AFTER: u64 = 5 * 24 * 3600;

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
