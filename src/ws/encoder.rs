//! The [`Encoder`]: messages and control frames in, frames (masked in the
//! client role) appended to your buffer.

use super::OutBuffer;
use super::close_frame::CloseFrame;
use super::error::EncodeError;
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use super::mask::{copy_masked, extend_masked};
use super::role::Role;
use crate::random::{NoRandom, RandomSource};

/// Writes frames into a caller-owned buffer, masking them in the client role
/// with keys from an injected [`RandomSource`].
///
/// ```
/// use webwire::random::FixedRandom;
/// use webwire::ws::{Encoder, Role};
///
/// // RFC 6455 §5.7: a masked "Hello" with the key 37 fa 21 3d.
/// let mut enc = Encoder::new(Role::Client, FixedRandom::new([0x37, 0xfa, 0x21, 0x3d]));
/// let mut out = Vec::new();
/// enc.encode_text("Hello", &mut out);
/// assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
///
/// // A server does not mask.
/// let mut enc = Encoder::server();
/// out.clear();
/// enc.encode_ping(b"Hello", &mut out)?;
/// assert_eq!(out, [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
/// # Ok::<(), webwire::ws::EncodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Encoder<R = NoRandom> {
    role: Role,
    random: R,
}

impl Encoder {
    /// A server-role encoder. Servers never mask, so it needs no randomness.
    pub fn server() -> Self {
        Self {
            role: Role::Server,
            random: NoRandom::new(),
        }
    }
}

impl<R: RandomSource> Encoder<R> {
    /// An encoder for `role`; in the client role each frame gets a fresh
    /// masking key from `random`.
    pub fn new(role: Role, random: R) -> Self {
        Self { role, random }
    }

    /// The role this encoder sends for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Appends a complete text message as one frame.
    pub fn encode_text(&mut self, text: &str, out: &mut impl OutBuffer) {
        self.write_frame(true, 0, OpCode::Text, text.as_bytes(), out);
    }

    /// Appends a complete binary message as one frame.
    pub fn encode_binary(&mut self, data: &[u8], out: &mut impl OutBuffer) {
        self.write_frame(true, 0, OpCode::Binary, data, out);
    }

    /// Appends a message split into frames of at most `fragment_size` bytes.
    ///
    /// `opcode` must be [`OpCode::Text`] or [`OpCode::Binary`]; text may be
    /// split inside a code point, as RFC 6455 allows. An empty payload is one
    /// empty frame.
    pub fn encode_fragmented(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        fragment_size: usize,
        out: &mut impl OutBuffer,
    ) -> Result<(), EncodeError> {
        if fragment_size == 0 {
            return Err(EncodeError::ZeroFragmentSize);
        }
        if opcode.is_control() || opcode == OpCode::Continuation {
            return Err(EncodeError::NotADataOpcode);
        }
        self.encode_message(opcode, 0, payload, fragment_size, out);
        Ok(())
    }

    /// Appends a data message in frames of at most `fragment_size` bytes
    /// (at least one frame), with `first_rsv` on the first frame only: how
    /// permessage-deflate marks a compressed message (RFC 7692 §6.1).
    pub(crate) fn encode_message(
        &mut self,
        opcode: OpCode,
        first_rsv: u8,
        payload: &[u8],
        fragment_size: usize,
        out: &mut impl OutBuffer,
    ) {
        let size = fragment_size.max(1);
        let count = payload.len().div_ceil(size).max(1);
        let mut pieces = payload.chunks(size);
        for i in 0..count {
            let piece = pieces.next().unwrap_or_default();
            let (rsv, op) = if i == 0 {
                (first_rsv, opcode)
            } else {
                (0, OpCode::Continuation)
            };
            self.write_frame(i + 1 == count, rsv, op, piece, out);
        }
    }

    /// Appends a ping with up to 125 bytes of application data.
    pub fn encode_ping(
        &mut self,
        data: &[u8],
        out: &mut impl OutBuffer,
    ) -> Result<(), EncodeError> {
        self.encode_control(OpCode::Ping, data, out)
    }

    /// Appends a pong with up to 125 bytes of application data.
    pub fn encode_pong(
        &mut self,
        data: &[u8],
        out: &mut impl OutBuffer,
    ) -> Result<(), EncodeError> {
        self.encode_control(OpCode::Pong, data, out)
    }

    /// Appends a close frame: with a code and reason, or empty for `None`.
    pub fn encode_close(
        &mut self,
        frame: Option<&CloseFrame>,
        out: &mut impl OutBuffer,
    ) -> Result<(), EncodeError> {
        let Some(frame) = frame else {
            self.write_frame(true, 0, OpCode::Close, &[], out);
            return Ok(());
        };
        frame.check_sendable()?;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&frame.code.0.to_be_bytes());
        payload[2..frame.payload_len()].copy_from_slice(frame.reason.as_bytes());
        self.write_frame(true, 0, OpCode::Close, &payload[..frame.payload_len()], out);
        Ok(())
    }

    fn encode_control(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        out: &mut impl OutBuffer,
    ) -> Result<(), EncodeError> {
        if data.len() > MAX_CONTROL_PAYLOAD {
            return Err(EncodeError::ControlFrameTooLarge(data.len()));
        }
        self.write_frame(true, 0, opcode, data, out);
        Ok(())
    }

    /// Appends one frame with the given header bits, masking it in the client
    /// role. The caller is responsible for fragmentation and reserved-bit
    /// rules; use the typed methods above unless you implement an extension.
    pub fn encode_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: &[u8],
        out: &mut impl OutBuffer,
    ) {
        self.write_frame(fin, rsv & 0b111, opcode, payload, out);
    }

    #[inline]
    fn write_frame(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: OpCode,
        payload: &[u8],
        out: &mut impl OutBuffer,
    ) {
        let mask = match self.role {
            Role::Client => Some(self.random.next_u32().to_ne_bytes()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        // A small masked frame is assembled on the stack and appended in one
        // copy: separate memcpy calls for the header and the payload cost
        // more than the masking.
        const SMALL: usize = 64;
        if let (Some(key), true) = (mask, payload.len() <= SMALL) {
            let mut frame = [0u8; super::MAX_HEADER_LEN + SMALL];
            if let Some(head) = frame.first_chunk_mut::<{ super::MAX_HEADER_LEN }>() {
                let n = header.write(head);
                let end = n + payload.len();
                copy_masked(&mut frame[n..end], payload, key);
                out.extend_from_slice(&frame[..end]);
                return;
            }
        }
        let mut bytes = [0u8; super::MAX_HEADER_LEN];
        let n = header.write(&mut bytes);
        out.reserve(n + payload.len());
        out.extend_from_slice(&bytes[..n]);
        match mask {
            Some(key) => extend_masked(out, payload, key, 0),
            None => out.extend_from_slice(payload),
        }
    }
}
