//! TLS-DSK ("TLS with Derived Session Key", [MS-SIPAE] 3.2.5.1): the inner TLS handshake whose records
//! travel base64-encoded in SIP `gssapi-data`, and the two signing keys derived from it.
//!
//! This module only turns bytes into bytes ([`TlsDskClient`]); wrapping each flight in a REGISTER and
//! reading it back out of the 401 is the SIP auth layer's job. The handshake is a small, handshake-only
//! TLS client on RustCrypto primitives (protocol/DEPENDENCIES.md §5, option 1), because rustls has no
//! static-RSA key exchange, no CBC suites and no TLS 1.0, all of which real pools use.
//!
//! Flights (REFERENCE §4.3, CLIENT-NOTES §5.6): client ClientHello → server ServerHello, Certificate,
//! CertificateRequest, ServerHelloDone → client Certificate, ClientKeyExchange (RSA-encrypted pre-master),
//! CertificateVerify, ChangeCipherSpec, Finished → server ChangeCipherSpec, Finished. Then
//! `key_material = PRF(master_secret, "client EAP encryption", client_random ‖ server_random)[128]`, the
//! client signing key is bytes 64..96 and the server's 96..128 ([`TlsDskKeys`]).
//!
//! Unlike SIPE we verify the server certificate (chain to the given anchors, name = `targetname`, dates)
//! and the server's Finished, so the derived keys are only handed out for an authenticated server.
//!
//! # What is verified
//! The oracle tests (`tests_oracle.rs`) run this client against `openssl s_server` over TCP with
//! mutual authentication and compare our 128-byte key block with OpenSSL's RFC 5705 exporter output for the
//! same label, byte for byte: TLS 1.0 + AES128-SHA, TLS 1.0 + AES256-SHA, TLS 1.1 + AES128-SHA,
//! TLS 1.2 + AES128-SHA, TLS 1.2 + AES128-SHA256, TLS 1.2 + AES256-SHA256, and a TLS 1.2 offer answered
//! by a TLS 1.0-only server. OpenSSL (`-Verify 1`) checks our client certificate, CertificateVerify and
//! Finished; we check its Finished. Negative oracle tests: a server certificate for another name, one under
//! another root, one past its validity, and a TLS 1.2-only server refusing our default TLS 1.0 offer
//! (alert 70). `tests_hostile.rs` feeds truncated, mutated and random flights (errors, never panics).
//!
//! # What is not verified
//! What real Schannel-based pools choose and derive: that TLS 1.2 TLS-DSK uses the P_SHA256 key block
//! (CLIENT-NOTES §14.4), and which HMAC a pool signs with under a SHA-256 suite. No TLS-DSK test vector
//! from Microsoft exists (MS-SIPAE 4.3 unavailable). RSA private-key operations use the `rsa` crate,
//! which is not constant-time (RUSTSEC-2023-0071); we sign once per handshake with blinding.
//!
//! # Default version: TLS 1.0 offered
//! [`TlsDskConfig::new`] offers TLS 1.0 only (`max_version = Tls10`), as SIPE does. Evidence: SIPE's
//! TLS 1.0-only client is the one open implementation known to sign in to Lync 2010, Lync 2013, SfB 2015
//! and Office 365 (2015–2019) pools (CLIENT-NOTES §5.6), whereas offering 1.2 would move every such pool
//! that also speaks 1.2 onto the unconfirmed TLS 1.2 key derivation above. Deployments that disabled
//! TLS 1.0 (SfB 2015 CU6 HF2+/2019 hardening, DEPENDENCIES §5) answer with a protocol_version or
//! handshake_failure [`TlsDskError::Alert`]; the caller then retries with `max_version = Tls12`.

mod client;
mod codec;
mod error;
#[cfg(fuzzing)]
pub(crate) mod fuzzing;
mod inbound;
mod prf;
mod record;
mod verify;

#[cfg(test)]
mod tests_hostile;
#[cfg(test)]
mod tests_oracle;

use std::fmt;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer, UnixTime};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub use client::TlsDskClient;
pub use error::{CertificateProblem, TlsDskError};

use prf::{Hash, hmac};

/// A TLS protocol version the inner handshake can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.0 (0x0301): what SIPE sends and real pools are known to accept.
    Tls10,
    /// TLS 1.1 (0x0302): TLS 1.0's PRF with explicit CBC IVs; accepted if the server picks it.
    Tls11,
    /// TLS 1.2 (0x0303): P_SHA256 PRF, explicit IVs, SHA-256 CertificateVerify.
    Tls12,
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls10 => "TLS 1.0",
            TlsVersion::Tls11 => "TLS 1.1",
            TlsVersion::Tls12 => "TLS 1.2",
        })
    }
}

impl std::fmt::Display for CipherSuite {
    /// The IANA name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CipherSuite::RsaAes128CbcSha => "TLS_RSA_WITH_AES_128_CBC_SHA",
            CipherSuite::RsaAes256CbcSha => "TLS_RSA_WITH_AES_256_CBC_SHA",
            CipherSuite::RsaAes128CbcSha256 => "TLS_RSA_WITH_AES_128_CBC_SHA256",
            CipherSuite::RsaAes256CbcSha256 => "TLS_RSA_WITH_AES_256_CBC_SHA256",
        })
    }
}

impl TlsVersion {
    /// The on-the-wire `ProtocolVersion`.
    pub fn wire(self) -> u16 {
        match self {
            TlsVersion::Tls10 => 0x0301,
            TlsVersion::Tls11 => 0x0302,
            TlsVersion::Tls12 => 0x0303,
        }
    }

    /// The version a `ProtocolVersion` names, if it is one the engine speaks.
    pub fn from_wire(v: u16) -> Option<Self> {
        match v {
            0x0301 => Some(TlsVersion::Tls10),
            0x0302 => Some(TlsVersion::Tls11),
            0x0303 => Some(TlsVersion::Tls12),
            _ => None,
        }
    }
}

impl std::str::FromStr for TlsVersion {
    type Err = String;
    /// `1.0`, `1.1` or `1.2` (a leading `TLS`/`tls` and spaces are allowed: `TLS 1.2`, `tls1.2`).
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let t = t.strip_prefix("TLS").or_else(|| t.strip_prefix("tls")).unwrap_or(t).trim();
        match t {
            "1.0" | "1" => Ok(TlsVersion::Tls10),
            "1.1" => Ok(TlsVersion::Tls11),
            "1.2" => Ok(TlsVersion::Tls12),
            _ => Err(format!("{s:?} is not a TLS-DSK version: give 1.0, 1.1 or 1.2")),
        }
    }
}

/// The inner TLS versions a client allows for TLS-DSK, and how it offers them.
///
/// The first ClientHello offers TLS 1.0 only whenever `min` allows it (the evidenced default: see the
/// module doc); a pool that refuses that ClientHello (TLS 1.0 disabled there) gets a second one offering
/// up to `max`. With `min` above TLS 1.0 the first ClientHello offers `min..=max` and a pool that picks a
/// lower version is refused: TLS 1.0 disabled on the client's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsDskVersions {
    /// The lowest version accepted in the ServerHello.
    pub min: TlsVersion,
    /// The highest version ever offered.
    pub max: TlsVersion,
}

impl Default for TlsDskVersions {
    fn default() -> Self {
        TlsDskVersions { min: TlsVersion::Tls10, max: TlsVersion::Tls12 }
    }
}

impl TlsDskVersions {
    /// The highest version the first ClientHello offers.
    pub fn first_offer(&self) -> TlsVersion {
        if self.min == TlsVersion::Tls10 { TlsVersion::Tls10 } else { self.max }
    }

    /// After a pool refused a ClientHello offering up to `offered`: the next offer, if there is a higher one.
    pub fn after_refusal(&self, offered: TlsVersion) -> Option<TlsVersion> {
        (offered < self.max).then_some(self.max)
    }
}

#[cfg(test)]
mod versions_tests {
    use super::{TlsDskVersions, TlsVersion};

    #[test]
    fn tls_1_0_is_offered_first_and_newer_versions_after_a_refusal() {
        let default = TlsDskVersions::default();
        assert_eq!(default.first_offer(), TlsVersion::Tls10);
        assert_eq!(default.after_refusal(TlsVersion::Tls10), Some(TlsVersion::Tls12));
        assert_eq!(default.after_refusal(TlsVersion::Tls12), None);
        // TLS 1.0 disabled on the client: its first offer is already the newest, and nothing follows.
        let hardened = TlsDskVersions { min: TlsVersion::Tls12, max: TlsVersion::Tls12 };
        assert_eq!(hardened.first_offer(), TlsVersion::Tls12);
        assert_eq!(hardened.after_refusal(TlsVersion::Tls12), None);
        let only_1_0 = TlsDskVersions { min: TlsVersion::Tls10, max: TlsVersion::Tls10 };
        assert_eq!(only_1_0.after_refusal(TlsVersion::Tls10), None);
        assert_eq!(only_1_0.to_string(), "TLS 1.0 only");
        assert_eq!(default.to_string(), "TLS 1.0 to TLS 1.2");
    }

    #[test]
    fn versions_parse_in_the_forms_people_write() {
        for (text, v) in [("1.0", TlsVersion::Tls10), ("TLS 1.2", TlsVersion::Tls12), ("tls1.1", TlsVersion::Tls11)] {
            assert_eq!(text.parse::<TlsVersion>(), Ok(v), "{text}");
        }
        assert!("1.3".parse::<TlsVersion>().unwrap_err().contains("1.0, 1.1 or 1.2"));
    }
}

impl std::fmt::Display for TlsDskVersions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max { write!(f, "{} only", self.min) } else { write!(f, "{} to {}", self.min, self.max) }
    }
}

/// A static-RSA, AES-CBC cipher suite: the family Schannel-based pools accept for TLS-DSK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherSuite {
    /// TLS_RSA_WITH_AES_128_CBC_SHA (0x002F).
    RsaAes128CbcSha,
    /// TLS_RSA_WITH_AES_256_CBC_SHA (0x0035).
    RsaAes256CbcSha,
    /// TLS_RSA_WITH_AES_128_CBC_SHA256 (0x003C), TLS 1.2 only.
    RsaAes128CbcSha256,
    /// TLS_RSA_WITH_AES_256_CBC_SHA256 (0x003D), TLS 1.2 only.
    RsaAes256CbcSha256,
}

impl CipherSuite {
    /// The IANA code point.
    pub fn wire(self) -> u16 {
        match self {
            CipherSuite::RsaAes128CbcSha => 0x002F,
            CipherSuite::RsaAes256CbcSha => 0x0035,
            CipherSuite::RsaAes128CbcSha256 => 0x003C,
            CipherSuite::RsaAes256CbcSha256 => 0x003D,
        }
    }

    /// The record MAC hash, which is also the TLS-DSK signature HMAC (REFERENCE §4.3 step 5).
    pub fn mac(self) -> MacAlgorithm {
        match self {
            CipherSuite::RsaAes128CbcSha | CipherSuite::RsaAes256CbcSha => MacAlgorithm::Sha1,
            CipherSuite::RsaAes128CbcSha256 | CipherSuite::RsaAes256CbcSha256 => MacAlgorithm::Sha256,
        }
    }

    fn key_len(self) -> usize {
        match self {
            CipherSuite::RsaAes128CbcSha | CipherSuite::RsaAes128CbcSha256 => 16,
            CipherSuite::RsaAes256CbcSha | CipherSuite::RsaAes256CbcSha256 => 32,
        }
    }

    /// SHA-256 suites exist only in TLS 1.2 (RFC 5246 Appendix A.5).
    fn allowed_in(self, version: TlsVersion) -> bool {
        self.mac() == MacAlgorithm::Sha1 || version == TlsVersion::Tls12
    }
}

/// Everything the handshake needs from the caller. Construct with [`TlsDskConfig::new`] and adjust fields.
/// `Debug` leaves out the private key, which is wiped when the configuration (each clone) is dropped.
pub struct TlsDskConfig {
    /// Lowest version accepted in the ServerHello.
    pub min_version: TlsVersion,
    /// Version offered in ClientHello.client_version (and hence in the pre-master secret).
    pub max_version: TlsVersion,
    /// Suites offered, in preference order; SHA-256 suites are only offered when `max_version` is TLS 1.2.
    pub cipher_suites: Vec<CipherSuite>,
    /// The provisioned user certificate chain, leaf first (SIPE sends the leaf only).
    pub client_chain: Vec<CertificateDer<'static>>,
    /// The RSA private key of the leaf (the one whose CSR went to GetAndPublishCert), PKCS#8 DER.
    pub client_key: PrivatePkcs8KeyDer<'static>,
    /// Anchors the pool's certificate must chain to; usually the same store as the outer SIP TLS.
    pub trust_anchors: Arc<RootCertStore>,
    /// The SIP `targetname` from the challenge; the server certificate must be valid for it.
    pub target_name: String,
    /// The time used for certificate validity and ClientHello.gmt_unix_time (the engine reads no clock).
    pub now: UnixTime,
}

impl TlsDskConfig {
    /// The default configuration: TLS 1.0 only (see the module doc for the evidence), AES-128 then
    /// AES-256 CBC-SHA.
    pub fn new(
        client_chain: Vec<CertificateDer<'static>>,
        client_key: PrivatePkcs8KeyDer<'static>,
        trust_anchors: Arc<RootCertStore>,
        target_name: impl Into<String>,
        now: UnixTime,
    ) -> Self {
        TlsDskConfig {
            min_version: TlsVersion::Tls10,
            max_version: TlsVersion::Tls10,
            cipher_suites: vec![CipherSuite::RsaAes128CbcSha, CipherSuite::RsaAes256CbcSha],
            client_chain,
            client_key,
            trust_anchors,
            target_name: target_name.into(),
            now,
        }
    }
}

impl Clone for TlsDskConfig {
    fn clone(&self) -> Self {
        TlsDskConfig {
            min_version: self.min_version,
            max_version: self.max_version,
            cipher_suites: self.cipher_suites.clone(),
            client_chain: self.client_chain.clone(),
            client_key: PrivatePkcs8KeyDer::from(self.client_key.secret_pkcs8_der().to_vec()),
            trust_anchors: self.trust_anchors.clone(),
            target_name: self.target_name.clone(),
            now: self.now,
        }
    }
}

impl Drop for TlsDskConfig {
    fn drop(&mut self) {
        self.client_key.zeroize();
    }
}

impl ZeroizeOnDrop for TlsDskConfig {}

impl fmt::Debug for TlsDskConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsDskConfig")
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .field("cipher_suites", &self.cipher_suites)
            .field("client_chain_len", &self.client_chain.len())
            .field("client_key", &"<redacted>")
            .field("trust_anchors", &self.trust_anchors.len())
            .field("target_name", &self.target_name)
            .finish()
    }
}

/// The HMAC hash that signs SIP messages under this SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    /// HMAC-SHA1, 20-byte signatures: the *_SHA suites.
    Sha1,
    /// HMAC-SHA256, 32-byte signatures: the *_SHA256 suites (unconfirmed against real pools).
    Sha256,
}

/// The TLS-DSK signing keys: the last two 32-byte quarters of the "client EAP encryption" key material.
/// `Debug` shows neither key; both are wiped when the value (each clone) is dropped.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct TlsDskKeys {
    /// Key for the client's `response` signatures (key material bytes 64..96).
    pub client_key: [u8; 32],
    /// Key for the server's `rspauth` signatures (key material bytes 96..128).
    pub server_key: [u8; 32],
    /// Which HMAC to sign with.
    #[zeroize(skip)]
    pub mac: MacAlgorithm,
}

impl TlsDskKeys {
    fn hash(&self) -> Hash {
        match self.mac {
            MacAlgorithm::Sha1 => Hash::Sha1,
            MacAlgorithm::Sha256 => Hash::Sha256,
        }
    }

    /// The raw signature over a client signature buffer (REFERENCE §4.4); hex-encoding it is the caller's.
    pub fn sign(&self, buffer: &[u8]) -> Vec<u8> {
        hmac(self.hash(), &self.client_key, &[buffer])
    }

    /// Whether `signature` is the server's HMAC over `buffer` (constant-time comparison).
    pub fn verify(&self, buffer: &[u8], signature: &[u8]) -> bool {
        record::constant_time_eq(&hmac(self.hash(), &self.server_key, &[buffer]), signature)
    }
}

impl fmt::Debug for TlsDskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsDskKeys").field("keys", &"<redacted>").field("mac", &self.mac).finish()
    }
}
