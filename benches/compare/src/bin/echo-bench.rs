//! `echo-bench`: the loopback echo benchmark's driver. For every sample it
//! starts a fresh `echo-server CRATE` child, runs an `echo-load` child against
//! it (which measures messages per second and reads the server's CPU time
//! from /proc), then kills the server. Contenders are interleaved within each
//! round, their order rotated every round; medians over rounds are reported
//! with ratios against the best of tokio-tungstenite, fastwebsockets and
//! tokio-websockets. Exits non-zero if any sample failed (a server that did
//! not echo correctly, crashed, or a load generator that timed out).
//!
//! Build all binaries first: `cargo build --release`, then
//! `./target/release/echo-bench`. Environment: ROUNDS, WARMUP, DURATION,
//! ONLY, CONTENDERS, CONNS, OUT (see README.md).

#[path = "../shared.rs"]
mod shared;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Scenario {
    id: &'static str,
    title: &'static str,
    conns: usize,
    size: usize,
    opcode: u8,
    inflight: usize,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario {
        id: "E1",
        title: "100 connections, 20 B text, 1 in flight",
        conns: 100,
        size: 20,
        opcode: 1,
        inflight: 1,
    },
    Scenario {
        id: "E2",
        title: "500 connections, 16 KiB binary, 1 in flight",
        conns: 500,
        size: 16 << 10,
        opcode: 2,
        inflight: 1,
    },
    Scenario {
        id: "E3",
        title: "100 connections, 20 B text, 16 in flight (pipelined)",
        conns: 100,
        size: 20,
        opcode: 1,
        inflight: 16,
    },
    Scenario {
        id: "E4",
        title: "500 connections, 16 KiB binary, 16 in flight (pipelined)",
        conns: 500,
        size: 16 << 10,
        opcode: 2,
        inflight: 16,
    },
];

/// One sample: the load generator's JSON line, and the figures read from it.
struct Sample {
    raw: String,
    rate: f64,
    cpu: f64,
    /// Server CPU per message in user space and in the kernel (µs).
    user: f64,
    sys: f64,
    server_util: f64,
    client_util: f64,
}

/// A number from a flat JSON object (the load generator's output).
fn field(json: &str, key: &str) -> Option<f64> {
    let i = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &json[i..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn bin(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    if !p.exists() {
        eprintln!(
            "{} not found: build every binary first (`cargo build --release` in benches/compare)",
            p.display()
        );
        std::process::exit(2);
    }
    p
}

/// Waits for a child, killing it after `limit`.
fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let t = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// With `TLS=1`: a certificate for `localhost` made for this run (rcgen),
/// as (certificate, key) paths; the certificate is also the load
/// generator's only trusted root.
fn tls_files() -> Option<(String, String)> {
    if std::env::var("TLS").is_ok_and(|v| v == "1") {
        let dir = std::env::temp_dir().join(format!("echo-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .and_then(|p| p.self_signed(&key))
            .expect("certificate");
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).expect("write certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        Some((
            cert_path.display().to_string(),
            key_path.display().to_string(),
        ))
    } else {
        None
    }
}

/// One sample of `server` under scenario `s`.
fn run_sample(
    dir: &Path,
    server: &str,
    s: &Scenario,
    conns: usize,
    warmup: f64,
    measure: f64,
    tls: Option<&(String, String)>,
) -> Result<Sample, String> {
    let mut srv = Command::new(bin(dir, "echo-server"));
    srv.arg(server);
    if let Some((cert, key)) = tls {
        srv.args(["--tls", cert, key]);
    }
    let mut srv = srv
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("spawning echo-server: {e}"))?;
    let mut line = String::new();
    let port = BufReader::new(srv.stdout.take().unwrap())
        .read_line(&mut line)
        .ok()
        .and_then(|_| line.trim().strip_prefix("listening ")?.parse::<u16>().ok());
    let result = (|| {
        let port = port.ok_or_else(|| format!("echo-server said {line:?}"))?;
        let load = Command::new(bin(dir, "echo-load"))
            .args([
                port.to_string(),
                srv.id().to_string(),
                conns.to_string(),
                s.size.to_string(),
                s.opcode.to_string(),
                s.inflight.to_string(),
                warmup.to_string(),
                measure.to_string(),
            ])
            .args(tls.map(|(cert, _)| cert))
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("spawning echo-load: {e}"))?;
        let out = std::thread::spawn(move || {
            let mut load = load;
            let mut raw = String::new();
            let mut stdout = BufReader::new(load.stdout.take().unwrap());
            let _ = stdout.read_line(&mut raw);
            let status = wait_timeout(&mut load, Duration::from_secs_f64(warmup + measure + 60.0));
            (raw, status)
        });
        let (raw, status) = out.join().map_err(|_| "load thread panicked".to_owned())?;
        match status {
            Some(st) if st.success() => {}
            Some(st) => return Err(format!("echo-load failed ({st})")),
            None => return Err("echo-load timed out".into()),
        }
        if let Ok(Some(st)) = srv.try_wait() {
            return Err(format!("echo-server exited during the run ({st})"));
        }
        let raw = raw.trim().to_owned();
        let get = |k: &str| field(&raw, k).ok_or_else(|| format!("no {k} in {raw:?}"));
        Ok(Sample {
            rate: get("msgs_per_sec")?,
            cpu: get("server_cpu_us_per_msg")?,
            user: get("server_user_us")? / get("msgs")?,
            sys: get("server_sys_us")? / get("msgs")?,
            server_util: get("server_util")?,
            client_util: get("client_util")?,
            raw,
        })
    })();
    let _ = srv.kill();
    let _ = srv.wait();
    result
}

fn main() {
    let rounds: usize = shared::env_or("ROUNDS", 5).max(1);
    let warmup: f64 = shared::env_or("WARMUP", 1.0);
    let measure: f64 = shared::env_or("DURATION", 5.0);
    let conns_cap: usize = shared::env_or("CONNS", usize::MAX).max(1);
    let out_path = std::env::var("OUT").unwrap_or_else(|_| "target/echo.json".into());
    let dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();

    let only = shared::env_list("ONLY");
    let picked = shared::env_list("CONTENDERS");
    let scenarios: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| {
            only.as_ref()
                .is_none_or(|o| o.contains(&s.id.to_lowercase()))
        })
        .collect();
    let servers: Vec<&str> = shared::SERVERS
        .iter()
        .copied()
        .filter(|s| picked.as_ref().is_none_or(|p| p.iter().any(|x| x == s)))
        .collect();
    if scenarios.is_empty() || servers.is_empty() {
        eprintln!(
            "ONLY/CONTENDERS matched nothing (scenarios E1..E4; {})",
            shared::SERVERS.join(", ")
        );
        std::process::exit(2);
    }
    let conns_of = |s: &Scenario| s.conns.min(conns_cap);

    let cpu = shared::cpu_model();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let rustc = env!("COMPARE_RUSTC_VERSION");
    let rev = env!("COMPARE_WEBWIRE_REV");
    let versions = shared::crate_versions();
    let tls = tls_files();
    if tls.is_some() {
        println!("# webwire loopback echo over TLS");
    } else {
        println!("# webwire loopback echo");
    }
    println!();
    println!("- CPU: {cpu} ({cores} logical cores available)");
    println!("- {rustc}; webwire source: {rev}");
    println!("- crates: {versions}");
    println!(
        "- {rounds} rounds (median reported), warm-up {warmup} s, measured {measure} s per sample"
    );
    println!(
        "- servers: tokio current-thread runtime, a task per connection, TCP_NODELAY; load: `echo-load`, single-threaded{}",
        if tls.is_some() {
            "; TLS: every server behind the same tokio-rustls (ring, TLS 1.3), the load a tokio-rustls client"
        } else {
            ""
        }
    );
    println!();

    let mut samples: BTreeMap<(usize, usize), Vec<Sample>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    for round in 0..rounds {
        for (si, s) in scenarios.iter().enumerate() {
            for k in 0..servers.len() {
                let ci = (k + round) % servers.len();
                let name = servers[ci];
                eprint!("\rround {}/{rounds} {} {name:<18}", round + 1, s.id);
                match run_sample(&dir, name, s, conns_of(s), warmup, measure, tls.as_ref()) {
                    Ok(sample) => samples.entry((si, ci)).or_default().push(sample),
                    Err(e) => {
                        eprintln!("\n{} {name}: FAILED: {e}", s.id);
                        failures.push(format!("{} {name}: {e}", s.id));
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    eprintln!();

    // Tables: throughput, then server CPU per message.
    let med = |si: usize, ci: usize, f: fn(&Sample) -> f64| -> Option<f64> {
        let v: Vec<f64> = samples.get(&(si, ci))?.iter().map(f).collect();
        Some(shared::median(&v))
    };
    let rate = |x: &Sample| x.rate;
    let cpu_us = |x: &Sample| x.cpu;
    let peer_idx: Vec<usize> = (0..servers.len())
        .filter(|&ci| shared::PEERS.contains(&servers[ci]))
        .collect();
    let mut json_scen = Vec::new();
    let header = |t: &str| {
        let mut h = format!("| scenario | {t} |");
        for s in &servers {
            h.push_str(&format!(" {s} |"));
        }
        h.push_str(" spread |\n|---|---|");
        h.push_str(&"---:|".repeat(servers.len() + 1));
        h
    };
    let mut t_rate = header("msgs/s ↑");
    let mut t_cpu = header("server CPU µs/msg ↓");
    let mut t_best = header("msgs/s ↑");
    let mut t_util = header("server / client CPU use");
    let mut t_split = header("server µs/msg: user / kernel ↓");
    for (si, s) in scenarios.iter().enumerate() {
        let best_rate = peer_idx
            .iter()
            .filter_map(|&ci| med(si, ci, rate).map(|r| (ci, r)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let best_cpu = peer_idx
            .iter()
            .filter_map(|&ci| med(si, ci, cpu_us).map(|r| (ci, r)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let label = format!("{} {} ({} conns)", s.id, s.title, conns_of(s));
        let mut r5 = format!("\n| {label} | user / kernel |");
        let (mut r1, mut r2, mut r3, mut r4) = (
            format!("\n| {label} | msgs/s |"),
            format!("\n| {label} | µs/msg |"),
            format!("\n| {label} | % of a core |"),
            format!("\n| {label} | msgs/s |"),
        );
        let best_of = |ci: usize| {
            samples
                .get(&(si, ci))
                .map(|v| v.iter().map(rate).fold(0.0, f64::max))
        };
        let best_best = peer_idx
            .iter()
            .filter_map(|&ci| best_of(ci))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let (mut spread_r, mut spread_c) = (0f64, 0f64);
        let mut json_c = Vec::new();
        for (ci, name) in servers.iter().enumerate() {
            let Some(v) = samples.get(&(si, ci)) else {
                r1.push_str(" failed |");
                r2.push_str(" failed |");
                r3.push_str(" failed |");
                r4.push_str(" failed |");
                r5.push_str(" failed |");
                continue;
            };
            let best = best_of(ci).unwrap_or(f64::NAN);
            // Samples in which server and load generator together did not get
            // 1.5 cores: something else was running.
            let contended = v
                .iter()
                .filter(|x| x.server_util + x.client_util < 1.5)
                .count();
            let rates: Vec<f64> = v.iter().map(rate).collect();
            let cpus: Vec<f64> = v.iter().map(cpu_us).collect();
            let (mr, mc) = (shared::median(&rates), shared::median(&cpus));
            let su = shared::median(&v.iter().map(|x| x.server_util).collect::<Vec<_>>());
            let cu = shared::median(&v.iter().map(|x| x.client_util).collect::<Vec<_>>());
            spread_r = spread_r.max(shared::iqr_rel(&rates));
            spread_c = spread_c.max(shared::iqr_rel(&cpus));
            let vr = best_rate.map(|(_, b)| mr / b);
            let vc = best_cpu.map(|(_, b)| b / mc);
            let fmt_ratio = |x: Option<f64>| x.map_or(String::new(), |x| format!(" ({x:.2}×)"));
            r1.push_str(&format!(" {mr:.0}{} |", fmt_ratio(vr)));
            r2.push_str(&format!(" {mc:.2}{} |", fmt_ratio(vc)));
            r3.push_str(&format!(
                " {:.0}% / {:.0}%{} |",
                su * 100.0,
                cu * 100.0,
                if contended > 0 {
                    format!(" ({contended}/{} contended)", v.len())
                } else {
                    String::new()
                }
            ));
            let mu = shared::median(&v.iter().map(|x| x.user).collect::<Vec<_>>());
            let ms = shared::median(&v.iter().map(|x| x.sys).collect::<Vec<_>>());
            r5.push_str(&format!(" {mu:.2} / {ms:.2} |"));
            let vb = best_best.map(|b| best / b);
            r4.push_str(&format!(" {best:.0}{} |", fmt_ratio(vb)));
            json_c.push(format!(
                "{{\"name\":{},\"best_msgs_per_sec\":{},\"best_rate_vs_best_peer\":{},\"contended_samples\":{contended},\"median_msgs_per_sec\":{},\"median_cpu_us_per_msg\":{},\"median_user_us_per_msg\":{},\"median_sys_us_per_msg\":{},\"median_server_util\":{},\"median_client_util\":{},\"rate_vs_best_peer\":{},\"cpu_vs_best_peer\":{},\"iqr_over_median_rate\":{},\"iqr_over_median_cpu\":{},\"samples\":[{}]}}",
                shared::json_str(name),
                shared::json_num(best),
                vb.map_or("null".into(), shared::json_num),
                shared::json_num(mr),
                shared::json_num(mc),
                shared::json_num(mu),
                shared::json_num(ms),
                shared::json_num(su),
                shared::json_num(cu),
                vr.map_or("null".into(), shared::json_num),
                vc.map_or("null".into(), shared::json_num),
                shared::json_num(shared::iqr_rel(&rates)),
                shared::json_num(shared::iqr_rel(&cpus)),
                v.iter().map(|x| x.raw.as_str()).collect::<Vec<_>>().join(",")
            ));
        }
        r1.push_str(&format!(" ±{:.0}% |", spread_r * 50.0));
        r2.push_str(&format!(" ±{:.0}% |", spread_c * 50.0));
        r3.push_str(" |");
        r4.push_str(" |");
        r5.push_str(" |");
        t_split.push_str(&r5);
        t_best.push_str(&r4);
        t_rate.push_str(&r1);
        t_cpu.push_str(&r2);
        t_util.push_str(&r3);
        let best_name = |b: Option<(usize, f64)>| {
            b.map_or("null".into(), |(ci, _)| shared::json_str(servers[ci]))
        };
        json_scen.push(format!(
            "{{\"id\":{},\"title\":{},\"conns\":{},\"size\":{},\"opcode\":{},\"inflight\":{},\"best_peer_rate\":{},\"best_peer_cpu\":{},\"contenders\":[{}]}}",
            shared::json_str(s.id),
            shared::json_str(s.title),
            conns_of(s),
            s.size,
            s.opcode,
            s.inflight,
            best_name(best_rate),
            best_name(best_cpu),
            json_c.join(",")
        ));
    }
    println!("## Throughput\n\n{t_rate}\n");
    println!("## Server CPU per message (user + system, from /proc/PID/stat)\n\n{t_cpu}\n");
    println!(
        "## Server CPU per message, split: user space (the WebSocket library, tokio, the adapter) / kernel (socket calls, TCP on loopback)\n\n{t_split}\n"
    );
    println!("## CPU use during the measured window (server / load generator)\n\n{t_util}\n");
    println!(
        "## Throughput, best sample (the least disturbed by other load; ratio to the best peer's best)\n\n{t_best}\n"
    );
    println!(
        "Cells: median (ratio to the best of tokio-tungstenite/fastwebsockets/tokio-websockets; >1 = better:"
    );
    println!(
        "more msgs/s, or less CPU per message). spread: widest interquartile range in the row, ± half of it."
    );
    println!(
        "A load generator near 100% of its core means the client, not the server, limited msgs/s: compare CPU per message then."
    );
    println!(
        "contended: samples in which server and load generator together got less than 1.5 cores (other load on the machine)."
    );

    let json = format!(
        "{{\"machine\":{{\"cpu\":{},\"cores\":{cores},\"rustc\":{}}},\"webwire_rev\":{},\"versions\":{},\"rounds\":{rounds},\"warmup_secs\":{warmup},\"measure_secs\":{measure},\"scenarios\":[{}],\"failures\":[{}]}}\n",
        shared::json_str(&cpu),
        shared::json_str(rustc),
        shared::json_str(rev),
        shared::json_str(&versions),
        json_scen.join(","),
        failures
            .iter()
            .map(|f| shared::json_str(f))
            .collect::<Vec<_>>()
            .join(",")
    );
    if let Some(d) = Path::new(&out_path).parent() {
        let _ = std::fs::create_dir_all(d);
    }
    std::fs::write(&out_path, json).unwrap_or_else(|e| panic!("writing {out_path}: {e}"));
    println!("\nJSON written to {out_path}");
    if !failures.is_empty() {
        eprintln!("{} sample(s) failed:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}
