//! # webwire
//!
//! Sans-IO building blocks for the two ways web services push data in real
//! time:
//!
//! * [`ws`]: WebSocket (RFC 6455): an incremental, strict frame codec with
//!   fail-fast UTF-8 validation, safe word-at-a-time masking and bounded
//!   buffers.
//! * [`webhook`]: signing and verifying webhook HTTP requests.
//!
//! ## What sans-IO means here
//!
//! The library owns no socket, thread, clock or OS entropy. You hand it the
//! bytes you read, it hands you events and the bytes to write. Time is an
//! argument; randomness comes through the [`random::RandomSource`] trait (an
//! OS-backed default behind the `getrandom` feature, seeded or fixed sources
//! for tests and fuzzing). Same inputs, same outputs, always: every state
//! machine can be fuzzed and tested without a network.
//!
//! ```text
//!  socket bytes ──► Decoder::decode(&[u8]) ──► Incoming (message, ping, close…)
//!  your message ──► Encoder::encode_*(…, &mut Vec<u8>) ──► bytes to write
//! ```
//!
//! ## A round trip
//!
//! ```
//! use webwire::random::SeededRandom;
//! use webwire::ws::{Decoder, Encoder, Incoming, Role};
//!
//! // A client encodes (and masks) a text message...
//! let mut client = Encoder::new(Role::Client, SeededRandom::new(7));
//! let mut wire = Vec::new();
//! client.encode_text("hello", &mut wire);
//!
//! // ...and a server decodes it from the bytes it read.
//! let mut server = Decoder::new(Role::Server);
//! match server.decode(&wire)? {
//!     (used, Some(Incoming::Text(text))) => {
//!         assert_eq!(used, wire.len());
//!         assert_eq!(text, "hello");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), webwire::ws::ProtocolError>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `getrandom` | yes | [`random::ThreadRandom`] (masking keys) and [`random::OsRandom`] (secrets), OS randomness |
//! | `arbitrary` | no | `Arbitrary` impls for frames, valid and invalid |
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "ws", feature = "webhook"))]
mod encoding;
pub mod random;
#[cfg(feature = "webhook")]
#[cfg_attr(docsrs, doc(cfg(feature = "webhook")))]
pub mod webhook;
#[cfg(feature = "ws")]
#[cfg_attr(docsrs, doc(cfg(feature = "ws")))]
pub mod ws;

/// Result of an incremental parse: either done, or more input is needed.
///
/// Partial input is never an error: parsers return [`Status::Partial`] until
/// the bytes they need have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The value was parsed.
    Complete(T),
    /// More input is needed.
    Partial,
}

impl<T> Status<T> {
    /// The parsed value, if complete.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(v) => Some(v),
            Status::Partial => None,
        }
    }

    /// Whether more input is needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}
