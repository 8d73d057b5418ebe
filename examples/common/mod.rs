//! Blocking std::net glue shared by the examples: the only I/O in webwire
//! lives in examples like this one.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use webwire::Status;
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

/// Connects to a `ws://` URL and completes the opening handshake.
pub fn connect<R: RandomSource>(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    mut random: R,
) -> Result<Connected<R>, Box<dyn std::error::Error>> {
    let mut client = ClientHandshake::new(url, handshake, &mut random)?;
    let authority = client.request().uri().authority().ok_or("no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let mut stream = TcpStream::connect((authority.host(), port))?;
    stream.set_nodelay(true)?;
    let mut request = Vec::new();
    client.write_request(&mut request);
    stream.write_all(&request)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
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
                    Ok((stream, conn, buf[used..n].to_vec()))
                }
                ClientOutcome::Rejected(response) => {
                    Err(format!("server refused: {}", response.status()).into())
                }
                other => Err(format!("unexpected handshake outcome: {other:?}").into()),
            };
        }
    }
}
