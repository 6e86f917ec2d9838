//! TLS-DSK sign-in against the lab pool: the client's own TLS engine in `gssapi-data` against the
//! lab's OpenSSL-based server, with a certificate the pool issued in the client's keystore.

use std::sync::Arc;
use std::time::Duration;

use sfbkit::keystore::{MemoryStore, SecretStore};
use sfbkit::{SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

async fn sign_in_with_certificate(config: LabConfig) -> (SignInReport, sfbkit::Client, LabPool) {
    let pool = LabPool::start(config).await.unwrap();
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let cert = pool.issue_user_certificate("sip:alice@contoso.lab").unwrap();
    cert.save(store.as_ref(), "alice@contoso.lab", "pool01.contoso.lab").unwrap();
    let client = pool.client_builder("alice@contoso.lab").keystore(store).build().unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded");
    (report, client, pool)
}

fn auth_steps(report: &SignInReport) -> Vec<String> {
    report.stages.iter().filter(|s| s.name == Stage::Authentication).map(|s| s.step.clone()).collect()
}

#[tokio::test]
async fn tls_dsk_takes_four_registers_with_the_stored_certificate() {
    let (report, client, pool) = sign_in_with_certificate(LabConfig::default()).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(
        auth_steps(&report),
        ["REGISTER", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (signed)"],
        "seed 001: TLS-DSK shows 4 REGISTERs"
    );
    let last = report.stages.iter().rfind(|s| s.name == Stage::Authentication).unwrap();
    assert!(last.detail.contains("signed by the registrar (TLS-DSK), signature verified"), "{}", last.detail);
    // Signed requests keep working with the HMAC keys: the lab verifies the unregister.
    client.sign_out().await.expect("signed unregister accepted");
    assert!(pool.bindings().is_empty());
}

#[tokio::test]
async fn tls10_only_pool_still_signs_in() {
    let (report, client, _pool) = sign_in_with_certificate(LabConfig::default().with_fault(Fault::Tls10Only)).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(auth_steps(&report).len(), 4);
    client.sign_out().await.unwrap();
}

#[tokio::test]
async fn ntlm_only_pool_uses_ntlm_even_with_a_certificate() {
    let (report, client, _pool) = sign_in_with_certificate(LabConfig::default().with_fault(Fault::NtlmOnly)).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(auth_steps(&report), ["REGISTER", "REGISTER NTLM (negotiate)", "REGISTER NTLM (authenticate, signed)"]);
    client.sign_out().await.unwrap();
}

#[tokio::test]
async fn a_certificate_past_half_its_lifetime_is_renewed() {
    let pool = LabPool::start(LabConfig::default()).await.unwrap();
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    // Issued 100 days ago, 80 days left: past half of its 180 days.
    let old = pool.issue_aged_user_certificate("sip:alice@contoso.lab", 100, 80).unwrap();
    assert!(old.renewal_due(std::time::SystemTime::now()).unwrap().contains("half its lifetime"));
    old.save(store.as_ref(), "alice@contoso.lab", "pool01.contoso.lab").unwrap();
    let client = pool.client_builder("alice@contoso.lab").keystore(store.clone()).build().unwrap();
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded");
    assert!(report.is_success(), "{}", report.to_text());
    let steps = auth_steps(&report);
    assert!(steps.iter().any(|s| s == "certificate renewal"), "{steps:?}");
    assert!(steps.iter().any(|s| s == "certificate provisioning"), "{steps:?}");
    let new = sfbkit::keystore::StoredCertificate::load(store.as_ref(), "alice@contoso.lab", "pool01.contoso.lab")
        .unwrap()
        .expect("a certificate is stored");
    assert_ne!(new, old, "the keystore holds the new certificate");
    assert!(new.renewal_due(std::time::SystemTime::now()).is_none());
    // A fresh certificate is used as it is.
    let fresh = pool.issue_aged_user_certificate("sip:alice@contoso.lab", 1, 179).unwrap();
    assert!(fresh.renewal_due(std::time::SystemTime::now()).is_none());
    client.sign_out().await.unwrap();
}
