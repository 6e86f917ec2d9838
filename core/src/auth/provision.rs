//! Certificate provisioning end to end ([MS-OCAUTHWS] 3.1, REFERENCE.md §2.4; seed 000's steps
//! "MEX → certificate"): a web ticket for the Certificate Provisioning Service (HTTP NTLM against
//! the Web Ticket Service, or for Office 365 an Org ID token at its WsFedBearer port), an RSA-2048 key and CSR, GetAndPublishCert, and the certificate with
//! its key into the keystore, keyed by user and pool, for this and every later sign-in.

use std::time::SystemTime;

use super::certprov::{CertificateRequest, GET_AND_PUBLISH_CERT_ACTION, get_and_publish_cert, parse_certificate};
use super::webticket::{WebTicket, ticket_rejected};
use super::webticket_client::{TicketRoute, WebTicketAcquireError, acquire_for_service};
use crate::http::{HttpClient, HttpError, HttpResponse};
use crate::keystore::{KeystoreError, SecretStore, StoredCertificate};
use crate::trust::{TrustModel, TrustedUrl};

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("getting a web ticket: {0}")]
    WebTicket(#[from] WebTicketAcquireError),
    #[error("the Certificate Provisioning Service could not be reached: {0}")]
    Http(#[from] HttpError),
    #[error("the Certificate Provisioning Service answered {status}{}", diag.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused { status: u16, code: Option<u32>, diag: Option<String> },
    #[error("{0}")]
    Request(#[from] super::certprov::CertProvError),
    #[error("the certificate could not be stored: {0}")]
    Keystore(#[from] KeystoreError),
    /// The service issued a certificate whose validity has already ended (or not begun): a registrar refuses it
    /// in the TLS-DSK handshake, where the cause no longer shows.
    #[error(
        "the Certificate Provisioning Service issued a certificate that is not valid now (valid {from} to {until})"
    )]
    IssuedInvalid { from: String, until: String },
}

impl ProvisionError {
    /// True when the sign-in must end here (see [`WebTicketAcquireError::ends_sign_in`]).
    pub fn ends_sign_in(&self) -> bool {
        matches!(self, ProvisionError::WebTicket(e) if e.ends_sign_in())
    }

    /// The server's own diagnosis (`ErrorCode=28032,source=...,Reason=...`), when it sent one.
    pub fn diagnosis(&self) -> Option<String> {
        match self {
            ProvisionError::Refused { diag, .. } => diag.clone(),
            ProvisionError::WebTicket(e) => e.diagnosis(),
            _ => None,
        }
    }

    /// A short class for reports.
    pub fn class(&self) -> &'static str {
        match self {
            ProvisionError::WebTicket(e) => e.class(),
            ProvisionError::Http(e) => e.class(),
            ProvisionError::Refused { code: Some(code), .. } if super::webticket::diagnostic_cause(*code).is_some() => {
                super::webticket::diagnostic_cause(*code).map(|(class, _)| class).unwrap_or_default()
            }
            ProvisionError::Refused { .. } => "certificate-provisioning-refused",
            ProvisionError::Request(_) => "certificate-provisioning-failed",
            ProvisionError::Keystore(_) => "keystore",
            ProvisionError::IssuedInvalid { .. } => "issued-certificate-invalid",
        }
    }
    /// What to do about it.
    pub fn hint(&self) -> String {
        match self {
            ProvisionError::WebTicket(e) => e.hint(),
            ProvisionError::Http(e) => e.hint(),
            ProvisionError::Refused { code: Some(code), .. } if super::webticket::diagnostic_cause(*code).is_some() => {
                super::webticket::diagnostic_cause(*code).map(|(_, hint)| hint.to_string()).unwrap_or_default()
            }
            ProvisionError::Refused { .. } => "the pool refused to issue a certificate: check the user's web ticket (X-Ms-diagnostics) and the Certificate Provisioning Service's event log".into(),
            ProvisionError::Request(_) => "the pool's certificate answer could not be used; capture it and compare with [MS-OCAUTHWS]".into(),
            ProvisionError::Keystore(_) => "the OS keystore refused the certificate: check its quota and permissions, or give the client another SecretStore".into(),
            ProvisionError::IssuedInvalid { .. } => "check the clock of the Front End servers and of this machine, and the validity the pool's user certificate issuer gives (Get-CsWebServiceConfiguration)".into(),
        }
    }
}

/// How far in the future a new certificate's notBefore may lie before it counts as not yet valid: the 5 minutes of
/// clock difference Kerberos and TLS-DSK tolerate between client and server ([`super::clock::tolerance`]).
const CLOCK_ALLOWANCE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// What provisioning did, for the report (no secrets).
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub certificate: StoredCertificate,
    pub ticket_expires: SystemTime,
    pub sts_url: String,
    /// Which Web Ticket Service port (Windows, or Org ID + WsFedBearer) issued the ticket.
    pub route: TicketRoute,
}

/// The Web Ticket Service next to a Certificate Provisioning Service URL (same host and port), for
/// when autodiscover did not name one.
pub fn default_sts_url(certprov_url: &str) -> Option<String> {
    let url = url::Url::parse(certprov_url).ok()?;
    let host = url.host_str()?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("https://{host}{port}/WebTicket/WebTicketService.svc/Auth"))
}

/// Gets a certificate for `sip_address` from `certprov` and stores it under (user, `pool`). The web ticket
/// comes from the Web Ticket Service at `sts`: its Windows port, or for Office 365 through the Org ID STS at
/// `org_id_sts` ([`acquire_for_service`], which admits every port it learns with `trust`).
#[allow(clippy::too_many_arguments)]
pub async fn provision(
    http: &HttpClient,
    trust: &TrustModel,
    sts: &TrustedUrl,
    certprov: &TrustedUrl,
    sip_address: &str,
    account: &str,
    password: &str,
    device_id: &str,
    store: &dyn SecretStore,
    pool: &str,
    org_id_sts: &str,
    kerberos: Option<&super::kerberos::KerberosClient>,
) -> Result<Provisioned, ProvisionError> {
    let sip_uri = if sip_address.starts_with("sip:") { sip_address.to_string() } else { format!("sip:{sip_address}") };
    // The RSA key pair is generated on a blocking thread while the web ticket is fetched: its hundred or so
    // milliseconds of CPU overlap the ticket's round trips instead of adding to them.
    let owner = sip_uri.clone();
    let keygen = tokio::task::spawn_blocking(move || CertificateRequest::generate(&owner));
    let acquire =
        || acquire_for_service(http, trust, sts, certprov.as_str(), &sip_uri, account, password, org_id_sts, kerberos);
    let mut acquired = acquire().await?;
    let request = keygen
        .await
        .map_err(|e| crate::auth::certprov::CertProvError::KeyGeneration(format!("the key task ended: {e}")))??;
    // REFERENCE.md §2.3: a ticket the service calls invalid, expired or unverifiable (28032,
    // 28033, 28072) is dropped and a new one fetched, once; then the refusal stands.
    let mut retried = false;
    loop {
        let (ticket, route): (WebTicket, _) = (acquired.ticket, acquired.route);
        match publish(http, certprov, &sip_uri, device_id, &request, &ticket).await {
            Err(ProvisionError::Refused { code: Some(code), .. }) if !retried && ticket_rejected(code) => {
                tracing::info!(code, "web ticket refused by certificate provisioning; fetching a new one once");
                retried = true;
                acquired = acquire().await?;
            }
            Err(e) => return Err(e),
            Ok(cert) => {
                let certificate =
                    StoredCertificate { cert_chain_der: vec![cert], key_pkcs8_der: request.key_pkcs8_der().to_vec() };
                // Checked before it is stored: an expired certificate would only fail later, in the registrar's
                // TLS-DSK handshake, as a malformed challenge (the lab's `expired-user-cert` fault showed it).
                if let Some((not_before, not_after)) = certificate.validity() {
                    let now = SystemTime::now();
                    if not_after <= now || not_before > now + CLOCK_ALLOWANCE {
                        let at = crate::auth::clock::format_date;
                        return Err(ProvisionError::IssuedInvalid { from: at(not_before), until: at(not_after) });
                    }
                }
                certificate.save(store, &sip_uri, pool)?;
                return Ok(Provisioned {
                    certificate,
                    ticket_expires: ticket.expires,
                    sts_url: sts.to_string(),
                    route,
                });
            }
        }
    }
}

/// GetAndPublishCert with `ticket`: the certificate (DER) the service issued for `request`.
async fn publish(
    http: &HttpClient,
    certprov: &TrustedUrl,
    sip_uri: &str,
    device_id: &str,
    request: &CertificateRequest,
    ticket: &WebTicket,
) -> Result<Vec<u8>, ProvisionError> {
    let request_id = format!("{:032x}", rand::random::<u128>());
    let body = get_and_publish_cert(sip_uri, device_id, &request_id, &request.csr_der);
    let soap_action = format!("\"{GET_AND_PUBLISH_CERT_ACTION}\"");
    // The header value is the bearer ticket itself: wiped once the request is built.
    let ticket_header = zeroize::Zeroizing::new(ticket.header_value());
    let headers = [
        ("Content-Type", "text/xml; charset=utf-8"),
        ("SOAPAction", soap_action.as_str()),
        ("X-MS-WebTicket", ticket_header.as_str()),
    ];
    let response: HttpResponse = http.send_trusted(http::Method::POST, certprov, &headers, body.into_bytes()).await?;
    if response.status != 200 {
        let d = response.diagnostics();
        return Err(ProvisionError::Refused {
            status: response.status,
            code: d.as_ref().map(|d| d.code),
            diag: d.map(|d| d.to_diagnosis()),
        });
    }
    Ok(parse_certificate(&response.body)?)
}
