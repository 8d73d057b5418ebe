//! Message-level codec: a strict incremental [`Decoder`] and an [`Encoder`].

use bytes::{Buf, Bytes, BytesMut};

use super::OutBuffer;
use super::close::{CloseFrame, MAX_CLOSE_REASON};
use super::error::{EncodeError, ProtocolError};
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode};
use super::mask::{apply_mask, extend_masked};
use super::utf8::Utf8Validator;
use crate::Status;
use crate::random::{RandomSource, SeededRandom};

/// Which end of the connection this is. Clients mask what they send and
/// expect unmasked frames; servers the reverse (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Role {
    /// The end that opened the connection.
    Client,
    /// The end that accepted it.
    Server,
}

/// Size limits, checked against each frame header before any payload is
/// buffered.
///
/// ```
/// use webwire::ws::Limits;
///
/// let limits = Limits::default().with_max_message_size(1 << 20);
/// assert_eq!(limits.max_frame_size, 16 << 20);
/// assert_eq!(limits.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame payload accepted (default 16 MiB).
    pub max_frame_size: usize,
    /// Largest message accepted, all fragments together (default 64 MiB).
    pub max_message_size: usize,
}

impl Limits {
    /// These limits with the frame limit set to `bytes`.
    pub const fn with_max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// These limits with the message limit set to `bytes`.
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
        }
    }
}

/// What the peer sent: a complete message or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message, validated UTF-8.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping with its application data.
    Ping(Bytes),
    /// A pong with its application data.
    Pong(Bytes),
    /// A close frame: `None` if it carried no status code.
    Close(Option<CloseFrame>),
}

/// The frame whose header has been consumed and whose payload is arriving.
#[derive(Debug)]
struct FrameInProgress {
    header: FrameHeader,
    /// Payload bytes consumed so far (the masking offset).
    done: u64,
}

impl FrameInProgress {
    fn remaining(&self) -> u64 {
        self.header.payload_len - self.done
    }
}

/// A data message being assembled.
#[derive(Debug)]
enum Assembly {
    Text { text: String, utf8: Utf8Validator },
    Binary { data: BytesMut },
}

/// Turns received bytes into messages, enforcing RFC 6455 §5.
///
/// Read from the transport into a `BytesMut` and call
/// [`decode`](Self::decode) until it returns `Ok(None)` ("need more"). The
/// decoder takes what it consumed off the front of the buffer; leave the rest
/// there and append the next read after it.
///
/// * Limits are checked from each frame header, before payload is buffered.
/// * Text is validated as its bytes arrive, even inside one frame, so invalid
///   UTF-8 fails at once (1007), not at the end of the message.
/// * Single-frame binary messages and control payloads are split off the
///   receive buffer without copying; fragmented messages are assembled with
///   one copy; text is copied once, by the validator, into a `String`.
/// * After an error the decoder stays failed and returns the same error.
///
/// ```
/// use bytes::BytesMut;
/// use webwire::ws::{CloseCode, Decoder, Incoming, Role};
///
/// let mut dec = Decoder::new(Role::Client);
/// let mut buf = BytesMut::new();
/// // "Hel" then "lo" (RFC 6455 §5.7), arriving in two reads.
/// buf.extend_from_slice(&[0x01, 0x03, 0x48, 0x65]);
/// assert_eq!(dec.decode(&mut buf)?, None);
/// buf.extend_from_slice(&[0x6c, 0x80, 0x02, 0x6c, 0x6f]);
/// assert_eq!(dec.decode(&mut buf)?, Some(Incoming::Text("Hello".into())));
///
/// // A protocol violation maps to its close code.
/// buf.extend_from_slice(&[0x83, 0x00]); // reserved opcode 0x3
/// let err = dec.decode(&mut buf).unwrap_err();
/// assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
/// # Ok::<(), webwire::ws::ProtocolError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: Limits,
    frame: Option<FrameInProgress>,
    message: Option<Assembly>,
    /// Bytes of the message in progress, all frames so far (announced).
    message_len: u64,
    failed: Option<ProtocolError>,
}

impl Decoder {
    /// A decoder for `role` with default [`Limits`].
    pub fn new(role: Role) -> Self {
        Self::with_limits(role, Limits::default())
    }

    /// A decoder for `role` with `limits`.
    pub fn with_limits(role: Role, limits: Limits) -> Self {
        Self {
            role,
            limits,
            frame: None,
            message: None,
            message_len: 0,
            failed: None,
        }
    }

    /// The role this decoder receives for.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Whether a message or frame is partly received.
    pub fn is_mid_message(&self) -> bool {
        self.frame.is_some() || self.message.is_some()
    }

    /// Decodes the next message or control frame from the front of `buf`.
    ///
    /// `Ok(None)` means every complete frame has been consumed and more bytes
    /// are needed. Bytes of a partly received text frame are consumed (and
    /// validated) as they arrive; other partial frames stay in `buf` until
    /// complete.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.decode_inner(buf);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.frame = None;
            self.message = None;
        }
        result
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        loop {
            let frame = match &mut self.frame {
                Some(frame) => frame,
                None => match self.start_frame(buf)? {
                    Some(frame) => self.frame.insert(frame),
                    None => return Ok(None),
                },
            };
            let header = frame.header;
            if header.opcode.is_control() {
                let len = header.payload_len as usize; // ≤ 125, checked by parse
                if buf.len() < len {
                    return Ok(None);
                }
                self.frame = None;
                let mut payload = buf.split_to(len);
                if let Some(key) = header.mask {
                    apply_mask(&mut payload, key, 0);
                }
                return control(header.opcode, payload.freeze()).map(Some);
            }
            match &mut self.message {
                // Single-frame binary message: split it off without copying.
                None => {
                    let len = header.payload_len as usize; // ≤ max_frame_size
                    if buf.len() < len {
                        return Ok(None);
                    }
                    self.frame = None;
                    let mut payload = buf.split_to(len);
                    if let Some(key) = header.mask {
                        apply_mask(&mut payload, key, 0);
                    }
                    return Ok(Some(Incoming::Binary(payload.freeze())));
                }
                Some(assembly) => {
                    let n = usize::try_from(frame.remaining())
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let piece = &mut buf[..n];
                    if let Some(key) = header.mask {
                        apply_mask(piece, key, frame.done as usize);
                    }
                    match assembly {
                        Assembly::Text { text, utf8 } => {
                            utf8.push(piece, text)
                                .map_err(|_| ProtocolError::InvalidUtf8)?;
                        }
                        Assembly::Binary { data } => data.extend_from_slice(piece),
                    }
                    buf.advance(n);
                    frame.done += n as u64;
                    if frame.remaining() > 0 {
                        return Ok(None);
                    }
                    self.frame = None;
                    if !header.fin {
                        continue;
                    }
                    self.message_len = 0;
                    match self.message.take() {
                        Some(Assembly::Text { text, mut utf8 }) => {
                            utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                            return Ok(Some(Incoming::Text(text)));
                        }
                        Some(Assembly::Binary { data }) => {
                            return Ok(Some(Incoming::Binary(data.freeze())));
                        }
                        None => continue,
                    }
                }
            }
        }
    }

    /// Parses and checks the next header, consuming it from `buf`, and sets up
    /// message assembly for data frames.
    fn start_frame(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<FrameInProgress>, ProtocolError> {
        let (header, header_len) = match FrameHeader::parse(buf)? {
            Status::Complete(v) => v,
            Status::Partial => return Ok(None),
        };
        if header.rsv != 0 {
            return Err(ProtocolError::ReservedBits(header.rsv));
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.payload_len > self.limits.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.limits.max_frame_size,
            });
        }
        if !header.opcode.is_control() {
            let continuing = self.message.is_some();
            match (header.opcode, continuing) {
                (OpCode::Continuation, false) => return Err(ProtocolError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, true) => {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                _ => {}
            }
            let total = self.message_len + header.payload_len;
            if total > self.limits.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge {
                    len: total,
                    max: self.limits.max_message_size,
                });
            }
            self.message_len = total;
            match header.opcode {
                OpCode::Text => {
                    self.message = Some(Assembly::Text {
                        text: String::new(),
                        utf8: Utf8Validator::default(),
                    });
                }
                // A single-frame binary message needs no assembly buffer.
                OpCode::Binary if !header.fin => {
                    self.message = Some(Assembly::Binary {
                        data: BytesMut::new(),
                    });
                }
                OpCode::Binary => {
                    self.message_len = 0;
                }
                _ => {}
            }
        }
        buf.advance(header_len);
        Ok(Some(FrameInProgress { header, done: 0 }))
    }
}

fn control(opcode: OpCode, payload: Bytes) -> Result<Incoming, ProtocolError> {
    Ok(match opcode {
        OpCode::Ping => Incoming::Ping(payload),
        OpCode::Pong => Incoming::Pong(payload),
        _ => Incoming::Close(CloseFrame::parse(&payload)?),
    })
}

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
pub struct Encoder<R> {
    role: Role,
    random: R,
}

impl Encoder<SeededRandom> {
    /// A server-role encoder. Servers never mask, so it needs no randomness.
    pub fn server() -> Self {
        Self {
            role: Role::Server,
            random: SeededRandom::new(0),
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
        let count = payload.len().div_ceil(fragment_size).max(1);
        let mut pieces = payload.chunks(fragment_size);
        for i in 0..count {
            let piece = pieces.next().unwrap_or_default();
            let op = if i == 0 { opcode } else { OpCode::Continuation };
            self.write_frame(i + 1 == count, 0, op, piece, out);
        }
        Ok(())
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
        if !frame.code.is_valid_on_wire() {
            return Err(EncodeError::InvalidCloseCode(frame.code.0));
        }
        if frame.reason.len() > MAX_CLOSE_REASON {
            return Err(EncodeError::CloseReasonTooLong(frame.reason.len()));
        }
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
        let mut bytes = [0u8; super::MAX_HEADER_LEN];
        let n = header.write(&mut bytes);
        out.reserve(n + payload.len());
        out.extend_from_slice(&bytes[..n]);
        match mask {
            Some(key) => extend_masked(out, payload, key),
            None => out.extend_from_slice(payload),
        }
    }
}
