//! TLS for the blocking examples: rustls with the ring backend.
//!
//! Servers load a PEM certificate chain and key (`--tls-cert`,
//! `--tls-key`); clients trust Mozilla's roots (webpki-roots) plus any
//! `--ca FILE`, and check the certificate against the URL's host name
//! before a byte of the WebSocket handshake is sent.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A byte stream the drivers run a connection over: plain TCP or TLS.
pub trait Transport: Read + Write {
    /// The underlying socket's read timeout.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Ends the stream: TLS sends its close_notify first.
    fn shutdown(&mut self);
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&mut self) {
        let _ = TcpStream::shutdown(self, Shutdown::Both);
    }
}

macro_rules! tls_transport {
    ($connection:ty) => {
        impl Transport for StreamOwned<$connection, TcpStream> {
            fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
                self.sock.set_read_timeout(timeout)
            }

            fn shutdown(&mut self) {
                self.conn.send_close_notify();
                // Write only: `complete_io` would read when nothing is
                // left to write, and block on a second shutdown.
                while self.conn.wants_write() {
                    if self.conn.write_tls(&mut self.sock).is_err() {
                        break;
                    }
                }
                let _ = self.sock.shutdown(Shutdown::Both);
            }
        }
    };
}
tls_transport!(ServerConnection);
tls_transport!(ClientConnection);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration from a PEM certificate chain and private key,
/// offering HTTP/1.1 by ALPN.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, BoxError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate", cert.display()).into());
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration trusting Mozilla's roots and the certificates in
/// `extra_ca` (PEM), if given.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, BoxError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let mut added = 0;
        for cert in
            CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?
        {
            roots.add(cert.map_err(|e| format!("{}: {e}", path.display()))?)?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{}: no CA certificate", path.display()).into());
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// TLS over `tcp` to `host`, with the handshake done, so that a bad
/// certificate is reported here, before any request is sent.
pub fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
) -> Result<StreamOwned<ClientConnection, TcpStream>, BoxError> {
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned())?;
    let mut conn = ClientConnection::new(config, name)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| format!("TLS handshake with {host}: {e}"))?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// The server side of TLS over `tcp`; the handshake runs on first use.
pub fn accept(
    config: Arc<ServerConfig>,
    tcp: TcpStream,
) -> Result<StreamOwned<ServerConnection, TcpStream>, BoxError> {
    Ok(StreamOwned::new(ServerConnection::new(config)?, tcp))
}

/// A server example's command line: `[--addr HOST:PORT] [--tls-cert
/// CERT.pem --tls-key KEY.pem]`. Exits with usage on anything else.
pub struct ServerArgs {
    /// Where to listen.
    pub addr: String,
    /// The TLS configuration, with a certificate and key.
    pub tls: Option<Arc<ServerConfig>>,
}

impl ServerArgs {
    /// Parses the process's arguments for example `name`, listening on
    /// `default_addr` unless told otherwise.
    pub fn parse(name: &str, default_addr: &str) -> Self {
        let usage =
            format!("usage: {name} [--addr HOST:PORT] [--tls-cert CERT.pem --tls-key KEY.pem]");
        let fail = |why: &str| -> ! {
            eprintln!("{usage} ({why})");
            std::process::exit(2)
        };
        let mut args = std::env::args().skip(1);
        let mut addr = default_addr.to_owned();
        let (mut cert, mut key) = (None, None);
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .unwrap_or_else(|| fail(&format!("{arg} needs a value")))
            };
            match arg.as_str() {
                "--addr" => addr = value(),
                "--tls-cert" => cert = Some(value()),
                "--tls-key" => key = Some(value()),
                other => fail(&format!("unknown argument {other}")),
            }
        }
        let tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(
                server_config(cert.as_ref(), key.as_ref()).unwrap_or_else(|e| fail(&e.to_string())),
            ),
            (None, None) => None,
            _ => fail("--tls-cert and --tls-key go together"),
        };
        Self { addr, tls }
    }
}
