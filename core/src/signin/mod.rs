//! Sign-in, stage by stage, the way the Microsoft client does it (seed 001, 003): Local Discovery,
//! Server Discovery, Connectivity Checks, Authentication (web ticket, certificate provisioning,
//! REGISTER with NTLM or TLS-DSK), and the redirect to the user's home pool. Each step lands in the
//! [`SignInReport`]. [`Inner`] holds what every sign-in (and every reconnect) of one client shares.

pub(crate) mod cache;
mod certificate;
mod register;
mod renewal;

use crate::auth::sa::{Challenge, ntlm_credentials};
use crate::connectivity::{self, Connected};
use crate::discovery::{Candidate, DiscoveryConfig, Source};
use crate::http::HttpClient;
use crate::identity::Epid;
use crate::keystore::{SecretStore, StoredCertificate};
use crate::local::{DeviceProvider, LocalDiscovery, NetworkInfo, discover_local};
use crate::registration::{self, RegisterOutcome, RegisterParams};
use crate::report::{Failure, Outcome, SignInReport, Stage};
use crate::session::{SessionError, SipSession};
use crate::sip::transaction::RequestFactory;
use crate::sip::{Host, Uri};
use crate::transport::{TlsConnection, TlsConnector, TransportError};
use crate::trust::{Learned, Purpose, TrustModel};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::Instrument;

use crate::client::ClientBuilder;

/// What every sign-in of one [`crate::Client`] shares: its configuration, trust, keystore and identity.
pub(crate) struct Inner {
    pub config: ClientBuilder,
    /// Built once: loading the system's roots reads files, and every connection shares it.
    pub connector: TlsConnector,
    /// The same trust anchors, for verifying the pool inside the TLS-DSK tunnel.
    pub anchors: Arc<rustls::RootCertStore>,
    pub keystore: Arc<dyn SecretStore>,
    pub aor: Uri,
    pub domain: String,
    pub epid: Epid,
    /// Each name once per sign-in, each lookup bounded ([`crate::discovery::once`]).
    pub resolver: Arc<crate::discovery::once::SignInResolver>,
    pub devices: Arc<dyn DeviceProvider>,
    pub network: Arc<dyn NetworkInfo>,
    /// The Web Ticket Service autodiscover named (`X-MS-WebTicketURL`) and how it was learned, for
    /// certificate provisioning.
    pub web_ticket_url: std::sync::Mutex<Option<(String, Learned)>>,
    /// Where credentials may go ([`crate::trust`]).
    pub trust: TrustModel,
    /// The last TLS-DSK challenge a registrar sent and that registrar's host: what renewing the certificate
    /// during a session needs ([`renewal`]).
    pub tls_dsk: std::sync::Mutex<Option<(Challenge, String)>>,
    /// The stage running now, for a sign-in that runs out of time (its steps are recorded when they end).
    pub running: std::sync::Mutex<Stage>,
    /// The user's Kerberos tickets, kept across sign-ins ([`crate::auth::kerberos`]).
    pub kerberos: crate::auth::kerberos::KerberosClient,
    /// The HTTP client of the sign-in running now: discovery and certificate provisioning share its idle
    /// connections (dropped, and closed, when the sign-in ends).
    pub http: std::sync::Mutex<Option<HttpClient>>,
}

impl Inner {
    /// Kerberos for the web services (HTTP Negotiate): with `--auth kerberos`, or when a ticket is at hand
    /// (a domain logon's cache) as on a domain-joined computer; not with `--auth ntlm`. A password alone does
    /// not make the client look for a KDC for the web services.
    pub(crate) fn web_kerberos(&self) -> Option<&crate::auth::kerberos::KerberosClient> {
        use crate::auth::AuthMethod;
        let now = SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        match self.config.auth {
            AuthMethod::Ntlm => None,
            AuthMethod::Kerberos => Some(&self.kerberos),
            AuthMethod::Auto | AuthMethod::TlsDsk => self.kerberos.has_ticket(now).then_some(&self.kerberos),
        }
    }

    /// One sign-in, with account safety around it ([`crate::auth::lockout`]): credentials that may not be
    /// sent now end it before anything is sent, and a refusal is recorded for the account.
    pub(crate) async fn run_stages(&self, report: &mut SignInReport) -> Option<SipSession> {
        let ledger = self.config.shared.refusals();
        if let Some((account, password)) = &self.config.credentials
            && let Err(withheld) = ledger.check(account, &password.0, &self.config.lockout, Instant::now())
        {
            let f = Failure {
                error: withheld.to_string(),
                class: withheld.class().into(),
                diagnosis: None,
                hint: withheld.hint(),
            };
            report.fail(Stage::Authentication, "account safety", account, Duration::ZERO, f);
            return None;
        }
        self.resolver.begin();
        *self.http.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let deadline = self.config.sign_in_deadline;
        let span = tracing::info_span!("sign_in", user = %self.aor.as_str());
        let outcome = tokio::time::timeout(deadline, self.stages(report)).instrument(span).await;
        let session = match outcome {
            Ok(session) => session,
            Err(_) => {
                let stage = *self.running.lock().unwrap_or_else(|p| p.into_inner());
                let failure = deadline_failure(report, stage, deadline);
                report.fail(stage, "sign-in deadline", "", deadline, failure);
                None
            }
        };
        *self.http.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if session.is_none()
            && let Some((account, password)) = &self.config.credentials
            && report.error_class().is_some_and(refused_credentials_class)
        {
            ledger.record(account, &password.0, Instant::now());
        }
        match &session {
            Some(_) => tracing::info!(user = %self.aor.as_str(), registrar = %report.target, "signed in"),
            None => tracing::warn!(
                user = %self.aor.as_str(),
                class = report.error_class().unwrap_or(""),
                error = report.error.as_deref().unwrap_or(""),
                "sign-in failed"
            ),
        }
        session
    }

    async fn stages(&self, report: &mut SignInReport) -> Option<SipSession> {
        self.enter(Stage::LocalDiscovery);
        let local = self.local_discovery(report);
        self.enter(Stage::ServerDiscovery);
        let key = self.cache_key();
        let cached = match self.config.server {
            Some(_) => None,
            None if self.config.sign_in_cache_ttl.is_zero() => None,
            None => cache::load(self.keystore.as_ref(), &key, SystemTime::now()),
        };
        if let Some(cached) = cached {
            // Straight to the registrar of the last sign-in; on any failure, forget it and discover.
            let mut trial = report.clone();
            let detail = format!(
                "registrar of the sign-in {} s ago, kept {} s more (sign-in cache); lyncdiscover, SRV and the web \
                 ticket not needed",
                cached.age.as_secs(),
                cached.left.as_secs()
            );
            trial.step(
                Stage::ServerDiscovery,
                "cached registrar",
                &cached.candidate.fqdn,
                Duration::ZERO,
                Outcome::Success,
                detail,
            );
            let host = cached.candidate.fqdn.clone();
            if !cached.addrs.is_empty() {
                self.resolver.seed_ips(&host, cached.addrs.clone());
            }
            if let Some(session) = self.register_with(&mut trial, local.clone(), vec![cached.candidate]).await {
                *report = trial;
                return Some(session);
            }
            // The registrar answered about the user (wrong password, disabled, unknown): discovery would only
            // lead back to it, and a refused password must not be sent twice in one sign-in.
            if trial.error_class().is_some_and(about_the_user) {
                *report = trial;
                return None;
            }
            cache::forget(self.keystore.as_ref(), &key);
            // Discovery asks DNS afresh, the cached addresses included.
            self.resolver.begin();
            let why = trial.error.clone().unwrap_or_else(|| "it failed".into());
            let detail = format!("signing in to the cached registrar failed ({why}); forgotten, discovering again");
            report.step(Stage::ServerDiscovery, "cached registrar", &host, Duration::ZERO, Outcome::Skipped, detail);
            self.enter(Stage::ServerDiscovery);
        }
        let candidates = self.server_discovery(report).await?;
        self.register_with(report, local, candidates).await
    }

    /// Connectivity Checks and Authentication against the first of `candidates` that answers, following
    /// redirects to the home pool; the registrar registered with is kept in the sign-in cache.
    async fn register_with(
        &self,
        report: &mut SignInReport,
        mut local: LocalDiscovery,
        candidates: Vec<Candidate>,
    ) -> Option<SipSession> {
        if let Some(first) = candidates.first() {
            report.target = format!("{}:{}", first.fqdn, first.port);
        }
        let mut attempts = Vec::new();
        let network = self.network.clone();
        let preference = self.config.adapter_preference.clone();
        let mut choose = |ip: IpAddr| {
            let choice = local.choose_for(network.as_ref(), &preference, ip);
            let adapter = match &choice.chosen {
                Some(a) => format!("adapter {}: {}", a.name, choice.reason),
                None => format!("no usable adapter: {}", choice.reason),
            };
            (local.bind_address(ip), adapter)
        };
        self.enter(Stage::ConnectivityChecks);
        let connected = connectivity::connect_first(
            &candidates,
            self.resolver.as_ref(),
            &self.connector,
            &mut choose,
            self.config.connect_timeout,
            &mut attempts,
        )
        .await;
        report.attempts(Stage::ConnectivityChecks, &attempts);
        let Connected { mut conn, mut candidate } = match connected {
            Ok(c) => c,
            Err(u) => {
                report.conclude_failure(Failure { error: u.detail, class: u.class, diagnosis: None, hint: u.hint });
                return None;
            }
        };
        let (mut hop, mut dropped_before) = (0, false);
        self.enter(Stage::Authentication);
        loop {
            report.target = format!("{}:{}", candidate.fqdn, candidate.port);
            let (next, stage) = match self.register(report, conn, &candidate).await {
                RegisterEnd::Registered(session) => {
                    let ttl = self.config.sign_in_cache_ttl;
                    let addrs = vec![session.conn.peer_addr().ip()];
                    let kept = (&candidate, addrs);
                    cache::save(self.keystore.as_ref(), &self.cache_key(), kept, ttl, SystemTime::now());
                    return Some(*session);
                }
                RegisterEnd::Failed => return None,
                // Lost in the middle of the handshake: connect to the same registrar again and start over,
                // once per sign-in (a pool that drops every connection is a failure to report).
                RegisterEnd::Dropped(failure) if dropped_before => {
                    report.conclude_failure(failure);
                    return None;
                }
                RegisterEnd::Dropped(_) => {
                    dropped_before = true;
                    (candidate.clone(), Stage::ConnectivityChecks)
                }
                RegisterEnd::Redirect(contact) => match self.redirect(report, &contact, &candidate, hop) {
                    Some(next) => {
                        hop += 1;
                        (next, Stage::Redirection)
                    }
                    None => return None,
                },
            };
            // Connectivity checks again, for the home pool (recorded under Redirection) or the same registrar.
            let mut attempts = Vec::new();
            self.enter(Stage::ConnectivityChecks);
            let connected = connectivity::connect_first(
                std::slice::from_ref(&next),
                self.resolver.as_ref(),
                &self.connector,
                &mut choose,
                self.config.connect_timeout,
                &mut attempts,
            )
            .await;
            report.attempts(stage, &attempts);
            match connected {
                Ok(c) => (conn, candidate) = (c.conn, c.candidate),
                Err(u) => {
                    report.conclude_failure(Failure { error: u.detail, class: u.class, diagnosis: None, hint: u.hint });
                    return None;
                }
            }
        }
    }

    /// The home pool a 301 names, unless this was one redirect too many or the Contact names none.
    fn redirect(&self, report: &mut SignInReport, contact: &str, from: &Candidate, hop: usize) -> Option<Candidate> {
        if hop == MAX_REDIRECTS {
            report.conclude_failure(Failure {
                error: format!("more than {MAX_REDIRECTS} redirects; the last one to {contact}"),
                class: "redirect-loop".into(),
                diagnosis: None,
                hint: "the pools redirect the user in a circle: check the user's RegistrarPool (Get-CsUser) and the pools' topology".into(),
            });
            return None;
        }
        let next = redirect_candidate(contact, &from.fqdn);
        if next.is_none() {
            report.conclude_failure(Failure {
                error: format!("the registrar redirected to {contact:?}, which is not a SIP URI with a host"),
                class: "protocol".into(),
                diagnosis: None,
                hint: "the registrar's 301 Contact must name the home pool (sip:pool.contoso.com:5061;transport=tls)"
                    .into(),
            });
        }
        next
    }

    /// Devices and the network adapter (seed 003, stage 1). Never fatal.
    fn local_discovery(&self, report: &mut SignInReport) -> LocalDiscovery {
        let t = Instant::now();
        let local = discover_local(self.devices.as_ref(), self.network.as_ref(), &self.config.adapter_preference, None);
        let took = t.elapsed();
        let d = &local.devices;
        let describe = |devices: &[crate::local::Device], default: &Option<String>| -> String {
            if devices.is_empty() {
                return "none found".into();
            }
            let names: Vec<&str> = devices.iter().map(|x| x.name.as_str()).collect();
            format!("{} (default: {})", names.join(", "), default.as_deref().unwrap_or("none"))
        };
        report.step(
            Stage::LocalDiscovery,
            "video capture",
            "",
            took,
            Outcome::Success,
            describe(&d.video_capture, &d.default_video_capture),
        );
        report.step(
            Stage::LocalDiscovery,
            "audio render",
            "",
            Duration::ZERO,
            Outcome::Success,
            describe(&d.audio_render, &d.default_audio_render),
        );
        report.step(
            Stage::LocalDiscovery,
            "audio capture",
            "",
            Duration::ZERO,
            Outcome::Success,
            describe(&d.audio_capture, &d.default_audio_capture),
        );
        if !d.notes.is_empty() {
            report.step(
                Stage::LocalDiscovery,
                "device notes",
                "",
                Duration::ZERO,
                Outcome::Success,
                d.notes.join("; "),
            );
        }
        let n = &local.network;
        let chosen = n.chosen.as_ref().map(|a| a.name.clone()).unwrap_or_else(|| "none".into());
        let outcome = if n.chosen.is_some() { Outcome::Success } else { Outcome::Failure };
        report.step(Stage::LocalDiscovery, "network adapter", &chosen, Duration::ZERO, outcome, n.reason.clone());
        if !n.unusable.is_empty() {
            let list: Vec<String> = n.unusable.iter().map(|u| format!("{} ({})", u.name, u.why)).collect();
            report.step(
                Stage::LocalDiscovery,
                "adapters not used",
                "",
                Duration::ZERO,
                Outcome::Skipped,
                list.join(", "),
            );
        }
        local
    }

    /// The registrars to try: the configured one, or what the discovery chain finds.
    async fn server_discovery(&self, report: &mut SignInReport) -> Option<Vec<Candidate>> {
        if let Some(server) = &self.config.server {
            let detail = match server.addr {
                Some(addr) => format!("registrar given by configuration, at {addr}; DNS and autodiscover not needed"),
                None => "registrar given by configuration; autodiscover and SRV not needed".to_string(),
            };
            report.step(
                Stage::ServerDiscovery,
                "configured registrar",
                &server.fqdn,
                Duration::ZERO,
                Outcome::Success,
                detail,
            );
            return Some(vec![Candidate {
                fqdn: server.fqdn.clone(),
                port: server.port,
                source: Source::Configured,
                internal: true,
                learned: Learned::Configuration,
            }]);
        }
        let http = self.http();
        let cfg = DiscoveryConfig {
            autodiscover_https_port: self.config.autodiscover_ports.0,
            autodiscover_http_port: self.config.autodiscover_ports.1,
            try_http: self.config.try_http,
            format: self.config.autodiscover_format,
            a_record_port: self.config.a_record_port,
            org_id_sts: self.config.org_id_sts.clone(),
            location: self.config.location,
            ..DiscoveryConfig::new(&self.aor.as_sip().map(|s| s.aor()).unwrap_or_default(), &self.domain)
        };
        let creds = self.config.credentials.as_ref().map(|(account, password)| crate::discovery::TicketCredentials {
            account,
            password: &password.0,
            kerberos: self.web_kerberos(),
        });
        let found = crate::discovery::discover(&cfg, &http, self.resolver.as_ref(), creds, &self.trust).await;
        if let Some(url) = &found.web_ticket_url {
            *self.web_ticket_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        }
        report.attempts(Stage::ServerDiscovery, &found.attempts);
        if let Some(stop) = found.stop {
            report.conclude_failure(Failure { error: stop.error, class: stop.class, diagnosis: None, hint: stop.hint });
            return None;
        }
        if found.candidates.is_empty() {
            report.conclude_failure(Failure {
                error: format!("server discovery found no registrar for {}", self.domain),
                class: "no-registrar-found".into(),
                diagnosis: None,
                hint: format!(
                    "publish lyncdiscover.{d} / lyncdiscoverinternal.{d}, the _sipinternaltls._tcp.{d} or _sip._tls.{d} SRV records, or sip.{d}, or configure the registrar explicitly",
                    d = self.domain
                ),
            });
            return None;
        }
        Some(found.candidates)
    }
    /// The sign-in cache's key: the user and what discovery depends on (DNS servers, autodiscover and A-record
    /// ports, inside or outside), so that a registrar found one way is never used for a sign-in configured
    /// another (a lab pool on new ports, `--external`).
    fn cache_key(&self) -> String {
        let user = self.aor.as_sip().map(|s| s.aor()).unwrap_or_default();
        let c = &self.config;
        let dns: Vec<String> = c.dns_servers.iter().map(|a| a.to_string()).collect();
        let (https, http) = c.autodiscover_ports;
        let how = format!("{}|{https:?}|{http:?}|{:?}|{:?}", dns.join(","), c.a_record_port, c.location);
        let digest = <sha1::Sha1 as sha1::Digest>::digest(how.as_bytes());
        format!("{user}:{}", crate::auth::ntlm::signing::hex(&digest[..8]))
    }

    /// This sign-in's HTTP client (see [`Inner::http`]).
    pub(crate) fn http(&self) -> HttpClient {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        http.get_or_insert_with(|| {
            HttpClient::new(self.connector.clone(), self.resolver.clone(), self.config.http_timeout, 1024 * 1024)
                .traced(crate::trace::Tap::of(&self.config))
        })
        .clone()
    }

    fn enter(&self, stage: Stage) {
        *self.running.lock().unwrap_or_else(|p| p.into_inner()) = stage;
    }

    pub(crate) fn register_params(&self, local: SocketAddr, expires: Option<u32>) -> RegisterParams {
        RegisterParams {
            domain: self.domain.clone(),
            local_addr: local,
            // A per-endpoint constant, as Lync sends: derived from the epid so it is stable too.
            ms_opaque: self.epid.as_str().chars().rev().collect(),
            user_agent: self.config.user_agent.clone(),
            expires,
        }
    }
}

/// The sign-in ran out of time in `stage`: what finished last, and where to look for what did not answer.
fn deadline_failure(report: &SignInReport, stage: Stage, deadline: Duration) -> Failure {
    let last =
        report.stages.last().map(|s| format!("; the last step to finish was {} ({} {})", s.step, s.name, s.host));
    let hint = match stage {
        Stage::LocalDiscovery => "reading the devices or network adapters did not finish: check the device and \
                                  network providers"
            .to_string(),
        Stage::ServerDiscovery => "server discovery did not finish: a DNS server (lyncdiscover, SRV and A lookups) \
                                   or the autodiscover service did not answer in time; check the DNS servers and \
                                   the lyncdiscover names, or configure the registrar explicitly"
            .to_string(),
        Stage::ConnectivityChecks => "connecting to the registrar did not finish: the TCP connection or the TLS \
                                      handshake did not complete in time (a firewall dropping packets, or an \
                                      overloaded Front End)"
            .to_string(),
        _ => "the registrar or the web services stopped answering during authentication: check the Front End \
              (event logs, CPU) and the network between"
            .to_string(),
    };
    Failure {
        error: format!(
            "the sign-in did not finish within {} s, in {stage}{}",
            deadline.as_secs(),
            last.unwrap_or_default()
        ),
        class: "deadline".into(),
        diagnosis: None,
        hint: format!("{hint} (or allow more time: ClientBuilder::sign_in_deadline)"),
    }
}

/// Failure classes where the registrar (or the directory behind it) answered about the user: discovering again
/// cannot help.
fn about_the_user(class: &str) -> bool {
    refused_credentials_class(class)
        || matches!(class, "disabled-user" | "unknown-user" | "credentials-withheld" | "clock-skew")
}

/// Report classes meaning "the directory refused the password" (a failed logon it counts).
fn refused_credentials_class(class: &str) -> bool {
    matches!(class, "wrong-credentials" | "org-id-refused")
}

/// Most home-pool redirects followed in one sign-in.
const MAX_REDIRECTS: usize = 3;

/// How one registrar's REGISTER exchange ended.
enum RegisterEnd {
    Registered(Box<SipSession>),
    /// The connection was lost in the middle of the handshake (recorded as a failed step, not yet the
    /// report's error): connecting again and starting over may work.
    Dropped(Failure),
    /// 301/302: the Contact of the user's home pool.
    Redirect(String),
    Failed,
}

/// The candidate a 301 Contact names (`sip:host[:port][;transport=tls]`, port 5061 by default), as learned
/// from the registrar `from` over TLS.
fn redirect_candidate(contact: &str, from: &str) -> Option<Candidate> {
    let uri = Uri::parse(contact).ok()?;
    let sip = uri.as_sip()?;
    let fqdn = match sip.host() {
        Host::Domain(d) => d.to_string(),
        other => other.to_string().trim_start_matches('[').trim_end_matches(']').to_string(),
    };
    let learned = Learned::Tls(from.to_string());
    Some(Candidate { fqdn, port: sip.port().unwrap_or(5061), source: Source::Redirect, internal: true, learned })
}
