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

mod builder;

pub use builder::ClientBuilder;
pub(crate) use builder::resolver_for;

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
    #[error("the TLS-DSK versions are out of order: the minimum {} is above the maximum {}", .0.min, .0.max)]
    TlsDskVersions(crate::auth::tlsdsk::TlsDskVersions),
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
            ClientError::TlsDskVersions(_) => "invalid-tls-versions",
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
            ClientError::TlsDskVersions(_) => "give a minimum TLS-DSK version at or below the maximum (1.0, 1.1, 1.2)",
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
                | ClientError::TlsDskVersions(_)
                | ClientError::Resolver(_)
                | ClientError::Trust(_)
        )
    }
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
        if let Some(meter) = &self.inner.config.meter {
            meter.logon(&report);
        }
        report
    }

    /// Whether this client adds to `counters` ([`ClientBuilder::meter`]).
    pub(crate) fn is_metered_into(&self, counters: &Arc<crate::fleet::FleetCounters>) -> bool {
        self.inner.config.meter.as_ref().is_some_and(|m| Arc::ptr_eq(m, counters))
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
        tx.send(Box::new(Request { command, done })).await.map_err(|_| ClientError::NotSignedIn)?;
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
        ContactList::clone(&self.view().contacts)
    }

    /// The presence of one contact, as last notified.
    pub fn presence_of(&self, uri: &str) -> Option<ContactPresence> {
        self.view().presence.get(&crate::contacts::normalize_uri(uri)).cloned()
    }

    /// In-band provisioning (server configuration and policies), once received.
    pub fn provisioning(&self) -> Option<Provisioning> {
        self.view().provisioning.as_deref().cloned()
    }

    /// The user's own data from roaming-self (containers, watchers, own publications), once received.
    pub fn self_data(&self) -> Option<crate::presence::SelfData> {
        self.view().self_data.as_deref().cloned()
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
