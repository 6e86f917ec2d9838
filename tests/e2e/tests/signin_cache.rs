//! The sign-in cache against the lab pool: a second sign-in goes straight to the registrar of the first (no DNS
//! query, no HTTP request), a cached registrar that no longer answers is forgotten and discovery runs in the same
//! sign-in, and a zero TTL turns the cache off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sfbkit::keystore::{KeystoreError, MemoryStore, SecretStore};
use sfbkit::{Outcome, SignInReport, Stage};
use sfbkit_lab::{LabConfig, LabPool};

const ALICE: &str = "sip:alice@contoso.lab";

/// A memory keystore that lets the test read and rewrite the entries sfbkit wrote.
#[derive(Default)]
struct Inspectable {
    inner: MemoryStore,
    written: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl SecretStore for Inspectable {
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError> {
        self.inner.get(service, account)
    }
    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        self.written.lock().unwrap().insert((service.into(), account.into()), secret.to_vec());
        self.inner.set(service, account, secret)
    }
    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError> {
        self.written.lock().unwrap().remove(&(service.to_string(), account.to_string()));
        self.inner.delete(service, account)
    }
    fn describe(&self) -> String {
        "inspectable memory".into()
    }
}

impl Inspectable {
    /// The sign-in cache's entry: (account, JSON).
    fn cache_entry(&self) -> Option<(String, serde_json::Value)> {
        let written = self.written.lock().unwrap();
        written
            .iter()
            .find(|((_, account), _)| account.starts_with("signin-cache:"))
            .map(|((_, account), bytes)| (account.clone(), serde_json::from_slice(bytes).expect("JSON")))
    }
}

fn steps(report: &SignInReport, stage: Stage) -> Vec<(String, Outcome, String)> {
    report.stages.iter().filter(|s| s.name == stage).map(|s| (s.step.clone(), s.outcome, s.detail.clone())).collect()
}

async fn sign_in(pool: &LabPool, store: &Arc<Inspectable>, ttl: Option<Duration>) -> SignInReport {
    let mut builder = pool.client_builder(ALICE).keystore(store.clone());
    if let Some(ttl) = ttl {
        builder = builder.sign_in_cache_ttl(ttl);
    }
    let client = builder.build().expect("client");
    let report = client.sign_in().await;
    assert!(report.is_success(), "{}", report.to_text());
    client.sign_out().await.expect("sign out");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sign_in_goes_straight_to_the_registrar_of_the_first() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let store = Arc::new(Inspectable::default());
    let cold = sign_in(&pool, &store, None).await;
    assert!(steps(&cold, Stage::ServerDiscovery).iter().any(|(step, ..)| step.contains("lyncdiscoverinternal")));
    let (account, entry) = store.cache_entry().expect("the registrar is kept");
    assert!(account.starts_with("signin-cache:alice@contoso.lab:"), "{account}");
    assert_eq!(entry["fqdn"], "pool01.contoso.lab");
    assert_eq!(entry["port"], pool.sip_addr().port());
    assert_eq!(entry["addrs"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(entry["until_unix"].as_u64().unwrap() - entry["stored_unix"].as_u64().unwrap(), 3600);
    let text = serde_json::to_string(&entry).unwrap();
    assert!(!text.contains("Passw0rd") && !text.contains("BEGIN"), "no secret in the entry: {text}");

    let before = pool.counters();
    let warm = sign_in(&pool, &store, None).await;
    let discovery = steps(&warm, Stage::ServerDiscovery);
    assert_eq!(discovery.len(), 1, "{discovery:?}");
    assert_eq!(discovery[0].0, "cached registrar");
    assert_eq!(discovery[0].1, Outcome::Success);
    let (dns, http) = pool.counters();
    assert_eq!((dns - before.0, http - before.1), (0, 0), "no DNS query and no HTTP request:\n{}", warm.to_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_registrar_that_does_not_answer_is_forgotten_and_discovery_runs() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let store = Arc::new(Inspectable::default());
    sign_in(&pool, &store, None).await;
    // The pool moved: nothing listens on the cached port any more.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (account, mut entry) = store.cache_entry().expect("kept");
    entry["port"] = closed.into();
    store.set(sfbkit::keystore::SERVICE, &account, entry.to_string().as_bytes()).unwrap();

    let report = sign_in(&pool, &store, None).await;
    let discovery = steps(&report, Stage::ServerDiscovery);
    let (step, outcome, detail) = &discovery[0];
    assert_eq!((step.as_str(), *outcome), ("cached registrar", Outcome::Skipped), "{discovery:?}");
    assert!(detail.contains("discovering again"), "{detail}");
    assert!(discovery.iter().any(|(step, ..)| step.contains("lyncdiscoverinternal")), "{}", report.to_text());
    let (_, entry) = store.cache_entry().expect("kept again");
    assert_eq!(entry["port"], pool.sip_addr().port(), "the registrar discovery found replaces the stale one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_ttl_keeps_nothing() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let store = Arc::new(Inspectable::default());
    sign_in(&pool, &store, Some(Duration::ZERO)).await;
    assert!(store.cache_entry().is_none());
    let again = sign_in(&pool, &store, Some(Duration::ZERO)).await;
    assert!(steps(&again, Stage::ServerDiscovery).iter().all(|(step, ..)| step != "cached registrar"));
}
