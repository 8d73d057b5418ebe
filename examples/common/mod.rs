//! Blocking std::net glue shared by the examples: the only I/O in webwire
//! lives in examples like this one.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use webwire::Status;
use webwire::proxy::{Proxy, TunnelStatus};
use webwire::random::RandomSource;
use webwire::ws::handshake::{ClientConfig, ClientHandshake, ClientOutcome};
use webwire::ws::{Config, Connection, Event, Transmit};

/// Writes everything the connection has queued; true once it asks for the
/// transport to be shut down.
pub fn flush<R: RandomSource>(
    stream: &mut TcpStream,
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
    stream: &mut TcpStream,
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
    stream: &mut TcpStream,
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
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(());
    }
    loop {
        while let Some(event) = conn.poll_event() {
            on_event(conn, event);
        }
        if flush(stream, conn, &mut out)? {
            let _ = stream.shutdown(Shutdown::Both);
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
                    let _ = stream.shutdown(Shutdown::Both);
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

/// A connected client: the socket, the connection, and frame bytes that
/// arrived together with the handshake response.
pub type Connected<R> = (TcpStream, Connection<R>, Vec<u8>);

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

/// Connects to a `ws://` URL and completes the opening handshake.
pub fn connect<R: RandomSource>(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    random: R,
) -> Result<Connected<R>, Box<dyn std::error::Error>> {
    connect_via(url, None, handshake, config, random)
}

/// [`connect`] through `proxy` (HTTP CONNECT or SOCKS5), if given. These
/// examples speak plain TCP: a `wss://` URL is refused rather than sent in
/// cleartext.
pub fn connect_via<R: RandomSource>(
    url: &str,
    proxy: Option<&Proxy>,
    handshake: ClientConfig,
    config: Config,
    mut random: R,
) -> Result<Connected<R>, Box<dyn std::error::Error>> {
    if !url.to_ascii_lowercase().starts_with("ws://") {
        return Err(format!(
            "{url}: this client speaks ws:// only (no TLS here); it never sends a \
             wss:// handshake in cleartext"
        )
        .into());
    }
    let mut client = ClientHandshake::new(url, handshake, &mut random)?;
    let authority = client.request().uri().authority().ok_or("no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let (mut stream, mut early) = match proxy {
        Some(proxy) => tunnel(proxy, authority.host(), port)?,
        None => (TcpStream::connect((authority.host(), port))?, Vec::new()),
    };
    stream.set_nodelay(true)?;
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
