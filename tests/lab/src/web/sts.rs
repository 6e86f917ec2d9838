//! The lab's Web Ticket Service ([MS-OCAUTHWS] 3.2, REFERENCE.md §2.3): the `WebTicketServiceWinNegotiate` port
//! at `/WebTicket/WebTicketService.svc/Auth`, authenticated with HTTP NTLM against the lab's user directory.
//!
//! HTTP NTLM authenticates a connection, so each connection has its own `ConnAuth`: the anonymous POST gets a
//! 401 offering `Negotiate` and `NTLM`; a NEGOTIATE_MESSAGE gets a 401 with the CHALLENGE_MESSAGE; a verified
//! AUTHENTICATE_MESSAGE marks the connection as the user's (as IIS does) and the RST is answered with an RSTR
//! holding a SAML 1.1 assertion. Raw NTLM tokens are accepted under either scheme (what Windows sends under
//! `Negotiate` without Kerberos); with the lab's Kerberos realm, `Negotiate` with a Kerberos ticket (SPNEGO or
//! a bare krb5 token) is accepted by MIT's GSSAPI in one leg and the AP-REP returned. The assertion is not
//! XML-signed.
//!
//! Under the `online` fault the Auth port answers 404 and the MEX names only the `WsFedBearer` port
//! ([`super::online`]), as Office 365's Web Ticket Service does.
//!
//! Issued AssertionIDs are remembered ([`Issued`]) so the User resource can tell a ticket this pool issued
//! from a forged or expired one; with them the proof key each ticket's RST and RSTR entropies make (WS-Trust
//! `CK/PSHA1`), for the proof-key port.
//!
//! The proof-key port ([`PROOF_PORT`], module [`proof`]) issues a new ticket without credentials to a request
//! signed with an earlier ticket's proof key (REFERENCE.md §2.3, CLIENT-NOTES.md §6.3). Real pools put such
//! ports on the consuming services (pidgin-sipe's `CertProvisioningServiceWebTicketProof_SHA1`); the lab's Web
//! Ticket Service offers one itself so the signing can be exercised end to end. Its MEX names it at the Auth
//! port's address: the lab's router sends only that path here, and a POST with no `Authorization` header whose
//! `wsse:Security` holds a `Signature` is taken as a proof-port request. The RST is read with quick-xml here rather than with sfbkit's types, so a
//! client bug in writing it is not mirrored by the same bug in reading it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use sfbkit::auth::ntlm::crypto::filetime;
use sfbkit::auth::ntlm::server::{NtlmServer, OCS_CHALLENGE_FLAGS, ServerCredentials, ServerIdentity};
use sfbkit::auth::ntlm::{AuthenticateMessage, ChallengeMessage, decode_token, encode_token, flags};

use super::routes::{Site, add, reply, soap_post};
use crate::config::{LabUser, user_by_principal};

/// The Auth port's path, lower-cased for matching.
pub(crate) const AUTH_PATH: &str = "/webticket/webticketservice.svc/auth";
/// The Auth port's path as IIS spells it in URLs.
pub(crate) const AUTH_LINK: &str = "/WebTicket/WebTicketService.svc/Auth";
/// The service's WS-MetadataExchange path, lower-cased for matching.
pub(crate) const MEX_PATH: &str = "/webticket/webticketservice.svc/mex";
/// The name of the Integrated Windows authentication port in the metadata (REFERENCE.md §2.2).
pub const WIN_NEGOTIATE_PORT: &str = "WebTicketServiceWinNegotiate";
/// The name of the proof-key port in the metadata, after pidgin-sipe's `CertProvisioningServiceWebTicketProof_SHA1`.
pub const PROOF_PORT: &str = "WebTicketServiceWebTicketProof_SHA1";
/// How long an issued ticket is valid (a Lync pool's default web ticket lifetime is 8 hours).
pub const TICKET_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Largest RST body read.
pub(crate) const MAX_RST: usize = 64 * 1024;
/// Most AssertionIDs remembered; beyond it the soonest-expiring one is forgotten.
const MAX_ISSUED: usize = 4096;
/// The fault a Front End answers when the claim names someone else (REFERENCE.md §2.3).
pub const CLAIM_MISMATCH: &str = "The SIP URI in the claim type requirements of the web ticket request does not \
                                  match the SIP URI associated with the presented credentials.";
/// `X-Ms-diagnostics` reason of code 28032.
pub const INVALID_TICKET_REASON: &str = "The web ticket is invalid.";

/// The AssertionIDs this pool issued, with their `NotOnOrAfter` and the user they were issued to. Bounded by
/// 4096 entries. One set per site, read by autodiscover's User resource and the Certificate Provisioning
/// Service alike.
#[derive(Default)]
pub struct Issued {
    tickets: Mutex<HashMap<String, IssuedTicket>>,
}

/// One issued ticket: when it expires, its holder ("" for none) and its proof key (a secret: never shown,
/// wiped when the ticket is forgotten).
struct IssuedTicket {
    expires: SystemTime,
    user: String,
    proof_key: Option<zeroize::Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Issued {
    // The AssertionIDs are bearer credentials: only their number is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("tickets", &self.len()).finish()
    }
}

impl Issued {
    /// Remembers an issued ticket without a user, forgetting expired ones (and the soonest-expiring one when full).
    pub fn remember(&self, assertion_id: &str, expires: SystemTime, now: SystemTime) {
        self.remember_for(assertion_id, "", expires, now);
    }

    /// Remembers a ticket issued to `sip_uri`, forgetting expired ones (and the soonest-expiring one when full).
    pub fn remember_for(&self, assertion_id: &str, sip_uri: &str, expires: SystemTime, now: SystemTime) {
        self.remember_ticket(assertion_id, sip_uri, expires, now, None);
    }

    /// Remembers a ticket issued to `sip_uri` with its proof key (P_SHA1 of the RST's and RSTR's entropies).
    pub fn remember_with_key(
        &self,
        assertion_id: &str,
        sip_uri: &str,
        expires: SystemTime,
        now: SystemTime,
        proof_key: [u8; 32],
    ) {
        self.remember_ticket(assertion_id, sip_uri, expires, now, Some(proof_key));
    }

    fn remember_ticket(
        &self,
        assertion_id: &str,
        sip_uri: &str,
        expires: SystemTime,
        now: SystemTime,
        proof_key: Option<[u8; 32]>,
    ) {
        let mut map = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, t| t.expires > now);
        if map.len() >= MAX_ISSUED
            && let Some(oldest) = map.iter().min_by_key(|(_, t)| t.expires).map(|(id, _)| id.clone())
        {
            map.remove(&oldest);
        }
        let proof_key = proof_key.map(zeroize::Zeroizing::new);
        map.insert(assertion_id.to_owned(), IssuedTicket { expires, user: sip_uri.to_owned(), proof_key });
    }

    /// The proof key of a valid (issued, unexpired) ticket; `None` for any other, or one issued without entropy.
    pub fn proof_key(&self, assertion_id: &str, now: SystemTime) -> Option<[u8; 32]> {
        let map = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        map.get(assertion_id).filter(|t| t.expires > now).and_then(|t| t.proof_key.as_deref().copied())
    }

    /// True when this pool issued `assertion_id` and it has not expired at `now`.
    pub fn is_valid(&self, assertion_id: &str, now: SystemTime) -> bool {
        let map = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        map.get(assertion_id).is_some_and(|t| t.expires > now)
    }

    /// The SIP URI a valid (issued, unexpired) ticket was issued to; `None` for any other ticket, and for one
    /// remembered without a user.
    pub fn holder(&self, assertion_id: &str, now: SystemTime) -> Option<String> {
        let map = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        map.get(assertion_id).filter(|t| t.expires > now && !t.user.is_empty()).map(|t| t.user.clone())
    }

    /// How many tickets are remembered.
    pub fn len(&self) -> usize {
        self.tickets.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The NTLM state of one HTTP connection.
#[derive(Debug, Default)]
pub(crate) struct ConnAuth {
    negotiate: Vec<u8>,
    challenge: Option<ChallengeMessage>,
    /// The directory entry the connection authenticated as.
    user: Option<LabUser>,
}

/// What an RST asks for (only the parts the lab checks or echoes). `Debug` leaves out the entropy.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Rst {
    /// `RequestSecurityToken/@Context`.
    pub context: Option<String>,
    /// `AppliesTo/EndpointReference/Address`.
    pub applies_to: Option<String>,
    /// `Claims/ClaimType/Value`: the SIP URI the ticket is for.
    pub claim: Option<String>,
    /// `Entropy/BinarySecret`: the client's entropy, base64 (half of the proof key).
    pub entropy: Option<String>,
}

impl std::fmt::Debug for Rst {
    // The client's entropy is half of the proof key: only whether it came is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rst")
            .field("context", &self.context)
            .field("applies_to", &self.applies_to)
            .field("claim", &self.claim)
            .field("entropy", &self.entropy.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Reads an RST; `None` when the body is not XML with a `RequestSecurityToken`.
pub fn parse_rst(body: &[u8]) -> Option<Rst> {
    let (mut rst, mut seen) = (Rst::default(), false);
    let mut values: Vec<(Vec<String>, String)> = Vec::new();
    super::soap::walk(
        body,
        |_, name, e| {
            if name == "RequestSecurityToken" {
                seen = true;
                rst.context = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == "Context")
                    .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                    .map(|v| v.into_owned());
            }
        },
        |path, text| values.push((path.to_vec(), text)),
    )?;
    for (path, text) in values {
        let value = text.trim().to_owned();
        match path.as_slice() {
            [.., a, b] if a == "ClaimType" && b == "Value" => rst.claim = Some(value),
            [.., a, b] if a == "EndpointReference" && b == "Address" => rst.applies_to = Some(value),
            [.., a, b] if a == "Entropy" && b == "BinarySecret" => rst.entropy = Some(value),
            _ => {}
        }
    }
    seen.then_some(rst)
}

/// The `AssertionID` of the ticket in an `X-MS-WebTicket` value (`opaque=<base64 assertion>`).
pub fn ticket_assertion_id(header: &str) -> Option<String> {
    let b64 = header.trim().strip_prefix("opaque=")?;
    let xml = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = std::str::from_utf8(&xml).ok()?;
    let mut reader = Reader::from_str(text);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "Assertion" => {
                return e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == "AssertionID")
                    .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                    .map(|v| v.into_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// What the service issues for one request. `Debug` leaves out the AssertionID (a bearer credential) and
/// the server entropy (half of the proof key).
#[derive(Clone)]
pub struct Issue<'a> {
    /// The pool's FQDN: the assertion's `Issuer`.
    pub issuer: &'a str,
    /// The authenticated user's SIP URI: `NameIdentifier`.
    pub sip_uri: &'a str,
    /// The RST's AppliesTo address: the `Audience`.
    pub audience: &'a str,
    /// The RST's Context, echoed.
    pub context: &'a str,
    /// `AssertionID`.
    pub assertion_id: &'a str,
    /// `IssueInstant`, `NotBefore`, `Created`.
    pub now: SystemTime,
    /// 32 random bytes of server entropy.
    pub server_entropy: [u8; 32],
}

impl std::fmt::Debug for Issue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issue")
            .field("issuer", &self.issuer)
            .field("sip_uri", &self.sip_uri)
            .field("audience", &self.audience)
            .field("context", &self.context)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// An RSTR ([MS-OCAUTHWS] 3.2.4.1.1.2) with a SAML 1.1 assertion valid from `now` for [`TICKET_LIFETIME`].
pub fn rstr(issue: &Issue<'_>) -> String {
    let esc = |s: &str| quick_xml::escape::escape(s).into_owned();
    let (created, expires) = (xs_datetime(issue.now), xs_datetime(issue.now + TICKET_LIFETIME));
    let entropy = base64::engine::general_purpose::STANDARD.encode(issue.server_entropy);
    let wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
            r#"<RequestSecurityTokenResponseCollection xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512">"#,
            r#"<RequestSecurityTokenResponse Context="{ctx}">"#,
            r#"<TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1</TokenType>"#,
            r#"<RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</RequestType>"#,
            r#"<RequestedSecurityToken>"#,
            r#"<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="{id}" Issuer="{issuer}" "#,
            r#"IssueInstant="{created}" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion">"#,
            r#"<saml:Conditions NotBefore="{created}" NotOnOrAfter="{expires}">"#,
            r#"<saml:AudienceRestrictionCondition><saml:Audience>{audience}</saml:Audience>"#,
            r#"</saml:AudienceRestrictionCondition></saml:Conditions>"#,
            r#"<saml:AuthenticationStatement AuthenticationMethod="urn:federation:authentication:windows" "#,
            r#"AuthenticationInstant="{created}"><saml:Subject>"#,
            r#"<saml:NameIdentifier Format="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/uri">{sip}"#,
            r#"</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>"#,
            r#"urn:oasis:names:tc:SAML:1.0:cm:holder-of-key</saml:ConfirmationMethod></saml:SubjectConfirmation>"#,
            r#"</saml:Subject></saml:AuthenticationStatement></saml:Assertion>"#,
            r#"</RequestedSecurityToken>"#,
            r#"<RequestedProofToken><ComputedKey>http://docs.oasis-open.org/ws-sx/ws-trust/200512/CK/PSHA1"#,
            r#"</ComputedKey></RequestedProofToken>"#,
            r#"<Lifetime><wsu:Created xmlns:wsu="{wsu}">{created}</wsu:Created>"#,
            r#"<wsu:Expires xmlns:wsu="{wsu}">{expires}</wsu:Expires></Lifetime>"#,
            r#"<Entropy><BinarySecret>{entropy}</BinarySecret></Entropy>"#,
            r#"<KeySize>256</KeySize>"#,
            r#"</RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection></s:Body></s:Envelope>"#
        ),
        ctx = esc(issue.context),
        id = esc(issue.assertion_id),
        issuer = esc(issue.issuer),
        created = created,
        expires = expires,
        audience = esc(issue.audience),
        sip = esc(issue.sip_uri),
        wsu = wsu,
        entropy = entropy,
    )
}

/// The service's metadata ([`super::mex`]): the `WebTicketServiceWinNegotiate` port, its policy (HTTP Negotiate over TLS) and its address `auth_url`; and the
/// proof-key port [`PROOF_PORT`] at the same address, whose policy's EndorsingSupportingTokens name this service.
pub fn mex(auth_url: &str) -> String {
    use super::mex::{Policy, Port, definitions};
    definitions(
        "WebTicketService",
        &[
            Port { name: WIN_NEGOTIATE_PORT, policy: Policy::Negotiate, location: auth_url },
            Port { name: PROOF_PORT, policy: Policy::Endorsing { issuer: auth_url }, location: auth_url },
        ],
    )
}

/// A SOAP 1.1 fault as WCF writes it.
pub fn soap_fault(text: &str) -> String {
    format!(
        concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>"#,
            r#"<faultcode>s:Client</faultcode><faultstring xml:lang="en-US">{}</faultstring>"#,
            r#"</s:Fault></s:Body></s:Envelope>"#
        ),
        quick_xml::escape::escape(text)
    )
}

/// `2026-11-22T05:00:00Z`.
pub fn xs_datetime(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Whole seconds: the ticket's times travel as xs:dateTime without fractions.
pub(crate) fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Answers one request to the Auth port. `body` is `None` when it was too large or broken.
pub(crate) fn respond(
    site: &Site,
    conn: &Mutex<ConnAuth>,
    tls: bool,
    method: &Method,
    headers: &HeaderMap,
    body: Option<Bytes>,
) -> Response<Full<Bytes>> {
    // `online`: Office 365 has no Windows port (its MEX names only WsFedBearer).
    if tls && site.cfg.online {
        return reply(site, StatusCode::NOT_FOUND, "text/plain", "Not Found".into());
    }
    // `webticket-500`: the service is broken (an application pool that crashed, a database down).
    if tls && site.cfg.ticket_500 && method == Method::POST {
        return reply(site, StatusCode::INTERNAL_SERVER_ERROR, "text/html", "<h1>Server Error</h1>".into());
    }
    let body = match soap_post(site, tls, method, body) {
        Ok(b) => b,
        Err(refusal) => return *refusal,
    };
    let authorization = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if authorization.is_none() && proof::is_signed(&body) {
        return respond_proof(site, &body, SystemTime::now());
    }
    let mut state = conn.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(value) = authorization {
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        if !(scheme.eq_ignore_ascii_case("NTLM") || scheme.eq_ignore_ascii_case("Negotiate")) {
            return challenge(site);
        }
        let Ok(bytes) = decode_token(token) else { return challenge(site) };
        // Negotiate carrying Kerberos (SPNEGO, or a bare krb5 token as pidgin-sipe sends): one leg, MIT accepts.
        if scheme.eq_ignore_ascii_case("Negotiate") && bytes.first() == Some(&0x60) {
            let Some(acceptor) = site.cfg.kerberos.clone() else { return challenge(site) };
            let (user, reply) = match acceptor.accept(&bytes) {
                Ok((_, principal, reply)) => match user_by_principal(&site.cfg.users, &site.cfg.domain, &principal) {
                    Some(u) => (u.clone(), reply),
                    None => return challenge(site),
                },
                Err(e) => {
                    tracing::info!(error = %e, "lab web ticket service: Kerberos ticket refused");
                    return challenge(site);
                }
            };
            drop(state);
            let mut r = issue(site, &user, &body, SystemTime::now());
            // Mutual authentication: the AP-REP goes back in the final response (RFC 4559 §5).
            if let Some(token) = reply {
                add(&mut r, "www-authenticate", &format!("Negotiate {}", encode_token(&token)));
            }
            return r;
        }
        match message_type(&bytes) {
            Some(1) => return ntlm_challenge(site, &mut state, scheme, bytes),
            Some(3) => {
                if !authenticate(site, &mut state, &bytes) {
                    return challenge(site);
                }
            }
            _ => return challenge(site),
        }
    }
    let Some(user) = state.user.clone() else { return challenge(site) };
    drop(state);
    issue(site, &user, &body, SystemTime::now())
}

/// The anonymous 401: the schemes IIS offers for Integrated Windows authentication.
fn challenge(site: &Site) -> Response<Full<Bytes>> {
    let body = "<html><head><title>401 - Unauthorized</title></head><body>401 - Unauthorized</body></html>";
    let mut r = reply(site, StatusCode::UNAUTHORIZED, "text/html", body.into());
    add(&mut r, "www-authenticate", "Negotiate");
    add(&mut r, "www-authenticate", "NTLM");
    r
}

fn message_type(token: &[u8]) -> Option<u32> {
    if token.get(..8)? != b"NTLMSSP\0" {
        return None;
    }
    Some(u32::from_le_bytes(token.get(8..12)?.try_into().ok()?))
}

fn ntlm_server(site: &Site) -> NtlmServer {
    let cfg = &site.cfg;
    NtlmServer::new(ServerIdentity {
        nb_domain: cfg.domain.split('.').next().unwrap_or("LAB").to_ascii_uppercase(),
        nb_computer: cfg.pool_fqdn.split('.').next().unwrap_or("POOL").to_ascii_uppercase(),
        dns_domain: cfg.domain.clone(),
        dns_computer: cfg.pool_fqdn.clone(),
    })
    // HTTP is connection-oriented: no DATAGRAM, and no NTLMv1 LM_KEY.
    .with_flags(OCS_CHALLENGE_FLAGS & !(flags::DATAGRAM | flags::LM_KEY))
}

fn ntlm_challenge(site: &Site, state: &mut ConnAuth, scheme: &str, negotiate: Vec<u8>) -> Response<Full<Bytes>> {
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let challenge = ntlm_server(site).challenge(rand::random::<[u8; 8]>(), filetime(now));
    let token = encode_token(&challenge.to_bytes());
    *state = ConnAuth { negotiate, challenge: Some(challenge), user: None };
    let mut r = reply(site, StatusCode::UNAUTHORIZED, "text/html", String::new());
    let scheme = if scheme.eq_ignore_ascii_case("NTLM") { "NTLM" } else { "Negotiate" };
    add(&mut r, "www-authenticate", &format!("{scheme} {token}"));
    r
}

/// Verifies an AUTHENTICATE_MESSAGE against the directory; on success the connection is the user's.
fn authenticate(site: &Site, state: &mut ConnAuth, bytes: &[u8]) -> bool {
    let Some(challenge) = state.challenge.take() else { return false };
    let negotiate = std::mem::take(&mut state.negotiate);
    state.user = None;
    let Ok(message) = AuthenticateMessage::parse(bytes) else { return false };
    let account = match message.domain_name() {
        d if d.is_empty() => message.user_name(),
        d => format!("{d}\\{}", message.user_name()),
    };
    let Some(user) = site.cfg.users.iter().find(|u| u.account().eq_ignore_ascii_case(&account)) else {
        tracing::info!(%account, "lab web ticket service: unknown account");
        return false;
    };
    let creds = ServerCredentials { user: message.user_name(), password: site.cfg.directory.password_of(user) };
    match ntlm_server(site).accept(&negotiate, &challenge, bytes, &creds) {
        Ok(_) => {
            state.user = Some(user.clone());
            true
        }
        Err(err) => {
            site.cfg.directory.failed_logon(&account);
            tracing::info!(%account, %err, "lab web ticket service: NTLM credentials refused");
            false
        }
    }
}

/// Checks the RST against the authenticated user and issues the ticket (also for the `WsFedBearer` port,
/// [`super::online`], once the Org ID token names the user).
pub(crate) fn issue(site: &Site, user: &LabUser, body: &[u8], now: SystemTime) -> Response<Full<Bytes>> {
    let Some(rst) = parse_rst(body) else {
        return fault(site, "The request is not a WS-Trust RequestSecurityToken.");
    };
    let bare = |s: &str| s.strip_prefix("sip:").unwrap_or(s).to_ascii_lowercase();
    if rst.claim.as_deref().is_some_and(|claim| bare(claim) != bare(&user.sip_uri)) {
        return fault(site, CLAIM_MISMATCH);
    }
    let now = whole_seconds(now);
    let id = format!("SamlSecurityToken-{}", uuid());
    let audience = rst.applies_to.unwrap_or_default();
    let context = rst.context.unwrap_or_default();
    let issue = Issue {
        issuer: &site.cfg.pool_fqdn,
        sip_uri: &user.sip_uri,
        audience: &audience,
        context: &context,
        assertion_id: &id,
        now,
        server_entropy: rand::random(),
    };
    let body = rstr(&issue);
    let client_entropy =
        rst.entropy.as_deref().and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok());
    match client_entropy {
        Some(client) => {
            let key = proof::p_sha1(&client, &issue.server_entropy);
            site.issued.remember_with_key(&id, &user.sip_uri, now + TICKET_LIFETIME, now, key);
        }
        None => site.issued.remember_for(&id, &user.sip_uri, now + TICKET_LIFETIME, now),
    }
    tracing::info!(sip_uri = %user.sip_uri, assertion_id = %id, "lab web ticket service: ticket issued");
    reply(site, StatusCode::OK, "text/xml; charset=utf-8", body)
}

/// The proof-key port: a request signed with an earlier ticket's proof key gets a ticket for that ticket's holder
/// (the claim must still name them); anything else gets a SOAP fault.
pub(crate) fn respond_proof(site: &Site, body: &[u8], now: SystemTime) -> Response<Full<Bytes>> {
    let holder = match proof::verify(&site.issued, body, now) {
        Ok(holder) => holder,
        Err(refusal) => {
            tracing::info!(?refusal, "lab web ticket service: proof-key request refused");
            return fault(site, &refusal.text());
        }
    };
    let Some(user) = site.cfg.users.iter().find(|u| u.sip_uri.eq_ignore_ascii_case(&holder)).cloned() else {
        return fault(site, &proof::Refusal::UnknownTicket.text());
    };
    issue(site, &user, body, now)
}

fn fault(site: &Site, text: &str) -> Response<Full<Bytes>> {
    reply(site, StatusCode::INTERNAL_SERVER_ERROR, "text/xml; charset=utf-8", soap_fault(text))
}

pub(crate) fn uuid() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

pub mod proof;

#[cfg(test)]
mod tests {
    use super::*;

    const RST: &str = concat!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
        r#"<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512" Context="c-1">"#,
        r#"<wsp:AppliesTo xmlns:wsp="p"><wsa:EndpointReference xmlns:wsa="a">"#,
        r#"<wsa:Address>https://pool/x</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>"#,
        r#"<wst:Claims Dialect="d"><auth:ClaimType xmlns:auth="z" Uri="u">"#,
        r#"<auth:Value>sip:alice&#64;contoso.lab</auth:Value></auth:ClaimType></wst:Claims>"#,
        r#"</wst:RequestSecurityToken>"#,
        r#"</s:Body></s:Envelope>"#
    );

    #[test]
    fn rst_claim_audience_and_context_are_read() {
        let rst = parse_rst(RST.as_bytes()).unwrap();
        assert_eq!(rst.claim.as_deref(), Some("sip:alice@contoso.lab"));
        assert_eq!(rst.applies_to.as_deref(), Some("https://pool/x"));
        assert_eq!(rst.context.as_deref(), Some("c-1"));
        assert_eq!(parse_rst(b"<html/>"), None);
        assert_eq!(parse_rst(b"not xml <<"), None);
    }

    /// The client's entropy (half of the proof key), the server's entropy and the AssertionID (a bearer
    /// credential) stay out of `Debug`; a remembered proof key is never printed.
    #[test]
    fn entropy_and_assertion_ids_stay_out_of_debug() {
        let entropy: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(41).wrapping_add(3));
        let b64 = base64::engine::general_purpose::STANDARD.encode(entropy);
        let rst = RST.replace(
            "</wst:RequestSecurityToken>",
            &format!(
                "<wst:Entropy><wst:BinarySecret>{b64}</wst:BinarySecret></wst:Entropy></wst:RequestSecurityToken>"
            ),
        );
        let rst = parse_rst(rst.as_bytes()).unwrap();
        assert_eq!(rst.entropy.as_deref(), Some(b64.as_str()));
        let issue = Issue {
            issuer: "pool01.contoso.lab",
            sip_uri: "sip:alice@contoso.lab",
            audience: "https://pool/x",
            context: "c-1",
            assertion_id: "SamlSecurityToken-4f1e",
            now: SystemTime::UNIX_EPOCH,
            server_entropy: entropy,
        };
        let issued = Issued::default();
        let now = SystemTime::now();
        issued.remember_with_key(
            "SamlSecurityToken-4f1e",
            "sip:alice@contoso.lab",
            now + TICKET_LIFETIME,
            now,
            entropy,
        );
        let debug = format!("{rst:?} {issue:?} {issued:?}");
        let hex: String = entropy.iter().map(|b| format!("{b:02x}")).collect();
        let list = format!("{entropy:?}");
        for leak in [b64.as_str(), b64.trim_end_matches('='), &hex, &hex.to_uppercase(), list.trim_matches(['[', ']'])]
        {
            assert!(!debug.contains(leak), "{leak} in {debug}");
        }
        assert!(!debug.contains("4f1e"), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains("sip:alice@contoso.lab"), "{debug}");
    }

    #[test]
    fn the_rstr_reads_back_with_sfbkit_and_its_ticket_names_the_assertion() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let issue = Issue {
            issuer: "pool01.contoso.lab",
            sip_uri: "sip:alice@contoso.lab",
            audience: "https://pool/x",
            context: "c-1",
            assertion_id: "SamlSecurityToken-1",
            now,
            server_entropy: [7; 32],
        };
        let ticket = sfbkit::auth::webticket::parse_rstr(rstr(&issue).as_bytes()).unwrap();
        assert_eq!(ticket.assertion_id, "SamlSecurityToken-1");
        assert_eq!((ticket.created, ticket.expires), (now, now + TICKET_LIFETIME));
        assert!(ticket.assertion_xml().contains("<saml:NameIdentifier"));
        assert!(ticket.assertion_xml().contains("sip:alice@contoso.lab"));
        assert!(ticket.proof_key(&[1; 32]).is_some(), "server entropy present");
        assert_eq!(ticket_assertion_id(&ticket.header_value()).as_deref(), Some("SamlSecurityToken-1"));
        assert_eq!(ticket_assertion_id("opaque=!!!"), None);
        assert_eq!(ticket_assertion_id("AAAA"), None);
    }

    #[test]
    fn issued_tickets_expire_and_the_map_is_bounded() {
        let issued = Issued::default();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        issued.remember("a", t0 + Duration::from_secs(10), t0);
        assert!(issued.is_valid("a", t0));
        assert!(!issued.is_valid("a", t0 + Duration::from_secs(10)));
        assert!(!issued.is_valid("b", t0));
        for i in 0..MAX_ISSUED + 10 {
            issued.remember(&i.to_string(), t0 + Duration::from_secs(100 + i as u64), t0);
        }
        assert!(issued.len() <= MAX_ISSUED);
        assert!(issued.is_valid(&(MAX_ISSUED + 9).to_string(), t0));
    }

    #[test]
    fn mex_names_the_negotiate_port_for_sfbkit() {
        let url = "https://pool01.contoso.lab:4443/WebTicket/WebTicketService.svc/Auth";
        let info =
            sfbkit::auth::webticket::parse_mex(mex(url).as_bytes(), "WebTicketServiceWinNegotiate_policy").unwrap();
        assert_eq!(info.ports.get(WIN_NEGOTIATE_PORT).map(String::as_str), Some(url));
        assert!(!info.requires_proof);
    }

    #[test]
    fn mex_names_the_proof_port_with_an_endorsing_policy() {
        let url = "https://pool01.contoso.lab:4443/WebTicket/WebTicketService.svc/Auth";
        let policy = format!("{PROOF_PORT}_policy");
        let info = sfbkit::auth::webticket::parse_mex(mex(url).as_bytes(), &policy).unwrap();
        assert!(info.requires_proof);
        assert_eq!(info.sts_address.as_deref(), Some(url));
        assert_eq!(sfbkit::auth::webticket::proof_port(&info).as_deref(), Some(url));
    }

    #[test]
    fn faults_carry_the_text_escaped() {
        let f = soap_fault(CLAIM_MISMATCH);
        assert!(f.contains("<faultstring xml:lang=\"en-US\">The SIP URI in the claim type"));
        assert!(soap_fault("a<b").contains("a&lt;b"));
        assert_eq!(xs_datetime(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 + 61)), "1970-01-02T00:01:01Z");
    }
}
