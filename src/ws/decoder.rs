//! The strict incremental [`Decoder`]: received bytes in, [`Incoming`]
//! messages and control frames out.

use bytes::{Buf, Bytes, BytesMut};

use super::close_frame::CloseFrame;
use super::error::ProtocolError;
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use super::limits::Limits;
use super::mask::{apply_mask, copy_masked, copy_masked_at, extend_masked};
use super::role::Role;
use super::utf8::Utf8Validator;
use crate::Status;

/// The most [`Decoder::decode_buf`] reserves in its buffer at a time for a
/// frame still arriving (64 KiB).
pub const IN_PLACE_RESERVE: usize = 64 * 1024;

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
    Binary { data: Vec<u8> },
}

/// Turns received bytes into messages, enforcing RFC 6455 §5.
///
/// Hand it bytes as they arrive with [`decode`](Self::decode) (a slice, as
/// read from the transport) or [`decode_buf`](Self::decode_buf) (a
/// `BytesMut` receive buffer). It keeps what it needs between calls: a frame
/// header or payload may be split anywhere.
///
/// * Limits are checked from each frame header, before any payload is
///   buffered. Buffers grow with the bytes that actually arrive (never from
///   a length the peer announced) and never past the message limit.
/// * Text is validated as its bytes arrive, even inside one frame, so invalid
///   UTF-8 fails at once (1007), not at the end of the message.
/// * Each payload byte is copied once, from your input into the message,
///   unmasked (and for text, validated) on the way: no second pass.
/// * After an error the decoder stays failed and returns the same error.
/// * An idle decoder holds no heap memory.
///
/// ```
/// use webwire::ws::{CloseCode, Decoder, Incoming, Role};
///
/// let mut dec = Decoder::new(Role::Client);
/// // "Hel" then "lo" (RFC 6455 §5.7), arriving in two reads.
/// assert_eq!(dec.decode(&[0x01, 0x03, 0x48, 0x65])?, (4, None));
/// let read = [0x6c, 0x80, 0x02, 0x6c, 0x6f];
/// assert_eq!(dec.decode(&read)?, (5, Some(Incoming::Text("Hello".into()))));
///
/// // A protocol violation maps to its close code.
/// let err = dec.decode(&[0x83, 0x00]).unwrap_err(); // reserved opcode 0x3
/// assert_eq!(err.close_code(), CloseCode::PROTOCOL_ERROR);
/// # Ok::<(), webwire::ws::ProtocolError>(())
/// ```
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    limits: Limits,
    /// Bytes of a header split across calls.
    header: [u8; MAX_HEADER_LEN],
    header_len: u8,
    frame: Option<FrameInProgress>,
    message: Option<Assembly>,
    /// Bytes of the message in progress, all frames so far (announced).
    message_len: u64,
    /// Payload of a control frame split across calls.
    control: Vec<u8>,
    failed: Option<ProtocolError>,
    /// The message in progress is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Inflated bytes of the message in progress.
    inflated: u64,
    #[cfg(feature = "deflate")]
    inflater: Option<super::deflate::Inflater>,
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
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            message_len: 0,
            control: Vec::new(),
            failed: None,
            compressed: false,
            inflated: 0,
            #[cfg(feature = "deflate")]
            inflater: None,
        }
    }

    /// This decoder with permessage-deflate as negotiated: RSV1 on a
    /// message's first frame marks it compressed, and it is inflated as it
    /// arrives, within the message size limit.
    #[cfg(feature = "deflate")]
    #[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
    pub fn with_deflate(mut self, params: &super::deflate::DeflateParams) -> Self {
        self.inflater = Some(super::deflate::Inflater::new(params, self.role));
        self
    }

    fn deflate_enabled(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.inflater.is_some();
        #[cfg(not(feature = "deflate"))]
        return false;
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
        self.header_len != 0 || self.frame.is_some() || self.message.is_some()
    }

    /// Decodes from `input` until one message or control frame is complete.
    ///
    /// Returns how many bytes of `input` it consumed and the message, if one
    /// completed. Call again with the rest of the input while it returns a
    /// message; `(n, None)` always has `n == input.len()`: everything was
    /// taken in and more bytes are needed.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<Incoming>), ProtocolError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        self.decode_inner(input).map_err(|e| self.fail(e))
    }

    /// Records a failure: the decoder stays failed and drops what it held.
    fn fail(&mut self, err: ProtocolError) -> ProtocolError {
        self.failed = Some(err.clone());
        self.frame = None;
        self.message = None;
        self.control = Vec::new();
        // A failed decoder inflates nothing more: free the window (~48 KiB).
        #[cfg(feature = "deflate")]
        {
            self.inflater = None;
        }
        err
    }

    /// Decodes the next message from the front of a receive buffer, taking
    /// what it consumed off the buffer. `Ok(None)`: more bytes are needed;
    /// append them to the buffer and call again.
    ///
    /// A single-frame binary message is left in the buffer until it is
    /// complete, then unmasked in place and split off without copying. While
    /// it arrives, at most [`IN_PLACE_RESERVE`] bytes of room are reserved
    /// at a time, never the length its header announced. Everything else is
    /// taken in as it arrives, as [`decode`](Self::decode) does.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use webwire::ws::{Decoder, Incoming, Role};
    ///
    /// let mut dec = Decoder::new(Role::Client);
    /// let mut buf = BytesMut::from(&b"\x81\x02hi\x82\x03you"[..]);
    /// assert_eq!(dec.decode_buf(&mut buf)?, Some(Incoming::Text("hi".into())));
    /// assert_eq!(dec.decode_buf(&mut buf)?, Some(Incoming::Binary("you".into())));
    /// assert_eq!(dec.decode_buf(&mut buf)?, None);
    /// # Ok::<(), webwire::ws::ProtocolError>(())
    /// ```
    pub fn decode_buf(&mut self, buf: &mut BytesMut) -> Result<Option<Incoming>, ProtocolError> {
        // FIN, no RSV bits, binary: the only first byte the in-place path
        // takes. Anything else goes straight to `decode`, parsed once.
        const FINAL_BINARY: u8 = 0x82;
        let idle = buf.first() == Some(&FINAL_BINARY)
            && self.failed.is_none()
            && self.header_len == 0
            && self.frame.is_none()
            && self.message.is_none();
        if idle {
            if let Ok(Status::Complete((header, header_len))) = FrameHeader::parse(buf) {
                if header.fin && header.opcode == OpCode::Binary && header.rsv == 0 {
                    self.check_header(&header).map_err(|e| self.fail(e))?;
                    let len = header.payload_len as usize; // ≤ max_frame_size
                    let missing = (header_len + len).saturating_sub(buf.len());
                    if missing > 0 {
                        // Room for what may arrive next, not for what the
                        // header announced: the buffer grows as bytes come.
                        buf.reserve(missing.min(IN_PLACE_RESERVE));
                        return Ok(None);
                    }
                    buf.advance(header_len);
                    let mut payload = buf.split_to(len);
                    if let Some(key) = header.mask {
                        apply_mask(&mut payload, key, 0);
                    }
                    return Ok(Some(Incoming::Binary(payload.freeze())));
                }
            }
        }
        let (used, message) = self.decode(buf)?;
        buf.advance(used);
        Ok(message)
    }

    /// One pass of the decoding loop: a header, then a whole message (fast
    /// path), a control frame, or a piece of a data frame, until a message
    /// completes or the input runs out.
    fn decode_inner(&mut self, input: &[u8]) -> Result<(usize, Option<Incoming>), ProtocolError> {
        let mut pos = 0;
        loop {
            if self.frame.is_none() {
                let header = match self.read_header(&input[pos..])? {
                    (used, Some(header)) => {
                        pos += used;
                        header
                    }
                    (_, None) => return Ok((input.len(), None)),
                };
                self.check_header(&header)?;
                if let Some(message) = whole_message(&header, input, &mut pos)? {
                    return Ok((pos, Some(message)));
                }
                self.begin_frame(header);
            }
            let Some(frame) = &mut self.frame else {
                continue;
            };
            let (header, offset) = (frame.header, frame.done as usize);
            let avail = &input[pos..];
            let n = usize::try_from(frame.remaining()).map_or(avail.len(), |r| r.min(avail.len()));
            let piece = &avail[..n];
            frame.done += n as u64;
            let complete = frame.remaining() == 0;
            pos += n;

            if header.opcode.is_control() {
                return Ok((pos, self.control_piece(&header, piece, offset, complete)?));
            }
            self.data_piece(&header, piece, offset, complete)?;
            if !complete {
                return Ok((pos, None));
            }
            self.frame = None;
            if header.fin {
                if let Some(message) = self.finish_message()? {
                    return Ok((pos, Some(message)));
                }
            }
        }
    }

    /// A piece of a control frame's payload: the frame once complete.
    #[inline]
    fn control_piece(
        &mut self,
        header: &FrameHeader,
        piece: &[u8],
        offset: usize,
        complete: bool,
    ) -> Result<Option<Incoming>, ProtocolError> {
        if complete && self.control.is_empty() {
            // The whole payload is here: one copy, straight out.
            let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
            let payload = &mut payload[..piece.len()];
            match header.mask {
                // A whole payload starts at offset 0.
                Some(key) => copy_masked(payload, piece, key),
                None => payload.copy_from_slice(piece),
            }
            self.frame = None;
            return control(header.opcode, Bytes::copy_from_slice(payload)).map(Some);
        }
        push_unmasked(&mut self.control, piece, header.mask, offset);
        if !complete {
            return Ok(None);
        }
        self.frame = None;
        let payload = Bytes::from(std::mem::take(&mut self.control));
        control(header.opcode, payload).map(Some)
    }

    /// A piece of a data frame's payload, into the message being assembled
    /// (inflated first if the message is compressed).
    #[inline]
    fn data_piece(
        &mut self,
        header: &FrameHeader,
        piece: &[u8],
        offset: usize,
        complete: bool,
    ) -> Result<(), ProtocolError> {
        if self.compressed {
            return self.inflate_piece(piece, header.mask, offset, complete && header.fin);
        }
        // The final frame fixes the message's size, so grow to exactly that;
        // before it, up to the message limit (never past it).
        let bound = match header.fin {
            true => usize::try_from(self.message_len).unwrap_or(usize::MAX),
            false => self.limits.max_message_size,
        };
        let n = piece.len();
        match &mut self.message {
            Some(Assembly::Text { text, utf8 }) => {
                if let Some(extra) = reserve_for(text.len(), text.capacity(), n, bound) {
                    text.reserve_exact(extra);
                }
                push_text(utf8, text, piece, header.mask, offset)
            }
            Some(Assembly::Binary { data }) => {
                if let Some(extra) = reserve_for(data.len(), data.capacity(), n, bound) {
                    data.reserve_exact(extra);
                }
                push_unmasked(data, piece, header.mask, offset);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// The message whose final frame just completed.
    #[inline]
    fn finish_message(&mut self) -> Result<Option<Incoming>, ProtocolError> {
        self.message_len = 0;
        Ok(match self.message.take() {
            Some(Assembly::Text { text, mut utf8 }) => {
                utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                Some(Incoming::Text(text))
            }
            Some(Assembly::Binary { data }) => Some(Incoming::Binary(Bytes::from(data))),
            None => None,
        })
    }

    /// Unmasks and inflates a piece of a compressed message into the
    /// message being assembled; `last` ends the message.
    #[cfg(feature = "deflate")]
    fn inflate_piece(
        &mut self,
        piece: &[u8],
        mask: Option<[u8; 4]>,
        offset: usize,
        last: bool,
    ) -> Result<(), ProtocolError> {
        use super::deflate::InflateError;
        const BLOCK: usize = 4096;
        let max = self.limits.max_message_size;
        let Some(inflater) = self.inflater.as_mut() else {
            return Err(ProtocolError::ReservedBits(0b100));
        };
        let message = &mut self.message;
        // Grow with the output but never past the limit, so a bomb is
        // refused having allocated about the limit, not twice it. (Text may
        // hold up to 3 more bytes: a code point completed by the next piece.)
        let room = |len: usize, cap: usize, more: usize, slack: usize| {
            reserve_for(
                len,
                cap,
                more.saturating_add(slack),
                max.saturating_add(slack),
            )
        };
        let mut sink = |out: &[u8]| -> Result<(), InflateError> {
            match message {
                Some(Assembly::Text { text, utf8 }) => {
                    if let Some(extra) = room(text.len(), text.capacity(), out.len(), 3) {
                        text.reserve_exact(extra);
                    }
                    utf8.push(out, text).map_err(|_| InflateError::InvalidUtf8)
                }
                Some(Assembly::Binary { data }) => {
                    if let Some(extra) = room(data.len(), data.capacity(), out.len(), 0) {
                        data.reserve_exact(extra);
                    }
                    data.extend_from_slice(out);
                    Ok(())
                }
                None => Ok(()),
            }
        };
        let map = |e: InflateError| match e {
            InflateError::Corrupt => ProtocolError::InvalidCompressedData,
            InflateError::InvalidUtf8 => ProtocolError::InvalidUtf8,
            InflateError::TooLarge(len) => ProtocolError::MessageTooLarge { len, max },
        };
        let mut block = [0u8; BLOCK];
        for (i, chunk) in piece.chunks(BLOCK).enumerate() {
            let block = &mut block[..chunk.len()];
            block.copy_from_slice(chunk);
            if let Some(key) = mask {
                apply_mask(block, key, offset + i * BLOCK);
            }
            inflater
                .inflate(block, &mut self.inflated, max as u64, &mut sink)
                .map_err(map)?;
        }
        if last {
            inflater
                .end_message(&mut self.inflated, max as u64, &mut sink)
                .map_err(map)?;
        }
        Ok(())
    }

    #[cfg(not(feature = "deflate"))]
    fn inflate_piece(
        &mut self,
        _: &[u8],
        _: Option<[u8; 4]>,
        _: usize,
        _: bool,
    ) -> Result<(), ProtocolError> {
        // Unreachable: RSV1 is refused without the feature.
        Err(ProtocolError::ReservedBits(0b100))
    }

    /// Reads a header from the bytes held back from earlier calls and the
    /// front of `input`. Returns the bytes of `input` it took and the header,
    /// or `None` once it has kept all of `input` and needs more.
    fn read_header(&mut self, input: &[u8]) -> Result<(usize, Option<FrameHeader>), ProtocolError> {
        if self.header_len == 0 {
            return Ok(match FrameHeader::parse(input)? {
                Status::Complete((header, used)) => (used, Some(header)),
                Status::Partial => {
                    // Fewer bytes than a header: keep them.
                    self.header[..input.len()].copy_from_slice(input);
                    self.header_len = input.len() as u8;
                    (input.len(), None)
                }
            });
        }
        let held = usize::from(self.header_len);
        let take = (MAX_HEADER_LEN - held).min(input.len());
        self.header[held..held + take].copy_from_slice(&input[..take]);
        match FrameHeader::parse(&self.header[..held + take])? {
            Status::Complete((header, used)) => {
                self.header_len = 0;
                Ok((used - held, Some(header)))
            }
            Status::Partial => {
                self.header_len = (held + take) as u8;
                Ok((take, None))
            }
        }
    }

    /// Checks a new frame's header against the role, the limits and the
    /// message in progress.
    fn check_header(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        // RSV1 is permessage-deflate's, on the first frame of a message only.
        let compressed_start = header.rsv == 0b100
            && matches!(header.opcode, OpCode::Text | OpCode::Binary)
            && self.deflate_enabled();
        if header.rsv != 0 && !compressed_start {
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
            match (header.opcode, self.message.is_some()) {
                (OpCode::Continuation, false) => return Err(ProtocolError::UnexpectedContinuation),
                (OpCode::Text | OpCode::Binary, true) => {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                _ => {}
            }
            let total = self.message_len.saturating_add(header.payload_len);
            if total > self.limits.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge {
                    len: total,
                    max: self.limits.max_message_size,
                });
            }
        }
        Ok(())
    }

    /// Starts receiving a checked frame's payload, setting up assembly for
    /// data frames.
    fn begin_frame(&mut self, header: FrameHeader) -> &mut FrameInProgress {
        if !header.opcode.is_control() {
            self.message_len = self.message_len.saturating_add(header.payload_len);
            if header.opcode != OpCode::Continuation {
                self.compressed = header.rsv & 0b100 != 0;
                self.inflated = 0;
            }
            // Nothing is reserved from the announced length: buffers grow
            // with the bytes that arrive (`reserve_for`).
            match header.opcode {
                OpCode::Text => {
                    self.message = Some(Assembly::Text {
                        text: String::new(),
                        utf8: Utf8Validator::default(),
                    });
                }
                OpCode::Binary => self.message = Some(Assembly::Binary { data: Vec::new() }),
                _ => {}
            }
        }
        self.frame.insert(FrameInProgress { header, done: 0 })
    }
}

/// The fast path: a whole unfragmented, uncompressed message whose payload
/// is all in `input` is decoded straight out of it, advancing `pos`.
/// `None` for anything else (the frame is then received piece by piece).
#[inline]
fn whole_message(
    header: &FrameHeader,
    input: &[u8],
    pos: &mut usize,
) -> Result<Option<Incoming>, ProtocolError> {
    let len = header.payload_len as usize; // ≤ max_frame_size, checked
    let text = match header.opcode {
        OpCode::Text => true,
        OpCode::Binary => false,
        _ => return Ok(None),
    };
    if !header.fin || header.rsv != 0 || input.len() - *pos < len {
        return Ok(None);
    }
    let payload = &input[*pos..*pos + len];
    *pos += len;
    Ok(Some(if text {
        Incoming::Text(whole_text(payload, header.mask)?)
    } else {
        let mut data = Vec::with_capacity(len);
        push_unmasked(&mut data, payload, header.mask, 0);
        Incoming::Binary(Bytes::from(data))
    }))
}

/// How much more to reserve so that `more` bytes fit after `len` in a buffer
/// of capacity `cap`, or `None` if they fit. Growth follows the bytes that
/// arrived, doubling so that appends stay amortised (a flood of 1-byte
/// fragments reallocates a logarithmic number of times), and never passes
/// `bound`, the most the message may hold.
#[inline]
fn reserve_for(len: usize, cap: usize, more: usize, bound: usize) -> Option<usize> {
    let needed = len.saturating_add(more);
    if needed <= cap {
        return None;
    }
    let next = cap.saturating_mul(2).clamp(needed, bound.max(needed));
    Some(next - len)
}

/// A whole text message: unmasked, validated and copied out in one pass.
#[inline]
fn whole_text(payload: &[u8], mask: Option<[u8; 4]>) -> Result<String, ProtocolError> {
    const SMALL: usize = 128;
    if payload.len() > SMALL {
        let mut text = String::with_capacity(payload.len());
        let mut utf8 = Utf8Validator::default();
        push_text(&mut utf8, &mut text, payload, mask, 0)?;
        utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
        return Ok(text);
    }
    // Small messages skip the block loop and the carry logic.
    let mut block = [0u8; SMALL];
    let bytes = match mask {
        Some(key) => {
            let block = &mut block[..payload.len()];
            copy_masked(block, payload, key);
            block
        }
        None => payload,
    };
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(ProtocolError::InvalidUtf8),
    }
}

/// Validates `piece` and appends it to `text`, unmasking it first if a key
/// is given: through a stack block, so validation and the copy into the
/// message read it from L1.
#[inline]
fn push_text(
    utf8: &mut Utf8Validator,
    text: &mut String,
    piece: &[u8],
    mask: Option<[u8; 4]>,
    offset: usize,
) -> Result<(), ProtocolError> {
    let Some(key) = mask else {
        return utf8
            .push(piece, text)
            .map_err(|_| ProtocolError::InvalidUtf8);
    };
    fn through<const N: usize>(
        utf8: &mut Utf8Validator,
        text: &mut String,
        piece: &[u8],
        key: [u8; 4],
        offset: usize,
    ) -> Result<(), ProtocolError> {
        let mut block = [0u8; N];
        for (i, chunk) in piece.chunks(N).enumerate() {
            let block = &mut block[..chunk.len()];
            copy_masked_at(block, chunk, key, offset + i * N);
            utf8.push(block, text)
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(())
    }
    // Small messages are common: don't clear a 4 KiB block for them.
    if piece.len() <= 128 {
        through::<128>(utf8, text, piece, key, offset)
    } else {
        through::<4096>(utf8, text, piece, key, offset)
    }
}

/// Appends `piece` to `out`, unmasked if a key is given.
#[inline]
fn push_unmasked(out: &mut Vec<u8>, piece: &[u8], mask: Option<[u8; 4]>, offset: usize) {
    match mask {
        Some(key) => extend_masked(out, piece, key, offset),
        None => out.extend_from_slice(piece),
    }
}

fn control(opcode: OpCode, payload: Bytes) -> Result<Incoming, ProtocolError> {
    Ok(match opcode {
        OpCode::Ping => Incoming::Ping(payload),
        OpCode::Pong => Incoming::Pong(payload),
        _ => Incoming::Close(CloseFrame::parse(&payload)?),
    })
}
