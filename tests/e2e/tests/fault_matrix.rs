//! The fault matrix (issue 9, item 7): what the lab can do to a client that the other suites do not cover,
//! each with the behaviour expected of the client, each bounded in time.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{bounded, signed_in, wait_for};
use sfbkit::keystore::{MemoryStore, SecretStore, StoredCertificate};
use sfbkit::{Event, Outcome, SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

const ALICE: &str = "alice@contoso.lab";

async fn sign_in(pool: &LabPool, builder: sfbkit::ClientBuilder) -> (SignInReport, sfbkit::Client) {
    let _ = pool;
    let client = builder.build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(60), client.sign_in()).await.expect("bounded");
    (report, client)
}

/// A connection lost in the middle of the REGISTER handshake (at the first REGISTER, the first handshake
/// leg, or NTLM's AUTHENTICATE): the client connects again and runs the handshake from the start, once; the
/// drop stays in the report as a warning, and the pool counts no failed logon.
#[tokio::test]
async fn a_connection_dropped_in_any_register_leg_is_retried_once_from_the_start() {
    for fault in [Fault::DropRegister1, Fault::DropRegister2, Fault::DropRegister3] {
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(fault)).await.unwrap();
        let (report, client) = sign_in(&pool, pool.client_builder(ALICE)).await;
        assert!(report.is_success(), "{fault:?}:\n{}", report.to_text());
        let dropped = report.stages.iter().find(|s| s.error_class.as_deref() == Some("closed"));
        assert!(dropped.is_some_and(|s| s.name == Stage::Authentication), "{fault:?}:\n{}", report.to_text());
        assert!(report.warnings.iter().any(|w| w.contains("closed the connection")), "{:?}", report.warnings);
        assert_eq!(pool.failed_logons(), 0);
        assert_eq!(pool.bindings().len(), 1);
        client.sign_out().await.unwrap();
    }
    // With TLS-DSK (the third REGISTER carries a TLS flight): the same.
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::DropRegister3)).await.unwrap();
    let (report, client) = sign_in(&pool, pool.client_builder(ALICE)).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(report.stages.iter().any(|s| s.step == "REGISTER TLS-DSK (signed)"), "{}", report.to_text());
    client.sign_out().await.unwrap();
}

/// 503 with `Retry-After`: the client waits as long as the registrar asks (within its deadline), then
/// registers.
#[tokio::test]
async fn a_503_with_retry_after_is_honoured() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::Register503)).await.unwrap();
    let started = Instant::now();
    let (report, client) = sign_in(&pool, pool.client_builder(ALICE)).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(started.elapsed() >= Duration::from_secs(1), "waited the Retry-After: {:?}", started.elapsed());
    let busy = report
        .stages
        .iter()
        .find(|s| s.error_class.as_deref() == Some("503"))
        .unwrap_or_else(|| panic!("{}", report.to_text()));
    assert!(busy.detail.contains("Retry-After 1 s") && busy.detail.contains("1008"), "{}", busy.detail);
    client.sign_out().await.unwrap();
}

/// The Web Ticket Service is broken (500): no ticket, so discovery reads Domain and provisioning fails, both
/// as warnings; NTLM signs in; no failed logon.
#[tokio::test]
async fn a_web_ticket_service_answering_500_leaves_ntlm() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::Webticket500)).await.unwrap();
    let (report, client) = sign_in(&pool, pool.client_builder(ALICE)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let tickets: Vec<_> = report.stages.iter().filter(|s| s.detail.contains("HTTP status 500")).collect();
    assert!(!tickets.is_empty(), "{}", report.to_text());
    assert!(report.warnings.iter().any(|w| w.contains("certificate provisioning failed")), "{:?}", report.warnings);
    let last = report.stages.iter().rfind(|s| s.name == Stage::Authentication).unwrap();
    assert_eq!(last.step, "REGISTER NTLM (authenticate, signed)");
    assert_eq!(pool.failed_logons(), 0);
    client.sign_out().await.unwrap();
}

/// A registrar that sends one byte per second: the sign-in ends at its deadline, naming the last step.
#[tokio::test]
async fn a_registrar_sending_one_byte_per_second_ends_at_the_deadline() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::Trickle)).await.unwrap();
    let deadline = Duration::from_secs(3);
    let started = Instant::now();
    let (report, _c) = sign_in(&pool, pool.client_builder(ALICE).sign_in_deadline(deadline)).await;
    assert!(started.elapsed() < deadline + Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(report.error_class(), Some("deadline"), "{}", report.to_text());
    assert!(report.error.as_deref().unwrap().contains("TLS handshake"), "{:?}", report.error);
    // The stage that ran out of time is the one running (REGISTER), not the one of the last finished step.
    assert_eq!(report.failed_stage(), Some(Stage::Authentication), "{}", report.to_text());
    assert!(report.hint.as_deref().unwrap().contains("during authentication"), "{:?}", report.hint);
}

/// A NOTIFY whose signature does not verify (here a forged deregistration): dropped, counted, never acted
/// on; the endpoint stays registered and keeps working.
#[tokio::test]
async fn a_notify_with_a_bad_signature_is_dropped_counted_and_ignored() {
    bounded(Duration::from_secs(30), async {
        let pool = LabPool::start(LabConfig::default()).await.unwrap();
        let client = signed_in(pool.client_builder(ALICE), "alice").await;
        assert_eq!(client.bad_signatures(), 0);
        assert_eq!(pool.forge_deregistration(ALICE), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.bad_signatures() == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(client.bad_signatures(), 1);
        client.keep_alive().await.expect("still connected");
        assert!(client.is_signed_in());
        while let Some(event) = client.try_next_event().await {
            assert!(!matches!(event, Event::Deregistered { .. } | Event::ConnectionLost { .. }), "{event:?}");
        }
        assert_eq!(pool.bindings().len(), 1);
        client.sign_out().await.unwrap();
    })
    .await;
}

/// The user's TLS-DSK certificate reaches its renewal time during the session: a new one is provisioned in
/// the background before the old one expires, the endpoint stays registered (no drop), and the next sign-in
/// (a reconnect after the old one expired) uses the new certificate.
#[tokio::test]
async fn a_certificate_expiring_during_a_session_is_renewed_without_a_drop() {
    bounded(Duration::from_secs(40), async {
        let pool = LabPool::start(LabConfig::default()).await.unwrap();
        let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
        let short = pool.issue_user_certificate_valid_for("sip:alice@contoso.lab", Duration::from_secs(6)).unwrap();
        short.save(store.as_ref(), ALICE, "pool01.contoso.lab").unwrap();
        let fast = sfbkit::ReconnectPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            jitter: 0.0,
        };
        let client =
            signed_in(pool.client_builder(ALICE).keystore(store.clone()).reconnect_policy(fast), "alice").await;
        let (event, seen) =
            wait_for(&client, "the certificate renewal", |e| matches!(e, Event::CertificateRenewed { .. })).await;
        let Event::CertificateRenewed { expires_unix, .. } = event else { unreachable!() };
        assert!(
            seen.iter().all(|e| !matches!(e, Event::ConnectionLost { .. } | Event::Deregistered { .. })),
            "{seen:?}"
        );
        let renewed = StoredCertificate::load(store.as_ref(), ALICE, "pool01.contoso.lab").unwrap().unwrap();
        assert_ne!(renewed.cert_chain_der, short.cert_chain_der, "a new certificate is in the keystore");
        assert!(expires_unix > now_unix() + 3600, "the new one is good for longer: {expires_unix}");
        assert!(client.is_signed_in(), "no drop");
        // After the old certificate expired, a reconnect signs in with the new one, with TLS-DSK.
        tokio::time::sleep(Duration::from_secs(6)).await;
        pool.drop_connections(ALICE);
        wait_for(&client, "the reconnect", |e| matches!(e, Event::ConnectionRestored { .. })).await;
        client.keep_alive().await.expect("signed in again");
        client.sign_out().await.unwrap();
    })
    .await;
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A DNS server that never answers for the lyncdiscover names (a broken forwarder): autodiscover times out
/// within the lookup limit, DNS SRV answers, and the user signs in.
#[tokio::test]
async fn a_dns_timeout_on_autodiscover_falls_back_to_srv() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::DnsTimeout)).await.unwrap();
    let started = Instant::now();
    let builder = pool.client_builder(ALICE).dns_lookup_limit(Duration::from_secs(1));
    let (report, client) = sign_in(&pool, builder).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let timeouts = report.stages.iter().filter(|s| s.error_class.as_deref() == Some("timeout")).count();
    assert!(timeouts >= 2, "{}", report.to_text());
    let srv = report.stages.iter().find(|s| s.step == "SRV _sipinternaltls._tcp").unwrap();
    assert_eq!(srv.outcome, Outcome::Success);
    client.sign_out().await.unwrap();
}

/// Two SRV targets whose first refuses connections: the connectivity checks move on to the second.
#[tokio::test]
async fn a_dead_first_srv_target_is_passed_over() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::NoLyncdiscover).with_fault(Fault::DeadFirstSrv))
        .await
        .unwrap();
    let (report, client) = sign_in(&pool, pool.client_builder(ALICE)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let dead = report
        .stages
        .iter()
        .find(|s| s.outcome == Outcome::Failure && s.host.starts_with("fe-dead.contoso.lab"))
        .unwrap_or_else(|| panic!("{}", report.to_text()));
    assert_eq!(dead.error_class.as_deref(), Some("refused"), "{}", report.to_text());
    assert!(report.target.starts_with("pool01.contoso.lab"), "{}", report.target);
    client.sign_out().await.unwrap();
}
