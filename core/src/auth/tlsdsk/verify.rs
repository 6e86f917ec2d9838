//! Checking the server certificate that arrives inside the tunnel, and reading its RSA key.
//!
//! Chain building, validity dates, key usage and name matching are rustls' `WebPkiServerVerifier` (webpki),
//! the same verifier the outer SIP-over-TLS connection trusts, rather than a second, hand-written one.

use std::sync::Arc;

use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_cert::der::{Decode, Encode};

use super::{CertificateProblem, TlsDskError};

/// Smallest server RSA modulus we encrypt a pre-master secret to.
const MIN_SERVER_KEY_BITS: usize = 1024;

/// Build the verifier once per client, with the aws-lc-rs provider the rest of the crate uses.
pub(crate) fn build_verifier(roots: Arc<RootCertStore>) -> Result<Arc<WebPkiServerVerifier>, TlsDskError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|_| TlsDskError::InvalidConfig("no usable trust anchors"))
}

/// Verify `chain` (leaf first) against the anchors, for `name`, at `now`.
pub(crate) fn verify_chain(
    verifier: &WebPkiServerVerifier,
    chain: &[&[u8]],
    name: &ServerName<'static>,
    now: UnixTime,
) -> Result<(), TlsDskError> {
    let Some((leaf, rest)) = chain.split_first() else {
        return Err(TlsDskError::Malformed("server sent no certificate"));
    };
    let leaf = CertificateDer::from(*leaf);
    let intermediates: Vec<CertificateDer<'_>> = rest.iter().map(|c| CertificateDer::from(*c)).collect();
    verifier
        .verify_server_cert(&leaf, &intermediates, name, &[], now)
        .map(|_| ())
        .map_err(|e| TlsDskError::ServerCertificate(classify(e)))
}

fn classify(error: rustls::Error) -> CertificateProblem {
    let rustls::Error::InvalidCertificate(cert_error) = error else {
        return CertificateProblem::Other(error.to_string());
    };
    match cert_error {
        CertificateError::UnknownIssuer => CertificateProblem::UntrustedRoot,
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            CertificateProblem::NameMismatch
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => CertificateProblem::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => CertificateProblem::NotYetValid,
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            CertificateProblem::WrongPurpose
        }
        other => CertificateProblem::Other(format!("{other:?}")),
    }
}

/// The leaf certificate's RSA public key (static-RSA key exchange encrypts the pre-master secret to it).
pub(crate) fn server_rsa_key(leaf: &[u8]) -> Result<RsaPublicKey, TlsDskError> {
    let cert = x509_cert::Certificate::from_der(leaf).map_err(|_| TlsDskError::ServerKey("certificate unreadable"))?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| TlsDskError::ServerKey("bad SPKI"))?;
    let key = RsaPublicKey::from_public_key_der(&spki).map_err(|_| TlsDskError::ServerKey("not an RSA key"))?;
    if rsa::traits::PublicKeyParts::size(&key) * 8 < MIN_SERVER_KEY_BITS {
        return Err(TlsDskError::ServerKey("RSA modulus shorter than 1024 bits"));
    }
    Ok(key)
}
