//! WebSocket inside a hyper 1.x server: `GET /` answers `hello`, `GET /ws`
//! is validated by webwire's `accept`, upgraded by hyper, and then driven by
//! a webwire `Connection` as an echo server (the same loop as `tokio_echo`).
//!
//! `cargo run --example hyper_upgrade -- [--addr HOST:PORT] [--tls-cert
//! CERT.pem --tls-key KEY.pem]` (default 127.0.0.1:9002; with a
//! certificate, `https://` and `wss://` over tokio-rustls).

#[path = "common/tls.rs"]
#[allow(dead_code)]
mod tls;
#[path = "common/tokio_drive.rs"]
mod tokio_drive;

use std::convert::Infallible;
use std::io::{self, Write};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_drive::drive;
use webwire::ws::Config;
use webwire::ws::handshake::{ServerConfig, accept};

#[tokio::main]
async fn main() -> io::Result<()> {
    let tls::ServerArgs { addr, tls } = tls::ServerArgs::parse("hyper_upgrade", "127.0.0.1:9002");
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let listener = TcpListener::bind(&addr).await?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true); // latency only: not worth ending the server
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(tls) => match tls.accept(stream).await {
                    Ok(stream) => serve(stream).await,
                    Err(err) => eprintln!("TLS handshake failed: {err}"),
                },
                None => serve(stream).await,
            }
        });
    }
}

/// HTTP/1.1 on one connection, plain or TLS.
async fn serve<S>(stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(route);
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // `with_upgrades` keeps the socket alive for `hyper::upgrade::on`.
    if let Err(err) = conn.with_upgrades().await {
        eprintln!("http connection error: {err}");
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
            Ok(upgraded) => drop(drive(TokioIo::new(upgraded), Config::default(), &[]).await),
            Err(err) => eprintln!("upgrade failed: {err}"),
        }
    });
    accepted.response.map(|()| Full::default())
}
