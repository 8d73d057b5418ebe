//! Certificates made at test time, the example binaries, and the peers
//! (Python, Node, Chromium) with the skip-or-fail rule of the crate's own
//! interop tests: a missing peer fails under CI and is skipped elsewhere.
#![allow(dead_code)]

#[path = "../../../../tests/interop_support/process.rs"]
mod process;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub use process::{Proc, TempDir, env_var, peer_missing};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _,
};

/// How long any single step (start-up, one echo, an exit) may take.
pub const STEP: Duration = Duration::from_secs(20);

/// Where the peer scripts live.
pub const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

/// A test CA (`ca.pem`) and a certificate it signed for `localhost` and
/// 127.0.0.1 (`cert.pem`, `key.pem`).
pub struct Certs {
    pub dir: TempDir,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, base64: what
    /// Chromium's `--ignore-certificate-errors-spki-list` trusts.
    pub spki_sha256: String,
}

impl Certs {
    pub fn new() -> Self {
        let dir = TempDir::new("h2-certs");
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "h2 test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let mut leaf =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let sha256 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .expect("a TLS 1.3 suite")
            .common
            .hash_provider
            .hash(&key.subject_public_key_info());
        use base64::Engine as _;
        let spki_sha256 = base64::engine::general_purpose::STANDARD.encode(sha256.as_ref());
        Self { dir, spki_sha256 }
    }

    pub fn arg(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Starts a server binary or script whose first stdout line is
/// `listening on https://127.0.0.1:PORT`; returns it and the port.
pub fn start(name: &str, cmd: &mut Command) -> (Proc, u16) {
    let server = Proc::spawn(name, cmd);
    let line = server.line_starting_with("listening on https://127.0.0.1:", STEP);
    let port = line
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name}: bad ready line {line:?}"));
    (server, port)
}

/// `h2_echo` with the test certificate, on a free port.
pub fn h2_echo(certs: &Certs) -> (Proc, u16) {
    our_server("h2_echo", env!("CARGO_BIN_EXE_h2_echo"), certs)
}

/// `h3_echo` with the test certificate, on a free UDP port.
pub fn h3_echo(certs: &Certs) -> (Proc, u16) {
    our_server("h3_echo", env!("CARGO_BIN_EXE_h3_echo"), certs)
}

fn our_server(name: &str, binary: &str, certs: &Certs) -> (Proc, u16) {
    start(
        name,
        Command::new(binary).args([
            "--tls-cert",
            &certs.arg("cert.pem"),
            "--tls-key",
            &certs.arg("key.pem"),
            "--addr",
            "127.0.0.1:0",
        ]),
    )
}

/// The Python with the peers of `.ci/requirements.txt` (`$WEBWIRE_PYTHON`,
/// else `python3`), if it has `modules`.
pub fn python(test: &str, modules: &str) -> Option<String> {
    let python = env_var("WEBWIRE_PYTHON").unwrap_or_else(|| "python3".into());
    let check = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output();
    match check {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => {
            let problem = format!(
                "{python} cannot import {modules}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            peer_missing(
                test,
                &problem,
                "pip install -r .ci/requirements.txt, set WEBWIRE_PYTHON",
            );
            None
        }
        Err(e) => {
            peer_missing(
                test,
                &format!("cannot run {python}: {e}"),
                "install Python 3",
            );
            None
        }
    }
}

/// Node with `ws` on its path (`$WEBWIRE_NODE_PATH`, as in .ci/run).
pub fn node(test: &str) -> Option<(String, String)> {
    let Some(path) = env_var("WEBWIRE_NODE_PATH") else {
        peer_missing(
            test,
            "WEBWIRE_NODE_PATH is not set",
            "npm install --prefix DIR ws@8.23.0, set WEBWIRE_NODE_PATH=DIR/node_modules",
        );
        return None;
    };
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => Some(("node".into(), path)),
        _ => {
            peer_missing(test, "node does not run", "install Node.js");
            None
        }
    }
}

/// Chromium (`$WEBWIRE_CHROMIUM`, default `/usr/bin/chromium`).
pub fn chromium(test: &str) -> Option<PathBuf> {
    let path = env_var("WEBWIRE_CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into());
    match Command::new(&path).arg("--version").output() {
        Ok(out) if out.status.success() => Some(path.into()),
        _ => {
            peer_missing(
                test,
                &format!("{path} does not run"),
                "apt install chromium",
            );
            None
        }
    }
}

/// Text of `len` characters, many of them outside ASCII.
pub fn text(len: usize) -> String {
    "héllo wörld ✓ 🦀 ".chars().cycle().take(len).collect()
}

/// `len` bytes of a fixed pattern.
pub fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}
