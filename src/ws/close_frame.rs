//! Close frame payloads (RFC 6455 §5.5.1): parsed when received, checked
//! before they are sent.

use super::close_code::{CloseCode, MAX_CLOSE_REASON};
use super::error::{EncodeError, ProtocolError};

/// A close frame's code and reason.
///
/// ```
/// use webwire::ws::{CloseCode, CloseFrame};
///
/// let frame = CloseFrame::new(CloseCode::NORMAL, "bye");
/// let mut payload = Vec::new();
/// frame.write_payload(&mut payload);
/// assert_eq!(payload, b"\x03\xe8bye");
/// assert_eq!(CloseFrame::parse(&payload), Ok(Some(frame)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most [`MAX_CLOSE_REASON`] bytes of UTF-8.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// Parses and validates a received close payload.
    ///
    /// An empty payload means "no status" (`Ok(None)`). A 1-byte payload or a
    /// code not allowed on the wire is a protocol error (1002); a reason that
    /// is not UTF-8 is invalid payload data (1007).
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason = simdutf8::basic::from_utf8(reason)
                    .map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(Some(Self {
                    code,
                    reason: reason.to_owned(),
                }))
            }
        }
    }

    /// Appends the wire payload (code, then reason) to `out`.
    pub fn write_payload(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.0.to_be_bytes());
        out.extend_from_slice(self.reason.as_bytes());
    }

    /// The wire payload length.
    pub fn payload_len(&self) -> usize {
        2 + self.reason.len()
    }

    /// Checks that this frame may be sent: a code allowed on the wire and a
    /// reason of at most [`MAX_CLOSE_REASON`] bytes. The one place both
    /// `Encoder::encode_close` and `Connection::close` rely on.
    pub(crate) fn check_sendable(&self) -> Result<(), EncodeError> {
        if !self.code.is_valid_on_wire() {
            return Err(EncodeError::InvalidCloseCode(self.code.0));
        }
        if self.reason.len() > MAX_CLOSE_REASON {
            return Err(EncodeError::CloseReasonTooLong(self.reason.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(CloseFrame::parse(b""), Ok(None));
        assert_eq!(
            CloseFrame::parse(b"\x03"),
            Err(ProtocolError::InvalidClosePayload)
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xed"),
            Err(ProtocolError::InvalidCloseCode(1005))
        );
        assert_eq!(
            CloseFrame::parse(b"\x03\xe8\xff"),
            Err(ProtocolError::InvalidCloseReason)
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        assert_eq!(
            ProtocolError::InvalidCloseCode(5).close_code(),
            CloseCode::PROTOCOL_ERROR
        );
        let f = CloseFrame::parse(b"\x0f\xa0caf\xc3\xa9").unwrap().unwrap();
        assert_eq!(f, CloseFrame::new(CloseCode(4000), "café"));
    }
}
