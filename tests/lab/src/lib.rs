//! # sfbkit-lab — a Skype for Business pool in one process, on loopback
//!
//! The lab pool is what the end-to-end tests and QA teams sign in to: real TLS, real SIP, real certificates,
//! on 127.0.0.1. It reuses sfbkit's wire formats but never its client state machines, so a client bug cannot
//! hide behind the same bug on the server side. Where to start reading:
//!
//! - [`LabPool`]: start a pool ([`LabPool::start`], or [`LabPool::start_with_state`] to keep its CA
//!   between runs), learn where it listens and which CA to trust, get a client set up for it
//!   ([`LabPool::client_builder`]).
//! - [`config::LabConfig`]: domain, pools, users (accounts, passwords, home pools), DNS records,
//!   certificates, named faults ([`config::Fault`]), response delay; loads from TOML.
//! - [`registrar::Registrar`]: answers REGISTER like a Front End ([MS-SIPREGE]), with home-pool redirects.
//! - [`auth`]: the registrar's [MS-SIPAE] side: NTLM and TLS-DSK challenges, signature checks, signing.
//! - [`tlsdsk`]: the TLS-DSK server, on OpenSSL (not the client's engine).
//! - [`web`]: autodiscover, the Web Ticket Service and the Certificate Provisioning Service (HTTPS/HTTP).
//! - [`dns`] and [`zone`]: the authoritative DNS server and the zone generated from the configuration.
//! - [`ca`] and [`state`]: the pool's certificate authority ([`ca::LabCa`]) and where it is kept.

pub mod auth;
pub mod ca;
pub mod config;
pub mod directory;
pub mod dns;
mod faults;
pub mod foreign;
pub mod kerberos;
pub mod registrar;
pub mod services;
mod sip_server;
mod sip_services;
pub mod state;
pub mod tlsdsk;
pub mod web;
pub mod zone;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use config::{Fault, LabConfig, LabUser, Scenario};
pub use registrar::Binding;

/// Why a lab pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab pool certificates: {0}")]
    Certificates(#[from] ca::CaError),
    #[error("lab pool could not listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    #[error("lab pool DNS: {0}")]
    Dns(#[from] dns::LabDnsError),
    #[error("a client for the lab pool could not be set up: {0}")]
    Client(String),
    #[error("lab pool web services: {0}")]
    Web(#[from] web::WebError),
    /// The state directory given to [`LabPool::start_with_state`] could not be opened, read or written.
    #[error("lab pool state directory: {0}")]
    State(#[from] state::StateError),
    /// The contact lists kept in the state directory could not be read.
    #[error("lab pool contact lists: {0}")]
    Contacts(#[from] services::contacts::ContactError),
    /// The Kerberos realm (`auth.kerberos`, `--kerberos`) could not be started.
    #[error("lab pool Kerberos realm: {0}")]
    Kerberos(#[from] kerberos::KdcError),
}

/// A running lab pool: DNS, autodiscover (HTTPS and HTTP) and a SIP-over-TLS registrar, all on
/// 127.0.0.1 with OS-chosen ports. Dropping it stops everything.
pub struct LabPool {
    sip_addr: SocketAddr,
    ca_pem: String,
    /// Issues the pool's certificates, and users' TLS-DSK certificates.
    ca: ca::LabCa,
    state: Arc<sip_server::PoolState>,
    /// The other pools' registrars (`other_pools`).
    others: Vec<Arc<sip_server::PoolState>>,
    dns: dns::LabDns,
    web: web::LabWeb,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    services: Arc<sip_services::LabServices>,
    /// Shared by every client [`LabPool::client_builder`] sets up, as a many-endpoint host would.
    shared: Arc<sfbkit::SharedResources>,
    /// The host outside the domain the redirection faults point at ([`foreign`]).
    foreign: Option<foreign::ForeignHost>,
    /// The Kerberos realm ([`kerberos`]), when `auth.kerberos` or a Kerberos fault asks for one.
    kerberos: Option<Arc<kerberos::LabRealm>>,
}

impl LabPool {
    /// Starts a pool: a fresh CA, a registrar certificate and a web services certificate, the
    /// zone (see [`zone::zone_for`]), autodiscover, and the registrar, with `config.faults` applied.
    pub async fn start(config: LabConfig) -> Result<LabPool, LabError> {
        LabPool::start_with_state(config, None).await
    }

    /// [`LabPool::start`], with the CA kept in `state_dir` ([`state::LabState`]): loaded when the directory
    /// holds one, else created and stored there, so certificates issued by an earlier pool with the same
    /// directory still verify. `None` is a fresh CA, as [`LabPool::start`].
    pub async fn start_with_state(
        mut config: LabConfig,
        state_dir: Option<&std::path::Path>,
    ) -> Result<LabPool, LabError> {
        // A name of its own per pool: two lab CAs with one subject would make a client that
        // trusts the other one see a bad signature instead of an unknown issuer.
        let fresh_ca = || ca::LabCa::generate(&format!("sfbkit lab pool CA {:08x}", rand::random::<u32>()));
        let ca = match state_dir {
            Some(dir) => state::LabState::open(dir)?.load_or_create_ca(fresh_ca)?,
            None => fresh_ca()?,
        };
        let validity = if config.has(Fault::ExpiredCert) {
            ca::Validity::expired()
        } else {
            ca::Validity::days_from_now(config.certificates.validity_days.unwrap_or(365))
        };
        let sip_cert = ca.issue_server_cert(&config.sip_certificate_names(), validity)?;
        let web_cert = ca.issue_server_cert(&config.web_certificate_names(), validity)?;
        let delay = config.response_delay();
        let foreign = match config.redirects_off_domain() {
            true => Some(foreign::ForeignHost::start(&ca).await?),
            false => None,
        };

        // One registrar per pool, each with its own certificate and port; all on 127.0.0.1.
        let mut sites = vec![(config.pool_fqdn.clone(), sip_cert)];
        for other in &config.other_pools {
            sites.push((other.clone(), ca.issue_server_cert(std::slice::from_ref(other), validity)?));
        }
        let mut listeners = Vec::new();
        let mut pools = std::collections::HashMap::new();
        for (fqdn, cert) in sites {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(LabError::Listen)?;
            let addr = listener.local_addr().map_err(LabError::Listen)?;
            pools.insert(fqdn.to_ascii_lowercase(), addr.port());
            listeners.push((fqdn, cert, listener, addr));
        }
        let sip_addr = listeners[0].3;
        // The web services start before the registrars: TLS-DSK challenges name the Certificate
        // Provisioning Service's URL, port included.
        let mut web_cfg = web::WebConfig::new(&config.domain, ca::server_config(&web_cert)?);
        web_cfg.pool_fqdn = config.pool_fqdn.clone();
        web_cfg.sip_internal = (config.pool_fqdn.clone(), sip_addr.port());
        web_cfg.sip_external = (format!("sip.{}", config.domain), sip_addr.port());
        web_cfg.redirect_hops = config.autodiscover.redirect_hops;
        web_cfg.redirect_loop = config.has(Fault::RedirectLoop);
        web_cfg.delay = delay;
        // `wrong-password`: the web ticket service's directory never matches what the client proves either.
        let wrong_password = config.has(Fault::WrongPassword);
        web_cfg.users = config
            .users
            .iter()
            .cloned()
            .map(|mut u| {
                if wrong_password {
                    u.password.push_str("-changed");
                }
                u
            })
            .collect();
        web_cfg.invalid_ticket = config.has(Fault::InvalidTicket);
        // The Certificate Provisioning Service signs with the pool's CA (a copy: LabCa is not shared).
        let (ca_cert_pem, ca_key_pem) = ca.to_pem_pair();
        web_cfg.user_ca = Some(Arc::new(ca::LabCa::from_pem_pair(&ca_cert_pem, &ca_key_pem)?));
        web_cfg.expired_user_cert = config.has(Fault::ExpiredUserCert);
        web_cfg.online = config.has(Fault::Online);
        web_cfg.ticket_500 = config.has(Fault::Webticket500);
        if let Some(f) = &foreign {
            let ticket_path = foreign::WEB_TICKET_PATH;
            if config.has(Fault::OffdomainWebticketUrl) {
                web_cfg.hijacked_http_ticket_url = Some(f.http_url(ticket_path));
            }
            if config.has(Fault::MexHttpPort) {
                // An in-domain name, over plain http, on a listener that records what reaches it.
                let url =
                    f.http_url(ticket_path).replace(foreign::FOREIGN_HOST, &format!("webticket.{}", config.domain));
                web_cfg.mex_win_negotiate = Some(url);
            }
            if config.has(Fault::OffdomainAutodiscoverRedirect) {
                web_cfg.root_redirect = Some(f.https_url("/Autodiscover/AutodiscoverService.svc/root"));
            }
        }
        let directory = Arc::new(directory::Directory::default());
        web_cfg.directory = directory.clone();
        let kerberos = match config.kerberos() {
            true => Some(Arc::new(kerberos::LabRealm::start(&config)?)),
            false => None,
        };
        web_cfg.kerberos = kerberos.as_ref().map(|k| k.acceptor());
        let web = web::LabWeb::start(web_cfg).await?;
        config.web_https_port = Some(web.https_port());
        let certprov_url = match &foreign {
            Some(f) if config.has(Fault::StsUriElsewhere) => f.https_url("/CertProv/CertProvisioningService.svc"),
            _ => format!("https://{}:{}/CertProv/CertProvisioningService.svc", config.pool_fqdn, web.https_port()),
        };
        // Presence and contact lists are the enterprise's, shared by every pool of the lab; the
        // lists persist in the state directory when there is one.
        let contacts_dir = state_dir.map(|d| d.join("contacts"));
        let mut contacts = services::contacts::ContactStore::with_defaults(&config.users, contacts_dir)?;
        // A change made against a stale list is refused, so the tests see a client that keeps count.
        contacts.set_strict_delta_num(true);
        let mut lab_services = sip_services::LabServices::new(
            services::presence::PresenceStore::with_users(&config.domain, &config.users),
            contacts,
        );
        lab_services.directory = directory;
        let services = Arc::new(lab_services);
        let mut tasks = Vec::new();
        let mut states = Vec::new();
        for (i, (fqdn, cert, listener, addr)) in listeners.into_iter().enumerate() {
            // TLS-DSK needs static RSA key exchange: an RSA certificate of its own for the pool.
            let rsa = tlsdsk::issue_rsa_server_cert(&ca, std::slice::from_ref(&fqdn), validity)?;
            let tls_dsk = tlsdsk::TlsDskServerConfig {
                cert_chain_pem: rsa.cert_pem.clone(),
                key_pem: rsa.key_pem.clone(),
                client_ca_pem: ca.ca_pem().to_string(),
                tls10_only: config.has(Fault::Tls10Only),
                no_tls10: config.has(Fault::NoTls10),
            };
            let mut view = config.clone();
            view.pool_fqdn = fqdn;
            let state = Arc::new(sip_server::PoolState {
                config: view,
                registrar: registrar::Registrar::default(),
                pools: pools.clone(),
                tlsdsk: Some(tls_dsk),
                certprov_url: certprov_url.clone(),
                services: services.clone(),
                port: addr.port(),
                kerberos: kerberos.clone(),
            });
            if config.has(Fault::RefuseSip) && i == 0 {
                // The port was just ours; closing it leaves a port that refuses connections.
                drop(listener);
            } else {
                let acceptor = TlsAcceptor::from(ca::server_config(&cert)?);
                tasks.push(tokio::spawn(sip_server::serve(listener, acceptor, state.clone())));
            }
            states.push(state);
        }
        let state = states[0].clone();

        let mut zone = zone::zone_for(&config, sip_addr.port());
        if config.has(Fault::DeadFirstSrv) {
            // A port that was just free: nothing listens there, so connections are refused.
            let free = TcpListener::bind(("127.0.0.1", 0)).await.map_err(LabError::Listen)?;
            let dead_port = free.local_addr().map_err(LabError::Listen)?.port();
            drop(free);
            zone = zone::with_dead_first_srv(zone, dead_port);
        }
        if let Some(k) = &kerberos {
            // How a domain member finds its KDC (Active Directory publishes the same records).
            let kdc = format!("kdc.{}", config.domain);
            zone.records.push(dns::LabRecord::A { name: kdc.clone(), ip: std::net::Ipv4Addr::LOCALHOST });
            zone.records.push(dns::LabRecord::Srv {
                name: format!("_kerberos._tcp.{}", config.domain),
                priority: 0,
                weight: 100,
                port: k.advertised_port(),
                target: kdc,
            });
        }
        let mut zones = vec![zone];
        if foreign.is_some() {
            zones.push(zone::foreign_zone());
        }
        let silent = match config.has(Fault::DnsTimeout) {
            true => vec![format!("lyncdiscover.{}", config.domain), format!("lyncdiscoverinternal.{}", config.domain)],
            false => Vec::new(),
        };
        let dns = dns::LabDns::start_with(zones, delay, silent).await?;
        tracing::info!(%sip_addr, dns = %dns.addr(), https = web.https_port(), pool = %config.pool_fqdn, "lab pool started");
        let ca_pem = ca.ca_pem().to_string();
        let shared = sfbkit::SharedResources::new();
        let others = states.split_off(1);
        Ok(LabPool { sip_addr, ca_pem, ca, state, others, dns, web, tasks, services, shared, foreign, kerberos })
    }

    /// The Kerberos realm, when the lab runs one.
    pub fn kerberos(&self) -> Option<&kerberos::LabRealm> {
        self.kerberos.as_deref()
    }

    /// Where the registrar listens (SIP over TLS). Under `refuse-sip` nothing listens there.
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }
    /// The pool's DNS server (UDP and TCP on one port).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns.addr()
    }
    /// The autodiscover ports (HTTPS, HTTP).
    pub fn web_ports(&self) -> (u16, u16) {
        (self.web.https_port(), self.web.http_port())
    }

    /// `https://<pool>:<port><path>` on the pool's web services.
    fn web_url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.config().pool_fqdn, self.web.https_port())
    }

    /// The Web Ticket Service's Windows (HTTP NTLM) port.
    pub fn web_ticket_url(&self) -> String {
        self.web_url(web::sts::AUTH_LINK)
    }

    /// The lab's Org ID STS (the `online` fault's `login.microsoftonline.com/RST2.srf`).
    pub fn org_id_url(&self) -> String {
        self.web_url(web::online::ORG_ID_LINK)
    }

    /// Autodiscover's User resource for `user@domain` on the pool itself, and the web ticket
    /// audience (`AppliesTo`) that resource accepts.
    pub fn autodiscover_user_url(&self, sip_address: &str) -> (String, String) {
        let user = sip_address.strip_prefix("sip:").unwrap_or(sip_address);
        let applies_to = self.web_url("/Autodiscover/AutodiscoverService.svc/root/user");
        let domain = user.rsplit_once('@').map(|(_, d)| d).unwrap_or(&self.config().domain).to_string();
        let url = format!("{applies_to}?originalDomain={domain}&sipuri={}", user.replace('@', "%40"));
        (url, applies_to)
    }
    /// The trust model of this pool's clients: the lab domain alone ([`sfbkit::trust`]).
    pub fn trust(&self) -> sfbkit::trust::TrustModel {
        sfbkit::trust::TrustModel::for_domain(&self.config().domain)
    }

    /// `url` admitted by [`LabPool::trust`] as a destination for credentials (for tests of the web
    /// services that call sfbkit's credential functions directly).
    pub async fn admit(
        &self,
        url: &str,
        purpose: sfbkit::trust::Purpose,
    ) -> Result<sfbkit::trust::TrustedUrl, sfbkit::trust::Untrusted> {
        self.trust().admit_url(url, purpose, &sfbkit::trust::Learned::Configuration).await
    }

    /// The host outside the domain that the redirection faults send clients to, when one of them is on:
    /// what it received is what a client gave away.
    pub fn foreign_host(&self) -> Option<&foreign::ForeignHost> {
        self.foreign.as_ref()
    }
    /// Wrong passwords for known accounts so far, at every registrar, the Web Ticket Service and the Org ID STS:
    /// what Active Directory would count towards the accounts' lockout.
    pub fn failed_logons(&self) -> u64 {
        self.services.directory.failed_logons()
    }

    /// Changes `sip_uri`'s password in the lab's directory from now on (registrars, Web Ticket Service, Org
    /// ID STS), as a password change in Active Directory would under a signed-in client.
    pub fn change_password(&self, sip_uri: &str, password: &str) {
        self.services.directory.change_password(sip_uri, password);
    }
    /// Queries the DNS server answered, HTTP requests the web service answered.
    pub fn counters(&self) -> (u64, u64) {
        (self.dns.queries(), self.web.requests())
    }
    /// The CA certificate (PEM) a client must trust to reach this pool.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    /// The pool's configuration.
    pub fn config(&self) -> &LabConfig {
        &self.state.config
    }
    /// A TLS-DSK user certificate for `sip_uri`, as certificate provisioning would issue it (RSA-2048,
    /// `CN=<user@domain>`, signed by this pool's CA), ready for a client's keystore.
    pub fn issue_user_certificate(&self, sip_uri: &str) -> Result<sfbkit::keystore::StoredCertificate, LabError> {
        let (cert_chain_der, key_pkcs8_der) =
            tlsdsk::issue_user_cert(&self.ca, sip_uri, ca::Validity::days_from_now(180))?;
        Ok(sfbkit::keystore::StoredCertificate { cert_chain_der, key_pkcs8_der })
    }

    /// An HTTP client set up as sfbkit's own for this pool: its DNS server and only its CA
    /// (for tests of the web services: tickets, provisioning).
    pub fn http_client(&self) -> Result<sfbkit::http::HttpClient, LabError> {
        let trust = sfbkit::transport::TrustConfig::empty().with_extra_ca_pem(self.ca_pem.as_bytes().to_vec());
        let connector = sfbkit::transport::TlsConnector::new(&trust).map_err(|e| LabError::Client(e.to_string()))?;
        let resolver = sfbkit::discovery::dns::HickoryResolver::with_nameservers(
            &[self.dns_addr()],
            std::time::Duration::from_secs(2),
        )
        .map_err(|e| LabError::Client(e.to_string()))?;
        Ok(sfbkit::http::HttpClient::new(
            connector,
            Arc::new(resolver),
            std::time::Duration::from_secs(10),
            sfbkit::discovery::autodiscover::MAX_DOCUMENT,
        ))
    }

    /// A user certificate issued `age_days` ago and valid `remaining_days` more (renewal tests).
    pub fn issue_aged_user_certificate(
        &self,
        sip_uri: &str,
        age_days: i64,
        remaining_days: i64,
    ) -> Result<sfbkit::keystore::StoredCertificate, LabError> {
        let now = time::OffsetDateTime::now_utc();
        let validity = ca::Validity {
            not_before: now - time::Duration::days(age_days),
            not_after: now + time::Duration::days(remaining_days),
        };
        let (cert_chain_der, key_pkcs8_der) = tlsdsk::issue_user_cert(&self.ca, sip_uri, validity)?;
        Ok(sfbkit::keystore::StoredCertificate { cert_chain_der, key_pkcs8_der })
    }

    /// A user certificate valid from a second ago for `valid_for` more (certificates that expire during a
    /// test's session).
    pub fn issue_user_certificate_valid_for(
        &self,
        sip_uri: &str,
        valid_for: std::time::Duration,
    ) -> Result<sfbkit::keystore::StoredCertificate, LabError> {
        let now = time::OffsetDateTime::now_utc();
        let validity = ca::Validity { not_before: now - time::Duration::seconds(1), not_after: now + valid_for };
        let (cert_chain_der, key_pkcs8_der) = tlsdsk::issue_user_cert(&self.ca, sip_uri, validity)?;
        Ok(sfbkit::keystore::StoredCertificate { cert_chain_der, key_pkcs8_der })
    }

    /// The endpoints registered right now on the primary pool.
    pub fn bindings(&self) -> Vec<Binding> {
        self.state.registrar.bindings()
    }
    /// The endpoints registered right now on the pool `fqdn` (primary or other).
    pub fn bindings_on(&self, fqdn: &str) -> Vec<Binding> {
        std::iter::once(&self.state)
            .chain(self.others.iter())
            .find(|s| s.config.pool_fqdn.eq_ignore_ascii_case(fqdn))
            .map(|s| s.registrar.bindings())
            .unwrap_or_default()
    }

    /// Drops every connection of `aor` (`sip:` optional), as a network failure would; returns how many.
    pub fn drop_connections(&self, aor: &str) -> usize {
        self.services.close_connections(Some(aor))
    }

    /// Restarts the SIP service of every pool: all connections drop, new ones are refused for
    /// `downtime`, endpoint publications are gone (contact lists and static publications stay).
    pub fn restart_sip(&self, downtime: std::time::Duration) -> usize {
        self.services.restart(downtime)
    }

    /// Disables `aor` now, as `Set-CsUser -Enabled $false` would: every endpoint of the user gets a
    /// deregistration NOTIFY (`event=rejected`, `ms-diagnostics-public: 4141`) and REGISTER is
    /// refused from then on. Returns how many endpoints were told.
    pub fn disable_user(&self, aor: &str) -> usize {
        self.services.disable(aor, &self.state.config, self.state.port)
    }

    /// Sends every endpoint of `aor` a deregistration NOTIFY with `event=<reason>`
    /// (`unregistered`, `rejected`, `deactivated`, `preferred-registrar-change`, [MS-SIPREGE] 3.2),
    /// with `P-Preferred-Registrar` when given. Returns how many endpoints were told.
    pub fn deregister(&self, aor: &str, reason: &str, preferred_registrar: Option<&str>) -> usize {
        self.services.deregister(aor, reason, None, preferred_registrar, &self.state.config, self.state.port)
    }

    /// Sends every endpoint of `aor` a deregistration NOTIFY (`event=rejected`, 4141) whose signature does not
    /// verify, as a man in the middle would: a client must drop it. Returns how many endpoints were sent one.
    pub fn forge_deregistration(&self, aor: &str) -> usize {
        self.services.forge_deregistration(aor, &self.state.config, self.state.port)
    }

    /// The current versions and values of `aor`'s publications (for tests and QA checks).
    pub fn publications(
        &self,
        aor: &str,
    ) -> Vec<(services::presence::PublicationKey, services::presence::Publication)> {
        self.services.presence.lock().unwrap_or_else(|p| p.into_inner()).publications(aor)
    }

    /// `aor`'s contact list as the pool holds it.
    pub fn contact_list(&self, aor: &str) -> services::contacts::ContactList {
        self.services.contacts.lock().unwrap_or_else(|p| p.into_inner()).list(aor)
    }

    /// Publishes on behalf of another endpoint of `aor` (epid `epid`), as a second device would:
    /// for tests of version conflicts. Returns the status the pool would answer.
    pub fn publish_as(&self, aor: &str, epid: &str, body: &str) -> u16 {
        let result = self.services.presence.lock().unwrap_or_else(|p| p.into_inner()).publish(
            aor,
            epid,
            body.as_bytes(),
            time::OffsetDateTime::now_utc(),
        );
        match result {
            Ok(change) => {
                self.services.fan_out_presence(&change, &self.state.config, self.state.port);
                200
            }
            Err(e) => e.status_code(),
        }
    }

    /// A client builder set up for this pool, as a machine inside it would be: the pool's DNS
    /// server, its autodiscover ports, its registrar port for A-record fallbacks, and only the
    /// pool's CA as trust anchor. Nothing else is configured: discovery finds the registrar.
    ///
    /// When the user is in the directory, their account and password are configured too, as a
    /// user typing them at the sign-in prompt would.
    pub fn client_builder(&self, sip_uri: &str) -> sfbkit::ClientBuilder {
        let (https, http) = self.web_ports();
        let want = sip_uri.strip_prefix("sip:").unwrap_or(sip_uri);
        let user = self
            .config()
            .users
            .iter()
            .find(|u| u.sip_uri.strip_prefix("sip:").unwrap_or(&u.sip_uri).eq_ignore_ascii_case(want));
        // A keystore of its own: a test's certificates never reach the machine's keyring (the CLI
        // uses the OS keystore with a persistent lab state instead).
        let store: Arc<dyn sfbkit::keystore::SecretStore> = Arc::new(sfbkit::keystore::MemoryStore::default());
        let mut builder = match user {
            Some(u) => sfbkit::ClientBuilder::new(sip_uri).credentials(&u.account(), &u.password),
            None => sfbkit::ClientBuilder::new(sip_uri),
        }
        .keystore(store);
        // With a realm, the user is signed in to the domain as a logon would: a credential cache of their own.
        if let (Some(realm), Some(u)) = (&self.kerberos, user) {
            let local = u.local_part();
            match realm.logon(local) {
                Ok(cache) => {
                    builder = builder
                        .kerberos(sfbkit::auth::kerberos::KerberosConfig { ccache: Some(cache), ..Default::default() })
                }
                Err(e) => tracing::warn!(error = %e, user = local, "lab pool: no Kerberos logon for this user"),
            }
        }
        builder
            .shared(self.shared.clone())
            .dns_servers(vec![self.dns_addr()])
            .autodiscover_ports(https, http)
            .a_record_port(self.sip_addr.port())
            .org_id_sts(&self.org_id_url())
            .trust(sfbkit::transport::TrustConfig::empty().with_extra_ca_pem(self.ca_pem.as_bytes().to_vec()))
    }
}

impl Drop for LabPool {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
