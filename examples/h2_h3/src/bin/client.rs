//! `client [--ca CA.pem] [--http2 | --http3] URL`: the `client` example's
//! stdin/stdout session over HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220), or
//! over HTTP/1.1 without a flag.
//!
//! Each line read from stdin goes out as a text message; each text message
//! received is printed on its own line (binary ones as `<binary N
//! bytes>`). At the end of stdin it closes with 1000 and exits 0 once the
//! closing handshake is done; a refused or failed connection, or one that
//! ends without a close frame, exits 1. It offers permessage-deflate and
//! trusts Mozilla's roots plus `--ca`.

use std::path::Path;
use std::process::ExitCode;

use ws_h2_h3::BoxError;
use ws_h2_h3::client::{H2Session, H3Session};
use ws_h2_h3::stdio_session::{config, handshake, run as interactive};
use ws_h2_h3::stream;

#[derive(Clone, Copy, PartialEq)]
enum Http {
    V1,
    V2,
    V3,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut ca = None;
    let mut http = Http::V1;
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = args.next(),
            "--http2" => http = Http::V2,
            "--http3" => http = Http::V3,
            _ if url.is_none() && !arg.starts_with("--") => url = Some(arg),
            _ => url = None,
        }
    }
    let Some(url) = url else {
        eprintln!("usage: client [--ca CA.pem] [--http2 | --http3] wss://HOST:PORT/PATH");
        return ExitCode::from(2);
    };
    match run(http, ca.as_deref().map(Path::new), &url).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(http: Http, ca: Option<&Path>, url: &str) -> Result<bool, BoxError> {
    match http {
        Http::V2 => {
            let mut session = H2Session::connect(url, ca).await?;
            interactive(session.open(url, handshake(), config()).await?).await
        }
        Http::V3 => {
            let mut session = H3Session::connect(url, ca).await?;
            interactive(session.open(url, handshake(), config()).await?).await
        }
        Http::V1 if url.starts_with("wss://") => {
            let tls = ws_h2_h3::tls::client_config(ca)?;
            interactive(stream::connect_tls(url, tls, handshake(), config()).await?).await
        }
        Http::V1 => interactive(stream::connect(url, handshake(), config()).await?).await,
    }
}
