//! A tour of webwire: `cargo run --example tour`.
//!
//! Everything runs in one process on loopback and prints a timeline. The
//! library does no I/O; the few lines of std::net glue live in
//! `examples/common`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use webwire::Status;
use webwire::random::{OsRandom, SeededRandom};
use webwire::webhook::{InMemoryReplayGuard, Scheme, Secret, Signer, Verifier, VerifyError};
use webwire::ws::handshake::{ClientConfig, RequestParser, ServerConfig, accept};
use webwire::ws::{CloseCode, Config, Connection, Event, Role};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let t = move || format!("{:>7.1} ms", start.elapsed().as_secs_f64() * 1e3);

    println!("== WebSocket over loopback (RFC 6455)");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("{} server listening on ws://{addr}", t());
    let server = std::thread::spawn(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let (mut stream, _) = listener.accept()?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            let mut parser = RequestParser::default();
            let mut buf = vec![0u8; 16 * 1024];
            let (request, rest) = loop {
                let n = stream.read(&mut buf)?;
                if n == 0 {
                    return Err("client left during the handshake".into());
                }
                if let Status::Complete((request, used)) = parser.feed(&buf[..n])? {
                    break (request, buf[used..n].to_vec());
                }
            };
            let accepted = accept(&request, &ServerConfig::new().with_protocols(["tour.v1"]))?;
            let mut response = Vec::new();
            accepted.write_response(&mut response);
            stream.write_all(&response)?;
            println!(
                "{} server accepted the upgrade (subprotocol {:?})",
                t(),
                accepted.protocol
            );
            let mut conn = Connection::new(
                Role::Server,
                Config::default(),
                SeededRandom::new(0),
                Instant::now(),
            );
            common::drive(&mut stream, &mut conn, &rest, |conn, event| {
                println!("{} server <- {}", t(), describe(&event));
                match event {
                    Event::Text(text) => conn.send_text(&text.to_uppercase()).unwrap_or_default(),
                    Event::Binary(data) => conn.send_binary(&data).unwrap_or_default(),
                    _ => {}
                }
            })?;
            println!("{} server closed the transport", t());
            Ok(())
        },
    );

    let handshake = ClientConfig::new().with_protocols(["tour.v1"]);
    let (mut stream, mut conn, rest) = common::connect(
        &format!("ws://{addr}/tour"),
        handshake,
        Config::default(),
        OsRandom::new(),
    )?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    println!("{} client connected", t());
    conn.send_text("hello, webwire")?;
    conn.send_binary(&[0xde, 0xad, 0xbe, 0xef])?;
    conn.send_ping(b"are you there?")?;
    let mut replies = 0;
    common::drive(&mut stream, &mut conn, &rest, |conn, event| {
        println!("{} client <- {}", t(), describe(&event));
        if matches!(event, Event::Text(_) | Event::Binary(_) | Event::Pong(_)) {
            replies += 1;
            if replies == 3 {
                conn.close(Instant::now(), CloseCode::NORMAL, "tour over")
                    .unwrap_or_default();
            }
        }
    })?;
    server
        .join()
        .map_err(|_| "server thread panicked")?
        .map_err(|e| e.to_string())?;

    println!("\n== Webhooks (Standard Webhooks v1)");
    let scheme = Scheme::standard();
    let secret = Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    let signer = Signer::new(scheme.clone(), secret.clone())?;
    let verifier = Verifier::new(scheme, secret)?;
    let now = 1_764_000_000;
    let body = br#"{"type":"invoice.paid","id":"inv_42"}"#;
    let request = signer.request(
        "https://example.com/hooks",
        "msg_tour_1",
        now,
        body.to_vec(),
    )?;
    for (name, value) in request.headers() {
        println!(
            "{} sender header  {name}: {}",
            t(),
            value.to_str().unwrap_or("?")
        );
    }
    let mut replays = InMemoryReplayGuard::new(verifier.tolerance(), 1024);
    let verified =
        verifier.verify_once(request.headers(), request.body(), now + 2, &mut replays)?;
    println!("{} receiver verified id {:?}", t(), verified.id());
    match verifier.verify_once(request.headers(), request.body(), now + 3, &mut replays) {
        Err(VerifyError::Replayed) => println!("{} receiver dropped the replayed id", t()),
        other => return Err(format!("replay not caught: {other:?}").into()),
    }
    match verifier.verify(
        request.headers(),
        br#"{"type":"invoice.paid","id":"inv_43"}"#,
        now + 4,
    ) {
        Err(e) => println!(
            "{} receiver rejected a tampered body: {e} ({})",
            t(),
            e.status_hint()
        ),
        Ok(_) => return Err("tampered body verified".into()),
    }
    println!("\ntour complete in {}", t().trim());
    Ok(())
}

fn describe(event: &Event) -> String {
    match event {
        Event::Text(text) => format!("text {text:?}"),
        Event::Binary(data) => format!("binary {data:02x?}"),
        Event::Ping(data) => format!(
            "ping {:?} (pong sent automatically)",
            String::from_utf8_lossy(data)
        ),
        Event::Pong(data) => format!("pong {:?}", String::from_utf8_lossy(data)),
        Event::Closed {
            code,
            reason,
            initiator,
        } => format!("closed {code} {reason:?} (started by {initiator:?})"),
        Event::Failed(e) => format!("failed: {e}"),
    }
}
