//! Delivery state machine, endpoint health, fan-out and event filters; serde
//! round trips and resuming from persisted state.
#![cfg(feature = "webhook")]

use proptest::prelude::*;
use webwire::random::SeededRandom;
use webwire::webhook::{
    Attempt, Decision, Delivery, DeliveryError, DeliveryState, DisableReason, Endpoint,
    EndpointHealth, EndpointId, EventFilter, GiveUpReason, HealthStatus, Jitter, Message, Outcome,
    RetryPolicy, Scheme, Secret, Signer, SsrfPolicy, Verifier, fan_out,
};

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

fn event() -> Message {
    Message::new(
        "msg_2b9vQ",
        "invoice.paid",
        r#"{"invoice":"in_1","amount":42}"#,
    )
}

fn delivery(policy: RetryPolicy) -> Delivery {
    Delivery::new(
        event(),
        "ep_1".into(),
        policy,
        T0,
        &mut SeededRandom::new(9),
    )
}

fn round_trip(delivery: &Delivery) -> Delivery {
    let json = serde_json::to_string(delivery).unwrap();
    let back: Delivery = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, delivery);
    back
}

fn signer(scheme: Scheme) -> Signer {
    let secret = Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    Signer::new(scheme, secret).unwrap()
}

// ---------------------------------------------------------------------------
// Delivery.
// ---------------------------------------------------------------------------

#[test]
fn retries_until_delivered() {
    let mut d = delivery(RetryPolicy::standard_webhooks());
    assert_eq!(d.next_due(), Some(T0));
    assert!(d.is_due(T0));
    assert_eq!(d.webhook_id(), "msg_2b9vQ");
    assert_eq!(d.endpoint(), &EndpointId::from("ep_1"));

    assert_eq!(
        d.on_outcome(Outcome::status(503), T0 + 2),
        Ok(Decision::Retry { delay: 5 })
    );
    assert_eq!(d.next_due(), Some(T0 + 7));
    assert!(!d.is_due(T0 + 6));
    assert_eq!(
        d.on_outcome(Outcome::ConnectionFailed, T0 + 7),
        Ok(Decision::Retry { delay: 300 })
    );
    assert_eq!(d.next_due(), Some(T0 + 307));
    assert_eq!(
        d.on_outcome(Outcome::status(200), T0 + 307),
        Ok(Decision::Delivered)
    );
    assert_eq!(d.state(), DeliveryState::Delivered);
    assert!(d.is_finished());
    assert_eq!(d.next_due(), None);
    assert!(!d.is_due(u64::MAX));
    let times: Vec<u64> = d.attempts().iter().map(|a| a.at).collect();
    assert_eq!(times, [T0 + 2, T0 + 7, T0 + 307]);
    assert_eq!(d.attempts()[0].outcome, Outcome::status(503));

    // Nothing is recorded after the end.
    assert_eq!(
        d.on_outcome(Outcome::status(200), T0 + 400),
        Err(DeliveryError::Finished(DeliveryState::Delivered))
    );
    assert_eq!(d.attempts().len(), 3);
}

#[test]
fn gives_up_after_the_last_scheduled_attempt() {
    let mut d = delivery(RetryPolicy::standard_webhooks());
    let mut now = T0;
    let mut decisions = Vec::new();
    while let Some(due) = d.next_due() {
        now = now.max(due);
        decisions.push(d.on_outcome(Outcome::status(500), now).unwrap());
    }
    assert_eq!(decisions.len(), 10);
    assert_eq!(
        d.state(),
        DeliveryState::Failed {
            reason: GiveUpReason::AttemptsExhausted
        }
    );
    // 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 14 h + 20 h + 24 h.
    assert_eq!(
        now - T0,
        5 + 300 + 1800 + 7200 + 18_000 + 36_000 + 50_400 + 72_000 + 86_400
    );
}

#[test]
fn gone_and_rejected_end_the_delivery() {
    let mut d = delivery(RetryPolicy::svix());
    assert_eq!(
        d.on_outcome(Outcome::status(410), T0),
        Ok(Decision::DisableEndpoint { status: 410 })
    );
    assert_eq!(d.state(), DeliveryState::EndpointGone { status: 410 });

    let mut d = delivery(RetryPolicy::svix());
    d.on_outcome(Outcome::status(422), T0).unwrap();
    assert_eq!(
        d.state(),
        DeliveryState::Failed {
            reason: GiveUpReason::Rejected { status: 422 }
        }
    );

    let mut d = delivery(RetryPolicy::svix());
    d.cancel(GiveUpReason::AttemptsExhausted);
    assert!(d.is_finished());
    assert!(d.on_outcome(Outcome::status(200), T0).is_err());
}

#[test]
fn max_age_ends_the_delivery() {
    let mut policy = RetryPolicy::exponential(60, 2.0, 3600);
    policy.jitter = Jitter::None;
    policy.max_attempts = 100;
    policy.max_age = Some(600);
    let mut d = delivery(policy);
    let mut now = T0;
    while let Some(due) = d.next_due() {
        assert!(due - T0 <= 600);
        now = due;
        d.on_outcome(Outcome::Timeout, now).unwrap();
    }
    // 60 + 120 + 240 = 420; the next 480 would end past 600.
    assert_eq!(now - T0, 420);
    assert_eq!(
        d.state(),
        DeliveryState::Failed {
            reason: GiveUpReason::MaxAgeExceeded
        }
    );
}

#[test]
fn a_clock_going_backwards_counts_as_no_time() {
    let mut d = delivery(RetryPolicy::standard_webhooks());
    d.on_outcome(Outcome::status(503), T0 + 100).unwrap();
    d.on_outcome(Outcome::status(503), T0 + 50).unwrap();
    assert_eq!(d.attempts()[1].at, T0 + 100);
    assert_eq!(d.next_due(), Some(T0 + 400));
    let mut early = Delivery::new(
        event(),
        "ep".into(),
        RetryPolicy::default(),
        T0,
        &mut SeededRandom::new(1),
    );
    early.on_outcome(Outcome::status(503), 0).unwrap();
    assert_eq!(early.attempts()[0].at, T0);
}

#[test]
fn persisted_delivery_resumes_with_the_same_schedule() {
    // With jitter, a restored copy must draw exactly what the original does.
    let mut original = delivery(RetryPolicy::svix());
    let mut now = T0;
    for step in 0..7 {
        let mut restored = round_trip(&original);
        let due = original.next_due().unwrap();
        now = now.max(due);
        let a = original.on_outcome(Outcome::status(503), now);
        let b = restored.on_outcome(Outcome::status(503), now);
        assert_eq!(a, b, "step {step}");
        assert_eq!(original, restored);
    }
    assert_eq!(round_trip(&original).attempts().len(), 7);
}

#[test]
fn different_seeds_give_different_jitter() {
    let run = |seed| {
        let mut d = Delivery::new(
            event(),
            "ep".into(),
            RetryPolicy::svix(),
            T0,
            &mut SeededRandom::new(seed),
        );
        d.on_outcome(Outcome::status(503), T0).unwrap();
        d.on_outcome(Outcome::status(503), T0 + 10).unwrap();
        d.next_due()
    };
    assert_eq!(run(1), run(1));
    assert!((1..20).any(|seed| run(seed) != run(0)));
}

#[test]
fn serde_of_every_delivery_state() {
    for state in [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed {
            reason: GiveUpReason::Rejected { status: 400 },
        },
        DeliveryState::EndpointGone { status: 410 },
    ] {
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<DeliveryState>(&json).unwrap(), state);
    }
    let attempt = Attempt {
        at: T0,
        outcome: Outcome::Timeout,
        decision: Decision::Retry { delay: 10 },
    };
    let json = serde_json::to_string(&attempt).unwrap();
    assert_eq!(serde_json::from_str::<Attempt>(&json).unwrap(), attempt);
    let json = serde_json::to_string(&event()).unwrap();
    assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), event());
    assert_eq!(
        serde_json::to_string(&EndpointId::from("ep_1")).unwrap(),
        r#""ep_1""#
    );
    // A fresh delivery, too.
    round_trip(&delivery(RetryPolicy::exponential(1, 2.0, 10)));
}

// ---------------------------------------------------------------------------
// Endpoint health.
// ---------------------------------------------------------------------------

#[test]
fn health_disables_after_five_days_of_failure() {
    let mut h = EndpointHealth::new();
    assert_eq!(h.disable_after(), 5 * DAY);
    assert_eq!(h.status(), HealthStatus::Healthy);
    let failed = Decision::Retry { delay: 60 };
    for day in 0..5 {
        let status = h.record(&failed, T0 + day * DAY);
        assert!(
            matches!(status, HealthStatus::Failing { since: T0, consecutive_failures } if consecutive_failures == day as u32 + 1),
            "{status:?}"
        );
    }
    assert_eq!(h.failing_since(), Some(T0));
    let status = h.record(
        &Decision::GiveUp {
            reason: GiveUpReason::AttemptsExhausted,
        },
        T0 + 5 * DAY,
    );
    assert_eq!(
        status,
        HealthStatus::Disabled {
            reason: DisableReason::FailingTooLong { since: T0 },
            at: T0 + 5 * DAY
        }
    );
    // A late success does not silently re-enable it.
    assert!(h.record(&Decision::Delivered, T0 + 6 * DAY) != HealthStatus::Healthy);
    h.enable();
    assert_eq!(h.status(), HealthStatus::Healthy);
    assert_eq!(h.consecutive_failures(), 0);
}

#[test]
fn one_success_resets_health() {
    let mut h = EndpointHealth::with_disable_after(3600);
    h.record(&Decision::Retry { delay: 5 }, T0);
    h.record(&Decision::Retry { delay: 5 }, T0 + 3000);
    assert_eq!(h.consecutive_failures(), 2);
    assert_eq!(
        h.record(&Decision::Delivered, T0 + 3100),
        HealthStatus::Healthy
    );
    assert_eq!(h.last_success(), Some(T0 + 3100));
    // The failing clock restarts: an hour from the new first failure.
    h.record(&Decision::Retry { delay: 5 }, T0 + 3200);
    assert!(!h.is_disabled());
    h.record(&Decision::Retry { delay: 5 }, T0 + 3200 + 3599);
    assert!(!h.is_disabled());
    h.record(&Decision::Retry { delay: 5 }, T0 + 3200 + 3600);
    assert!(h.is_disabled());
}

#[test]
fn gone_disables_at_once() {
    let mut h = EndpointHealth::new();
    let status = h.record(&Decision::DisableEndpoint { status: 410 }, T0);
    assert_eq!(
        status,
        HealthStatus::Disabled {
            reason: DisableReason::Gone { status: 410 },
            at: T0
        }
    );
    let json = serde_json::to_string(&h).unwrap();
    assert_eq!(serde_json::from_str::<EndpointHealth>(&json).unwrap(), h);
    let json = serde_json::to_string(&status).unwrap();
    assert_eq!(serde_json::from_str::<HealthStatus>(&json).unwrap(), status);
}

// ---------------------------------------------------------------------------
// Endpoints and fan-out.
// ---------------------------------------------------------------------------

#[test]
fn event_filters() {
    let exact = EventFilter::parse("invoice.paid").unwrap();
    assert!(exact.matches("invoice.paid"));
    assert!(!exact.matches("invoice.paid.late"));
    assert!(!exact.matches("invoice"));
    let prefix = EventFilter::parse("invoice.*").unwrap();
    assert_eq!(prefix, EventFilter::Prefix("invoice.".into()));
    assert!(prefix.matches("invoice.paid"));
    assert!(prefix.matches("invoice.a.b"));
    assert!(!prefix.matches("invoice."));
    assert!(!prefix.matches("invoicex.paid"));
    assert_eq!(EventFilter::parse("*").unwrap(), EventFilter::Any);
    for bad in [
        "",
        "invoice*",
        ".*",
        "*.paid",
        "in*voice.paid",
        "invoice.**",
        "a.*.*",
    ] {
        assert!(EventFilter::parse(bad).is_err(), "{bad}");
    }
    for filter in [exact, prefix, EventFilter::Any] {
        let json = serde_json::to_string(&filter).unwrap();
        assert_eq!(serde_json::from_str::<EventFilter>(&json).unwrap(), filter);
    }
}

#[test]
fn fan_out_signs_for_every_matching_enabled_endpoint() {
    let guard = SsrfPolicy::default();
    let scheme = Scheme::standard();
    let billing = Endpoint::new(
        "billing",
        "https://billing.example.com/hooks",
        signer(scheme.clone()),
        &guard,
    )
    .unwrap()
    .with_filter("invoice.*")
    .unwrap();
    let audit = Endpoint::new(
        "audit",
        "https://audit.example.com/in?x=1",
        signer(scheme.clone()),
        &guard,
    )
    .unwrap();
    let customers = Endpoint::new(
        "customers",
        "https://crm.example.com/",
        signer(scheme.clone()),
        &guard,
    )
    .unwrap()
    .with_filter("customer.created")
    .unwrap();
    let mut paused = Endpoint::new(
        "paused",
        "https://paused.example.com/",
        signer(scheme.clone()),
        &guard,
    )
    .unwrap();
    paused.set_enabled(false);
    let stripe = Endpoint::new(
        "stripe-like",
        "https://other.example.com/",
        signer(Scheme::stripe()),
        &guard,
    )
    .unwrap()
    .with_filter("invoice.paid")
    .unwrap();
    let endpoints = [billing, audit, customers, paused, stripe];

    let now = T0 + 42;
    let dispatches = fan_out(&endpoints, &event(), now).unwrap();
    let ids: Vec<&str> = dispatches.iter().map(|d| d.endpoint.0.as_str()).collect();
    assert_eq!(ids, ["billing", "audit", "stripe-like"]);

    let verifier = Verifier::new(
        scheme.clone(),
        Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
    )
    .unwrap();
    for dispatch in &dispatches[..2] {
        let request = &dispatch.request;
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.headers()["webhook-id"], "msg_2b9vQ");
        assert_eq!(request.body(), event().payload.as_bytes());
        let verified = verifier.verify_request(request, now).unwrap();
        assert_eq!(verified.id(), Some("msg_2b9vQ"));
    }
    assert_eq!(
        dispatches[1].request.uri(),
        "https://audit.example.com/in?x=1"
    );
    assert!(
        dispatches[2]
            .request
            .headers()
            .contains_key("stripe-signature")
    );

    // Nothing matches.
    let other = Message::new("msg_x", "payout.sent", "{}");
    assert_eq!(fan_out(&endpoints, &other, now).unwrap().len(), 1);
    // An id that cannot travel in a header fails for all.
    let bad = Message::new("msg with space", "invoice.paid", "{}");
    assert!(fan_out(&endpoints, &bad, now).is_err());
}

#[test]
fn retries_keep_the_id_and_refresh_the_timestamp() {
    let endpoint = Endpoint::new(
        "ep",
        "https://hooks.example.com/",
        signer(Scheme::standard()),
        &SsrfPolicy::default(),
    )
    .unwrap()
    .with_policy(RetryPolicy::svix());
    let d = endpoint.delivery(
        &event(),
        &RetryPolicy::standard_webhooks(),
        T0,
        &mut SeededRandom::new(1),
    );
    assert_eq!(d.policy(), &RetryPolicy::svix());
    assert_eq!(d.endpoint(), endpoint.id());
    assert_eq!(d.created_at(), T0);
    let first = endpoint.request(d.message(), T0).unwrap();
    let second = endpoint.request(d.message(), T0 + 3600).unwrap();
    assert_eq!(
        first.headers()["webhook-id"],
        second.headers()["webhook-id"]
    );
    assert_ne!(
        first.headers()["webhook-timestamp"],
        second.headers()["webhook-timestamp"]
    );

    let plain = Endpoint::new(
        "ep2",
        "https://hooks.example.com/",
        signer(Scheme::svix()),
        &SsrfPolicy::default(),
    )
    .unwrap();
    assert!(plain.policy().is_none());
    assert!(plain.filters().is_empty());
    assert!(plain.is_enabled());
    assert!(plain.should_receive("anything.at.all"));
    let d = plain.delivery(
        &event(),
        &RetryPolicy::standard_webhooks(),
        T0,
        &mut SeededRandom::new(1),
    );
    assert_eq!(d.policy(), &RetryPolicy::standard_webhooks());
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

fn outcome_strategy() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Timeout),
        Just(Outcome::ConnectionFailed),
        (any::<u16>(), prop::option::of(0u64..100_000)).prop_map(|(status, retry_after)| {
            Outcome::Response {
                status,
                retry_after,
            }
        }),
        Just(Outcome::status(503)),
    ]
}

proptest! {
    /// Any sequence of outcomes at any times: the record grows by one per
    /// accepted outcome, next due times never precede the latest attempt,
    /// attempts stay within the policy's limit and age, and serde
    /// round trips preserve everything.
    #[test]
    fn delivery_invariants(
        outcomes in prop::collection::vec((outcome_strategy(), 0u64..200_000), 1..20),
        seed in any::<u64>(),
        svix in any::<bool>(),
        max_age in prop::option::of(0u64..500_000),
    ) {
        let mut policy = if svix { RetryPolicy::svix() } else { RetryPolicy::standard_webhooks() };
        policy.max_age = max_age;
        let mut d = Delivery::new(event(), "ep".into(), policy.clone(), T0, &mut SeededRandom::new(seed));
        let mut now = T0;
        for (outcome, wait) in outcomes {
            now += wait;
            let before = d.attempts().len();
            match d.on_outcome(outcome, now) {
                Ok(decision) => {
                    prop_assert_eq!(d.attempts().len(), before + 1);
                    prop_assert_eq!(d.attempts().last().map(|a| a.decision), Some(decision));
                    if let Some(due) = d.next_due() {
                        prop_assert!(due >= now);
                        if let Some(max_age) = max_age {
                            prop_assert!(due - T0 <= max_age);
                        }
                    }
                }
                Err(DeliveryError::Finished(_)) => {
                    prop_assert!(d.is_finished());
                    prop_assert_eq!(d.attempts().len(), before);
                }
                Err(other) => prop_assert!(false, "{:?}", other),
            }
            prop_assert!(d.attempts().len() <= policy.attempt_limit() as usize);
            let json = serde_json::to_string(&d).unwrap();
            prop_assert_eq!(serde_json::from_str::<Delivery>(&json).unwrap(), d.clone());
        }
    }
}
