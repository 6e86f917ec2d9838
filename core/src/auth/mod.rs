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
pub(crate) mod handshake;
pub mod kerberos;
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

/// Which SIP authentication scheme a sign-in may use (`sfbkit signin --auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// As the Microsoft client chooses: TLS-DSK (a provisioned certificate), then Kerberos, then NTLM
    /// ([MS-SIPAE]; CLIENT-NOTES.md §1 step 5).
    #[default]
    Auto,
    /// NTLM only: no certificate is provisioned or used.
    Ntlm,
    /// TLS-DSK only: a certificate from the keystore, provisioned first when there is none.
    TlsDsk,
    /// Kerberos only.
    Kerberos,
}

impl AuthMethod {
    /// The name `--auth` takes and reports show: `auto`, `ntlm`, `tls-dsk`, `kerberos`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::Ntlm => "ntlm",
            AuthMethod::TlsDsk => "tls-dsk",
            AuthMethod::Kerberos => "kerberos",
        }
    }

    /// The scheme token in `WWW-Authenticate` this method insists on; `None` for `Auto`.
    pub fn scheme(self) -> Option<&'static str> {
        match self {
            AuthMethod::Auto => None,
            AuthMethod::Ntlm => Some("NTLM"),
            AuthMethod::TlsDsk => Some("TLS-DSK"),
            AuthMethod::Kerberos => Some("Kerberos"),
        }
    }

    /// Whether this method lets the sign-in use `scheme` (`NTLM`, `TLS-DSK`, `Kerberos`).
    pub fn allows(self, scheme: &str) -> bool {
        self.scheme().is_none_or(|s| s.eq_ignore_ascii_case(scheme))
    }
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(AuthMethod::Auto),
            "ntlm" => Ok(AuthMethod::Ntlm),
            "tls-dsk" | "tlsdsk" => Ok(AuthMethod::TlsDsk),
            "kerberos" => Ok(AuthMethod::Kerberos),
            _ => Err(format!("{s:?} is not an authentication method: give auto, ntlm, tls-dsk or kerberos")),
        }
    }
}

#[cfg(test)]
mod method_tests {
    use super::AuthMethod;

    #[test]
    fn methods_parse_print_and_allow_their_scheme_only() {
        for m in [AuthMethod::Auto, AuthMethod::Ntlm, AuthMethod::TlsDsk, AuthMethod::Kerberos] {
            assert_eq!(m.name().parse::<AuthMethod>(), Ok(m));
        }
        assert_eq!("TLS-DSK".parse::<AuthMethod>(), Ok(AuthMethod::TlsDsk));
        assert!("digest".parse::<AuthMethod>().unwrap_err().contains("auto, ntlm, tls-dsk or kerberos"));
        assert!(AuthMethod::Auto.allows("NTLM") && AuthMethod::Auto.allows("TLS-DSK"));
        assert!(AuthMethod::Ntlm.allows("ntlm") && !AuthMethod::Ntlm.allows("TLS-DSK"));
        assert!(AuthMethod::TlsDsk.allows("TLS-DSK") && !AuthMethod::TlsDsk.allows("NTLM"));
    }
}
