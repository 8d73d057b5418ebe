//! `examples/tokio_echo` as a process: a graceful shutdown on SIGINT (every
//! open connection gets a 1001 close and finishes its closing handshake,
//! then the server exits 0), and `examples/tokio_client` against it.
#![cfg(all(feature = "ws", unix))]

mod interop_support;

#[path = "../examples/common/stream.rs"]
mod stream;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use interop_support::{Proc, STEP, example, listening_url};
use stream::{Message, client_handshake};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use webwire::random::SeededRandom;
use webwire::ws::handshake::ClientConfig;
use webwire::ws::{CloseCode, Config};

fn start() -> (Proc, String) {
    let server = Proc::spawn(
        "tokio_echo",
        Command::new(example("tokio_echo")).args(["--addr", "127.0.0.1:0"]),
    );
    let url = listening_url(&server);
    (server, url)
}

#[test]
fn sigint_closes_every_connection_with_1001_and_exits_0() {
    let (mut server, url) = start();
    let addr = url["ws://".len()..].to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut clients = Vec::new();
        for i in 0..5 {
            let tcp = TcpStream::connect(&addr).await.unwrap();
            let mut ws = client_handshake(
                tcp,
                &url,
                ClientConfig::new(),
                Config::default(),
                SeededRandom::new(i),
            )
            .await
            .unwrap();
            // Open for sure: an echo went through.
            ws.send(Message::Text(format!("hello {i}"))).await.unwrap();
            let echo = timeout(STEP, ws.next()).await.unwrap().unwrap().unwrap();
            assert_eq!(echo, Message::Text(format!("hello {i}")));
            clients.push(ws);
        }
        // A connection still in its handshake is not waited for.
        let mut half = TcpStream::connect(&addr).await.unwrap();
        half.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();

        let started = Instant::now();
        let kill = Command::new("kill")
            .args(["-INT", &server.id().to_string()])
            .status()
            .expect("kill");
        assert!(kill.success());
        for (i, mut ws) in clients.into_iter().enumerate() {
            let close = timeout(STEP, ws.next()).await.expect("a close in time");
            assert_eq!(
                close.unwrap().unwrap(),
                Message::Close(Some((CloseCode::GOING_AWAY, "server shutting down".into()))),
                "client {i}"
            );
            assert!(
                timeout(STEP, ws.next()).await.unwrap().is_none(),
                "client {i}"
            );
        }
        // Well within the close timeout: every client answered at once.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        drop(half);
    });
    let status = server.wait(STEP);
    assert!(
        status.success(),
        "tokio_echo exited with {status}; stderr:\n{}",
        server.stderr()
    );
}

#[cfg(feature = "getrandom")]
#[test]
fn tokio_client_echoes_stdin_and_closes_at_its_end() {
    let (_server, url) = start();
    let mut client = Proc::spawn(
        "tokio_client",
        Command::new(example("tokio_client")).arg(&url),
    );
    client.write(b"first line\nsecond line\n");
    assert_eq!(client.line(STEP), "first line");
    assert_eq!(client.line(STEP), "second line");
    client.close_stdin();
    assert!(client.rest(STEP).is_empty());
    client.wait_success(STEP);
    assert!(
        client.stderr().contains("closed: 1000"),
        "{}",
        client.stderr()
    );
}

#[cfg(feature = "getrandom")]
#[test]
fn tokio_client_exits_0_when_the_server_closes_first() {
    let (mut server, url) = start();
    let mut client = Proc::spawn(
        "tokio_client",
        Command::new(example("tokio_client")).arg(&url),
    );
    client.write(b"ping\n");
    assert_eq!(client.line(STEP), "ping");
    let kill = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    // Its stdin is still open: the server's close ends it anyway.
    client.wait_success(STEP);
    assert!(
        client
            .stderr()
            .contains("closed: 1001 server shutting down"),
        "{}",
        client.stderr()
    );
    assert!(server.wait(STEP).success());
}
