//! WebSockets over HTTP/3 (RFC 9220) against a stack nobody here wrote:
//! aioquic's HTTP/3 with wsproto framing, as a client of `h3_echo` and as
//! the server of our `client --http3`; and, with our HTTP/3 client, many
//! WebSockets on one QUIC connection, resets and refusals.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{Certs, PEERS, Proc, STEP, binary, h3_echo, start, text};
use webwire::random::SeededRandom;
use webwire::ws::Config;
use webwire::ws::handshake::{ClientConfig, ClientHandshake};
use ws_h2_h3::client::H3Session;
use ws_h2_h3::stream::Message;

#[test]
fn aioquic_client_against_h3_echo() {
    let Some(python) = support::python("aioquic client", "aioquic, wsproto") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = h3_echo(&certs);
    // Plain, with permessage-deflate, and with an empty DATA frame before
    // every piece of data (legal; h3 reads one as an end, h3_io must not).
    for flags in [&[][..], &["--deflate"], &["--empty-data-frames"]] {
        let mut cmd = Command::new(&python);
        cmd.arg(format!("{PEERS}/h3_client.py"))
            .arg(format!("https://127.0.0.1:{port}/echo"))
            .args(["--ca", &certs.arg("ca.pem")])
            .args(flags);
        let mut peer = Proc::spawn("h3_client.py", &mut cmd);
        let lines = peer.rest(Duration::from_secs(60));
        peer.wait_success(STEP);
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("FAIL")).count(),
            0,
            "{lines:#?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("ALL PASSED"),
            "{lines:#?}"
        );
        assert!(
            lines.iter().filter(|l| l.starts_with("PASS")).count() >= 12,
            "{lines:#?}"
        );
    }
    let log = server.stderr();
    assert!(
        log.contains("websocket over HTTP/3 extended CONNECT path=/echo extensions=[]"),
        "{log}"
    );
    assert!(log.contains("extensions=[\"permessage-deflate\"]"), "{log}");
}

#[test]
fn client_http3_against_aioquic_server() {
    let Some(python) = support::python("aioquic server", "aioquic, wsproto") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = start(
        "h3_echo_server.py",
        Command::new(python)
            .arg(format!("{PEERS}/h3_echo_server.py"))
            .args([
                "--cert",
                &certs.arg("cert.pem"),
                "--key",
                &certs.arg("key.pem"),
            ]),
    );
    let mut client = Proc::spawn(
        "client",
        Command::new(env!("CARGO_BIN_EXE_client")).args([
            "--ca",
            &certs.arg("ca.pem"),
            "--http3",
            &format!("wss://127.0.0.1:{port}/echo"),
        ]),
    );
    for line in [
        "hello".to_owned(),
        text(100),
        String::new(),
        text(128 * 1024),
        "last".to_owned(),
    ] {
        client.write(format!("{line}\n").as_bytes());
        let echo = client.line(STEP);
        assert!(
            echo == line,
            "sent {} chars, got {} back",
            line.len(),
            echo.len()
        );
    }
    client.close_stdin();
    client.wait_success(STEP);
    assert!(
        client.stderr().contains("closed: 1000"),
        "{}",
        client.stderr()
    );
    let log = server.stderr();
    assert!(log.contains("websocket over HTTP/3 path=/echo"), "{log}");
    assert!(log.contains("permessage-deflate"), "{log}");
}

/// Ten WebSockets at once on one QUIC connection, 1 MiB each way.
#[test]
fn many_websockets_on_one_quic_connection() {
    let certs = Certs::new();
    let (_server, port) = h3_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        let mut tasks = Vec::new();
        for i in 0..10 {
            let mut ws = session
                .open(&url, ClientConfig::new(), Config::default())
                .await
                .unwrap();
            tasks.push(tokio::spawn(async move {
                let payload = Bytes::from(binary((1 << 20) - i));
                ws.send(Message::Binary(payload.clone())).await.unwrap();
                assert_eq!(ws.next().await.unwrap().unwrap(), Message::Binary(payload));
                ws.send(Message::Text(text(1000 + i))).await.unwrap();
                assert_eq!(
                    ws.next().await.unwrap().unwrap(),
                    Message::Text(text(1000 + i))
                );
                ws.close().await.unwrap();
            }));
        }
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(60), task)
                .await
                .unwrap()
                .unwrap();
        }
    });
}

/// A request stream the client resets is a typed failure on the server.
#[test]
fn a_reset_stream_is_a_typed_failure() {
    let certs = Certs::new();
    let (server, port) = h3_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        let (response, mut stream) = session.send_connect(connect_request(&url)).await.unwrap();
        assert_eq!(response.status(), 200);
        stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
        stream.stop_sending(h3::error::Code::H3_REQUEST_CANCELLED);
        // Keep the connection up until the server has seen it.
        let deadline = Instant::now() + STEP;
        while !server.stderr().contains("ended: 0 messages, then") {
            assert!(Instant::now() < deadline, "{}", server.stderr());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let log = server.stderr();
    assert!(
        log.contains("stream reset by the peer (error code 0x10c)"),
        "{log}"
    );
}

/// A refusal over HTTP/3: a 400 with `sec-websocket-version: 13`, no
/// `Connection` header; the QUIC connection carries on.
#[test]
fn refusals_are_valid_http3_responses() {
    let certs = Certs::new();
    let (_server, port) = h3_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        let mut request = connect_request(&url);
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        let (response, _stream) = session.send_connect(request).await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.headers().get("connection").is_none());
        let mut ws = session
            .open(&url, ClientConfig::new(), Config::default())
            .await
            .unwrap();
        ws.send(Message::Text("still here".into())).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Text("still here".into())
        );
        ws.close().await.unwrap();
    });
}

/// An HTTP/3 connection to `h3_echo` at `url`.
async fn session(certs: &Certs, url: &str) -> H3Session {
    H3Session::connect(url, Some(&certs.dir.path().join("ca.pem")))
        .await
        .unwrap()
}

/// The extended CONNECT request for a WebSocket to `url`, to send by hand.
fn connect_request(url: &str) -> http::Request<()> {
    ClientHandshake::new(url, ClientConfig::new(), &mut SeededRandom::new(1))
        .unwrap()
        .extended_connect_request(http::Version::HTTP_3)
        .unwrap()
}
