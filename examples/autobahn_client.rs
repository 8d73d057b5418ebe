//! Drives the Autobahn|Testsuite fuzzing server: `autobahn_client [URL]`
//! (default ws://127.0.0.1:9001). Gets the case count, echoes every case
//! until it closes, then asks the server to write its reports.

mod common;

use webwire::random::ThreadRandom;
use webwire::ws::handshake::ClientConfig;
use webwire::ws::{Config, Event, Limits};

const AGENT: &str = "webwire";

/// The handshake: offers permessage-deflate when built with `deflate`.
fn handshake() -> ClientConfig {
    #[cfg(feature = "deflate")]
    return ClientConfig::new().with_deflate(webwire::ws::deflate::DeflateConfig::default());
    #[cfg(not(feature = "deflate"))]
    return ClientConfig::new();
}

fn config() -> Config {
    let limits = Limits::default()
        .with_max_frame_size(16 << 20)
        .with_max_message_size(16 << 20);
    Config::default().with_limits(limits)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');

    let mut count = 0u32;
    let (mut stream, mut conn, rest) = common::connect(
        &format!("{base}/getCaseCount"),
        ClientConfig::new(),
        config(),
        ThreadRandom,
    )?;
    common::drive(&mut stream, &mut conn, &rest, |_, event| {
        if let Event::Text(text) = event {
            count = text.trim().parse().unwrap_or(0);
        }
    })?;
    println!("{count} cases");

    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        match common::connect(&url, handshake(), config(), ThreadRandom) {
            Ok((mut stream, mut conn, rest)) => {
                let _ = common::drive(&mut stream, &mut conn, &rest, |conn, event| match event {
                    Event::Text(text) => {
                        let _ = conn.send_text(&text);
                    }
                    Event::Binary(data) => {
                        let _ = conn.send_binary(&data);
                    }
                    _ => {}
                });
            }
            Err(e) => eprintln!("case {case}: {e}"),
        }
    }

    let (mut stream, mut conn, rest) = common::connect(
        &format!("{base}/updateReports?agent={AGENT}"),
        ClientConfig::new(),
        config(),
        ThreadRandom,
    )?;
    common::drive(&mut stream, &mut conn, &rest, |_, _| {})?;
    println!("reports updated");
    Ok(())
}
