//! [`ClientBuilder`]: every option of a [`Client`], checked when it is built.

use super::*;

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
    pub(crate) auth: crate::auth::AuthMethod,
    pub(crate) tls_dsk_versions: crate::auth::tlsdsk::TlsDskVersions,
    pub(crate) kerberos: crate::auth::kerberos::KerberosConfig,
    pub(crate) meter: Option<Arc<crate::fleet::FleetCounters>>,
    pub(crate) sign_in_cache_ttl: Duration,
    pub(crate) event_buffer: Option<usize>,
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
            auth: crate::auth::AuthMethod::Auto,
            tls_dsk_versions: crate::auth::tlsdsk::TlsDskVersions::default(),
            kerberos: crate::auth::kerberos::KerberosConfig::default(),
            meter: None,
            sign_in_cache_ttl: crate::signin::cache::DEFAULT_TTL,
            event_buffer: None,
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

    /// How long the registrar of a successful sign-in is kept in the keystore and signed in to directly, without
    /// Server Discovery (default one hour; zero turns the cache off). A cached registrar that fails is forgotten
    /// and discovery runs in the same sign-in (`crate::signin::cache`).
    pub fn sign_in_cache_ttl(mut self, ttl: Duration) -> ClientBuilder {
        self.sign_in_cache_ttl = ttl;
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

    /// Adds this client's sign-ins, disconnects and received response codes to `counters` (the stress tool's
    /// counters, [`crate::fleet`]); a [`crate::fleet::Fleet`] does this for the clients it builds.
    pub fn meter(mut self, counters: Arc<crate::fleet::FleetCounters>) -> ClientBuilder {
        self.meter = Some(counters);
        self
    }

    /// How many events wait for a reader that is behind, per listener, before the oldest are dropped (the
    /// listener's next read is then an [`crate::Event::Lagged`] saying how many). Default [`crate::EVENT_BUFFER`]
    /// (4,096); a [`crate::fleet::Fleet`] keeps fewer, since its endpoints are usually watched through its
    /// counters and nobody reads their events. The queue grows only with the events waiting in it.
    pub fn event_buffer(mut self, events: usize) -> ClientBuilder {
        self.event_buffer = Some(events);
        self
    }

    /// Signs in from one side of the network only ([`crate::discovery::NetworkLocation`]): `External` takes the
    /// path remote users take (lyncdiscover, `_sip._tls`, the Edge), to test it from inside.
    pub fn network_location(mut self, location: crate::discovery::NetworkLocation) -> ClientBuilder {
        self.location = location;
        self
    }

    /// Which SIP authentication scheme the sign-in may use ([`crate::auth::AuthMethod`]; `Auto` by default,
    /// as the Microsoft client chooses). A scheme the registrar does not offer fails the sign-in with the
    /// class `scheme-not-offered`.
    pub fn auth_method(mut self, method: crate::auth::AuthMethod) -> ClientBuilder {
        self.auth = method;
        self
    }

    /// The TLS versions allowed inside the TLS-DSK tunnel ([`crate::auth::tlsdsk::TlsDskVersions`]; TLS 1.0 to
    /// 1.2 by default, TLS 1.0 offered first). A `min` of TLS 1.2 is a client with TLS 1.0 disabled.
    pub fn tls_dsk_versions(mut self, versions: crate::auth::tlsdsk::TlsDskVersions) -> ClientBuilder {
        self.tls_dsk_versions = versions;
        self
    }

    /// Where Kerberos tickets come from ([`crate::auth::kerberos::KerberosConfig`]): the FILE credential cache
    /// (default `KRB5CCNAME`), the KDCs (default DNS SRV `_kerberos._tcp.<realm>`) and the session-key etypes.
    /// With [`ClientBuilder::credentials`] a password gets a ticket when no cache has one.
    pub fn kerberos(mut self, config: crate::auth::kerberos::KerberosConfig) -> ClientBuilder {
        self.kerberos = config;
        self
    }

    /// The Kerberos configuration so far (to adjust one part of it).
    pub fn kerberos_config(&self) -> &crate::auth::kerberos::KerberosConfig {
        &self.kerberos
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
        let versions = self.tls_dsk_versions;
        if versions.min > versions.max {
            return Err(ClientError::TlsDskVersions(versions));
        }
        let resolver = match &self.resolver {
            Some(r) => r.clone(),
            None => resolver_for(&self.dns_servers)?,
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
        let password = self.credentials.as_ref().map(|(account, password)| {
            let principal = crate::auth::kerberos::kdc::principal_of_account(account, &domain);
            (principal, zeroize::Zeroizing::new(password.0.clone()))
        });
        let kerberos = crate::auth::kerberos::KerberosClient::new(self.kerberos.clone(), resolver.clone(), password);
        let inner = Inner {
            kerberos,
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
            http: std::sync::Mutex::new(None),
            running: std::sync::Mutex::new(crate::report::Stage::LocalDiscovery),
            tls_dsk: std::sync::Mutex::new(None),
        };
        let capacity = inner.config.event_buffer.unwrap_or(crate::events::EVENT_BUFFER);
        let events = Arc::new(EventHub::new(inner.config.meter.clone(), capacity));
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
/// The DNS resolver for `servers` (the system's when empty), each lookup within 2 s.
pub(crate) fn resolver_for(servers: &[SocketAddr]) -> Result<Arc<dyn DnsResolver>, ClientError> {
    let resolver = match servers.is_empty() {
        true => HickoryResolver::system(),
        false => HickoryResolver::with_nameservers(servers, Duration::from_secs(2)),
    };
    Ok(Arc::new(resolver.map_err(ClientError::Resolver)?))
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
