//! [`ClientBuilder`] → [`Client`]: the core's facade, method for method.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::SfbError;
use crate::events::Event;
use crate::host::{
    DeviceProvider, EventListener, HostDevices, HostKeystore, HostNetwork, HostTrust, NetworkInfo, SecretStore,
    TrustDecider,
};
use crate::types::{
    AuthMethod, AutodiscoverFormat, Availability, ContactList, ContactPresence, KerberosEtype, LocationProfile,
    LockoutPolicy, NetworkLocation, Normalized, Provisioning, ReconnectPolicy, SignInReport, TlsVersion,
};
use crate::{run, runtime};

const INVALID_OPTION: &str = "invalid-option";

/// Configures a [`Client`]. Each method returns a new builder (the one it was called on is unchanged), so a
/// base configuration can be shared: `ClientBuilder("alice@contoso.com").credentials(...).build()`.
#[derive(uniffi::Object, Clone)]
pub struct ClientBuilder {
    inner: sfbkit::ClientBuilder,
    /// The first option that could not be read, reported by [`ClientBuilder::build`].
    invalid: Option<(String, &'static str)>,
    /// DNS servers were given ([`ClientBuilder::dns_servers`]).
    dns_given: bool,
    /// The host's network information, asked for DNS servers at build time when none were given.
    network: Option<Arc<dyn NetworkInfo>>,
}

impl ClientBuilder {
    fn with(&self, f: impl FnOnce(sfbkit::ClientBuilder) -> sfbkit::ClientBuilder) -> Arc<ClientBuilder> {
        Arc::new(ClientBuilder { inner: f(self.inner.clone()), ..self.clone() })
    }

    fn invalid(&self, detail: String, hint: &'static str) -> Arc<ClientBuilder> {
        let invalid = self.invalid.clone().or(Some((detail, hint)));
        Arc::new(ClientBuilder { invalid, ..self.clone() })
    }
}

fn socket_addr(text: &str, default_port: Option<u16>) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().ok().or_else(|| Some(SocketAddr::new(text.parse().ok()?, default_port?)))
}

fn dns_addresses(servers: &[String]) -> Result<Vec<SocketAddr>, String> {
    servers
        .iter()
        .map(|text| {
            socket_addr(text, Some(53))
                .ok_or_else(|| format!("the DNS server {text:?} is not an IP address with an optional port"))
        })
        .collect()
}

/// The DNS servers the host's [`NetworkInfo`] gives.
fn host_dns_servers(network: &dyn NetworkInfo) -> Result<Vec<SocketAddr>, SfbError> {
    let servers = network.dns_servers().map_err(|e| {
        SfbError::configuration(
            "network-info",
            format!("the host's NetworkInfo could not give the DNS servers: {e}"),
            "return the active network's DNS servers from NetworkInfo.dnsServers, or give dnsServers()",
        )
    })?;
    dns_addresses(&servers)
        .map_err(|detail| SfbError::configuration(INVALID_OPTION, format!("NetworkInfo: {detail}"), DNS_HINT))
}

const DNS_HINT: &str = "give addresses such as \"192.0.2.53\" or \"192.0.2.53:5353\"";

#[uniffi::export]
impl ClientBuilder {
    /// A client for `user@domain` (the `sip:` prefix may be given or not).
    #[uniffi::constructor]
    pub fn new(sip_uri: String) -> Arc<ClientBuilder> {
        Arc::new(ClientBuilder {
            inner: sfbkit::ClientBuilder::new(&sip_uri),
            invalid: None,
            dns_given: false,
            network: None,
        })
    }

    /// The Windows account (`DOMAIN\user` or `user@domain`) and password. The password stays in memory only,
    /// is wiped when the client goes, and is sent only to servers of the user's domain over verified TLS.
    pub fn credentials(&self, account: String, password: String) -> Arc<ClientBuilder> {
        self.with(|b| b.credentials(&account, &password))
    }

    /// The registrar to sign in to, skipping server discovery: its FQDN (what its certificate names), port, and
    /// optionally the IP address to connect to instead of resolving the name.
    pub fn server(&self, fqdn: String, port: u16, address: Option<String>) -> Arc<ClientBuilder> {
        let addr = match address.as_deref().map(|a| socket_addr(a, Some(port))) {
            Some(None) => {
                return self.invalid(
                    format!("the server address {:?} is not an IP address", address.unwrap_or_default()),
                    "give an IP address such as \"192.0.2.10\", or no address to resolve the FQDN",
                );
            }
            Some(addr) => addr,
            None => None,
        };
        self.with(|b| b.server(sfbkit::ServerTarget { fqdn, port, addr }))
    }

    /// DNS servers to ask instead of the system's (`192.0.2.53`, `192.0.2.53:5353`, `[2001:db8::53]:53`).
    pub fn dns_servers(&self, servers: Vec<String>) -> Arc<ClientBuilder> {
        match dns_addresses(&servers) {
            Ok(parsed) => Arc::new(ClientBuilder {
                inner: self.inner.clone().dns_servers(parsed),
                dns_given: true,
                ..self.clone()
            }),
            Err(detail) => self.invalid(detail, DNS_HINT),
        }
    }

    /// Certificate authorities (PEM text) to trust besides the system's, such as an enterprise CA that issued
    /// the pool's certificates. Certificate checks are never switched off.
    pub fn ca_certificates(&self, pems: Vec<String>) -> Arc<ClientBuilder> {
        let trust = pems
            .into_iter()
            .fold(sfbkit::transport::TrustConfig::system(), |t, pem| t.with_extra_ca_pem(pem.into_bytes()));
        self.with(|b| b.trust(trust))
    }

    /// Where TLS-DSK certificates are kept between sign-ins (the Keychain, the Android Keystore). Without
    /// one, the platform's keystore the core knows is used, or memory.
    pub fn secret_store(&self, store: Arc<dyn SecretStore>) -> Arc<ClientBuilder> {
        self.with(|b| b.keystore(Arc::new(HostKeystore(store))))
    }

    /// Keeps TLS-DSK certificates in this process only (each sign-in of a new client provisions again).
    pub fn memory_secret_store(&self) -> Arc<ClientBuilder> {
        self.with(|b| b.keystore(Arc::new(sfbkit::keystore::MemoryStore::default())))
    }

    /// The media devices, from the host's media APIs (listed in the sign-in report's Local Discovery).
    pub fn device_provider(&self, provider: Arc<dyn DeviceProvider>) -> Arc<ClientBuilder> {
        self.with(|b| b.devices(Arc::new(HostDevices(provider))))
    }

    /// The device's network interfaces, routes and DNS servers, for the adapter choice and name resolution.
    pub fn network_info(&self, network: Arc<dyn NetworkInfo>) -> Arc<ClientBuilder> {
        let inner = self.inner.clone().network(Arc::new(HostNetwork(network.clone())));
        Arc::new(ClientBuilder { inner, network: Some(network), ..self.clone() })
    }

    /// Asked before credentials go to a server outside the SIP domain and the trusted domains.
    pub fn trust_decider(&self, decider: Arc<dyn TrustDecider>) -> Arc<ClientBuilder> {
        self.with(|b| b.trust_decider(Arc::new(HostTrust(decider))))
    }

    /// Domains whose servers may have the credentials besides the SIP domain (replaces the Microsoft
    /// client's defaults, as the Office Trusted Domain List policy does).
    pub fn trusted_domains(&self, domains: Vec<String>) -> Arc<ClientBuilder> {
        self.with(|b| b.trusted_domains(domains))
    }

    /// Adapter names, most preferred first (`en0`, `wlan0`).
    pub fn adapter_preference(&self, names: Vec<String>) -> Arc<ClientBuilder> {
        self.with(|b| b.adapter_preference(names))
    }

    pub fn user_agent(&self, user_agent: String) -> Arc<ClientBuilder> {
        self.with(|b| b.user_agent(&user_agent))
    }

    /// The endpoint id (a SIP token, as [`Client::epid`] returned it); keep one per app install so the pool sees one
    /// endpoint per device.
    pub fn epid(&self, epid: String) -> Arc<ClientBuilder> {
        match sfbkit::identity::Epid::parse(&epid) {
            Ok(e) => self.with(|b| b.epid(e)),
            Err(e) => self.invalid(format!("epid {epid:?}: {e}"), "give the epid an earlier Client.epid() returned"),
        }
    }

    pub fn connect_timeout(&self, timeout: Duration) -> Arc<ClientBuilder> {
        self.with(|b| b.connect_timeout(timeout))
    }

    pub fn http_timeout(&self, timeout: Duration) -> Arc<ClientBuilder> {
        self.with(|b| b.http_timeout(timeout))
    }

    /// The bound on one whole sign-in (default 90 s).
    pub fn sign_in_deadline(&self, deadline: Duration) -> Arc<ClientBuilder> {
        self.with(|b| b.sign_in_deadline(deadline))
    }

    /// How long the registrar of a successful sign-in is kept in the secret store and signed in to directly,
    /// without Server Discovery (default one hour; zero turns the cache off). A cached registrar that fails is
    /// forgotten and discovery runs in the same sign-in.
    pub fn sign_in_cache_ttl(&self, ttl: Duration) -> Arc<ClientBuilder> {
        self.with(|b| b.sign_in_cache_ttl(ttl))
    }

    /// How many events wait for a reader that is behind before the oldest are dropped (default 4,096; the next
    /// event is then `Lagged`, saying how many).
    pub fn event_buffer(&self, events: u32) -> Arc<ClientBuilder> {
        self.with(|b| b.event_buffer(events as usize))
    }

    pub fn dns_lookup_limit(&self, limit: Duration) -> Arc<ClientBuilder> {
        self.with(|b| b.dns_lookup_limit(limit))
    }

    /// Autodiscover's ports (443 and 80 on real pools).
    pub fn autodiscover_ports(&self, https: u16, http: u16) -> Arc<ClientBuilder> {
        self.with(|b| b.autodiscover_ports(https, http))
    }

    pub fn autodiscover_format(&self, format: AutodiscoverFormat) -> Arc<ClientBuilder> {
        let format = match format {
            AutodiscoverFormat::Xml => sfbkit::discovery::autodiscover::Format::Xml,
            AutodiscoverFormat::Json => sfbkit::discovery::autodiscover::Format::Json,
        };
        self.with(|b| b.autodiscover_format(format))
    }

    /// Which SIP authentication scheme the sign-in may use (auto by default).
    pub fn auth_method(&self, method: AuthMethod) -> Arc<ClientBuilder> {
        self.with(|b| b.auth_method(method.into()))
    }

    /// The TLS versions allowed inside the TLS-DSK tunnel (1.0 to 1.2 by default, 1.0 offered first).
    pub fn tls_dsk_versions(&self, min: TlsVersion, max: TlsVersion) -> Arc<ClientBuilder> {
        self.with(|b| b.tls_dsk_versions(sfbkit::auth::tlsdsk::TlsDskVersions { min: min.into(), max: max.into() }))
    }

    /// Kerberos: a FILE credential cache to read (`ccache`, none on mobile), the KDCs (`ip:port`; none: DNS SRV
    /// `_kerberos._tcp.<realm>`), and the session-key etypes to ask for (none: AES-256, AES-128, RC4). With the
    /// credentials' password a ticket is had from the KDC when no cache holds one.
    pub fn kerberos(
        &self,
        ccache: Option<String>,
        kdcs: Vec<String>,
        etypes: Vec<KerberosEtype>,
    ) -> Arc<ClientBuilder> {
        let kdcs: Result<Vec<SocketAddr>, String> =
            kdcs.iter().map(|k| socket_addr(k, Some(88)).ok_or_else(|| k.clone())).collect();
        match kdcs {
            Ok(kdcs) => self.with(|b| {
                b.kerberos(sfbkit::auth::kerberos::KerberosConfig {
                    ccache: ccache.map(Into::into),
                    kdcs,
                    etypes: etypes.into_iter().map(Into::into).collect(),
                })
            }),
            Err(bad) => self.invalid(
                format!("KDC {bad:?} is not an IP address (with a port)"),
                "give each KDC as ip:port, e.g. 10.0.0.5:88",
            ),
        }
    }

    /// Sign in from one side of the network only: `External` takes a remote user's path (the Edge).
    pub fn network_location(&self, location: NetworkLocation) -> Arc<ClientBuilder> {
        self.with(|b| b.network_location(location.into()))
    }

    /// Whether autodiscover is also tried over plain http (its answers never widen the trusted set).
    pub fn autodiscover_over_http(&self, enabled: bool) -> Arc<ClientBuilder> {
        self.with(|b| b.autodiscover_over_http(enabled))
    }

    /// The SIP port for registrars found by A record (the last discovery fallback).
    pub fn a_record_port(&self, port: u16) -> Arc<ClientBuilder> {
        self.with(|b| b.a_record_port(port))
    }

    /// The Org ID security token service (Office 365 sign-in).
    pub fn org_id_sts(&self, url: String) -> Arc<ClientBuilder> {
        self.with(|b| b.org_id_sts(&url))
    }

    pub fn reconnect_policy(&self, policy: ReconnectPolicy) -> Arc<ClientBuilder> {
        if !(0.0..=1.0).contains(&policy.jitter) {
            return self.invalid(
                format!("the reconnect jitter must be from 0 to 1, not {}", policy.jitter),
                "give a jitter such as 0.2 (each delay varies by up to 20 %)",
            );
        }
        let ReconnectPolicy { initial, max, jitter } = policy;
        self.with(|b| b.reconnect_policy(sfbkit::ReconnectPolicy { initial, max, jitter }))
    }

    pub fn lockout_policy(&self, policy: LockoutPolicy) -> Arc<ClientBuilder> {
        let LockoutPolicy { max_refusals, window, retry_delay } = policy;
        self.with(|b| b.lockout_policy(sfbkit::auth::lockout::LockoutPolicy { max_refusals, window, retry_delay }))
    }

    /// Checks the configuration and builds the client.
    pub fn build(&self) -> Result<Arc<Client>, SfbError> {
        if let Some((detail, hint)) = &self.invalid {
            return Err(SfbError::configuration(INVALID_OPTION, detail.clone(), hint));
        }
        let mut inner = self.inner.clone();
        if !self.dns_given {
            let from_host = match &self.network {
                Some(network) => host_dns_servers(network.as_ref())?,
                None => Vec::new(),
            };
            if !from_host.is_empty() {
                inner = inner.dns_servers(from_host);
            } else if cfg!(target_os = "android") {
                // hickory reads Android's DNS servers through an NDK context that nothing here initializes.
                return Err(SfbError::configuration(
                    "no-dns-servers",
                    "no DNS servers: on Android the SDK cannot read the system's",
                    "return LinkProperties.getDnsServers() from NetworkInfo.dnsServers, or give dnsServers()",
                ));
            }
        }
        // The resolver is set up on the SDK's runtime.
        let _entered = runtime().enter();
        let client = inner.build()?;
        Ok(Arc::new(Client { client: Arc::new(client), listeners: Mutex::new(Vec::new()) }))
    }
}

/// One Skype for Business endpoint. Async methods run on the SDK's own runtime; cancelling the caller's
/// coroutine or task cancels them.
#[derive(uniffi::Object)]
pub struct Client {
    client: Arc<sfbkit::Client>,
    /// The tasks feeding the event listeners: they end with the client.
    listeners: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        for listener in self.listeners.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            listener.abort();
        }
    }
}

impl Client {
    async fn command<T, F>(&self, f: impl FnOnce(Arc<sfbkit::Client>) -> F) -> Result<T, SfbError>
    where
        F: Future<Output = Result<T, sfbkit::ClientError>> + Send + 'static,
        T: Send + 'static,
    {
        run(f(self.client.clone())).await?.map_err(SfbError::from)
    }
}

#[uniffi::export]
impl Client {
    /// The endpoint id this client registers with.
    pub fn epid(&self) -> String {
        self.client.epid().to_string()
    }

    /// Signs in, stage by stage, and returns the report. A failed sign-in throws `SignInFailed`, carrying the
    /// stage, the class, the server's code, the hint and the report. The client then stays signed in
    /// (refreshes, keep-alives, reconnects) until [`Client::sign_out`].
    pub async fn sign_in(&self) -> Result<SignInReport, SfbError> {
        let report = run({
            let client = self.client.clone();
            async move { client.sign_in().await }
        })
        .await?;
        if report.is_success() { Ok(SignInReport::from(&report)) } else { Err(SfbError::sign_in_failed(&report)) }
    }

    /// Unpublishes presence, ends the subscriptions, unregisters and closes the connection.
    pub async fn sign_out(&self) -> Result<(), SfbError> {
        self.command(|c| async move { c.sign_out().await }).await
    }

    /// Pings the registrar on the signed-in connection; the time until its answer.
    pub async fn keep_alive(&self) -> Result<Duration, SfbError> {
        self.command(|c| async move { c.keep_alive().await }).await
    }

    /// Publishes a manual presence state, with an optional activity (`in-a-meeting`, `on-the-phone`).
    pub async fn set_presence(&self, availability: Availability, activity: Option<String>) -> Result<(), SfbError> {
        self.command(|c| async move { c.set_presence(availability.into(), activity.as_deref()).await }).await
    }

    /// Withdraws the manual state: presence follows the endpoint's machine state again.
    pub async fn clear_presence(&self) -> Result<(), SfbError> {
        self.command(|c| async move { c.clear_presence().await }).await
    }

    /// Publishes the personal note (`None` or empty removes it).
    pub async fn set_note(&self, text: Option<String>) -> Result<(), SfbError> {
        self.command(|c| async move { c.set_note(text.as_deref()).await }).await
    }

    /// Adds a contact to the named group (`None`: the default group).
    pub async fn add_contact(&self, uri: String, name: String, group: Option<String>) -> Result<(), SfbError> {
        self.command(|c| async move { c.add_contact(&uri, &name, group.as_deref()).await }).await
    }

    /// Watches someone's presence without adding them to the contact list (`PresenceChanged` events and
    /// `presenceOf` then cover them).
    pub async fn watch_presence(&self, uri: String) -> Result<(), SfbError> {
        self.command(|c| async move { c.watch_presence(&uri).await }).await
    }

    /// Stops watching someone `watchPresence` added.
    pub async fn unwatch_presence(&self, uri: String) -> Result<(), SfbError> {
        self.command(|c| async move { c.unwatch_presence(&uri).await }).await
    }

    pub async fn remove_contact(&self, uri: String) -> Result<(), SfbError> {
        self.command(|c| async move { c.remove_contact(&uri).await }).await
    }

    /// Moves a contact to the named group.
    pub async fn move_contact(&self, uri: String, group: String) -> Result<(), SfbError> {
        self.command(|c| async move { c.move_contact(&uri, &group).await }).await
    }

    /// Creates a group; the id the server gave it.
    pub async fn add_group(&self, name: String) -> Result<u32, SfbError> {
        self.command(|c| async move { c.add_group(&name).await }).await
    }

    pub async fn rename_group(&self, id: u32, name: String) -> Result<(), SfbError> {
        self.command(|c| async move { c.rename_group(id, &name).await }).await
    }

    pub async fn remove_group(&self, id: u32) -> Result<(), SfbError> {
        self.command(|c| async move { c.remove_group(id).await }).await
    }

    /// Whether the endpoint is signed in right now (false while reconnecting).
    pub fn is_signed_in(&self) -> bool {
        self.client.is_signed_in()
    }

    /// The contact list as last received.
    pub fn contacts(&self) -> ContactList {
        (&self.client.contacts()).into()
    }

    /// A contact's presence, as last notified.
    pub fn presence_of(&self, uri: String) -> Option<ContactPresence> {
        self.client.presence_of(&uri).as_ref().map(ContactPresence::from)
    }

    /// In-band provisioning, once received.
    pub fn provisioning(&self) -> Option<Provisioning> {
        self.client.provisioning().as_ref().map(Provisioning::from)
    }

    /// The user's location profile (dial plan), once received.
    pub fn location_profile(&self) -> Option<LocationProfile> {
        self.client.location_profile().as_deref().map(LocationProfile::from)
    }

    /// Normalizes a dialled number with the user's dial plan.
    pub fn normalize(&self, number: String) -> Result<Normalized, SfbError> {
        self.client.normalize(&number).map(Normalized::from).ok_or_else(|| SfbError::NotReady {
            error_class: "no-location-profile".into(),
            detail: "the user's dial plan (location profile) has not arrived".into(),
            hint: "sign in and wait for the LocationProfileLoaded event".into(),
        })
    }

    /// Messages from the server dropped because their signature did not verify.
    pub fn bad_signatures(&self) -> u64 {
        self.client.bad_signatures()
    }

    /// The next event, in order (waits for one). Cancelling the wait loses no event.
    pub async fn next_event(&self) -> Event {
        // The core's queue is cancel-safe and needs no runtime: awaited on the caller's executor.
        self.client.next_event().await.into()
    }

    /// The next event if one is waiting.
    pub fn try_next_event(&self) -> Option<Event> {
        // The core reads its queue without waiting: the future is complete on its first poll.
        let mut next = std::pin::pin!(self.client.try_next_event());
        match next.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
            std::task::Poll::Ready(event) => event.map(Event::from),
            std::task::Poll::Pending => None,
        }
    }

    /// Delivers every event from now on to `listener`, in order, on a thread of the SDK, until the handle is
    /// cancelled or the client is dropped. Independent of [`Client::next_event`] and of other listeners.
    pub fn add_event_listener(&self, listener: Arc<dyn EventListener>) -> Arc<EventListenerHandle> {
        let mut stream = self.client.subscribe_events();
        let task = runtime().spawn(async move {
            loop {
                let event = Event::from(stream.next().await);
                let listener = listener.clone();
                // The host's code may block: it runs off the runtime's worker threads, one event at a time.
                match tokio::task::spawn_blocking(move || listener.on_event(event)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "an event listener failed; it still gets the next events"),
                    Err(e) => tracing::warn!(error = %e, "an event listener did not complete"),
                }
            }
        });
        let abort = task.abort_handle();
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(abort.clone());
        Arc::new(EventListenerHandle { abort })
    }
}

/// A registered [`EventListener`]. Dropping the handle keeps the listener; [`EventListenerHandle::cancel`]
/// stops it.
#[derive(uniffi::Object)]
pub struct EventListenerHandle {
    abort: tokio::task::AbortHandle,
}

#[uniffi::export]
impl EventListenerHandle {
    /// Stops delivering events to the listener.
    pub fn cancel(&self) {
        self.abort.abort();
    }
}
