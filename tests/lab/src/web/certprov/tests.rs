//! The Certificate Provisioning Service's answers, without sockets.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use rcgen::PublicKeyData as _;
use sfbkit::auth::certprov::{CertificateRequest, get_and_publish_cert, parse_certificate};
use sfbkit::auth::webticket::parse_rstr;

use super::*;
use crate::ca::{self, LabCa};
use crate::web::WebConfig;
use crate::web::sts::{Issue, TICKET_LIFETIME, rstr};

const ALICE: &str = "sip:alice@contoso.lab";
const DEVICE: &str = "4233FD41-093B-5FD6-B5D2-651ED55969E6";

fn site(configure: impl FnOnce(&mut WebConfig)) -> Site {
    let ca = LabCa::generate("certprov test CA").unwrap();
    let cert = ca.issue_server_cert(&["pool01.contoso.lab".to_owned()], ca::Validity::default()).unwrap();
    let mut cfg = WebConfig::new("contoso.lab", ca::server_config(&cert).unwrap());
    cfg.user_ca = Some(Arc::new(ca));
    configure(&mut cfg);
    Site::new(cfg, 4443, 8080)
}

/// A ticket for `sip_uri` the site remembers: its `X-MS-WebTicket` value and its assertion XML.
fn ticket(site: &Site, sip_uri: &str) -> (String, String) {
    let now = SystemTime::now();
    let now =
        SystemTime::UNIX_EPOCH + Duration::from_secs(now.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs());
    let id = format!("SamlSecurityToken-{:08x}", rand::random::<u32>());
    let issue = Issue {
        issuer: "pool01.contoso.lab",
        sip_uri,
        audience: "https://pool01.contoso.lab/CertProv/CertProvisioningService.svc",
        context: "c",
        assertion_id: &id,
        now,
        server_entropy: [1; 32],
    };
    let ticket = parse_rstr(rstr(&issue).as_bytes()).unwrap();
    site.issued.remember_for(&id, sip_uri, now + TICKET_LIFETIME, now);
    (ticket.header_value(), ticket.assertion_xml().to_owned())
}

fn body_for(entity: &str, cn: &str) -> (String, CertificateRequest) {
    let csr = CertificateRequest::generate(cn).unwrap();
    (get_and_publish_cert(entity, DEVICE, "r-1", &csr.csr_der), csr)
}

/// The same request with the assertion in a `wsse:Security` SOAP header.
fn with_security_header(body: &str, assertion: &str) -> String {
    let header = format!(
        concat!(
            r#"<s:Header><wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/"#,
            r#"oasis-200401-wss-wssecurity-secext-1.0.xsd">{}</wsse:Security></s:Header><s:Body>"#
        ),
        assertion
    );
    body.replacen("<s:Body>", &header, 1)
}

async fn answer(site: &Site, ticket: Option<&str>, body: &str) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    if let Some(t) = ticket {
        headers.insert("x-ms-webticket", HeaderValue::from_str(t).unwrap());
    }
    let r = respond(site, true, &Method::POST, &headers, Some(Bytes::from(body.to_owned())));
    let (parts, body) = r.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, String::from_utf8(body.to_vec()).unwrap())
}

#[test]
fn the_request_sfbkit_writes_is_read() {
    let (body, csr) = body_for("alice@contoso.lab", "alice@contoso.lab");
    let req = parse_request(body.as_bytes()).unwrap();
    assert_eq!(req.entity.as_deref(), Some("alice@contoso.lab"));
    assert_eq!(req.device_id.as_deref(), Some("{4233FD41-093B-5FD6-B5D2-651ED55969E6}"));
    assert_eq!(req.request_id.as_deref(), Some("r-1"));
    assert_eq!(req.csr_der.as_deref(), Some(csr.csr_der.as_slice()));
    assert_eq!(req.header_assertion_id, None);
    let with = with_security_header(&body, r#"<saml:Assertion xmlns:saml="s" AssertionID="A-1"/>"#);
    let req = parse_request(with.as_bytes()).unwrap();
    assert_eq!(req.header_assertion_id.as_deref(), Some("A-1"));
    assert!(!format!("{req:?}").contains("A-1"), "Debug hides the assertion ID");
    assert_eq!(parse_request(b"<html/>"), None);
    assert_eq!(parse_request(b"not xml <<"), None);
}

#[tokio::test]
async fn a_valid_request_gets_a_certificate_for_the_csr_key_that_sfbkit_reads() {
    let site = site(|_| {});
    let (header, _) = ticket(&site, ALICE);
    let (body, csr) = body_for("alice@contoso.lab", "alice@contoso.lab");
    let (status, _, text) = answer(&site, Some(&header), &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("<GetAndPublishCertResponse xmlns=\"http://schemas.microsoft.com/OCS/AuthWebServices/\">"));
    assert!(text.contains(&format!("<TokenType>{X509V3}</TokenType>")));
    let der = parse_certificate(text.as_bytes()).unwrap();
    let issued = rcgen::CertificateSigningRequestParams::from_der(&csr.csr_der.clone().into()).unwrap();
    let ca = site.cfg.user_ca.as_deref().unwrap();
    let chain = ca_chain_check(ca, &der);
    assert_eq!(chain.subject_cn, "alice@contoso.lab");
    assert_eq!(chain.spki, issued.public_key.subject_public_key_info());
    let days = (chain.not_after - time::OffsetDateTime::now_utc()).whole_days();
    assert!((179..=180).contains(&days), "{days} days");
}

struct Checked {
    subject_cn: String,
    spki: Vec<u8>,
    not_after: time::OffsetDateTime,
}

/// Reads the certificate back with rcgen's x509-parser and checks the CA's signature on it.
fn ca_chain_check(ca: &LabCa, der: &[u8]) -> Checked {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).unwrap();
    let (_, ca_cert) = X509Certificate::from_der(ca.ca_der()).unwrap();
    cert.verify_signature(Some(ca_cert.public_key())).expect("signed by the lab CA");
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth);
    let cn = cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_owned();
    Checked { subject_cn: cn, spki: cert.public_key().raw.to_vec(), not_after: cert.validity().not_after.to_datetime() }
}

#[tokio::test]
async fn the_ticket_may_travel_in_the_soap_header() {
    let site = site(|_| {});
    let (_, assertion) = ticket(&site, ALICE);
    let (body, _) = body_for("alice@contoso.lab", "alice@contoso.lab");
    let (status, _, text) = answer(&site, None, &with_security_header(&body, &assertion)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(parse_certificate(text.as_bytes()).is_ok());
}

#[tokio::test]
async fn missing_forged_and_faulted_tickets_get_28032() {
    let site_ok = site(|_| {});
    let (body, _) = body_for("alice@contoso.lab", "alice@contoso.lab");
    let forged = format!(
        "opaque={}",
        base64::engine::general_purpose::STANDARD.encode(r#"<saml:Assertion xmlns:saml="s" AssertionID="nope"/>"#)
    );
    for ticket in [None, Some(forged.as_str()), Some("opaque=!!!")] {
        let (status, headers, _) = answer(&site_ok, ticket, &body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let diag = headers.get("x-ms-diagnostics").unwrap().to_str().unwrap();
        assert_eq!(diag, "28032;source=\"pool01.contoso.lab\";reason=\"The web ticket is invalid.\"");
    }
    let faulty = site(|c| c.invalid_ticket = true);
    let (header, _) = ticket(&faulty, ALICE);
    assert_eq!(answer(&faulty, Some(&header), &body).await.0, StatusCode::UNAUTHORIZED);
    // An expired ticket.
    let now = SystemTime::now();
    site_ok.issued.remember_for("old", ALICE, now - Duration::from_secs(1), now - Duration::from_secs(10));
    assert_eq!(validate(&site_ok, None, body.as_bytes(), now).map(|_| ()), Err(Refusal::InvalidTicket));
}

#[tokio::test]
async fn another_users_entity_or_subject_is_a_fault() {
    let site = site(|_| {});
    let (header, _) = ticket(&site, ALICE);
    let (bob, _) = body_for("bob@contoso.lab", "bob@contoso.lab");
    let (status, _, text) = answer(&site, Some(&header), &bob).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains("<s:Fault>") && text.contains(ENTITY_MISMATCH), "{text}");
    let (mixed, _) = body_for("alice@contoso.lab", "bob@contoso.lab");
    let (status, _, text) = answer(&site, Some(&header), &mixed).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(text.contains(SUBJECT_MISMATCH), "{text}");
    let broken = get_and_publish_cert("alice@contoso.lab", DEVICE, "r", b"not a csr");
    let (_, _, text) = answer(&site, Some(&header), &broken).await;
    assert!(text.contains("The PKCS#10 request could not be read"), "{text}");
}

#[tokio::test]
async fn expired_user_cert_fault_and_method_checks() {
    let site = site(|c| c.expired_user_cert = true);
    let (header, _) = ticket(&site, ALICE);
    let (body, _) = body_for("alice@contoso.lab", "alice@contoso.lab");
    let (status, _, text) = answer(&site, Some(&header), &body).await;
    assert_eq!(status, StatusCode::OK);
    let der = parse_certificate(text.as_bytes()).unwrap();
    let checked = ca_chain_check(site.cfg.user_ca.as_deref().unwrap(), &der);
    assert!(checked.not_after < time::OffsetDateTime::now_utc());

    let headers = HeaderMap::new();
    assert_eq!(
        respond(&site, true, &Method::GET, &headers, Some(Bytes::new())).status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(respond(&site, false, &Method::POST, &headers, Some(Bytes::new())).status(), StatusCode::FORBIDDEN);
    assert_eq!(respond(&site, true, &Method::POST, &headers, None).status(), StatusCode::PAYLOAD_TOO_LARGE);
    let without = self::site(|c| c.user_ca = None);
    assert_eq!(respond(&without, true, &Method::POST, &headers, Some(Bytes::new())).status(), StatusCode::NOT_FOUND);
}

#[test]
fn the_metadata_names_the_proof_port_and_its_issuer_where_pidgin_sipe_reads_them() {
    let doc = mex("https://pool/CertProv/CertProvisioningService.svc", "https://pool/WebTicket/WebTicketService.svc");
    // pidgin-sipe reads `Policy` and `service` as children of the root (sipe-webticket.c service_metadata).
    let parsed = sfbkit::xml::Document::parse(doc.as_bytes()).unwrap();
    assert_eq!(parsed.root.name, "definitions");
    let policy = parsed.root.children_named("Policy").find(|p| p.attr("Id") == Some(&format!("{PROOF_PORT}_policy")));
    assert!(policy.is_some(), "{doc}");
    assert!(parsed.root.children_named("service").next().is_some(), "{doc}");
    let info = sfbkit::auth::webticket::parse_mex(doc.as_bytes(), &format!("{PROOF_PORT}_policy")).unwrap();
    assert_eq!(
        info.ports.get(PROOF_PORT).map(String::as_str),
        Some("https://pool/CertProv/CertProvisioningService.svc")
    );
    assert_eq!(info.sts_address.as_deref(), Some("https://pool/WebTicket/WebTicketService.svc"));
    assert!(info.requires_proof, "EndorsingSupportingTokens: the ticket is used with its proof key");
}
