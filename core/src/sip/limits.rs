//! Hard limits on what a peer may make us buffer or allocate.
//!
//! A parser that reads from the network must never let the peer choose how much memory it uses.
//! Every limit here is checked *before* the corresponding allocation, and exceeding one ends in a
//! typed [`ParseError`](super::ParseError), never a panic.

/// Bounds applied while framing and parsing SIP messages.
///
/// The defaults fit Skype for Business traffic with room to spare: Kerberos and TLS-DSK tokens in
/// `gssapi-data` can reach tens of kilobytes on one header line, and a contact-list NOTIFY body
/// for a large list can be a few megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest single line (start line or one physical header line), in bytes.
    pub max_line_bytes: usize,
    /// Largest header section (start line + headers + the empty line), in bytes.
    pub max_head_bytes: usize,
    /// Most header lines (physical lines, folded continuations included).
    pub max_headers: usize,
    /// Largest body (Content-Length) accepted, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: 64 * 1024,
            max_head_bytes: 128 * 1024,
            max_headers: 256,
            max_body_bytes: 4 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The most bytes a complete message can occupy under these limits.
    pub fn max_message_bytes(&self) -> usize {
        self.max_head_bytes.saturating_add(self.max_body_bytes)
    }
}
