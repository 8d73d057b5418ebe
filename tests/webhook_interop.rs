//! Interop with the reference Python libraries: webwire signs and the PyPI
//! packages `standardwebhooks`, `svix` and `stripe` verify, and the reverse.
//!
//! Runs `$WEBWIRE_PYTHON` (default `python3`) with
//! `tests/webhook_interop/interop.py`. If the packages are not importable the
//! test prints a notice and passes, except under CI (`CI` set), where it
//! fails so that interop cannot be skipped silently. Install them with
//! `pip install standardwebhooks svix stripe`.
#![cfg(feature = "webhook")]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use webwire::random::{RandomSource, SeededRandom};
use webwire::webhook::{Scheme, Secret, Signer, Verifier, VerifyError};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/webhook_interop/interop.py"
);

fn python() -> String {
    std::env::var("WEBWIRE_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Whether the reference libraries can be used; fails under CI if not.
fn libraries_available() -> bool {
    let out = Command::new(python())
        .arg(SCRIPT)
        .arg("check")
        .stdin(Stdio::null())
        .output();
    let problem = match out {
        Ok(o) if o.status.success() && o.stdout.starts_with(b"ok") => return true,
        Ok(o) => String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("import failed")
            .to_owned(),
        Err(e) => format!("cannot run {}: {e}", python()),
    };
    let ci = std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false);
    assert!(
        !ci,
        "CI is set but the Python reference libraries are unavailable ({problem}); \
         run `pip install standardwebhooks svix stripe` or set WEBWIRE_PYTHON"
    );
    eprintln!(
        "SKIPPED webhook interop: Python reference libraries unavailable ({problem}); \
         `pip install standardwebhooks svix stripe` to run it"
    );
    false
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `requests` (one per line) to `interop.py batch`; one answer each.
fn batch(requests: &[String]) -> Vec<String> {
    let mut child = Command::new(python())
        .arg(SCRIPT)
        .arg("batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python");
    let mut input = String::new();
    for r in requests {
        input.push_str(r);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python batch");
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(answers.len(), requests.len(), "one answer per request");
    answers
}

fn header_map(lines: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in lines.split('\t') {
        let (name, value) = line.split_once(": ").unwrap();
        h.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    h
}

fn header_lines(h: &HeaderMap) -> Vec<String> {
    h.iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect()
}

struct Case {
    scheme: &'static str,
    secret: String,
    id: String,
    body: Vec<u8>,
}

fn cases(now: u64) -> Vec<Case> {
    let mut rng = SeededRandom::new(now);
    let random_whsec = Secret::generate(&mut rng).expose_whsec().unwrap();
    let unpadded = random_whsec.trim_end_matches('=').to_owned();
    let stripe_secret = format!("whsec_{}", hex(&rng.next_u64().to_le_bytes()));
    let line: &[u8] = "{\"k\": [1, 2.5, \"\u{e9}\"]}\n".as_bytes();
    let big: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 3000)
        .collect();
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"test": 2432232314}"#.to_vec(),
        "{\"name\": \"Zo\u{eb} \u{1f600}\",\n \"n\": -0.0 }"
            .as_bytes()
            .to_vec(),
        Vec::new(),
        big,
    ];
    let mut out = Vec::new();
    for (scheme, secrets) in [
        (
            "standard",
            vec![
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
                random_whsec.clone(),
                unpadded.clone(),
            ],
        ),
        ("svix", vec![random_whsec, unpadded]),
        ("stripe", vec![stripe_secret, "sk_not_prefixed".to_owned()]),
    ] {
        for secret in secrets {
            for (i, body) in bodies.iter().enumerate() {
                out.push(Case {
                    scheme,
                    secret: secret.clone(),
                    id: format!("msg_{}_{i}", rng.next_u32()),
                    body: body.clone(),
                });
            }
        }
    }
    out
}

fn tampered(body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    match b.first_mut() {
        Some(c) if *c == b'{' => *c = b'[',
        Some(c) => *c ^= 1,
        None => b.push(b' '),
    }
    b
}

#[test]
fn python_reference_libraries_agree() {
    if !libraries_available() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = cases(now);
    let mut requests = Vec::new();
    for c in &cases {
        let scheme = Scheme::by_name(c.scheme).unwrap();
        let signer =
            Signer::new(scheme.clone(), Secret::parse(&scheme, &c.secret).unwrap()).unwrap();
        let h = signer.sign(&c.id, now, &c.body).unwrap();
        let lines = header_lines(&h).join("\t");
        // webwire signs → Python verifies (and rejects a tampered body).
        requests.push(format!(
            "verify\t{}\t{}\t{}\t{lines}",
            c.scheme,
            c.secret,
            hex(&c.body)
        ));
        requests.push(format!(
            "verify\t{}\t{}\t{}\t{lines}",
            c.scheme,
            c.secret,
            hex(&tampered(&c.body))
        ));
        // Python signs → webwire verifies, below.
        requests.push(format!(
            "sign\t{}\t{}\t{}\t{now}\t{}",
            c.scheme,
            c.secret,
            c.id,
            hex(&c.body)
        ));
    }
    let answers = batch(&requests);
    let mut checked = 0;
    for (c, a) in cases.iter().zip(answers.chunks(3)) {
        let what = format!(
            "{} secret={} id={} body={}B",
            c.scheme,
            c.secret,
            c.id,
            c.body.len()
        );
        assert_eq!(a[0], "ok", "Python rejected webwire's signature: {what}");
        assert!(
            a[1].starts_with("error: "),
            "Python accepted a tampered body: {what}: {}",
            a[1]
        );

        let scheme = Scheme::by_name(c.scheme).unwrap();
        let verifier =
            Verifier::new(scheme.clone(), Secret::parse(&scheme, &c.secret).unwrap()).unwrap();
        let h = header_map(&a[2]);
        let ok = verifier.verify(&h, &c.body, now).unwrap_or_else(|e| {
            panic!(
                "webwire rejected Python's signature ({e}): {what}: {}",
                a[2]
            )
        });
        assert_eq!(ok.timestamp(), Some(now));
        if c.scheme != "stripe" {
            assert_eq!(ok.id(), Some(c.id.as_str()));
        }
        assert_eq!(
            verifier.verify(&h, &tampered(&c.body), now),
            Err(VerifyError::NoMatchingSignature),
            "{what}"
        );
        // Byte for byte the same headers as webwire's.
        let ours = Signer::new(scheme.clone(), Secret::parse(&scheme, &c.secret).unwrap())
            .unwrap()
            .sign(&c.id, now, &c.body)
            .unwrap();
        assert_eq!(header_lines(&ours).join("\t"), a[2], "{what}");
        checked += 1;
    }
    assert_eq!(checked, cases.len());
    eprintln!(
        "webhook interop: {checked} cases × 2 directions agree with standardwebhooks, svix and stripe"
    );
}
