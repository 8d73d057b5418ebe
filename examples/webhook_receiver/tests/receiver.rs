//! End to end: the built `webhook_receiver` on loopback, sent requests
//! signed by the reference Python library `standardwebhooks` (tests/sender.py)
//! and, for what needs no signature, raw HTTP/1.1 from here.
//!
//! Python is `$WEBWIRE_PYTHON`, else the repository's `target/pyenv` (which
//! `.ci/run` creates from `.ci/requirements.txt`), else `python3`. If
//! `standardwebhooks` cannot be imported, the tests that need it print a
//! notice and pass, except under CI (`CI` set), where they fail.
//!
//! Whether a message was processed is read from the receiver's stdout
//! (`processed MSG_ID`). The handler prints that line before it answers, so
//! once a fresh sentinel message's line shows up ([`Receiver::sync`]), every
//! line of the requests answered before it is visible too: a message that
//! was not processed again is checked without sleeping.

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// A valid secret, but not the receiver's.
const OTHER_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
const BODY: &str = r#"{"type":"invoice.paid","data":{"amount":1200,"note":"caf\u00e9 ✓"}}"#;
/// How long any one wait may take before the test fails.
const WAIT: Duration = Duration::from_secs(60);
const SENDER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sender.py");

/// A message id no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos}_{n}", std::process::id())
}

/// The lines a child process prints, collected by a thread.
#[derive(Default)]
struct Output {
    /// The lines so far, and whether the stream has ended.
    state: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Output {
    fn collect(stream: impl Read + Send + 'static) -> Arc<Self> {
        let output = Arc::new(Self::default());
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                sink.state.lock().unwrap().0.push(line);
                sink.changed.notify_all();
            }
            sink.state.lock().unwrap().1 = true;
            sink.changed.notify_all();
        });
        output
    }

    /// The first line matching `want`, waiting up to [`WAIT`] for it.
    fn wait_for(&self, want: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + WAIT;
        let mut state = self.state.lock().unwrap();
        loop {
            if let Some(line) = state.0.iter().find(|l| want(l)) {
                return Some(line.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if state.1 {
                return None;
            }
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }

    fn count(&self, want: impl Fn(&str) -> bool) -> usize {
        self.state
            .lock()
            .unwrap()
            .0
            .iter()
            .filter(|l| want(l))
            .count()
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().0.join("\n")
    }
}

/// A running `webhook_receiver`, killed when dropped.
struct Receiver {
    child: Child,
    url: String,
    stdout: Arc<Output>,
    stderr: Arc<Output>,
}

impl Receiver {
    /// Starts the receiver on a free loopback port (it prints the one the
    /// system picked) and waits until it listens.
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webhook_receiver"))
            .args(["--addr", "127.0.0.1:0", "--secret", SECRET])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start webhook_receiver");
        let stdout = Output::collect(child.stdout.take().expect("stdout"));
        let stderr = Output::collect(child.stderr.take().expect("stderr"));
        let Some(line) = stdout.wait_for(|l| l.starts_with("listening on ")) else {
            let _ = child.kill();
            panic!(
                "webhook_receiver {args:?} did not start:\n{}",
                stderr.text()
            );
        };
        let url = line.trim_start_matches("listening on ").to_owned();
        Self {
            child,
            url,
            stdout,
            stderr,
        }
    }

    /// `host:port`.
    fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// How many times the handler processed `id` (as seen so far).
    fn processed(&self, id: &str) -> usize {
        let want = format!("processed {id}");
        self.stdout.count(|l| l == want)
    }

    /// Waits until `id` was processed.
    fn wait_processed(&self, id: &str) {
        let want = format!("processed {id}");
        assert!(
            self.stdout.wait_for(|l| l == want).is_some(),
            "{id} not processed; stderr:\n{}",
            self.stderr.text()
        );
    }

    /// Sends a fresh message (again while the handler fails it) and waits
    /// until it is processed: every line printed before is visible then.
    fn sync(&self, py: &Python) {
        let id = unique("sync");
        for _ in 0..5 {
            if py.send(&[signed(&self.url, &id)], false) == [200] {
                self.wait_processed(&id);
                return;
            }
        }
        panic!(
            "sentinel {id} never accepted; stderr:\n{}",
            self.stderr.text()
        );
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Python interpreter with `standardwebhooks`, driving tests/sender.py.
#[derive(Clone)]
struct Python(String);

impl Python {
    /// `None` (after a notice) when the library cannot be imported; under
    /// CI that fails the test instead.
    fn find() -> Option<Self> {
        let program = std::env::var("WEBWIRE_PYTHON")
            .ok()
            .filter(|p| !p.is_empty())
            .or_else(|| {
                let venv =
                    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
                venv.exists().then(|| venv.display().to_string())
            })
            .unwrap_or_else(|| "python3".to_owned());
        let out = Command::new(&program)
            .args([SENDER, "check"])
            .stdin(Stdio::null())
            .output();
        let problem = match out {
            Ok(o) if o.status.success() && o.stdout.starts_with(b"ok") => {
                return Some(Self(program));
            }
            Ok(o) => String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("import failed")
                .to_owned(),
            Err(e) => format!("cannot run {program}: {e}"),
        };
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !ci,
            "CI is set but Python's `standardwebhooks` is unavailable ({problem}); \
             run `pip install -r .ci/requirements.txt` or set WEBWIRE_PYTHON"
        );
        eprintln!(
            "SKIPPED: Python's `standardwebhooks` is unavailable ({problem}); \
             `pip install standardwebhooks` or set WEBWIRE_PYTHON to run this test"
        );
        None
    }

    /// Sends `requests` (lines for `sender.py send`); one status each.
    fn send(&self, requests: &[String], concurrent: bool) -> Vec<u16> {
        let mut command = Command::new(&self.0);
        command.args([SENDER, "send"]);
        if concurrent {
            command.arg("--concurrent");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run sender.py");
        // sender.py reads all of its input before it prints anything.
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(requests.join("\n").as_bytes())
            .expect("write requests");
        drop(stdin);
        let out = child.wait_with_output().expect("sender.py");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sender.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let statuses: Vec<u16> = stdout
            .lines()
            .map(|l| {
                l.parse()
                    .unwrap_or_else(|_| panic!("sender.py answered `{l}`"))
            })
            .collect();
        assert_eq!(statuses.len(), requests.len(), "one status per request");
        statuses
    }
}

/// A request line for `sender.py send`.
fn request(url: &str, secret: &str, id: &str, flag: &str) -> String {
    format!("{url}\t{secret}\t{id}\t{BODY}\t{flag}")
}

/// `id`, signed with the receiver's secret.
fn signed(url: &str, id: &str) -> String {
    request(url, SECRET, id, "-")
}

/// A raw HTTP/1.1 request; the response's status code.
fn raw_status(addr: &str, head: &str, body: &[u8]) -> u16 {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut request = format!(
        "{head}\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    // The server may answer (413) before it reads the whole body, so write
    // on another thread while this one reads; a failed write is no error.
    let mut writer = stream.try_clone().expect("clone the socket");
    let written = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut status_line = String::new();
    let read = BufReader::new(&stream).read_line(&mut status_line);
    // Unblocks the writer if the server neither reads nor closes.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = written.join();
    read.expect("read the status line");
    status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {status_line:?}"))
}

/// A `sqlite://` URL of a fresh file in the tests' scratch directory.
fn fresh_db(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.sqlite", unique(name)));
    format!("sqlite://{}", path.display())
}

#[test]
fn http_errors_need_no_signature_library() {
    let r = Receiver::start(&[]);
    let addr = r.addr();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let signed_head = |ts: &str, sig: &str| {
        format!(
            "POST /hooks HTTP/1.1\r\nwebhook-id: msg_raw\r\nwebhook-timestamp: {ts}\r\n\
             webhook-signature: {sig}"
        )
    };
    let zeros = format!("v1,{}=", "A".repeat(43));
    // Any path is served: unsigned gets 400 (missing header), not 404.
    assert_eq!(
        raw_status(addr, "POST /any/path/at/all HTTP/1.1", b"{}"),
        400
    );
    assert_eq!(raw_status(addr, "POST / HTTP/1.1", b"{}"), 400);
    // Other methods: 405.
    assert_eq!(raw_status(addr, "GET / HTTP/1.1", b""), 405);
    assert_eq!(raw_status(addr, "PUT /hooks HTTP/1.1", b"{}"), 405);
    // Malformed headers: 400. A signature that does not match: 401, as is a
    // stale timestamp.
    assert_eq!(raw_status(addr, &signed_head("soon", &zeros), b"{}"), 400);
    assert_eq!(
        raw_status(addr, &signed_head(&now.to_string(), "v1,!"), b"{}"),
        400
    );
    assert_eq!(
        raw_status(addr, &signed_head(&now.to_string(), &zeros), b"{}"),
        401
    );
    assert_eq!(
        raw_status(addr, &signed_head("1614265330", &zeros), b"{}"),
        401
    );
    // Over 1 MiB: 413 before any check. Exactly 1 MiB is read and checked.
    let big = vec![b'x'; 1024 * 1024];
    assert_eq!(
        raw_status(addr, &signed_head(&now.to_string(), &zeros), &big),
        401
    );
    let too_big = vec![b'x'; 1024 * 1024 + 1];
    assert_eq!(
        raw_status(addr, &signed_head(&now.to_string(), &zeros), &too_big),
        413
    );
    // Nothing was processed, and the receiver still serves.
    assert_eq!(r.stdout.count(|l| l.starts_with("processed ")), 0);
    assert_eq!(raw_status(addr, "POST / HTTP/1.1", b"{}"), 400);
}

#[test]
fn processes_once_and_refuses_bad_signatures() {
    let Some(py) = Python::find() else { return };
    let r = Receiver::start(&[]);
    let id = unique("msg");
    let url = format!("{}/hooks/billing", r.url);
    assert_eq!(py.send(&[signed(&url, &id)], false), [200]);
    r.wait_processed(&id);
    // The same message again (its 200 was lost, say): 200, not processed.
    assert_eq!(py.send(&[signed(&url, &id)], false), [200]);

    // A changed body, another sender's secret: 401, and nothing claimed, so
    // the genuine message is processed afterwards.
    let other = unique("msg");
    let forged = [
        request(&url, SECRET, &other, "tamper"),
        request(&url, OTHER_SECRET, &other, "-"),
    ];
    assert_eq!(py.send(&forged, false), [401, 401]);
    assert_eq!(py.send(&[signed(&url, &other)], false), [200]);

    r.sync(&py);
    assert_eq!(r.processed(&id), 1, "{}", r.stdout.text());
    assert_eq!(r.processed(&other), 1, "{}", r.stdout.text());
}

#[test]
fn failed_handler_is_processed_on_retry() {
    let Some(py) = Python::find() else { return };
    let r = Receiver::start(&["--fail-first", "1"]);
    let id = unique("msg");
    // The handler fails: 500, the claim is released...
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [500]);
    r.sync(&py);
    assert_eq!(r.processed(&id), 0);
    // ...so the sender's retry is processed.
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [200]);
    r.wait_processed(&id);
    // And a duplicate of that is not.
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [200]);
    r.sync(&py);
    assert_eq!(r.processed(&id), 1, "{}", r.stdout.text());
}

#[test]
fn duplicate_in_flight_gets_409() {
    let Some(py) = Python::find() else { return };
    let r = Receiver::start(&["--delay-ms", "3000"]);
    let id = unique("msg");
    let first = {
        let (py, line) = (py.clone(), signed(&r.url, &id));
        std::thread::spawn(move || py.send(&[line], false))
    };
    // Once the first copy is claimed (its handler takes 3 s), a second gets 409.
    let claimed = format!("claimed {id}");
    assert!(r.stderr.wait_for(|l| l == claimed).is_some());
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [409]);
    assert_eq!(first.join().expect("first sender"), [200]);
    // The sender's retry of the 409 finds it processed: 200.
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [200]);
    r.sync(&py);
    assert_eq!(r.processed(&id), 1, "{}", r.stdout.text());
}

#[test]
fn sqlite_shared_by_two_receivers_processes_each_message_once() {
    let Some(py) = Python::find() else { return };
    let db = fresh_db("shared");
    let args = ["--db", db.as_str(), "--delay-ms", "300"];
    let a = Receiver::start(&args);
    let b = Receiver::start(&args);

    // One message, eight copies to each receiver, all at once: one claim
    // wins; the others get 409 while it runs, or 200 once it committed.
    let id = unique("msg");
    let copies: Vec<String> = (0..16)
        .map(|i| signed(if i % 2 == 0 { &a.url } else { &b.url }, &id))
        .collect();
    let statuses = py.send(&copies, true);
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    // Retries after that: 200 from both, nothing processed.
    assert_eq!(
        py.send(&[signed(&a.url, &id), signed(&b.url, &id)], false),
        [200, 200]
    );

    // Twelve messages, each sent twice to each receiver, all at once.
    let ids: Vec<String> = (0..12).map(|_| unique("batch")).collect();
    let batch: Vec<String> = ids
        .iter()
        .flat_map(|id| [&a.url, &b.url, &a.url, &b.url].map(|url| signed(url, id)))
        .collect();
    let statuses = py.send(&batch, true);
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    // Each is processed by then (the winner answered after committing):
    // a retry of every one, to either receiver, is a duplicate.
    let retries: Vec<String> = ids.iter().map(|id| signed(&b.url, id)).collect();
    assert!(py.send(&retries, true).iter().all(|&s| s == 200));

    a.sync(&py);
    b.sync(&py);
    for id in ids.iter().chain([&id]) {
        assert_eq!(
            a.processed(id) + b.processed(id),
            1,
            "{id}\nA:\n{}\nB:\n{}",
            a.stdout.text(),
            b.stdout.text()
        );
    }

    // A receiver restarted on the same file still knows what was processed.
    drop(a);
    let restarted = Receiver::start(&args);
    assert_eq!(py.send(&[signed(&restarted.url, &id)], false), [200]);
    restarted.sync(&py);
    assert_eq!(restarted.processed(&id), 0, "{}", restarted.stdout.text());
}

#[test]
fn sqlite_failed_handler_is_released_and_retried() {
    let Some(py) = Python::find() else { return };
    let db = fresh_db("release");
    let r = Receiver::start(&["--db", &db, "--fail-first", "1"]);
    let id = unique("msg");
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [500]);
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [200]);
    r.wait_processed(&id);
    drop(r);
    // After a restart the commit is still there.
    let r = Receiver::start(&["--db", &db]);
    assert_eq!(py.send(&[signed(&r.url, &id)], false), [200]);
    r.sync(&py);
    assert_eq!(r.processed(&id), 0, "{}", r.stdout.text());
}
