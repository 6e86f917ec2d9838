//! The sign-in cache: the registrar the last successful sign-in registered with, kept in the keystore between
//! runs, so that the next sign-in goes straight to it (Connectivity Checks, then REGISTER) instead of running
//! Server Discovery again: lyncdiscover's Root, its User behind a web ticket, the ticket's MEX and NTLM legs (about
//! ten sequential round trips of a warm sign-in's fourteen, docs/performance.md).
//!
//! - **What is kept:** the registrar's FQDN and port, whether it is an internal access point, and how it was
//!   learned. The trust model ([`crate::trust`]) judges a cached registrar exactly as it judged it when it was
//!   discovered: credentials go only where they went then. No secret is kept here; the TLS-DSK certificate
//!   has its own entry ([`crate::keystore::StoredCertificate`]).
//! - **For how long:** [`DEFAULT_TTL`], one hour: the default TTL of records in Windows DNS, where
//!   lyncdiscover and the SRV records of a Skype for Business deployment live (a record changed by an admin
//!   reaches clients within that time either way). [`crate::ClientBuilder::sign_in_cache_ttl`] changes it;
//!   zero turns the cache off.
//! - **When it is wrong:** any failure on the way to the cached registrar (it refuses connections, a
//!   certificate does not match, it redirects, it refuses the user) forgets the entry, and the same sign-in
//!   discovers again from the start; the report says so in a Server Discovery step. A 301 to a home pool is
//!   followed as usual and the home pool is what is kept.
//! - **Where:** the client's keystore ([`crate::keystore::SecretStore`]), service [`crate::keystore::SERVICE`],
//!   account `signin-cache:<user>`, a small JSON document.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::discovery::{Candidate, Source};
use crate::keystore::{SERVICE, SecretStore};
use crate::trust::Learned;

/// How long a cached registrar is used (see the module docs).
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// Largest entry read back (a damaged or foreign entry is ignored, never parsed at any size).
const MAX_ENTRY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    fqdn: String,
    port: u16,
    internal: bool,
    source: Source,
    /// `configuration`, `dns`, `tls:<host>` or `http:<host>`.
    learned: String,
    /// The address the registration went to: its A record, kept as long (the connection is made to it
    /// without a lookup; TLS still checks the certificate against the FQDN).
    #[serde(default)]
    addrs: Vec<IpAddr>,
    /// When the registrar was registered with, and until when it is used (seconds since 1970).
    stored_unix: u64,
    until_unix: u64,
}

fn account(user: &str) -> String {
    format!("signin-cache:{}", user.to_ascii_lowercase())
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

fn learned_text(learned: &Learned) -> String {
    match learned {
        Learned::Configuration => "configuration".into(),
        Learned::Dns => "dns".into(),
        Learned::Tls(host) => format!("tls:{host}"),
        Learned::PlainHttp(host) => format!("http:{host}"),
    }
}

fn learned_from(text: &str) -> Option<Learned> {
    match text.split_once(':') {
        None if text == "configuration" => Some(Learned::Configuration),
        None if text == "dns" => Some(Learned::Dns),
        Some(("tls", host)) if !host.is_empty() => Some(Learned::Tls(host.to_string())),
        Some(("http", host)) if !host.is_empty() => Some(Learned::PlainHttp(host.to_string())),
        _ => None,
    }
}

/// A registrar from the cache, with its age.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cached {
    pub candidate: Candidate,
    pub addrs: Vec<IpAddr>,
    pub age: Duration,
    pub left: Duration,
}

/// The cached registrar of `user`, when there is one still valid at `now`. Unreadable or damaged entries are
/// treated as none (and logged): the cache only ever saves time.
pub(crate) fn load(store: &dyn SecretStore, user: &str, now: SystemTime) -> Option<Cached> {
    let bytes = match store.get(SERVICE, &account(user)) {
        Ok(b) => b?,
        Err(e) => {
            tracing::debug!(error = %e, "sign-in cache unreadable; discovering");
            return None;
        }
    };
    if bytes.len() > MAX_ENTRY {
        return None;
    }
    let entry: Entry = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(error = %e, "sign-in cache entry damaged; discovering");
            return None;
        }
    };
    let now_s = unix(now);
    if now_s >= entry.until_unix || entry.stored_unix > now_s || entry.fqdn.is_empty() || entry.port == 0 {
        return None;
    }
    let learned = learned_from(&entry.learned)?;
    Some(Cached {
        age: Duration::from_secs(now_s - entry.stored_unix),
        left: Duration::from_secs(entry.until_unix - now_s),
        addrs: entry.addrs,
        candidate: Candidate {
            fqdn: entry.fqdn,
            port: entry.port,
            source: entry.source,
            internal: entry.internal,
            learned,
        },
    })
}

/// Keeps `registrar`, reached at `addrs`, as `user`'s registrar for `ttl` from `now` (nothing for a zero
/// `ttl`, or a registrar the application configured: that one needs no discovery anyway).
pub(crate) fn save(
    store: &dyn SecretStore,
    user: &str,
    (registrar, addrs): (&Candidate, Vec<IpAddr>),
    ttl: Duration,
    now: SystemTime,
) {
    if ttl.is_zero() || registrar.source == Source::Configured {
        return;
    }
    let entry = Entry {
        fqdn: registrar.fqdn.clone(),
        port: registrar.port,
        internal: registrar.internal,
        source: registrar.source,
        learned: learned_text(&registrar.learned),
        addrs,
        stored_unix: unix(now),
        until_unix: unix(now).saturating_add(ttl.as_secs()),
    };
    let Ok(bytes) = serde_json::to_vec(&entry) else { return };
    if let Err(e) = store.set(SERVICE, &account(user), &bytes) {
        tracing::debug!(error = %e, "sign-in cache not written");
    }
}

/// Forgets `user`'s cached registrar.
pub(crate) fn forget(store: &dyn SecretStore, user: &str) {
    let _ = store.delete(SERVICE, &account(user));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keystore::MemoryStore;

    fn pool(learned: Learned) -> Candidate {
        Candidate {
            fqdn: "pool01.contoso.com".into(),
            port: 5061,
            source: Source::LyncDiscoverInternal,
            internal: true,
            learned,
        }
    }

    #[test]
    fn a_registrar_is_kept_for_its_ttl_with_how_it_was_learned() {
        let store = MemoryStore::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        for learned in [Learned::Tls("lyncdiscoverinternal.contoso.com".into()), Learned::Dns] {
            let addrs = vec![IpAddr::from([192, 0, 2, 10])];
            save(&store, "alice@contoso.com", (&pool(learned.clone()), addrs.clone()), DEFAULT_TTL, t0);
            let later = t0 + Duration::from_secs(600);
            let cached = load(&store, "Alice@Contoso.com", later).expect("cached");
            assert_eq!((cached.candidate, cached.addrs), (pool(learned), addrs));
            assert_eq!((cached.age, cached.left), (Duration::from_secs(600), Duration::from_secs(3000)));
        }
        assert_eq!(load(&store, "alice@contoso.com", t0 + DEFAULT_TTL), None, "expired");
        assert_eq!(load(&store, "alice@contoso.com", t0 - Duration::from_secs(5)), None, "stored in the future");
        assert_eq!(load(&store, "bob@contoso.com", t0), None, "per user");
        forget(&store, "alice@contoso.com");
        assert_eq!(load(&store, "alice@contoso.com", t0), None);
    }

    #[test]
    fn configured_registrars_and_a_zero_ttl_are_not_kept_and_damage_is_ignored() {
        let store = MemoryStore::default();
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let configured = Candidate { source: Source::Configured, ..pool(Learned::Configuration) };
        save(&store, "alice@contoso.com", (&configured, Vec::new()), DEFAULT_TTL, t0);
        save(&store, "bob@contoso.com", (&pool(Learned::Dns), Vec::new()), Duration::ZERO, t0);
        assert_eq!(load(&store, "alice@contoso.com", t0), None);
        assert_eq!(load(&store, "bob@contoso.com", t0), None);
        for damaged in [&b"{not json"[..], &[b'x'; MAX_ENTRY + 1][..], br#"{"fqdn":"","port":5061}"#] {
            store.set(SERVICE, &account("carol@contoso.com"), damaged).unwrap();
            assert_eq!(load(&store, "carol@contoso.com", t0), None);
        }
        let mut entry = serde_json::to_value(Entry {
            fqdn: "pool01.contoso.com".into(),
            port: 5061,
            internal: true,
            source: Source::SrvInternal,
            learned: "smoke-signals".into(),
            addrs: Vec::new(),
            stored_unix: unix(t0),
            until_unix: unix(t0) + 60,
        })
        .unwrap();
        store.set(SERVICE, &account("carol@contoso.com"), entry.to_string().as_bytes()).unwrap();
        assert_eq!(load(&store, "carol@contoso.com", t0), None, "unknown provenance is not trusted");
        entry["learned"] = "dns".into();
        store.set(SERVICE, &account("carol@contoso.com"), entry.to_string().as_bytes()).unwrap();
        assert!(load(&store, "carol@contoso.com", t0).is_some());
    }
}
