//! The table of webhook signature schemes.
//!
//! Every provider is described here, as data: which headers carry the id,
//! the timestamp and the signature, what bytes are signed, how signatures are
//! encoded and listed, and how a secret string becomes key bytes. Adding a
//! provider means adding one entry to this file.

use std::borrow::Cow;

use http::HeaderName;

/// Default timestamp tolerance, in seconds, in both directions (5 minutes).
pub const DEFAULT_TOLERANCE: u64 = 300;

/// How signature bytes are written in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// Lower-case hexadecimal.
    Hex,
    /// Standard base64 with padding (unpadded is accepted when verifying).
    Base64,
}

/// How a secret string (as shown in a provider's dashboard) becomes HMAC key
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretFormat {
    /// The string's bytes, as given (GitHub, Stripe (including its `whsec_`
    /// prefix), Slack, Shopify).
    Raw,
    /// Base64, padded or not, with an optional `whsec_` prefix (Standard
    /// Webhooks, Svix).
    Whsec,
}

/// One piece of the signed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal bytes.
    Lit(Cow<'static, [u8]>),
    /// The message id header's value.
    Id,
    /// The timestamp, as decimal digits.
    Timestamp,
    /// The raw request body.
    Body,
}

/// How signatures are laid out in the signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Space-separated `version,signature` entries (Standard Webhooks):
    /// `v1` is HMAC-SHA256, `v1a` Ed25519.
    VersionedList,
    /// Comma-separated `key=value` items (Stripe): `t=` the timestamp, `v1=`
    /// one or more signatures, anything else ignored.
    KeyValue,
    /// A single signature after a fixed prefix (may be empty).
    Single {
        /// Text before the encoded signature, such as `sha256=`.
        prefix: Cow<'static, str>,
    },
}

/// Where the timestamp comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampSource {
    /// The scheme has no timestamp (no replay window).
    None,
    /// A header of its own.
    Header(HeaderName),
    /// The `t=` item of the signature header ([`Layout::KeyValue`]).
    InSignature,
}

/// A webhook signature scheme: which headers, which signed bytes, which
/// encoding.
///
/// Built-in schemes cover the common providers; [`Scheme::custom`] describes
/// any other HMAC-SHA256 provider.
///
/// | scheme | headers | signed content | signature |
/// | --- | --- | --- | --- |
/// | [`standard`](Scheme::standard) | `webhook-id`, `webhook-timestamp`, `webhook-signature` | `{id}.{timestamp}.{body}` | `v1,<base64>` list (`v1a` Ed25519 with feature `ed25519`) |
/// | [`svix`](Scheme::svix) | `svix-id`, `svix-timestamp`, `svix-signature` | `{id}.{timestamp}.{body}` | `v1,<base64>` list |
/// | [`github`](Scheme::github) | `x-hub-signature-256` | `{body}` | `sha256=<hex>` |
/// | [`stripe`](Scheme::stripe) | `stripe-signature` | `{t}.{body}` | `t=<ts>,v1=<hex>[,v1=…]` |
/// | [`slack`](Scheme::slack) | `x-slack-request-timestamp`, `x-slack-signature` | `v0:{timestamp}:{body}` | `v0=<hex>` |
/// | [`shopify`](Scheme::shopify) | `x-shopify-hmac-sha256` | `{body}` | `<base64>` |
///
/// ```
/// use webwire::webhook::{CustomScheme, Encoding, Scheme};
///
/// assert_eq!(Scheme::github().name(), "github");
/// assert_eq!(Scheme::by_name("stripe"), Some(Scheme::stripe()));
///
/// // A provider that sends `X-Signature: sha256=<hex of HMAC(ts + "." + body)>`
/// // and the timestamp in `X-Timestamp`:
/// let mut custom = CustomScheme::new("acme", http::HeaderName::from_static("x-signature"));
/// custom.timestamp_header = Some(http::HeaderName::from_static("x-timestamp"));
/// custom.template = "{timestamp}.{body}".into();
/// custom.prefix = "sha256=".into();
/// custom.encoding = Encoding::Hex;
/// let scheme = Scheme::custom(custom)?;
/// assert_eq!(scheme.name(), "acme");
/// # Ok::<(), webwire::webhook::SchemeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheme {
    pub(crate) name: Cow<'static, str>,
    pub(crate) id_header: Option<HeaderName>,
    pub(crate) timestamp: TimestampSource,
    pub(crate) signature_header: HeaderName,
    pub(crate) layout: Layout,
    pub(crate) content: Cow<'static, [Part]>,
    pub(crate) encoding: Encoding,
    pub(crate) secret_format: SecretFormat,
    /// Whether `v1a` (Ed25519) entries are understood.
    pub(crate) asymmetric: bool,
}

const fn lit(s: &'static str) -> Part {
    Part::Lit(Cow::Borrowed(s.as_bytes()))
}

const ID_TS_BODY: &[Part] = &[Part::Id, lit("."), Part::Timestamp, lit("."), Part::Body];

// ---------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------

/// Standard Webhooks v1 (<https://www.standardwebhooks.com/>).
const STANDARD: Scheme = Scheme {
    name: Cow::Borrowed("standard"),
    id_header: Some(HeaderName::from_static("webhook-id")),
    timestamp: TimestampSource::Header(HeaderName::from_static("webhook-timestamp")),
    signature_header: HeaderName::from_static("webhook-signature"),
    layout: Layout::VersionedList,
    content: Cow::Borrowed(ID_TS_BODY),
    encoding: Encoding::Base64,
    secret_format: SecretFormat::Whsec,
    asymmetric: true,
};

/// Svix: Standard Webhooks with `svix-` header names.
const SVIX: Scheme = Scheme {
    name: Cow::Borrowed("svix"),
    id_header: Some(HeaderName::from_static("svix-id")),
    timestamp: TimestampSource::Header(HeaderName::from_static("svix-timestamp")),
    signature_header: HeaderName::from_static("svix-signature"),
    layout: Layout::VersionedList,
    content: Cow::Borrowed(ID_TS_BODY),
    encoding: Encoding::Base64,
    secret_format: SecretFormat::Whsec,
    asymmetric: false,
};

/// GitHub: `X-Hub-Signature-256: sha256=<hex>` over the body.
const GITHUB: Scheme = Scheme {
    name: Cow::Borrowed("github"),
    id_header: None,
    timestamp: TimestampSource::None,
    signature_header: HeaderName::from_static("x-hub-signature-256"),
    layout: Layout::Single {
        prefix: Cow::Borrowed("sha256="),
    },
    content: Cow::Borrowed(&[Part::Body]),
    encoding: Encoding::Hex,
    secret_format: SecretFormat::Raw,
    asymmetric: false,
};

/// Stripe: `Stripe-Signature: t=<ts>,v1=<hex>` over `{t}.{body}`.
const STRIPE: Scheme = Scheme {
    name: Cow::Borrowed("stripe"),
    id_header: None,
    timestamp: TimestampSource::InSignature,
    signature_header: HeaderName::from_static("stripe-signature"),
    layout: Layout::KeyValue,
    content: Cow::Borrowed(&[Part::Timestamp, lit("."), Part::Body]),
    encoding: Encoding::Hex,
    secret_format: SecretFormat::Raw,
    asymmetric: false,
};

/// Slack: `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`.
const SLACK: Scheme = Scheme {
    name: Cow::Borrowed("slack"),
    id_header: None,
    timestamp: TimestampSource::Header(HeaderName::from_static("x-slack-request-timestamp")),
    signature_header: HeaderName::from_static("x-slack-signature"),
    layout: Layout::Single {
        prefix: Cow::Borrowed("v0="),
    },
    content: Cow::Borrowed(&[lit("v0:"), Part::Timestamp, lit(":"), Part::Body]),
    encoding: Encoding::Hex,
    secret_format: SecretFormat::Raw,
    asymmetric: false,
};

/// Shopify: `X-Shopify-Hmac-Sha256: <base64>` over the body.
const SHOPIFY: Scheme = Scheme {
    name: Cow::Borrowed("shopify"),
    id_header: None,
    timestamp: TimestampSource::None,
    signature_header: HeaderName::from_static("x-shopify-hmac-sha256"),
    layout: Layout::Single {
        prefix: Cow::Borrowed(""),
    },
    content: Cow::Borrowed(&[Part::Body]),
    encoding: Encoding::Base64,
    secret_format: SecretFormat::Raw,
    asymmetric: false,
};

const BUILTIN: [fn() -> Scheme; 6] = [
    Scheme::standard,
    Scheme::svix,
    Scheme::github,
    Scheme::stripe,
    Scheme::slack,
    Scheme::shopify,
];

impl Scheme {
    /// Standard Webhooks v1: `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature: v1,<base64>` over `{id}.{timestamp}.{body}`, with a
    /// `whsec_<base64>` secret. With feature `ed25519`, also `v1a` signatures
    /// with `whsk_`/`whpk_` keys.
    pub fn standard() -> Self {
        STANDARD
    }

    /// Svix: Standard Webhooks with `svix-id`, `svix-timestamp` and
    /// `svix-signature` headers.
    pub fn svix() -> Self {
        SVIX
    }

    /// GitHub: `x-hub-signature-256: sha256=<hex>` over the body; the secret
    /// is used as given. No timestamp, so no replay window.
    pub fn github() -> Self {
        GITHUB
    }

    /// Stripe: `stripe-signature: t=<ts>,v1=<hex>[,v1=…]` over `{t}.{body}`;
    /// the key is the whole secret string, `whsec_` prefix included.
    pub fn stripe() -> Self {
        STRIPE
    }

    /// Slack: `x-slack-request-timestamp` and `x-slack-signature: v0=<hex>`
    /// over `v0:{timestamp}:{body}`.
    pub fn slack() -> Self {
        SLACK
    }

    /// Shopify: `x-shopify-hmac-sha256: <base64>` over the body; the secret
    /// is used as given. No timestamp, so no replay window.
    pub fn shopify() -> Self {
        SHOPIFY
    }

    /// A built-in scheme by name: `standard`, `svix`, `github`, `stripe`,
    /// `slack` or `shopify`.
    pub fn by_name(name: &str) -> Option<Self> {
        BUILTIN.iter().map(|f| f()).find(|s| s.name == name)
    }

    /// Describes another HMAC-SHA256 provider; see [`CustomScheme`].
    pub fn custom(custom: CustomScheme) -> Result<Self, SchemeError> {
        custom.build()
    }

    /// The scheme's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header carrying the signature(s).
    pub fn signature_header(&self) -> &HeaderName {
        &self.signature_header
    }

    /// The header carrying the (signed) message id, if the scheme has one.
    pub fn id_header(&self) -> Option<&HeaderName> {
        self.id_header.as_ref()
    }

    /// The header carrying the timestamp, if it has one of its own (Stripe's
    /// timestamp is inside its signature header).
    pub fn timestamp_header(&self) -> Option<&HeaderName> {
        match &self.timestamp {
            TimestampSource::Header(h) => Some(h),
            _ => None,
        }
    }

    /// Whether the scheme signs a timestamp (and so has a replay window).
    pub fn has_timestamp(&self) -> bool {
        !matches!(self.timestamp, TimestampSource::None)
    }

    /// How a secret string is turned into key bytes.
    pub fn secret_format(&self) -> SecretFormat {
        self.secret_format
    }

    /// Whether one header can carry several signatures (key rotation on the
    /// sender's side).
    pub fn allows_several_signatures(&self) -> bool {
        !matches!(self.layout, Layout::Single { .. })
    }

    /// Whether the scheme understands Standard Webhooks `v1a` (Ed25519)
    /// signatures.
    pub fn supports_ed25519(&self) -> bool {
        self.asymmetric && cfg!(feature = "ed25519")
    }

    /// Calls `f` with each piece of the signed content, in order. HMAC
    /// consumes the pieces incrementally, so the body is never copied.
    pub(crate) fn for_each_part(
        &self,
        id: &[u8],
        timestamp: &[u8],
        body: &[u8],
        mut f: impl FnMut(&[u8]),
    ) {
        for part in self.content.iter() {
            match part {
                Part::Lit(l) => f(l),
                Part::Id => f(id),
                Part::Timestamp => f(timestamp),
                Part::Body => f(body),
            }
        }
    }
}

/// A description of a custom HMAC-SHA256 webhook scheme, turned into a
/// [`Scheme`] by [`Scheme::custom`].
///
/// The signature header holds exactly one signature: `prefix` followed by the
/// encoded HMAC-SHA256 of `template`, in which `{id}`, `{timestamp}` and
/// `{body}` stand for the id header's value, the timestamp header's value and
/// the raw body; every other character is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomScheme {
    /// A name for messages and debugging.
    pub name: String,
    /// The header carrying the signature.
    pub signature_header: HeaderName,
    /// The header carrying a message id; must be signed (`{id}` in the
    /// template) if set.
    pub id_header: Option<HeaderName>,
    /// The header carrying a unix timestamp (decimal seconds); must be signed
    /// (`{timestamp}` in the template) if set.
    pub timestamp_header: Option<HeaderName>,
    /// The signed content, with `{id}`, `{timestamp}` and `{body}` (exactly
    /// once) placeholders.
    pub template: String,
    /// Hex or base64.
    pub encoding: Encoding,
    /// Text before the encoded signature, such as `sha256=` (may be empty).
    pub prefix: String,
    /// How the secret string becomes key bytes.
    pub secret_format: SecretFormat,
}

impl CustomScheme {
    /// A scheme signing `{body}` alone, hex-encoded, no prefix, raw secret.
    pub fn new(name: impl Into<String>, signature_header: HeaderName) -> Self {
        Self {
            name: name.into(),
            signature_header,
            id_header: None,
            timestamp_header: None,
            template: "{body}".into(),
            encoding: Encoding::Hex,
            prefix: String::new(),
            secret_format: SecretFormat::Raw,
        }
    }

    fn build(self) -> Result<Scheme, SchemeError> {
        let parts = parse_template(&self.template)?;
        let count = |p: &Part| parts.iter().filter(|q| *q == p).count();
        if count(&Part::Body) != 1 {
            return Err(SchemeError::Template("`{body}` must appear exactly once"));
        }
        match (&self.id_header, count(&Part::Id)) {
            (Some(_), 0) => return Err(SchemeError::UnsignedHeader("id")),
            (None, n) if n > 0 => return Err(SchemeError::MissingHeader("id")),
            _ => {}
        }
        match (&self.timestamp_header, count(&Part::Timestamp)) {
            (Some(_), 0) => return Err(SchemeError::UnsignedHeader("timestamp")),
            (None, n) if n > 0 => return Err(SchemeError::MissingHeader("timestamp")),
            _ => {}
        }
        let names = [
            Some(&self.signature_header),
            self.id_header.as_ref(),
            self.timestamp_header.as_ref(),
        ];
        for (i, a) in names.iter().enumerate() {
            for b in names.iter().skip(i + 1) {
                if a.is_some() && a == b {
                    return Err(SchemeError::SameHeaderTwice);
                }
            }
        }
        if !self.prefix.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SchemeError::Prefix);
        }
        Ok(Scheme {
            name: Cow::Owned(self.name),
            id_header: self.id_header,
            timestamp: match self.timestamp_header {
                Some(h) => TimestampSource::Header(h),
                None => TimestampSource::None,
            },
            signature_header: self.signature_header,
            layout: Layout::Single {
                prefix: Cow::Owned(self.prefix),
            },
            content: Cow::Owned(parts),
            encoding: self.encoding,
            secret_format: self.secret_format,
            asymmetric: false,
        })
    }
}

fn parse_template(template: &str) -> Result<Vec<Part>, SchemeError> {
    let mut parts = Vec::new();
    let mut literal = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        let (before, after) = rest.split_at(open);
        literal.extend_from_slice(before.as_bytes());
        let (part, len) = if after.starts_with("{id}") {
            (Part::Id, 4)
        } else if after.starts_with("{timestamp}") {
            (Part::Timestamp, 11)
        } else if after.starts_with("{body}") {
            (Part::Body, 6)
        } else {
            return Err(SchemeError::Template(
                "unknown placeholder: use {id}, {timestamp} or {body}",
            ));
        };
        if !literal.is_empty() {
            parts.push(Part::Lit(Cow::Owned(std::mem::take(&mut literal))));
        }
        parts.push(part);
        rest = after.get(len..).unwrap_or("");
    }
    literal.extend_from_slice(rest.as_bytes());
    if !literal.is_empty() {
        parts.push(Part::Lit(Cow::Owned(literal)));
    }
    Ok(parts)
}

/// Why a [`CustomScheme`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemeError {
    /// The template is malformed.
    #[error("invalid template: {0}")]
    Template(&'static str),
    /// A header is set but its value is not in the template, so an attacker
    /// could change it freely.
    #[error("the {0} header is set but `{{{0}}}` is not in the template")]
    UnsignedHeader(&'static str),
    /// The template uses a placeholder whose header is not set.
    #[error("the template uses `{{{0}}}` but no {0} header is set")]
    MissingHeader(&'static str),
    /// Two roles share one header name.
    #[error("the signature, id and timestamp headers must be distinct")]
    SameHeaderTwice,
    /// The prefix is not visible ASCII.
    #[error("the signature prefix must be visible ASCII")]
    Prefix,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_name_finds_every_builtin() {
        for f in BUILTIN {
            let s = f();
            assert_eq!(Scheme::by_name(&s.name), Some(s));
        }
        assert_eq!(Scheme::by_name("nope"), None);
    }

    #[test]
    fn templates() {
        assert_eq!(
            parse_template("a{id}.{timestamp}{body}z").unwrap(),
            vec![
                Part::Lit(Cow::Borrowed(b"a")),
                Part::Id,
                Part::Lit(Cow::Borrowed(b".")),
                Part::Timestamp,
                Part::Body,
                Part::Lit(Cow::Borrowed(b"z")),
            ]
        );
        assert!(parse_template("{bod}").is_err());
        assert!(parse_template("}").is_err());
        assert!(parse_template("{").is_err());
        let h = HeaderName::from_static("x-sig");
        let mut c = CustomScheme::new("c", h.clone());
        c.template = "{body}{body}".into();
        assert!(matches!(
            Scheme::custom(c.clone()),
            Err(SchemeError::Template(_))
        ));
        c.template = "{timestamp}{body}".into();
        assert_eq!(
            Scheme::custom(c.clone()),
            Err(SchemeError::MissingHeader("timestamp"))
        );
        c.timestamp_header = Some(h.clone());
        assert_eq!(Scheme::custom(c.clone()), Err(SchemeError::SameHeaderTwice));
        c.timestamp_header = Some(HeaderName::from_static("x-ts"));
        assert!(Scheme::custom(c.clone()).is_ok());
        c.template = "{body}".into();
        assert_eq!(
            Scheme::custom(c.clone()),
            Err(SchemeError::UnsignedHeader("timestamp"))
        );
        c.template = "{timestamp}{body}".into();
        c.prefix = "a b".into();
        assert_eq!(Scheme::custom(c), Err(SchemeError::Prefix));
    }
}
