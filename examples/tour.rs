//! A tour of webwire: `cargo run --example tour`.
//!
//! Everything runs in one process on loopback and prints a timeline. The
//! library does no I/O; the few lines of std::net glue live in
//! `examples/common`.

mod common;

use common::Transport as _;
// The webhook delivery half of the tour lives beside it, runnable alone too.
#[allow(dead_code)]
#[path = "webhook_delivery.rs"]
mod webhook_delivery;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use webwire::Status;
use webwire::random::ThreadRandom;
use webwire::ws::handshake::{ClientConfig, RequestParser, ServerConfig, accept};
use webwire::ws::{CloseCode, Config, Connection, Event};

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
            let server_config = ServerConfig::new().with_protocols(["tour.v1"]);
            #[cfg(feature = "deflate")]
            let server_config =
                server_config.with_deflate(webwire::ws::deflate::DeflateConfig::default());
            let accepted = accept(&request, &server_config)?;
            let mut response = Vec::new();
            accepted.write_response(&mut response);
            stream.write_all(&response)?;
            println!(
                "{} server accepted the upgrade (subprotocol {:?}, extensions {:?})",
                t(),
                accepted.protocol,
                accepted
                    .extensions
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
            let config = Config::default();
            #[cfg(feature = "deflate")]
            let config = config.with_deflate(accepted.deflate);
            let mut conn = Connection::server(config, Instant::now());
            common::drive(&mut stream, &mut conn, &rest, |conn, event| {
                println!("{} server <- {}", t(), describe(&event));
                match event {
                    Event::Text(text) => {
                        let _ = conn.send_text(&text.to_uppercase());
                    }
                    Event::Binary(data) => {
                        let _ = conn.send_binary(&data);
                    }
                    _ => {}
                }
            })?;
            println!("{} server closed the transport", t());
            Ok(())
        },
    );

    let handshake = ClientConfig::new().with_protocols(["tour.v1"]);
    // With `--features deflate`, messages travel compressed (RFC 7692).
    #[cfg(feature = "deflate")]
    let handshake =
        handshake.with_deflate(webwire::ws::deflate::DeflateConfig::default().with_threshold(8));
    let (mut stream, mut conn, rest) = common::connect(
        &format!("ws://{addr}/tour"),
        handshake,
        Config::default(),
        ThreadRandom,
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

    println!("\n== Webhooks: signing, fan-out, retries on a compressed clock, verification");
    let mut stdout = std::io::stdout();
    webhook_delivery::webhook_tour(&mut stdout).map_err(|e| e.to_string())?;
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
        other => format!("{other:?}"),
    }
}
