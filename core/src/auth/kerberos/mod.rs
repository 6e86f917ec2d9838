//! Kerberos V5 for SIP ([MS-SIPAE] Kerberos: the AP-REQ in `gssapi-data`, signatures as GSS MIC tokens) and
//! for the web services (HTTP Negotiate, RFC 4559), in pure Rust.
//!
//! # Why pure Rust, not the platform's GSSAPI
//! - sfbkit runs on iOS and Android, where there is no MIT or Heimdal GSSAPI to bind; a binding would make
//!   Kerberos a desktop-only feature and add a C library to every build.
//! - The KDC is found the way a Windows domain member finds a domain controller: DNS SRV
//!   `_kerberos._tcp.<realm>` through sfbkit's own resolver (or addresses configured), so a sign-in needs no
//!   `krb5.conf` and the lab pool's DNS can serve its KDC. A process-wide `KRB5_CONFIG` (what MIT would need for
//!   the lab's private realm) cannot be set safely from a multi-threaded library.
//! - Every KDC exchange is async, bounded in time and size, and cancelled with the sign-in; its failures
//!   (clock skew, expired ticket, unknown service principal, unreachable KDC) become typed errors with hints.
//!
//! What it reads: the user's FILE credential cache (`kinit`, sssd; `KRB5CCNAME`), or the password the
//! builder was given (an AS exchange with encrypted-timestamp pre-authentication). The etypes are the ones
//! Active Directory issues: AES-256/128 (RFC 3962) and RC4-HMAC (RFC 4757). What is not done: KCM and KEYRING
//! caches, cross-realm referrals, FAST, PKINIT, S4U.
//!
//! The tests that matter run against MIT Kerberos: the lab pool's KDC is a real `krb5kdc`, the user's cache
//! is written by MIT's `kinit`, and the lab accepts the AP-REQs and checks the MIC tokens with MIT's GSSAPI.

pub mod ccache;
pub mod crypto;
pub mod der;
pub mod gss;
pub mod kdc;
pub mod messages;

pub use crypto::{Etype, Key};
pub use kdc::{KerberosClient, KerberosConfig};
pub use messages::{Credential, Principal};

/// A Kerberos failure, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    /// A message, token or cache could not be read.
    #[error("malformed Kerberos data: {0}")]
    Malformed(&'static str),
    /// A decryption's integrity check failed: the key (password) is wrong or the data was changed.
    #[error("a Kerberos reply did not decrypt with this key (wrong password, or a changed message)")]
    Integrity,
    /// A MIC token did not verify.
    #[error("the Kerberos signature (MIC token) does not verify")]
    BadMic,
    /// An etype sfbkit does not speak.
    #[error("encryption type {0} is not supported (sfbkit speaks aes256-cts, aes128-cts and rc4-hmac)")]
    UnsupportedEtype(i64),
    /// The KDC refused (KRB-ERROR).
    #[error("the KDC refused: {} ({code}){}", kdc_error_name(*.code), .text.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    Kdc { code: i64, text: Option<String>, server_time: u64, server: Option<String> },
    /// No KDC for the realm: none configured and no `_kerberos._tcp` SRV record.
    #[error("no KDC for the realm {realm}: no _kerberos._tcp.{} record and none configured", realm.to_ascii_lowercase())]
    NoKdc { realm: String },
    /// Every KDC refused the connection or did not answer.
    #[error("cannot contact any KDC for the realm {realm}: {detail}")]
    KdcUnreachable { realm: String, detail: String },
    /// No ticket-granting ticket and no password.
    #[error("no Kerberos credentials: {0}")]
    NoCredentials(String),
    /// The ticket-granting ticket in the cache has expired, or ends too soon to use.
    #[error("the Kerberos ticket of {principal} {when}")]
    TicketExpired { principal: String, when: String },
    /// A credential cache type sfbkit cannot read.
    #[error("the credential cache type {0}: is not supported (only FILE caches are read)")]
    UnsupportedCache(String),
}

/// RFC 4120 §7.5.9 names of the codes a sign-in meets.
pub fn kdc_error_name(code: i64) -> &'static str {
    match code {
        6 => "KDC_ERR_C_PRINCIPAL_UNKNOWN",
        7 => "KDC_ERR_S_PRINCIPAL_UNKNOWN",
        14 => "KDC_ERR_ETYPE_NOSUPP",
        18 => "KDC_ERR_CLIENT_REVOKED",
        23 => "KDC_ERR_KEY_EXPIRED",
        24 => "KDC_ERR_PREAUTH_FAILED",
        25 => "KDC_ERR_PREAUTH_REQUIRED",
        31 => "KRB_AP_ERR_BAD_INTEGRITY",
        32 => "KRB_AP_ERR_TKT_EXPIRED",
        37 => "KRB_AP_ERR_SKEW",
        41 => "KRB_AP_ERR_MODIFIED",
        60 => "KRB_ERR_GENERIC",
        68 => "KDC_ERR_WRONG_REALM",
        _ => "KRB_ERROR",
    }
}

impl KerberosError {
    /// A short, stable class: `clock-skew`, `ticket-expired`, `missing-spn`, `kdc-unreachable`, ...
    pub fn class(&self) -> &'static str {
        match self {
            KerberosError::Kdc { code: 37, .. } => "clock-skew",
            KerberosError::Kdc { code: 32, .. } | KerberosError::TicketExpired { .. } => "ticket-expired",
            KerberosError::Kdc { code: 7, .. } => "missing-spn",
            KerberosError::Kdc { code: 6, .. } => "unknown-user",
            KerberosError::Kdc { code: 24, .. } | KerberosError::Integrity => "wrong-credentials",
            KerberosError::Kdc { code: 18, .. } => "account-disabled",
            KerberosError::Kdc { code: 23, .. } => "password-expired",
            KerberosError::Kdc { code: 14, .. } | KerberosError::UnsupportedEtype(_) => "kerberos-etype",
            KerberosError::Kdc { .. } => "kerberos-refused",
            KerberosError::NoKdc { .. } | KerberosError::KdcUnreachable { .. } => "kdc-unreachable",
            KerberosError::NoCredentials(_) | KerberosError::UnsupportedCache(_) => "no-kerberos-credentials",
            KerberosError::BadMic => "bad-server-signature",
            KerberosError::Malformed(_) => "protocol",
        }
    }

    /// What a person can do about it.
    pub fn hint(&self) -> String {
        match self {
            KerberosError::Kdc { code: 37, .. } => "the clocks of this computer and the domain controller differ by more than Kerberos allows (5 minutes): synchronise this computer's clock with the domain (Windows: w32tm /resync; Linux: chronyc makestep)".into(),
            KerberosError::Kdc { code: 32, .. } | KerberosError::TicketExpired { .. } => "the Kerberos ticket has expired: get a new one (kinit, or lock and unlock a domain session), or give a password".into(),
            KerberosError::Kdc { code: 7, server, .. } => format!(
                "the domain has no service principal {}: an administrator registers it on the pool's service account (setspn -S sip/<pool fqdn> and HTTP/<pool fqdn>); until then use NTLM or TLS-DSK (--auth auto)",
                server.as_deref().unwrap_or("for the pool")
            ),
            KerberosError::Kdc { code: 6, .. } => "the domain does not know this user: check the account name (user@REALM)".into(),
            KerberosError::Kdc { code: 24, .. } | KerberosError::Integrity => "check the account and its password; repeated failures can lock the account in Active Directory".into(),
            KerberosError::Kdc { code: 18, .. } => "the account is disabled or locked in the directory".into(),
            KerberosError::Kdc { code: 23, .. } => "the password has expired: change it, then sign in again".into(),
            KerberosError::Kdc { code: 14, .. } | KerberosError::UnsupportedEtype(_) => "the domain offers no encryption type sfbkit speaks (aes256, aes128, rc4): check the account's msDS-SupportedEncryptionTypes".into(),
            KerberosError::Kdc { .. } => "the domain controller refused the request; its error name says why".into(),
            KerberosError::NoKdc { realm } => format!("publish _kerberos._tcp.{} in DNS (Active Directory does), or configure the KDC addresses (ClientBuilder::kerberos, --kdc)", realm.to_ascii_lowercase()),
            KerberosError::KdcUnreachable { .. } => "check that a domain controller is reachable on TCP port 88 from here (VPN, firewall); outside the corporate network Kerberos is not available, use --auth auto".into(),
            KerberosError::NoCredentials(_) => "sign in to the domain (kinit user@REALM, or a domain logon), or give a password".into(),
            KerberosError::UnsupportedCache(_) => "point KRB5CCNAME at a FILE cache (kinit -c FILE:/tmp/krb5cc_sfbkit), or give a password".into(),
            KerberosError::BadMic => "the registrar's Kerberos signature did not verify: something between this client and the pool changes messages; capture the traffic".into(),
            KerberosError::Malformed(_) => "the domain controller or the pool sent Kerberos data sfbkit cannot read; capture the traffic".into(),
        }
    }
}
