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
//! The wire format (RST, RSTR) is [`super::webticket`]; the decisions on each response are plain functions
//! ([`choose_scheme`], [`challenge_token`], [`final_verdict`]) so they are testable without sockets.

use std::time::{Duration, SystemTime};

use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::ntlm::{ClientOptions, ClientRandom, NtlmClient, NtlmError, decode_token, encode_token};
use super::sa::ntlm_credentials;
use super::webticket::{RST_ISSUE_ACTION, WebTicket, WebTicketError, parse_rstr, rst_request};
use crate::http::{HttpClient, HttpError, HttpResponse, Method};

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
    /// A 200 whose body is not an RSTR with an assertion, lifetime and entropy.
    #[error("{url}: the Web Ticket Service's response is not a usable RSTR: {error}")]
    MalformedRstr {
        /// The STS URL.
        url: String,
        /// What is missing or broken.
        error: WebTicketError,
    },
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
    /// A short class for reports and tests: `wrong-credentials`, `soap-fault`, `ms-diagnostics`, ...
    pub fn class(&self) -> &'static str {
        match self {
            WebTicketAcquireError::Http(e) => e.class(),
            WebTicketAcquireError::NoUsableScheme { .. } => "no-usable-auth-scheme",
            WebTicketAcquireError::Handshake { .. } => "ntlm-handshake",
            WebTicketAcquireError::WrongCredentials { .. } => "wrong-credentials",
            WebTicketAcquireError::SoapFault { .. } => "soap-fault",
            WebTicketAcquireError::Diagnostics { .. } => "ms-diagnostics",
            WebTicketAcquireError::UnexpectedStatus { .. } => "unexpected-status",
            WebTicketAcquireError::MalformedRstr { .. } => "malformed-rstr",
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            WebTicketAcquireError::Http(e) => e.hint(),
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
            WebTicketAcquireError::SoapFault { .. } => "The Web Ticket Service refused the request itself: check \
                 that the SIP address belongs to the account signing in."
                .to_owned(),
            WebTicketAcquireError::Diagnostics { code, .. } => {
                format!("The server explained the refusal with code {code}; look it up in the Front End's logs.")
            }
            WebTicketAcquireError::UnexpectedStatus { .. } | WebTicketAcquireError::MalformedRstr { .. } => {
                "The URL does not lead to a working Web Ticket Service: check the X-MS-WebTicketURL the pool \
                 names and any proxy in front of it."
                    .to_owned()
            }
        }
    }
}

/// Gets a web ticket for `applies_to` (the service the ticket is for) on behalf of `sip_uri` from the Web
/// Ticket Service at `sts_url`, authenticating as `account` (`DOMAIN\user` or `user@domain`) with HTTP NTLM.
///
/// Returns the ticket and the 32 bytes of client entropy sent in the RST (with the server's entropy in the
/// ticket they make the proof key, [`WebTicket::proof_key`]).
pub async fn acquire(
    http: &HttpClient,
    sts_url: &str,
    applies_to: &str,
    sip_uri: &str,
    account: &str,
    password: &str,
) -> Result<(WebTicket, [u8; 32]), WebTicketAcquireError> {
    let entropy: [u8; 32] = rand::random();
    let rst = rst_request(applies_to, sip_uri, &entropy, &random_uuid()).into_bytes();
    let soap_action = format!("\"{RST_ISSUE_ACTION}\"");
    let base = [("Content-Type", RST_CONTENT_TYPE), ("SOAPAction", soap_action.as_str())];

    let mut conn = http.connect(sts_url).await?;
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
        conn = http.connect(sts_url).await?;
    }

    let mut ntlm = NtlmClient::new(ntlm_credentials(account, password), ClientOptions::http());
    let negotiate = format!("{} {}", scheme.name(), encode_token(&ntlm.negotiate()));
    let second = send_with(&mut conn, sts_url, &base, &negotiate, &rst).await?;
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
    let third = send_with(&mut conn, sts_url, &base, &authorization, &rst).await?;
    final_verdict(sts_url, &third).map(|t| (t, entropy))
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

/// GETs autodiscover's User resource with the ticket in `X-MS-WebTicket` (`opaque=<base64 assertion>`),
/// asking for the XML flavour, which carries the SIP access points.
pub async fn get_user_with_ticket(
    http: &HttpClient,
    user_url: &str,
    ticket: &WebTicket,
) -> Result<HttpResponse, HttpError> {
    let value = ticket.header_value();
    http.get(user_url, &[("X-MS-WebTicket", value.as_str()), ("Accept", AUTODISCOVER_XML_ACCEPT)]).await
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
mod tests {
    use super::*;

    fn r(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse::new(status, headers, body)
    }

    #[test]
    fn ntlm_is_preferred_and_negotiate_carries_ntlm() {
        let both = r(401, &[("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")], "");
        assert_eq!(choose_scheme(&both), Some(HttpAuthScheme::Ntlm));
        let nego = r(401, &[("WWW-Authenticate", "Negotiate")], "");
        assert_eq!(choose_scheme(&nego), Some(HttpAuthScheme::Negotiate));
        let other = r(401, &[("WWW-Authenticate", "Bearer trusted_issuers=\"x\"")], "");
        assert_eq!(choose_scheme(&other), None);
    }

    #[test]
    fn challenge_is_read_from_the_chosen_scheme_only() {
        let resp = r(401, &[("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM TlRMTVNTUAACAAAA")], "");
        assert_eq!(challenge_token(&resp, HttpAuthScheme::Ntlm).as_deref(), Some(&b"NTLMSSP\0\x02\0\0\0"[..]));
        assert_eq!(challenge_token(&resp, HttpAuthScheme::Negotiate), None);
        assert_eq!(challenge_token(&r(200, &[("WWW-Authenticate", "NTLM TlRM")], ""), HttpAuthScheme::Ntlm), None);
    }

    #[test]
    fn refusals_are_typed_with_their_evidence() {
        let url = "https://pool/WebTicket/WebTicketService.svc/Auth";
        let wrong = final_verdict(url, &r(401, &[("WWW-Authenticate", "NTLM")], "")).unwrap_err();
        assert_eq!(wrong.class(), "wrong-credentials");
        assert!(wrong.hint().ends_with('.'));
        let fault = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
                     <faultcode>s:Sender</faultcode><faultstring xml:lang=\"en-US\">No &amp; way</faultstring>\
                     </s:Fault></s:Body></s:Envelope>";
        match final_verdict(url, &r(500, &[], fault)).unwrap_err() {
            WebTicketAcquireError::SoapFault { status: 500, fault, .. } => assert_eq!(fault, "No & way"),
            other => panic!("{other:?}"),
        }
        let diag = r(403, &[("X-Ms-diagnostics", "28029;source=\"pool\";reason=\"Not allowed.\"")], "");
        match final_verdict(url, &diag).unwrap_err() {
            WebTicketAcquireError::Diagnostics { code: 28029, reason: Some(reason), .. } => {
                assert_eq!(reason, "Not allowed.")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(final_verdict(url, &r(200, &[], "<x/>")).unwrap_err().class(), "malformed-rstr");
        assert_eq!(final_verdict(url, &r(502, &[], "")).unwrap_err().class(), "unexpected-status");
    }

    #[test]
    fn context_is_a_uuid() {
        let u = random_uuid();
        assert_eq!(u.len(), 5 + 36);
        assert_eq!(u.as_bytes()[5 + 14], b'4');
    }
}
