//! The lab pool's certificate authority: it issues the TLS certificates the pool's SIP and HTTPS listeners
//! present, so clients under test verify them exactly as they would a production pool's (names, dates, chain)
//! instead of switching verification off.
//!
//! Keys are ECDSA P-256: fast to generate, which matters when a test issues a fresh certificate per case. The CA
//! persists as a PEM pair ([`LabCa::to_pem_pair`] / [`LabCa::from_pem_pair`]) so a QA machine can trust it once.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};

/// Why the lab CA could not be created, loaded, or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Key generation or signing failed inside rcgen/aws-lc-rs; not caused by the input.
    #[error("generating or signing a certificate failed: {0}")]
    Generate(#[source] rcgen::Error),
    /// A server certificate was requested without any name; no client could ever verify it.
    #[error("a server certificate needs at least one DNS name or IP address")]
    NoNames,
    /// One of the requested names is neither a DNS name (wildcards allowed) nor an IP address, so no client
    /// could match it.
    #[error("{name:?} is neither a DNS name nor an IP address; give names like sip.contoso.lab")]
    InvalidName {
        /// The refused name.
        name: String,
    },
    /// The stored CA certificate is not a PEM `CERTIFICATE` rcgen can read; restore it or generate a new CA.
    #[error("the stored CA certificate could not be read (restore it from backup or generate a new CA): {0}")]
    CaCertPem(#[source] rcgen::Error),
    /// The stored CA key is not a PEM private key rcgen can read; restore it or generate a new CA.
    #[error("the stored CA key could not be read (restore it from backup or generate a new CA): {0}")]
    CaKeyPem(#[source] rcgen::Error),
    /// The stored certificate may not sign certificates (no keyCertSign key usage): a server certificate was
    /// probably stored in the CA's place.
    #[error("the stored CA certificate is not a CA (its key usage does not allow signing certificates)")]
    NotACa,
    /// Certificates issued with this certificate and key do not verify: the key belongs to another certificate,
    /// or the certificate is not a CA. The two files were probably mixed up between state directories.
    #[error("the CA certificate and key do not work together (were the files mixed up?): {0}")]
    CaUnusable(#[source] rustls::Error),
    /// rustls refused the server certificate or key when building a server configuration.
    #[error("rustls refused the lab server certificate: {0}")]
    Tls(#[source] rustls::Error),
}

/// The validity window of an issued certificate. Tests use [`Validity::expired`] and
/// [`Validity::not_yet_valid`] to check that clients refuse such certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// First instant the certificate is valid.
    pub not_before: OffsetDateTime,
    /// Last instant the certificate is valid.
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// Valid from an hour ago (tolerating a client clock slightly behind) until `days` from now.
    pub fn days_from_now(days: i64) -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::hours(1), not_after: now + Duration::days(days) }
    }

    /// Expired yesterday, after 30 days of validity.
    pub fn expired() -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now - Duration::days(31), not_after: now - Duration::days(1) }
    }

    /// Valid from tomorrow, for 30 days.
    pub fn not_yet_valid() -> Validity {
        let now = OffsetDateTime::now_utc();
        Validity { not_before: now + Duration::days(1), not_after: now + Duration::days(31) }
    }
}

impl Default for Validity {
    /// One year, like a typical pool certificate.
    fn default() -> Validity {
        Validity::days_from_now(365)
    }
}

/// A server certificate and its key, in the forms rustls and PEM files want.
pub struct ServerCert {
    /// The leaf certificate followed by the CA certificate, as a Windows pool sends its chain.
    pub cert_chain_der: Vec<CertificateDer<'static>>,
    /// The leaf's private key (PKCS#8).
    pub key_der: PrivateKeyDer<'static>,
    /// `cert_chain_der` as PEM, leaf first.
    pub cert_pem: String,
    /// `key_der` as PEM (`PRIVATE KEY`).
    pub key_pem: String,
}

impl Clone for ServerCert {
    fn clone(&self) -> ServerCert {
        ServerCert {
            cert_chain_der: self.cert_chain_der.clone(),
            key_der: self.key_der.clone_key(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCert").field("chain_len", &self.cert_chain_der.len()).finish_non_exhaustive()
    }
}

/// The lab pool's CA: a self-signed root that signs the pool's server certificates.
pub struct LabCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl std::fmt::Debug for LabCa {
    // The key stays out of logs: the issuer's own Debug already elides it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabCa").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// Name of the throwaway certificate [`LabCa::from_pem_pair`] issues to check a loaded pair.
const SELF_CHECK_NAME: &str = "ca-self-check.sfbkit.lab";

impl LabCa {
    /// A new CA named `name` (its common name), valid for ten years from yesterday.
    pub fn generate(name: &str) -> Result<LabCa, CaError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(DnType::OrganizationName, "sfbkit lab");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        let key = KeyPair::generate().map_err(CaError::Generate)?;
        let cert = params.self_signed(&key).map_err(CaError::Generate)?;
        Ok(LabCa { cert_pem: cert.pem(), cert_der: cert.der().clone(), issuer: Issuer::new(params, key) })
    }

    /// The CA certificate as PEM: what a client under test adds to its trust anchors.
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate as DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// `(certificate PEM, private key PEM)`, for storing the CA in a state directory. The key is secret: write
    /// it readable by its owner only.
    pub fn to_pem_pair(&self) -> (String, String) {
        (self.cert_pem.clone(), self.issuer.key().serialize_pem())
    }

    /// Loads a CA stored with [`LabCa::to_pem_pair`]. Checks that the certificate is a CA and proves the pair
    /// works by issuing and verifying a throwaway certificate, so a mixed-up pair fails here rather than as a
    /// puzzling client error later.
    pub fn from_pem_pair(cert_pem: &str, key_pem: &str) -> Result<LabCa, CaError> {
        let key = KeyPair::from_pem(key_pem).map_err(CaError::CaKeyPem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key).map_err(CaError::CaCertPem)?;
        // webpki does not look at a trust anchor's own constraints, so the self-check below would pass a leaf.
        if !issuer.key_usages().contains(&KeyUsagePurpose::KeyCertSign) {
            return Err(CaError::NotACa);
        }
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|_| CaError::CaCertPem(rcgen::Error::CouldNotParseCertificate))?;
        let ca = LabCa { issuer, cert_der, cert_pem: cert_pem.to_owned() };
        ca.self_check()?;
        Ok(ca)
    }

    fn self_check(&self) -> Result<(), CaError> {
        let probe = self.issue_server_cert(&[SELF_CHECK_NAME.to_owned()], Validity::days_from_now(1))?;
        let mut roots = RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(CaError::CaUnusable)?;
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| CaError::CaUnusable(rustls::Error::General(e.to_string())))?;
        let name = ServerName::try_from(SELF_CHECK_NAME)
            .map_err(|e| CaError::CaUnusable(rustls::Error::General(e.to_string())))?;
        let leaf = probe
            .cert_chain_der
            .first()
            .ok_or_else(|| CaError::CaUnusable(rustls::Error::General("no certificate was issued".into())))?;
        verifier.verify_server_cert(leaf, &[], &name, &[], UnixTime::now()).map_err(CaError::CaUnusable)?;
        Ok(())
    }

    /// Issues a TLS server certificate for `dns_names` (DNS names or IP literals; the first is also the common
    /// name) with a fresh P-256 key.
    pub fn issue_server_cert(&self, dns_names: &[String], validity: Validity) -> Result<ServerCert, CaError> {
        let first = dns_names.first().ok_or(CaError::NoNames)?;
        let mut params = CertificateParams::default();
        params.subject_alt_names = dns_names.iter().map(|name| san(name)).collect::<Result<_, _>>()?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, first.as_str());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let key = KeyPair::generate().map_err(CaError::Generate)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(CaError::Generate)?;
        Ok(ServerCert {
            cert_pem: format!("{}{}", cert.pem(), self.cert_pem),
            cert_chain_der: vec![cert.der().clone(), self.cert_der.clone()],
            key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A subject alternative name: an IP address SAN for IP literals (clients verify those against the address
/// they dialled), a DNS name otherwise. Names are checked with the same rules clients apply (a leading `*.`
/// wildcard allowed), so a typo fails here and not in a handshake.
pub(crate) fn san(name: &str) -> Result<rcgen::SanType, CaError> {
    let invalid = || CaError::InvalidName { name: name.to_owned() };
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        return Ok(rcgen::SanType::IpAddress(ip));
    }
    let base = name.strip_prefix("*.").unwrap_or(name);
    rustls_pki_types::DnsName::try_from(base).map_err(|_| invalid())?;
    Ok(rcgen::SanType::DnsName(name.try_into().map_err(|_| invalid())?))
}

/// A rustls server configuration presenting `cert`: TLS 1.2 and 1.3, aws-lc-rs, no client certificates.
pub fn server_config(cert: &ServerCert) -> Result<Arc<rustls::ServerConfig>, CaError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(CaError::Tls)?
        .with_no_client_auth()
        .with_single_cert(cert.cert_chain_der.clone(), cert.key_der.clone_key())
        .map_err(CaError::Tls)?;
    Ok(Arc::new(config))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

#[cfg(test)]
mod tests;
