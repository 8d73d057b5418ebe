//! `h2_echo --tls-cert CERT --tls-key KEY [--addr HOST:PORT]`: the echo
//! server of `echo_server`, over HTTP/2 and HTTP/1.1 on one TLS port.
//!
//! ALPN picks the protocol per connection: `h2` runs the `h2` crate's
//! server with extended CONNECT enabled (RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL),
//! and every `CONNECT :protocol websocket` stream becomes a WebSocket of
//! its own, many per connection; `http/1.1` takes the classic Upgrade
//! handshake. `GET /` answers a small page (over either), so a browser that
//! loaded it has an HTTP/2 connection its WebSockets can share. One log
//! line per WebSocket on stderr says which protocol carried it.
//!
//! Prints `listening on https://HOST:PORT` once ready (default
//! 127.0.0.1:9443).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use tokio::net::TcpListener;
use webwire::ws::Connection;
use webwire::ws::handshake::{ServerConfig, accept_extended_connect};
use ws_h2_h3::echo::{connection_config, echo, server_config};
use ws_h2_h3::h2_io::H2Stream;
use ws_h2_h3::stream::{WebSocketStream, accept};
use ws_h2_h3::{ALPN_H2, ALPN_HTTP1, tls};

/// The page `GET /` answers.
const PAGE: &str = "<!doctype html><title>webwire h2_echo</title>\
<p>webwire h2_echo: open a WebSocket to this origin (wss://), it echoes.</p>";

/// Streams one HTTP/2 connection may have open at once: WebSockets are
/// long-lived, so more than the usual 100.
const MAX_STREAMS: u32 = 1024;

/// The largest header block a request may have (HandshakeLimits' default).
const HEADER_LIMIT: u32 = 16 << 10;

#[tokio::main]
async fn main() -> Result<(), ws_h2_h3::BoxError> {
    let tls::ServerArgs { addr, tls } = tls::ServerArgs::parse("h2_echo", "127.0.0.1:9443");
    let Some(tls) = tls else {
        eprintln!("usage: h2_echo --tls-cert CERT.pem --tls-key KEY.pem [--addr HOST:PORT]");
        std::process::exit(2);
    };
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP1.to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let server = Arc::new(server_config());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on https://{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (tcp, peer) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            if stream.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
                if let Err(e) = serve_h2(stream, server).await {
                    eprintln!("{peer}: HTTP/2 connection: {e}");
                }
            } else {
                serve_http1(stream, &server, peer).await;
            }
        });
    }
}

/// One HTTP/2 connection: each request on a task of its own.
async fn serve_h2<S>(stream: S, server: Arc<ServerConfig>) -> Result<(), h2::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut connection = h2::server::Builder::new()
        .enable_connect_protocol()
        .max_concurrent_streams(MAX_STREAMS)
        // Header blocks as small as the HTTP/1.1 handshake's limit (h2's
        // default is 16 MiB per request).
        .max_header_list_size(HEADER_LIMIT)
        // 256 KiB in flight per stream, 16 MiB for all of them: 64 readers
        // that stall (each holding its stream's window) stall the connection.
        .initial_window_size(256 << 10)
        .initial_connection_window_size(16 << 20)
        .handshake::<_, Bytes>(stream)
        .await?;
    // Polling `accept` drives the whole connection.
    while let Some(request) = connection.accept().await {
        let (request, respond) = request?;
        tokio::spawn(h2_request(request, respond, Arc::clone(&server)));
    }
    Ok(())
}

/// One HTTP/2 stream: the page, a WebSocket, or a refusal.
async fn h2_request(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    server: Arc<ServerConfig>,
) {
    let protocol = request
        .extensions()
        .get::<h2::ext::Protocol>()
        .map(|p| p.as_str().to_owned());
    if request.method() == Method::GET {
        let _ = send_page(&mut respond, request.uri().path());
        return;
    }
    let path = request.uri().path().to_owned();
    let accepted = match accept_extended_connect(&request, protocol.as_deref(), &server) {
        Ok(accepted) => accepted,
        Err(refused) => {
            eprintln!("refused HTTP/2 {} {path}: {refused}", request.method());
            let _ = respond.send_response(refused.response_for(request.version()), true);
            return;
        }
    };
    eprintln!(
        "websocket over HTTP/2 extended CONNECT path={path} extensions={:?}",
        accepted
            .extensions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    let send = match respond.send_response(accepted.response, false) {
        Ok(send) => send,
        Err(e) => {
            eprintln!("HTTP/2 {path}: {e}");
            return;
        }
    };
    let io = H2Stream::new(send, request.into_body());
    let conn = Connection::server(connection_config(accepted.deflate), Instant::now());
    let ended = echo(WebSocketStream::from_parts(io, conn, Vec::new())).await;
    eprintln!("websocket over HTTP/2 path={path} ended: {ended}");
}

/// `GET /`: the page; anything else: 404.
fn send_page(respond: &mut h2::server::SendResponse<Bytes>, path: &str) -> Result<(), h2::Error> {
    let (status, body) = match path {
        "/" => (StatusCode::OK, PAGE),
        _ => (StatusCode::NOT_FOUND, "not found"),
    };
    let response = Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .body(())
        .unwrap_or_default();
    let mut send = respond.send_response(response, false)?;
    send.send_data(Bytes::from_static(body.as_bytes()), true)
}

/// One HTTP/1.1 connection: the Upgrade handshake, then echo.
async fn serve_http1<S>(stream: S, server: &ServerConfig, peer: std::net::SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match accept(stream, server, |agreed| connection_config(agreed.deflate)).await {
        Ok(ws) => {
            eprintln!("websocket over HTTP/1.1 Upgrade from {peer}");
            let ended = echo(ws).await;
            eprintln!("websocket over HTTP/1.1 from {peer} ended: {ended}");
        }
        Err(e) => eprintln!("{peer}: HTTP/1.1 handshake: {e}"),
    }
}
