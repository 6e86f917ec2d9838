//! Org ID request and answer: golden structure, escaping, faults, and no secret in Debug or errors.

use super::*;
use crate::auth::webticket::rst_request_with_security;

const STS: &str = "https://login.microsoftonline.com/RST2.srf";
const BEARER: &str = "https://webdir2a.online.lync.com/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer";

/// Shaped after a RST2.srf answer: SOAP 1.2, WS-Trust 2005/02, `wsu` declared on the envelope (so the Lifetime's
/// children rely on the Timestamp's own declaration once copied), an `EncryptedData` token.
const ANSWER: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8" ?><S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" "#,
    r#"xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust"><S:Body>"#,
    r#"<wst:RequestSecurityTokenResponse><wst:TokenType>urn:oasis:names:tc:SAML:1.0</wst:TokenType>"#,
    r#"<wst:Lifetime><wsu:Created>2026-11-22T07:00:00Z</wsu:Created><wsu:Expires>2026-11-22T15:00:00Z</wsu:Expires>"#,
    r#"</wst:Lifetime><wst:RequestedSecurityToken><EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" "#,
    r#"Id="Assertion0" Type="http://www.w3.org/2001/04/xmlenc#Element"><CipherData><CipherValue>AbC+/=&amp;x"#,
    r#"</CipherValue></CipherData></EncryptedData></wst:RequestedSecurityToken>"#,
    r#"</wst:RequestSecurityTokenResponse></S:Body></S:Envelope>"#
);

/// The refusal Office 365 sends for a wrong password (SOAP 1.2 fault, subcode `wst:FailedAuthentication`,
/// the explanation in `psf:internalerror/psf:text`).
const REFUSAL: &str = concat!(
    r#"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust" xmlns:psf="http://schemas.microsoft.com/Passport/SoapServices/SOAPFault">"#,
    r#"<S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>wst:FailedAuthentication</S:Value>"#,
    r#"</S:Subcode></S:Code><S:Reason><S:Text xml:lang="en-US">Authentication Failure</S:Text></S:Reason>"#,
    r#"<S:Detail><psf:error><psf:value>0x80048821</psf:value><psf:internalerror><psf:code>0x80041012</psf:code>"#,
    r#"<psf:text>The entered and stored passwords do not match.</psf:text></psf:internalerror></psf:error>"#,
    r#"</S:Detail></S:Fault></S:Body></S:Envelope>"#
);

#[test]
fn the_request_is_sipes_lmc_message() {
    let req = org_id_request(STS, BEARER, "alice@contoso.onmicrosoft.com", "pw", "0a1b");
    let doc = Document::parse(req.as_bytes()).expect("well-formed");
    assert_eq!(doc.root.name, "Envelope");
    assert_eq!(doc.root.namespace.as_deref(), Some(SOAP12), "SOAP 1.2, as SIPE's request_passport");
    let header = doc.root.child("Header").expect("header");
    assert_eq!(header.child_text("To"), Some(STS));
    assert_eq!(header.path(&["ReplyTo", "Address"]).map(|a| a.text.as_str()), Some(WSA_ANONYMOUS));
    assert_eq!(header.child_text("MessageID"), Some("uuid:0a1b"));
    assert_eq!(header.child_text("Action"), Some(ORG_ID_ISSUE_ACTION));
    let token = header.path(&["Security", "UsernameToken"]).expect("UsernameToken");
    assert_eq!(token.namespace.as_deref(), Some(WSSE));
    assert_eq!(token.child_text("Username"), Some("alice@contoso.onmicrosoft.com"));
    assert_eq!(token.child_text("Password"), Some("pw"));
    let rst = doc.root.path(&["Body", "RequestSecurityToken"]).expect("RST");
    assert_eq!(rst.namespace.as_deref(), Some(WS_TRUST_2005), "WS-Trust 2005/02 namespace");
    assert_eq!(rst.child_text("RequestType"), Some("http://schemas.xmlsoap.org/ws/2005/02/trust/Issue"));
    let applies = rst.path(&["AppliesTo", "EndpointReference", "Address"]).expect("AppliesTo");
    assert_eq!(applies.text, BEARER, "the token is for the bearer port");
    assert!(rst.child("KeyType").is_none(), "no KeyType for RST2.srf (only ADFS gets NoProofKey)");
}

#[test]
fn user_name_and_password_are_escaped() {
    let password = r#"p<&>"'w]]>"#;
    let req = org_id_request(STS, "https://x/?a=1&b=2", "o'brien&co@contoso.com", password, "id");
    assert!(!req.contains(password), "the raw password never appears unescaped");
    assert!(req.contains("<wsse:Password>p&lt;&amp;&gt;&quot;&apos;w]]&gt;</wsse:Password>"), "{req}");
    let doc = Document::parse(req.as_bytes()).expect("still well-formed");
    let token = doc.root.path(&["Header", "Security", "UsernameToken"]).unwrap();
    assert_eq!(token.child("Password").map(|p| p.text.as_str()), Some(password), "round-trips exactly");
    assert_eq!(token.child_text("Username"), Some("o'brien&co@contoso.com"));
    assert!(req.contains("https://x/?a=1&amp;b=2"));
}

#[test]
fn the_user_name_is_the_upn_or_the_sip_address() {
    assert_eq!(org_id_username("alice@contoso.com", "sip:alice@contoso.com"), "alice@contoso.com");
    assert_eq!(org_id_username("CONTOSO\\alice", "sip:alice@contoso.com"), "alice@contoso.com");
    assert_eq!(org_id_username("", "alice@contoso.com"), "alice@contoso.com");
}

#[test]
fn the_answer_becomes_timestamp_and_token_verbatim() {
    let token = parse_org_id_response(STS, 200, ANSWER.as_bytes()).expect("a token");
    let sec = token.wsse_security();
    assert!(sec.starts_with(&format!(r#"<wsu:Timestamp xmlns:wsu="{WSU}" wsu:Id="timestamp"><wsu:Created>"#)), "{sec}");
    assert!(sec.contains("<wsu:Expires>2026-11-22T15:00:00Z</wsu:Expires></wsu:Timestamp><EncryptedData "));
    assert!(sec.contains("AbC+/=&amp;x"), "the token is copied as bytes, references unexpanded");
    assert!(sec.ends_with("</EncryptedData>"));
    assert_eq!(token.expires.duration_since(token.created).unwrap().as_secs(), 8 * 3600);
    let debug = format!("{token:?}");
    assert!(!debug.contains("CipherValue") && !debug.contains("AbC"), "Debug hides the token: {debug}");
    crate::auth::secret_tests::assert_redacted(&debug, sec.as_bytes());
    crate::auth::secret_tests::assert_zeroize_on_drop::<OrgIdToken>();

    // What the bearer port receives: the RST with that security header, well-formed, the token intact.
    let rst = rst_request_with_security(BEARER, sec, "https://pool/CertProv", "alice@contoso.com", &[1; 32], "c", "m");
    let doc = Document::parse(rst.as_bytes()).expect("the bearer RST is well-formed");
    let security = doc.root.path(&["Header", "Security"]).expect("wsse:Security");
    assert_eq!(security.namespace.as_deref(), Some(WSSE));
    assert_eq!(doc.inner_xml(security), sec);
    assert_eq!(doc.root.path(&["Header", "To"]).map(|t| t.text.as_str()), Some(BEARER));
    assert_eq!(doc.root.path(&["Header", "MessageID"]).map(|t| t.text.as_str()), Some("uuid:m"));
    let claim = doc.root.descendants("Value").into_iter().next().map(|v| v.text.clone());
    assert_eq!(claim.as_deref(), Some("sip:alice@contoso.com"));
}

#[test]
fn a_plain_assertion_is_taken_too() {
    let answer = ANSWER.replace(
        r#"<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#" Id="Assertion0" Type="http://www.w3.org/2001/04/xmlenc#Element"><CipherData><CipherValue>AbC+/=&amp;x</CipherValue></CipherData></EncryptedData>"#,
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="_1"/>"#,
    );
    let token = parse_org_id_response(STS, 200, answer.as_bytes()).expect("a token");
    assert!(token.wsse_security().ends_with(r#"AssertionID="_1"/>"#));
}

#[test]
fn failed_authentication_is_typed_and_carries_no_secret() {
    for status in [200, 500] {
        let err = parse_org_id_response(STS, status, REFUSAL.as_bytes()).unwrap_err();
        match &err {
            OrgIdError::FailedAuthentication { reason, .. } => {
                assert_eq!(reason.as_deref(), Some("The entered and stored passwords do not match."))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.class(), "org-id-refused");
        assert!(err.hint().contains("sign-in name or password"));
        assert!(err.to_string().contains(STS));
    }
    // A SOAP 1.1 fault with the WS-Security code is the same refusal.
    let soap11 = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>wsse:FailedAuthentication</faultcode><faultstring>nope</faultstring></s:Fault></s:Body></s:Envelope>"#;
    assert!(matches!(
        parse_org_id_response(STS, 500, soap11.as_bytes()),
        Err(OrgIdError::FailedAuthentication { reason: Some(r), .. }) if r == "nope"
    ));
}

#[test]
fn other_answers_are_typed() {
    let other = REFUSAL.replace("wst:FailedAuthentication", "wst:RequestFailed");
    match parse_org_id_response(STS, 500, other.as_bytes()).unwrap_err() {
        OrgIdError::Fault { status: 500, fault, .. } => {
            assert!(fault.contains("wst:RequestFailed") && fault.contains("do not match"), "{fault}")
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(parse_org_id_response(STS, 503, b"<html>busy"), Err(OrgIdError::Status { status: 503, .. })));
    assert!(matches!(parse_org_id_response(STS, 404, b""), Err(OrgIdError::Status { status: 404, .. })));
    assert_eq!(parse_org_id_response(STS, 200, b"<x/>").unwrap_err().class(), "org-id-malformed");
    let no_token = ANSWER.replace("EncryptedData", "Other");
    assert_eq!(parse_org_id_response(STS, 200, no_token.as_bytes()).unwrap_err().class(), "org-id-malformed");
    let bad_time = ANSWER.replace("2026-11-22T15:00:00Z", "later");
    assert_eq!(parse_org_id_response(STS, 200, bad_time.as_bytes()).unwrap_err().class(), "org-id-malformed");
    assert!(parse_org_id_response(STS, 200, &vec![b' '; MAX_RESPONSE + 1]).is_err());
}

#[test]
fn message_ids_are_v4_uuids() {
    let u = random_uuid();
    assert_eq!(u.len(), 36);
    assert_eq!(u.as_bytes()[14], b'4');
    assert_ne!(u, random_uuid());
}
