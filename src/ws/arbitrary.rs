//! Structure-aware fuzzing input: frames that are valid or deliberately
//! broken, for users who fuzz their own frame handling (feature `arbitrary`).
//!
//! ```
//! use arbitrary::{Arbitrary, Unstructured};
//! use webwire::ws::arbitrary::WireFrame;
//!
//! let raw = [7u8; 64];
//! let frame = WireFrame::arbitrary(&mut Unstructured::new(&raw))?;
//! let bytes = frame.to_bytes();
//! assert!(!bytes.is_empty());
//! # Ok::<(), arbitrary::Error>(())
//! ```

use arbitrary::{Arbitrary, Unstructured};

use super::frame::{FrameHeader, OpCode};
use super::mask::apply_mask;

/// How a generated frame breaks the rules, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Arbitrary)]
#[non_exhaustive]
pub enum Defect {
    /// A valid frame.
    None,
    /// A reserved opcode (0x3–0x7, 0xB–0xF).
    ReservedOpcode(u8),
    /// Reserved bits set.
    ReservedBits(u8),
    /// The length announced with the top bit of the 64-bit form set.
    HugeLength,
    /// The length in a longer form than needed (valid, unusual).
    NonMinimalLength,
    /// Announces more payload bytes than follow.
    Truncated(u8),
}

/// One frame on the wire: a header (possibly broken) and its payload.
#[derive(Debug, Clone, PartialEq, Eq, Arbitrary)]
pub struct WireFrame {
    /// FIN bit.
    pub fin: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// Masking key, if masked.
    pub mask: Option<[u8; 4]>,
    /// The unmasked payload.
    pub payload: Vec<u8>,
    /// How the frame breaks the rules.
    pub defect: Defect,
}

impl WireFrame {
    /// Serialises the frame, applying its defect.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = FrameHeader {
            fin: self.fin,
            rsv: 0,
            opcode: self.opcode,
            mask: self.mask,
            payload_len: self.payload.len() as u64,
        };
        let mut out = Vec::with_capacity(header.encoded_len() + self.payload.len());
        header.encode(&mut out);
        match self.defect {
            Defect::None | Defect::Truncated(_) => {}
            Defect::ReservedOpcode(op) => {
                let op = [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF][usize::from(op) % 10];
                out[0] = (out[0] & 0xf0) | op;
            }
            Defect::ReservedBits(bits) => out[0] |= ((bits % 7) + 1) << 4,
            Defect::HugeLength => {
                out.truncate(1);
                out.push(0x7f | if self.mask.is_some() { 0x80 } else { 0 });
                out.extend_from_slice(&(u64::MAX - self.payload.len() as u64).to_be_bytes());
                if let Some(key) = self.mask {
                    out.extend_from_slice(&key);
                }
            }
            Defect::NonMinimalLength => {
                out.truncate(1);
                out.push(0x7f | if self.mask.is_some() { 0x80 } else { 0 });
                out.extend_from_slice(&(self.payload.len() as u64).to_be_bytes());
                if let Some(key) = self.mask {
                    out.extend_from_slice(&key);
                }
            }
        }
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.mask {
            apply_mask(&mut out[start..], key, 0);
        }
        if let Defect::Truncated(n) = self.defect {
            let cut = usize::from(n)
                .min(self.payload.len())
                .max(usize::from(!self.payload.is_empty()));
            out.truncate(out.len() - cut);
        }
        out
    }

    /// A sequence of frames from fuzzer bytes, serialised back to back.
    pub fn stream(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
        let frames: Vec<WireFrame> = Arbitrary::arbitrary(u)?;
        Ok(frames.iter().flat_map(WireFrame::to_bytes).collect())
    }
}
