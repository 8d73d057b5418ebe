//! Size limits for what is received.

/// Size limits, checked against each frame header before any payload is
/// buffered.
///
/// ```
/// use webwire::ws::Limits;
///
/// let limits = Limits::default().with_max_message_size(1 << 20);
/// assert_eq!(limits.max_frame_size(), 16 << 20);
/// assert_eq!(limits.max_message_size(), 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame payload accepted (default 16 MiB).
    pub(crate) max_frame_size: usize,
    /// Largest message accepted, all fragments together (default 64 MiB).
    pub(crate) max_message_size: usize,
}

impl Limits {
    /// Largest frame payload accepted (default 16 MiB).
    pub const fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }

    /// Largest message accepted, all fragments together (default 64 MiB).
    pub const fn max_message_size(&self) -> usize {
        self.max_message_size
    }
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
