//! `_native.Client`: one [`sfbkit::Client`], its options read from the dict the Python `Client` builds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use sfbkit::presence::Availability;
use sfbkit::transport::TrustConfig;
use sfbkit::{ClientBuilder, ClientError, ServerTarget};

use crate::{Failure, awaitable, guard, wait};

/// Every option of `sfbkit.Client`, as the Python layer passes them (all keys always present; `None` keeps
/// the builder's default).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub(crate) struct Options {
    account: Option<String>,
    password: Option<String>,
    /// `(fqdn, port)`.
    server: Option<(String, u16)>,
    /// `ip:port` to connect to instead of resolving the server's name.
    addr: Option<String>,
    dns: Vec<String>,
    /// Extra CA certificates (PEM files), trusted besides the system's roots.
    ca_files: Vec<std::path::PathBuf>,
    /// `"os"`, `"memory"` or an object with `get`/`set`/`delete`; `None` keeps the builder's.
    keystore: Option<Py<PyAny>>,
    trusted_domains: Option<Vec<String>>,
    user_agent: Option<String>,
    epid: Option<String>,
    connect_timeout: Option<f64>,
    http_timeout: Option<f64>,
    sign_in_deadline: Option<f64>,
    /// Seconds the registrar of a sign-in is kept and signed in to directly (0: no sign-in cache).
    sign_in_cache_ttl: Option<f64>,
    /// Events kept for a reader that is behind before the oldest are dropped.
    event_buffer: Option<usize>,
    dns_lookup_limit: Option<f64>,
    autodiscover_ports: Option<(u16, u16)>,
    autodiscover_format: Option<String>,
    autodiscover_over_http: Option<bool>,
    a_record_port: Option<u16>,
    adapter_preference: Vec<String>,
    org_id_sts: Option<String>,
    /// `auto`, `ntlm`, `tls-dsk` or `kerberos`.
    auth: Option<String>,
    /// `(min, max)`: `1.0`, `1.1` or `1.2`.
    tls_dsk_versions: Option<(String, String)>,
    /// `auto`, `internal` or `external`.
    network_location: Option<String>,
    /// Kerberos: the FILE credential cache to read.
    kerberos_ccache: Option<std::path::PathBuf>,
    /// Kerberos: KDC addresses (`ip:port`).
    kdc: Vec<String>,
    /// Kerberos: session-key etypes (`aes256`, `aes128`, `rc4`).
    kerberos_etypes: Vec<String>,
    /// `(initial, max, jitter)` in seconds.
    reconnect: Option<(f64, f64, f64)>,
    /// `(max_refusals, window, retry_delay)`, times in seconds.
    lockout: Option<(u32, f64, f64)>,
}

fn config_error(message: impl Into<String>, class: &str) -> Failure {
    Failure::new("ConfigurationError", message).with("stage", Some("Configuration")).with("error_class", Some(class))
}

fn seconds(name: &str, value: f64) -> Result<Duration, Failure> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        config_error(format!("{name} must be a non-negative number of seconds, not {value}"), "invalid-option")
    })
}

fn socket_addr(name: &str, text: &str, default_port: Option<u16>) -> Result<SocketAddr, Failure> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match (text.parse::<std::net::IpAddr>(), default_port) {
        (Ok(ip), Some(port)) => Ok(SocketAddr::new(ip, port)),
        _ => Err(config_error(
            format!("{name} {text:?} is not an IP address with a port (\"192.0.2.53:53\", \"[2001:db8::53]:53\")"),
            "invalid-option",
        )),
    }
}

/// Applies `options` to `builder` (a fresh one, or the lab pool's).
pub(crate) fn configure(py: Python<'_>, mut b: ClientBuilder, o: Options) -> Result<ClientBuilder, Failure> {
    match (&o.account, &o.password) {
        (Some(account), Some(password)) => b = b.credentials(account, password),
        (Some(_), None) => {
            return Err(config_error(
                "an account was given without a password: pass password= too, or neither",
                "invalid-option",
            ));
        }
        (None, Some(_)) => {
            return Err(config_error("a password was given without an account: pass account= too", "invalid-option"));
        }
        (None, None) => {}
    }
    if !o.ca_files.is_empty() {
        let mut trust = TrustConfig::system();
        for path in &o.ca_files {
            let pem = std::fs::read(path).map_err(|e| {
                config_error(format!("cannot read the CA file {}: {e}", path.display()), "unreadable-ca-file")
            })?;
            trust = trust.with_extra_ca_pem(pem);
        }
        b = b.trust(trust);
    }
    if let Some((fqdn, port)) = o.server {
        let addr = o.addr.as_deref().map(|a| socket_addr("addr", a, None)).transpose()?;
        b = b.server(ServerTarget { fqdn, port, addr });
    } else if o.addr.is_some() {
        return Err(config_error("addr= needs server= (the name the registrar's certificate holds)", "invalid-option"));
    }
    if !o.dns.is_empty() {
        let servers = o.dns.iter().map(|d| socket_addr("dns", d, Some(53))).collect::<Result<Vec<_>, _>>()?;
        b = b.dns_servers(servers);
    }
    let keystore = o.keystore.as_ref().map(|k| k.bind(py));
    if let Some(name) = keystore.and_then(|k| k.extract::<String>().ok()) {
        match name.as_str() {
            "os" => b = b.os_keystore(),
            "memory" => b = b.keystore(Arc::new(sfbkit::keystore::MemoryStore::default())),
            other => {
                return Err(config_error(
                    format!("keystore={other:?}: use \"os\", \"memory\" or an object with get/set/delete"),
                    "invalid-option",
                ));
            }
        }
    } else if let Some(store) = keystore {
        b = b.keystore(Arc::new(crate::keystore::PyKeystore::new(store)?));
    }
    if let Some(domains) = o.trusted_domains {
        b = b.trusted_domains(domains);
    }
    if let Some(ua) = &o.user_agent {
        b = b.user_agent(ua);
    }
    if let Some(epid) = &o.epid {
        let epid = sfbkit::identity::Epid::parse(epid)
            .map_err(|e| config_error(format!("epid {epid:?}: {e}"), "invalid-option"))?;
        b = b.epid(epid);
    }
    if let Some(t) = o.connect_timeout {
        b = b.connect_timeout(seconds("connect_timeout", t)?);
    }
    if let Some(t) = o.http_timeout {
        b = b.http_timeout(seconds("http_timeout", t)?);
    }
    if let Some(t) = o.sign_in_cache_ttl {
        b = b.sign_in_cache_ttl(seconds("sign_in_cache_ttl", t)?);
    }
    if let Some(n) = o.event_buffer {
        b = b.event_buffer(n);
    }
    if let Some(t) = o.sign_in_deadline {
        b = b.sign_in_deadline(seconds("sign_in_deadline", t)?);
    }
    if let Some(t) = o.dns_lookup_limit {
        b = b.dns_lookup_limit(seconds("dns_lookup_limit", t)?);
    }
    if let Some((https, http)) = o.autodiscover_ports {
        b = b.autodiscover_ports(https, http);
    }
    if let Some(format) = o.autodiscover_format.as_deref() {
        b = b.autodiscover_format(match format {
            "xml" => sfbkit::discovery::autodiscover::Format::Xml,
            "json" => sfbkit::discovery::autodiscover::Format::Json,
            other => {
                return Err(config_error(
                    format!("autodiscover_format={other:?}: use \"xml\" or \"json\""),
                    "invalid-option",
                ));
            }
        });
    }
    if let Some(enabled) = o.autodiscover_over_http {
        b = b.autodiscover_over_http(enabled);
    }
    if let Some(port) = o.a_record_port {
        b = b.a_record_port(port);
    }
    if !o.adapter_preference.is_empty() {
        b = b.adapter_preference(o.adapter_preference);
    }
    if let Some(url) = &o.org_id_sts {
        b = b.org_id_sts(url);
    }
    if let Some(auth) = &o.auth {
        b = b.auth_method(auth.parse().map_err(|e: String| config_error(format!("auth: {e}"), "invalid-option"))?);
    }
    if let Some((min, max)) = &o.tls_dsk_versions {
        let version = |v: &String| {
            v.parse().map_err(|e: String| config_error(format!("tls_dsk_versions: {e}"), "invalid-option"))
        };
        b = b.tls_dsk_versions(sfbkit::auth::tlsdsk::TlsDskVersions { min: version(min)?, max: version(max)? });
    }
    if o.kerberos_ccache.is_some() || !o.kdc.is_empty() || !o.kerberos_etypes.is_empty() {
        let mut k = b.kerberos_config().clone();
        if let Some(cache) = &o.kerberos_ccache {
            k.ccache = Some(cache.clone());
        }
        if !o.kdc.is_empty() {
            k.kdcs = o.kdc.iter().map(|a| socket_addr("kdc", a, Some(88))).collect::<Result<_, _>>()?;
        }
        if !o.kerberos_etypes.is_empty() {
            k.etypes = o
                .kerberos_etypes
                .iter()
                .map(|e| e.parse().map_err(|e: String| config_error(format!("kerberos_etypes: {e}"), "invalid-option")))
                .collect::<Result<_, _>>()?;
        }
        b = b.kerberos(k);
    }
    if let Some(location) = &o.network_location {
        b = b.network_location(
            location.parse().map_err(|e: String| config_error(format!("network_location: {e}"), "invalid-option"))?,
        );
    }
    if let Some((initial, max, jitter)) = o.reconnect {
        if !(0.0..=1.0).contains(&jitter) {
            return Err(config_error(format!("reconnect jitter must be from 0 to 1, not {jitter}"), "invalid-option"));
        }
        b = b.reconnect_policy(sfbkit::ReconnectPolicy {
            initial: seconds("reconnect initial delay", initial)?,
            max: seconds("reconnect maximum delay", max)?,
            jitter,
        });
    }
    if let Some((max_refusals, window, retry_delay)) = o.lockout {
        b = b.lockout_policy(sfbkit::auth::lockout::LockoutPolicy {
            max_refusals,
            window: seconds("lockout window", window)?,
            retry_delay: seconds("lockout retry delay", retry_delay)?,
        });
    }
    Ok(b)
}

/// The facade's errors as `sfbkit.errors` classes.
pub(crate) fn client_failure(e: ClientError) -> Failure {
    let (message, class) = (e.to_string(), e.class());
    match e {
        e if e.is_configuration() => config_error(message, class),
        ClientError::NotSignedIn => Failure::new("NotSignedIn", message)
            .with("error_class", Some(class))
            .with("hint", Some("await client.sign_in() first (or use `async with client:`)")),
        ClientError::SignOut(_) => {
            Failure::new("SignOutFailed", message).with("stage", Some("Sign Out")).with("error_class", Some(class))
        }
        ClientError::Command(c) => Failure::new("CommandFailed", message)
            .with("error_class", Some(class))
            .with("code", c.status_code().map(|code| code.to_string())),
        other => Failure::new("Error", message).with("error_class", Some(other.class())),
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value)
        .map_err(|e| Failure::new("InternalError", format!("cannot encode for Python: {e}")).into())
}

/// The availability a Python `Availability` value names (the serde name: `Busy`, `BeRightBack`, ...).
fn availability(name: &str) -> Result<Availability, Failure> {
    Availability::ALL
        .into_iter()
        .find(|a| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(|s| s == name)).unwrap_or(false))
        .ok_or_else(|| Failure::new("ConfigurationError", format!("{name:?} is not an availability")))
}

/// One sfbkit client (the typed `sfbkit.Client` wraps it).
#[pyclass(frozen, name = "Client", module = "sfbkit._native")]
pub struct NativeClient {
    client: Arc<sfbkit::Client>,
}

impl NativeClient {
    pub(crate) fn build(py: Python<'_>, builder: ClientBuilder, options: Options) -> PyResult<NativeClient> {
        NativeClient::build_into(py, builder, options, None)
    }

    /// Builds the client, into `fleet` when given (its shared resources and counters).
    pub(crate) fn build_into(
        py: Python<'_>,
        builder: ClientBuilder,
        options: Options,
        fleet: Option<&sfbkit::fleet::Fleet>,
    ) -> PyResult<NativeClient> {
        let builder = configure(py, builder, options)?;
        // Building may read CA files and set up the resolver: no GIL needed for that.
        let client = py
            .detach(|| match fleet {
                Some(fleet) => fleet.add(builder),
                None => builder.build().map(Arc::new),
            })
            .map_err(client_failure)?;
        Ok(NativeClient { client })
    }

    pub(crate) fn inner(&self) -> Arc<sfbkit::Client> {
        self.client.clone()
    }

    /// A command without asyncio ([`wait`]).
    fn command_blocking<T, F>(&self, py: Python<'_>, f: impl FnOnce(Arc<sfbkit::Client>) -> F) -> PyResult<T>
    where
        F: std::future::Future<Output = Result<T, ClientError>> + Send,
        T: Send,
    {
        let fut = f(self.client.clone());
        wait(py, async move { fut.await.map_err(|e| client_failure(e).into()) })
    }

    fn command<'py, T, F>(
        &self,
        py: Python<'py>,
        f: impl FnOnce(Arc<sfbkit::Client>) -> F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: std::future::Future<Output = Result<T, ClientError>> + Send + 'static,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let fut = f(self.client.clone());
        awaitable(py, async move { fut.await.map_err(|e| client_failure(e).into()) })
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (sip_uri, options))]
    fn new(py: Python<'_>, sip_uri: &str, options: Options) -> PyResult<NativeClient> {
        guard(|| NativeClient::build(py, ClientBuilder::new(sip_uri), options))
    }

    /// The endpoint id (epid) this client registers with.
    fn epid(&self) -> String {
        self.client.epid().to_string()
    }

    /// Signs in; the report as JSON (the CLI's `--json`).
    fn sign_in<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        awaitable(py, async move { to_json(&client.sign_in().await) })
    }

    fn sign_out<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.sign_out().await })
    }

    /// The next event as JSON (waits for one).
    fn next_event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.clone();
        awaitable(py, async move { to_json(&client.next_event().await) })
    }

    /// The time in seconds until the registrar answered a keep-alive ping.
    fn keep_alive<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.keep_alive().await.map(|d| d.as_secs_f64()) })
    }

    #[pyo3(signature = (availability, activity))]
    fn set_presence<'py>(
        &self,
        py: Python<'py>,
        availability: &str,
        activity: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let availability = self::availability(availability)?;
        self.command(py, |c| async move { c.set_presence(availability, activity.as_deref()).await })
    }

    fn clear_presence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.clear_presence().await })
    }

    #[pyo3(signature = (text))]
    fn set_note<'py>(&self, py: Python<'py>, text: Option<String>) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.set_note(text.as_deref()).await })
    }

    #[pyo3(signature = (uri, name, group))]
    fn add_contact<'py>(
        &self,
        py: Python<'py>,
        uri: String,
        name: String,
        group: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.add_contact(&uri, &name, group.as_deref()).await })
    }

    fn watch_presence<'py>(&self, py: Python<'py>, uri: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.watch_presence(&uri).await })
    }

    fn unwatch_presence<'py>(&self, py: Python<'py>, uri: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.unwatch_presence(&uri).await })
    }

    fn remove_contact<'py>(&self, py: Python<'py>, uri: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.remove_contact(&uri).await })
    }

    fn move_contact<'py>(&self, py: Python<'py>, uri: String, group: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.move_contact(&uri, &group).await })
    }

    fn add_group<'py>(&self, py: Python<'py>, name: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.add_group(&name).await })
    }

    fn rename_group<'py>(&self, py: Python<'py>, id: u32, name: String) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.rename_group(id, &name).await })
    }

    fn remove_group<'py>(&self, py: Python<'py>, id: u32) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |c| async move { c.remove_group(id).await })
    }

    fn is_signed_in(&self) -> bool {
        self.client.is_signed_in()
    }

    /// The contact list as JSON.
    fn contacts(&self) -> PyResult<String> {
        guard(|| to_json(&self.client.contacts()))
    }

    fn presence_of(&self, uri: &str) -> PyResult<Option<String>> {
        guard(|| self.client.presence_of(uri).map(|p| to_json(&p)).transpose())
    }

    fn provisioning(&self) -> PyResult<Option<String>> {
        guard(|| self.client.provisioning().map(|p| to_json(&p)).transpose())
    }

    fn location_profile(&self) -> PyResult<Option<String>> {
        guard(|| {
            self.client
                .location_profile()
                .map(|p| {
                    let rules: Vec<_> = p
                        .rules
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "pattern": r.pattern,
                                "translation": r.translation,
                                "internal_enterprise_extension": r.internal_enterprise_extension,
                                "applicable_for_device_dialing": r.applicable_for_device_dialing,
                            })
                        })
                        .collect();
                    to_json(&serde_json::json!({
                        "name": p.name,
                        "rules": rules,
                        "external_access_prefix": p.external_access_prefix,
                        "optimize_device_dialing": p.optimize_device_dialing,
                    }))
                })
                .transpose()
        })
    }

    fn normalize(&self, number: &str) -> PyResult<Option<String>> {
        guard(|| self.client.normalize(number).map(|n| to_json(&n)).transpose())
    }

    fn bad_signatures(&self) -> u64 {
        self.client.bad_signatures()
    }

    // Blocking forms, for load tools on gevent (Locust's sfbkit.locust), which call them from a thread pool.

    fn sign_out_blocking(&self, py: Python<'_>) -> PyResult<()> {
        self.command_blocking(py, |c| async move { c.sign_out().await })
    }

    fn keep_alive_blocking(&self, py: Python<'_>) -> PyResult<f64> {
        self.command_blocking(py, |c| async move { c.keep_alive().await.map(|d| d.as_secs_f64()) })
    }

    #[pyo3(signature = (availability, activity))]
    fn set_presence_blocking(&self, py: Python<'_>, availability: &str, activity: Option<String>) -> PyResult<()> {
        let availability = self::availability(availability)?;
        self.command_blocking(py, |c| async move { c.set_presence(availability, activity.as_deref()).await })
    }

    fn watch_presence_blocking(&self, py: Python<'_>, uri: String) -> PyResult<()> {
        self.command_blocking(py, |c| async move { c.watch_presence(&uri).await })
    }

    /// Another listener on the events, from now on (`Client::subscribe_events`).
    fn subscribe_events(&self) -> NativeEventStream {
        NativeEventStream { stream: Arc::new(tokio::sync::Mutex::new(self.client.subscribe_events())) }
    }
}

/// One extra listener on a client's events (`sfbkit.Client.subscribe()`).
#[pyclass(frozen, name = "EventStream", module = "sfbkit._native")]
pub struct NativeEventStream {
    stream: Arc<tokio::sync::Mutex<sfbkit::EventStream>>,
}

#[pymethods]
impl NativeEventStream {
    /// The next event as JSON (waits for one).
    fn next_event<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stream = self.stream.clone();
        awaitable(py, async move { to_json(&stream.lock().await.next().await) })
    }
}
