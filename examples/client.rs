//! A small debugging client on blocking std::net.
//!
//! ```text
//! cargo run --example client -- [--proxy URL] [--reconnect] ws://HOST:PORT/PATH
//! ```
//!
//! Sends each line read from stdin as a text message and prints each text
//! message received on its own line (binary ones as `<binary N bytes>`). At
//! the end of stdin it closes with 1000 and exits 0 once the closing
//! handshake is done; a failed connection or one that ends without a close
//! frame exits 1. Built with the `deflate` feature, it offers
//! permessage-deflate.
//!
//! `--proxy http://[user:pass@]HOST:PORT` tunnels through an HTTP proxy
//! (CONNECT), `--proxy socks5://[user:pass@]HOST:PORT` through a SOCKS5
//! proxy that resolves the server's name. Without `--proxy`, the usual
//! `http_proxy` / `ALL_PROXY` / `NO_PROXY` variables apply (webwire's
//! `Proxy::from_env`).
//!
//! `--reconnect`: when the connection drops (or cannot be made), connect
//! again after webwire's `Reconnector` says so (backoff with jitter, reset
//! once a connection has been stable), printing `connected` on stderr each
//! time; lines typed while disconnected are sent after reconnecting. It
//! gives up on a 4xx handshake refusal or a close code that says the
//! client is at fault.
//!
//! `wss://` URLs go over TLS (rustls), the server's certificate checked
//! against Mozilla's roots and `--ca FILE`; a certificate that does not
//! chain, has expired or names another host fails before the handshake.
//!
//! A helper thread reads stdin into a channel; the main thread owns the
//! socket (or TLS stream) and the `Connection`, reading with a short
//! timeout so that lines go out promptly and the connection's timers fire.

mod common;

use common::Transport as _;

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use webwire::proxy::Proxy;
use webwire::ws::handshake::ClientConfig;
use webwire::ws::{
    CloseCode, Config, Disconnect, Event, Limits, ReconnectDecision, ReconnectPolicy, Reconnector,
    State,
};

/// What the stdin thread reports to the main thread.
enum Input {
    Line(String),
    StdinEnd,
}

const USAGE: &str =
    "usage: client [--proxy URL] [--ca CA.pem] [--reconnect] ws[s]://HOST:PORT/PATH";

/// How long a read waits before stdin is looked at again.
const POLL: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let mut url = None;
    let mut proxy = None;
    let mut ca = None;
    let mut reconnect = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--proxy" => proxy = args.next(),
            "--ca" => ca = args.next().map(std::path::PathBuf::from),
            "--reconnect" => reconnect = true,
            _ if url.is_none() && !arg.starts_with("--") => url = Some(arg),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(url) = url else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&url, proxy.as_deref(), ca.as_deref(), reconnect) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The proxy from `--proxy`, else from the environment.
fn proxy_for(url: &str, flag: Option<&str>) -> Result<Option<Proxy>, Box<dyn std::error::Error>> {
    if let Some(flag) = flag {
        return Ok(Some(Proxy::parse(flag)?));
    }
    let uri: http::Uri = url.parse()?;
    let host = uri.host().ok_or("no host in the URL")?;
    let port = uri.port_u16().unwrap_or(80);
    Ok(Proxy::from_env(
        uri.scheme_str().unwrap_or("ws"),
        host,
        port,
    )?)
}

/// A millisecond clock for the reconnector.
fn now_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Runs sessions (one, or with `reconnect` as many as it takes); true if
/// the last ended with a closing handshake after the end of stdin.
fn run(
    url: &str,
    proxy: Option<&str>,
    ca: Option<&std::path::Path>,
    reconnect: bool,
) -> Result<bool, Box<dyn std::error::Error>> {
    let proxy = proxy_for(url, proxy)?;
    let (tx, rx) = mpsc::channel();
    spawn_stdin_reader(tx.clone());
    let start = Instant::now();
    let mut reconnector =
        reconnect.then(|| Reconnector::new(ReconnectPolicy::default(), &mut random()));
    let mut lines = Lines::default();
    loop {
        let limits = Limits::default()
            .with_max_frame_size(16 << 20)
            .with_max_message_size(16 << 20);
        let config = Config::default().with_limits(limits);
        let disconnect =
            match common::connect_via(url, proxy.as_ref(), ca, handshake(), config, random()) {
                Ok((stream, conn, rest)) => {
                    eprintln!("connected");
                    if let Some(r) = &mut reconnector {
                        r.on_connected(now_ms(start));
                    }
                    let code = match session(stream, conn, rest, &rx, &mut lines) {
                        Ok(code) => code,
                        // A broken connection (reset mid-write, say) is one
                        // more drop to a reconnecting client.
                        Err(e) if reconnector.is_some() => {
                            eprintln!("error: {e}");
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    // A closing handshake ends the run, unless the server
                    // closed it and a reconnecting client still has lines.
                    if code.is_some() && (lines.ended || reconnector.is_none()) {
                        return Ok(true);
                    }
                    Disconnect::Closed { code }
                }
                Err(e) if reconnector.is_some() => {
                    eprintln!("error: {e}");
                    match e.downcast_ref::<common::HandshakeRefused>() {
                        Some(refused) => Disconnect::Rejected { status: refused.0 },
                        None => Disconnect::ConnectFailed,
                    }
                }
                Err(e) => return Err(e),
            };
        let Some(r) = &mut reconnector else {
            return Ok(false);
        };
        if lines.ended {
            return Ok(false);
        }
        match r.on_disconnect(disconnect, now_ms(start)) {
            ReconnectDecision::ReconnectAfter { delay_ms } => {
                eprintln!("reconnecting in {delay_ms} ms");
                lines.wait(&rx, Duration::from_millis(delay_ms));
            }
            ReconnectDecision::GiveUp { reason } => {
                eprintln!("giving up: {reason:?}");
                return Ok(false);
            }
            other => return Err(format!("unexpected reconnect decision {other:?}").into()),
        }
    }
}

/// Stdin lines not sent yet, and whether stdin has ended.
#[derive(Default)]
struct Lines {
    queued: VecDeque<String>,
    ended: bool,
}

impl Lines {
    /// Collects stdin while no connection is open, for `delay`.
    fn wait(&mut self, rx: &Receiver<Input>, delay: Duration) {
        let deadline = Instant::now() + delay;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(Input::Line(line)) => self.queued.push_back(line),
                Ok(Input::StdinEnd) => self.ended = true,
                Err(_) => break,
            }
        }
    }
}

/// One connection, until it is over: the code of its closing handshake,
/// or `None` if it was lost without one. One thread does the socket I/O
/// (a TLS stream cannot be split between threads); it reads with a short
/// timeout so that stdin lines go out promptly.
fn session(
    mut stream: common::Stream,
    mut conn: webwire::ws::Connection<impl webwire::random::RandomSource>,
    rest: Vec<u8>,
    rx: &Receiver<Input>,
    lines: &mut Lines,
) -> Result<Option<CloseCode>, Box<dyn std::error::Error>> {
    let mut stdout = io::stdout().lock();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut ended = None;
    // Bytes received and not yet taken by the connection: it stops taking
    // input while events or a pong wait to be drained.
    let mut unread = rest;
    loop {
        while let Ok(input) = rx.try_recv() {
            match input {
                Input::Line(line) => lines.queued.push_back(line),
                Input::StdinEnd => lines.ended = true,
            }
        }
        if conn.state() == State::Open {
            while let Some(line) = lines.queued.pop_front() {
                conn.send_text(&line)?;
            }
            if lines.ended {
                conn.close(Instant::now(), CloseCode::NORMAL, "")?;
            }
        }
        let used = conn.handle_data(Instant::now(), &unread);
        unread.drain(..used);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(text) => writeln!(stdout, "{text}")?,
                Event::Binary(data) => writeln!(stdout, "<binary {} bytes>", data.len())?,
                Event::Closed { code, reason, .. } => {
                    eprintln!("closed: {code} {reason}");
                    ended = (code != CloseCode::ABNORMAL).then_some(code);
                }
                Event::Failed(err) => {
                    eprintln!("failed: {err}");
                    ended = None;
                }
                _ => {} // pings (answered automatically), pongs
            }
        }
        stdout.flush()?;
        if common::flush(&mut stream, &mut conn, &mut out)? {
            stream.shutdown();
            return Ok(ended);
        }
        if !unread.is_empty() {
            continue;
        }
        let now = Instant::now();
        let wait = conn
            .poll_timeout()
            .map_or(POLL, |t| t.saturating_duration_since(now).min(POLL));
        if wait.is_zero() {
            conn.handle_timeout(now);
            continue;
        }
        stream.set_read_timeout(Some(wait))?;
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => unread.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => conn.handle_eof(),
        }
    }
}

/// Masking keys from the OS (feature `getrandom`, on by default).
#[cfg(feature = "getrandom")]
fn random() -> webwire::random::ThreadRandom {
    webwire::random::ThreadRandom
}

/// Without `getrandom`, a generator seeded from the clock and process id:
/// good enough for a debugging client, which no hostile script shares.
#[cfg(not(feature = "getrandom"))]
fn random() -> webwire::random::SeededRandom {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    webwire::random::SeededRandom::new(nanos ^ (u64::from(std::process::id()) << 32))
}

/// The handshake: offers permessage-deflate when built with `deflate`.
fn handshake() -> ClientConfig {
    #[cfg(feature = "deflate")]
    return ClientConfig::new().with_deflate(webwire::ws::deflate::DeflateConfig::default());
    #[cfg(not(feature = "deflate"))]
    return ClientConfig::new();
}

/// Sends each stdin line, then the end of stdin.
fn spawn_stdin_reader(tx: Sender<Input>) {
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::StdinEnd);
    });
}
