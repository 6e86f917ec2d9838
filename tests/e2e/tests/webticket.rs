//! Web tickets end to end over real TLS against the lab pool: the client's RST and HTTP NTLM legs on one
//! connection to the lab's Web Ticket Service, then autodiscover's User resource read with the ticket
//! ([MS-OCAUTHWS], [MS-OCDISCWS]); and the typed refusals: wrong password, a claim for another user, and a
//! ticket the pool calls invalid (28032). No error may show the password or the assertion.

use sfbkit::auth::webticket::WebTicket;
use sfbkit::auth::webticket_client::{WebTicketAcquireError, acquire, get_user_with_ticket};
use sfbkit::discovery::autodiscover::{self, AccessLocation, Resource};
use sfbkit::http::HttpClient;
use sfbkit::trust::{Purpose, TrustedUrl};
use sfbkit_lab::{Fault, LabConfig, LabPool};

const ALICE: &str = "sip:alice@contoso.lab";
const BOB: &str = "sip:bob@contoso.lab";

/// `url` admitted by the lab's trust model (the lab domain), as sign-in would admit it.
async fn trusted(pool: &LabPool, url: &str) -> TrustedUrl {
    pool.admit(url, Purpose::WebTicketService).await.expect("a lab URL is trusted")
}

/// An HTTP client set up as sfbkit's own: the pool's DNS server and only the pool's CA.
fn http_client(pool: &LabPool) -> HttpClient {
    pool.http_client().expect("an HTTP client for the lab pool")
}

fn password(pool: &LabPool, sip_uri: &str) -> (String, String) {
    let user = pool.config().user(sip_uri).expect("user in the directory");
    (user.account(), user.password.clone())
}

/// A ticket for `claim` (the SIP URI the RST names) from the lab's Web Ticket Service, authenticating as
/// `account` with `password`, for alice's autodiscover User resource.
async fn ticket_for(
    pool: &LabPool,
    http: &HttpClient,
    claim: &str,
    account: &str,
    password: &str,
) -> Result<(WebTicket, [u8; 32]), WebTicketAcquireError> {
    let sts = trusted(pool, &pool.web_ticket_url()).await;
    acquire(http, &sts, &pool.autodiscover_user_url(ALICE).1, claim, account, password).await
}

async fn alice_ticket(pool: &LabPool, http: &HttpClient) -> WebTicket {
    let (account, password) = password(pool, ALICE);
    let (ticket, _entropy) =
        ticket_for(pool, http, ALICE, &account, &password).await.expect("the lab issues alice a ticket");
    ticket
}

/// Neither Display nor Debug of `err` shows `secrets`.
fn assert_no_secrets(err: &WebTicketAcquireError, secrets: &[&str]) {
    let shown = format!("{err} {err:?}");
    for s in secrets {
        assert!(!s.is_empty() && !shown.contains(s), "a secret leaked into {shown}");
    }
}

#[tokio::test]
async fn a_ticket_for_alice_opens_the_user_resource() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let ticket = alice_ticket(&pool, &http).await;
    assert!(ticket.assertion_id.starts_with("SamlSecurityToken-"), "{ticket:?}");
    assert!(ticket.expires > ticket.created && ticket.is_fresh(std::time::SystemTime::now()));
    assert!(ticket.assertion_xml().contains("sip:alice@contoso.lab"));

    let response = get_user_with_ticket(&http, &trusted(&pool, &pool.autodiscover_user_url(ALICE).0).await, &ticket)
        .await
        .expect("User answers");
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    let doc = autodiscover::xml::parse(&response.body, &pool.autodiscover_user_url(ALICE).0).expect("a User document");
    assert_eq!(doc.resource, Resource::User);
    assert_eq!(doc.access_location, Some(AccessLocation::Internal));
    let internal = doc.sip_client_internal.expect("SipClientInternalAccess");
    assert_eq!((internal.fqdn.as_str(), internal.port), ("pool01.contoso.lab", pool.sip_addr().port()));
    assert!(doc.sip_client_external.is_some());

    // Without the ticket, User still names the Web Ticket Service, at a URL that works.
    let denied = http.get(&pool.autodiscover_user_url(ALICE).0, &[]).await.expect("User answers");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.header("x-ms-webticketurl"), Some(pool.web_ticket_url().as_str()));
}

#[tokio::test]
async fn the_metadata_names_the_auth_port() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let url = format!("https://pool01.contoso.lab:{}/WebTicket/WebTicketService.svc/mex", pool.web_ports().0);
    let response = http.get(&url, &[]).await.expect("mex answers");
    assert_eq!(response.status, 200);
    let info = sfbkit::auth::webticket::parse_mex(&response.body, "WebTicketServiceWinNegotiate_policy").expect("mex");
    assert_eq!(info.ports.get("WebTicketServiceWinNegotiate"), Some(&pool.web_ticket_url()));
}

#[tokio::test]
async fn a_wrong_password_is_a_typed_refusal_without_the_password() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let (account, _) = password(&pool, ALICE);
    let wrong = "Not-The-Passw0rd!";
    let err = ticket_for(&pool, &http, ALICE, &account, wrong).await.unwrap_err();
    assert!(matches!(err, WebTicketAcquireError::WrongCredentials { .. }), "{err:?}");
    assert_eq!(err.class(), "wrong-credentials");
    assert_no_secrets(&err, &[wrong]);
}

#[tokio::test]
async fn a_claim_for_another_user_is_a_soap_fault() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let (account, password) = password(&pool, ALICE);
    let err = ticket_for(&pool, &http, BOB, &account, &password).await.unwrap_err();
    match &err {
        WebTicketAcquireError::SoapFault { status, fault, .. } => {
            assert_eq!(*status, 500);
            assert!(fault.starts_with("The SIP URI in the claim type requirements"), "{fault}");
        }
        other => panic!("expected a SOAP fault, got {other:?}"),
    }
    assert_no_secrets(&err, &[&password]);
}

#[tokio::test]
async fn under_invalid_ticket_the_user_resource_answers_28032() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::InvalidTicket)).await.expect("lab pool starts");
    let http = http_client(&pool);
    let ticket = alice_ticket(&pool, &http).await;
    let response = get_user_with_ticket(&http, &trusted(&pool, &pool.autodiscover_user_url(ALICE).0).await, &ticket)
        .await
        .expect("User answers");
    assert_eq!(response.status, 401);
    let diagnostics = response.diagnostics().expect("X-Ms-diagnostics");
    assert_eq!(diagnostics.code, 28032);
    assert_eq!(diagnostics.reason.as_deref(), Some("The web ticket is invalid."));
    assert_eq!(diagnostics.source.as_deref(), Some("pool01.contoso.lab"));
    assert!(sfbkit::auth::webticket::ticket_rejected(diagnostics.code));
    // Nothing the client keeps about the ticket prints the assertion.
    assert!(!format!("{ticket:?}").contains("saml:Assertion"));
    assert!(!format!("{ticket:?}").contains(&ticket.header_value()));
}

#[tokio::test]
async fn a_ticket_the_pool_never_issued_is_invalid() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let forged = "opaque=PHNhbWw6QXNzZXJ0aW9uIEFzc2VydGlvbklEPSJmb3JnZWQiLz4=";
    let accept = ("Accept", "application/vnd.microsoft.rtc.autodiscover+xml;v=1");
    let user = trusted(&pool, &pool.autodiscover_user_url(ALICE).0).await;
    let response = http
        .send_trusted(sfbkit::http::Method::GET, &user, &[("X-MS-WebTicket", forged), accept], Vec::new())
        .await
        .expect("User answers");
    assert_eq!(response.status, 401);
    assert_eq!(response.diagnostics().map(|d| d.code), Some(28032));
}

#[tokio::test]
async fn under_wrong_password_the_web_ticket_service_refuses_too() {
    let pool = LabPool::start(LabConfig::default().with_fault(Fault::WrongPassword)).await.expect("lab pool starts");
    let http = http_client(&pool);
    let (account, password) = password(&pool, ALICE);
    let err = ticket_for(&pool, &http, ALICE, &account, &password).await.unwrap_err();
    assert_eq!(err.class(), "wrong-credentials", "{err:?}");
    assert_no_secrets(&err, &[&password]);
}
