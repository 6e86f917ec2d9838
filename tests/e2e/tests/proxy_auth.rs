//! Authentication by a proxy (an Edge's access proxy): 407 with `Proxy-Authenticate`, answered in
//! `Proxy-Authorization`, the proxy's signatures in `Proxy-Authentication-Info` (REFERENCE.md §4.1,
//! CLIENT-NOTES.md §5.2–5.3). The lab's `proxy-auth` fault makes the pool authenticate that way,
//! for NTLM and TLS-DSK; signed requests after sign-in must use the proxy headers too (the lab
//! challenges any request without a valid `Proxy-Authorization`).

use std::sync::Arc;
use std::time::Duration;

use sfbkit::keystore::{MemoryStore, SecretStore};
use sfbkit::{SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

async fn sign_in(builder: sfbkit::ClientBuilder) -> (SignInReport, sfbkit::Client) {
    let client = builder.build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("nothing hangs");
    (report, client)
}

fn auth_steps(report: &SignInReport) -> Vec<&sfbkit::StepRecord> {
    report.stages.iter().filter(|s| s.name == Stage::Authentication).collect()
}

#[tokio::test]
async fn ntlm_through_a_proxy_challenge() {
    let pool =
        LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(Fault::ProxyAuth)).await.unwrap();
    let (report, client) = sign_in(pool.client_builder("alice@contoso.lab")).await;
    assert!(report.is_success(), "{}", report.to_text());
    let steps = auth_steps(&report);
    let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["REGISTER", "REGISTER NTLM (negotiate)", "REGISTER NTLM (authenticate, signed)"]);
    assert!(steps[0].detail.starts_with("407: the registrar offers NTLM"), "{}", steps[0].detail);
    assert!(steps[1].detail.starts_with("407 with the NTLM CHALLENGE"), "{}", steps[1].detail);
    assert!(steps[2].detail.contains("signature verified"), "{}", steps[2].detail);
    // After the association every request is signed in Proxy-Authorization: the pool would
    // challenge a keep-alive or unregister signed in the wrong header.
    client.keep_alive().await.expect("pong");
    client.sign_out().await.expect("signed REGISTER Expires: 0 accepted by the proxy");
    assert!(pool.bindings().is_empty());
}

#[tokio::test]
async fn tls_dsk_through_a_proxy_challenge() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::ProxyAuth)).await.unwrap();
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let cert = pool.issue_user_certificate("sip:alice@contoso.lab").unwrap();
    cert.save(store.as_ref(), "alice@contoso.lab", "pool01.contoso.lab").unwrap();
    let (report, client) = sign_in(pool.client_builder("alice@contoso.lab").keystore(store)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let steps = auth_steps(&report);
    let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(
        names,
        ["REGISTER", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (signed)"]
    );
    assert!(steps[0].detail.starts_with("407: the registrar offers NTLM, TLS-DSK"), "{}", steps[0].detail);
    assert!(steps[1].detail.starts_with("407 with the pool's TLS flight"), "{}", steps[1].detail);
    assert!(steps[2].detail.starts_with("407 with the pool's Finished"), "{}", steps[2].detail);
    assert!(steps[3].detail.contains("signed by the registrar (TLS-DSK), signature verified"), "{}", steps[3].detail);
    client.sign_out().await.expect("signed unregister accepted by the proxy");
    assert!(pool.bindings().is_empty());
}
