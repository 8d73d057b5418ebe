//! Messages per second through the outbox to a local receiver (the
//! `webhook_receiver` example: axum, verifying every signature), for SQLite
//! with one worker and PostgreSQL with one and three. `#[ignore]`d: run it
//! with
//!
//! ```text
//! (cd examples/webhook_receiver && cargo build --release)
//! cd examples/webhook_outbox && cargo test --release --test throughput -- --ignored --nocapture
//! ```
//!
//! with the same `CARGO_TARGET_DIR` for both (or `WEBWIRE_RECEIVER_BIN`
//! naming the receiver). `MESSAGES` sets the count (default 5,000).

mod support;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use support::postgres::Postgres;

const OUTBOX: &str = env!("CARGO_BIN_EXE_webhook_outbox");
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn receiver_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("WEBWIRE_RECEIVER_BIN") {
        return bin.into();
    }
    // This binary is TARGET/release/deps/throughput-HASH.
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("webhook_receiver")
}

fn outbox(db: &str, args: &[&str], stdin: &str) -> String {
    let (ok, stdout, stderr) = support::run_outbox(db, args, stdin);
    assert!(ok, "webhook_outbox {args:?} failed:\n{stderr}");
    stdout
}

/// Enqueues `messages` to one endpoint, then times `workers` workers with
/// `--until-idle` until all have exited; returns messages per second.
fn run(db: &str, url: &str, messages: usize, workers: usize) -> f64 {
    outbox(
        db,
        &[
            "endpoint",
            "add",
            "--id",
            "ep",
            "--url",
            url,
            "--secret",
            SECRET,
            "--allow-private",
            "--max-in-flight",
            "64",
        ],
        "",
    );
    let body: String = (0..messages)
        .map(|i| format!("{{\"type\":\"invoice.paid\",\"n\":{i},\"amount\":1200}}\n"))
        .collect();
    outbox(db, &["enqueue", "--type", "invoice.paid", "--jsonl"], &body);
    let start = Instant::now();
    let children: Vec<Child> = (0..workers)
        .map(|_| {
            Command::new(OUTBOX)
                .args(["--db", db, "worker", "--until-idle", "--concurrency", "32"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let elapsed = start.elapsed();
    let status = outbox(db, &["status"], "");
    assert_eq!(
        status.lines().filter(|l| l.contains(" delivered ")).count(),
        messages
    );
    messages as f64 / elapsed.as_secs_f64()
}

fn pg_url(url: &str) -> String {
    match std::env::var("PG_OPTIONS") {
        Ok(options) => format!(
            "{url}?options={}",
            options.replace(' ', "%20").replace('=', "%3D")
        ),
        Err(_) => url.to_owned(),
    }
}

#[test]
#[ignore = "a measurement: run by hand (see the file's comment)"]
fn throughput() {
    let messages: usize = std::env::var("MESSAGES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(5_000);
    let mut receiver = Command::new(receiver_bin())
        .args(["--addr", "127.0.0.1:0", "--secret", SECRET])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("webhook_receiver: build it first (see the file's comment)");
    let mut stdout = BufReader::new(receiver.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = format!("{}/hooks", line.trim().trim_start_matches("listening on "));
    // Keep reading its `processed` lines so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in stdout.lines() {});

    let dir =
        std::env::temp_dir().join(format!("webhook-outbox-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = format!("sqlite://{}", dir.join("outbox.db").display());
    let mut rows = vec![("SQLite, 1 worker", run(&sqlite, &url, messages, 1))];
    for workers in [1, 3] {
        let postgres = Postgres::start().expect("PostgreSQL");
        rows.push((
            if workers == 1 {
                "PostgreSQL, 1 worker"
            } else {
                "PostgreSQL, 3 workers"
            },
            // PG_OPTIONS, e.g. `-c synchronous_commit=off`, to see what
            // the commit flushes cost.
            run(&pg_url(&postgres.url), &url, messages, workers),
        ));
    }
    let _ = receiver.kill();
    let _ = receiver.wait();
    let _ = std::fs::remove_dir_all(dir);
    println!("| store | messages/s ({messages} messages, 1 endpoint) |\n| --- | --- |");
    for (name, rate) in rows {
        println!("| {name} | {rate:.0} |");
    }
}
