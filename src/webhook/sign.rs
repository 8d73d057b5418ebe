//! Signing outgoing webhook requests.

use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, Uri};

use super::scheme::{Encoding, Layout, Scheme, TimestampSource};
use super::secret::{Secret, SecretError};
use super::verify::check_key;
use crate::encoding;

/// The default `user-agent` of [`Signer::request`].
pub const DEFAULT_USER_AGENT: &str = concat!("webwire/", env!("CARGO_PKG_VERSION"));

/// Signs webhook requests: produces the headers to add, or a ready
/// `http::Request`.
///
/// Time is an argument (unix seconds); [`sign_now`](Signer::sign_now) reads
/// the system clock. Schemes that carry several signatures (Standard
/// Webhooks, Svix, Stripe) can sign with several secrets at once, so that
/// receivers can rotate keys without downtime.
///
/// ```
/// use webwire::webhook::{Scheme, Secret, Signer};
///
/// let scheme = Scheme::standard();
/// let secret = Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let signer = Signer::new(scheme, secret)?;
///
/// let headers = signer.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#)?;
/// assert_eq!(headers["webhook-signature"], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
///
/// // Or a complete POST request.
/// let request = signer.request("https://example.com/hooks", "msg_1", 1614265330, b"{}".to_vec())?;
/// assert_eq!(request.method(), http::Method::POST);
/// assert_eq!(request.headers()["content-type"], "application/json");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Signer {
    scheme: Scheme,
    secrets: Vec<Secret>,
    user_agent: HeaderValue,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The message id is empty or not visible ASCII (it travels in a header).
    #[error("the message id must be non-empty visible ASCII without spaces")]
    InvalidId,
    /// The endpoint URL does not parse.
    #[error("invalid endpoint URL")]
    InvalidUrl,
}

impl Signer {
    /// A signer for `scheme` with one secret.
    ///
    /// Fails for keys that cannot sign with this scheme (an Ed25519 public
    /// key, or an Ed25519 key outside Standard Webhooks).
    pub fn new(scheme: Scheme, secret: Secret) -> Result<Self, SecretError> {
        check_key(&scheme, &secret, "sign")?;
        Ok(Self {
            scheme,
            secrets: vec![secret],
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        })
    }

    /// Also signs with `secret`, adding a second signature to each request
    /// (schemes with a signature list only).
    pub fn with_secret(mut self, secret: Secret) -> Result<Self, SecretError> {
        check_key(&self.scheme, &secret, "sign")?;
        if !self.scheme.allows_several_signatures() {
            return Err(SecretError::SingleSignature {
                scheme: self.scheme.name().to_owned(),
            });
        }
        self.secrets.push(secret);
        Ok(self)
    }

    /// Sets the `user-agent` of [`request`](Self::request) (default
    /// [`DEFAULT_USER_AGENT`]).
    pub fn with_user_agent(mut self, user_agent: HeaderValue) -> Self {
        self.user_agent = user_agent;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The headers to add to a request carrying `body`, for message `id`
    /// (ignored by schemes without an id) at `timestamp` (unix seconds;
    /// ignored by schemes without one), in the order id, timestamp,
    /// signature.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> Result<HeaderMap, SignError> {
        let scheme = &self.scheme;
        let ts = timestamp.to_string();
        let mut headers = HeaderMap::with_capacity(3);
        let id_bytes: &[u8] = match &scheme.id_header {
            Some(name) => {
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(SignError::InvalidId);
                }
                headers.insert(name.clone(), value(id)?);
                id.as_bytes()
            }
            None => b"",
        };
        if let TimestampSource::Header(name) = &scheme.timestamp {
            headers.insert(name.clone(), value(&ts)?);
        }
        let ts_bytes: &[u8] = if scheme.has_timestamp() {
            ts.as_bytes()
        } else {
            b""
        };

        let mut out = String::with_capacity(16 + 90 * self.secrets.len());
        match &scheme.layout {
            Layout::VersionedList => {
                for (i, secret) in self.secrets.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    self.signature(secret, id_bytes, ts_bytes, body, &mut out);
                }
            }
            Layout::KeyValue => {
                out.push_str("t=");
                out.push_str(&ts);
                for secret in &self.secrets {
                    out.push(',');
                    self.signature(secret, id_bytes, ts_bytes, body, &mut out);
                }
            }
            Layout::Single { prefix } => {
                out.push_str(prefix);
                if let Some(secret) = self.secrets.first() {
                    self.signature(secret, id_bytes, ts_bytes, body, &mut out);
                }
            }
        }
        // A signature verifies for as long as the tolerance allows: marked
        // sensitive, it shows as `Sensitive` in `Debug` output (the headers,
        // the request, a `Dispatch`) and HPACK/QPACK never index it.
        let mut signature = value(&out)?;
        signature.set_sensitive(true);
        headers.insert(scheme.signature_header.clone(), signature);
        Ok(headers)
    }

    /// [`sign`](Self::sign) at the system clock's current time.
    pub fn sign_now(&self, id: &str, body: &[u8]) -> Result<HeaderMap, SignError> {
        self.sign(id, super::unix_now(), body)
    }

    /// A ready `POST` of `body` to `url`, with `content-type:
    /// application/json`, the user agent and the signature headers.
    pub fn request(
        &self,
        url: &str,
        id: &str,
        timestamp: u64,
        body: Vec<u8>,
    ) -> Result<Request<Vec<u8>>, SignError> {
        let uri: Uri = url.parse().map_err(|_| SignError::InvalidUrl)?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(SignError::InvalidUrl);
        }
        let signed = self.sign(id, timestamp, &body)?;
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, self.user_agent.clone());
        headers.extend(signed);
        Ok(request)
    }

    /// [`request`](Self::request) at the system clock's current time.
    pub fn request_now(
        &self,
        url: &str,
        id: &str,
        body: Vec<u8>,
    ) -> Result<Request<Vec<u8>>, SignError> {
        self.request(url, id, super::unix_now(), body)
    }

    /// Appends one encoded signature (with its version marker in list
    /// layouts).
    fn signature(&self, secret: &Secret, id: &[u8], ts: &[u8], body: &[u8], out: &mut String) {
        let scheme = &self.scheme;
        if let Some(mac) = secret.hmac(|f| scheme.for_each_part(id, ts, body, f)) {
            match scheme.layout {
                Layout::VersionedList => out.push_str("v1,"),
                Layout::KeyValue => out.push_str("v1="),
                Layout::Single { .. } => {}
            }
            match scheme.encoding {
                Encoding::Hex => encoding::hex_encode(&mac, out),
                Encoding::Base64 => encoding::b64_encode(&mac, out),
            }
        } else {
            #[cfg(feature = "ed25519")]
            self.ed25519_signature(secret, id, ts, body, out);
        }
    }

    #[cfg(feature = "ed25519")]
    fn ed25519_signature(
        &self,
        secret: &Secret,
        id: &[u8],
        ts: &[u8],
        body: &[u8],
        out: &mut String,
    ) {
        let scheme = &self.scheme;
        if let super::secret::Key::Ed25519Signing(key) = &secret.key {
            use ed25519_dalek::Signer as _;
            let mut message = Vec::with_capacity(id.len() + ts.len() + body.len() + 2);
            scheme.for_each_part(id, ts, body, |p| message.extend_from_slice(p));
            // Signing with an in-memory key does not fail.
            if let Ok(sig) = key.try_sign(&message) {
                out.push_str("v1a,");
                encoding::b64_encode(&sig.to_bytes(), out);
            }
        }
    }
}

fn value(s: &str) -> Result<HeaderValue, SignError> {
    HeaderValue::from_str(s).map_err(|_| SignError::InvalidId)
}
