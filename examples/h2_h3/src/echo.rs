//! The echo behaviour of the `echo_server` example, over any transport:
//! text back as text, binary back as binary, until the connection ends.

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use webwire::ws::Config;
use webwire::ws::handshake::ServerConfig;

use crate::stream::{Message, WebSocketStream};

/// The handshake settings of the echo servers: permessage-deflate when
/// built with the `deflate` feature (the default).
pub fn server_config() -> ServerConfig {
    let config = ServerConfig::new();
    #[cfg(feature = "deflate")]
    let config = config.with_deflate(webwire::ws::deflate::DeflateConfig::default());
    config
}

/// The connection settings for what the handshake agreed.
#[cfg(feature = "deflate")]
pub fn connection_config(deflate: Option<webwire::ws::deflate::DeflateParams>) -> Config {
    Config::default().with_deflate(deflate)
}

/// The connection settings for what the handshake agreed.
#[cfg(not(feature = "deflate"))]
pub fn connection_config<T>(_: T) -> Config {
    Config::default()
}

/// Echoes until the connection ends; says how it ended, for the log.
pub async fn echo<S>(mut ws: WebSocketStream<S>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = 0u64;
    while let Some(message) = ws.next().await {
        match message {
            // `feed` queues the echo; the stream writes all queued echoes
            // at once before it next waits for input.
            Ok(echo @ (Message::Text(_) | Message::Binary(_))) => {
                messages += 1;
                if let Err(e) = ws.feed(echo).await {
                    return format!("{messages} messages, then {e}");
                }
            }
            Ok(Message::Close(close)) => {
                return format!("{messages} messages, closed {close:?}");
            }
            Ok(_) => {} // pings are answered already; pongs
            Err(e) => return format!("{messages} messages, then {e}"),
        }
    }
    format!("{messages} messages, ended")
}
