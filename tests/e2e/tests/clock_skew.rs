//! Clock skew between the client and the registrar (REFERENCE.md §4.1): the lab's `clock-skew`
//! fault puts the pool's clock an hour behind. NTLM tolerates 15 minutes, so the client reads the
//! challenge's `Date` and stops with the class `clock-skew`, naming both times and the difference,
//! instead of sending credentials the pool refuses. TLS-DSK checks no timestamps: it signs in, and
//! the report warns about the clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sfbkit::keystore::{MemoryStore, SecretStore};
use sfbkit::{Outcome, SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

async fn sign_in(pool: &LabPool, builder: sfbkit::ClientBuilder) -> (SignInReport, sfbkit::Client) {
    let _ = pool;
    let client = builder.build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("nothing hangs");
    (report, client)
}

#[tokio::test]
async fn an_hour_of_skew_is_a_clock_skew_failure_with_both_times() {
    let pool =
        LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(Fault::ClockSkew)).await.unwrap();
    // The right password: the web services' clocks agree, so discovery's web ticket is issued, and the
    // registrar's Date is the first to show the skew.
    let secret = sfbkit_lab::config::DEFAULT_PASSWORD;
    let builder = pool.client_builder("alice@contoso.lab");
    let started = Instant::now();
    let (report, _client) = sign_in(&pool, builder).await;
    assert!(started.elapsed() < Duration::from_secs(15), "fails fast: {:?}", started.elapsed());
    assert!(!report.is_success(), "{}", report.to_text());
    let failed = report.stages.iter().rfind(|s| s.outcome == Outcome::Failure).unwrap();
    assert_eq!(failed.name, Stage::Authentication);
    assert_eq!(failed.error_class.as_deref(), Some("clock-skew"), "{}", report.to_text());
    assert_eq!(failed.step, "REGISTER", "detected on the first challenge, before NTLM is attempted");
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("401"), "{error}");
    assert!(error.contains("the registrar's clock says") && error.contains("this computer's says"), "{error}");
    assert!(error.contains("GMT") && error.contains("1 h 0 min"), "{error}");
    assert!(error.contains("(the registrar is behind)") && error.contains("NTLM tolerates at most 15 min"), "{error}");
    let hint = report.hint.as_deref().unwrap();
    assert!(hint.contains("w32tm") && hint.contains("chrony"), "{hint}");
    // Nothing secret in the report.
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(secret) && !report.to_text().contains(secret));
    assert!(!json.contains(sfbkit_lab::config::DEFAULT_PASSWORD));
    assert!(!json.contains("gssapi-data"));
}

#[tokio::test]
async fn without_the_fault_the_date_agrees_and_ntlm_signs_in() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly)).await.unwrap();
    let (report, client) = sign_in(&pool, pool.client_builder("alice@contoso.lab")).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(report.warnings.iter().all(|w| !w.contains("clock skew")), "{:?}", report.warnings);
    client.sign_out().await.unwrap();
}

#[tokio::test]
async fn tls_dsk_is_not_timestamped_and_signs_in_with_a_warning() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::ClockSkew)).await.unwrap();
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let cert = pool.issue_user_certificate("sip:alice@contoso.lab").unwrap();
    cert.save(store.as_ref(), "alice@contoso.lab", "pool01.contoso.lab").unwrap();
    let (report, client) = sign_in(&pool, pool.client_builder("alice@contoso.lab").keystore(store)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let warning = report.warnings.iter().find(|w| w.contains("clock skew")).expect("a clock-skew warning");
    assert!(warning.contains("1 h 0 min") && warning.contains("w32tm"), "{warning}");
    client.sign_out().await.unwrap();
}
