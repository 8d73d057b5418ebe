//! `echo_server.rs` on tokio, one task per connection: `cargo run --example
//! tokio_echo -- [--addr HOST:PORT]` (default 127.0.0.1:9001). Echoes text as
//! text, binary as binary; negotiates permessage-deflate when built with
//! `--features deflate`.
//!
//! The whole async adapter is `common/tokio_drive.rs`: `serve` (the
//! handshake, on the in-place fast path) and `drive` (the connection), which
//! read into one buffer per thread, so an idle connection holds no read
//! buffer.

#[path = "common/tokio_drive.rs"]
mod tokio_drive;

use std::io::{self, Write};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_drive::serve;
use webwire::ws::Config;
use webwire::ws::handshake::{Negotiated, ServerConfig};

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
    let server = ServerConfig::new();
    #[cfg(feature = "deflate")]
    let server = server.with_deflate(webwire::ws::deflate::DeflateConfig::default());
    let server = Arc::new(server);
    let listener = TcpListener::bind(addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true); // latency only: not worth ending the server
        // An error ends this connection's task only.
        let server = Arc::clone(&server);
        tokio::spawn(async move { serve(stream, &server, config).await });
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
