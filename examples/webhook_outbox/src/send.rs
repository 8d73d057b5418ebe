//! One delivery attempt over HTTP/1.1 with hyper, over TLS (rustls) for
//! `https://` endpoints.
//!
//! The endpoint's host is resolved once, every answer goes through the
//! endpoint's SSRF policy, and the connection goes to one of the addresses
//! that passed, never to the name again (a second lookup could answer with
//! a private address: DNS rebinding). Redirects are not followed (a 3xx is
//! the outcome), the whole attempt has one timeout, and at most
//! [`MAX_STORED_BODY`] bytes of the response body are read.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::header::{HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use webwire::proxy::{Proxy, TunnelStatus};
use webwire::webhook::{Endpoint, Message, Outcome};

/// Bytes of a response body kept (and stored) for operators to read.
pub const MAX_STORED_BODY: usize = 1024;

/// What an attempt produced.
#[derive(Debug)]
pub struct Attempted {
    pub outcome: Outcome,
    /// For `status`: the HTTP status, or `timeout`, `ssrf` (an address the
    /// policy refuses), `proxy`, `connect`, `tls` or `http` for a failure
    /// before one.
    pub last_status: String,
    /// The start of the response body, or why there was none.
    pub detail: String,
}

/// A failure before any response: which step, and why.
type Failure = (&'static str, String);

/// The TLS client for `https://` endpoints: Mozilla's roots and, if given,
/// the endpoint's own CA certificates (PEM).
pub fn tls_connector(extra_roots: Option<&str>) -> Result<TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_roots {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("--ca: {e}"))?;
            roots.add(cert).map_err(|e| format!("--ca: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("--ca: no PEM certificate in the file".into());
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Sends `message` to `endpoint`, signed at `now` (unix seconds); `tls`
/// serves `https://` endpoints; `proxy` (else the environment's
/// `HTTPS_PROXY` / `http_proxy` / `ALL_PROXY` / `NO_PROXY`) carries the
/// connection.
pub async fn attempt(
    endpoint: &Endpoint,
    tls: &TlsConnector,
    proxy: Option<&Proxy>,
    message: &Message,
    now: u64,
    timeout: Duration,
) -> Attempted {
    match tokio::time::timeout(timeout, send(endpoint, tls, proxy, message, now)).await {
        Ok(Ok((outcome, body))) => Attempted {
            last_status: outcome
                .http_status()
                .map_or_else(String::new, |s| s.to_string()),
            outcome,
            detail: body,
        },
        Ok(Err((step, why))) => Attempted {
            outcome: Outcome::ConnectionFailed,
            last_status: step.into(),
            detail: why,
        },
        Err(_) => Attempted {
            outcome: Outcome::Timeout,
            last_status: "timeout".into(),
            detail: format!("no answer within {timeout:?}"),
        },
    }
}

async fn send(
    endpoint: &Endpoint,
    tls: &TlsConnector,
    proxy: Option<&Proxy>,
    message: &Message,
    now: u64,
) -> Result<(Outcome, String), Failure> {
    let request = endpoint
        .request(message, now)
        .map_err(|e| ("http", e.to_string()))?;
    let (host, port) = endpoint.host_and_port();
    let resolved: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ("connect", format!("resolving {host}: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    let addrs = endpoint
        .connect_addrs(resolved)
        .map_err(|e| ("ssrf", e.to_string()))?;
    let from_env;
    let proxy = match proxy {
        Some(proxy) => Some(proxy),
        None => {
            let scheme = request.uri().scheme_str().unwrap_or("https");
            from_env = Proxy::from_env(scheme, host, port).map_err(|e| ("proxy", e.to_string()))?;
            from_env.as_ref()
        }
    };
    let stream = match proxy {
        Some(proxy) => via_proxy(proxy, &addrs).await?,
        None => connect(&addrs).await?,
    };

    let (parts, body) = request.into_parts();
    let mut request = Request::from_parts(parts, Full::new(Bytes::from(body)));
    let https = request.uri().scheme_str() == Some("https");
    // HTTP/1.1 to an origin server: origin-form target, name in Host.
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|_| ("http", "unusable URL path".to_owned()))?;
    *request.uri_mut() = target;
    if let Some(authority) = authority {
        let value = HeaderValue::from_str(&authority).map_err(|e| ("http", e.to_string()))?;
        request.headers_mut().insert(HOST, value);
    }
    if https {
        // The certificate is checked against the URL's name, while the
        // connection goes to the address checked above.
        let name = ServerName::try_from(host.to_owned()).map_err(|e| ("tls", e.to_string()))?;
        let stream = tls
            .connect(name, stream)
            .await
            .map_err(|e| ("tls", e.to_string()))?;
        exchange(stream, request).await
    } else {
        exchange(stream, request).await
    }
}

/// One request and the start of its response over an open connection.
async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> Result<(Outcome, String), Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ("http", e.to_string()))?;
    let driver = tokio::spawn(connection);
    let response = match sender.send_request(request).await {
        Ok(response) => response,
        Err(e) => {
            driver.abort();
            return Err(("http", e.to_string()));
        }
    };
    let outcome = Outcome::from_response(&response, crate::unix_now());
    let mut body = response.into_body();
    let mut kept = Vec::new();
    // Read only what is kept; the rest is dropped with the connection.
    while kept.len() < MAX_STORED_BODY {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let room = MAX_STORED_BODY - kept.len();
                    kept.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            _ => break,
        }
    }
    driver.abort();
    Ok((outcome, String::from_utf8_lossy(&kept).into_owned()))
}

/// Tunnels to the first checked address the proxy reaches. The proxy is
/// asked for the address, not the name: the SSRF guard's answer stands.
async fn via_proxy(proxy: &Proxy, addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let (host, port) = proxy.addr();
    let mut last = String::from("no address");
    for addr in addrs {
        let mut stream = TcpStream::connect((host, port))
            .await
            .map_err(|e| ("proxy", format!("connecting to proxy {host}:{port}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let mut tunnel = proxy
            .tunnel(&addr.ip().to_string(), addr.port())
            .map_err(|e| ("proxy", e.to_string()))?;
        let mut buf = [0u8; 1024];
        let opened = loop {
            while let Some(out) = tunnel.poll_transmit() {
                stream
                    .write_all(&out)
                    .await
                    .map_err(|e| ("proxy", e.to_string()))?;
            }
            let n = stream
                .read(&mut buf)
                .await
                .map_err(|e| ("proxy", e.to_string()))?;
            if n == 0 {
                break Err("the proxy closed the connection".to_owned());
            }
            match tunnel.receive(&buf[..n]) {
                Ok(TunnelStatus::NeedMore) => {}
                // A receiver speaks only after the request: nothing can
                // follow the proxy's reply yet.
                Ok(TunnelStatus::Established { consumed }) if consumed == n => break Ok(()),
                Ok(_) => break Err("bytes from the receiver before the request".to_owned()),
                Err(e) => break Err(e.to_string()),
            }
        };
        match opened {
            Ok(()) => return Ok(stream),
            Err(e) => last = format!("proxy {host}:{port} to {addr}: {e}"),
        }
    }
    Err(("proxy", last))
}

/// Tries each checked address in turn.
async fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, Failure> {
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last = format!("connecting to {addr}: {e}"),
        }
    }
    Err(("connect", last))
}
