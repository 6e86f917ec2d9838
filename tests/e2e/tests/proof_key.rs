//! Proof-key web ticket requests end to end against the lab pool (REFERENCE.md §2.3, CLIENT-NOTES.md §6.3;
//! pidgin-sipe `sipe-webticket.c`): a first ticket over HTTP NTLM, then a second one from the Web Ticket Service's
//! proof-key port with a request signed by the first ticket's proof key and no credentials; a forged signature is
//! refused with a SOAP fault, and the client then falls back to its credentials.

use sfbkit::auth::webticket::WebTicket;
use sfbkit::auth::webticket_client::{
    RenewedVia, TicketRoute, WebTicketAcquireError, acquire, acquire_with_proof, get_user_with_ticket,
    renew_for_service,
};
use sfbkit::http::HttpClient;
use sfbkit::trust::{Purpose, TrustedUrl};
use sfbkit_lab::{LabConfig, LabPool};

const ALICE: &str = "sip:alice@contoso.lab";

/// `url` admitted by the lab's trust model (the lab domain), as sign-in would admit it.
async fn trusted(pool: &LabPool, url: &str) -> TrustedUrl {
    pool.admit(url, Purpose::WebTicketService).await.expect("a lab URL is trusted")
}

fn credentials(pool: &LabPool) -> (String, String) {
    let user = pool.config().user(ALICE).expect("alice in the directory");
    (user.account(), user.password.clone())
}

async fn first_ticket(pool: &LabPool, http: &HttpClient) -> (WebTicket, [u8; 32]) {
    let (account, password) = credentials(pool);
    acquire(
        http,
        &trusted(pool, &pool.web_ticket_url()).await,
        &pool.autodiscover_user_url(ALICE).1,
        ALICE,
        &account,
        &password,
    )
    .await
    .expect("a ticket over NTLM")
}

#[tokio::test]
async fn a_second_ticket_comes_from_the_proof_port_without_credentials() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = pool.http_client().expect("an HTTP client for the lab pool");
    let (first, entropy) = first_ticket(&pool, &http).await;

    // No credentials at all: an empty account and password would fail at the Windows port.
    let renewed = renew_for_service(
        &http,
        &pool.trust(),
        &trusted(&pool, &pool.web_ticket_url()).await,
        &pool.autodiscover_user_url(ALICE).1,
        ALICE,
        Some((&first, &entropy)),
        "",
        "",
        "",
        None,
    )
    .await
    .expect("a ticket from the proof port");
    assert!(matches!(&renewed.via, RenewedVia::ProofKey { port } if port == &pool.web_ticket_url()), "{renewed:?}");
    assert_ne!(renewed.ticket.assertion_id, first.assertion_id);
    assert!(renewed.ticket.assertion_xml().contains(ALICE));
    assert!(!format!("{renewed:?}").contains(first.assertion_xml()));

    // The new ticket is a real one: it opens autodiscover's User resource.
    let response =
        get_user_with_ticket(&http, &trusted(&pool, &pool.autodiscover_user_url(ALICE).0).await, &renewed.ticket)
            .await
            .expect("User answers");
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));

    // And it has a proof key of its own: it signs for a third.
    let (third, _) = acquire_with_proof(
        &http,
        &trusted(&pool, &pool.web_ticket_url()).await,
        &renewed.ticket,
        &renewed.entropy,
        &pool.autodiscover_user_url(ALICE).1,
        ALICE,
    )
    .await
    .expect("a third ticket, signed with the second's proof key");
    assert!(third.assertion_xml().contains(ALICE));
}

#[tokio::test]
async fn a_forged_signature_is_refused_and_the_client_falls_back_to_credentials() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = pool.http_client().expect("an HTTP client for the lab pool");
    let (first, _entropy) = first_ticket(&pool, &http).await;

    // The wrong client entropy makes the wrong proof key: the HMAC does not verify.
    let forged = [0x5a; 32];
    let err = acquire_with_proof(
        &http,
        &trusted(&pool, &pool.web_ticket_url()).await,
        &first,
        &forged,
        &pool.autodiscover_user_url(ALICE).1,
        ALICE,
    )
    .await
    .expect_err("a forged signature is refused");
    match &err {
        WebTicketAcquireError::SoapFault { status: 500, fault, .. } => {
            assert!(fault.contains("signature verification failed"), "{fault}")
        }
        other => panic!("{other:?}"),
    }
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(first.assertion_xml()) && !shown.contains("BinarySecret"), "{shown}");

    // With credentials at hand, the refusal is not the end: the Windows port issues the ticket.
    let (account, password) = credentials(&pool);
    let renewed = renew_for_service(
        &http,
        &pool.trust(),
        &trusted(&pool, &pool.web_ticket_url()).await,
        &pool.autodiscover_user_url(ALICE).1,
        ALICE,
        Some((&first, &forged)),
        &account,
        &password,
        &pool.org_id_url(),
        None,
    )
    .await
    .expect("a ticket over NTLM after the refusal");
    assert!(matches!(&renewed.via, RenewedVia::Credentials(TicketRoute::Windows { .. })), "{renewed:?}");
}
