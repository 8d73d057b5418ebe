//! permessage-deflate (RFC 7692): negotiation, and bounded per-message
//! compression and decompression (feature `deflate`).
//!
//! Negotiate with [`ServerConfig::with_deflate`](super::handshake::ServerConfig::with_deflate)
//! or [`ClientConfig::with_deflate`](super::handshake::ClientConfig::with_deflate);
//! the handshake result carries the [`DeflateParams`] agreed, which go into
//! [`Config::with_deflate`](super::Config::with_deflate).
//!
//! Decompression is bounded while it runs: the message size limit applies to
//! the inflated bytes as they are produced, so a small frame that would
//! inflate to gigabytes fails with 1009 after at most the limit.
//!
//! The backend is flate2's zlib-rs. If another crate in your build turns on
//! flate2's C `zlib` feature, flate2 uses that for everyone, webwire
//! included: same output, other speed and memory figures.
//!
//! Memory per connection, with zlib-rs: a compressor holds about
//! `2^(window_bits + 2) + 2^(mem_level + 9)` bytes (256 KiB at window 15,
//! 8 KiB at window 9 with `mem_level` 1…), an inflater about
//! `2^window_bits` bytes plus 7 KiB. Both are created when first needed and,
//! with no context takeover, released after every message.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::handshake::{ExtensionOffer, HandshakeError};
use super::role::Role;

/// The extension token.
pub const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// What this endpoint asks for or accepts.
///
/// ```
/// use webwire::ws::deflate::DeflateConfig;
///
/// // Low memory: small windows, no context kept between messages.
/// let config = DeflateConfig::default()
///     .with_server_max_window_bits(10)
///     .with_client_max_window_bits(10)
///     .with_no_context_takeover(true);
/// assert_eq!(config.offer().to_string(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
///      server_max_window_bits=10; client_max_window_bits=10");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Ask (client) or agree (server) that the server resets its compressor
    /// after every message.
    pub(crate) server_no_context_takeover: bool,
    /// Ask that the client resets its compressor after every message.
    pub(crate) client_no_context_takeover: bool,
    /// Largest server window, 8–15 (default 15).
    pub(crate) server_max_window_bits: u8,
    /// Largest client window, 8–15 (default 15).
    pub(crate) client_max_window_bits: u8,
    /// zlib level 0–9 (default 6). Lower is faster.
    pub(crate) level: u32,
    /// Messages shorter than this are sent uncompressed (default 64 bytes):
    /// compressing them costs more than it saves.
    pub(crate) threshold: usize,
}

impl DeflateConfig {
    /// Ask (client) or agree (server) that the server resets its compressor
    /// after every message.
    pub const fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// Ask that the client resets its compressor after every message.
    pub const fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// Largest server window, 8–15 (default 15).
    pub const fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// Largest client window, 8–15 (default 15).
    pub const fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }

    /// zlib level 0–9 (default 6). Lower is faster.
    pub const fn level(&self) -> u32 {
        self.level
    }

    /// Messages shorter than this are sent uncompressed (default 64 bytes):
    /// compressing them costs more than it saves.
    pub const fn threshold(&self) -> usize {
        self.threshold
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            threshold: 64,
        }
    }
}

impl DeflateConfig {
    /// With both no-context-takeover flags set or cleared.
    pub const fn with_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self.client_no_context_takeover = on;
        self
    }
    /// Ask (client) or agree (server) that the server resets its compressor
    /// after every message.
    pub const fn with_server_no_context_takeover(mut self, on: bool) -> Self {
        self.server_no_context_takeover = on;
        self
    }
    /// Ask that the client resets its compressor after every message.
    pub const fn with_client_no_context_takeover(mut self, on: bool) -> Self {
        self.client_no_context_takeover = on;
        self
    }
    /// With this server window (clamped to 8–15).
    pub const fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = clamp_bits(bits);
        self
    }
    /// With this client window (clamped to 8–15).
    pub const fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }
    /// With this compression level (clamped to 0–9).
    pub const fn with_level(mut self, level: u32) -> Self {
        self.level = if level > 9 { 9 } else { level };
        self
    }
    /// With this compression threshold.
    pub const fn with_threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// The client's offer.
    pub fn offer(&self) -> ExtensionOffer {
        let mut offer = ExtensionOffer::new(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            offer = offer.with_param("server_no_context_takeover", None);
        }
        if self.client_no_context_takeover {
            offer = offer.with_param("client_no_context_takeover", None);
        }
        if self.server_max_window_bits < 15 {
            offer = offer.with_param(
                "server_max_window_bits",
                Some(&self.server_max_window_bits.to_string()),
            );
        }
        // Tell the server it may limit our window; ask for ours if smaller.
        let client_bits =
            (self.client_max_window_bits < 15).then(|| self.client_max_window_bits.to_string());
        offer.with_param("client_max_window_bits", client_bits.as_deref())
    }

    /// Server side: the first offer this server can honour, as the agreed
    /// parameters and the response to send. Offers with unknown, repeated or
    /// invalid parameters are declined (RFC 7692 §5.1), not failed.
    pub fn accept_offers(
        &self,
        offers: &[ExtensionOffer],
    ) -> Option<(DeflateParams, ExtensionOffer)> {
        offers
            .iter()
            .filter(|o| o.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE))
            .find_map(|o| self.accept_offer(o))
    }

    fn accept_offer(&self, offer: &ExtensionOffer) -> Option<(DeflateParams, ExtensionOffer)> {
        let p = OfferedParams::parse(offer, true)?;
        let server_bits = p
            .server_max_window_bits
            .unwrap_or(15)
            .min(self.server_max_window_bits);
        let client_bits = match p.client_max_window_bits {
            // The client lets us pick its window: ours, if smaller than 15.
            Some(offered) => offered.unwrap_or(15).min(self.client_max_window_bits),
            None => 15,
        };
        let params = DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover
                || self.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            level: self.level,
            threshold: self.threshold,
        };
        Some((
            params,
            params.response(
                p.server_max_window_bits.is_some(),
                p.client_max_window_bits.is_some(),
            ),
        ))
    }

    /// Client side: checks the server's answer against this offer (RFC 7692
    /// §7.1) and returns the agreed parameters.
    pub fn check_response(
        &self,
        response: &ExtensionOffer,
    ) -> Result<DeflateParams, HandshakeError> {
        let bad = || HandshakeError::UnexpectedExtension(response.to_string());
        let p = OfferedParams::parse(response, false).ok_or_else(bad)?;
        let server_bits = p.server_max_window_bits.unwrap_or(15);
        if server_bits > self.server_max_window_bits {
            return Err(bad());
        }
        // We always offer client_max_window_bits, so the server may set it.
        let client_bits = match p.client_max_window_bits {
            Some(Some(bits)) if bits <= self.client_max_window_bits => bits,
            Some(_) => return Err(bad()),
            None => self.client_max_window_bits,
        };
        if self.server_no_context_takeover && !p.server_no_context_takeover {
            return Err(bad());
        }
        Ok(DeflateParams {
            server_no_context_takeover: p.server_no_context_takeover,
            client_no_context_takeover: p.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            level: self.level,
            threshold: self.threshold,
        })
    }
}

const fn clamp_bits(bits: u8) -> u8 {
    if bits < 8 {
        8
    } else if bits > 15 {
        15
    } else {
        bits
    }
}

/// The parameters of one offer or response, each at most once.
#[derive(Default)]
struct OfferedParams {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (only valid in an offer).
    client_max_window_bits: Option<Option<u8>>,
}

impl OfferedParams {
    fn parse(ext: &ExtensionOffer, is_offer: bool) -> Option<Self> {
        let mut p = Self::default();
        let mut seen = [false; 4];
        for (name, value) in &ext.params {
            let bits = |v: &Option<String>| -> Option<u8> {
                let v = v.as_deref()?;
                // 1*DIGIT with no leading zero, 8–15 (RFC 7692 §7.1.2).
                if v.starts_with('0') || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                v.parse::<u8>().ok().filter(|b| (8..=15).contains(b))
            };
            let slot = match name.to_ascii_lowercase().as_str() {
                "server_no_context_takeover" if value.is_none() => {
                    p.server_no_context_takeover = true;
                    0
                }
                "client_no_context_takeover" if value.is_none() => {
                    p.client_no_context_takeover = true;
                    1
                }
                "server_max_window_bits" => {
                    p.server_max_window_bits = Some(bits(value)?);
                    2
                }
                "client_max_window_bits" => {
                    p.client_max_window_bits = Some(match value {
                        None if is_offer => None,
                        None => return None,
                        Some(_) => Some(bits(value)?),
                    });
                    3
                }
                _ => return None,
            };
            if std::mem::replace(&mut seen[slot], true) {
                return None;
            }
        }
        Some(p)
    }
}

/// The agreed permessage-deflate parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub(crate) client_no_context_takeover: bool,
    /// The server's window, 8–15.
    pub(crate) server_max_window_bits: u8,
    /// The client's window, 8–15.
    pub(crate) client_max_window_bits: u8,
    /// This endpoint's compression level.
    pub(crate) level: u32,
    /// This endpoint's compression threshold.
    pub(crate) threshold: usize,
}

impl DeflateParams {
    /// The server resets its compressor after every message.
    pub const fn server_no_context_takeover(&self) -> bool {
        self.server_no_context_takeover
    }

    /// The client resets its compressor after every message.
    pub const fn client_no_context_takeover(&self) -> bool {
        self.client_no_context_takeover
    }

    /// The server's window, 8–15.
    pub const fn server_max_window_bits(&self) -> u8 {
        self.server_max_window_bits
    }

    /// The client's window, 8–15.
    pub const fn client_max_window_bits(&self) -> u8 {
        self.client_max_window_bits
    }

    /// This endpoint's compression level.
    pub const fn level(&self) -> u32 {
        self.level
    }

    /// This endpoint's compression threshold.
    pub const fn threshold(&self) -> usize {
        self.threshold
    }
    /// The server's response for these parameters.
    fn response(&self, echo_server_bits: bool, client_bits_allowed: bool) -> ExtensionOffer {
        let mut r = ExtensionOffer::new(PERMESSAGE_DEFLATE);
        if self.server_no_context_takeover {
            r = r.with_param("server_no_context_takeover", None);
        }
        if self.client_no_context_takeover {
            r = r.with_param("client_no_context_takeover", None);
        }
        if echo_server_bits || self.server_max_window_bits < 15 {
            r = r.with_param(
                "server_max_window_bits",
                Some(&self.server_max_window_bits.to_string()),
            );
        }
        if client_bits_allowed && self.client_max_window_bits < 15 {
            r = r.with_param(
                "client_max_window_bits",
                Some(&self.client_max_window_bits.to_string()),
            );
        }
        r
    }

    /// (window bits, no context takeover) for what `role` sends.
    fn sending(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (self.server_max_window_bits, self.server_no_context_takeover),
            Role::Client => (self.client_max_window_bits, self.client_no_context_takeover),
        }
    }

    /// (window bits, no context takeover) for what `role` receives.
    fn receiving(&self, role: Role) -> (u8, bool) {
        match role {
            Role::Server => (self.client_max_window_bits, self.client_no_context_takeover),
            Role::Client => (self.server_max_window_bits, self.server_no_context_takeover),
        }
    }
}

/// The 4 bytes a sync flush ends with, removed before sending and put back
/// before inflating (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compresses outgoing messages.
#[derive(Debug)]
pub(crate) struct Deflater {
    level: u32,
    threshold: usize,
    window_bits: u8,
    reset_each_message: bool,
    state: Option<Box<Compress>>,
    /// Test hook: fail the next compression after zlib took its input.
    #[cfg(test)]
    fail_after_input: bool,
}

impl Deflater {
    pub(crate) fn new(params: &DeflateParams, role: Role) -> Self {
        let (window_bits, reset_each_message) = params.sending(role);
        Self {
            // The fields are public: clamp here, where zlib would assert.
            level: params.level.min(9),
            window_bits: clamp_bits(window_bits),
            threshold: params.threshold,
            reset_each_message,
            state: None,
            #[cfg(test)]
            fail_after_input: false,
        }
    }

    /// The compressed payload, or `None` to send it uncompressed: below the
    /// threshold, or when the agreed window (8 bits) is one zlib cannot
    /// produce; RFC 7692 lets any message go uncompressed.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        if payload.len() < self.threshold || payload.is_empty() || self.window_bits < 9 {
            return None;
        }
        let out = self.compress_flushed(payload);
        match out {
            Some(out) if out.len() <= payload.len() || payload.len() < 64 => {
                if self.reset_each_message {
                    self.state = None;
                }
                Some(out)
            }
            // Failed, or incompressible: the message goes out plain. The
            // peer never sees these bytes in its window, so ours must forget
            // them too: start afresh. (Tiny messages grow by a few bytes at
            // most; they keep the context instead.)
            _ => {
                self.state = None;
                None
            }
        }
    }

    /// Compresses `payload` with a sync flush, without the flush's tail;
    /// `None` if zlib fails (the state then holds input the peer will
    /// never see: the caller drops it).
    fn compress_flushed(&mut self, payload: &[u8]) -> Option<Vec<u8>> {
        let (level, bits) = (self.level, self.window_bits);
        let state = self.state.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(level),
                false,
                bits,
            ))
        });
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        let start_in = state.total_in();
        loop {
            let consumed = (state.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            state
                .compress_vec(
                    payload.get(consumed..).unwrap_or_default(),
                    &mut out,
                    FlushCompress::Sync,
                )
                .ok()?;
            #[cfg(test)]
            if std::mem::take(&mut self.fail_after_input) {
                return None;
            }
            // The flush is complete once all input is in and zlib stopped
            // before filling the buffer.
            if (state.total_in() - start_in) as usize == payload.len() && out.len() < out.capacity()
            {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        Some(out)
    }
}

/// Inflates incoming compressed messages, bounded by a size limit.
#[derive(Debug)]
pub(crate) struct Inflater {
    window_bits: u8,
    reset_each_message: bool,
    state: Option<Box<Decompress>>,
}

/// Why inflating failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Not a valid DEFLATE stream.
    Corrupt,
    /// The output passed the limit.
    TooLarge(u64),
    /// Inflated text is not UTF-8.
    InvalidUtf8,
}

impl Inflater {
    pub(crate) fn new(params: &DeflateParams, role: Role) -> Self {
        let (window_bits, reset_each_message) = params.receiving(role);
        Self {
            window_bits: clamp_bits(window_bits),
            reset_each_message,
            state: None,
        }
    }

    /// Inflates `input`, handing output to `sink` in pieces; `produced`
    /// counts the message's inflated bytes so far and may not pass `limit`.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        produced: &mut u64,
        limit: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), InflateError>,
    ) -> Result<(), InflateError> {
        // zlib inflates windows of 9 bits and more; a 9-bit window reads
        // 8-bit streams too.
        let bits = self.window_bits.max(9);
        let state = self
            .state
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let mut block = [0u8; 16 * 1024];
        let mut rest = input;
        loop {
            let (in_before, out_before) = (state.total_in(), state.total_out());
            let result = state.decompress(rest, &mut block, FlushDecompress::Sync);
            let used = (state.total_in() - in_before) as usize;
            let n = (state.total_out() - out_before) as usize;
            rest = rest.get(used..).unwrap_or_default();
            // Output decoded before a corrupt spot is handed on first, so the
            // error reported does not depend on how the input was split.
            if n > 0 {
                *produced += n as u64;
                if *produced > limit {
                    return Err(InflateError::TooLarge(*produced));
                }
                sink(block.get(..n).unwrap_or_default())?;
            }
            let status = result.map_err(|_| InflateError::Corrupt)?;
            if matches!(status, Status::StreamEnd) {
                // A final block ended the stream (RFC 7692 §7.2.3.3 allows
                // BFINAL); whatever follows starts a new one.
                state.reset(false);
            }
            if rest.is_empty() && n < block.len() {
                return Ok(());
            }
            if used == 0 && n == 0 && !matches!(status, Status::StreamEnd) {
                // No progress with input left: the stream is broken.
                return Err(InflateError::Corrupt);
            }
        }
    }

    /// Ends a message: the sync-flush tail is inflated, and the state reset
    /// if the peer does not keep its context.
    pub(crate) fn end_message(
        &mut self,
        produced: &mut u64,
        limit: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), InflateError>,
    ) -> Result<(), InflateError> {
        self.inflate(&TAIL, produced, limit, sink)?;
        if self.reset_each_message {
            self.state = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 6,
            threshold: 0,
        }
    }

    fn inflate_all(inflater: &mut Inflater, data: &[u8]) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        let mut produced = 0;
        let mut sink = |piece: &[u8]| {
            out.extend_from_slice(piece);
            Ok(())
        };
        inflater.inflate(data, &mut produced, u64::MAX, &mut sink)?;
        inflater.end_message(&mut produced, u64::MAX, &mut sink)?;
        Ok(out)
    }

    /// A message whose compression fails goes out plain; the compressor
    /// must forget the input it already took, or the next message refers
    /// to bytes the peer never saw.
    #[test]
    fn a_failed_compression_leaves_nothing_in_the_window() {
        let text = "a message that compresses well, again and again. ".repeat(8);
        let mut deflater = Deflater::new(&params(), Role::Client);
        deflater.fail_after_input = true;
        assert_eq!(deflater.compress(text.as_bytes()), None, "sent plain");
        let next = deflater.compress(text.as_bytes()).expect("compressed");
        // The peer's inflater saw only the plain message, never compressed data.
        let mut peer = Inflater::new(&params(), Role::Server);
        assert_eq!(inflate_all(&mut peer, &next), Ok(text.into_bytes()));
    }

    /// Window bits and levels out of range, set through the public fields,
    /// are clamped instead of tripping zlib's assertions.
    #[test]
    fn out_of_range_parameters_do_not_panic() {
        for bits in [0, 1, 8, 16, 200, u8::MAX] {
            let mut p = params();
            p.server_max_window_bits = bits;
            p.client_max_window_bits = bits;
            p.level = u32::MAX;
            let mut deflater = Deflater::new(&p, Role::Client);
            let text = "compressible text, compressible text, compressible text. ".repeat(4);
            let packed = deflater.compress(text.as_bytes());
            let mut peer = Inflater::new(&p, Role::Server);
            if let Some(packed) = packed {
                assert_eq!(inflate_all(&mut peer, &packed), Ok(text.into_bytes()));
            }
        }
    }
}
