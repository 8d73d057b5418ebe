//! `h3_echo --tls-cert CERT --tls-key KEY [--addr HOST:PORT]`: the echo
//! server of `echo_server` over HTTP/3 (QUIC on UDP, quinn + h3).
//!
//! Its SETTINGS allow extended CONNECT (RFC 9220); every `CONNECT
//! :protocol websocket` request stream becomes a WebSocket, many per QUIC
//! connection. Other requests get a 404 or 400. One log line per WebSocket
//! on stderr. Prints `listening on https://HOST:PORT` (UDP) once ready
//! (default 127.0.0.1:9443).

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use webwire::ws::Connection;
use webwire::ws::handshake::{ServerConfig, accept_extended_connect};
use ws_h2_h3::echo::{connection_config, echo, server_config};
use ws_h2_h3::h3_io::{ServerStream, transport_config};
use ws_h2_h3::stream::WebSocketStream;
use ws_h2_h3::{ALPN_H3, BoxError, tls};

type RequestStream = h3::server::RequestStream<h3::quinn::BidiStream<Bytes>, Bytes>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let tls::ServerArgs { addr, tls } = tls::ServerArgs::parse("h3_echo", "127.0.0.1:9443");
    let Some(tls) = tls else {
        eprintln!("usage: h3_echo --tls-cert CERT.pem --tls-key KEY.pem [--addr HOST:PORT]");
        std::process::exit(2);
    };
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    tls.max_early_data_size = 0;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    let endpoint = quinn::Endpoint::server(config, addr.parse()?)?;
    println!("listening on https://{}", endpoint.local_addr()?);
    io::stdout().flush()?;
    let server = Arc::new(server_config());
    while let Some(incoming) = endpoint.accept().await {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let peer = incoming.remote_address();
            if let Err(e) = serve(incoming, server).await {
                eprintln!("{peer}: HTTP/3 connection: {e}");
            }
        });
    }
    Ok(())
}

/// One QUIC connection: each request stream on a task of its own.
async fn serve(incoming: quinn::Incoming, server: Arc<ServerConfig>) -> Result<(), BoxError> {
    let connection = incoming.await?;
    // Header sections as small as the HTTP/1.1 handshake's limit (h3's
    // default is unbounded). h3 still reads any frame whole before it
    // decodes it, a bound it does not let us set.
    let mut h3 = h3::server::builder()
        .enable_extended_connect(true)
        .max_field_section_size(16 << 10)
        .build::<_, Bytes>(h3::quinn::Connection::new(connection))
        .await?;
    // Polling `accept` drives the connection's control streams.
    loop {
        match h3.accept().await {
            Ok(Some(resolver)) => {
                let server = Arc::clone(&server);
                tokio::spawn(async move {
                    match resolver.resolve_request().await {
                        Ok((request, stream)) => h3_request(request, stream, server).await,
                        Err(e) => eprintln!("HTTP/3 request: {e}"),
                    }
                });
            }
            Ok(None) => return Ok(()),
            Err(e) if e.is_h3_no_error() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// One request stream: a WebSocket, or a refusal.
async fn h3_request(
    request: http::Request<()>,
    mut stream: RequestStream,
    server: Arc<ServerConfig>,
) {
    let protocol = request
        .extensions()
        .get::<h3::ext::Protocol>()
        .map(|p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    if request.method() != Method::CONNECT {
        let response = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(())
            .unwrap_or_default();
        let _ = stream.send_response(response).await;
        let _ = stream.finish().await;
        return;
    }
    let accepted = match accept_extended_connect(&request, protocol.as_deref(), &server) {
        Ok(accepted) => accepted,
        Err(refused) => {
            eprintln!("refused HTTP/3 CONNECT {path}: {refused}");
            let _ = stream
                .send_response(refused.response_for(request.version()))
                .await;
            let _ = stream.finish().await;
            return;
        }
    };
    eprintln!(
        "websocket over HTTP/3 extended CONNECT path={path} extensions={:?}",
        accepted
            .extensions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    if let Err(e) = stream.send_response(accepted.response).await {
        eprintln!("HTTP/3 {path}: {e}");
        return;
    }
    let io = ServerStream::server(stream);
    let conn = Connection::server(connection_config(accepted.deflate), Instant::now());
    let ended = echo(WebSocketStream::from_parts(io, conn, Vec::new())).await;
    eprintln!("websocket over HTTP/3 path={path} ended: {ended}");
}
