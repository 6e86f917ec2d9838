//! The Office 365 web-ticket path end to end against the lab pool under the `online` fault (seed 000 steps 6–20):
//! the Web Ticket Service's MEX names only its `WsFedBearer` port, so the client gets a token from the Org ID STS
//! (`/RST2.srf`, a WS-Trust UsernameToken request), presents it at the bearer port, provisions a certificate with
//! the web ticket and signs in with TLS-DSK. And the refusals: a wrong password (`wst:FailedAuthentication`), an
//! unreachable Org ID STS, and a token the bearer port does not know (HTTP 500, tieto/sipe #165).

use std::time::{Duration, Instant};

use sfbkit::auth::webticket::rst_request_with_security;
use sfbkit::auth::webticket_client::{
    Acquired, TicketRoute, WebTicketAcquireError, acquire_for_service, bearer_verdict,
};
use sfbkit::http::{HttpClient, Method};
use sfbkit::trust::{Purpose, TrustedUrl};
use sfbkit::{SignInReport, Stage};
use sfbkit_lab::{Fault, LabConfig, LabPool};

const ALICE: &str = "sip:alice@contoso.lab";

/// `url` admitted by the lab's trust model (the lab domain), as sign-in would admit it.
async fn trusted(pool: &LabPool, url: &str) -> TrustedUrl {
    pool.admit(url, Purpose::WebTicketService).await.expect("a lab URL is trusted")
}

fn online() -> LabConfig {
    LabConfig::default().with_fault(Fault::Online)
}

fn base(pool: &LabPool) -> String {
    format!("https://pool01.contoso.lab:{}", pool.web_ports().0)
}

/// What Office 365's `X-MS-WebTicketURL` names: the service, not a port.
fn service_url(pool: &LabPool) -> String {
    format!("{}/WebTicket/WebTicketService.svc", base(pool))
}

fn certprov_url(pool: &LabPool) -> String {
    format!("{}/CertProv/CertProvisioningService.svc", base(pool))
}

fn http(pool: &LabPool) -> HttpClient {
    pool.http_client().expect("an HTTP client for the lab pool")
}

fn alice(pool: &LabPool) -> (String, String) {
    let user = pool.config().user(ALICE).expect("alice in the directory");
    (user.account(), user.password.clone())
}

/// A ticket for alice with `password`, through the Web Ticket Service at `sts` and the Org ID STS at `org_id`.
async fn alice_ticket(
    pool: &LabPool,
    http: &HttpClient,
    sts: &str,
    password: &str,
    org_id: &str,
) -> Result<Acquired, WebTicketAcquireError> {
    let (account, _) = alice(pool);
    let sts = trusted(pool, sts).await;
    acquire_for_service(http, &pool.trust(), &sts, &certprov_url(pool), ALICE, &account, password, org_id, None).await
}

fn auth_steps(report: &SignInReport) -> Vec<String> {
    report.stages.iter().filter(|s| s.name == Stage::Authentication).map(|s| s.step.clone()).collect()
}

fn assert_no_secret(report: &SignInReport, secret: &str) {
    let shown = format!("{}\n{:?}", report.to_text(), report);
    assert!(!shown.contains(secret), "the password leaked into the report:\n{shown}");
}

#[tokio::test]
async fn online_sign_in_goes_org_id_then_wsfed_bearer_then_certificate_then_tls_dsk() {
    let pool = LabPool::start(online()).await.expect("lab pool starts");
    let (_, password) = alice(&pool);
    let client = pool.client_builder("alice@contoso.lab").build().expect("client");
    let report = tokio::time::timeout(Duration::from_secs(60), client.sign_in()).await.expect("bounded");
    assert!(report.is_success(), "{}", report.to_text());
    let steps = auth_steps(&report);
    let at = |name: &str| steps.iter().position(|s| s == name).unwrap_or_else(|| panic!("no {name:?} in {steps:?}"));
    assert!(at("Org ID token") < at("certificate provisioning"), "{steps:?}");
    assert!(at("certificate provisioning") < at("REGISTER TLS-DSK (signed)"), "{steps:?}");
    let org_id = report.stages.iter().find(|s| s.step == "Org ID token").unwrap();
    assert!(org_id.host.ends_with("/RST2.srf"), "{org_id:?}");
    let provisioning = report.stages.iter().find(|s| s.step == "certificate provisioning").unwrap();
    assert!(provisioning.detail.contains("WsFed_bearer"), "{}", provisioning.detail);
    assert_no_secret(&report, &password);
    client.sign_out().await.expect("signed unregister accepted");
}

#[tokio::test]
async fn the_ticket_comes_from_the_bearer_port_and_opens_certificate_provisioning() {
    let pool = LabPool::start(online()).await.expect("lab pool starts");
    let http = http(&pool);
    let (_, password) = alice(&pool);
    let got = alice_ticket(&pool, &http, &service_url(&pool), &password, &pool.org_id_url())
        .await
        .expect("a ticket through Org ID");
    match &got.route {
        TicketRoute::OrgId { org_id_sts, bearer_port, windows_refused, .. } => {
            assert_eq!(org_id_sts, &pool.org_id_url());
            assert!(bearer_port.ends_with("/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer"), "{bearer_port}");
            assert!(!windows_refused, "the MEX names no Windows port, so none was tried");
        }
        other => panic!("{other:?}"),
    }
    assert!(got.ticket.assertion_xml().contains("sip:alice@contoso.lab"));
    // The Windows port is absent, as in Office 365.
    let auth = format!("{}/Auth", service_url(&pool));
    let r = http.send(Method::POST, &auth, &[], b"<x/>".to_vec()).await.expect("answers");
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn on_premises_pools_still_use_the_windows_port() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http(&pool);
    let (_, password) = alice(&pool);
    let auth = format!("{}/Auth", service_url(&pool));
    let got = alice_ticket(&pool, &http, &auth, &password, &pool.org_id_url()).await.expect("a ticket over NTLM");
    assert!(matches!(&got.route, TicketRoute::Windows { port, kerberos: false } if port == &auth), "{:?}", got.route);
}

#[tokio::test]
async fn a_wrong_password_is_refused_by_org_id_with_a_hint_and_without_the_password() {
    let pool = LabPool::start(online()).await.expect("lab pool starts");
    let http = http(&pool);
    let (account, _) = alice(&pool);
    let wrong = "Not-The-Passw0rd!<&>";
    let err = alice_ticket(&pool, &http, &service_url(&pool), wrong, &pool.org_id_url()).await.unwrap_err();
    assert_eq!(err.class(), "org-id-refused", "{err}");
    assert!(err.to_string().contains("FailedAuthentication"), "{err}");
    assert!(err.hint().contains("password"), "{}", err.hint());
    let shown = format!("{err} {err:?} {}", err.hint());
    assert!(!shown.contains(wrong) && !shown.contains("Not-The-Passw0rd"), "{shown}");

    // The whole sign-in: bounded, failed, the Org ID refusal in the report, the password nowhere.
    let client = pool.client_builder("alice@contoso.lab").credentials(&account, wrong).build().expect("client");
    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(!report.is_success(), "{}", report.to_text());
    assert!(report.error_class().is_some() && report.hint.as_deref().is_some_and(|h| !h.is_empty()));
    // Refused once, at the first place the password goes (discovery's web ticket), and never sent again.
    let refused: Vec<_> = report.stages.iter().filter(|s| s.detail.contains("Org ID STS refused")).collect();
    assert_eq!(refused.len(), 1, "{}", report.to_text());
    assert_eq!(refused[0].error_class.as_deref(), Some("org-id-refused"));
    assert!(report.stages.iter().all(|s| s.step != "certificate provisioning"), "{}", report.to_text());
    assert_eq!(pool.failed_logons(), 2, "the direct call above, then the sign-in's one");
    assert_no_secret(&report, wrong);
    assert_no_secret(&report, "Not-The-Passw0rd");
}

#[tokio::test]
async fn an_unreachable_org_id_sts_is_typed() {
    let pool = LabPool::start(online()).await.expect("lab pool starts");
    let http = http(&pool);
    let (_, password) = alice(&pool);
    let nowhere = "https://pool01.contoso.lab:1/RST2.srf";
    let err = alice_ticket(&pool, &http, &service_url(&pool), &password, nowhere).await.unwrap_err();
    assert_eq!(err.class(), "org-id-unreachable", "{err}");
    assert!(err.hint().contains("org_id_sts"), "{}", err.hint());
    assert!(!format!("{err} {err:?}").contains(&password));
}

#[tokio::test]
async fn a_token_the_bearer_port_does_not_know_is_the_sipe_165_500() {
    let pool = LabPool::start(online()).await.expect("lab pool starts");
    let http = http(&pool);
    let bearer = format!("{}/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer", base(&pool));
    let forged = concat!(
        r#"<wsu:Timestamp wsu:Id="timestamp"><wsu:Created>2026-11-22T07:00:00Z</wsu:Created></wsu:Timestamp>"#,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="_forged"/>"#
    );
    let rst = rst_request_with_security(&bearer, forged, &certprov_url(&pool), ALICE, &[3; 32], "c", "m");
    let headers = [
        ("Content-Type", "text/xml; charset=utf-8"),
        ("SOAPAction", "\"http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue\""),
    ];
    let response = http.send(Method::POST, &bearer, &headers, rst.into_bytes()).await.expect("answers");
    assert_eq!(response.status, 500);
    let err = bearer_verdict(&bearer, &response).unwrap_err();
    assert!(matches!(err, WebTicketAcquireError::WsFedBearerRefused { status: 500, fault: Some(_), .. }), "{err:?}");
    assert!(err.hint().contains("#165"), "{}", err.hint());
}
