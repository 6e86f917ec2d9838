//! [`OsKeystore`]: the platform keystore behind [`SecretStore`], through keyring-core store crates
//! (DEPENDENCIES.md §3).
//!
//! On Linux there are two backends, chosen by [`OsKeystore::new`] and observable through
//! [`OsKeystore::backend`] and [`OsKeystore::selection_reason`]:
//!
//! 1. [`Backend::SecretService`]: the freedesktop Secret Service (gnome-keyring, KWallet) over the
//!    D-Bus session bus, through `zbus-secret-service-keyring-store` (pure Rust). Used when
//!    `DBUS_SESSION_BUS_ADDRESS` is set, `org.freedesktop.secrets` answers an `OpenSession`
//!    within [`PROBE_TIMEOUT`], and its default collection exists and is unlocked (a locked one,
//!    as in an SSH login to a desktop machine, would refuse every write with nobody to answer the
//!    unlock prompt; gnome-keyring dismisses it at once when no prompter can show). Items go to the user's default (login) collection, which the
//!    keyring daemon keeps encrypted on disk with the login password, so a desktop user keeps the
//!    certificate across reboots. The secret crosses the bus encrypted (DH-negotiated AES session).
//! 2. [`Backend::KernelKeyutils`]: the Linux kernel keyutils persistent keyring. Works headless (CI,
//!    servers, containers) but is a RAM cache: lost at reboot, and it expires when unused.
//!
//! [`OsKeystore::with_backend`] forces one and fails with
//! [`KeystoreError::BackendUnavailable`] (saying what is missing and what to do) rather than fall
//! back. Every Secret Service call runs on a helper thread bounded by a timeout, so a keyring daemon
//! that never answers (or an unlock prompt nobody sees) cannot hang a sign-in forever.

use std::sync::Arc;
use std::time::Duration;

use super::{KeystoreError, SecretStore};

/// How long [`OsKeystore::new`] waits for `org.freedesktop.secrets` to answer before it settles
/// on kernel keyutils.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one Secret Service read, write or delete may take; long enough for a person to answer
/// an unlock prompt of the keyring daemon.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(120);

/// Which keystore an [`OsKeystore`] writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The freedesktop Secret Service (gnome-keyring, KWallet) on the D-Bus session bus: persistent.
    SecretService,
    /// The Linux kernel keyutils persistent keyring: headless, RAM only.
    KernelKeyutils,
}

impl Backend {
    /// A name for reports and logs.
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "freedesktop Secret Service",
            Backend::KernelKeyutils => "Linux kernel keyutils",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What keeps a [`Backend`] from being used; each message says what is missing and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailability {
    /// No D-Bus session bus address in the environment.
    #[error(
        "DBUS_SESSION_BUS_ADDRESS is not set, so there is no D-Bus session bus: run inside a desktop session \
         (or under dbus-run-session), or use the kernel keyutils backend"
    )]
    NoSessionBus,
    /// The bus could not be reached, or nothing answered as `org.freedesktop.secrets`.
    #[error(
        "org.freedesktop.secrets did not answer on the session bus ({0}): start gnome-keyring-daemon \
         --components=secrets (package gnome-keyring) or KWallet, or use the kernel keyutils backend"
    )]
    SecretServiceNotRunning(String),
    /// The service has no default collection (no login keyring or wallet set up).
    #[error(
        "the Secret Service has no default collection ({0}): create a login keyring (seahorse) or wallet, or \
         use the kernel keyutils backend"
    )]
    NoDefaultCollection(String),
    /// The default collection is locked, so every read and write would ask for the password
    /// (typical of an SSH login to a desktop machine).
    #[error(
        "the Secret Service login keyring is locked: log in to the desktop session or unlock it (e.g. \
         gnome-keyring-daemon --unlock), or use the kernel keyutils backend"
    )]
    Locked,
    /// `org.freedesktop.secrets` did not answer in time.
    #[error(
        "org.freedesktop.secrets did not answer within {0} s: check the keyring daemon (gnome-keyring-daemon, \
         kwalletd) is healthy and unlocked, or use the kernel keyutils backend"
    )]
    TimedOut(u64),
    /// The kernel refused the persistent keyring.
    #[error(
        "the kernel keyutils store could not be opened ({0}): the kernel needs CONFIG_PERSISTENT_KEYRINGS and \
         the keyctl system calls (containers may block them under seccomp); use the Secret Service backend or \
         supply a SecretStore"
    )]
    Keyutils(String),
    /// This build has no such backend on this platform.
    #[error(
        "this platform has no such backend in sfbkit (Apple Keychain, Windows Credential Manager and Android \
         Keystore are not wired): the host app must supply its own SecretStore"
    )]
    NotThisPlatform,
}

/// The platform's keystore through keyring-core; see the module docs for how the backend is chosen.
pub struct OsKeystore {
    store: Arc<keyring_core::CredentialStore>,
    backend: Backend,
    reason: String,
}

impl std::fmt::Debug for OsKeystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsKeystore").field("backend", &self.backend).field("reason", &self.reason).finish()
    }
}

impl OsKeystore {
    /// The keystore of this platform. Linux: the Secret Service when a session bus is present,
    /// `org.freedesktop.secrets` answers and its login keyring is unlocked, else kernel keyutils; the choice and why are logged (info)
    /// and kept in [`OsKeystore::selection_reason`]. Elsewhere: `Unavailable`, supply a [`SecretStore`].
    pub fn new() -> Result<OsKeystore, KeystoreError> {
        #[cfg(target_os = "linux")]
        {
            let secret_service = match open_secret_service(PROBE_TIMEOUT, true) {
                Ok(store) => {
                    let reason = "a D-Bus session bus is present, org.freedesktop.secrets answered and its login \
                                  keyring is unlocked"
                        .to_string();
                    tracing::info!(backend = %Backend::SecretService, %reason, "keystore selected");
                    return Ok(OsKeystore { store, backend: Backend::SecretService, reason });
                }
                Err(why) => why,
            };
            match open_keyutils() {
                Ok(store) => {
                    let reason = format!("Secret Service not used: {secret_service}");
                    tracing::info!(backend = %Backend::KernelKeyutils, %reason, "keystore selected");
                    Ok(OsKeystore { store, backend: Backend::KernelKeyutils, reason })
                }
                Err(why) => Err(KeystoreError::Unavailable(format!(
                    "neither Linux backend can be used: {}: {secret_service}; {}: {why}",
                    Backend::SecretService,
                    Backend::KernelKeyutils
                ))),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(KeystoreError::Unavailable(Unavailability::NotThisPlatform.to_string()))
        }
    }

    /// The given backend, or `BackendUnavailable` saying what is missing (no fallback). A forced
    /// Secret Service need not be unlocked now: the daemon asks the user when it is used.
    pub fn with_backend(backend: Backend) -> Result<OsKeystore, KeystoreError> {
        let unavailable = |reason| KeystoreError::BackendUnavailable { backend, reason };
        #[cfg(target_os = "linux")]
        {
            let store = match backend {
                Backend::SecretService => open_secret_service(PROBE_TIMEOUT, false).map_err(unavailable)?,
                Backend::KernelKeyutils => open_keyutils().map_err(unavailable)?,
            };
            let reason = "chosen by the application (OsKeystore::with_backend)".to_string();
            tracing::info!(%backend, %reason, "keystore selected");
            Ok(OsKeystore { store, backend, reason })
        }
        #[cfg(not(target_os = "linux"))]
        {
            Err(unavailable(Unavailability::NotThisPlatform))
        }
    }

    /// Which backend this keystore writes to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Why this backend was chosen (for reports; no secrets).
    pub fn selection_reason(&self) -> &str {
        &self.reason
    }

    fn entry(&self, service: &str, account: &str) -> Result<keyring_core::Entry, KeystoreError> {
        match self.backend {
            // A label for keyring UIs (Seahorse, KWalletManager); the crate's default is `keyring:user@service`.
            Backend::SecretService => {
                let label = format!("sfbkit TLS-DSK certificate ({account})");
                let modifiers = std::collections::HashMap::from([("label", label.as_str())]);
                self.store.build(service, account, Some(&modifiers)).map_err(map_err)
            }
            Backend::KernelKeyutils => self.store.build(service, account, None).map_err(map_err),
        }
    }

    /// Runs one operation on an entry: directly for keyutils (system calls that do not block),
    /// on a helper thread bounded by [`OPERATION_TIMEOUT`] for the Secret Service (D-Bus calls can
    /// wait on a daemon or an unlock prompt).
    fn run<T: Send + 'static>(
        &self,
        service: &str,
        account: &str,
        what: &'static str,
        op: impl FnOnce(&keyring_core::Entry) -> Result<T, keyring_core::Error> + Send + 'static,
    ) -> Result<Result<T, keyring_core::Error>, KeystoreError> {
        let entry = self.entry(service, account)?;
        match self.backend {
            Backend::KernelKeyutils => Ok(op(&entry)),
            Backend::SecretService => bounded(what, OPERATION_TIMEOUT, move || op(&entry)).map_err(|secs| {
                KeystoreError::Refused(format!(
                    "the Secret Service did not finish the {what} within {secs} s: unlock the keyring if it \
                     asks, or check gnome-keyring-daemon / kwalletd"
                ))
            }),
        }
    }
}

/// Runs `f` on a helper thread and waits at most `timeout`; `Err(seconds)` when it did not finish
/// (the thread is left to end on its own when the call returns).
fn bounded<T: Send + 'static>(
    what: &'static str,
    timeout: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, u64> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new().name(format!("sfbkit-keystore-{what}")).spawn(move || {
        let _ = tx.send(f());
    });
    if spawned.is_err() {
        // No thread to run it on (resource exhaustion): reported like a call that never finished.
        return Err(0);
    }
    rx.recv_timeout(timeout).map_err(|_| timeout.as_secs())
}

/// Opens the Secret Service store: the session bus must be named in the environment and
/// `org.freedesktop.secrets` must answer (the store's constructor opens a session with it); with
/// `require_unlocked`, its default collection must also exist and be unlocked.
#[cfg(target_os = "linux")]
fn open_secret_service(
    timeout: Duration,
    require_unlocked: bool,
) -> Result<Arc<keyring_core::CredentialStore>, Unavailability> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
        return Err(Unavailability::NoSessionBus);
    }
    let probe = move || {
        // Display of these errors names the bus and the D-Bus error; they carry no secret.
        let store = zbus_secret_service_keyring_store::Store::new()
            .map_err(|e| Unavailability::SecretServiceNotRunning(e.to_string()))?;
        if require_unlocked {
            default_collection_unlocked()?;
        }
        Ok(store as Arc<keyring_core::CredentialStore>)
    };
    bounded("probe", timeout, probe).unwrap_or_else(|secs| Err(Unavailability::TimedOut(secs)))
}

/// Whether the default collection (gnome-keyring's `login`, KWallet's wallet) exists and is
/// unlocked. A plain (unencrypted) session suffices: no secret is transferred.
#[cfg(target_os = "linux")]
fn default_collection_unlocked() -> Result<(), Unavailability> {
    use secret_service::{EncryptionType, blocking::SecretService};
    let service = SecretService::connect(EncryptionType::Plain)
        .map_err(|e| Unavailability::SecretServiceNotRunning(e.to_string()))?;
    let collection =
        service.get_default_collection().map_err(|e| Unavailability::NoDefaultCollection(e.to_string()))?;
    match collection.is_locked() {
        Ok(false) => Ok(()),
        Ok(true) => Err(Unavailability::Locked),
        Err(e) => Err(Unavailability::NoDefaultCollection(e.to_string())),
    }
}

/// Opens the kernel keyutils store.
#[cfg(target_os = "linux")]
fn open_keyutils() -> Result<Arc<keyring_core::CredentialStore>, Unavailability> {
    // DEPENDENCIES.md §3: the store creates the persistent keyring lazily inside the first
    // entry, and that first write is refused; fetching it once here avoids that.
    let _ = linux_keyutils::KeyRing::get_persistent(linux_keyutils::KeyRingIdentifier::Session);
    match linux_keyutils_keyring_store::Store::new() {
        Ok(store) => Ok(store),
        Err(e) => Err(Unavailability::Keyutils(e.to_string())),
    }
}

fn map_err(e: keyring_core::Error) -> KeystoreError {
    use keyring_core::Error as E;
    match e {
        E::NoStorageAccess(p) => KeystoreError::Refused(format!(
            "{p} (a locked keyring must be unlocked, e.g. by logging in to the desktop)"
        )),
        // Never the attached bytes: they are the secret.
        E::BadDataFormat(_, p) => KeystoreError::Damaged(p.to_string()),
        E::BadEncoding(_) => KeystoreError::Damaged("not the expected encoding".into()),
        E::Ambiguous(entries) => KeystoreError::Damaged(format!(
            "{} keystore items match one account: remove the extra ones (e.g. with seahorse)",
            entries.len()
        )),
        E::NoDefaultStore => KeystoreError::Unavailable("no default store".into()),
        // Display of the other variants carries no secret bytes.
        other => KeystoreError::Refused(other.to_string()),
    }
}

impl SecretStore for OsKeystore {
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError> {
        match self.run(service, account, "read", |e| e.get_secret())? {
            Ok(s) => Ok(Some(s)),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }
    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        let secret = zeroize::Zeroizing::new(secret.to_vec());
        self.run(service, account, "write", move |e| e.set_secret(&secret))?.map_err(map_err)
    }
    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError> {
        match self.run(service, account, "delete", |e| e.delete_credential())? {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_err(e)),
        }
    }
    fn describe(&self) -> String {
        match self.backend {
            Backend::SecretService => "freedesktop Secret Service (gnome-keyring / KWallet)".into(),
            Backend::KernelKeyutils => "Linux kernel keyutils".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_returns_or_times_out() {
        assert_eq!(bounded("t", Duration::from_secs(5), || 7), Ok(7));
        let slow = bounded("t", Duration::from_millis(50), || std::thread::sleep(Duration::from_secs(2)));
        assert_eq!(slow, Err(0), "gives up after the timeout (0 whole seconds here)");
    }

    #[test]
    fn unavailability_says_what_to_do() {
        let msg =
            KeystoreError::BackendUnavailable { backend: Backend::SecretService, reason: Unavailability::NoSessionBus }
                .to_string();
        assert!(msg.contains("freedesktop Secret Service") && msg.contains("DBUS_SESSION_BUS_ADDRESS"), "{msg}");
        let msg = Unavailability::SecretServiceNotRunning("ServiceUnknown".into()).to_string();
        assert!(msg.contains("gnome-keyring") && msg.contains("ServiceUnknown"), "{msg}");
        assert!(Unavailability::NotThisPlatform.to_string().contains("SecretStore"));
    }

    /// The real kernel keystore of this machine (DEPENDENCIES.md §3: works headless, as root and as
    /// other users, for entries below 32 767 bytes).
    #[cfg(target_os = "linux")]
    #[test]
    fn kernel_keyutils_round_trip() {
        let store = OsKeystore::with_backend(Backend::KernelKeyutils).expect("keyutils store");
        assert_eq!(store.backend(), Backend::KernelKeyutils);
        let account = format!("test-{}|pool", rand::random::<u64>());
        let blob = vec![0x30; 3200];
        store.set(super::super::SERVICE, &account, &blob).expect("first write in this process succeeds");
        assert_eq!(store.get(super::super::SERVICE, &account).unwrap(), Some(blob));
        assert!(store.delete(super::super::SERVICE, &account).unwrap());
        assert_eq!(store.get(super::super::SERVICE, &account).unwrap(), None);
        assert!(!store.delete(super::super::SERVICE, &account).unwrap());
        assert_eq!(store.describe(), "Linux kernel keyutils");
    }
}
