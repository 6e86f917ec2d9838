//! What can go wrong in a TLS-DSK handshake, in words a caller can act on.
//!
//! No variant carries key material: the pre-master, master secret and derived keys never leave the engine
//! through an error or a `Debug` string.

/// Why the server certificate inside the TLS-DSK tunnel was refused.
///
/// The inner server certificate is the pool's own certificate (CLIENT-NOTES §14.8); SIPE never checks it,
/// we do, so a wrong pool or a man in the middle of the SIP hop is caught here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateProblem {
    /// The chain does not lead to any of the configured trust anchors.
    UntrustedRoot,
    /// The certificate is valid but not for the SIP `targetname` the challenge named.
    NameMismatch,
    /// The certificate (or one in its chain) is past its notAfter.
    Expired,
    /// The certificate (or one in its chain) is before its notBefore: check the clock.
    NotYetValid,
    /// The certificate is not usable for server authentication (extended key usage).
    WrongPurpose,
    /// The certificate could not be parsed or carries something the verifier refuses; the text is webpki's.
    Other(String),
}

/// A failed or refused TLS-DSK handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsDskError {
    /// The configured client private key is not an RSA key in PKCS#8 DER.
    #[error("the client private key is not a usable RSA PKCS#8 key")]
    InvalidClientKey,
    /// No client certificate was configured, or the chain is too large for one TLS message.
    #[error("the client certificate chain is empty or larger than a TLS Certificate message allows")]
    InvalidClientCertificate,
    /// The configuration offers nothing the engine can use (empty suite list, min above max, or no anchors).
    #[error("invalid TLS-DSK configuration: {0}")]
    InvalidConfig(&'static str),
    /// The SIP `targetname` is not a DNS name or IP address the verifier can match.
    #[error("targetname {0:?} is not a valid server name")]
    InvalidTargetName(String),
    /// A method was called out of order (e.g. a server flight before `start`, or after the handshake ended).
    #[error("TLS-DSK handshake used out of order: {0}")]
    InvalidState(&'static str),
    /// The server's bytes are not well-formed TLS (truncated, over-long, or inconsistent lengths).
    #[error("malformed TLS-DSK server flight: {0}")]
    Malformed(&'static str),
    /// The server sent a record or handshake message that does not belong at this point.
    #[error("unexpected TLS message from the server: {0}")]
    UnexpectedMessage(&'static str),
    /// The server answered with a TLS alert (e.g. 40 handshake_failure, 70 protocol_version: retry with
    /// another version or suite; 42/48 bad/unknown certificate: the provisioned certificate was refused).
    #[error("the server sent TLS alert level {level}, description {description}")]
    Alert {
        /// 1 = warning, 2 = fatal.
        level: u8,
        /// RFC 5246 §7.2 AlertDescription code.
        description: u8,
    },
    /// The server chose a protocol version outside what we offered.
    #[error("the server chose TLS version {0:#06x}, which was not offered")]
    UnsupportedVersion(u16),
    /// The server chose a cipher suite we did not offer (or one not valid for the chosen version).
    #[error("the server chose cipher suite {0:#06x}, which was not offered")]
    UnsupportedCipherSuite(u16),
    /// The server chose a compression method other than null.
    #[error("the server chose compression method {0}, only null was offered")]
    UnsupportedCompression(u8),
    /// The server's CertificateRequest (TLS 1.2) lists no signature algorithm we can sign with.
    #[error("the server accepts no client signature algorithm we support (rsa_pkcs1_sha256)")]
    NoCommonSignatureAlgorithm,
    /// The server certificate was refused; see [`CertificateProblem`].
    #[error("the server certificate was refused: {0:?}")]
    ServerCertificate(CertificateProblem),
    /// The server certificate's key is not an RSA key we can encrypt the pre-master secret to.
    #[error("the server certificate key is not a usable RSA key: {0}")]
    ServerKey(&'static str),
    /// An RSA operation with our own key or the server's key failed.
    #[error("RSA {0} failed")]
    Crypto(&'static str),
    /// The server's encrypted Finished record did not decrypt or authenticate.
    #[error("the server Finished record failed decryption or its MAC")]
    BadRecordMac,
    /// The server's Finished verify_data does not match the handshake we saw: the transcripts differ.
    #[error("the server Finished verify_data does not match the handshake")]
    FinishedMismatch,
}
