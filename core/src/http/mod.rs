//! A small HTTP/1.1 client for the web services sign-in needs: autodiscover ([MS-OCDISCWS]) now, web tickets
//! and certificate provisioning ([MS-OCAUTHWS]) later.
//!
//! Why not a general-purpose client (reqwest): HTTP NTLM and Negotiate authenticate a *connection*, so all legs
//! of a handshake must travel on one TCP/TLS connection, which pooled clients do not promise; and TLS failures
//! must reach the sign-in report with the transport's classification (untrusted root, name mismatch with the
//! names the certificate holds, expired) rather than as one opaque error (`protocol/DEPENDENCIES.md` §6). So
//! this is hyper's connection-level API over our own [`TlsConnector`](crate::transport::TlsConnector) stream.
//!
//! Where to start:
//!
//! - [`HttpClient`]: `get` / `send` a single request (connect, send, read the whole bounded body, close).
//! - [`HttpConnection`]: one open connection on which a caller sends several requests in turn (NTLM legs).
//! - [`HttpResponse`]: status, headers and the body, owned.
//! - [`HttpError`]: what failed, with [`HttpError::class`] for reports and [`HttpError::hint`] for people.
//!
//! No redirects are followed (a 3xx comes back as it is): autodiscover treats HTTP redirects as failures, as
//! the Microsoft client and SIPE do, and every hop must be checked against the user's domain by the caller.

mod client;
mod connection;
mod error;
mod response;
mod target;

#[cfg(test)]
mod tests;

pub use client::HttpClient;
pub use connection::HttpConnection;
pub use error::HttpError;
pub use http::Method;
pub use response::HttpResponse;
