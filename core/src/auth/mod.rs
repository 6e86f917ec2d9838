//! Authentication ([MS-SIPAE]): the security association a REGISTER establishes and the signing
//! of every message after it.
//!
//! - [`ntlm`]: connectionless NTLMv2 for SIP and connection-oriented NTLM for HTTP ([MS-NLMP]).
//! - [`tlsdsk`]: the TLS-DSK inner handshake and its derived signing keys.
//! - [`signature`]: the signature buffer and the `Authorization` / `Authentication-Info` headers.
//! - [`clock`]: the registrar's `Date` against the local clock (NTLM and Kerberos tolerate little skew).
//! - [`lockout`]: account safety: refused passwords are counted and never replayed.

pub mod certprov;
pub mod clock;
pub mod lockout;
pub mod ntlm;
pub mod orgid;
pub mod proof;
pub mod provision;
pub mod sa;
#[cfg(test)]
pub(crate) mod secret_tests;
pub mod signature;
pub mod tlsdsk;
pub mod webticket;
pub mod webticket_client;
