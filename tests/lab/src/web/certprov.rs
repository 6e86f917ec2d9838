//! The lab's Certificate Provisioning Service ([MS-OCAUTHWS] 3.1 GetAndPublishCert, REFERENCE.md §2.4): POST
//! `/CertProv/CertProvisioningService.svc` over HTTPS. It issues the TLS-DSK user certificate: an X.509
//! certificate for the public key of the client's PKCS#10 request, signed by the lab CA, subject
//! `CN=<user@domain>`, extended key usage clientAuth.
//!
//! The web ticket ([`super::sts`]) is accepted in either place a client may put it: the `X-MS-WebTicket:
//! opaque=<base64 SAML assertion>` HTTP header, or a `wsse:Security` SOAP header holding the `saml:Assertion`.
//! Only its `AssertionID` is trusted (the lab's assertions are not XML-signed): it must be one this pool issued and
//! not yet expired, and the user it was issued to must be the request's `Entity`. A missing or invalid ticket is
//! refused with 401 and `X-Ms-diagnostics: 28032`; everything else wrong with a request is a SOAP fault.
//!
//! The request is read with quick-xml here rather than with sfbkit's types, so a client bug in writing it is not
//! mirrored by the same bug in reading it.

use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use quick_xml::events::BytesStart;
use rcgen::{CertificateParams, DnType, DnValue, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose};
use rcgen::{CertificateSigningRequestParams, SerialNumber};

use super::routes::{Site, add, reply, soap_post};
use super::sts::{INVALID_TICKET_REASON, soap_fault, ticket_assertion_id};
use crate::ca::{CaError, LabCa, Validity};

/// The service's path, lower-cased for matching.
pub(crate) const CERTPROV_PATH: &str = "/certprov/certprovisioningservice.svc";
/// The service's path as IIS spells it in URLs (the `sts-uri` of the TLS-DSK challenge names it).
pub const CERTPROV_LINK: &str = "/CertProv/CertProvisioningService.svc";
/// The service's metadata, `<sts-uri>/mex`: where pidgin-sipe starts certificate provisioning.
pub(crate) const CERTPROV_MEX_PATH: &str = "/certprov/certprovisioningservice.svc/mex";
/// The ticket port of the service's metadata, the name pidgin-sipe looks for (sipe-certificate.c; REFERENCE.md §2.2
/// "Port names seen").
pub const PROOF_PORT: &str = "CertProvisioningServiceWebTicketProof_SHA1";
/// Largest GetAndPublishCert body read (a request with an RSA-2048 CSR and a ticket is about 4 KiB).
pub(crate) const MAX_REQUEST: usize = 64 * 1024;
/// How long issued certificates are valid: a pool's default `DefaultValidityPeriodHours` is 4,320 h (FIELD-NOTES).
pub const CERT_VALIDITY_HOURS: i64 = 4320;
/// `TokenType` / `ValueType` of the issued certificate.
pub const X509V3: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";
/// `EncodingType` of the issued certificate.
const BASE64_BINARY: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#Base64Binary";
/// The fault when the ticket's user is not the `Entity` asked for.
pub const ENTITY_MISMATCH: &str = "The entity of the certificate request does not match the user of the web ticket.";
/// The fault when the request's subject is not the `Entity`.
pub const SUBJECT_MISMATCH: &str = "The subject of the certificate request does not match the entity.";

/// What a GetAndPublishCert request carries (only the parts the lab checks or uses).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GetAndPublishCert {
    /// `GetAndPublishCert/@Entity`: `user@domain`.
    pub entity: Option<String>,
    /// `GetAndPublishCert/@DeviceId`.
    pub device_id: Option<String>,
    /// `RequestID`.
    pub request_id: Option<String>,
    /// The PKCS#10 request (DER) from `RequestSecurityToken/BinarySecurityToken`; `None` when absent or not
    /// base64.
    pub csr_der: Option<Vec<u8>>,
    /// The `AssertionID` of a `saml:Assertion` in the `wsse:Security` SOAP header.
    pub header_assertion_id: Option<String>,
}

impl std::fmt::Debug for GetAndPublishCert {
    // The assertion ID is a bearer credential: it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetAndPublishCert")
            .field("entity", &self.entity)
            .field("device_id", &self.device_id)
            .field("request_id", &self.request_id)
            .field("csr_bytes", &self.csr_der.as_ref().map(Vec::len))
            .field("header_ticket", &self.header_assertion_id.is_some())
            .finish()
    }
}

/// Reads a GetAndPublishCert envelope; `None` when the body is not XML with a `GetAndPublishCert` element.
pub fn parse_request(body: &[u8]) -> Option<GetAndPublishCert> {
    let (mut req, mut seen) = (GetAndPublishCert::default(), false);
    let mut values: Vec<(Vec<String>, String)> = Vec::new();
    super::soap::walk(
        body,
        |path, name, e| start(&mut req, &mut seen, path, name, e),
        |path, text| values.push((path.to_vec(), text)),
    )?;
    for (path, text) in values {
        let value: String = text.split_whitespace().collect();
        match path.as_slice() {
            [.., a, b] if a == "RequestSecurityToken" && b == "BinarySecurityToken" => {
                req.csr_der = base64::engine::general_purpose::STANDARD.decode(value).ok();
            }
            [.., a, b] if a == "RequestSecurityToken" && b == "RequestID" => req.request_id = Some(value),
            _ => {}
        }
    }
    seen.then_some(req)
}

/// Handles an opening element of the request: `GetAndPublishCert`'s attributes, or the assertion in the
/// SOAP header's `Security`.
fn start(req: &mut GetAndPublishCert, seen: &mut bool, path: &[String], name: &str, e: &BytesStart<'_>) {
    if name == "GetAndPublishCert" {
        *seen = true;
        req.entity = attribute(e, "Entity");
        req.device_id = attribute(e, "DeviceId");
    } else if name == "Assertion"
        && path.iter().any(|p| p == "Header")
        && path.iter().any(|p| p == "Security")
        && req.header_assertion_id.is_none()
    {
        req.header_assertion_id = attribute(e, "AssertionID");
    }
}

fn attribute(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No ticket, or one this pool did not issue or that has expired: 401 with 28032.
    InvalidTicket,
    /// A SOAP fault with this text (HTTP 500, as WCF answers).
    Fault(String),
}

/// The user (bare `user@domain`, lower-case) a presented ticket was issued to, checking the header ticket first
/// and then the one in the SOAP header.
fn ticket_holder(site: &Site, header: Option<&str>, req: &GetAndPublishCert, now: SystemTime) -> Option<String> {
    if site.cfg.invalid_ticket {
        return None;
    }
    let id = header.and_then(ticket_assertion_id).or_else(|| req.header_assertion_id.clone())?;
    site.issued.holder(&id, now).map(|sip| bare(&sip))
}

fn bare(sip: &str) -> String {
    sip.trim().strip_prefix("sip:").unwrap_or(sip.trim()).to_ascii_lowercase()
}

/// Checks a request against the ticket and the CSR; on success the entity (bare) and the CSR.
pub(crate) fn validate(
    site: &Site,
    header: Option<&str>,
    body: &[u8],
    now: SystemTime,
) -> Result<(String, CertificateSigningRequestParams), Refusal> {
    let parsed = parse_request(body);
    let holder = ticket_holder(site, header, parsed.as_ref().unwrap_or(&GetAndPublishCert::default()), now)
        .ok_or(Refusal::InvalidTicket)?;
    let req = parsed.ok_or_else(|| Refusal::Fault("The request is not a GetAndPublishCert request.".into()))?;
    let entity = req.entity.as_deref().map(bare).filter(|e| !e.is_empty());
    let entity = entity.ok_or_else(|| Refusal::Fault("The request names no Entity.".into()))?;
    if entity != holder {
        return Err(Refusal::Fault(ENTITY_MISMATCH.into()));
    }
    let der = req.csr_der.ok_or_else(|| Refusal::Fault("The request carries no base64 PKCS#10 request.".into()))?;
    let csr = CertificateSigningRequestParams::from_der(&der.into())
        .map_err(|e| Refusal::Fault(format!("The PKCS#10 request could not be read: {e}")))?;
    let cn = common_name(&csr.params.distinguished_name).map(|cn| bare(&cn));
    if cn.as_deref() != Some(entity.as_str()) {
        return Err(Refusal::Fault(SUBJECT_MISMATCH.into()));
    }
    Ok((entity, csr))
}

fn common_name(dn: &rcgen::DistinguishedName) -> Option<String> {
    match dn.get(&DnType::CommonName)? {
        DnValue::Utf8String(s) => Some(s.clone()),
        DnValue::PrintableString(s) => Some(s.as_str().to_owned()),
        DnValue::Ia5String(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// The user certificate (DER) for the CSR's public key: `CN=<entity>`, digitalSignature + keyEncipherment,
/// clientAuth, signed by `ca`.
pub fn issue_certificate(
    ca: &LabCa,
    entity: &str,
    csr: &CertificateSigningRequestParams,
    validity: Validity,
) -> Result<Vec<u8>, CaError> {
    let (ca_cert_pem, ca_key_pem) = ca.to_pem_pair();
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(CaError::CaKeyPem)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key).map_err(CaError::CaCertPem)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, entity);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    // Random and positive: the default serial derives from the public key, and a renewal reuses the key.
    let mut serial = rand::random::<[u8; 16]>();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    let signed = CertificateSigningRequestParams { params, public_key: csr.public_key.clone() };
    Ok(signed.signed_by(&issuer).map_err(CaError::Generate)?.der().to_vec())
}

/// The GetAndPublishCertResponse carrying `cert_der`.
/// The service's WS-MetadataExchange document (GET `<sts-uri>/mex`; REFERENCE.md §2.2, CLIENT-NOTES.md §6.2), reduced to
/// what clients read: the policy of the [`PROOF_PORT`] port, whose `EndorsingSupportingTokens` name the Web Ticket
/// Service that issues its tickets (`issuer`; a proof-key signature is required), and the port's address,
/// `certprov` (where GetAndPublishCert goes, and the ticket's `AppliesTo`). Before the interop test the lab
/// answered 404 here and pidgin-sipe's TLS-DSK stopped at "Web ticket request … failed".
pub fn mex(certprov: &str, issuer: &str) -> String {
    use super::mex::{Policy, Port, definitions};
    definitions(
        "CertProvisioningService",
        &[Port { name: PROOF_PORT, policy: Policy::Endorsing { issuer }, location: certprov }],
    )
}

pub fn response(cert_der: &[u8]) -> String {
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
            r#"<GetAndPublishCertResponse xmlns="http://schemas.microsoft.com/OCS/AuthWebServices/">"#,
            r#"<RequestSecurityTokenResponse xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512/">"#,
            r#"<TokenType>{x509}</TokenType><RequestedSecurityToken>"#,
            r#"<BinarySecurityToken ValueType="{x509}" EncodingType="{enc}">{cert}</BinarySecurityToken>"#,
            r#"</RequestedSecurityToken></RequestSecurityTokenResponse></GetAndPublishCertResponse>"#,
            r#"</s:Body></s:Envelope>"#
        ),
        x509 = X509V3,
        enc = BASE64_BINARY,
        cert = base64::engine::general_purpose::STANDARD.encode(cert_der),
    )
}

/// The validity of the certificates the service issues: [`CERT_VALIDITY_HOURS`] from now, or already expired
/// under the `expired-user-cert` fault.
fn validity(site: &Site) -> Validity {
    if site.cfg.expired_user_cert {
        return Validity::expired();
    }
    let now = time::OffsetDateTime::now_utc();
    Validity { not_before: now - time::Duration::hours(1), not_after: now + time::Duration::hours(CERT_VALIDITY_HOURS) }
}

/// Answers one request to the service. `body` is `None` when it was too large or broken.
pub(crate) fn respond(
    site: &Site,
    tls: bool,
    method: &Method,
    headers: &HeaderMap,
    body: Option<Bytes>,
) -> Response<Full<Bytes>> {
    let body = match soap_post(site, tls, method, body) {
        Ok(b) => b,
        Err(refusal) => return *refusal,
    };
    let Some(ca) = site.cfg.user_ca.as_deref() else {
        return reply(site, StatusCode::NOT_FOUND, "text/plain", "Not Found".into());
    };
    let header = headers.get("x-ms-webticket").and_then(|v| v.to_str().ok());
    let (entity, csr) = match validate(site, header, &body, SystemTime::now()) {
        Ok(ok) => ok,
        Err(Refusal::InvalidTicket) => return invalid_ticket(site),
        Err(Refusal::Fault(text)) => {
            tracing::info!(%text, "lab certificate provisioning: request refused");
            return fault(site, &text);
        }
    };
    match issue_certificate(ca, &entity, &csr, validity(site)) {
        Ok(der) => {
            tracing::info!(%entity, "lab certificate provisioning: certificate issued");
            reply(site, StatusCode::OK, "text/xml; charset=utf-8", response(&der))
        }
        Err(err) => {
            tracing::warn!(%err, "lab certificate provisioning: signing failed");
            fault(site, "The certificate could not be issued.")
        }
    }
}

fn invalid_ticket(site: &Site) -> Response<Full<Bytes>> {
    let mut r = reply(site, StatusCode::UNAUTHORIZED, "text/xml; charset=utf-8", soap_fault(INVALID_TICKET_REASON));
    let pool = &site.cfg.pool_fqdn;
    add(&mut r, "x-ms-diagnostics", &format!("28032;source=\"{pool}\";reason=\"{INVALID_TICKET_REASON}\""));
    r
}

fn fault(site: &Site, text: &str) -> Response<Full<Bytes>> {
    reply(site, StatusCode::INTERNAL_SERVER_ERROR, "text/xml; charset=utf-8", soap_fault(text))
}

#[cfg(test)]
mod tests;
