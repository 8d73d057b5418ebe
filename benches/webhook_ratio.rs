//! The figure straight: verification time over a bare HMAC-SHA256
//! of the same bytes, measured as paired, interleaved samples in one process
//! (criterion's separate runs drift by more than the margin on a shared
//! machine). `cargo bench --bench webhook_ratio`; `ROUNDS=n` to change the
//! number of pairs (default 41).
//!
//! Baselines, each a one-shot HMAC (keyed from the raw secret per message):
//! * `body`: the HMAC of the body alone, the strictest reading of "the same
//!   bytes";
//! * `signed`: the HMAC of what the scheme signs, in the same pieces the
//!   verifier feeds (`{id}.{timestamp}.{body}` for Standard Webhooks).
//!
//! Targets: ≤ 1.15× at 1 KiB, ≤ 1.05× at 64 KiB.

use std::hint::black_box;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use webwire::webhook::{Scheme, Secret, Signer, Verifier};

const RAW_KEY: &[u8] = b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_2Lh9KXh0hA8nHMTEpmV8gaKGJ0L";
const NOW: u64 = 1_700_000_000;

fn bare(pieces: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(RAW_KEY).expect("any key size");
    for p in pieces {
        mac.update(black_box(p));
    }
    mac.finalize().into_bytes().into()
}

/// Median time per call of `f` over `rounds` samples, each `iters` calls,
/// interleaved with `g`; returns (median f, median g, median of f/g).
fn paired(rounds: usize, iters: usize, mut f: impl FnMut(), mut g: impl FnMut()) -> [f64; 3] {
    let time = |h: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..iters {
            h();
        }
        t.elapsed().as_nanos() as f64 / iters as f64
    };
    let (mut fs, mut gs, mut rs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first.
        let (a, b) = if round % 2 == 0 {
            let a = time(&mut f);
            (a, time(&mut g))
        } else {
            let b = time(&mut g);
            (time(&mut f), b)
        };
        fs.push(a);
        gs.push(b);
        rs.push(a / b);
    }
    [fs, gs, rs].map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    })
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 41 });
    println!("scheme      body    verify    bare(body)  ratio   bare(signed)  ratio");
    for size in [1024usize, 64 * 1024] {
        let body: Vec<u8> = (0..size)
            .map(|i| b"{\"k\": \"0123456789abcdef\"}\n"[i % 25])
            .collect();
        let iters = if quick {
            10
        } else {
            (20_000_000 / size).max(200)
        };
        for scheme in [
            Scheme::standard(),
            Scheme::svix(),
            Scheme::github(),
            Scheme::stripe(),
            Scheme::slack(),
            Scheme::shopify(),
        ] {
            let secret = match scheme.name() {
                "standard" | "svix" => {
                    Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid")
                }
                _ => Secret::from_bytes(RAW_KEY).expect("valid"),
            };
            let signer = Signer::new(scheme.clone(), secret.clone()).expect("hmac");
            let verifier = Verifier::new(scheme.clone(), secret).expect("hmac");
            let headers = signer.sign(ID, NOW, &body).expect("signs");
            assert!(verifier.verify(&headers, &body, NOW).is_ok());
            let ts = NOW.to_string();
            let signed: Vec<&[u8]> = match scheme.name() {
                "standard" | "svix" => vec![ID.as_bytes(), b".", ts.as_bytes(), b".", &body],
                "stripe" => vec![ts.as_bytes(), b".", &body],
                "slack" => vec![b"v0:", ts.as_bytes(), b":", &body],
                _ => vec![&body],
            };
            let verify = || {
                black_box(verifier.verify(black_box(&headers), black_box(&body), NOW)).ok();
            };
            let [v, b, r_body] = paired(rounds, iters, verify, || {
                black_box(bare(&[&body]));
            });
            let [_, s, r_signed] = paired(rounds, iters, verify, || {
                black_box(bare(&signed));
            });
            println!(
                "{:<10} {:>3} KiB {:>8.0} ns {:>8.0} ns  {:>5.3}x  {:>8.0} ns  {:>5.3}x",
                scheme.name(),
                size / 1024,
                v,
                b,
                r_body,
                s,
                r_signed
            );
        }
    }
}
