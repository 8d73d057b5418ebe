//! `idle-memory`: heap held per idle server connection, for every contender,
//! measured with a counting global allocator (the only allocator in this
//! binary).
//!
//! Every connection goes through the crate's own server handshake over an
//! in-memory transport ([`MemIo`]) and echoes one message (checked: the 101,
//! the accept key, and the reply's bytes), then stays idle. Two measurements:
//!
//! * **state**: the connection object alone, boxed (so its own size counts),
//!   driven by hand; any read buffer the *user* passes in (ratchet_rs) is
//!   dropped.
//! * **task**: the very server code `echo-server` runs (src/shared.rs), one
//!   tokio task per connection on a current-thread runtime, everything it
//!   holds while waiting for the next message: task, future, buffers.
//!
//! The transport's own heap (one `Arc<Mutex<Pipe>>` per connection, buffers
//! released before measuring) is measured alone and subtracted.
//!
//! Environment: CONNS (default 10000), DEFLATE_CONNS (default 1000), OUT
//! (default target/idle-memory.json). Exits non-zero if any echo is wrong.

#[path = "../shared.rs"]
mod shared;

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures_util::{FutureExt, SinkExt, StreamExt};

// ---------------------------------------------------------------------------
// Counting allocator: bytes requested, bytes malloc actually reserved
// (malloc_usable_size), live blocks.
// ---------------------------------------------------------------------------

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static USABLE: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);

unsafe extern "C" {
    fn malloc_usable_size(ptr: *mut std::ffi::c_void) -> usize;
}

fn usable(p: *mut u8) -> isize {
    if p.is_null() {
        0
    } else {
        // SAFETY: `p` is a live block from the system allocator (glibc malloc).
        unsafe { malloc_usable_size(p.cast()) as isize }
    }
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            USABLE.fetch_add(usable(p), Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
            USABLE.fetch_add(usable(p), Ordering::Relaxed);
            BLOCKS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        USABLE.fetch_sub(usable(ptr), Ordering::Relaxed);
        BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let before = usable(ptr);
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            USABLE.fetch_add(usable(p) - before, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Clone, Copy)]
struct Heap {
    live: isize,
    usable: isize,
    blocks: isize,
    rss: isize,
}

/// Resident set size in bytes (/proc/self/statm, 4 KiB pages).
fn rss() -> isize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<isize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn heap() -> Heap {
    Heap {
        live: LIVE.load(Ordering::SeqCst),
        usable: USABLE.load(Ordering::SeqCst),
        blocks: BLOCKS.load(Ordering::SeqCst),
        rss: rss(),
    }
}

/// Per-connection figures: (requested bytes, usable bytes, blocks, RSS bytes).
#[derive(Clone, Copy, Default)]
struct PerConn {
    live: f64,
    usable: f64,
    blocks: f64,
    rss: f64,
}

impl PerConn {
    fn between(a: Heap, b: Heap, n: usize) -> Self {
        let n = n as f64;
        Self {
            live: (b.live - a.live) as f64 / n,
            usable: (b.usable - a.usable) as f64 / n,
            blocks: (b.blocks - a.blocks) as f64 / n,
            rss: (b.rss - a.rss) as f64 / n,
        }
    }
    fn minus(self, o: Self) -> Self {
        Self {
            live: self.live - o.live,
            usable: self.usable - o.usable,
            blocks: self.blocks - o.blocks,
            rss: self.rss - o.rss,
        }
    }
}

// ---------------------------------------------------------------------------
// In-memory transport
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Pipe {
    input: Vec<u8>,
    pos: usize,
    output: Vec<u8>,
    waker: Option<Waker>,
}

/// One end of an in-memory connection: the server reads `input` (pending, or
/// `WouldBlock`, when it is drained) and writes to `output`. The harness
/// keeps a clone to feed it and read the replies.
#[derive(Clone, Debug, Default)]
struct MemIo(Arc<Mutex<Pipe>>);

impl MemIo {
    fn push(&self, bytes: &[u8]) {
        let mut p = self.0.lock().unwrap();
        p.input.extend_from_slice(bytes);
        if let Some(w) = p.waker.take() {
            w.wake();
        }
    }
    fn output_len(&self) -> usize {
        self.0.lock().unwrap().output.len()
    }
    fn take_output(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap().output)
    }
    /// Frees the transport's buffers so that only its fixed cost remains.
    fn release(&self) {
        let mut p = self.0.lock().unwrap();
        assert_eq!(p.pos, p.input.len(), "server left input unread");
        p.input = Vec::new();
        p.pos = 0;
        p.output = Vec::new();
    }
    fn read_into(&self, buf: &mut [u8]) -> Option<usize> {
        let mut p = self.0.lock().unwrap();
        let avail = p.input.len() - p.pos;
        if avail == 0 {
            return None;
        }
        let n = avail.min(buf.len());
        let pos = p.pos;
        buf[..n].copy_from_slice(&p.input[pos..pos + n]);
        p.pos += n;
        if p.pos == p.input.len() {
            p.input.clear();
            p.pos = 0;
        }
        Some(n)
    }
}

impl tokio::io::AsyncRead for MemIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        match self.read_into(dst) {
            Some(n) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            None => {
                self.0.lock().unwrap().waker = Some(cx.waker().clone());
                // Input may have arrived between the two locks.
                if self.0.lock().unwrap().input.is_empty() {
                    Poll::Pending
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }
        }
    }
}

impl tokio::io::AsyncWrite for MemIo {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        self.0.lock().unwrap().output.extend_from_slice(b);
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Read for MemIo {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_into(buf)
            .ok_or_else(|| io::ErrorKind::WouldBlock.into())
    }
}

impl Write for MemIo {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().output.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The client's bytes and the checks on the server's
// ---------------------------------------------------------------------------

/// A 20-byte text message (uncompressed contenders).
const TEXT_LEN: usize = 20;

/// What the client sends and how the reply is checked.
struct Client {
    request: Vec<u8>,
    message: Vec<u8>,
    deflate: Option<DeflateClient>,
}

struct DeflateClient {
    text: String,
    params: webwire::ws::deflate::DeflateParams,
}

impl Client {
    fn plain() -> Self {
        Self {
            request: shared::upgrade_request("localhost", None).into_bytes(),
            message: shared::masked_frame(1, &shared::payload(TEXT_LEN), [1, 2, 3, 4]),
            deflate: None,
        }
    }

    /// A webwire client with deflate as negotiated from its default offer
    /// (`permessage-deflate; client_max_window_bits`: window 15 both ways,
    /// context takeover); its first message, compressed and masked.
    fn deflate() -> Self {
        use webwire::random::SeededRandom;
        use webwire::ws::deflate::DeflateConfig;
        use webwire::ws::handshake::parse_extensions;
        use webwire::ws::{Config, Connection, Role, Transmit};
        let offer = DeflateConfig::default().offer().to_string();
        let (_, response) = DeflateConfig::default()
            .accept_offers(&parse_extensions(&offer).unwrap())
            .unwrap();
        let params = DeflateConfig::default().check_response(&response).unwrap();
        let mut client = Connection::new(
            Role::Client,
            Config::default().with_deflate(Some(params)),
            SeededRandom::new(1),
            Instant::now(),
        );
        let text = "a message that is long enough to be compressed, ".repeat(8);
        client.send_text(&text).unwrap();
        let mut message = Vec::new();
        while let Transmit::Bytes(_) = client.poll_transmit(&mut message) {}
        assert_eq!(message[0] & 0x40, 0x40, "the client compressed its message");
        Self {
            request: shared::upgrade_request("localhost", Some(&offer)).into_bytes(),
            message,
            deflate: Some(DeflateClient { text, params }),
        }
    }

    /// Length of a complete handshake response at the start of `out`.
    fn head_done(out: &[u8]) -> Option<usize> {
        shared::head_end(out)
    }

    /// Checks a server's whole output: the 101, then exactly one reply that
    /// echoes the message.
    fn check(&self, who: &str, out: &[u8]) -> Result<(), String> {
        let end = shared::head_end(out).ok_or_else(|| format!("{who}: no response head"))?;
        shared::check_response(&out[..end]).map_err(|e| format!("{who}: {e}"))?;
        let reply = &out[end..];
        match &self.deflate {
            None => {
                let done = shared::ReplyParser::new(1, TEXT_LEN).feed(reply);
                match done {
                    Ok(1) => Ok(()),
                    other => Err(format!("{who}: reply {other:?}, {} bytes", reply.len())),
                }
            }
            Some(d) => {
                use webwire::random::SeededRandom;
                use webwire::ws::deflate::DeflateConfig;
                use webwire::ws::handshake::parse_extensions;
                use webwire::ws::{Config, Connection, Event, Role};
                let head = std::str::from_utf8(&out[..end]).unwrap();
                let ext = shared::header(head, "sec-websocket-extensions")
                    .ok_or_else(|| format!("{who}: deflate not agreed"))?;
                let agreed = parse_extensions(ext).map_err(|e| format!("{who}: {e}"))?;
                let params = DeflateConfig::default()
                    .check_response(&agreed[0])
                    .map_err(|e| format!("{who}: {e}"))?;
                if params != d.params {
                    return Err(format!("{who}: agreed {ext:?}, other parameters"));
                }
                if reply.first().is_none_or(|b| b & 0x40 == 0) {
                    return Err(format!("{who}: reply not compressed"));
                }
                let mut client = Connection::new(
                    Role::Client,
                    Config::default().with_deflate(Some(params)),
                    SeededRandom::new(2),
                    Instant::now(),
                );
                assert_eq!(client.handle_data(Instant::now(), reply), reply.len());
                match client.poll_event() {
                    Some(Event::Text(t)) if t == d.text && client.poll_event().is_none() => Ok(()),
                    other => Err(format!("{who}: reply decoded to {other:?}")),
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// "state": each crate's connection object, driven by hand
// ---------------------------------------------------------------------------

/// Runs a future that must complete without waiting (all input is there).
fn now<F: Future>(f: F, what: &str) -> F::Output {
    f.now_or_never()
        .unwrap_or_else(|| panic!("{what}: would block"))
}

type Kept = Box<dyn std::any::Any>;

fn state_webwire(c: &Client) -> (Kept, Vec<u8>) {
    use webwire::Status;
    use webwire::random::SeededRandom;
    use webwire::ws::deflate::DeflateConfig;
    use webwire::ws::handshake::{HandshakeLimits, RequestParser, ServerConfig, accept};
    use webwire::ws::{Config, Connection, Event, Role, Transmit};
    let mut parser = RequestParser::new(HandshakeLimits::default());
    let Ok(Status::Complete((request, used))) = parser.feed(&c.request) else {
        panic!("webwire: request incomplete");
    };
    assert_eq!(used, c.request.len());
    let server = if c.deflate.is_some() {
        ServerConfig::new().with_deflate(DeflateConfig::default())
    } else {
        ServerConfig::new()
    };
    let accepted = accept(&request, &server).expect("webwire: accept");
    let mut wire = Vec::new();
    accepted.write_response(&mut wire);
    let config = Config::default()
        .with_limits(shared::webwire_limits())
        .with_deflate(accepted.deflate);
    drop((request, parser, accepted));
    let t = Instant::now();
    let mut conn = Box::new(Connection::new(
        Role::Server,
        config,
        SeededRandom::new(0),
        t,
    ));
    assert_eq!(conn.handle_data(t, &c.message), c.message.len());
    while let Some(e) = conn.poll_event() {
        match e {
            Event::Text(s) => conn.send_text(&s).unwrap(),
            Event::Binary(b) => conn.send_binary(&b).unwrap(),
            _ => {}
        }
    }
    let mut out = Vec::new();
    while let Transmit::Bytes(_) = conn.poll_transmit(&mut out) {}
    wire.extend_from_slice(&out);
    drop(out);
    (conn, wire)
}

fn state_tungstenite(c: &Client) -> (Kept, Vec<u8>) {
    let io = MemIo::default();
    io.push(&c.request);
    let mut ws = tungstenite::accept_with_config(io.clone(), Some(shared::tungstenite_config()))
        .unwrap_or_else(|e| panic!("tungstenite: accept: {e}"));
    io.push(&c.message);
    let msg = ws.read().expect("tungstenite: read");
    ws.send(msg).expect("tungstenite: send");
    let ws = Box::new(ws);
    io.release_after(ws)
}

fn state_tokio_tungstenite(c: &Client) -> (Kept, Vec<u8>) {
    let io = MemIo::default();
    io.push(&c.request);
    let mut ws = now(
        tokio_tungstenite::accept_async_with_config(io.clone(), Some(shared::tungstenite_config())),
        "tokio-tungstenite: accept",
    )
    .expect("tokio-tungstenite: accept");
    io.push(&c.message);
    let msg = now(ws.next(), "tokio-tungstenite: next").unwrap().unwrap();
    now(ws.send(msg), "tokio-tungstenite: send").unwrap();
    io.release_after(Box::new(ws))
}

fn state_fastwebsockets(c: &Client) -> (Kept, Vec<u8>) {
    use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
    let mut io = MemIo::default();
    io.push(&c.request);
    now(shared::manual_upgrade(&mut io), "fastwebsockets: upgrade").unwrap();
    let mut ws = WebSocket::after_handshake(io.clone(), Role::Server);
    ws.set_max_message_size(shared::LIMIT + 1);
    let mut ws = FragmentCollector::new(ws);
    io.push(&c.message);
    let frame = now(ws.read_frame(), "fastwebsockets: read").unwrap();
    assert_eq!(frame.opcode, OpCode::Text);
    now(ws.write_frame(frame), "fastwebsockets: write").unwrap();
    io.release_after(Box::new(ws))
}

fn state_tokio_websockets(c: &Client) -> (Kept, Vec<u8>) {
    let io = MemIo::default();
    io.push(&c.request);
    let (request, mut ws) = now(
        tokio_websockets::ServerBuilder::new()
            .limits(shared::tokio_websockets_limits())
            .accept(io.clone()),
        "tokio-websockets: accept",
    )
    .unwrap();
    drop(request);
    io.push(&c.message);
    let msg = now(ws.next(), "tokio-websockets: next").unwrap().unwrap();
    now(ws.send(msg), "tokio-websockets: send").unwrap();
    io.release_after(Box::new(ws))
}

#[cfg(feature = "ratchet")]
fn ratchet_config(takeover: bool) -> ratchet_rs::deflate::DeflateConfig {
    ratchet_rs::deflate::DeflateConfig {
        accept_no_context_takeover: !takeover,
        ..ratchet_rs::deflate::DeflateConfig::default()
    }
}

#[cfg(feature = "ratchet")]
fn state_ratchet(c: &Client, takeover: bool) -> (Kept, Vec<u8>) {
    use ratchet_rs::deflate::DeflateExtProvider;
    use ratchet_rs::{Message, SubprotocolRegistry, WebSocketConfig};
    let io = MemIo::default();
    io.push(&c.request);
    let upgrader = now(
        ratchet_rs::accept_with(
            io.clone(),
            WebSocketConfig {
                max_message_size: shared::LIMIT,
            },
            DeflateExtProvider::with_config(ratchet_config(takeover)),
            SubprotocolRegistry::default(),
        ),
        "ratchet_rs: accept",
    )
    .unwrap_or_else(|e| panic!("ratchet_rs: accept: {e}"));
    let mut ws = now(upgrader.upgrade(), "ratchet_rs: upgrade")
        .unwrap()
        .into_websocket();
    io.push(&c.message);
    // The read buffer is the user's, not the connection's: dropped here.
    let mut buf = bytes::BytesMut::new();
    match now(ws.read(&mut buf), "ratchet_rs: read").unwrap() {
        Message::Text => {}
        other => panic!("ratchet_rs: {other:?}"),
    }
    let text = std::str::from_utf8(&buf)
        .expect("ratchet_rs: UTF-8")
        .to_owned();
    now(ws.write_text(text), "ratchet_rs: write").unwrap();
    io.release_after(Box::new(ws))
}

impl MemIo {
    /// The server's output so far, then the transport's buffers released;
    /// `kept` (which holds a clone of this transport) is returned with it.
    fn release_after(&self, kept: Kept) -> (Kept, Vec<u8>) {
        let out = self.take_output();
        self.release();
        (kept, out)
    }
}

// ---------------------------------------------------------------------------
// "task": the echo servers themselves, one tokio task per connection
// ---------------------------------------------------------------------------

#[cfg(feature = "ratchet")]
/// ratchet_rs as an echo server (not in the echo benchmark: deflate only here).
async fn serve_ratchet(io: MemIo, takeover: bool) -> io::Result<()> {
    use ratchet_rs::deflate::DeflateExtProvider;
    use ratchet_rs::{Message, SubprotocolRegistry, WebSocketConfig};
    let other = |e: ratchet_rs::Error| io::Error::other(e.to_string());
    let upgrader = ratchet_rs::accept_with(
        io,
        WebSocketConfig {
            max_message_size: shared::LIMIT,
        },
        DeflateExtProvider::with_config(ratchet_config(takeover)),
        SubprotocolRegistry::default(),
    )
    .await
    .map_err(other)?;
    let mut ws = upgrader.upgrade().await.map_err(other)?.into_websocket();
    let mut buf = bytes::BytesMut::new();
    loop {
        buf.clear();
        match ws.read(&mut buf).await.map_err(other)? {
            Message::Text => {
                let s = std::str::from_utf8(&buf).map_err(io::Error::other)?;
                ws.write_text(s).await.map_err(other)?;
            }
            Message::Binary => ws.write_binary(&buf[..]).await.map_err(other)?,
            Message::Close(_) => return Ok(()),
            _ => {}
        }
    }
}

fn spawn_server(rt: &tokio::runtime::Runtime, name: &'static str, io: MemIo) {
    match name {
        "webwire+deflate" => {
            rt.spawn(async move { shared::serve_webwire_with(io, true).await });
        }
        #[cfg(feature = "ratchet")]
        "ratchet_rs+deflate" => {
            rt.spawn(serve_ratchet(io, false));
        }
        #[cfg(feature = "ratchet")]
        "ratchet_rs+deflate (takeover)" => {
            rt.spawn(serve_ratchet(io, true));
        }
        _ => {
            rt.spawn(async move { shared::serve(name, io).await });
        }
    }
}

/// Lets the runtime run every ready task until `done` holds.
fn run_until(rt: &tokio::runtime::Runtime, what: &str, mut done: impl FnMut() -> bool) {
    rt.block_on(async {
        for _ in 0..100_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("{what}: servers did not finish");
    });
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

struct Row {
    name: &'static str,
    how: &'static str,
    conns: usize,
    state: Option<PerConn>,
    task: Option<PerConn>,
}

/// The transport's own cost per connection: `n` pipes, with the harness's
/// clones, after one exchange and release.
fn transport_baseline(n: usize) -> PerConn {
    let mut ios: Vec<MemIo> = Vec::with_capacity(n);
    let mut kept: Vec<MemIo> = Vec::with_capacity(n);
    let before = heap();
    for _ in 0..n {
        let io = MemIo::default();
        io.push(b"x");
        assert_eq!(io.read_into(&mut [0u8; 4]), Some(1));
        io.0.lock().unwrap().output.push(b'y');
        io.release();
        kept.push(io.clone());
        ios.push(io);
    }
    let after = heap();
    drop((ios, kept));
    PerConn::between(before, after, n)
}

fn measure_state(
    n: usize,
    c: &Client,
    base: PerConn,
    who: &str,
    f: &dyn Fn(&Client) -> (Kept, Vec<u8>),
    uses_transport: bool,
) -> PerConn {
    let mut kept: Vec<Kept> = Vec::with_capacity(n);
    let before = heap();
    for i in 0..n {
        let (k, out) = f(c);
        if let Err(e) = c.check(who, &out) {
            fail(&format!("connection {i}: {e}"));
        }
        drop(out);
        kept.push(k);
    }
    let after = heap();
    drop(kept);
    let per = PerConn::between(before, after, n);
    if uses_transport { per.minus(base) } else { per }
}

fn measure_task(n: usize, c: &Client, base: PerConn, name: &'static str) -> PerConn {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ios: Vec<MemIo> = Vec::with_capacity(n);
    let before = heap();
    for _ in 0..n {
        let io = MemIo::default();
        io.push(&c.request);
        spawn_server(&rt, name, io.clone());
        ios.push(io);
    }
    // The client sends its message once it has the 101.
    run_until(&rt, name, || {
        ios.iter().all(|io| {
            let p = io.0.lock().unwrap();
            Client::head_done(&p.output).is_some()
        })
    });
    for io in &ios {
        io.push(&c.message);
    }
    let mut lens = vec![0usize; n];
    let mut stable = 0;
    run_until(&rt, name, || {
        // Done once every server read all its input and wrote more than the
        // 101, and no output grew over a few more passes.
        let now: Vec<usize> = ios.iter().map(MemIo::output_len).collect();
        let drained = ios.iter().all(|io| io.0.lock().unwrap().input.is_empty());
        let replied = ios.iter().zip(&now).all(|(io, &len)| {
            Client::head_done(&io.0.lock().unwrap().output).is_some_and(|h| len > h)
        });
        stable = if drained && replied && now == lens {
            stable + 1
        } else {
            0
        };
        lens = now;
        stable >= 3
    });
    for (i, io) in ios.iter().enumerate() {
        let out = io.take_output();
        if let Err(e) = c.check(name, &out) {
            fail(&format!("connection {i}: {e}"));
        }
        drop(out);
        io.release();
    }
    let after = heap();
    let per = PerConn::between(before, after, n).minus(base);
    drop(rt);
    drop(ios);
    per
}

fn fail(e: &str) -> ! {
    eprintln!("idle-memory: FAILED: {e}");
    std::process::exit(1);
}

/// ratchet_deflate turns on flate2's C zlib, which then serves webwire too.
const DEFLATE_BACKEND: &str = if cfg!(feature = "ratchet") {
    "C zlib (libz-sys), for both crates: ratchet_deflate enables it (--no-default-features: webwire on zlib-rs)"
} else {
    "zlib-rs (webwire's own; built without ratchet_rs)"
};

fn main() {
    let n: usize = shared::env_or("CONNS", 10_000).max(1);
    let nd: usize = shared::env_or("DEFLATE_CONNS", 1_000).max(1);
    let out_path = std::env::var("OUT").unwrap_or_else(|_| "target/idle-memory.json".into());
    let plain = Client::plain();
    let deflate = Client::deflate();

    type StateFn = fn(&Client) -> (Kept, Vec<u8>);
    // (name, how the connection was made, deflate?, state fn (and whether it
    // sits on the transport), task server name)
    type Case = (
        &'static str,
        &'static str,
        bool,
        Option<(StateFn, bool)>,
        Option<&'static str>,
    );
    #[cfg_attr(not(feature = "ratchet"), allow(unused_mut))]
    let mut cases: Vec<Case> = vec![
        (
            "webwire",
            "RequestParser + accept, Connection::new; state: the Connection alone; task: examples/common/tokio_drive.rs (one read buffer per thread)",
            false,
            Some((state_webwire, false)),
            Some("webwire"),
        ),
        (
            "webwire+stream",
            "task only: examples/common/stream.rs, WebSocketStream (accept, then next() and feed()); same Connection as webwire",
            false,
            None,
            Some("webwire+stream"),
        ),
        (
            "tungstenite",
            "tungstenite::accept_with_config (blocking API; no task row: a thread per connection)",
            false,
            Some((state_tungstenite, true)),
            None,
        ),
        (
            "tokio-tungstenite",
            "accept_async_with_config",
            false,
            Some((state_tokio_tungstenite, true)),
            Some("tokio-tungstenite"),
        ),
        (
            "fastwebsockets",
            "minimal hand-written upgrade, WebSocket::after_handshake + FragmentCollector",
            false,
            Some((state_fastwebsockets, true)),
            Some("fastwebsockets"),
        ),
        (
            "tokio-websockets",
            "ServerBuilder::accept",
            false,
            Some((state_tokio_websockets, true)),
            Some("tokio-websockets"),
        ),
        (
            "webwire+deflate",
            "ServerConfig::with_deflate(DeflateConfig::default()); window 15, context takeover, level 6",
            true,
            Some((state_webwire, false)),
            Some("webwire+deflate"),
        ),
    ];
    #[cfg(feature = "ratchet")]
    cases.extend::<[Case; 2]>([
        (
            "ratchet_rs+deflate",
            "accept_with + DeflateExtProvider, DeflateConfig::default() (accept_no_context_takeover: true)",
            true,
            Some((|c| state_ratchet(c, false), true)),
            Some("ratchet_rs+deflate"),
        ),
        (
            "ratchet_rs+deflate (takeover)",
            "as above with accept_no_context_takeover: false (context kept, as in W7)",
            true,
            Some((|c| state_ratchet(c, true), true)),
            Some("ratchet_rs+deflate (takeover)"),
        ),
    ]);
    let picked = shared::env_list("CONTENDERS");

    println!("# Idle memory per server connection");
    println!();
    println!(
        "- webwire source: {}; crates: {}",
        env!("COMPARE_WEBWIRE_REV"),
        shared::crate_versions()
    );
    println!(
        "- {n} connections each ({nd} with deflate); every one upgraded and one message echoed (checked), then idle"
    );
    println!("- deflate backend (flate2): {DEFLATE_BACKEND}");
    println!();

    let mut rows = Vec::new();
    for (name, how, is_deflate, state, task) in cases {
        if picked
            .as_ref()
            .is_some_and(|p| !p.iter().any(|x| x == &name.to_lowercase()))
        {
            continue;
        }
        let conns = if is_deflate { nd } else { n };
        let c = if is_deflate { &deflate } else { &plain };
        eprintln!("measuring {name} ({conns} connections)…");
        // Measured right before each row, with the same count.
        let base = transport_baseline(conns);
        let state = state.map(|(f, t)| measure_state(conns, c, base, name, &f, t));
        let task = task.map(|t| measure_task(conns, c, base, t));
        rows.push(Row {
            name,
            how,
            conns,
            state,
            task,
        });
    }

    let kib = |b: f64| {
        if b.abs() >= 10_240.0 {
            format!("{:.1} KiB", b / 1024.0)
        } else {
            format!("{b:.0} B")
        }
    };
    println!(
        "| contender | connections | state: requested | state: malloc'd | state: blocks | task: requested | task: malloc'd | task: blocks | task: RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let s = r.state.map_or(["—".into(), "—".into(), "—".into()], |p| {
            [kib(p.live), kib(p.usable), format!("{:.1}", p.blocks)]
        });
        let t = r.task.map_or(
            ["—".into(), "—".into(), "—".into(), "—".into()],
            |p| {
                [
                    kib(p.live),
                    kib(p.usable),
                    format!("{:.1}", p.blocks),
                    kib(p.rss),
                ]
            },
        );
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name, r.conns, s[0], s[1], s[2], t[0], t[1], t[2], t[3]
        );
    }
    println!();
    println!("How each connection was made:");
    for r in &rows {
        println!("- {}: {}", r.name, r.how);
    }
    println!();
    println!(
        "state: the connection object (boxed, so its own size counts) and everything it allocated; task: the echo server's"
    );
    println!(
        "task per connection (src/shared.rs, as echo-server runs it), the task and everything its future holds. requested:"
    );
    println!(
        "bytes asked of the allocator; malloc'd: malloc_usable_size of the same blocks; blocks: live allocations; RSS: growth of"
    );
    println!(
        "the resident set (untouched pages of large buffers are not resident). The in-memory transport's own cost is subtracted."
    );

    let pc = |p: Option<PerConn>| {
        p.map_or("null".into(), |p| {
            format!(
                "{{\"requested_bytes\":{:.1},\"usable_bytes\":{:.1},\"blocks\":{:.2},\"rss_bytes\":{:.1}}}",
                p.live, p.usable, p.blocks, p.rss
            )
        })
    };
    let json_rows: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"how\":{},\"connections\":{},\"state\":{},\"task\":{}}}",
                shared::json_str(r.name),
                shared::json_str(r.how),
                r.conns,
                pc(r.state),
                pc(r.task)
            )
        })
        .collect();
    let json = format!(
        "{{\"webwire_rev\":{},\"versions\":{},\"connections\":{n},\"deflate_connections\":{nd},\"deflate_backend\":{},\"rows\":[{}]}}\n",
        shared::json_str(env!("COMPARE_WEBWIRE_REV")),
        shared::json_str(&shared::crate_versions()),
        shared::json_str(DEFLATE_BACKEND),
        json_rows.join(",")
    );
    if let Some(d) = std::path::Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::write(&out_path, json).unwrap_or_else(|e| panic!("writing {out_path}: {e}"));
    println!("\nJSON written to {out_path}");
}
