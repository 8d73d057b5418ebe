//! Client side: one HTTP/2 or HTTP/3 connection to a server, on which
//! [`H2Session::open`] / [`H3Session::open`] open as many WebSockets as
//! wanted (each its own stream).

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
use crate::h3_io::ClientStream;
use crate::stream::WebSocketStream;
use crate::{ALPN_H2, ALPN_H3, BoxError};

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
            _ => return Err(format!("{url}: HTTP/2 and HTTP/3 need wss:// or https://").into()),
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
            // 256 KiB in flight per stream, 16 MiB for all of them (h2_io.rs).
            .initial_window_size(256 << 10)
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

/// One HTTP/3 connection (QUIC) whose server allows extended CONNECT.
pub struct H3Session {
    send_request: h3::client::SendRequest<h3::quinn::OpenStreams, Bytes>,
    /// Kept so that the connection lives as long as the session.
    _endpoint: quinn::Endpoint,
}

impl H3Session {
    /// QUIC (ALPN `h3`) and the HTTP/3 settings exchange with `url`'s
    /// server.
    pub async fn connect(url: &str, ca: Option<&Path>) -> Result<Self, BoxError> {
        let target = Target::parse(url)?;
        let tls = tls_config(ca, ALPN_H3)?;
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
        let mut client = quinn::ClientConfig::new(Arc::new(quic));
        client.transport_config(Arc::new(crate::h3_io::transport_config()));
        let bind: SocketAddr = if target.addr.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let mut endpoint = quinn::Endpoint::client(bind)?;
        endpoint.set_default_client_config(client);
        let connection = endpoint
            .connect(target.addr, &target.host)?
            .await
            .map_err(|e| format!("QUIC handshake with {}: {e}", target.host))?;
        let (mut driver, send_request) = h3::client::builder()
            .enable_extended_connect(true)
            .build::<_, _, Bytes>(h3::quinn::Connection::new(connection))
            .await?;
        // The driver runs the connection's control streams.
        tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        Ok(Self {
            send_request,
            _endpoint: endpoint,
        })
    }

    /// Sends `request` as an extended CONNECT (`:protocol websocket`) on a
    /// new request stream; returns the response and the stream.
    pub async fn send_connect(
        &mut self,
        mut request: http::Request<()>,
    ) -> Result<(http::Response<()>, H3RequestStream), BoxError> {
        request
            .extensions_mut()
            .insert(h3::ext::Protocol::WEBSOCKET);
        let mut stream = self.send_request.send_request(request).await?;
        let response = stream.recv_response().await?;
        Ok((response, stream))
    }

    /// Opens a WebSocket to `url` on a new request stream.
    pub async fn open(
        &mut self,
        url: &str,
        client: ClientConfig,
        config: Config,
    ) -> Result<WebSocketStream<ClientStream, ThreadRandom>, BoxError> {
        let mut random = ThreadRandom;
        let handshake = ClientHandshake::new(url, client, &mut random)?;
        let request = handshake.extended_connect_request(Version::HTTP_3)?;
        let (response, stream) = self.send_connect(request).await?;
        let config = accepted_config(&handshake, &response, config)?;
        let io = ClientStream::client(stream);
        let conn = webwire::ws::Connection::client(config, random, Instant::now());
        Ok(WebSocketStream::from_parts(io, conn, Vec::new()))
    }
}

/// A client's HTTP/3 request stream, before it is split.
pub type H3RequestStream = h3::client::RequestStream<h3::quinn::BidiStream<Bytes>, Bytes>;

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
