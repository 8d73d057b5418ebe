//! `echo_server.rs` on tokio, one task per connection: `cargo run --example
//! tokio_echo -- [--addr HOST:PORT] [--tls-cert CERT.pem --tls-key KEY.pem]`
//! (default 127.0.0.1:9001; with a certificate, `wss://` over tokio-rustls).
//! Echoes text as
//! text, binary as binary; negotiates permessage-deflate when built with
//! `--features deflate`. On Ctrl-C (SIGINT) it stops accepting, closes
//! every open connection with 1001 (going away), waits for their closing
//! handshakes (at most the close timeout) and exits 0.
//!
//! The async adapter is `common/stream.rs`: `accept` (the handshake, on the
//! in-place fast path) gives a `WebSocketStream`, a `Stream` + `Sink` of
//! messages that reads into one buffer per thread, so an idle connection
//! holds no read buffer.

#[path = "common/stream.rs"]
mod stream;
#[path = "common/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::io::{self, Write};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use stream::{Message, accept};
use tokio::net::TcpListener;
use tokio::sync::watch;
use webwire::ws::handshake::{Negotiated, ServerConfig};
use webwire::ws::{CloseCode, Config};

#[tokio::main]
async fn main() -> io::Result<()> {
    let tls::ServerArgs { addr, tls } = tls::ServerArgs::parse("tokio_echo", "127.0.0.1:9001");
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let server = ServerConfig::new();
    #[cfg(feature = "deflate")]
    let server = server.with_deflate(webwire::ws::deflate::DeflateConfig::default());
    let server = Arc::new(server);
    let listener = TcpListener::bind(&addr).await?;
    // Polled once so that the handler is installed before anyone is told
    // where we listen: a SIGINT from then on is ours, not a kill.
    let mut ctrl_c = pin!(tokio::signal::ctrl_c());
    let _ = ctrl_c.as_mut().now_or_never();
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    println!("listening on {scheme}://{}", listener.local_addr()?);
    io::stdout().flush()?;
    // Every connection task holds a receiver: `closed()` below resolves once
    // all of them have ended.
    let (stop, stopping) = watch::channel(false);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = ctrl_c.as_mut() => break,
        };
        let _ = stream.set_nodelay(true); // latency only: not worth ending the server
        // An error ends this connection's task only.
        let server = Arc::clone(&server);
        let stopping = stopping.clone();
        match tls.clone() {
            Some(tls) => {
                tokio::spawn(async move {
                    // The TLS handshake in the task: a slow client holds
                    // up no one else.
                    if let Ok(stream) = tls.accept(stream).await {
                        session(stream, server, stopping).await;
                    }
                });
            }
            None => {
                tokio::spawn(session(stream, server, stopping));
            }
        }
    }
    drop((listener, stopping));
    let _ = stop.send(true);
    // Each closing handshake is bounded by the close timeout.
    let grace = Config::default().close_timeout() + Duration::from_secs(1);
    if tokio::time::timeout(grace, stop.closed()).await.is_err() {
        eprintln!("some connections did not finish closing");
    }
    Ok(())
}

/// One connection: the handshake, then echo until it ends, or until the
/// server stops (then a 1001 close).
async fn session<S>(stream: S, server: Arc<ServerConfig>, mut stop: watch::Receiver<bool>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ws = tokio::select! {
        accepted = accept(stream, &server, config) => match accepted {
            Ok(ws) => ws,
            Err(_) => return, // refused (answered 4xx) or gone
        },
        _ = stop.wait_for(|stop| *stop) => return, // not open yet: just drop it
    };
    // Made once: its registration is kept from one message to the next.
    let mut stopped = pin!(stop.wait_for(|stop| *stop).map(drop));
    loop {
        tokio::select! {
            message = ws.next() => match message {
                // `feed` queues the echo; the stream writes all of them
                // at once before it next waits for input.
                Some(Ok(echo @ (Message::Text(_) | Message::Binary(_)))) => {
                    if ws.feed(echo).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {} // pings are answered already; pongs; the close
                Some(Err(_)) | None => return,
            },
            _ = stopped.as_mut() => {
                let reason = "server shutting down".to_owned();
                // Refused if a close is under way already: then `close`
                // finishes that one.
                let _ = ws.feed(Message::Close(Some((CloseCode::GOING_AWAY, reason)))).await;
                let _ = ws.close().await; // until the peer's close, or the close timeout
                return;
            }
        }
    }
}

/// The connection's configuration: the defaults, with permessage-deflate if
/// it was agreed.
fn config(agreed: &Negotiated) -> Config {
    #[cfg(feature = "deflate")]
    return Config::default().with_deflate(agreed.deflate);
    #[cfg(not(feature = "deflate"))]
    {
        let _ = agreed;
        Config::default()
    }
}
