//! Interop with a real browser: headless Chromium loads a local page whose
//! script echoes text and binary messages through `examples/echo_server`
//! with the browser's own WebSocket and writes one line per check into the
//! DOM, which `--dump-dom` hands back.
//!
//! The browser is `$WEBWIRE_CHROMIUM` (default `/usr/bin/chromium`, Debian's
//! `chromium` package). Without it the test prints a notice and passes,
//! except under CI (`CI` set), where it fails.
//!
//! The page (`tests/interop_support/chromium_echo.html`) is served by a tiny
//! HTTP server in this test. It holds back an image until the script has
//! posted its result to `/done`, so the load event, after which
//! `--dump-dom` prints the DOM, comes only once the result is in the DOM.
#![cfg(feature = "ws")]

mod interop_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use interop_support::certs::certs;
use interop_support::{
    Proc, STEP, SUPPORT_DIR, TempDir, echo_server, env_var, negotiated, peer_missing, run_bounded,
};

const HINT: &str =
    "Install Debian's `chromium` package or set WEBWIRE_CHROMIUM to a Chromium binary";

/// How long the page may take to report (it bounds each of its own steps).
const PAGE_DEADLINE: Duration = Duration::from_secs(60);

/// The checks the page must report as passed, after `PASS open` and the
/// extensions line.
const EXPECTED: &[&str] = &[
    "PASS text 0 (text of 5 chars)",
    "PASS text 1 (text of 0 chars)",
    "PASS text 2 (text of 16 chars)",
    "PASS text 3 (text of 125 chars)",
    "PASS text 4 (text of 126 chars)",
    "PASS text 5 (text of 65536 chars)",
    "PASS text 6 (text of 524288 chars)",
    "PASS binary 0 (binary of 0 bytes)",
    "PASS binary 1 (binary of 256 bytes)",
    "PASS binary 2 (binary of 65536 bytes)",
    "PASS binary 3 (binary of 1048576 bytes)",
    "PASS pipelined 200",
    "PASS close 4000",
    "ALL PASSED",
];

fn chromium() -> Option<String> {
    let path = env_var("WEBWIRE_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    let problem = match run_bounded(Command::new(&path).arg("--version"), STEP) {
        Ok((status, version, _)) if status.success() && version.contains("Chrom") => {
            eprintln!("browser: {}", version.trim());
            return Some(path);
        }
        Ok((status, stdout, stderr)) => {
            format!("`{path} --version` answered {status}: {stdout:?} {stderr:?}")
        }
        Err(e) => e,
    };
    peer_missing("chromium interop", &problem, HINT);
    None
}

#[test]
fn chromium_echoes_text_and_binary_through_echo_server() {
    let Some(browser) = chromium() else { return };
    let (_server, ws_url) = echo_server();
    run_echo_page(&browser, &ws_url, &[]);
}

/// The same page over `wss://` to `echo_server --tls-*`, with a
/// certificate made here. Chromium trusts exactly that certificate's key
/// (`--ignore-certificate-errors-spki-list`), not every certificate.
#[test]
fn chromium_echoes_over_wss_trusting_only_the_servers_key() {
    let Some(browser) = chromium() else { return };
    let certs = certs();
    let (_server, port) = certs.echo_server("good");
    let trust = format!(
        "--ignore-certificate-errors-spki-list={}",
        certs.spki_sha256("good")
    );
    run_echo_page(&browser, &format!("wss://localhost:{port}/"), &[trust]);
}

/// Loads the echo page against `ws_url` and checks every line it reports.
fn run_echo_page(browser: &str, ws_url: &str, extra_args: &[String]) {
    let page = std::fs::read_to_string(format!("{SUPPORT_DIR}/chromium_echo.html"))
        .expect("read the page")
        .replace("WS_URL_PLACEHOLDER", ws_url);
    let http = PageServer::start(page);
    let profile = TempDir::new("chromium-profile");

    let mut chromium = Proc::spawn(
        "chromium",
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .args(extra_args)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(format!("http://{}/", http.addr)),
    );
    chromium.close_stdin();
    let dom = chromium.rest(PAGE_DEADLINE + STEP).join("\n");
    let status = chromium.wait(STEP);
    let reported = http.result();

    let result = extract_result(&dom).unwrap_or_else(|| {
        panic!(
            "no #result in the DOM (chromium {status}); reported: {reported:?}\nDOM:\n{dom}\n\
             stderr:\n{}",
            chromium.stderr()
        )
    });
    let lines: Vec<&str> = result.lines().collect();
    let failed: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    assert!(failed.is_empty(), "the page reported failures: {failed:#?}");
    // Chromium always offers permessage-deflate: echo_server accepts it
    // when built with the `deflate` feature.
    let extensions = format!("extensions: {}", negotiated(true));
    let expected: Vec<&str> = ["PASS open", extensions.as_str()]
        .into_iter()
        .chain(EXPECTED.iter().copied())
        .collect();
    assert_eq!(
        lines, expected,
        "the page's checks (reported to /done: {reported:?})"
    );
    // What the page posted agrees with the DOM.
    assert_eq!(reported.as_deref(), Some(result.as_str()));
}

/// The text of `<pre id="result">…</pre>`.
fn extract_result(dom: &str) -> Option<String> {
    let start = dom.find("<pre id=\"result\">")? + "<pre id=\"result\">".len();
    let end = start + dom[start..].find("</pre>")?;
    Some(dom[start..end].to_owned())
}

/// A one-page HTTP/1.1 server: `GET /` (the page), `POST /done` (the
/// page's result), `GET /hold` (answered once the result is in, or after
/// `PAGE_DEADLINE`), 404 otherwise. Stopped when dropped.
struct PageServer {
    addr: std::net::SocketAddr,
    state: Arc<(Mutex<Option<String>>, Condvar)>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl PageServer {
    fn start(page: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new((Mutex::new(None), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let page = Arc::new(page);
        let accept = {
            let (state, stop) = (state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (state, page) = (state.clone(), page.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, &page, &state);
                    });
                }
            })
        };
        Self {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// What the page posted to `/done`, if anything.
    fn result(&self) -> Option<String> {
        self.state
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(
    stream: TcpStream,
    page: &str,
    state: &(Mutex<Option<String>>, Condvar),
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(STEP))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; content_length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut stream = stream;
    match (method, path) {
        ("GET", "/") => respond(&mut stream, "200 OK", "text/html; charset=utf-8", page),
        ("POST", "/done") => {
            let (result, cond) = state;
            *result.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(String::from_utf8_lossy(&body).into_owned());
            cond.notify_all();
            respond(&mut stream, "204 No Content", "text/plain", "")
        }
        ("GET", "/hold") => {
            let (result, cond) = state;
            let deadline = Instant::now() + PAGE_DEADLINE;
            let mut guard = result.lock().unwrap_or_else(|e| e.into_inner());
            while guard.is_none() && Instant::now() < deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                guard = cond
                    .wait_timeout(guard, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            drop(guard);
            respond(&mut stream, "204 No Content", "image/png", "")
        }
        _ => respond(&mut stream, "404 Not Found", "text/plain", "not found"),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}
