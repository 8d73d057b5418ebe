//! Verification behaviour: rejections, tolerance, rotation, replay, `http`
//! integration.
#![cfg(feature = "webhook")]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use webwire::webhook::{
    Admission, DEFAULT_USER_AGENT, InMemoryReplayGuard, Outcome, OutcomeClass, RetryPolicy, Scheme,
    Secret, SecretError, SignError, Signer, Verifier, VerifyError,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS: u64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn std_verifier() -> Verifier {
    let s = Scheme::standard();
    Verifier::new(s.clone(), Secret::parse(&s, SECRET).unwrap()).unwrap()
}

fn std_headers(id: &str, ts: &str, sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("webhook-id", HeaderValue::from_str(id).unwrap());
    h.insert("webhook-timestamp", HeaderValue::from_str(ts).unwrap());
    h.insert("webhook-signature", HeaderValue::from_str(sig).unwrap());
    h
}

fn malformed(r: Result<webwire::webhook::Verified, VerifyError>) -> bool {
    matches!(r, Err(VerifyError::MalformedSignature(_)))
}

#[test]
fn truncated_and_empty_signatures_are_rejected() {
    let v = std_verifier();
    // `v1,` alone was accepted by a published library (a CVE).
    for sig in [
        "v1,",
        "v1",
        ",",
        ",abc",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",
        "v1,g0hM9SsE",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=AAAA",
        "v1,!!!!",
        " ",
        "v2,abc v1,",
        "v1,=",
    ] {
        let r = v.verify(&std_headers(ID, "1614265330", sig), BODY, TS);
        assert!(malformed(r.clone()), "{sig:?}: {r:?}");
        assert_eq!(r.unwrap_err().status_hint(), StatusCode::BAD_REQUEST);
    }
    // An empty header value.
    let mut h = std_headers(ID, "1614265330", SIG);
    h.insert("webhook-signature", HeaderValue::from_static(""));
    assert_eq!(
        v.verify(&h, BODY, TS),
        Err(VerifyError::InvalidHeaderValue(HeaderName::from_static(
            "webhook-signature"
        )))
    );
}

#[test]
fn unknown_versions_only_and_wrong_signatures() {
    let v = std_verifier();
    let r = v.verify(
        &std_headers(
            ID,
            "1614265330",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        BODY,
        TS,
    );
    assert_eq!(r, Err(VerifyError::NoSupportedSignature));
    assert_eq!(r.unwrap_err().status_hint(), StatusCode::UNAUTHORIZED);
    // A well-formed but wrong v1 signature.
    let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    assert_eq!(
        v.verify(&std_headers(ID, "1614265330", wrong), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    // Several signatures: any may match, unknown versions are skipped.
    let multi = format!("{wrong} v2,abc {SIG}  {wrong}");
    assert!(
        v.verify(&std_headers(ID, "1614265330", &multi), BODY, TS)
            .is_ok()
    );
    // Too many signatures.
    let many = vec![wrong; 40].join(" ");
    assert!(malformed(v.verify(
        &std_headers(ID, "1614265330", &many),
        BODY,
        TS
    )));
    // A changed id, timestamp or body.
    assert_eq!(
        v.verify(&std_headers("msg_other", "1614265330", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        v.verify(&std_headers(ID, "1614265331", SIG), BODY, TS),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(
        v.verify(
            &std_headers(ID, "1614265330", SIG),
            b"{\"test\":2432232314}",
            TS
        ),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn timestamps_digits_only_and_within_tolerance() {
    let v = std_verifier();
    for ts in [
        "01614265330",
        "+1614265330",
        "-1614265330",
        "1614265330.0",
        "1e9",
        "0x60378df2",
        "18446744073709551616",
        "1614265330 ",
    ] {
        let mut h = std_headers(ID, "0", SIG);
        h.insert("webhook-timestamp", HeaderValue::from_str(ts).unwrap());
        assert_eq!(
            v.verify(&h, BODY, TS),
            Err(VerifyError::InvalidTimestamp),
            "{ts:?}"
        );
    }
    let h = std_headers(ID, "1614265330", SIG);
    // Exactly at the edges of the default 5-minute window: accepted.
    assert!(v.verify(&h, BODY, TS + 300).is_ok());
    assert!(v.verify(&h, BODY, TS - 300).is_ok());
    assert_eq!(
        v.verify(&h, BODY, TS + 301),
        Err(VerifyError::TimestampTooOld {
            timestamp: TS,
            now: TS + 301,
            tolerance: 300
        })
    );
    assert_eq!(
        v.verify(&h, BODY, TS - 301),
        Err(VerifyError::TimestampTooNew {
            timestamp: TS,
            now: TS - 301,
            tolerance: 300
        })
    );
    // Configurable.
    let tight = std_verifier().with_tolerance(10);
    assert_eq!(tight.tolerance(), 10);
    assert!(tight.verify(&h, BODY, TS + 10).is_ok());
    assert!(tight.verify(&h, BODY, TS + 11).is_err());
    assert!(tight.verify(&h, BODY, 0).is_err());
    assert!(tight.verify(&h, BODY, u64::MAX).is_err());
    // The timestamp is checked before any MAC: a stale forgery reports staleness.
    let forged = std_headers(
        ID,
        "1614265330",
        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    );
    assert!(matches!(
        v.verify(&forged, BODY, TS + 1000),
        Err(VerifyError::TimestampTooOld { .. })
    ));
}

#[test]
fn headers_missing_duplicated_or_not_visible_ascii() {
    let v = std_verifier();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = std_headers(ID, "1614265330", SIG);
        h.remove(name);
        assert_eq!(
            v.verify(&h, BODY, TS),
            Err(VerifyError::MissingHeader(HeaderName::from_static(name)))
        );
        let mut h = std_headers(ID, "1614265330", SIG);
        let dup = h[name].clone();
        h.append(name, dup);
        assert_eq!(
            v.verify(&h, BODY, TS),
            Err(VerifyError::DuplicateHeader(HeaderName::from_static(name)))
        );
        for bad in [&b"a\tb"[..], b"caf\xc3\xa9", b"\x80", b"x\xff"] {
            let mut h = std_headers(ID, "1614265330", SIG);
            h.insert(name, HeaderValue::from_bytes(bad).unwrap());
            assert_eq!(
                v.verify(&h, BODY, TS),
                Err(VerifyError::InvalidHeaderValue(HeaderName::from_static(
                    name
                ))),
                "{name} {bad:?}"
            );
        }
    }
    // An id with a space.
    let mut h = std_headers(ID, "1614265330", SIG);
    h.insert("webhook-id", HeaderValue::from_static("msg 1"));
    assert_eq!(
        v.verify(&h, BODY, TS),
        Err(VerifyError::InvalidHeaderValue(HeaderName::from_static(
            "webhook-id"
        )))
    );
}

#[test]
fn stripe_and_single_signature_formats() {
    let s = Scheme::stripe();
    let v = Verifier::new(s.clone(), Secret::parse(&s, "whsec_x").unwrap()).unwrap();
    let signed = Signer::new(s.clone(), Secret::parse(&s, "whsec_x").unwrap())
        .unwrap()
        .sign("", TS, BODY)
        .unwrap();
    let good = signed["stripe-signature"].to_str().unwrap().to_owned();
    let v1 = &good[good.find(",v1=").unwrap() + 4..];
    let check = |value: &str| {
        let mut h = HeaderMap::new();
        h.insert("stripe-signature", HeaderValue::from_str(value).unwrap());
        v.verify(&h, BODY, TS)
    };
    assert!(check(&good).is_ok());
    assert!(
        check(&format!("v1={v1},t=1614265330")).is_ok(),
        "order does not matter"
    );
    assert!(
        check(&format!("t=1614265330,v1={},v1={v1}", "0".repeat(64))).is_ok(),
        "any v1 may match"
    );
    for bad in [
        "t=1614265330,v1=".to_owned(),
        "t=1614265330,v1".to_owned(),
        format!("t=1614265330,v1={}", &v1[..63]),
        format!("t=1614265330,v1={v1}0"),
        format!("t=1614265330,t=1614265330,v1={v1}"),
        format!("v1={v1}"),
        format!("t=1614265330, v1={v1}"),
    ] {
        assert!(malformed(check(&bad)), "{bad}");
    }
    // Items that cannot be used are skipped, as Stripe's libraries do.
    for ok in [
        format!("t=1614265330,,v1={v1}"),
        format!("t=1614265330,=x,v1={v1}"),
    ] {
        assert!(check(&ok).is_ok(), "{ok}");
    }
    assert_eq!(
        check(&format!("t=01614265330,v1={v1}")),
        Err(VerifyError::InvalidTimestamp)
    );
    assert_eq!(
        check("t=1614265330"),
        Err(VerifyError::NoSupportedSignature)
    );

    let gh = Scheme::github();
    let v = Verifier::new(gh.clone(), Secret::parse(&gh, "k").unwrap()).unwrap();
    let check = |value: &str| {
        let mut h = HeaderMap::new();
        h.insert("x-hub-signature-256", HeaderValue::from_str(value).unwrap());
        v.verify(&h, BODY, 0)
    };
    for bad in [
        "sha256=",
        "sha256",
        "sha1=0000000000000000000000000000000000000000",
        "SHA256=00",
        "sha256= 00",
    ] {
        assert!(malformed(check(bad)), "{bad}");
    }
    assert_eq!(
        check(&format!("sha256={}", "0".repeat(64))),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn secrets_rotation_and_refusals() {
    let s = Scheme::standard();
    assert_eq!(Secret::parse(&s, "").unwrap_err(), SecretError::Empty);
    assert_eq!(Secret::parse(&s, "whsec_").unwrap_err(), SecretError::Empty);
    assert_eq!(
        Secret::parse(&Scheme::github(), "").unwrap_err(),
        SecretError::Empty
    );
    assert_eq!(
        Secret::parse(&s, "whsec_%%%").unwrap_err(),
        SecretError::InvalidBase64
    );

    let old = Secret::parse(&s, "whsec_b2xkIHNlY3JldA==").unwrap();
    let new = Secret::parse(&s, SECRET).unwrap();
    let v = Verifier::new(s.clone(), old.clone())
        .unwrap()
        .with_secret(new.clone())
        .unwrap();
    let h = std_headers(ID, "1614265330", SIG);
    assert_eq!(v.verify(&h, BODY, TS).unwrap().secret_index(), 1);

    // A sender signing with both during rotation.
    let signer = Signer::new(s.clone(), new)
        .unwrap()
        .with_secret(old.clone())
        .unwrap();
    let both = signer.sign(ID, TS, BODY).unwrap();
    let value = both["webhook-signature"].to_str().unwrap();
    assert!(value.starts_with(&format!("{SIG} v1,")), "{value}");
    let only_old = Verifier::new(s.clone(), old).unwrap();
    assert_eq!(only_old.verify(&both, BODY, TS).unwrap().secret_index(), 0);

    // Schemes with one signature per header take one signing secret.
    let gh = Scheme::github();
    let k = Secret::parse(&gh, "a").unwrap();
    assert!(matches!(
        Signer::new(gh.clone(), k.clone())
            .unwrap()
            .with_secret(k.clone()),
        Err(SecretError::SingleSignature { .. })
    ));
    // ...but verify with several.
    assert!(Verifier::new(gh, k.clone()).unwrap().with_secret(k).is_ok());

    // Debug output of signers and verifiers never shows key material.
    let signer_dbg = format!("{signer:?} {v:?}");
    assert!(signer_dbg.contains("<redacted>"));
    assert!(!signer_dbg.contains("MfKQ9r8"), "{signer_dbg}");
}

#[test]
fn sign_refuses_bad_ids_and_urls() {
    let s = Scheme::standard();
    let signer = Signer::new(s.clone(), Secret::parse(&s, SECRET).unwrap()).unwrap();
    for id in ["", "a b", "caf\u{e9}", "a\nb"] {
        assert_eq!(
            signer.sign(id, TS, BODY),
            Err(SignError::InvalidId),
            "{id:?}"
        );
    }
    for url in ["", "not a url", "/relative/path", "example.com"] {
        assert_eq!(
            signer.request(url, ID, TS, BODY.to_vec()).unwrap_err(),
            SignError::InvalidUrl,
            "{url:?}"
        );
    }
    // Schemes without an id ignore it.
    let gh = Scheme::github();
    assert!(
        Signer::new(gh.clone(), Secret::parse(&gh, "k").unwrap())
            .unwrap()
            .sign("", 0, BODY)
            .is_ok()
    );
}

#[test]
fn http_request_round_trip() {
    let s = Scheme::standard();
    let secret = Secret::parse(&s, SECRET).unwrap();
    let signer = Signer::new(s.clone(), secret.clone()).unwrap();
    let req = signer
        .request("https://example.com/hooks?x=1", ID, TS, BODY.to_vec())
        .unwrap();
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.uri(), "https://example.com/hooks?x=1");
    assert_eq!(req.headers()["content-type"], "application/json");
    assert_eq!(req.headers()["user-agent"], DEFAULT_USER_AGENT);
    assert_eq!(req.headers()["webhook-signature"], SIG);
    assert_eq!(req.body(), BODY);

    let v = Verifier::new(s.clone(), secret.clone()).unwrap();
    assert!(v.verify_request(&req, TS + 1).is_ok());
    // Any body type that exposes bytes.
    let (parts, body) = req.into_parts();
    let as_bytes = Request::from_parts(parts.clone(), bytes::Bytes::from(body.clone()));
    assert!(v.verify_request(&as_bytes, TS).is_ok());
    let as_str = Request::from_parts(parts, String::from_utf8(body).unwrap());
    assert!(v.verify_request(&as_str, TS).is_ok());

    // Non-UTF-8 bodies are signed and verified as bytes.
    let binary = vec![0xff, 0x00, 0xc3, 0x28, 0x80];
    let ua = HeaderValue::from_static("acme-hooks/2");
    let req = signer
        .clone()
        .with_user_agent(ua)
        .request("http://127.0.0.1:8080/", ID, TS, binary)
        .unwrap();
    assert_eq!(req.headers()["user-agent"], "acme-hooks/2");
    assert!(v.verify_request(&req, TS).is_ok());

    // `*_now` helpers use the system clock.
    let fresh = signer
        .request_now("https://example.com/", ID, BODY.to_vec())
        .unwrap();
    assert!(v.verify_request_now(&fresh).is_ok());
    assert!(
        v.verify_now(&signer.sign_now(ID, BODY).unwrap(), BODY)
            .is_ok()
    );
}

/// Claims a message and commits it at once (the handler succeeded).
fn process_once(
    v: &Verifier,
    h: &HeaderMap,
    now: u64,
    guard: &mut InMemoryReplayGuard,
) -> Result<bool, VerifyError> {
    match v.verify_and_claim(h, BODY, now, guard)? {
        Admission::Process(claim) => {
            claim.commit(guard, now);
            Ok(true)
        }
        Admission::Duplicate(_) => Ok(false),
    }
}

#[test]
fn replay_guard() {
    let s = Scheme::standard();
    let secret = Secret::parse(&s, SECRET).unwrap();
    let v = Verifier::new(s, secret).unwrap();
    let mut guard = InMemoryReplayGuard::new(v.tolerance(), 1000);
    let h = std_headers(ID, "1614265330", SIG);
    assert_eq!(process_once(&v, &h, TS, &mut guard), Ok(true));
    // A duplicate of a processed message: answer 2xx, process nothing.
    assert_eq!(process_once(&v, &h, TS + 1, &mut guard), Ok(false));
    // Forgeries are not recorded.
    let forged = std_headers("msg_forged", "1614265330", SIG);
    assert_eq!(
        process_once(&v, &forged, TS, &mut guard),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(guard.len(), 1);

    // Without an id (Stripe), the signed content identifies the message, so
    // dropping one of two signatures does not make a replay look new.
    let st = Scheme::stripe();
    let a = Secret::parse(&st, "whsec_a").unwrap();
    let b = Secret::parse(&st, "whsec_b").unwrap();
    let both = Signer::new(st.clone(), a.clone())
        .unwrap()
        .with_secret(b.clone())
        .unwrap()
        .sign("", TS, BODY)
        .unwrap();
    let v = Verifier::new(st, a).unwrap().with_secret(b).unwrap();
    let value = both["stripe-signature"].to_str().unwrap().to_owned();
    let only_b = format!("t=1614265330,{}", value.rsplit(',').next().unwrap());
    let mut h2 = HeaderMap::new();
    h2.insert("stripe-signature", HeaderValue::from_str(&only_b).unwrap());
    assert_eq!(process_once(&v, &both, TS, &mut guard), Ok(true));
    assert_eq!(v.verify(&h2, BODY, TS).unwrap().secret_index(), 1);
    assert_eq!(process_once(&v, &h2, TS, &mut guard), Ok(false));
    // Same body, a new timestamp: a new message.
    let later = Signer::new(
        Scheme::stripe(),
        Secret::parse(&Scheme::stripe(), "whsec_a").unwrap(),
    )
    .unwrap()
    .sign("", TS + 5, BODY)
    .unwrap();
    assert_eq!(process_once(&v, &later, TS + 5, &mut guard), Ok(true));
}

/// The event-loss bug: a receiver whose handler fails after the message was
/// recorded used to refuse the sender's retry as a replay (409), which the
/// default retry policy gave up on. Now the claim is released, the retry is
/// processed, and a duplicate after that is answered as processed.
#[test]
fn a_failed_handler_does_not_lose_the_event() {
    let v = std_verifier();
    let mut guard = InMemoryReplayGuard::new(v.tolerance(), 1000);
    let h = std_headers(ID, "1614265330", SIG);

    // Attempt 1: claimed, the handler fails (answer 500), the claim is released.
    let Ok(Admission::Process(claim)) = v.verify_and_claim(&h, BODY, TS, &mut guard) else {
        panic!("first delivery not admitted");
    };
    assert_eq!(claim.verified().id(), Some(ID));
    assert_eq!(claim.key().as_str(), format!("id:{ID} standard"));
    let verified = claim.release(&mut guard, TS);
    assert_eq!(verified.id(), Some(ID));
    assert!(guard.is_empty());
    // The sender's policy retries the 500.
    let policy = RetryPolicy::standard_webhooks();
    assert_eq!(policy.classify(&Outcome::status(500)), OutcomeClass::Retry);

    // Attempt 2 is processed this time.
    let Ok(Admission::Process(claim)) = v.verify_and_claim(&h, BODY, TS + 5, &mut guard) else {
        panic!("the retry after a failure was not processed");
    };
    // A concurrent duplicate while attempt 2 runs: 409, which the sender retries.
    let busy = v
        .verify_and_claim(&h, BODY, TS + 6, &mut guard)
        .unwrap_err();
    assert_eq!(busy, VerifyError::InProgress);
    assert_eq!(busy.status_hint(), StatusCode::CONFLICT);
    assert_eq!(
        policy.classify(&Outcome::status(busy.status_hint().as_u16())),
        OutcomeClass::Retry
    );
    claim.commit(&mut guard, TS + 7);

    // Attempt 3 (the 200 was lost): a duplicate, answered 2xx, not processed.
    assert!(matches!(
        v.verify_and_claim(&h, BODY, TS + 60, &mut guard),
        Ok(Admission::Duplicate(d)) if d.id() == Some(ID)
    ));
}

/// A claim whose processor died (neither committed nor released) blocks
/// duplicates for the lease only.
#[test]
fn an_abandoned_claim_expires_with_its_lease() {
    let v = std_verifier();
    let mut guard = InMemoryReplayGuard::new(v.tolerance(), 1000).with_lease(20);
    let h = std_headers(ID, "1614265330", SIG);
    assert!(matches!(
        v.verify_and_claim(&h, BODY, TS, &mut guard),
        Ok(Admission::Process(_))
    ));
    assert_eq!(
        v.verify_and_claim(&h, BODY, TS + 19, &mut guard)
            .unwrap_err(),
        VerifyError::InProgress
    );
    assert!(matches!(
        v.verify_and_claim(&h, BODY, TS + 20, &mut guard),
        Ok(Admission::Process(_))
    ));
}

/// Replay keys are scoped: two senders using the same scheme and the same
/// message id do not shadow each other in one guard.
#[test]
fn replay_keys_are_scoped_per_sender() {
    let s = Scheme::standard();
    let a = Secret::parse(&s, SECRET).unwrap();
    let b = Secret::parse(&s, "whsec_c2Vjb25kIHNlbmRlcidzIHNlY3JldA==").unwrap();
    let va = Verifier::new(s.clone(), a.clone())
        .unwrap()
        .with_replay_scope("sender-a");
    let vb = Verifier::new(s.clone(), b.clone())
        .unwrap()
        .with_replay_scope("sender-b");
    assert_eq!(va.scope(), "sender-a");
    assert_eq!(std_verifier().scope(), "standard");
    let ha = Signer::new(s.clone(), a)
        .unwrap()
        .sign("msg_1", TS, BODY)
        .unwrap();
    let hb = Signer::new(s, b).unwrap().sign("msg_1", TS, BODY).unwrap();
    let mut guard = InMemoryReplayGuard::new(300, 1000);
    assert_eq!(process_once(&va, &ha, TS, &mut guard), Ok(true));
    assert_eq!(process_once(&vb, &hb, TS, &mut guard), Ok(true));
    assert_eq!(process_once(&va, &ha, TS, &mut guard), Ok(false));
    assert_eq!(guard.len(), 2);
}

/// Entries that cannot be used are skipped, as the reference libraries do:
/// a header fails only when nothing in it verifies.
#[test]
fn unusable_entries_beside_a_valid_one_are_skipped() {
    let v = std_verifier();
    for junk in [
        "v1a,AAAA",    // a truncated v1a signature (another version)
        "v2",          // no comma
        "v1,short",    // a malformed entry of our version
        ",abc",        // no version
        "v1,",         // empty
        "v%,AAAA",     // invalid version characters
        "v1a,!!!!!!!", // not base64
    ] {
        for sig in [format!("{junk} {SIG}"), format!("{SIG} {junk}")] {
            let r = v.verify(&std_headers(ID, "1614265330", &sig), BODY, TS);
            assert!(r.is_ok(), "{sig:?}: {r:?}");
        }
        // Alone, or next to a wrong signature, it still fails.
        let wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
        let r = v.verify(
            &std_headers(ID, "1614265330", &format!("{junk} {wrong}")),
            BODY,
            TS,
        );
        assert_eq!(r, Err(VerifyError::NoMatchingSignature), "{junk:?}");
    }
    // Stripe: a malformed item beside a valid `v1=` is skipped too.
    let st = Scheme::stripe();
    let secret = Secret::parse(&st, "whsec_a").unwrap();
    let signed = Signer::new(st.clone(), secret.clone())
        .unwrap()
        .sign("", TS, BODY)
        .unwrap();
    let good = signed["stripe-signature"].to_str().unwrap();
    let vs = Verifier::new(st, secret).unwrap();
    for junk in ["v1=zz", "junk", "=x", "v0=", "v1=abc"] {
        let mut h = HeaderMap::new();
        let value = format!("{junk},{good}");
        h.insert("stripe-signature", HeaderValue::from_str(&value).unwrap());
        assert!(vs.verify(&h, BODY, TS).is_ok(), "{value:?}");
    }
}

/// Every way a secret or a signature could be written out.
fn forms(raw: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        STANDARD.encode(raw),
        STANDARD_NO_PAD.encode(raw),
        URL_SAFE_NO_PAD.encode(raw),
        hex.to_ascii_uppercase(),
        format!("{raw:?}"),
        format!("{raw:x?}"),
        hex,
    ];
    if let Ok(text) = std::str::from_utf8(raw) {
        out.push(text.to_owned());
    }
    // Truncated renderings give a forger a head start too.
    let parts: Vec<String> = out
        .iter()
        .filter(|f| f.len() >= 24)
        .flat_map(|f| [f[..16].to_owned(), f[f.len() - 16..].to_owned()])
        .collect();
    out.extend(parts);
    out
}

/// The MACs (32 bytes) and Ed25519 signatures (64 bytes) a signature header
/// carries, decoded.
fn signatures_in(value: &str) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    value
        .split([' ', ','])
        // `v1=…`, `sha256=…`, `v0=…` or the bare signature.
        .flat_map(|t| [Some(t), t.split_once('=').map(|(_, s)| s)])
        .flatten()
        .filter_map(|token| {
            let hex =
                (token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
                    (0..32)
                        .map(|i| u8::from_str_radix(&token[2 * i..2 * i + 2], 16).unwrap())
                        .collect::<Vec<u8>>()
                });
            hex.or_else(|| STANDARD.decode(token).ok())
                .or_else(|| STANDARD_NO_PAD.decode(token).ok())
        })
        .filter(|raw| raw.len() == 32 || raw.len() == 64)
        .collect()
}

#[track_caller]
fn assert_clean(what: &str, text: &str, needles: &[String]) {
    for needle in needles {
        assert!(
            !text.contains(needle.as_str()),
            "{what} shows `{needle}`: {text}"
        );
    }
}

/// Formats a value both ways, `{:?}` and `{:#?}`.
fn debug_of(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}\n{value:#?}")
}

/// Formats an error every way: `{}`, `{:?}`, `{:#?}`, and its sources.
fn error_of(error: &(impl std::error::Error + 'static)) -> String {
    let mut out = format!("{error}\n{error:?}\n{error:#?}");
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    out
}

/// No `Debug` output and no error message, of any type a sender or a
/// receiver handles, shows a secret (as given, as raw bytes in hex or
/// base64, or the start or end of either) or a signature that would verify
/// (the one sent, or the one expected for a forged body).
#[test]
fn no_output_shows_a_secret_or_a_signature() {
    use webwire::random::SeededRandom;
    use webwire::webhook::{
        Delivery, Endpoint, EndpointError, Message, SsrfError, SsrfPolicy, fan_out,
    };

    let cases: Vec<(Scheme, &str, Vec<u8>)> = {
        use base64::Engine as _;
        let standard_raw = base64::engine::general_purpose::STANDARD
            .decode(SECRET.strip_prefix("whsec_").unwrap())
            .unwrap();
        vec![
            (Scheme::standard(), SECRET, standard_raw.clone()),
            (Scheme::svix(), SECRET, standard_raw),
            (
                Scheme::stripe(),
                "whsec_stripe_test_secret_1234",
                b"whsec_stripe_test_secret_1234".to_vec(),
            ),
            (
                Scheme::github(),
                "github-webhook-secret-5678",
                b"github-webhook-secret-5678".to_vec(),
            ),
            (
                Scheme::slack(),
                "8f742231b10e8888abcd99yyyzzz85a5",
                b"8f742231b10e8888abcd99yyyzzz85a5".to_vec(),
            ),
            (
                Scheme::shopify(),
                "shpss_0123456789abcdef0123456789ab",
                b"shpss_0123456789abcdef0123456789ab".to_vec(),
            ),
        ]
    };
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut needles: Vec<String> = Vec::new();
    let mut push = |what: String, text: String| outputs.push((what, text));
    let guard = SsrfPolicy::default();
    let forged_body = br#"{"test": 1}"#;

    for (scheme, text, raw) in &cases {
        let name = scheme.name().to_owned();
        let secret = Secret::parse(scheme, text).unwrap();
        needles.extend(forms(raw));
        needles.push((*text).to_owned());
        if let Some(whsec) = secret.expose_whsec() {
            needles.push(whsec.clone());
        }
        let signer = Signer::new(scheme.clone(), secret.clone()).unwrap();
        let signed = signer.sign(ID, TS, BODY).unwrap();
        let value = signed[scheme.signature_header()]
            .to_str()
            .unwrap()
            .to_owned();
        let sent = signatures_in(&value);
        assert!(!sent.is_empty(), "{name}: {value}");
        for sig in &sent {
            needles.extend(forms(sig));
        }
        // What a forger would need for another body.
        let forged = signer.sign(ID, TS, forged_body).unwrap();
        let forged_value = forged[scheme.signature_header()].to_str().unwrap();
        for sig in signatures_in(forged_value) {
            needles.extend(forms(&sig));
        }

        push(format!("{name} secret"), debug_of(&secret));
        push(format!("{name} signer"), debug_of(&signer));
        push(format!("{name} signed headers"), debug_of(&signed));
        let request = signer
            .request("https://hooks.example.com/in", ID, TS, BODY.to_vec())
            .unwrap();
        push(format!("{name} signed request"), debug_of(&request));
        let verifier = Verifier::new(scheme.clone(), secret.clone())
            .unwrap()
            .with_secret(Secret::from_bytes(b"another secret, for rotation").unwrap())
            .unwrap();
        push(format!("{name} verifier"), debug_of(&verifier));
        let headers = request.headers();
        let verified = verifier.verify(headers, BODY, TS).unwrap();
        push(format!("{name} verified"), debug_of(&verified));
        let mut replay = InMemoryReplayGuard::new(verifier.tolerance(), 100);
        let admission = verifier
            .verify_and_claim(headers, BODY, TS, &mut replay)
            .unwrap();
        push(format!("{name} admission"), debug_of(&admission));
        if let Admission::Process(claim) = admission {
            claim.commit(&mut replay, TS);
        }
        push(format!("{name} replay guard"), debug_of(&replay));
        let again = verifier
            .verify_and_claim(headers, BODY, TS, &mut replay)
            .unwrap();
        push(format!("{name} duplicate"), debug_of(&again));

        // Every verification error that can be provoked with this scheme.
        let mut errors: Vec<VerifyError> = vec![
            verifier.verify(headers, forged_body, TS).unwrap_err(),
            verifier.verify(&HeaderMap::new(), BODY, TS).unwrap_err(),
        ];
        if scheme.has_timestamp() {
            errors.push(verifier.verify(headers, BODY, TS + 86_400).unwrap_err());
            errors.push(verifier.verify(headers, BODY, TS - 86_400).unwrap_err());
        }
        let mut doubled = headers.clone();
        doubled.append(
            scheme.signature_header().clone(),
            HeaderValue::from_static("x"),
        );
        errors.push(verifier.verify(&doubled, BODY, TS).unwrap_err());
        let mut bad = headers.clone();
        bad.insert(
            scheme.signature_header().clone(),
            HeaderValue::from_static("v9,abc"),
        );
        errors.push(verifier.verify(&bad, BODY, TS).unwrap_err());
        bad.insert(
            scheme.signature_header().clone(),
            HeaderValue::from_static("v9,abc t=1"),
        );
        errors.push(verifier.verify(&bad, BODY, TS).unwrap_err());
        bad.insert(
            scheme.signature_header().clone(),
            HeaderValue::from_bytes(b"v1,\xe9").unwrap(),
        );
        errors.push(verifier.verify(&bad, BODY, TS).unwrap_err());
        if let Some(ts) = scheme.timestamp_header() {
            let mut bad_ts = headers.clone();
            bad_ts.insert(ts.clone(), HeaderValue::from_static("-1"));
            errors.push(verifier.verify(&bad_ts, BODY, TS).unwrap_err());
        }
        let mut busy = InMemoryReplayGuard::new(verifier.tolerance(), 100);
        let _held = verifier
            .verify_and_claim(headers, BODY, TS, &mut busy)
            .unwrap();
        errors.push(
            verifier
                .verify_and_claim(headers, BODY, TS, &mut busy)
                .unwrap_err(),
        );
        for e in &errors {
            push(format!("{name} {e:?}"), error_of(e));
        }

        // Sender side: endpoints, fan-out, deliveries.
        let endpoint = Endpoint::new(
            "ep_1",
            "https://hooks.example.com/in",
            signer.clone(),
            &guard,
        )
        .unwrap()
        .with_filter("invoice.*")
        .unwrap();
        push(format!("{name} endpoint"), debug_of(&endpoint));
        let event = Message::new(ID, "invoice.paid", std::str::from_utf8(BODY).unwrap());
        let dispatched = fan_out([&endpoint], &event, TS).unwrap();
        push(format!("{name} dispatch"), debug_of(&dispatched));
        let delivery: Delivery = endpoint.delivery(
            &event,
            &RetryPolicy::default(),
            TS,
            &mut SeededRandom::new(1),
        );
        push(format!("{name} delivery"), debug_of(&delivery));
        push(
            format!("{name} endpoint request"),
            debug_of(&endpoint.request(&event, TS).unwrap()),
        );
        let mut sign_errors = vec![
            signer
                .request("not a url", ID, TS, BODY.to_vec())
                .unwrap_err(),
        ];
        if scheme.id_header().is_some() {
            sign_errors.push(signer.sign("bad id", TS, BODY).unwrap_err());
        }
        for e in &sign_errors {
            push(format!("{name} {e:?}"), error_of(e));
        }
        if !scheme.allows_several_signatures() {
            let e = signer.clone().with_secret(secret.clone()).unwrap_err();
            push(format!("{name} {e:?}"), error_of(&e));
        }
    }

    // Secret errors, fed material close to the real secrets.
    let mut secret_errors: Vec<SecretError> = vec![
        Secret::parse(&Scheme::standard(), "whsec_").unwrap_err(),
        Secret::parse(&Scheme::standard(), &format!("{SECRET}!")).unwrap_err(),
        Secret::from_whsec(&format!("{}*", &SECRET[6..])).unwrap_err(),
        Secret::from_bytes([]).unwrap_err(),
    ];
    #[cfg(not(feature = "ed25519"))]
    secret_errors
        .push(Secret::parse(&Scheme::standard(), &format!("whsk_{}", &SECRET[6..])).unwrap_err());
    #[cfg(feature = "ed25519")]
    {
        let seed = "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=";
        let key = Secret::ed25519_signing(seed).unwrap();
        let whsk = key.expose_whsk().unwrap();
        {
            use base64::Engine as _;
            needles.extend(forms(
                &base64::engine::general_purpose::STANDARD
                    .decode(seed)
                    .unwrap(),
            ));
        }
        needles.push(whsk.clone());
        let scheme = Scheme::standard();
        let signer = Signer::new(scheme.clone(), key.clone()).unwrap();
        let signed = signer.sign(ID, TS, BODY).unwrap();
        let value = signed["webhook-signature"].to_str().unwrap().to_owned();
        let sent = signatures_in(&value);
        assert!(sent.iter().any(|s| s.len() == 64), "{value}");
        for sig in &sent {
            needles.extend(forms(sig));
        }
        let public = Secret::parse(&scheme, &key.ed25519_public_key().unwrap()).unwrap();
        let verifier = Verifier::new(scheme.clone(), public.clone()).unwrap();
        push("ed25519 secret".into(), debug_of(&key));
        push("ed25519 public".into(), debug_of(&public));
        push("ed25519 signer".into(), debug_of(&signer));
        push("ed25519 signed".into(), debug_of(&signed));
        push("ed25519 verifier".into(), debug_of(&verifier));
        let e = verifier.verify(&signed, forged_body, TS).unwrap_err();
        push(format!("ed25519 {e:?}"), error_of(&e));
        secret_errors.push(Secret::ed25519_signing(&whsk[..whsk.len() - 4]).unwrap_err());
        secret_errors.push(Secret::ed25519_public(&whsk[5..]).unwrap_err());
        secret_errors.push(Signer::new(scheme, public).unwrap_err());
        secret_errors.push(Verifier::new(Scheme::github(), key).unwrap_err());
    }
    for e in &secret_errors {
        push(format!("{e:?}"), error_of(e));
    }

    // SSRF errors, some with a secret where a careless caller put one.
    let ssrf_errors: Vec<SsrfError> = vec![
        guard.check_url("not a url").unwrap_err(),
        guard
            .check_url(&format!("ftp://hooks.example.com/{SECRET}"))
            .unwrap_err(),
        guard
            .check_url(&format!("https://user:{}@hooks.example.com/", &SECRET[6..]))
            .unwrap_err(),
        guard.check_url("https://exa$mple.com/").unwrap_err(),
        guard.check_url("https://0x7f.1/").unwrap_err(),
        guard.check_url("https://169.254.169.254/").unwrap_err(),
        guard.check_resolved([]).unwrap_err(),
    ];
    for e in &ssrf_errors {
        push(format!("{e:?}"), error_of(e));
    }
    let scheme = Scheme::standard();
    let signer = Signer::new(scheme.clone(), Secret::parse(&scheme, SECRET).unwrap()).unwrap();
    let endpoint_errors: Vec<EndpointError> = vec![
        Endpoint::new("ep", "https://10.0.0.1/", signer.clone(), &guard).unwrap_err(),
        Endpoint::new("ep", "https://hooks.example.com/", signer, &guard)
            .unwrap()
            .with_filter("in*voice")
            .unwrap_err(),
    ];
    for e in &endpoint_errors {
        push(format!("{e:?}"), error_of(e));
    }

    needles.sort();
    needles.dedup();
    assert!(outputs.len() > 60, "{}", outputs.len());
    for (what, text) in &outputs {
        assert_clean(what, text, &needles);
    }
}
