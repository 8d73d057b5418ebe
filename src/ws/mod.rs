//! WebSocket (RFC 6455): frames, masking, UTF-8 and close rules, and a
//! message-level codec.
//!
//! * [`FrameHeader`] parses and encodes one header, incrementally.
//! * [`Decoder`] turns a receive buffer into [`Incoming`] messages, enforcing
//!   every rule of RFC 6455 §5 with the right close code.
//! * [`Encoder`] writes messages and control frames into your buffer, masking
//!   them in the client role.
//! * [`apply_mask`], [`CloseCode`], [`CloseFrame`]: the building blocks.

mod close_code;
mod close_frame;
mod connection;
mod decoder;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
mod encoder;
mod error;
mod frame;
pub mod handshake;
mod limits;
mod mask;
mod reconnect;
mod role;
mod utf8;

#[cfg(feature = "arbitrary")]
#[cfg_attr(docsrs, doc(cfg(feature = "arbitrary")))]
pub mod arbitrary;

pub use close_code::{CloseCode, MAX_CLOSE_REASON};
pub use close_frame::CloseFrame;
pub use connection::{
    Config, Connection, ConnectionError, DEFAULT_MAX_QUEUED_EVENTS, Event, Initiator,
    KEPT_SEND_BUFFER, SendError, State, Transmit,
};
pub use decoder::{Decoder, IN_PLACE_RESERVE, Incoming};
pub use encoder::Encoder;
pub use error::{EncodeError, ProtocolError};
pub use frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
pub use limits::Limits;
pub use mask::apply_mask;
pub use reconnect::{Disconnect, ReconnectDecision, ReconnectGiveUp, ReconnectPolicy, Reconnector};
pub use role::Role;

/// A buffer that encoded bytes are appended to: `Vec<u8>` or `BytesMut`.
///
/// Sealed: the encoder needs to mask bytes in place after appending them.
pub trait OutBuffer: sealed::Sealed {
    /// Appends `bytes`.
    fn extend_from_slice(&mut self, bytes: &[u8]);
    /// Reserves room for `additional` more bytes.
    fn reserve(&mut self, additional: usize);
    /// The bytes in the buffer, mutably.
    fn as_mut_bytes(&mut self) -> &mut [u8];
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for bytes::BytesMut {}
}

impl OutBuffer for Vec<u8> {
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }
    #[inline]
    fn as_mut_bytes(&mut self) -> &mut [u8] {
        self
    }
}

impl OutBuffer for bytes::BytesMut {
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        bytes::BytesMut::extend_from_slice(self, bytes)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        bytes::BytesMut::reserve(self, additional)
    }
    #[inline]
    fn as_mut_bytes(&mut self) -> &mut [u8] {
        self
    }
}
