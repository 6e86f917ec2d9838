//! The discovery chain: each method in the Microsoft client's order until one yields registrars;
//! the methods after it are recorded as skipped, with the reason, so the report shows which path
//! won and why the others did not run.

use std::time::{Duration, Instant};

use super::autodiscover::{self, Format, Scheme, Walk, WalkConfig, entry_url};
use super::dns::{order_srv, usable_srv};
use super::{Attempt, AttemptOutcome, Candidate, DnsError, DnsResolver, Source};
use crate::http::HttpClient;
use crate::trust::{Learned, Purpose, TrustModel};

/// A-record fallbacks and their ports (Microsoft KB 2619522; the order: `sipinternal`,
/// `sip`, `sipexternal`). A records carry no port, so these are the ports a client assumes.
pub const A_RECORDS: &[(&str, u16, bool)] =
    &[("sipinternal", 5061, true), ("sip", 443, false), ("sipexternal", 443, false)];

/// Settings of server discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// `user@domain`.
    pub sip_address: String,
    /// The SIP domain.
    pub domain: String,
    /// Ports of the autodiscover web service (443 and 80 in production; labs use others).
    pub autodiscover_https_port: Option<u16>,
    pub autodiscover_http_port: Option<u16>,
    /// Also try autodiscover over plain HTTP after HTTPS (SIPE and the Microsoft client do; the
    /// HTTP Root only ever redirects to HTTPS).
    pub try_http: bool,
    /// XML (default; the only flavour carrying SIP access points) or JSON.
    pub format: Format,
    /// Most autodiscover `Redirect` hops followed.
    pub max_hops: u32,
    /// The port to assume for A-record fallbacks instead of [`A_RECORDS`]' (labs, odd deployments).
    pub a_record_port: Option<u16>,
    /// The Office 365 Org ID STS, for a Web Ticket Service that only offers `WsFed_bearer`.
    pub org_id_sts: String,
    /// Where the client is: found out (the Microsoft client's way), or set to test one side's path.
    pub location: NetworkLocation,
}

/// Which side of the corporate network the client signs in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkLocation {
    /// Try the internal names first, then the external ones, and take the access point autodiscover's
    /// `AccessLocation` says (the Microsoft client's behaviour).
    #[default]
    Auto,
    /// Only the internal path: `lyncdiscoverinternal`, `_sipinternaltls._tcp`, `sipinternal`, and autodiscover's
    /// internal access point.
    Internal,
    /// Only the external path, as from the Internet: `lyncdiscover`, `_sip._tls`, `sip` and `sipexternal`, and
    /// the external access point (the Edge). How admins test what remote users meet (seed 002) from inside.
    External,
}

impl std::str::FromStr for NetworkLocation {
    type Err = String;
    /// `auto`, `internal` or `external`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(NetworkLocation::Auto),
            "internal" => Ok(NetworkLocation::Internal),
            "external" => Ok(NetworkLocation::External),
            _ => Err(format!("{s:?} is not a network location: give auto, internal or external")),
        }
    }
}

impl NetworkLocation {
    /// Whether a method or record of this side is tried.
    fn allows(self, internal: bool) -> bool {
        match self {
            NetworkLocation::Auto => true,
            NetworkLocation::Internal => internal,
            NetworkLocation::External => !internal,
        }
    }
}

impl DiscoveryConfig {
    /// Production defaults for `user@domain`.
    pub fn new(sip_address: &str, domain: &str) -> DiscoveryConfig {
        DiscoveryConfig {
            sip_address: sip_address.strip_prefix("sip:").unwrap_or(sip_address).to_string(),
            domain: domain.to_string(),
            autodiscover_https_port: None,
            autodiscover_http_port: None,
            try_http: true,
            format: Format::Xml,
            max_hops: autodiscover::DEFAULT_MAX_HOPS,
            a_record_port: None,
            org_id_sts: crate::auth::orgid::DEFAULT_ORG_ID_STS.to_string(),
            location: NetworkLocation::Auto,
        }
    }
}

/// What discovery found.
#[derive(Debug, Default)]
pub struct Discovered {
    /// Registrars to try, in order (empty when every method failed).
    pub candidates: Vec<Candidate>,
    /// The method that found them.
    pub winner: Option<Source>,
    /// Every attempt, skipped ones included, in order.
    pub attempts: Vec<Attempt>,
    /// `X-MS-WebTicketURL` seen on the User resource (the authentication stage's starting point), and how
    /// it was learned (for the trust model).
    pub web_ticket_url: Option<(String, Learned)>,
    /// The User resource's URL.
    pub user_url: Option<String>,
    /// Set when discovery ended the sign-in instead of moving on: a server not trusted with the
    /// credentials, or credentials the Web Ticket Service refused (one failed logon is enough).
    pub stop: Option<Stop>,
}

/// Why discovery ended the sign-in (see [`Discovered::stop`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub class: String,
    pub error: String,
    pub hint: String,
}

/// The account and password to fetch a web ticket with when autodiscover's User resource asks
/// for one. Kept out of [`DiscoveryConfig`] so that no `Debug` of a configuration can show them.
#[derive(Clone, Copy)]
pub struct TicketCredentials<'a> {
    pub account: &'a str,
    pub password: &'a str,
    /// Kerberos for the Web Ticket Service (Negotiate), tried before NTLM when a ticket can be had.
    pub kerberos: Option<&'a crate::auth::kerberos::KerberosClient>,
}

/// Runs the chain. Autodiscover redirects stay within `trust`'s domains, and a web ticket is fetched (and
/// presented) only where `trust` admits it.
pub async fn discover(
    cfg: &DiscoveryConfig,
    http: &HttpClient,
    resolver: &dyn DnsResolver,
    credentials: Option<TicketCredentials<'_>>,
    trust: &TrustModel,
) -> Discovered {
    let mut d = Discovered::default();
    let methods: [(Source, &str); 5] = [
        (Source::LyncDiscoverInternal, "lyncdiscoverinternal"),
        (Source::LyncDiscover, "lyncdiscover"),
        (Source::SrvInternal, "SRV _sipinternaltls._tcp"),
        (Source::SrvExternal, "SRV _sip._tls"),
        (Source::ARecord, "A records"),
    ];
    for (idx, (source, name)) in methods.iter().enumerate() {
        let internal = matches!(source, Source::LyncDiscoverInternal | Source::SrvInternal);
        if *source != Source::ARecord && !cfg.location.allows(internal) {
            d.attempts.push(Attempt {
                step: name.to_string(),
                target: cfg.domain.clone(),
                duration: Duration::ZERO,
                outcome: AttemptOutcome::Skipped {
                    reason: format!("not tried: the client signs in from the {} side", side(cfg.location)),
                },
            });
            continue;
        }
        let found = match source {
            Source::LyncDiscoverInternal | Source::LyncDiscover => {
                autodiscover_method(cfg, http, *source, &mut d, credentials, trust).await
            }
            Source::SrvInternal | Source::SrvExternal => srv_method(cfg, resolver, *source, &mut d).await,
            _ => a_method(cfg, resolver, &mut d).await,
        };
        if d.stop.is_some() {
            return d;
        }
        // Autodiscover names both access points: only this side's, when the side is set.
        let found = found.and_then(|mut c| {
            c.retain(|c| cfg.location.allows(c.internal));
            (!c.is_empty()).then_some(c)
        });
        if let Some(candidates) = found {
            d.candidates = candidates;
            d.winner = Some(*source);
            let winner_name = methods[idx].1;
            for (_, later) in &methods[idx + 1..] {
                d.attempts.push(Attempt {
                    step: later.to_string(),
                    target: cfg.domain.clone(),
                    duration: Duration::ZERO,
                    outcome: AttemptOutcome::Skipped {
                        reason: format!("not needed: {winner_name} found the registrar"),
                    },
                });
            }
            return d;
        }
    }
    d
}

async fn autodiscover_method(
    cfg: &DiscoveryConfig,
    http: &HttpClient,
    source: Source,
    d: &mut Discovered,
    credentials: Option<TicketCredentials<'_>>,
    trust: &TrustModel,
) -> Option<Vec<Candidate>> {
    let schemes: &[Scheme] = if cfg.try_http { &[Scheme::Https, Scheme::Http] } else { &[Scheme::Https] };
    for scheme in schemes {
        let port = match scheme {
            Scheme::Https => cfg.autodiscover_https_port,
            Scheme::Http => cfg.autodiscover_http_port,
        };
        let entry = match entry_url(source, *scheme, &cfg.sip_address, port) {
            Ok(url) => url,
            Err(e) => {
                d.attempts.push(Attempt {
                    step: source_name(source).into(),
                    target: cfg.sip_address.clone(),
                    duration: Duration::ZERO,
                    outcome: AttemptOutcome::Failed { class: e.class().into(), detail: e.to_string(), hint: e.hint() },
                });
                return None;
            }
        };
        let walk = Walk::new(
            &entry,
            WalkConfig {
                format: cfg.format,
                max_hops: cfg.max_hops,
                trusted_domains: trust.domains().to_vec(),
                ..WalkConfig::new(cfg.domain.clone(), source)
            },
        );
        let (outcome, attempts) = autodiscover::run(http, walk).await;
        d.attempts.extend(attempts);
        // User needed a web ticket and Domain answered meanwhile: with credentials, fetch the ticket
        // and read User, which names the user's own home pool ([MS-OCDISCWS] 3.1.5.3).
        if let (Ok(found), Some(ticket_url), Some(user_url), Some(creds)) =
            (&outcome.result, &outcome.web_ticket_url, &outcome.user_url, credentials)
            && found.resource == autodiscover::Resource::Domain
        {
            let place = TicketPlace { ticket_url, user_url, learned: &outcome.learned };
            if let Some(candidates) = user_with_ticket(cfg, http, source, place, creds, trust, d).await {
                d.web_ticket_url = Some((ticket_url.to_string(), outcome.learned.clone()));
                d.user_url = Some(user_url.to_string());
                return Some(candidates);
            }
            if d.stop.is_some() {
                return None;
            }
        }
        let named = outcome.web_ticket_url.map(|u| (u, outcome.learned.clone()));
        d.web_ticket_url = d.web_ticket_url.take().or(named);
        d.user_url = d.user_url.take().or(outcome.user_url);
        match outcome.result {
            Ok(found) if !found.candidates.is_empty() => return Some(found.candidates),
            Ok(_) => {}
            // The name does not resolve, or DNS did not answer for it: plain HTTP to the same name cannot
            // fare better.
            Err(autodiscover::WalkError::Http { error: crate::http::HttpError::Resolve(dns), .. }) => {
                if cfg.try_http && *scheme == Scheme::Https {
                    let reason = match dns.class() {
                        "timeout" => "DNS did not answer for the name",
                        _ => "the name does not resolve",
                    };
                    d.attempts.push(Attempt {
                        step: format!("{} (http)", source_name(source)),
                        target: entry.replacen("https://", "http://", 1),
                        duration: Duration::ZERO,
                        outcome: AttemptOutcome::Skipped { reason: reason.into() },
                    });
                }
                return None;
            }
            Err(_) => {}
        }
    }
    None
}

/// Where a walk says a web ticket is needed: the Web Ticket Service (`X-MS-WebTicketURL`), the User resource,
/// and how the walk learned them.
struct TicketPlace<'a> {
    ticket_url: &'a str,
    user_url: &'a str,
    learned: &'a Learned,
}

/// Gets a web ticket (HTTP NTLM against the Web Ticket Service) and reads the User resource with
/// it; `None` (with the attempts recorded) when either step fails, so Domain's answer stands — unless the
/// service or the User resource is not trusted with the credentials, or the password was refused: then
/// [`Discovered::stop`] ends the sign-in (no credential goes anywhere else, no second failed logon).
async fn user_with_ticket(
    cfg: &DiscoveryConfig,
    http: &HttpClient,
    source: Source,
    place: TicketPlace<'_>,
    creds: TicketCredentials<'_>,
    trust: &TrustModel,
    d: &mut Discovered,
) -> Option<Vec<Candidate>> {
    use crate::auth::webticket_client::{acquire_for_service, get_user_with_ticket};
    let TicketPlace { ticket_url, user_url, learned } = place;
    let label = source_name(source);
    let sip_uri = format!("sip:{}", cfg.sip_address);
    let t = Instant::now();
    // Both places the credentials and the ticket would go must be trusted before anything is sent; a refusal
    // takes the same path as the service's own refusals (and ends the sign-in: `ends_sign_in`).
    let admitted = async {
        let sts = trust.admit_url(ticket_url, Purpose::WebTicketService, learned).await?;
        let user = trust.admit_url(user_url, Purpose::AutodiscoverUser, learned).await?;
        Ok::<_, crate::auth::webticket_client::WebTicketAcquireError>((sts, user))
    };
    let acquired = match admitted.await {
        // The Windows (NTLM) port, or Org ID + WsFed_bearer when that is all the service offers (Online).
        Ok((sts, user)) => {
            let (account, password) = (creds.account, creds.password);
            let got = acquire_for_service(
                http,
                trust,
                &sts,
                user_url,
                &sip_uri,
                account,
                password,
                &cfg.org_id_sts,
                creds.kerberos,
            );
            got.await.map(|a| (a, user))
        }
        Err(e) => Err(e),
    };
    let (ticket, user) = match acquired {
        Ok((a, user)) => {
            let how = match &a.route {
                route @ crate::auth::webticket_client::TicketRoute::Windows { .. } => {
                    format!("web ticket issued ({})", route.how())
                }
                crate::auth::webticket_client::TicketRoute::OrgId { bearer_port, .. } => {
                    format!("web ticket issued at {bearer_port} for an Org ID token")
                }
            };
            d.attempts.push(Attempt {
                step: format!("{label} web ticket"),
                target: ticket_url.to_string(),
                duration: t.elapsed(),
                outcome: AttemptOutcome::Found { detail: how },
            });
            (a.ticket, user)
        }
        Err(e) => {
            d.attempts.push(Attempt {
                step: format!("{label} web ticket"),
                target: ticket_url.to_string(),
                duration: t.elapsed(),
                outcome: AttemptOutcome::Failed { class: e.class().into(), detail: e.to_string(), hint: e.hint() },
            });
            if e.ends_sign_in() {
                d.stop = Some(Stop { class: e.class().into(), error: e.to_string(), hint: e.hint() });
            }
            return None;
        }
    };
    let t = Instant::now();
    let step = format!("{label} User (web ticket)");
    let fail = |class: &str, detail: String| Attempt {
        step: step.clone(),
        target: user_url.to_string(),
        duration: t.elapsed(),
        outcome: AttemptOutcome::Failed {
            class: class.into(),
            detail,
            hint: "the User resource refused the web ticket; the Domain resource's registrar is used instead".into(),
        },
    };
    let response = match get_user_with_ticket(http, &user, &ticket).await {
        Ok(r) => r,
        Err(e) => {
            d.attempts.push(fail(e.class(), e.to_string()));
            return None;
        }
    };
    if response.status != 200 {
        let diag = response.diagnostics().map(|x| format!(" ({})", x.to_diagnosis())).unwrap_or_default();
        d.attempts.push(fail("http-status", format!("User answered {}{diag}", response.status)));
        return None;
    }
    let doc = match autodiscover::parse(
        &response.body,
        response.media_type().as_deref(),
        cfg.format,
        autodiscover::Resource::User,
        user_url,
    ) {
        Ok(doc) => doc,
        Err(e) => {
            d.attempts.push(fail("malformed", e.to_string()));
            return None;
        }
    };
    let candidates = autodiscover::candidates_from(&doc, source, learned.clone());
    if candidates.is_empty() {
        d.attempts.push(fail("no-access-points", "the User resource names no SIP access point".into()));
        return None;
    }
    let list: Vec<String> = candidates.iter().map(|c| format!("{}:{}", c.fqdn, c.port)).collect();
    d.attempts.push(Attempt {
        step,
        target: user_url.to_string(),
        duration: t.elapsed(),
        outcome: AttemptOutcome::Found { detail: format!("User gives the user's home pool: {}", list.join(", ")) },
    });
    Some(candidates)
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::LyncDiscoverInternal => "lyncdiscoverinternal",
        Source::LyncDiscover => "lyncdiscover",
        Source::SrvInternal => "SRV _sipinternaltls._tcp",
        Source::SrvExternal => "SRV _sip._tls",
        Source::ARecord => "A records",
        Source::Configured => "configured",
        Source::Redirect => "redirect",
    }
}

async fn srv_method(
    cfg: &DiscoveryConfig,
    resolver: &dyn DnsResolver,
    source: Source,
    d: &mut Discovered,
) -> Option<Vec<Candidate>> {
    let (prefix, internal) = match source {
        Source::SrvInternal => ("_sipinternaltls._tcp", true),
        _ => ("_sip._tls", false),
    };
    let name = format!("{prefix}.{}", cfg.domain);
    let t = Instant::now();
    let step = source_name(source).to_string();
    match resolver.srv(&name).await {
        Ok(records) => {
            let records = order_srv(usable_srv(records), &mut rand::rng());
            if records.is_empty() {
                d.attempts.push(not_found(
                    &step,
                    &name,
                    t,
                    "no-records",
                    format!("{name} says the service is not offered (target \".\")"),
                ));
                return None;
            }
            let list: Vec<String> = records
                .iter()
                .map(|r| format!("{}:{} (priority {}, weight {})", r.target, r.port, r.priority, r.weight))
                .collect();
            d.attempts.push(Attempt {
                step,
                target: name,
                duration: t.elapsed(),
                outcome: AttemptOutcome::Found { detail: list.join(", ") },
            });
            let learned = crate::trust::Learned::Dns;
            let candidates = records.into_iter().map(|r| Candidate {
                fqdn: r.target,
                port: r.port,
                source,
                internal,
                learned: learned.clone(),
            });
            Some(candidates.collect())
        }
        Err(e) => {
            d.attempts.push(dns_failure(&step, &name, t, &e));
            None
        }
    }
}

fn side(location: NetworkLocation) -> &'static str {
    match location {
        NetworkLocation::External => "external",
        _ => "internal",
    }
}

async fn a_method(cfg: &DiscoveryConfig, resolver: &dyn DnsResolver, d: &mut Discovered) -> Option<Vec<Candidate>> {
    let mut found = Vec::new();
    for (prefix, port, internal) in A_RECORDS {
        if !cfg.location.allows(*internal) {
            continue;
        }
        let name = format!("{prefix}.{}", cfg.domain);
        let port = cfg.a_record_port.unwrap_or(*port);
        let t = Instant::now();
        let step = format!("A {prefix}");
        match resolver.ips(&name).await {
            Ok(ips) if !ips.is_empty() => {
                let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
                d.attempts.push(Attempt {
                    step,
                    target: name.clone(),
                    duration: t.elapsed(),
                    outcome: AttemptOutcome::Found { detail: format!("{} → port {port}", list.join(", ")) },
                });
                let learned = crate::trust::Learned::Dns;
                found.push(Candidate { fqdn: name, port, source: Source::ARecord, internal: *internal, learned });
            }
            Ok(_) => d.attempts.push(not_found(&step, &name, t, "no-records", format!("{name} has no addresses"))),
            Err(e) => d.attempts.push(dns_failure(&step, &name, t, &e)),
        }
    }
    (!found.is_empty()).then_some(found)
}

fn not_found(step: &str, target: &str, t: Instant, class: &str, detail: String) -> Attempt {
    Attempt {
        step: step.into(),
        target: target.into(),
        duration: t.elapsed(),
        outcome: AttemptOutcome::NotFound { class: class.into(), detail, hint: None },
    }
}

/// A missing record is an expected "not here, try the next method"; anything else (timeouts,
/// SERVFAIL) is a failure a person should look at.
fn dns_failure(step: &str, target: &str, t: Instant, e: &DnsError) -> Attempt {
    let outcome = match e {
        DnsError::NoSuchName { .. } | DnsError::NoRecords { .. } => {
            AttemptOutcome::NotFound { class: e.class().into(), detail: e.to_string(), hint: None }
        }
        _ => AttemptOutcome::Failed {
            class: e.class().into(),
            detail: e.to_string(),
            hint: "check that the DNS servers this machine uses answer for the SIP domain".into(),
        },
    };
    Attempt { step: step.into(), target: target.into(), duration: t.elapsed(), outcome }
}
