//! Replay protection: "have I seen this message before?"

use std::collections::{BTreeMap, HashMap};

/// Remembers verified messages so that a replayed one can be refused; used
/// by [`Verifier::verify_once`](super::Verifier::verify_once).
///
/// Implement it over a shared store (Redis, a database) when several
/// processes receive webhooks; [`InMemoryReplayGuard`] serves one process.
pub trait ReplayGuard {
    /// Records `key` for a message signed at `timestamp` (unix seconds; the
    /// arrival time for schemes without one), checked at `now`. Returns
    /// `true` the first time a key is seen, `false` for a replay.
    fn first_seen(&mut self, key: &[u8], timestamp: u64, now: u64) -> bool;
}

impl<G: ReplayGuard + ?Sized> ReplayGuard for &mut G {
    fn first_seen(&mut self, key: &[u8], timestamp: u64, now: u64) -> bool {
        (**self).first_seen(key, timestamp, now)
    }
}

/// A bounded in-memory [`ReplayGuard`].
///
/// A key is remembered until its timestamp is more than `window` seconds in
/// the past; by then the verifier's timestamp check refuses the message
/// anyway, so keep `window` at least the verifier's tolerance. For schemes
/// without a timestamp (GitHub, Shopify) protection only lasts `window`
/// seconds after arrival. When `capacity` keys are held, the one expiring
/// soonest is forgotten first.
///
/// ```
/// use webwire::webhook::{InMemoryReplayGuard, ReplayGuard};
///
/// let mut guard = InMemoryReplayGuard::new(300, 10_000);
/// assert!(guard.first_seen(b"msg_1", 1_000, 1_000));
/// assert!(!guard.first_seen(b"msg_1", 1_000, 1_010)); // replay
/// assert!(guard.first_seen(b"msg_1", 1_000, 1_301)); // long gone; the timestamp check refuses it
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryReplayGuard {
    window: u64,
    capacity: usize,
    /// key → (expiry, sequence number).
    seen: HashMap<Box<[u8]>, (u64, u64)>,
    /// (expiry, sequence number) → key, oldest first.
    by_expiry: BTreeMap<(u64, u64), Box<[u8]>>,
    next_seq: u64,
}

impl InMemoryReplayGuard {
    /// A guard remembering keys for `window` seconds after their timestamp,
    /// holding at most `capacity` keys (at least 1).
    pub fn new(window: u64, capacity: usize) -> Self {
        Self {
            window,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Forgets every key whose window has passed at `now`.
    pub fn purge(&mut self, now: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if entry.key().0 >= now {
                break;
            }
            let key = entry.remove();
            self.seen.remove(&key);
        }
    }

    /// Forgets the key expiring soonest; `false` if there is none.
    fn evict_oldest(&mut self) -> bool {
        match self.by_expiry.pop_first() {
            Some((_, key)) => {
                self.seen.remove(&key);
                true
            }
            None => false,
        }
    }
}

impl ReplayGuard for InMemoryReplayGuard {
    fn first_seen(&mut self, key: &[u8], timestamp: u64, now: u64) -> bool {
        self.purge(now);
        if self.seen.contains_key(key) {
            return false;
        }
        let expiry = timestamp.saturating_add(self.window);
        if expiry < now {
            // Already outside the window: nothing to remember.
            return true;
        }
        while self.seen.len() >= self.capacity && self.evict_oldest() {}
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let key: Box<[u8]> = key.into();
        self.by_expiry.insert((expiry, seq), key.clone());
        self.seen.insert(key, (expiry, seq));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut g = InMemoryReplayGuard::new(300, 100);
        assert!(g.first_seen(b"a", 1000, 1000));
        assert!(!g.first_seen(b"a", 1000, 1300));
        assert!(g.first_seen(b"b", 1200, 1300));
        assert_eq!(g.len(), 2);
        g.purge(1301);
        assert_eq!(g.len(), 1);
        assert!(g.first_seen(b"a", 1000, 1301));
        // Timestamps far in the past are not stored.
        assert_eq!(g.len(), 1);
        assert!(g.first_seen(b"c", u64::MAX, 0));
        assert!(!g.first_seen(b"c", u64::MAX, 0));
    }

    #[test]
    fn bounded() {
        let mut g = InMemoryReplayGuard::new(300, 3);
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            assert!(g.first_seen(*k, 1000 + i as u64, 1000));
        }
        assert_eq!(g.len(), 3);
        // The soonest-expiring key went first.
        assert!(g.first_seen(b"a", 1000, 1000));
        assert!(!g.first_seen(b"d", 1003, 1000));
        let mut zero = InMemoryReplayGuard::new(300, 0);
        assert!(zero.first_seen(b"x", 1, 1));
        assert!(!zero.first_seen(b"x", 1, 1));
    }
}
