//! Limits on the handshake's header block.

/// Limits on the handshake's header block.
///
/// ```
/// use webwire::ws::handshake::HandshakeLimits;
///
/// let limits = HandshakeLimits::default().with_max_head_size(64 * 1024);
/// assert_eq!(limits.max_headers(), 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeLimits {
    /// Largest header block, request line and blank line included (default
    /// 16 KiB). Larger: 431.
    pub(crate) max_head_size: usize,
    /// Most header fields (default 64; at most 8,192 are ever accepted, as
    /// the `http` types hold no more than 32,768). More: 431.
    pub(crate) max_headers: usize,
}

impl HandshakeLimits {
    /// Largest header block, request line and blank line included (default
    /// 16 KiB). Larger: 431.
    pub const fn max_head_size(&self) -> usize {
        self.max_head_size
    }

    /// Most header fields (default 64; at most 8,192 are ever accepted, as
    /// the `http` types hold no more than 32,768). More: 431.
    pub const fn max_headers(&self) -> usize {
        self.max_headers
    }
    /// These limits with `max_head_size` set to `bytes`.
    pub const fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// These limits with `max_headers` set to `count`.
    pub const fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        Self {
            max_head_size: 16 * 1024,
            max_headers: 64,
        }
    }
}
