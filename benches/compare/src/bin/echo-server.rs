//! `echo-server CRATE [PORT] [--tls CERT KEY]`: a WebSocket echo server on
//! 127.0.0.1 (behind tokio-rustls with `--tls`, the same for every crate) built on
//! one of the contenders (`webwire`, `tokio-tungstenite`, `fastwebsockets`,
//! `tokio-websockets`). Every contender runs in the same setting: a tokio
//! current-thread runtime, one task per connection, TCP_NODELAY, text echoed
//! as text and binary as binary, size limits raised to 64 MiB and everything
//! else at the crate's default. Port 0 (the default) picks a free port; the
//! port is printed as `listening PORT` on stdout. Runs until killed.

#[path = "../shared.rs"]
mod shared;

use std::io::{self, Write};

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tls = match args.iter().position(|a| a == "--tls") {
        Some(i) if args.len() >= i + 3 => {
            let tls = shared::tls_acceptor(&args[i + 1], &args[i + 2]);
            args.drain(i..i + 3);
            Some(tls)
        }
        Some(_) => {
            eprintln!("--tls needs CERT and KEY");
            std::process::exit(2);
        }
        None => None,
    };
    let (name, port) = match args.as_slice() {
        [name] => (name.clone(), 0),
        [name, port] => (name.clone(), port.parse().expect("port")),
        _ => {
            eprintln!(
                "usage: echo-server CRATE [PORT]   CRATE: {}",
                shared::SERVERS.join(", ")
            );
            std::process::exit(2);
        }
    };
    let Some(&name) = shared::SERVERS.iter().find(|s| **s == name) else {
        eprintln!(
            "unknown crate {name}; one of {}",
            shared::SERVERS.join(", ")
        );
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening {}", listener.local_addr()?.port());
        io::stdout().flush()?;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            // An error ends this connection's task only (load generators
            // leave without a closing handshake).
            let tls = tls.clone();
            tokio::spawn(async move {
                let _ = match tls {
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => shared::serve(name, stream).await,
                        Err(e) => Err(e),
                    },
                    None => shared::serve(name, stream).await,
                };
            });
        }
    })
}
