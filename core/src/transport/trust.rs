//! Which certificate authorities a SIP/TLS server certificate may chain to.
//!
//! On-premises Skype for Business pools usually present certificates from the company's own CA, which a device
//! trusts only because the domain pushed it into the OS store; test pools (and the sfbkit lab pool) use a CA
//! that nobody else trusts. So the trust anchors are the OS store, explicitly given CA certificates, or both —
//! and never "accept anything": there is no switch here that turns certificate checks off.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::aws_lc_rs;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The trust anchors to verify SIP/TLS servers against. Default: the operating system's store only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// Load the operating system's root store (via rustls-native-certs, which honours `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`).
    pub system_roots: bool,
    /// Additional CA certificates, each a PEM document holding one or more `CERTIFICATE` blocks: the
    /// enterprise or lab CA that the OS store does not know.
    pub extra_ca_pem: Vec<Vec<u8>>,
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig { system_roots: true, extra_ca_pem: Vec::new() }
    }
}

impl TrustConfig {
    /// Trust only the operating system's store (the default).
    pub fn system() -> TrustConfig {
        TrustConfig::default()
    }

    /// Trust nothing yet; add CAs with [`TrustConfig::with_extra_ca_pem`]. For pools whose CA should be the
    /// only one accepted, such as the lab pool.
    pub fn empty() -> TrustConfig {
        TrustConfig { system_roots: false, extra_ca_pem: Vec::new() }
    }

    /// Turns the operating system's store on or off.
    pub fn with_system_roots(mut self, enabled: bool) -> TrustConfig {
        self.system_roots = enabled;
        self
    }

    /// Adds one PEM document of CA certificates to trust.
    pub fn with_extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> TrustConfig {
        self.extra_ca_pem.push(pem.into());
        self
    }

    /// Builds the rustls client configuration (TLS 1.2 and 1.3, aws-lc-rs) with these trust anchors.
    ///
    /// Public so the HTTPS side (autodiscover, web tickets) verifies servers exactly as SIP does. Loading the OS
    /// store reads files, so build once and share the result across endpoints.
    pub fn client_config(&self) -> Result<(Arc<rustls::ClientConfig>, TrustSummary), TrustError> {
        let (roots, summary) = self.root_store()?;
        let provider = Arc::new(aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(TrustError::Tls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok((Arc::new(config), summary))
    }

    /// The trust anchors alone (TLS-DSK verifies the pool inside its tunnel against the same ones).
    pub fn root_store(&self) -> Result<(RootCertStore, TrustSummary), TrustError> {
        let mut roots = RootCertStore::empty();
        let mut summary = TrustSummary::default();
        if self.system_roots {
            let native = rustls_native_certs::load_native_certs();
            summary.system_load_errors = native.errors.iter().map(|e| e.to_string()).collect();
            let (added, ignored) = roots.add_parsable_certificates(native.certs);
            summary.system_roots_loaded = added;
            summary.system_roots_ignored = ignored;
        }
        for (index, pem) in self.extra_ca_pem.iter().enumerate() {
            for cert in parse_pem_certs(index, pem)? {
                roots.add(cert).map_err(|source| TrustError::CaRejected { index, source })?;
                summary.extra_roots_loaded += 1;
            }
        }
        if roots.is_empty() {
            return Err(TrustError::NoTrustAnchors {
                system_roots_requested: self.system_roots,
                system_load_errors: summary.system_load_errors,
            });
        }
        tracing::debug!(
            system = summary.system_roots_loaded,
            extra = summary.extra_roots_loaded,
            "trust anchors loaded"
        );
        Ok((roots, summary))
    }
}

fn parse_pem_certs(index: usize, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TrustError::InvalidCaPem { index, source })?;
    if certs.is_empty() {
        return Err(TrustError::NoCertificateInPem { index });
    }
    Ok(certs)
}

/// How many trust anchors were loaded, for the sign-in report: "0 system roots" explains an
/// [`UntrustedRoot`](super::TransportError::UntrustedRoot) at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustSummary {
    /// Roots taken from the operating system's store.
    pub system_roots_loaded: usize,
    /// OS-store certificates rustls could not use as anchors (malformed or unsupported).
    pub system_roots_ignored: usize,
    /// Problems reading the OS store (unreadable files, bad PEM), as text for the report.
    pub system_load_errors: Vec<String>,
    /// Roots taken from [`TrustConfig::extra_ca_pem`].
    pub extra_roots_loaded: usize,
}

/// Why no TLS client configuration could be built from a [`TrustConfig`].
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Nothing to verify servers against: the OS store was off or empty and no CA was given.
    #[error("no trusted CA certificates: {}", no_anchor_reason(*system_roots_requested, system_load_errors))]
    NoTrustAnchors {
        /// Whether the OS store was asked for.
        system_roots_requested: bool,
        /// What went wrong reading the OS store, if anything.
        system_load_errors: Vec<String>,
    },
    /// `extra_ca_pem[index]` is not valid PEM.
    #[error("extra CA #{index} is not valid PEM: {source}")]
    InvalidCaPem {
        /// Position in [`TrustConfig::extra_ca_pem`].
        index: usize,
        /// What the PEM reader objected to.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// `extra_ca_pem[index]` holds no `-----BEGIN CERTIFICATE-----` block (perhaps a key or a CSR was given).
    #[error("extra CA #{index} holds no CERTIFICATE block; give the CA certificate in PEM form")]
    NoCertificateInPem {
        /// Position in [`TrustConfig::extra_ca_pem`].
        index: usize,
    },
    /// A certificate in `extra_ca_pem[index]` cannot serve as a trust anchor (malformed DER).
    #[error("extra CA #{index} cannot be used as a trust anchor: {source}")]
    CaRejected {
        /// Position in [`TrustConfig::extra_ca_pem`].
        index: usize,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the configuration itself (a build problem, not a user one).
    #[error("rustls refused the TLS client configuration: {0}")]
    Tls(#[source] rustls::Error),
}

fn no_anchor_reason(system_roots_requested: bool, errors: &[String]) -> String {
    match (system_roots_requested, errors.first()) {
        (false, _) => "the system store is switched off and no extra CA was given".to_owned(),
        (true, None) => "the system store is empty and no extra CA was given".to_owned(),
        (true, Some(first)) => format!("the system store could not be read ({first}) and no extra CA was given"),
    }
}

impl TrustError {
    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            TrustError::NoTrustAnchors { system_roots_requested: false, .. } => {
                "Give the pool's CA certificate (PEM) as an extra CA, or enable the system store.".to_owned()
            }
            TrustError::NoTrustAnchors { .. } => "Install the OS CA bundle (e.g. the ca-certificates package), \
                 point SSL_CERT_FILE at one, or give the pool's CA certificate as an extra CA."
                .to_owned(),
            TrustError::InvalidCaPem { index, .. } | TrustError::NoCertificateInPem { index } => format!(
                "Check extra CA #{index}: it must be a PEM file with '-----BEGIN CERTIFICATE-----' blocks \
                 (convert DER with `openssl x509 -inform der -in ca.cer -out ca.pem`)."
            ),
            TrustError::CaRejected { index, .. } => {
                format!("Extra CA #{index} is damaged; export the CA certificate again.")
            }
            TrustError::Tls(_) => "This is a bug in sfbkit's TLS setup; please report it.".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::test_pki::TestCa;

    #[test]
    fn default_is_system_roots_only() {
        let trust = TrustConfig::default();
        assert!(trust.system_roots);
        assert!(trust.extra_ca_pem.is_empty());
        assert_eq!(TrustConfig::system(), trust);
    }

    #[test]
    fn empty_trust_is_a_typed_error() {
        let err = TrustConfig::empty().client_config().unwrap_err();
        assert!(matches!(err, TrustError::NoTrustAnchors { system_roots_requested: false, .. }));
        assert!(err.hint().contains("extra CA"));
    }

    #[test]
    fn extra_ca_is_counted() {
        let ca = TestCa::new("count");
        let (_, summary) = TrustConfig::empty().with_extra_ca_pem(ca.pem()).client_config().unwrap();
        assert_eq!(summary.extra_roots_loaded, 1);
        assert_eq!(summary.system_roots_loaded, 0);
    }

    #[test]
    fn system_roots_are_counted_when_present() {
        match TrustConfig::system().client_config() {
            Ok((_, summary)) => assert!(summary.system_roots_loaded > 0),
            // A machine without a CA bundle: the error must say so rather than build an empty store.
            Err(err) => assert!(matches!(err, TrustError::NoTrustAnchors { system_roots_requested: true, .. })),
        }
    }

    #[test]
    fn bad_pem_is_reported_with_its_index() {
        let ca = TestCa::new("ok");
        let not_a_cert = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec();
        let err =
            TrustConfig::empty().with_extra_ca_pem(ca.pem()).with_extra_ca_pem(not_a_cert).client_config().unwrap_err();
        assert!(matches!(err, TrustError::NoCertificateInPem { index: 1 }), "{err:?}");

        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".to_vec();
        let err = TrustConfig::empty().with_extra_ca_pem(broken).client_config().unwrap_err();
        assert!(
            matches!(err, TrustError::InvalidCaPem { index: 0, .. } | TrustError::CaRejected { index: 0, .. }),
            "{err:?}"
        );
    }
}
