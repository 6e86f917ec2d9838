//! The lab's Office 365 pieces (seed 000 steps 6–10; REFERENCE.md §2.2–2.3; CLIENT-NOTES.md §6.5): an Org ID STS
//! at `/RST2.srf` (what `login.microsoftonline.com/RST2.srf` is to an Online user) and the Web Ticket Service's
//! WS-Federation bearer port at `/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer`.
//!
//! - The Org ID STS takes a WS-Trust request with a cleartext `wsse:UsernameToken` (the shape pidgin-sipe sends,
//!   `sipe-svc.c` `sipe_svc_webticket_lmc`: SOAP 1.2, WS-Trust 2005/02), checks the user name (the account, or
//!   the SIP address) and password against the lab's directory, and answers with an RSTR whose
//!   `RequestedSecurityToken` is a SAML 1.1 assertion for the `AppliesTo` address, with a `Lifetime`. A wrong
//!   user name or password gets the SOAP 1.2 fault Office 365 sends: subcode `wst:FailedAuthentication`, the
//!   explanation in `psf:internalerror/psf:text`. Office 365 encrypts its token (`EncryptedData`); the lab's is a
//!   plain, unsigned assertion whose `AssertionID` it remembers ([`Site::org_id`](super::routes::Site)).
//! - The bearer port takes an RST whose `wsse:Security` header holds that assertion, finds the user its
//!   `AssertionID` was issued to, and answers as the Windows port does (same RSTR, same claim check). A missing,
//!   unknown or expired token is a 500 with a SOAP fault, as the real port answers (tieto/sipe #165).
//!
//! Requests are read with sfbkit's [`Document`] but checked and answered by the lab's own code, so a client bug
//! in building them is not mirrored here.

use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use sfbkit::xml::{Document, Element, escape};

use super::routes::{Site, reply, soap_post};
use super::sts::{self, TICKET_LIFETIME, xs_datetime};
use crate::config::LabUser;

/// The Org ID STS's path, lower-cased for matching.
pub(crate) const ORG_ID_PATH: &str = "/rst2.srf";
/// The Org ID STS's path as Office 365 spells it.
pub const ORG_ID_LINK: &str = "/RST2.srf";
/// The bearer port's path, lower-cased for matching.
pub(crate) const BEARER_PATH: &str = "/webticket/webticketadvancedservice.svc/wsfed_bearer";
/// The bearer port's path as Office 365 spells it (seed 000).
pub const BEARER_LINK: &str = "/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer";
/// The bearer port's name in the Web Ticket Service's MEX (the name pidgin-sipe looks for).
pub const BEARER_PORT: &str = "WsFedBearer";
/// The Org ID assertions' `Issuer`.
pub const ORG_ID_ISSUER: &str = "urn:federation:MicrosoftOnline";
/// Largest request read by either endpoint.
pub(crate) const MAX_REQUEST: usize = 64 * 1024;
/// The fault text of a wrong user name or password.
pub const FAILED_AUTHENTICATION_TEXT: &str = "The entered and stored passwords do not match.";
/// The bearer port's fault for a token it cannot use.
pub const BEARER_REFUSED: &str = "ID3242: The security token could not be authenticated or authorized.";

const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const WST_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// What an Org ID request carries.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OrgIdRequest {
    /// `UsernameToken/Username`.
    pub username: Option<String>,
    /// `UsernameToken/Password` (a secret: never logged).
    pub password: Option<String>,
    /// `RequestSecurityToken/AppliesTo/EndpointReference/Address`.
    pub applies_to: Option<String>,
}

impl std::fmt::Debug for OrgIdRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgIdRequest")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("applies_to", &self.applies_to)
            .finish()
    }
}

/// Reads an Org ID request; `None` when it is not XML with a `RequestSecurityToken` in its body.
pub fn parse_org_id_request(body: &[u8]) -> Option<OrgIdRequest> {
    let doc = Document::parse(body).ok()?;
    let rst = doc.root.child("Body")?.child("RequestSecurityToken")?;
    let token = doc.root.child("Header").and_then(|h| h.path(&["Security", "UsernameToken"]));
    let text = |el: Option<&Element>, name: &str| el.and_then(|e| e.child(name)).map(|c| c.text.clone());
    Some(OrgIdRequest {
        username: text(token, "Username").map(|u| u.trim().to_owned()),
        password: text(token, "Password"),
        applies_to: rst.path(&["AppliesTo", "EndpointReference", "Address"]).map(|a| a.text.trim().to_owned()),
    })
}

/// The directory entry a user name (the account or the SIP address) and password name, if they match.
pub fn check_user<'a>(users: &'a [LabUser], username: &str, password: &str) -> Option<&'a LabUser> {
    find_user(users, username).filter(|u| !u.disabled && u.password == password)
}

/// The directory entry a user name names (the account or the SIP address), whatever the password.
pub fn find_user<'a>(users: &'a [LabUser], username: &str) -> Option<&'a LabUser> {
    let bare = |s: &str| s.strip_prefix("sip:").unwrap_or(s).to_ascii_lowercase();
    let wanted = bare(username);
    users.iter().find(|u| u.account().eq_ignore_ascii_case(username) || bare(&u.sip_uri) == wanted)
}

/// The Org ID STS's RSTR: a SAML 1.1 assertion for `audience` naming `sip_uri`, valid from `now` for
/// [`TICKET_LIFETIME`], in a SOAP 1.2 / WS-Trust 2005/02 envelope.
pub fn org_id_rstr(assertion_id: &str, sip_uri: &str, audience: &str, now: SystemTime) -> String {
    let (created, expires) = (xs_datetime(now), xs_datetime(now + TICKET_LIFETIME));
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8" ?><S:Envelope xmlns:S="{soap}" xmlns:wsu="{wsu}" "#,
            r#"xmlns:wst="{wst}" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" "#,
            r#"xmlns:wsa="http://www.w3.org/2005/08/addressing"><S:Body><wst:RequestSecurityTokenResponse>"#,
            r#"<wst:TokenType>urn:oasis:names:tc:SAML:1.0</wst:TokenType>"#,
            r#"<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>{audience}</wsa:Address>"#,
            r#"</wsa:EndpointReference></wsp:AppliesTo>"#,
            r#"<wst:Lifetime><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wst:Lifetime>"#,
            r#"<wst:RequestedSecurityToken>"#,
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" "#,
            r#"MinorVersion="1" AssertionID="{id}" Issuer="{issuer}" IssueInstant="{created}">"#,
            r#"<saml:Conditions NotBefore="{created}" NotOnOrAfter="{expires}"><saml:AudienceRestrictionCondition>"#,
            r#"<saml:Audience>{audience}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>"#,
            r#"<saml:AuthenticationStatement AuthenticationMethod="urn:oasis:names:tc:SAML:1.0:am:password" "#,
            r#"AuthenticationInstant="{created}"><saml:Subject><saml:NameIdentifier>{sip}</saml:NameIdentifier>"#,
            r#"<saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer"#,
            r#"</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject></saml:AuthenticationStatement>"#,
            r#"</saml:Assertion></wst:RequestedSecurityToken></wst:RequestSecurityTokenResponse></S:Body></S:Envelope>"#
        ),
        soap = SOAP12,
        wsu = WSU,
        wst = WST_2005,
        audience = escape(audience),
        created = created,
        expires = expires,
        id = escape(assertion_id),
        issuer = ORG_ID_ISSUER,
        sip = escape(sip_uri),
    )
}

/// Office 365's refusal of a user name or password (SOAP 1.2 fault, subcode `wst:FailedAuthentication`).
pub fn failed_authentication() -> String {
    format!(
        concat!(
            r#"<S:Envelope xmlns:S="{soap}" xmlns:wst="{wst}" "#,
            r#"xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault"><S:Body><S:Fault>"#,
            r#"<S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>wst:FailedAuthentication</S:Value></S:Subcode>"#,
            r#"</S:Code><S:Reason><S:Text xml:lang="en-US">Authentication Failure</S:Text></S:Reason>"#,
            r#"<S:Detail><psf:error><psf:value>0x80048821</psf:value><psf:internalerror><psf:code>0x80041012"#,
            r#"</psf:code><psf:text>{text}</psf:text></psf:internalerror></psf:error></S:Detail>"#,
            r#"</S:Fault></S:Body></S:Envelope>"#
        ),
        soap = SOAP12,
        wst = WST_2005,
        text = FAILED_AUTHENTICATION_TEXT,
    )
}

/// The Web Ticket Service's MEX under the `online` fault: the `WsFedBearer` port only (no Windows port), at
/// `bearer_url`, its policy naming the Org ID STS `org_id_url` as the issuer of the token it takes.
pub fn online_mex(bearer_url: &str, org_id_url: &str) -> String {
    use super::mex::{Policy, Port, definitions};
    definitions(
        "WebTicketService",
        &[Port { name: BEARER_PORT, policy: Policy::Signed { issuer: org_id_url }, location: bearer_url }],
    )
}

/// Answers one request to the Org ID STS.
pub(crate) fn respond_org_id(site: &Site, tls: bool, method: &Method, body: Option<Bytes>) -> Response<Full<Bytes>> {
    let body = match soap_post(site, tls, method, body) {
        Ok(b) => b,
        Err(refusal) => return *refusal,
    };
    let Some(req) = parse_org_id_request(&body) else {
        return fault12(site, "wst:InvalidRequest", "The request is not a WS-Trust RequestSecurityToken.");
    };
    let (Some(username), Some(password)) = (req.username.as_deref(), req.password.as_deref()) else {
        return reply(site, StatusCode::INTERNAL_SERVER_ERROR, "application/soap+xml", failed_authentication());
    };
    let known = find_user(&site.cfg.users, username);
    let current = known.map(|u| site.cfg.directory.password_of(u));
    let Some(user) = known.filter(|u| !u.disabled && current.as_deref() == Some(password)) else {
        if known.is_some() {
            site.cfg.directory.failed_logon(username);
        }
        tracing::info!(%username, "lab Org ID STS: user name or password refused");
        return reply(site, StatusCode::INTERNAL_SERVER_ERROR, "application/soap+xml", failed_authentication());
    };
    let now = sts::whole_seconds(SystemTime::now());
    let id = format!("_{}", sts::uuid());
    let audience = req.applies_to.unwrap_or_default();
    site.org_id.remember_for(&id, &user.sip_uri, now + TICKET_LIFETIME, now);
    tracing::info!(sip_uri = %user.sip_uri, %audience, "lab Org ID STS: token issued");
    reply(site, StatusCode::OK, "application/soap+xml; charset=utf-8", org_id_rstr(&id, &user.sip_uri, &audience, now))
}

/// The `AssertionID` of the token in an RST's `wsse:Security` header.
pub fn bearer_token_id(body: &[u8]) -> Option<String> {
    let doc = Document::parse(body).ok()?;
    let security = doc.root.child("Header")?.child("Security")?;
    security.child("Assertion")?.attr("AssertionID").map(str::to_owned)
}

/// Answers one request to the `WsFedBearer` port.
pub(crate) fn respond_bearer(site: &Site, tls: bool, method: &Method, body: Option<Bytes>) -> Response<Full<Bytes>> {
    let body = match soap_post(site, tls, method, body) {
        Ok(b) => b,
        Err(refusal) => return *refusal,
    };
    let now = SystemTime::now();
    let holder = bearer_token_id(&body).and_then(|id| site.org_id.holder(&id, now));
    let user = holder.and_then(|sip| site.cfg.users.iter().find(|u| u.sip_uri.eq_ignore_ascii_case(&sip)).cloned());
    let Some(user) = user else {
        tracing::info!("lab WsFedBearer port: no usable Org ID token");
        return reply(
            site,
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/xml; charset=utf-8",
            sts::soap_fault(BEARER_REFUSED),
        );
    };
    sts::issue(site, &user, &body, now)
}

fn fault12(site: &Site, code: &str, text: &str) -> Response<Full<Bytes>> {
    let body = format!(
        concat!(
            r#"<S:Envelope xmlns:S="{soap}" xmlns:wst="{wst}"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value>"#,
            r#"<S:Subcode><S:Value>{code}</S:Value></S:Subcode></S:Code><S:Reason><S:Text xml:lang="en-US">{text}"#,
            r#"</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>"#
        ),
        soap = SOAP12,
        wst = WST_2005,
        code = escape(code),
        text = escape(text),
    );
    reply(site, StatusCode::INTERNAL_SERVER_ERROR, "application/soap+xml", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn users() -> Vec<LabUser> {
        let mut carol = LabUser::new("sip:carol@contoso.lab", "Carol");
        carol.account = Some("CONTOSO\\carol".into());
        carol.password = "c<&>".into();
        vec![LabUser::new("sip:alice@contoso.lab", "Alice"), carol]
    }

    #[test]
    fn requests_are_read_and_the_password_stays_out_of_debug() {
        let body = concat!(
            r#"<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsse="s" "#,
            r#"xmlns:wst="t" xmlns:wsp="p" xmlns:wsa="a"><soap:Header><wsse:Security><wsse:UsernameToken>"#,
            r#"<wsse:Username>carol@contoso.lab</wsse:Username><wsse:Password>c&lt;&amp;&gt;</wsse:Password>"#,
            r#"</wsse:UsernameToken></wsse:Security></soap:Header><soap:Body><wst:RequestSecurityToken>"#,
            r#"<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>https://x/WsFed_bearer</wsa:Address>"#,
            r#"</wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken></soap:Body></soap:Envelope>"#
        );
        let req = parse_org_id_request(body.as_bytes()).unwrap();
        assert_eq!(req.username.as_deref(), Some("carol@contoso.lab"));
        assert_eq!(req.password.as_deref(), Some("c<&>"));
        assert_eq!(req.applies_to.as_deref(), Some("https://x/WsFed_bearer"));
        assert!(!format!("{req:?}").contains("c<&>"));
        assert_eq!(parse_org_id_request(b"<a/>"), None);
        assert_eq!(parse_org_id_request(b"<<<"), None);
    }

    #[test]
    fn users_are_checked_by_account_or_sip_address() {
        let users = users();
        assert!(check_user(&users, "alice@contoso.lab", sfbkit_password()).is_some());
        assert!(check_user(&users, "ALICE@contoso.lab", sfbkit_password()).is_some());
        assert!(check_user(&users, "alice@contoso.lab", "wrong").is_none());
        assert!(check_user(&users, "CONTOSO\\carol", "c<&>").is_some());
        assert!(check_user(&users, "carol@contoso.lab", "c<&>").is_some());
        assert!(check_user(&users, "mallory@contoso.lab", "c<&>").is_none());
    }

    fn sfbkit_password() -> &'static str {
        crate::config::DEFAULT_PASSWORD
    }

    #[test]
    fn the_token_reads_back_with_sfbkit_as_timestamp_and_assertion() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let rstr = org_id_rstr("_1", "sip:alice@contoso.lab", "https://x/WsFed_bearer", now);
        let token = sfbkit::auth::orgid::parse_org_id_response("https://lab/RST2.srf", 200, rstr.as_bytes()).unwrap();
        assert_eq!(token.expires, now + TICKET_LIFETIME);
        assert!(token.wsse_security().contains(r#"AssertionID="_1""#));
        let err =
            sfbkit::auth::orgid::parse_org_id_response("https://lab/RST2.srf", 500, failed_authentication().as_bytes())
                .unwrap_err();
        assert_eq!(err.class(), "org-id-refused");
        assert!(err.to_string().contains(FAILED_AUTHENTICATION_TEXT));
    }

    #[test]
    fn the_online_mex_names_only_the_bearer_port() {
        let mex =
            online_mex("https://pool/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer", "https://pool/RST2.srf");
        let info = sfbkit::auth::webticket::parse_mex(mex.as_bytes(), "WsFedBearer_policy").unwrap();
        let ports = sfbkit::auth::webticket::WebTicketPorts::from_mex(&info);
        assert_eq!(ports.win_negotiate, None);
        assert_eq!(
            ports.ws_fed_bearer.as_deref(),
            Some("https://pool/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer")
        );
        assert_eq!(info.sts_address.as_deref(), Some("https://pool/RST2.srf"));
        assert!(!info.requires_proof);
    }

    #[test]
    fn the_bearer_token_is_found_in_the_security_header_only() {
        let rst = sfbkit::auth::webticket::rst_request_with_security(
            "https://pool/WsFed_bearer",
            r#"<wsu:Timestamp/><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="_7"/>"#,
            "https://pool/CertProv",
            "alice@contoso.lab",
            &[0; 32],
            "c",
            "m",
        );
        assert_eq!(bearer_token_id(rst.as_bytes()).as_deref(), Some("_7"));
        let plain = sfbkit::auth::webticket::rst_request("https://pool/CertProv", "alice@contoso.lab", &[0; 32], "c");
        assert_eq!(bearer_token_id(plain.as_bytes()), None);
    }
}
