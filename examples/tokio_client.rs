//! `client.rs` on tokio, through `WebSocketStream::connect`.
//!
//! `cargo run --example tokio_client -- [--ca CA.pem] ws[s]://127.0.0.1:9001`
//! (`wss://` over tokio-rustls, trusting Mozilla's roots and `--ca`) sends each line
//! read from stdin as a text message and prints each text message received
//! on its own line (binary ones as `<binary N bytes>`). At the end of stdin
//! it closes with 1000 and exits 0 once the closing handshake is done; a
//! failed connection or one that ends without a close frame exits 1. Built
//! with the `deflate` feature, it offers permessage-deflate.
//!
//! The stream is split: this task reads stdin (through a thread, tokio's
//! stdin being blocking anyway) and sends, a second task prints what
//! arrives.

#[path = "common/stream.rs"]
mod stream;
#[path = "common/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use futures_util::{SinkExt, StreamExt};
use stream::{Error, Message, connect};
use tokio::sync::mpsc;
use webwire::ws::handshake::ClientConfig;
use webwire::ws::{Config, Limits};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (ca, url) = match args.as_slice() {
        [url] => (None, url),
        [flag, ca, url] if flag == "--ca" => (Some(std::path::Path::new(ca)), url),
        _ => {
            eprintln!("usage: tokio_client [--ca CA.pem] ws[s]://HOST:PORT/PATH");
            return ExitCode::from(2);
        }
    };
    let result = if url.starts_with("wss://") {
        match tls::client_config(ca) {
            Ok(tls) => match stream::connect_tls(url, tls, handshake(), config()).await {
                Ok(ws) => run(ws).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e.to_string().into()),
        }
    } else {
        match connect(url, handshake(), config()).await {
            Ok(ws) => run(ws).await,
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The connection's configuration: 16 MiB messages.
fn config() -> Config {
    let limits = Limits::default()
        .with_max_frame_size(16 << 20)
        .with_max_message_size(16 << 20);
    Config::default().with_limits(limits)
}

/// Runs the session; true if it ended with a closing handshake.
async fn run<S>(
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
fn handshake() -> ClientConfig {
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
