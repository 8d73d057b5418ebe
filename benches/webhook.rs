//! Webhook verification against a bare HMAC-SHA256 of the same bytes.
//!
//! Targets: verify ≤ 1.15× the bare HMAC for a 1 KiB body, ≤ 1.05× for
//! 64 KiB. Two baselines: the HMAC of the body alone, and the HMAC of the
//! bytes Standard Webhooks actually signs (`{id}.{timestamp}.{body}`, fed in
//! the same pieces). Both include keying, as any one-shot HMAC does; the
//! verifier keeps its secrets pre-keyed, which is part of what it offers.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use webwire::webhook::{Scheme, Secret, Signer, Verifier};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn bench(c: &mut Criterion) {
    let key = Secret::parse(&Scheme::standard(), SECRET).unwrap();
    let raw_key = b"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let now = 1_700_000_000;
    let mut group = c.benchmark_group("webhook_verify");
    for size in [1024usize, 64 * 1024] {
        let body: Vec<u8> = (0..size)
            .map(|i| b"{\"k\": \"0123456789abcdef\"}\n"[i % 25])
            .collect();
        group.throughput(Throughput::Bytes(size as u64));
        let label = format!("{}KiB", size / 1024);

        group.bench_with_input(
            BenchmarkId::new("bare_hmac_sha256", &label),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(raw_key).unwrap();
                    mac.update(black_box(body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );

        let id = "msg_2Lh9KXh0hA8nHMTEpmV8gaKGJ0L";
        let prefix = format!("{id}.{now}.");
        group.bench_with_input(
            BenchmarkId::new("bare_hmac_sha256_signed_content", &label),
            &body,
            |b, body| {
                b.iter(|| {
                    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(raw_key).unwrap();
                    mac.update(black_box(prefix.as_bytes()));
                    mac.update(black_box(body));
                    black_box(mac.finalize().into_bytes())
                })
            },
        );

        for scheme in [Scheme::standard(), Scheme::github(), Scheme::stripe()] {
            let secret = if scheme == Scheme::standard() {
                key.clone()
            } else {
                Secret::from_bytes(raw_key).unwrap()
            };
            let signer = Signer::new(scheme.clone(), secret.clone()).unwrap();
            let verifier = Verifier::new(scheme.clone(), secret).unwrap();
            let headers = signer
                .sign("msg_2Lh9KXh0hA8nHMTEpmV8gaKGJ0L", now, &body)
                .unwrap();
            assert!(verifier.verify(&headers, &body, now).is_ok());
            group.bench_with_input(
                BenchmarkId::new(format!("verify_{}", scheme.name()), &label),
                &body,
                |b, body| {
                    b.iter(|| black_box(verifier.verify(black_box(&headers), black_box(body), now)))
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
