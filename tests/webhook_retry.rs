//! Retry policy: outcome classification, schedules and jitter bounds
//! (property tests), Retry-After (RFC 9110 §10.2.3) vectors, serde round
//! trips.
#![cfg(feature = "webhook")]

use http::{HeaderMap, HeaderValue, Response};
use proptest::prelude::*;
use webwire::random::SeededRandom;
use webwire::webhook::{
    Classification, Decision, GiveUpReason, Jitter, Outcome, OutcomeClass, RetryPolicy, RetryState,
    Schedule, parse_retry_after,
};

/// Sun, 06 Nov 1994 08:49:37 GMT.
const RFC_DATE: u64 = 784_111_777;

fn after(attempts: u32) -> RetryState {
    RetryState {
        attempts,
        ..RetryState::default()
    }
}

fn decide(policy: &RetryPolicy, attempts: u32, outcome: Outcome) -> Decision {
    policy.decide(after(attempts), &outcome, &mut SeededRandom::new(0))
}

// ---------------------------------------------------------------------------
// Classification.
// ---------------------------------------------------------------------------

#[test]
fn classification_defaults() {
    let c = Classification::default();
    let class = |status| c.classify(&Outcome::status(status));
    for status in [200, 201, 202, 204, 299] {
        assert_eq!(class(status), OutcomeClass::Success, "{status}");
    }
    // 409: a receiver's "duplicate in flight"; giving up would lose the event.
    for status in [408, 409, 425, 429, 500, 502, 503, 504, 507, 520, 599] {
        assert_eq!(class(status), OutcomeClass::Retry, "{status}");
    }
    for status in [400, 401, 403, 404, 405, 413, 422, 499] {
        assert_eq!(class(status), OutcomeClass::GiveUp, "{status}");
    }
    for status in [300, 301, 302, 303, 307, 308] {
        assert_eq!(class(status), OutcomeClass::GiveUp, "{status}");
    }
    assert_eq!(class(410), OutcomeClass::DisableEndpoint);
    for status in [0, 100, 101, 199, 600, 999, u16::MAX] {
        assert_eq!(class(status), OutcomeClass::Retry, "{status}");
    }
    assert_eq!(c.classify(&Outcome::Timeout), OutcomeClass::Retry);
    assert_eq!(c.classify(&Outcome::ConnectionFailed), OutcomeClass::Retry);
}

#[test]
fn classification_is_configurable() {
    let mut policy = RetryPolicy::exponential(1, 2.0, 60);
    policy.classification.other_client_errors = OutcomeClass::Retry;
    policy.classification.redirects = OutcomeClass::Retry;
    policy.classification.retry_statuses.retain(|&s| s != 501);
    policy.classification.disable_statuses.push(404);
    policy.classification.other_server_errors = OutcomeClass::GiveUp;
    assert_eq!(policy.classify(&Outcome::status(400)), OutcomeClass::Retry);
    assert_eq!(policy.classify(&Outcome::status(302)), OutcomeClass::Retry);
    assert_eq!(
        policy.classify(&Outcome::status(404)),
        OutcomeClass::DisableEndpoint
    );
    assert_eq!(policy.classify(&Outcome::status(501)), OutcomeClass::GiveUp);
    assert_eq!(policy.classify(&Outcome::status(503)), OutcomeClass::Retry);
}

#[test]
fn decisions_for_each_class() {
    let policy = RetryPolicy::standard_webhooks();
    assert_eq!(
        decide(&policy, 1, Outcome::status(204)),
        Decision::Delivered
    );
    assert_eq!(
        decide(&policy, 1, Outcome::status(410)),
        Decision::DisableEndpoint { status: 410 }
    );
    assert_eq!(
        decide(&policy, 1, Outcome::status(400)),
        Decision::GiveUp {
            reason: GiveUpReason::Rejected { status: 400 }
        }
    );
    assert_eq!(
        decide(&policy, 1, Outcome::status(301)),
        Decision::GiveUp {
            reason: GiveUpReason::Rejected { status: 301 }
        }
    );
    assert_eq!(
        decide(&policy, 1, Outcome::ConnectionFailed),
        Decision::Retry { delay: 5 }
    );
    // Success and permanent failures win over exhausted attempts.
    assert_eq!(
        decide(&policy, 99, Outcome::status(200)),
        Decision::Delivered
    );
}

// ---------------------------------------------------------------------------
// Schedules.
// ---------------------------------------------------------------------------

#[test]
fn standard_webhooks_schedule() {
    let policy = RetryPolicy::standard_webhooks();
    assert_eq!(policy, RetryPolicy::default());
    assert_eq!(policy.first_delay(), 0);
    assert_eq!(policy.attempt_limit(), 10);
    let delays: Vec<Decision> = (1..=10)
        .map(|n| decide(&policy, n, Outcome::status(503)))
        .collect();
    let expected = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400];
    for (decision, delay) in delays.iter().zip(expected) {
        assert_eq!(*decision, Decision::Retry { delay });
    }
    assert_eq!(
        delays[9],
        Decision::GiveUp {
            reason: GiveUpReason::AttemptsExhausted
        }
    );
}

#[test]
fn svix_schedule_has_twenty_percent_jitter() {
    let policy = RetryPolicy::svix();
    assert_eq!(policy.attempt_limit(), 8);
    let expected = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
    let mut random = SeededRandom::new(11);
    for (n, base) in (1..).zip(expected) {
        assert_eq!(
            policy.delay_bounds(after(n)),
            Some((base - base / 5, base + base / 5))
        );
        for _ in 0..50 {
            match policy.decide(after(n), &Outcome::status(500), &mut random) {
                Decision::Retry { delay } => {
                    assert!(
                        (base - base / 5..=base + base / 5).contains(&delay),
                        "{n} {delay}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(policy.delay_bounds(after(8)), None);
}

#[test]
fn exponential_grows_to_its_cap() {
    let mut policy = RetryPolicy::exponential(2, 3.0, 100);
    policy.jitter = Jitter::None;
    let delays: Vec<Decision> = (1..=6)
        .map(|n| decide(&policy, n, Outcome::status(502)))
        .collect();
    let expected = [2, 6, 18, 54, 100, 100];
    for (decision, delay) in delays.iter().zip(expected) {
        assert_eq!(*decision, Decision::Retry { delay });
    }
    policy.max_attempts = 0; // counts as one attempt
    assert_eq!(
        decide(&policy, 1, Outcome::Timeout),
        Decision::GiveUp {
            reason: GiveUpReason::AttemptsExhausted
        }
    );
}

#[test]
fn jitter_kinds_bounds() {
    let mut policy = RetryPolicy::exponential(10, 2.0, 1000);
    let n = 4; // scheduled 80
    policy.jitter = Jitter::Full;
    assert_eq!(policy.delay_bounds(after(n)), Some((0, 80)));
    policy.jitter = Jitter::Equal;
    assert_eq!(policy.delay_bounds(after(n)), Some((40, 80)));
    policy.jitter = Jitter::Proportional { percent: 25 };
    assert_eq!(policy.delay_bounds(after(n)), Some((60, 100)));
    policy.jitter = Jitter::Proportional { percent: 250 };
    assert_eq!(policy.delay_bounds(after(n)), Some((0, 160)));
    policy.jitter = Jitter::Decorrelated;
    let state = RetryState {
        attempts: n,
        elapsed: 0,
        previous_delay: 100,
    };
    assert_eq!(policy.delay_bounds(state), Some((10, 300)));
    let state = RetryState {
        previous_delay: 900,
        ..state
    };
    assert_eq!(policy.delay_bounds(state), Some((10, 1000)));
}

#[test]
fn max_age_gives_up_instead_of_retrying_late() {
    let mut policy = RetryPolicy::standard_webhooks();
    policy.max_age = Some(3600);
    let state = RetryState {
        attempts: 4, // next delay 2 h
        elapsed: 2000,
        previous_delay: 1800,
    };
    assert_eq!(
        policy.decide(state, &Outcome::status(503), &mut SeededRandom::new(1)),
        Decision::GiveUp {
            reason: GiveUpReason::MaxAgeExceeded
        }
    );
    let state = RetryState {
        attempts: 3, // next delay 30 min
        elapsed: 1800,
        previous_delay: 300,
    };
    assert_eq!(
        policy.decide(state, &Outcome::status(503), &mut SeededRandom::new(1)),
        Decision::Retry { delay: 1800 }
    );
}

// ---------------------------------------------------------------------------
// Retry-After and floors.
// ---------------------------------------------------------------------------

#[test]
fn retry_after_delay_seconds() {
    assert_eq!(parse_retry_after(b"0", 5), Some(0));
    assert_eq!(parse_retry_after(b"120", 5), Some(120));
    assert_eq!(parse_retry_after(b" 120\t", 5), Some(120));
    assert_eq!(parse_retry_after(b"007", 5), Some(7));
    assert_eq!(
        parse_retry_after(b"99999999999999999999999999", 5),
        Some(u64::MAX)
    );
}

#[test]
fn retry_after_http_dates_all_three_forms() {
    let forms: [&[u8]; 3] = [
        b"Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
        b"Sunday, 06-Nov-94 08:49:37 GMT", // RFC 850
        b"Sun Nov  6 08:49:37 1994",       // asctime
    ];
    for form in forms {
        let name = String::from_utf8_lossy(form);
        assert_eq!(parse_retry_after(form, RFC_DATE - 90), Some(90), "{name}");
        assert_eq!(parse_retry_after(form, RFC_DATE), Some(0), "{name}");
        // In the past: retry now.
        assert_eq!(parse_retry_after(form, RFC_DATE + 90), Some(0), "{name}");
    }
    // A later date in each form (Wed, 21 Oct 2015 07:28:00 GMT).
    let t = 1_445_412_480;
    for form in [
        &b"Wed, 21 Oct 2015 07:28:00 GMT"[..],
        b"Wednesday, 21-Oct-15 07:28:00 GMT",
        b"Wed Oct 21 07:28:00 2015",
    ] {
        assert_eq!(parse_retry_after(form, t - 3600), Some(3600));
    }
}

#[test]
fn retry_after_invalid_values_are_ignored() {
    let invalid: [&[u8]; 16] = [
        b"",
        b"   ",
        b"-1",
        b"+5",
        b"1.5",
        b"1e3",
        b"12 34",
        b"0x10",
        b"soon",
        b"Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
        b"Sun, 06 Nov 1994 08:49:37 UTC", // not GMT
        b"Sun, 31 Nov 1994 08:49:37 GMT", // no such day
        b"Sun, 06 Nov 1994 25:49:37 GMT", // no such hour
        b"06 Nov 1994 08:49:37 GMT",
        b"Thu, 01 Jan 1970 00:00:00", // truncated
        b"\xff\xfe",
    ];
    for value in invalid {
        assert_eq!(
            parse_retry_after(value, RFC_DATE),
            None,
            "{}",
            String::from_utf8_lossy(value)
        );
    }
}

#[test]
fn outcome_from_response_reads_retry_after() {
    let response = Response::builder()
        .status(503)
        .header("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")
        .body(())
        .unwrap();
    assert_eq!(
        Outcome::from_response(&response, RFC_DATE - 42),
        Outcome::Response {
            status: 503,
            retry_after: Some(42)
        }
    );
    // Repeated or invalid headers are ignored.
    let mut headers = HeaderMap::new();
    headers.append("retry-after", HeaderValue::from_static("5"));
    headers.append("retry-after", HeaderValue::from_static("10"));
    assert_eq!(Outcome::from_parts(429, &headers, 0), Outcome::status(429));
    headers.clear();
    headers.insert("retry-after", HeaderValue::from_static("later"));
    assert_eq!(Outcome::from_parts(429, &headers, 0), Outcome::status(429));
    assert_eq!(Outcome::status(429).http_status(), Some(429));
    assert_eq!(Outcome::Timeout.http_status(), None);
}

#[test]
fn retry_after_lengthens_delays_up_to_its_cap() {
    let mut policy = RetryPolicy::standard_webhooks();
    policy.retry_after_cap = 600;
    let asked = |seconds| Outcome::Response {
        status: 503,
        retry_after: Some(seconds),
    };
    // Lengthens the 5 s delay...
    assert_eq!(
        decide(&policy, 1, asked(120)),
        Decision::Retry { delay: 120 }
    );
    // ...up to the cap...
    assert_eq!(
        decide(&policy, 1, asked(86_400)),
        Decision::Retry { delay: 600 }
    );
    // ...but never shortens the schedule.
    assert_eq!(
        decide(&policy, 3, asked(1)),
        Decision::Retry { delay: 1800 }
    );
    policy.honor_retry_after = false;
    assert_eq!(decide(&policy, 1, asked(120)), Decision::Retry { delay: 5 });
}

#[test]
fn floors_for_429_and_timeouts() {
    let mut policy = RetryPolicy::standard_webhooks();
    policy.min_delay_after_429 = 60;
    policy.min_delay_after_timeout = 20;
    assert_eq!(
        decide(&policy, 1, Outcome::status(429)),
        Decision::Retry { delay: 60 }
    );
    assert_eq!(
        decide(&policy, 1, Outcome::Timeout),
        Decision::Retry { delay: 20 }
    );
    assert_eq!(
        decide(&policy, 1, Outcome::status(503)),
        Decision::Retry { delay: 5 }
    );
    // The floor applies to a short Retry-After too.
    let short = Outcome::Response {
        status: 429,
        retry_after: Some(3),
    };
    assert_eq!(decide(&policy, 1, short), Decision::Retry { delay: 60 });
    // Floors do not shorten long delays.
    assert_eq!(
        decide(&policy, 3, Outcome::status(429)),
        Decision::Retry { delay: 1800 }
    );
}

// ---------------------------------------------------------------------------
// serde.
// ---------------------------------------------------------------------------

#[test]
fn serde_round_trips() {
    let mut custom = RetryPolicy::exponential(3, 1.5, 900);
    custom.jitter = Jitter::Decorrelated;
    custom.max_age = Some(86_400);
    custom.classification.redirects = OutcomeClass::Retry;
    for policy in [
        RetryPolicy::standard_webhooks(),
        RetryPolicy::svix(),
        RetryPolicy::fixed([1, 2, 3]),
        custom,
    ] {
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<RetryPolicy>(&json).unwrap(), policy);
    }
    for decision in [
        Decision::Delivered,
        Decision::Retry { delay: 5 },
        Decision::GiveUp {
            reason: GiveUpReason::Rejected { status: 400 },
        },
        Decision::GiveUp {
            reason: GiveUpReason::MaxAgeExceeded,
        },
        Decision::DisableEndpoint { status: 410 },
    ] {
        let json = serde_json::to_string(&decision).unwrap();
        assert_eq!(serde_json::from_str::<Decision>(&json).unwrap(), decision);
    }
    for outcome in [
        Outcome::status(200),
        Outcome::Response {
            status: 429,
            retry_after: Some(30),
        },
        Outcome::Timeout,
        Outcome::ConnectionFailed,
    ] {
        let json = serde_json::to_string(&outcome).unwrap();
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
    }
    let state = RetryState {
        attempts: 3,
        elapsed: 20,
        previous_delay: 9,
    };
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<RetryState>(&json).unwrap(), state);
    // Readable, and tolerant of missing classification fields.
    assert_eq!(
        serde_json::to_string(&Decision::Retry { delay: 5 }).unwrap(),
        r#"{"retry":{"delay":5}}"#
    );
    let partial: Classification = serde_json::from_str(r#"{"retry_statuses":[503]}"#).unwrap();
    assert_eq!(partial.retry_statuses, vec![503]);
    assert_eq!(partial.disable_statuses, vec![410]);
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

fn jitter_strategy() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        any::<u8>().prop_map(|percent| Jitter::Proportional { percent }),
    ]
}

fn schedule_strategy() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        (0u64..100_000, 0.0f64..10.0, 0u64..1_000_000).prop_map(|(initial, factor, max)| {
            Schedule::Exponential {
                initial,
                factor,
                max,
            }
        }),
        (
            any::<u64>(),
            prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0)],
            any::<u64>()
        )
            .prop_map(|(initial, factor, max)| Schedule::Exponential {
                initial,
                factor,
                max
            }),
        prop::collection::vec(0u64..200_000, 0..14).prop_map(Schedule::Fixed),
    ]
}

prop_compose! {
    fn policy_strategy()(
        schedule in schedule_strategy(),
        jitter in jitter_strategy(),
        max_attempts in 0u32..20,
        max_age in prop::option::of(0u64..2_000_000),
        honor_retry_after in any::<bool>(),
        retry_after_cap in 0u64..100_000,
        min_delay_after_429 in 0u64..1000,
        min_delay_after_timeout in 0u64..1000,
    ) -> RetryPolicy {
        let mut policy = RetryPolicy::standard_webhooks();
        policy.schedule = schedule;
        policy.jitter = jitter;
        policy.max_attempts = max_attempts;
        policy.max_age = max_age;
        policy.honor_retry_after = honor_retry_after;
        policy.retry_after_cap = retry_after_cap;
        policy.min_delay_after_429 = min_delay_after_429;
        policy.min_delay_after_timeout = min_delay_after_timeout;
        policy
    }
}

fn outcome_strategy() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Timeout),
        Just(Outcome::ConnectionFailed),
        (any::<u16>(), prop::option::of(any::<u64>())).prop_map(|(status, retry_after)| {
            Outcome::Response {
                status,
                retry_after,
            }
        }),
        (
            prop::sample::select(vec![429u16, 503, 500]),
            prop::option::of(0u64..200_000)
        )
            .prop_map(|(status, retry_after)| Outcome::Response {
                status,
                retry_after
            }),
    ]
}

/// The largest delay a scheduled schedule entry can have, before jitter.
fn schedule_cap(schedule: &Schedule) -> u64 {
    match schedule {
        Schedule::Exponential { max, .. } => *max,
        Schedule::Fixed(delays) => delays.iter().copied().max().unwrap_or(0),
        _ => u64::MAX,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Every retry delay lies in the jitter bounds, raised only by the
    /// capped Retry-After and the floors; bounds respect the schedule's cap.
    #[test]
    fn delays_stay_within_bounds(
        policy in policy_strategy(),
        attempts in 0u32..25,
        elapsed in 0u64..1_000_000,
        previous_delay in any::<u64>(),
        outcome in outcome_strategy(),
        seed in any::<u64>(),
    ) {
        let state = RetryState { attempts, elapsed, previous_delay };
        let decision = policy.decide(state, &outcome, &mut SeededRandom::new(seed));
        if let Some((low, high)) = policy.delay_bounds(state) {
            prop_assert!(low <= high);
            let cap = schedule_cap(&policy.schedule);
            match policy.jitter {
                Jitter::Proportional { .. } => prop_assert!(high <= cap.saturating_mul(2)),
                _ => prop_assert!(high <= cap),
            }
        }
        if let Decision::Retry { delay } = decision {
            prop_assert_eq!(policy.classify(&outcome), OutcomeClass::Retry);
            let (low, high) = policy.delay_bounds(state).expect("a retry has bounds");
            let mut ceiling = high;
            if let Outcome::Response { retry_after: Some(asked), .. } = outcome {
                if policy.honor_retry_after {
                    ceiling = ceiling.max(asked.min(policy.retry_after_cap));
                }
            }
            match outcome {
                Outcome::Response { status: 429, .. } => {
                    ceiling = ceiling.max(policy.min_delay_after_429);
                    prop_assert!(delay >= policy.min_delay_after_429);
                }
                Outcome::Timeout => {
                    ceiling = ceiling.max(policy.min_delay_after_timeout);
                    prop_assert!(delay >= policy.min_delay_after_timeout);
                }
                _ => {}
            }
            prop_assert!(delay >= low, "{} < {}", delay, low);
            prop_assert!(delay <= ceiling, "{} > {}", delay, ceiling);
            if let Some(max_age) = policy.max_age {
                prop_assert!(elapsed + delay <= max_age);
            }
            prop_assert!(attempts.max(1) < policy.attempt_limit());
        }
    }

    /// Following a policy through failures never schedules an attempt past
    /// the maximum age nor makes more than the allowed attempts.
    #[test]
    fn schedules_respect_max_age_and_attempts(
        policy in policy_strategy(),
        outcomes in prop::collection::vec(outcome_strategy(), 1..30),
        seed in any::<u64>(),
    ) {
        let mut random = SeededRandom::new(seed);
        let mut elapsed = policy.first_delay();
        let mut previous_delay = elapsed;
        let mut attempts = 0;
        for outcome in &outcomes {
            attempts += 1;
            let state = RetryState { attempts, elapsed, previous_delay };
            match policy.decide(state, outcome, &mut random) {
                Decision::Retry { delay } => {
                    elapsed = elapsed.saturating_add(delay);
                    previous_delay = delay;
                    if let Some(max_age) = policy.max_age {
                        prop_assert!(elapsed <= max_age);
                    }
                }
                _ => break,
            }
        }
        prop_assert!(attempts <= policy.attempt_limit());
    }

    /// Same seed, same schedule.
    #[test]
    fn same_seed_same_schedule(
        policy in policy_strategy(),
        outcomes in prop::collection::vec(outcome_strategy(), 1..15),
        seed in any::<u64>(),
    ) {
        let run = || {
            let mut random = SeededRandom::new(seed);
            let mut previous_delay = 0;
            (1u32..).zip(&outcomes)
                .map(|(attempts, outcome)| {
                    let state = RetryState { attempts, elapsed: 0, previous_delay };
                    let decision = policy.decide(state, outcome, &mut random);
                    if let Decision::Retry { delay } = decision {
                        previous_delay = delay;
                    }
                    decision
                })
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(run(), run());
    }

    /// Retry-After never panics and digits always parse.
    #[test]
    fn retry_after_total(value in prop::collection::vec(any::<u8>(), 0..40), now in any::<u64>(), n in any::<u64>()) {
        let _ = parse_retry_after(&value, now);
        prop_assert_eq!(parse_retry_after(n.to_string().as_bytes(), now), Some(n));
    }
}
