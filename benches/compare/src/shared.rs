//! Code shared by the loopback echo binaries (`echo-server`, `echo-load`,
//! `echo-bench`) and `idle-memory`: the four echo servers (generic over the
//! byte stream, so `idle-memory` can run the very same code over an in-memory
//! transport), the load generator's hand-written frame writer and reply
//! parser, the fixed client handshake, and small helpers (/proc, JSON,
//! statistics).
//!
//! Included by each binary with `#[path = "../shared.rs"] mod shared;` (and
//! by the codec benchmark, main.rs, for the reporting helpers), so not every
//! binary uses every item.
#![allow(dead_code)]

use std::io;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size limit every server is configured with (frame and message), as in the
/// codec benchmark. Everything else is left at each crate's default.
pub const LIMIT: usize = 64 << 20;

/// The load generator's fixed `Sec-WebSocket-Key` (RFC 6455 §1.3's example)
/// and the accept value every server must answer with.
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const EXPECTED_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// The contenders of the echo benchmark: (name, what it is).
pub const SERVERS: [&str; 5] = [
    "webwire",
    "webwire+stream",
    "tokio-tungstenite",
    "fastwebsockets",
    "tokio-websockets",
];
/// The peers ratios are taken against.
pub const PEERS: [&str; 3] = ["tokio-tungstenite", "fastwebsockets", "tokio-websockets"];

// ---------------------------------------------------------------------------
// Client side: handshake request, masked frames, reply parser
// ---------------------------------------------------------------------------

/// The upgrade request the load generator (and `idle-memory`'s client) sends,
/// with an optional `Sec-WebSocket-Extensions` offer.
pub fn upgrade_request(host: &str, extensions: Option<&str>) -> String {
    let ext = extensions.map_or(String::new(), |e| {
        format!("Sec-WebSocket-Extensions: {e}\r\n")
    });
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
    )
}

/// Position of the end of an HTTP head (`\r\n\r\n`), past it.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// The value of header `name` (case-insensitive) in an HTTP head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Checks a server's handshake response: status 101 and the expected
/// `Sec-WebSocket-Accept`.
pub fn check_response(head: &[u8]) -> Result<(), String> {
    let head = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_owned())?;
    let status = head.lines().next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(format!("expected 101, got {status:?}"));
    }
    match header(head, "sec-websocket-accept") {
        Some(EXPECTED_ACCEPT) => Ok(()),
        other => Err(format!("bad Sec-WebSocket-Accept: {other:?}")),
    }
}

/// Byte `i` of every test payload: lowercase letters, valid UTF-8 text.
#[inline]
pub fn pattern(i: u64) -> u8 {
    b'a' + (i % 26) as u8
}

pub fn payload(len: usize) -> Vec<u8> {
    (0..len as u64).map(pattern).collect()
}

/// One masked client frame (FIN set) carrying `payload`.
pub fn masked_frame(opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Minimal incremental parser of a server's reply stream: every frame must be
/// a final, unmasked frame of the expected opcode and payload length whose
/// bytes follow [`pattern`]. Checks the first byte of every piece of payload
/// that arrives (at least the first and last bytes of each message) and
/// counts complete messages.
pub struct ReplyParser {
    opcode: u8,
    len: u64,
    hdr: [u8; 10],
    have: usize,
    /// Payload bytes of the current message still to come; `None` while
    /// reading a header.
    left: Option<u64>,
}

impl ReplyParser {
    pub fn new(opcode: u8, len: usize) -> Self {
        Self {
            opcode,
            len: len as u64,
            hdr: [0; 10],
            have: 0,
            left: None,
        }
    }

    /// Consumes `data`; returns the number of messages it completed.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            match self.left {
                None => {
                    // Header: 2 bytes, then 0, 2 or 8 length bytes.
                    let need = if self.have < 2 {
                        2
                    } else {
                        match self.hdr[1] & 0x7f {
                            126 => 4,
                            127 => 10,
                            _ => 2,
                        }
                    };
                    let take = (need - self.have).min(data.len());
                    self.hdr[self.have..self.have + take].copy_from_slice(&data[..take]);
                    self.have += take;
                    data = &data[take..];
                    if self.have < need || (need == 2 && self.hdr[1] & 0x7f >= 126) {
                        continue;
                    }
                    if self.hdr[0] != 0x80 | self.opcode {
                        return Err(format!(
                            "unexpected frame byte 0x{:02x} (want FIN + opcode {})",
                            self.hdr[0], self.opcode
                        ));
                    }
                    if self.hdr[1] & 0x80 != 0 {
                        return Err("server frame is masked".into());
                    }
                    let len = match self.hdr[1] & 0x7f {
                        126 => u64::from(u16::from_be_bytes([self.hdr[2], self.hdr[3]])),
                        127 => u64::from_be_bytes(self.hdr[2..10].try_into().unwrap()),
                        n => u64::from(n),
                    };
                    if len != self.len {
                        return Err(format!("reply of {len} bytes, sent {}", self.len));
                    }
                    self.have = 0;
                    self.left = Some(len);
                    if len == 0 {
                        self.left = None;
                        done += 1;
                    }
                }
                Some(left) => {
                    let take = left.min(data.len() as u64) as usize;
                    let offset = self.len - left;
                    if data[0] != pattern(offset)
                        || data[take - 1] != pattern(offset + take as u64 - 1)
                    {
                        return Err(format!("payload mismatch at offset {offset}"));
                    }
                    data = &data[take..];
                    if left == take as u64 {
                        self.left = None;
                        done += 1;
                    } else {
                        self.left = Some(left - take as u64);
                    }
                }
            }
        }
        Ok(done)
    }
}

// ---------------------------------------------------------------------------
// Servers: one async function per crate, generic over the byte stream
// ---------------------------------------------------------------------------

/// A server connection's whole life: handshake, then echo until the peer
/// goes away. Errors end that connection only.
pub async fn serve<S>(name: &str, io: S) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match name {
        "webwire" => serve_webwire(io).await,
        "webwire+stream" => serve_webwire_stream(io).await,
        "tokio-tungstenite" => serve_tokio_tungstenite(io).await,
        "fastwebsockets" => serve_fastwebsockets(io).await,
        "tokio-websockets" => serve_tokio_websockets(io).await,
        other => Err(io::Error::other(format!("unknown server {other}"))),
    }
}

fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

// --- webwire: the examples' tokio adapter, limits raised ---------------------

pub fn webwire_limits() -> webwire::ws::Limits {
    webwire::ws::Limits::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
}

/// examples/tokio_echo.rs's server: the examples' tokio adapter with the
/// limits raised.
pub async fn serve_webwire<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> io::Result<()> {
    serve_webwire_with(stream, false).await
}

/// [`serve_webwire`], optionally negotiating permessage-deflate with
/// `DeflateConfig::default()` (as examples/tokio_echo.rs does when built
/// with the `deflate` feature). The adapter is the examples' own,
/// examples/common/tokio_drive.rs, included verbatim: the handshake on the
/// in-place fast path, then `drive`, which reads into one buffer per thread.
pub async fn serve_webwire_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    deflate: bool,
) -> io::Result<()> {
    tokio_drive::serve(stream, &webwire_server(deflate), webwire_config).await
}

/// The echo servers' handshake settings: permessage-deflate with
/// `DeflateConfig::default()` if `deflate`.
fn webwire_server(deflate: bool) -> webwire::ws::handshake::ServerConfig {
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::ServerConfig;
    if deflate {
        ServerConfig::new().with_deflate(DeflateConfig::default())
    } else {
        ServerConfig::new()
    }
}

/// The echo servers' connection settings: raised limits, deflate as agreed.
fn webwire_config(agreed: &webwire::ws::handshake::Negotiated) -> webwire::ws::Config {
    webwire::ws::Config::default()
        .with_limits(webwire_limits())
        .with_deflate(agreed.deflate)
}

#[path = "../../../examples/common/tokio_drive.rs"]
#[allow(dead_code)]
mod tokio_drive;

// --- webwire through WebSocketStream (Stream + Sink) --------------------------

/// examples/tokio_echo.rs's echo loop on the examples' `WebSocketStream`
/// (examples/common/stream.rs, included verbatim): `accept` (the same
/// in-place handshake), then `next()` and `feed()` per message. Replies are
/// fed, not flushed: the stream writes all of them in one write before it
/// next waits for input, as `tokio_drive` does.
pub async fn serve_webwire_stream<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> io::Result<()> {
    serve_webwire_stream_with(io, false).await
}

/// [`serve_webwire_stream`], optionally negotiating permessage-deflate.
pub async fn serve_webwire_stream_with<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    deflate: bool,
) -> io::Result<()> {
    use stream::Message;
    let mut ws = stream::accept(io, &webwire_server(deflate), webwire_config).await?;
    while let Some(message) = ws.next().await {
        match message {
            Ok(echo @ (Message::Text(_) | Message::Binary(_))) => ws.feed(echo).await?,
            Ok(_) => {} // pings are answered by the connection; the close
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

// The file's `feature = "getrandom"`/`"deflate"` gates name the main
// crate's features, which this package does not have.
#[path = "../../../examples/common/stream.rs"]
#[allow(dead_code, unexpected_cfgs)]
mod stream;

// --- tokio-tungstenite ------------------------------------------------------

pub fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT))
}

/// `accept_async_with_config`, then echo through its `Stream`/`Sink`: replies
/// are `feed`ed (buffered) and flushed once no further message is ready
/// without waiting, which is what `StreamExt::forward` (its echo example)
/// does, without the `split` lock.
pub async fn serve_tokio_tungstenite<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> io::Result<()> {
    let mut ws = tokio_tungstenite::accept_async_with_config(io, Some(tungstenite_config()))
        .await
        .map_err(other)?;
    loop {
        let msg = match ws.next().now_or_never() {
            Some(msg) => msg,
            None => {
                ws.flush().await.map_err(other)?;
                ws.next().await
            }
        };
        match msg {
            Some(Ok(m)) if m.is_text() || m.is_binary() => ws.feed(m).await.map_err(other)?,
            Some(Ok(_)) => {} // pings are answered, closes handled, by tungstenite
            Some(Err(e)) => return Err(other(e)),
            None => return Ok(()),
        }
    }
}

// --- fastwebsockets ---------------------------------------------------------

/// A minimal server side of the HTTP upgrade, for fastwebsockets (whose own
/// server upgrade needs hyper): read the head, answer 101 with the accept key.
/// The client sends nothing before the 101, so nothing is left over.
pub async fn manual_upgrade<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) -> io::Result<()> {
    use base64::Engine as _;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let end = loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head_end(&head) {
            break end;
        }
        if head.len() > 16 * 1024 {
            return Err(other("request head too large"));
        }
    };
    if end != head.len() {
        return Err(other("bytes after the request head"));
    }
    let text = std::str::from_utf8(&head).map_err(other)?;
    let ok = text.starts_with("GET ")
        && header(text, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && header(text, "sec-websocket-version") == Some("13");
    let key = header(text, "sec-websocket-key").filter(|_| ok);
    let Some(key) = key else {
        io.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Err(other("not a WebSocket upgrade"));
    };
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    io.write_all(response.as_bytes()).await
}

/// The manual upgrade, then `WebSocket::after_handshake` on the stream itself
/// and its `FragmentCollector` (reassembles fragmented messages), echoing as
/// its echo_server example does: `write_frame` per message, which writes
/// each frame to the stream at once (there is no buffered write API).
pub async fn serve_fastwebsockets<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) -> io::Result<()> {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    manual_upgrade(&mut io).await?;
    let mut ws = WebSocket::after_handshake(io, Role::Server);
    // Frames must be *smaller* than this (its check is `>=`).
    ws.set_max_message_size(LIMIT + 1);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await.map_err(other)?;
        match frame.opcode {
            OpCode::Close => return Ok(()), // answered by fastwebsockets (auto_close)
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await.map_err(other)?,
            _ => {}
        }
    }
}

// --- tokio-websockets -------------------------------------------------------

pub fn tokio_websockets_limits() -> tokio_websockets::Limits {
    tokio_websockets::Limits::default().max_payload_len(Some(LIMIT))
}

/// `ServerBuilder::accept`, then the same feed-and-flush-when-idle echo as
/// tokio-tungstenite.
pub async fn serve_tokio_websockets<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> io::Result<()> {
    let (_request, mut ws) = tokio_websockets::ServerBuilder::new()
        .limits(tokio_websockets_limits())
        .accept(io)
        .await
        .map_err(other)?;
    loop {
        let msg = match ws.next().now_or_never() {
            Some(msg) => msg,
            None => {
                ws.flush().await.map_err(other)?;
                ws.next().await
            }
        };
        match msg {
            Some(Ok(m)) if m.is_text() || m.is_binary() => ws.feed(m).await.map_err(other)?,
            Some(Ok(_)) => {} // pings and closes are answered by the crate
            Some(Err(e)) => return Err(other(e)),
            None => return Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------
// /proc, statistics, JSON
// ---------------------------------------------------------------------------

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux).
pub const CLK_TCK: f64 = 100.0;

/// (utime, stime) of a process in clock ticks, from /proc/<pid>/stat (all its
/// threads together).
pub fn cpu_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may contain spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| other("bad /proc stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state is field 3 of stat(5); utime 14, stime 15.
    let num = |i: usize| -> io::Result<u64> {
        f.get(i - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| other("bad /proc stat field"))
    };
    Ok((num(14)?, num(15)?))
}

/// Nanoseconds on the CPU of all a process's threads (/proc/<pid>/task/*/schedstat):
/// a finer cross-check of the tick counts.
pub fn cpu_ns(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Interquartile range over median (nearest-rank quartiles).
pub fn iqr_rel(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.75) - q(0.25)) / median(&v)
}

pub fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A JSON number; non-finite values become `null`.
pub fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".into()
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Resolved versions of the contenders, from Cargo.lock: "name version, …".
pub fn crate_versions() -> String {
    const LOCK: &str = include_str!("../Cargo.lock");
    const NAMES: [&str; 8] = [
        "webwire",
        "tungstenite",
        "tokio-tungstenite",
        "fastwebsockets",
        "tokio-websockets",
        "ratchet_rs",
        "tokio",
        "flate2",
    ];
    let mut out = Vec::new();
    for block in LOCK.split("[[package]]") {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        if let (Some(name), Some(version)) = (field("name = "), field("version = "))
            && NAMES.contains(&name.as_str())
        {
            out.push(format!("{name} {version}"));
        }
    }
    out.sort();
    out.join(", ")
}

/// An environment variable parsed, or the default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// A comma-separated, lower-cased list from an environment variable.
pub fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|x| x.trim().to_lowercase()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's reply: unmasked, FIN, `opcode`.
    fn reply(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = masked_frame(opcode, payload, [0; 4]);
        f[1] &= 0x7f; // clear the mask bit…
        let hdr = f.len() - payload.len();
        f.drain(hdr - 4..hdr); // …and drop the (zero) key
        f
    }

    #[test]
    fn reply_parser_counts_messages_in_any_split() {
        for len in [0, 20, 125, 126, 16 << 10, 70_000] {
            let one = reply(2, &payload(len));
            let wire = one.repeat(3);
            for step in [1, 2, 7, 4096, wire.len()] {
                let mut p = ReplyParser::new(2, len);
                let n: u64 = wire.chunks(step).map(|c| p.feed(c).unwrap()).sum();
                assert_eq!(n, 3, "len {len} step {step}");
            }
        }
    }

    #[test]
    fn reply_parser_rejects_wrong_replies() {
        let good = payload(300);
        let mut bad = good.clone();
        bad[299] ^= 1;
        assert!(ReplyParser::new(2, 300).feed(&reply(2, &bad)).is_err());
        assert!(ReplyParser::new(2, 300).feed(&reply(1, &good)).is_err());
        assert!(ReplyParser::new(2, 301).feed(&reply(2, &good)).is_err());
        let masked = masked_frame(2, &good, [1, 2, 3, 4]);
        assert!(ReplyParser::new(2, 300).feed(&masked).is_err());
        let mut unfinished = reply(2, &good);
        unfinished[0] &= 0x7f;
        assert!(ReplyParser::new(2, 300).feed(&unfinished).is_err());
    }

    #[test]
    fn handshake_response_check() {
        let ok = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept: {EXPECTED_ACCEPT}\r\n\r\n"
        );
        assert!(check_response(ok.as_bytes()).is_ok());
        assert!(check_response(ok.replace("101", "200").as_bytes()).is_err());
        assert!(check_response(ok.replace("s3pP", "s3pQ").as_bytes()).is_err());
    }
}

/// TLS for the echo runs: a server configuration from PEM files.
pub fn tls_acceptor(cert: &str, key: &str) -> tokio_rustls::TlsAcceptor {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .expect("certificate file")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config))
}

/// TLS for the echo runs: a client trusting exactly the certificate in `ca`.
pub fn tls_connector(ca: &str) -> tokio_rustls::TlsConnector {
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots
            .add(cert.expect("CA certificate"))
            .expect("a usable CA");
    }
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}
