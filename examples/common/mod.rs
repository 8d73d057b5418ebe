//! Blocking std::net glue shared by the examples: the only I/O in webwire
//! lives in examples like this one.
#![allow(dead_code)]

pub mod tls;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use webwire::Status;
use webwire::proxy::{Proxy, TunnelStatus};
use webwire::random::RandomSource;
use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome};
use webwire::ws::{Config, Connection, Event, Transmit};

pub use self::tls::Transport;

/// Writes everything the connection has queued; true once it asks for the
/// transport to be shut down.
pub fn flush<R: RandomSource>(
    stream: &mut impl Transport,
    conn: &mut Connection<R>,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    loop {
        match conn.poll_transmit(out) {
            Transmit::Bytes(_) => {
                stream.write_all(out)?;
                out.clear();
            }
            Transmit::Shutdown => return Ok(true),
            Transmit::Idle => return Ok(false),
        }
    }
}

/// Feeds `data` to the connection; whenever it stops taking input (too many
/// events waiting, or a pong to hand out) the events go to `on_event` and
/// the queued bytes are written before the rest is fed. True once the
/// connection asks for the transport to be shut down.
pub fn feed<R: RandomSource>(
    stream: &mut impl Transport,
    conn: &mut Connection<R>,
    out: &mut Vec<u8>,
    mut data: &[u8],
    on_event: &mut impl FnMut(&mut Connection<R>, Event),
) -> io::Result<bool> {
    loop {
        let used = conn.handle_data(Instant::now(), data);
        data = &data[used..];
        while let Some(event) = conn.poll_event() {
            on_event(conn, event);
        }
        if flush(stream, conn, out)? {
            return Ok(true);
        }
        if data.is_empty() {
            return Ok(false);
        }
    }
}

/// Runs a connection over a blocking socket until it is over: feeds reads
/// in, hands each event to `on_event` (which may send), writes what is
/// queued, and honours the connection's timers through the read timeout.
pub fn drive<R: RandomSource>(
    stream: &mut impl Transport,
    conn: &mut Connection<R>,
    initial: &[u8],
    mut on_event: impl FnMut(&mut Connection<R>, Event),
) -> io::Result<()> {
    // Each connection's own, and full while a peer that does not read its
    // replies has stalled us: small (std's `BufReader` size), so such a peer
    // pins little.
    let mut buf = vec![0u8; 8 * 1024];
    let mut out = Vec::new();
    if feed(stream, conn, &mut out, initial, &mut on_event)? {
        stream.shutdown();
        return Ok(());
    }
    loop {
        while let Some(event) = conn.poll_event() {
            on_event(conn, event);
        }
        if flush(stream, conn, &mut out)? {
            stream.shutdown();
            return Ok(());
        }
        let timeout = conn
            .poll_timeout()
            .map(|t| t.saturating_duration_since(Instant::now()));
        if timeout.is_some_and(|t| t.is_zero()) {
            conn.handle_timeout(Instant::now());
            continue;
        }
        stream.set_read_timeout(timeout)?;
        match stream.read(&mut buf) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => {
                if feed(stream, conn, &mut out, &buf[..n], &mut on_event)? {
                    stream.shutdown();
                    return Ok(());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(Instant::now())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => conn.handle_eof(),
        }
    }
}

/// A client's byte stream: plain TCP for `ws://`, TLS for `wss://`.
pub enum Stream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl Transport for Stream {
    fn set_read_timeout(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        match self {
            Stream::Plain(s) => Transport::set_read_timeout(s, timeout),
            Stream::Tls(s) => s.set_read_timeout(timeout),
        }
    }

    fn shutdown(&mut self) {
        match self {
            Stream::Plain(s) => Transport::shutdown(s),
            Stream::Tls(s) => s.shutdown(),
        }
    }
}

/// A connected client: the stream, the connection, and frame bytes that
/// arrived together with the handshake response.
pub type Connected<R> = (Stream, Connection<R>, Vec<u8>);

/// The server answered the opening handshake with this status instead of
/// 101 (a client deciding whether to reconnect needs the number).
#[derive(Debug)]
pub struct HandshakeRefused(pub u16);

impl std::fmt::Display for HandshakeRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server refused the handshake: {}", self.0)
    }
}

impl std::error::Error for HandshakeRefused {}

/// Connects to a `ws://` or `wss://` URL and completes the opening
/// handshake.
pub fn connect<R: RandomSource>(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    random: R,
) -> Result<Connected<R>, Box<dyn std::error::Error>> {
    connect_via(url, None, None, handshake, config, random)
}

/// [`connect`] through `proxy` (HTTP CONNECT or SOCKS5), if given, and for
/// `wss://` trusting the CA certificates in `ca` besides Mozilla's roots.
pub fn connect_via<R: RandomSource>(
    url: &str,
    proxy: Option<&Proxy>,
    ca: Option<&std::path::Path>,
    handshake: ClientConfig,
    config: Config,
    mut random: R,
) -> Result<Connected<R>, Box<dyn std::error::Error>> {
    let mut client = ClientHandshake::new(url, handshake, &mut random)?;
    let uri = client.request().uri().clone();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        other => {
            return Err(format!("unsupported URL scheme {other:?}: use ws:// or wss://").into());
        }
    };
    let authority = uri.authority().ok_or("no host")?;
    let host = authority.host();
    let port = authority
        .port_u16()
        .unwrap_or(if secure { 443 } else { 80 });
    let (tcp, mut early) = match proxy {
        Some(proxy) => tunnel(proxy, host, port)?,
        None => (TcpStream::connect((host, port))?, Vec::new()),
    };
    tcp.set_nodelay(true)?;
    let mut stream = if secure {
        if !early.is_empty() {
            return Err("the proxy sent bytes before the TLS handshake".into());
        }
        let tls = tls::client_config(ca).map_err(|e| e.to_string())?;
        Stream::Tls(Box::new(
            tls::connect(tls, host, tcp).map_err(|e| e.to_string())?,
        ))
    } else {
        Stream::Plain(tcp)
    };
    let mut request = Vec::new();
    client.write_request(&mut request);
    stream.write_all(&request)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = if early.is_empty() {
            stream.read(&mut buf)?
        } else {
            // Bytes that came with the proxy's reply.
            let n = early.len().min(buf.len());
            buf[..n].copy_from_slice(&early[..n]);
            early.drain(..n);
            n
        };
        if n == 0 {
            return Err("connection closed during the handshake".into());
        }
        if let Status::Complete((outcome, used)) = client.feed(&buf[..n])? {
            return match outcome {
                ClientOutcome::Accepted(accepted) => {
                    #[cfg(feature = "deflate")]
                    let config = config.with_deflate(accepted.deflate);
                    let _ = accepted;
                    let conn = Connection::client(config, random, Instant::now());
                    let mut rest = buf[used..n].to_vec();
                    rest.extend_from_slice(&early);
                    Ok((stream, conn, rest))
                }
                ClientOutcome::Rejected(response) => {
                    Err(HandshakeRefused(response.status().as_u16()).into())
                }
                other => Err(format!("unexpected handshake outcome: {other:?}").into()),
            };
        }
    }
}

/// Opens a tunnel to `host:port` through `proxy`: the socket, and any bytes
/// of the target's that came with the proxy's reply.
fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(TcpStream, Vec<u8>), Box<dyn std::error::Error>> {
    let (proxy_host, proxy_port) = proxy.addr();
    let mut stream = TcpStream::connect((proxy_host, proxy_port))
        .map_err(|e| format!("proxy {proxy_host}:{proxy_port}: {e}"))?;
    let mut tunnel = proxy.tunnel(host, port)?;
    let mut buf = [0u8; 4096];
    loop {
        while let Some(out) = tunnel.poll_transmit() {
            stream.write_all(&out)?;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(format!(
                "proxy {proxy_host}:{proxy_port} closed the connection before the tunnel \
                 was open (wrong credentials?)"
            )
            .into());
        }
        match tunnel.receive(&buf[..n]) {
            Ok(TunnelStatus::NeedMore) => {}
            Ok(TunnelStatus::Established { consumed }) => {
                return Ok((stream, buf[consumed..n].to_vec()));
            }
            Ok(_) => return Err("unexpected tunnel status".into()),
            Err(e) => return Err(format!("proxy {proxy_host}:{proxy_port}: {e}").into()),
        }
    }
}
