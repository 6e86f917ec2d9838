//! What many clients of one process can share: compiled dial plans, TLS trust, and the record of refused
//! passwords ([`crate::auth::lockout`]).
//!
//! A pool's users share a handful of location profiles, and one compiled profile costs about half a
//! megabyte once its rules have run (fancy-regex programs and their lazy DFA caches; measured with
//! the seed 003 plan, 507 KiB per copy). A host running many endpoints builds one
//! [`SharedResources`] and hands it to every [`crate::ClientBuilder`] (`.shared(...)`); identical
//! documents then compile once. The same goes for trust: loading the system's roots parses every
//! certificate of the OS store (103 KiB per client, measured); clients with the same [`TrustConfig`]
//! share one TLS configuration and one root store.
//!
//! Clients built without `.shared(...)` use one [`SharedResources`] for the whole process
//! ([`SharedResources::process`]): refused passwords must be remembered per account whichever client sent
//! them (the directory counts them that way), so a script that builds a new client for each try cannot lock
//! an account out. That instance is the only process-wide state sfbkit keeps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use sha1::{Digest, Sha1};

use crate::dialplan::{DialPlanError, LocationProfile};
use crate::transport::{TlsConnector, TrustConfig, TrustError};

/// One trust configuration, built: the connector (its rustls configuration) and the same anchors
/// for verifying a pool inside the TLS-DSK tunnel.
type BuiltTrust = (TrustConfig, TlsConnector, Arc<rustls::RootCertStore>);

/// Resources shared by the clients built with it (see the module docs).
#[derive(Default)]
pub struct SharedResources {
    /// Compiled location profiles by the SHA-1 of their document; weak, so a profile no endpoint
    /// uses any more is freed.
    profiles: Mutex<HashMap<[u8; 20], Weak<LocationProfile>>>,
    /// Built trust configurations (a process has one or two).
    trust: Mutex<Vec<BuiltTrust>>,
    /// Refused passwords per account.
    refusals: crate::auth::lockout::RefusalLedger,
}

impl std::fmt::Debug for SharedResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedResources").field("profiles", &self.profiles_in_use()).finish()
    }
}

impl SharedResources {
    pub fn new() -> Arc<SharedResources> {
        Arc::new(SharedResources::default())
    }

    /// The process's own instance, which clients built without [`crate::ClientBuilder::shared`] use.
    pub fn process() -> Arc<SharedResources> {
        static PROCESS: std::sync::OnceLock<Arc<SharedResources>> = std::sync::OnceLock::new();
        PROCESS.get_or_init(SharedResources::new).clone()
    }

    /// The refused passwords of the clients sharing this (see [`crate::auth::lockout`]).
    pub fn refusals(&self) -> &crate::auth::lockout::RefusalLedger {
        &self.refusals
    }

    /// The compiled profile for this document: the one already in use when another endpoint got
    /// the same bytes, else freshly parsed (and refused exactly as [`LocationProfile::parse`] would).
    pub fn location_profile(&self, xml: &[u8]) -> Result<Arc<LocationProfile>, DialPlanError> {
        let key: [u8; 20] = Sha1::digest(xml).into();
        if let Some(p) = self.lock().get(&key).and_then(Weak::upgrade) {
            return Ok(p);
        }
        let profile = Arc::new(LocationProfile::parse(xml)?);
        let mut profiles = self.lock();
        profiles.retain(|_, w| w.strong_count() > 0);
        // Two endpoints may have parsed the same document at once: keep the first.
        if let Some(p) = profiles.get(&key).and_then(Weak::upgrade) {
            return Ok(p);
        }
        profiles.insert(key, Arc::downgrade(&profile));
        Ok(profile)
    }

    /// The connector and anchors for `trust`, built once per distinct configuration.
    pub(crate) fn trust(&self, trust: &TrustConfig) -> Result<(TlsConnector, Arc<rustls::RootCertStore>), TrustError> {
        let mut built = self.trust.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, connector, anchors)) = built.iter().find(|(t, _, _)| t == trust) {
            return Ok((connector.clone(), anchors.clone()));
        }
        let (config, summary) = trust.client_config()?;
        let (anchors, _) = trust.root_store()?;
        let entry = (trust.clone(), TlsConnector::from_config(config, summary), Arc::new(anchors));
        let out = (entry.1.clone(), entry.2.clone());
        built.push(entry);
        Ok(out)
    }

    /// How many distinct compiled profiles are in use.
    pub fn profiles_in_use(&self) -> usize {
        self.lock().values().filter(|w| w.strong_count() > 0).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], Weak<LocationProfile>>> {
        self.profiles.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UK: &[u8] = include_bytes!("../../tests/fixtures/location-profiles/uk-seed003.xml");
    const AREA999: &[u8] = include_bytes!("../../tests/fixtures/location-profiles/area999.xml");

    #[test]
    fn identical_documents_compile_once_and_are_freed_when_unused() {
        let shared = SharedResources::new();
        let a = shared.location_profile(UK).unwrap();
        let b = shared.location_profile(UK).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = shared.location_profile(AREA999).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(shared.profiles_in_use(), 2);
        drop((a, b));
        assert_eq!(shared.profiles_in_use(), 1);
        assert!(shared.location_profile(b"<LocationProfileDescription/>").is_err(), "refused as parse refuses");
    }

    #[test]
    fn one_trust_configuration_is_built_once() {
        let shared = SharedResources::new();
        let ca = crate::transport::test_pki::TestCa::new("shared trust test CA");
        let trust = TrustConfig::empty().with_extra_ca_pem(ca.pem());
        let (_, a) = shared.trust(&trust).unwrap();
        let (_, b) = shared.trust(&trust).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.len(), 1);
        let other = TrustConfig::empty().with_extra_ca_pem(ca.pem()).with_extra_ca_pem(ca.pem());
        let (_, c) = shared.trust(&other).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(shared.trust(&TrustConfig::empty()).is_err(), "no anchors is refused as TlsConnector::new refuses");
    }
}
