//! The client against the lab pool over real TLS on loopback: sign-in, sign-out, and each
//! failure the foundations can meet, classified with a hint, in bounded time.

use std::time::Duration;

use sfbkit::transport::TrustConfig;
use sfbkit::{ClientBuilder, Outcome, ServerTarget, SignInReport, Stage};
use sfbkit_lab::{LabConfig, LabPool};

async fn pool() -> LabPool {
    LabPool::start(LabConfig::default()).await.expect("lab pool starts")
}

fn lab_target(pool: &LabPool) -> ServerTarget {
    ServerTarget { fqdn: pool.config().pool_fqdn.clone(), port: pool.sip_addr().port(), addr: Some(pool.sip_addr()) }
}

fn lab_trust(pool: &LabPool) -> TrustConfig {
    TrustConfig::empty().with_extra_ca_pem(pool.ca_pem().as_bytes().to_vec())
}

fn failed_step(report: &SignInReport) -> &sfbkit::StepRecord {
    report.stages.iter().find(|s| s.outcome == Outcome::Failure).expect("a failed step")
}

#[tokio::test]
async fn signs_in_and_out_of_the_lab_pool() {
    let pool = pool().await;
    let client =
        pool.client_builder("alice@contoso.lab").server(lab_target(&pool)).trust(lab_trust(&pool)).build().unwrap();
    let report = client.sign_in().await;
    assert!(report.is_success(), "{}", report.to_text());
    let mut stages: Vec<Stage> = report.stages.iter().map(|s| s.name).collect();
    stages.dedup();
    assert_eq!(
        stages,
        [Stage::LocalDiscovery, Stage::ServerDiscovery, Stage::ConnectivityChecks, Stage::Authentication]
    );
    let reg = report.registration.as_ref().unwrap();
    assert_eq!(reg.expires, 600);
    assert_eq!(reg.keep_alive_timeout, Some(300));
    assert!(reg.gruu.as_deref().unwrap().starts_with("sip:alice@contoso.lab;opaque=user:epid:"));
    assert!(reg.allow_events.iter().any(|e| e == "vnd-microsoft-provisioning-v2"));
    // The pool holds exactly this endpoint's binding, keyed by our epid.
    let bindings = pool.bindings();
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].epid, client.epid().as_str());
    // A CRLF CRLF ping comes back as a CRLF pong from the registrar.
    let rtt = client.keep_alive().await.expect("pong");
    assert!(rtt < Duration::from_secs(10));
    client.sign_out().await.unwrap();
    assert!(matches!(client.keep_alive().await, Err(sfbkit::ClientError::NotSignedIn)));
    assert!(pool.bindings().is_empty(), "REGISTER Expires: 0 removed the binding");
    assert!(client.sign_out().await.is_err(), "signing out twice is an error, not a panic");
}

#[tokio::test]
async fn unknown_user_gets_404_with_diagnosis() {
    // Without authentication, the registrar's own directory check answers.
    let mut config = LabConfig::default();
    config.auth.required = false;
    let pool = LabPool::start(config).await.unwrap();
    let client =
        pool.client_builder("nobody@contoso.lab").server(lab_target(&pool)).trust(lab_trust(&pool)).build().unwrap();
    let report = client.sign_in().await;
    assert!(!report.is_success());
    assert_eq!(report.error.as_deref(), Some("404, Not Found"));
    assert_eq!(
        report.diagnosis.as_deref(),
        Some("ErrorCode=1003,source=pool01.contoso.lab,Reason=User does not exist")
    );
    let step = failed_step(&report);
    assert_eq!(step.name, Stage::Authentication);
    assert!(step.hint.as_deref().unwrap().contains("not enabled"));
}

#[tokio::test]
async fn untrusted_root_is_classified() {
    let pool = pool().await;
    let other = LabPool::start(LabConfig::default()).await.unwrap();
    // Trusting another pool's CA: the certificate chain does not lead to a trusted root.
    let client =
        pool.client_builder("alice@contoso.lab").server(lab_target(&pool)).trust(lab_trust(&other)).build().unwrap();
    let report = client.sign_in().await;
    let step = failed_step(&report);
    assert_eq!(step.name, Stage::ConnectivityChecks);
    assert_eq!(step.error_class.as_deref(), Some("untrusted-root"));
    assert!(step.hint.is_some());
}

#[tokio::test]
async fn certificate_name_mismatch_names_what_the_certificate_holds() {
    let pool = pool().await;
    let target = ServerTarget { fqdn: "lyncdiscover.contoso.lab".into(), ..lab_target(&pool) };
    let client = pool.client_builder("alice@contoso.lab").server(target).trust(lab_trust(&pool)).build().unwrap();
    let report = client.sign_in().await;
    let step = failed_step(&report);
    assert_eq!(step.error_class.as_deref(), Some("name-mismatch"));
    assert!(report.error.as_deref().unwrap().contains("pool01.contoso.lab"), "{:?}", report.error);
}

#[tokio::test]
async fn refused_connection_is_classified_quickly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = ServerTarget { fqdn: "pool01.contoso.lab".into(), port, addr: Some(([127, 0, 0, 1], port).into()) };
    let client = ClientBuilder::new("alice@contoso.lab")
        .server(target)
        .trust(TrustConfig::empty().with_extra_ca_pem(pool().await.ca_pem().as_bytes().to_vec()))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let report = tokio::time::timeout(Duration::from_secs(10), client.sign_in()).await.expect("bounded");
    assert_eq!(failed_step(&report).error_class.as_deref(), Some("refused"));
}

#[tokio::test]
async fn builder_rejects_bad_input_with_typed_errors() {
    let target = ServerTarget { fqdn: "pool01.contoso.lab".into(), port: 5061, addr: None };
    assert!(matches!(
        ClientBuilder::new("not a uri").server(target.clone()).build(),
        Err(sfbkit::ClientError::InvalidSipUri(_))
    ));
    assert!(matches!(
        ClientBuilder::new("sip:contoso.lab").server(target).build(),
        Err(sfbkit::ClientError::InvalidSipUri(_))
    ));
}
