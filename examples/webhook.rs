//! Sign or verify a webhook from the command line.
//!
//! ```text
//! webhook sign   --scheme S --secret SECRET [--id ID] [--timestamp UNIX] [--body-file F]
//! webhook verify --scheme S --secret SECRET [--secret …] --header 'Name: value' [--header …]
//!                [--now UNIX] [--tolerance SECONDS] [--body-file F]
//! ```
//!
//! The body is read from standard input unless `--body-file` is given.
//! `sign` prints the headers to add, one `name: value` per line; `verify`
//! prints `ok` and exits 0, or one line `error: …` and exits 1. Schemes:
//! standard, svix, github, stripe, slack, shopify.
//!
//! ```text
//! $ printf '{"test": 2432232314}' | cargo run -q --example webhook -- sign --scheme standard \
//!     --secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw --id msg_p5jXN8AQM9LWM0D4loKWxJek --timestamp 1614265330
//! webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
//! webhook-timestamp: 1614265330
//! webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
//! ```

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use webwire::random::{RandomSource, SeededRandom};
use webwire::webhook::{Scheme, Secret, Signer, Verifier};

const USAGE: &str = "usage:
  webhook sign   --scheme S --secret SECRET [--id ID] [--timestamp UNIX] [--body-file F]
  webhook verify --scheme S --secret SECRET [--secret ...] --header 'Name: value' [--header ...]
                 [--now UNIX] [--tolerance SECONDS] [--body-file F]
schemes: standard, svix, github, stripe, slack, shopify";

#[derive(Default)]
struct Args {
    scheme: Option<String>,
    secrets: Vec<String>,
    id: Option<String>,
    timestamp: Option<u64>,
    now: Option<u64>,
    tolerance: Option<u64>,
    headers: Vec<String>,
    body_file: Option<String>,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "sign" => parse_args(rest).and_then(|a| sign(&a)),
        "verify" => parse_args(rest).and_then(|a| verify(&a)),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .is_err()
            {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // `verify` reports on stdout (its answer); `sign` keeps stdout for headers only.
            if command == "verify" {
                println!("error: {e}");
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--scheme" => a.scheme = Some(value()?),
            "--secret" => a.secrets.push(value()?),
            "--id" => a.id = Some(value()?),
            "--timestamp" => a.timestamp = Some(number(value()?)?),
            "--now" => a.now = Some(number(value()?)?),
            "--tolerance" => a.tolerance = Some(number(value()?)?),
            "--header" => a.headers.push(value()?),
            "--body-file" => a.body_file = Some(value()?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

fn scheme(a: &Args) -> Result<Scheme, String> {
    let name = a.scheme.as_deref().ok_or("--scheme is required")?;
    Scheme::by_name(name).ok_or_else(|| {
        format!("unknown scheme `{name}` (standard, svix, github, stripe, slack, shopify)")
    })
}

fn secrets(a: &Args, scheme: &Scheme) -> Result<Vec<Secret>, String> {
    if a.secrets.is_empty() {
        return Err("--secret is required".into());
    }
    a.secrets
        .iter()
        .map(|s| Secret::parse(scheme, s).map_err(|e| e.to_string()))
        .collect()
}

fn body(a: &Args) -> Result<Vec<u8>, String> {
    match &a.body_file {
        Some(path) => std::fs::read(path).map_err(|e| format!("{path}: {e}")),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("stdin: {e}"))?;
            Ok(buf)
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn sign(a: &Args) -> Result<String, String> {
    let scheme = scheme(a)?;
    let mut keys = secrets(a, &scheme)?.into_iter();
    let first = keys.next().ok_or("--secret is required")?;
    let mut signer = Signer::new(scheme, first).map_err(|e| e.to_string())?;
    for k in keys {
        signer = signer.with_secret(k).map_err(|e| e.to_string())?;
    }
    let timestamp = a.timestamp.unwrap_or_else(unix_now);
    let id = match &a.id {
        Some(id) => id.clone(),
        None => {
            // A fresh id: this example does I/O, so it may read the clock.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            let mut r = SeededRandom::new(nanos ^ u64::from(std::process::id()).rotate_left(32));
            format!("msg_{:016x}{:016x}", r.next_u64(), r.next_u64())
        }
    };
    let body = body(a)?;
    let headers = signer
        .sign(&id, timestamp, &body)
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    for (name, value) in &headers {
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(value.to_str().map_err(|e| e.to_string())?);
        out.push('\n');
    }
    Ok(out)
}

fn verify(a: &Args) -> Result<String, String> {
    let scheme = scheme(a)?;
    let mut keys = secrets(a, &scheme)?.into_iter();
    let first = keys.next().ok_or("--secret is required")?;
    let mut verifier = Verifier::new(scheme, first).map_err(|e| e.to_string())?;
    for k in keys {
        verifier = verifier.with_secret(k).map_err(|e| e.to_string())?;
    }
    if let Some(t) = a.tolerance {
        verifier = verifier.with_tolerance(t);
    }
    let mut headers = HeaderMap::new();
    for h in &a.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("--header `{h}`: expected `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("invalid header name `{name}`"))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| format!("invalid value for header `{name}`"))?;
        headers.append(name, value);
    }
    let body = body(a)?;
    verifier
        .verify(&headers, &body, a.now.unwrap_or_else(unix_now))
        .map(|_| "ok\n".to_owned())
        .map_err(|e| e.to_string())
}
