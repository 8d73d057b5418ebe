//! Frame headers (RFC 6455 §5.2): opcodes, incremental parsing, encoding.

use super::error::ProtocolError;
use crate::Status;

/// Largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// Longest possible frame header: 2 + 8 (length) + 4 (mask key).
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 §5.2). Reserved opcodes are rejected at parse
/// time, so a parsed header always holds one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: starts a text message.
    Text,
    /// 0x2: starts a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the low 4 bits of a header's first byte.
    pub const fn from_u8(v: u8) -> Result<Self, ProtocolError> {
        Ok(match v {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => return Err(ProtocolError::ReservedOpcode(other)),
        })
    }

    /// The wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping or pong.
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A frame header: everything before the payload.
///
/// [`parse`](Self::parse) enforces the role-independent rules of §5.2 and
/// §5.5 (reserved opcodes, control frames unfragmented and ≤ 125 bytes, 64-bit
/// lengths with the top bit clear). Role, reserved-bit and size rules depend
/// on configuration and are enforced by [`Decoder`](super::Decoder).
///
/// Lengths encoded in more bytes than needed are accepted: the minimal
/// encoding is a sender's duty (§5.2) and no conformance test requires a
/// receiver to refuse it.
///
/// ```
/// use webwire::Status;
/// use webwire::ws::{FrameHeader, OpCode};
///
/// // RFC 6455 §5.7: a masked "Hello" from a client.
/// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
/// let Status::Complete((header, consumed)) = FrameHeader::parse(&wire)? else { panic!() };
/// assert_eq!(consumed, 6);
/// assert_eq!(header.opcode, OpCode::Text);
/// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
/// assert_eq!(header.payload_len, 5);
///
/// // Fewer bytes than the header needs: not an error, just "need more".
/// assert!(FrameHeader::parse(&wire[..3])?.is_partial());
///
/// let mut out = Vec::new();
/// header.encode(&mut out);
/// assert_eq!(out, &wire[..6]);
/// # Ok::<(), webwire::ws::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    /// Final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as bits 2, 1, 0 (RSV1 = `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header for an unfragmented, unmasked frame without reserved bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Parses a header from the front of `buf`.
    ///
    /// Returns the header and the bytes it took, [`Status::Partial`] if `buf`
    /// holds only part of it, or the protocol error it breaks. Never reads
    /// past the header.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Status<(Self, usize)>, ProtocolError> {
        let (b0, b1) = match buf {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(Status::Partial),
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0b111;
        let opcode = OpCode::from_u8(b0 & 0x0f)?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame);
        }
        let (payload_len, ext) = match Self::extended_len(len7, &buf[2..]) {
            Some(v) => v,
            None => return Ok(Status::Partial),
        };
        // Checked once the whole length field is in, so the error reports the
        // same figure however the bytes were split.
        if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(ProtocolError::ControlFrameTooLarge(payload_len));
        }
        if payload_len >> 63 != 0 {
            return Err(ProtocolError::InvalidPayloadLength);
        }
        let mut pos = 2 + ext;
        let mask = if masked {
            match buf.get(pos..pos + 4) {
                Some(&[a, b, c, d]) => {
                    pos += 4;
                    Some([a, b, c, d])
                }
                _ => return Ok(Status::Partial),
            }
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    /// Decodes the payload length from the 7-bit field and the bytes after
    /// the first two: the length and how many extended bytes it took, or
    /// `None` if those bytes have not arrived.
    #[inline]
    fn extended_len(len7: u8, rest: &[u8]) -> Option<(u64, usize)> {
        match len7 {
            126 => match rest {
                [a, b, ..] => Some((u64::from(u16::from_be_bytes([*a, *b])), 2)),
                _ => None,
            },
            127 => match rest.get(..8) {
                Some(&[a, b, c, d, e, f, g, h]) => {
                    Some((u64::from_be_bytes([a, b, c, d, e, f, g, h]), 8))
                }
                _ => None,
            },
            n => Some((u64::from(n), 0)),
        }
    }

    /// The encoded header length in bytes.
    pub const fn encoded_len(&self) -> usize {
        let ext = if self.payload_len < 126 {
            0
        } else if self.payload_len <= 0xffff {
            2
        } else {
            8
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Appends the header, with the minimal length encoding, to `out`.
    #[inline]
    pub fn encode(&self, out: &mut impl super::OutBuffer) {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let n = self.write(&mut bytes);
        out.extend_from_slice(&bytes[..n]);
    }

    /// Writes the header to the front of `bytes`, returning its length.
    #[inline]
    pub(crate) fn write(&self, bytes: &mut [u8; MAX_HEADER_LEN]) -> usize {
        bytes[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = 2;
        if self.payload_len < 126 {
            bytes[1] = mask_bit | self.payload_len as u8;
        } else if self.payload_len <= 0xffff {
            bytes[1] = mask_bit | 126;
            bytes[2..4].copy_from_slice(&(self.payload_len as u16).to_be_bytes());
            n = 4;
        } else {
            bytes[1] = mask_bit | 127;
            bytes[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            n = 10;
        }
        if let Some(key) = self.mask {
            bytes[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(buf: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::parse(buf) {
            Ok(Status::Complete(v)) => v,
            other => panic!("expected a header, got {other:?}"),
        }
    }

    #[test]
    fn every_prefix_is_partial() {
        let mut wire = Vec::new();
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        };
        h.encode(&mut wire);
        assert_eq!(wire.len(), 14);
        for i in 0..wire.len() {
            assert_eq!(
                FrameHeader::parse(&wire[..i]),
                Ok(Status::Partial),
                "prefix {i}"
            );
        }
        assert_eq!(parse_ok(&wire), (h, 14));
    }

    #[test]
    fn length_encodings() {
        for (len, hlen) in [
            (0u64, 2usize),
            (125, 2),
            (126, 4),
            (65_535, 4),
            (65_536, 10),
            (1 << 40, 10),
        ] {
            let h = FrameHeader::new(OpCode::Binary, len);
            let mut wire = Vec::new();
            h.encode(&mut wire);
            assert_eq!(wire.len(), hlen);
            assert_eq!(h.encoded_len(), hlen);
            assert_eq!(parse_ok(&wire), (h, hlen));
        }
    }

    #[test]
    fn non_minimal_length_is_accepted() {
        assert_eq!(parse_ok(&[0x82, 126, 0, 5]).0.payload_len, 5);
        assert_eq!(
            parse_ok(&[0x82, 127, 0, 0, 0, 0, 0, 0, 0, 5]).0.payload_len,
            5
        );
    }

    #[test]
    fn reserved_opcodes() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::parse(&[0x80 | op, 0]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn control_frame_rules() {
        assert_eq!(
            FrameHeader::parse(&[0x09, 0]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        // The whole length field is read first, whatever the split.
        assert_eq!(FrameHeader::parse(&[0x89, 126]), Ok(Status::Partial));
        assert_eq!(
            FrameHeader::parse(&[0x89, 126, 0, 200]),
            Err(ProtocolError::ControlFrameTooLarge(200))
        );
        assert_eq!(parse_ok(&[0x89, 125]).0.payload_len, 125);
    }

    #[test]
    fn top_bit_of_64_bit_length() {
        assert_eq!(
            FrameHeader::parse(&[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::InvalidPayloadLength)
        );
    }
}
