//! Head-to-head WebSocket codec benchmark: webwire against tungstenite,
//! fastwebsockets and tokio-websockets, with a memcpy yardstick.
//!
//! Plain `main`, no criterion: warm up (and verify every contender's output in
//! full), then `ROUNDS` rounds; each round runs every contender once per
//! workload, interleaved, with the contender order rotated every round. The
//! median of the rounds is reported per (workload, contender).
//!
//! Every contender is fed the same way, as if from a socket: an in-memory
//! stream that hands out at most 64 KiB per read call. webwire, being sans-IO,
//! gets the same chunks appended to a `BytesMut` and is drained with
//! `decode` until `Ok(None)`. Encoders write into a counting in-memory sink
//! (the bytes are captured and checked in the verification pass).
//!
//! W6 is the server handshake: each crate's own, on an in-memory connection
//! per handshake (fastwebsockets through hyper, its documented server path).
//!
//! See README.md for what each workload means and the caveats.

mod shared;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use shared::{cpu_model, json_str};

/// Most bytes the in-memory stream hands out per read call.
const CHUNK: usize = 64 * 1024;
/// Size limit every contender is configured with (frame and message).
const LIMIT: usize = 64 << 20;
/// Default number of measured rounds.
const DEFAULT_ROUNDS: usize = 15;

// ---------------------------------------------------------------------------
// In-memory socket
// ---------------------------------------------------------------------------

/// An in-memory duplex stream. Reads serve `input` `repeat` times over, at
/// most [`CHUNK`] bytes per call and never across a repetition boundary (so
/// every repetition is chunked identically). Writes are counted and, when
/// `capture` is set, kept for verification.
struct MemStream<'a> {
    input: &'a [u8],
    repeat: usize,
    pos: usize,
    written: u64,
    capture: Option<&'a mut Vec<u8>>,
}

impl<'a> MemStream<'a> {
    fn reader(input: &'a [u8], repeat: usize) -> Self {
        Self {
            input,
            repeat,
            pos: 0,
            written: 0,
            capture: None,
        }
    }

    fn writer(capture: Option<&'a mut Vec<u8>>) -> Self {
        Self {
            input: &[],
            repeat: 0,
            pos: 0,
            written: 0,
            capture,
        }
    }

    /// A connection that reads `input` once (then end of stream) and counts
    /// (and, with `capture`, keeps) what is written to it.
    fn duplex(input: &'a [u8], capture: Option<&'a mut Vec<u8>>) -> Self {
        Self {
            input,
            repeat: 1,
            pos: 0,
            written: 0,
            capture,
        }
    }

    /// The next read's worth of input: at most `max` (and [`CHUNK`]) bytes;
    /// empty at end of input.
    #[inline]
    fn next_chunk(&mut self, max: usize) -> &'a [u8] {
        if self.pos == self.input.len() {
            if self.repeat <= 1 {
                return &[];
            }
            self.repeat -= 1;
            self.pos = 0;
        }
        let n = CHUNK.min(max).min(self.input.len() - self.pos);
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    #[inline]
    fn sink(&mut self, bytes: &[u8]) {
        black_box(bytes);
        self.written += bytes.len() as u64;
        if let Some(c) = &mut self.capture {
            c.extend_from_slice(bytes);
        }
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = self.next_chunk(buf.len());
        buf[..c.len()].copy_from_slice(c);
        Ok(c.len())
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink(buf);
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            self.sink(b);
            n += b.len();
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for MemStream<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let c = this.next_chunk(buf.remaining());
        buf.put_slice(c);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for MemStream<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write(buf))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.get_mut().write_vectored(bufs))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------------------
// Proof of work: every delivered message is counted and fingerprinted
// ---------------------------------------------------------------------------

/// Messages and payload bytes delivered, plus a fingerprint of each message's
/// length and first, middle and last byte (proves unmasking happened, at
/// negligible cost). `full` additionally hashes every payload byte; it is
/// used only in the (untimed) verification pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    msgs: u64,
    bytes: u64,
    fp: u64,
    full: Option<u64>,
}

impl Tally {
    fn new(full: bool) -> Self {
        Self {
            full: full.then_some(0xcbf2_9ce4_8422_2325),
            ..Self::default()
        }
    }

    #[inline]
    fn add(&mut self, p: &[u8]) {
        self.msgs += 1;
        self.bytes += p.len() as u64;
        let (f, m, l) = match p {
            [] => (0, 0, 0),
            _ => (p[0], p[p.len() / 2], p[p.len() - 1]),
        };
        let word = u64::from(f) | u64::from(m) << 8 | u64::from(l) << 16 | (p.len() as u64) << 24;
        self.fp = (self.fp.rotate_left(7) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        if let Some(h) = &mut self.full {
            for &b in p {
                *h = (*h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            *h = (*h ^ 0xff).wrapping_mul(0x0100_0000_01b3); // message boundary
        }
    }
}

// ---------------------------------------------------------------------------
// Input generation (independent of every contender)
// ---------------------------------------------------------------------------

/// Tiny deterministic generator (SplitMix64) for payloads and masking keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn key(&mut self) -> [u8; 4] {
        (self.next() as u32).to_le_bytes()
    }
}

/// Header length of a frame with `len` payload bytes.
fn header_len(len: usize, masked: bool) -> usize {
    let ext = match len {
        0..=125 => 0,
        126..=65535 => 2,
        _ => 8,
    };
    2 + ext + if masked { 4 } else { 0 }
}

/// Appends one masked frame (RFC 6455 §5.2), written by hand.
fn push_masked_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=65535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
}

/// Exactly `len` bytes of mixed UTF-8: ASCII, é (2 bytes), € (3), 😀 (4).
fn mixed_utf8(len: usize, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(len);
    while len - s.len() >= 4 {
        match rng.next() % 8 {
            0 => s.push('é'),
            1 => s.push('€'),
            2 => s.push('😀'),
            3 => s.push(' '),
            r => s.push((b'a' + (r as u8 * 7 + s.len() as u8) % 26) as char),
        }
    }
    while s.len() < len {
        s.push('x');
    }
    s
}

/// Reference decoder for verifying encoder output: parses single, final,
/// masked frames, checks opcode and masking, and unmasks byte by byte.
/// Returns the tally and the first two masking keys seen.
fn reference_decode(mut wire: &[u8], opcode: u8) -> (Tally, Vec<[u8; 4]>) {
    let mut t = Tally::new(true);
    let mut keys = Vec::new();
    while !wire.is_empty() {
        assert_eq!(
            wire[0],
            0x80 | opcode,
            "frame must be FIN with opcode {opcode}"
        );
        assert!(wire[1] & 0x80 != 0, "client frame must be masked");
        let (len, mut at) = match wire[1] & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key: [u8; 4] = wire[at..at + 4].try_into().unwrap();
        at += 4;
        if keys.len() < 2 {
            keys.push(key);
        }
        let payload: Vec<u8> = wire[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i & 3])
            .collect();
        t.add(&payload);
        wire = &wire[at + len..];
    }
    (t, keys)
}

// ---------------------------------------------------------------------------
// Workloads
// ---------------------------------------------------------------------------

struct EncodeInput {
    /// Text messages (`Some`) or one binary message (`None`); sliced by
    /// `msg_len`.
    text: Option<String>,
    bytes: Vec<u8>,
    msg_len: usize,
    count: usize,
    /// Wire bytes of one repetition (headers included).
    wire_len: u64,
    /// Owned messages for the APIs that take ownership; cloning one is a
    /// reference-count increment (no copy), done inside the timed region.
    tung: Vec<tungstenite::Message>,
    tws: Vec<tokio_websockets::Message>,
}

impl EncodeInput {
    fn new(text: Option<String>, bytes: Vec<u8>, msg_len: usize) -> Self {
        let count = bytes.len() / msg_len;
        let shared = Bytes::from(bytes.clone());
        let mut tung = Vec::with_capacity(count);
        let mut tws = Vec::with_capacity(count);
        for i in 0..count {
            let b = shared.slice(i * msg_len..(i + 1) * msg_len);
            if text.is_some() {
                // Validated once here, outside the timed region.
                let u = tungstenite::Utf8Bytes::try_from(b.clone()).expect("valid UTF-8");
                tung.push(tungstenite::Message::Text(u));
                tws.push(tokio_websockets::Message::text(b));
            } else {
                tung.push(tungstenite::Message::Binary(b.clone()));
                tws.push(tokio_websockets::Message::binary(b));
            }
        }
        let wire_len = (count * (header_len(msg_len, true) + msg_len)) as u64;
        Self {
            text,
            bytes,
            msg_len,
            count,
            wire_len,
            tung,
            tws,
        }
    }

    fn range(&self, i: usize) -> std::ops::Range<usize> {
        i * self.msg_len..(i + 1) * self.msg_len
    }

    fn opcode(&self) -> u8 {
        if self.text.is_some() { 1 } else { 2 }
    }
}

enum Kind {
    Decode { wire: Vec<u8> },
    Encode(EncodeInput),
    Echo(EchoInput),
    Handshake(HandshakeInput),
}

/// W6's input: a real browser's upgrade request, and the accept key the
/// harness expects in every response (its own SHA-1 + base64, not a
/// contender's).
struct HandshakeInput {
    request: &'static [u8],
    /// The request's `Sec-WebSocket-Key` value.
    key: String,
    /// base64(SHA-1(key + GUID)), RFC 6455 §4.2.2.
    accept: String,
}

/// Chromium's upgrade request, captured from a real browser (see
/// tests/data/handshake/README.md). It offers permessage-deflate and the
/// subprotocol `chat`; every contender runs with its default configuration,
/// which takes neither, so every response is the same plain `101`.
const CHROMIUM_REQUEST: &[u8] =
    include_bytes!("../../../tests/data/handshake/request-chromium.http");

/// RFC 6455's GUID, appended to the key before hashing.
const WS_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

impl HandshakeInput {
    fn new(request: &'static [u8]) -> Self {
        use base64::Engine as _;
        let text = std::str::from_utf8(request).expect("request is ASCII");
        assert!(text.ends_with("\r\n\r\n") && text.matches("\r\n\r\n").count() == 1);
        let key = text
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
            .map(|(_, v)| v.trim().to_owned())
            .expect("request has a Sec-WebSocket-Key");
        let mut sha = sha1_smol::Sha1::new();
        sha.update(key.as_bytes());
        sha.update(WS_GUID);
        let accept = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
        Self {
            request,
            key,
            accept,
        }
    }
}

/// W7's input: the masked, compressed frames of a reference client (webwire's
/// client-role `Connection` with permessage-deflate and context takeover),
/// produced once, and what each contender's server endpoint is configured
/// with. Context takeover chains the messages: every timed sample runs the
/// whole stream, in order, through a fresh server endpoint.
struct EchoInput {
    /// The client's wire bytes, all messages in order.
    wire: Bytes,
    count: usize,
    msg_len: usize,
    /// The client's offer (its Sec-WebSocket-Extensions value).
    offer: String,
    /// What webwire's server agreed to the offer (its default level 6), and
    /// the same at level 1 (diagnostic).
    ww_server: webwire::ws::deflate::DeflateParams,
    ww_server_l1: webwire::ws::deflate::DeflateParams,
    /// The client's parameters: decode the replies in the verification pass.
    ww_client: webwire::ws::deflate::DeflateParams,
    /// The offer as request headers, for ratchet_rs's negotiation.
    #[cfg(feature = "ratchet")]
    headers: ratchet_rs::HeaderMap,
}

/// (first header byte, masked, payload length) of each frame in `wire`.
fn frames(mut wire: &[u8]) -> Vec<(u8, bool, usize)> {
    let mut out = Vec::new();
    while !wire.is_empty() {
        let masked = wire[1] & 0x80 != 0;
        let (len, at) = match wire[1] & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let at = at + if masked { 4 } else { 0 };
        out.push((wire[0], masked, len));
        wire = &wire[at + len..];
    }
    out
}

impl EchoInput {
    fn new(messages: &[String]) -> Self {
        use webwire::random::SeededRandom;
        use webwire::ws::deflate::DeflateConfig;
        use webwire::ws::handshake::parse_extensions;
        use webwire::ws::{Config, Connection, Role, Transmit};
        // What a webwire client offers by default:
        // "permessage-deflate; client_max_window_bits".
        let offer = DeflateConfig::default().offer().to_string();
        let offers = parse_extensions(&offer).expect("offer parses");
        let (ww_server, response) = DeflateConfig::default()
            .accept_offers(&offers)
            .expect("webwire server accepts the offer");
        let ww_client = DeflateConfig::default()
            .check_response(&response)
            .expect("webwire client accepts the response");
        let (ww_server_l1, _) = DeflateConfig::default()
            .with_level(1)
            .accept_offers(&offers)
            .expect("webwire server accepts the offer");
        assert!(!ww_server.server_no_context_takeover() && !ww_client.client_no_context_takeover());
        assert_eq!(
            (
                ww_server.server_max_window_bits(),
                ww_server.client_max_window_bits()
            ),
            (15, 15)
        );

        let now = Instant::now();
        let config = Config::default()
            .with_limits(ww_limits())
            .with_deflate(Some(ww_client));
        let mut client = Connection::new(Role::Client, config, SeededRandom::new(0x5eed), now);
        let mut wire = Vec::new();
        for m in messages {
            client.send_text(m).expect("reference client: send");
            while let Transmit::Bytes(_) = client.poll_transmit(&mut wire) {}
        }
        // One masked, compressed (RSV1) text frame per message.
        let fr = frames(&wire);
        assert_eq!(fr.len(), messages.len());
        assert!(fr.iter().all(|&(b0, masked, _)| b0 == 0xc1 && masked));

        #[cfg(feature = "ratchet")]
        let headers = {
            let mut h = ratchet_rs::HeaderMap::new();
            h.insert(
                "sec-websocket-extensions",
                ratchet_rs::HeaderValue::from_str(&offer).expect("header value"),
            );
            // ratchet_rs's answer must be one the reference client accepts.
            for cfg in ratchet_configs() {
                use ratchet_rs::ExtensionProvider;
                let (_, answer) = ratchet_rs::deflate::DeflateExtProvider::with_config(cfg)
                    .negotiate_server(&h)
                    .expect("ratchet_rs: negotiation")
                    .expect("ratchet_rs: deflate not agreed");
                let answer = parse_extensions(answer.to_str().unwrap()).unwrap();
                let p = DeflateConfig::default()
                    .check_response(&answer[0])
                    .expect("webwire client accepts ratchet_rs's response");
                assert_eq!(p, ww_client, "ratchet_rs agreed to different parameters");
            }
            h
        };
        Self {
            wire: Bytes::from(wire),
            count: messages.len(),
            msg_len: messages[0].len(),
            offer,
            ww_server,
            ww_server_l1,
            ww_client,
            #[cfg(feature = "ratchet")]
            headers,
        }
    }
}

/// A JSON document of exactly `len` bytes, the kind an API or a live feed
/// sends: a batch of records with recurring keys but varied values (ids,
/// names, e-mails, floats, timestamps, coordinates, hex session ids, free
/// text, optional fields), deterministic from `rng`. Padded to length with
/// spaces before the final brace (valid JSON whitespace).
fn json_message(seq: usize, len: usize, rng: &mut Rng) -> String {
    const FIRST: [&str; 16] = [
        "Ada",
        "Grace",
        "Linus",
        "Barbara",
        "Ken",
        "Margaret",
        "Dennis",
        "Frances",
        "Alan",
        "Radia",
        "Edsger",
        "Hedy",
        "Donald",
        "Sophie",
        "Niklaus",
        "Katherine",
    ];
    const LAST: [&str; 16] = [
        "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
        "Turing", "Perlman", "Dijkstra", "Lamarr", "Knuth", "Wilson", "Wirth", "Johnson",
    ];
    const WORDS: [&str; 32] = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "cache",
        "shard",
        "replica",
        "latency",
        "quota",
        "billing",
        "invoice",
        "refund",
        "session",
        "token",
        "region",
        "eu-west",
        "us-east",
        "mobile",
        "desktop",
        "beta-tester",
        "premium",
        "trial",
        "archived",
        "priority",
        "urgent",
        "follow-up",
        "escalated",
        "resolved",
        "new",
        "vip",
        "churn-risk",
        "b2b",
    ];
    const CITIES: [&str; 12] = [
        "Berlin",
        "Lisbon",
        "Osaka",
        "Toronto",
        "Nairobi",
        "Lima",
        "Oslo",
        "Austin",
        "Pune",
        "Seoul",
        "Dublin",
        "Porto Alegre",
    ];
    const STATUS: [&str; 5] = ["active", "pending", "suspended", "closed", "review"];
    const TLD: [&str; 5] = ["com", "org", "net", "io", "dev"];
    let pick = |rng: &mut Rng, n: usize| (rng.next() % n as u64) as usize;

    let mut s = String::with_capacity(len);
    let _ = write!(
        s,
        "{{\"seq\":{seq},\"type\":\"batch\",\"source\":\"feed-{}\",\"items\":[",
        rng.next() % 64
    );
    let mut first = true;
    let mut rec = String::new();
    loop {
        rec.clear();
        let (f, l) = (FIRST[pick(rng, 16)], LAST[pick(rng, 16)]);
        let _ = write!(
            rec,
            "{{\"id\":{},\"name\":\"{f} {l}\",\"email\":\"{}.{}{}@example.{}\",\"status\":\"{}\",\"active\":{},\"score\":{}.{:03},\"balance\":{}.{:02},",
            rng.next() % 100_000_000,
            f.to_lowercase(),
            l.to_lowercase(),
            rng.next() % 1000,
            TLD[pick(rng, 5)],
            STATUS[pick(rng, 5)],
            rng.next().is_multiple_of(2),
            rng.next() % 100,
            rng.next() % 1000,
            rng.next() % 1_000_000,
            rng.next() % 100,
        );
        let _ = write!(
            rec,
            "\"created\":\"20{:02}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"location\":{{\"city\":\"{}\",\"lat\":{}{}.{:05},\"lon\":{}{}.{:05}}},\"session\":\"{:016x}\",\"tags\":[",
            18 + rng.next() % 8,
            1 + rng.next() % 12,
            1 + rng.next() % 28,
            rng.next() % 24,
            rng.next() % 60,
            rng.next() % 60,
            rng.next() % 1000,
            CITIES[pick(rng, 12)],
            if rng.next().is_multiple_of(2) {
                "-"
            } else {
                ""
            },
            rng.next() % 90,
            rng.next() % 100_000,
            if rng.next().is_multiple_of(2) {
                "-"
            } else {
                ""
            },
            rng.next() % 180,
            rng.next() % 100_000,
            rng.next(),
        );
        for i in 0..1 + pick(rng, 4) {
            let _ = write!(
                rec,
                "{}\"{}\"",
                if i > 0 { "," } else { "" },
                WORDS[pick(rng, 32)]
            );
        }
        rec.push_str("],\"note\":\"");
        for i in 0..3 + pick(rng, 8) {
            let _ = write!(
                rec,
                "{}{}",
                if i > 0 { " " } else { "" },
                WORDS[pick(rng, 32)]
            );
        }
        rec.push('"');
        // Optional fields: not every record has the same keys.
        if rng.next().is_multiple_of(3) {
            let _ = write!(
                rec,
                ",\"phone\":\"+{} {:03} {:07}\"",
                1 + rng.next() % 98,
                rng.next() % 1000,
                rng.next() % 10_000_000
            );
        }
        if rng.next().is_multiple_of(4) {
            let _ = write!(
                rec,
                ",\"referrer\":\"https://{}.example.{}/{}?utm={}\"",
                WORDS[pick(rng, 32)],
                TLD[pick(rng, 5)],
                WORDS[pick(rng, 32)],
                rng.next() % 10_000
            );
        }
        if rng.next().is_multiple_of(5) {
            let _ = write!(rec, ",\"retries\":{},\"last_error\":null", rng.next() % 7);
        }
        rec.push('}');
        // Room for a comma, this record, "]" and "}".
        if s.len() + 1 + rec.len() + 2 > len {
            break;
        }
        if !first {
            s.push(',');
        }
        first = false;
        s.push_str(&rec);
    }
    s.push(']');
    while s.len() < len - 1 {
        s.push(' ');
    }
    s.push('}');
    assert_eq!(s.len(), len);
    s
}

struct Workload {
    id: &'static str,
    title: &'static str,
    /// Report ns per message (else GB/s of payload).
    per_msg: bool,
    /// Messages and payload bytes per repetition.
    msgs: u64,
    payload_bytes: u64,
    /// Repetitions per timed sample (one connection serves them all).
    reps: usize,
    kind: Kind,
    /// The plaintext messages, for the expected tallies.
    expect_fast: Tally,
    expect_full: Tally,
}

impl Workload {
    fn is_encode(&self) -> bool {
        matches!(self.kind, Kind::Encode(_))
    }

    fn is_echo(&self) -> bool {
        matches!(self.kind, Kind::Echo(_))
    }

    fn is_decode(&self) -> bool {
        matches!(self.kind, Kind::Decode { .. })
    }

    fn is_handshake(&self) -> bool {
        matches!(self.kind, Kind::Handshake(_))
    }

    /// The unit of a per-message figure.
    fn per_unit(&self) -> &'static str {
        if self.is_handshake() {
            "ns/handshake"
        } else {
            "ns/msg"
        }
    }

    /// What the memcpy yardstick copies: the wire input for decoding, the
    /// payload for encoding.
    fn memcpy_src(&self) -> &[u8] {
        match &self.kind {
            Kind::Decode { wire } => wire,
            Kind::Encode(e) => &e.bytes,
            Kind::Echo(e) => &e.wire,
            Kind::Handshake(h) => h.request,
        }
    }
}

fn expected(messages: &[&[u8]], reps: usize, full: bool) -> Tally {
    let mut t = Tally::new(full);
    for _ in 0..reps {
        for m in messages {
            t.add(m);
        }
    }
    t
}

#[inline(never)]
fn decode_workload(
    id: &'static str,
    title: &'static str,
    per_msg: bool,
    reps: usize,
    messages: &[&[u8]],
    wire: Vec<u8>,
) -> Workload {
    Workload {
        id,
        title,
        per_msg,
        msgs: messages.len() as u64,
        payload_bytes: messages.iter().map(|m| m.len() as u64).sum(),
        reps,
        expect_fast: expected(messages, reps, false),
        expect_full: expected(messages, reps, true),
        kind: Kind::Decode { wire },
    }
}

#[inline(never)]
fn encode_workload(
    id: &'static str,
    title: &'static str,
    per_msg: bool,
    reps: usize,
    input: EncodeInput,
) -> Workload {
    let messages: Vec<&[u8]> = (0..input.count)
        .map(|i| &input.bytes[input.range(i)])
        .collect();
    Workload {
        id,
        title,
        per_msg,
        msgs: input.count as u64,
        payload_bytes: input.bytes.len() as u64,
        reps,
        expect_fast: expected(&messages, reps, false),
        expect_full: expected(&messages, reps, true),
        kind: Kind::Encode(input),
    }
}

fn workloads() -> Vec<Workload> {
    let mut rng = Rng(0x5eed);
    let mut out = Vec::new();

    // W1: 100,000 masked 16-byte ASCII text frames.
    let texts: Vec<String> = (0..100_000).map(|i| format!("msg {i:011}\n")).collect();
    assert!(texts.iter().all(|t| t.len() == 16));
    let mut wire = Vec::new();
    for t in &texts {
        push_masked_frame(&mut wire, true, 1, t.as_bytes(), rng.key());
    }
    let msgs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    out.push(decode_workload(
        "W1",
        "decode 100k masked 16 B text frames",
        true,
        2,
        &msgs,
        wire,
    ));

    // W2: one masked 1 MiB binary frame.
    let blob: Vec<u8> = (0..(1 << 20) / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    let mut wire = Vec::new();
    push_masked_frame(&mut wire, true, 2, &blob, rng.key());
    out.push(decode_workload(
        "W2",
        "decode 1 masked 1 MiB binary frame",
        false,
        32,
        &[&blob],
        wire,
    ));

    // W3: 16 masked 64 KiB text frames of mixed UTF-8.
    let texts: Vec<String> = (0..16).map(|_| mixed_utf8(64 << 10, &mut rng)).collect();
    let mut wire = Vec::new();
    for t in &texts {
        push_masked_frame(&mut wire, true, 1, t.as_bytes(), rng.key());
    }
    let msgs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    out.push(decode_workload(
        "W3",
        "decode 16 masked 64 KiB mixed-UTF-8 text frames",
        false,
        32,
        &msgs,
        wire,
    ));

    // W4: a 1 MiB mixed UTF-8 text message in 64 masked fragments (16 KiB
    // each, so fragment boundaries split code points).
    let text = mixed_utf8(1 << 20, &mut rng);
    let mut wire = Vec::new();
    let pieces: Vec<&[u8]> = text.as_bytes().chunks((1 << 20) / 64).collect();
    assert_eq!(pieces.len(), 64);
    for (i, p) in pieces.iter().enumerate() {
        let opcode = if i == 0 { 1 } else { 0 };
        push_masked_frame(&mut wire, i == 63, opcode, p, rng.key());
    }
    let split = pieces
        .windows(2)
        .filter(|w| (w[1][0] & 0xc0) == 0x80)
        .count();
    assert!(
        split > 0,
        "W4 should split some code points across fragments"
    );
    out.push(decode_workload(
        "W4",
        "decode 1 MiB mixed-UTF-8 text in 64 masked fragments",
        false,
        32,
        &[text.as_bytes()],
        wire,
    ));

    // W5a: client-role encode of 100,000 16-byte text messages.
    let all: String = (0..100_000).map(|i| format!("out {i:011}\n")).collect();
    let bytes = all.clone().into_bytes();
    out.push(encode_workload(
        "W5a",
        "client encode 100k 16 B text messages",
        true,
        2,
        EncodeInput::new(Some(all), bytes, 16),
    ));

    // W5b: client-role encode of one 1 MiB binary message.
    let blob: Vec<u8> = (0..(1 << 20) / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    out.push(encode_workload(
        "W5b",
        "client encode 1 MiB binary message",
        false,
        32,
        EncodeInput::new(None, blob, 1 << 20),
    ));

    // W6: server handshake of a real Chromium upgrade request: parse,
    // validate, accept key, 101 response; 2,000 handshakes per sample.
    let hs = HandshakeInput::new(CHROMIUM_REQUEST);
    out.push(Workload {
        id: "W6",
        title: "server handshake of a Chromium upgrade request",
        per_msg: true,
        msgs: 1,
        payload_bytes: hs.request.len() as u64,
        reps: 2000,
        expect_fast: Tally::default(),
        expect_full: Tally::default(),
        kind: Kind::Handshake(hs),
    });

    // W7: compressed echo of 1,000 16 KiB JSON messages (permessage-deflate,
    // context takeover, window 15), wire input from webwire's client role.
    let mut json_rng = Rng(0x750e);
    let docs: Vec<String> = (0..1000)
        .map(|i| json_message(i, 16 << 10, &mut json_rng))
        .collect();
    let msgs: Vec<&[u8]> = docs.iter().map(|d| d.as_bytes()).collect();
    let echo = EchoInput::new(&docs);
    out.push(Workload {
        id: "W7",
        title: "compressed echo of 1,000 16 KiB JSON text messages",
        per_msg: true,
        msgs: msgs.len() as u64,
        payload_bytes: msgs.iter().map(|m| m.len() as u64).sum(),
        reps: 1,
        expect_fast: expected(&msgs, 1, false),
        expect_full: expected(&msgs, 1, true),
        kind: Kind::Echo(echo),
    });
    out
}

// ---------------------------------------------------------------------------
// Contenders
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Webwire,
    Tungstenite,
    FastWebSockets,
    TokioWebsockets,
    Memcpy,
    /// Diagnostic: webwire's encoder with `OsRandom` (the OS's bytes, 1 KiB
    /// per system call) instead of `ThreadRandom`.
    WebwireOs,
    /// Diagnostic: webwire's slice-based `decode(&[u8])` instead of
    /// `decode_buf(&mut BytesMut)`.
    WebwireSlice,
    /// W7 only: ratchet_rs with ratchet_deflate, context takeover kept.
    Ratchet,
    /// W7 diagnostic: webwire at ratchet_rs's default level (1).
    WebwireLevel1,
    /// W7 diagnostic: ratchet_rs at webwire's default level (6).
    RatchetLevel6,
    /// W7 diagnostic: ratchet_rs's `DeflateConfig::default()`, which resets
    /// its compressor after every message.
    RatchetDefaults,
    /// W6 diagnostic: webwire's `http`-types path (`RequestParser::feed`,
    /// `accept`, `Accepted::write_response`).
    WebwireHttp,
    /// W6 yardstick: only the accept key (sha1_smol + base64), no HTTP.
    Sha1AcceptKey,
    /// W6 yardstick: the same with RustCrypto's `sha1` (SHA-NI when the CPU
    /// has it), the SHA-1 of webwire, tungstenite and fastwebsockets.
    Sha1RustCryptoAcceptKey,
}

const ALL: [Who; 14] = [
    Who::Webwire,
    Who::Tungstenite,
    Who::FastWebSockets,
    Who::TokioWebsockets,
    Who::Memcpy,
    Who::WebwireOs,
    Who::WebwireSlice,
    Who::Ratchet,
    Who::WebwireLevel1,
    Who::RatchetLevel6,
    Who::RatchetDefaults,
    Who::WebwireHttp,
    Who::Sha1AcceptKey,
    Who::Sha1RustCryptoAcceptKey,
];
const PEERS: [Who; 3] = [Who::Tungstenite, Who::FastWebSockets, Who::TokioWebsockets];

impl Who {
    fn name(self) -> &'static str {
        match self {
            Who::Webwire => "webwire",
            Who::Tungstenite => "tungstenite",
            Who::FastWebSockets => "fastwebsockets",
            Who::TokioWebsockets => "tokio-websockets",
            Who::Memcpy => "memcpy",
            Who::WebwireOs => "webwire+OsRandom",
            Who::WebwireSlice => "webwire+slice-decode",
            Who::Ratchet => "ratchet_rs",
            Who::WebwireLevel1 => "webwire+level1",
            Who::RatchetLevel6 => "ratchet_rs+level6",
            Who::RatchetDefaults => "ratchet_rs+default-config",
            Who::WebwireHttp => "webwire+http",
            Who::Sha1AcceptKey => "sha1-accept-key",
            Who::Sha1RustCryptoAcceptKey => "sha1-accept-key+rustcrypto",
        }
    }

    fn applies(self, w: &Workload) -> bool {
        let echo = w.is_echo();
        match self {
            Who::Webwire => true,
            Who::WebwireOs => w.is_encode(),
            Who::WebwireSlice => w.is_decode(),
            // No permessage-deflate: they cannot take part in W7.
            Who::Tungstenite | Who::FastWebSockets | Who::TokioWebsockets => !echo,
            // Nothing to copy that would mean anything for a handshake.
            Who::Memcpy => !echo && !w.is_handshake(),
            Who::WebwireLevel1 => echo,
            Who::WebwireHttp | Who::Sha1AcceptKey | Who::Sha1RustCryptoAcceptKey => {
                w.is_handshake()
            }
            Who::Ratchet | Who::RatchetLevel6 | Who::RatchetDefaults => {
                echo && cfg!(feature = "ratchet")
            }
        }
    }
}

struct Ctx {
    rt: tokio::runtime::Runtime,
    memcpy_dst: Vec<u8>,
    /// W6: webwire's read buffer (a server's, reused across connections).
    read_buf: Vec<u8>,
    /// W6 and W7: bytes written by the last sample (W7: the replies; W6: the
    /// responses).
    written: u64,
}

fn ww_limits() -> webwire::ws::Limits {
    webwire::ws::Limits::default()
        .with_max_frame_size(LIMIT)
        .with_max_message_size(LIMIT)
}

fn tung_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT))
}

fn tws_limits() -> tokio_websockets::Limits {
    tokio_websockets::Limits::default().max_payload_len(Some(LIMIT))
}

// --- decoders ---------------------------------------------------------------

#[inline(never)]
fn decode_webwire(wire: &[u8], reps: usize, t: &mut Tally) {
    use webwire::ws::{Decoder, Incoming, Role};
    let mut src = MemStream::reader(wire, reps);
    let mut dec = Decoder::with_limits(Role::Server, ww_limits());
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        let chunk = src.next_chunk(CHUNK);
        if chunk.is_empty() {
            break;
        }
        buf.extend_from_slice(chunk);
        while let Some(msg) = dec.decode_buf(&mut buf).expect("webwire: decode failed") {
            match msg {
                Incoming::Text(s) => t.add(s.as_bytes()),
                Incoming::Binary(b) => t.add(&b),
                other => panic!("webwire: unexpected {other:?}"),
            }
        }
    }
    assert!(
        buf.is_empty() && !dec.is_mid_message(),
        "webwire: input left over"
    );
}

/// Diagnostic: webwire's slice API. Read into a reused 64 KiB buffer (as from
/// a socket) and hand `decode` slices of it; no `BytesMut` in between.
#[inline(never)]
fn decode_webwire_slice(wire: &[u8], reps: usize, t: &mut Tally) {
    use webwire::ws::{Decoder, Incoming, Role};
    let mut src = MemStream::reader(wire, reps);
    let mut dec = Decoder::with_limits(Role::Server, ww_limits());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = src.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        let mut input = &buf[..n];
        loop {
            let (used, msg) = dec.decode(input).expect("webwire: decode failed");
            input = &input[used..];
            match msg {
                Some(Incoming::Text(s)) => t.add(s.as_bytes()),
                Some(Incoming::Binary(b)) => t.add(&b),
                Some(other) => panic!("webwire: unexpected {other:?}"),
                None => break,
            }
        }
        assert!(input.is_empty());
    }
    assert!(!dec.is_mid_message(), "webwire: input left over");
}

#[inline(never)]
fn decode_tungstenite(wire: &[u8], reps: usize, t: &mut Tally) {
    use tungstenite::error::ProtocolError;
    use tungstenite::{Error, Message};
    let stream = MemStream::reader(wire, reps);
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        stream,
        tungstenite::protocol::Role::Server,
        Some(tung_config()),
    );
    loop {
        match ws.read() {
            Ok(Message::Text(s)) => t.add(s.as_bytes()),
            Ok(Message::Binary(b)) => t.add(&b),
            Ok(other) => panic!("tungstenite: unexpected {other:?}"),
            // End of input without a closing handshake: how the stream ends.
            Err(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => break,
            Err(e) => panic!("tungstenite: {e}"),
        }
    }
}

#[inline(never)]
fn decode_fastwebsockets(rt: &tokio::runtime::Runtime, wire: &[u8], reps: usize, t: &mut Tally) {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket, WebSocketError};
    rt.block_on(async {
        let mut ws = WebSocket::after_handshake(MemStream::reader(wire, reps), Role::Server);
        // Frames must be *smaller* than this (its check is `>=`).
        ws.set_max_message_size(LIMIT + 1);
        // FragmentCollector is fastwebsockets' message-level API: it
        // reassembles fragments and validates fragmented text incrementally;
        // unfragmented text is validated by the WebSocket itself.
        let mut ws = FragmentCollector::new(ws);
        loop {
            match ws.read_frame().await {
                Ok(f) => match f.opcode {
                    OpCode::Text | OpCode::Binary => t.add(&f.payload),
                    _ => panic!("fastwebsockets: unexpected opcode"),
                },
                Err(WebSocketError::UnexpectedEOF) => break,
                Err(e) => panic!("fastwebsockets: {e}"),
            }
        }
    });
}

#[inline(never)]
fn decode_tokio_websockets(rt: &tokio::runtime::Runtime, wire: &[u8], reps: usize, t: &mut Tally) {
    rt.block_on(async {
        let mut ws = tokio_websockets::ServerBuilder::new()
            .limits(tws_limits())
            .serve(MemStream::reader(wire, reps));
        while let Some(msg) = ws.next().await {
            let msg = msg.unwrap_or_else(|e| panic!("tokio-websockets: {e}"));
            // as_text() does not re-validate: received text was validated
            // during decoding (and flagged so).
            if let Some(s) = msg.as_text() {
                t.add(s.as_bytes());
            } else if msg.is_binary() {
                t.add(msg.as_payload());
            } else {
                panic!("tokio-websockets: unexpected {msg:?}");
            }
        }
    });
}

// --- encoders ---------------------------------------------------------------

/// webwire is sans-IO: it encodes into a caller-owned buffer, which is written
/// to the socket whenever it holds 64 KiB, and at the end.
#[inline(never)]
fn encode_webwire<R: webwire::random::RandomSource>(
    e: &EncodeInput,
    reps: usize,
    random: R,
    sink: &mut MemStream<'_>,
) {
    use webwire::ws::{Encoder, Role};
    let mut enc = Encoder::new(Role::Client, random);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 2 * webwire::ws::MAX_HEADER_LEN + 64);
    for _ in 0..reps {
        for i in 0..e.count {
            match &e.text {
                Some(s) => enc.encode_text(&s[e.range(i)], &mut buf),
                None => enc.encode_binary(&e.bytes[e.range(i)], &mut buf),
            }
            if buf.len() >= CHUNK {
                sink.write_all(&buf).unwrap();
                buf.clear();
            }
        }
    }
    sink.write_all(&buf).unwrap();
}

/// tungstenite buffers frames (128 KiB write buffer by default) and writes
/// them to the stream; `write` + a final `flush` (not `send`, which flushes
/// every message).
#[inline(never)]
fn encode_tungstenite(e: &EncodeInput, reps: usize, sink: MemStream<'_>) -> u64 {
    let mut ws = tungstenite::WebSocket::from_raw_socket(
        sink,
        tungstenite::protocol::Role::Client,
        Some(tung_config()),
    );
    for _ in 0..reps {
        for m in &e.tung {
            ws.write(m.clone()).expect("tungstenite: write");
        }
    }
    ws.flush().expect("tungstenite: flush");
    ws.get_ref().written
}

/// fastwebsockets writes each frame to the stream as it is sent (small frames
/// through an internal buffer, frames over 1 KiB vectored). Masking needs a
/// mutable payload, so a borrowed payload is copied into an owned `Vec` first
/// (`Payload::to_mut`): that copy is the library's, not the harness's.
#[inline(never)]
fn encode_fastwebsockets(
    rt: &tokio::runtime::Runtime,
    e: &EncodeInput,
    reps: usize,
    sink: MemStream<'_>,
) -> u64 {
    use fastwebsockets::{Frame, Payload, Role, WebSocket};
    rt.block_on(async {
        let mut ws = WebSocket::after_handshake(sink, Role::Client);
        for _ in 0..reps {
            for i in 0..e.count {
                let p = Payload::Borrowed(&e.bytes[e.range(i)]);
                let frame = if e.text.is_some() {
                    Frame::text(p)
                } else {
                    Frame::binary(p)
                };
                ws.write_frame(frame).await.expect("fastwebsockets: write");
            }
        }
        ws.flush().await.expect("fastwebsockets: flush");
        ws.into_inner().written
    })
}

/// tokio-websockets is a `Sink<Message>`: `feed` each message, `flush` at the
/// end (it flushes by itself past 8 KiB queued). A shared (non-unique)
/// payload is copied into a fresh buffer to be masked.
#[inline(never)]
fn encode_tokio_websockets(
    rt: &tokio::runtime::Runtime,
    e: &EncodeInput,
    reps: usize,
    sink: MemStream<'_>,
) -> u64 {
    rt.block_on(async {
        let mut ws = tokio_websockets::ClientBuilder::new()
            .limits(tws_limits())
            .take_over(sink);
        for _ in 0..reps {
            for m in &e.tws {
                ws.feed(m.clone()).await.expect("tokio-websockets: feed");
            }
        }
        ws.flush().await.expect("tokio-websockets: flush");
        ws.get_ref().written
    })
}

// --- compressed echo (W7) ---------------------------------------------------

/// ratchet_rs's configurations: [`Who::Ratchet`] (context takeover kept,
/// level left at its default, `Compression::fast()` = 1),
/// [`Who::RatchetLevel6`], [`Who::RatchetDefaults`].
#[cfg(feature = "ratchet")]
fn ratchet_configs() -> [ratchet_rs::deflate::DeflateConfig; 3] {
    use ratchet_rs::deflate::{Compression, DeflateConfig};
    // `accept_no_context_takeover: true` (its default) also makes a server
    // reset its compressor after every message when the client did not ask
    // for it (and without saying so in its response).
    let takeover = DeflateConfig {
        accept_no_context_takeover: false,
        ..DeflateConfig::default()
    };
    [
        takeover,
        DeflateConfig {
            compression_level: Compression::new(6),
            ..takeover
        },
        DeflateConfig::default(),
    ]
}

/// webwire as a sans-IO server: the client's stream arrives in 64 KiB reads
/// through `handle_data`; each text event is echoed with `send_text`
/// (inflate, UTF-8 validation, deflate); what `poll_transmit` hands out is
/// written to the sink after every read, as a server would.
#[inline(never)]
fn echo_webwire(
    e: &EchoInput,
    params: webwire::ws::deflate::DeflateParams,
    t: &mut Tally,
    sink: &mut MemStream<'_>,
) {
    use webwire::ws::{Config, Connection, Event, Role, Transmit};
    let now = Instant::now();
    let config = Config::default()
        .with_limits(ww_limits())
        .with_deflate(Some(params));
    // A server never masks: the random source is never used.
    let mut conn = Connection::new(
        Role::Server,
        config,
        webwire::random::SeededRandom::new(7),
        now,
    );
    let mut src = MemStream::reader(&e.wire, 1);
    let mut out = Vec::new();
    loop {
        let chunk = src.next_chunk(CHUNK);
        if chunk.is_empty() {
            break;
        }
        // Few messages per chunk: under the event cap, all of it is taken.
        assert_eq!(
            conn.handle_data(now, chunk),
            chunk.len(),
            "webwire: input left"
        );
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Text(s) => {
                    t.add(s.as_bytes());
                    conn.send_text(&s).expect("webwire: send");
                }
                other => panic!("webwire: unexpected {other:?}"),
            }
        }
        while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {
            sink.write_all(&out).unwrap();
            out.clear();
        }
    }
}

/// Written bytes shared with the `'static` streams ratchet_rs (W7) and hyper
/// (W6, fastwebsockets' upgrade) require.
struct SharedSink {
    written: std::sync::atomic::AtomicU64,
    capture: Option<std::sync::Mutex<Vec<u8>>>,
}

/// An owned version of [`MemStream`] (ratchet_rs and hyper want `'static`
/// streams): reads serve `input` at most [`CHUNK`] bytes at a time, then end
/// of stream (or, with `open`, nothing more yet: `Pending`, as from a client
/// that keeps the connection open and waits); writes are counted.
struct OwnedStream {
    input: Bytes,
    pos: usize,
    open: bool,
    sink: std::sync::Arc<SharedSink>,
}

impl tokio::io::AsyncRead for OwnedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.open && this.pos == this.input.len() {
            // No waker is registered: nothing will ever arrive.
            return Poll::Pending;
        }
        let n = CHUNK.min(buf.remaining()).min(this.input.len() - this.pos);
        buf.put_slice(&this.input[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for OwnedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        black_box(buf);
        let sink = &self.sink;
        sink.written
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(c) = &sink.capture {
            c.lock().unwrap().extend_from_slice(buf);
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// ratchet_rs as a server on a current-thread runtime: the extension comes
/// from its own negotiation of the client's offer; `read` inflates into a
/// reused buffer; text is not validated by ratchet_rs (its docs leave that to
/// the user), so the harness validates it with `std::str::from_utf8`;
/// `write_text` deflates and writes the reply (and flushes, per message).
#[cfg(feature = "ratchet")]
#[inline(never)]
fn echo_ratchet(
    rt: &tokio::runtime::Runtime,
    e: &EchoInput,
    cfg: ratchet_rs::deflate::DeflateConfig,
    t: &mut Tally,
    sink: std::sync::Arc<SharedSink>,
) {
    use ratchet_rs::deflate::DeflateExtProvider;
    use ratchet_rs::{ExtensionProvider, Message, Role, WebSocket, WebSocketConfig};
    rt.block_on(async {
        let (ext, _) = DeflateExtProvider::with_config(cfg)
            .negotiate_server(&e.headers)
            .expect("ratchet_rs: negotiation")
            .expect("ratchet_rs: deflate not agreed");
        let stream = OwnedStream {
            input: e.wire.clone(),
            pos: 0,
            open: false,
            sink,
        };
        let mut ws = WebSocket::from_upgraded(
            WebSocketConfig {
                max_message_size: LIMIT,
            },
            stream,
            Some(ext),
            BytesMut::with_capacity(CHUNK),
            Role::Server,
        );
        let mut buf = BytesMut::new();
        for _ in 0..e.count {
            buf.clear();
            match ws.read(&mut buf).await {
                Ok(Message::Text) => {
                    let s = std::str::from_utf8(&buf).expect("ratchet_rs: invalid UTF-8");
                    t.add(s.as_bytes());
                    ws.write_text(s).await.expect("ratchet_rs: write");
                }
                Ok(other) => panic!("ratchet_rs: unexpected {other:?}"),
                Err(err) => panic!("ratchet_rs: {err}"),
            }
        }
    });
}

/// Checks an echo's reply stream: one unmasked, compressed (RSV1), final
/// text frame per message, which webwire's client-role decoder (with the
/// client's negotiated parameters) inflates to exactly the messages sent.
fn verify_echo_reply(who: Who, w: &Workload, e: &EchoInput, reply: &[u8]) {
    use webwire::ws::{Decoder, Incoming, Role};
    let fr = frames(reply);
    assert_eq!(
        fr.len(),
        e.count,
        "{}: one reply frame per message",
        who.name()
    );
    for (b0, masked, _) in &fr {
        assert_eq!(
            *b0,
            0xc1,
            "{}: reply must be a final compressed text frame",
            who.name()
        );
        assert!(!masked, "{}: server frames are not masked", who.name());
    }
    let mut dec = Decoder::with_limits(Role::Client, ww_limits()).with_deflate(&e.ww_client);
    let mut t = Tally::new(true);
    let mut rest = reply;
    while !rest.is_empty() {
        let (used, m) = dec
            .decode(rest)
            .unwrap_or_else(|err| panic!("{}: reply does not decode: {err}", who.name()));
        rest = &rest[used..];
        match m {
            Some(Incoming::Text(s)) => t.add(s.as_bytes()),
            Some(other) => panic!("{}: unexpected reply {other:?}", who.name()),
            None => assert!(rest.is_empty()),
        }
    }
    assert_eq!(
        t,
        w.expect_full,
        "{}: {}: replies decode wrong",
        who.name(),
        w.id
    );
}

// --- server handshake (W6) -------------------------------------------------

/// Responses written and handshakes completed by one W6 sample.
struct Handshakes {
    done: usize,
    written: u64,
}

/// webwire's fast path, as examples/tokio_echo.rs does it: the request is
/// read into the server's (reused) read buffer, a fresh `RequestParser` per
/// connection parses it in place (`feed_with`), `RequestHead::accept`
/// validates it and appends the `101` to a fresh `Vec`, which is written out.
#[inline(never)]
fn handshake_webwire(
    h: &HandshakeInput,
    reps: usize,
    read_buf: &mut [u8],
    sink: &mut MemStream<'_>,
) -> usize {
    use webwire::Status;
    use webwire::ws::handshake::{RequestParser, ServerConfig};
    use webwire::ws::{Config, Connection, Role};
    let config = ServerConfig::new();
    let mut done = 0;
    for _ in 0..reps {
        let n = MemStream::duplex(h.request, None).read(read_buf).unwrap();
        let mut response = Vec::new();
        let mut parser = RequestParser::default();
        let negotiated =
            match parser.feed_with(&read_buf[..n], |head| head.accept(&config, &mut response)) {
                Ok(Status::Complete((Ok(negotiated), used))) => {
                    assert_eq!(used, n);
                    negotiated
                }
                Ok(Status::Complete((Err(e), _))) | Err(e) => panic!("webwire: {e}"),
                Ok(Status::Partial) => panic!("webwire: head incomplete"),
            };
        sink.write_all(&response).unwrap();
        // What a server builds next, as the peers' handshakes do inside
        // theirs: the connection itself.
        let conn = Connection::new(
            Role::Server,
            Config::default().with_deflate(negotiated.deflate),
            webwire::random::SeededRandom::new(0),
            Instant::now(),
        );
        black_box(&conn);
        done += 1;
    }
    done
}

/// Diagnostic: webwire through `http` types: `RequestParser::feed` builds an
/// `http::Request`, `accept` validates it and builds an `http::Response`,
/// `Accepted::write_response` serialises it.
#[inline(never)]
fn handshake_webwire_http(
    h: &HandshakeInput,
    reps: usize,
    read_buf: &mut [u8],
    sink: &mut MemStream<'_>,
) -> usize {
    use webwire::Status;
    use webwire::ws::handshake::{RequestParser, ServerConfig, accept};
    let config = ServerConfig::new();
    let mut done = 0;
    for _ in 0..reps {
        let n = MemStream::duplex(h.request, None).read(read_buf).unwrap();
        let mut parser = RequestParser::default();
        let request = match parser.feed(&read_buf[..n]) {
            Ok(Status::Complete((request, used))) => {
                assert_eq!(used, n);
                request
            }
            Ok(Status::Partial) => panic!("webwire+http: head incomplete"),
            Err(e) => panic!("webwire+http: {e}"),
        };
        let accepted = accept(&request, &config).unwrap_or_else(|e| panic!("webwire+http: {e}"));
        let mut response = Vec::new();
        accepted.write_response(&mut response);
        sink.write_all(&response).unwrap();
        done += 1;
    }
    done
}

/// tungstenite's server handshake (`accept` = `ServerHandshake::start` +
/// `handshake`, default config) over a blocking in-memory connection: it
/// reads and parses the request, checks it, writes the response and returns
/// the `WebSocket` (its construction, with its read buffer, is part of it).
#[inline(never)]
fn handshake_tungstenite(
    h: &HandshakeInput,
    reps: usize,
    mut capture: Option<&mut Vec<u8>>,
) -> Handshakes {
    use tungstenite::HandshakeError;
    let mut out = Handshakes {
        done: 0,
        written: 0,
    };
    for _ in 0..reps {
        let stream = MemStream::duplex(h.request, capture.as_deref_mut());
        match tungstenite::accept(stream) {
            Ok(ws) => out.written += ws.get_ref().written,
            Err(HandshakeError::Failure(e)) => panic!("tungstenite: {e}"),
            Err(HandshakeError::Interrupted(_)) => panic!("tungstenite: interrupted"),
        }
        out.done += 1;
    }
    out
}

/// tokio-websockets' server handshake: `ServerBuilder::accept` (default
/// config) reads and parses the request, checks it, writes the response and
/// returns the request and the `WebSocketStream`.
#[inline(never)]
fn handshake_tokio_websockets(
    rt: &tokio::runtime::Runtime,
    h: &HandshakeInput,
    reps: usize,
    mut capture: Option<&mut Vec<u8>>,
) -> Handshakes {
    rt.block_on(async {
        let server = tokio_websockets::ServerBuilder::new();
        let mut out = Handshakes {
            done: 0,
            written: 0,
        };
        for _ in 0..reps {
            let stream = MemStream::duplex(h.request, capture.as_deref_mut());
            let (_request, ws) = server
                .accept(stream)
                .await
                .unwrap_or_else(|e| panic!("tokio-websockets: {e}"));
            out.written += ws.get_ref().written;
            out.done += 1;
        }
        out
    })
}

/// fastwebsockets' documented server path (its echo_server example): hyper
/// 1.x serves the connection (`http1::Builder::serve_connection` +
/// `with_upgrades`, default settings) with a service that checks
/// `upgrade::is_upgrade_request` (what its docs point to; `upgrade` itself
/// checks only the key and the version) and answers with
/// `upgrade::upgrade(&mut req)`'s response. hyper parses the request and
/// writes the `101`; the connection future then completes, handing the
/// stream to the upgrade (whose future is dropped here: no `WebSocket` is
/// built).
#[inline(never)]
fn handshake_fastwebsockets(
    rt: &tokio::runtime::Runtime,
    h: &HandshakeInput,
    reps: usize,
    sink: &std::sync::Arc<SharedSink>,
) -> usize {
    use fastwebsockets::{WebSocketError, upgrade};
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    rt.block_on(async {
        let http = http1::Builder::new();
        let mut done = 0;
        for _ in 0..reps {
            let io = hyper_util::rt::TokioIo::new(OwnedStream {
                input: Bytes::from_static(h.request),
                pos: 0,
                // hyper takes end of stream before its response is written
                // as the client gone ("connection closed before message
                // completed"): the client waits for the 101, as a real one
                // does.
                open: true,
                sink: sink.clone(),
            });
            let service = service_fn(|mut req| async move {
                if !upgrade::is_upgrade_request(&req) {
                    return Err(WebSocketError::InvalidUpgradeHeader);
                }
                let (response, _upgraded) = upgrade::upgrade(&mut req)?;
                Ok::<_, WebSocketError>(response)
            });
            http.serve_connection(io, service)
                .with_upgrades()
                .await
                .unwrap_or_else(|e| panic!("fastwebsockets (hyper): {e}"));
            done += 1;
        }
        done
    })
}

/// Yardstick: only the accept key, base64(SHA-1(key + GUID)) into a stack
/// buffer, with `sha1_smol` (portable, no SHA-NI; tokio-websockets' SHA-1
/// here) or RustCrypto's `sha1` 0.11 (SHA-NI when the CPU has it; webwire's
/// and tungstenite's, fastwebsockets' is its 0.10). Counts the keys that
/// come out right.
#[inline(never)]
fn accept_key_only(h: &HandshakeInput, reps: usize, rustcrypto: bool) -> usize {
    use base64::Engine as _;
    use sha1::Digest as _;
    let mut right = 0;
    let key = h.key.as_bytes();
    for _ in 0..reps {
        let mut out = [0u8; 28];
        let b64 = &base64::engine::general_purpose::STANDARD;
        if rustcrypto {
            let mut sha = sha1::Sha1::new();
            sha.update(black_box(key));
            sha.update(WS_GUID);
            b64.encode_slice(sha.finalize(), &mut out).unwrap();
        } else {
            let mut sha = sha1_smol::Sha1::new();
            sha.update(black_box(key));
            sha.update(WS_GUID);
            b64.encode_slice(sha.digest().bytes(), &mut out).unwrap();
        }
        right += usize::from(black_box(&out[..]) == h.accept.as_bytes());
    }
    right
}

/// Checks one W6 sample's output: `reps` responses back to back, each a
/// complete `HTTP/1.1 101` head with `Upgrade: websocket`, `Connection:
/// Upgrade`, the right `Sec-WebSocket-Accept` (exactly one) and no
/// subprotocol or extension (none is configured), with nothing after the
/// last one. Returns the bytes per response (all equal).
fn verify_handshake(who: Who, h: &HandshakeInput, reps: usize, out: &[u8]) -> u64 {
    let name = who.name();
    let mut rest = out;
    let mut len = None;
    for i in 0..reps {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("{name}: response {i} incomplete"))
            + 4;
        let head = std::str::from_utf8(&rest[..end])
            .unwrap_or_else(|_| panic!("{name}: response is not ASCII"));
        assert!(
            head.starts_with("HTTP/1.1 101 "),
            "{name}: not a 101: {head:?}"
        );
        let headers: Vec<(&str, &str)> = head
            .trim_end()
            .split("\r\n")
            .skip(1)
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("{name}: bad header line {l:?}"));
                (n.trim(), v.trim())
            })
            .collect();
        let values = |field: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(field))
                .map(|(_, v)| *v)
                .collect()
        };
        assert_eq!(
            values("sec-websocket-accept"),
            [h.accept.as_str()],
            "{name}: wrong Sec-WebSocket-Accept in {head:?}"
        );
        assert!(
            values("upgrade")
                .iter()
                .any(|v| v.eq_ignore_ascii_case("websocket")),
            "{name}: no Upgrade: websocket in {head:?}"
        );
        assert!(
            values("connection").iter().any(|v| v
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))),
            "{name}: no Connection: Upgrade in {head:?}"
        );
        assert!(
            values("sec-websocket-protocol").is_empty()
                && values("sec-websocket-extensions").is_empty(),
            "{name}: nothing was configured to be negotiated: {head:?}"
        );
        assert!(
            values("content-length").iter().all(|v| *v == "0")
                && values("transfer-encoding").is_empty(),
            "{name}: a 101 has no body: {head:?}"
        );
        if let Some(l) = len {
            assert_eq!(l, end, "{name}: responses differ in length");
        }
        len = Some(end);
        rest = &rest[end..];
    }
    assert!(rest.is_empty(), "{name}: bytes after the last response");
    len.unwrap_or(0) as u64
}

// --- driver -----------------------------------------------------------------

/// Runs one timed sample (all of the workload's repetitions) and checks the
/// result. `verify` turns on full-content hashing (decoders) or output
/// capture and reference decoding (encoders). Returns seconds per repetition.
fn sample(who: Who, w: &Workload, ctx: &mut Ctx, verify: bool) -> f64 {
    let reps = w.reps;
    let mut capture = Vec::new();
    let mut t = Tally::new(verify);
    let start = Instant::now();
    let check_written = |written: u64, e: &EncodeInput| {
        assert_eq!(
            written,
            e.wire_len * reps as u64,
            "{}: {}: wrong output size",
            who.name(),
            w.id
        );
    };
    match (&w.kind, who) {
        (_, Who::Memcpy) => {
            let src = w.memcpy_src();
            let dst = &mut ctx.memcpy_dst[..src.len()];
            for _ in 0..reps {
                dst.copy_from_slice(black_box(src));
                black_box(&mut *dst);
            }
            assert_eq!(dst.last(), src.last());
        }
        (Kind::Decode { wire }, who) => {
            match who {
                Who::Webwire => decode_webwire(wire, reps, &mut t),
                Who::Tungstenite => decode_tungstenite(wire, reps, &mut t),
                Who::FastWebSockets => decode_fastwebsockets(&ctx.rt, wire, reps, &mut t),
                Who::TokioWebsockets => decode_tokio_websockets(&ctx.rt, wire, reps, &mut t),
                Who::WebwireSlice => decode_webwire_slice(wire, reps, &mut t),
                _ => unreachable!(),
            }
            let expect = if verify { w.expect_full } else { w.expect_fast };
            assert_eq!(
                t,
                expect,
                "{}: {}: wrong messages delivered",
                who.name(),
                w.id
            );
        }
        (Kind::Echo(e), who) => {
            let written = match who {
                Who::Webwire | Who::WebwireLevel1 => {
                    let params = if who == Who::Webwire {
                        e.ww_server
                    } else {
                        e.ww_server_l1
                    };
                    let mut sink = MemStream::writer(verify.then_some(&mut capture));
                    echo_webwire(e, params, &mut t, &mut sink);
                    sink.written
                }
                #[cfg(feature = "ratchet")]
                Who::Ratchet | Who::RatchetLevel6 | Who::RatchetDefaults => {
                    let [takeover, level6, defaults] = ratchet_configs();
                    let cfg = match who {
                        Who::Ratchet => takeover,
                        Who::RatchetLevel6 => level6,
                        _ => defaults,
                    };
                    let sink = std::sync::Arc::new(SharedSink {
                        written: 0.into(),
                        capture: verify.then(|| std::sync::Mutex::new(Vec::new())),
                    });
                    echo_ratchet(&ctx.rt, e, cfg, &mut t, sink.clone());
                    if let Some(c) = &sink.capture {
                        capture = std::mem::take(&mut *c.lock().unwrap());
                    }
                    sink.written.load(std::sync::atomic::Ordering::Relaxed)
                }
                _ => unreachable!(),
            };
            let expect = if verify { w.expect_full } else { w.expect_fast };
            assert_eq!(
                t,
                expect,
                "{}: {}: wrong messages delivered",
                who.name(),
                w.id
            );
            ctx.written = written;
        }
        (Kind::Handshake(h), who) => {
            let (done, written) = match who {
                Who::Webwire | Who::WebwireHttp => {
                    let mut read_buf = std::mem::take(&mut ctx.read_buf);
                    let mut sink = MemStream::writer(verify.then_some(&mut capture));
                    let done = if who == Who::Webwire {
                        handshake_webwire(h, reps, &mut read_buf, &mut sink)
                    } else {
                        handshake_webwire_http(h, reps, &mut read_buf, &mut sink)
                    };
                    ctx.read_buf = read_buf;
                    (done, sink.written)
                }
                Who::Tungstenite => {
                    let r = handshake_tungstenite(h, reps, verify.then_some(&mut capture));
                    (r.done, r.written)
                }
                Who::TokioWebsockets => {
                    let r = handshake_tokio_websockets(
                        &ctx.rt,
                        h,
                        reps,
                        verify.then_some(&mut capture),
                    );
                    (r.done, r.written)
                }
                Who::FastWebSockets => {
                    let sink = std::sync::Arc::new(SharedSink {
                        written: 0.into(),
                        capture: verify.then(|| std::sync::Mutex::new(Vec::new())),
                    });
                    let done = handshake_fastwebsockets(&ctx.rt, h, reps, &sink);
                    if let Some(c) = &sink.capture {
                        capture = std::mem::take(&mut *c.lock().unwrap());
                    }
                    (
                        done,
                        sink.written.load(std::sync::atomic::Ordering::Relaxed),
                    )
                }
                Who::Sha1AcceptKey | Who::Sha1RustCryptoAcceptKey => {
                    let right = accept_key_only(h, reps, who == Who::Sha1RustCryptoAcceptKey);
                    (right, (right * h.accept.len()) as u64)
                }
                _ => unreachable!(),
            };
            assert_eq!(done, reps, "{}: {}: handshakes completed", who.name(), w.id);
            ctx.written = written;
        }
        (Kind::Encode(e), who) => {
            let sink = MemStream::writer(verify.then_some(&mut capture));
            let written = match who {
                Who::Webwire => {
                    let mut sink = sink;
                    encode_webwire(e, reps, webwire::random::ThreadRandom, &mut sink);
                    sink.written
                }
                Who::WebwireOs => {
                    let mut sink = sink;
                    encode_webwire(e, reps, webwire::random::OsRandom::new(), &mut sink);
                    sink.written
                }
                Who::Tungstenite => encode_tungstenite(e, reps, sink),
                Who::FastWebSockets => encode_fastwebsockets(&ctx.rt, e, reps, sink),
                Who::TokioWebsockets => encode_tokio_websockets(&ctx.rt, e, reps, sink),
                _ => unreachable!(),
            };
            check_written(written, e);
        }
    }
    let secs = start.elapsed().as_secs_f64() / reps as f64;
    if verify && let Kind::Echo(e) = &w.kind {
        verify_echo_reply(who, w, e, &capture);
    }
    if verify
        && let Kind::Handshake(h) = &w.kind
        && !matches!(who, Who::Sha1AcceptKey | Who::Sha1RustCryptoAcceptKey)
    {
        assert_eq!(capture.len() as u64, ctx.written, "{}: written", who.name());
        verify_handshake(who, h, reps, &capture);
    }
    if verify
        && who != Who::Memcpy
        && let Kind::Encode(e) = &w.kind
    {
        let (t, keys) = reference_decode(&capture, e.opcode());
        assert_eq!(
            t,
            w.expect_full,
            "{}: {}: encoded output decodes wrong",
            who.name(),
            w.id
        );
        assert_ne!(keys[0], [0; 4], "{}: zero masking key", who.name());
        if keys.len() == 2 {
            assert_ne!(keys[0], keys[1], "{}: masking key reused", who.name());
        }
    }
    secs
}

/// Interquartile range over median (nearest-rank quartiles).
fn iqr_rel(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.75) - q(0.25)) / median(&mut v)
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

// ---------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------

/// Resolved versions of the interesting packages, read from Cargo.lock.
fn crate_versions() -> BTreeMap<&'static str, Vec<String>> {
    const LOCK: &str = include_str!("../Cargo.lock");
    const NAMES: [&str; 12] = [
        "webwire",
        "tungstenite",
        "fastwebsockets",
        "hyper",
        "tokio-websockets",
        "tokio",
        "simdutf8",
        "ratchet_rs",
        "ratchet_deflate",
        "flate2",
        "libz-sys",
        "zlib-rs",
    ];
    let mut out: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for block in LOCK.split("[[package]]") {
        let field = |k: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        if let (Some(name), Some(version)) = (field("name = "), field("version = "))
            && let Some(n) = NAMES.iter().find(|n| **n == name)
        {
            out.entry(n).or_default().push(version);
        }
    }
    out
}

/// The figure shown for a time per repetition: ns/msg or GB/s of payload.
fn figure(w: &Workload, secs: f64) -> f64 {
    if w.per_msg {
        secs * 1e9 / w.msgs as f64
    } else {
        w.payload_bytes as f64 / secs / 1e9
    }
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_ROUNDS);
    let out_path = std::env::var("OUT").unwrap_or_else(|_| "target/compare.json".into());

    let cpu = cpu_model();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = env!("COMPARE_RUSTC_VERSION");
    let versions = crate_versions();
    let profile = if cfg!(debug_assertions) {
        "debug (numbers meaningless!)"
    } else {
        "release"
    };

    println!("# webwire head-to-head");
    println!();
    println!("- CPU: {cpu} ({cores} logical cores available)");
    let webwire_rev = env!("COMPARE_WEBWIRE_REV");
    println!("- {rustc}, {profile} profile");
    println!("- webwire source: {webwire_rev}");
    let vs: Vec<String> = versions
        .iter()
        .map(|(k, v)| format!("{k} {}", v.join("/")))
        .collect();
    println!("- crates: {}", vs.join(", "));
    println!(
        "- rounds: {rounds} (median reported), reads of at most {} KiB",
        CHUNK >> 10
    );
    println!();

    eprintln!("generating inputs…");
    // Optional filters, e.g. for profiling: ONLY=W1,W3 CONTENDERS=webwire,memcpy
    let list = |var: &str| -> Option<Vec<String>> {
        std::env::var(var)
            .ok()
            .map(|v| v.split(',').map(|x| x.trim().to_lowercase()).collect())
    };
    let only = list("ONLY");
    let picked = list("CONTENDERS");
    let mut loads = workloads();
    if let Some(only) = &only {
        loads.retain(|w| only.contains(&w.id.to_lowercase()));
        assert!(
            !loads.is_empty(),
            "ONLY matched no workload (W1, W2, W3, W4, W5a, W5b, W6, W7)"
        );
    }
    let enabled = |who: Who| {
        picked
            .as_ref()
            .is_none_or(|p| p.iter().any(|n| n == who.name()))
    };
    let biggest = loads.iter().map(|w| w.memcpy_src().len()).max().unwrap();
    let mut ctx = Ctx {
        rt: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime"),
        memcpy_dst: vec![0u8; biggest],
        read_buf: vec![0u8; 4096],
        written: 0,
    };
    // W6 and W7: bytes written per (workload, contender), from the
    // verification pass; every timed sample must write exactly as many
    // (compression is deterministic; responses have a fixed length).
    let mut out_bytes: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    let idx = |who: Who| ALL.iter().position(|w| *w == who).unwrap();

    // Warm-up + verification: every contender, every workload, full checks.
    eprintln!("warm-up and full verification…");
    for (wi, w) in loads.iter().enumerate() {
        for who in ALL
            .iter()
            .copied()
            .filter(|who| who.applies(w) && enabled(*who))
        {
            sample(who, w, &mut ctx, true);
            if w.is_echo() || w.is_handshake() {
                out_bytes.insert((wi, idx(who)), ctx.written);
            }
            sample(who, w, &mut ctx, false);
        }
    }

    // Measured rounds, interleaved, order rotated every round.
    let mut times: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for round in 0..rounds {
        eprint!("\rround {}/{rounds}", round + 1);
        for (wi, w) in loads.iter().enumerate() {
            for k in 0..ALL.len() {
                let ci = (k + round) % ALL.len();
                let who = ALL[ci];
                if who.applies(w) && enabled(who) {
                    let s = sample(who, w, &mut ctx, false);
                    if w.is_echo() || w.is_handshake() {
                        assert_eq!(
                            ctx.written,
                            out_bytes[&(wi, ci)],
                            "{}: {}: output size changed",
                            who.name(),
                            w.id
                        );
                    }
                    times.entry((wi, ci)).or_default().push(s);
                }
            }
        }
    }
    eprintln!();

    let med: BTreeMap<(usize, usize), f64> = times
        .iter()
        .map(|(k, v)| (*k, median(&mut v.clone())))
        .collect();
    // The peers a workload's ratios are taken against.
    let peers =
        |w: &Workload| -> &'static [Who] { if w.is_echo() { &[Who::Ratchet] } else { &PEERS } };

    // Markdown table.
    let main_cols = [
        Who::Webwire,
        Who::Tungstenite,
        Who::FastWebSockets,
        Who::TokioWebsockets,
    ];
    let mut table = String::new();
    let _ = write!(table, "| workload | unit |");
    for c in main_cols {
        let _ = write!(table, " {} |", c.name());
    }
    let _ = writeln!(table, " memcpy | webwire ÷ memcpy | spread |");
    let _ = writeln!(
        table,
        "|---|---|{}---:|---:|---:|",
        "---:|".repeat(main_cols.len())
    );
    let mut json_rows = Vec::new();
    for (wi, w) in loads.iter().enumerate() {
        let t = |who: Who| med.get(&(wi, idx(who))).copied();
        // The peer with the best median, and its time.
        let best = peers(w)
            .iter()
            .filter_map(|p| t(*p).map(|x| (*p, x)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        // The main table leaves W7 out: it has its own table below.
        let mut row = String::new();
        let unit = if w.per_msg {
            format!("{} ↓", w.per_unit())
        } else {
            "GB/s ↑".into()
        };
        let _ = write!(row, "| {} {} | {unit} |", w.id, w.title);
        let fmt = |x: f64| {
            if w.per_msg {
                format!("{x:.1}")
            } else {
                format!("{x:.2}")
            }
        };
        for c in main_cols {
            let cell = match (t(c), best) {
                (Some(x), Some((_, b))) => format!("{} ({:.2}×)", fmt(figure(w, x)), b / x),
                (Some(x), None) => fmt(figure(w, x)),
                (None, _) => "—".into(),
            };
            let _ = write!(row, " {cell} |");
        }
        let na = if Who::Memcpy.applies(w) { "—" } else { "n/a" };
        let memcpy = t(Who::Memcpy).map_or(na.into(), |x| fmt(figure(w, x)));
        let vs_memcpy = match (t(Who::Memcpy), t(Who::Webwire)) {
            (Some(m), Some(x)) => format!("{:.2}×", m / x),
            _ => na.into(),
        };
        // Noise: the widest interquartile range, relative to its median,
        // among this row's contenders.
        let spread = main_cols
            .iter()
            .chain([&Who::Memcpy])
            .filter_map(|c| times.get(&(wi, idx(*c))))
            .map(|v| iqr_rel(v))
            .fold(0.0, f64::max);
        let _ = writeln!(row, " {memcpy} | {vs_memcpy} | ±{:.0}% |", spread * 50.0);
        if !w.is_echo() {
            table.push_str(&row);
        }

        let mut contenders = Vec::new();
        for (ci, who) in ALL.iter().enumerate() {
            let Some(samples) = times.get(&(wi, ci)) else {
                continue;
            };
            let m = med[&(wi, ci)];
            let secs: Vec<String> = samples.iter().map(|s| format!("{s:.9}")).collect();
            let vs = best.map_or("null".into(), |(_, b)| format!("{:.4}", b / m));
            // Same-round pairing against the best peer: robust to load that
            // drifts between rounds.
            let paired = best.map_or("null".into(), |(bp, _)| {
                let peer = &times[&(wi, idx(bp))];
                let mut r: Vec<f64> = peer.iter().zip(samples).map(|(p, x)| p / x).collect();
                format!("{:.4}", median(&mut r))
            });
            let wire = out_bytes.get(&(wi, ci)).map_or(String::new(), |b| {
                if w.is_handshake() {
                    format!(
                        ",\"output_bytes_per_handshake\":{:.1}",
                        *b as f64 / w.reps as f64
                    )
                } else {
                    format!(
                        ",\"reply_wire_bytes_per_msg\":{:.1}",
                        *b as f64 / w.msgs as f64
                    )
                }
            });
            contenders.push(format!(
                "{{\"name\":{}{wire},\"median_secs_per_rep\":{m:.9},\"figure\":{:.4},\"vs_best_peer\":{vs},\"paired_vs_best_peer\":{paired},\"iqr_over_median\":{:.4},\"samples_secs_per_rep\":[{}]}}",
                json_str(who.name()),
                figure(w, m),
                iqr_rel(samples),
                secs.join(",")
            ));
        }
        let request = match &w.kind {
            Kind::Echo(e) => format!(
                ",\"request_wire_bytes_per_msg\":{:.1}",
                e.wire.len() as f64 / e.count as f64
            ),
            _ => String::new(),
        };
        json_rows.push(format!(
            "{{\"id\":{}{request},\"title\":{},\"unit\":{},\"messages_per_rep\":{},\"payload_bytes_per_rep\":{},\"reps_per_sample\":{},\"best_peer\":{},\"contenders\":[{}]}}",
            json_str(w.id),
            json_str(w.title),
            json_str(if w.per_msg { w.per_unit() } else { "GB/s" }),
            w.msgs,
            w.payload_bytes,
            w.reps,
            best.map_or("null".into(), |(p, _)| json_str(p.name())),
            contenders.join(",")
        ));
    }
    let has_main = loads.iter().any(|w| !w.is_echo());
    if has_main {
        print!("{table}");
        println!();
        println!(
            "Cells: median figure (speed relative to the fastest of tungstenite/fastwebsockets/tokio-websockets; >1 = faster)."
        );
        println!(
            "memcpy: copying the same input bytes (wire bytes for decode, payload for encode) into a pre-allocated Vec;"
        );
        println!(
            "webwire ÷ memcpy: webwire's speed as a fraction of that copy. GB/s = payload bytes / time (10^9)."
        );
        println!(
            "spread: the widest interquartile range among the row's cells, as ± half of it over the median (noise)."
        );
        println!();
        println!("Notes:");
        println!(
            "- fastwebsockets: read through FragmentCollector (its message-level API); fragmented text is validated with"
        );
        println!(
            "  the `utf8` crate, unfragmented text with simdutf8. Encoding a borrowed payload copies it into a Vec to mask it."
        );
        println!(
            "- tungstenite validates text with std `str::from_utf8` (fragmented: the `utf8` crate), not SIMD."
        );
        println!(
            "- Masking keys: tungstenite, fastwebsockets and tokio-websockets (feature `rand`, which it has to be"
        );
        println!(
            "  given: it has no default RNG) draw from rand's thread-local user-space CSPRNG (ChaCha12); webwire"
        );
        println!(
            "  from its `ThreadRandom` (a per-thread pool of getrandom(2) bytes, fetched 1 KiB at a time)."
        );
        println!(
            "- Encoders write to a counting in-memory sink (no syscalls): per-message writes (fastwebsockets) cost"
        );
        println!("  nothing here that they would cost on a real socket.");
        println!(
            "- webwire returns text as an owned `String` (one copy out of the receive buffer); the others hand out"
        );
        println!("  zero-copy views of their read buffer.");
        if loads.iter().any(|w| w.is_handshake()) {
            println!(
                "- W6: each contender's own server handshake with its default configuration, from the request bytes on an"
            );
            println!(
                "  in-memory connection to the 101 written back: webwire `feed_with` + `RequestHead::accept` (response in a"
            );
            println!(
                "  fresh Vec per handshake) + `Connection::new`; tungstenite `accept` and tokio-websockets `ServerBuilder::accept` (both also"
            );
            println!(
                "  build their WebSocket object, read buffer included); fastwebsockets has no HTTP parser: hyper 1.x"
            );
            println!(
                "  `serve_connection(..).with_upgrades()` with a service calling `is_upgrade_request` + `upgrade::upgrade`"
            );
            println!(
                "  (hyper adds a `date` header). Every response is checked: 101, accept key, nothing after. memcpy: n/a."
            );
        }
        println!();
        println!("Diagnostics (not in the ratios):");
        for (wi, w) in loads.iter().enumerate() {
            let unit = if w.per_msg { w.per_unit() } else { "GB/s" };
            let base = med.get(&(wi, idx(Who::Webwire))).map_or("—".into(), |&x| {
                let digits = if w.is_handshake() { 1 } else { 2 };
                format!("{:.*}", digits, figure(w, x))
            });
            if let Some(&m) = med.get(&(wi, idx(Who::WebwireOs))) {
                println!(
                    "- {} webwire with OsRandom (getrandom(2), 1 KiB a call) instead of ThreadRandom: {:.2} {unit} (ThreadRandom: {base})",
                    w.id,
                    figure(w, m),
                );
            }
            if let Some(&m) = med.get(&(wi, idx(Who::WebwireSlice))) {
                println!(
                    "- {} webwire slice API `decode(&[u8])` from a reused 64 KiB read buffer: {:.2} {unit} (`decode_buf` + BytesMut: {base})",
                    w.id,
                    figure(w, m),
                );
            }
            if let Some(&m) = med.get(&(wi, idx(Who::WebwireHttp))) {
                println!(
                    "- {} webwire through `http` types (`RequestParser::feed` → `accept` → `write_response`): {:.1} {unit} (in place, `feed_with`: {base})",
                    w.id,
                    figure(w, m),
                );
            }
            for (who, what) in [
                (Who::Sha1AcceptKey, "sha1_smol, portable"),
                (
                    Who::Sha1RustCryptoAcceptKey,
                    "RustCrypto sha1 0.11, SHA-NI if the CPU has it",
                ),
            ] {
                if let Some(&m) = med.get(&(wi, idx(who))) {
                    println!(
                        "- {} yardstick `{}`: only the accept key, base64(SHA-1(key + GUID)) ({what}): {:.1} {unit}",
                        w.id,
                        who.name(),
                        figure(w, m),
                    );
                }
            }
            if w.is_handshake() {
                let sizes: Vec<String> = ALL
                    .iter()
                    .filter(|who| !matches!(who, Who::Sha1AcceptKey | Who::Sha1RustCryptoAcceptKey))
                    .filter_map(|who| {
                        out_bytes
                            .get(&(wi, idx(*who)))
                            .map(|b| format!("{} {} B", who.name(), b / w.reps as u64))
                    })
                    .collect();
                println!(
                    "- {} response sizes ({} B request): {}",
                    w.id,
                    w.payload_bytes,
                    sizes.join(", ")
                );
            }
        }
    }

    // W7's own table: CPU per message and reply bytes on the wire.
    for (wi, w) in loads.iter().enumerate() {
        let Kind::Echo(e) = &w.kind else { continue };
        let t = |who: Who| med.get(&(wi, idx(who))).copied();
        let base = t(Who::Ratchet);
        #[cfg(feature = "ratchet")]
        let rl = ratchet_configs().map(|c| c.compression_level.level());
        #[cfg(not(feature = "ratchet"))]
        let rl = [0u32; 3];
        let rows: [(Who, String, &str); 8] = [
            (
                Who::Webwire,
                format!("{} (its default)", e.ww_server.level()),
                "context takeover",
            ),
            (
                Who::Ratchet,
                format!("{} (its default, `Compression::fast()`)", rl[0]),
                "context takeover (`accept_no_context_takeover: false`)",
            ),
            (Who::Tungstenite, String::new(), ""),
            (Who::FastWebSockets, String::new(), ""),
            (Who::TokioWebsockets, String::new(), ""),
            (
                Who::WebwireLevel1,
                format!("{}", e.ww_server_l1.level()),
                "context takeover",
            ),
            (Who::RatchetLevel6, format!("{}", rl[1]), "context takeover"),
            (
                Who::RatchetDefaults,
                format!("{} (its default)", rl[2]),
                "reset after every message (`DeflateConfig::default()`)",
            ),
        ];
        println!();
        println!("## {} {}", w.id, w.title);
        println!();
        println!(
            "| contender | level | server compressor | ns/msg ↓ (speed vs ratchet_rs) | reply bytes/msg on the wire | ÷ {} B payload | spread |",
            e.msg_len
        );
        println!("|---|---|---|---:|---:|---:|---:|");
        for (who, level, takeover) in &rows {
            let diag = matches!(
                who,
                Who::WebwireLevel1 | Who::RatchetLevel6 | Who::RatchetDefaults
            );
            let name = if diag {
                format!("_{}_ (diagnostic)", who.name())
            } else {
                who.name().to_owned()
            };
            if matches!(
                who,
                Who::Tungstenite | Who::FastWebSockets | Who::TokioWebsockets
            ) {
                println!("| {name} | — | — | n/a (no deflate) | n/a (no deflate) | — | — |");
                continue;
            }
            let (Some(x), Some(bytes)) = (t(*who), out_bytes.get(&(wi, idx(*who)))) else {
                let _ = (level, takeover);
                println!("| {name} | — | — | not run | — | — | — |");
                continue;
            };
            let vs = base.map_or(String::new(), |b| format!(" ({:.2}×)", b / x));
            let per_msg = *bytes as f64 / e.count as f64;
            println!(
                "| {name} | {level} | {takeover} | {:.0}{vs} | {per_msg:.1} | {:.1}% | ±{:.0}% |",
                figure(w, x),
                100.0 * per_msg / e.msg_len as f64,
                iqr_rel(&times[&(wi, idx(*who))]) * 50.0
            );
        }
        println!();
        println!(
            "Request (client → server, webwire client-role deflate at level {}, masked): {:.1} bytes/msg on the wire for {} payload bytes ({:.1}%).",
            e.ww_client.level(),
            e.wire.len() as f64 / e.count as f64,
            e.msg_len,
            100.0 * e.wire.len() as f64 / (e.count * e.msg_len) as f64
        );
        println!(
            "Offer: `{}`; both servers answer window 15 both ways, context takeover as in the table.",
            e.offer
        );
        println!(
            "ns/msg: one sample = all {} messages through a fresh server endpoint (decode, unmask, inflate, UTF-8",
            e.count
        );
        println!(
            "validation, deflate, frame the reply); bytes/msg include frame headers. The verification pass decodes every"
        );
        println!("reply with webwire's client-role decoder and hashes it against the plaintext.");
        if cfg!(feature = "ratchet") {
            println!(
                "flate2 backend: C zlib (libz-sys) for both crates: ratchet_deflate enables flate2's `zlib` feature, which takes"
            );
            println!(
                "precedence over webwire's `zlib-rs` in the one flate2 of the build (run with --no-default-features for zlib-rs)."
            );
        } else {
            println!("flate2 backend: zlib-rs (webwire's own choice); built without ratchet_rs.");
        }
        println!(
            "ratchet_rs does not validate text (its docs leave it to the user): the harness runs `std::str::from_utf8` on each message."
        );
    }

    let vjson: Vec<String> = versions
        .iter()
        .map(|(k, v)| format!("{}:{}", json_str(k), json_str(&v.join("/"))))
        .collect();
    let json = format!(
        "{{\"machine\":{{\"cpu\":{},\"cores\":{cores},\"rustc\":{},\"profile\":{}}},\"webwire_rev\":{},\"versions\":{{{}}},\"rounds\":{rounds},\"read_chunk_bytes\":{CHUNK},\"workloads\":[{}]}}\n",
        json_str(&cpu),
        json_str(rustc),
        json_str(profile),
        json_str(webwire_rev),
        vjson.join(","),
        json_rows.join(",")
    );
    if let Some(dir) = std::path::Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(&out_path, json).unwrap_or_else(|e| panic!("writing {out_path}: {e}"));
    println!();
    println!("JSON written to {out_path}");
}
