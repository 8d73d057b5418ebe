//! Verification behaviour: rejections, tolerance, rotation, replay, `http`
//! integration.

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
