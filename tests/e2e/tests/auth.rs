//! NTLM sign-in against the lab pool ([MS-SIPAE]): three REGISTERs, a signed and verified 200 OK,
//! signed requests afterwards, and typed failures for refused credentials; never a password in a
//! report. The pool offers NTLM only here (`ntlm-only`); TLS-DSK has its own suite.

use std::time::Duration;

use sfbkit::{Outcome, SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

async fn run(pool: &LabPool, builder: sfbkit::ClientBuilder) -> (SignInReport, sfbkit::Client) {
    let _ = pool;
    let client = builder.build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded");
    (report, client)
}

fn ntlm_only() -> LabConfig {
    LabConfig::default().with_fault(Fault::NtlmOnly)
}

fn auth_steps(report: &SignInReport) -> Vec<&sfbkit::StepRecord> {
    report.stages.iter().filter(|s| s.name == Stage::Authentication).collect()
}

#[tokio::test]
async fn ntlm_takes_three_registers_and_the_200_is_signed() {
    let pool = LabPool::start(ntlm_only()).await.unwrap();
    let (report, client) = run(&pool, pool.client_builder("alice@contoso.lab")).await;
    assert!(report.is_success(), "{}", report.to_text());
    let steps = auth_steps(&report);
    let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["REGISTER", "REGISTER NTLM (negotiate)", "REGISTER NTLM (authenticate, signed)"]);
    assert!(steps[0].detail.contains("offers NTLM"));
    assert!(steps[2].detail.contains("signature verified"), "{}", steps[2].detail);
    // After the association every request is signed: the registrar accepts the keep-alive
    // REGISTER-free ping and the signed unregister (it would challenge an unsigned one).
    client.keep_alive().await.expect("pong");
    client.sign_out().await.expect("signed REGISTER Expires: 0 accepted");
    assert!(pool.bindings().is_empty());
}

#[tokio::test]
async fn wrong_password_is_a_typed_failure_without_the_password() {
    let pool = LabPool::start(ntlm_only()).await.unwrap();
    let secret = "Wr0ng-Secret-Value";
    let builder = pool.client_builder("alice@contoso.lab").credentials("alice@contoso.lab", secret);
    let (report, _client) = run(&pool, builder).await;
    assert!(!report.is_success());
    // The first refusal ends the sign-in: discovery's web ticket is where the password goes first, and
    // it is never presented again (to the provisioning ticket or the registrar): one failed logon.
    let refused: Vec<_> =
        report.stages.iter().filter(|s| s.error_class.as_deref() == Some("wrong-credentials")).collect();
    assert_eq!(refused.len(), 1, "{}", report.to_text());
    assert_eq!(refused[0].step, "lyncdiscoverinternal web ticket");
    assert!(report.stages.iter().all(|s| !s.step.starts_with("REGISTER NTLM")), "{}", report.to_text());
    assert_eq!(pool.failed_logons(), 1);
    assert!(report.hint.as_deref().unwrap().contains("password"));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(secret) && !report.to_text().contains(secret), "the password never reaches a report");
    assert!(!json.contains(sfbkit_lab::config::DEFAULT_PASSWORD));
}

#[tokio::test]
async fn unknown_account_and_missing_credentials() {
    let pool = LabPool::start(ntlm_only()).await.unwrap();
    let builder = pool.client_builder("alice@contoso.lab").credentials("CONTOSO\\mallory", "x");
    let (report, _c) = run(&pool, builder).await;
    assert_eq!(
        report.stages.iter().find(|s| s.outcome == Outcome::Failure).unwrap().error_class.as_deref(),
        Some("wrong-credentials")
    );
    // A user the lab has no password for gets no credentials from client_builder.
    let (report, _c) = run(&pool, pool.client_builder("nobody@contoso.lab")).await;
    let failed = report.stages.iter().find(|s| s.outcome == Outcome::Failure).unwrap();
    assert_eq!(failed.error_class.as_deref(), Some("authentication-required"));
    assert!(failed.hint.as_deref().unwrap().contains("credentials"));
}

#[tokio::test]
async fn domain_account_names_work() {
    let mut config = ntlm_only();
    config.users[0].account = Some("CONTOSO\\alice".into());
    let pool = LabPool::start(config).await.unwrap();
    let (report, client) = run(&pool, pool.client_builder("alice@contoso.lab")).await;
    assert!(report.is_success(), "{}", report.to_text());
    client.sign_out().await.unwrap();
}

#[tokio::test]
async fn unknown_user_fault_authenticates_then_gets_404() {
    let pool = LabPool::start(ntlm_only().with_fault(Fault::UnknownUser)).await.unwrap();
    let (report, _c) = run(&pool, pool.client_builder("alice@contoso.lab")).await;
    assert_eq!(report.error.as_deref(), Some("404, Not Found"));
    assert_eq!(auth_steps(&report).len(), 3, "authenticated first, then refused by the registrar");
}

#[tokio::test]
async fn a_pool_without_authentication_takes_one_register() {
    let mut config = LabConfig::default();
    config.auth.required = false;
    let pool = LabPool::start(config).await.unwrap();
    let (report, client) = run(&pool, pool.client_builder("alice@contoso.lab")).await;
    assert!(report.is_success());
    assert_eq!(auth_steps(&report).len(), 1);
    client.sign_out().await.unwrap();
}

#[tokio::test]
async fn a_user_homed_on_the_second_pool_is_redirected_there() {
    let pool = LabPool::start(ntlm_only()).await.unwrap();
    let (report, client) = run(&pool, pool.client_builder("carol@contoso.lab")).await;
    assert!(report.is_success(), "{}", report.to_text());
    let redirect = report.stages.iter().find(|s| s.name == Stage::Redirection).expect("a Redirection stage");
    assert!(redirect.detail.starts_with("301: the user is homed on sip:pool02.contoso.lab:"), "{}", redirect.detail);
    assert!(report.target.starts_with("pool02.contoso.lab:"), "{}", report.target);
    // A new security association on the home pool: three more REGISTERs there.
    let on_pool02 =
        report.stages.iter().filter(|s| s.name == Stage::Authentication && s.host == "pool02.contoso.lab").count();
    assert_eq!(on_pool02, 3);
    assert_eq!(pool.bindings_on("pool02.contoso.lab").len(), 1);
    assert!(pool.bindings().is_empty(), "nothing registered on the pool that redirected");
    client.sign_out().await.unwrap();
    assert!(pool.bindings_on("pool02.contoso.lab").is_empty());
}
