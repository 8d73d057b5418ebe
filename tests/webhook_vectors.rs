//! Published test vectors, byte for byte, for every built-in scheme.
#![cfg(feature = "webhook")]

use http::{HeaderMap, HeaderName, HeaderValue};
use webwire::webhook::{CustomScheme, Encoding, Scheme, Secret, Signer, Verifier, VerifyError};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn verifier(scheme: Scheme, secret: &str) -> Verifier {
    let s = Secret::parse(&scheme, secret).unwrap();
    Verifier::new(scheme, s).unwrap()
}

fn signer(scheme: Scheme, secret: &str) -> Signer {
    let s = Secret::parse(&scheme, secret).unwrap();
    Signer::new(scheme, s).unwrap()
}

// Standard Webhooks: the specification's example, also in its reference
// libraries' tests:
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_test.go
const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const STD_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const STD_TS: u64 = 1614265330;
const STD_BODY: &[u8] = br#"{"test": 2432232314}"#;
const STD_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

#[test]
fn standard_webhooks_vector() {
    let h = signer(Scheme::standard(), STD_SECRET)
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    let printed: Vec<_> = h
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(
        printed,
        [
            "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek",
            "webhook-timestamp: 1614265330",
            "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ]
    );
    let v = verifier(Scheme::standard(), STD_SECRET);
    let ok = v.verify(&h, STD_BODY, STD_TS).unwrap();
    assert_eq!(ok.id(), Some(STD_ID));
    assert_eq!(ok.timestamp(), Some(STD_TS));
    assert_eq!(ok.secret_index(), 0);
    // The secret without its prefix, and unpadded base64, are the same key.
    for s in [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(
            verifier(Scheme::standard(), s)
                .verify(&h, STD_BODY, STD_TS)
                .is_ok()
        );
    }
}

// Svix: the same vector with `svix-` headers, from Svix's library tests:
// https://github.com/svix/svix-webhooks/blob/main/python/tests/test_webhooks.py
#[test]
fn svix_vector() {
    let h = signer(Scheme::svix(), STD_SECRET)
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    assert_eq!(h["svix-id"], STD_ID);
    assert_eq!(h["svix-timestamp"], "1614265330");
    assert_eq!(h["svix-signature"], STD_SIG);
    assert!(
        verifier(Scheme::svix(), STD_SECRET)
            .verify(&h, STD_BODY, STD_TS + 299)
            .is_ok()
    );
    // Standard headers do not satisfy the Svix scheme.
    let std = signer(Scheme::standard(), STD_SECRET)
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    assert_eq!(
        verifier(Scheme::svix(), STD_SECRET).verify(&std, STD_BODY, STD_TS),
        Err(VerifyError::MissingHeader(HeaderName::from_static(
            "svix-signature"
        )))
    );
}

// GitHub's documented example:
// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
#[test]
fn github_vector() {
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let h = signer(Scheme::github(), "It's a Secret to Everybody")
        .sign("", 0, b"Hello, World!")
        .unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h["x-hub-signature-256"], sig);
    let v = verifier(Scheme::github(), "It's a Secret to Everybody");
    let ok = v
        .verify(
            &headers(&[("X-Hub-Signature-256", sig)]),
            b"Hello, World!",
            0,
        )
        .unwrap();
    assert_eq!((ok.id(), ok.timestamp()), (None, None));
    // Only the canonical lower-case spelling is accepted.
    let upper = format!("sha256={}", sig[7..].to_ascii_uppercase());
    assert!(matches!(
        v.verify(
            &headers(&[("x-hub-signature-256", &upper)]),
            b"Hello, World!",
            0
        ),
        Err(VerifyError::MalformedSignature(_))
    ));
}

// RFC 4231 §4.3 (HMAC-SHA256 test case 2), for the body-only schemes: key
// "Jefe", data "what do ya want for nothing?".
#[test]
fn rfc4231_case_2_for_body_only_schemes() {
    let hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let body = b"what do ya want for nothing?";
    let gh = signer(Scheme::github(), "Jefe").sign("x", 1, body).unwrap();
    assert_eq!(gh["x-hub-signature-256"], format!("sha256={hex}").as_str());
    // Shopify: the same MAC in base64.
    let b64 = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=";
    let sh = signer(Scheme::shopify(), "Jefe")
        .sign("x", 1, body)
        .unwrap();
    assert_eq!(sh["x-shopify-hmac-sha256"], b64);
    let v = verifier(Scheme::shopify(), "Jefe");
    assert!(
        v.verify(&headers(&[("x-shopify-hmac-sha256", b64)]), body, 0)
            .is_ok()
    );
}

// Shopify publishes no vector; this one was computed independently with
// Python's `hmac` and `base64` modules:
// base64(HMAC-SHA256(b"hush", body)). Algorithm:
// https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
#[test]
fn shopify_vector() {
    let body = br#"{"id":820982911946154500,"email":"jon@doe.ca"}"#;
    let sig = "wuY/uAcd/uKvANugoGH3jTCX9wd4uRKPUIBJI0kNeec=";
    assert_eq!(
        signer(Scheme::shopify(), "hush").sign("", 0, body).unwrap()["x-shopify-hmac-sha256"],
        sig
    );
    let v = verifier(Scheme::shopify(), "hush");
    assert!(
        v.verify(&headers(&[("X-Shopify-Hmac-SHA256", sig)]), body, 0)
            .is_ok()
    );
    // Unpadded base64 is accepted too.
    assert!(
        v.verify(
            &headers(&[("X-Shopify-Hmac-SHA256", sig.trim_end_matches('='))]),
            body,
            0
        )
        .is_ok()
    );
}

// Slack's documented example:
// https://api.slack.com/authentication/verifying-requests-from-slack
const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";

#[test]
fn slack_vector() {
    let sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    let h = signer(Scheme::slack(), "8f742231b10e8888abcd99yyyzzz85a5")
        .sign("", 1531420618, SLACK_BODY.as_bytes())
        .unwrap();
    assert_eq!(h["x-slack-request-timestamp"], "1531420618");
    assert_eq!(h["x-slack-signature"], sig);
    let v = verifier(Scheme::slack(), "8f742231b10e8888abcd99yyyzzz85a5");
    let req = headers(&[
        ("X-Slack-Request-Timestamp", "1531420618"),
        ("X-Slack-Signature", sig),
    ]);
    assert_eq!(
        v.verify(&req, SLACK_BODY.as_bytes(), 1531420618 + 60)
            .unwrap()
            .timestamp(),
        Some(1531420618)
    );
    assert!(matches!(
        v.verify(&req, SLACK_BODY.as_bytes(), 1531420618 + 301),
        Err(VerifyError::TimestampTooOld { .. })
    ));
}

// Stripe publishes the header's shape but no complete vector:
// https://docs.stripe.com/webhooks#verify-manually shows
// `t=1492774577,v1=5257a8…,v0=6ffbb5…` (the `v0` entry being a decoy that
// must be ignored). This vector was produced by Stripe's own Python library
// (stripe 16.1.0, `WebhookSignature.generate_signature_header`) with the
// documented timestamp and `v0` decoy.
const STRIPE_BODY: &str = "{\n  \"id\": \"evt_1Example\",\n  \"object\": \"event\",\n  \"type\": \"payment_intent.succeeded\"\n}";
const STRIPE_SIG: &str =
    "t=1492774577,v1=7583952060329fa75cdb516540540b55bbbbf628e95d2a501748e70b6f370250";

#[test]
fn stripe_vector() {
    let h = signer(Scheme::stripe(), "whsec_test_secret")
        .sign("", 1492774577, STRIPE_BODY.as_bytes())
        .unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h["stripe-signature"], STRIPE_SIG);
    let v = verifier(Scheme::stripe(), "whsec_test_secret");
    let with_decoy =
        format!("{STRIPE_SIG},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39");
    for value in [STRIPE_SIG, with_decoy.as_str()] {
        let ok = v
            .verify(
                &headers(&[("Stripe-Signature", value)]),
                STRIPE_BODY.as_bytes(),
                1492774577,
            )
            .unwrap();
        assert_eq!(ok.timestamp(), Some(1492774577));
    }
    // The key is the whole string: without the prefix it is another key.
    let other = verifier(Scheme::stripe(), "test_secret");
    assert_eq!(
        other.verify(
            &headers(&[("Stripe-Signature", STRIPE_SIG)]),
            STRIPE_BODY.as_bytes(),
            1492774577
        ),
        Err(VerifyError::NoMatchingSignature)
    );
    // A `v0` decoy alone (the docs' fake signature) is not a supported signature.
    let decoy = "t=1492774577,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
    assert_eq!(
        v.verify(
            &headers(&[("Stripe-Signature", decoy)]),
            STRIPE_BODY.as_bytes(),
            1492774577
        ),
        Err(VerifyError::NoSupportedSignature)
    );
}

#[test]
fn custom_scheme_reproduces_github_and_stripe() {
    let mut gh = CustomScheme::new("gh", HeaderName::from_static("x-hub-signature-256"));
    gh.prefix = "sha256=".into();
    let gh = Scheme::custom(gh).unwrap();
    let h = signer(gh.clone(), "It's a Secret to Everybody")
        .sign("", 0, b"Hello, World!")
        .unwrap();
    assert_eq!(
        h["x-hub-signature-256"],
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert!(
        verifier(gh, "It's a Secret to Everybody")
            .verify(&h, b"Hello, World!", 0)
            .is_ok()
    );

    let mut st = CustomScheme::new("st", HeaderName::from_static("x-sig"));
    st.timestamp_header = Some(HeaderName::from_static("x-ts"));
    st.template = "{timestamp}.{body}".into();
    st.prefix = "v1=".into();
    let st = Scheme::custom(st).unwrap();
    let h = signer(st.clone(), "whsec_test_secret")
        .sign("", 1492774577, STRIPE_BODY.as_bytes())
        .unwrap();
    assert_eq!(h["x-ts"], "1492774577");
    assert_eq!(h["x-sig"], &STRIPE_SIG[13..]);
    assert!(
        verifier(st, "whsec_test_secret")
            .verify(&h, STRIPE_BODY.as_bytes(), 1492774577)
            .is_ok()
    );

    // Base64 with an id, Standard-Webhooks-shaped: reproduces that vector too.
    let mut sw = CustomScheme::new("sw", HeaderName::from_static("x-sig"));
    sw.id_header = Some(HeaderName::from_static("x-id"));
    sw.timestamp_header = Some(HeaderName::from_static("x-ts"));
    sw.template = "{id}.{timestamp}.{body}".into();
    sw.encoding = Encoding::Base64;
    sw.prefix = "v1,".into();
    sw.secret_format = webwire::webhook::SecretFormat::Whsec;
    let sw = Scheme::custom(sw).unwrap();
    let h = signer(sw.clone(), STD_SECRET)
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    assert_eq!(h["x-sig"], STD_SIG);
    assert_eq!(
        verifier(sw, STD_SECRET)
            .verify(&h, STD_BODY, STD_TS)
            .unwrap()
            .id(),
        Some(STD_ID)
    );
}

// Standard Webhooks v1a (Ed25519): the reference Go library's signing test:
// https://github.com/standard-webhooks/standard-webhooks/blob/main/libraries/go/webhook_asymmetric_test.go
#[cfg(feature = "ed25519")]
#[test]
fn standard_v1a_vector() {
    let expected = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
    let key = Secret::ed25519_signing("VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
    let prefixed = Secret::parse(
        &Scheme::standard(),
        "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=",
    )
    .unwrap();
    assert_eq!(key.expose_whsk(), prefixed.expose_whsk());
    let h = Signer::new(Scheme::standard(), key.clone())
        .unwrap()
        .sign(STD_ID, STD_TS, STD_BODY)
        .unwrap();
    assert_eq!(h["webhook-signature"], expected);

    // Receivers only need the public key.
    let public = Secret::parse(&Scheme::standard(), &key.ed25519_public_key().unwrap()).unwrap();
    assert!(!public.can_sign());
    let v = Verifier::new(Scheme::standard(), public.clone()).unwrap();
    assert!(v.verify(&h, STD_BODY, STD_TS).is_ok());
    assert_eq!(
        v.verify(&h, b"{\"test\": 2432232315}", STD_TS),
        Err(VerifyError::NoMatchingSignature)
    );
    // A public key cannot sign; Ed25519 keys are Standard Webhooks only.
    assert!(Signer::new(Scheme::standard(), public.clone()).is_err());
    assert!(Verifier::new(Scheme::svix(), public).is_err());
    // v1 and v1a side by side, checked by a verifier holding both kinds of key.
    let hmac = Secret::parse(&Scheme::standard(), STD_SECRET).unwrap();
    let both = Signer::new(Scheme::standard(), hmac.clone())
        .unwrap()
        .with_secret(key.clone())
        .unwrap();
    let h2 = both.sign(STD_ID, STD_TS, STD_BODY).unwrap();
    assert_eq!(
        h2["webhook-signature"],
        format!("{STD_SIG} {expected}").as_str()
    );
    let v_ed = Verifier::new(Scheme::standard(), key).unwrap();
    assert_eq!(
        v_ed.verify(&h2, STD_BODY, STD_TS).unwrap().secret_index(),
        0
    );
    // An HMAC-only verifier facing v1a alone: nothing it can check.
    let v_hmac = Verifier::new(Scheme::standard(), hmac).unwrap();
    assert_eq!(
        v_hmac.verify(&h, STD_BODY, STD_TS),
        Err(VerifyError::NoSupportedSignature)
    );
    // A truncated v1a signature is malformed.
    let trunc = headers(&[
        ("webhook-id", STD_ID),
        ("webhook-timestamp", "1614265330"),
        ("webhook-signature", &expected[..60]),
    ]);
    assert!(matches!(
        v_ed.verify(&trunc, STD_BODY, STD_TS),
        Err(VerifyError::MalformedSignature(_))
    ));
}
