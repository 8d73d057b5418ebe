//! Leases: which worker owns a delivery's next attempt, and until when.

use serde::{Deserialize, Serialize};

/// A worker's time-limited claim on a delivery (or any job), so that
/// several workers share a queue without sending the same attempt twice at
/// once, and a crashed worker's jobs come back when its leases run out.
///
/// Store `owner` and `until` beside the job (an outbox row); take a job only
/// where [`is_free_for`](Self::is_free_for) holds, inside the same
/// transaction that writes the new lease. A lease should outlast the
/// attempt's timeout, so that it never expires while the attempt is still
/// running; if it does (a paused worker), the job may be attempted twice,
/// with the same webhook id: at-least-once delivery.
///
/// ```
/// use webwire::webhook::Lease;
///
/// let lease = Lease::grant("worker-1", 1_000, 30);
/// assert!(!lease.is_free_for("worker-2", 1_010));
/// assert!(lease.is_free_for("worker-1", 1_010)); // its owner may renew it
/// assert!(lease.is_free_for("worker-2", 1_030)); // expired: worker-1 died
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it.
    pub owner: String,
    /// When it runs out (same clock and unit as `now` in the calls).
    pub until: u64,
}

impl Lease {
    /// A lease for `owner` from `now` for `duration`.
    pub fn grant(owner: impl Into<String>, now: u64, duration: u64) -> Self {
        Self {
            owner: owner.into(),
            until: now.saturating_add(duration),
        }
    }

    /// Whether it still holds at `now`.
    pub fn is_held(&self, now: u64) -> bool {
        now < self.until
    }

    /// Whether `worker` may take the job at `now`: the lease ran out, or
    /// `worker` holds it.
    pub fn is_free_for(&self, worker: &str, now: u64) -> bool {
        !self.is_held(now) || self.owner == worker
    }

    /// Extends the lease for its owner; `false` (and no change) if `worker`
    /// does not hold it at `now`, in which case another worker may be on the
    /// job and the caller should stop.
    pub fn renew(&mut self, worker: &str, now: u64, duration: u64) -> bool {
        if self.owner != worker || !self.is_held(now) {
            return false;
        }
        self.until = now.saturating_add(duration);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_only_by_the_holder_while_held() {
        let mut lease = Lease::grant("a", 100, 10);
        assert!(lease.renew("a", 105, 10));
        assert_eq!(lease.until, 115);
        assert!(!lease.renew("b", 106, 10));
        assert!(!lease.renew("a", 115, 10));
        assert_eq!(lease.until, 115);
        assert!(Lease::grant("a", u64::MAX, u64::MAX).is_held(u64::MAX - 1));
    }
}
