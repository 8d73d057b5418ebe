//! Secrets and keys: parsing, generation, redacted `Debug`.

use std::fmt;

use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::scheme::{Scheme, SecretFormat};
use crate::encoding;
use crate::random::RandomSource;

pub(crate) type HmacSha256 = Hmac<Sha256>;

const WHSEC: &str = "whsec_";
#[cfg(feature = "ed25519")]
const WHSK: &str = "whsk_";
#[cfg(feature = "ed25519")]
const WHPK: &str = "whpk_";

/// A webhook signing secret or key. Its `Debug` output never shows the key,
/// and the key material is wiped from memory when it is dropped
/// ([`zeroize::ZeroizeOnDrop`]): the key bytes, the HMAC state keyed with
/// them, and Ed25519 signing keys. Copies the caller makes with
/// [`expose_whsec`](Self::expose_whsec) or `expose_whsk` are the caller's
/// to wipe.
///
/// Usually an HMAC-SHA256 secret; with feature `ed25519`, also a Standard
/// Webhooks v1a Ed25519 signing key (`whsk_…`, signs and verifies) or public
/// key (`whpk_…`, verifies only).
///
/// Parse the string a provider gave you with [`Secret::parse`], which knows
/// how each scheme reads it: Standard Webhooks and Svix base64-decode a
/// `whsec_…` secret, the others use the string's bytes as they are (Stripe's
/// `whsec_` prefix included).
///
/// ```
/// use webwire::webhook::{Scheme, Secret};
///
/// let secret = Secret::parse(&Scheme::standard(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// assert_eq!(format!("{secret:?}"), "Secret { kind: \"hmac\", key: \"<redacted>\" }");
///
/// // An empty secret is refused.
/// assert!(Secret::parse(&Scheme::github(), "").is_err());
///
/// // New secrets for your own endpoints:
/// let fresh = Secret::generate(&mut webwire::random::SeededRandom::new(1));
/// assert!(fresh.expose_whsec().unwrap().starts_with("whsec_"));
/// # Ok::<(), webwire::webhook::SecretError>(())
/// ```
#[derive(Clone)]
pub struct Secret {
    pub(crate) key: Key,
}

#[derive(Clone)]
pub(crate) enum Key {
    /// The key bytes and the HMAC state already keyed with them, so each
    /// signature costs only the message's blocks.
    Hmac {
        bytes: Zeroizing<Box<[u8]>>,
        /// Wiped on drop too: hmac's and sha2's `zeroize` features make the
        /// inner and outer SHA-256 states and the block buffer zeroize
        /// themselves.
        keyed: Box<HmacSha256>,
    },
    /// An Ed25519 signing key (can also verify); ed25519-dalek's `zeroize`
    /// feature wipes it on drop.
    #[cfg(feature = "ed25519")]
    Ed25519Signing(Box<ed25519_dalek::SigningKey>),
    /// An Ed25519 public key (verifies only).
    #[cfg(feature = "ed25519")]
    Ed25519Public(ed25519_dalek::VerifyingKey),
}

impl Secret {
    /// An HMAC secret from raw key bytes.
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Self, SecretError> {
        let bytes = bytes.as_ref();
        if bytes.is_empty() {
            return Err(SecretError::Empty);
        }
        let keyed = HmacSha256::new_from_slice(bytes).map_err(|_| SecretError::Empty)?;
        Ok(Self {
            key: Key::Hmac {
                bytes: Zeroizing::new(bytes.into()),
                keyed: Box::new(keyed),
            },
        })
    }

    /// Parses a secret the way `scheme` reads it (see
    /// [`Scheme::secret_format`]). For Standard Webhooks with feature
    /// `ed25519`, `whsk_…` and `whpk_…` keys are recognised too.
    pub fn parse(scheme: &Scheme, secret: &str) -> Result<Self, SecretError> {
        #[cfg(feature = "ed25519")]
        if scheme.supports_ed25519() {
            if let Some(k) = secret.strip_prefix(WHSK) {
                return Self::ed25519_signing(k);
            }
            if let Some(k) = secret.strip_prefix(WHPK) {
                return Self::ed25519_public(k);
            }
        }
        #[cfg(not(feature = "ed25519"))]
        if scheme.asymmetric && (secret.starts_with("whsk_") || secret.starts_with("whpk_")) {
            return Err(SecretError::Ed25519Disabled);
        }
        match scheme.secret_format() {
            SecretFormat::Raw => Self::from_bytes(secret.as_bytes()),
            SecretFormat::Whsec => Self::from_whsec(secret),
        }
    }

    /// Parses a Standard Webhooks secret: base64, padded or not, with or
    /// without the `whsec_` prefix.
    pub fn from_whsec(secret: &str) -> Result<Self, SecretError> {
        let b64 = secret.strip_prefix(WHSEC).unwrap_or(secret);
        if b64.is_empty() {
            return Err(SecretError::Empty);
        }
        let bytes = Zeroizing::new(encoding::b64_secret(b64).ok_or(SecretError::InvalidBase64)?);
        Self::from_bytes(&*bytes)
    }

    /// A new random 32-byte HMAC secret.
    pub fn generate<R: RandomSource + ?Sized>(random: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random.fill_bytes(&mut *bytes);
        // A 32-byte key: `from_bytes` cannot fail, but never panic anyway.
        let keyed = HmacSha256::new_from_slice(&*bytes)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        Self {
            key: Key::Hmac {
                bytes: Zeroizing::new(Box::new(*bytes)),
                keyed: Box::new(keyed),
            },
        }
    }

    /// The HMAC secret as `whsec_<base64>`, to show once to the receiver.
    /// `None` for Ed25519 keys.
    pub fn expose_whsec(&self) -> Option<String> {
        match &self.key {
            Key::Hmac { bytes, .. } => {
                let mut s = String::from(WHSEC);
                encoding::b64_encode(bytes, &mut s);
                Some(s)
            }
            #[cfg(feature = "ed25519")]
            _ => None,
        }
    }

    /// Whether this key can sign (HMAC secrets and Ed25519 signing keys can;
    /// Ed25519 public keys cannot).
    pub fn can_sign(&self) -> bool {
        match &self.key {
            Key::Hmac { .. } => true,
            #[cfg(feature = "ed25519")]
            Key::Ed25519Signing(_) => true,
            #[cfg(feature = "ed25519")]
            Key::Ed25519Public(_) => false,
        }
    }

    pub(crate) fn is_hmac(&self) -> bool {
        matches!(self.key, Key::Hmac { .. })
    }

    pub(crate) fn kind(&self) -> &'static str {
        match &self.key {
            Key::Hmac { .. } => "hmac",
            #[cfg(feature = "ed25519")]
            Key::Ed25519Signing(_) => "ed25519-signing",
            #[cfg(feature = "ed25519")]
            Key::Ed25519Public(_) => "ed25519-public",
        }
    }

    /// HMAC-SHA256 of the pieces `feed` hands over; `None` for Ed25519 keys.
    pub(crate) fn hmac(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8]))) -> Option<[u8; 32]> {
        use hmac::Mac as _;
        match &self.key {
            Key::Hmac { keyed, .. } => {
                let mut mac = (**keyed).clone();
                feed(&mut |piece| mac.update(piece));
                Some(mac.finalize().into_bytes().into())
            }
            #[cfg(feature = "ed25519")]
            _ => None,
        }
    }
}

#[cfg(feature = "ed25519")]
#[cfg_attr(docsrs, doc(cfg(feature = "ed25519")))]
impl Secret {
    /// A Standard Webhooks v1a signing key from its base64 32-byte seed
    /// (with or without the `whsk_` prefix).
    pub fn ed25519_signing(key: &str) -> Result<Self, SecretError> {
        let b64 = key.strip_prefix(WHSK).unwrap_or(key);
        let bytes = Zeroizing::new(encoding::b64_secret(b64).ok_or(SecretError::InvalidBase64)?);
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| SecretError::InvalidEd25519Key)?,
        );
        Ok(Self {
            key: Key::Ed25519Signing(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed))),
        })
    }

    /// A Standard Webhooks v1a public key from its base64 32 bytes (with or
    /// without the `whpk_` prefix). It verifies but cannot sign.
    pub fn ed25519_public(key: &str) -> Result<Self, SecretError> {
        let b64 = key.strip_prefix(WHPK).unwrap_or(key);
        let bytes = encoding::b64_secret(b64).ok_or(SecretError::InvalidBase64)?;
        let raw: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::InvalidEd25519Key)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&raw)
            .map_err(|_| SecretError::InvalidEd25519Key)?;
        Ok(Self {
            key: Key::Ed25519Public(key),
        })
    }

    /// A new random Ed25519 signing key.
    pub fn generate_ed25519<R: RandomSource + ?Sized>(random: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        random.fill_bytes(&mut *seed);
        Self {
            key: Key::Ed25519Signing(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed))),
        }
    }

    /// The public key as `whpk_<base64>`, to hand to receivers. `None` for
    /// HMAC secrets.
    pub fn ed25519_public_key(&self) -> Option<String> {
        let public = self.ed25519_verifying_key()?;
        let mut s = String::from(WHPK);
        encoding::b64_encode(public.as_bytes(), &mut s);
        Some(s)
    }

    /// The signing key as `whsk_<base64 seed>`. `None` unless this is an
    /// Ed25519 signing key.
    pub fn expose_whsk(&self) -> Option<String> {
        match &self.key {
            Key::Ed25519Signing(k) => {
                let mut s = String::from(WHSK);
                encoding::b64_encode(k.as_bytes(), &mut s);
                Some(s)
            }
            _ => None,
        }
    }

    pub(crate) fn ed25519_verifying_key(&self) -> Option<ed25519_dalek::VerifyingKey> {
        match &self.key {
            Key::Ed25519Signing(k) => Some(k.verifying_key()),
            Key::Ed25519Public(k) => Some(*k),
            Key::Hmac { .. } => None,
        }
    }
}

// Every field wipes itself on drop (see `Key`).
impl zeroize::ZeroizeOnDrop for Secret {}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("kind", &self.kind())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Why a secret or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is empty (an empty HMAC key would let anyone sign).
    #[error("the secret is empty")]
    Empty,
    /// The secret should be base64 but is not.
    #[error("the secret is not valid base64")]
    InvalidBase64,
    /// An Ed25519 key is not 32 bytes, or not a valid curve point.
    #[error("not a valid Ed25519 key")]
    InvalidEd25519Key,
    /// A `whsk_`/`whpk_` key was given but the crate was built without the
    /// `ed25519` feature.
    #[error("Ed25519 keys need webwire's `ed25519` feature")]
    Ed25519Disabled,
    /// The scheme cannot use this kind of key (an Ed25519 key outside
    /// Standard Webhooks, a public key for signing).
    #[error("a {kind} key cannot be used to {purpose} with the {scheme} scheme")]
    Unsupported {
        /// The key's kind.
        kind: &'static str,
        /// `sign` or `verify`.
        purpose: &'static str,
        /// The scheme's name.
        scheme: String,
    },
    /// The scheme carries one signature per header, so a signer can hold only
    /// one secret.
    #[error("the {scheme} scheme carries a single signature: only one signing secret")]
    SingleSignature {
        /// The scheme's name.
        scheme: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_forms() {
        let a = Secret::from_whsec("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let b = Secret::from_whsec("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(a.expose_whsec(), b.expose_whsec());
        // Unpadded and padded.
        let c = Secret::from_whsec("whsec_AAE").unwrap();
        let d = Secret::from_whsec("whsec_AAE=").unwrap();
        assert_eq!(c.expose_whsec(), d.expose_whsec());
        assert_eq!(
            Secret::from_whsec("whsec_").unwrap_err(),
            SecretError::Empty
        );
        assert_eq!(Secret::from_whsec("").unwrap_err(), SecretError::Empty);
        assert_eq!(
            Secret::from_whsec("whsec_!!!").unwrap_err(),
            SecretError::InvalidBase64
        );
        assert_eq!(Secret::from_bytes([]).unwrap_err(), SecretError::Empty);
    }

    #[test]
    fn parse_follows_the_scheme() {
        // Stripe keys on the whole string, prefix included.
        let s = Secret::parse(&Scheme::stripe(), "whsec_abc").unwrap();
        match &s.key {
            Key::Hmac { bytes, .. } => assert_eq!(&bytes[..], b"whsec_abc"),
            #[cfg(feature = "ed25519")]
            _ => panic!(),
        }
        assert_eq!(
            Secret::parse(&Scheme::slack(), "").unwrap_err(),
            SecretError::Empty
        );
        #[cfg(not(feature = "ed25519"))]
        assert_eq!(
            Secret::parse(&Scheme::standard(), "whsk_AAAA").unwrap_err(),
            SecretError::Ed25519Disabled
        );
    }

    /// Key material is wiped on drop: the key bytes, the keyed HMAC state
    /// (SHA-256 states and block buffer, through hmac's and sha2's `zeroize`
    /// features) and Ed25519 signing keys (ed25519-dalek's).
    #[test]
    fn key_material_is_zeroized_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop + ?Sized>() {}
        zeroized_on_drop::<Secret>();
        zeroized_on_drop::<Zeroizing<Box<[u8]>>>();
        zeroized_on_drop::<sha2::Sha256>();
        #[cfg(feature = "ed25519")]
        zeroized_on_drop::<ed25519_dalek::SigningKey>();
        // The bytes held are the key, behind the wiping wrapper.
        let s = Secret::from_bytes(b"key").unwrap();
        match &s.key {
            Key::Hmac { bytes, .. } => {
                let bytes: &Zeroizing<Box<[u8]>> = bytes;
                assert_eq!(&bytes[..], b"key");
            }
            #[cfg(feature = "ed25519")]
            _ => panic!(),
        }
        // Wiping leaves zeros (what `Drop` does).
        let mut copy = match s.key.clone() {
            Key::Hmac { bytes, .. } => bytes,
            #[cfg(feature = "ed25519")]
            _ => panic!(),
        };
        zeroize::Zeroize::zeroize(&mut *copy);
        assert_eq!(&copy[..], [0, 0, 0]);
    }

    #[test]
    fn debug_is_redacted() {
        let s = Secret::from_bytes("super secret").unwrap();
        let dbg = format!("{s:?} {s:#?}");
        assert!(!dbg.contains("super"), "{dbg}");
        let g = Secret::generate(&mut crate::random::SeededRandom::new(3));
        assert!(!format!("{g:?}").contains(&g.expose_whsec().unwrap()[6..]));
    }
}
