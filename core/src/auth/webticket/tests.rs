use super::*;

const RSTR: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<RequestSecurityTokenResponseCollection xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512">
<RequestSecurityTokenResponse Context="ctx-1">
<TokenType>http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1</TokenType>
<RequestedSecurityToken><saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="SamlSecurityToken-9a1c" Issuer="URI:pool01.contoso.lab" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"><saml:Conditions NotBefore="2026-11-22T10:00:00.000Z" NotOnOrAfter="2026-11-22T18:00:00.000Z"/><saml:AttributeStatement><saml:Subject><saml:NameIdentifier>sip:alice@contoso.lab</saml:NameIdentifier></saml:Subject></saml:AttributeStatement></saml:Assertion></RequestedSecurityToken>
<RequestedProofToken><ComputedKey>http://docs.oasis-open.org/ws-sx/ws-trust/200512/CK/PSHA1</ComputedKey></RequestedProofToken>
<Entropy><BinarySecret>AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=</BinarySecret></Entropy>
<Lifetime><wsu:Created xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2026-11-22T10:00:00.000Z</wsu:Created><wsu:Expires xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2026-11-22T18:00:00.000Z</wsu:Expires></Lifetime>
</RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection></s:Body></s:Envelope>"#;

#[test]
fn rstr_keeps_the_assertion_verbatim() {
    let t = parse_rstr(RSTR.as_bytes()).unwrap();
    assert_eq!(t.assertion_id, "SamlSecurityToken-9a1c");
    assert!(t.assertion_xml().starts_with("<saml:Assertion MajorVersion=\"1\""));
    assert!(t.assertion_xml().ends_with("</saml:Assertion>"));
    assert!(RSTR.contains(t.assertion_xml()), "byte for byte as sent");
    let secs = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs(t.created), 1_795_341_600, "2026-11-22T10:00:00Z");
    assert_eq!(secs(t.expires) - secs(t.created), 8 * 3600);
    let header = t.header_value();
    let decoded = base64::engine::general_purpose::STANDARD.decode(header.strip_prefix("opaque=").unwrap()).unwrap();
    assert_eq!(decoded, t.assertion_xml().as_bytes());
    assert!(!format!("{t:?}").contains("NameIdentifier"), "Debug does not print the bearer token");
}

/// Neither the assertion (nor the `X-MS-WebTicket` value made of it) nor the server entropy is printed, in any
/// form, by the ticket or a cache holding it; both are wiped on drop.
#[test]
fn the_bearer_ticket_and_its_entropy_stay_out_of_debug() {
    use crate::auth::secret_tests::{assert_redacted, assert_zeroize_on_drop};
    let t = parse_rstr(RSTR.as_bytes()).unwrap();
    let mut cache = TicketCache::default();
    cache.insert("https://pool01/CertProv", t.clone());
    let debug = format!("{t:?} {cache:?}");
    assert_redacted(&debug, t.assertion_xml().as_bytes());
    assert_redacted(&debug, t.header_value().as_bytes());
    let server_entropy: Vec<u8> = (0..32).collect();
    assert_redacted(&debug, &server_entropy);
    assert!(t.proof_key(&[0; 32]).is_some(), "the entropy was read");
    assert_zeroize_on_drop::<WebTicket>();
}

#[test]
fn freshness_and_cache() {
    let t = parse_rstr(RSTR.as_bytes()).unwrap();
    let mut cache = TicketCache::default();
    cache.insert("https://pool01/CertProv", t.clone());
    assert!(cache.get("https://pool01/CertProv", t.created).is_some());
    assert!(
        cache.get("https://pool01/CertProv", t.expires - Duration::from_secs(59)).is_none(),
        "renewed a minute early"
    );
    assert!(cache.invalidate("https://pool01/CertProv"));
    assert!(cache.get("https://pool01/CertProv", t.created).is_none());
    assert!(ticket_rejected(28032) && ticket_rejected(28033) && ticket_rejected(28072) && !ticket_rejected(28020));
}

#[test]
fn psha1_proof_key() {
    // P_SHA1 against an independent computation (Python: hmac/hashlib, same construction).
    let client = [0x11u8; 32];
    let server: Vec<u8> = (0u8..32).collect();
    let key = proof_key(&client, &server);
    assert_eq!(key.iter().map(|b| format!("{b:02x}")).collect::<String>(), PSHA1_EXPECTED,);
    let t = parse_rstr(RSTR.as_bytes()).unwrap();
    assert_eq!(t.proof_key(&client), Some(key), "the RSTR's entropy is bytes 0..32");
}

/// Computed with: python3 -c "import hmac,hashlib; s=bytes([0x11]*32); seed=bytes(range(32));
/// a=seed; out=b''
/// while len(out)<32: a=hmac.new(s,a,hashlib.sha1).digest(); out+=hmac.new(s,a+seed,hashlib.sha1).digest()
/// print(out[:32].hex())"
const PSHA1_EXPECTED: &str = include_str!("psha1_expected.txt");

#[test]
fn rst_carries_the_claim_and_entropy() {
    let rst = rst_request(
        "https://pool01.contoso.lab/CertProv/CertProvisioningService.svc",
        "alice@contoso.lab",
        &[7u8; 32],
        "c<1>",
    );
    assert!(rst.contains("<auth:Value>sip:alice@contoso.lab</auth:Value>"));
    assert!(rst.contains("Context=\"c&lt;1&gt;\""), "escaped");
    assert!(rst.contains(&base64::engine::general_purpose::STANDARD.encode([7u8; 32])));
    assert!(rst.contains("http://schemas.xmlsoap.org/ws/2005/02/trust/Issue"));
}

#[test]
fn mex_names_the_sts_and_the_proof_requirement() {
    let mex = r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">
<wsp:Policy wsu:Id="CertProvisioningServiceWebTicketProof_SHA1_policy" xmlns:wsu="x"><wsp:ExactlyOne><wsp:All><sp:EndorsingSupportingTokens><wsp:Policy><sp:IssuedToken><sp:Issuer><wsa:Address>https://pool01.contoso.lab/WebTicket/WebTicketService.svc/Auth</wsa:Address></sp:Issuer></sp:IssuedToken></wsp:Policy></sp:EndorsingSupportingTokens></wsp:All></wsp:ExactlyOne></wsp:Policy>
<wsdl:service name="CertProvisioningService"><wsdl:port name="CertProvisioningServiceWebTicketProof_SHA1" binding="b"><soap:address location="https://pool01.contoso.lab/CertProv/CertProvisioningService.svc/WebTicket_Proof"/></wsdl:port></wsdl:service></wsdl:definitions>"#;
    let info = parse_mex(mex.as_bytes(), "CertProvisioningServiceWebTicketProof_SHA1_policy").unwrap();
    assert_eq!(info.sts_address.as_deref(), Some("https://pool01.contoso.lab/WebTicket/WebTicketService.svc/Auth"));
    assert!(info.requires_proof);
    assert_eq!(
        info.ports.get("CertProvisioningServiceWebTicketProof_SHA1").map(String::as_str),
        Some("https://pool01.contoso.lab/CertProv/CertProvisioningService.svc/WebTicket_Proof")
    );
    assert_eq!(parse_mex(mex.as_bytes(), "Other_policy").unwrap().sts_address, None);
}

#[test]
fn hostile_documents_are_refused() {
    assert!(parse_rstr(b"<not closed").is_err());
    assert!(parse_rstr(b"<a/>").is_err());
    assert!(parse_rstr(&vec![b' '; MAX_DOCUMENT + 1]).is_err());
    assert!(
        parse_rstr(RSTR.replace("2026-11-22T18:00:00.000Z</wsu:Expires>", "tomorrow</wsu:Expires>").as_bytes())
            .is_err()
    );
    assert!(parse_rstr(&[0xff, 0xfe]).is_err());
}

#[test]
fn references_in_mex_addresses_are_expanded() {
    // quick-xml 0.42 hands `&amp;` over as its own event; the shared reader expands it.
    let mex = r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:wsu="x">
<wsp:Policy wsu:Id="P_policy"><sp:EndorsingSupportingTokens><wsp:Policy><sp:IssuedToken><sp:Issuer><wsa:Address>https://pool01.contoso.lab/WebTicket/WebTicketService.svc/Auth?a=1&amp;b=2&#x26;c=3</wsa:Address></sp:Issuer></sp:IssuedToken></wsp:Policy></sp:EndorsingSupportingTokens></wsp:Policy>
<wsdl:service name="S"><wsdl:port name="P" binding="b"><soap:address location="https://pool01.contoso.lab/CertProv/CertProvisioningService.svc/WebTicket_Proof?x=1&amp;y=2"/></wsdl:port></wsdl:service></wsdl:definitions>"#;
    let info = parse_mex(mex.as_bytes(), "P_policy").unwrap();
    assert_eq!(
        info.sts_address.as_deref(),
        Some("https://pool01.contoso.lab/WebTicket/WebTicketService.svc/Auth?a=1&b=2&c=3")
    );
    assert!(info.requires_proof);
    assert_eq!(
        info.ports.get("P").map(String::as_str),
        Some("https://pool01.contoso.lab/CertProv/CertProvisioningService.svc/WebTicket_Proof?x=1&y=2")
    );
}

#[test]
fn references_in_the_rstr_are_expanded_and_the_assertion_stays_verbatim() {
    let rstr = RSTR
        .replace(
            "sip:alice@contoso.lab</saml:NameIdentifier>",
            "sip:alice@contoso.lab?x=1&amp;y=2</saml:NameIdentifier>",
        )
        .replace(">2026-11-22T10:00:00.000Z</wsu:Created>", ">2026-11-22T10&#x3A;00:00.000Z</wsu:Created>")
        .replace("AAECAwQFBgcICQoLDA0ODxAREhMU", "AAECAwQFBgcICQoLDA0ODxAREhMU&#xD;&#xA;");
    let t = parse_rstr(rstr.as_bytes()).unwrap();
    assert!(t.assertion_xml().contains("sip:alice@contoso.lab?x=1&amp;y=2</saml:NameIdentifier>"), "as sent");
    assert!(rstr.contains(t.assertion_xml()));
    assert_eq!(t.created.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_795_341_600);
    let expected: Vec<u8> = (0u8..32).collect();
    assert_eq!(t.server_entropy.as_deref(), Some(&expected[..]));
}

#[test]
fn mex_url_is_next_to_the_service() {
    let on_prem = "https://pool01.contoso.lab:4443/WebTicket/WebTicketService.svc/Auth";
    assert_eq!(mex_url(on_prem).as_deref(), Some("https://pool01.contoso.lab:4443/WebTicket/WebTicketService.svc/mex"));
    let online = "https://webdir2a.online.lync.com/WebTicket/WebTicketService.svc";
    assert_eq!(mex_url(online).as_deref(), Some("https://webdir2a.online.lync.com/WebTicket/WebTicketService.svc/mex"));
    assert_eq!(
        mex_url("https://h/WebTicket/WebTicketService.SVC/Auth?x=1").as_deref(),
        Some("https://h/WebTicket/WebTicketService.SVC/mex")
    );
    assert_eq!(mex_url("https://h/no/service/here"), None);
    assert_eq!(mex_url("https://h/a.svcx/b"), None);
}

#[test]
fn web_ticket_ports_are_found_by_name_case_insensitively() {
    let mex = r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"><wsdl:service name="WebTicketService">
<wsdl:port name="WsFedBearer" binding="b"><soap:address location="https://webdir/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer"/></wsdl:port>
<wsdl:port name="WebTicketServiceWinNegotiate" binding="b"><soap:address location="https://webdir/WebTicket/WebTicketService.svc/Auth"/></wsdl:port>
</wsdl:service></wsdl:definitions>"#;
    let ports = WebTicketPorts::from_mex(&parse_mex(mex.as_bytes(), "").unwrap());
    assert_eq!(ports.win_negotiate.as_deref(), Some("https://webdir/WebTicket/WebTicketService.svc/Auth"));
    assert_eq!(
        ports.ws_fed_bearer.as_deref(),
        Some("https://webdir/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer")
    );
    let online_only =
        mex.replace("WebTicketServiceWinNegotiate", "SomethingElse").replace("WsFedBearer", "wsfed_BEARER");
    let ports = WebTicketPorts::from_mex(&parse_mex(online_only.as_bytes(), "").unwrap());
    assert_eq!(ports.win_negotiate, None);
    assert!(ports.ws_fed_bearer.is_some(), "the URL's spelling is accepted as a port name");
}

#[test]
fn the_bearer_rst_escapes_its_values() {
    let rst =
        rst_request_with_security("https://h/x?a=1&b=2", "<wsu:Timestamp/>", "https://a", "bob", &[0; 32], "c", "m<");
    assert!(rst.contains("<wsa:To>https://h/x?a=1&amp;b=2</wsa:To>"));
    assert!(rst.contains("<wsa:MessageID>uuid:m&lt;</wsa:MessageID>"));
    assert!(rst.contains("<wsse:Security><wsu:Timestamp/></wsse:Security>"), "security is copied verbatim");
    assert!(rst.contains("<auth:Value>sip:bob</auth:Value>"));
    // The header-less RST is unchanged in its body.
    let plain = rst_request("https://a", "bob", &[0; 32], "c");
    let body = |s: &str| s[s.find("<wst:RequestSecurityToken").unwrap()..s.find("</s:Body>").unwrap()].to_string();
    assert_eq!(body(&plain), body(&rst));
}
