//! WebSocket inside a hyper 1.x server: `GET /` answers `hello`, `GET /ws`
//! is validated by webwire's `accept`, upgraded by hyper, and then driven by
//! a webwire `Connection` as an echo server (the same loop as `tokio_echo`).
//!
//! `cargo run --example hyper_upgrade -- [--addr HOST:PORT]` (default
//! 127.0.0.1:9002).

use std::convert::Infallible;
use std::io::{self, Write};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use webwire::random::SeededRandom;
use webwire::ws::handshake::{ServerConfig, accept};
use webwire::ws::{Config, Connection, Event, Role, Transmit};

#[tokio::main]
async fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = match args.as_slice() {
        [] => "127.0.0.1:9002",
        [flag, addr] if flag == "--addr" => addr,
        _ => {
            eprintln!("usage: hyper_upgrade [--addr HOST:PORT]");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let service = service_fn(route);
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            // `with_upgrades` keeps the socket alive for `hyper::upgrade::on`.
            if let Err(err) = conn.with_upgrades().await {
                eprintln!("http connection error: {err}");
            }
        });
    }
}

async fn route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/" => Response::new(Full::from("hello")),
        "/ws" => upgrade(req),
        _ => {
            let mut response = Response::new(Full::default());
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

/// Answers the handshake (101, or webwire's error response) and, once hyper
/// has switched protocols, runs the WebSocket connection in its own task.
fn upgrade(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let accepted = match accept(&req, &ServerConfig::new()) {
        Ok(accepted) => accepted,
        Err(err) => return err.response().map(|()| Full::default()),
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            // Bytes read past the request are inside `Upgraded`: nothing to pass on.
            Ok(upgraded) => drop(drive(TokioIo::new(upgraded), &[]).await),
            Err(err) => eprintln!("upgrade failed: {err}"),
        }
    });
    accepted.response.map(|()| Full::default())
}

/// Runs a server connection over any async byte stream, echoing messages,
/// until it ends. The same adapter as in `tokio_echo.rs`.
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
