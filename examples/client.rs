//! A small debugging client on blocking std::net.
//!
//! `cargo run --example client -- ws://127.0.0.1:9001` sends each line read
//! from stdin as a text message and prints each text message received on its
//! own line (binary ones as `<binary N bytes>`). At the end of stdin it closes
//! with 1000 and exits 0 once the closing handshake is done; a failed
//! connection or one that ends without a close frame exits 1. Built with
//! the `deflate` feature, it offers permessage-deflate.
//!
//! Two helper threads, one reading stdin and one reading the socket, feed a
//! single channel; the main thread owns the `Connection` and sleeps in
//! `recv_timeout` until input arrives or the connection's next timer is due.

mod common;

use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Instant;

use webwire::ws::handshake::ClientConfig;
use webwire::ws::{CloseCode, Config, Event, Limits, State};

/// What the helper threads report to the main thread.
enum Input {
    Line(String),
    StdinEnd,
    Data(Vec<u8>),
    SocketEnd,
}

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: client ws://HOST:PORT/PATH");
        return ExitCode::from(2);
    };
    match run(&url) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the session; true if it ended with a closing handshake.
fn run(url: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let limits = Limits::default()
        .with_max_frame_size(16 << 20)
        .with_max_message_size(16 << 20);
    let config = Config::default().with_limits(limits);
    let (mut stream, mut conn, rest) = common::connect(url, handshake(), config, random())?;

    let (tx, rx) = mpsc::channel();
    spawn_stdin_reader(tx.clone());
    spawn_socket_reader(stream.try_clone()?, tx);

    let mut stdout = io::stdout().lock();
    let mut out = Vec::new();
    let mut clean = false;
    // Bytes received and not yet taken by the connection: it stops taking
    // input while events or a pong wait to be drained.
    let mut unread = rest;
    loop {
        let used = conn.handle_data(Instant::now(), &unread);
        unread.drain(..used);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(text) => writeln!(stdout, "{text}")?,
                Event::Binary(data) => writeln!(stdout, "<binary {} bytes>", data.len())?,
                Event::Closed { code, reason, .. } => {
                    eprintln!("closed: {code} {reason}");
                    clean = code != CloseCode::ABNORMAL;
                }
                Event::Failed(err) => {
                    eprintln!("failed: {err}");
                    clean = false;
                }
                _ => {} // pings (answered automatically), pongs
            }
        }
        stdout.flush()?;
        if common::flush(&mut stream, &mut conn, &mut out)? {
            // Also wakes the socket reader, which then sees the end.
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(clean);
        }
        if !unread.is_empty() {
            continue;
        }
        let input = match conn.poll_timeout() {
            Some(deadline) => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        match input {
            Ok(Input::Line(line)) => {
                if conn.state() == State::Open {
                    conn.send_text(&line)?;
                }
            }
            Ok(Input::StdinEnd) => {
                if conn.state() == State::Open {
                    conn.close(now, CloseCode::NORMAL, "")?;
                }
            }
            Ok(Input::Data(data)) => unread = data,
            Ok(Input::SocketEnd) | Err(RecvTimeoutError::Disconnected) => conn.handle_eof(),
            Err(RecvTimeoutError::Timeout) => conn.handle_timeout(now),
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

/// Sends what arrives on the socket, then its end.
fn spawn_socket_reader(mut stream: TcpStream, tx: Sender<Input>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(Input::Data(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(Input::SocketEnd);
    });
}
