//! [`ThreadRandom`]: the OS's bytes through a per-thread pool, and the pool
//! that [`OsRandom`](super::OsRandom) carries inline.

use std::cell::RefCell;

use super::RandomSource;

/// Bytes fetched from the OS per refill.
const POOL: usize = 1024;

/// OS bytes fetched [`POOL`] at a time and wiped as they are handed out.
/// Not `Clone`: two copies would hand out the same bytes.
pub(super) struct Pool {
    bytes: [u8; POOL],
    used: usize,
}

impl Pool {
    pub(super) const EMPTY: Self = Self {
        bytes: [0; POOL],
        used: POOL,
    };

    pub(super) fn fill(&mut self, mut out: &mut [u8]) {
        // A masking key: a plain loop, not calls to memcpy and memset.
        if out.len() <= 8 && POOL - self.used >= out.len() {
            for (o, b) in out.iter_mut().zip(&mut self.bytes[self.used..]) {
                *o = std::mem::take(b);
            }
            self.used += out.len();
            return;
        }
        while !out.is_empty() {
            if self.used == POOL {
                super::os_fill(&mut self.bytes);
                self.used = 0;
            }
            let n = out.len().min(POOL - self.used);
            let (now, rest) = out.split_at_mut(n);
            now.copy_from_slice(&self.bytes[self.used..self.used + n]);
            // Bytes handed out are not kept.
            self.bytes[self.used..self.used + n].fill(0);
            self.used += n;
            out = rest;
        }
    }
}

thread_local! {
    static POOL_OF_THREAD: RefCell<Pool> = const { RefCell::new(Pool::EMPTY) };
}

/// OS randomness through a per-thread pool: [`OsRandom`](super::OsRandom)'s
/// bytes, but the handle is zero-sized.
///
/// Each thread fetches 1 KiB from the OS (via `getrandom`) at a time and
/// hands it out; every handle on that thread draws from the same pool. So a
/// masking key costs a few nanoseconds, and a client
/// [`Connection`](crate::ws::Connection) or [`Encoder`](crate::ws::Encoder)
/// holding a `ThreadRandom` carries no buffer of its own (an `OsRandom` is
/// 1 KiB). Bytes are wiped from the pool as they are handed out.
///
/// After `fork`, the child may hand out what remained of its parent's pool
/// (under 1 KiB) before its first refill, as `rand`'s thread-local generator
/// may: harmless for masking keys, which is why secrets should come from a
/// fresh [`OsRandom`](super::OsRandom).
///
/// ```
/// use webwire::random::{RandomSource, ThreadRandom};
/// use webwire::ws::{Encoder, Role};
///
/// let mut enc = Encoder::new(Role::Client, ThreadRandom);
/// let mut out = Vec::new();
/// enc.encode_text("hi", &mut out);
/// assert_eq!(out.len(), 2 + 4 + 2); // header, masking key, payload
/// assert_eq!(std::mem::size_of_val(&ThreadRandom), 0);
/// assert_ne!(ThreadRandom.next_u64(), ThreadRandom.next_u64());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadRandom;

impl RandomSource for ThreadRandom {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        let filled = POOL_OF_THREAD
            .try_with(|pool| match pool.try_borrow_mut() {
                Ok(mut pool) => {
                    pool.fill(buf);
                    true
                }
                Err(_) => false,
            })
            .unwrap_or(false);
        // Only while the thread is being torn down: go to the OS directly.
        if !filled {
            super::os_fill(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_fresh_bytes_across_refills() {
        let mut seen = std::collections::HashSet::new();
        let mut r = ThreadRandom;
        // 10,000 8-byte values: many refills, and a repeat would mean a
        // repeated pool (a chance collision is about 2^-37).
        for _ in 0..10_000 {
            assert!(seen.insert(r.next_u64()));
        }
        let mut big = vec![0u8; 3 * POOL + 5];
        r.fill_bytes(&mut big);
        assert!(big.iter().filter(|&&b| b == 0).count() < 40);
    }

    #[test]
    fn wipes_what_it_hands_out() {
        let mut pool = Pool::EMPTY;
        let mut key = [0u8; 4];
        pool.fill(&mut key);
        assert_eq!(pool.used, 4);
        assert!(pool.bytes[..4].iter().all(|&b| b == 0));
        let mut rest = vec![0u8; POOL - 4];
        pool.fill(&mut rest);
        assert!(pool.bytes.iter().all(|&b| b == 0));
        assert_ne!(rest, vec![0u8; POOL - 4]);
    }

    #[test]
    fn threads_have_their_own_pools() {
        let here: Vec<u64> = (0..4).map(|_| ThreadRandom.next_u64()).collect();
        let there: Vec<u64> =
            std::thread::spawn(|| (0..4).map(|_| ThreadRandom.next_u64()).collect())
                .join()
                .unwrap();
        assert_ne!(here, there);
    }
}
