//! Webhook header values: visible ASCII checks and unix timestamps.

/// Whether every byte is visible ASCII or a space (`0x20..=0x7e`): what a
/// webhook header value may contain.
pub(crate) fn is_visible_ascii_or_space(v: &[u8]) -> bool {
    // No early exit, so it vectorises; header values are short.
    v.iter()
        .fold(true, |ok, &b| ok & (0x20..=0x7e).contains(&b))
}

/// Whether every byte is visible ASCII (`0x21..=0x7e`).
pub(crate) fn is_visible_ascii(v: &[u8]) -> bool {
    v.iter()
        .fold(true, |ok, &b| ok & (0x21..=0x7e).contains(&b))
}

/// Parses a unix timestamp: decimal digits only, no sign, no leading zeros
/// (except `0` itself), fitting in a `u64`.
pub(crate) fn parse_timestamp(s: &[u8]) -> Option<u64> {
    match s {
        [] => None,
        [b'0'] => Some(0),
        [b'0', ..] => None,
        _ => {
            let mut v: u64 = 0;
            for &c in s {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            }
            Some(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp(b"0"), Some(0));
        assert_eq!(parse_timestamp(b"1614265330"), Some(1_614_265_330));
        assert_eq!(parse_timestamp(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"01",
            b"00",
            b"+1",
            b"-1",
            b" 1",
            b"1 ",
            b"1.0",
            b"1e3",
            b"18446744073709551616",
            b"\xd9\xa1",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }
}
