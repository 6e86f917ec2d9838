//! Lab pool configuration: the domain, the pool's name, its users, its DNS records and
//! certificates, the registrar's settings, named faults and a per-response delay.
//!
//! [`LabConfig::default`] is a working pool (`contoso.lab`, pool `pool01.contoso.lab`, users alice
//! and bob) so that `sfbkit signin --lab` needs no file. The same settings load from TOML
//! ([`LabConfig::from_toml`]); `tests/lab/lab.example.toml` documents every key and is parsed by a test.

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// One user of the lab pool: the directory entry authentication checks against.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabUser {
    /// `sip:alice@contoso.lab`.
    pub sip_uri: String,
    #[serde(default)]
    pub display_name: String,
    /// The Windows account (`CONTOSO\alice` or `alice@contoso.lab`); default: the SIP address.
    #[serde(default)]
    pub account: Option<String>,
    /// The account's password (a lab secret: never logged, never in reports).
    #[serde(default = "default_password")]
    pub password: String,
    /// A disabled user is refused (and a signed-in one deregistered, ms-diagnostics 4141).
    #[serde(default)]
    pub disabled: bool,
    /// The pool the user is homed on, when not this pool (the registrar redirects there).
    #[serde(default)]
    pub home_pool: Option<String>,
}

/// The demo users' password. A lab pool is a test fixture on loopback; QA teams set their own.
pub const DEFAULT_PASSWORD: &str = "Lab-Passw0rd!";

fn default_password() -> String {
    DEFAULT_PASSWORD.to_string()
}

impl LabUser {
    /// A user homed here with the default password.
    pub fn new(sip_uri: &str, display_name: &str) -> LabUser {
        LabUser {
            sip_uri: sip_uri.to_string(),
            display_name: display_name.to_string(),
            account: None,
            password: default_password(),
            disabled: false,
            home_pool: None,
        }
    }
    /// The account name authentication uses (the SIP address without `sip:` when unset).
    /// The local part of the SIP address (`alice`): the user's name in the lab's Kerberos realm.
    pub fn local_part(&self) -> &str {
        let address = self.sip_uri.strip_prefix("sip:").unwrap_or(&self.sip_uri);
        address.split('@').next().unwrap_or(address)
    }

    pub fn account(&self) -> String {
        self.account.clone().unwrap_or_else(|| self.sip_uri.strip_prefix("sip:").unwrap_or(&self.sip_uri).to_string())
    }
}

impl std::fmt::Debug for LabUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabUser")
            .field("sip_uri", &self.sip_uri)
            .field("display_name", &self.display_name)
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("home_pool", &self.home_pool)
            .finish()
    }
}

/// The registrar's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSettings {
    /// Expiry granted when the client asks none: SfB's `DefaultEndpointExpiration` is 600 s
    /// (FIELD-NOTES.md §2.7).
    pub default_expires: u32,
    /// Requested expiry is clamped to this range (`Min/MaxEndpointExpiration`, 300–900 s).
    pub min_expires: u32,
    pub max_expires: u32,
    /// `ms-keep-alive` `timeout=` in the 200 OK ([MS-SIPREGE] example: 300 s).
    pub keep_alive_timeout: u32,
    /// `Server` header: `RTC/6.0` is Skype for Business Server 2015 (CLIENT-NOTES.md §4.2).
    pub server_header: String,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        RegistrarSettings {
            default_expires: 600,
            min_expires: 300,
            max_expires: 900,
            keep_alive_timeout: 300,
            server_header: "RTC/6.0".into(),
        }
    }
}

/// A DNS record added to (or replacing) the generated zone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum RecordSpec {
    A {
        name: String,
        ip: std::net::Ipv4Addr,
    },
    Cname {
        name: String,
        target: String,
    },
    /// `port` 0 means "the registrar's port".
    Srv {
        name: String,
        target: String,
        port: u16,
        priority: u16,
        weight: u16,
    },
}

/// DNS settings. The generated zone holds A records for the pool and its well-known names and
/// the two SRV records; `records` adds more, `omit` removes generated names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsSettings {
    pub ttl: u32,
    pub records: Vec<RecordSpec>,
    /// Generated names to leave out, e.g. `lyncdiscover.contoso.lab`.
    pub omit: Vec<String>,
}

impl Default for DnsSettings {
    fn default() -> Self {
        DnsSettings { ttl: 60, records: Vec::new(), omit: Vec::new() }
    }
}

/// Certificate settings; `None` means the generated default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CertificateSettings {
    /// Names on the registrar's certificate (default: pool FQDN, `sip.`, `sipinternal.`, `sipexternal.`).
    pub sip_names: Option<Vec<String>>,
    /// Names on the web services' certificate (default: pool FQDN, `lyncdiscover.`, `lyncdiscoverinternal.`).
    pub web_names: Option<Vec<String>>,
    /// Validity from now, in days (default 365).
    pub validity_days: Option<i64>,
}

/// Authentication settings ([MS-SIPAE]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Every request must be authenticated (NTLM) and signed, as on a real pool (default true).
    pub required: bool,
    /// A Kerberos realm for the domain: a real MIT KDC (`krb5kdc`), `sip/` and `HTTP/` service principals,
    /// and Kerberos offered by the registrar and Negotiate by the web services (`sfbkit lab --kerberos`).
    pub kerberos: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings { required: true, kerberos: false }
    }
}

/// Autodiscover settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutodiscoverSettings {
    /// Redirect hops the Root answers with before the real Root.
    pub redirect_hops: u32,
}

/// Faults a QA team can switch on, by name (`--lab-fault NAME`, `faults = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// No `lyncdiscover` / `lyncdiscoverinternal` records: discovery falls back to DNS SRV.
    NoLyncdiscover,
    /// Neither lyncdiscover nor SRV records: discovery falls back to A records.
    NoLyncdiscoverNoSrv,
    /// The web services present a certificate naming only `sip.<domain>` (seed 002).
    WrongCertName,
    /// Every certificate of the pool has expired.
    ExpiredCert,
    /// Autodiscover's Root redirects to itself.
    RedirectLoop,
    /// Nobody is in the user directory: REGISTER gets 404 / 1003.
    UnknownUser,
    /// The registrar's port refuses connections.
    RefuseSip,
    /// Every DNS, HTTP and SIP response is delayed (by `response_delay_ms`, 1000 ms when unset).
    Slow,
    /// Every password is refused: NTLM fails at the registrar (and the web ticket service).
    WrongPassword,
    /// Every user is disabled for Skype for Business: REGISTER is refused with 403 / 4141.
    DisabledUser,
    /// The registrar offers NTLM only (no TLS-DSK): NTLM with three REGISTERs.
    NtlmOnly,
    /// The registrar offers TLS-DSK only (no NTLM), as an Edge or pool that takes only certificates: a client
    /// without a certificate must provision one first.
    TlsDskOnly,
    /// TLS-DSK's inner TLS speaks TLS 1.0 only (with RSA key exchange and AES-CBC-SHA).
    Tls10Only,
    /// TLS-DSK's inner TLS has TLS 1.0 and 1.1 disabled: TLS 1.2 only, as on a hardened pool. A client that
    /// offers TLS 1.0 only is refused at its ClientHello.
    NoTls10,
    /// Kerberos on (as `auth.kerberos`), but the pool's `sip/` service principal was never registered: the KDC
    /// answers KDC_ERR_S_PRINCIPAL_UNKNOWN.
    KerberosNoSpn,
    /// Kerberos on, the KDC's clock 10 minutes behind (run under faketime): KRB_AP_ERR_SKEW.
    KdcClockSkew,
    /// Kerberos on, the users' domain logon ticket lasts 30 s: expired by the time a client uses it.
    KerberosExpiredTicket,
    /// Kerberos on, but `_kerberos._tcp` points at a port where no KDC listens.
    KdcDown,
    /// Kerberos on, and the registrar offers Kerberos only (no NTLM, no TLS-DSK).
    KerberosOnly,
    /// Every web ticket presented to autodiscover's User is refused as invalid (`X-Ms-diagnostics` 28032).
    InvalidTicket,
    /// The Certificate Provisioning Service issues certificates that have already expired.
    ExpiredUserCert,
    /// Each user's connection is dropped once, a second after the user first signs in: the
    /// client must reconnect, register, resubscribe and republish.
    DropConnection,
    /// The SIP service restarts once, a second after the first sign-in: every connection drops,
    /// new ones are refused for 1.5 s, endpoint publications are gone.
    Restart,
    /// A second after signing in, each user is disabled by an administrator: a deregistration
    /// NOTIFY (`event=rejected`, `ms-diagnostics-public: 4141`), and REGISTER refused from then on.
    DisabledAfterSignin,
    /// The registrar's clock is an hour behind: its challenges' `Date` says so and its NTLM
    /// refuses AUTHENTICATE timestamps more than 15 minutes off (TLS-DSK is unaffected).
    ClockSkew,
    /// The pool authenticates as an Edge's access proxy: 407 with `Proxy-Authenticate`,
    /// `Proxy-Authorization` answers, signatures in `Proxy-Authentication-Info` (NTLM and TLS-DSK).
    ProxyAuth,
    /// The pool is Office 365's: the Web Ticket Service's MEX names only its `WsFedBearer` port (no Windows
    /// port, whose address answers 404), so a client must get a token from the lab's Org ID STS (`/RST2.srf`,
    /// checked against the user directory) and present it there (seed 000).
    Online,
    /// Hostile plain-HTTP autodiscover: the HTTPS Root answers 503, the HTTP Root links to User and Domain over
    /// http, and User's 401 names a Web Ticket Service on a foreign host over http
    /// (`X-MS-WebTicketURL: http://evil.example.net:PORT/...`). No credential may reach it.
    OffdomainWebticketUrl,
    /// The registrar's TLS-DSK challenge names certificate provisioning on a foreign host
    /// (`sts-uri="https://evil.example.net:PORT/CertProv/..."`, with a certificate the lab CA issued), whose
    /// MEX names a `WebTicketServiceWinNegotiate` port over plain http. No credential may reach it.
    StsUriElsewhere,
    /// The pool's own Web Ticket Service MEX names its `WebTicketServiceWinNegotiate` port over plain http
    /// (`http://webticket.<domain>:PORT/...`, a listener that records what it gets). No credential may reach it.
    MexHttpPort,
    /// The HTTPS autodiscover Root redirects off the domain, to a foreign host: the redirect must be refused
    /// and discovery go on (DNS SRV).
    OffdomainAutodiscoverRedirect,
    /// The connection drops when a user's first REGISTER arrives (once per user).
    DropRegister1,
    /// The connection drops when a user's second REGISTER (the first handshake leg) arrives (once per user).
    DropRegister2,
    /// The connection drops when a user's third REGISTER (NTLM's AUTHENTICATE, or a TLS-DSK flight)
    /// arrives (once per user).
    DropRegister3,
    /// A user's first REGISTER is answered 503 Service Unavailable with `Retry-After: 1` (once per user).
    Register503,
    /// The Web Ticket Service answers every request for a ticket with HTTP 500 and no SOAP fault.
    Webticket500,
    /// The registrar writes its answers one byte per second.
    Trickle,
    /// The DNS server never answers for the lyncdiscover names (a broken forwarder): autodiscover times out
    /// and DNS SRV, which does answer, finds the pool.
    DnsTimeout,
    /// `_sipinternaltls._tcp` names two Front Ends; the first (priority 0, `fe-dead.<domain>`) refuses
    /// connections.
    DeadFirstSrv,
}

impl Fault {
    /// Every fault with its name, for `--help` and error messages.
    pub const ALL: &'static [(&'static str, Fault)] = &[
        ("no-lyncdiscover", Fault::NoLyncdiscover),
        ("no-lyncdiscover-no-srv", Fault::NoLyncdiscoverNoSrv),
        ("wrong-cert-name", Fault::WrongCertName),
        ("expired-cert", Fault::ExpiredCert),
        ("redirect-loop", Fault::RedirectLoop),
        ("unknown-user", Fault::UnknownUser),
        ("refuse-sip", Fault::RefuseSip),
        ("slow", Fault::Slow),
        ("wrong-password", Fault::WrongPassword),
        ("disabled-user", Fault::DisabledUser),
        ("ntlm-only", Fault::NtlmOnly),
        ("tls-dsk-only", Fault::TlsDskOnly),
        ("tls10-only", Fault::Tls10Only),
        ("no-tls10", Fault::NoTls10),
        ("kerberos-no-spn", Fault::KerberosNoSpn),
        ("kdc-clock-skew", Fault::KdcClockSkew),
        ("kerberos-expired-ticket", Fault::KerberosExpiredTicket),
        ("kdc-down", Fault::KdcDown),
        ("kerberos-only", Fault::KerberosOnly),
        ("invalid-ticket", Fault::InvalidTicket),
        ("expired-user-cert", Fault::ExpiredUserCert),
        ("drop-connection", Fault::DropConnection),
        ("restart", Fault::Restart),
        ("disabled-after-signin", Fault::DisabledAfterSignin),
        ("clock-skew", Fault::ClockSkew),
        ("proxy-auth", Fault::ProxyAuth),
        ("online", Fault::Online),
        ("offdomain-webticket-url", Fault::OffdomainWebticketUrl),
        ("sts-uri-elsewhere", Fault::StsUriElsewhere),
        ("mex-http-port", Fault::MexHttpPort),
        ("offdomain-autodiscover-redirect", Fault::OffdomainAutodiscoverRedirect),
        ("drop-register-1", Fault::DropRegister1),
        ("drop-register-2", Fault::DropRegister2),
        ("drop-register-3", Fault::DropRegister3),
        ("register-503", Fault::Register503),
        ("webticket-500", Fault::Webticket500),
        ("trickle", Fault::Trickle),
        ("dns-timeout", Fault::DnsTimeout),
        ("dead-first-srv", Fault::DeadFirstSrv),
    ];
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        Fault::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f).ok_or_else(|| {
            let names: Vec<&str> = Fault::ALL.iter().map(|(n, _)| *n).collect();
            format!("unknown lab fault {s:?}; known faults: {}", names.join(", "))
        })
    }
}

/// A field story reproduced as a set of faults, by name (`--lab-scenario NAME`, `sfbkit lab --scenario NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Seed 002: the Front End's External Web Site presents a certificate for another host (the Edge's), so the
    /// web tickets the pool issues are refused as invalid (`X-Ms-diagnostics` 28032) by autodiscover and
    /// certificate provisioning; the registrar takes only TLS-DSK. Clients that already hold a TLS-DSK
    /// certificate sign in; clients without one fail.
    Seed002,
}

impl Scenario {
    /// Every scenario with its name and one line about it.
    pub const ALL: &'static [(&'static str, Scenario, &'static str)] = &[(
        "seed-002",
        Scenario::Seed002,
        "web tickets refused with 28032 (a web services certificate for another host), registrar TLS-DSK only: \
         clients with a cached certificate sign in, the others fail",
    )];

    /// The faults that make it.
    pub fn faults(self) -> &'static [Fault] {
        match self {
            Scenario::Seed002 => &[Fault::InvalidTicket, Fault::TlsDskOnly],
        }
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Scenario, String> {
        Scenario::ALL.iter().find(|(n, ..)| *n == s).map(|(_, sc, _)| *sc).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|(n, ..)| *n).collect();
            format!("unknown lab scenario {s:?}; known scenarios: {}", names.join(", "))
        })
    }
}

impl std::fmt::Display for Fault {
    /// The fault's name, as `--lab-fault` and the configuration file spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = Fault::ALL.iter().find(|(_, fault)| fault == self).map(|(name, _)| *name);
        f.write_str(name.unwrap_or("unnamed"))
    }
}

/// Settings of a lab pool.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabConfig {
    /// The SIP domain.
    pub domain: String,
    /// The pool's FQDN (registrar and web services; named in certificates, `ms-diagnostics` source).
    pub pool_fqdn: String,
    pub users: Vec<LabUser>,
    /// Further pools (FQDNs) in the same lab, each with its own registrar: users whose
    /// `home_pool` names one are redirected there (301) by the others.
    pub other_pools: Vec<String>,
    pub registrar: RegistrarSettings,
    pub dns: DnsSettings,
    pub certificates: CertificateSettings,
    pub autodiscover: AutodiscoverSettings,
    pub auth: AuthSettings,
    pub faults: Vec<Fault>,
    /// Applied before every DNS, HTTP and SIP response, so that tests can count round trips.
    pub response_delay_ms: u64,
    /// The port the running pool's web services listen on (set by `LabPool::start`, not configured): the
    /// provisioned web service URLs name it, as a real pool's name its 443.
    #[serde(skip)]
    pub web_https_port: Option<u16>,
}

impl Default for LabConfig {
    fn default() -> Self {
        let domain = "contoso.lab".to_string();
        let user = |name: &str, display: &str| LabUser::new(&format!("sip:{name}@{domain}"), display);
        let mut carol = user("carol", "Carol Chen");
        carol.home_pool = Some(format!("pool02.{domain}"));
        LabConfig {
            users: vec![user("alice", "Alice Anders"), user("bob", "Bob Berg"), carol],
            other_pools: vec![format!("pool02.{domain}")],
            pool_fqdn: format!("pool01.{domain}"),
            domain,
            registrar: RegistrarSettings::default(),
            dns: DnsSettings::default(),
            certificates: CertificateSettings::default(),
            autodiscover: AutodiscoverSettings::default(),
            auth: AuthSettings::default(),
            faults: Vec::new(),
            response_delay_ms: 0,
            web_https_port: None,
        }
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read lab config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("lab config {path} is not valid: {message}")]
    Invalid { path: String, message: String },
}

impl LabConfig {
    /// Parses a TOML document (`path` only names it in errors). Unknown keys are errors, so a
    /// typo never silently leaves a fault switched off.
    pub fn from_toml(text: &str, path: &str) -> Result<LabConfig, ConfigError> {
        let config: LabConfig =
            toml::from_str(text).map_err(|e| ConfigError::Invalid { path: path.into(), message: e.to_string() })?;
        config.check().map_err(|message| ConfigError::Invalid { path: path.into(), message })?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<LabConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        LabConfig::from_toml(&text, &path.display().to_string())
    }

    fn check(&self) -> Result<(), String> {
        if self.domain.is_empty() || self.pool_fqdn.is_empty() {
            return Err("domain and pool_fqdn must not be empty".into());
        }
        if self.registrar.min_expires > self.registrar.max_expires {
            return Err("registrar.min_expires is larger than registrar.max_expires".into());
        }
        for u in &self.users {
            if !u.sip_uri.starts_with("sip:") || !u.sip_uri.contains('@') {
                return Err(format!("user {:?} is not a sip:user@domain URI", u.sip_uri));
            }
        }
        Ok(())
    }

    /// Switches a fault on (idempotent).
    pub fn with_fault(mut self, fault: Fault) -> LabConfig {
        if !self.faults.contains(&fault) {
            self.faults.push(fault);
        }
        self
    }

    /// True when the fault is switched on.
    /// The config with a scenario's faults switched on.
    pub fn with_scenario(self, scenario: Scenario) -> LabConfig {
        scenario.faults().iter().fold(self, |c, f| c.with_fault(*f))
    }

    pub fn has(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    /// Whether the lab runs a Kerberos realm: `auth.kerberos`, or a fault that needs one.
    pub fn kerberos(&self) -> bool {
        self.auth.kerberos
            || [
                Fault::KerberosNoSpn,
                Fault::KdcClockSkew,
                Fault::KerberosExpiredTicket,
                Fault::KdcDown,
                Fault::KerberosOnly,
            ]
            .iter()
            .any(|f| self.has(*f))
    }

    /// The Kerberos realm: the domain in capitals, as Active Directory names it.
    pub fn realm(&self) -> String {
        self.domain.to_ascii_uppercase()
    }

    /// The lab user a Kerberos principal (`alice@CONTOSO.LAB`) is.
    pub fn user_by_principal(&self, principal: &str) -> Option<&LabUser> {
        user_by_principal(&self.users, &self.domain, principal)
    }

    /// True when a fault sends clients to the foreign host ([`crate::foreign`]).
    pub fn redirects_off_domain(&self) -> bool {
        [Fault::OffdomainWebticketUrl, Fault::StsUriElsewhere, Fault::MexHttpPort, Fault::OffdomainAutodiscoverRedirect]
            .iter()
            .any(|f| self.has(*f))
    }

    /// The delay before every response: `response_delay_ms`, or 1 s when `slow` is on without one.
    pub fn response_delay(&self) -> Duration {
        match (self.response_delay_ms, self.has(Fault::Slow)) {
            (0, true) => Duration::from_millis(1000),
            (ms, _) => Duration::from_millis(ms),
        }
    }

    /// The user with this AOR (`sip:` prefix optional, case-insensitive); nobody under `unknown-user`.
    pub fn user(&self, aor: &str) -> Option<&LabUser> {
        if self.has(Fault::UnknownUser) {
            return None;
        }
        let want = aor.strip_prefix("sip:").unwrap_or(aor);
        self.users.iter().find(|u| u.sip_uri.strip_prefix("sip:").unwrap_or(&u.sip_uri).eq_ignore_ascii_case(want))
    }

    /// The user whose Windows account is `account` (`DOMAIN\\user` or `user@domain`, any case).
    /// Unlike [`LabConfig::user`] this ignores `unknown-user`: the account exists in the
    /// directory, it is only not enabled for Skype for Business.
    pub fn user_by_account(&self, account: &str) -> Option<&LabUser> {
        self.users.iter().find(|u| u.account().eq_ignore_ascii_case(account))
    }

    /// The pool `user` is homed on (this lab's primary pool unless `home_pool` says otherwise).
    pub fn home_pool<'a>(&'a self, user: &'a LabUser) -> &'a str {
        user.home_pool.as_deref().unwrap_or(&self.pool_fqdn)
    }

    /// The names on the registrar's certificate.
    pub fn sip_certificate_names(&self) -> Vec<String> {
        self.certificates.sip_names.clone().unwrap_or_else(|| {
            let d = &self.domain;
            vec![self.pool_fqdn.clone(), format!("sip.{d}"), format!("sipinternal.{d}"), format!("sipexternal.{d}")]
        })
    }

    /// The names on the web services' certificate; only `sip.<domain>` under `wrong-cert-name`.
    pub fn web_certificate_names(&self) -> Vec<String> {
        if self.has(Fault::WrongCertName) {
            return vec![format!("sip.{}", self.domain)];
        }
        self.certificates.web_names.clone().unwrap_or_else(|| {
            let d = &self.domain;
            vec![self.pool_fqdn.clone(), format!("lyncdiscover.{d}"), format!("lyncdiscoverinternal.{d}")]
        })
    }
}

/// The user among `users` a Kerberos principal (`alice@CONTOSO.LAB`) is: the local part of the SIP address,
/// in the realm of `domain` (its name in capitals).
pub fn user_by_principal<'a>(users: &'a [LabUser], domain: &str, principal: &str) -> Option<&'a LabUser> {
    let (name, realm) = principal.rsplit_once('@')?;
    if !realm.eq_ignore_ascii_case(domain) {
        return None;
    }
    users.iter().find(|u| u.local_part().eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_file_parses_and_documents_every_section() {
        let text = include_str!("../lab.example.toml");
        let c = LabConfig::from_toml(text, "lab.example.toml").expect("example parses");
        assert_eq!(c.domain, "contoso.lab");
        assert_eq!(c.users.len(), 3);
        assert_eq!(c.registrar.default_expires, 600);
        assert!(c.dns.records.iter().any(|r| matches!(r, RecordSpec::Srv { .. })));
        assert_eq!(c.faults, vec![Fault::Slow]);
        assert_eq!(c.response_delay(), Duration::from_millis(250));
        for (name, _) in Fault::ALL {
            assert!(text.contains(&format!("#   {name} ")), "lab.example.toml does not document the fault {name}");
        }
    }

    #[test]
    fn typos_and_bad_values_are_refused() {
        assert!(LabConfig::from_toml("domian = \"x\"", "t").is_err());
        assert!(LabConfig::from_toml("faults = [\"no-such-fault\"]", "t").is_err());
        assert!(LabConfig::from_toml("[[users]]\nsip_uri = \"alice\"", "t").is_err());
        let e = LabConfig::from_toml("[registrar]\nmin_expires = 900\nmax_expires = 300", "t").unwrap_err();
        assert!(e.to_string().contains("min_expires"));
    }

    #[test]
    fn users_have_accounts_and_passwords_that_never_print() {
        let c = LabConfig::from_toml(
            "[[users]]\nsip_uri = \"sip:carol@contoso.lab\"\naccount = \"CONTOSO\\\\carol\"\npassword = \"s3cret-value\"\ndisabled = true",
            "t",
        )
        .unwrap();
        let carol = &c.users[0];
        assert_eq!(carol.account(), "CONTOSO\\carol");
        assert!(carol.disabled);
        assert!(!format!("{carol:?}").contains("s3cret-value"), "Debug redacts the password");
        assert!(!format!("{c:?}").contains("s3cret-value"));
        assert_eq!(LabConfig::default().users[0].password, DEFAULT_PASSWORD);
        assert_eq!(LabConfig::default().users[0].account(), "alice@contoso.lab");
    }

    #[test]
    fn faults_by_name() {
        for (name, fault) in Fault::ALL {
            assert_eq!(name.parse::<Fault>().unwrap(), *fault);
        }
        assert!("nope".parse::<Fault>().unwrap_err().contains("no-lyncdiscover"));
        let c = LabConfig::default().with_fault(Fault::Slow);
        assert_eq!(c.response_delay(), Duration::from_secs(1));
        assert!(LabConfig::default().with_fault(Fault::UnknownUser).user("alice@contoso.lab").is_none());
        assert_eq!(LabConfig::default().with_fault(Fault::WrongCertName).web_certificate_names(), ["sip.contoso.lab"]);
    }
}
