//! `echo_server.rs` on tokio, one task per connection: `cargo run --example
//! tokio_echo -- [--addr HOST:PORT]` (default 127.0.0.1:9001). The whole async
//! adapter is `drive`: a `select!` over reading, writing what `poll_transmit`
//! produced, and the connection's timer. Echoes text as text, binary as binary.

use std::io::{self, Write};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use webwire::Status;
use webwire::random::SeededRandom;
use webwire::ws::handshake::{HandshakeLimits, RequestParser, ServerConfig};
use webwire::ws::{Config, Connection, Event, Role, Transmit};

#[tokio::main]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => "127.0.0.1:9001",
        [flag, addr] if flag == "--addr" => addr,
        _ => {
            eprintln!("usage: tokio_echo [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream)); // an error ends this connection's task only
    }
}

async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let config = ServerConfig::new();
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let (mut buf, mut response) = (vec![0u8; 16 * 1024], Vec::new());
    // The in-place fast path: validated on the parsed head, the 101 written
    // straight into `response`, no `http` types built.
    let (outcome, rest) = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        match parser.feed_with(&buf[..n], |head| head.accept(&config, &mut response)) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete((outcome, used))) => break (outcome, &buf[used..n]),
            Err(err) => break (Err(err), &[][..]),
        }
    };
    if let Err(err) = outcome {
        err.write_response(&mut response);
        return stream.write_all(&response).await;
    }
    stream.write_all(&response).await?;
    drive(stream, rest).await
}

/// Runs a server connection over any async byte stream, echoing messages, until it ends.
async fn drive(io: impl AsyncRead + AsyncWrite, initial: &[u8]) -> io::Result<()> {
    let random = SeededRandom::new(0); // servers never mask: never drawn on
    let mut conn = Connection::new(Role::Server, Config::default(), random, Instant::now());
    let (mut rd, mut wr) = tokio::io::split(io);
    let (mut buf, mut out, mut sent, mut done) = (vec![0u8; 64 * 1024], Vec::new(), 0, false);
    conn.handle_data(Instant::now(), initial);
    loop {
        while let Some(event) = conn.poll_event() {
            let _ = match event {
                Event::Text(text) => conn.send_text(&text),
                Event::Binary(data) => conn.send_binary(&data),
                _ => Ok(()),
            };
        }
        if sent == out.len() {
            out.clear();
            sent = 0;
        }
        // New bytes are appended behind any not yet written.
        done |= conn.poll_transmit(&mut out) == Transmit::Shutdown;
        if done && out.is_empty() {
            return wr.shutdown().await;
        }
        let deadline = conn.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            r = rd.read(&mut buf), if !done => match r {
                Ok(n) if n > 0 => conn.handle_data(Instant::now(), &buf[..n]),
                _ => conn.handle_eof(), // once more at most if `out` still holds bytes
            },
            w = wr.write(&out[sent..]), if sent < out.len() => match w? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => sent += n,
            },
            () = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() => conn.handle_timeout(Instant::now()),
        }
    }
}
