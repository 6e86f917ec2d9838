//! Where credentials may go: the one place that decides whether a password, an NTLM or Kerberos token, an
//! Org ID token, a web ticket or a proof-key signature may be sent to a server.
//!
//! The rule (README "Where your credentials go"), after the Microsoft client's trust model (TrustModelData,
//! the "cannot verify that the server is trusted for your sign-in address" dialog):
//!
//! - only over verified TLS (`https`, SIP over TLS); never over plain http;
//! - only to a host in the user's SIP domain or one of its subdomains, in a trusted domain
//!   ([`TrustModel::new`]: the application's list, else the Microsoft client's defaults
//!   [`MICROSOFT_DEFAULT_TRUSTED`]), or a host the application named itself (the configured registrar, the
//!   Org ID STS);
//! - anything else is refused with [`Untrusted`], which names the host and the setting to change, unless
//!   the application's [`TrustDecider`] allows it (the Microsoft client asks the user; the default refuses);
//! - an address that arrived in an answer over plain http ([`Learned::PlainHttp`]) may locate a server, but
//!   never widens the set: outside it, it is refused without asking.
//!
//! A [`TrustedUrl`] is the proof that a URL passed: the HTTP layer sends credential headers only on requests
//! to one ([`crate::http::HttpClient::send_trusted`]), and every function that sends a secret takes one, so
//! no call site can skip the check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::discovery::BoxFuture;

/// The domains the Microsoft client trusts when no TrustModelData policy is set (the Office policy
/// "Trusted Domain List", `L_PolicyTrustModelData_1`): Office 365's sign-in and web services. Setting a list
/// replaces them, as setting the policy does.
pub const MICROSOFT_DEFAULT_TRUSTED: &[&str] =
    &["lync.com", "outlook.com", "lync.glbdns.microsoft.com", "microsoftonline.com"];

/// Where the client learned a URL or host name: what a refusal explains, and whether the application may be
/// asked about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learned {
    /// The application's own configuration.
    Configuration,
    /// A DNS answer (an SRV target).
    Dns,
    /// An answer over verified TLS from this host (autodiscover over https, the registrar, a MEX).
    Tls(String),
    /// An answer over plain http from this host: it locates, it never widens trust.
    PlainHttp(String),
}

impl Learned {
    /// How an answer fetched from `url` was learned: over TLS from its host (https), else over plain http.
    pub fn from_url(url: &str) -> Learned {
        let parsed = url::Url::parse(url).ok();
        let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default().to_string();
        match parsed.as_ref().map(|u| u.scheme()) {
            Some("https") => Learned::Tls(host),
            _ => Learned::PlainHttp(host),
        }
    }
}

impl std::fmt::Display for Learned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Learned::Configuration => f.write_str("named by the configuration"),
            Learned::Dns => f.write_str("named by DNS"),
            Learned::Tls(from) => write!(f, "named by {from} over TLS"),
            Learned::PlainHttp(from) => write!(f, "named by {from} over plain http"),
        }
    }
}

/// What a credential is about to be sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// SIP REGISTER with NTLM, Kerberos or TLS-DSK.
    Registrar,
    /// A Web Ticket Service port (HTTP NTLM/Negotiate, an Org ID token, a proof-key signature).
    WebTicketService,
    /// The Office 365 Org ID STS (the password, in a WS-Trust UsernameToken).
    OrgIdSts,
    /// The Certificate Provisioning Service (a web ticket).
    CertificateProvisioning,
    /// Autodiscover's User resource (a web ticket).
    AutodiscoverUser,
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Purpose::Registrar => "the registrar",
            Purpose::WebTicketService => "the Web Ticket Service",
            Purpose::OrgIdSts => "the Org ID STS",
            Purpose::CertificateProvisioning => "the Certificate Provisioning Service",
            Purpose::AutodiscoverUser => "autodiscover's User resource",
        })
    }
}

/// What the application is asked when a server outside the trusted set wants credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustQuestion {
    /// The user's SIP domain.
    pub sip_domain: String,
    /// The server's host name.
    pub host: String,
    /// The URL (or `host:port` for the registrar).
    pub target: String,
    pub purpose: Purpose,
    pub learned: Learned,
}

/// The application's answer to a [`TrustQuestion`], e.g. from the user ("Connect anyway?") or a policy.
/// Asked at most once per host and client; `false` refuses. Without a decider every such server is refused.
pub trait TrustDecider: Send + Sync {
    fn allow<'a>(&'a self, question: &'a TrustQuestion) -> BoxFuture<'a, bool>;
}

/// Why a server may not have the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UntrustedReason {
    /// The URL is plain http (or not a URL this client can send over TLS).
    NotTls,
    /// The host is outside the SIP domain and the trusted domains, and nobody allowed it.
    OutsideTrustedDomains,
    /// As above, and the address came over plain http, so the application was not asked.
    LearnedOverPlainHttp,
    /// The application's [`TrustDecider`] said no.
    RefusedByApplication,
}

/// A refusal: credentials were about to go to a server that is not trusted for the user's sign-in address.
/// Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{purpose} at {target} ({learned}) is not trusted for {sip_domain}: {}", self.why())]
pub struct Untrusted {
    pub sip_domain: String,
    pub host: String,
    pub target: String,
    pub purpose: Purpose,
    pub learned: Learned,
    pub reason: UntrustedReason,
    /// The trusted set, for the message.
    pub trusted: Vec<String>,
}

impl Untrusted {
    /// The report class: `untrusted-server`.
    pub fn class(&self) -> &'static str {
        "untrusted-server"
    }

    fn why(&self) -> String {
        let set = self.trusted.join(", ");
        match self.reason {
            UntrustedReason::NotTls => "credentials are only sent over https, and this is plain http".into(),
            UntrustedReason::OutsideTrustedDomains => format!("{} is outside the trusted domains ({set})", self.host),
            UntrustedReason::LearnedOverPlainHttp => format!(
                "{} is outside the trusted domains ({set}), and an answer over plain http cannot add to them",
                self.host
            ),
            UntrustedReason::RefusedByApplication => format!("the application refused {}", self.host),
        }
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        match self.reason {
            UntrustedReason::NotTls => format!(
                "{} must be reached over https: fix the URL the pool publishes (X-MS-WebTicketURL, the MEX port \
                 addresses, the registrar's sts-uri), or find who rewrote it on the way",
                self.purpose
            ),
            _ => format!(
                "if {host} really serves {domain}, add its domain ({parent}) to trusted_domains \
                 (ClientBuilder::trusted_domains, sfbkit --trusted-domain; Lync's TrustModelData); otherwise \
                 something between this client and the pool is sending it elsewhere",
                host = self.host,
                domain = self.sip_domain,
                parent = parent_domain(&self.host),
            ),
        }
    }
}

/// A URL that passed [`TrustModel::admit_url`]: https, to a trusted host. Only this module makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedUrl(String);

impl TrustedUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TrustedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The set of servers one client's credentials may go to (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct TrustModel {
    inner: Arc<ModelInner>,
}

struct ModelInner {
    sip_domain: String,
    /// Normalised: lower case, no leading `*.` or dots.
    domains: Vec<String>,
    /// Hosts the application named, matched exactly.
    hosts: Vec<String>,
    decider: Option<Arc<dyn TrustDecider>>,
    /// The decider's answers, per host, for this client.
    answers: Mutex<HashMap<String, bool>>,
}

impl std::fmt::Debug for TrustModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustModel")
            .field("sip_domain", &self.inner.sip_domain)
            .field("domains", &self.inner.domains)
            .field("hosts", &self.inner.hosts)
            .field("decider", &self.inner.decider.is_some())
            .finish()
    }
}

impl TrustModel {
    /// The SIP domain plus `trusted_domains` (`None`: [`MICROSOFT_DEFAULT_TRUSTED`]), plus `named_hosts`
    /// (the configured registrar, the Org ID STS), with an optional decider for the rest.
    pub fn new(
        sip_domain: &str,
        trusted_domains: Option<&[String]>,
        named_hosts: &[String],
        decider: Option<Arc<dyn TrustDecider>>,
    ) -> TrustModel {
        let defaults: Vec<String> = MICROSOFT_DEFAULT_TRUSTED.iter().map(|d| d.to_string()).collect();
        let listed = trusted_domains.unwrap_or(&defaults);
        let mut domains: Vec<String> = std::iter::once(sip_domain.to_string())
            .chain(listed.iter().cloned())
            .map(|d| normalise(&d))
            .filter(|d| !d.is_empty())
            .collect();
        domains.dedup();
        let hosts = named_hosts.iter().map(|h| normalise(h)).filter(|h| !h.is_empty()).collect();
        TrustModel {
            inner: Arc::new(ModelInner {
                sip_domain: normalise(sip_domain),
                domains,
                hosts,
                decider,
                answers: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Trusts exactly `sip_domain` and its subdomains (tests, tools).
    pub fn for_domain(sip_domain: &str) -> TrustModel {
        TrustModel::new(sip_domain, Some(&[]), &[], None)
    }

    /// The user's SIP domain.
    pub fn sip_domain(&self) -> &str {
        &self.inner.sip_domain
    }

    /// The trusted domains, SIP domain first.
    pub fn domains(&self) -> &[String] {
        &self.inner.domains
    }

    /// True when `host` is in the SIP domain, a trusted domain (or a subdomain of either), or named by the
    /// configuration. IP literals are only ever trusted when named.
    pub fn covers(&self, host: &str) -> bool {
        let host = normalise(host);
        if self.inner.hosts.contains(&host) {
            return true;
        }
        let is_ip = host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[');
        !is_ip && domain_covers(&self.inner.domains, &host)
    }

    /// Admits `url` as a destination for credentials for `purpose`: https, and a trusted host (or one the
    /// application allows).
    pub async fn admit_url(&self, url: &str, purpose: Purpose, learned: &Learned) -> Result<TrustedUrl, Untrusted> {
        let parsed = url::Url::parse(url).ok();
        let host = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default().to_string();
        let https = parsed.as_ref().is_some_and(|u| u.scheme() == "https");
        if !https || host.is_empty() {
            return Err(self.refusal(&host, url, purpose, learned, UntrustedReason::NotTls));
        }
        self.admit(&host, url, purpose, learned).await?;
        Ok(TrustedUrl(url.to_string()))
    }

    /// Admits the registrar `host` (reached over TLS, verified for that name) for SIP authentication.
    pub async fn admit_host(
        &self,
        host: &str,
        port: u16,
        purpose: Purpose,
        learned: &Learned,
    ) -> Result<(), Untrusted> {
        self.admit(host, &format!("{host}:{port}"), purpose, learned).await
    }

    async fn admit(&self, host: &str, target: &str, purpose: Purpose, learned: &Learned) -> Result<(), Untrusted> {
        if self.covers(host) {
            return Ok(());
        }
        if matches!(learned, Learned::PlainHttp(_)) {
            return Err(self.refusal(host, target, purpose, learned, UntrustedReason::LearnedOverPlainHttp));
        }
        let Some(decider) = &self.inner.decider else {
            return Err(self.refusal(host, target, purpose, learned, UntrustedReason::OutsideTrustedDomains));
        };
        let key = normalise(host);
        let known = self.inner.answers.lock().unwrap_or_else(|p| p.into_inner()).get(&key).copied();
        let allowed = match known {
            Some(answer) => answer,
            None => {
                let question = TrustQuestion {
                    sip_domain: self.inner.sip_domain.clone(),
                    host: key.clone(),
                    target: target.to_string(),
                    purpose,
                    learned: learned.clone(),
                };
                let answer = decider.allow(&question).await;
                tracing::info!(host = %key, %purpose, allowed = answer, "trust decision from the application");
                self.inner.answers.lock().unwrap_or_else(|p| p.into_inner()).insert(key, answer);
                answer
            }
        };
        if allowed {
            Ok(())
        } else {
            Err(self.refusal(host, target, purpose, learned, UntrustedReason::RefusedByApplication))
        }
    }

    fn refusal(
        &self,
        host: &str,
        target: &str,
        purpose: Purpose,
        learned: &Learned,
        reason: UntrustedReason,
    ) -> Untrusted {
        let refusal = Untrusted {
            sip_domain: self.inner.sip_domain.clone(),
            host: host.to_string(),
            target: target.to_string(),
            purpose,
            learned: learned.clone(),
            reason,
            trusted: self.inner.domains.clone(),
        };
        tracing::warn!(%refusal, "credentials withheld");
        refusal
    }
}

/// True when `host` equals one of `domains` or is under it (`pool01.contoso.com` under `contoso.com`); both
/// compared case-insensitively, without a trailing dot, `*.` prefixes on domains ignored.
pub fn domain_covers(domains: &[String], host: &str) -> bool {
    let host = normalise(host);
    domains
        .iter()
        .map(|d| normalise(d))
        .any(|d| !d.is_empty() && (host == d || host.strip_suffix(&d).is_some_and(|rest| rest.ends_with('.'))))
}

fn normalise(name: &str) -> String {
    name.trim().trim_start_matches("*.").trim_matches('.').to_ascii_lowercase()
}

/// `webdir1a.online.lync.com` → `online.lync.com`: what to add to trusted domains for a host.
pub fn parent_domain(host: &str) -> &str {
    match host.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest,
        _ => host,
    }
}

#[cfg(test)]
mod tests;
