//! Certificate provisioning end to end over real TLS against the lab pool ([MS-OCAUTHWS] GetAndPublishCert,
//! REFERENCE.md §2.4): a web ticket from the lab's Web Ticket Service, a CSR from sfbkit, the certificate back;
//! and the refusals: an invalid ticket (28032) and a CSR for someone else (SOAP fault).

use sfbkit::auth::certprov::{
    CertificateRequest, GET_AND_PUBLISH_CERT_ACTION, get_and_publish_cert, parse_certificate,
};
use sfbkit::auth::webticket::WebTicket;
use sfbkit::auth::webticket_client::acquire;
use sfbkit::http::{HttpClient, HttpResponse, Method};
use sfbkit::trust::{Purpose, TrustedUrl};
use sfbkit_lab::{LabConfig, LabPool};
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, X509Certificate};

const ALICE: &str = "sip:alice@contoso.lab";
const DEVICE: &str = "4233FD41-093B-5FD6-B5D2-651ED55969E6";

/// `url` admitted by the lab's trust model (the lab domain), as sign-in would admit it.
async fn trusted(pool: &LabPool, url: &str) -> TrustedUrl {
    pool.admit(url, Purpose::WebTicketService).await.expect("a lab URL is trusted")
}

/// An HTTP client set up as sfbkit's own: the pool's DNS server and only the pool's CA.
fn http_client(pool: &LabPool) -> HttpClient {
    pool.http_client().expect("an HTTP client for the lab pool")
}

fn certprov_url(pool: &LabPool) -> String {
    format!("https://pool01.contoso.lab:{}/CertProv/CertProvisioningService.svc", pool.web_ports().0)
}

async fn alice_ticket(pool: &LabPool, http: &HttpClient) -> WebTicket {
    let user = pool.config().user(ALICE).expect("alice in the directory");
    let sts = trusted(pool, &pool.web_ticket_url()).await;
    let (ticket, _entropy) = acquire(http, &sts, &certprov_url(pool), ALICE, &user.account(), &user.password)
        .await
        .expect("the lab issues alice a ticket");
    ticket
}

async fn post(pool: &LabPool, http: &HttpClient, ticket: &str, body: String) -> HttpResponse {
    let action = format!("\"{GET_AND_PUBLISH_CERT_ACTION}\"");
    let headers =
        [("Content-Type", "text/xml; charset=utf-8"), ("SOAPAction", action.as_str()), ("X-MS-WebTicket", ticket)];
    let url = trusted(pool, &certprov_url(pool)).await;
    http.send_trusted(Method::POST, &url, &headers, body.into_bytes()).await.expect("the service answers")
}

#[tokio::test]
async fn alice_gets_a_certificate_for_her_key_signed_by_the_lab_ca() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let ticket = alice_ticket(&pool, &http).await;
    let csr = CertificateRequest::generate("alice@contoso.lab").expect("a CSR");
    let body = get_and_publish_cert(ALICE, DEVICE, "7f0c2a52-1f1e-4a4e-9a52-0b8a3e1c0d11", &csr.csr_der);
    let response = post(&pool, &http, &ticket.header_value(), body).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));

    let der = parse_certificate(&response.body).expect("a certificate in the answer");
    let (_, cert) = X509Certificate::from_der(&der).expect("X.509 DER");
    let (_, ca_pem) = parse_x509_pem(pool.ca_pem().as_bytes()).expect("CA PEM");
    let ca = ca_pem.parse_x509().expect("CA certificate");
    cert.verify_signature(Some(ca.public_key())).expect("signed by the lab CA");
    assert_eq!(cert.issuer(), ca.subject());
    let cn = cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok());
    assert_eq!(cn, Some("alice@contoso.lab"));
    let (_, request) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&csr.csr_der).expect("CSR parses");
    assert_eq!(cert.public_key().raw, request.certification_request_info.subject_pki.raw, "the CSR's key");
    assert!(cert.extended_key_usage().ok().flatten().is_some_and(|eku| eku.value.client_auth));
    assert!(cert.validity().is_valid());
}

#[tokio::test]
async fn an_invalid_ticket_gets_28032() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let csr = CertificateRequest::generate("alice@contoso.lab").expect("a CSR");
    let body = get_and_publish_cert(ALICE, DEVICE, "r-1", &csr.csr_der);
    // `opaque=` + base64 of `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"
    // AssertionID="SamlSecurityToken-forged"/>`: well-formed, but never issued by this pool.
    let forged = "opaque=PHNhbWw6QXNzZXJ0aW9uIHhtbG5zOnNhbWw9InVybjpvYXNpczpuYW1lczp0YzpTQU1MOjEuMDphc3NlcnRpb24iIEFzc2VydGlvbklEPSJTYW1sU2VjdXJpdHlUb2tlbi1mb3JnZWQiLz4=";
    let response = post(&pool, &http, forged, body).await;
    assert_eq!(response.status, 401);
    let diagnostics = response.diagnostics().expect("X-Ms-diagnostics");
    assert_eq!(diagnostics.code, 28032);
    assert_eq!(diagnostics.source.as_deref(), Some("pool01.contoso.lab"));
}

#[tokio::test]
async fn a_csr_for_bob_with_alices_ticket_is_a_fault() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool starts");
    let http = http_client(&pool);
    let ticket = alice_ticket(&pool, &http).await;
    let csr = CertificateRequest::generate("bob@contoso.lab").expect("a CSR");
    let body = get_and_publish_cert("sip:bob@contoso.lab", DEVICE, "r-2", &csr.csr_der);
    let response = post(&pool, &http, &ticket.header_value(), body).await;
    assert_eq!(response.status, 500);
    let text = String::from_utf8_lossy(&response.body);
    assert!(text.contains("<s:Fault>") && text.contains("does not match the user of the web ticket"), "{text}");
    assert!(parse_certificate(&response.body).is_err());
}
