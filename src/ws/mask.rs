//! Payload masking (RFC 6455 §5.3), in safe word-at-a-time code.
//!
//! Masking XORs each payload byte with `key[i % 4]`. The loops below work on
//! fixed 64-byte blocks so the compiler turns them into full-width SIMD XORs
//! in entirely safe code; the ragged head and tail are done a byte at a time.

/// Bytes per block: one AVX-512 register, two AVX2, four SSE2.
const BLOCK: usize = 64;

/// XORs `buf` with `key`, as if `buf` started `offset` bytes into the payload.
///
/// Applying the same key and offset twice restores the input. `offset` lets a
/// payload be unmasked in pieces as it arrives.
///
/// ```
/// use webwire::ws::apply_mask;
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // Unmask in two pieces: the second starts 2 bytes into the payload.
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if buf.len() < BLOCK {
        mask_bytes(buf, key);
        return;
    }
    let wide = repeat_key(key);
    let mut blocks = buf.chunks_exact_mut(BLOCK);
    for block in &mut blocks {
        for (b, k) in block.iter_mut().zip(wide.iter()) {
            *b ^= k;
        }
    }
    // BLOCK is a multiple of 4, so the tail starts key-aligned.
    mask_bytes(blocks.into_remainder(), key);
}

/// Appends `src` masked with `key` to `dst`, as if `src` started `offset`
/// bytes into the payload.
///
/// One pass: each block is masked in registers on its way into `dst`, so it
/// costs about one copy (a copy, then masking in place, costs two passes).
pub(crate) fn extend_masked(
    dst: &mut impl super::OutBuffer,
    src: &[u8],
    key: [u8; 4],
    offset: usize,
) {
    let key = rotate_key(key, offset);
    if src.len() < BLOCK {
        let mut masked = [0u8; BLOCK];
        let masked = &mut masked[..src.len()];
        masked.copy_from_slice(src);
        mask_bytes(masked, key);
        dst.extend_from_slice(masked);
        return;
    }
    let wide = repeat_key(key);
    dst.reserve(src.len());
    let mut blocks = src.chunks_exact(BLOCK);
    for block in &mut blocks {
        let mut masked = [0u8; BLOCK];
        for ((m, s), k) in masked.iter_mut().zip(block).zip(wide.iter()) {
            *m = s ^ k;
        }
        dst.extend_from_slice(&masked);
    }
    // BLOCK is a multiple of 4, so the tail starts key-aligned.
    let tail = blocks.remainder();
    let mut masked = [0u8; BLOCK];
    let masked = &mut masked[..tail.len()];
    masked.copy_from_slice(tail);
    mask_bytes(masked, key);
    dst.extend_from_slice(masked);
}

/// Writes `src` masked with `key` into `dst` (as long as `src`), as if `src`
/// started `offset` bytes into the payload: one pass in 64-byte blocks, where
/// a copy and then [`apply_mask`] would take two.
pub(crate) fn copy_masked_at(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    if src.len() < BLOCK {
        copy_masked(dst, src, key);
        return;
    }
    let wide = repeat_key(key);
    let mut d = dst.chunks_exact_mut(BLOCK);
    let mut s = src.chunks_exact(BLOCK);
    for (d, s) in (&mut d).zip(&mut s) {
        for ((d, s), k) in d.iter_mut().zip(s).zip(wide.iter()) {
            *d = s ^ k;
        }
    }
    // BLOCK is a multiple of 4, so the tail starts key-aligned.
    copy_masked(d.into_remainder(), s.remainder(), key);
}

/// Writes `src` masked with `key` (payload offset 0) into `dst`, which must
/// be as long as `src`. For small payloads: one pass, a word at a time.
#[inline]
pub(crate) fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let k8 = u64::from(k) | (u64::from(k) << 32);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let v = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]) ^ k8;
        d.copy_from_slice(&v.to_ne_bytes());
    }
    // Chunks of 8 keep the key aligned for the tail.
    for ((d, s), k) in d
        .into_remainder()
        .iter_mut()
        .zip(s.remainder())
        .zip(key.iter().cycle())
    {
        *d = s ^ k;
    }
}

#[inline]
fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset & 3;
    [key[r], key[(r + 1) & 3], key[(r + 2) & 3], key[(r + 3) & 3]]
}

#[inline]
fn repeat_key(key: [u8; 4]) -> [u8; BLOCK] {
    let mut wide = [0u8; BLOCK];
    for word in wide.chunks_exact_mut(4) {
        word.copy_from_slice(&key);
    }
    wide
}

#[inline]
fn mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    let k = u32::from_ne_bytes(key);
    let k8 = u64::from(k) | (u64::from(k) << 32);
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let v = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ k8;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = words.into_remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    let v = u64::from_ne_bytes(word) ^ k8;
    rest.copy_from_slice(&v.to_ne_bytes()[..rest.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i + offset) % 4];
        }
    }

    proptest! {
        #[test]
        fn matches_bytewise_reference(data in proptest::collection::vec(any::<u8>(), 0..700), key: [u8; 4], offset in 0usize..16) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            reference(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
        }

        #[test]
        fn masking_twice_is_identity(data in proptest::collection::vec(any::<u8>(), 0..700), key: [u8; 4], offset in 0usize..16) {
            let mut buf = data.clone();
            apply_mask(&mut buf, key, offset);
            apply_mask(&mut buf, key, offset);
            prop_assert_eq!(buf, data);
        }

        #[test]
        fn split_anywhere_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..300), key: [u8; 4], cut in 0usize..300) {
            let cut = cut.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts = data.clone();
            let (a, b) = parts.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            prop_assert_eq!(parts, whole);
        }

        #[test]
        fn copy_masked_matches(data in proptest::collection::vec(any::<u8>(), 0..300), key: [u8; 4]) {
            let mut out = vec![0u8; data.len()];
            copy_masked(&mut out, &data, key);
            let mut expect = data.clone();
            reference(&mut expect, key, 0);
            prop_assert_eq!(out, expect);
        }

        #[test]
        fn copy_masked_at_matches(data in proptest::collection::vec(any::<u8>(), 0..1000), key: [u8; 4], offset in 0usize..8) {
            let mut out = vec![0u8; data.len()];
            copy_masked_at(&mut out, &data, key, offset);
            let mut expect = data.clone();
            reference(&mut expect, key, offset);
            prop_assert_eq!(out, expect);
        }

        #[test]
        fn extend_masked_matches(data in proptest::collection::vec(any::<u8>(), 0..10_000), key: [u8; 4], offset in 0usize..8) {
            let mut out = vec![1, 2, 3];
            extend_masked(&mut out, &data, key, offset);
            let mut expect = data.clone();
            reference(&mut expect, key, offset);
            prop_assert_eq!(&out[..3], &[1, 2, 3]);
            prop_assert_eq!(&out[3..], &expect[..]);
        }
    }
}
