//! # webwire
//!
//! Sans-IO building blocks for the two ways web services push data in real
//! time: [`ws`], WebSocket (RFC 6455, permessage-deflate of RFC 7692, the
//! HTTP/2 and HTTP/3 bootstrap of RFC 8441/9220), and [`webhook`], signing,
//! verifying and delivering webhook requests.
//!
//! The library owns no socket, thread, clock or OS entropy. You hand it the
//! bytes you read and the time; it hands you events and the bytes to write.
//! Randomness comes through [`random::RandomSource`] (OS-backed behind the
//! `getrandom` feature, seeded or fixed for tests and fuzzing). Same inputs,
//! same outputs: every state machine can be tested without a network. Every
//! buffer and queue is bounded by a setting, and no input or setting panics.
//!
//! ## The WebSocket half ([`ws`])
//!
//! ```text
//!  request bytes ─► handshake::RequestParser ─► handshake::accept ─► 101 bytes
//!                   (or RequestHead::accept, in place)
//!  socket bytes  ─► Connection::handle_data ─► Decoder ─► poll_event: Text, Binary, Ping, Closed…
//!  send_text(…)  ─► Encoder ─► poll_transmit ─► bytes to write
//!  poll_timeout  ─► handle_timeout (keepalive pings, idle and close timers)
//! ```
//!
//! A server from the upgrade request's bytes to an echoed message:
//!
//! ```
//! # #[cfg(feature = "ws")] {
//! use std::time::Instant;
//! use webwire::Status;
//! use webwire::random::SeededRandom;
//! use webwire::ws::handshake::{RequestParser, ServerConfig};
//! use webwire::ws::{Config, Connection, Encoder, Event, Role, Transmit};
//!
//! let request = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let mut response = Vec::new();
//! let Status::Complete((accepted, _used)) = RequestParser::default()
//!     .feed_with(request, |head| head.accept(&ServerConfig::new(), &mut response))
//!     .unwrap() else { unreachable!("a whole request") };
//! accepted.unwrap();
//! assert!(response.starts_with(b"HTTP/1.1 101"));
//!
//! // The connection: servers take no random source.
//! let now = Instant::now();
//! let mut conn = Connection::server(Config::default(), now);
//! let mut read = Vec::new(); // what a client sends: a masked "hi"
//! Encoder::new(Role::Client, SeededRandom::new(1)).encode_text("hi", &mut read);
//! let used = conn.handle_data(now, &read); // less than all: drain, then feed the rest
//! assert_eq!(used, read.len());
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Text(text) = event {
//!         conn.send_text(&text).unwrap();
//!     }
//! }
//! let mut out = Vec::new();
//! assert_eq!(conn.poll_transmit(&mut out), Transmit::Bytes(4));
//! assert_eq!(out, b"\x81\x02hi");
//! # }
//! ```
//!
//! Layers, lowest first: [`ws::FrameHeader`] (one header) → [`ws::Decoder`]
//! and [`ws::Encoder`] (messages, every RFC 6455 §5 rule, masking, UTF-8) →
//! [`ws::Connection`] (close handshake, automatic pongs, timers,
//! backpressure). Beside them: [`ws::handshake`] (HTTP/1.1 upgrade and
//! extended CONNECT) and `ws::deflate` (permessage-deflate).
//!
//! ## The webhook half ([`webhook`])
//!
//! ```text
//!  sender:   Message ─► fan_out(&[Endpoint]) ─► signed http::Request per endpoint
//!            (Endpoint = URL checked by SsrfPolicy + Signer + EventFilter)
//!            due Delivery ─► EndpointGate::try_acquire (in flight, TokenBucket, CircuitBreaker) ─► send
//!            outcome ─► Delivery::on_outcome ─► RetryPolicy decides ─► next_due / gave up
//!                                             └► EndpointHealth: disable after 410 or days of failure
//!            (workers sharing a table: Lease; ordering keys: sendable_in_order)
//!  receiver: request ─► Verifier::verify_and_claim ─► ReplayGuard (claim) ─► process
//!                                                   └► Claim::commit (2xx) or release (5xx)
//! ```
//!
//! ```
//! # #[cfg(feature = "webhook")] {
//! use webwire::webhook::{Admission, InMemoryReplayGuard, Scheme, Secret, Signer, Verifier};
//!
//! let scheme = Scheme::standard();
//! let secret = Secret::parse(&scheme, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
//! let now = 1_700_000_000;
//! let body = br#"{"type":"invoice.paid"}"#;
//! let headers = Signer::new(scheme.clone(), secret.clone()).unwrap().sign("msg_1", now, body).unwrap();
//!
//! let verifier = Verifier::new(scheme, secret).unwrap();
//! let mut guard = InMemoryReplayGuard::new(verifier.tolerance(), 10_000);
//! match verifier.verify_and_claim(&headers, body, now, &mut guard).unwrap() {
//!     Admission::Process(claim) => { /* handle the event */ claim.commit(&mut guard, now); }
//!     Admission::Duplicate(_) => { /* processed before: answer 2xx */ }
//! }
//! # }
//! ```
//!
//! ## Shared by both halves
//!
//! [`proxy`] opens tunnels through HTTP CONNECT and SOCKS5 proxies (bytes
//! in, bytes out, like the rest) for WebSocket clients and webhook senders;
//! [`backoff`] times webhook retries and client reconnection; [`random`]
//! supplies masking keys, handshake keys and jitter.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `ws` | yes | the WebSocket half |
//! | `webhook` | yes | the webhook half |
//! | `getrandom` | yes | [`random::ThreadRandom`] (masking keys) and [`random::OsRandom`] (secrets): OS randomness |
//! | `serde` | with `webhook` | `Serialize`/`Deserialize` for persistable state and `ws` value types |
//! | `deflate` | no | permessage-deflate (RFC 7692), flate2 with zlib-rs; implies `ws` |
//! | `arbitrary` | no | `Arbitrary` frames, valid and invalid, for your fuzzers; implies `ws` |
//! | `ed25519` | no | Standard Webhooks v1a (Ed25519) keys and signatures; implies `webhook` |
//!
//! ## Reading order
//!
//! For WebSocket: `ws::frame`, `ws::mask`, `ws::utf8`, `ws::decoder`,
//! `ws::encoder`, `ws::connection`, then `ws::handshake` (`request`,
//! `server`, `client`, `h2`), `ws::deflate` and `ws::reconnect`. For
//! webhooks: `webhook::scheme`, `secret`, `sign`, `verify`, `replay`, then
//! `retry`, `delivery`, `health`, `endpoint`, `ssrf`, and for workers
//! `gate` (with `rate_limit`, `circuit`), `lease`, `ordering`. `random`,
//! `backoff` and `encoding` serve both. DESIGN.md records what is built and
//! why it differs from the first design.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "ws", feature = "webhook"))]
pub mod backoff;
#[cfg(any(feature = "ws", feature = "webhook"))]
mod encoding;
#[cfg(any(feature = "ws", feature = "webhook"))]
pub mod proxy;
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
