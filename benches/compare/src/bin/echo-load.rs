//! `echo-load`: the loopback echo benchmark's load generator. Uses none of the
//! contenders: it writes the HTTP upgrade itself (fixed key; the 101 and the
//! accept value are checked), sends pre-encoded masked frames and parses the
//! server's unmasked replies with a minimal frame parser that checks every
//! reply's opcode, length and payload bytes (the first byte of every piece
//! read, so at least the first and last of each message).
//!
//! Single-threaded (tokio current-thread runtime, one task per connection).
//! Configured by arguments (`echo-bench` passes them):
//!
//! ```text
//! echo-load PORT SERVER_PID CONNS SIZE OPCODE INFLIGHT WARMUP_SECS MEASURE_SECS
//! ```
//!
//! All connections are upgraded before any message is sent. After the warm-up
//! it samples the message count and the server's CPU time
//! (/proc/SERVER_PID/stat), again after the measured window, and prints one
//! JSON object on stdout. Exits non-zero if any connection fails (handshake,
//! I/O, a wrong reply) or never got a reply.

#[path = "../shared.rs"]
mod shared;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Cfg {
    /// Connect over TLS with this, if set.
    tls: Option<tokio_rustls::TlsConnector>,
    port: u16,
    size: usize,
    opcode: u8,
    inflight: usize,
    /// `inflight` copies of the masked frame, back to back.
    batch: Vec<u8>,
    frame_len: usize,
}

#[derive(Default)]
struct Shared {
    /// Replies received, all connections.
    total: Cell<u64>,
    /// Replies received per connection.
    per_conn: Vec<Cell<u64>>,
    ready: Cell<usize>,
    errors: RefCell<Vec<String>>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 8 && args.len() != 9 {
        eprintln!(
            "usage: echo-load PORT SERVER_PID CONNS SIZE OPCODE INFLIGHT WARMUP_SECS MEASURE_SECS [CA.pem]"
        );
        std::process::exit(2);
    }
    let num = |i: usize| -> f64 { args[i].parse().expect("numeric argument") };
    let (port, pid, conns) = (num(0) as u16, num(1) as u32, num(2) as usize);
    let (size, opcode, inflight) = (num(3) as usize, num(4) as u8, num(5) as usize);
    let (warmup, measure) = (num(6), num(7));
    assert!(conns > 0 && inflight > 0 && (opcode == 1 || opcode == 2));

    let frame = shared::masked_frame(opcode, &shared::payload(size), [0x37, 0xfa, 0x21, 0x3d]);
    // With a CA: every connection over TLS (tokio-rustls), trusting it.
    let tls = args.get(8).map(|ca| shared::tls_connector(ca));
    let cfg = Rc::new(Cfg {
        tls,
        port,
        size,
        opcode,
        inflight,
        batch: frame.repeat(inflight),
        frame_len: frame.len(),
    });
    let st = Rc::new(Shared {
        per_conn: (0..conns).map(|_| Cell::new(0)).collect(),
        ..Shared::default()
    });

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let result = local.block_on(&rt, async {
        for id in 0..conns {
            let (cfg, st) = (cfg.clone(), st.clone());
            let (go, stop) = (go_rx.clone(), stop_rx.clone());
            tokio::task::spawn_local(async move {
                if let Err(e) = connection(id, &cfg, &st, go, stop).await {
                    st.errors.borrow_mut().push(format!("connection {id}: {e}"));
                }
            });
        }
        // Every connection upgraded before the first message.
        let t = Instant::now();
        while st.ready.get() < conns && st.errors.borrow().is_empty() {
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("only {}/{conns} upgraded after 30 s", st.ready.get()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if let Some(e) = st.errors.borrow().first() {
            return Err(e.clone());
        }
        let _ = go_tx.send(true);
        tokio::time::sleep(Duration::from_secs_f64(warmup)).await;

        let snap = || {
            let per: Vec<u64> = st.per_conn.iter().map(Cell::get).collect();
            (
                Instant::now(),
                st.total.get(),
                shared::cpu_ticks(pid).expect("server /proc stat"),
                shared::cpu_ns(pid),
                shared::cpu_ticks(std::process::id()).expect("own /proc stat"),
                per,
            )
        };
        let (t0, m0, (u0, s0), ns0, (cu0, cs0), per0) = snap();
        tokio::time::sleep(Duration::from_secs_f64(measure)).await;
        let (t1, m1, (u1, s1), ns1, (cu1, cs1), per1) = snap();
        let _ = stop_tx.send(true);
        if let Some(e) = st.errors.borrow().first() {
            return Err(e.clone());
        }
        let secs = (t1 - t0).as_secs_f64();
        let msgs = m1 - m0;
        let window: Vec<u64> = per1.iter().zip(&per0).map(|(a, b)| a - b).collect();
        let (min, max) = (
            *window.iter().min().unwrap(),
            *window.iter().max().unwrap(),
        );
        if msgs == 0 || st.per_conn.iter().any(|c| c.get() == 0) {
            return Err("a connection got no reply at all".into());
        }
        let tick_us = 1e6 / shared::CLK_TCK;
        let (user_us, sys_us) = ((u1 - u0) as f64 * tick_us, (s1 - s0) as f64 * tick_us);
        let client_us = ((cu1 - cu0) + (cs1 - cs0)) as f64 * tick_us;
        Ok(format!(
            "{{\"conns\":{conns},\"size\":{},\"opcode\":{},\"inflight\":{},\"secs\":{secs:.6},\"msgs\":{msgs},\
             \"msgs_per_sec\":{:.1},\"server_user_us\":{user_us:.0},\"server_sys_us\":{sys_us:.0},\
             \"server_cpu_us_per_msg\":{:.4},\"server_sched_us_per_msg\":{:.4},\"server_util\":{:.4},\
             \"client_util\":{:.4},\"conn_min_msgs\":{min},\"conn_max_msgs\":{max}}}",
            cfg.size,
            cfg.opcode,
            cfg.inflight,
            msgs as f64 / secs,
            (user_us + sys_us) / msgs as f64,
            (ns1 - ns0) as f64 / 1e3 / msgs as f64,
            (user_us + sys_us) / 1e6 / secs,
            client_us / 1e6 / secs,
        ))
    });
    match result {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("echo-load: {e}");
            std::process::exit(1);
        }
    }
}

async fn connection(
    id: usize,
    cfg: &Cfg,
    st: &Shared,
    go: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |err| format!("{what}: {err}")
    }
    let tcp = TcpStream::connect(("127.0.0.1", cfg.port))
        .await
        .map_err(e("connect"))?;
    tcp.set_nodelay(true).map_err(e("nodelay"))?;
    match &cfg.tls {
        Some(tls) => {
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost")
                .map_err(|e| e.to_string())?;
            let s = tls.connect(name, tcp).await.map_err(e("TLS handshake"))?;
            exchange(s, id, cfg, st, go, stop).await
        }
        None => exchange(tcp, id, cfg, st, go, stop).await,
    }
}

/// The upgrade, then echo traffic until `stop`.
async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    id: usize,
    cfg: &Cfg,
    st: &Shared,
    mut go: tokio::sync::watch::Receiver<bool>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |err| format!("{what}: {err}")
    }
    let host = format!("127.0.0.1:{}", cfg.port);
    s.write_all(shared::upgrade_request(&host, None).as_bytes())
        .await
        .map_err(e("write request"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut head = Vec::new();
    loop {
        let n = s.read(&mut buf).await.map_err(e("read response"))?;
        if n == 0 {
            return Err("closed during the handshake".into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = shared::head_end(&head) {
            shared::check_response(&head[..end])?;
            if end != head.len() {
                return Err("server sent bytes after the 101 unasked".into());
            }
            break;
        }
    }
    st.ready.set(st.ready.get() + 1);
    go.wait_for(|go| *go).await.map_err(|e| e.to_string())?;

    let mut parser = shared::ReplyParser::new(cfg.opcode, cfg.size);
    s.write_all(&cfg.batch).await.map_err(e("write"))?;
    let mut outstanding = cfg.inflight;
    loop {
        let n = s.read(&mut buf).await.map_err(e("read"))?;
        if n == 0 {
            return Err("server closed the connection".into());
        }
        let done = parser.feed(&buf[..n])?;
        if done == 0 {
            continue;
        }
        st.total.set(st.total.get() + done);
        let c = &st.per_conn[id];
        c.set(c.get() + done);
        outstanding = outstanding
            .checked_sub(done as usize)
            .ok_or("more replies than messages sent")?;
        if *stop.borrow() {
            return Ok(());
        }
        // Refill: as many frames as replies completed, in one write.
        let refill = cfg.inflight - outstanding;
        s.write_all(&cfg.batch[..refill * cfg.frame_len])
            .await
            .map_err(e("write"))?;
        outstanding = cfg.inflight;
    }
}
