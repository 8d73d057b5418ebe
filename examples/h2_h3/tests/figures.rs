//! Figures (ignored by default; README quotes them): echo throughput and
//! CPU per message over HTTP/1.1, HTTP/2 and HTTP/3 on loopback with the
//! same messages, and the memory `h2_echo` / `h3_echo` hold per WebSocket
//! with 1,000 open on one connection.
//!
//! `cargo test --release --test figures -- --ignored --nocapture --test-threads 1`
//! on an otherwise idle machine. CPU is the client's (this process) plus the
//! server's, from /proc, in clock ticks: take the figures over runs of
//! seconds, not milliseconds.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{Certs, binary, h2_echo, h3_echo};
use tokio::io::{AsyncRead, AsyncWrite};
use webwire::random::ThreadRandom;
use webwire::ws::Config;
use webwire::ws::handshake::ClientConfig;
use ws_h2_h3::client::{H2Session, H3Session};
use ws_h2_h3::stream::{Message, WebSocketStream};

/// WebSockets echoing at once, each with one message in flight.
const SOCKETS: usize = 16;
/// How long each measured run lasts.
const RUN: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Http {
    V1,
    V2,
    V3,
}

/// user + system CPU time of process `pid` (`self` for this one).
fn cpu(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

/// Resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

/// Opens `n` WebSockets to `url`: `n` TCP+TLS connections over HTTP/1.1,
/// or `n` streams on one HTTP/2 or HTTP/3 connection (the HTTP/3 session,
/// which owns the QUIC endpoint, comes along: it must outlive them).
async fn open(http: Http, url: &str, ca: &Path, n: usize) -> (Vec<Socket>, Option<H3Session>) {
    let mut sockets = Vec::with_capacity(n);
    match http {
        Http::V1 => {
            let tls = ws_h2_h3::tls::client_config(Some(ca)).unwrap();
            for _ in 0..n {
                let ws = ws_h2_h3::stream::connect_tls(
                    url,
                    tls.clone(),
                    ClientConfig::new(),
                    Config::default(),
                )
                .await
                .unwrap();
                sockets.push(Socket::V1(Box::new(ws)));
            }
        }
        Http::V2 => {
            let mut session = H2Session::connect(url, Some(ca)).await.unwrap();
            for _ in 0..n {
                let ws = session
                    .open(url, ClientConfig::new(), Config::default())
                    .await
                    .unwrap();
                sockets.push(Socket::V2(Box::new(ws)));
            }
        }
        Http::V3 => {
            let mut session = H3Session::connect(url, Some(ca)).await.unwrap();
            for _ in 0..n {
                let ws = session
                    .open(url, ClientConfig::new(), Config::default())
                    .await
                    .unwrap();
                sockets.push(Socket::V3(Box::new(ws)));
            }
            return (sockets, Some(session));
        }
    }
    (sockets, None)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A WebSocket over one of the three (boxed: they differ in size).
enum Socket {
    V1(Box<WebSocketStream<Tls, ThreadRandom>>),
    V2(Box<WebSocketStream<ws_h2_h3::h2_io::H2Stream, ThreadRandom>>),
    V3(Box<WebSocketStream<ws_h2_h3::h3_io::ClientStream, ThreadRandom>>),
}

/// One echo round trip.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S, ThreadRandom>,
    payload: &Bytes,
) {
    ws.send(Message::Binary(payload.clone())).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Binary(echo))) => assert_eq!(echo.len(), payload.len()),
        other => panic!("no echo: {other:?}"),
    }
}

impl Socket {
    async fn echo(&mut self, payload: &Bytes) {
        match self {
            Socket::V1(ws) => echo(ws, payload).await,
            Socket::V2(ws) => echo(ws, payload).await,
            Socket::V3(ws) => echo(ws, payload).await,
        }
    }
}

/// Echoes `size`-byte messages on SOCKETS WebSockets for RUN; messages
/// per second and CPU microseconds per message (client + server).
fn throughput(http: Http, url: &str, ca: &Path, server: u32, size: usize) -> (f64, f64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (sockets, _h3) = open(http, url, ca, SOCKETS).await;
        let payload = Bytes::from(binary(size));
        // Warm up, then measure.
        let mut tasks = Vec::new();
        let deadline = Instant::now() + RUN + Duration::from_millis(500);
        let start_at = Instant::now() + Duration::from_millis(500);
        for mut socket in sockets {
            let payload = payload.clone();
            tasks.push(tokio::spawn(async move {
                let mut counted = 0u64;
                while Instant::now() < deadline {
                    socket.echo(&payload).await;
                    if Instant::now() >= start_at {
                        counted += 1;
                    }
                }
                (counted, socket)
            }));
        }
        tokio::time::sleep_until(start_at.into()).await;
        let cpu_before = cpu("self") + cpu(&server.to_string());
        let mut messages = 0;
        let mut keep = Vec::new();
        for task in tasks {
            let (counted, socket) = task.await.unwrap();
            messages += counted;
            keep.push(socket);
        }
        let cpu_used = cpu("self") + cpu(&server.to_string()) - cpu_before;
        let seconds = RUN.as_secs_f64();
        (
            messages as f64 / seconds,
            cpu_used.as_secs_f64() * 1e6 / messages as f64,
        )
    })
}

#[test]
#[ignore = "figures: run by hand on an idle machine"]
fn echo_over_http1_http2_http3() {
    let certs = Certs::new();
    let ca = certs.dir.path().join("ca.pem");
    let (h2_server, h2_port) = h2_echo(&certs);
    let (h3_server, h3_port) = h3_echo(&certs);
    println!("| message | protocol | messages/s | CPU µs per message (client + server) |");
    println!("| --- | --- | --- | --- |");
    for size in [16usize, 1024, 16 * 1024, 256 * 1024] {
        for http in [Http::V1, Http::V2, Http::V3] {
            let (port, server) = match http {
                Http::V3 => (h3_port, &h3_server),
                _ => (h2_port, &h2_server),
            };
            let url = format!("wss://127.0.0.1:{port}/echo");
            let (rate, cpu) = throughput(http, &url, &ca, server.id(), size);
            println!("| {size} B | {http:?} | {rate:.0} | {cpu:.1} |");
        }
    }
}

#[test]
#[ignore = "figures: run by hand on an idle machine"]
fn memory_per_websocket_with_1000_open() {
    let certs = Certs::new();
    let ca = certs.dir.path().join("ca.pem");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("| protocol | 1,000 WebSockets on | server RSS per WebSocket |");
    println!("| --- | --- | --- |");
    for http in [Http::V1, Http::V2, Http::V3] {
        // A fresh server each time: memory one run freed stays mapped.
        let (server, port) = match http {
            Http::V3 => h3_echo(&certs),
            _ => h2_echo(&certs),
        };
        let url = format!("wss://127.0.0.1:{port}/echo");
        std::thread::sleep(Duration::from_millis(200));
        let before = rss(server.id());
        let sockets = runtime.block_on(async {
            let (mut sockets, h3) = open(http, &url, &ca, 1000).await;
            // One small message each, so every stream is past its start.
            let payload = Bytes::from(binary(16));
            for socket in &mut sockets {
                socket.echo(&payload).await;
            }
            (sockets, h3)
        });
        std::thread::sleep(Duration::from_millis(300));
        let per = (rss(server.id()) as f64 - before as f64) / 1000.0;
        let on = match http {
            Http::V1 => "1,000 TLS connections",
            Http::V2 => "1 HTTP/2 connection",
            Http::V3 => "1 QUIC connection",
        };
        println!("| {http:?} | {on} | {per:.0} B |");
        drop(sockets);
    }
}
