//! Parse errors of the SIP wire layer.
//!
//! Every way a peer's bytes can be unacceptable has its own variant, so that callers can react
//! (answer 400/505/513, drop the connection, count it) and people can read what was wrong.
//! Errors never quote header *values* (they may carry credentials or signatures); they name the
//! header and say what is wrong with it.

use thiserror::Error;

/// Why a SIP message (or the byte stream carrying it) was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The header section grew past [`Limits::max_head_bytes`](super::Limits) without an empty line.
    #[error("header section exceeds {limit} bytes without the empty line that ends it")]
    HeadTooLarge { limit: usize },
    /// One line (start line or header line) is longer than [`Limits::max_line_bytes`](super::Limits).
    #[error("line {line} is longer than {limit} bytes")]
    LineTooLong { line: usize, limit: usize },
    /// More header lines than [`Limits::max_headers`](super::Limits).
    #[error("more than {limit} header lines")]
    TooManyHeaders { limit: usize },
    /// Content-Length announces more than [`Limits::max_body_bytes`](super::Limits).
    #[error("Content-Length {declared} exceeds the {limit}-byte body limit")]
    BodyTooLarge { declared: u64, limit: usize },
    /// A complete message (file or datagram) is shorter than its Content-Length says.
    #[error("Content-Length {declared} is larger than the {available} bytes that follow the header section")]
    Truncated { declared: u64, available: usize },
    /// A complete message (file or datagram) ends before the empty line that ends its header section.
    #[error("the header section is not terminated by an empty line (CRLF CRLF)")]
    UnterminatedHead,
    /// A line of the header section is not UTF-8 (RFC 3261 header text is UTF-8).
    #[error("line {line} is not valid UTF-8")]
    NotUtf8 { line: usize },
    /// The request line or status line is malformed.
    #[error("malformed start line: {reason}")]
    StartLine { reason: String },
    /// The SIP-Version is not `SIP/2.0` (a UAS answers 505).
    #[error("unsupported SIP version {version:?} (only SIP/2.0 is understood)")]
    Version { version: String },
    /// A header line has no colon or no valid field name.
    #[error("line {line} is not a header field (expected `Name: value`)")]
    HeaderLine { line: usize },
    /// A header's value does not follow its grammar.
    #[error("invalid {header} header: {reason}")]
    HeaderValue { header: String, reason: String },
    /// A header every request/response must carry is absent.
    #[error("missing required header {0}")]
    MissingHeader(&'static str),
    /// A header that allows exactly one value appears more than once.
    #[error("{header} appears {count} times but allows only one value")]
    Duplicate { header: &'static str, count: usize },
    /// The CSeq method differs from the request method.
    #[error("CSeq method {cseq} does not match the request method {method}")]
    CSeqMismatch { method: String, cseq: String },
    /// A body (Content-Type) arrived on a stream without a Content-Length to frame it.
    #[error("Content-Type without Content-Length: the message cannot be framed on a stream")]
    MissingContentLength,
    /// A URI does not follow RFC 3261 / RFC 3966 syntax.
    #[error("invalid URI: {reason}")]
    Uri { reason: String },
}

impl ParseError {
    /// The status a UAS would answer for a request that failed this way (RFC 3261 §8.2, §21).
    pub fn status_code(&self) -> u16 {
        match self {
            ParseError::Version { .. } => 505,
            ParseError::HeadTooLarge { .. }
            | ParseError::BodyTooLarge { .. }
            | ParseError::LineTooLong { .. }
            | ParseError::TooManyHeaders { .. } => 513,
            ParseError::Uri { .. } => 400,
            _ => 400,
        }
    }

    /// True when the byte stream can no longer be framed after this error and the connection
    /// must be closed; false when only this one message was bad.
    pub fn is_fatal_for_stream(&self) -> bool {
        matches!(
            self,
            ParseError::HeadTooLarge { .. }
                | ParseError::LineTooLong { .. }
                | ParseError::TooManyHeaders { .. }
                | ParseError::BodyTooLarge { .. }
                | ParseError::NotUtf8 { .. }
                | ParseError::StartLine { .. }
                | ParseError::Version { .. }
                | ParseError::HeaderLine { .. }
                | ParseError::MissingContentLength
        ) || matches!(self, ParseError::HeaderValue { header, .. } if header == "Content-Length")
            || matches!(self, ParseError::Duplicate { header: "Content-Length", .. })
    }

    /// What a person can do when a server sent this: a stream that is not SIP at all points at the wrong
    /// port; a message past the limits at the limits; anything else at the server's SIP.
    pub fn hint(&self) -> &'static str {
        match self {
            ParseError::HeadTooLarge { .. }
            | ParseError::LineTooLong { .. }
            | ParseError::TooManyHeaders { .. }
            | ParseError::BodyTooLarge { .. } => {
                "the server sent a message larger than this client accepts; if the pool really sends messages \
                 this large, raise the limits (ClientBuilder::limits), otherwise capture the traffic"
            }
            ParseError::StartLine { .. }
            | ParseError::Version { .. }
            | ParseError::NotUtf8 { line: 1 }
            | ParseError::HeaderLine { line: 1 } => {
                "the server does not speak SIP: check that the address is a SIP over TLS port (5061 on a Front \
                 End, 443 on an Edge), not a web or other service"
            }
            _ => "the server sent a malformed SIP message: capture the traffic and compare it with RFC 3261",
        }
    }

    pub(crate) fn value(header: &str, reason: impl Into<String>) -> Self {
        ParseError::HeaderValue { header: header.to_string(), reason: reason.into() }
    }
}
