//! Getting a web ticket over HTTP ([MS-OCAUTHWS] IssueToken, REFERENCE.md §2.3) with Integrated Windows
//! authentication, and presenting it to autodiscover's User resource (REFERENCE.md §1.2).
//!
//! The Web Ticket Service's `WebTicketServiceWinNegotiate` port (`https://<pool>/WebTicket/WebTicketService.svc/Auth`)
//! authenticates the HTTP POST itself: the RST goes out without credentials, the 401 names the schemes, then
//! NTLM's NEGOTIATE and AUTHENTICATE legs follow, each carrying the RST again. HTTP NTLM authenticates a
//! *connection*, so every leg travels on one [`HttpConnection`](crate::http::HttpConnection)
//! (`protocol/DEPENDENCIES.md` §6).
//!
//! Schemes: `NTLM` is preferred. When only `Negotiate` is offered, the raw NTLM tokens travel under the
//! `Negotiate` scheme, as Windows SSPI sends them when Kerberos is unavailable (no SPNEGO wrapping, and no
//! Kerberos: a server that insists on SPNEGO or Kerberos is reported as offering no usable scheme).
//!
//! Office 365 (seed 000 steps 6–10; [`acquire_for_service`]): the service's MEX names a `WsFedBearer` port
//! (`.../WebTicketAdvancedService.svc/WsFed_bearer`) and no Windows port, or the Windows port refuses the
//! credentials with 401. Then the client gets a token from the Org ID STS ([`super::orgid`], a WS-Trust
//! UsernameToken request to `login.microsoftonline.com/RST2.srf`) and presents it in the `wsse:Security` header of
//! the RST it posts to the bearer port, which answers with the same RSTR. This is pidgin-sipe's order
//! (`sipe-webticket.c`, `webticket_metadata` → `initiate_fedbearer` → `sipe_svc_webticket_lmc`), minus its
//! `getuserrealm.srf` / ADFS detour (federated tenants are not supported here).
//!
//! Proof key ([`renew_for_service`], [`acquire_with_proof`]): when the MEX names a proof-key port
//! ([`super::webticket::proof_port`]) and the client holds a fresh earlier ticket with its RST's entropy, the new
//! ticket is requested with a request signed by that ticket's proof key ([`super::proof`]) and no credentials.
//!
//! Trust: every URL a credential goes to is a [`TrustedUrl`] the caller's [`TrustModel`] admitted; the ports a
//! MEX names are admitted here before use (an https port in the SIP domain or a trusted domain, never plain
//! http), so a pool, a MEX or a man in the middle cannot steer the password elsewhere ([`crate::trust`]).
//!
//! The wire format (RST, RSTR) is [`super::webticket`]; the decisions on each response are plain functions
//! ([`choose_scheme`], [`challenge_token`], [`final_verdict`]) so they are testable without sockets.

use std::time::{Duration, SystemTime};

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use zeroize::Zeroizing;

use super::kerberos::KerberosClient;
use super::ntlm::{ClientOptions, ClientRandom, NtlmClient, NtlmError, decode_token, encode_token};
use super::orgid::{
    ORG_ID_CONTENT_TYPE, ORG_ID_ISSUE_ACTION, OrgIdError, org_id_request, org_id_username, parse_org_id_response,
};
use super::proof::{ProofError, ProofKey, proof_rst_request};
use super::sa::ntlm_credentials;
use super::webticket::{
    MexInfo, RST_ISSUE_ACTION, WebTicket, WebTicketError, WebTicketPorts, mex_url, parse_mex, parse_rstr, proof_port,
    rst_request, rst_request_with_security,
};
use crate::http::{HttpClient, HttpError, HttpResponse, Method};
use crate::trust::{Learned, Purpose, TrustModel, TrustedUrl, Untrusted};

/// `Content-Type` of the RST (SOAP 1.1).
pub const RST_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// `Accept` of the autodiscover XML flavour, the one that carries SIP access points ([MS-OCDISCWS]).
pub const AUTODISCOVER_XML_ACCEPT: &str = "application/vnd.microsoft.rtc.autodiscover+xml;v=1";
/// Longest SOAP fault text kept in an error.
const MAX_FAULT_TEXT: usize = 512;

/// An HTTP authentication scheme the client can answer with NTLM tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAuthScheme {
    /// `WWW-Authenticate: NTLM`.
    Ntlm,
    /// `WWW-Authenticate: Negotiate`, answered with raw NTLM tokens (no SPNEGO, no Kerberos).
    Negotiate,
}

impl HttpAuthScheme {
    /// The scheme's name as it appears in `WWW-Authenticate` and `Authorization`.
    pub fn name(self) -> &'static str {
        match self {
            HttpAuthScheme::Ntlm => "NTLM",
            HttpAuthScheme::Negotiate => "Negotiate",
        }
    }
}

/// Why no web ticket was issued. Never carries the password, an NTLM token or the assertion.
#[derive(Debug, thiserror::Error)]
pub enum WebTicketAcquireError {
    /// The request did not get a usable HTTP response (DNS, TCP, TLS, timeout, broken HTTP).
    #[error(transparent)]
    Http(#[from] HttpError),
    /// A port or service the credentials would go to is not trusted for the user's SIP domain: nothing was sent
    /// (boxed: it is large, and every result carrying this error would be as large).
    #[error(transparent)]
    Untrusted(Box<Untrusted>),
    /// The service's 401 offers neither NTLM nor Negotiate (e.g. only certificate or OAuth).
    #[error("{url}: the Web Ticket Service offers no scheme this client speaks (offered: {offered:?})")]
    NoUsableScheme {
        /// The STS URL.
        url: String,
        /// The `WWW-Authenticate` scheme names the server sent.
        offered: Vec<String>,
    },
    /// The NEGOTIATE leg did not get an NTLM CHALLENGE back, or the CHALLENGE could not be answered.
    #[error("{url}: the NTLM handshake with the Web Ticket Service failed: {reason}")]
    Handshake {
        /// The STS URL.
        url: String,
        /// What went wrong (status, or the NTLM error).
        reason: String,
    },
    /// The AUTHENTICATE leg was answered with 401: the account or password is wrong (or the account may
    /// not sign in here).
    #[error("{url}: the Web Ticket Service refused the credentials{}", diag_suffix(*code, reason))]
    WrongCredentials {
        /// The STS URL.
        url: String,
        /// `X-Ms-diagnostics` code, when the server sent one.
        code: Option<u32>,
        /// `X-Ms-diagnostics` reason, when the server sent one.
        reason: Option<String>,
    },
    /// The AUTHENTICATE was refused and the service's `Date` is further from this computer's clock than NTLM
    /// tolerates: the timestamps were refused, which no password change would fix.
    #[error(
        "{url}: the Web Ticket Service refused the NTLM answer, and its clock says {server_date} while this computer's is {apart} {direction}; NTLM tolerates at most 15 min"
    )]
    ClockSkew {
        /// The STS URL.
        url: String,
        /// The service's `Date`.
        server_date: String,
        /// How far apart the clocks are, in words.
        apart: String,
        /// `behind` or `ahead` (this computer relative to the service).
        direction: &'static str,
    },
    /// The service answered with a SOAP fault (for example a claim for another user's SIP URI).
    #[error("{url}: the Web Ticket Service answered {status} with a SOAP fault: {fault}")]
    SoapFault {
        /// The STS URL.
        url: String,
        /// The HTTP status (usually 500).
        status: u16,
        /// The fault's `faultstring` (SOAP 1.1) or `Reason/Text` (SOAP 1.2).
        fault: String,
    },
    /// The service refused with an HTTP status and an `X-Ms-diagnostics` explanation.
    #[error("{url}: the Web Ticket Service answered {status}{}", diag_suffix(Some(*code), reason))]
    Diagnostics {
        /// The STS URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// `X-Ms-diagnostics` code (28020 no valid security token, 28029 auth type not allowed, ...).
        code: u32,
        /// `X-Ms-diagnostics` reason.
        reason: Option<String>,
    },
    /// Any other status without an explanation.
    #[error("{url}: the Web Ticket Service answered with HTTP status {status}")]
    UnexpectedStatus {
        /// The STS URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// Getting a token from the Org ID STS failed (Office 365 path).
    #[error(transparent)]
    OrgId(#[from] OrgIdError),
    /// The `WsFedBearer` port refused the Org ID token (HTTP 500 after a successful Org ID sign-in is the
    /// symptom of tieto/sipe #165).
    #[error("{url}: the Web Ticket Service's WsFed_bearer port answered {status} to the Org ID token{}",
        fault.as_ref().map(|f| format!(": {f}")).unwrap_or_default())]
    WsFedBearerRefused {
        /// The bearer port's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The SOAP fault text, when there is one.
        fault: Option<String>,
    },
    /// The earlier ticket cannot sign a request (no proof key or no AssertionID).
    #[error("the earlier web ticket cannot sign a proof-key request: {0}")]
    Proof(#[from] ProofError),
    /// A 200 whose body is not an RSTR with an assertion, lifetime and entropy.
    #[error("{url}: the Web Ticket Service's response is not a usable RSTR: {error}")]
    MalformedRstr {
        /// The STS URL.
        url: String,
        /// What is missing or broken.
        error: WebTicketError,
    },
}

impl From<Untrusted> for WebTicketAcquireError {
    fn from(e: Untrusted) -> WebTicketAcquireError {
        WebTicketAcquireError::Untrusted(Box::new(e))
    }
}

fn diag_suffix(code: Option<u32>, reason: &Option<String>) -> String {
    match (code, reason) {
        (Some(c), Some(r)) => format!(" ({c}: {r})"),
        (Some(c), None) => format!(" ({c})"),
        (None, Some(r)) => format!(" ({r})"),
        (None, None) => String::new(),
    }
}

impl WebTicketAcquireError {
    /// True when the service refused the password itself (a failed logon the directory counts), as opposed
    /// to the service being unreachable or broken: the sign-in must stop there (account lockout).
    pub fn refused_credentials(&self) -> bool {
        matches!(
            self,
            WebTicketAcquireError::WrongCredentials { .. }
                | WebTicketAcquireError::OrgId(OrgIdError::FailedAuthentication { .. })
        )
    }

    /// True when no other route can do better with the same credentials, so the sign-in ends: the
    /// password was refused, the clocks are too far apart, or a server is not trusted with them.
    pub fn ends_sign_in(&self) -> bool {
        self.refused_credentials()
            || matches!(self, WebTicketAcquireError::ClockSkew { .. } | WebTicketAcquireError::Untrusted(_))
    }

    /// A short class for reports and tests: `wrong-credentials`, `soap-fault`, `ms-diagnostics`, ...
    pub fn class(&self) -> &'static str {
        match self {
            WebTicketAcquireError::Http(e) => e.class(),
            WebTicketAcquireError::Untrusted(e) => e.class(),
            WebTicketAcquireError::NoUsableScheme { .. } => "no-usable-auth-scheme",
            WebTicketAcquireError::Handshake { .. } => "ntlm-handshake",
            WebTicketAcquireError::WrongCredentials { .. } => "wrong-credentials",
            WebTicketAcquireError::ClockSkew { .. } => "clock-skew",
            WebTicketAcquireError::SoapFault { .. } => "soap-fault",
            WebTicketAcquireError::Diagnostics { code, .. } => {
                super::webticket::diagnostic_cause(*code).map(|(class, _)| class).unwrap_or("ms-diagnostics")
            }
            WebTicketAcquireError::UnexpectedStatus { .. } => "unexpected-status",
            WebTicketAcquireError::MalformedRstr { .. } => "malformed-rstr",
            WebTicketAcquireError::Proof(_) => "proof-key",
            WebTicketAcquireError::OrgId(e) => e.class(),
            WebTicketAcquireError::WsFedBearerRefused { .. } => "wsfed-bearer-refused",
        }
    }

    /// The server's own diagnosis (`ErrorCode=28020,Reason=...`), when it sent one.
    pub fn diagnosis(&self) -> Option<String> {
        match self {
            WebTicketAcquireError::Diagnostics { code, reason, .. } => {
                Some(crate::sip::Diagnostics { code: *code, reason: reason.clone(), source: None }.to_diagnosis())
            }
            _ => None,
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            WebTicketAcquireError::Http(e) => e.hint(),
            WebTicketAcquireError::Untrusted(e) => e.hint(),
            WebTicketAcquireError::NoUsableScheme { .. } => "The Web Ticket Service does not offer Windows \
                 authentication (NTLM or Negotiate) here: enable Windows authentication on the WebTicket virtual \
                 directory, or sign in with a certificate."
                .to_owned(),
            WebTicketAcquireError::Handshake { .. } => "The NTLM handshake broke off: check whether a reverse proxy \
                 between client and pool forwards Windows authentication (it needs one connection for all legs)."
                .to_owned(),
            WebTicketAcquireError::WrongCredentials { .. } => {
                "Check the account name (DOMAIN\\user or user@domain) and the password.".to_owned()
            }
            WebTicketAcquireError::ClockSkew { .. } => "Synchronise this computer's clock with the domain \
                 (Windows: w32tm /resync; Linux: chrony or another NTP client) and check its time zone."
                .to_owned(),
            WebTicketAcquireError::SoapFault { .. } => "The Web Ticket Service refused the request itself: check \
                 that the SIP address belongs to the account signing in."
                .to_owned(),
            WebTicketAcquireError::Diagnostics { code, .. } => match super::webticket::diagnostic_cause(*code) {
                Some((_, hint)) => hint.to_owned(),
                None => {
                    format!("The server explained the refusal with code {code}; look it up in the Front End's logs.")
                }
            },
            WebTicketAcquireError::OrgId(e) => e.hint(),
            WebTicketAcquireError::Proof(_) => "The earlier ticket cannot be used to sign a request: get a new \
                 ticket with credentials."
                .to_owned(),
            WebTicketAcquireError::WsFedBearerRefused { status: 500, .. } => "Office 365 accepted the sign-in but \
                 the Web Ticket Service's WsFed_bearer port failed on the Org ID token (HTTP 500, as in tieto/sipe \
                 #165): the tenant probably no longer accepts legacy WS-Trust tokens for Skype for Business Online \
                 (modern authentication only), or the token was issued for another audience; read the fault text \
                 and check the tenant's authentication policy."
                .to_owned(),
            WebTicketAcquireError::WsFedBearerRefused { .. } => "The Web Ticket Service's WsFed_bearer port refused \
                 the Org ID token: check that the account is homed in this tenant and the SIP address is its own."
                .to_owned(),
            WebTicketAcquireError::UnexpectedStatus { .. } | WebTicketAcquireError::MalformedRstr { .. } => {
                "The URL does not lead to a working Web Ticket Service: check the X-MS-WebTicketURL the pool \
                 names and any proxy in front of it."
                    .to_owned()
            }
        }
    }
}

/// Gets a web ticket for `applies_to` (the service the ticket is for) on behalf of `sip_uri` from the Web
/// Ticket Service at `sts` (admitted by the trust model), authenticating as `account` (`DOMAIN\user` or
/// `user@domain`) with HTTP NTLM.
///
/// Returns the ticket and the 32 bytes of client entropy sent in the RST (with the server's entropy in the
/// ticket they make the proof key, [`WebTicket::proof_key`]).
pub async fn acquire(
    http: &HttpClient,
    sts: &TrustedUrl,
    applies_to: &str,
    sip_uri: &str,
    account: &str,
    password: &str,
) -> Result<(WebTicket, [u8; 32]), WebTicketAcquireError> {
    let sts_url = sts.as_str();
    let issue = IssueRst::new(applies_to, sip_uri);
    let (entropy, rst, base) = (issue.entropy, &issue.body, issue.headers());

    let mut conn = http.connect_trusted(sts).await?;
    let first = conn.send(Method::POST, sts_url, &base, rst.clone()).await?;
    if first.status != 401 {
        return final_verdict(sts_url, &first).map(|t| (t, entropy));
    }
    let scheme = choose_scheme(&first).ok_or_else(|| WebTicketAcquireError::NoUsableScheme {
        url: sts_url.to_owned(),
        offered: first.header_values("www-authenticate").map(scheme_name).collect(),
    })?;
    // The anonymous 401 may close the connection; the handshake starts here, so a fresh one is fine.
    if conn.is_closed() {
        conn = http.connect_trusted(sts).await?;
    }

    let mut ntlm = NtlmClient::new(ntlm_credentials(account, password), ClientOptions::http());
    let negotiate = format!("{} {}", scheme.name(), encode_token(&ntlm.negotiate()));
    let second = send_with(&mut conn, sts_url, &base, &negotiate, rst).await?;
    let handshake = |reason: String| WebTicketAcquireError::Handshake { url: sts_url.to_owned(), reason };
    let challenge = match challenge_token(&second, scheme) {
        Some(token) => token,
        None if second.status == 401 => {
            return Err(handshake("the NEGOTIATE leg got a 401 without an NTLM CHALLENGE".to_owned()));
        }
        None => return final_verdict(sts_url, &second).map(|t| (t, entropy)),
    };
    let unix_now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let (authenticate, _session) = ntlm
        .authenticate(&challenge, &ClientRandom::generate(unix_now))
        .map_err(|e: NtlmError| handshake(format!("the server's CHALLENGE cannot be answered: {e}")))?;
    let authorization = format!("{} {}", scheme.name(), encode_token(&authenticate));
    let third = send_with(&mut conn, sts_url, &base, &authorization, rst).await?;
    if third.status == 401
        && let Some(skewed) = skew_refusal(sts_url, &third, SystemTime::now())
    {
        return Err(skewed);
    }
    final_verdict(sts_url, &third).map(|t| (t, entropy))
}

/// HTTP Negotiate with Kerberos (RFC 4559) at the Windows port, as Windows clients inside the network
/// authenticate: a service ticket for `HTTP/<host>`, its AP-REQ in a SPNEGO NegTokenInit sent with the RST
/// at once (no anonymous round trip first: IIS takes Negotiate on the first request), mutual authentication asked for,
/// and the AP-REP in the 200's `WWW-Authenticate: Negotiate` checked. `Ok(None)` when no ticket can be had or
/// the service does not take it: the caller goes on with NTLM, as Negotiate itself falls back. A service
/// error other than a refusal of the ticket (a SOAP fault, a 500) is the answer.
pub async fn acquire_with_kerberos(
    http: &HttpClient,
    sts: &TrustedUrl,
    applies_to: &str,
    sip_uri: &str,
    kerberos: &KerberosClient,
) -> Result<Option<(WebTicket, [u8; 32])>, WebTicketAcquireError> {
    use super::kerberos::{gss, kdc::InitiatorContext};
    let sts_url = sts.as_str();
    let Some(host) = url::Url::parse(sts_url).ok().and_then(|u| u.host_str().map(str::to_owned)) else {
        return Ok(None);
    };
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    if let Err(e) = kerberos.available(now.as_secs()) {
        tracing::debug!(error = %e, "no Kerberos ticket for the web services; NTLM");
        return Ok(None);
    }
    let ticket = match kerberos.service_ticket("HTTP", &host, now.as_secs()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::info!(error = %e, class = e.class(), "no Kerberos service ticket for HTTP/{host}; NTLM");
            return Ok(None);
        }
    };
    let flags = gss::GSS_INTEG | gss::GSS_MUTUAL;
    let mut context = match InitiatorContext::new(
        &ticket,
        flags,
        now.as_secs(),
        now.subsec_micros(),
        &rand::random(),
        rand::random(),
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(error = %e, "Kerberos context for HTTP/{host} failed; NTLM");
            return Ok(None);
        }
    };
    let issue = IssueRst::new(applies_to, sip_uri);
    let (entropy, rst, base) = (issue.entropy, &issue.body, issue.headers());
    let authorization = format!("Negotiate {}", encode_token(&gss::spnego_init(&context.token)));
    let mut conn = http.connect_trusted(sts).await?;
    let response = send_with(&mut conn, sts_url, &base, &authorization, rst).await?;
    if response.status == 401 {
        tracing::info!("the Web Ticket Service did not take the Kerberos ticket; NTLM");
        return Ok(None);
    }
    // Mutual authentication: the service's AP-REP, when it sends one, must prove it holds HTTP/<host>'s key.
    let reply = response
        .header_values("www-authenticate")
        .find_map(|v| v.trim().strip_prefix("Negotiate ").map(str::trim).map(str::to_owned));
    match reply {
        Some(b64) => {
            let verified = decode_token(&b64).ok().and_then(|t| {
                let r = gss::spnego_reply(&t).ok()?;
                let token = r.response_token?;
                context.accept_reply(token).ok()
            });
            if verified.is_none() {
                return Err(WebTicketAcquireError::Handshake {
                    url: sts_url.to_owned(),
                    reason: "the service's Negotiate answer did not prove it holds the HTTP service key (mutual authentication failed)".into(),
                });
            }
        }
        None => tracing::info!("the Web Ticket Service sent no Negotiate answer to verify"),
    }
    final_verdict(sts_url, &response).map(|t| Some((t, entropy)))
}

/// An RST for the Windows port with fresh client entropy, and the headers it is posted with.
struct IssueRst {
    entropy: [u8; 32],
    body: Vec<u8>,
    soap_action: String,
}

impl IssueRst {
    fn new(applies_to: &str, sip_uri: &str) -> IssueRst {
        let entropy: [u8; 32] = rand::random();
        let body = rst_request(applies_to, sip_uri, &entropy, &random_uuid()).into_bytes();
        IssueRst { entropy, body, soap_action: format!("\"{RST_ISSUE_ACTION}\"") }
    }

    fn headers(&self) -> [(&str, &str); 2] {
        [("Content-Type", RST_CONTENT_TYPE), ("SOAPAction", self.soap_action.as_str())]
    }
}

/// A refused AUTHENTICATE whose response `Date` is further from `local` than NTLM tolerates: the timestamps
/// were refused, not (necessarily) the password.
pub fn skew_refusal(url: &str, response: &HttpResponse, local: SystemTime) -> Option<WebTicketAcquireError> {
    let date = response.header("date")?;
    let skew = super::clock::ClockSkew { server: super::clock::parse_date(date)?, local };
    skew.exceeds(super::clock::NTLM_TOLERANCE).then(|| WebTicketAcquireError::ClockSkew {
        url: url.to_owned(),
        server_date: date.trim().to_owned(),
        apart: super::clock::human(skew.difference()),
        direction: if skew.server < skew.local { "ahead" } else { "behind" },
    })
}

async fn send_with(
    conn: &mut crate::http::HttpConnection,
    url: &str,
    base: &[(&str, &str); 2],
    authorization: &str,
    rst: &[u8],
) -> Result<HttpResponse, HttpError> {
    let headers = [base[0], base[1], ("Authorization", authorization)];
    conn.send(Method::POST, url, &headers, rst.to_vec()).await
}

/// How a web ticket was obtained, for the sign-in report (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketRoute {
    /// HTTP NTLM (or raw NTLM under Negotiate), or Negotiate with Kerberos, at the Windows port.
    Windows {
        /// The port's URL.
        port: String,
        /// True for Negotiate with a Kerberos ticket (SPNEGO, RFC 4559), false for NTLM.
        kerberos: bool,
    },
    /// A token from the Org ID STS, presented at the `WsFedBearer` port.
    OrgId {
        /// The Org ID STS URL.
        org_id_sts: String,
        /// The bearer port's URL.
        bearer_port: String,
        /// How long the Org ID STS took.
        org_id_elapsed: Duration,
        /// True when the Windows port was tried first and refused the credentials (401).
        windows_refused: bool,
    },
}

/// A web ticket, the client entropy of its RST, and how it was obtained. `Debug` leaves out the entropy
/// (half of the proof key), which is wiped on drop.
#[derive(Clone)]
pub struct Acquired {
    /// The ticket.
    pub ticket: WebTicket,
    /// The 32 bytes of client entropy sent in the RST (for the proof key).
    pub entropy: Zeroizing<[u8; 32]>,
    /// Which port and credentials issued it.
    pub route: TicketRoute,
}

impl TicketRoute {
    /// How the ticket was had, for reports: `NTLM over HTTP`, `Negotiate (Kerberos) over HTTP`, `Org ID`.
    pub fn how(&self) -> &'static str {
        match self {
            TicketRoute::Windows { kerberos: true, .. } => "Negotiate (Kerberos) over HTTP",
            TicketRoute::Windows { kerberos: false, .. } => "NTLM over HTTP",
            TicketRoute::OrgId { .. } => "an Org ID token",
        }
    }
}

impl std::fmt::Debug for Acquired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acquired").field("ticket", &self.ticket).field("route", &self.route).finish_non_exhaustive()
    }
}

/// Gets a web ticket for `applies_to` from the Web Ticket Service at `sts_url` the way pidgin-sipe does: read the
/// service's MEX ([`mex_url`]); use the `WebTicketServiceWinNegotiate` port with HTTP NTLM when it is offered;
/// when it is not, or it refuses the credentials with 401 and a `WsFedBearer` port is offered, get a token from
/// the Org ID STS at `org_id_sts` and present it at the bearer port ([`acquire_with_org_id`]).
///
/// When the MEX cannot be read, `sts` is taken as the Windows port (what an on-premises pool's
/// `X-MS-WebTicketURL` names), so pools without metadata work as before. Every port the MEX names is admitted by
/// `trust` before anything is sent to it, and so is `org_id_sts`.
#[allow(clippy::too_many_arguments)]
pub async fn acquire_for_service(
    http: &HttpClient,
    trust: &TrustModel,
    sts: &TrustedUrl,
    applies_to: &str,
    sip_uri: &str,
    account: &str,
    password: &str,
    org_id_sts: &str,
    kerberos: Option<&KerberosClient>,
) -> Result<Acquired, WebTicketAcquireError> {
    let sts_url = sts.as_str();
    let (mut ports, learned) = match discover_ports(http, sts_url).await {
        Some((p, learned)) if p.win_negotiate.is_some() || p.ws_fed_bearer.is_some() => (p, learned),
        _ => (WebTicketPorts { win_negotiate: Some(sts_url.to_owned()), ws_fed_bearer: None }, Learned::Configuration),
    };
    // The URL the pool named for this very port is kept: behind a reverse proxy, MEX may spell the host
    // differently (its internal name).
    let windows = match ports.win_negotiate.take() {
        Some(p) if same_path(&p, sts_url) => Some(sts.clone()),
        Some(p) => Some(trust.admit_url(&p, Purpose::WebTicketService, &learned).await?),
        None => None,
    };
    let mut windows_refused = false;
    if let Some(port) = &windows {
        if let Some(k) = kerberos
            && let Some((ticket, entropy)) = acquire_with_kerberos(http, port, applies_to, sip_uri, k).await?
        {
            let route = TicketRoute::Windows { port: port.to_string(), kerberos: true };
            return Ok(Acquired { ticket, entropy: Zeroizing::new(entropy), route });
        }
        match acquire(http, port, applies_to, sip_uri, account, password).await {
            Ok((ticket, entropy)) => {
                let entropy = Zeroizing::new(entropy);
                let route = TicketRoute::Windows { port: port.to_string(), kerberos: false };
                return Ok(Acquired { ticket, entropy, route });
            }
            Err(e) if ports.ws_fed_bearer.is_some() && windows_refused_with_401(&e) => {
                tracing::info!(class = e.class(), "Windows port refused; trying the Org ID STS and WsFedBearer");
                windows_refused = true;
            }
            Err(e) => return Err(e),
        }
    }
    let Some(bearer) = ports.ws_fed_bearer else {
        return Err(WebTicketAcquireError::NoUsableScheme { url: sts_url.to_owned(), offered: Vec::new() });
    };
    let bearer = trust.admit_url(&bearer, Purpose::WebTicketService, &learned).await?;
    let org_id = trust.admit_url(org_id_sts, Purpose::OrgIdSts, &Learned::Configuration).await?;
    let started = std::time::Instant::now();
    let (ticket, entropy, org_id_elapsed) =
        acquire_with_org_id(http, &bearer, &org_id, applies_to, sip_uri, account, password).await?;
    tracing::debug!(elapsed = ?started.elapsed(), "web ticket from the WsFedBearer port");
    let route = TicketRoute::OrgId {
        org_id_sts: org_id_sts.to_owned(),
        bearer_port: bearer.to_string(),
        org_id_elapsed,
        windows_refused,
    };
    Ok(Acquired { ticket, entropy: Zeroizing::new(entropy), route })
}

/// True when two URLs have the same path (case-insensitive, as IIS matches paths).
fn same_path(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.path().trim_end_matches('/').eq_ignore_ascii_case(b.path().trim_end_matches('/')),
        _ => false,
    }
}

/// True for the refusals after which Office 365's bearer port is worth trying: 401 on the Windows port.
pub fn windows_refused_with_401(e: &WebTicketAcquireError) -> bool {
    matches!(e, WebTicketAcquireError::WrongCredentials { .. } | WebTicketAcquireError::NoUsableScheme { .. })
}

/// The Web Ticket Service's ports from its MEX, and how they were learned; `None` when there is no MEX to read.
async fn discover_ports(http: &HttpClient, sts_url: &str) -> Option<(WebTicketPorts, Learned)> {
    discover_mex(http, sts_url).await.map(|(info, learned)| (WebTicketPorts::from_mex(&info), learned))
}

/// The Web Ticket Service's MEX, parsed, and how its addresses were learned (over TLS from its host, or over
/// plain http); `None` when there is none to read.
async fn discover_mex(http: &HttpClient, sts_url: &str) -> Option<(MexInfo, Learned)> {
    let url = mex_url(sts_url)?;
    let host = url::Url::parse(&url).ok()?.host_str()?.to_owned();
    let learned = if url.starts_with("https://") { Learned::Tls(host) } else { Learned::PlainHttp(host) };
    let response = match http.get_document(&url).await {
        Ok(r) if r.status == 200 => r,
        Ok(r) => {
            tracing::debug!(%url, status = r.status, "no Web Ticket Service metadata");
            return None;
        }
        Err(e) => {
            tracing::debug!(%url, class = e.class(), "Web Ticket Service metadata unreachable");
            return None;
        }
    };
    parse_mex(&response.body, "").ok().map(|info| (info, learned))
}

/// Gets a new web ticket for `applies_to` / `sip_uri` from the proof-key port at `port_url` without credentials:
/// the RST carries `earlier` (the assertion as received) and a Signature over a Timestamp made with its proof key,
/// P_SHA1(`earlier_entropy`, the earlier RSTR's server entropy) ([`super::proof`]). The Timestamp is `earlier`'s
/// lifetime, as pidgin-sipe copies the RSTR's `Lifetime` (`sipe-webticket.c`, `generate_sha1_proof_wsse`).
///
/// Returns the new ticket and the client entropy of this RST (its own proof key's half).
pub async fn acquire_with_proof(
    http: &HttpClient,
    port: &TrustedUrl,
    earlier: &WebTicket,
    earlier_entropy: &[u8; 32],
    applies_to: &str,
    sip_uri: &str,
) -> Result<(WebTicket, [u8; 32]), WebTicketAcquireError> {
    let port_url = port.as_str();
    let key = ProofKey::for_ticket(earlier, earlier_entropy)?;
    let entropy: [u8; 32] = rand::random();
    let rst = proof_rst_request(
        port_url,
        earlier,
        &key,
        earlier.created,
        earlier.expires,
        applies_to,
        sip_uri,
        &entropy,
        &random_uuid(),
        &super::orgid::random_uuid(),
    )?;
    let soap_action = format!("\"{RST_ISSUE_ACTION}\"");
    let headers = [("Content-Type", RST_CONTENT_TYPE), ("SOAPAction", soap_action.as_str())];
    let response = http.send_trusted(Method::POST, port, &headers, rst.into_bytes()).await?;
    final_verdict(port_url, &response).map(|t| (t, entropy))
}

/// How [`renew_for_service`] got its ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenewedVia {
    /// Signed with the earlier ticket's proof key at this proof port; no credentials were sent.
    ProofKey {
        /// The proof port's URL.
        port: String,
    },
    /// With credentials, as [`acquire_for_service`] does.
    Credentials(TicketRoute),
}

/// A ticket from [`renew_for_service`]. `Debug` leaves out the entropy (half of the proof key), which is
/// wiped on drop.
#[derive(Clone)]
pub struct Renewed {
    /// The new ticket.
    pub ticket: WebTicket,
    /// The client entropy of the RST that got it (for its own proof key).
    pub entropy: Zeroizing<[u8; 32]>,
    /// Which way it was obtained.
    pub via: RenewedVia,
}

impl std::fmt::Debug for Renewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewed").field("ticket", &self.ticket).field("via", &self.via).finish_non_exhaustive()
    }
}

/// Gets a web ticket for `applies_to`, preferring the proof key of `earlier` (a ticket and the client entropy of
/// the RST that got it) when the Web Ticket Service's MEX names a proof port ([`proof_port`]) and `earlier` is
/// still fresh and has a proof key; otherwise, or when the proof port refuses, the credential paths of
/// [`acquire_for_service`].
#[allow(clippy::too_many_arguments)]
pub async fn renew_for_service(
    http: &HttpClient,
    trust: &TrustModel,
    sts: &TrustedUrl,
    applies_to: &str,
    sip_uri: &str,
    earlier: Option<(&WebTicket, &[u8; 32])>,
    account: &str,
    password: &str,
    org_id_sts: &str,
    kerberos: Option<&KerberosClient>,
) -> Result<Renewed, WebTicketAcquireError> {
    let usable = earlier.filter(|(t, e)| t.is_fresh(SystemTime::now()) && t.proof_key(e).is_some());
    if let Some((ticket, entropy)) = usable
        && let Some((mex, learned)) = discover_mex(http, sts.as_str()).await
        && let Some(port) = proof_port(&mex)
    {
        let port = trust.admit_url(&port, Purpose::WebTicketService, &learned).await?;
        match acquire_with_proof(http, &port, ticket, entropy, applies_to, sip_uri).await {
            Ok((ticket, entropy)) => {
                let entropy = Zeroizing::new(entropy);
                return Ok(Renewed { ticket, entropy, via: RenewedVia::ProofKey { port: port.to_string() } });
            }
            Err(e) => tracing::info!(class = e.class(), "proof port refused; falling back to credentials"),
        }
    }
    let acquired =
        acquire_for_service(http, trust, sts, applies_to, sip_uri, account, password, org_id_sts, kerberos).await?;
    Ok(Renewed { ticket: acquired.ticket, entropy: acquired.entropy, via: RenewedVia::Credentials(acquired.route) })
}

/// The Office 365 path: a token from the Org ID STS at `org_id_sts` for the bearer port `bearer_url` (the
/// `AppliesTo`, as SIPE's `sipe_svc_webticket_lmc` asks), then the RST with that token in `wsse:Security` posted
/// to the bearer port. Returns the ticket, the RST's client entropy, and how long the Org ID STS took.
pub async fn acquire_with_org_id(
    http: &HttpClient,
    bearer: &TrustedUrl,
    org_id: &TrustedUrl,
    applies_to: &str,
    sip_uri: &str,
    account: &str,
    password: &str,
) -> Result<(WebTicket, [u8; 32], Duration), WebTicketAcquireError> {
    let (bearer_url, org_id_sts) = (bearer.as_str(), org_id.as_str());
    let started = std::time::Instant::now();
    let username = org_id_username(account, sip_uri);
    let request = org_id_request(org_id_sts, bearer_url, &username, password, &super::orgid::random_uuid());
    let action = format!("\"{ORG_ID_ISSUE_ACTION}\"");
    let headers = [("Content-Type", ORG_ID_CONTENT_TYPE), ("SOAPAction", action.as_str())];
    let answer = http
        .send_trusted(Method::POST, org_id, &headers, request.into_bytes())
        .await
        .map_err(|error| OrgIdError::Unreachable { sts: org_id_sts.to_owned(), error })?;
    let token = parse_org_id_response(org_id_sts, answer.status, &answer.body)?;
    let org_id_elapsed = started.elapsed();

    let entropy: [u8; 32] = rand::random();
    let rst = rst_request_with_security(
        bearer_url,
        token.wsse_security(),
        applies_to,
        sip_uri,
        &entropy,
        &random_uuid(),
        &super::orgid::random_uuid(),
    );
    let soap_action = format!("\"{RST_ISSUE_ACTION}\"");
    let headers = [("Content-Type", RST_CONTENT_TYPE), ("SOAPAction", soap_action.as_str())];
    let response = http.send_trusted(Method::POST, bearer, &headers, rst.into_bytes()).await?;
    bearer_verdict(bearer_url, &response).map(|t| (t, entropy, org_id_elapsed))
}

/// What the bearer port's answer means: the ticket, a typed refusal, or (for any 5xx) the tieto/sipe #165 case.
pub fn bearer_verdict(url: &str, response: &HttpResponse) -> Result<WebTicket, WebTicketAcquireError> {
    if response.status >= 500 {
        return Err(WebTicketAcquireError::WsFedBearerRefused {
            url: url.to_owned(),
            status: response.status,
            fault: soap_fault_text(&response.body),
        });
    }
    final_verdict(url, response)
}

/// GETs autodiscover's User resource with the ticket in `X-MS-WebTicket` (`opaque=<base64 assertion>`),
/// asking for the XML flavour, which carries the SIP access points.
pub async fn get_user_with_ticket(
    http: &HttpClient,
    user: &TrustedUrl,
    ticket: &WebTicket,
) -> Result<HttpResponse, HttpError> {
    let value = ticket.header_value();
    let headers = [("X-MS-WebTicket", value.as_str()), ("Accept", AUTODISCOVER_XML_ACCEPT)];
    http.send_trusted(Method::GET, user, &headers, Vec::new()).await
}

/// The scheme to answer a 401 with: NTLM when offered, else Negotiate (carrying raw NTLM tokens).
pub fn choose_scheme(response: &HttpResponse) -> Option<HttpAuthScheme> {
    let offered: Vec<&str> = response.header_values("www-authenticate").map(scheme_name_ref).collect();
    if offered.iter().any(|s| s.eq_ignore_ascii_case("NTLM")) {
        Some(HttpAuthScheme::Ntlm)
    } else if offered.iter().any(|s| s.eq_ignore_ascii_case("Negotiate")) {
        Some(HttpAuthScheme::Negotiate)
    } else {
        None
    }
}

/// The NTLM CHALLENGE in a 401's `WWW-Authenticate: <scheme> <base64>`, decoded; `None` when the response
/// carries none (or not valid base64).
pub fn challenge_token(response: &HttpResponse, scheme: HttpAuthScheme) -> Option<Vec<u8>> {
    if response.status != 401 {
        return None;
    }
    response.header_values("www-authenticate").find_map(|value| {
        let (name, token) = value.trim().split_once(' ')?;
        if !name.eq_ignore_ascii_case(scheme.name()) || token.trim().is_empty() {
            return None;
        }
        decode_token(token.trim()).ok()
    })
}

/// What a final response means: the ticket from a 200's RSTR, or the typed refusal.
pub fn final_verdict(url: &str, response: &HttpResponse) -> Result<WebTicket, WebTicketAcquireError> {
    let url = url.to_owned();
    let diagnostics = response.diagnostics();
    if response.status == 200 {
        if let Some(fault) = soap_fault_text(&response.body) {
            return Err(WebTicketAcquireError::SoapFault { url, status: 200, fault });
        }
        return parse_rstr(&response.body).map_err(|error| WebTicketAcquireError::MalformedRstr { url, error });
    }
    if response.status == 401 {
        let (code, reason) = diagnostics.map(|d| (Some(d.code), d.reason)).unwrap_or((None, None));
        return Err(WebTicketAcquireError::WrongCredentials { url, code, reason });
    }
    if let Some(fault) = soap_fault_text(&response.body) {
        return Err(WebTicketAcquireError::SoapFault { url, status: response.status, fault });
    }
    match diagnostics {
        Some(d) => {
            Err(WebTicketAcquireError::Diagnostics { url, status: response.status, code: d.code, reason: d.reason })
        }
        None => Err(WebTicketAcquireError::UnexpectedStatus { url, status: response.status }),
    }
}

/// The text of a SOAP fault (`faultstring` in SOAP 1.1, `Reason/Text` in SOAP 1.2), when the body is one.
pub fn soap_fault_text(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::from_str(text);
    let (mut in_fault, mut capture) = (false, None::<String>);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                in_fault |= name == "Fault";
                if in_fault && (name == "faultstring" || name == "Text") {
                    capture = Some(String::new());
                }
            }
            // quick-xml hands text and entity references over as separate events.
            Event::Text(t) => {
                if let Some(buf) = capture.as_mut() {
                    buf.push_str(&quick_xml::escape::unescape(&t).ok()?);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = capture.as_mut() {
                    match r.resolve_char_ref().ok()? {
                        Some(c) => buf.push(c),
                        None => buf.push_str(quick_xml::escape::resolve_predefined_entity(&r)?),
                    }
                }
            }
            Event::End(_) => {
                if let Some(buf) = capture.take() {
                    let value: String = buf.trim().chars().take(MAX_FAULT_TEXT).collect();
                    return Some(if value.is_empty() { "(empty fault text)".to_owned() } else { value });
                }
            }
            Event::Eof => return in_fault.then(|| "(no fault text)".to_owned()),
            _ => {}
        }
    }
}

fn scheme_name(value: &str) -> String {
    scheme_name_ref(value).to_owned()
}

fn scheme_name_ref(value: &str) -> &str {
    value.trim().split([' ', ',']).next().unwrap_or_default()
}

/// A random (version 4) UUID for the RST's `Context`.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("uuid-{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests;
