//! Where the TLS-DSK user certificate and its private key live between sign-ins: the OS keystore,
//! never a file in the clear ([MS-OCAUTHWS] certificate provisioning, REFERENCE.md §2.4).
//!
//! - [`SecretStore`]: the seam. Host apps implement it (Android Keystore, an app's own vault);
//!   [`OsKeystore`] uses the platform's keystore through keyring-core, and [`MemoryStore`] keeps
//!   secrets in this process only.
//! - [`StoredCertificate`]: the certificate chain and PKCS#8 key as one compact blob, so that one
//!   keystore entry holds them (keyutils caps an entry at 32 767 bytes; ours is about 2 KB).
//!
//! # Backends per platform (DEPENDENCIES.md §3)
//!
//! | platform | what [`OsKeystore`] uses | kept across reboot | evidence |
//! |---|---|---|---|
//! | Linux desktop (session bus + `org.freedesktop.secrets`, login keyring unlocked) | [`Backend::SecretService`]: gnome-keyring or KWallet via `zbus-secret-service-keyring-store` | yes, in the login keyring, encrypted on disk by the daemon | `core/tests/secret_service.rs` runs a real gnome-keyring-daemon on a private dbus-daemon |
//! | Linux headless (no session bus, or no secrets service) | [`Backend::KernelKeyutils`]: kernel persistent keyring via `linux-keyutils-keyring-store` | no: a RAM cache, lost at reboot and expiring when unused | `os::tests::kernel_keyutils_round_trip`; DEPENDENCIES.md §3 (root and `nobody`, size limits, first-write quirk) |
//! | macOS / iOS | **not wired**: [`OsKeystore::new`] returns `Unavailable` | — | — |
//! | Windows | **not wired** (no Credential Manager backend) | — | — |
//! | Android | **not wired** (no Android Keystore backend) | — | — |
//!
//! Where a platform is not wired, the host app passes its own [`SecretStore`] (for example one
//! backed by the Apple Keychain, Windows Credential Manager or Android Keystore through its own
//! bindings); sfbkit never falls back to writing the key to a file. On Linux, [`OsKeystore::new`]
//! picks the Secret Service when `DBUS_SESSION_BUS_ADDRESS` is set, `org.freedesktop.secrets`
//! answers within [`PROBE_TIMEOUT`] and its login keyring is unlocked, else kernel keyutils, and
//! logs the choice and the reason
//! (tracing, info); [`OsKeystore::with_backend`] forces one and fails with
//! [`KeystoreError::BackendUnavailable`] instead of falling back. Secrets never appear in logs,
//! errors or `Debug` output.
//!
//! keyutils quirk: its first write in a fresh process fails unless the persistent keyring is
//! fetched first, which the keyutils backend does when it is opened.

use std::collections::HashMap;
use std::sync::Mutex;

use zeroize::{ZeroizeOnDrop, Zeroizing};

mod os;
pub use os::{Backend, OPERATION_TIMEOUT, OsKeystore, PROBE_TIMEOUT, Unavailability};

/// The keystore service name every sfbkit entry uses.
pub const SERVICE: &str = "sfbkit";

/// Why the keystore could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    /// No keystore is available on this platform or in this session.
    #[error("no OS keystore is available: {0}")]
    Unavailable(String),
    /// The backend asked for with [`OsKeystore::with_backend`] cannot be used here.
    #[error("the {backend} keystore cannot be used: {reason}")]
    BackendUnavailable { backend: Backend, reason: Unavailability },
    /// The keystore refused (locked, permission, quota).
    #[error("the keystore refused the operation: {0}")]
    Refused(String),
    /// A stored entry is not in the format sfbkit writes.
    #[error("a keystore entry is damaged: {0}")]
    Damaged(String),
}

/// A place to keep secrets by (service, account).
pub trait SecretStore: Send + Sync {
    /// The secret, or `None` when there is no entry.
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError>;
    /// Creates or replaces the entry.
    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError>;
    /// Removes the entry; `false` when there was none.
    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError>;
    /// What this store is, for reports (`Linux kernel keyutils`, `memory`).
    fn describe(&self) -> String;
}

/// Secrets kept in this process only (tests, and hosts that persist nothing). Each secret is wiped when
/// it is replaced, deleted or the store is dropped.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<(String, String), Secret>>,
}

/// A stored secret: wiped when it leaves the map.
type Secret = Zeroizing<Vec<u8>>;

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore { .. }")
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(&(service.to_string(), account.to_string())).map(|secret| secret.to_vec()))
    }
    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.insert((service.to_string(), account.to_string()), Zeroizing::new(secret.to_vec()));
        Ok(())
    }
    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.remove(&(service.to_string(), account.to_string())).is_some())
    }
    fn describe(&self) -> String {
        "memory (this process only)".into()
    }
}

/// A TLS-DSK user certificate (leaf first) and its private key, as one keystore entry. `Debug` shows the
/// number of certificates only; the private key is wiped when the value (each clone) is dropped.
#[derive(Clone, PartialEq, Eq, ZeroizeOnDrop)]
pub struct StoredCertificate {
    #[zeroize(skip)]
    pub cert_chain_der: Vec<Vec<u8>>,
    pub key_pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredCertificate").field("certificates", &self.cert_chain_der.len()).finish_non_exhaustive()
    }
}

/// Blob layout: `SFBK` `1` then length-prefixed (u32 BE) items: key, then each certificate.
const MAGIC: &[u8; 5] = b"SFBK1";
/// Upper bound on one item, far above a real key or certificate (a damaged entry is refused).
const MAX_ITEM: usize = 64 * 1024;

impl StoredCertificate {
    /// The keystore account for a user's certificate on a pool (one entry per user and pool).
    pub fn account(sip_uri: &str, pool: &str) -> String {
        format!(
            "{}|{}",
            sip_uri.strip_prefix("sip:").unwrap_or(sip_uri).to_ascii_lowercase(),
            pool.to_ascii_lowercase()
        )
    }

    /// The entry's bytes. They hold the private key: wipe them after use (as [`StoredCertificate::save`] does).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for item in std::iter::once(&self.key_pkcs8_der).chain(self.cert_chain_der.iter()) {
            out.extend_from_slice(&(item.len() as u32).to_be_bytes());
            out.extend_from_slice(item);
        }
        out
    }

    /// Reads an entry written by [`StoredCertificate::encode`]; anything else is `Damaged`.
    pub fn decode(blob: &[u8]) -> Result<StoredCertificate, KeystoreError> {
        let damaged = |why: &str| KeystoreError::Damaged(why.to_string());
        let mut rest = blob.strip_prefix(MAGIC.as_slice()).ok_or_else(|| damaged("not an sfbkit certificate entry"))?;
        // The first item is the private key: every copy made here is wiped, whichever way this returns.
        let mut items: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        while !rest.is_empty() {
            let (len, tail) = rest.split_at_checked(4).ok_or_else(|| damaged("truncated length"))?;
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len > MAX_ITEM {
                return Err(damaged("item larger than any certificate"));
            }
            let (item, tail) = tail.split_at_checked(len).ok_or_else(|| damaged("truncated item"))?;
            items.push(Zeroizing::new(item.to_vec()));
            rest = tail;
        }
        let mut items = items.into_iter();
        let key = items.next().ok_or_else(|| damaged("no key"))?;
        let certificate =
            StoredCertificate { cert_chain_der: items.map(|c| c.to_vec()).collect(), key_pkcs8_der: key.to_vec() };
        if certificate.cert_chain_der.is_empty() {
            return Err(damaged("no certificate"));
        }
        Ok(certificate)
    }

    /// Loads the certificate for (user, pool) from `store`; a damaged entry is deleted and
    /// reported as absent, so that provisioning replaces it.
    pub fn load(
        store: &dyn SecretStore,
        sip_uri: &str,
        pool: &str,
    ) -> Result<Option<StoredCertificate>, KeystoreError> {
        let account = StoredCertificate::account(sip_uri, pool);
        match store.get(SERVICE, &account)?.map(Zeroizing::new) {
            None => Ok(None),
            Some(blob) => match StoredCertificate::decode(&blob) {
                Ok(c) => Ok(Some(c)),
                Err(e) => {
                    tracing::warn!(%account, error = %e, "damaged certificate entry removed");
                    store.delete(SERVICE, &account)?;
                    Ok(None)
                }
            },
        }
    }

    /// Stores the certificate for (user, pool).
    pub fn save(&self, store: &dyn SecretStore, sip_uri: &str, pool: &str) -> Result<(), KeystoreError> {
        store.set(SERVICE, &StoredCertificate::account(sip_uri, pool), &Zeroizing::new(self.encode()))
    }

    /// The leaf certificate's validity (notBefore, notAfter), if it can be read.
    pub fn validity(&self) -> Option<(std::time::SystemTime, std::time::SystemTime)> {
        use x509_cert::der::Decode;
        let leaf = x509_cert::Certificate::from_der(self.cert_chain_der.first()?).ok()?;
        let v = &leaf.tbs_certificate.validity;
        let at = |t: x509_cert::time::Time| std::time::SystemTime::UNIX_EPOCH + t.to_unix_duration();
        Some((at(v.not_before), at(v.not_after)))
    }

    /// When the certificate should be replaced: at half its lifetime (see [`StoredCertificate::renewal_due`]).
    pub fn renewal_at(&self) -> Option<std::time::SystemTime> {
        let (not_before, not_after) = self.validity()?;
        Some(not_before + not_after.duration_since(not_before).unwrap_or_default() / 2)
    }

    /// Why the certificate should be replaced at `now`, if it should: it has expired, or it is
    /// past half its lifetime (renewed early, as the Microsoft client was fixed to do: it used to
    /// wait until less than 12 h were left, FIELD-NOTES.md §2.7).
    pub fn renewal_due(&self, now: std::time::SystemTime) -> Option<String> {
        let Some((not_before, not_after)) = self.validity() else {
            return Some("the stored certificate cannot be read".into());
        };
        if now >= not_after {
            return Some("the stored certificate has expired".into());
        }
        let lifetime = not_after.duration_since(not_before).unwrap_or_default();
        let age = now.duration_since(not_before).unwrap_or_default();
        (age >= lifetime / 2).then(|| {
            let left = not_after.duration_since(now).unwrap_or_default().as_secs() / 3600;
            format!("the stored certificate is past half its lifetime ({left} h left)")
        })
    }

    /// Removes the certificate for (user, pool) (the pool rejected it).
    pub fn delete(store: &dyn SecretStore, sip_uri: &str, pool: &str) -> Result<bool, KeystoreError> {
        store.delete(SERVICE, &StoredCertificate::account(sip_uri, pool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredCertificate {
        StoredCertificate { cert_chain_der: vec![vec![0x30; 1100], vec![0x30; 900]], key_pkcs8_der: vec![0x30; 1218] }
    }

    #[test]
    fn blob_round_trip_and_damage() {
        let c = sample();
        let blob = c.encode();
        assert!(blob.len() < 4096, "one small entry");
        assert_eq!(StoredCertificate::decode(&blob).unwrap(), c);
        assert!(StoredCertificate::decode(b"junk").is_err());
        assert!(StoredCertificate::decode(&blob[..blob.len() - 1]).is_err());
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(StoredCertificate::decode(&huge).is_err(), "a hostile length is refused, not allocated");
        assert!(!format!("{c:?}").contains("48, 48"), "Debug shows no key bytes");
    }

    /// The key is in no printed form of the certificate or the store holding it, and is wiped on drop.
    #[test]
    fn the_private_key_is_redacted_and_wiped() {
        use crate::auth::secret_tests::{assert_redacted, assert_zeroize_on_drop};
        let key: Vec<u8> = (0..1218u32).map(|i| (i * 37 % 251) as u8).collect();
        let c = StoredCertificate { cert_chain_der: vec![vec![0x30; 900]], key_pkcs8_der: key.clone() };
        let store = MemoryStore::default();
        c.save(&store, "sip:alice@contoso.lab", "pool01").unwrap();
        let debug = format!("{c:?} {store:?}");
        assert_redacted(&debug, &key);
        assert_redacted(&debug, &key[600..650]);
        assert_zeroize_on_drop::<StoredCertificate>();
        assert_zeroize_on_drop::<Secret>();
        assert_eq!(StoredCertificate::load(&store, "sip:alice@contoso.lab", "pool01").unwrap(), Some(c));
        assert!(StoredCertificate::delete(&store, "sip:alice@contoso.lab", "pool01").unwrap());
    }

    #[test]
    fn memory_store_and_damaged_entries() {
        let store = MemoryStore::default();
        assert_eq!(StoredCertificate::load(&store, "sip:alice@contoso.lab", "pool01.contoso.lab").unwrap(), None);
        sample().save(&store, "sip:Alice@contoso.lab", "POOL01.contoso.lab").unwrap();
        assert_eq!(StoredCertificate::load(&store, "alice@contoso.lab", "pool01.contoso.lab").unwrap(), Some(sample()));
        store.set(SERVICE, &StoredCertificate::account("bob@contoso.lab", "p"), b"garbage").unwrap();
        assert_eq!(StoredCertificate::load(&store, "bob@contoso.lab", "p").unwrap(), None);
        assert_eq!(store.get(SERVICE, &StoredCertificate::account("bob@contoso.lab", "p")).unwrap(), None, "removed");
    }
}
