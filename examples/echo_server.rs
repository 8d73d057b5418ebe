//! An echo server on blocking std::net, one thread per connection.
//!
//! `cargo run --example echo_server -- [--addr HOST:PORT] [--tls-cert CERT.pem
//! --tls-key KEY.pem]` (default 127.0.0.1:9001; with a certificate and key
//! it serves `wss://` over rustls). Echoes text as text and binary as binary, answers pings,
//! echoes the peer's close code, fails the connection with the RFC close
//! code on a protocol violation and answers a bad handshake with its HTTP
//! error, and negotiates permessage-deflate when built with the `deflate`
//! feature. This is the server the Autobahn|Testsuite runs against.

mod common;

use common::Transport;

use std::io::{self, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use webwire::Status;
use webwire::ws::handshake::{HandshakeLimits, RequestParser, ServerConfig, accept};
use webwire::ws::{Config, Connection, Event, Limits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let common::tls::ServerArgs { addr, tls } =
        common::tls::ServerArgs::parse("echo_server", "127.0.0.1:9001");
    let listener = TcpListener::bind(&addr)?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    io::stdout().flush()?;
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let tls = tls.clone();
        std::thread::spawn(move || {
            // One bad client never disturbs the others: errors end its thread only.
            let _ = stream.set_nodelay(true);
            let _ = match tls {
                Some(tls) => match common::tls::accept(tls, stream) {
                    Ok(stream) => serve(stream),
                    Err(_) => Ok(()),
                },
                None => serve(stream),
            };
        });
    }
    Ok(())
}

fn serve(mut stream: impl Transport) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let mut buf = vec![0u8; 4 * 1024]; // the parser keeps the head itself
    let (request, rest) = loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        match parser.feed(&buf[..n]) {
            Ok(Status::Complete((request, used))) => break (request, buf[used..n].to_vec()),
            Ok(Status::Partial) => continue,
            Err(e) => return refuse(&mut stream, &e),
        }
    };
    #[allow(unused_mut)]
    let mut server_config = ServerConfig::new();
    #[cfg(feature = "deflate")]
    {
        server_config = server_config.with_deflate(webwire::ws::deflate::DeflateConfig::default());
    }
    let accepted = match accept(&request, &server_config) {
        Ok(a) => a,
        Err(e) => return refuse(&mut stream, &e),
    };
    let mut response = Vec::new();
    accepted.write_response(&mut response);
    stream.write_all(&response)?;

    let limits = Limits::default()
        .with_max_frame_size(16 << 20)
        .with_max_message_size(16 << 20);
    let config = Config::default().with_limits(limits);
    #[cfg(feature = "deflate")]
    let config = config.with_deflate(accepted.deflate);
    let mut conn = Connection::server(config, Instant::now());
    drop((buf, parser, request)); // the connection's lifetime keeps none of them
    common::drive(&mut stream, &mut conn, &rest, |conn, event| match event {
        Event::Text(text) => {
            let _ = conn.send_text(&text);
        }
        Event::Binary(data) => {
            let _ = conn.send_binary(&data);
        }
        _ => {}
    })
}

fn refuse(
    stream: &mut impl Transport,
    err: &webwire::ws::handshake::HandshakeError,
) -> io::Result<()> {
    let mut response = Vec::new();
    err.write_response(&mut response);
    stream.write_all(&response)
}
