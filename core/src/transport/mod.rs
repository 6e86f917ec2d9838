//! SIP over TLS on tokio + rustls: the only place the client touches sockets.
//!
//! Byte-level only: this module knows nothing about SIP messages, so the sans-I/O parser and state machines stay
//! testable without it and a framing layer sits on top. Where to start:
//!
//! - [`TrustConfig`]: which CAs a server certificate may chain to (OS store, extra PEM CAs; never "accept any").
//! - [`TlsConnector`] ([`connect_tls`], [`connect_tls_addr`] for one-off use): resolve, connect, handshake,
//!   verify against the server name, within one time budget.
//! - [`TlsConnection`]: `send` / `recv` / orderly `close`, the addresses Via and Contact need, and the
//!   negotiated version and cipher suite ([`SessionInfo`]) for the sign-in report.
//! - [`TransportError`]: each failure sorted by what a person should do, with [`TransportError::hint`].
//!
//! TLS 1.2 and 1.3 only, with the aws-lc-rs provider; a pool that still offers only TLS 1.0/1.1 fails with
//! [`TransportError::HandshakeFailure`] (see `protocol/DEPENDENCIES.md` §5).

mod connection;
mod error;
mod tls;
mod trust;

#[cfg(test)]
pub(crate) mod test_pki;
#[cfg(test)]
mod tests;

pub use connection::{SessionInfo, TlsConnection, TlsReader, TlsStream, TlsWriter};
pub use error::{Phase, TransportError};
pub use tls::{TlsConnector, connect_tcp, connect_tls, connect_tls_addr};
pub use trust::{TrustConfig, TrustError, TrustSummary};
