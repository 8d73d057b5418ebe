//! Replay protection that never loses an event: check, process, then commit.
//!
//! A receiver that records a message as seen *before* processing it loses
//! the message when processing fails: the sender's retry is refused as a
//! replay. So a message id is first *claimed* (in progress, under a lease),
//! then *committed* once the application has processed it, or *released* if
//! it failed, so that the sender's retry is processed. A duplicate of a
//! committed message is answered 2xx without processing it again, which
//! stops the sender retrying; a duplicate that arrives while the first copy
//! is still being processed is refused with a retryable status.

use std::collections::{BTreeMap, HashMap};

use crate::encoding;

/// How long an in-progress claim blocks duplicates by default (seconds)
/// when it is neither committed nor released (its processor crashed).
pub const DEFAULT_CLAIM_LEASE: u64 = 60;

/// The replay key of one message from one sender.
///
/// Built by [`Verifier::verify_and_claim`](super::Verifier::verify_and_claim):
/// the signed message id where the scheme has one (Standard Webhooks, Svix),
/// otherwise a SHA-256 digest of the signed content, followed by the
/// verifier's replay scope (by default the scheme's name), so that two
/// senders' ids never collide. The text is printable ASCII apart from the
/// scope, which is the caller's own string: store it as a database key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey {
    key: String,
    timestamp: u64,
}

impl ReplayKey {
    /// A key for message `id` (visible ASCII, no spaces) in `scope`, signed
    /// (or, without a signed timestamp, received) at `timestamp`.
    pub fn for_id(scope: &str, id: &str, timestamp: u64) -> Self {
        Self {
            key: format!("id:{id} {scope}"),
            timestamp,
        }
    }

    /// A key for a message identified by the digest of its signed content.
    pub(crate) fn for_digest(scope: &str, digest: &[u8; 32], timestamp: u64) -> Self {
        let mut key = String::with_capacity(8 + 64 + 1 + scope.len());
        key.push_str("sha256:");
        encoding::hex_encode(digest, &mut key);
        key.push(' ');
        key.push_str(scope);
        Self { key, timestamp }
    }

    /// The key as text: `id:MSG_ID SCOPE` or `sha256:HEX SCOPE`. The first
    /// part never holds a space, so the text is unambiguous.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The message's signed timestamp (or its arrival time), unix seconds:
    /// a guard may forget the key once this is older than the verifier's
    /// tolerance, since the timestamp check refuses the message from then on.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

/// What a [`ReplayGuard`] knows of a key when it is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClaimState {
    /// Not seen, released, or its claim's lease ran out: the caller now holds
    /// the claim and must process the message, then commit or release.
    Claimed,
    /// Another claim on this key is being processed: answer with a retryable
    /// status ([`VerifyError::InProgress`](super::VerifyError::InProgress)).
    InProgress,
    /// Processed and committed before: answer 2xx without processing again.
    Processed,
}

/// Remembers which messages are being processed and which were processed;
/// used by [`Verifier::verify_and_claim`](super::Verifier::verify_and_claim).
///
/// Implement it over a shared store (a database table keyed by
/// [`ReplayKey::as_str`], Redis) when several processes receive webhooks;
/// [`InMemoryReplayGuard`] serves one process. The three operations must be
/// atomic with respect to each other for the same key.
pub trait ReplayGuard {
    /// Claims `key` at `now` (unix seconds). On [`ClaimState::Claimed`] the
    /// key is held in progress until committed, released, or its lease ends.
    fn claim(&mut self, key: &ReplayKey, now: u64) -> ClaimState;
    /// Marks `key` processed: later claims answer [`ClaimState::Processed`].
    fn commit(&mut self, key: &ReplayKey, now: u64);
    /// Drops an in-progress claim on `key` so that a retry is processed.
    fn release(&mut self, key: &ReplayKey, now: u64);
}

impl<G: ReplayGuard + ?Sized> ReplayGuard for &mut G {
    fn claim(&mut self, key: &ReplayKey, now: u64) -> ClaimState {
        (**self).claim(key, now)
    }
    fn commit(&mut self, key: &ReplayKey, now: u64) {
        (**self).commit(key, now)
    }
    fn release(&mut self, key: &ReplayKey, now: u64) {
        (**self).release(key, now)
    }
}

/// A bounded in-memory [`ReplayGuard`].
///
/// A key is remembered until its timestamp is more than `window` seconds in
/// the past; by then the verifier's timestamp check refuses the message
/// anyway, so keep `window` at least the verifier's tolerance. For schemes
/// without a timestamp (GitHub, Shopify) protection only lasts `window`
/// seconds after arrival. When `capacity` keys are held, the one expiring
/// soonest is forgotten first. An in-progress claim that is neither
/// committed nor released blocks duplicates for its lease
/// ([`DEFAULT_CLAIM_LEASE`]), then the next duplicate may claim it: keep the
/// lease longer than your handler may take.
///
/// ```
/// use webwire::webhook::{ClaimState, InMemoryReplayGuard, ReplayGuard, ReplayKey};
///
/// let mut guard = InMemoryReplayGuard::new(300, 10_000);
/// let key = ReplayKey::for_id("acme", "msg_1", 1_000);
/// assert_eq!(guard.claim(&key, 1_000), ClaimState::Claimed);
/// assert_eq!(guard.claim(&key, 1_001), ClaimState::InProgress); // a concurrent retry
/// guard.release(&key, 1_002); // processing failed
/// assert_eq!(guard.claim(&key, 1_010), ClaimState::Claimed); // the retry is processed
/// guard.commit(&key, 1_011);
/// assert_eq!(guard.claim(&key, 1_020), ClaimState::Processed); // answer 2xx, do nothing
/// ```
#[derive(Debug, Clone)]
pub struct InMemoryReplayGuard {
    window: u64,
    lease: u64,
    capacity: usize,
    seen: HashMap<String, Entry>,
    /// (expiry, sequence number) → key, oldest first.
    by_expiry: BTreeMap<(u64, u64), String>,
    next_seq: u64,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    expiry: u64,
    seq: u64,
    /// `Some(lease end)` while in progress, `None` once processed.
    lease_until: Option<u64>,
}

impl InMemoryReplayGuard {
    /// A guard remembering keys for `window` seconds after their timestamp,
    /// holding at most `capacity` keys (at least 1).
    pub fn new(window: u64, capacity: usize) -> Self {
        Self {
            window,
            lease: DEFAULT_CLAIM_LEASE,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            by_expiry: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Sets how long, in seconds, an uncommitted claim blocks duplicates
    /// (default [`DEFAULT_CLAIM_LEASE`]).
    pub fn with_lease(mut self, seconds: u64) -> Self {
        self.lease = seconds;
        self
    }

    /// How many keys are held, in progress or processed.
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

    fn forget(&mut self, key: &str) {
        if let Some(entry) = self.seen.remove(key) {
            self.by_expiry.remove(&(entry.expiry, entry.seq));
        }
    }

    /// Stores `key` in the given state, evicting the soonest-expiring keys
    /// when full. Keys already outside their window are not stored.
    fn store(&mut self, key: &ReplayKey, now: u64, lease_until: Option<u64>) {
        self.purge(now);
        let expiry = key.timestamp.saturating_add(self.window);
        if expiry < now {
            return;
        }
        self.forget(&key.key);
        while self.seen.len() >= self.capacity {
            match self.by_expiry.pop_first() {
                Some((_, old)) => {
                    self.seen.remove(&old);
                }
                None => break,
            }
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.by_expiry.insert((expiry, seq), key.key.clone());
        self.seen.insert(
            key.key.clone(),
            Entry {
                expiry,
                seq,
                lease_until,
            },
        );
    }
}

impl ReplayGuard for InMemoryReplayGuard {
    fn claim(&mut self, key: &ReplayKey, now: u64) -> ClaimState {
        self.purge(now);
        match self.seen.get(&key.key).map(|e| e.lease_until) {
            Some(None) => return ClaimState::Processed,
            Some(Some(until)) if now < until => return ClaimState::InProgress,
            _ => {}
        }
        self.store(key, now, Some(now.saturating_add(self.lease)));
        ClaimState::Claimed
    }

    fn commit(&mut self, key: &ReplayKey, now: u64) {
        self.store(key, now, None);
    }

    fn release(&mut self, key: &ReplayKey, _now: u64) {
        // Only an in-progress claim is released: a processed key stays.
        if self
            .seen
            .get(&key.key)
            .is_some_and(|e| e.lease_until.is_some())
        {
            self.forget(&key.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, ts: u64) -> ReplayKey {
        ReplayKey::for_id("test", id, ts)
    }

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut g = InMemoryReplayGuard::new(300, 100);
        let a = key("a", 1000);
        assert_eq!(g.claim(&a, 1000), ClaimState::Claimed);
        g.commit(&a, 1000);
        assert_eq!(g.claim(&a, 1300), ClaimState::Processed);
        assert_eq!(g.claim(&key("b", 1200), 1300), ClaimState::Claimed);
        assert_eq!(g.len(), 2);
        g.purge(1301);
        assert_eq!(g.len(), 1);
        assert_eq!(g.claim(&a, 1301), ClaimState::Claimed);
        // Timestamps far in the past are not stored.
        assert_eq!(g.len(), 1);
        let c = key("c", u64::MAX);
        assert_eq!(g.claim(&c, 0), ClaimState::Claimed);
        assert_eq!(g.claim(&c, 0), ClaimState::InProgress);
    }

    #[test]
    fn claims_lease_release_and_commit() {
        let mut g = InMemoryReplayGuard::new(300, 100).with_lease(10);
        let a = key("a", 1000);
        assert_eq!(g.claim(&a, 1000), ClaimState::Claimed);
        assert_eq!(g.claim(&a, 1009), ClaimState::InProgress);
        // The lease ran out: the processor is presumed dead.
        assert_eq!(g.claim(&a, 1010), ClaimState::Claimed);
        g.release(&a, 1011);
        assert!(g.is_empty());
        assert_eq!(g.claim(&a, 1012), ClaimState::Claimed);
        g.commit(&a, 1013);
        // A late release (a duplicate handler failing) keeps the commit.
        g.release(&a, 1014);
        assert_eq!(g.claim(&a, 1015), ClaimState::Processed);
        // Scopes keep two senders' ids apart.
        let other = ReplayKey::for_id("other", "a", 1000);
        assert_eq!(g.claim(&other, 1016), ClaimState::Claimed);
        assert_eq!(g.len(), 2);
    }

    #[test]
    fn bounded() {
        let mut g = InMemoryReplayGuard::new(300, 3);
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            let k = key(k, 1000 + i as u64);
            assert_eq!(g.claim(&k, 1000), ClaimState::Claimed);
            g.commit(&k, 1000);
        }
        assert_eq!(g.len(), 3);
        // The soonest-expiring key went first.
        assert_eq!(g.claim(&key("a", 1000), 1000), ClaimState::Claimed);
        assert_eq!(g.claim(&key("d", 1003), 1000), ClaimState::Processed);
        let mut one = InMemoryReplayGuard::new(300, 0);
        assert_eq!(one.claim(&key("x", 1), 1), ClaimState::Claimed);
        assert_eq!(one.claim(&key("x", 1), 1), ClaimState::InProgress);
    }
}
