//! Web tickets ([MS-OCAUTHWS], REFERENCE.md §2): the WS-Trust token the pool's web services
//! (autodiscover User, certificate provisioning) require.
//!
//! This module is the wire format only, sans-I/O: the RST request ([`rst_request`]), reading the
//! RSTR ([`parse_rstr`]) with the SAML assertion kept byte for byte (it is presented verbatim, base64,
//! in `X-MS-WebTicket`), the proof key ([`proof_key`], WS-Trust P_SHA1), MEX metadata
//! ([`parse_mex`]: where the Web Ticket Service is and whether requests must be signed), and a
//! cache that drops a ticket shortly before it expires or when the server says it is invalid.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::xml::{Document, Element};

/// WS-Trust 1.3 (the `wst` namespace of the RST).
pub const WS_TRUST_13: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512";
/// SOAPAction of IssueToken.
pub const RST_ISSUE_ACTION: &str = "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue";
/// The claims dialect the SIP URI claim is written in.
pub const CLAIMS_DIALECT: &str = "urn:component:Microsoft.Rtc.WebAuthentication.2010:authclaims";
/// Renew a cached ticket this long before it expires (REFERENCE.md §2.3: at least 60 s).
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Largest RSTR or MEX document read (real ones are a few KiB).
pub const MAX_DOCUMENT: usize = 512 * 1024;

/// Why a web ticket exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebTicketError {
    #[error("the response is not well-formed XML: {0}")]
    Xml(String),
    #[error("the response has no {0}")]
    Missing(&'static str),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the {0} timestamp is not an xs:dateTime")]
    BadTime(&'static str),
    #[error("the server's entropy is not base64")]
    BadEntropy,
}

/// The body of an IssueToken request (RST) for a ticket to `applies_to` on behalf of `sip_uri`,
/// with 32 bytes of client entropy (REFERENCE.md §2.3; the RequestType keeps the 2005/02 URI, as
/// working clients send it). No SOAP header: the Windows port authenticates the HTTP POST itself.
pub fn rst_request(applies_to: &str, sip_uri: &str, client_entropy: &[u8; 32], context: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{}</s:Body></s:Envelope>"#,
        rst_body(applies_to, sip_uri, client_entropy, context)
    )
}

/// The same RST for a port that authenticates the message rather than the connection (the Office 365
/// `WsFedBearer` port, seed 000 step 9): a SOAP header with `wsa:To` = `to` (the port's URL), an anonymous
/// `wsa:ReplyTo`, `wsa:MessageID` = `uuid:<message_id>`, `wsa:Action` = IssueToken, and `wsse:Security` holding
/// `security` verbatim (the Org ID STS's Timestamp and token, [`super::orgid::OrgIdToken::wsse_security`]).
/// The shape is pidgin-sipe's `sipe_svc_wsdl_request` with `new_soap_req`'s namespaces (CLIENT-NOTES.md §6.3).
pub fn rst_request_with_security(
    to: &str,
    security: &str,
    applies_to: &str,
    sip_uri: &str,
    client_entropy: &[u8; 32],
    context: &str,
    message_id: &str,
) -> String {
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" "#,
            r#"xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion">"#,
            r#"<s:Header><wsa:To>{to}</wsa:To>"#,
            r#"<wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>"#,
            r#"<wsa:MessageID>uuid:{id}</wsa:MessageID><wsa:Action>{action}</wsa:Action>"#,
            r#"<wsse:Security>{security}</wsse:Security></s:Header>"#,
            r#"<s:Body>{body}</s:Body></s:Envelope>"#
        ),
        wsse = super::orgid::WSSE,
        wsu = super::orgid::WSU,
        to = xml_escape(to),
        id = xml_escape(message_id),
        action = RST_ISSUE_ACTION,
        security = security,
        body = rst_body(applies_to, sip_uri, client_entropy, context),
    )
}

fn rst_body(applies_to: &str, sip_uri: &str, client_entropy: &[u8; 32], context: &str) -> String {
    let entropy = base64::engine::general_purpose::STANDARD.encode(client_entropy);
    let sip = if sip_uri.starts_with("sip:") { sip_uri.to_string() } else { format!("sip:{sip_uri}") };
    format!(
        concat!(
            r#"<wst:RequestSecurityToken xmlns:wst="{trust}" Context="{ctx}">"#,
            r#"<wst:TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1</wst:TokenType>"#,
            r#"<wst:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</wst:RequestType>"#,
            r#"<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy">"#,
            r#"<wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing">"#,
            r#"<wsa:Address>{applies}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"#,
            r#"<wst:Claims Dialect="{dialect}">"#,
            r#"<auth:ClaimType xmlns:auth="http://schemas.xmlsoap.org/ws/2006/12/authorization" "#,
            r#"Uri="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/uri" Optional="false">"#,
            r#"<auth:Value>{sip}</auth:Value></auth:ClaimType></wst:Claims>"#,
            r#"<wst:Entropy><wst:BinarySecret>{entropy}</wst:BinarySecret></wst:Entropy>"#,
            r#"<wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/SymmetricKey</wst:KeyType>"#,
            r#"</wst:RequestSecurityToken>"#
        ),
        trust = WS_TRUST_13,
        ctx = xml_escape(context),
        applies = xml_escape(applies_to),
        dialect = CLAIMS_DIALECT,
        sip = xml_escape(&sip),
        entropy = entropy,
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A web ticket: the SAML assertion and what is needed to use and renew it. `Debug` shows neither the
/// assertion nor the server entropy; both are wiped when the ticket (each clone) is dropped.
#[derive(Clone, PartialEq, Eq, ZeroizeOnDrop)]
pub struct WebTicket {
    /// The `<saml:Assertion>` element exactly as the STS sent it (a bearer secret).
    assertion: String,
    /// `AssertionID`, named when requests are signed with the proof key.
    #[zeroize(skip)]
    pub assertion_id: String,
    #[zeroize(skip)]
    pub created: SystemTime,
    #[zeroize(skip)]
    pub expires: SystemTime,
    /// The server's entropy, for the proof key (absent for bearer tickets).
    server_entropy: Option<Vec<u8>>,
}

impl std::fmt::Debug for WebTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTicket")
            .field("assertion_id", &self.assertion_id)
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl WebTicket {
    /// `X-MS-WebTicket` header value: `opaque=<base64 of the assertion XML>` (CLIENT-NOTES.md §2.1).
    pub fn header_value(&self) -> String {
        format!("opaque={}", base64::engine::general_purpose::STANDARD.encode(self.assertion.as_bytes()))
    }
    /// The assertion XML, for embedding in a WS-Security header.
    pub fn assertion_xml(&self) -> &str {
        &self.assertion
    }
    /// The proof key for signed requests, given the client entropy sent in the RST.
    pub fn proof_key(&self, client_entropy: &[u8; 32]) -> Option<[u8; 32]> {
        self.server_entropy.as_deref().map(|server| proof_key(client_entropy, server))
    }
    /// True while the ticket can be used at `now` (renewed [`RENEW_BEFORE`] its expiry).
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        now + RENEW_BEFORE < self.expires
    }
}

/// WS-Trust `.../CK/PSHA1`: P_SHA1(secret = client entropy, seed = server entropy), 32 bytes
/// (REFERENCE.md §2.3; TLS PRF's P_hash construction, RFC 2246 §5).
pub fn proof_key(client_entropy: &[u8; 32], server_entropy: &[u8]) -> [u8; 32] {
    let hmac = |data: &[u8]| -> Vec<u8> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut m = <Hmac<Sha1> as Mac>::new_from_slice(client_entropy).unwrap_or_else(|_| unreachable_hmac());
        m.update(data);
        m.finalize().into_bytes().to_vec()
    };
    // A(i) and the P_SHA1 blocks are the key's material: wiped as they go.
    let mut out = [0u8; 32];
    let mut a = Zeroizing::new(server_entropy.to_vec());
    let mut filled = 0;
    while filled < out.len() {
        a = Zeroizing::new(hmac(&a));
        let mut input = a.clone();
        input.extend_from_slice(server_entropy);
        let block = Zeroizing::new(hmac(&input));
        let n = (out.len() - filled).min(block.len());
        out[filled..filled + n].copy_from_slice(&block[..n]);
        filled += n;
    }
    out
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha1> {
    // `new_from_slice` only fails for fixed-key-size MACs; HMAC is not one. Keep a total function.
    <Hmac<Sha1> as Mac>::new_from_slice(&[0u8; 20]).unwrap_or_else(|_| unreachable_hmac())
}

/// Reads an RSTR: the assertion (verbatim), its `AssertionID`, the lifetime and the server entropy.
///
/// Read with the shared [`Document`] reader, which expands entity and character references
/// (`&amp;`, `&#x26;`) in text; the assertion is kept as its source bytes (references unexpanded,
/// exactly as it must be presented again).
pub fn parse_rstr(xml: &[u8]) -> Result<WebTicket, WebTicketError> {
    if xml.len() > MAX_DOCUMENT {
        return Err(WebTicketError::TooLarge(MAX_DOCUMENT));
    }
    let doc = Document::parse(xml).map_err(|e| WebTicketError::Xml(e.to_string()))?;
    let assertion_el = outside_assertion(&doc.root, "Assertion")
        .into_iter()
        .next()
        .ok_or(WebTicketError::Missing("saml:Assertion"))?;
    let assertion = doc.outer_xml(assertion_el).to_string();
    if assertion.is_empty() {
        return Err(WebTicketError::Missing("complete Assertion"));
    }
    let assertion_id = assertion_el.attr("AssertionID").unwrap_or_default().to_string();
    let lifetime = outside_assertion(&doc.root, "Lifetime").into_iter().next();
    let text = |name: &'static str| lifetime.and_then(|l| l.child_text(name)).map(str::to_string);
    let created = parse_time(&text("Created").ok_or(WebTicketError::Missing("Lifetime/Created"))?, "Created")?;
    let expires = parse_time(&text("Expires").ok_or(WebTicketError::Missing("Lifetime/Expires"))?, "Expires")?;
    // The server's entropy: `Entropy/BinarySecret` (not the client's, which is not echoed).
    let entropy = outside_assertion(&doc.root, "Entropy")
        .into_iter()
        .find_map(|e| e.child("BinarySecret"))
        .map(|b| b.text.split_whitespace().collect::<String>());
    let server_entropy = match entropy {
        Some(b64) => {
            Some(base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| WebTicketError::BadEntropy)?)
        }
        None => None,
    };
    Ok(WebTicket { assertion, assertion_id, created, expires, server_entropy })
}

/// Every descendant of `root` named `name`, in document order, without looking inside a SAML
/// `Assertion` (its contents are the issuer's, not the RSTR's; an `Assertion` itself is found).
fn outside_assertion<'a>(root: &'a Element, name: &str) -> Vec<&'a Element> {
    let mut out = Vec::new();
    let mut stack: Vec<&Element> = vec![root];
    while let Some(el) = stack.pop() {
        if el.name == name {
            out.push(el);
        }
        if el.name == "Assertion" {
            continue;
        }
        stack.extend(el.children.iter().rev());
    }
    out
}

/// `2026-11-22T10:00:00Z` / `...00.123Z` (xs:dateTime in UTC, as STSs write it). Shared with [`super::orgid`].
pub(crate) fn parse_time(s: &str, what: &'static str) -> Result<SystemTime, WebTicketError> {
    let bad = || WebTicketError::BadTime(what);
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let num = |x: &str| x.parse::<i64>().map_err(|_| bad());
    let mut d = date.splitn(3, '-');
    let (y, mo, da) =
        (num(d.next().ok_or_else(bad)?)?, num(d.next().ok_or_else(bad)?)?, num(d.next().ok_or_else(bad)?)?);
    let time = time.split('.').next().ok_or_else(bad)?;
    let mut t = time.splitn(3, ':');
    let (h, mi, se) =
        (num(t.next().ok_or_else(bad)?)?, num(t.next().ok_or_else(bad)?)?, num(t.next().ok_or_else(bad)?)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&da) || h > 23 || mi > 59 || se > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm), then seconds since the Unix epoch.
    let (y2, m2) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + da - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// What a service's WS-MEX metadata says about getting a ticket for it (REFERENCE.md §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MexInfo {
    /// The Web Ticket Service address named by the port's policy.
    pub sts_address: Option<String>,
    /// True when the policy uses EndorsingSupportingTokens: requests must be signed with the proof key.
    pub requires_proof: bool,
    /// Every `port name` → `address location`.
    pub ports: HashMap<String, String>,
}

/// Reads WS-MEX metadata. `policy_id` is `<portName>_policy` of the port to be used.
///
/// Read with the shared [`Document`] reader, so `&amp;` in an address (query strings) is expanded.
pub fn parse_mex(xml: &[u8], policy_id: &str) -> Result<MexInfo, WebTicketError> {
    if xml.len() > MAX_DOCUMENT {
        return Err(WebTicketError::TooLarge(MAX_DOCUMENT));
    }
    let doc = Document::parse(xml).map_err(|e| WebTicketError::Xml(e.to_string()))?;
    let mut info = MexInfo::default();
    for port in doc.root.descendants("port") {
        let location = port.descendants("address").into_iter().find_map(|a| a.attr("location"));
        if let (Some(name), Some(location)) = (port.attr("name"), location) {
            info.ports.insert(name.to_string(), location.trim().to_string());
        }
    }
    let policy = doc.root.descendants("Policy").into_iter().find(|p| p.attr("Id") == Some(policy_id));
    if let Some(policy) = policy {
        info.requires_proof = !policy.descendants("EndorsingSupportingTokens").is_empty();
        info.sts_address = policy
            .descendants("Issuer")
            .into_iter()
            .find_map(|issuer| issuer.descendants("Address").into_iter().next())
            .map(|a| a.text.trim().to_string());
    }
    Ok(info)
}

/// The Web Ticket Service's Integrated Windows authentication port (REFERENCE.md §2.2).
pub const WIN_NEGOTIATE_PORT: &str = "WebTicketServiceWinNegotiate";
/// The Web Ticket Service's WS-Federation bearer port (Office 365 / ADFS): pidgin-sipe matches this name
/// (`sipe-webticket.c`, `webticket_metadata`); its address ends in `/WsFed_bearer` (seed 000), a spelling
/// [`WebTicketPorts::from_mex`] accepts as a port name too.
pub const WS_FED_BEARER_PORT: &str = "WsFedBearer";

/// How pidgin-sipe's proof-key port names end (`CertProvisioningServiceWebTicketProof_SHA1`, `sipe-certificate.c`):
/// ports whose policy uses EndorsingSupportingTokens, where the request is signed with an earlier ticket's proof key
/// ([`super::proof`]). The lab's Web Ticket Service names its own `WebTicketServiceWebTicketProof_SHA1`.
pub const PROOF_PORT_SUFFIX: &str = "WebTicketProof_SHA1";
/// The other proof-port spelling seen in URLs (`.../CertProvisioningService.svc/WebTicket_Proof`, REFERENCE.md §2.2).
pub const PROOF_PORT_ALT: &str = "WebTicket_Proof";

/// The address of a proof-key port in parsed MEX metadata (name ending in [`PROOF_PORT_SUFFIX`] or equal to
/// [`PROOF_PORT_ALT`], case-insensitively; the first by name when there are several).
pub fn proof_port(info: &MexInfo) -> Option<String> {
    let suffix = PROOF_PORT_SUFFIX.to_ascii_lowercase();
    let mut found: Vec<(&String, &String)> = info
        .ports
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().ends_with(&suffix) || n.eq_ignore_ascii_case(PROOF_PORT_ALT))
        .collect();
    found.sort();
    found.first().map(|(_, location)| (*location).clone())
}

/// The authentication ports a Web Ticket Service's MEX offers (CLIENT-NOTES.md §6.2 step 4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebTicketPorts {
    /// `WebTicketServiceWinNegotiate`: HTTP Negotiate/NTLM.
    pub win_negotiate: Option<String>,
    /// `WsFedBearer` (or `WsFed_bearer`): a SAML token from the Org ID STS (or ADFS) in `wsse:Security`.
    pub ws_fed_bearer: Option<String>,
}

impl WebTicketPorts {
    /// The ports in parsed MEX metadata (names compared case-insensitively, as SIPE does).
    pub fn from_mex(info: &MexInfo) -> WebTicketPorts {
        let find = |names: &[&str]| {
            let mut found: Vec<(&String, &String)> =
                info.ports.iter().filter(|(n, _)| names.iter().any(|w| n.eq_ignore_ascii_case(w))).collect();
            found.sort();
            found.first().map(|(_, location)| (*location).clone())
        };
        WebTicketPorts {
            win_negotiate: find(&[WIN_NEGOTIATE_PORT]),
            ws_fed_bearer: find(&[WS_FED_BEARER_PORT, "WsFed_bearer"]),
        }
    }
}

/// The MEX address of the Web Ticket Service at `sts_url`: `<service>.svc/mex`, whether the URL names the
/// service (`.../WebTicketService.svc`, as Office 365's `X-MS-WebTicketURL` does) or one of its ports
/// (`.../WebTicketService.svc/Auth`, as an on-premises pool's does). `None` when the URL has no `.svc` segment.
pub fn mex_url(sts_url: &str) -> Option<String> {
    let (without_query, _) = sts_url.split_once(['?', '#']).unwrap_or((sts_url, ""));
    let lower = without_query.to_ascii_lowercase();
    let end = lower.find(".svc")? + ".svc".len();
    let rest = &lower[end..];
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(format!("{}/mex", &without_query[..end]))
}

/// `X-Ms-diagnostics` codes meaning "drop the ticket and get a new one once" (REFERENCE.md §2.3).
pub fn ticket_rejected(code: u32) -> bool {
    matches!(code, 28032 | 28033 | 28072)
}

/// What a web services' `X-Ms-diagnostics` code means, for the report: a class and what to check. The codes and
/// their reasons are [MS-OCAUTHWS]'s (REFERENCE.md §2.3); the causes are the field's (seed 002: tickets refused
/// with 28032 because the Front End's External Web Site presented a certificate for another host).
pub fn diagnostic_cause(code: u32) -> Option<(&'static str, &'static str)> {
    Some(match code {
        28032 => (
            "invalid-web-ticket",
            "The pool refused the web ticket it issued itself (28032, The web ticket is invalid): check the web \
             services' certificates. Each Front End's External Web Site (port 4443, behind the reverse proxy) and \
             Internal Web Site must present a certificate naming the pool's web services FQDN, not the Edge's or \
             another host's (seed 002). Clients that already hold a TLS-DSK certificate still sign in, which is \
             why only some users fail.",
        ),
        28033 => (
            "expired-web-ticket",
            "The web ticket had expired (28033): check the clocks of this computer and the Front Ends, and the \
             web ticket lifetime (Get-CsWebServiceConfiguration).",
        ),
        28072 => (
            "unverifiable-web-ticket",
            "The pool could not verify the web ticket (28072): check that every Front End of the pool has the same \
             OAuth/web ticket signing certificate (Get-CsCertificate -Type OAuthTokenIssuer).",
        ),
        28020 => (
            "no-security-token",
            "The request carried no security token the service accepts (28020): check the authentication methods \
             enabled on the web services (Get-CsWebServiceConfiguration) and any proxy that strips headers.",
        ),
        28029 => (
            "auth-type-not-allowed",
            "The web services do not allow this authentication type (28029): enable it with \
             Set-CsWebServiceConfiguration, or sign in another way.",
        ),
        28077 => (
            "web-ticket-audience",
            "The web ticket was issued for another service (28077, invalid audience): check that the URL the pool \
             published (X-MS-WebTicketURL) belongs to this pool.",
        ),
        _ => return None,
    })
}

/// Tickets by the service URL they were issued for.
#[derive(Debug, Default)]
pub struct TicketCache {
    tickets: HashMap<String, WebTicket>,
}

impl TicketCache {
    /// A fresh ticket for `service`, if one is cached.
    pub fn get(&self, service: &str, now: SystemTime) -> Option<&WebTicket> {
        self.tickets.get(service).filter(|t| t.is_fresh(now))
    }
    /// Keeps a ticket.
    pub fn insert(&mut self, service: &str, ticket: WebTicket) {
        self.tickets.insert(service.to_string(), ticket);
    }
    /// Drops the ticket for `service` (the server said 28032/28033/28072).
    pub fn invalidate(&mut self, service: &str) -> bool {
        self.tickets.remove(service).is_some()
    }
}

#[cfg(test)]
mod tests;
