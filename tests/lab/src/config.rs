//! Lab pool configuration: the domain, the pool's name, its users and its registrar settings.
//!
//! Defaults give a working pool (`contoso.lab`, pool `pool01.contoso.lab`, users alice and bob)
//! so that `sfbkit signin --lab` needs no file. Later issues add a documented TOML form.

use std::time::Duration;

/// One user of the lab pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabUser {
    /// `sip:alice@contoso.lab`.
    pub sip_uri: String,
    pub display_name: String,
}

/// Settings of a lab pool.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// The SIP domain.
    pub domain: String,
    /// The pool's FQDN (named in its certificate, `Server`, `ms-diagnostics` source).
    pub pool_fqdn: String,
    pub users: Vec<LabUser>,
    /// Registration expiry granted when the client asks none: SfB's
    /// `DefaultEndpointExpiration` is 600 s (FIELD-NOTES.md §2.7).
    pub default_expires: u32,
    /// The registrar clamps requested expiry to this range (`Min/MaxEndpointExpiration`, 300–900 s).
    pub min_expires: u32,
    pub max_expires: u32,
    /// `ms-keep-alive` `timeout=` announced in the 200 OK ([MS-SIPREGE] example: 300 s).
    pub keep_alive_timeout: u32,
    /// Applied before every response the pool sends, so that tests can count round trips.
    pub response_delay: Duration,
    /// `Server` header: `RTC/6.0` is Skype for Business Server 2015 (CLIENT-NOTES.md §4.2).
    pub server_header: String,
}

impl Default for LabConfig {
    fn default() -> Self {
        let domain = "contoso.lab".to_string();
        let user = |name: &str, display: &str| LabUser {
            sip_uri: format!("sip:{name}@{domain}"),
            display_name: display.into(),
        };
        LabConfig {
            users: vec![user("alice", "Alice Anders"), user("bob", "Bob Berg")],
            pool_fqdn: format!("pool01.{domain}"),
            domain,
            default_expires: 600,
            min_expires: 300,
            max_expires: 900,
            keep_alive_timeout: 300,
            response_delay: Duration::ZERO,
            server_header: "RTC/6.0".into(),
        }
    }
}

impl LabConfig {
    /// The user with this AOR (`sip:` prefix optional, case-insensitive).
    pub fn user(&self, aor: &str) -> Option<&LabUser> {
        let want = aor.strip_prefix("sip:").unwrap_or(aor);
        self.users.iter().find(|u| u.sip_uri.strip_prefix("sip:").unwrap_or(&u.sip_uri).eq_ignore_ascii_case(want))
    }
    /// The names the pool's certificate carries.
    pub fn certificate_names(&self) -> Vec<String> {
        vec![self.pool_fqdn.clone(), format!("sip.{}", self.domain), format!("sipinternal.{}", self.domain)]
    }
}
