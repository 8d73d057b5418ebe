//! Incremental, fail-fast UTF-8 validation across chunks and fragments.
//!
//! Text arrives in pieces that may split a code point. The validator checks
//! each piece as it arrives (so an invalid sequence is reported as soon as its
//! bytes are in, as RFC 6455 §8.1 and Autobahn 6.4.x require) and appends the
//! validated text to a `String`: one validation pass, and the copy out of the
//! receive buffer is the only copy.

use std::str;

/// Why text was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

/// Validator state: the bytes of a code point split across pieces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Utf8Validator {
    carry: [u8; 4],
    carry_len: u8,
}

/// Bytes in the code point that `lead` starts (1–4), or 0 for a byte that
/// cannot start one. Bytes like 0xC0 or 0xF5 that are never valid report a
/// width anyway; the validator rejects them when it checks the prefix.
#[inline]
fn width(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0x80..=0xbf => 0,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Whether `bytes` (shorter than a full code point) can still become valid.
#[inline]
fn prefix_may_complete(bytes: &[u8]) -> bool {
    match simdutf8::compat::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

impl Utf8Validator {
    /// Validates `input`, the next piece of the text, and appends it to `out`.
    ///
    /// A trailing incomplete code point is held back until the next piece, but
    /// only if it can still become valid.
    pub(crate) fn push(&mut self, mut input: &[u8], out: &mut String) -> Result<(), InvalidUtf8> {
        if self.carry_len != 0 {
            let have = usize::from(self.carry_len);
            let need = width(self.carry[0]).saturating_sub(have);
            let take = need.min(input.len());
            self.carry[have..have + take].copy_from_slice(&input[..take]);
            let have = have + take;
            input = &input[take..];
            if take < need {
                if !prefix_may_complete(&self.carry[..have]) {
                    return Err(InvalidUtf8);
                }
                self.carry_len = have as u8;
                return Ok(());
            }
            let ch = str::from_utf8(&self.carry[..have]).map_err(|_| InvalidUtf8)?;
            out.push_str(ch);
            self.carry_len = 0;
        }
        let split = Self::complete_prefix_len(input);
        let text = simdutf8::basic::from_utf8(&input[..split]).map_err(|_| InvalidUtf8)?;
        out.push_str(text);
        let tail = &input[split..];
        if !tail.is_empty() {
            if !prefix_may_complete(tail) {
                return Err(InvalidUtf8);
            }
            self.carry[..tail.len()].copy_from_slice(tail);
            self.carry_len = tail.len() as u8;
        }
        Ok(())
    }

    /// The length of `input` without a trailing code point that the next
    /// piece would complete.
    #[inline]
    fn complete_prefix_len(input: &[u8]) -> usize {
        let len = input.len();
        // A split code point starts in one of the last 3 bytes.
        for i in (len.saturating_sub(3)..len).rev() {
            let w = width(input[i]);
            if w != 0 {
                return if w > len - i { i } else { len };
            }
        }
        len
    }

    /// Ends the text: an incomplete code point is an error.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        if self.carry_len != 0 {
            self.carry_len = 0;
            return Err(InvalidUtf8);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed(pieces: &[&[u8]]) -> Result<String, usize> {
        let mut v = Utf8Validator::default();
        let mut out = String::new();
        for (i, p) in pieces.iter().enumerate() {
            v.push(p, &mut out).map_err(|_| i)?;
        }
        v.finish().map_err(|_| pieces.len())?;
        Ok(out)
    }

    #[test]
    fn splits_inside_code_points() {
        let s = "aé€😀z";
        let b = s.as_bytes();
        for cut1 in 0..=b.len() {
            for cut2 in cut1..=b.len() {
                assert_eq!(
                    feed(&[&b[..cut1], &b[cut1..cut2], &b[cut2..]]).as_deref(),
                    Ok(s)
                );
            }
        }
        // One byte at a time.
        let pieces: Vec<&[u8]> = b.chunks(1).collect();
        assert_eq!(feed(&pieces).as_deref(), Ok(s));
    }

    #[test]
    fn fails_as_soon_as_the_bytes_arrive() {
        // Autobahn 6.4.1's sequence: F4 90 can never start a valid code point
        // (above U+10FFFF); it must fail in the piece that brings 0x90.
        assert_eq!(
            feed(&[
                b"\xce\xba\xe1\xbd\xb9\xcf\x83",
                b"\xf4\x90",
                b"\x80\x80",
                b"edited"
            ]),
            Err(1)
        );
        assert_eq!(feed(&[b"ok", b"\xf4", b"\x90\x80\x80"]), Err(2));
        // A lone continuation byte.
        assert_eq!(feed(&[b"ab\x80"]), Err(0));
        // Overlong and surrogate prefixes fail on their second byte.
        assert_eq!(feed(&[b"\xc0"]), Err(0));
        assert_eq!(feed(&[b"\xe0", b"\x80"]), Err(1));
        assert_eq!(feed(&[b"\xed", b"\xa0"]), Err(1));
        // A valid prefix cut short only fails at the end.
        assert_eq!(feed(&[b"\xe2\x82"]), Err(1));
    }

    proptest! {
        #[test]
        fn any_split_agrees_with_std(data in proptest::collection::vec(any::<u8>(), 0..64), cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = 0;
            for c in cuts { pieces.push(&data[last..c]); last = c; }
            pieces.push(&data[last..]);
            let expect = std::str::from_utf8(&data).ok().map(str::to_owned);
            prop_assert_eq!(feed(&pieces).ok(), expect);
        }

        #[test]
        fn valid_text_any_split(s in "\\PC{0,40}", cut in 0usize..200) {
            let b = s.as_bytes();
            let cut = cut.min(b.len());
            prop_assert_eq!(feed(&[&b[..cut], &b[cut..]]), Ok(s.clone()));
        }
    }
}
