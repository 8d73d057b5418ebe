//! The worker: claims due deliveries, asks each endpoint's gate, sends,
//! records the outcome with webwire's `Delivery`, repeats.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use webwire::webhook::{
    CircuitBreaker, Decision, Delivery, DeliveryState, Endpoint, EndpointGate, EndpointHealth,
    GiveUpReason, HealthStatus, Lease, OutcomeClass, Permit, RetryPolicy, TokenBucket,
};

use crate::send::{MAX_STORED_BODY, attempt, tls_connector};
use crate::store::{BoxError, EndpointRow, Store, Update};
use crate::{build_endpoint, unix_ms, unix_now};

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Attempts in flight at once, over all endpoints.
    pub concurrency: usize,
    /// Exit once no delivery is pending or waiting for a retry.
    pub until_idle: bool,
    /// How long a claim lasts; longer than `timeout`, so a live worker's
    /// claim never runs out under it.
    pub lease: Duration,
    /// One attempt's whole time: connect, send, response head, body start.
    pub timeout: Duration,
    /// This worker's name in leases.
    pub name: String,
    /// Every request through this proxy (else the environment's).
    pub proxy: Option<webwire::proxy::Proxy>,
}

/// Consecutive failed attempts that open an endpoint's circuit breaker.
const BREAKER_THRESHOLD: u32 = 5;
/// The breaker's first cool-down, doubled on each failed probe up to
/// [`BREAKER_MAX_COOL_DOWN_MS`].
const BREAKER_COOL_DOWN_MS: u64 = 2_000;
const BREAKER_MAX_COOL_DOWN_MS: u64 = 120_000;
/// How often endpoints are re-read (new secrets, new endpoints, disables).
const REFRESH: Duration = Duration::from_secs(2);
/// How long an idle worker waits before looking for due deliveries again.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// One endpoint as this worker knows it.
struct Known {
    row: EndpointRow,
    endpoint: Option<(Endpoint, TlsConnector)>,
    policy: RetryPolicy,
    gate: EndpointGate,
    health: EndpointHealth,
    /// The gate said "not before" this (milliseconds).
    blocked_until: u64,
}

impl Known {
    fn new(row: EndpointRow) -> Self {
        let built = build_endpoint(&row)
            .and_then(|endpoint| Ok((endpoint, tls_connector(row.ca.as_deref())?)));
        let endpoint = match built {
            Ok(built) => Some(built),
            Err(e) => {
                eprintln!("webhook_outbox: endpoint {} is unusable: {e}", row.id);
                None
            }
        };
        let policy = serde_json::from_str(&row.policy).unwrap_or_default();
        let mut gate = EndpointGate::new(u32::try_from(row.max_in_flight).unwrap_or(1))
            .with_circuit_breaker(CircuitBreaker::new(
                BREAKER_THRESHOLD,
                BREAKER_COOL_DOWN_MS,
                BREAKER_MAX_COOL_DOWN_MS,
            ));
        if row.rate > 0 {
            let rate = u32::try_from(row.rate).unwrap_or(u32::MAX);
            gate = gate.with_rate_limit(TokenBucket::new(rate, rate));
        }
        Self {
            row,
            endpoint,
            policy,
            gate,
            health: EndpointHealth::new(),
            blocked_until: 0,
        }
    }
}

/// What a finished attempt hands back to the loop.
struct Done {
    endpoint: String,
    permit: Permit,
    class: OutcomeClass,
    decision: Option<Decision>,
}

/// Runs until stopped (Ctrl-C, SIGTERM: in-flight attempts finish first) or,
/// with `until_idle`, until nothing is left to deliver.
pub async fn run(store: Arc<Store>, options: Options) -> Result<(), BoxError> {
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut refreshed: Option<Instant> = None;
    let mut tasks: JoinSet<Result<Done, BoxError>> = JoinSet::new();
    let mut stopping = false;
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let lease_ms = u64::try_from(options.lease.as_millis()).unwrap_or(u64::MAX);

    loop {
        if refreshed.is_none_or(|at| at.elapsed() >= REFRESH) {
            for row in store.endpoints().await? {
                let unchanged = known.get(&row.id).is_some_and(|k| k.row == row);
                if !unchanged {
                    // New or edited (a new secret, re-enabled): start afresh,
                    // keeping the count of attempts still in flight.
                    let in_flight = known.remove(&row.id).map(|k| k.gate);
                    let mut fresh = Known::new(row.clone());
                    if let Some(old) = in_flight
                        && old.in_flight() > 0
                    {
                        fresh.gate = old;
                    }
                    known.insert(row.id.clone(), fresh);
                }
            }
            refreshed = Some(Instant::now());
        }

        let mut claimed_any = false;
        let room = options.concurrency.saturating_sub(tasks.len());
        if !stopping && room > 0 {
            let now_ms = unix_ms();
            let excluded: String = known
                .iter()
                .filter(|(_, k)| {
                    k.endpoint.is_none()
                        || k.blocked_until > now_ms
                        || k.gate.in_flight() >= u32::try_from(k.row.max_in_flight).unwrap_or(1)
                })
                .fold(String::from(","), |acc, (id, _)| acc + id + ",");
            // The rows' lease columns hold a webwire `Lease`; the claim
            // takes rows whose lease is not held (`lease_until <= now`).
            let lease = Lease::grant(options.name.as_str(), now_ms, lease_ms);
            let as_i64 = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            let claimed = store
                .claim(
                    &lease.owner,
                    as_i64(unix_now()),
                    as_i64(now_ms),
                    as_i64(u64::try_from(room).unwrap_or(u64::MAX)),
                    &excluded,
                    as_i64(lease.until),
                )
                .await?;
            claimed_any = !claimed.is_empty();
            for claim in claimed {
                let mut delivery: Delivery = serde_json::from_str(&claim.delivery)?;
                let endpoint_id = delivery.endpoint().0.clone();
                let now_ms = unix_ms();
                let Some(k) = known
                    .get_mut(&endpoint_id)
                    .filter(|k| k.row.disabled.is_none())
                else {
                    // Deleted or disabled: a dead letter, kept for `redeliver`.
                    delivery.cancel(GiveUpReason::Cancelled);
                    let update = update(&delivery, "-".into(), "endpoint disabled or unknown")?;
                    store.finish(&options.name, claim.id, update).await?;
                    continue;
                };
                let Some((endpoint, tls)) = k.endpoint.clone() else {
                    // Unusable as stored (reported when read); excluded
                    // from claims until it is fixed with `endpoint add`.
                    store.unclaim(&options.name, claim.id, 0).await?;
                    continue;
                };
                match k.gate.try_acquire(now_ms) {
                    Ok(permit) => {
                        let store = Arc::clone(&store);
                        let options = options.clone();
                        let policy = k.policy.clone();
                        tasks.spawn(async move {
                            let sent = attempt(
                                &endpoint,
                                &tls,
                                options.proxy.as_ref(),
                                delivery.message(),
                                unix_now(),
                                options.timeout,
                            )
                            .await;
                            let class = policy.classify(&sent.outcome);
                            let decision = delivery.on_outcome(sent.outcome, unix_now()).ok();
                            eprintln!(
                                "webhook_outbox: {} -> {}: {} ({:?})",
                                delivery.webhook_id(),
                                endpoint_id,
                                sent.last_status,
                                delivery.state()
                            );
                            let update = update(&delivery, sent.last_status, &sent.detail)?;
                            if !store.finish(&options.name, claim.id, update).await? {
                                eprintln!(
                                    "webhook_outbox: lease on {} -> {endpoint_id} ran out; another worker took it over",
                                    delivery.webhook_id()
                                );
                            }
                            Ok(Done {
                                endpoint: endpoint_id,
                                permit,
                                class,
                                decision,
                            })
                        });
                    }
                    Err(blocked) => {
                        // Held back, not attempted: its schedule is not used up.
                        let until = blocked.retry_at().unwrap_or(now_ms);
                        k.blocked_until = until;
                        let due = i64::try_from(until.div_ceil(1000)).unwrap_or(i64::MAX);
                        store.unclaim(&options.name, claim.id, due).await?;
                    }
                }
            }
        }

        if tasks.is_empty() {
            if stopping {
                return Ok(());
            }
            if options.until_idle && !claimed_any && store.unfinished().await? == 0 {
                return Ok(());
            }
        }
        let pause = if claimed_any && tasks.len() < options.concurrency {
            Duration::ZERO
        } else {
            IDLE_POLL
        };
        tokio::select! {
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                let done = joined??;
                on_done(&store, &mut known, done).await?;
                // Collect whatever else finished meanwhile.
                while let Some(joined) = tasks.try_join_next() {
                    on_done(&store, &mut known, joined??).await?;
                }
            }
            () = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c(), if !stopping => stopping = true,
            _ = terminate.recv(), if !stopping => stopping = true,
        }
    }
}

/// The gate, the breaker and the endpoint's health learn the outcome.
async fn on_done(
    store: &Store,
    known: &mut HashMap<String, Known>,
    done: Done,
) -> Result<(), BoxError> {
    let now_ms = unix_ms();
    let Some(k) = known.get_mut(&done.endpoint) else {
        return Ok(());
    };
    k.gate.release(done.permit, done.class, now_ms);
    if done.class != OutcomeClass::Retry {
        k.blocked_until = 0;
    }
    if let Some(decision) = done.decision {
        let was_disabled = k.health.is_disabled();
        if let HealthStatus::Disabled { reason, .. } = k.health.record(&decision, unix_now())
            && !was_disabled
        {
            let why = format!("{reason:?}");
            eprintln!("webhook_outbox: endpoint {} disabled: {why}", done.endpoint);
            store.disable_endpoint(&done.endpoint, &why).await?;
            k.row.disabled = Some(why);
        }
    }
    Ok(())
}

/// The columns that mirror a `Delivery` after an attempt.
fn update(delivery: &Delivery, last_status: String, detail: &str) -> Result<Update, BoxError> {
    let state = match delivery.state() {
        DeliveryState::Pending if delivery.attempts().is_empty() => "pending",
        DeliveryState::Pending => "failed",
        DeliveryState::Delivered => "delivered",
        _ => "dead",
    };
    let mut detail = detail.to_owned();
    if detail.len() > MAX_STORED_BODY {
        let mut end = MAX_STORED_BODY;
        while !detail.is_char_boundary(end) {
            end -= 1;
        }
        detail.truncate(end);
    }
    Ok(Update {
        delivery: serde_json::to_string(delivery)?,
        state,
        next_due: delivery
            .next_due()
            .map_or(0, |due| i64::try_from(due).unwrap_or(i64::MAX)),
        attempts: i32::try_from(delivery.attempts().len()).unwrap_or(i32::MAX),
        last_status,
        last_response: detail,
    })
}
