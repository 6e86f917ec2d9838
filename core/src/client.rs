//! The facade: [`ClientBuilder`] → [`Client`] → [`Client::sign_in`] → [`SignInReport`].
//!
//! Bindings (Python, Swift, Kotlin) wrap this and nothing else, so everything here is owned data,
//! async methods and typed errors. The client signs in the way the Microsoft client does, stage by
//! stage, and records each step in the report.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::Mutex as StdMutex;

use tokio::sync::{Mutex, oneshot};

use crate::contacts::ContactList;
use crate::dialplan::{LocationProfile, Normalized};
use crate::driver::{self, Driver, ReconnectPolicy, Registered, Request, Snapshot};
use crate::endpoint::{Command, CommandError, CommandOutput};
use crate::events::{Event, EventHub, EventQueue};
use crate::presence::{Availability, ContactPresence};
use crate::provisioning::Provisioning;

use crate::discovery::autodiscover::Format;
use crate::discovery::dns::HickoryResolver;
use crate::discovery::once::SignInResolver;
use crate::discovery::{BoxFuture, DnsError, DnsResolver, SrvTarget};
use crate::identity::Epid;
use crate::keystore::{MemoryStore, OsKeystore, SecretStore};
use crate::local::{DeviceProvider, NetworkInfo, SystemNetwork, default_provider};
use crate::report::{SignInReport, SignInResult};
use crate::signin::Inner;
use crate::sip::{Limits, Uri};
use crate::transport::TrustConfig;
use crate::trust::{TrustDecider, TrustModel};

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
    #[error("the registrar {0:?} is not a host name: give its FQDN (pool01.contoso.com), optionally with :port")]
    InvalidServer(String),
    #[error("the account name is empty: give DOMAIN\\user or user@domain, or no credentials at all")]
    EmptyAccount,
    #[error("the DNS resolver could not be set up: {0}")]
    Resolver(DnsError),
    #[error("no certificate authority to trust: {0}")]
    Trust(crate::transport::TrustError),
    #[error("not signed in")]
    NotSignedIn,
    #[error("sign-out failed: {0}")]
    SignOut(CommandError),
    #[error(transparent)]
    Command(CommandError),
}

impl ClientError {
    /// A short, stable class for programs and bindings (`invalid-sip-uri`, `not-signed-in`, `refused`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            ClientError::InvalidSipUri(_) => "invalid-sip-uri",
            ClientError::InvalidServer(_) => "invalid-server",
            ClientError::EmptyAccount => "empty-account",
            ClientError::Resolver(_) => "dns-setup",
            ClientError::Trust(_) => "trust-setup",
            ClientError::NotSignedIn => "not-signed-in",
            ClientError::SignOut(_) => "sign-out",
            ClientError::Command(c) => c.class(),
        }
    }

    /// What a person can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ClientError::InvalidSipUri(_) => "give the user's sign-in address, user@domain (sip: may be left out)",
            ClientError::InvalidServer(_) => "give the registrar's FQDN (pool01.contoso.com); its port separately",
            ClientError::EmptyAccount => "give the account as DOMAIN\\user or user@domain, or no credentials at all",
            ClientError::Resolver(_) => "check the DNS server addresses configured, or the system's DNS settings",
            ClientError::Trust(_) => "check the CA certificates configured: each must be a PEM certificate",
            ClientError::NotSignedIn => "sign in first (or again, after the client signed out or gave up)",
            ClientError::SignOut(_) => {
                "the registration expires by itself; the client is signed out locally and can sign in again"
            }
            ClientError::Command(c) => c.hint(),
        }
    }

    /// Whether the client's configuration is at fault (building failed), not the server or the session.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            ClientError::InvalidSipUri(_)
                | ClientError::InvalidServer(_)
                | ClientError::EmptyAccount
                | ClientError::Resolver(_)
                | ClientError::Trust(_)
        )
    }
}

/// The default bound on one whole sign-in ([`ClientBuilder::sign_in_deadline`]): above the worst case of a
/// sign-in whose every server answers within its own time-outs (discovery 12 s against a silent DNS server,
/// HTTP 10 s and SIP transactions 32 s per step), below what a person or a CI job waits.
pub const DEFAULT_SIGN_IN_DEADLINE: Duration = Duration::from_secs(90);

/// Configures a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    pub(crate) sip_uri: String,
    pub(crate) server: Option<ServerTarget>,
    pub(crate) trust: TrustConfig,
    pub(crate) epid: Option<Epid>,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) limits: Limits,
    pub(crate) resolver: Option<Arc<dyn DnsResolver>>,
    pub(crate) dns_servers: Vec<SocketAddr>,
    pub(crate) autodiscover_ports: (Option<u16>, Option<u16>),
    pub(crate) autodiscover_format: Format,
    pub(crate) try_http: bool,
    pub(crate) trusted_domains: Option<Vec<String>>,
    pub(crate) trust_decider: Option<Arc<dyn TrustDecider>>,
    pub(crate) a_record_port: Option<u16>,
    pub(crate) devices: Option<Arc<dyn DeviceProvider>>,
    pub(crate) network: Option<Arc<dyn NetworkInfo>>,
    pub(crate) adapter_preference: Vec<String>,
    pub(crate) credentials: Option<(String, Password)>,
    pub(crate) keystore: Option<Arc<dyn SecretStore>>,
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) org_id_sts: String,
    pub(crate) shared: Arc<crate::SharedResources>,
    pub(crate) lockout: crate::auth::lockout::LockoutPolicy,
    pub(crate) dns_lookup_limit: Duration,
    pub(crate) sign_in_deadline: Duration,
    pub(crate) wire_observer: Option<Arc<dyn crate::trace::WireObserver>>,
    pub(crate) location: crate::discovery::NetworkLocation,
}

/// A password that never prints (Debug is redacted) and is wiped when dropped: each clone of a
/// [`ClientBuilder`] wipes its own copy.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct Password(pub(crate) String);

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
            trusted_domains: None,
            trust_decider: None,
            a_record_port: None,
            devices: None,
            network: None,
            adapter_preference: Vec::new(),
            credentials: None,
            keystore: None,
            reconnect: ReconnectPolicy::default(),
            org_id_sts: crate::auth::orgid::DEFAULT_ORG_ID_STS.to_string(),
            shared: crate::SharedResources::process(),
            lockout: crate::auth::lockout::LockoutPolicy::default(),
            dns_lookup_limit: crate::discovery::once::LOOKUP_LIMIT,
            sign_in_deadline: DEFAULT_SIGN_IN_DEADLINE,
            wire_observer: None,
            location: crate::discovery::NetworkLocation::Auto,
        }
    }
    /// Where TLS-DSK certificates are kept (default: the OS keystore; in memory when the platform
    /// has none). Host apps pass their own (Android Keystore).
    pub fn keystore(mut self, store: Arc<dyn SecretStore>) -> ClientBuilder {
        self.keystore = Some(store);
        self
    }
    /// Keeps TLS-DSK certificates in the OS keystore, in memory when the platform has none: the default, for
    /// undoing an earlier [`ClientBuilder::keystore`] (a binding's `keystore="os"` on a preset builder).
    pub fn os_keystore(mut self) -> ClientBuilder {
        self.keystore = None;
        self
    }
    /// The Windows account (`DOMAIN\\user` or `user@domain`) and password for NTLM. The password is
    /// kept in memory only and never appears in logs, errors or reports.
    pub fn credentials(mut self, account: &str, password: &str) -> ClientBuilder {
        self.credentials = Some((account.to_string(), Password(password.to_string())));
        self
    }
    /// The Office 365 Org ID STS (default `https://login.microsoftonline.com/RST2.srf`), used only when the
    /// Web Ticket Service offers a `WsFedBearer` port and its Windows port is absent or refuses the credentials.
    pub fn org_id_sts(mut self, url: &str) -> ClientBuilder {
        self.org_id_sts = url.to_string();
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
    /// Domains besides the SIP domain whose servers are trusted with the credentials and that autodiscover may
    /// redirect into (Lync's TrustModelData). Without this list the Microsoft client's defaults apply
    /// ([`crate::trust::MICROSOFT_DEFAULT_TRUSTED`]: Office 365's domains); a list replaces them, as the
    /// policy does. See README "Where your credentials go".
    pub fn trusted_domains(mut self, domains: Vec<String>) -> ClientBuilder {
        self.trusted_domains = Some(domains);
        self
    }
    /// Who decides when a server outside the trusted domains asks for credentials (the Microsoft client
    /// asks the user "cannot verify that the server is trusted for your sign-in address"). Without one such
    /// servers are refused. Never asked about addresses that came over plain http.
    pub fn trust_decider(mut self, decider: Arc<dyn TrustDecider>) -> ClientBuilder {
        self.trust_decider = Some(decider);
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
    /// Resources to share with other clients of this process (compiled dial plans): build one
    /// [`crate::SharedResources`] and pass it to every client of a many-endpoint host.
    pub fn shared(mut self, shared: Arc<crate::SharedResources>) -> ClientBuilder {
        self.shared = shared;
        self
    }

    /// How many refused passwords an account may collect, and how refused ones are retried (default: 3
    /// refusals per 30 minutes, the same password again after 1 minute, then 2): see
    /// [`crate::auth::lockout`]. The record is kept in the [`crate::SharedResources`] the client uses.
    pub fn lockout_policy(mut self, policy: crate::auth::lockout::LockoutPolicy) -> ClientBuilder {
        self.lockout = policy;
        self
    }

    /// The longest one DNS lookup may take (default 6 s), whatever the system resolver's own options say;
    /// two unanswered lookups in a row end a sign-in's DNS (see [`crate::discovery::once`]).
    pub fn dns_lookup_limit(mut self, limit: Duration) -> ClientBuilder {
        self.dns_lookup_limit = limit;
        self
    }

    /// The longest a whole sign-in may take (default 90 s); past it the sign-in fails with class `deadline`,
    /// naming the last step that finished.
    pub fn sign_in_deadline(mut self, deadline: Duration) -> ClientBuilder {
        self.sign_in_deadline = deadline;
        self
    }

    /// How to retry after a lost connection (default: 1 s doubling to 60 s, ±20 % jitter).
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> ClientBuilder {
        self.reconnect = policy;
        self
    }

    /// The trust model: the SIP domain, the trusted domains, and the hosts this configuration names
    /// itself (the registrar, the Org ID STS).
    fn trust_model(&self, domain: &str) -> TrustModel {
        let mut named: Vec<String> = self.server.iter().map(|s| s.fqdn.clone()).collect();
        if let Some(host) = url::Url::parse(&self.org_id_sts).ok().and_then(|u| u.host_str().map(str::to_string)) {
            named.push(host);
        }
        TrustModel::new(domain, self.trusted_domains.as_deref(), &named, self.trust_decider.clone())
    }

    /// Hands every SIP message and HTTP exchange of this client, secrets redacted, to `observer`: the material
    /// of a trace ([`crate::trace`]; `sfbkit signin --trace`).
    pub fn wire_observer(mut self, observer: Arc<dyn crate::trace::WireObserver>) -> ClientBuilder {
        self.wire_observer = Some(observer);
        self
    }

    /// Signs in from one side of the network only ([`crate::discovery::NetworkLocation`]): `External` takes the
    /// path remote users take (lyncdiscover, `_sip._tls`, the Edge), to test it from inside.
    pub fn network_location(mut self, location: crate::discovery::NetworkLocation) -> ClientBuilder {
        self.location = location;
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
        if let Some(server) = &self.server
            && !is_host_name(&server.fqdn)
        {
            return Err(ClientError::InvalidServer(server.fqdn.clone()));
        }
        if self.credentials.as_ref().is_some_and(|(account, _)| account.trim().is_empty()) {
            return Err(ClientError::EmptyAccount);
        }
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
        // Each name once per sign-in, each lookup bounded, a silent server noticed (discovery::once).
        let resolver = Arc::new(SignInResolver::new(resolver, self.dns_lookup_limit));
        // Shared with every client built with the same SharedResources and TrustConfig.
        let (connector, anchors) = self.shared.trust(&self.trust).map_err(ClientError::Trust)?;
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
        let trust = self.trust_model(&domain);
        let inner = Inner {
            trust,
            connector,
            anchors,
            keystore,
            epid: self.epid.clone().unwrap_or_else(Epid::generate),
            aor,
            domain,
            resolver,
            devices: self.devices.clone().unwrap_or_else(|| Arc::from(default_provider())),
            network: self.network.clone().unwrap_or_else(|| Arc::new(SystemNetwork)),
            config: self,
            web_ticket_url: std::sync::Mutex::new(None),
            running: std::sync::Mutex::new(crate::report::Stage::LocalDiscovery),
            tls_dsk: std::sync::Mutex::new(None),
        };
        let events = Arc::new(EventHub::default());
        let primary = events.listen();
        Ok(Client {
            inner: Arc::new(inner),
            driver: Mutex::new(None),
            events,
            primary,
            snapshot: Arc::new(StdMutex::new(Snapshot::default())),
        })
    }
}

/// A DNS name (labels of letters, digits, `-` inside, `_`; dots between non-empty labels) or an IP address: what a
/// certificate can name and a resolver can look up.
fn is_host_name(host: &str) -> bool {
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// One Skype for Business endpoint. Cheap: no thread of its own; all I/O on the caller's tokio
/// runtime (one task per signed-in client, see `crate::driver`).
pub struct Client {
    inner: Arc<Inner>,
    driver: Mutex<Option<Driver>>,
    events: Arc<EventHub>,
    /// The stream [`Client::next_event`] reads: opened at build time, so no event is missed.
    primary: Arc<EventQueue>,
    snapshot: Arc<StdMutex<Snapshot>>,
}

pub use crate::events::EVENT_BUFFER;

/// An extra listener on a client's events (see [`Client::subscribe_events`]).
pub struct EventStream(Arc<EventQueue>);

impl EventStream {
    /// The next event (waits for one).
    pub async fn next(&mut self) -> Event {
        self.0.next().await
    }

    /// The next event if one is waiting.
    pub fn try_next(&mut self) -> Option<Event> {
        self.0.try_next()
    }
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
        &self.inner.epid
    }

    /// Signs in and reports every step: Local Discovery, Server Discovery, Connectivity Checks,
    /// Authentication. On success the client stays signed in (provisioning, contacts, presence,
    /// refreshes, keep-alives, reconnects) until [`Client::sign_out`]; on failure the report says
    /// which stage failed, why, and what to do.
    pub async fn sign_in(&self) -> SignInReport {
        let started = Instant::now();
        let mut report = SignInReport::new(self.inner.aor.as_str(), &self.inner.domain);
        let mut driver = self.driver.lock().await;
        if driver.as_ref().is_some_and(|d| !d.task.is_finished()) {
            report.error = Some("already signed in".into());
            report.hint = Some("sign out first, or build another Client for a second endpoint".into());
            return report;
        }
        if let Some(session) = self.inner.run_stages(&mut report).await {
            report.result = SignInResult::Success;
            if let Some(registration) = report.registration.clone() {
                let first = Registered { session, registration, registrar: report.target.clone() };
                let policy = self.inner.config.reconnect;
                *driver =
                    Some(driver::spawn(self.inner.clone(), first, policy, self.events.clone(), self.snapshot.clone()));
            }
        }
        report.latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        report
    }

    /// After a successful sign-in, waits up to `limit` for what the Microsoft client retrieves in its last sign-in
    /// stage (seed 001, step 5, "Retrieve Settings and Policies"): in-band provisioning, the location profile
    /// (dial plan) and the contact list, and records each as a Settings and Policies step of `report`. What did
    /// not arrive is a failed step with a hint and a warning; the sign-in's result stays what it was (the user is
    /// registered). Events are read from a listener of its own: [`Client::next_event`] still sees them all.
    pub async fn settings_and_policies(&self, report: &mut SignInReport, limit: Duration) {
        use crate::report::{Outcome, Stage};
        if !report.is_success() {
            return;
        }
        let mut events = self.subscribe_events();
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + limit;
        let (mut provisioning, mut profile, mut contacts) = (false, false, false);
        let mut refused: Option<String> = None;
        loop {
            let took = started.elapsed();
            let (prov, dial_plan, list) = {
                let view = self.view();
                let list = &view.contacts;
                let received = list.delta_num > 0 || !list.groups.is_empty() || list.ucs_mode.is_some();
                (view.provisioning.clone(), view.location_profile.clone(), received.then(|| list.clone()))
            };
            if let (false, Some(p)) = (provisioning, &prov) {
                provisioning = true;
                let groups: Vec<&str> = p.groups.iter().map(|g| g.name.as_str()).collect();
                let detail = format!("{} groups: {}", groups.len(), groups.join(", "));
                report.step(Stage::SettingsAndPolicies, "in-band provisioning", "", took, Outcome::Success, detail);
            }
            if !profile {
                let name = prov.as_ref().and_then(|p| p.location_profile_name().map(str::to_string));
                match (&dial_plan, &refused, prov.is_some(), name) {
                    (Some(lp), ..) => {
                        profile = true;
                        let detail = format!("{}: {} normalization rules", lp.name, lp.rules.len());
                        report.step(Stage::SettingsAndPolicies, "location profile", "", took, Outcome::Success, detail);
                    }
                    (None, Some(error), ..) => {
                        profile = true;
                        report.step(
                            Stage::SettingsAndPolicies,
                            "location profile",
                            "",
                            took,
                            Outcome::Failure,
                            error.clone(),
                        );
                    }
                    (None, None, true, None) => {
                        profile = true;
                        let why =
                            "no location profile provisioned (ucLocationProfile is empty): numbers are not normalized";
                        report.step(Stage::SettingsAndPolicies, "location profile", "", took, Outcome::Skipped, why);
                    }
                    _ => {}
                }
            }
            if let (false, Some(list)) = (contacts, list) {
                contacts = true;
                let detail = match &list.ucs_mode {
                    Some(mode) => format!("kept in Exchange (Unified Contact Store, {mode})"),
                    None => format!("{} contact(s) in {} group(s)", list.contacts.len(), list.groups.len()),
                };
                report.step(Stage::SettingsAndPolicies, "contact list", "", took, Outcome::Success, detail);
            }
            if provisioning && profile && contacts {
                return;
            }
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Event::LocationProfileRefused { error }) => refused = Some(error),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let missing = [
            (provisioning, "in-band provisioning", "the vnd-microsoft-provisioning-v2 subscription got no answer"),
            (profile, "location profile", "the location profile (dial plan) did not arrive"),
            (contacts, "contact list", "the contact list (vnd-microsoft-roaming-contacts) did not arrive"),
        ];
        for (_, step, what) in missing.into_iter().filter(|(done, ..)| !done) {
            let failure = crate::report::Failure {
                error: format!("{what} within {} s", limit.as_secs()),
                class: "settings-not-received".into(),
                diagnosis: None,
                hint: "the user is signed in, but the Front End did not deliver its settings in time: check the \
                       pool's User Services and the user's policies (Get-CsUser, Get-CsClientPolicy)"
                    .into(),
            };
            report.failed_step(Stage::SettingsAndPolicies, step, "", started.elapsed(), &failure);
        }
    }

    /// The next event of the signed-in endpoint, in order (waits for one).
    pub async fn next_event(&self) -> Event {
        self.primary.next().await
    }

    /// The next event if one is waiting.
    pub async fn try_next_event(&self) -> Option<Event> {
        self.primary.try_next()
    }

    /// Another listener on the events, from now on (the primary stream is unaffected).
    pub fn subscribe_events(&self) -> EventStream {
        EventStream(self.events.listen())
    }

    async fn send(&self, command: Command) -> Result<CommandOutput, ClientError> {
        let tx = {
            let driver = self.driver.lock().await;
            match driver.as_ref() {
                Some(d) if !d.task.is_finished() => d.requests.clone(),
                _ => return Err(ClientError::NotSignedIn),
            }
        };
        let (done, rx) = oneshot::channel();
        tx.send(Request { command, done }).await.map_err(|_| ClientError::NotSignedIn)?;
        match rx.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(CommandError::NotSignedIn)) | Err(_) => Err(ClientError::NotSignedIn),
            Ok(Err(e)) => Err(ClientError::Command(e)),
        }
    }

    /// Sends a keep-alive ping on the signed-in connection and returns the time until the
    /// registrar's pong: a cheap "is my connection alive" check.
    pub async fn keep_alive(&self) -> Result<Duration, ClientError> {
        match self.send(Command::KeepAlive).await? {
            CommandOutput::Pong { rtt_us } => Ok(Duration::from_micros(rtt_us)),
            _ => Ok(Duration::ZERO),
        }
    }

    /// Publishes a manual presence state (what a user picks in the Lync client) with an optional
    /// activity token (`in-a-meeting`, `on-the-phone`...).
    pub async fn set_presence(&self, availability: Availability, activity: Option<&str>) -> Result<(), ClientError> {
        let activity = activity.map(str::to_string);
        self.send(Command::SetPresence { availability, activity }).await.map(|_| ())
    }

    /// Withdraws the manual state: presence follows this endpoint's machine state again.
    pub async fn clear_presence(&self) -> Result<(), ClientError> {
        self.send(Command::ClearPresence).await.map(|_| ())
    }

    /// Publishes the personal note (`None` or empty: removes it).
    pub async fn set_note(&self, text: Option<&str>) -> Result<(), ClientError> {
        self.send(Command::SetNote { text: text.map(str::to_string) }).await.map(|_| ())
    }

    /// Adds a contact (`sip:` optional) to the named group (`None`: the default group).
    pub async fn add_contact(&self, uri: &str, name: &str, group: Option<&str>) -> Result<(), ClientError> {
        let uri = crate::contacts::normalize_uri(uri);
        let group_ids = match group {
            Some(g) => vec![self.group_id(g)?],
            None => self.default_group().into_iter().collect(),
        };
        self.send(Command::AddContact { uri, name: name.to_string(), group_ids }).await.map(|_| ())
    }

    /// Watches someone's presence without adding them to the contact list: [`Event::PresenceChanged`] then
    /// reports them as it reports contacts, and [`Client::presence_of`] has their presence.
    pub async fn watch_presence(&self, uri: &str) -> Result<(), ClientError> {
        self.send(Command::WatchPresence { uri: crate::contacts::normalize_uri(uri) }).await.map(|_| ())
    }

    /// Stops watching someone [`Client::watch_presence`] added.
    pub async fn unwatch_presence(&self, uri: &str) -> Result<(), ClientError> {
        self.send(Command::UnwatchPresence { uri: crate::contacts::normalize_uri(uri) }).await.map(|_| ())
    }

    /// Removes a contact.
    pub async fn remove_contact(&self, uri: &str) -> Result<(), ClientError> {
        self.send(Command::RemoveContact { uri: crate::contacts::normalize_uri(uri) }).await.map(|_| ())
    }

    /// Moves a contact to the named group (out of the groups it was in).
    pub async fn move_contact(&self, uri: &str, group: &str) -> Result<(), ClientError> {
        let group_ids = Some(vec![self.group_id(group)?]);
        self.send(Command::UpdateContact { uri: crate::contacts::normalize_uri(uri), name: None, group_ids })
            .await
            .map(|_| ())
    }

    /// Creates a group; returns the id the server gave it.
    pub async fn add_group(&self, name: &str) -> Result<u32, ClientError> {
        match self.send(Command::AddGroup { name: name.to_string() }).await? {
            CommandOutput::GroupAdded { id } => Ok(id),
            _ => self.group_id(name),
        }
    }

    pub async fn rename_group(&self, id: u32, name: &str) -> Result<(), ClientError> {
        self.send(Command::RenameGroup { id, name: name.to_string() }).await.map(|_| ())
    }

    pub async fn remove_group(&self, id: u32) -> Result<(), ClientError> {
        self.send(Command::RemoveGroup { id }).await.map(|_| ())
    }

    fn view(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn group_id(&self, name: &str) -> Result<u32, ClientError> {
        let view = self.view();
        view.contacts
            .groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .map(|g| g.id)
            .ok_or_else(|| ClientError::Command(CommandError::Invalid(format!("there is no group named {name:?}"))))
    }

    /// The default group (`~`, "Other Contacts"), when the list has one.
    fn default_group(&self) -> Option<u32> {
        self.view().contacts.groups.iter().find(|g| g.name == "~").map(|g| g.id)
    }

    /// Whether the endpoint is signed in right now (false while reconnecting).
    pub fn is_signed_in(&self) -> bool {
        self.view().signed_in
    }

    /// The contact list as last received.
    pub fn contacts(&self) -> ContactList {
        self.view().contacts.clone()
    }

    /// The presence of one contact, as last notified.
    pub fn presence_of(&self, uri: &str) -> Option<ContactPresence> {
        self.view().presence.get(&crate::contacts::normalize_uri(uri)).cloned()
    }

    /// In-band provisioning (server configuration and policies), once received.
    pub fn provisioning(&self) -> Option<Provisioning> {
        self.view().provisioning.clone()
    }

    /// The user's own data from roaming-self (containers, watchers, own publications), once received.
    pub fn self_data(&self) -> Option<crate::presence::SelfData> {
        self.view().self_data.clone()
    }

    /// The user's location profile (dial plan), once received.
    pub fn location_profile(&self) -> Option<Arc<LocationProfile>> {
        self.view().location_profile.clone()
    }

    /// Normalizes a dialled number with the user's dial plan; `None` until the profile arrived.
    pub fn normalize(&self, dialed: &str) -> Option<Normalized> {
        self.view().location_profile.as_ref().map(|p| p.normalize(dialed))
    }

    /// Messages from the server dropped because their signature did not verify ([MS-SIPAE] 3.2.5.2).
    pub fn bad_signatures(&self) -> u64 {
        self.view().bad_signatures
    }

    /// Unpublishes this endpoint's presence, ends its subscriptions, unregisters (REGISTER with
    /// `Expires: 0`) and closes the connection.
    pub async fn sign_out(&self) -> Result<(), ClientError> {
        let result = self.send(Command::SignOut).await;
        let driver = self.driver.lock().await.take();
        if let Some(d) = driver {
            // The driver ends right after sign-out; do not wait forever on a stuck connection.
            let _ = tokio::time::timeout(crate::endpoint::SIGN_OUT_GRACE * 2, d.task).await;
        }
        result.map(|_| ()).map_err(|e| match e {
            ClientError::Command(c) => ClientError::SignOut(c),
            other => other,
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Dropping the client drops the command sender: the driver signs out and ends.
        if let Ok(mut d) = self.driver.try_lock() {
            d.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(fqdn: &str) -> ServerTarget {
        ServerTarget { fqdn: fqdn.into(), port: 5061, addr: None }
    }

    #[test]
    fn a_registrar_without_a_host_name_is_refused() {
        for bad in ["", " ", "pool..contoso.com", "-", "pool01.contoso.com:5061", "a b.example", ".", "[::1]"] {
            let err = ClientBuilder::new("alice@contoso.com").server(target(bad)).build().err();
            assert!(matches!(err, Some(ClientError::InvalidServer(_))), "{bad:?}: {err:?}");
        }
        for good in ["pool01.contoso.com", "POOL01.contoso.com.", "127.0.0.1", "::1", "localhost", "sip_edge.x"] {
            let built = ClientBuilder::new("alice@contoso.com").server(target(good)).build();
            assert!(built.is_ok(), "{good:?}: {:?}", built.err());
        }
        let err = ClientBuilder::new("alice@contoso.com").server(target("")).build().err().unwrap();
        assert!(err.to_string().contains("FQDN"), "{err}");
    }

    #[test]
    fn an_empty_account_is_refused_and_no_password_is_shown() {
        for account in ["", "   "] {
            let err = ClientBuilder::new("alice@contoso.com").credentials(account, "Pa55-Secret").build().err();
            assert!(matches!(err, Some(ClientError::EmptyAccount)), "{account:?}: {err:?}");
        }
        let builder = ClientBuilder::new("alice@contoso.com").credentials("CONTOSO\\alice", "Pa55-Secret");
        assert!(!format!("{builder:?}").contains("Pa55-Secret"));
    }

    #[test]
    fn the_password_is_redacted_and_wiped() {
        use zeroize::Zeroize as _;
        crate::auth::secret_tests::assert_zeroize_on_drop::<Password>();
        let builder = ClientBuilder::new("alice@contoso.com").credentials("CONTOSO\\alice", "Pa55-Secret");
        let copy = builder.clone();
        let debug = format!("{builder:?} {:?}", builder.credentials);
        crate::auth::secret_tests::assert_redacted(&debug, b"Pa55-Secret");
        let (_, mut password) = builder.credentials.expect("credentials");
        password.zeroize();
        assert!(password.0.is_empty(), "the password is wiped");
        assert_eq!(copy.credentials.as_ref().map(|(_, p)| p.0.as_str()), Some("Pa55-Secret"), "a clone keeps its own");
    }
}
