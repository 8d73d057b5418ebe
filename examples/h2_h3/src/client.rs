//! Client side: one HTTP/2 connection to a server, on which
//! [`H2Session::open`] opens as many WebSockets as wanted (each its own
//! stream).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Uri, Version};
use tokio::net::TcpStream;
use webwire::random::ThreadRandom;
use webwire::ws::Config;
use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome};

use crate::h2_io::H2Stream;
use crate::stream::WebSocketStream;
use crate::{ALPN_H2, BoxError};

/// Host, port and address of an `https://` or `wss://` URL.
pub struct Target {
    /// The host name (or IP), for SNI and the certificate check.
    pub host: String,
    /// The first address it resolves to.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses and resolves `url` (`wss://` or `https://`; port 443 by default).
    pub fn parse(url: &str) -> Result<Self, BoxError> {
        let uri: Uri = url.parse()?;
        match uri.scheme_str() {
            Some("wss" | "https") => {}
            _ => return Err(format!("{url}: HTTP/2 needs wss:// or https://").into()),
        }
        let authority = uri.authority().ok_or_else(|| format!("{url}: no host"))?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let port = authority.port_u16().unwrap_or(443);
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| format!("{host}: no address"))?;
        Ok(Self {
            host: host.to_owned(),
            addr,
        })
    }
}

/// TLS client settings for `alpn`, trusting Mozilla's roots and `ca`.
pub fn tls_config(ca: Option<&Path>, alpn: &[u8]) -> Result<rustls::ClientConfig, BoxError> {
    let mut config = (*crate::tls::client_config(ca)?).clone();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// One HTTP/2 connection whose server allows extended CONNECT.
pub struct H2Session {
    send_request: h2::client::SendRequest<Bytes>,
}

impl H2Session {
    /// TLS (ALPN `h2`) and the HTTP/2 preface to `url`'s server; waits for
    /// its SETTINGS to allow extended CONNECT (RFC 8441 §3).
    pub async fn connect(url: &str, ca: Option<&Path>) -> Result<Self, BoxError> {
        let target = Target::parse(url)?;
        let tls = tls_config(ca, ALPN_H2)?;
        let tcp = TcpStream::connect(target.addr).await?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {}: {e}", target.host))?;
        if stream.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(format!("{}: the server did not agree to HTTP/2", target.host).into());
        }
        let (send_request, connection) = h2::client::Builder::new()
            // Room for 1 MiB messages in flight on each stream.
            .initial_window_size(1 << 20)
            .initial_connection_window_size(16 << 20)
            .handshake::<_, Bytes>(stream)
            .await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("HTTP/2 connection: {e}");
            }
        });
        let mut send_request = send_request.ready().await?;
        // The server's SETTINGS arrive with its preface, just after ours.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !send_request.is_extended_connect_protocol_enabled() {
            if Instant::now() > deadline {
                return Err(format!(
                    "{}: the server's SETTINGS do not allow extended CONNECT (RFC 8441)",
                    target.host
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            send_request = send_request.ready().await?;
        }
        Ok(Self { send_request })
    }

    /// Sends `request` as an extended CONNECT (`:protocol websocket`) on a
    /// new stream; returns the response and the stream's send half.
    pub async fn send_connect(
        &mut self,
        mut request: http::Request<()>,
    ) -> Result<(http::Response<h2::RecvStream>, h2::SendStream<Bytes>), BoxError> {
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let mut ready = self.send_request.clone().ready().await?;
        let (response, send) = ready.send_request(request, false)?;
        Ok((response.await?, send))
    }

    /// Opens a WebSocket to `url` on a new stream of this connection.
    pub async fn open(
        &mut self,
        url: &str,
        client: ClientConfig,
        config: Config,
    ) -> Result<WebSocketStream<H2Stream, ThreadRandom>, BoxError> {
        let mut random = ThreadRandom;
        let handshake = ClientHandshake::new(url, client, &mut random)?;
        let request = handshake.extended_connect_request(Version::HTTP_2)?;
        let (response, send) = self.send_connect(request).await?;
        let config = accepted_config(&handshake, &response, config)?;
        let io = H2Stream::new(send, response.into_body());
        let conn = webwire::ws::Connection::client(config, random, Instant::now());
        Ok(WebSocketStream::from_parts(io, conn, Vec::new()))
    }
}

/// Checks the extended CONNECT response; `config` with what was agreed.
fn accepted_config<B>(
    handshake: &ClientHandshake,
    response: &http::Response<B>,
    config: Config,
) -> Result<Config, BoxError> {
    match handshake.check_extended_connect_response(response)? {
        ClientOutcome::Accepted(accepted) => {
            #[cfg(feature = "deflate")]
            return Ok(config.with_deflate(accepted.deflate));
            #[cfg(not(feature = "deflate"))]
            {
                let _ = accepted;
                Ok(config)
            }
        }
        ClientOutcome::Rejected(refused) => {
            Err(format!("the server refused the WebSocket: {}", refused.status()).into())
        }
        _ => Err("unexpected handshake outcome".into()),
    }
}
