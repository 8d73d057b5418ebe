//! Verifying signed webhook requests.

use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use subtle::ConstantTimeEq as _;

use super::header_value;
use super::replay::{ClaimState, ReplayGuard, ReplayKey};
use super::scheme::{DEFAULT_TOLERANCE, Encoding, Layout, Scheme, TimestampSource};
use super::secret::{Secret, SecretError};
use crate::encoding;

/// At most this many entries are read from one signature header...
const MAX_ENTRIES: usize = 32;
/// ...of which at most this many HMAC signatures (and as many Ed25519 ones).
const MAX_SIGNATURES: usize = 8;

/// Checks that webhook requests were signed with one of its secrets.
///
/// Hand it the request's headers, its raw body bytes (never re-serialised,
/// never required to be UTF-8) and the current unix time; it answers
/// [`Verified`] or a typed [`VerifyError`]. Several secrets may be configured
/// for key rotation: any of them may match, as may any of several signatures
/// in the header. Signatures are compared in constant time and errors never
/// reveal the expected value. Timestamps must be within the tolerance
/// (default [5 minutes](DEFAULT_TOLERANCE)) in both directions.
///
/// ```
/// use http::HeaderMap;
/// use webwire::webhook::{Scheme, Secret, Verifier, VerifyError};
///
/// let scheme = Scheme::standard();
/// let verifier = Verifier::new(
///     scheme.clone(),
///     Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?,
/// )?;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let body = br#"{"test": 2432232314}"#;
///
/// let ok = verifier.verify(&headers, body, 1614265330 + 10)?;
/// assert_eq!(ok.id(), Some("msg_p5jXN8AQM9LWM0D4loKWxJek"));
///
/// // A day later the same request is refused.
/// assert!(matches!(
///     verifier.verify(&headers, body, 1614265330 + 86_400),
///     Err(VerifyError::TimestampTooOld { .. })
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    scheme: Scheme,
    secrets: Vec<Secret>,
    tolerance: u64,
    replay_scope: Option<String>,
}

/// A request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The id header's value (shared with the request's, not copied).
    id: Option<HeaderValue>,
    timestamp: Option<u64>,
    secret_index: usize,
}

impl Verified {
    /// The signed message id, for schemes that have one (Standard Webhooks,
    /// Svix): the idempotency key of the message.
    pub fn id(&self) -> Option<&str> {
        // Checked to be visible ASCII during verification.
        self.id.as_ref().and_then(|v| v.to_str().ok())
    }

    /// The signed timestamp (unix seconds), for schemes that have one.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }

    /// Which of the verifier's secrets matched (0 is the first), to tell when
    /// an old secret can be retired.
    pub fn secret_index(&self) -> usize {
        self.secret_index
    }
}

/// What [`Verifier::verify_and_claim`] makes of a verified message.
#[derive(Debug)]
#[must_use = "process and commit, or answer 2xx to a duplicate"]
pub enum Admission {
    /// Not processed yet (or a previous attempt was released): process it,
    /// then commit or release the claim.
    Process(Claim),
    /// Processed before: answer 2xx without processing it again.
    Duplicate(Verified),
}

/// A verified message claimed for processing in a [`ReplayGuard`].
///
/// [`commit`](Self::commit) it once the message is processed, or
/// [`release`](Self::release) it if processing failed. A claim dropped
/// without either (the process died) blocks duplicates until the guard's
/// lease ends, then the sender's next retry is processed.
#[derive(Debug)]
#[must_use = "commit the claim once processed, or release it on failure"]
pub struct Claim {
    verified: Verified,
    key: ReplayKey,
}

impl Claim {
    /// The verified message.
    pub fn verified(&self) -> &Verified {
        &self.verified
    }

    /// The replay key the claim holds.
    pub fn key(&self) -> &ReplayKey {
        &self.key
    }

    /// Marks the message processed: duplicates are answered 2xx from now on.
    pub fn commit<G: ReplayGuard + ?Sized>(self, guard: &mut G, now: u64) -> Verified {
        guard.commit(&self.key, now);
        self.verified
    }

    /// Gives the claim up after a failure, so that the sender's retry is
    /// processed.
    pub fn release<G: ReplayGuard + ?Sized>(self, guard: &mut G, now: u64) -> Verified {
        guard.release(&self.key, now);
        self.verified
    }
}

/// Why a request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    #[error("missing header `{0}`")]
    MissingHeader(HeaderName),
    /// A header the scheme reads appears more than once.
    #[error("header `{0}` appears more than once")]
    DuplicateHeader(HeaderName),
    /// A header value is empty or not visible ASCII.
    #[error("header `{0}` is empty or not visible ASCII")]
    InvalidHeaderValue(HeaderName),
    /// The timestamp is not plain decimal digits (no sign, no leading zeros)
    /// fitting in 64 bits.
    #[error("invalid timestamp: expected unix seconds as plain decimal digits")]
    InvalidTimestamp,
    /// The timestamp is older than the tolerance allows.
    #[error("timestamp {timestamp} is too old (now {now}, tolerance {tolerance}s)")]
    TimestampTooOld {
        /// The request's timestamp.
        timestamp: u64,
        /// The time it was checked at.
        now: u64,
        /// The tolerance, in seconds.
        tolerance: u64,
    },
    /// The timestamp is further in the future than the tolerance allows.
    #[error("timestamp {timestamp} is in the future (now {now}, tolerance {tolerance}s)")]
    TimestampTooNew {
        /// The request's timestamp.
        timestamp: u64,
        /// The time it was checked at.
        now: u64,
        /// The tolerance, in seconds.
        tolerance: u64,
    },
    /// The signature header does not follow the scheme's format, or a
    /// signature is empty, truncated or badly encoded.
    #[error("malformed signature header: {0}")]
    MalformedSignature(&'static str),
    /// The header carries only signatures of versions this verifier does not
    /// understand (or has no key for).
    #[error("no signature of a supported version")]
    NoSupportedSignature,
    /// No signature matches any secret.
    #[error("no signature matches")]
    NoMatchingSignature,
    /// Another copy of this message is being processed right now
    /// ([`Verifier::verify_and_claim`]): answer 409, which senders retry; by
    /// then it is processed (a duplicate, answered 2xx) or released.
    #[error("message is being processed (duplicate in flight)")]
    InProgress,
}

impl VerifyError {
    /// The HTTP status to answer with: 400 for malformed requests, 401 for
    /// signatures or timestamps that do not check out, 409 for a duplicate
    /// of a message still being processed (a status senders retry).
    pub fn status_hint(&self) -> StatusCode {
        match self {
            VerifyError::MissingHeader(_)
            | VerifyError::DuplicateHeader(_)
            | VerifyError::InvalidHeaderValue(_)
            | VerifyError::InvalidTimestamp
            | VerifyError::MalformedSignature(_) => StatusCode::BAD_REQUEST,
            VerifyError::TimestampTooOld { .. }
            | VerifyError::TimestampTooNew { .. }
            | VerifyError::NoSupportedSignature
            | VerifyError::NoMatchingSignature => StatusCode::UNAUTHORIZED,
            VerifyError::InProgress => StatusCode::CONFLICT,
        }
    }
}

/// The signatures taken from the header, kept inline (no allocation).
struct Candidates {
    hmac: [[u8; 32]; MAX_SIGNATURES],
    n_hmac: usize,
    #[cfg(feature = "ed25519")]
    ed25519: [[u8; 64]; MAX_SIGNATURES],
    #[cfg(feature = "ed25519")]
    n_ed25519: usize,
}

impl Candidates {
    fn new() -> Self {
        Self {
            hmac: [[0; 32]; MAX_SIGNATURES],
            n_hmac: 0,
            #[cfg(feature = "ed25519")]
            ed25519: [[0; 64]; MAX_SIGNATURES],
            #[cfg(feature = "ed25519")]
            n_ed25519: 0,
        }
    }

    fn push_hmac(&mut self, sig: [u8; 32]) -> Result<(), VerifyError> {
        let slot = self
            .hmac
            .get_mut(self.n_hmac)
            .ok_or(VerifyError::MalformedSignature("too many signatures"))?;
        *slot = sig;
        self.n_hmac += 1;
        Ok(())
    }

    #[cfg(feature = "ed25519")]
    fn push_ed25519(&mut self, sig: [u8; 64]) -> Result<(), VerifyError> {
        let slot = self
            .ed25519
            .get_mut(self.n_ed25519)
            .ok_or(VerifyError::MalformedSignature("too many signatures"))?;
        *slot = sig;
        self.n_ed25519 += 1;
        Ok(())
    }

    fn is_empty(&self) -> bool {
        #[cfg(feature = "ed25519")]
        if self.n_ed25519 > 0 {
            return false;
        }
        self.n_hmac == 0
    }

    fn hmac(&self) -> &[[u8; 32]] {
        self.hmac.get(..self.n_hmac).unwrap_or_default()
    }

    #[cfg(feature = "ed25519")]
    fn ed25519(&self) -> &[[u8; 64]] {
        self.ed25519.get(..self.n_ed25519).unwrap_or_default()
    }
}

/// Constant-time equality of two MACs: every byte is always looked at, and
/// only the folded difference goes through `subtle`'s optimisation barrier.
fn ct_eq32(a: &[u8; 32], b: &[u8; 32]) -> subtle::Choice {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    diff.ct_eq(&0)
}

/// What the signature header holds.
struct Parsed<'a> {
    candidates: Candidates,
    /// Stripe's `t=` value.
    timestamp: Option<&'a [u8]>,
}

impl Verifier {
    /// A verifier for `scheme` with one secret.
    ///
    /// Fails if the scheme cannot use that kind of key (an Ed25519 key
    /// outside Standard Webhooks).
    pub fn new(scheme: Scheme, secret: Secret) -> Result<Self, SecretError> {
        check_key(&scheme, &secret, "verify")?;
        Ok(Self {
            scheme,
            secrets: vec![secret],
            tolerance: DEFAULT_TOLERANCE,
            replay_scope: None,
        })
    }

    /// Adds another secret (key rotation): a request signed with any of them
    /// verifies.
    pub fn with_secret(mut self, secret: Secret) -> Result<Self, SecretError> {
        check_key(&self.scheme, &secret, "verify")?;
        self.secrets.push(secret);
        Ok(self)
    }

    /// Sets how far, in seconds, a timestamp may be from `now` in either
    /// direction (default [`DEFAULT_TOLERANCE`], 5 minutes).
    pub fn with_tolerance(mut self, seconds: u64) -> Self {
        self.tolerance = seconds;
        self
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The tolerance, in seconds.
    pub fn tolerance(&self) -> u64 {
        self.tolerance
    }

    /// Verifies `headers` and the raw `body` at `now` (unix seconds).
    pub fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<Verified, VerifyError> {
        self.check(headers, body, now).map(|(v, _)| v)
    }

    /// [`verify`](Self::verify) at the system clock's current time.
    pub fn verify_now(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        self.verify(headers, body, super::unix_now())
    }

    /// Verifies an `http::Request` whose body holds the raw bytes.
    pub fn verify_request<B: AsRef<[u8]>>(
        &self,
        request: &Request<B>,
        now: u64,
    ) -> Result<Verified, VerifyError> {
        self.verify(request.headers(), request.body().as_ref(), now)
    }

    /// [`verify_request`](Self::verify_request) at the system clock's
    /// current time.
    pub fn verify_request_now<B: AsRef<[u8]>>(
        &self,
        request: &Request<B>,
    ) -> Result<Verified, VerifyError> {
        self.verify_request(request, super::unix_now())
    }

    /// Verifies, then claims the message in `guard` so that it is processed
    /// once even when the sender retries.
    ///
    /// On [`Admission::Process`], process the message, then
    /// [`commit`](Claim::commit) the claim (answer 2xx) or
    /// [`release`](Claim::release) it if processing failed (answer 5xx: the
    /// sender's retry will be processed). [`Admission::Duplicate`] is a
    /// message processed before: answer 2xx without processing it, so the
    /// sender stops retrying. A duplicate that arrives while another copy is
    /// being processed is [`VerifyError::InProgress`] (409, which senders
    /// retry).
    ///
    /// The replay key is the signed message id where the scheme has one
    /// (Standard Webhooks, Svix), otherwise a SHA-256 digest of the signed
    /// content (timestamp and body), scoped by
    /// [`with_replay_scope`](Self::with_replay_scope). Only verified messages
    /// are claimed, so forged requests cannot fill the guard.
    ///
    /// ```
    /// use webwire::webhook::{Admission, InMemoryReplayGuard, Scheme, Secret, Signer, Verifier};
    ///
    /// let scheme = Scheme::standard();
    /// let secret = Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
    /// let signer = Signer::new(scheme.clone(), secret.clone())?;
    /// let verifier = Verifier::new(scheme, secret)?.with_replay_scope("billing");
    /// let mut guard = InMemoryReplayGuard::new(verifier.tolerance(), 10_000);
    /// let now = 1_700_000_000;
    /// let headers = signer.sign("msg_1", now, b"{}")?;
    ///
    /// // First delivery: the handler fails, so the claim is released (answer 500).
    /// let Admission::Process(claim) = verifier.verify_and_claim(&headers, b"{}", now, &mut guard)? else {
    ///     unreachable!()
    /// };
    /// claim.release(&mut guard, now);
    ///
    /// // The sender retries: processed this time, committed (answer 200).
    /// match verifier.verify_and_claim(&headers, b"{}", now + 5, &mut guard)? {
    ///     Admission::Process(claim) => { /* handle the event */ claim.commit(&mut guard, now + 5); }
    ///     Admission::Duplicate(_) => unreachable!(),
    /// }
    ///
    /// // The 200 was lost and the sender retries again: answer 200, do nothing.
    /// let again = verifier.verify_and_claim(&headers, b"{}", now + 30, &mut guard)?;
    /// assert!(matches!(again, Admission::Duplicate(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_and_claim<G: ReplayGuard + ?Sized>(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
        guard: &mut G,
    ) -> Result<Admission, VerifyError> {
        let (verified, ts_text) = self.check(headers, body, now)?;
        let key = self.replay_key(&verified, ts_text, body, now);
        match guard.claim(&key, now) {
            ClaimState::Claimed => Ok(Admission::Process(Claim { verified, key })),
            ClaimState::Processed => Ok(Admission::Duplicate(verified)),
            _ => Err(VerifyError::InProgress),
        }
    }

    /// The replay key of a verified message.
    fn replay_key(&self, verified: &Verified, ts_text: &[u8], body: &[u8], now: u64) -> ReplayKey {
        let timestamp = verified.timestamp().unwrap_or(now);
        match verified.id() {
            Some(id) => ReplayKey::for_id(self.scope(), id, timestamp),
            None => ReplayKey::for_digest(
                self.scope(),
                &content_digest(&self.scheme, ts_text, body),
                timestamp,
            ),
        }
    }

    /// Sets the scope of replay keys (default: the scheme's name), so that
    /// several senders sharing one guard cannot collide on message ids.
    pub fn with_replay_scope(mut self, scope: impl Into<String>) -> Self {
        self.replay_scope = Some(scope.into());
        self
    }

    /// The scope of replay keys.
    pub fn scope(&self) -> &str {
        self.replay_scope
            .as_deref()
            .unwrap_or_else(|| self.scheme.name())
    }

    /// Verifies; also returns the timestamp's bytes for the replay key.
    fn check<'a>(
        &self,
        headers: &'a HeaderMap,
        body: &'a [u8],
        now: u64,
    ) -> Result<Checked<'a>, VerifyError> {
        let scheme = &self.scheme;
        let ts_name = match &scheme.timestamp {
            TimestampSource::Header(name) => Some(name),
            _ => None,
        };
        let [sig_found, id_found, ts_found] = find_headers(
            headers,
            [
                Some(&scheme.signature_header),
                scheme.id_header.as_ref(),
                ts_name,
            ],
        );
        let sig_value = single_header(sig_found, &scheme.signature_header)?.as_bytes();
        let id_value = match &scheme.id_header {
            Some(name) => {
                let v = single_header(id_found, name)?;
                // An id is one token: no spaces.
                if !header_value::is_visible_ascii(v.as_bytes()) {
                    return Err(VerifyError::InvalidHeaderValue(name.clone()));
                }
                Some(v)
            }
            None => None,
        };
        let id = id_value.map(HeaderValue::as_bytes);
        let parsed = parse_signatures(scheme, sig_value)?;
        let ts_bytes: Option<&[u8]> = match &scheme.timestamp {
            TimestampSource::None => None,
            TimestampSource::Header(name) => Some(single_header(ts_found, name)?.as_bytes()),
            TimestampSource::InSignature => Some(
                parsed
                    .timestamp
                    .ok_or(VerifyError::MalformedSignature("no `t=` timestamp"))?,
            ),
        };
        let timestamp = match ts_bytes {
            Some(t) => {
                let ts = header_value::parse_timestamp(t).ok_or(VerifyError::InvalidTimestamp)?;
                self.check_window(ts, now)?;
                Some(ts)
            }
            None => None,
        };
        let id_bytes = id.unwrap_or_default();
        let ts_text = ts_bytes.unwrap_or_default();

        let candidates = &parsed.candidates;
        let mut usable = false;
        for (index, secret) in self.secrets.iter().enumerate() {
            if !candidates.hmac().is_empty() {
                if let Some(expected) =
                    secret.hmac(|f| scheme.for_each_part(id_bytes, ts_text, body, f))
                {
                    usable = true;
                    let mut found = subtle::Choice::from(0);
                    for sig in candidates.hmac() {
                        found |= ct_eq32(sig, &expected);
                    }
                    if bool::from(found) {
                        return Ok((verified(id_value, timestamp, index), ts_text));
                    }
                }
            }
            #[cfg(feature = "ed25519")]
            if !candidates.ed25519().is_empty() {
                if let Some(public) = secret.ed25519_verifying_key() {
                    usable = true;
                    let mut message =
                        Vec::with_capacity(id_bytes.len() + ts_text.len() + body.len() + 2);
                    scheme.for_each_part(id_bytes, ts_text, body, |p| message.extend_from_slice(p));
                    for sig in candidates.ed25519() {
                        let sig = ed25519_dalek::Signature::from_bytes(sig);
                        if public.verify_strict(&message, &sig).is_ok() {
                            return Ok((verified(id_value, timestamp, index), ts_text));
                        }
                    }
                }
            }
        }
        Err(if usable {
            VerifyError::NoMatchingSignature
        } else {
            VerifyError::NoSupportedSignature
        })
    }

    fn check_window(&self, timestamp: u64, now: u64) -> Result<(), VerifyError> {
        let tolerance = self.tolerance;
        if now > timestamp && now - timestamp > tolerance {
            return Err(VerifyError::TimestampTooOld {
                timestamp,
                now,
                tolerance,
            });
        }
        if timestamp > now && timestamp - now > tolerance {
            return Err(VerifyError::TimestampTooNew {
                timestamp,
                now,
                tolerance,
            });
        }
        Ok(())
    }
}

fn verified(id: Option<&HeaderValue>, timestamp: Option<u64>, secret_index: usize) -> Verified {
    Verified {
        id: id.cloned(),
        timestamp,
        secret_index,
    }
}

/// A verified request, with the signed timestamp's bytes.
type Checked<'a> = (Verified, &'a [u8]);

/// SHA-256 of the signed content: the replay key of schemes without an id.
fn content_digest(scheme: &Scheme, ts: &[u8], body: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    scheme.for_each_part(b"", ts, body, |p| h.update(p));
    h.finalize().into()
}

pub(crate) fn check_key(
    scheme: &Scheme,
    secret: &Secret,
    purpose: &'static str,
) -> Result<(), SecretError> {
    let fits = secret.is_hmac() || scheme.supports_ed25519();
    let can = purpose != "sign" || secret.can_sign();
    if fits && can {
        Ok(())
    } else {
        Err(SecretError::Unsupported {
            kind: secret.kind(),
            purpose,
            scheme: scheme.name().to_owned(),
        })
    }
}

/// A header as found in the map: its first value, and whether it has more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Found<'a> {
    first: Option<&'a HeaderValue>,
    more: bool,
}

/// Maps with at most this many values are scanned once instead of looked up
/// by name: hashing a custom header name byte by byte (three per request)
/// costs more than comparing the lengths of a dozen names.
const SCAN_LIMIT: usize = 12;

/// Finds up to `N` headers (`None`: not wanted): in one pass over small
/// maps, by lookup in larger ones.
fn find_headers<'a, const N: usize>(
    headers: &'a HeaderMap,
    names: [Option<&HeaderName>; N],
) -> [Found<'a>; N] {
    if headers.len() <= SCAN_LIMIT {
        scan_headers(headers, names)
    } else {
        lookup_headers(headers, names)
    }
}

fn scan_headers<'a, const N: usize>(
    headers: &'a HeaderMap,
    names: [Option<&HeaderName>; N],
) -> [Found<'a>; N] {
    let mut found = [Found::default(); N];
    for (name, value) in headers {
        let name = name.as_str();
        for (slot, want) in found.iter_mut().zip(&names) {
            if want.is_some_and(|w| w.as_str() == name) {
                slot.more |= slot.first.is_some();
                slot.first.get_or_insert(value);
            }
        }
    }
    found
}

fn lookup_headers<'a, const N: usize>(
    headers: &'a HeaderMap,
    names: [Option<&HeaderName>; N],
) -> [Found<'a>; N] {
    let mut found = [Found::default(); N];
    for (slot, want) in found.iter_mut().zip(&names) {
        if let Some(want) = want {
            let mut values = headers.get_all(*want).iter();
            slot.first = values.next();
            slot.more = values.next().is_some();
        }
    }
    found
}

/// The one value of a header: present once, non-empty, visible ASCII or
/// spaces.
fn single_header<'a>(found: Found<'a>, name: &HeaderName) -> Result<&'a HeaderValue, VerifyError> {
    let value = found
        .first
        .ok_or_else(|| VerifyError::MissingHeader(name.clone()))?;
    if found.more {
        return Err(VerifyError::DuplicateHeader(name.clone()));
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || !header_value::is_visible_ascii_or_space(bytes) {
        return Err(VerifyError::InvalidHeaderValue(name.clone()));
    }
    Ok(value)
}

/// `value` without `prefix` (short: a plain loop beats a `memcmp` call).
fn strip_prefix<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let (head, rest) = value.split_at_checked(prefix.len())?;
    head.iter().zip(prefix).all(|(a, b)| a == b).then_some(rest)
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let at = s.iter().position(|&b| b == sep)?;
    let (a, b) = s.split_at(at);
    Some((a, b.get(1..)?))
}

/// Reads the signature header. Entries that cannot be used (unknown
/// versions, and malformed entries of any version) are skipped, as the
/// reference libraries do: the header fails only when nothing in it can be
/// checked, with the first malformation found as the reason.
fn parse_signatures<'a>(scheme: &Scheme, value: &'a [u8]) -> Result<Parsed<'a>, VerifyError> {
    let mut candidates = Candidates::new();
    let mut timestamp = None;
    let mut entries = 0usize;
    let mut malformed: Option<&'static str> = None;
    let mut skip = |why: &'static str| {
        malformed.get_or_insert(why);
    };
    match &scheme.layout {
        Layout::VersionedList => {
            for token in value.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
                entries += 1;
                if entries > MAX_ENTRIES {
                    return Err(VerifyError::MalformedSignature("too many signatures"));
                }
                let Some((version, sig)) = split_once(token, b',') else {
                    skip("entry without `version,`");
                    continue;
                };
                if version.is_empty() || !version.iter().all(u8::is_ascii_alphanumeric) {
                    skip("empty or invalid version");
                    continue;
                }
                match version {
                    b"v1" => match encoding::b64_exact::<32>(sig) {
                        Some(s) => candidates.push_hmac(s)?,
                        None => skip("v1 signature is not 32 bytes of base64"),
                    },
                    #[cfg(feature = "ed25519")]
                    b"v1a" if scheme.asymmetric => match encoding::b64_exact::<64>(sig) {
                        Some(s) => candidates.push_ed25519(s)?,
                        None => skip("v1a signature is not 64 bytes of base64"),
                    },
                    _ => {} // Unknown versions are skipped.
                }
            }
            if entries == 0 {
                return Err(VerifyError::MalformedSignature("no signature"));
            }
        }
        Layout::KeyValue => {
            for item in value.split(|&b| b == b',') {
                entries += 1;
                if entries > MAX_ENTRIES + 1 {
                    return Err(VerifyError::MalformedSignature("too many signatures"));
                }
                let Some((key, val)) = split_once(item, b'=') else {
                    skip("item without `=`");
                    continue;
                };
                if key.is_empty() || !key.iter().all(u8::is_ascii_alphanumeric) {
                    skip("empty or invalid item key");
                    continue;
                }
                match key {
                    b"t" if timestamp.replace(val).is_some() => {
                        return Err(VerifyError::MalformedSignature("two `t=` timestamps"));
                    }
                    b"t" => {}
                    b"v1" => match match scheme.encoding {
                        Encoding::Hex => encoding::hex_exact::<32>(val),
                        Encoding::Base64 => encoding::b64_exact::<32>(val),
                    } {
                        Some(s) => candidates.push_hmac(s)?,
                        None => skip("v1 signature is empty, truncated or not hex"),
                    },
                    _ => {} // v0 (Stripe's test-mode decoy) and unknown schemes are skipped.
                }
            }
        }
        Layout::Single { prefix } => {
            let sig = strip_prefix(value, prefix.as_bytes())
                .ok_or(VerifyError::MalformedSignature("missing signature prefix"))?;
            if sig.is_empty() {
                return Err(VerifyError::MalformedSignature("empty signature"));
            }
            let s = match scheme.encoding {
                Encoding::Hex => encoding::hex_exact::<32>(sig).ok_or(
                    VerifyError::MalformedSignature("signature is not 64 hex digits"),
                ),
                Encoding::Base64 => encoding::b64_exact::<32>(sig).ok_or(
                    VerifyError::MalformedSignature("signature is not 32 bytes of base64"),
                ),
            }?;
            candidates.push_hmac(s)?;
        }
    }
    if let Some(why) = malformed.filter(|_| candidates.is_empty()) {
        return Err(VerifyError::MalformedSignature(why));
    }
    Ok(Parsed {
        candidates,
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::{RandomSource, SeededRandom};

    /// The one-pass scan and the by-name lookup agree on every map shape:
    /// absent, present once, duplicated, mixed with other headers, on both
    /// sides of the size at which `find_headers` switches.
    #[test]
    fn header_scan_agrees_with_lookup() {
        let wanted = [
            HeaderName::from_static("webhook-signature"),
            HeaderName::from_static("webhook-id"),
            HeaderName::from_static("webhook-timestamp"),
        ];
        // Same lengths as the wanted names, and standard headers.
        let others = [
            HeaderName::from_static("webhook-signaturf"),
            HeaderName::from_static("user-agent"),
            http::header::CONTENT_TYPE,
            http::header::HOST,
        ];
        let mut rng = SeededRandom::new(7);
        for round in 0..2000 {
            let mut headers = HeaderMap::new();
            let mut draw = [0u8; 64];
            rng.fill_bytes(&mut draw);
            let count = usize::from(draw[0]) % (2 * SCAN_LIMIT);
            for (i, &r) in draw.iter().skip(1).take(count).enumerate() {
                let name = match usize::from(r) % 7 {
                    k @ 0..=2 => wanted[k].clone(),
                    k => others[k - 3].clone(),
                };
                headers.append(name, HeaderValue::from(i));
            }
            let names = [
                Some(&wanted[0]),
                Some(&wanted[1]),
                (round % 2 == 0).then_some(&wanted[2]),
            ];
            let scanned = scan_headers(&headers, names);
            assert_eq!(scanned, lookup_headers(&headers, names), "{headers:?}");
            assert_eq!(scanned, find_headers(&headers, names));
        }
    }
}
