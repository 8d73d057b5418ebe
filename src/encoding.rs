//! Base64 and hex, shared by both halves: WebSocket handshake keys and
//! webhook signatures and secrets.
// A WebSocket-only build uses the base64 decoder alone.
#![cfg_attr(not(feature = "webhook"), allow(dead_code))]

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Encoding: standard alphabet, padded.
pub(crate) const B64: GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decoding secrets typed by people: padding optional, non-canonical trailing
/// bits tolerated (as the reference libraries do).
const B64_SECRET: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Base64 (standard alphabet) and hex digit values; 0xff marks a byte that
/// is neither.
const B64_VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};
const HEX_VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let digits = b"0123456789abcdef";
    let mut i = 0;
    while i < 16 {
        t[digits[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn b64_value(c: u8) -> u8 {
    B64_VALUES[usize::from(c)]
}

/// Decodes a base64 signature of exactly `N` bytes: standard alphabet,
/// padding optional, canonical (unused trailing bits must be zero).
///
/// Hand-rolled for the fixed sizes of signatures: it runs on every
/// verification, and a general decoder's set-up costs as much as the work.
pub(crate) fn b64_exact<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    let unpadded = (N * 4).div_ceil(3);
    let padded = N.div_ceil(3) * 4;
    let data = match s.len() {
        n if n == unpadded => s,
        n if n == padded => {
            let (data, pad) = s.split_at(unpadded);
            if !pad.iter().all(|&c| c == b'=') {
                return None;
            }
            data
        }
        _ => return None,
    };
    let mut out = [0u8; N];
    // Every valid value is < 64: an invalid character sets bit 6 or 7.
    let mut bad = 0u8;
    let full = data.len() / 4;
    let (groups, rest) = data.split_at(full * 4);
    // Whole groups of 4 characters → 3 bytes, through one 24-bit word.
    for (group, dst) in groups.chunks_exact(4).zip(out.chunks_exact_mut(3)) {
        let word = group.iter().fold(0u32, |acc, &c| {
            let v = b64_value(c);
            bad |= v;
            (acc << 6) | u32::from(v)
        });
        let [_, x, y, z] = word.to_be_bytes();
        dst.copy_from_slice(&[x, y, z]);
    }
    // The last 2 or 3 characters carry 1 or 2 bytes; their unused low bits
    // must be zero (canonical encoding).
    let tail = out.get_mut(full * 3..).unwrap_or_default();
    let trailing = match (rest, tail) {
        ([], []) => 0,
        (&[a, b], [x]) => {
            let [a, b] = [a, b].map(b64_value);
            bad |= a | b;
            *x = (a << 2) | (b >> 4);
            b & 0x0f
        }
        (&[a, b, c], [x, y]) => {
            let [a, b, c] = [a, b, c].map(b64_value);
            bad |= a | b | c;
            *x = (a << 2) | (b >> 4);
            *y = (b << 4) | (c >> 2);
            c & 0x03
        }
        _ => return None,
    };
    (bad & 0xc0 == 0 && trailing == 0).then_some(out)
}

/// Decodes a base64 secret.
pub(crate) fn b64_secret(s: &str) -> Option<Vec<u8>> {
    B64_SECRET.decode(s).ok()
}

/// Decodes lower-case hex of exactly `N` bytes (the canonical form every
/// provider sends, so each signature has exactly one spelling).
pub(crate) fn hex_exact<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        if let &[hi, lo] = pair {
            let (hi, lo) = (HEX_VALUES[usize::from(hi)], HEX_VALUES[usize::from(lo)]);
            bad |= hi | lo;
            *o = (hi << 4) | (lo & 0x0f);
        }
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// Appends lower-case hex.
pub(crate) fn hex_encode(bytes: &[u8], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// Appends padded standard base64.
pub(crate) fn b64_encode(bytes: &[u8], out: &mut String) {
    B64.encode_string(bytes, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_base64() {
        assert_eq!(hex_exact::<2>(b"0aff"), Some([0x0a, 0xff]));
        assert_eq!(hex_exact::<2>(b"0aFf"), None);
        assert_eq!(hex_exact::<2>(b"0aF"), None);
        assert_eq!(hex_exact::<2>(b"0aFg"), None);
        assert_eq!(hex_exact::<2>(b"+aFf"), None);
        let mut s = String::new();
        hex_encode(&[0x0a, 0xff], &mut s);
        assert_eq!(s, "0aff");
        assert_eq!(b64_exact::<3>(b"AAEC"), Some([0, 1, 2]));
        assert_eq!(b64_exact::<2>(b"AAE="), Some([0, 1]));
        assert_eq!(b64_exact::<2>(b"AAE"), Some([0, 1]));
        assert_eq!(b64_exact::<2>(b"AAF="), None, "non-canonical trailing bits");
        assert_eq!(b64_exact::<2>(b"AAEC"), None);
        assert_eq!(b64_exact::<2>(b""), None);
        assert_eq!(b64_exact::<2>(b"AA=E"), None);
        assert_eq!(b64_exact::<2>(b"AAE=="), None);
        assert_eq!(b64_exact::<1>(b"AQ=="), Some([1]));
        assert_eq!(b64_exact::<1>(b"AR=="), None);
        assert_eq!(b64_exact::<1>(b"A-=="), None);
        // Agrees with the base64 crate on every 32-byte value it encodes.
        let mut rng = crate::random::SeededRandom::new(9);
        for _ in 0..200 {
            let mut v = [0u8; 32];
            crate::random::RandomSource::fill_bytes(&mut rng, &mut v);
            let mut e = String::new();
            b64_encode(&v, &mut e);
            assert_eq!(b64_exact::<32>(e.as_bytes()), Some(v));
            assert_eq!(b64_exact::<32>(e.trim_end_matches('=').as_bytes()), Some(v));
            let mut h = String::new();
            hex_encode(&v, &mut h);
            assert_eq!(hex_exact::<32>(h.as_bytes()), Some(v));
        }
        assert_eq!(b64_secret("AAF"), Some(vec![0, 1]));
    }
}
