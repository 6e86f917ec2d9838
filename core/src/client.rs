//! The facade: [`ClientBuilder`] → [`Client`] → [`Client::sign_in`] → [`SignInReport`].
//!
//! Bindings (Python, Swift, Kotlin) wrap this and nothing else, so everything here is owned data,
//! async methods and typed errors. The client signs in the way the Microsoft client does, stage by
//! stage, and records each step in the report.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;

use crate::auth::sa::{
    AuthError, Challenge, NtlmHandshake, SecurityAssociation, TlsDskHandshake, TlsDskStep, ntlm_credentials,
};
use crate::connectivity::{self, Connected};
use crate::discovery::autodiscover::Format;
use crate::discovery::dns::HickoryResolver;
use crate::discovery::{BoxFuture, Candidate, DiscoveryConfig, DnsError, DnsResolver, Source, SrvTarget};
use crate::http::HttpClient;
use crate::identity::Epid;
use crate::keystore::{MemoryStore, OsKeystore, SecretStore, StoredCertificate};
use crate::local::{DeviceProvider, LocalDiscovery, NetworkInfo, SystemNetwork, default_provider, discover_local};
use crate::registration::{self, RegisterOutcome, RegisterParams};
use crate::report::{Failure, Outcome, SignInReport, SignInResult, Stage};
use crate::session::{SessionError, SipSession};
use crate::sip::transaction::RequestFactory;
use crate::sip::{Host, Limits, Uri};
use crate::transport::{TlsConnection, TlsConnector, TransportError, TrustConfig};

/// Where the registrar is, when the caller already knows (server discovery is then skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTarget {
    /// The FQDN the certificate must name (`pool01.contoso.com`).
    pub fqdn: String,
    pub port: u16,
    /// Connect here instead of resolving `fqdn` (a lab pool on 127.0.0.1, a known front end).
    pub addr: Option<SocketAddr>,
}

/// Why a client could not be built or an operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0:?} is not a SIP URI of the form sip:user@domain")]
    InvalidSipUri(String),
    #[error("the DNS resolver could not be set up: {0}")]
    Resolver(DnsError),
    #[error("no certificate authority to trust: {0}")]
    Trust(crate::transport::TrustError),
    #[error("not signed in")]
    NotSignedIn,
    #[error("keep-alive failed: {0}")]
    KeepAlive(Box<SessionError>),
    #[error("sign-out failed: {0}")]
    SignOut(Box<SessionError>),
}

/// Configures a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    sip_uri: String,
    server: Option<ServerTarget>,
    trust: TrustConfig,
    epid: Option<Epid>,
    user_agent: String,
    connect_timeout: Duration,
    http_timeout: Duration,
    limits: Limits,
    resolver: Option<Arc<dyn DnsResolver>>,
    dns_servers: Vec<SocketAddr>,
    autodiscover_ports: (Option<u16>, Option<u16>),
    autodiscover_format: Format,
    try_http: bool,
    trusted_domains: Vec<String>,
    a_record_port: Option<u16>,
    devices: Option<Arc<dyn DeviceProvider>>,
    network: Option<Arc<dyn NetworkInfo>>,
    adapter_preference: Vec<String>,
    credentials: Option<(String, Password)>,
    keystore: Option<Arc<dyn SecretStore>>,
}

/// A password that never prints (Debug and Display are redacted).
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("sip_uri", &self.sip_uri)
            .field("server", &self.server)
            .field("dns_servers", &self.dns_servers)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// A client for `sip:user@domain` (the `sip:` prefix may be omitted).
    pub fn new(sip_uri: &str) -> ClientBuilder {
        ClientBuilder {
            sip_uri: sip_uri.to_string(),
            server: None,
            trust: TrustConfig::system(),
            epid: None,
            user_agent: format!("sfbkit/{} ({})", env!("CARGO_PKG_VERSION"), std::env::consts::OS),
            connect_timeout: Duration::from_secs(10),
            http_timeout: Duration::from_secs(10),
            limits: Limits::default(),
            resolver: None,
            dns_servers: Vec::new(),
            autodiscover_ports: (None, None),
            autodiscover_format: Format::Xml,
            try_http: true,
            trusted_domains: Vec::new(),
            a_record_port: None,
            devices: None,
            network: None,
            adapter_preference: Vec::new(),
            credentials: None,
            keystore: None,
        }
    }
    /// Where TLS-DSK certificates are kept (default: the OS keystore; in memory when the platform
    /// has none). Host apps pass their own (Android Keystore).
    pub fn keystore(mut self, store: Arc<dyn SecretStore>) -> ClientBuilder {
        self.keystore = Some(store);
        self
    }
    /// The Windows account (`DOMAIN\\user` or `user@domain`) and password for NTLM. The password is
    /// kept in memory only and never appears in logs, errors or reports.
    pub fn credentials(mut self, account: &str, password: &str) -> ClientBuilder {
        self.credentials = Some((account.to_string(), Password(password.to_string())));
        self
    }
    /// Use these DNS servers instead of the system's (a lab pool's, a split-DNS test).
    pub fn dns_servers(mut self, servers: Vec<SocketAddr>) -> ClientBuilder {
        self.dns_servers = servers;
        self
    }
    /// Use this resolver for every lookup (tests, hosts with their own DNS).
    pub fn resolver(mut self, resolver: Arc<dyn DnsResolver>) -> ClientBuilder {
        self.resolver = Some(resolver);
        self
    }
    /// Ports of the autodiscover web service (default 443 and 80).
    pub fn autodiscover_ports(mut self, https: u16, http: u16) -> ClientBuilder {
        self.autodiscover_ports = (Some(https), Some(http));
        self
    }
    /// XML (default: the flavour carrying SIP access points) or JSON autodiscover.
    pub fn autodiscover_format(mut self, format: Format) -> ClientBuilder {
        self.autodiscover_format = format;
        self
    }
    /// Whether to try autodiscover over plain HTTP after HTTPS (default true, as the Microsoft client).
    pub fn autodiscover_over_http(mut self, enabled: bool) -> ClientBuilder {
        self.try_http = enabled;
        self
    }
    /// Domains autodiscover may redirect into besides the SIP domain (Lync's TrustModelData).
    pub fn trusted_domains(mut self, domains: Vec<String>) -> ClientBuilder {
        self.trusted_domains = domains;
        self
    }
    /// The port to use for A-record fallbacks instead of 5061/443 (labs, unusual deployments).
    pub fn a_record_port(mut self, port: u16) -> ClientBuilder {
        self.a_record_port = Some(port);
        self
    }
    /// Where audio and video devices come from (default: the platform's; hosts supply their own).
    pub fn devices(mut self, provider: Arc<dyn DeviceProvider>) -> ClientBuilder {
        self.devices = Some(provider);
        self
    }
    /// Where network adapters come from (default: the system's).
    pub fn network(mut self, network: Arc<dyn NetworkInfo>) -> ClientBuilder {
        self.network = Some(network);
        self
    }
    /// Network adapters to prefer, by name, in order (the adapter preference order).
    pub fn adapter_preference(mut self, names: Vec<String>) -> ClientBuilder {
        self.adapter_preference = names;
        self
    }
    /// Upper bound for each autodiscover HTTP request.
    pub fn http_timeout(mut self, t: Duration) -> ClientBuilder {
        self.http_timeout = t;
        self
    }
    /// The registrar to sign in to.
    pub fn server(mut self, target: ServerTarget) -> ClientBuilder {
        self.server = Some(target);
        self
    }
    /// Which certificate authorities to trust (system roots by default; checks are never off).
    pub fn trust(mut self, trust: TrustConfig) -> ClientBuilder {
        self.trust = trust;
        self
    }
    /// The endpoint id to use; persist it so the pool sees the same endpoint across runs.
    pub fn epid(mut self, epid: Epid) -> ClientBuilder {
        self.epid = Some(epid);
        self
    }
    /// `User-Agent` (some pools filter clients by it: Client Version Filtering).
    pub fn user_agent(mut self, ua: &str) -> ClientBuilder {
        self.user_agent = ua.to_string();
        self
    }
    /// Upper bound for TCP connect plus TLS handshake.
    pub fn connect_timeout(mut self, t: Duration) -> ClientBuilder {
        self.connect_timeout = t;
        self
    }
    /// Parser limits for what the server sends.
    pub fn limits(mut self, limits: Limits) -> ClientBuilder {
        self.limits = limits;
        self
    }
    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, ClientError> {
        let text =
            if self.sip_uri.starts_with("sip:") { self.sip_uri.clone() } else { format!("sip:{}", self.sip_uri) };
        let aor = Uri::parse(&text).map_err(|_| ClientError::InvalidSipUri(self.sip_uri.clone()))?;
        let domain = match aor.as_sip() {
            Some(s) if s.user().is_some() && s.params().is_empty() && s.port().is_none() => s.host().to_string(),
            _ => return Err(ClientError::InvalidSipUri(self.sip_uri.clone())),
        };
        let resolver: Arc<dyn DnsResolver> = match (&self.resolver, self.dns_servers.is_empty()) {
            (Some(r), _) => r.clone(),
            (None, false) => Arc::new(
                HickoryResolver::with_nameservers(&self.dns_servers, Duration::from_secs(2))
                    .map_err(ClientError::Resolver)?,
            ),
            (None, true) => Arc::new(HickoryResolver::system().map_err(ClientError::Resolver)?),
        };
        // A configured address pins the registrar's name to it, the way a hosts-file entry would.
        let resolver = match &self.server {
            Some(ServerTarget { fqdn, addr: Some(addr), .. }) => {
                Arc::new(Pinned { name: fqdn.clone(), ip: addr.ip(), inner: resolver }) as Arc<dyn DnsResolver>
            }
            _ => resolver,
        };
        let connector = TlsConnector::new(&self.trust).map_err(ClientError::Trust)?;
        let (anchors, _) = self.trust.root_store().map_err(ClientError::Trust)?;
        let keystore = match &self.keystore {
            Some(k) => k.clone(),
            None => match OsKeystore::new() {
                Ok(k) => Arc::new(k) as Arc<dyn SecretStore>,
                Err(e) => {
                    tracing::warn!(error = %e, "no OS keystore: TLS-DSK certificates are kept in memory only");
                    Arc::new(MemoryStore::default())
                }
            },
        };
        Ok(Client {
            connector,
            anchors: Arc::new(anchors),
            keystore,
            epid: self.epid.clone().unwrap_or_else(Epid::generate),
            aor,
            domain,
            resolver,
            devices: self.devices.clone().unwrap_or_else(|| Arc::from(default_provider())),
            network: self.network.clone().unwrap_or_else(|| Arc::new(SystemNetwork)),
            config: self,
            web_ticket_url: std::sync::Mutex::new(None),
            session: Mutex::new(None),
        })
    }
}

/// One Skype for Business endpoint. Cheap: no thread of its own; all I/O on the caller's tokio runtime.
pub struct Client {
    config: ClientBuilder,
    /// Built once: loading the system's roots reads files, and every connection shares it.
    connector: TlsConnector,
    /// The same trust anchors, for verifying the pool inside the TLS-DSK tunnel.
    anchors: Arc<rustls::RootCertStore>,
    keystore: Arc<dyn SecretStore>,
    aor: Uri,
    domain: String,
    epid: Epid,
    resolver: Arc<dyn DnsResolver>,
    devices: Arc<dyn DeviceProvider>,
    network: Arc<dyn NetworkInfo>,
    /// The Web Ticket Service autodiscover named (`X-MS-WebTicketURL`), for certificate provisioning.
    web_ticket_url: std::sync::Mutex<Option<String>>,
    session: Mutex<Option<SipSession>>,
}

/// A resolver that answers one name with a fixed address and asks `inner` for the rest.
struct Pinned {
    name: String,
    ip: IpAddr,
    inner: Arc<dyn DnsResolver>,
}

impl DnsResolver for Pinned {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        self.inner.srv(name)
    }
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        if name.trim_end_matches('.').eq_ignore_ascii_case(&self.name) {
            let ip = self.ip;
            return Box::pin(async move { Ok(vec![ip]) });
        }
        self.inner.ips(name)
    }
}

impl Client {
    /// The endpoint id this client registers with.
    pub fn epid(&self) -> &Epid {
        &self.epid
    }

    /// Signs in and reports every step: Local Discovery, Server Discovery, Connectivity Checks,
    /// Authentication. On success the client stays registered until [`Client::sign_out`]; on
    /// failure the report says which stage failed, why, and what to do.
    pub async fn sign_in(&self) -> SignInReport {
        let started = Instant::now();
        let mut report = SignInReport::new(self.aor.as_str(), &self.domain);
        if let Some(session) = self.run_stages(&mut report).await {
            *self.session.lock().await = Some(session);
            report.result = SignInResult::Success;
        }
        report.latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        report
    }

    async fn run_stages(&self, report: &mut SignInReport) -> Option<SipSession> {
        let mut local = self.local_discovery(report);
        let candidates = self.server_discovery(report).await?;
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
        for hop in 0..=MAX_REDIRECTS {
            report.target = format!("{}:{}", candidate.fqdn, candidate.port);
            let contact = match self.register(report, conn, &candidate.fqdn).await {
                RegisterEnd::Registered(session) => return Some(*session),
                RegisterEnd::Failed => return None,
                RegisterEnd::Redirect(contact) => contact,
            };
            if hop == MAX_REDIRECTS {
                report.conclude_failure(Failure {
                    error: format!("more than {MAX_REDIRECTS} redirects; the last one to {contact}"),
                    class: "redirect-loop".into(),
                    diagnosis: None,
                    hint: "the pools redirect the user in a circle: check the user's RegistrarPool (Get-CsUser) and the pools' topology".into(),
                });
                return None;
            }
            let Some(next) = redirect_candidate(&contact) else {
                report.conclude_failure(Failure {
                    error: format!("the registrar redirected to {contact:?}, which is not a SIP URI with a host"),
                    class: "protocol".into(),
                    diagnosis: None,
                    hint:
                        "the registrar's 301 Contact must name the home pool (sip:pool.contoso.com:5061;transport=tls)"
                            .into(),
                });
                return None;
            };
            // Connectivity checks again, for the home pool; recorded under Redirection.
            let mut attempts = Vec::new();
            let connected = connectivity::connect_first(
                std::slice::from_ref(&next),
                self.resolver.as_ref(),
                &self.connector,
                &mut choose,
                self.config.connect_timeout,
                &mut attempts,
            )
            .await;
            report.attempts(Stage::Redirection, &attempts);
            match connected {
                Ok(c) => (conn, candidate) = (c.conn, c.candidate),
                Err(u) => {
                    report.conclude_failure(Failure { error: u.detail, class: u.class, diagnosis: None, hint: u.hint });
                    return None;
                }
            }
        }
        None
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
            }]);
        }
        let http =
            HttpClient::new(self.connector.clone(), self.resolver.clone(), self.config.http_timeout, 1024 * 1024);
        let cfg = DiscoveryConfig {
            autodiscover_https_port: self.config.autodiscover_ports.0,
            autodiscover_http_port: self.config.autodiscover_ports.1,
            try_http: self.config.try_http,
            format: self.config.autodiscover_format,
            trusted_domains: self.config.trusted_domains.clone(),
            a_record_port: self.config.a_record_port,
            ..DiscoveryConfig::new(&self.aor.as_sip().map(|s| s.aor()).unwrap_or_default(), &self.domain)
        };
        let creds = self
            .config
            .credentials
            .as_ref()
            .map(|(account, password)| crate::discovery::TicketCredentials { account, password: &password.0 });
        let found = crate::discovery::discover(&cfg, &http, self.resolver.as_ref(), creds).await;
        if let Some(url) = &found.web_ticket_url {
            *self.web_ticket_url.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        }
        report.attempts(Stage::ServerDiscovery, &found.attempts);
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

    async fn register(&self, report: &mut SignInReport, conn: TlsConnection, host: &str) -> RegisterEnd {
        let host = host.to_string();
        let info = conn.info().clone();
        let local = info.local_addr;
        let host_of = match local.ip() {
            std::net::IpAddr::V4(a) => Host::Ipv4(a),
            std::net::IpAddr::V6(a) => Host::Ipv6(a),
        };
        let factory = RequestFactory::new(host_of, local.port(), self.aor.clone(), self.epid.clone());
        let mut session = SipSession::new(conn, factory, self.config.limits);
        let params = self.register_params(local, None);
        let mut leg = Leg::Plain;
        let mut reprovisioned = false;
        for _round in 0..8 {
            let t = Instant::now();
            let mut request = match registration::register_request(&mut session.factory, &self.aor, &params) {
                Ok(r) => r,
                Err(e) => {
                    let hint = "check the SIP domain in the user's SIP URI".to_string();
                    let f = Failure { error: e.to_string(), class: "bad-configuration".into(), diagnosis: None, hint };
                    report.fail(Stage::Authentication, "REGISTER", &host, t.elapsed(), f);
                    return RegisterEnd::Failed;
                }
            };
            let step = leg.step_name();
            let mut final_sa = None;
            match std::mem::replace(&mut leg, Leg::Plain) {
                Leg::Plain => {}
                Leg::NtlmFirst(h) => {
                    request.headers.set("Authorization", &h.first_leg());
                    leg = Leg::NtlmFirst(h);
                }
                Leg::TlsDsk(h, header) => {
                    request.headers.set("Authorization", &header);
                    leg = Leg::TlsDsk(h, header);
                }
                Leg::NtlmFinal(mut sa) => {
                    if let Err(e) = sa.authorize_final_leg(&mut request) {
                        report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                        return RegisterEnd::Failed;
                    }
                    final_sa = Some(sa);
                }
            }
            let response = match session.request(request).await {
                Ok(r) => r,
                Err(e) => {
                    report.fail(Stage::Authentication, step, &host, t.elapsed(), session_failure(&e));
                    return RegisterEnd::Failed;
                }
            };
            match registration::classify_response(&response, &self.epid) {
                RegisterOutcome::Registered(reg) => {
                    let mut signed = String::new();
                    if let Some(sa) = final_sa {
                        if let Err(e) = sa.verify(&response) {
                            report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                            return RegisterEnd::Failed;
                        }
                        signed = format!("; signed by the registrar ({}), signature verified", sa.scheme());
                        session.sa = Some(sa);
                    }
                    let detail = format!(
                        "200 OK: registered for {} s, keep-alive every {} s, GRUU {}{signed}",
                        reg.expires,
                        reg.keep_alive_timeout.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
                        reg.gruu.as_deref().unwrap_or("(none)")
                    );
                    report.step(Stage::Authentication, step, &host, t.elapsed(), Outcome::Success, detail);
                    report.registration = Some(reg);
                    return RegisterEnd::Registered(Box::new(session));
                }
                RegisterOutcome::AuthenticationRequired { proxy, challenges } => {
                    let code = if proxy { 407 } else { 401 };
                    let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
                    let offered = offered.join(", ");
                    let challenges = Challenge::all(&response);
                    match (final_sa.is_some(), &leg) {
                        // A challenge after the AUTHENTICATE: the credentials were refused.
                        (true, _) => {
                            report.fail(Stage::Authentication, step, &host, t.elapsed(), Failure {
                                error: format!("{code}, the registrar refused the NTLM credentials"),
                                class: "wrong-credentials".into(),
                                diagnosis: registration::diagnostics_of(&response).map(|d| d.to_diagnosis()),
                                hint: "check the account (DOMAIN\\user or user@domain) and its password; repeated failures can lock the account in Active Directory".into(),
                            });
                            return RegisterEnd::Failed;
                        }
                        (false, Leg::TlsDsk(..)) => {
                            let Some(ch) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK")) else {
                                let f = Failure {
                                    error: format!("{code} without a TLS-DSK challenge"),
                                    class: "protocol".into(),
                                    diagnosis: None,
                                    hint: "the registrar did not continue the TLS-DSK handshake".into(),
                                };
                                report.fail(Stage::Authentication, step, &host, t.elapsed(), f);
                                return RegisterEnd::Failed;
                            };
                            let Leg::TlsDsk(h, _) = std::mem::replace(&mut leg, Leg::Plain) else {
                                return RegisterEnd::Failed;
                            };
                            match (*h).answer(ch) {
                                Ok((TlsDskStep::Continue(header), Some(h))) => {
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        t.elapsed(),
                                        Outcome::Success,
                                        format!("{code} with the pool's TLS flight"),
                                    );
                                    leg = Leg::TlsDsk(Box::new(h), header);
                                }
                                Ok((TlsDskStep::Established(sa), _)) => {
                                    report.step(Stage::Authentication, step, &host, t.elapsed(), Outcome::Success, format!("{code} with the pool's Finished: TLS-DSK tunnel complete, pool certificate verified"));
                                    leg = Leg::NtlmFinal(sa);
                                }
                                Ok((TlsDskStep::Continue(_), None)) => return RegisterEnd::Failed,
                                Err(e) => {
                                    // The pool refused the stored certificate (another CA, revoked,
                                    // expired): delete it and provision a new one, once.
                                    if !reprovisioned {
                                        reprovisioned = true;
                                        let user = self.aor.as_sip().map(|u| u.aor()).unwrap_or_default();
                                        if let Some(target) = ch.targetname.as_deref() {
                                            let _ = StoredCertificate::delete(self.keystore.as_ref(), &user, target);
                                        }
                                        report.step(Stage::Authentication, step, &host, t.elapsed(), Outcome::Failure, format!("the pool refused the stored certificate ({e}); deleted, provisioning a new one"));
                                        if self.provision_certificate(report, &challenges).await.is_ok() {
                                            if let Some(mut h) = self.tls_dsk_start(&challenges) {
                                                let header = h.first_leg();
                                                leg = Leg::TlsDsk(Box::new(h), header);
                                                continue;
                                            }
                                        }
                                    }
                                    report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                        (false, Leg::NtlmFirst(_)) => {
                            let Some(ch) = challenges.iter().find(|c| {
                                c.scheme.eq_ignore_ascii_case("NTLM")
                                    && c.gssapi_data.as_deref().is_some_and(|g| !g.is_empty())
                            }) else {
                                let f = Failure { error: format!("{code} without an NTLM CHALLENGE"), class: "protocol".into(), diagnosis: None, hint: "the registrar did not continue the NTLM handshake; check its authentication settings".into() };
                                report.fail(Stage::Authentication, step, &host, t.elapsed(), f);
                                return RegisterEnd::Failed;
                            };
                            let Leg::NtlmFirst(h) = std::mem::replace(&mut leg, Leg::Plain) else {
                                return RegisterEnd::Failed;
                            };
                            match h.answer(ch, SystemTime::now()) {
                                Ok(sa) => {
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        t.elapsed(),
                                        Outcome::Success,
                                        format!("{code} with the NTLM CHALLENGE"),
                                    );
                                    leg = Leg::NtlmFinal(sa);
                                }
                                Err(e) => {
                                    report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                        (false, _) => {
                            // SIPE's order: TLS-DSK (with a certificate this pool issued), Kerberos, NTLM.
                            if let Some(reason) = self.renewal_due(&challenges) {
                                report.step(
                                    Stage::Authentication,
                                    "certificate renewal",
                                    &host,
                                    Duration::ZERO,
                                    Outcome::Success,
                                    format!("{reason}: provisioning a new one"),
                                );
                            }
                            if self.tls_dsk_start(&challenges).is_none() {
                                // No certificate for this pool yet: provision one (web ticket over
                                // HTTP NTLM, then GetAndPublishCert), as the Microsoft client does
                                // on its first sign-in (seed 000, seed 001 step 3). If that fails,
                                // NTLM still signs in; the failure stays in the report as a warning.
                                if let Err(Some(f)) = self.provision_certificate(report, &challenges).await {
                                    report.warnings.push(format!(
                                        "certificate provisioning failed, signing in with NTLM: {}",
                                        f.error
                                    ));
                                    report.step(
                                        Stage::Authentication,
                                        "certificate provisioning",
                                        &host,
                                        Duration::ZERO,
                                        Outcome::Failure,
                                        f.error.clone(),
                                    );
                                }
                            }
                            if let Some(h) = self.tls_dsk_start(&challenges) {
                                let mut h = h;
                                let header = h.first_leg();
                                report.step(Stage::Authentication, step, &host, t.elapsed(), Outcome::Success, format!("{code}: the registrar offers {offered}; using TLS-DSK with the certificate from the keystore"));
                                leg = Leg::TlsDsk(Box::new(h), header);
                                continue;
                            }
                            let ntlm = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("NTLM"));
                            let (Some(ch), Some((account, password))) = (ntlm, &self.config.credentials) else {
                                let hint = if ntlm.is_some() {
                                    "configure the user's credentials (ClientBuilder::credentials, or --account/--password)".to_string()
                                } else {
                                    format!(
                                        "the registrar offers only {offered}: TLS-DSK needs a provisioned certificate and Kerberos is not available in this build"
                                    )
                                };
                                report.fail(
                                    Stage::Authentication,
                                    step,
                                    &host,
                                    t.elapsed(),
                                    Failure {
                                        error: format!("{code}, the registrar requires authentication ({offered})"),
                                        class: "authentication-required".into(),
                                        diagnosis: registration::diagnostics_of(&response).map(|d| d.to_diagnosis()),
                                        hint,
                                    },
                                );
                                return RegisterEnd::Failed;
                            };
                            match NtlmHandshake::new(ch, ntlm_credentials(account, &password.0)) {
                                Ok(h) => {
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        t.elapsed(),
                                        Outcome::Success,
                                        format!("{code}: the registrar offers {offered}; using NTLM"),
                                    );
                                    leg = Leg::NtlmFirst(h);
                                }
                                Err(e) => {
                                    report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                    }
                }
                RegisterOutcome::Redirect { contact } => {
                    // After authentication the 301 is signed like any answer: verify it first.
                    if let Some(sa) = &final_sa {
                        if let Err(e) = sa.verify(&response) {
                            report.fail(Stage::Redirection, step, &host, t.elapsed(), auth_failure(&e));
                            return RegisterEnd::Failed;
                        }
                    }
                    let detail = format!("301: the user is homed on {contact}; signing in there");
                    report.step(Stage::Redirection, step, &host, t.elapsed(), Outcome::Success, detail);
                    let _ = session.conn.close().await;
                    return RegisterEnd::Redirect(contact);
                }
                RegisterOutcome::Rejected { code, reason, diagnostics } => {
                    report.fail(
                        Stage::Authentication,
                        step,
                        &host,
                        t.elapsed(),
                        Failure {
                            hint: register_hint(code, diagnostics.as_ref().map(|d| d.code)),
                            error: format!("{code}, {reason}"),
                            class: register_class(code, diagnostics.as_ref().map(|d| d.code)),
                            diagnosis: diagnostics.map(|d| d.to_diagnosis()),
                        },
                    );
                    return RegisterEnd::Failed;
                }
            }
        }
        let f = Failure {
            error: "the registrar kept challenging".into(),
            class: "protocol".into(),
            diagnosis: None,
            hint: "the authentication handshake did not converge; check the registrar's authentication settings".into(),
        };
        report.fail(Stage::Authentication, "REGISTER", &host, Duration::ZERO, f);
        RegisterEnd::Failed
    }

    /// Provisions a TLS-DSK certificate when the registrar offers TLS-DSK with an `sts-uri` and
    /// credentials are configured. `Err(None)`: not applicable (no TLS-DSK, no credentials);
    /// `Err(Some(f))`: it was tried and failed.
    async fn provision_certificate(
        &self,
        report: &mut SignInReport,
        challenges: &[Challenge],
    ) -> Result<(), Option<Failure>> {
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK")).ok_or(None)?;
        let certprov = ch.sts_uri.clone().ok_or(None)?;
        let target = ch.targetname.clone().ok_or(None)?;
        let (account, password) = self.config.credentials.as_ref().ok_or(None)?;
        let user = self.aor.as_sip().map(|s| s.aor()).ok_or(None)?;
        let discovered = self.web_ticket_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let sts = discovered.or_else(|| crate::auth::provision::default_sts_url(&certprov)).ok_or(None)?;
        let http =
            HttpClient::new(self.connector.clone(), self.resolver.clone(), self.config.http_timeout, 1024 * 1024);
        let device_id = crate::identity::sip_instance(&self.epid).uuid();
        let t = Instant::now();
        match crate::auth::provision::provision(
            &http,
            &sts,
            &certprov,
            &user,
            account,
            &password.0,
            &device_id,
            self.keystore.as_ref(),
            &target,
        )
        .await
        {
            Ok(p) => {
                let detail = format!(
                    "web ticket from {} (NTLM over HTTP), certificate from GetAndPublishCert, stored in {}",
                    p.sts_url,
                    self.keystore.describe()
                );
                report.step(
                    Stage::Authentication,
                    "certificate provisioning",
                    &certprov,
                    t.elapsed(),
                    Outcome::Success,
                    detail,
                );
                Ok(())
            }
            Err(e) => {
                Err(Some(Failure { error: e.to_string(), class: e.class().into(), diagnosis: None, hint: e.hint() }))
            }
        }
    }

    /// When the stored certificate for this pool is expired or past half its lifetime: the reason,
    /// and the entry is deleted so that provisioning replaces it.
    fn renewal_due(&self, challenges: &[Challenge]) -> Option<String> {
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK"))?;
        let target = ch.targetname.as_deref()?;
        let user = self.aor.as_sip()?.aor();
        let cert = StoredCertificate::load(self.keystore.as_ref(), &user, target).ok()??;
        let reason = cert.renewal_due(SystemTime::now())?;
        // Renewal needs credentials for the web ticket; without them the old certificate is kept.
        self.config.credentials.as_ref()?;
        let _ = StoredCertificate::delete(self.keystore.as_ref(), &user, target);
        Some(reason)
    }

    /// A TLS-DSK handshake, when the registrar offers TLS-DSK and the keystore holds a certificate
    /// for this user and pool (`targetname`).
    fn tls_dsk_start(&self, challenges: &[Challenge]) -> Option<TlsDskHandshake> {
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK"))?;
        let target = ch.targetname.as_deref()?;
        let user = self.aor.as_sip()?.aor();
        let cert = match StoredCertificate::load(self.keystore.as_ref(), &user, target) {
            Ok(c) => c?,
            Err(e) => {
                tracing::warn!(error = %e, "keystore unreadable; TLS-DSK skipped");
                return None;
            }
        };
        match TlsDskHandshake::new(ch, &cert, self.anchors.clone()) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "stored certificate unusable; TLS-DSK skipped");
                None
            }
        }
    }

    fn register_params(&self, local: SocketAddr, expires: Option<u32>) -> RegisterParams {
        RegisterParams {
            domain: self.domain.clone(),
            local_addr: local,
            // A per-endpoint constant, as Lync sends: derived from the epid so it is stable too.
            ms_opaque: self.epid.as_str().chars().rev().collect(),
            user_agent: self.config.user_agent.clone(),
            expires,
        }
    }

    /// Sends a keep-alive ping on the signed-in connection and returns the time until the
    /// registrar's pong: a cheap "is my connection alive" check.
    pub async fn keep_alive(&self) -> Result<Duration, ClientError> {
        let mut guard = self.session.lock().await;
        let session = guard.as_mut().ok_or(ClientError::NotSignedIn)?;
        session.ping(Duration::from_secs(10)).await.map_err(|e| ClientError::KeepAlive(Box::new(e)))
    }

    /// Unregisters (REGISTER with `Expires: 0`) and closes the connection.
    pub async fn sign_out(&self) -> Result<(), ClientError> {
        let mut guard = self.session.lock().await;
        let mut session = guard.take().ok_or(ClientError::NotSignedIn)?;
        let local = session.conn.local_addr();
        let params = self.register_params(local, Some(0));
        let request = registration::register_request(&mut session.factory, &self.aor, &params)
            .map_err(|e| ClientError::SignOut(Box::new(SessionError::Stream(e))))?;
        let result = session.request(request).await;
        let _ = session.conn.close().await;
        result.map(|_| ()).map_err(|e| ClientError::SignOut(Box::new(e)))
    }
}

/// Most home-pool redirects followed in one sign-in.
const MAX_REDIRECTS: usize = 3;

/// How one registrar's REGISTER exchange ended.
enum RegisterEnd {
    Registered(Box<SipSession>),
    /// 301/302: the Contact of the user's home pool.
    Redirect(String),
    Failed,
}

/// The candidate a 301 Contact names (`sip:host[:port][;transport=tls]`, port 5061 by default).
fn redirect_candidate(contact: &str) -> Option<Candidate> {
    let uri = Uri::parse(contact).ok()?;
    let sip = uri.as_sip()?;
    let fqdn = match sip.host() {
        Host::Domain(d) => d.to_string(),
        other => other.to_string().trim_start_matches('[').trim_end_matches(']').to_string(),
    };
    Some(Candidate { fqdn, port: sip.port().unwrap_or(5061), source: Source::Redirect, internal: true })
}

/// Where the REGISTER handshake stands.
enum Leg {
    /// No credentials sent yet.
    Plain,
    /// NTLM: the empty first token goes out next.
    NtlmFirst(NtlmHandshake),
    /// TLS-DSK: this `Authorization` (a TLS flight) goes out next.
    TlsDsk(Box<TlsDskHandshake>, String),
    /// The association is ready: the signed REGISTER (with NTLM's AUTHENTICATE) goes out next.
    NtlmFinal(SecurityAssociation),
}

impl Leg {
    fn step_name(&self) -> &'static str {
        match self {
            Leg::Plain => "REGISTER",
            Leg::NtlmFirst(_) => "REGISTER NTLM (negotiate)",
            Leg::TlsDsk(..) => "REGISTER TLS-DSK (handshake)",
            Leg::NtlmFinal(sa) if sa.scheme() == "TLS-DSK" => "REGISTER TLS-DSK (signed)",
            Leg::NtlmFinal(_) => "REGISTER NTLM (authenticate, signed)",
        }
    }
}

fn auth_failure(e: &AuthError) -> Failure {
    let (class, hint) = match e {
        AuthError::BadServerSignature { .. } => (
            "bad-server-signature",
            "the registrar's signature did not verify: something between this client and the pool changes messages, or the pool's NTLM keys differ; capture the traffic",
        ),
        AuthError::Ntlm(_) | AuthError::BadChallenge { .. } => {
            ("protocol", "the registrar's NTLM challenge could not be used; check its authentication settings")
        }
        AuthError::NoUsableScheme { .. } => {
            ("authentication-required", "enable NTLM on the registrar, or provision a TLS-DSK certificate")
        }
        AuthError::Signing(_) => ("protocol", "a header the signature covers is malformed"),
        AuthError::TlsDsk(_) => (
            "tls-dsk-failed",
            "the TLS-DSK handshake failed: check the pool's certificate (it is verified inside the tunnel too) and the TLS versions it allows",
        ),
        AuthError::Certificate(_) => {
            ("certificate-rejected", "the stored certificate is unusable; it will be provisioned again")
        }
    };
    Failure { error: e.to_string(), class: class.into(), diagnosis: None, hint: hint.into() }
}

/// A short class and a hint for a transport failure.
fn transport_failure(e: &TransportError) -> Failure {
    Failure { error: e.to_string(), class: e.class().into(), diagnosis: None, hint: e.hint() }
}

fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Transport(t) => transport_failure(t),
        SessionError::TimedOut(_) => Failure {
            error: e.to_string(),
            class: "timeout".into(),
            diagnosis: None,
            hint: "the registrar accepted the connection but never answered REGISTER: check the Front End service and its load".into(),
        },
        SessionError::Closed => Failure {
            error: e.to_string(),
            class: "closed".into(),
            diagnosis: None,
            hint: "the registrar closed the connection after REGISTER: check that this client is allowed (Client Version Filtering) and that the pool is healthy".into(),
        },
        SessionError::Signing(a) => auth_failure(a),
        SessionError::Stream(_) | SessionError::Request(_) => Failure {
            error: e.to_string(),
            class: "protocol".into(),
            diagnosis: None,
            hint: "the registrar sent bytes that are not valid SIP: check that the address is a SIP (TLS 5061) port".into(),
        },
    }
}

/// A stable class for a registrar's refusal: the `ms-diagnostics` code decides where it is known
/// ([MS-OCER] codes as FIELD-NOTES.md §2.2 and REFERENCE.md §3.2 quote them), else the status.
fn register_class(code: u16, diag: Option<u32>) -> String {
    match (code, diag) {
        (404, Some(1003)) => "unknown-user".into(),
        (403, Some(4141)) => "disabled-user".into(),
        (400, Some(4010)) => "missing-endpoint-identity".into(),
        _ => code.to_string(),
    }
}

fn register_hint(code: u16, diag: Option<u32>) -> String {
    match (code, diag) {
        (403, Some(4141)) => {
            "the user is disabled for Skype for Business (Get-CsUser shows Enabled False): an administrator must enable the account again".into()
        }
        (404, _) => "the user is not enabled for Skype for Business on this pool (Get-CsUser / Enable-CsUser)".into(),
        (403, _) => "the registrar refused this user or endpoint; the diagnosis names the reason".into(),
        (400, Some(4010)) => {
            "the REGISTER lacked an endpoint identity the registrar needs (epid / +sip.instance)".into()
        }
        (489, _) => "the registrar refused the Event header (it must be `registration`)".into(),
        (421, _) => "the registrar needs an extension this client did not announce".into(),
        (503, _) | (504, _) => {
            "the pool is unavailable or overloaded; retry later and check the Front End services".into()
        }
        _ => "see the diagnosis; the registrar's ms-diagnostics code identifies the cause".into(),
    }
}
