//! NTLM ([MS-NLMP]) for SIP and HTTP, written for sfbkit because no Rust crate offers
//! connectionless NTLM (protocol/DEPENDENCIES.md §6).
//!
//! - **Connectionless** ("datagram") NTLMv2 is what [MS-SIPAE] uses on SIP: the client's first
//!   leg is `gssapi-data=""`, the server's 401/407 carries the CHALLENGE_MESSAGE, the client
//!   answers with the AUTHENTICATE_MESSAGE and from then on signs every message with an
//!   [`NtlmSession`] (SeqNum fixed at 100, RC4 re-keyed per message; see [`signing`]).
//! - **Connection-oriented** NTLMv2 (NEGOTIATE → CHALLENGE → AUTHENTICATE) is what IIS wants for
//!   web tickets over HTTP ([`NtlmClient::negotiate`]).
//! - [`server::NtlmServer`] is the other end, for the lab pool's registrar and web ticket service.
//!
//! Everything is sans-I/O and deterministic: randomness (client challenge, exported session key)
//! and time come in through [`ClientRandom`], so the [MS-NLMP] 4.2 and SIPE vectors replay bit
//! for bit. Passwords and keys never appear in `Debug` output or errors.
//!
//! Terms: *ExportedSessionKey* is the random key the client picks and sends RC4-encrypted under
//! the *KeyExchangeKey* (= the NTLMv2 *SessionBaseKey*); signing and sealing keys derive from it.

mod client;
pub mod crypto;
pub mod messages;
pub mod server;
pub mod signing;
#[cfg(test)]
mod sip_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod vector_tests;

pub use client::{ClientOptions, ClientRandom, Credentials, MicPolicy, Mode, NtlmClient};
pub use messages::{AuthenticateMessage, AvPair, ChallengeMessage};
pub use signing::{NtlmSession, Role, SIP_SEQ_NUM};

use thiserror::Error;

/// NegotiateFlags bits ([MS-NLMP] 2.2.2.5).
pub mod flags {
    /// Strings are UTF-16LE.
    pub const UNICODE: u32 = 0x0000_0001;
    /// Strings are OEM code page.
    pub const OEM: u32 = 0x0000_0002;
    /// The client asks for the server's TargetName.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Message integrity (signatures).
    pub const SIGN: u32 = 0x0000_0010;
    /// Message confidentiality.
    pub const SEAL: u32 = 0x0000_0020;
    /// Connectionless mode ([MS-SIPAE] SIP).
    pub const DATAGRAM: u32 = 0x0000_0040;
    /// LAN Manager session key (NTLMv1 only).
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLM authentication.
    pub const NTLM: u32 = 0x0000_0200;
    /// Anonymous connection.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// Signatures even without SIGN (dummy signatures).
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// TargetName is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// TargetName is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLM2 session security (ESS): HMAC-MD5 MACs.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// Identify-level token.
    pub const IDENTIFY: u32 = 0x0010_0000;
    /// Non-NT session key (NTLMv1).
    pub const REQUEST_NON_NT_SESSION_KEY: u32 = 0x0040_0000;
    /// TargetInfo is present.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// The Version field is present.
    pub const VERSION: u32 = 0x0200_0000;
    /// 128-bit session keys.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// Explicit key exchange (mandatory in datagram mode, 2.2.2.5 flag F).
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit session keys.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// Why an NTLM message could not be read, built or accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NtlmError {
    /// The token does not start with `NTLMSSP\0`.
    #[error("not an NTLM message (no NTLMSSP signature)")]
    BadSignature,
    /// A different message type arrived than the exchange expects.
    #[error("expected NTLM message type {expected}, got {found}")]
    WrongMessageType {
        /// What the exchange expected (1, 2 or 3).
        expected: u32,
        /// What the token says it is.
        found: u32,
    },
    /// The message ends inside a fixed field.
    #[error("NTLM message truncated inside {field}")]
    Truncated {
        /// The [MS-NLMP] field name.
        field: &'static str,
    },
    /// A length/offset pair points outside the message.
    #[error("NTLM {field} points outside the message")]
    FieldOutOfBounds {
        /// The [MS-NLMP] field name.
        field: &'static str,
    },
    /// The message is larger than any real NTLM message.
    #[error("NTLM message of {len} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Received length.
        len: usize,
        /// The bound.
        limit: usize,
    },
    /// TargetInfo / AV pairs are malformed.
    #[error("malformed NTLM TargetInfo: {reason}")]
    BadTargetInfo {
        /// What is wrong.
        reason: &'static str,
    },
    /// `gssapi-data` is not valid base64.
    #[error("gssapi-data is not valid base64")]
    Base64,
    /// The server did not offer flags this mode requires (e.g. DATAGRAM or KEY_EXCH for SIP).
    #[error("the server's CHALLENGE lacks required NTLM flags {missing:#010x}")]
    MissingFlags {
        /// The required bits that were absent.
        missing: u32,
    },
    /// The AUTHENTICATE_MESSAGE does not carry an NTLMv2 response (NTLMv1 is refused).
    #[error("the AUTHENTICATE_MESSAGE carries no NTLMv2 response (NTLMv1 is not accepted)")]
    NotNtlmV2,
    /// The AUTHENTICATE_MESSAGE names a user this server does not know.
    #[error("unknown user in the AUTHENTICATE_MESSAGE")]
    UnknownUser,
    /// The NTLMv2 proof does not match: wrong password (or user/domain spelling).
    #[error("NTLMv2 response does not match: wrong password")]
    WrongPassword,
    /// The MIC does not match: the NTLM messages were tampered with.
    #[error("the AUTHENTICATE_MESSAGE MIC does not match")]
    MicMismatch,
    /// KEY_EXCH was negotiated but no 16-byte EncryptedRandomSessionKey was sent.
    #[error("KEY_EXCH negotiated but EncryptedRandomSessionKey is not 16 bytes")]
    BadSessionKey,
}

/// Decodes the base64 `gssapi-data` of a SIP or HTTP header into an NTLM token.
pub fn decode_token(b64: &str) -> Result<Vec<u8>, NtlmError> {
    use base64::Engine as _;
    if b64.len() > messages::MAX_MESSAGE_BYTES * 4 / 3 + 4 {
        return Err(NtlmError::TooLarge { len: b64.len() * 3 / 4, limit: messages::MAX_MESSAGE_BYTES });
    }
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|_| NtlmError::Base64)
}

/// Base64 for `gssapi-data`.
pub fn encode_token(token: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(token)
}
