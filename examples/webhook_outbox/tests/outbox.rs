//! End to end: the built `webhook_outbox` delivering to a receiver built on
//! the reference Python library `standardwebhooks` (tests/chaos_receiver.py),
//! which verifies every request, answers 500 and 503 + Retry-After at random
//! and goes offline now and then, while the test kills workers with SIGKILL.
//!
//! PostgreSQL comes from Debian's packages, started in a temporary directory
//! by [`support::postgres`]. Python is `$WEBWIRE_PYTHON`, else the
//! repository's `target/pyenv` (which `.ci/run` creates), else `python3`.
//! Without `standardwebhooks` or PostgreSQL the tests that need them print a
//! notice and pass, except under CI (`CI` set), where they fail.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::postgres::Postgres;

const OUTBOX: &str = env!("CARGO_BIN_EXE_webhook_outbox");
const RECEIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chaos_receiver.py");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A valid secret, but not the receiver's.
const WRONG_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips (or, under CI, fails) a test whose peer is missing.
fn unavailable(what: &str) {
    assert!(!in_ci(), "CI is set but {what} is unavailable");
    eprintln!("skipped: {what} is unavailable");
}

/// The Python with `standardwebhooks`, if any.
fn python() -> Option<String> {
    let repo_env = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pyenv/bin/python");
    let candidates = [
        std::env::var("WEBWIRE_PYTHON").ok(),
        Path::new(repo_env).exists().then(|| repo_env.to_owned()),
        Some("python3".to_owned()),
    ];
    candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .args(["-c", "import standardwebhooks"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "webhook-outbox-{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The chaos receiver, killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    log: PathBuf,
    https: bool,
}

impl Receiver {
    /// Its `--tls-cert`/`--tls-key`, if any, are among `chaos`.
    fn start(python: &str, dir: &Path, endpoints: &[&str], chaos: &[&str]) -> Self {
        let log = dir.join("received.jsonl");
        let mut command = Command::new(python);
        command.arg(RECEIVER).arg("--log").arg(&log).args(chaos);
        for endpoint in endpoints {
            command.args(["--secret", &format!("{endpoint}={SECRET}")]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start chaos_receiver.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("chaos_receiver.py said {line:?}"));
        let scheme = line.trim().trim_start_matches("listening on ");
        let https = scheme.starts_with("https://");
        Self {
            child,
            port,
            log,
            https,
        }
    }

    fn url(&self, endpoint: &str) -> String {
        self.url_at("127.0.0.1", endpoint)
    }

    fn url_at(&self, host: &str, endpoint: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{host}:{}/{endpoint}", self.port)
    }

    /// Every request it logged.
    fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `webhook_outbox --db DB ARGS` with `stdin`; its stdout, or a panic
/// with its stderr.
fn outbox(db: &str, args: &[&str], stdin: &str) -> String {
    let (ok, stdout, stderr) = try_outbox(db, args, stdin);
    assert!(ok, "webhook_outbox {args:?} failed:\n{stderr}");
    stdout
}

use support::run_outbox as try_outbox;

/// `endpoint add` of a private-address endpoint signed with `secret`,
/// retried on `schedule`, with `extra` flags.
fn add_endpoint(db: &str, id: &str, url: &str, secret: &str, schedule: &str, extra: &[&str]) {
    let mut args = vec![
        "endpoint",
        "add",
        "--id",
        id,
        "--url",
        url,
        "--secret",
        secret,
        "--schedule",
        schedule,
        "--allow-private",
    ];
    args.extend(extra);
    outbox(db, &args, "");
}

/// `status` as (message id, endpoint) → (state, attempts).
fn status(db: &str) -> HashMap<(String, String), (String, u32)> {
    outbox(db, &["status"], "")
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 5, "status line {line:?}");
            (
                (f[0].to_owned(), f[1].to_owned()),
                (f[2].to_owned(), f[3].parse().unwrap()),
            )
        })
        .collect()
}

fn worker(db: &str, args: &[&str], log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(OUTBOX)
        .args(["--db", db, "worker", "--timeout", "2", "--lease", "3"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start worker")
}

/// A retry schedule long enough that the receiver's chaos never exhausts it.
fn patient_schedule() -> String {
    let mut delays = vec!["0s"];
    delays.extend(std::iter::repeat_n("1s", 59));
    delays.join(",")
}

/// The proof: `messages` messages to three endpoints (one filtered to
/// `invoice.*`), `workers` workers of which one is killed with SIGKILL
/// every second or two and restarted for `kill_for`; then every (message,
/// endpoint) pair must have been received and verified, with the same body
/// for the same id, and nothing may be left pending.
fn survive_kills(db: &str, python: &str, dir: &Path, workers: usize, messages: usize) {
    let endpoints = ["ep_a", "ep_b", "ep_c"];
    let receiver = Receiver::start(
        python,
        dir,
        &endpoints,
        &[
            "--fail-rate",
            "0.15",
            "--retry-after-rate",
            "0.1",
            "--offline-every",
            "4",
            "--offline-for",
            "1",
            "--seed",
            "7",
        ],
    );
    let schedule = patient_schedule();
    for endpoint in endpoints {
        let events: &[&str] = if endpoint == "ep_b" {
            &["--events", "invoice.*"]
        } else {
            &[]
        };
        add_endpoint(
            db,
            endpoint,
            &receiver.url(endpoint),
            SECRET,
            &schedule,
            events,
        );
    }
    // Half invoices (all three endpoints), half users (ep_a and ep_c).
    let payloads = |n: usize| -> String {
        (0..n)
            .map(|i| format!("{{\"n\":{i},\"note\":\"caf\\u00e9\"}}\n"))
            .collect()
    };
    let mut expected: HashSet<(String, String)> = HashSet::new();
    for (event_type, takers) in [
        ("invoice.paid", &endpoints[..]),
        ("user.created", &["ep_a", "ep_c"][..]),
    ] {
        let ids = outbox(
            db,
            &["enqueue", "--type", event_type, "--jsonl"],
            &payloads(messages / 2),
        );
        assert_eq!(ids.lines().count(), messages / 2);
        for id in ids.lines() {
            for endpoint in takers {
                expected.insert((id.to_owned(), (*endpoint).to_owned()));
            }
        }
    }

    let log = dir.join("workers.log");
    let mut running: Vec<Child> = (0..workers)
        .map(|_| worker(db, &["--concurrency", "16"], &log))
        .collect();
    let start = Instant::now();
    let mut kills = 0;
    let mut next = 0usize;
    let mut delivered_at = None;
    while start.elapsed() < Duration::from_secs(240) {
        std::thread::sleep(Duration::from_millis(1_000 + 250 * (kills % 4)));
        let states = status(db);
        let done = states.values().all(|(state, _)| state == "delivered");
        if done && kills >= 4 {
            delivered_at = Some(start.elapsed());
            break;
        }
        if !done {
            let victim = &mut running[next % workers];
            victim.kill().unwrap();
            victim.wait().unwrap();
            *victim = worker(db, &["--concurrency", "16"], &log);
            kills += 1;
            next += 1;
        }
    }
    for mut w in running {
        let _ = w.kill();
        let _ = w.wait();
    }
    let states = status(db);
    let unfinished: Vec<_> = states
        .iter()
        .filter(|(_, (state, _))| state != "delivered")
        .take(5)
        .collect();
    assert!(
        delivered_at.is_some(),
        "not all delivered within 240 s after {kills} kills; e.g. {unfinished:?}\nworkers' log tail:\n{}",
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let keys: HashSet<(String, String)> = states.keys().cloned().collect();
    assert_eq!(
        keys, expected,
        "one delivery per message and matching endpoint"
    );

    let received = receiver.received();
    let mut verified: HashMap<(String, String), usize> = HashMap::new();
    for r in &received {
        assert!(r.get("bad").is_none(), "a request failed verification: {r}");
        assert!(
            r.get("mismatch").is_none(),
            "an id came with another body: {r}"
        );
        if r["status"] == 200 {
            let key = (
                r["id"].as_str().unwrap().to_owned(),
                r["endpoint"].as_str().unwrap().to_owned(),
            );
            assert!(expected.contains(&key), "unexpected delivery {key:?}");
            *verified.entry(key).or_default() += 1;
        }
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|k| !verified.contains_key(*k))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "never received and verified: {missing:?}"
    );
    let chaos = received
        .iter()
        .filter(|r| r["status"] == 500 || r["status"] == 503)
        .count();
    assert!(
        chaos > 0,
        "the receiver failed nothing: the test proved nothing"
    );
    let duplicates: usize = verified.values().map(|n| n - 1).sum();
    let attempts: u32 = states.values().map(|(_, n)| n).sum();
    eprintln!(
        "{} deliveries ({} requests, {} answered 200, {duplicates} duplicates of a 200) \
         with {workers} worker(s) and {kills} SIGKILLs: all delivered after {:.1?}; {attempts} attempts recorded",
        expected.len(),
        received.len(),
        verified.values().sum::<usize>(),
        delivered_at.unwrap()
    );
}

#[test]
fn sqlite_one_worker_killed_again_and_again_loses_nothing() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let dir = scratch("sqlite-kill");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    survive_kills(&db, &python, &dir, 1, 1_000);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn postgres_three_workers_killed_again_and_again_lose_nothing() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let Some(postgres) = Postgres::start() else {
        return unavailable("PostgreSQL (initdb)");
    };
    let dir = scratch("postgres-kill");
    survive_kills(&postgres.url, &python, &dir, 3, 1_000);
    let _ = std::fs::remove_dir_all(dir);
}

/// Enqueue is idempotent on `--id`; a private address needs
/// `--allow-private`; a delivery the receiver refuses (wrong secret: 401) ends dead,
/// and `redeliver` after the secret is fixed sends it again with the same id.
#[test]
fn dead_letters_are_kept_and_redelivered_with_the_same_id() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let dir = scratch("redeliver");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let receiver = Receiver::start(&python, &dir, &["ep_a"], &[]);
    let url = receiver.url("ep_a");

    let (ok, _, err) = try_outbox(
        &db,
        &[
            "endpoint", "add", "--id", "ep_a", "--url", &url, "--secret", SECRET,
        ],
        "",
    );
    assert!(!ok && err.contains("Loopback"), "{err}");
    let add = |secret: &str| add_endpoint(&db, "ep_a", &url, secret, "0s,1s", &[]);
    add(WRONG_SECRET);
    for _ in 0..2 {
        let id = outbox(
            &db,
            &["enqueue", "--type", "invoice.paid", "--id", "msg_fixed"],
            "{\"a\":1}",
        );
        assert_eq!(id.trim(), "msg_fixed");
    }
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "2", "--lease", "3"],
        "",
    );
    let states = status(&db);
    assert_eq!(states.len(), 1, "one message, one delivery: {states:?}");
    assert_eq!(
        outbox(&db, &["status"], "").trim(),
        "msg_fixed ep_a dead 1 401",
        "401 is not retried"
    );

    add(SECRET);
    assert_eq!(outbox(&db, &["redeliver"], "").trim(), "redelivering 1");
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "2", "--lease", "3"],
        "",
    );
    assert_eq!(
        outbox(&db, &["status"], "").trim(),
        "msg_fixed ep_a delivered 1 200"
    );
    let statuses: Vec<(String, i64)> = receiver
        .received()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [("msg_fixed".to_owned(), 401), ("msg_fixed".to_owned(), 200)]
    );
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}

/// Messages with one ordering key reach the endpoint in order even when
/// attempts fail: none is sent before the one ahead of it was delivered.
#[test]
fn ordering_key_keeps_order_through_failures() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let dir = scratch("ordering");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let receiver = Receiver::start(
        &python,
        &dir,
        &["ep_a"],
        &["--fail-rate", "0.4", "--seed", "3"],
    );
    let url = receiver.url("ep_a");
    let schedule = patient_schedule();
    add_endpoint(&db, "ep_a", &url, SECRET, &schedule, &[]);
    let mut ids = Vec::new();
    for i in 0..12 {
        let id = outbox(
            &db,
            &[
                "enqueue",
                "--type",
                "invoice.paid",
                "--ordering-key",
                "invoice_7",
            ],
            &format!("{{\"step\":{i}}}"),
        );
        ids.push(id.trim().to_owned());
    }
    // Unordered messages meanwhile go out at once.
    let free = outbox(
        &db,
        &["enqueue", "--type", "invoice.paid", "--jsonl"],
        "{}\n{}\n{}\n",
    );
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "2", "--lease", "3"],
        "",
    );

    let received = receiver.received();
    let first_seen = |id: &str| received.iter().position(|r| r["id"] == id).unwrap();
    let delivered = |id: &str| {
        received
            .iter()
            .position(|r| r["id"] == id && r["status"] == 200)
            .unwrap_or_else(|| panic!("{id} never delivered"))
    };
    for pair in ids.windows(2) {
        assert!(
            delivered(&pair[0]) < first_seen(&pair[1]),
            "{} was sent before {} was delivered",
            pair[1],
            pair[0]
        );
    }
    let failures = received.iter().filter(|r| r["status"] == 500).count();
    assert!(
        failures > 0,
        "the receiver failed nothing: the test proved nothing"
    );
    for id in free.lines() {
        delivered(id);
    }
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test CA (`ca.pem`), and `server.pem`/`server.key` for `localhost`
/// only, signed by it; made at test time with the openssl command.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=webwire test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// `https://` endpoints: delivered when the receiver's certificate chains
/// to the endpoint's `--ca` and names the URL's host; a certificate from an
/// unknown CA, or for another name, fails the attempt as `tls`, and the
/// request (with its signature) never leaves in cleartext.
#[test]
fn https_endpoints_verify_the_receivers_certificate() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let dir = scratch("https");
    certificates(&dir);
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let cert = dir.join("server.pem").display().to_string();
    let key = dir.join("server.key").display().to_string();
    let ca = dir.join("ca.pem").display().to_string();
    let receiver = Receiver::start(
        &python,
        &dir,
        &["trusted", "unknown_ca", "wrong_name"],
        &["--tls-cert", &cert, "--tls-key", &key],
    );
    let add = |id: &str, url: &str, extra: &[&str]| add_endpoint(&db, id, url, SECRET, "0s", extra);
    add(
        "trusted",
        &receiver.url_at("localhost", "trusted"),
        &["--ca", &ca],
    );
    add(
        "unknown_ca",
        &receiver.url_at("localhost", "unknown_ca"),
        &[],
    );
    add(
        "wrong_name",
        &receiver.url_at("127.0.0.1", "wrong_name"),
        &["--ca", &ca],
    );
    let (ok, _, err) = try_outbox(
        &db,
        &[
            "endpoint",
            "add",
            "--id",
            "x",
            "--url",
            "https://localhost/",
            "--secret",
            SECRET,
            "--allow-private",
            "--ca",
            &key,
        ],
        "",
    );
    assert!(
        !ok && err.contains("--ca"),
        "a key is not a CA certificate: {err}"
    );

    outbox(
        &db,
        &["enqueue", "--type", "invoice.paid", "--id", "msg_tls"],
        "{}",
    );
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "5", "--lease", "6"],
        "",
    );
    let mut lines: Vec<String> = outbox(&db, &["status"], "")
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "msg_tls trusted delivered 1 200",
            "msg_tls unknown_ca dead 1 tls",
            "msg_tls wrong_name dead 1 tls",
        ]
    );
    let detail = outbox(&db, &["status", "--detail"], "");
    for (endpoint, why) in [
        ("unknown_ca", "UnknownIssuer"),
        ("wrong_name", "not valid for name"),
    ] {
        let line = detail.lines().find(|l| l.contains(endpoint)).unwrap();
        assert!(line.contains(why), "{endpoint}: {line}");
    }
    let received: Vec<_> = receiver
        .received()
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        received,
        ["trusted"],
        "only the verified connection carried the request"
    );
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}

/// The endpoint's gate, honoured by the worker: `--rate` spaces attempts
/// out, and the circuit breaker stops hammering an endpoint that refuses
/// connections, without using up the deliveries' schedules.
#[test]
fn rate_limit_and_circuit_breaker_hold_attempts_back() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let dir = scratch("gate");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let receiver = Receiver::start(&python, &dir, &["limited"], &[]);
    let schedule = patient_schedule();
    let add =
        |id: &str, url: &str, extra: &[&str]| add_endpoint(&db, id, url, SECRET, &schedule, extra);
    add("limited", &receiver.url("limited"), &["--rate", "4"]);
    // Nothing listens there: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/down", closed.local_addr().unwrap());
    drop(closed);
    add("down", &down, &["--max-in-flight", "2"]);
    outbox(
        &db,
        &["enqueue", "--type", "invoice.paid", "--jsonl"],
        &"{}\n".repeat(12),
    );

    let log = dir.join("worker.log");
    let mut worker = worker(&db, &[], &log);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && receiver
            .received()
            .iter()
            .filter(|r| r["status"] == 200)
            .count()
            < 12
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the breaker on `down` cool down and probe once or twice more.
    std::thread::sleep(Duration::from_secs(3));
    worker.kill().unwrap();
    worker.wait().unwrap();

    // 12 requests at 4 per second after a burst of 4: at least 2 s.
    let times: Vec<f64> = receiver
        .received()
        .iter()
        .map(|r| r["t"].as_f64().unwrap())
        .collect();
    assert_eq!(times.len(), 12, "each delivered once");
    let span = times.last().unwrap() - times.first().unwrap();
    assert!(span >= 1.9, "12 requests at --rate 4 took only {span:.2} s");

    // Without the breaker, 12 deliveries retried every second for 4+ s
    // would have made 50 or more attempts; with it, 5 failures (6 with two
    // in flight) open it and single probes follow, 2 s and then 4 s apart.
    let attempts: u32 = status(&db)
        .iter()
        .filter(|((_, endpoint), _)| endpoint == "down")
        .map(|(_, (state, attempts))| {
            assert!(
                state == "pending" || state == "failed",
                "held back, not given up: {state}"
            );
            attempts
        })
        .sum();
    eprintln!("{attempts} attempts on the dead endpoint, {span:.2} s for 12 rate-limited requests");
    assert!(
        (5..=9).contains(&attempts),
        "{attempts} attempts on a dead endpoint"
    );
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}

/// The SSRF guard runs on the addresses a name resolves to, at send time:
/// a name that passes `endpoint add` but resolves to loopback is refused
/// (`ssrf`) and nothing is sent, unless the endpoint allows private
/// addresses. The name is this machine's host name, which resolves to
/// loopback on Debian and in containers; elsewhere the test is skipped.
#[test]
fn names_resolving_to_private_addresses_are_refused_when_sending() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    let loopback = !host.is_empty()
        && std::net::ToSocketAddrs::to_socket_addrs(&(host, 80))
            .is_ok_and(|mut addrs| addrs.any(|a| a.ip().is_loopback()));
    if !loopback {
        eprintln!("skipped: the host name {host:?} does not resolve to loopback here");
        return;
    }
    let dir = scratch("ssrf");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let receiver = Receiver::start(&python, &dir, &["ep_a"], &[]);
    let url = receiver.url_at(host, "ep_a");
    outbox(
        &db,
        &[
            "endpoint",
            "add",
            "--id",
            "ep_a",
            "--url",
            &url,
            "--secret",
            SECRET,
            "--schedule",
            "0s",
        ],
        "",
    );
    outbox(&db, &["enqueue", "--type", "t", "--id", "msg_1"], "{}");
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "2", "--lease", "3"],
        "",
    );
    let line = outbox(&db, &["status", "--detail"], "");
    assert!(line.starts_with("msg_1 ep_a dead 1 ssrf\t"), "{line}");
    assert!(line.contains("Loopback"), "{line}");
    assert!(
        receiver.received().is_empty(),
        "nothing may reach a refused address"
    );

    add_endpoint(&db, "ep_a", &url, SECRET, "0s", &[]);
    outbox(&db, &["redeliver"], "");
    outbox(
        &db,
        &["worker", "--until-idle", "--timeout", "2", "--lease", "3"],
        "",
    );
    assert_eq!(
        outbox(&db, &["status"], "").trim(),
        "msg_1 ep_a delivered 1 200"
    );
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}

/// Static egress: `worker --proxy` sends through a real HTTP proxy
/// (pproxy, PyPI), which is asked for the checked address, not the name;
/// wrong proxy credentials fail the attempt as `proxy`.
#[test]
fn workers_send_through_an_http_proxy() {
    let Some(python) = python() else {
        return unavailable("Python's standardwebhooks");
    };
    let has_pproxy = Command::new(&python)
        .args(["-c", "import pproxy"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_pproxy {
        return unavailable("pproxy (pip install -r .ci/requirements.txt)");
    }
    let dir = scratch("proxy");
    let db = format!("sqlite://{}", dir.join("outbox.db").display());
    let receiver = Receiver::start(&python, &dir, &["ep_a"], &[]);
    let log_path = dir.join("pproxy.log");
    let mut proxy = Command::new(&python)
        .args([
            "-m",
            "pproxy",
            "--auth",
            "-1",
            "-v",
            "-l",
            "http://127.0.0.1:0#egress:s3cret",
        ])
        .env("PYTHONUNBUFFERED", "1")
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pproxy");
    let port = {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            // `Serving on ipv? 127.0.0.1:PORT by http`
            if let Some(port) = log
                .lines()
                .find(|l| l.starts_with("Serving on ipv"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|a| a.rsplit(':').next())
            {
                break port.to_owned();
            }
            assert!(Instant::now() < deadline, "pproxy did not start: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    add_endpoint(&db, "ep_a", &receiver.url("ep_a"), SECRET, "0s", &[]);
    outbox(&db, &["enqueue", "--type", "t", "--id", "msg_1"], "{}");
    let run = |credentials: &str| {
        let proxy = format!("http://{credentials}@127.0.0.1:{port}");
        outbox(
            &db,
            &[
                "worker",
                "--until-idle",
                "--timeout",
                "5",
                "--lease",
                "6",
                "--proxy",
                &proxy,
            ],
            "",
        );
    };
    run("egress:wrong");
    let line = outbox(&db, &["status", "--detail"], "");
    assert!(line.starts_with("msg_1 ep_a dead 1 proxy\t"), "{line}");
    assert!(line.contains("407"), "{line}");
    assert!(receiver.received().is_empty());

    outbox(&db, &["redeliver"], "");
    run("egress:s3cret");
    assert_eq!(
        outbox(&db, &["status"], "").trim(),
        "msg_1 ep_a delivered 1 200"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains(&format!("-> 127.0.0.1:{}", receiver.port)),
        "pproxy did not carry it:\n{log}"
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
    drop(receiver);
    let _ = std::fs::remove_dir_all(dir);
}
