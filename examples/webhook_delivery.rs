//! Webhook delivery end to end on loopback: `cargo run --example webhook_delivery`.
//!
//! A sender fans one signed event out to two local receivers: `orders`
//! sheds load twice (503 with a `Retry-After`, once in seconds, once as an
//! HTTP-date) and then accepts; `legacy` answers 410 Gone and is disabled.
//! The sender follows its retry policy on a virtual clock: delays move a
//! shared `now` forward instead of sleeping. Then the accepted request
//! arrives again (a retry after a lost 200, or an attacker's replay): the
//! replay guard answers 200 without processing it twice. Its body tampered
//! with, it is refused by the signature check.
//!
//! The library decides; this file does the I/O with `std::net` and threads.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Request};
use webwire::random::SeededRandom;
use webwire::webhook::{
    AddressClass, Admission, Decision, Delivery, Endpoint, EndpointHealth, HealthStatus,
    InMemoryReplayGuard, Message, Outcome, RetryPolicy, Scheme, Secret, Signer, SsrfPolicy,
    Verifier, fan_out,
};

type BoxError = Box<dyn Error + Send + Sync>;

/// The virtual clock's start (unix seconds).
const T0: u64 = 1_700_000_000;
/// Real-time limit for any socket operation.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn Error>> {
    webhook_tour(&mut std::io::stdout().lock())
}

/// Runs the whole demo, writing the timeline to `out`.
pub fn webhook_tour(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let clock = Arc::new(AtomicU64::new(T0));
    let processed = Arc::new(AtomicU64::new(0));
    let (log_tx, log_rx) = channel::<String>();
    let mut random = SeededRandom::new(2024);
    let scheme = Scheme::standard();
    let orders_secret = Secret::generate(&mut random);
    let legacy_secret = Secret::generate(&mut random);

    // --- Receivers -------------------------------------------------------
    let orders = {
        let verifier = Verifier::new(scheme.clone(), orders_secret.clone())?;
        let mut guard = InMemoryReplayGuard::new(verifier.tolerance(), 10_000);
        let mut shed = 0;
        let processed = processed.clone();
        spawn_receiver(
            "orders",
            clock.clone(),
            log_tx.clone(),
            move |headers, body, now, log| {
                if shed < 2 {
                    // A load shedder answers before reading anything, so the
                    // message is not recorded as seen and its retry is welcome.
                    shed += 1;
                    let retry_after = if shed == 1 {
                        "20".to_owned()
                    } else {
                        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now + 600))
                    };
                    log(format!("overloaded: 503, Retry-After: {retry_after}"));
                    return (503, vec![("retry-after", retry_after)]);
                }
                match verifier.verify_and_claim(headers, body, now, &mut guard) {
                    Ok(Admission::Process(claim)) => {
                        // The application's work goes here; on failure,
                        // `claim.release` and a 500 let the retry through.
                        processed.fetch_add(1, Ordering::SeqCst);
                        let verified = claim.commit(&mut guard, now);
                        log(format!(
                            "signature ok, id {} processed: 200",
                            verified.id().unwrap_or("?")
                        ));
                        (200, Vec::new())
                    }
                    Ok(Admission::Duplicate(verified)) => {
                        log(format!(
                            "signature ok, id {} already processed: 200, nothing done",
                            verified.id().unwrap_or("?")
                        ));
                        (200, Vec::new())
                    }
                    Err(error) => {
                        let status = error.status_hint().as_u16();
                        log(format!("dropped ({error}): {status}"));
                        (status, Vec::new())
                    }
                }
            },
        )?
    };
    let legacy = spawn_receiver("legacy", clock.clone(), log_tx.clone(), |_, _, _, log| {
        log("retired: 410 Gone".to_owned());
        (410, Vec::new())
    })?;
    drop(log_tx);

    // --- Sender setup ----------------------------------------------------
    // Loopback and plain http are for this demo only; the default refuses both.
    let guard = SsrfPolicy::default()
        .allow_http()
        .allow(AddressClass::Loopback);
    let mut endpoints = vec![
        Endpoint::new(
            "orders",
            &format!("http://{}/hooks", orders.addr),
            Signer::new(scheme.clone(), orders_secret)?,
            &guard,
        )?
        .with_filter("invoice.*")?,
        Endpoint::new(
            "legacy",
            &format!("http://{}/hooks", legacy.addr),
            Signer::new(scheme.clone(), legacy_secret)?,
            &guard,
        )?,
    ];
    let mut policy = RetryPolicy::standard_webhooks();
    policy.retry_after_cap = 3600;
    let mut health: BTreeMap<String, EndpointHealth> = endpoints
        .iter()
        .map(|e| (e.id().to_string(), EndpointHealth::new()))
        .collect();

    let event = Message::new(
        "msg_tour_0001",
        "invoice.paid",
        r#"{"invoice":"in_42","amount":4200,"currency":"eur"}"#,
    );
    writeln!(out, "== Webhook delivery on a virtual clock (t0 = {T0})")?;
    writeln!(
        out,
        "{} event {} ({}), policy: Standard Webhooks schedule",
        stamp(T0),
        event.id,
        event.event_type
    )?;

    // --- Fan-out: one signed request per matching enabled endpoint --------
    let mut now = T0;
    let dispatches = fan_out(&endpoints, &event, now)?;
    let mut deliveries: Vec<(Delivery, Option<Request<Vec<u8>>>)> = Vec::new();
    for dispatch in dispatches {
        let endpoint = find(&endpoints, &dispatch.endpoint.0)?;
        let delivery = endpoint.delivery(&event, &policy, now, &mut random);
        writeln!(
            out,
            "{} fan-out -> {} ({}), due at {}",
            stamp(now),
            endpoint.id(),
            endpoint.url(),
            offset(delivery.next_due().unwrap_or(now))
        )?;
        deliveries.push((delivery, Some(dispatch.request)));
    }

    // --- The delivery loop -----------------------------------------------
    let mut accepted: Option<Request<Vec<u8>>> = None;
    while let Some(index) = next_due(&deliveries) {
        let (delivery, first) = &mut deliveries[index];
        now = now.max(delivery.next_due().unwrap_or(now));
        clock.store(now, Ordering::SeqCst);
        let endpoint = find(&endpoints, &delivery.endpoint().0)?;
        // Each attempt is signed afresh (current timestamp, same webhook id).
        let request = match first.take() {
            Some(request) => request,
            None => endpoint.request(delivery.message(), now)?,
        };
        let attempt = delivery.attempts().len() + 1;
        writeln!(
            out,
            "{} sender -> {:<6} attempt {attempt}, webhook-id {}",
            stamp(now),
            endpoint.id(),
            delivery.webhook_id()
        )?;
        let outcome = send(&guard, &request, now);
        drain(&log_rx, now, out)?;
        let decision = delivery.on_outcome(outcome, now)?;
        writeln!(
            out,
            "{} sender    {} -> {}",
            stamp(now),
            describe_outcome(&outcome),
            describe_decision(&decision, now)
        )?;
        if decision == Decision::Delivered {
            accepted = Some(request);
        }

        // Endpoint health follows every decision.
        let id = endpoint.id().to_string();
        if let Some(h) = health.get_mut(&id) {
            if let HealthStatus::Disabled { reason, .. } = h.record(&decision, now) {
                writeln!(
                    out,
                    "{} sender    endpoint {id} disabled: {reason:?}",
                    stamp(now)
                )?;
                if let Some(e) = endpoints.iter_mut().find(|e| e.id().0 == id) {
                    e.set_enabled(false);
                }
            }
        }

        // The state a real sender would write to its outbox after each step.
        let row = serde_json::to_string(&*delivery)?;
        *delivery = serde_json::from_str(&row)?;
    }
    for (delivery, _) in &deliveries {
        writeln!(
            out,
            "{} outcome   {:<6} {:?} after {} attempt(s)",
            stamp(now),
            delivery.endpoint(),
            delivery.state(),
            delivery.attempts().len()
        )?;
    }

    // --- The request again (lost 200 or replay), then tampered ---------
    let accepted = accepted.ok_or("orders never accepted the event")?;
    now += 30;
    clock.store(now, Ordering::SeqCst);
    writeln!(
        out,
        "{} the accepted request arrives again (a retry after a lost 200, or a replay)",
        stamp(now)
    )?;
    let replay = send(&guard, &accepted, now);
    drain(&log_rx, now, out)?;
    writeln!(
        out,
        "{} sender    got {}",
        stamp(now),
        describe_outcome(&replay)
    )?;
    if replay != Outcome::status(200) || processed.load(Ordering::SeqCst) != 1 {
        return Err("the duplicate was not answered 200 without processing".into());
    }
    let mut tampered = accepted.clone();
    *tampered.body_mut() = br#"{"invoice":"in_42","amount":1,"currency":"eur"}"#.to_vec();
    writeln!(
        out,
        "{} attacker sends it with a changed amount",
        stamp(now)
    )?;
    let forged = send(&guard, &tampered, now);
    drain(&log_rx, now, out)?;
    writeln!(
        out,
        "{} attacker  got {}",
        stamp(now),
        describe_outcome(&forged)
    )?;
    if forged != Outcome::status(401) {
        return Err("the forgery was not refused".into());
    }

    // --- The disabled endpoint gets nothing more ------------------------
    let next = Message::new("msg_tour_0002", "invoice.created", "{}");
    let targets: Vec<String> = fan_out(&endpoints, &next, now)?
        .into_iter()
        .map(|d| d.endpoint.0)
        .collect();
    writeln!(
        out,
        "{} next event {} fans out to {:?}",
        stamp(now),
        next.id,
        targets
    )?;

    orders.stop()?;
    legacy.stop()?;
    let delivered = deliveries.iter().any(|(d, _)| {
        d.endpoint().0 == "orders" && d.state() == webwire::webhook::DeliveryState::Delivered
    });
    if !delivered || targets != ["orders"] {
        return Err("unexpected delivery results".into());
    }
    writeln!(out, "== done")?;
    Ok(())
}

/// The pending delivery due soonest.
fn next_due(deliveries: &[(Delivery, Option<Request<Vec<u8>>>)]) -> Option<usize> {
    deliveries
        .iter()
        .enumerate()
        .filter_map(|(i, (d, _))| d.next_due().map(|due| (due, i)))
        .min()
        .map(|(_, i)| i)
}

fn find<'a>(endpoints: &'a [Endpoint], id: &str) -> Result<&'a Endpoint, Box<dyn Error>> {
    endpoints
        .iter()
        .find(|e| e.id().0 == id)
        .ok_or_else(|| format!("no endpoint {id}").into())
}

/// `+1h02m03s`: virtual time since the start.
fn offset(now: u64) -> String {
    let s = now.saturating_sub(T0);
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("+{sec}s"),
        (0, min, sec) => format!("+{min}m{sec:02}s"),
        (h, min, sec) => format!("+{h}h{min:02}m{sec:02}s"),
    }
}

/// The timeline's left column.
fn stamp(now: u64) -> String {
    format!("[{:>9}]", offset(now))
}

fn describe_outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Response {
            status,
            retry_after: Some(after),
        } => format!("{status} (Retry-After {after}s)"),
        Outcome::Response { status, .. } => status.to_string(),
        other => format!("{other:?}"),
    }
}

fn describe_decision(decision: &Decision, now: u64) -> String {
    match decision {
        Decision::Retry { delay } => format!("retry in {delay}s, at {}", offset(now + delay)),
        other => format!("{other:?}"),
    }
}

/// Prints what the receivers logged while handling the latest request.
fn drain(log: &Receiver<String>, now: u64, out: &mut impl Write) -> std::io::Result<()> {
    while let Ok(line) = log.try_recv() {
        writeln!(out, "{} {line}", stamp(now))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sending: the I/O the library leaves to its caller.
// ---------------------------------------------------------------------------

/// Sends `request` over HTTP/1.1 and reports the outcome as the policy
/// expects it. Addresses are checked after DNS, and the connection goes to
/// exactly the address that was checked.
fn send(guard: &SsrfPolicy, request: &Request<Vec<u8>>, now: u64) -> Outcome {
    match exchange(guard, request) {
        Ok((status, headers)) => Outcome::from_parts(status, &headers, now),
        Err(error) => match error.downcast_ref::<std::io::Error>().map(|e| e.kind()) {
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => Outcome::Timeout,
            _ => Outcome::ConnectionFailed,
        },
    }
}

fn exchange(guard: &SsrfPolicy, request: &Request<Vec<u8>>) -> Result<(u16, HeaderMap), BoxError> {
    let uri = request.uri();
    if uri.scheme_str() != Some("http") {
        // Never an https:// request in cleartext: examples/webhook_outbox
        // sends over TLS.
        return Err("this example sends plain http:// only".into());
    }
    let host = uri.host().ok_or("no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let addresses: Vec<SocketAddr> = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()?
        .collect();
    guard.check_resolved(addresses.iter().map(|a| a.ip()))?;
    let address = addresses.first().ok_or("no address")?;
    let mut stream = TcpStream::connect_timeout(address, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nhost: {host}:{port}\r\n",
        request.method()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{name}: {}\r\n", value.to_str()?));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        request.body().len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(request.body())?;

    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let mut slots = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut slots);
    if response.parse(&reply)?.is_partial() {
        return Err("truncated response".into());
    }
    let status = response.code.ok_or("no status")?;
    Ok((status, header_map(response.headers)?))
}

fn header_map(headers: &[httparse::Header<'_>]) -> Result<HeaderMap, BoxError> {
    let mut map = HeaderMap::new();
    for h in headers {
        map.append(
            HeaderName::from_bytes(h.name.as_bytes())?,
            HeaderValue::from_bytes(h.value)?,
        );
    }
    Ok(map)
}

// ---------------------------------------------------------------------------
// Receiving: a tiny HTTP/1.1 server per receiver, on its own thread.
// ---------------------------------------------------------------------------

/// What a receiver's handler answers: a status and extra headers.
type Answer = (u16, Vec<(&'static str, String)>);

struct ReceiverHandle {
    addr: SocketAddr,
    thread: JoinHandle<Result<(), BoxError>>,
}

impl ReceiverHandle {
    /// Asks the receiver to stop and waits for it.
    fn stop(self) -> Result<(), Box<dyn Error>> {
        let mut stream = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
        stream.write_all(b"POST /stop HTTP/1.1\r\ncontent-length: 0\r\n\r\n")?;
        match self.thread.join() {
            Ok(result) => result.map_err(|e| e.to_string().into()),
            Err(_) => Err("a receiver thread panicked".into()),
        }
    }
}

fn spawn_receiver<H>(
    name: &'static str,
    clock: Arc<AtomicU64>,
    log: Sender<String>,
    mut handler: H,
) -> std::io::Result<ReceiverHandle>
where
    H: FnMut(&HeaderMap, &[u8], u64, &dyn Fn(String)) -> Answer + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let thread = std::thread::spawn(move || -> Result<(), BoxError> {
        for stream in listener.incoming() {
            let mut stream = stream?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            let (path, headers, body) = read_request(&mut stream)?;
            if path == "/stop" {
                return Ok(());
            }
            let now = clock.load(Ordering::SeqCst);
            let say = |line: String| {
                let _ = log.send(format!("{name:>8}  {line}"));
            };
            let (status, extra) = handler(&headers, &body, now, &say);
            let reason = http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            let mut reply = format!("HTTP/1.1 {status} {reason}\r\n");
            for (name, value) in extra {
                reply.push_str(&format!("{name}: {value}\r\n"));
            }
            reply.push_str("content-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(reply.as_bytes())?;
        }
        Ok(())
    });
    Ok(ReceiverHandle { addr, thread })
}

/// Reads one request: its path, headers and `content-length` body.
fn read_request(stream: &mut TcpStream) -> Result<(String, HeaderMap, Vec<u8>), BoxError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err("connection closed mid-request".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut slots);
        if let httparse::Status::Complete(head_len) = request.parse(&buf)? {
            let path = request.path.unwrap_or("/").to_owned();
            let headers = header_map(request.headers)?;
            let length: usize = headers
                .get(http::header::CONTENT_LENGTH)
                .map(|v| v.to_str().unwrap_or("0").parse())
                .transpose()?
                .unwrap_or(0);
            let mut body = buf.split_off(head_len);
            while body.len() < length {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Err("connection closed mid-body".into());
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
            return Ok((path, headers, body));
        }
    }
}
