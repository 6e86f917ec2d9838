//! The Org ID STS (Office 365's `login.microsoftonline.com/RST2.srf`): the token an Online user presents at the
//! Web Ticket Service's WS-Federation bearer port (`WsFedBearer`, `.../WebTicketAdvancedService.svc/WsFed_bearer`)
//! instead of Windows authentication (seed 000 steps 6–10; REFERENCE.md §2.3 "Office 365 / ADFS path";
//! CLIENT-NOTES.md §6.5).
//!
//! Sans-I/O wire format only: the request ([`org_id_request`]) and reading the answer ([`parse_org_id_response`])
//! into an [`OrgIdToken`], whose [`OrgIdToken::wsse_security`] is what goes into the `wsse:Security` header of the
//! RST sent to the bearer port ([`super::webticket::rst_request_with_security`]). The HTTP steps are in
//! [`super::webticket_client`].
//!
//! The message is pidgin-sipe's (`src/core/sipe-svc.c`, `request_passport` + `request_user_password` +
//! `sipe_svc_webticket_lmc`, tieto/sipe ad0d885d): a **SOAP 1.2** envelope with the **WS-Trust 2005/02**
//! namespace (not WS-Trust 1.3: where the spec family and the working client differ, the client wins), the
//! `wsa:To`/`ReplyTo`/`MessageID`/`Action` header, a cleartext `wsse:UsernameToken` in `wsse:Security`, and a
//! body asking for a token that `AppliesTo` the bearer port's own URL; `Content-Type: text/xml`. From the answer
//! SIPE takes the raw `Lifetime` contents (wrapped in a `wsu:Timestamp`) and the raw `EncryptedData` element
//! (`sipe-webticket.c`, `generate_fedbearer_wsse`); a STS that answers with a plain `saml:Assertion` (the lab's)
//! is taken the same way. A refusal is a SOAP fault whose code is `wst:FailedAuthentication` (WS-Trust's and
//! WS-Security's "the credentials are wrong" fault), with `psf:internalerror/psf:text` as the explanation.
//!
//! Secrets: the password is in the request body only. [`OrgIdToken`] prints without its token, and no error here
//! carries the request or the token.

use std::time::SystemTime;

use zeroize::ZeroizeOnDrop;

use crate::http::HttpError;
use crate::xml::{Document, Element, escape};

use super::webticket::parse_time;

/// Where Online users get their token unless [`crate::ClientBuilder::org_id_sts`] says otherwise (SIPE's
/// `LMC_URI` spells it with an explicit `:443`).
pub const DEFAULT_ORG_ID_STS: &str = "https://login.microsoftonline.com/RST2.srf";
/// The WS-Trust February 2005 namespace the Org ID request is written in (SIPE's `wst`).
pub const WS_TRUST_2005: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust";
/// SOAPAction and `wsa:Action` of the Org ID request.
pub const ORG_ID_ISSUE_ACTION: &str = "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue";
/// `Content-Type` of the Org ID request: SIPE sends `text/xml` although the envelope is SOAP 1.2.
pub const ORG_ID_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Security extension namespace (`wsse`).
pub const WSSE: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
/// WS-Security utility namespace (`wsu`).
pub const WSU: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
/// The WS-Addressing anonymous reply address.
pub const WSA_ANONYMOUS: &str = "http://www.w3.org/2005/08/addressing/anonymous";
/// Largest Org ID answer read (real ones are a few KiB).
pub const MAX_RESPONSE: usize = 256 * 1024;
/// Longest server text kept in an error.
const MAX_TEXT: usize = 256;

/// Why no Org ID token was obtained. Never carries the password or a token.
#[derive(Debug, thiserror::Error)]
pub enum OrgIdError {
    /// `wst:FailedAuthentication`: the user name or password is wrong (or the account cannot use it here).
    #[error("{sts}: the Org ID STS refused the user name or password (FailedAuthentication){}", suffix(reason))]
    FailedAuthentication {
        /// The Org ID STS URL.
        sts: String,
        /// The fault's reason or `internalerror/text`, when given.
        reason: Option<String>,
    },
    /// No HTTP answer: DNS, TCP, TLS or timeout.
    #[error("{sts}: the Org ID STS could not be reached: {error}")]
    Unreachable {
        /// The Org ID STS URL.
        sts: String,
        /// What the HTTP layer saw.
        error: HttpError,
    },
    /// Any other SOAP fault.
    #[error("{sts}: the Org ID STS answered {status} with a SOAP fault: {fault}")]
    Fault {
        /// The Org ID STS URL.
        sts: String,
        /// The HTTP status.
        status: u16,
        /// Fault code, reason and detail text.
        fault: String,
    },
    /// A status other than 200 without a SOAP fault.
    #[error("{sts}: the Org ID STS answered with HTTP status {status}")]
    Status {
        /// The Org ID STS URL.
        sts: String,
        /// The HTTP status.
        status: u16,
    },
    /// A 200 that is not an RSTR with a lifetime and a token.
    #[error("{sts}: the Org ID STS's answer has no usable token: {what}")]
    Malformed {
        /// The Org ID STS URL.
        sts: String,
        /// What is missing or broken.
        what: String,
    },
}

fn suffix(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
}

impl OrgIdError {
    /// A short class for reports and tests.
    pub fn class(&self) -> &'static str {
        match self {
            OrgIdError::FailedAuthentication { .. } => "org-id-refused",
            OrgIdError::Unreachable { .. } => "org-id-unreachable",
            OrgIdError::Fault { .. } => "org-id-fault",
            OrgIdError::Status { .. } => "org-id-status",
            OrgIdError::Malformed { .. } => "org-id-malformed",
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            OrgIdError::FailedAuthentication { .. } => "Office 365 refused the sign-in name or password: use the \
                 user's Office 365 sign-in name (user@tenant.onmicrosoft.com or the UPN) and password; accounts that \
                 require multi-factor or modern authentication cannot use this (WS-Trust username) path."
                .to_owned(),
            OrgIdError::Unreachable { error, .. } => format!(
                "The Org ID STS could not be reached ({}); check the proxy and firewall towards \
                 login.microsoftonline.com, or the URL given to ClientBuilder::org_id_sts.",
                error.class()
            ),
            OrgIdError::Fault { .. } | OrgIdError::Status { .. } | OrgIdError::Malformed { .. } => {
                "The Org ID STS did not issue a token: check the URL given to ClientBuilder::org_id_sts (default \
                 https://login.microsoftonline.com/RST2.srf) and whether the tenant still allows WS-Trust sign-in."
                    .to_owned()
            }
        }
    }
}

/// The Org ID request (SIPE's `request_user_password` → `request_passport` → `sipe_svc_wsdl_request`): a token
/// for `applies_to` (the Web Ticket Service's bearer port URL) for `username`, proven by `password` in a
/// cleartext `wsse:UsernameToken`. `message_id` is a UUID without the `uuid:` prefix. Every value is escaped.
pub fn org_id_request(sts_url: &str, applies_to: &str, username: &str, password: &str, message_id: &str) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\"?>\r\n",
            r#"<soap:Envelope xmlns:soap="{soap}" xmlns:wst="{wst}" "#,
            r#"xmlns:auth="http://schemas.xmlsoap.org/ws/2006/12/authorization" "#,
            r#"xmlns:wsa="http://www.w3.org/2005/08/addressing" "#,
            r#"xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:wsse="{wsse}" xmlns:wsu="{wsu}">"#,
            r#"<soap:Header><wsa:To>{to}</wsa:To>"#,
            r#"<wsa:ReplyTo><wsa:Address>{anon}</wsa:Address></wsa:ReplyTo>"#,
            r#"<wsa:MessageID>uuid:{id}</wsa:MessageID><wsa:Action>{action}</wsa:Action>"#,
            r#"<wsse:Security><wsse:UsernameToken><wsse:Username>{user}</wsse:Username>"#,
            r#"<wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></soap:Header>"#,
            r#"<soap:Body><wst:RequestSecurityToken>"#,
            r#"<wst:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</wst:RequestType>"#,
            r#"<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>{applies}</wsa:Address>"#,
            r#"</wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken></soap:Body></soap:Envelope>"#
        ),
        soap = SOAP12,
        wst = WS_TRUST_2005,
        wsse = WSSE,
        wsu = WSU,
        to = escape(sts_url),
        anon = WSA_ANONYMOUS,
        id = escape(message_id),
        action = ORG_ID_ISSUE_ACTION,
        user = escape(username),
        password = escape(password),
        applies = escape(applies_to),
    )
}

/// The Org ID user name for an account: a `user@domain` account as it is; for a `DOMAIN\user` account (which
/// Office 365 does not know) the SIP address, as SIPE falls back to its user name when no auth user is set.
pub fn org_id_username(account: &str, sip_uri: &str) -> String {
    if account.contains('\\') || account.is_empty() {
        sip_uri.strip_prefix("sip:").unwrap_or(sip_uri).to_owned()
    } else {
        account.to_owned()
    }
}

/// The Org ID STS's token, ready for the bearer port: `wsu:Timestamp` (the answer's `Lifetime`) followed by the
/// token element exactly as received.
///
/// A bearer credential: `Debug` shows only its lifetime, and the token is wiped on drop.
#[derive(Clone, PartialEq, Eq, ZeroizeOnDrop)]
pub struct OrgIdToken {
    security: String,
    /// `Lifetime/Created`.
    #[zeroize(skip)]
    pub created: SystemTime,
    /// `Lifetime/Expires`.
    #[zeroize(skip)]
    pub expires: SystemTime,
}

impl std::fmt::Debug for OrgIdToken {
    // The token is a bearer credential: only its lifetime is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrgIdToken").field("created", &self.created).field("expires", &self.expires).finish()
    }
}

impl OrgIdToken {
    /// The contents of `wsse:Security` for the RST to the bearer port (SIPE's `generate_fedbearer_wsse`).
    pub fn wsse_security(&self) -> &str {
        &self.security
    }
}

/// Reads the Org ID STS's answer (`status`, `body`) to the request sent to `sts_url`: the token, or why not.
pub fn parse_org_id_response(sts_url: &str, status: u16, body: &[u8]) -> Result<OrgIdToken, OrgIdError> {
    let sts = || sts_url.to_owned();
    let malformed = |what: &str| OrgIdError::Malformed { sts: sts(), what: what.to_owned() };
    if body.len() > MAX_RESPONSE {
        return Err(malformed("the answer is too large"));
    }
    let doc = match Document::parse(body) {
        Ok(doc) => doc,
        Err(_) if status != 200 => return Err(OrgIdError::Status { sts: sts(), status }),
        Err(e) => return Err(malformed(&format!("not well-formed XML ({e})"))),
    };
    if let Some(fault) = doc.root.descendants("Fault").into_iter().next() {
        let (codes, text) = fault_parts(fault);
        if codes.iter().any(|c| local(c).eq_ignore_ascii_case("FailedAuthentication")) {
            return Err(OrgIdError::FailedAuthentication { sts: sts(), reason: text });
        }
        let mut parts = codes;
        parts.extend(text);
        let fault = if parts.is_empty() { "(no fault text)".to_owned() } else { parts.join(": ") };
        return Err(OrgIdError::Fault { sts: sts(), status, fault });
    }
    if status != 200 {
        return Err(OrgIdError::Status { sts: sts(), status });
    }
    let lifetime = doc.root.descendants("Lifetime").into_iter().next().ok_or_else(|| malformed("no Lifetime"))?;
    let time = |name: &'static str| {
        let text = lifetime.child_text(name).ok_or_else(|| malformed(&format!("no Lifetime/{name}")))?;
        parse_time(text.trim(), name).map_err(|e| malformed(&e.to_string()))
    };
    let (created, expires) = (time("Created")?, time("Expires")?);
    // SIPE presents `EncryptedData` (what Office 365 issues); a plain assertion is taken the same way.
    let requested = doc.root.descendants("RequestedSecurityToken").into_iter().next();
    let token = requested
        .and_then(|r| {
            r.descendants("EncryptedData").into_iter().next().or_else(|| r.descendants("Assertion").into_iter().next())
        })
        .ok_or_else(|| malformed("no RequestedSecurityToken/EncryptedData or Assertion"))?;
    let token_xml = doc.outer_xml(token);
    if token_xml.is_empty() {
        return Err(malformed("the token element is incomplete"));
    }
    let security = format!(
        r#"<wsu:Timestamp xmlns:wsu="{WSU}" wsu:Id="timestamp">{}</wsu:Timestamp>{token_xml}"#,
        doc.inner_xml(lifetime)
    );
    Ok(OrgIdToken { security, created, expires })
}

/// The fault's code values (SOAP 1.2 `Code/Value`, `Subcode/Value`; SOAP 1.1 `faultcode`) and its best text:
/// `internalerror/text` (SIPE's choice), else `Reason/Text` or `faultstring`.
fn fault_parts(fault: &Element) -> (Vec<String>, Option<String>) {
    let mut codes: Vec<String> = fault.descendants("Value").into_iter().map(|v| v.text.trim().to_owned()).collect();
    codes.extend(fault.descendants("faultcode").into_iter().map(|v| v.text.trim().to_owned()));
    codes.retain(|c| !c.is_empty());
    for c in codes.iter_mut() {
        *c = clip(c);
    }
    let internal = fault.descendants("internalerror").into_iter().find_map(|i| i.child_text("text"));
    let text = internal
        .or_else(|| fault.descendants("Reason").into_iter().find_map(|r| r.child_text("Text")))
        .or_else(|| fault.child_text("faultstring"))
        .map(|t| clip(t.trim()))
        .filter(|t| !t.is_empty());
    (codes, text)
}

fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_TEXT).collect()
}

/// A random (version 4) UUID, lower-case, for `wsa:MessageID`.
pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests;
