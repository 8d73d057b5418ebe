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
//! The session is `common/stdio_session.rs`: the stream is split, this
//! task reads stdin (through a thread, tokio's stdin being blocking anyway)
//! and sends, a second task prints what arrives.

#[path = "common/stdio_session.rs"]
mod stdio_session;
#[path = "common/stream.rs"]
mod stream;
#[path = "common/tls.rs"]
#[allow(dead_code)]
mod tls;

use std::process::ExitCode;

use stdio_session::{config, handshake, run};
use stream::connect;

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
