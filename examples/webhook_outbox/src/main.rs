//! A durable webhook outbox: webwire's sans-IO delivery engine on SQLite or
//! PostgreSQL, sending with hyper.
//!
//! ```text
//! webhook_outbox [--db URL] endpoint add --id ID --url URL --secret whsec_…
//!                [--events 'invoice.*'] [--schedule 0s,1s,5s,…] [--allow-private]
//!                [--max-in-flight N] [--rate N] [--ca CA.pem]
//! webhook_outbox [--db URL] enqueue --type T [--id MSG_ID] [--ordering-key K] [--jsonl] < payload
//! webhook_outbox [--db URL] worker [--concurrency N] [--until-idle] [--timeout S] [--lease S]
//!                [--proxy URL]
//! webhook_outbox [--db URL] status [--detail]
//! webhook_outbox [--db URL] redeliver [--endpoint ID] [--id MSG_ID]
//! ```
//!
//! `--db` is `sqlite://PATH` (default `sqlite://webhooks.db`) or
//! `postgres://…`. A message is stored with one delivery per matching
//! enabled endpoint, in one transaction; workers (any number, on any
//! machines sharing the database) lease due deliveries, sign each attempt
//! afresh with the endpoint's current secret and the message's unchanging
//! id, and store webwire's `Delivery` state after every attempt. A worker
//! killed mid-attempt loses nothing: its lease runs out and another worker
//! sends again, with the same id (receivers deduplicate on it).
//!
//! Delivery states in `status`: `pending` (not attempted yet), `failed`
//! (the last attempt failed; a retry is scheduled), `delivered`, and `dead`
//! (given up, or its endpoint was disabled: kept, and sent again by
//! `redeliver`).

mod send;
mod store;
mod worker;

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use webwire::random::{RandomSource as _, ThreadRandom};
use webwire::webhook::{
    AddressClass, Delivery, Endpoint, EventFilter, Message, RetryPolicy, Scheme, Secret, Signer,
    SsrfPolicy,
};

use crate::store::{BoxError, EndpointRow, NewMessage, Store};

const USAGE: &str = "usage: webhook_outbox [--db URL] COMMAND ...
  endpoint add --id ID --url URL --secret whsec_... [--events PATTERN[,PATTERN]]
               [--schedule 0s,1s,5s,...] [--allow-private] [--max-in-flight N] [--rate N]
               [--ca CA.pem]
      adds an endpoint, or replaces the one with that id (and re-enables it)
  enqueue --type TYPE [--id MSG_ID] [--ordering-key KEY] [--jsonl] < PAYLOAD
      stores a message for every matching endpoint and prints its id; the same
      --id twice stores it once. --jsonl: one message per stdin line
  worker [--concurrency N] [--until-idle] [--timeout SECONDS] [--lease SECONDS] [--proxy URL]
      delivers until Ctrl-C or SIGTERM (or, with --until-idle, until nothing is
      pending or waiting for a retry)
  status [--detail]
      one line per message and endpoint: MSG_ID ENDPOINT_ID STATE ATTEMPTS LAST_STATUS
      (STATE: pending, failed = retry scheduled, delivered, dead; LAST_STATUS: the
      HTTP status, or timeout, ssrf, proxy, connect, tls, http for a failure before one);
      --detail appends a tab and the start of the last response body, or the error
  redeliver [--endpoint ID] [--id MSG_ID]
      sends dead deliveries again, with the same id and the endpoint's current secret

  --db              sqlite://PATH (default sqlite://webhooks.db) or postgres://USER@HOST:PORT/DB
  --events          event types the endpoint receives: `invoice.paid`, `invoice.*`, `*` (default all)
  --schedule        retry delays, the first attempt's included (default: Standard Webhooks,
                    0s,5s,5m,30m,2h,5h,10h,14h,20h,24h with jitter)
  --allow-private   allow loopback and private addresses (tests, internal receivers);
                    link-local (cloud metadata) stays refused
  --max-in-flight   attempts at once to this endpoint, per worker (default 10)
  --rate            attempts per second to this endpoint, per worker (default: no limit)
  --ca              trust this CA (PEM) for an https:// endpoint, beside Mozilla's roots
  --concurrency     attempts at once, per worker (default 32)
  --timeout         one attempt's time limit (default 15)
  --lease           how long a claim lasts before another worker may take it; more than
                    --timeout (default 60)
  --proxy           send through this proxy: http://[user:pass@]HOST:PORT (CONNECT) or
                    socks5://…; default: HTTPS_PROXY / http_proxy / ALL_PROXY unless NO_PROXY
                    matches. The SSRF guard still checks the resolved address, and the proxy
                    is asked for that address, not the name";

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix milliseconds now.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The SSRF policy an endpoint row asks for: `https://` and `http://`
/// URLs, public addresses (and, with `--allow-private`, loopback and
/// private ones).
fn ssrf_policy(allow_private: bool) -> SsrfPolicy {
    let policy = SsrfPolicy::new().allow_http();
    if allow_private {
        policy
            .allow(AddressClass::Loopback)
            .allow(AddressClass::Private)
            .allow(AddressClass::SharedCgnat)
    } else {
        policy
    }
}

/// The webwire endpoint a stored row describes.
pub fn build_endpoint(row: &EndpointRow) -> Result<Endpoint, BoxError> {
    let scheme = Scheme::standard();
    let secret = Secret::parse(&scheme, &row.secret)?;
    let signer = Signer::new(scheme, secret)?;
    let mut endpoint = Endpoint::new(
        row.id.as_str(),
        &row.url,
        signer,
        &ssrf_policy(row.allow_private),
    )?;
    for pattern in row.filters.split_whitespace() {
        endpoint = endpoint.with_filter(pattern)?;
    }
    Ok(endpoint)
}

/// `0s,1s,5m,2h` (a bare number is seconds) as a fixed retry schedule.
fn parse_schedule(text: &str) -> Result<RetryPolicy, BoxError> {
    let delays = text
        .split(',')
        .map(|d| parse_seconds(d.trim()))
        .collect::<Result<Vec<u64>, _>>()?;
    if delays.is_empty() {
        return Err("--schedule needs at least one delay".into());
    }
    Ok(RetryPolicy::fixed(delays))
}

fn parse_seconds(text: &str) -> Result<u64, BoxError> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 5s, 10m, 2h"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: use s, m, h or d").into()),
    };
    Ok(n.saturating_mul(unit))
}

/// A fresh message id: `msg_` and 26 base-32 characters (130 random bits).
fn new_message_id() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let mut bytes = [0u8; 26];
    ThreadRandom.fill_bytes(&mut bytes);
    let tail: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    format!("msg_{tail}")
}

/// The command line after `--db`: flags of the form `--name value`, and
/// bare switches.
struct Flags(Vec<String>);

impl Flags {
    fn value(&mut self, name: &str) -> Result<Option<String>, BoxError> {
        let Some(i) = self.0.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.0.len() {
            return Err(format!("{name} needs a value").into());
        }
        let value = self.0.remove(i + 1);
        self.0.remove(i);
        Ok(Some(value))
    }

    fn required(&mut self, name: &str) -> Result<String, BoxError> {
        self.value(name)?
            .ok_or_else(|| format!("{name} is required").into())
    }

    fn switch(&mut self, name: &str) -> bool {
        let found = self.0.iter().position(|a| a == name);
        if let Some(i) = found {
            self.0.remove(i);
        }
        found.is_some()
    }

    fn number<T: std::str::FromStr>(&mut self, name: &str, default: T) -> Result<T, BoxError> {
        match self.value(name)? {
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}: `{v}` is not a number").into()),
            None => Ok(default),
        }
    }

    fn done(self) -> Result<(), BoxError> {
        match self.0.first() {
            Some(extra) => Err(format!("unexpected argument `{extra}`").into()),
            None => Ok(()),
        }
    }
}

async fn endpoint_add(store: &Store, mut flags: Flags) -> Result<(), BoxError> {
    let id = flags.required("--id")?;
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        return Err("--id: use letters, digits, `_`, `-` and `.`".into());
    }
    let url = flags.required("--url")?;
    let secret = flags.required("--secret")?;
    let events = flags.value("--events")?.unwrap_or_default();
    let policy = match flags.value("--schedule")? {
        Some(schedule) => parse_schedule(&schedule)?,
        None => RetryPolicy::standard_webhooks(),
    };
    let row = EndpointRow {
        id: id.clone(),
        url,
        secret,
        filters: events.replace(',', " "),
        policy: serde_json::to_string(&policy)?,
        allow_private: flags.switch("--allow-private"),
        max_in_flight: flags.number("--max-in-flight", 10)?.max(1),
        rate: flags.number("--rate", 0)?.max(0),
        disabled: None,
        ca: match flags.value("--ca")? {
            Some(path) => {
                Some(std::fs::read_to_string(&path).map_err(|e| format!("--ca {path}: {e}"))?)
            }
            None => None,
        },
    };
    flags.done()?;
    // Refuse now what the worker would refuse later.
    build_endpoint(&row)?;
    send::tls_connector(row.ca.as_deref())?;
    store.upsert_endpoint(row).await?;
    println!("endpoint {id} saved");
    Ok(())
}

async fn enqueue(store: &mut Store, mut flags: Flags) -> Result<(), BoxError> {
    let event_type = flags.required("--type")?;
    let given_id = flags.value("--id")?;
    let ordering_key = flags.value("--ordering-key")?;
    let jsonl = flags.switch("--jsonl");
    flags.done()?;
    if jsonl && given_id.is_some() {
        return Err("--id names one message; --jsonl enqueues many".into());
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let payloads: Vec<&str> = if jsonl {
        input.lines().filter(|l| !l.trim().is_empty()).collect()
    } else {
        vec![input.as_str()]
    };

    let endpoints: Vec<(Endpoint, RetryPolicy)> = store
        .endpoints()
        .await?
        .iter()
        .filter(|row| row.disabled.is_none())
        .filter_map(|row| {
            let endpoint = build_endpoint(row).ok()?;
            Some((endpoint, serde_json::from_str(&row.policy).ok()?))
        })
        .collect();
    EventFilter::parse(&event_type)
        .map_err(|_| format!("--type `{event_type}` is not an event type"))?;
    let mut out = std::io::stdout().lock();
    for payload in payloads {
        let id = given_id.clone().unwrap_or_else(new_message_id);
        let now = unix_now();
        let message = Message::new(id.clone(), event_type.clone(), payload);
        let mut deliveries = Vec::new();
        for (endpoint, policy) in &endpoints {
            if endpoint.accepts(&event_type) {
                let delivery = Delivery::new(
                    message.clone(),
                    endpoint.id().clone(),
                    policy.clone(),
                    now,
                    &mut ThreadRandom,
                );
                let due = delivery.next_due().unwrap_or(now);
                deliveries.push((
                    endpoint.id().0.clone(),
                    serde_json::to_string(&delivery)?,
                    i64::try_from(due)?,
                ));
            }
        }
        store
            .enqueue(NewMessage {
                id: id.clone(),
                event_type: event_type.clone(),
                payload: payload.to_owned(),
                ordering_key: ordering_key.clone(),
                created_at: i64::try_from(now)?,
                deliveries,
            })
            .await?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

async fn status(store: &Store, detail: bool) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    for row in store.status().await? {
        let last = row.last_status.filter(|s| !s.is_empty());
        write!(
            out,
            "{} {} {} {} {}",
            row.message_id,
            row.endpoint_id,
            row.state,
            row.attempts,
            last.as_deref().unwrap_or("-")
        )?;
        if detail {
            // One line per delivery, whatever the receiver answered.
            let text: String = row
                .last_response
                .unwrap_or_default()
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            write!(out, "\t{text}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

async fn redeliver(store: &Store, mut flags: Flags) -> Result<(), BoxError> {
    let endpoint = flags.value("--endpoint")?.unwrap_or_default();
    let message = flags.value("--id")?.unwrap_or_default();
    flags.done()?;
    let policies: std::collections::HashMap<String, RetryPolicy> = store
        .endpoints()
        .await?
        .into_iter()
        .filter_map(|row| Some((row.id, serde_json::from_str(&row.policy).ok()?)))
        .collect();
    let mut count = 0;
    for dead in store.dead(&endpoint, &message).await? {
        let old: Delivery = serde_json::from_str(&dead.delivery)?;
        // The endpoint's current policy, a fresh schedule, the same message.
        let policy = policies
            .get(&old.endpoint().0)
            .cloned()
            .unwrap_or_else(|| old.policy().clone());
        let now = unix_now();
        let fresh = Delivery::new(
            old.message().clone(),
            old.endpoint().clone(),
            policy,
            now,
            &mut ThreadRandom,
        );
        let due = i64::try_from(fresh.next_due().unwrap_or(now))?;
        if store
            .revive(dead.id, serde_json::to_string(&fresh)?, due)
            .await?
        {
            count += 1;
        }
    }
    println!("redelivering {count}");
    Ok(())
}

async fn run(args: Vec<String>) -> Result<(), BoxError> {
    let mut flags = Flags(args);
    let db = flags
        .value("--db")?
        .unwrap_or_else(|| "sqlite://webhooks.db".into());
    if flags.0.is_empty() || flags.switch("--help") || flags.switch("-h") {
        println!("{USAGE}");
        return Ok(());
    }
    let command = flags.0.remove(0);
    let mut store = Store::open(&db).await?;
    match command.as_str() {
        "endpoint" if flags.0.first().map(String::as_str) == Some("add") => {
            flags.0.remove(0);
            endpoint_add(&store, flags).await
        }
        "enqueue" => enqueue(&mut store, flags).await,
        "status" => {
            let detail = flags.switch("--detail");
            flags.done()?;
            status(&store, detail).await
        }
        "redeliver" => redeliver(&store, flags).await,
        "worker" => {
            let concurrency = flags.number("--concurrency", 32usize)?.max(1);
            let until_idle = flags.switch("--until-idle");
            let timeout = Duration::from_secs_f64(flags.number("--timeout", 15.0f64)?.max(0.1));
            let lease = Duration::from_secs_f64(flags.number("--lease", 60.0f64)?.max(0.2));
            let proxy = match flags.value("--proxy")? {
                Some(url) => Some(webwire::proxy::Proxy::parse(&url)?),
                None => None,
            };
            flags.done()?;
            if lease <= timeout {
                return Err("--lease must be longer than --timeout".into());
            }
            let mut suffix = [0u8; 4];
            ThreadRandom.fill_bytes(&mut suffix);
            let name = format!(
                "worker-{}-{:08x}",
                std::process::id(),
                u32::from_le_bytes(suffix)
            );
            let options = worker::Options {
                concurrency,
                until_idle,
                lease,
                timeout,
                name,
                proxy,
            };
            worker::run(Arc::new(store), options).await
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}").into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        // `status | head`: the reader left; not an error.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("webhook_outbox: {e}");
            ExitCode::FAILURE
        }
    }
}
