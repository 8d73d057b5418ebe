//! The stdin/stdout session of the tokio clients (`tokio_client`, and
//! `client` in examples/h2_h3): each stdin line goes out as a text message,
//! each text message received is printed on its own line (binary ones as
//! `<binary N bytes>`); at the end of stdin, a 1000 close. With the
//! settings those clients share: permessage-deflate offered when built
//! with `deflate`, messages up to 16 MiB.
//!
//! Needs `stream.rs` beside it as the includer's `stream` module.

use std::io::{self, BufRead, Write};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use webwire::ws::handshake::ClientConfig;
use webwire::ws::{Config, Limits};

use crate::stream::{self, Error, Message};

/// The connection's configuration: 16 MiB messages.
pub fn config() -> Config {
    let limits = Limits::default()
        .with_max_frame_size(16 << 20)
        .with_max_message_size(16 << 20);
    Config::default().with_limits(limits)
}

/// Runs the session; true if it ended with a closing handshake.
pub async fn run<S>(
    ws: stream::WebSocketStream<S, webwire::random::ThreadRandom>,
) -> Result<bool, stream::BoxError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut tx, mut rx) = ws.split();

    let mut printer = tokio::spawn(async move {
        let mut clean = false;
        while let Some(message) = rx.next().await {
            let mut stdout = io::stdout().lock();
            match message {
                Ok(Message::Text(text)) => writeln!(stdout, "{text}")?,
                Ok(Message::Binary(data)) => writeln!(stdout, "<binary {} bytes>", data.len())?,
                Ok(Message::Close(close)) => {
                    let (code, reason) = close.unwrap_or((1005.into(), String::new()));
                    eprintln!("closed: {code} {reason}");
                    clean = true;
                }
                Ok(_) => {} // pings (answered automatically), pongs
                Err(err) => {
                    eprintln!("failed: {err}");
                    clean = false;
                }
            }
            stdout.flush()?;
        }
        io::Result::Ok(clean)
    });

    let mut lines = stdin_lines();
    loop {
        let line = tokio::select! {
            line = lines.recv() => line,
            // The connection ended first (closed by the server, or failed).
            printed = &mut printer => return Ok(printed??),
        };
        let Some(line) = line else { break };
        match tx.send(Message::Text(line)).await {
            Ok(()) => {}
            // The connection is closing or failed: the printer says why.
            Err(Error::Send(_)) => break,
            Err(e) => return Err(e.into()),
        }
    }
    // At the end of stdin: 1000, then the closing handshake.
    let _ = tx.close().await;
    Ok(printer.await??)
}

/// The handshake: offers permessage-deflate when built with `deflate`.
pub fn handshake() -> ClientConfig {
    #[cfg(feature = "deflate")]
    return ClientConfig::new().with_deflate(webwire::ws::deflate::DeflateConfig::default());
    #[cfg(not(feature = "deflate"))]
    return ClientConfig::new();
}

/// Stdin's lines, read by a thread.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}
