//! Property tests: verify accepts what sign produced, for any body; any
//! single-bit change to the body, id, timestamp or signature is rejected; no
//! input makes verification panic.
#![cfg(feature = "webhook")]

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use webwire::webhook::{CustomScheme, Encoding, Scheme, Secret, Signer, Verifier};

fn schemes() -> Vec<Scheme> {
    let mut custom = CustomScheme::new("custom", HeaderName::from_static("x-sig"));
    custom.id_header = Some(HeaderName::from_static("x-id"));
    custom.timestamp_header = Some(HeaderName::from_static("x-ts"));
    custom.template = "{timestamp}:{id}:{body}".into();
    custom.encoding = Encoding::Base64;
    custom.prefix = "hmac=".into();
    vec![
        Scheme::standard(),
        Scheme::svix(),
        Scheme::github(),
        Scheme::stripe(),
        Scheme::slack(),
        Scheme::shopify(),
        Scheme::custom(custom).unwrap(),
    ]
}

fn scheme_strategy() -> impl Strategy<Value = Scheme> {
    (0..schemes().len()).prop_map(|i| schemes().swap_remove(i))
}

fn pair(scheme: &Scheme, key: &[u8]) -> (Signer, Verifier) {
    let s = Secret::from_bytes(key).unwrap();
    (
        Signer::new(scheme.clone(), s.clone()).unwrap(),
        Verifier::new(scheme.clone(), s).unwrap(),
    )
}

/// Flips bit `bit` of byte `at` (modulo the length) of header `name`;
/// `None` if the result is not a valid `HeaderValue` at all.
fn flip_header(h: &HeaderMap, name: &HeaderName, at: usize, bit: u8) -> Option<HeaderMap> {
    let mut bytes = h.get(name)?.as_bytes().to_vec();
    let i = at % bytes.len();
    bytes[i] ^= 1 << bit;
    let mut out = h.clone();
    out.insert(name.clone(), HeaderValue::from_bytes(&bytes).ok()?);
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn verify_accepts_what_sign_produced(
        scheme in scheme_strategy(),
        key in prop::collection::vec(any::<u8>(), 1..80),
        id in "[!-~]{1,40}",
        ts in 0u64..=4_000_000_000,
        skew in -300i64..=300,
        body in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let (signer, verifier) = pair(&scheme, &key);
        let h = signer.sign(&id, ts, &body).unwrap();
        let now = ts.saturating_add_signed(skew);
        let ok = verifier.verify(&h, &body, now).unwrap();
        if scheme.id_header().is_some() {
            prop_assert_eq!(ok.id(), Some(id.as_str()));
        }
        if scheme.has_timestamp() {
            prop_assert_eq!(ok.timestamp(), Some(ts));
        }
        // Also through http::Request.
        let req = signer.request("https://example.com/h", &id, ts, body.clone()).unwrap();
        prop_assert!(verifier.verify_request(&req, now).is_ok());
    }

    #[test]
    fn any_single_bit_flip_is_rejected(
        scheme in scheme_strategy(),
        key in prop::collection::vec(any::<u8>(), 1..80),
        id in "[!-~]{1,40}",
        ts in 1_000_000_000u64..=2_000_000_000,
        body in prop::collection::vec(any::<u8>(), 1..256),
        target in 0usize..4,
        at in any::<usize>(),
        bit in 0u8..8,
    ) {
        let (signer, verifier) = pair(&scheme, &key);
        let h = signer.sign(&id, ts, &body).unwrap();
        prop_assert!(verifier.verify(&h, &body, ts).is_ok());
        match target {
            0 => {
                let mut b = body.clone();
                let i = at % b.len();
                b[i] ^= 1 << bit;
                prop_assert!(verifier.verify(&h, &b, ts).is_err());
            }
            1 => {
                if let Some(flipped) = flip_header(&h, scheme.signature_header(), at, bit) {
                    prop_assert!(verifier.verify(&flipped, &body, ts).is_err());
                }
            }
            2 => {
                if let Some(name) = scheme.timestamp_header() {
                    if let Some(flipped) = flip_header(&h, name, at, bit) {
                        prop_assert!(verifier.verify(&flipped, &body, ts).is_err());
                    }
                }
            }
            _ => {
                if let Some(name) = scheme.id_header() {
                    if let Some(flipped) = flip_header(&h, name, at, bit) {
                        prop_assert!(verifier.verify(&flipped, &body, ts).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_headers_never_panic(
        scheme in scheme_strategy(),
        values in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 3),
        text in "[ -~]{0,120}",
        body in prop::collection::vec(any::<u8>(), 0..64),
        now in any::<u64>(),
    ) {
        let (_, verifier) = pair(&scheme, b"k");
        let names: Vec<HeaderName> = [
            Some(scheme.signature_header().clone()),
            scheme.id_header().cloned(),
            scheme.timestamp_header().cloned(),
        ].into_iter().flatten().collect();
        let mut h = HeaderMap::new();
        for (name, v) in names.iter().zip(&values) {
            if let Ok(v) = HeaderValue::from_bytes(v) {
                h.append(name.clone(), v);
            }
        }
        let _ = verifier.verify(&h, &body, now);
        // Printable text shaped like each format.
        for value in [text.clone(), format!("v1,{text}"), format!("t={text},v1={text}"), format!("sha256={text}")] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(scheme.signature_header().clone(), v);
                let _ = verifier.verify(&h, &body, now);
            }
        }
    }
}
