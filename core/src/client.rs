//! The facade: [`ClientBuilder`] → [`Client`] → [`Client::sign_in`] → [`SignInReport`].
//!
//! Bindings (Python, Swift, Kotlin) wrap this and nothing else, so everything here is owned data,
//! async methods and typed errors. The client signs in the way the Microsoft client does, stage by
//! stage, and records each step in the report.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::discovery::autodiscover::Format;
use crate::discovery::dns::HickoryResolver;
use crate::discovery::{BoxFuture, DnsError, DnsResolver, SrvTarget};
use crate::identity::Epid;
use crate::keystore::{MemoryStore, OsKeystore, SecretStore};
use crate::local::{DeviceProvider, NetworkInfo, SystemNetwork, default_provider};
use crate::registration::{self};
use crate::report::{SignInReport, SignInResult};
use crate::session::{SessionError, SipSession};
use crate::signin::Inner;
use crate::sip::{Limits, Uri};
use crate::transport::{TlsConnector, TrustConfig};

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
    pub(crate) trusted_domains: Vec<String>,
    pub(crate) a_record_port: Option<u16>,
    pub(crate) devices: Option<Arc<dyn DeviceProvider>>,
    pub(crate) network: Option<Arc<dyn NetworkInfo>>,
    pub(crate) adapter_preference: Vec<String>,
    pub(crate) credentials: Option<(String, Password)>,
    pub(crate) keystore: Option<Arc<dyn SecretStore>>,
}

/// A password that never prints (Debug and Display are redacted).
#[derive(Clone)]
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
        let inner = Inner {
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
        };
        Ok(Client { inner: Arc::new(inner), session: Mutex::new(None) })
    }
}

/// One Skype for Business endpoint. Cheap: no thread of its own; all I/O on the caller's tokio runtime.
pub struct Client {
    inner: Arc<Inner>,
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
        &self.inner.epid
    }

    /// Signs in and reports every step: Local Discovery, Server Discovery, Connectivity Checks,
    /// Authentication. On success the client stays registered until [`Client::sign_out`]; on
    /// failure the report says which stage failed, why, and what to do.
    pub async fn sign_in(&self) -> SignInReport {
        let started = Instant::now();
        let mut report = SignInReport::new(self.inner.aor.as_str(), &self.inner.domain);
        if let Some(session) = self.inner.run_stages(&mut report).await {
            *self.session.lock().await = Some(session);
            report.result = SignInResult::Success;
        }
        report.latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
        report
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
        let params = self.inner.register_params(local, Some(0));
        let request = registration::register_request(&mut session.factory, &self.inner.aor, &params)
            .map_err(|e| ClientError::SignOut(Box::new(SessionError::Stream(e))))?;
        let result = session.request(request).await;
        let _ = session.conn.close().await;
        result.map(|_| ()).map_err(|e| ClientError::SignOut(Box::new(e)))
    }
}
