//! `multiplex [--ca CA.pem] [--streams N] [--stalled MIB] wss://HOST:PORT/PATH`:
//! N WebSockets (default 20) echo on one HTTP/2 connection beside one that
//! sends MIB MiB (default 8) and does not read; prints what happened.
//! Exits 1 if the stalled stream held up the others or lost an echo.

use std::path::PathBuf;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut ca = None;
    let mut streams = 20;
    let mut stalled = 8;
    let mut url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ca" => ca = args.next().map(PathBuf::from),
            "--streams" => streams = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            "--stalled" => stalled = args.next().and_then(|n| n.parse().ok()).unwrap_or(0),
            _ if url.is_none() && !arg.starts_with("--") => url = Some(arg),
            _ => url = None,
        }
    }
    let (Some(url), 1.., 1..) = (url, streams, stalled) else {
        eprintln!(
            "usage: multiplex [--ca CA.pem] [--streams N] [--stalled MIB] wss://HOST:PORT/PATH"
        );
        return ExitCode::from(2);
    };
    match ws_h2_h3::multiplex::run(&url, ca.as_deref(), streams, stalled).await {
        Ok(report) => {
            println!(
                "{} WebSockets echoed {} MiB on one HTTP/2 connection in {:.2?}; \
                 the one that did not read {}",
                report.streams,
                report.echoed >> 20,
                report.elapsed,
                if report.stalled_held {
                    "was stalled on its own stream, then got every echo"
                } else {
                    "was not stalled (its echoes fit the windows: raise --stalled)"
                }
            );
            if report.stalled_held {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
