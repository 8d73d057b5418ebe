//! Backoff with jitter: how long to wait after the n-th failure in a row.
//!
//! Shared by the two halves: webhook retries
//! ([`RetryPolicy`](crate::webhook::RetryPolicy), in seconds) and WebSocket
//! client reconnection
//! ([`ReconnectPolicy`](crate::ws::ReconnectPolicy), in milliseconds). The
//! arithmetic does not care about the unit: delays come out in the unit
//! they went in.
//!
//! ```
//! use webwire::backoff::{Backoff, Jitter, Schedule};
//! use webwire::random::SeededRandom;
//!
//! let backoff = Backoff::new(Schedule::Exponential { initial: 100, factor: 2.0, max: 30_000 }, Jitter::Full);
//! assert_eq!(backoff.bounds(1, 0), Some((0, 100)));
//! assert_eq!(backoff.bounds(4, 0), Some((0, 800)));
//! assert_eq!(backoff.bounds(40, 0), Some((0, 30_000)));
//! let delay = backoff.delay(3, 0, &mut SeededRandom::new(1)).unwrap();
//! assert!(delay <= 400);
//! ```

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::random::RandomSource;

/// The base delays, before jitter, in the caller's unit.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Schedule {
    /// `initial × factor^(n−1)` after the n-th failure in a row, never more
    /// than `max`. The first try is immediate.
    Exponential {
        /// Delay after the first failure.
        initial: u64,
        /// Growth per failure (values below 1, or NaN, count as 1).
        factor: f64,
        /// Largest delay.
        max: u64,
    },
    /// Entry `i` is the delay before try `i + 1` (entry 0 before the first
    /// try); tries end with the list.
    Fixed(Vec<u64>),
}

/// Randomisation of each delay, so that peers coming back up are not hit
/// by every client or sender at once.
///
/// With `d` the scheduled delay:
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `d`.
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d − d/2, d]`.
    Equal,
    /// Uniform in `[b, min(cap, 3 × max(previous, b))]`, where `b` is the
    /// exponential schedule's initial delay (a fixed schedule's entry), the
    /// previous delay is the one actually used, and the cap is the
    /// schedule's largest delay.
    Decorrelated,
    /// Uniform in `[d − p %, d + p %]` (Svix uses 20); `p` above 100 counts
    /// as 100.
    Proportional {
        /// The spread, in percent of `d`.
        percent: u8,
    },
}

/// A schedule and its jitter.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Backoff {
    /// The base delays.
    pub schedule: Schedule,
    /// How they are randomised.
    pub jitter: Jitter,
}

impl Backoff {
    /// `schedule` randomised by `jitter`.
    pub fn new(schedule: Schedule, jitter: Jitter) -> Self {
        Self { schedule, jitter }
    }

    /// The delay before the first try (0 except for fixed schedules that
    /// start later).
    pub fn first_delay(&self) -> u64 {
        first_delay(&self.schedule)
    }

    /// The range the delay after `failures` failures in a row (at least 1)
    /// falls in, given the delay used before the latest try; `None` when a
    /// fixed schedule has no entry left.
    pub fn bounds(&self, failures: u32, previous_delay: u64) -> Option<(u64, u64)> {
        bounds(&self.schedule, self.jitter, failures, previous_delay)
    }

    /// A delay within [`bounds`](Self::bounds), drawn from `random` when the
    /// jitter needs it.
    pub fn delay<R: RandomSource + ?Sized>(
        &self,
        failures: u32,
        previous_delay: u64,
        random: &mut R,
    ) -> Option<u64> {
        let (low, high) = self.bounds(failures, previous_delay)?;
        Some(match self.jitter {
            Jitter::None => low,
            _ => uniform(random, low, high),
        })
    }
}

pub(crate) fn first_delay(schedule: &Schedule) -> u64 {
    match schedule {
        Schedule::Fixed(delays) => delays.first().copied().unwrap_or(0),
        Schedule::Exponential { .. } => 0,
    }
}

pub(crate) fn bounds(
    schedule: &Schedule,
    jitter: Jitter,
    failures: u32,
    previous_delay: u64,
) -> Option<(u64, u64)> {
    let failures = failures.max(1);
    let (scheduled, base, cap) = match schedule {
        Schedule::Exponential {
            initial,
            factor,
            max,
        } => {
            let factor = if *factor >= 1.0 { *factor } else { 1.0 };
            let exponent = i32::try_from(failures - 1).unwrap_or(i32::MAX);
            let grown = *initial as f64 * factor.powi(exponent);
            // Casts saturate; infinity and overflow end at the cap.
            let scheduled = if grown.is_finite() {
                (grown as u64).min(*max)
            } else {
                *max
            };
            (scheduled, (*initial).min(*max), *max)
        }
        Schedule::Fixed(delays) => {
            let index = usize::try_from(failures).ok()?;
            let scheduled = *delays.get(index)?;
            let cap = delays.iter().copied().max().unwrap_or(0);
            (scheduled, scheduled, cap)
        }
    };
    Some(match jitter {
        Jitter::None => (scheduled, scheduled),
        Jitter::Full => (0, scheduled),
        Jitter::Equal => (scheduled - scheduled / 2, scheduled),
        Jitter::Decorrelated => {
            let high = previous_delay.max(base).saturating_mul(3).min(cap);
            (base, high.max(base))
        }
        Jitter::Proportional { percent } => {
            let spread = u64::try_from(u128::from(scheduled) * u128::from(percent.min(100)) / 100)
                .unwrap_or(u64::MAX);
            (
                scheduled.saturating_sub(spread),
                scheduled.saturating_add(spread),
            )
        }
    })
}

/// A uniformly random integer in `[low, high]` (`low` if the range is empty).
pub(crate) fn uniform<R: RandomSource + ?Sized>(random: &mut R, low: u64, high: u64) -> u64 {
    if high <= low {
        return low;
    }
    let draw = random.next_u64();
    match (high - low).checked_add(1) {
        // Modulo bias is below 2^-40 for any delay a schedule would use.
        Some(span) => low + draw % span,
        None => draw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn exponential_saturates() {
        let backoff = Backoff::new(
            Schedule::Exponential {
                initial: u64::MAX,
                factor: f64::INFINITY,
                max: 7,
            },
            Jitter::None,
        );
        assert_eq!(backoff.bounds(u32::MAX - 1, 0), Some((7, 7)));
        let nan = Backoff::new(
            Schedule::Exponential {
                initial: 3,
                factor: f64::NAN,
                max: 100,
            },
            Jitter::None,
        );
        assert_eq!(nan.bounds(50, 0), Some((3, 3)));
    }

    #[test]
    fn fixed_schedules_end() {
        let backoff = Backoff::new(Schedule::Fixed(vec![5, 10]), Jitter::None);
        assert_eq!(backoff.first_delay(), 5);
        assert_eq!(backoff.delay(1, 0, &mut SeededRandom::new(0)), Some(10));
        assert_eq!(backoff.delay(2, 0, &mut SeededRandom::new(0)), None);
    }

    #[test]
    fn uniform_covers_the_full_range() {
        let mut r = SeededRandom::new(3);
        assert_eq!(uniform(&mut r, 5, 5), 5);
        assert_eq!(uniform(&mut r, 9, 5), 9);
        let _ = uniform(&mut r, 0, u64::MAX);
    }
}
