//! Retry policy: when to try a webhook again, and when to stop.
//!
//! [`RetryPolicy::decide`] is a pure function of the attempts so far, the
//! latest [`Outcome`] and a [`RandomSource`] for jitter: no clock, no sleep.
//! [`Delivery`](super::Delivery) runs it for you and remembers the state.

use std::time::UNIX_EPOCH;

use http::header::RETRY_AFTER;
use http::{HeaderMap, Response};
use serde::{Deserialize, Serialize};

use crate::backoff::{self, Jitter, Schedule};
use crate::random::RandomSource;

/// The Standard Webhooks schedule: immediately, 5 s, 5 min, 30 min, 2 h,
/// 5 h, 10 h, 14 h, 20 h, 24 h.
const STANDARD_WEBHOOKS_SCHEDULE: [u64; 10] = [
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
];

/// Svix's schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
const SVIX_SCHEDULE: [u64; 8] = [
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    10 * 3600,
];

/// What happened to one delivery attempt.
///
/// Build it from the receiver's answer with [`Outcome::from_response`] (which
/// reads `Retry-After`), or name a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The receiver answered.
    Response {
        /// The HTTP status code.
        status: u16,
        /// The receiver's `Retry-After`, as seconds after the response
        /// arrived (see [`parse_retry_after`]); not yet capped.
        retry_after: Option<u64>,
    },
    /// No answer within the caller's timeout.
    Timeout,
    /// No answer at all: DNS failure, connection refused or reset, TLS
    /// error, or an address refused by the SSRF guard.
    ConnectionFailed,
}

impl Outcome {
    /// A response with `status` and no `Retry-After`.
    pub const fn status(status: u16) -> Self {
        Outcome::Response {
            status,
            retry_after: None,
        }
    }

    /// The outcome for a response received at `now` (unix seconds): its
    /// status and its `Retry-After`, if there is exactly one valid one.
    pub fn from_response<B>(response: &Response<B>, now: u64) -> Self {
        Self::from_parts(response.status().as_u16(), response.headers(), now)
    }

    /// [`from_response`](Self::from_response) for a status and headers read
    /// some other way.
    pub fn from_parts(status: u16, headers: &HeaderMap, now: u64) -> Self {
        let mut values = headers.get_all(RETRY_AFTER).iter();
        let retry_after = match (values.next(), values.next()) {
            (Some(value), None) => parse_retry_after(value.as_bytes(), now),
            // Absent, or repeated (ambiguous, so ignored).
            _ => None,
        };
        Outcome::Response {
            status,
            retry_after,
        }
    }

    /// The HTTP status, if the receiver answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Outcome::Response { status, .. } => Some(*status),
            Outcome::Timeout | Outcome::ConnectionFailed => None,
        }
    }
}

/// Parses a `Retry-After` value (RFC 9110 §10.2.3) received at `now` (unix
/// seconds) into a delay in seconds.
///
/// Accepts delay-seconds (`120`; very large values saturate) and an
/// HTTP-date in any of its three forms: IMF-fixdate (`Sun, 06 Nov 1994
/// 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37
/// GMT`) and asctime (`Sun Nov  6 08:49:37 1994`); a date in the past means
/// 0. Anything else (signs, fractions, an empty value, a wrong weekday) is
/// `None`: an invalid `Retry-After` is ignored, not obeyed.
///
/// ```
/// use webwire::webhook::parse_retry_after;
///
/// assert_eq!(parse_retry_after(b"120", 0), Some(120));
/// // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
/// assert_eq!(parse_retry_after(b"Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777 - 30), Some(30));
/// assert_eq!(parse_retry_after(b"Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777 - 30), Some(30));
/// assert_eq!(parse_retry_after(b"Sun Nov  6 08:49:37 1994", 784_111_777 + 5), Some(0));
/// assert_eq!(parse_retry_after(b"-1", 0), None);
/// ```
pub fn parse_retry_after(value: &[u8], now: u64) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    // Field values arrive with optional whitespace around them.
    let text = text.trim_matches(|c| c == ' ' || c == '\t');
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(text.bytes().fold(0u64, |acc, b| {
            acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
        }));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    let at = when.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(at.saturating_sub(now))
}

/// How the policy treats a kind of outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeClass {
    /// Delivered: stop.
    Success,
    /// A temporary failure: try again later.
    Retry,
    /// A permanent failure of this delivery: stop.
    GiveUp,
    /// The endpoint is gone: stop, and stop calling it.
    DisableEndpoint,
}

/// Which outcomes succeed, retry, give up or disable the endpoint.
///
/// Status lists are checked first, then the class of the status; timeouts
/// and connection failures always retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Classification {
    /// Statuses that retry (default 408, 409, 425, 429, 500, 502, 503, 504).
    /// 409 is there because receivers answer it to a duplicate that arrives
    /// while the first copy is still being processed: giving up on it would
    /// lose the event if that processing then fails.
    pub retry_statuses: Vec<u16>,
    /// Statuses that disable the endpoint (default 410 Gone).
    pub disable_statuses: Vec<u16>,
    /// Other 3xx: redirects are never followed, since the target was not
    /// checked by the SSRF guard (default [`OutcomeClass::GiveUp`]).
    pub redirects: OutcomeClass,
    /// Other 4xx (default [`OutcomeClass::GiveUp`]).
    pub other_client_errors: OutcomeClass,
    /// Other 5xx (default [`OutcomeClass::Retry`]: 507, 520–524 and the like
    /// are usually temporary).
    pub other_server_errors: OutcomeClass,
    /// Statuses outside 200–599, which no final response should carry
    /// (default [`OutcomeClass::Retry`], like a broken connection).
    pub invalid_statuses: OutcomeClass,
}

impl Default for Classification {
    fn default() -> Self {
        Self {
            retry_statuses: vec![408, 409, 425, 429, 500, 502, 503, 504],
            disable_statuses: vec![410],
            redirects: OutcomeClass::GiveUp,
            other_client_errors: OutcomeClass::GiveUp,
            other_server_errors: OutcomeClass::Retry,
            invalid_statuses: OutcomeClass::Retry,
        }
    }
}

impl Classification {
    /// How `outcome` is treated.
    pub fn classify(&self, outcome: &Outcome) -> OutcomeClass {
        let status = match outcome {
            Outcome::Response { status, .. } => *status,
            Outcome::Timeout | Outcome::ConnectionFailed => return OutcomeClass::Retry,
        };
        if self.disable_statuses.contains(&status) {
            return OutcomeClass::DisableEndpoint;
        }
        if self.retry_statuses.contains(&status) {
            return OutcomeClass::Retry;
        }
        match status {
            200..=299 => OutcomeClass::Success,
            300..=399 => self.redirects,
            400..=499 => self.other_client_errors,
            500..=599 => self.other_server_errors,
            _ => self.invalid_statuses,
        }
    }
}

/// What the policy knows about a delivery when it decides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetryState {
    /// Attempts made so far, including the one whose outcome is being
    /// decided (so at least 1).
    pub attempts: u32,
    /// Seconds from the delivery's creation to now.
    pub elapsed: u64,
    /// The delay chosen before the latest attempt (for
    /// [`Jitter::Decorrelated`]).
    pub previous_delay: u64,
}

/// Why a delivery stopped without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GiveUpReason {
    /// The policy's attempts are used up.
    AttemptsExhausted,
    /// The next attempt would come after the policy's maximum age.
    MaxAgeExceeded,
    /// The receiver answered with a status that is not worth retrying.
    Rejected {
        /// That status.
        status: u16,
    },
    /// The sender stopped it: the endpoint was disabled or deleted, or an
    /// operator cancelled it ([`Delivery::cancel`](super::Delivery::cancel)).
    Cancelled,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision {
    /// Delivered; nothing more to do.
    Delivered,
    /// Try again `delay` seconds after the outcome was observed.
    Retry {
        /// Seconds to wait.
        delay: u64,
    },
    /// Stop trying this delivery.
    GiveUp {
        /// Why.
        reason: GiveUpReason,
    },
    /// Stop, and stop sending anything to this endpoint (410 Gone).
    DisableEndpoint {
        /// The status that said so.
        status: u16,
    },
}

/// When and how often to retry a webhook delivery.
///
/// A pure function ([`decide`](Self::decide)) of the attempts so far, the
/// latest outcome and a random source for jitter, configured by public
/// fields. The default is the [Standard Webhooks
/// schedule](Self::standard_webhooks).
///
/// The delay of a retry is the scheduled delay with jitter (within
/// [`delay_bounds`](Self::delay_bounds)), raised to the receiver's
/// `Retry-After` (at most [`retry_after_cap`](Self::retry_after_cap)) and to
/// the floors for 429 and timeouts. A retry that would fall after
/// [`max_age`](Self::max_age) gives up instead.
///
/// ```
/// use webwire::random::SeededRandom;
/// use webwire::webhook::{Decision, GiveUpReason, Jitter, Outcome, RetryPolicy, RetryState};
///
/// let mut policy = RetryPolicy::exponential(10, 2.0, 3600);
/// policy.jitter = Jitter::None;
/// policy.max_attempts = 3;
/// let mut random = SeededRandom::new(1);
///
/// let after = |attempts| RetryState { attempts, ..RetryState::default() };
/// let unavailable = Outcome::status(503);
/// assert_eq!(policy.decide(after(1), &unavailable, &mut random), Decision::Retry { delay: 10 });
/// assert_eq!(policy.decide(after(2), &unavailable, &mut random), Decision::Retry { delay: 20 });
/// assert_eq!(
///     policy.decide(after(3), &unavailable, &mut random),
///     Decision::GiveUp { reason: GiveUpReason::AttemptsExhausted }
/// );
///
/// // The receiver asks for a minute: it gets one.
/// let busy = Outcome::Response { status: 429, retry_after: Some(60) };
/// assert_eq!(policy.decide(after(1), &busy, &mut random), Decision::Retry { delay: 60 });
/// assert_eq!(policy.decide(after(1), &Outcome::status(200), &mut random), Decision::Delivered);
/// assert_eq!(policy.decide(after(1), &Outcome::status(410), &mut random), Decision::DisableEndpoint { status: 410 });
///
/// // Policies are data: store them next to the endpoint.
/// let json = serde_json::to_string(&RetryPolicy::svix())?;
/// assert_eq!(serde_json::from_str::<RetryPolicy>(&json)?, RetryPolicy::svix());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// The base delays.
    pub schedule: Schedule,
    /// How delays are randomised.
    pub jitter: Jitter,
    /// Most attempts, the first included (0 counts as 1).
    pub max_attempts: u32,
    /// No attempt later than this many seconds after the delivery was
    /// created; `None` for no limit.
    pub max_age: Option<u64>,
    /// Whether the receiver's `Retry-After` can lengthen a delay.
    pub honor_retry_after: bool,
    /// The longest `Retry-After` obeyed, in seconds (default 1 hour): a
    /// receiver cannot park a delivery for ever.
    pub retry_after_cap: u64,
    /// The shortest delay after a 429 Too Many Requests, in seconds
    /// (default 30).
    pub min_delay_after_429: u64,
    /// The shortest delay after a timeout, in seconds (default 10): a
    /// receiver that is slow now is rarely fast 5 seconds later.
    pub min_delay_after_timeout: u64,
    /// Which outcomes retry.
    pub classification: Classification,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::standard_webhooks()
    }
}

impl RetryPolicy {
    /// One attempt per entry of `delays` (see [`Schedule::Fixed`]), without
    /// jitter or age limit.
    pub fn fixed(delays: impl Into<Vec<u64>>) -> Self {
        let delays = delays.into();
        Self::with_schedule(
            u32::try_from(delays.len()).unwrap_or(u32::MAX),
            Schedule::Fixed(delays),
            Jitter::None,
        )
    }

    /// Exponential backoff with full jitter and 10 attempts, without age
    /// limit.
    pub fn exponential(initial: u64, factor: f64, max: u64) -> Self {
        Self::with_schedule(
            10,
            Schedule::Exponential {
                initial,
                factor,
                max,
            },
            Jitter::Full,
        )
    }

    /// The Standard Webhooks schedule: immediately, 5 s, 5 min, 30 min, 2 h,
    /// 5 h, 10 h, 14 h, 20 h, 24 h; no jitter.
    pub fn standard_webhooks() -> Self {
        Self::fixed(STANDARD_WEBHOOKS_SCHEDULE)
    }

    /// Svix's schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    /// 10 h, each with ±20 % jitter.
    pub fn svix() -> Self {
        let mut policy = Self::fixed(SVIX_SCHEDULE);
        policy.jitter = Jitter::Proportional { percent: 20 };
        policy
    }

    fn with_schedule(max_attempts: u32, schedule: Schedule, jitter: Jitter) -> Self {
        Self {
            schedule,
            jitter,
            max_attempts,
            max_age: None,
            honor_retry_after: true,
            retry_after_cap: 3600,
            min_delay_after_429: 30,
            min_delay_after_timeout: 10,
            classification: Classification::default(),
        }
    }

    /// How `outcome` is treated (see [`Classification`]).
    pub fn classify(&self, outcome: &Outcome) -> OutcomeClass {
        self.classification.classify(outcome)
    }

    /// The delay before the first attempt, counted from the delivery's
    /// creation (0 except for fixed schedules that start later).
    pub fn first_delay(&self) -> u64 {
        backoff::first_delay(&self.schedule)
    }

    /// The most attempts this policy makes.
    pub fn attempt_limit(&self) -> u32 {
        let limit = self.max_attempts.max(1);
        match &self.schedule {
            Schedule::Fixed(delays) => {
                limit.min(u32::try_from(delays.len()).unwrap_or(u32::MAX).max(1))
            }
            Schedule::Exponential { .. } => limit,
        }
    }

    /// What to do after the attempt described by `state` ended with
    /// `outcome`. Draws from `random` only when jitter needs it.
    pub fn decide<R: RandomSource + ?Sized>(
        &self,
        state: RetryState,
        outcome: &Outcome,
        random: &mut R,
    ) -> Decision {
        match self.classify(outcome) {
            OutcomeClass::Success => return Decision::Delivered,
            OutcomeClass::DisableEndpoint => {
                return Decision::DisableEndpoint {
                    status: outcome.http_status().unwrap_or(0),
                };
            }
            OutcomeClass::GiveUp => {
                return Decision::GiveUp {
                    reason: GiveUpReason::Rejected {
                        status: outcome.http_status().unwrap_or(0),
                    },
                };
            }
            OutcomeClass::Retry => {}
        }
        let Some((low, high)) = self.delay_bounds(state) else {
            return Decision::GiveUp {
                reason: GiveUpReason::AttemptsExhausted,
            };
        };
        let mut delay = match self.jitter {
            Jitter::None => low,
            _ => backoff::uniform(random, low, high),
        };
        if self.honor_retry_after {
            if let Outcome::Response {
                retry_after: Some(asked),
                ..
            } = outcome
            {
                delay = delay.max((*asked).min(self.retry_after_cap));
            }
        }
        match outcome {
            Outcome::Response { status: 429, .. } => delay = delay.max(self.min_delay_after_429),
            Outcome::Timeout => delay = delay.max(self.min_delay_after_timeout),
            _ => {}
        }
        if let Some(max_age) = self.max_age {
            if state.elapsed.saturating_add(delay) > max_age {
                return Decision::GiveUp {
                    reason: GiveUpReason::MaxAgeExceeded,
                };
            }
        }
        Decision::Retry { delay }
    }

    /// The range the jittered delay after the attempt described by `state`
    /// falls in, before `Retry-After` and the floors raise it; `None` when
    /// no attempt is left.
    pub fn delay_bounds(&self, state: RetryState) -> Option<(u64, u64)> {
        let attempts = state.attempts.max(1);
        if attempts >= self.attempt_limit() {
            return None;
        }
        backoff::bounds(&self.schedule, self.jitter, attempts, state.previous_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    fn after(attempts: u32) -> RetryState {
        RetryState {
            attempts,
            ..RetryState::default()
        }
    }

    #[test]
    fn standard_schedule_without_jitter() {
        let policy = RetryPolicy::standard_webhooks();
        let mut random = SeededRandom::new(0);
        let delays: Vec<Decision> = (1..=10)
            .map(|n| policy.decide(after(n), &Outcome::Timeout, &mut random))
            .collect();
        assert_eq!(delays[0], Decision::Retry { delay: 10 }); // timeout floor
        assert_eq!(delays[1], Decision::Retry { delay: 300 });
        assert_eq!(delays[8], Decision::Retry { delay: 86_400 });
        assert_eq!(
            delays[9],
            Decision::GiveUp {
                reason: GiveUpReason::AttemptsExhausted
            }
        );
    }
}
