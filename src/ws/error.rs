//! WebSocket errors: whose fault, and which close code.

use super::close_code::CloseCode;

/// The peer broke RFC 6455: the connection must be failed with
/// [`close_code`](Self::close_code).
///
/// ```
/// use webwire::ws::{CloseCode, ProtocolError};
///
/// let err = ProtocolError::InvalidUtf8;
/// assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reserved bit (RSV1–3) was set that no negotiated extension claimed.
    #[error("reserved bits {0:#05b} set without a negotiated extension")]
    ReservedBits(u8),
    /// A reserved opcode (0x3–0x7, 0xB–0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload.
    #[error("control frame payload of {0} bytes (at most 125)")]
    ControlFrameTooLarge(u64),
    /// A client sent an unmasked frame to a server.
    #[error("unmasked frame from a client")]
    UnmaskedFrame,
    /// A server sent a masked frame to a client.
    #[error("masked frame from a server")]
    MaskedFrame,
    /// A 64-bit payload length with its most significant bit set.
    #[error("payload length with the most significant bit set")]
    InvalidPayloadLength,
    /// A frame longer than the configured limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    FrameTooLarge {
        /// Announced payload length.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message longer than the configured limit.
    #[error("message of at least {len} bytes exceeds the limit of {max}")]
    MessageTooLarge {
        /// Message length so far, including the frame announcing the excess.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// A continuation frame with no message in progress.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is in progress.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A text message that is not valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    #[error("close frame payload of 1 byte")]
    InvalidClosePayload,
    /// A close code that may not appear on the wire.
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    /// A close reason that is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A compressed message that is not a valid DEFLATE stream.
    #[error("compressed message is not valid DEFLATE data")]
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code to fail the connection with (RFC 6455 §7.4.1).
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 | Self::InvalidCloseReason | Self::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// The caller asked to send something the protocol does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A control frame payload (ping, pong, close) longer than 125 bytes.
    #[error("control frame payload of {0} bytes (at most 125)")]
    ControlFrameTooLarge(usize),
    /// A close reason longer than 123 bytes.
    #[error("close reason of {0} bytes (at most 123)")]
    CloseReasonTooLong(usize),
    /// A close code that may not be sent (such as 1005 or 1006).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// Fragments of at most 0 bytes were asked for.
    #[error("fragment size must be at least 1 byte")]
    ZeroFragmentSize,
    /// Only text and binary messages can be fragmented.
    #[error("only text and binary messages can be fragmented")]
    NotADataOpcode,
}
