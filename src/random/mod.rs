//! Injectable randomness.
//!
//! Masking keys (RFC 6455 §5.3), handshake keys and retry jitter need random
//! bytes. The library never reaches for OS entropy on its own: every state
//! machine takes a [`RandomSource`], so tests and fuzzers can replay the exact
//! same bytes.
//!
//! | source | what | for |
//! |---|---|---|
//! | [`ThreadRandom`] | the OS's bytes through a per-thread pool; zero-sized | masking keys, handshake keys, jitter |
//! | [`OsRandom`] | the OS's bytes through a 1 KiB pool of its own | secrets |
//! | [`SeededRandom`] | deterministic SplitMix64 | tests, fuzzing, reproducible schedules |
//! | [`FixedRandom`] | repeats given bytes | test vectors |
//! | [`NoRandom`] | nothing (servers never mask) | what `Connection::server` holds |
//!
//! ```
//! use webwire::random::{RandomSource, SeededRandom};
//!
//! let mut a = SeededRandom::new(42);
//! let mut b = SeededRandom::new(42);
//! assert_eq!(a.next_u32(), b.next_u32());
//! ```

/// A source of random bytes.
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill_bytes(&mut self, buf: &mut [u8]);

    /// A random `u32`.
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    /// A random `u64`.
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    /// A uniformly distributed `f64` in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        // 53 random mantissa bits.
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The random source of a server's connection or encoder, which never masks
/// and so never draws from it.
///
/// It has no public constructor: only
/// [`Connection::server`](crate::ws::Connection::server) and
/// [`Encoder::server`](crate::ws::Encoder::server) make one, so a server
/// names no random type it does not use (`Connection` is
/// `Connection<NoRandom>`) and no client can end up masking with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandom(());

impl NoRandom {
    /// For the server constructors.
    #[cfg_attr(not(feature = "ws"), allow(dead_code))]
    pub(crate) const fn new() -> Self {
        Self(())
    }
}

impl RandomSource for NoRandom {
    /// Zeros. Never called: only servers hold a `NoRandom`, and servers
    /// draw nothing.
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

#[cfg(feature = "getrandom")]
mod thread;

#[cfg(feature = "getrandom")]
#[cfg_attr(docsrs, doc(cfg(feature = "getrandom")))]
pub use thread::ThreadRandom;

/// Fills `buf` from the OS; should that fail (which `getrandom` documents as
/// practically impossible on supported platforms), from a time-seeded
/// generator rather than a panic.
#[cfg(feature = "getrandom")]
fn os_fill(buf: &mut [u8]) {
    if getrandom::fill(buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        SeededRandom::new(nanos).fill_bytes(buf);
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &mut R {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        (**self).fill_bytes(buf)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for Box<R> {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        (**self).fill_bytes(buf)
    }
}

/// Operating-system randomness (via the `getrandom` crate).
///
/// Bytes are fetched from the OS 1 KiB at a time and handed out from that
/// pool (held inline: the value is 1 KiB). Use it for secrets, such as
/// [`Secret::generate`](crate::webhook::Secret::generate); for masking keys,
/// the zero-sized [`ThreadRandom`] is cheaper per key and per connection.
///
/// If the OS source fails (which `getrandom` documents as practically
/// impossible on supported platforms) the bytes come from a time-seeded
/// generator rather than a panic: masking keys must be unpredictable to
/// scripts in a browser, not cryptographically secret.
#[cfg(feature = "getrandom")]
#[cfg_attr(docsrs, doc(cfg(feature = "getrandom")))]
pub struct OsRandom {
    pool: thread::Pool,
}

/// A clone starts with an empty pool: copying the pool would make the two
/// hand out the same bytes.
#[cfg(feature = "getrandom")]
impl Clone for OsRandom {
    fn clone(&self) -> Self {
        Self::new()
    }
}

#[cfg(feature = "getrandom")]
impl OsRandom {
    /// A source that draws on the OS when it first needs bytes.
    pub const fn new() -> Self {
        Self {
            pool: thread::Pool::EMPTY,
        }
    }
}

#[cfg(feature = "getrandom")]
impl Default for OsRandom {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "getrandom")]
impl std::fmt::Debug for OsRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print bytes that will become keys.
        f.write_str("OsRandom")
    }
}

#[cfg(feature = "getrandom")]
impl RandomSource for OsRandom {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        self.pool.fill(buf);
    }
}

/// A deterministic generator (SplitMix64) for tests, fuzzing and
/// reproducible retry schedules. Not for secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SeededRandom {
    state: u64,
}

impl SeededRandom {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn step(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl RandomSource for SeededRandom {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.step().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.step()
    }
}

/// A source that repeats the given bytes forever: for test vectors such as
/// RFC 6455's fixed masking key `37 fa 21 3d`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedRandom {
    bytes: Vec<u8>,
    pos: usize,
}

impl FixedRandom {
    /// Repeats `bytes` (an empty slice yields zeros).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            pos: 0,
        }
    }
}

impl RandomSource for FixedRandom {
    fn fill_bytes(&mut self, buf: &mut [u8]) {
        if self.bytes.is_empty() {
            buf.fill(0);
            return;
        }
        for b in buf {
            *b = self.bytes[self.pos];
            self.pos = (self.pos + 1) % self.bytes.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_reproducible_and_varies() {
        let mut a = SeededRandom::new(1);
        let mut b = SeededRandom::new(1);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], xs[1]);
        let f = a.next_f64();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn fixed_repeats() {
        let mut f = FixedRandom::new([0x37, 0xfa, 0x21, 0x3d]);
        let mut buf = [0u8; 6];
        f.fill_bytes(&mut buf);
        assert_eq!(buf, [0x37, 0xfa, 0x21, 0x3d, 0x37, 0xfa]);
        let mut z = FixedRandom::new(Vec::new());
        let mut buf = [1u8; 3];
        z.fill_bytes(&mut buf);
        assert_eq!(buf, [0, 0, 0]);
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn os_random_fills_across_refills() {
        let mut r = OsRandom::new();
        let mut a = [0u8; 1000];
        r.fill_bytes(&mut a);
        let mut b = [0u8; 1000];
        r.fill_bytes(&mut b);
        assert_ne!(a, b);
        // A refill is fresh, not a repeat of the first pool.
        assert_ne!(a[..256], b[..256]);
        assert!(a.iter().filter(|&&x| x == 0).count() < 50);
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn a_cloned_os_random_does_not_repeat_the_original() {
        let mut a = OsRandom::new();
        a.next_u32(); // fills the pool
        let mut b = a.clone();
        let (x, y) = (a.next_u64(), b.next_u64());
        assert_ne!(x, y);
    }
}
