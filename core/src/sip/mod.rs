//! The SIP wire layer, sans-I/O (RFC 3261 syntax, RFC 4475 robustness, [MS-SIP] methods).
//!
//! - [`Message`]: a request or response that keeps every header as received ([`Header`]), so
//!   that [MS-SIPAE] signatures can be computed over exact values and re-serialization is exact.
//! - [`StreamParser`]: framing for a TLS/TCP byte stream (Content-Length, keep-alive CRLFs).
//! - [`parse_message`]: one complete message from a file or datagram.
//! - [`Limits`]: hard bounds on everything a peer controls; exceeding one is a [`ParseError`].
//! - Typed header views: [`NameAddr`], [`Via`], [`CSeq`], [`AuthHeader`]; URIs: [`Uri`].
//! - [`transaction`]: client and server transactions over a reliable transport.

mod diagnostics;
mod error;
mod grammar;
mod header;
mod limits;
mod message;
mod method;
mod parse;
mod stream;
mod uri;
mod validate;
mod values;

pub use diagnostics::Diagnostics;
pub use error::ParseError;
pub use grammar::{Param, Params, split_commas, unquote};
pub use header::{Header, Headers, full_name, redact_gssapi_data, redact_params, same_name};
pub use limits::Limits;
pub use message::{Message, RequestLine, StartLine, StatusLine};
pub use method::Method;
pub use parse::{Parsed, parse_message};
pub use stream::{StreamItem, StreamParser};
pub use uri::{Host, SipUri, TelUri, Uri, unescape};
pub use validate::validate;
pub use values::{AuthHeader, CSeq, NameAddr, Via};
pub mod transaction;
