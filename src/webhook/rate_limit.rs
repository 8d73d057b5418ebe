//! A token bucket: at most `rate` requests per second to one endpoint, with
//! bursts up to `burst`.

use serde::{Deserialize, Serialize};

/// Thousandths of a token: integer refill at any rate with millisecond
/// clocks, no floating point in persisted state.
const MILLI: u64 = 1000;

/// A token bucket rate limiter, driven by the caller's clock in
/// milliseconds (any epoch, as long as it does not go backwards; a clock
/// that does is treated as standing still).
///
/// Each request takes one token; tokens come back at `rate` per second, and
/// the bucket holds at most `burst`. [`try_take`](Self::try_take) never
/// waits: it takes a token or says when one will be there. Serialisable, so
/// a worker can keep it beside the endpoint.
///
/// ```
/// use webwire::webhook::TokenBucket;
///
/// let mut bucket = TokenBucket::new(2, 2); // 2 per second, bursts of 2
/// let t0 = 1_000_000;
/// assert_eq!(bucket.try_take(t0), Ok(()));
/// assert_eq!(bucket.try_take(t0), Ok(()));
/// // Empty: the next token is there half a second later.
/// assert_eq!(bucket.try_take(t0), Err(t0 + 500));
/// assert_eq!(bucket.try_take(t0 + 500), Ok(()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenBucket {
    rate: u32,
    burst: u32,
    /// Tokens held, in thousandths.
    level: u64,
    /// When `level` was last brought up to date (milliseconds).
    updated: u64,
}

impl TokenBucket {
    /// A full bucket refilled at `rate` tokens per second, holding at most
    /// `burst`. Zeros count as 1: a limiter that never admits anything
    /// would hold deliveries for ever.
    pub fn new(rate: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        Self {
            rate: rate.max(1),
            burst,
            level: u64::from(burst) * MILLI,
            updated: 0,
        }
    }

    /// Takes a token at `now_ms`, or returns when the next one will be
    /// there (milliseconds, same clock).
    pub fn try_take(&mut self, now_ms: u64) -> Result<(), u64> {
        self.refill(now_ms);
        if self.level >= MILLI {
            self.level -= MILLI;
            return Ok(());
        }
        // `rate` thousandths of a token arrive per millisecond.
        let missing = MILLI - self.level;
        let wait = missing.div_ceil(u64::from(self.rate));
        Err(self.updated.saturating_add(wait))
    }

    /// Tokens available at `now_ms` (whole ones).
    pub fn available(&mut self, now_ms: u64) -> u32 {
        self.refill(now_ms);
        u32::try_from(self.level / MILLI).unwrap_or(u32::MAX)
    }

    /// Tokens per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The most tokens held.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    fn refill(&mut self, now_ms: u64) {
        if now_ms <= self.updated {
            return;
        }
        let elapsed = now_ms - self.updated;
        let cap = u64::from(self.burst) * MILLI;
        self.level = self
            .level
            .saturating_add(elapsed.saturating_mul(u64::from(self.rate)))
            .min(cap);
        self.updated = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_rate_per_second_over_a_long_run() {
        let mut bucket = TokenBucket::new(10, 1);
        let mut admitted = 0;
        // One try every millisecond for 10 s: 10/s plus the initial token.
        for ms in 0..10_000u64 {
            if bucket.try_take(1_000 + ms).is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 100);
    }

    #[test]
    fn refill_stops_at_burst_and_wait_is_exact() {
        let mut bucket = TokenBucket::new(3, 5);
        assert_eq!(bucket.available(0), 5);
        for _ in 0..5 {
            assert_eq!(bucket.try_take(0), Ok(()));
        }
        // 1000/3 ms per token, rounded up.
        assert_eq!(bucket.try_take(0), Err(334));
        assert_eq!(bucket.try_take(333), Err(334));
        assert_eq!(bucket.try_take(334), Ok(()));
        assert_eq!(bucket.available(1_000_000), 5);
    }

    #[test]
    fn clock_going_backwards_and_extremes_do_not_panic() {
        let mut bucket = TokenBucket::new(0, 0);
        assert_eq!((bucket.rate(), bucket.burst()), (1, 1));
        assert_eq!(bucket.try_take(u64::MAX), Ok(()));
        assert_eq!(bucket.try_take(5), Err(u64::MAX));
        let mut bucket = TokenBucket::new(u32::MAX, u32::MAX);
        assert_eq!(bucket.try_take(u64::MAX), Ok(()));
        assert!(bucket.available(u64::MAX) > 0);
    }
}
