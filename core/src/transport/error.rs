//! What can go wrong getting bytes to and from a SIP/TLS server, sorted by what a person would do about it.
//!
//! rustls reports certificate and handshake failures as [`rustls::Error`] values that tokio-rustls wraps in an
//! [`io::Error`]; [`TransportError::from_handshake`] unwraps them again so that "the certificate names another
//! host" and "the server is down" never reach the user as the same `io::Error`.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::{AlertDescription, CertificateError};
use rustls_pki_types::UnixTime;

use super::trust::TrustError;

/// Which step of a connection was under way when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Looking the host name up in DNS.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake, certificate verification included.
    Handshake,
    /// Writing to an established connection.
    Send,
    /// Reading from an established connection.
    Receive,
    /// Closing the connection (sending close_notify).
    Close,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Resolve => "resolving the name",
            Phase::Connect => "opening the TCP connection",
            Phase::Handshake => "the TLS handshake",
            Phase::Send => "sending",
            Phase::Receive => "receiving",
            Phase::Close => "closing the connection",
        })
    }
}

/// Why a SIP/TLS connection could not be made or used. Every variant names the host (the name the certificate
/// was checked against) and, once known, the address; [`TransportError::hint`] says what to do.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The trust anchors could not be set up; nothing was sent.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The server name is neither a DNS name nor an IP address, so no certificate could ever match it.
    #[error("{name:?} is not a valid server name")]
    InvalidServerName {
        /// The name as given.
        name: String,
    },
    /// DNS gave no address for the host.
    #[error("{host} could not be resolved")]
    NameNotResolved {
        /// The name looked up.
        host: String,
        /// The resolver's error; `None` when it answered with no addresses.
        #[source]
        source: Option<io::Error>,
    },
    /// Every address answered the TCP connect with a reset: nothing listens on that port.
    #[error("{host}: connection refused by {}", list(addrs))]
    Refused {
        /// The host connected to.
        host: String,
        /// Every address tried, in order.
        addrs: Vec<SocketAddr>,
    },
    /// The overall time budget ran out.
    #[error("{host}: no answer within {after:?} during {phase}{}", at(addr))]
    Timeout {
        /// The host connected to.
        host: String,
        /// The step that was waiting.
        phase: Phase,
        /// The address being tried, when past DNS.
        addr: Option<SocketAddr>,
        /// The time budget that ran out.
        after: Duration,
    },
    /// The certificate chain does not lead to a trusted CA.
    #[error("{host} ({addr}): the server certificate is not issued by a trusted CA")]
    UntrustedRoot {
        /// The name the certificate was checked against.
        host: String,
        /// The server's address.
        addr: SocketAddr,
    },
    /// The certificate is valid but for other names.
    #[error("{host} ({addr}): the server certificate is for {} instead", names(presented))]
    NameMismatch {
        /// The name the certificate was checked against.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// The names the certificate presents (may be empty when rustls did not report them).
        presented: Vec<String>,
    },
    /// The certificate's notAfter has passed.
    #[error("{host} ({addr}): the server certificate has expired{}", when(" on ", *not_after))]
    Expired {
        /// The name the certificate was checked against.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// The certificate's notAfter, when rustls reported it.
        not_after: Option<SystemTime>,
    },
    /// The certificate's notBefore is still in the future (often a wrong clock on this machine).
    #[error("{host} ({addr}): the server certificate is not valid yet{}", when(" until ", *not_before))]
    NotYetValid {
        /// The name the certificate was checked against.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// The certificate's notBefore, when rustls reported it.
        not_before: Option<SystemTime>,
    },
    /// The certificate was refused for another reason (bad signature, revoked, wrong purpose, bad encoding).
    #[error("{host} ({addr}): the server certificate was refused: {error}")]
    CertificateRejected {
        /// The name the certificate was checked against.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// rustls's reason.
        #[source]
        error: rustls::Error,
    },
    /// Client and server found no TLS version or cipher suite in common.
    #[error("{host} ({addr}): no TLS version or cipher suite in common: {error}")]
    HandshakeFailure {
        /// The host connected to.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// rustls's reason.
        #[source]
        error: rustls::Error,
    },
    /// The peer broke the TLS protocol, or is not speaking TLS at all.
    #[error("{host} ({addr}): TLS protocol error: {error}")]
    Protocol {
        /// The host connected to.
        host: String,
        /// The server's address.
        addr: SocketAddr,
        /// rustls's reason.
        #[source]
        error: rustls::Error,
    },
    /// Any other operating-system level failure (unreachable network, reset, truncated stream).
    #[error("{host}: I/O error during {phase}{}: {source}", at(addr))]
    Io {
        /// The host connected to.
        host: String,
        /// The address involved, when past DNS.
        addr: Option<SocketAddr>,
        /// The step that failed.
        phase: Phase,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl TransportError {
    /// Sorts out a failed TLS handshake: rustls's verdict if the io::Error carries one, plain I/O otherwise.
    pub(crate) fn from_handshake(host: &str, addr: SocketAddr, err: io::Error) -> TransportError {
        match err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => TransportError::from_tls(host, addr, tls.clone()),
            None => {
                TransportError::Io { host: host.to_owned(), addr: Some(addr), phase: Phase::Handshake, source: err }
            }
        }
    }

    /// Maps a rustls error to the variant that says what to do about it.
    pub(crate) fn from_tls(host: &str, addr: SocketAddr, error: rustls::Error) -> TransportError {
        let host = host.to_owned();
        match error {
            rustls::Error::InvalidCertificate(cert) => TransportError::from_certificate(host, addr, cert),
            rustls::Error::PeerIncompatible(_)
            | rustls::Error::AlertReceived(
                AlertDescription::HandshakeFailure
                | AlertDescription::ProtocolVersion
                | AlertDescription::InsufficientSecurity,
            ) => TransportError::HandshakeFailure { host, addr, error },
            error => TransportError::Protocol { host, addr, error },
        }
    }

    fn from_certificate(host: String, addr: SocketAddr, cert: CertificateError) -> TransportError {
        match cert {
            CertificateError::UnknownIssuer => TransportError::UntrustedRoot { host, addr },
            CertificateError::NotValidForName => TransportError::NameMismatch { host, addr, presented: Vec::new() },
            CertificateError::NotValidForNameContext { presented, .. } => {
                let presented = presented.iter().map(|n| plain_name(n)).collect();
                TransportError::NameMismatch { host, addr, presented }
            }
            CertificateError::Expired => TransportError::Expired { host, addr, not_after: None },
            CertificateError::ExpiredContext { not_after, .. } => {
                TransportError::Expired { host, addr, not_after: Some(system_time(not_after)) }
            }
            CertificateError::NotValidYet => TransportError::NotYetValid { host, addr, not_before: None },
            CertificateError::NotValidYetContext { not_before, .. } => {
                TransportError::NotYetValid { host, addr, not_before: Some(system_time(not_before)) }
            }
            other => {
                TransportError::CertificateRejected { host, addr, error: rustls::Error::InvalidCertificate(other) }
            }
        }
    }

    /// The stage that failed, for the sign-in report.
    /// A short, stable class for reports and tests (`untrusted-root`, `name-mismatch`, ...): the
    /// same words wherever a TLS failure is reported, SIP or HTTP.
    pub fn class(&self) -> &'static str {
        match self {
            TransportError::Trust(_) => "trust-store",
            TransportError::InvalidServerName { .. } => "invalid-server-name",
            TransportError::NameNotResolved { .. } => "no-such-name",
            TransportError::Refused { .. } => "refused",
            TransportError::Timeout { .. } => "timeout",
            TransportError::UntrustedRoot { .. } => "untrusted-root",
            TransportError::NameMismatch { .. } => "name-mismatch",
            TransportError::Expired { .. } => "expired-certificate",
            TransportError::NotYetValid { .. } => "certificate-not-yet-valid",
            TransportError::CertificateRejected { .. } => "certificate-rejected",
            TransportError::HandshakeFailure { .. } | TransportError::Protocol { .. } => "tls-refused",
            TransportError::Io { .. } => "io",
        }
    }

    pub fn phase(&self) -> Phase {
        match self {
            TransportError::Trust(_) | TransportError::InvalidServerName { .. } => Phase::Resolve,
            TransportError::NameNotResolved { .. } => Phase::Resolve,
            TransportError::Refused { .. } => Phase::Connect,
            TransportError::Timeout { phase, .. } | TransportError::Io { phase, .. } => *phase,
            _ => Phase::Handshake,
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            TransportError::Trust(e) => e.hint(),
            TransportError::InvalidServerName { name } => {
                format!("Use the pool's DNS name (e.g. sip.contoso.com), not {name:?}.")
            }
            TransportError::NameNotResolved { host, .. } => format!(
                "Check the spelling of {host} and that this machine's DNS can see it (internal names need the \
                 corporate network or VPN)."
            ),
            TransportError::Refused { host, .. } => format!(
                "Nothing listens on that port at {host}: check the port (SIP over TLS is usually 5061, or 443 on \
                 an Edge/access proxy) and that the front-end service is running."
            ),
            TransportError::Timeout { host, phase: Phase::Handshake, .. } => format!(
                "{host} accepted TCP but never answered TLS: check that the port speaks TLS and that no \
                 proxy or firewall holds the connection; or allow a longer timeout."
            ),
            TransportError::Timeout { host, phase, .. } => format!(
                "Nothing answered in time during {phase}: check that {host} is reachable from here \
                 (firewall, VPN) or allow a longer timeout."
            ),
            TransportError::UntrustedRoot { host, .. } => format!(
                "Trust the CA that issued {host}'s certificate: add it to the system store or give its PEM as \
                 an extra CA."
            ),
            TransportError::NameMismatch { host, presented, .. } => format!(
                "Connect using a name the certificate holds ({}), or have the administrator add {host} to the \
                 pool certificate's subject alternative names.",
                names(presented)
            ),
            TransportError::Expired { host, .. } => {
                format!("{host}'s certificate has expired: the pool administrator must renew it.")
            }
            TransportError::NotYetValid { .. } => {
                "Check this machine's clock and time zone; if it is right, the server's certificate was issued \
                 with a future start date."
                    .to_owned()
            }
            TransportError::CertificateRejected { host, .. } => {
                format!("{host}'s certificate is unusable for TLS servers; the pool administrator must replace it.")
            }
            TransportError::HandshakeFailure { host, .. } => format!(
                "{host} offers no TLS 1.2/1.3 with modern ciphers (it may allow only TLS 1.0/1.1): the pool must \
                 enable TLS 1.2."
            ),
            TransportError::Protocol { host, error: rustls::Error::InvalidMessage(_), .. } => format!(
                "{host} did not answer with TLS: check the port (5061 is TLS, 5060 plain TCP) and for a proxy \
                 in between."
            ),
            TransportError::Protocol { .. } => {
                "The server broke the TLS protocol; retry, and report it with a packet capture if it persists."
                    .to_owned()
            }
            TransportError::Io { host, phase, .. } => {
                format!("The network failed during {phase} with {host}: check connectivity and retry.")
            }
        }
    }
}

/// webpki reports presented names in Debug form (`DnsName("sip.contoso.com")`, `IpAddress(10.0.0.1)`);
/// people want the bare name, as they would type it.
fn plain_name(presented: &str) -> String {
    let bare = presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| presented.strip_prefix("IpAddress(").and_then(|n| n.strip_suffix(')')));
    bare.unwrap_or(presented).to_owned()
}

fn system_time(t: UnixTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.as_secs())
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
}

fn names(presented: &[String]) -> String {
    if presented.is_empty() { "other names".to_owned() } else { presented.join(", ") }
}

fn at(addr: &Option<SocketAddr>) -> String {
    addr.map(|a| format!(" with {a}")).unwrap_or_default()
}

fn when(prefix: &str, t: Option<SystemTime>) -> String {
    match t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()) {
        Some(d) => format!("{prefix}{}", utc_text(d.as_secs())),
        None => String::new(),
    }
}

/// `YYYY-MM-DD hh:mm:ss UTC`, so an expiry reads as a date rather than a count of seconds.
fn utc_text(secs: u64) -> String {
    let c = crate::civil::CivilTime::from_unix(secs);
    format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::PeerIncompatible;
    use rustls_pki_types::ServerName;

    fn addr() -> SocketAddr {
        "192.0.2.7:5061".parse().unwrap()
    }

    fn wrapped(e: rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn certificate_errors_are_unwrapped_from_io_errors() {
        let unknown = wrapped(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(matches!(
            TransportError::from_handshake("sip.contoso.com", addr(), unknown),
            TransportError::UntrustedRoot { .. }
        ));

        let mismatch = wrapped(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("sip.contoso.com").unwrap().to_owned(),
            presented: vec!["DnsName(\"other.contoso.com\")".to_owned()],
        }));
        let err = TransportError::from_handshake("sip.contoso.com", addr(), mismatch);
        let TransportError::NameMismatch { presented, .. } = &err else { panic!("{err:?}") };
        assert_eq!(presented, &["other.contoso.com"]);
        assert!(err.hint().contains("(other.contoso.com)"), "{}", err.hint());
    }

    #[test]
    fn presented_names_lose_their_debug_wrapping() {
        assert_eq!(plain_name("DnsName(\"a.example\")"), "a.example");
        assert_eq!(plain_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(plain_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn dates_print_as_utc_calendar_dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_text(1_795_232_270), "2026-11-21 03:37:50 UTC");
        assert_eq!(utc_text(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn expiry_carries_the_date() {
        let expired = wrapped(rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(Duration::from_secs(2_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(1_000)),
        }));
        let err = TransportError::from_handshake("h", addr(), expired);
        let TransportError::Expired { not_after: Some(t), .. } = &err else { panic!("{err:?}") };
        assert_eq!(*t, UNIX_EPOCH + Duration::from_secs(1_000));
        assert!(err.to_string().ends_with("expired on 1970-01-01 00:16:40 UTC"), "{err}");
    }

    #[test]
    fn version_and_cipher_refusals_are_handshake_failures() {
        for e in [
            rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13),
            rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
            rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
        ] {
            let err = TransportError::from_tls("h", addr(), e);
            assert!(matches!(err, TransportError::HandshakeFailure { .. }), "{err:?}");
            assert!(err.hint().contains("TLS 1.2"));
        }
    }

    #[test]
    fn plain_io_errors_stay_io_in_the_handshake_phase() {
        let reset = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        let err = TransportError::from_handshake("h", addr(), reset);
        assert!(matches!(err, TransportError::Io { phase: Phase::Handshake, .. }));
        assert_eq!(err.phase(), Phase::Handshake);
    }

    #[test]
    fn messages_name_the_host_and_hints_are_sentences() {
        let errors = [
            TransportError::NameNotResolved { host: "h.example".into(), source: None },
            TransportError::Refused { host: "h.example".into(), addrs: vec![addr()] },
            TransportError::Timeout {
                host: "h.example".into(),
                phase: Phase::Connect,
                addr: None,
                after: Duration::from_secs(1),
            },
            TransportError::NotYetValid { host: "h.example".into(), addr: addr(), not_before: None },
        ];
        for err in errors {
            assert!(err.to_string().contains("h.example"), "{err}");
            assert!(err.hint().ends_with('.'), "{}", err.hint());
        }
    }
}
