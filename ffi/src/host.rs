//! What the host app supplies, as foreign traits (uniffi `export(foreign)`): the keystore, the media devices,
//! the network, trust decisions and an event listener. Each adapter below only forwards to the host and
//! converts the answer into the core's types; the core decides what to do with it.
//!
//! Every method returns `Result<_, HostError>`: an exception the host's implementation throws arrives as
//! [`HostError::Failed`] instead of aborting the process.

use std::net::IpAddr;
use std::sync::Arc;

use sfbkit::keystore::KeystoreError;
use sfbkit::local::{DeviceError, NetworkError};

use crate::events::Event;
use crate::types::{Adapter, Device, DeviceKind};

/// What went wrong in the host's implementation of a foreign trait.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum HostError {
    /// The facility is not available (no keystore in this context, no permission to list devices).
    #[error("not available: {detail}")]
    Unavailable { detail: String },
    /// The platform refused (keystore locked, quota, user denied).
    #[error("refused: {detail}")]
    Refused { detail: String },
    /// Anything else, including an exception the implementation threw.
    #[error("{detail}")]
    Failed { detail: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for HostError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> HostError {
        HostError::Failed { detail: format!("the host's implementation threw: {}", e.reason) }
    }
}

/// Where TLS-DSK certificates and their keys are kept between sign-ins: the iOS Keychain, the Android
/// Keystore (wrapping key) with encrypted app storage. Entries are opaque bytes under (service, account).
#[uniffi::export(foreign)]
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when there is no entry.
    fn get(&self, service: String, account: String) -> Result<Option<Vec<u8>>, HostError>;
    /// Creates or replaces the entry.
    fn set(&self, service: String, account: String, secret: Vec<u8>) -> Result<(), HostError>;
    /// Removes the entry; `false` when there was none.
    fn delete(&self, service: String, account: String) -> Result<bool, HostError>;
    /// What this store is, for reports (`iOS Keychain`, `Android Keystore`).
    fn describe(&self) -> String;
}

fn keystore_error(e: HostError) -> KeystoreError {
    match e {
        HostError::Unavailable { detail } => KeystoreError::Unavailable(detail),
        HostError::Refused { detail } | HostError::Failed { detail } => KeystoreError::Refused(detail),
    }
}

pub(crate) struct HostKeystore(pub(crate) Arc<dyn SecretStore>);

impl sfbkit::keystore::SecretStore for HostKeystore {
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError> {
        self.0.get(service.into(), account.into()).map_err(keystore_error)
    }
    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        self.0.set(service.into(), account.into(), secret.to_vec()).map_err(keystore_error)
    }
    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError> {
        self.0.delete(service.into(), account.into()).map_err(keystore_error)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
}

/// The media devices, from the platform's media APIs (AVAudioSession and AVCaptureDevice on iOS, AudioManager
/// and CameraManager on Android). The sign-in report lists what it returns (Local Discovery).
#[uniffi::export(foreign)]
pub trait DeviceProvider: Send + Sync {
    /// Microphones.
    fn audio_capture(&self) -> Result<Vec<Device>, HostError>;
    /// Speakers and earphones.
    fn audio_render(&self) -> Result<Vec<Device>, HostError>;
    /// Cameras.
    fn video_capture(&self) -> Result<Vec<Device>, HostError>;
    /// Remarks for the report, such as why a volume cannot be read.
    fn notes(&self) -> Result<Vec<String>, HostError>;
}

pub(crate) struct HostDevices(pub(crate) Arc<dyn DeviceProvider>);

impl HostDevices {
    fn list(
        &self,
        kind: DeviceKind,
        listed: Result<Vec<Device>, HostError>,
    ) -> Result<Vec<sfbkit::local::Device>, DeviceError> {
        let devices = listed.map_err(|e| DeviceError::Host { detail: e.to_string() })?;
        // Each device counts as the kind of the method that listed it, whatever kind the host put in it.
        Ok(devices.into_iter().map(|d| Device { kind, ..d }.into()).collect())
    }
}

impl sfbkit::local::DeviceProvider for HostDevices {
    fn audio_capture(&self) -> Result<Vec<sfbkit::local::Device>, DeviceError> {
        self.list(DeviceKind::AudioCapture, self.0.audio_capture())
    }
    fn audio_render(&self) -> Result<Vec<sfbkit::local::Device>, DeviceError> {
        self.list(DeviceKind::AudioRender, self.0.audio_render())
    }
    fn video_capture(&self) -> Result<Vec<sfbkit::local::Device>, DeviceError> {
        self.list(DeviceKind::VideoCapture, self.0.video_capture())
    }
    fn notes(&self) -> Vec<String> {
        self.0.notes().unwrap_or_else(|e| vec![format!("the device provider's notes failed: {e}")])
    }
}

/// What the adapter choice needs to know about the device's network (NWPathMonitor on iOS,
/// ConnectivityManager on Android): the interfaces, and which local address reaches a server.
#[uniffi::export(foreign)]
pub trait NetworkInfo: Send + Sync {
    /// Every interface, up or down.
    fn adapters(&self) -> Result<Vec<Adapter>, HostError>;
    /// The local address (text) the platform would use as source towards `destination` (an IP address as
    /// text), or `None` when it has no route.
    fn route_to(&self, destination: String) -> Result<Option<String>, HostError>;
    /// The active network's DNS servers (`192.0.2.53`, `[2001:db8::53]:53`): `LinkProperties.getDnsServers()` on
    /// Android, where the SDK cannot read them itself. Asked once, when the client is built, unless
    /// `ClientBuilder.dnsServers` gave them; empty leaves the system's (iOS and macOS: SystemConfiguration).
    fn dns_servers(&self) -> Result<Vec<String>, HostError>;
}

pub(crate) struct HostNetwork(pub(crate) Arc<dyn NetworkInfo>);

impl sfbkit::local::NetworkInfo for HostNetwork {
    fn adapters(&self) -> Result<Vec<sfbkit::local::Adapter>, NetworkError> {
        let unavailable = |detail: String| NetworkError::Unavailable { detail };
        let adapters = self.0.adapters().map_err(|e| unavailable(e.to_string()))?;
        adapters
            .into_iter()
            .map(|a| {
                let addresses = a
                    .addresses
                    .iter()
                    .map(|text| {
                        text.parse::<IpAddr>().map_err(|_| {
                            unavailable(format!("the host listed {text:?} for adapter {}: not an IP address", a.name))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(sfbkit::local::Adapter {
                    name: a.name,
                    index: a.index,
                    addresses,
                    is_up: a.is_up,
                    is_loopback: a.is_loopback,
                    has_default_route: a.has_default_route,
                    kind: a.kind,
                })
            })
            .collect()
    }

    fn route_to(&self, dest: IpAddr) -> Option<IpAddr> {
        match self.0.route_to(dest.to_string()) {
            Ok(Some(text)) => text.parse().ok().or_else(|| {
                tracing::warn!(answer = %text, "the host's route_to answer is not an IP address; no route assumed");
                None
            }),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the host's route_to failed; no route assumed");
                None
            }
        }
    }
}

/// What a server outside the trusted domains is for, when the client asks the host whether it may have the
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustQuestion {
    /// The server's host name.
    pub host: String,
    /// The URL (or `host:port` for the registrar).
    pub target: String,
    /// What the server would be used for, in words (`the registrar`, `the web ticket service`, ...).
    pub purpose: String,
    /// Where its address came from, in words (`autodiscover`, `DNS SRV`, `a redirect`, ...).
    pub learned_from: String,
}

/// Asked once per host, before credentials go to a server outside the SIP domain and the trusted domains
/// (what the Microsoft client asks the user). Answering `false`, or not installing a decider, refuses.
#[uniffi::export(foreign)]
pub trait TrustDecider: Send + Sync {
    fn allow(&self, question: TrustQuestion) -> Result<bool, HostError>;
}

pub(crate) struct HostTrust(pub(crate) Arc<dyn TrustDecider>);

impl sfbkit::trust::TrustDecider for HostTrust {
    fn allow<'a>(&'a self, question: &'a sfbkit::trust::TrustQuestion) -> sfbkit::discovery::BoxFuture<'a, bool> {
        let asked = TrustQuestion {
            host: question.host.clone(),
            target: question.target.clone(),
            purpose: question.purpose.to_string(),
            learned_from: question.learned.to_string(),
        };
        let decider = self.0.clone();
        Box::pin(async move {
            // The host may show a dialog: its answer is awaited off the runtime's worker threads.
            match tokio::task::spawn_blocking(move || decider.allow(asked)).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "the host's trust decider failed: the server is refused");
                    false
                }
                Err(_) => false,
            }
        })
    }
}

/// Receives a client's events, in order, on a thread of the SDK (not the app's main thread).
#[uniffi::export(foreign)]
pub trait EventListener: Send + Sync {
    fn on_event(&self, event: Event) -> Result<(), HostError>;
}
