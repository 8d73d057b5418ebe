//! Many WebSockets on one HTTP/2 connection, one of which never reads: the
//! demonstration that flow control is per stream. The stalled WebSocket's
//! echoes fill its own stream window, its sender stops, and the others go
//! on at full speed; read at last, the stalled one gets every echo. (Each
//! stalled stream holds its window of the connection's: see `h2_io` for how
//! many it takes to stall them all.)
//!
//! Run by the `multiplex` binary and by the tests.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use webwire::ws::Config;
use webwire::ws::handshake::ClientConfig;

use crate::BoxError;
use crate::client::H2Session;
use crate::stream::Message;

/// What a run saw.
#[derive(Debug)]
pub struct Report {
    /// WebSockets that echoed while the stalled one waited.
    pub streams: usize,
    /// Bytes they echoed (each way).
    pub echoed: usize,
    /// How long that took.
    pub elapsed: Duration,
    /// The stalled WebSocket's sender was still blocked when they were
    /// done: its stream, and only its stream, had run out of window.
    pub stalled_held: bool,
}

/// Opens `streams + 1` WebSockets to `url` on one HTTP/2 connection. The
/// first sends `stalled_mib` 1 MiB messages and is not read; meanwhile each
/// of the others echoes three messages of about 1 MiB. Then the first is
/// read: every echo must arrive, intact and in order.
pub async fn run(
    url: &str,
    ca: Option<&Path>,
    streams: usize,
    stalled_mib: usize,
) -> Result<Report, BoxError> {
    let mut session = H2Session::connect(url, ca).await?;
    let (mut stalled_tx, mut stalled_rx) = session
        .open(url, ClientConfig::new(), Config::default())
        .await?
        .split();
    let message = Bytes::from(pattern(1 << 20, 0));
    let sender = tokio::spawn({
        let message = message.clone();
        async move {
            for _ in 0..stalled_mib {
                stalled_tx.send(Message::Binary(message.clone())).await?;
            }
            Ok::<_, crate::stream::Error>(stalled_tx)
        }
    });
    // Let the stalled stream fill its windows first.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let mut others = Vec::with_capacity(streams);
    for i in 0..streams {
        let mut ws = session
            .open(url, ClientConfig::new(), Config::default())
            .await?;
        others.push(tokio::spawn(async move {
            let mut echoed = 0;
            for round in 0..3 {
                let payload = Bytes::from(pattern((1 << 20) - i - round, i + round));
                ws.send(Message::Binary(payload.clone())).await?;
                match ws.next().await {
                    Some(Ok(Message::Binary(echo))) if echo == payload => echoed += echo.len(),
                    other => return Err(format!("stream {i}: bad echo {other:?}").into()),
                }
            }
            ws.close().await?;
            Ok::<_, BoxError>(echoed)
        }));
    }
    let mut echoed = 0;
    for other in others {
        echoed += other.await??;
    }
    let elapsed = started.elapsed();
    let stalled_held = !sender.is_finished();

    for n in 0..stalled_mib {
        match tokio::time::timeout(Duration::from_secs(20), stalled_rx.next()).await {
            Ok(Some(Ok(Message::Binary(echo)))) if echo == message => {}
            other => return Err(format!("stalled stream, echo {n}: {other:?}").into()),
        }
    }
    let mut stalled_tx = sender.await??;
    stalled_tx.close().await?;
    Ok(Report {
        streams,
        echoed,
        elapsed,
        stalled_held,
    })
}

/// `len` bytes of a pattern that differs with `seed`.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + seed * 7 + 3) as u8).collect()
}
