//! The examples' async adapter, `examples/common/stream.rs`
//! (`WebSocketStream`: `Stream` + `Sink` of messages, `accept`,
//! `client_handshake`, `connect`), over tokio duplex pipes and loopback
//! TCP: echo, split halves in two tasks, pings, backpressure, timers, and
//! the closing handshake from either side, timed out, or skipped by the
//! peer.
#![cfg(feature = "ws")]

#[path = "../examples/common/stream.rs"]
mod stream;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use stream::{Error, MAX_UNSENT, Message, WebSocketStream, accept, client_handshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use webwire::random::SeededRandom;
use webwire::ws::handshake::{ClientConfig, ServerConfig};
use webwire::ws::{CloseCode, Config, ConnectionError, Encoder, Role, State};

/// Any single step of a test.
const STEP: Duration = Duration::from_secs(10);

type Server<S> = WebSocketStream<S>;
type Client<S> = WebSocketStream<S, SeededRandom>;

/// A server and a client over a duplex pipe of `capacity` bytes each way.
async fn pair_with(
    capacity: usize,
    server_config: Config,
    client_config: Config,
) -> (Server<DuplexStream>, Client<DuplexStream>) {
    let (a, b) = tokio::io::duplex(capacity);
    let server = tokio::spawn(async move {
        accept(a, &ServerConfig::new(), move |_| server_config)
            .await
            .expect("server handshake")
    });
    let client = client_handshake(
        b,
        "ws://example.com/chat",
        ClientConfig::new(),
        client_config,
        SeededRandom::new(7),
    )
    .await
    .expect("client handshake");
    (server.await.expect("server task"), client)
}

async fn pair() -> (Server<DuplexStream>, Client<DuplexStream>) {
    pair_with(64 * 1024, Config::default(), Config::default()).await
}

/// The next message, within `STEP`.
async fn next<S>(ws: &mut S) -> Option<Result<Message, Error>>
where
    S: futures_util::Stream<Item = Result<Message, Error>> + Unpin,
{
    timeout(STEP, ws.next()).await.expect("a message in time")
}

async fn next_ok<S>(ws: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, Error>> + Unpin,
{
    next(ws)
        .await
        .expect("a message, not the end")
        .expect("a message, not an error")
}

/// Echoes text and binary until the stream ends; returns the last item
/// (the close, or the error).
async fn echo<S>(mut ws: Server<S>) -> Option<Result<Message, Error>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut last = None;
    while let Some(item) = ws.next().await {
        match item {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => ws.feed(m).await.expect("feed"),
            Ok(Message::Close(c)) => last = Some(Ok(Message::Close(c))),
            Ok(_) => {}
            Err(e) => last = Some(Err(e)),
        }
    }
    last
}

#[tokio::test]
async fn echo_round_trip_and_close_from_the_client() {
    let (server, mut client) = pair().await;
    let server = tokio::spawn(echo(server));
    client.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(next_ok(&mut client).await, Message::Text("hello".into()));
    let big = Bytes::from(vec![0xA5; 200_000]);
    client.send(Message::Binary(big.clone())).await.unwrap();
    assert_eq!(next_ok(&mut client).await, Message::Binary(big));
    // Several fed, one flush: all echoed, in order.
    for i in 0..100 {
        client.feed(Message::Text(format!("m{i}"))).await.unwrap();
    }
    client.flush().await.unwrap();
    for i in 0..100 {
        assert_eq!(next_ok(&mut client).await, Message::Text(format!("m{i}")));
    }
    timeout(STEP, client.close())
        .await
        .expect("closed in time")
        .unwrap();
    assert_eq!(client.connection().state(), State::Closed);
    // The server saw our 1000 and answered it; the client's stream hands out
    // the close, then ends.
    let last = timeout(STEP, server).await.unwrap().unwrap();
    assert!(matches!(
        last,
        Some(Ok(Message::Close(Some((CloseCode::NORMAL, _)))))
    ));
    assert!(matches!(
        next(&mut client).await,
        Some(Ok(Message::Close(Some((CloseCode::NORMAL, _)))))
    ));
    assert!(next(&mut client).await.is_none());
    assert!(client.send(Message::Text("late".into())).await.is_err());
}

#[tokio::test]
async fn server_closes_with_1001_and_the_client_sees_it() {
    let (mut server, mut client) = pair().await;
    let client = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(item) = client.next().await {
            seen.push(item.map_err(|e| e.to_string()));
        }
        seen
    });
    server.send(Message::Text("bye soon".into())).await.unwrap();
    server
        .feed(Message::Close(Some((
            CloseCode::GOING_AWAY,
            "restarting".into(),
        ))))
        .await
        .unwrap();
    timeout(STEP, server.close())
        .await
        .expect("closed in time")
        .unwrap();
    let seen = timeout(STEP, client).await.unwrap().unwrap();
    assert_eq!(
        seen,
        vec![
            Ok(Message::Text("bye soon".into())),
            Ok(Message::Close(Some((
                CloseCode::GOING_AWAY,
                "restarting".into()
            ))))
        ]
    );
    // The server's stream hands out the client's answer, then ends.
    assert!(matches!(
        next(&mut server).await,
        Some(Ok(Message::Close(Some((CloseCode::GOING_AWAY, _)))))
    ));
    assert!(next(&mut server).await.is_none());
}

#[tokio::test]
async fn pings_are_answered_and_reported() {
    let (mut server, mut client) = pair().await;
    client
        .send(Message::Ping(Bytes::from_static(b"abc")))
        .await
        .unwrap();
    // The server reports the ping (already answered)…
    assert_eq!(
        next_ok(&mut server).await,
        Message::Ping(Bytes::from_static(b"abc"))
    );
    // …and its stream wrote the pong while it waited for more input.
    let more = tokio::spawn(async move {
        let item = server.next().await;
        (server, item)
    });
    assert_eq!(
        next_ok(&mut client).await,
        Message::Pong(Bytes::from_static(b"abc"))
    );
    client.send(Message::Text("after".into())).await.unwrap();
    let (_server, item) = timeout(STEP, more).await.unwrap().unwrap();
    assert_eq!(item.unwrap().unwrap(), Message::Text("after".into()));
}

/// Split halves in two tasks of a multi-threaded runtime, over TCP: the
/// server's reader forwards every message through a channel to its writer,
/// which echoes it; the client closes through its sink half from a third
/// task while its stream half reads in a fourth.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_work_from_two_tasks() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = accept(tcp, &ServerConfig::new(), |_| Config::default())
            .await
            .unwrap();
        let (mut tx, mut rx) = ws.split();
        let (chan_tx, mut chan_rx) = tokio::sync::mpsc::channel::<Message>(8);
        let reader = tokio::spawn(async move {
            let mut last = None;
            while let Some(item) = rx.next().await {
                match item {
                    Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                        chan_tx.send(m).await.unwrap()
                    }
                    other => last = Some(other.map_err(|e| e.to_string())),
                }
            }
            last
        });
        let writer = tokio::spawn(async move {
            let mut n = 0;
            while let Some(m) = chan_rx.recv().await {
                // Fed, and flushed whenever nothing more is waiting: the
                // other task's stream half writes only when it polls.
                tx.feed(m).await.unwrap();
                n += 1;
                if chan_rx.is_empty() {
                    tx.flush().await.unwrap();
                }
            }
            n
        });
        (reader.await.unwrap(), writer.await.unwrap())
    });

    let tcp = TcpStream::connect(addr).await.unwrap();
    let ws = client_handshake(
        tcp,
        &format!("ws://{addr}/"),
        ClientConfig::new(),
        Config::default(),
        SeededRandom::new(3),
    )
    .await
    .unwrap();
    let (mut tx, mut rx) = ws.split();
    const N: usize = 2_000;
    let expected: Vec<String> = (0..N)
        .map(|i| match i % 10 {
            9 => format!("<{}>", 10_000 + i),
            _ => format!("message {i}"),
        })
        .collect();
    let (all_in_tx, all_in) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        let (mut got, mut last, mut all_in_tx) = (Vec::new(), None, Some(all_in_tx));
        while let Some(item) = rx.next().await {
            match item {
                Ok(Message::Text(t)) => got.push(t),
                Ok(Message::Binary(b)) => got.push(format!("<{}>", b.len())),
                other => last = Some(other.map_err(|e| e.to_string())),
            }
            if got.len() == N {
                if let Some(tx) = all_in_tx.take() {
                    tx.send(()).unwrap();
                }
            }
        }
        (got, last)
    });
    let writer = tokio::spawn(async move {
        for i in 0..N {
            let m = match i % 10 {
                9 => Message::Binary(vec![1; 10_000 + i].into()),
                _ => Message::Text(format!("message {i}")),
            };
            tx.feed(m).await.unwrap();
        }
        tx.flush().await.unwrap();
        // Close once every echo is in, from this task, while the other
        // half keeps reading.
        all_in.await.unwrap();
        tx.close().await.unwrap();
    });
    timeout(STEP, writer).await.expect("writer done").unwrap();
    let (got, last) = timeout(STEP, reader).await.expect("reader done").unwrap();
    assert_eq!(got.len(), N, "every echo arrived before the close");
    assert_eq!(got, expected);
    assert_eq!(
        last,
        Some(Ok(Message::Close(Some((CloseCode::NORMAL, String::new())))))
    );
    let (server_last, echoed) = timeout(STEP, server).await.unwrap().unwrap();
    assert_eq!(echoed, N);
    assert_eq!(
        server_last,
        Some(Ok(Message::Close(Some((CloseCode::NORMAL, String::new())))))
    );
}

/// A peer that never reads: `poll_ready` pends once the pipe and the
/// high-water mark are full, instead of buffering every message.
#[tokio::test]
async fn backpressure_stops_the_sender() {
    const PIPE: usize = 16 * 1024;
    let (_server, mut client) = pair_with(PIPE, Config::default(), Config::default()).await;
    // The server's stream is never polled again: nothing it is sent is read.
    let message = Message::Binary(vec![7; 4096].into());
    let mut sent = 0usize;
    // Until a send pends: backpressure.
    while let Ok(result) = timeout(Duration::from_millis(200), client.feed(message.clone())).await {
        result.unwrap();
        sent += 4096;
        assert!(sent < 10 << 20, "10 MiB taken by a peer that never reads");
    }
    // At most the pipe, the high-water mark and one message (plus headers).
    assert!(
        sent <= PIPE + MAX_UNSENT + 2 * 4096,
        "{sent} bytes taken before pending"
    );
    assert!(sent >= PIPE, "pended with only {sent} bytes sent");
}

/// A peer that pings without reading our pongs: the stream stops reading
/// once its pongs back up, so the peer's writes stall.
#[tokio::test]
async fn ping_flood_without_reading_stalls_the_peer() {
    const PIPE: usize = 8 * 1024;
    let (a, mut b) = tokio::io::duplex(PIPE);
    let server = tokio::spawn(async move {
        let mut ws = accept(a, &ServerConfig::new(), |_| Config::default())
            .await
            .unwrap();
        let mut pings = 0usize;
        while let Some(Ok(_)) = ws.next().await {
            pings += 1;
        }
        pings
    });
    b.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(b.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut chunk = Vec::new();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(5));
    for _ in 0..64 {
        peer.encode_ping(&[0x55; 125], &mut chunk).unwrap();
    }
    let mut written = 0usize;
    while let Ok(result) = timeout(Duration::from_millis(300), b.write_all(&chunk)).await {
        result.unwrap();
        written += chunk.len();
        assert!(
            written < 10 << 20,
            "the server kept reading 10 MiB of pings"
        );
    }
    // Our pipe, its pongs' pipe, its unsent pongs (the high-water mark plus a
    // read's worth), one event queue of pings.
    assert!(
        written <= 2 * PIPE + 2 * MAX_UNSENT + 256 * 131 + chunk.len(),
        "{written} bytes of pings taken"
    );
    drop(b);
    timeout(STEP, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn idle_timeout_closes_with_1001() {
    let server_config = Config::default().with_idle_timeout(Some(Duration::from_millis(200)));
    let (server, mut client) = pair_with(64 * 1024, server_config, Config::default()).await;
    let server = tokio::spawn(echo(server));
    // The client keeps reading but sends nothing.
    let started = tokio::time::Instant::now();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::Close(Some((CloseCode::GOING_AWAY, "idle timeout".into())))
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(next(&mut client).await.is_none());
    let last = timeout(STEP, server).await.unwrap().unwrap();
    assert!(
        matches!(
            last,
            Some(Err(Error::Connection(ConnectionError::IdleTimeout)))
        ),
        "{last:?}"
    );
}

#[tokio::test]
async fn keepalive_pings_keep_a_quiet_connection_open() {
    let server_config = Config::default()
        .with_ping_interval(Some(Duration::from_millis(50)))
        .with_idle_timeout(Some(Duration::from_millis(200)));
    let (server, mut client) = pair_with(64 * 1024, server_config, Config::default()).await;
    let server = tokio::spawn(echo(server));
    // The client only reads: the server's pings, answered automatically.
    let mut pings = 0;
    let quiet = tokio::time::sleep(Duration::from_millis(600));
    tokio::pin!(quiet);
    loop {
        tokio::select! {
            item = client.next() => match item {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("unexpected {other:?}"),
            },
            _ = &mut quiet => break,
        }
    }
    assert!(pings >= 5, "only {pings} pings in 600 ms");
    client
        .send(Message::Text("still here".into()))
        .await
        .unwrap();
    loop {
        match next_ok(&mut client).await {
            Message::Ping(_) => {}
            m => {
                assert_eq!(m, Message::Text("still here".into()));
                break;
            }
        }
    }
    timeout(STEP, client.close()).await.unwrap().unwrap();
    let last = timeout(STEP, server).await.unwrap().unwrap();
    assert!(matches!(last, Some(Ok(Message::Close(_)))), "{last:?}");
}

/// A peer that never answers our close: `close()` gives up after the close
/// timeout, and the stream reports it.
#[tokio::test]
async fn close_timeout_bounds_close() {
    let client_config = Config::default().with_close_timeout(Duration::from_millis(200));
    let (_server, mut client) = pair_with(64 * 1024, Config::default(), client_config).await;
    let started = tokio::time::Instant::now();
    timeout(STEP, client.close())
        .await
        .expect("close returns")
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(150), "gave up after {took:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(matches!(
        next(&mut client).await,
        Some(Err(Error::Connection(ConnectionError::CloseTimeout)))
    ));
    assert!(next(&mut client).await.is_none());
}

/// The transport ends without a close frame: an `UnexpectedEof` error,
/// then the end.
#[tokio::test]
async fn transport_ending_without_close_is_an_error() {
    let (server, mut client) = pair().await;
    drop(server);
    match next(&mut client).await {
        Some(Err(Error::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
        other => panic!("unexpected {other:?}"),
    }
    assert!(next(&mut client).await.is_none());
}

/// Frames that arrive in the same read as the upgrade request are not lost.
#[tokio::test]
async fn frames_pipelined_behind_the_request_are_delivered() {
    let (a, mut b) = tokio::io::duplex(64 * 1024);
    let mut wire = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    let mut peer = Encoder::new(Role::Client, SeededRandom::new(5));
    peer.encode_text("early", &mut wire);
    b.write_all(&wire).await.unwrap();
    let mut ws = accept(a, &ServerConfig::new(), |_| Config::default())
        .await
        .unwrap();
    assert_eq!(next_ok(&mut ws).await, Message::Text("early".into()));
}

/// A request that is not an upgrade gets its error response and an error.
#[tokio::test]
async fn refused_handshake_is_answered_and_reported() {
    let (a, mut b) = tokio::io::duplex(64 * 1024);
    b.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let err = accept(a, &ServerConfig::new(), |_| Config::default())
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let mut response = Vec::new();
    b.read_to_end(&mut response).await.unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 4"), "{response}");
}

/// `connect` speaks cleartext only: a wss:// URL fails before anything is
/// sent (no TCP connection is even made).
#[tokio::test]
async fn connect_refuses_wss_before_connecting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for scheme in ["wss", "https", "http"] {
        let err = stream::connect_with(
            &format!("{scheme}://{addr}/"),
            ClientConfig::new(),
            Config::default(),
            SeededRandom::new(1),
        )
        .await
        .err()
        .expect("refused");
        assert!(err.to_string().contains("ws://"), "{err}");
    }
    assert!(
        timeout(Duration::from_millis(200), listener.accept())
            .await
            .is_err(),
        "a connection was made"
    );
}

/// An echo server on loopback TCP for one connection: its address, and
/// the task that ends with what its stream ended with.
#[cfg(feature = "getrandom")]
async fn tcp_echo_server() -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Option<Result<Message, Error>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        echo(
            accept(tcp, &ServerConfig::new(), |_| Config::default())
                .await
                .unwrap(),
        )
        .await
    });
    (addr, server)
}

#[cfg(feature = "getrandom")]
#[tokio::test]
async fn connect_over_tcp() {
    let (addr, server) = tcp_echo_server().await;
    let mut ws = stream::connect(
        &format!("ws://{addr}/path?q=1"),
        ClientConfig::new(),
        Config::default(),
    )
    .await
    .unwrap();
    ws.send("over tcp".into()).await.unwrap();
    assert_eq!(next_ok(&mut ws).await, Message::Text("over tcp".into()));
    timeout(STEP, ws.close()).await.unwrap().unwrap();
    assert!(matches!(
        timeout(STEP, server).await.unwrap().unwrap(),
        Some(Ok(Message::Close(_)))
    ));
}

/// The README's snippet, against a local echo server.
#[cfg(feature = "getrandom")]
#[tokio::test]
async fn readme_snippet() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    use stream::connect;
    let (addr, _server) = tcp_echo_server().await;
    let url = format!("ws://{addr}/");

    let mut ws = connect(&url, ClientConfig::new(), Config::default()).await?;
    ws.send(Message::Text("hello".into())).await?;
    if let Some(reply) = ws.next().await {
        println!("{:?}", reply?); // Text, Binary, Ping, Pong or Close
    }

    // Halves for two tasks: one reads, the other writes.
    let (mut tx, mut rx) = ws.split();
    let reader = tokio::spawn(async move {
        while let Some(message) = rx.next().await {
            match message? {
                Message::Text(text) => println!("{text}"),
                Message::Close(close) => println!("closed: {close:?}"),
                _ => {} // pings are answered for you
            }
        }
        Ok::<_, stream::Error>(())
    });
    tx.send("one more".into()).await?;
    tx.close().await?; // 1000, then waits for the peer's close
    reader.await??;
    Ok(())
}
