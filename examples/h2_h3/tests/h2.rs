//! WebSockets over HTTP/2 (RFC 8441) against stacks nobody here wrote:
//! Python's `h2` + `wsproto` as a client of `h2_echo`, our `client --http2`
//! against Hypercorn and against Node's `http2` module (with `ws` framing),
//! headless Chromium opening `wss://` to `h2_echo` on the HTTP/2 connection
//! of the page it loaded; and, with the `h2` crate as the client, many
//! WebSockets on one connection under flow control, resets, refusals and
//! frame-level protocol errors over a stream.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use support::{Certs, PEERS, Proc, STEP, h2_echo, start, text};
use webwire::random::SeededRandom;
use webwire::ws::handshake::{ClientConfig, ClientHandshake};
use webwire::ws::{CloseCode, Config, Decoder, Encoder, Incoming, Role};
use ws_h2_h3::client::H2Session;
use ws_h2_h3::stream::Message;

/// Our `client --http2` against the server on `port`: lines out, echoes
/// back, then a clean close.
fn client_session(certs: &Certs, port: u16) {
    let mut client = Proc::spawn(
        "client",
        Command::new(env!("CARGO_BIN_EXE_client")).args([
            "--ca",
            &certs.arg("ca.pem"),
            "--http2",
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
}

#[test]
fn python_h2_client_against_h2_echo() {
    let Some(python) = support::python("python h2 client", "h2, wsproto") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = h2_echo(&certs);
    for deflate in [false, true] {
        let mut cmd = Command::new(&python);
        cmd.arg(format!("{PEERS}/h2_client.py"))
            .arg(format!("https://127.0.0.1:{port}/echo"))
            .args(["--ca", &certs.arg("ca.pem")]);
        if deflate {
            cmd.arg("--deflate");
        }
        let mut peer = Proc::spawn("h2_client.py", &mut cmd);
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
        // The text and binary sizes, the 200 pipelined, the close.
        assert!(
            lines.iter().filter(|l| l.starts_with("PASS")).count() >= 12,
            "{lines:#?}"
        );
    }
    let log = server.stderr();
    assert!(
        log.contains("websocket over HTTP/2 extended CONNECT path=/echo extensions=[]"),
        "{log}"
    );
    assert!(
        log.contains("extensions=[\"permessage-deflate\"]"),
        "permessage-deflate over HTTP/2: {log}"
    );
    assert!(!log.contains("HTTP/1.1"), "{log}");
}

#[test]
fn client_http2_against_hypercorn() {
    let Some(python) = support::python("hypercorn", "hypercorn, wsproto, h2") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = start(
        "hypercorn_echo.py",
        Command::new(python)
            .arg(format!("{PEERS}/hypercorn_echo.py"))
            .args([
                "--cert",
                &certs.arg("cert.pem"),
                "--key",
                &certs.arg("key.pem"),
            ]),
    );
    client_session(&certs, port);
    let log = server.stderr();
    assert!(log.contains("websocket http_version=2 path=/echo"), "{log}");
}

#[test]
fn client_http2_against_node_http2() {
    let Some((node, node_path)) = support::node("node http2") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = start(
        "h2_node_echo.js",
        Command::new(node)
            .env("NODE_PATH", node_path)
            .arg(format!("{PEERS}/h2_node_echo.js"))
            .args([
                "--cert",
                &certs.arg("cert.pem"),
                "--key",
                &certs.arg("key.pem"),
            ]),
    );
    client_session(&certs, port);
    let log = server.stderr();
    assert!(
        log.contains("websocket over HTTP/2 extended CONNECT path=/echo"),
        "{log}"
    );
    assert!(log.contains("permessage-deflate"), "{log}");
}

/// The same port serves HTTP/1.1 Upgrade to clients that did not offer h2.
#[test]
fn client_http1_on_the_same_port() {
    let certs = Certs::new();
    let (server, port) = h2_echo(&certs);
    let mut client = Proc::spawn(
        "client",
        Command::new(env!("CARGO_BIN_EXE_client")).args([
            "--ca",
            &certs.arg("ca.pem"),
            &format!("wss://127.0.0.1:{port}/echo"),
        ]),
    );
    client.write(b"over http/1.1\n");
    assert_eq!(client.line(STEP), "over http/1.1");
    client.close_stdin();
    client.wait_success(STEP);
    assert!(server.stderr().contains("websocket over HTTP/1.1 Upgrade"));
}

/// Headless Chromium loads `h2_echo`'s page over HTTP/2 and opens
/// `wss://` to the same origin: Chromium then uses an extended CONNECT on
/// that connection (RFC 8441), which `h2_echo` logs. The page's script,
/// run through the DevTools protocol, echoes text and binary up to 1 MiB
/// with permessage-deflate.
#[test]
fn chromium_websocket_over_http2() {
    let Some(browser) = support::chromium("chromium over HTTP/2") else {
        return;
    };
    let certs = Certs::new();
    let (server, port) = h2_echo(&certs);
    let profile = support::TempDir::new("chromium-h2");
    let origin = format!("https://127.0.0.1:{port}");
    let chromium = Proc::spawn(
        "chromium",
        Command::new(browser).args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!(
                "--ignore-certificate-errors-spki-list={}",
                certs.spki_sha256
            ),
            &format!("{origin}/"),
        ]),
    );
    let devtools_port = devtools_port(&chromium);
    let page = page_target(devtools_port, &origin);
    let script = CHROMIUM_SCRIPT.replace("WS_URL", &format!("wss://127.0.0.1:{port}/echo"));
    let lines = evaluate(&page, &origin, &script);
    let log = server.stderr();
    let expected = [
        "open extensions=permessage-deflate",
        "PASS text 0",
        "PASS text 5",
        "PASS text 125",
        "PASS text 126",
        "PASS text 65536",
        "PASS text 1048576",
        "PASS binary 0",
        "PASS binary 256",
        "PASS binary 65536",
        "PASS binary 1048576",
        "PASS pipelined 200",
        "close 4000 clean=true",
    ];
    assert_eq!(lines, expected, "server log:\n{log}");
    assert!(
        log.contains(
            "websocket over HTTP/2 extended CONNECT path=/echo extensions=[\"permessage-deflate"
        ),
        "Chromium did not use HTTP/2 for its WebSocket:\n{log}"
    );
    assert!(!log.contains("HTTP/1.1"), "{log}");
}

/// The script Chromium runs in `h2_echo`'s page: one line per check.
const CHROMIUM_SCRIPT: &str = r#"(async () => {
  const out = [];
  const ws = new WebSocket('WS_URL');
  ws.binaryType = 'arraybuffer';
  const queue = [];
  let waiter = null;
  ws.onmessage = (e) => { if (waiter) { const w = waiter; waiter = null; w(e.data); } else queue.push(e.data); };
  const next = () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => { waiter = r; });
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error('no open')); });
  out.push('open extensions=' + ws.extensions.split(';')[0]);
  const unit = 'héllo wörld ✓ ';
  for (const n of [0, 5, 125, 126, 65536, 1048576]) {
    const s = unit.repeat(Math.ceil(n / unit.length) + 1).slice(0, n);
    ws.send(s);
    out.push(((await next()) === s ? 'PASS' : 'FAIL') + ' text ' + n);
  }
  for (const n of [0, 256, 65536, 1048576]) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
    ws.send(b);
    const got = new Uint8Array(await next());
    let ok = got.length === n;
    for (let i = 0; ok && i < n; i++) ok = got[i] === b[i];
    out.push((ok ? 'PASS' : 'FAIL') + ' binary ' + n);
  }
  for (let i = 0; i < 200; i++) ws.send('msg ' + i);
  let ok = true;
  for (let i = 0; i < 200; i++) ok = ((await next()) === 'msg ' + i) && ok;
  out.push((ok ? 'PASS' : 'FAIL') + ' pipelined 200');
  const closed = new Promise((r) => { ws.onclose = r; });
  ws.close(4000, 'done');
  const e = await closed;
  out.push('close ' + e.code + ' clean=' + e.wasClean);
  return out.join('\n');
})()"#;

/// The DevTools port Chromium prints on stderr.
fn devtools_port(chromium: &Proc) -> u16 {
    let deadline = Instant::now() + STEP;
    loop {
        let log = chromium.stderr();
        if let Some(rest) = log.split("DevTools listening on ws://127.0.0.1:").nth(1) {
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return port.parse().expect("DevTools port");
        }
        assert!(Instant::now() < deadline, "no DevTools line:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The DevTools WebSocket URL of the page once it shows `origin`.
fn page_target(devtools_port: u16, origin: &str) -> String {
    let deadline = Instant::now() + STEP;
    loop {
        let body = http_get(devtools_port, "/json/list");
        let targets: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let page = targets.as_array().into_iter().flatten().find(|t| {
            t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(origin))
        });
        if let Some(url) = page.and_then(|p| p["webSocketDebuggerUrl"].as_str()) {
            return url.to_owned();
        }
        assert!(Instant::now() < deadline, "no page at {origin}: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The body of `GET path` from the DevTools HTTP server, which keeps the
/// connection open: read up to its `Content-Length`.
fn http_get(port: u16, path: &str) -> String {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(STEP)).unwrap();
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        let n = tcp.read(&mut chunk).unwrap();
        assert!(n > 0, "DevTools closed the connection early");
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .expect("Content-Length");
            if body.len() >= length {
                return body.to_owned();
            }
        }
    }
}

/// Runs `script` (a promise of a string) in the page; its lines. An
/// evaluation that ran before the navigation to `origin` committed, or while
/// it did ("Execution context was destroyed"), is tried again.
fn evaluate(page: &str, origin: &str, script: &str) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut devtools = ws_h2_h3::stream::connect(page, ClientConfig::new(), Config::default())
            .await
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        // The page must have loaded (over HTTP/2) before the WebSocket
        // opens, so that Chromium has the connection to put it on; until
        // the navigation has committed, the context is about:blank's.
        let expression = format!(
            "location.origin !== '{origin}' ? Promise.resolve('NOT YET') : \
             new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r)).then(() => {script})"
        );
        for id in 1..=20 {
            let command = serde_json::json!({
                "id": id,
                "method": "Runtime.evaluate",
                "params": { "expression": expression, "awaitPromise": true, "returnByValue": true },
            });
            devtools.send(Message::Text(command.to_string())).await.unwrap();
            let answer = tokio::time::timeout(Duration::from_secs(90), async {
                while let Some(message) = devtools.next().await {
                    if let Ok(Message::Text(text)) = message {
                        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                        if value["id"] == id {
                            return value;
                        }
                    }
                }
                panic!("DevTools connection ended");
            })
            .await
            .expect("the page's checks did not finish in 90 s");
            match answer["result"]["result"]["value"].as_str() {
                Some("NOT YET") => {}
                Some(result) => return result.lines().map(str::to_owned).collect(),
                None => assert!(
                    answer.to_string().contains("context was destroyed"),
                    "evaluation failed: {answer}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never settled");
    })
}

/// Twenty WebSockets share one HTTP/2 connection with a twenty-first whose
/// reader never reads (the `multiplex` binary): its echoes fill its own
/// stream window and stall it, while the twenty echo 1 MiB messages on.
/// Read at last, the stalled one gets every echo, intact and in order.
#[test]
fn many_websockets_on_one_connection_and_a_stalled_reader_stalls_only_its_stream() {
    let certs = Certs::new();
    let (_server, port) = h2_echo(&certs);
    let mut run = Proc::spawn(
        "multiplex",
        Command::new(env!("CARGO_BIN_EXE_multiplex")).args([
            "--ca",
            &certs.arg("ca.pem"),
            "--streams",
            "20",
            "--stalled",
            "8",
            &format!("wss://127.0.0.1:{port}/echo"),
        ]),
    );
    let line = run.line(Duration::from_secs(60));
    run.wait_success(STEP);
    eprintln!("{line}");
    assert!(
        line.starts_with("20 WebSockets echoed 59 MiB on one HTTP/2 connection"),
        "{line}"
    );
    assert!(
        line.ends_with("was stalled on its own stream, then got every echo"),
        "{line}"
    );
}

/// An HTTP/2 connection to `h2_echo` at `url`.
async fn session(certs: &Certs, url: &str) -> H2Session {
    H2Session::connect(url, Some(&certs.dir.path().join("ca.pem")))
        .await
        .unwrap()
}

/// The extended CONNECT request for a WebSocket to `url`, to send by hand.
fn connect_request(url: &str) -> http::Request<()> {
    ClientHandshake::new(url, ClientConfig::new(), &mut SeededRandom::new(1))
        .unwrap()
        .extended_connect_request(http::Version::HTTP_2)
        .unwrap()
}

/// A stream the client resets is a typed failure on the server
/// (`StreamReset` with the code), not a clean close.
#[test]
fn a_reset_stream_is_a_typed_failure() {
    let certs = Certs::new();
    let (server, port) = h2_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        let request = connect_request(&url);
        let (response, mut send) = session.send_connect(request).await.unwrap();
        assert_eq!(response.status(), 200);
        send.send_reset(h2::Reason::CANCEL);
    });
    let deadline = Instant::now() + STEP;
    while !server.stderr().contains("ended: 0 messages, then") {
        assert!(Instant::now() < deadline, "{}", server.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.stderr();
    assert!(
        log.contains("stream reset by the peer (error code 0x8)"),
        "{log}"
    );
}

/// Refusals over HTTP/2 are valid HTTP/2 responses: a 400 with
/// `sec-websocket-version: 13` for a version mismatch (not HTTP/1.1's 426,
/// and no `Connection` header, which the `h2` crate would not send at all).
#[test]
fn refusals_are_valid_http2_responses() {
    let certs = Certs::new();
    let (_server, port) = h2_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        let mut request = connect_request(&url);
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        let (response, _send) = session.send_connect(request).await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
        assert!(response.headers().get("connection").is_none());
        // The connection lives on: the next stream opens a WebSocket.
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

/// Frame-level conformance through an HTTP/2 stream: the raw-frame cases
/// of the crate's own tests, written by hand onto the stream; `h2_echo`
/// must answer each with the RFC close code and then end the stream.
#[test]
fn protocol_errors_over_http2_close_with_the_rfc_code() {
    let certs = Certs::new();
    let (_server, port) = h2_echo(&certs);
    let url = format!("wss://127.0.0.1:{port}/echo");
    let mut masked = Vec::new();
    let mut encoder = Encoder::new(Role::Client, SeededRandom::new(7));
    encoder.encode_text("fine", &mut masked);
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("unmasked client frame", vec![0x81, 0x02, b'h', b'i'], 1002),
        ("reserved opcode 0x3", vec![0x83, 0x80, 0, 0, 0, 0], 1002),
        (
            "invalid UTF-8 text",
            vec![0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28],
            1007,
        ),
        (
            "ping longer than 125 bytes",
            [&[0x89u8, 0xfe, 0, 126, 0, 0, 0, 0][..], &[0u8; 126]].concat(),
            1002,
        ),
        (
            "RSV1 without an extension",
            [&[0xc1u8][..], &masked[1..]].concat(),
            1002,
        ),
    ];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut session = session(&certs, &url).await;
        for (name, bytes, code) in cases {
            let request = connect_request(&url);
            let (response, mut send) = session.send_connect(request).await.unwrap();
            assert_eq!(response.status(), 200, "{name}");
            let mut body = response.into_body();
            // A good message first, echoed; then the bad frame.
            send.send_data(Bytes::from(masked.clone()), false).unwrap();
            send.send_data(Bytes::from(bytes), false).unwrap();
            let mut decoder = Decoder::new(Role::Client);
            let mut got = Vec::new();
            let mut wire = bytes::BytesMut::new();
            // Until END_STREAM (`None`); a reset instead fails the test.
            while let Some(data) = tokio::time::timeout(STEP, body.data()).await.unwrap() {
                let data = data.unwrap_or_else(|e| panic!("{name}: {e} instead of END_STREAM"));
                let _ = body.flow_control().release_capacity(data.len());
                wire.extend_from_slice(&data);
                while let Ok(Some(message)) = decoder.decode_buf(&mut wire) {
                    got.push(message);
                }
            }
            assert_eq!(got.first(), Some(&Incoming::Text("fine".into())), "{name}");
            match got.get(1) {
                Some(Incoming::Close(Some(frame))) => {
                    assert_eq!(frame.code, CloseCode::from(code), "{name}")
                }
                other => panic!("{name}: expected a close frame, got {other:?}"),
            }
        }
    });
}
