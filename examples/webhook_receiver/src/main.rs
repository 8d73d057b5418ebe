//! A Standard Webhooks receiver on axum that processes each event once and
//! loses none.
//!
//! ```text
//! webhook_receiver [--addr HOST:PORT] --secret whsec_… [--secret …] [--db sqlite://PATH]
//!                  [--lease SECONDS] [--fail-first N] [--delay-ms MS]
//! ```
//!
//! It accepts signed `POST`s on any path. The raw body bytes, exactly as
//! received, are what the sender signed: they are verified as they are and
//! never parsed and re-serialised first. Bodies over 1 MiB get 413.
//!
//! Each verified message is *claimed* in a replay guard, handled, then
//! *committed* (answer 200) or, if the handler failed, *released* (answer
//! 500, so that the sender's retry is processed). A duplicate of a processed
//! message is answered 200 without handling it again; one that arrives while
//! the first copy is still being handled gets 409, which senders retry.
//! Bad signatures get 401 and malformed requests 400.
//!
//! Without `--db` the guard is webwire's `InMemoryReplayGuard` (one process).
//! With `--db sqlite://PATH` it is a SQLite table that several receiver
//! processes can share ([`sqlite_guard`]).
//!
//! The handler prints `processed MSG_ID` on stdout for each message it
//! processes; logs go to stderr. Two knobs exist for tests: `--fail-first N`
//! makes the handler fail the first N times it sees each message id, and
//! `--delay-ms MS` makes it take that long.

mod sqlite_guard;

use std::collections::HashMap;
use std::error::Error;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use webwire::webhook::{
    Admission, ClaimState, DEFAULT_CLAIM_LEASE, InMemoryReplayGuard, ReplayGuard, ReplayKey,
    Scheme, Secret, Verifier,
};

use crate::sqlite_guard::SqliteReplayGuard;

const USAGE: &str = "usage: webhook_receiver [--addr HOST:PORT] --secret whsec_... [--secret ...]
                        [--db sqlite://PATH] [--lease SECONDS] [--fail-first N] [--delay-ms MS]
  --addr        where to listen (default 127.0.0.1:8080; port 0 picks a free one)
  --secret      a Standard Webhooks secret; repeat it to rotate keys
                (default: the WEBHOOK_SECRET environment variable)
  --db          keep claims in this SQLite file, shared by several receivers
                (default: in memory, for this process alone)
  --lease       how long a claim whose handler neither finished nor failed (its
                process died) blocks duplicates; longer than any handler runs
                (default 60)
  --fail-first  test knob: the handler fails the first N times it sees each id
  --delay-ms    test knob: the handler takes this long";

/// Larger request bodies are refused with 413 before they are read.
const MAX_BODY: usize = 1024 * 1024;

/// How many message ids the in-memory guard holds at most.
const MEMORY_CAPACITY: usize = 100_000;

/// The command line.
#[derive(Debug)]
struct Args {
    addr: String,
    secrets: Vec<String>,
    db: Option<PathBuf>,
    lease: u64,
    fail_first: u32,
    delay: Duration,
}

/// Parses the arguments; `Ok(None)` asks for the usage text.
fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut args = Args {
        addr: "127.0.0.1:8080".to_owned(),
        secrets: Vec::new(),
        db: None,
        lease: DEFAULT_CLAIM_LEASE,
        fail_first: 0,
        delay: Duration::ZERO,
    };
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => args.addr = value()?,
            "--secret" => args.secrets.push(value()?),
            "--db" => args.db = Some(sqlite_path(&value()?)?),
            "--lease" => args.lease = number(&flag, &value()?)?,
            "--fail-first" => args.fail_first = number(&flag, &value()?)?,
            "--delay-ms" => args.delay = Duration::from_millis(number(&flag, &value()?)?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.secrets.is_empty() {
        match std::env::var("WEBHOOK_SECRET") {
            Ok(secret) if !secret.is_empty() => args.secrets.push(secret),
            _ => return Err("--secret (or WEBHOOK_SECRET) is required".to_owned()),
        }
    }
    Ok(Some(args))
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} expects a number, got `{value}`"))
}

/// The file of a `sqlite://PATH` URL (`sqlite:///abs/path` or `sqlite://rel/path`).
fn sqlite_path(url: &str) -> Result<PathBuf, String> {
    url.strip_prefix("sqlite://")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .ok_or_else(|| format!("--db expects sqlite://PATH, got `{url}`"))
}

/// The system clock as unix seconds (0 if it reads before 1970).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Locks `mutex`, also after a panic elsewhere poisoned it: every guard
/// operation leaves the guard consistent, so its state is still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A replay guard behind a mutex that is locked for one guard operation at
/// a time: signature checks and the handler run without it.
struct Locked<'a, G>(&'a Mutex<G>);

impl<G: ReplayGuard> ReplayGuard for Locked<'_, G> {
    fn claim(&mut self, key: &ReplayKey, now: u64) -> ClaimState {
        lock(self.0).claim(key, now)
    }
    fn commit(&mut self, key: &ReplayKey, now: u64) {
        lock(self.0).commit(key, now);
    }
    fn release(&mut self, key: &ReplayKey, now: u64) {
        lock(self.0).release(key, now);
    }
}

/// Where claims are kept, and how async code reaches them.
///
/// The [`ReplayGuard`] methods are synchronous. The in-memory guard answers
/// in microseconds, so it is called right on the async worker, its
/// `std::sync::Mutex` held for the one operation. A SQLite call may wait up
/// to the busy timeout for another process's write lock (and does disk
/// I/O), which would stall every connection on that worker thread; so
/// SQLite operations run on tokio's blocking pool (`spawn_blocking`), over
/// one connection per process behind a mutex. One connection is enough:
/// each operation is a few statements, and across processes SQLite's own
/// locking serialises writers.
enum Store {
    Memory(Arc<Mutex<InMemoryReplayGuard>>),
    Sqlite(Arc<Mutex<SqliteReplayGuard>>),
}

impl Store {
    /// Runs `op` with the guard; `None` if it panicked on the blocking pool.
    async fn run<R, F>(&self, op: F) -> Option<R>
    where
        F: FnOnce(&mut dyn ReplayGuard) -> R + Send + 'static,
        R: Send + 'static,
    {
        match self {
            Store::Memory(guard) => Some(op(&mut Locked(guard))),
            Store::Sqlite(guard) => {
                let guard = Arc::clone(guard);
                tokio::task::spawn_blocking(move || op(&mut Locked(&guard)))
                    .await
                    .ok()
            }
        }
    }
}

/// Everything the request handler needs.
struct App {
    verifier: Verifier,
    store: Store,
    /// `--fail-first`: how many times the handler fails each message id.
    fail_first: u32,
    /// `--delay-ms`: how long the handler takes.
    delay: Duration,
    /// How many times the handler saw each message id (only with `--fail-first`).
    attempts: Mutex<HashMap<String, u32>>,
}

impl App {
    /// The application's event handler, run once per claimed message.
    ///
    /// `_body` holds the verified raw bytes: a real receiver parses them here
    /// (with serde_json, say) and does its work, ideally recording its
    /// effect in the same transaction as the commit, or idempotently. An
    /// `Err` releases the claim and answers 500, so the sender retries.
    async fn handle(&self, id: &str, _body: &[u8]) -> Result<(), String> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self.fail_first > 0 {
            let mut attempts = lock(&self.attempts);
            let seen = attempts.entry(id.to_owned()).or_insert(0);
            *seen = seen.saturating_add(1);
            if *seen <= self.fail_first {
                return Err(format!("--fail-first: failing attempt {seen}"));
            }
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "processed {id}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))
    }
}

/// A short plain-text response.
fn reply(status: StatusCode, text: &str) -> Response {
    (status, format!("{text}\n")).into_response()
}

/// `POST` on any path. `body` is the raw request body, at most
/// [`MAX_BODY`] bytes (axum answers 413 above it).
async fn receive(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    // The server may drop this future before it completes (the client
    // went away). A claim must end in a commit or a release, so the work
    // runs in its own task, which finishes even then.
    match tokio::spawn(admit_and_handle(app, headers, body)).await {
        Ok(response) => response,
        Err(_) => reply(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// Verify and claim, handle, then commit or release.
async fn admit_and_handle(app: Arc<App>, headers: HeaderMap, body: Bytes) -> Response {
    let now = unix_now();
    let (shared, raw) = (Arc::clone(&app), body.clone());
    let admission = app
        .store
        .run(move |guard| shared.verifier.verify_and_claim(&headers, &raw, now, guard))
        .await;
    let claim = match admission {
        Some(Ok(Admission::Process(claim))) => claim,
        Some(Ok(Admission::Duplicate(verified))) => {
            eprintln!(
                "duplicate {}: processed before",
                verified.id().unwrap_or("?")
            );
            return reply(StatusCode::OK, "duplicate: processed before");
        }
        Some(Err(error)) => {
            // 400 malformed, 401 bad signature or timestamp, 409 in progress.
            eprintln!("refused: {error}");
            return reply(error.status_hint(), &error.to_string());
        }
        None => return reply(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    };
    // Standard Webhooks always signs an id; the key is a fallback.
    let id = claim
        .verified()
        .id()
        .unwrap_or(claim.key().as_str())
        .to_owned();
    eprintln!("claimed {id}");
    match app.handle(&id, &body).await {
        Ok(()) => {
            let committed = app.store.run(move |guard| claim.commit(guard, unix_now()));
            if committed.await.is_none() {
                // Processed all the same: the claim's lease blocks duplicates
                // for a while, so answer 2xx rather than invite a retry.
                eprintln!("commit of {id} failed");
            }
            reply(StatusCode::OK, "processed")
        }
        Err(why) => {
            eprintln!("handler failed for {id}: {why}");
            let released = app.store.run(move |guard| claim.release(guard, unix_now()));
            if released.await.is_none() {
                eprintln!("release of {id} failed: retries wait for the lease to end");
            }
            reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "handler failed: retry later",
            )
        }
    }
}

/// The verifier for `secrets`, all Standard Webhooks (`whsec_…`).
fn verifier(secrets: &[String]) -> Result<Verifier, Box<dyn Error + Send + Sync>> {
    let scheme = Scheme::standard();
    let mut secrets = secrets.iter().map(|s| Secret::parse(&scheme, s));
    let first = secrets.next().ok_or("no secret")??;
    let mut verifier = Verifier::new(scheme.clone(), first)?;
    for secret in secrets {
        verifier = verifier.with_secret(secret?)?;
    }
    Ok(verifier)
}

async fn run(args: Args) -> Result<(), Box<dyn Error + Send + Sync>> {
    let verifier = verifier(&args.secrets)?;
    // Keys are kept as long as the verifier accepts their timestamps.
    let window = verifier.tolerance();
    let store = match &args.db {
        None => Store::Memory(Arc::new(Mutex::new(
            InMemoryReplayGuard::new(window, MEMORY_CAPACITY).with_lease(args.lease),
        ))),
        Some(path) => {
            let guard = SqliteReplayGuard::open(path, window)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?
                .with_lease(args.lease);
            Store::Sqlite(Arc::new(Mutex::new(guard)))
        }
    };
    let app = Arc::new(App {
        verifier,
        store,
        fail_first: args.fail_first,
        delay: args.delay,
        attempts: Mutex::new(HashMap::new()),
    });
    // Every path; other methods get 405 from the method router.
    let router = Router::new()
        .route("/", post(receive))
        .route("/{*path}", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app);

    let listener = tokio::net::TcpListener::bind(&args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{local}")?;
    out.flush()?;
    drop(out);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C (never, if that signal cannot be watched).
async fn shutdown() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("webhook_receiver: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("webhook_receiver: {e}");
            ExitCode::FAILURE
        }
    }
}
