//! Certificates made at test time with rcgen: a test CA (`ca.pem`), a
//! `localhost` certificate it signed (`good.pem`/`good.key`), an expired
//! one (`expired.*`) and one from a CA nobody trusts (`unknown.*`).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData as _, date_time_ymd,
};

use std::process::Command;

use super::{Proc, STEP, TempDir, example};

/// PEM files for the tests, in a scratch directory.
pub struct Certs {
    dir: TempDir,
}

impl Certs {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// `echo_server` serving `wss://` with `NAME.pem`/`NAME.key`; its port.
    pub fn echo_server(&self, name: &str) -> (Proc, u16) {
        self.server("echo_server", name)
    }

    /// The example server `example` serving TLS with `NAME.pem`/`NAME.key`;
    /// its port.
    pub fn server(&self, example_name: &str, name: &str) -> (Proc, u16) {
        let server = Proc::spawn(
            example_name,
            Command::new(example(example_name)).args([
                "--addr",
                "127.0.0.1:0",
                "--tls-cert",
                &self.arg(&format!("{name}.pem")),
                "--tls-key",
                &self.arg(&format!("{name}.key")),
            ]),
        );
        let line = server.line_starting_with("listening on ", STEP);
        let port = line
            .trim()
            .strip_prefix("listening on wss://127.0.0.1:")
            .or_else(|| line.trim().strip_prefix("listening on https://127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{example_name} said {line:?}"));
        (server, port)
    }

    /// The base64 SHA-256 of certificate `NAME.pem`'s public key (its
    /// SubjectPublicKeyInfo): what Chromium's
    /// `--ignore-certificate-errors-spki-list` trusts, and only that key.
    pub fn spki_sha256(&self, name: &str) -> String {
        let pem = std::fs::read_to_string(self.path(&format!("{name}.key"))).unwrap();
        let spki = KeyPair::from_pem(&pem).unwrap().subject_public_key_info();
        let sha256 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .expect("a TLS 1.3 suite")
            .common
            .hash_provider
            .hash(&spki);
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(sha256.as_ref())
    }
}

/// A CA named `name`: its certificate (written to `NAME.pem`) and issuer.
fn ca(dir: &Path, name: &str) -> Issuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    Issuer::new(params, key)
}

/// A certificate for `localhost` signed by `issuer`, written to `NAME.pem`
/// and `NAME.key`; `expired` puts its validity in 2020.
fn leaf(dir: &Path, name: &str, issuer: &Issuer<'_, KeyPair>, expired: bool) {
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2020, 12, 31);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
}

pub fn certs() -> Certs {
    let dir = TempDir::new("tls");
    let trusted = ca(dir.path(), "ca");
    let stranger = ca(dir.path(), "stranger-ca");
    leaf(dir.path(), "good", &trusted, false);
    leaf(dir.path(), "expired", &trusted, true);
    leaf(dir.path(), "unknown", &stranger, false);
    Certs { dir }
}
