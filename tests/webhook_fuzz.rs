//! The `webhook_verify` fuzz target's checks (fuzz/fuzz_targets/webhook_verify.rs
//! includes this file), replayed by `cargo test` over generated inputs.
//!
//! Input layout: byte 0 picks the scheme, bytes 1..9 the clock; the rest is
//! split on NUL into the signature header, timestamp header and id header
//! values (each set only if it is a valid `HeaderValue`) and the body.
//! Invariants: no panic; every error maps to 400/401/409 and displays
//! something; an accepted request's timestamp is within the tolerance; and
//! what `Signer` produces for this body verifies while a flipped body does
//! not.
#![cfg(feature = "webhook")]

use http::{HeaderMap, HeaderValue, StatusCode};
use webwire::webhook::{Scheme, Secret, Signer, Verifier, VerifyError};

const SCHEMES: [&str; 6] = ["standard", "svix", "github", "stripe", "slack", "shopify"];

/// Runs the checks on one fuzz input.
pub fn webhook_verify(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(scheme) = SCHEMES
        .get(usize::from(selector) % SCHEMES.len())
        .and_then(|n| Scheme::by_name(n))
    else {
        return;
    };
    let (clock, rest) = rest.split_at(rest.len().min(8));
    let mut now_bytes = [0u8; 8];
    now_bytes[..clock.len()].copy_from_slice(clock);
    let now = u64::from_le_bytes(now_bytes);

    let mut fields = rest.splitn(4, |&b| b == 0);
    let sig = fields.next().unwrap_or_default();
    let ts = fields.next().unwrap_or_default();
    let id = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();

    let secret = Secret::parse(&scheme, "whsec_ZnV6eiBzZWNyZXQ=").expect("valid secret");
    let verifier = Verifier::new(scheme.clone(), secret.clone()).expect("hmac fits every scheme");

    let mut headers = HeaderMap::new();
    let mut set = |name: Option<&http::HeaderName>, value: &[u8]| {
        if let (Some(name), Ok(v)) = (name, HeaderValue::from_bytes(value)) {
            headers.append(name.clone(), v);
        }
    };
    set(Some(scheme.signature_header()), sig);
    set(scheme.timestamp_header(), ts);
    set(scheme.id_header(), id);

    match verifier.verify(&headers, body, now) {
        Ok(ok) => {
            if let Some(t) = ok.timestamp() {
                assert!(
                    t.abs_diff(now) <= verifier.tolerance(),
                    "accepted a stale timestamp"
                );
            }
            if let Some(id) = ok.id() {
                assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(matches!(
                e.status_hint(),
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::CONFLICT
            ));
        }
    }

    // Round trip with this body, at this clock.
    let signer = Signer::new(scheme.clone(), secret).expect("hmac signs");
    let msg_id = "msg_fuzz";
    let signed = signer.sign(msg_id, now, body).expect("valid id");
    assert!(
        verifier.verify(&signed, body, now).is_ok(),
        "refused its own signature"
    );
    let mut flipped = body.to_vec();
    match flipped.first_mut() {
        Some(b) => *b ^= 0x01,
        None => flipped.push(0),
    }
    assert_eq!(
        verifier.verify(&signed, &flipped, now),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[cfg(test)]
mod tests {
    use webwire::random::{RandomSource, SeededRandom};

    /// Random inputs, and inputs shaped like real headers with random damage.
    #[test]
    fn generated_inputs() {
        let mut rng = SeededRandom::new(0x5eed);
        let shapes: [&[u8]; 8] = [
            b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            b"v1, v1a,AAAA v2,x",
            b"t=1614265330,v1=7583952060329fa75cdb516540540b55bbbbf628e95d2a501748e70b6f370250,v0=1",
            b"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            b"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
            b"wuY/uAcd/uKvANugoGH3jTCX9wd4uRKPUIBJI0kNeec=",
            b"",
            b"t=,v1=,=,,",
        ];
        for i in 0..4000u32 {
            let mut data = vec![(i % 6) as u8];
            data.extend_from_slice(
                &(1_614_265_330u64 + u64::from(rng.next_u32() % 700)).to_le_bytes(),
            );
            let shape = shapes[(rng.next_u32() as usize) % shapes.len()];
            let mut sig = shape.to_vec();
            for _ in 0..(rng.next_u32() % 3) {
                if !sig.is_empty() {
                    let at = (rng.next_u32() as usize) % sig.len();
                    sig[at] = (rng.next_u32() % 256) as u8;
                }
            }
            data.extend_from_slice(&sig);
            data.push(0);
            data.extend_from_slice(if i % 5 == 0 {
                b"01614265330"
            } else {
                b"1614265330"
            });
            data.push(0);
            data.extend_from_slice(b"msg_p5jXN8AQM9LWM0D4loKWxJek");
            data.push(0);
            let len = rng.next_u32() % 64;
            data.extend((0..len).map(|_| (rng.next_u32() % 256) as u8));
            super::webhook_verify(&data);
            // And fully random bytes.
            let mut raw = vec![0u8; (rng.next_u32() % 200) as usize];
            rng.fill_bytes(&mut raw);
            super::webhook_verify(&raw);
        }
    }
}
