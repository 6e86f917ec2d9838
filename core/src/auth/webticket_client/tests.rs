//! The decisions on each Web Ticket Service response, without sockets.

use super::*;

fn r(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    HttpResponse::new(status, headers, body)
}

/// What an acquisition or a renewal returns prints the ticket's lifetime and the route, never the entropy of its
/// RST (half of the proof key) nor the assertion.
#[test]
fn acquired_and_renewed_leave_out_the_entropy() {
    use crate::auth::secret_tests::assert_redacted;
    let rstr = concat!(
        r#"<r><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="x">secret-assertion</saml:Assertion>"#,
        r#"<Lifetime><Created>2026-11-19T08:26:40Z</Created><Expires>2026-11-19T16:26:40Z</Expires></Lifetime></r>"#
    );
    let ticket = crate::auth::webticket::parse_rstr(rstr.as_bytes()).unwrap();
    let entropy: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(53).wrapping_add(11));
    let route =
        TicketRoute::Windows { port: "https://pool/WebTicket/WebTicketService.svc/Auth".into(), kerberos: false };
    let acquired = Acquired { ticket: ticket.clone(), entropy: Zeroizing::new(entropy), route: route.clone() };
    let renewed = Renewed { ticket, entropy: Zeroizing::new(entropy), via: RenewedVia::Credentials(route) };
    let debug = format!("{acquired:?} {renewed:?}");
    assert!(debug.contains("WebTicketService.svc") && debug.contains("Credentials"), "{debug}");
    assert_redacted(&debug, &entropy);
    assert_redacted(&debug, acquired.ticket.assertion_xml().as_bytes());
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
fn the_wsfed_bearer_500_is_the_sipe_165_case() {
    let url = "https://webdir/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer";
    let fault = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>\
                 <faultcode>s:Receiver</faultcode><faultstring>Internal error</faultstring></s:Fault></s:Body></s:Envelope>";
    let err = bearer_verdict(url, &r(500, &[], fault)).unwrap_err();
    assert_eq!(err.class(), "wsfed-bearer-refused");
    assert!(err.hint().contains("#165"), "{}", err.hint());
    assert!(err.to_string().contains("Internal error"), "{err}");
    assert_eq!(bearer_verdict(url, &r(401, &[], "")).unwrap_err().class(), "wrong-credentials");
    assert_eq!(bearer_verdict(url, &r(200, &[], "<x/>")).unwrap_err().class(), "malformed-rstr");
}

#[test]
fn only_a_401_from_the_windows_port_sends_the_client_to_org_id() {
    let url = "https://pool/WebTicket/WebTicketService.svc/Auth".to_owned();
    assert!(windows_refused_with_401(&WebTicketAcquireError::WrongCredentials {
        url: url.clone(),
        code: None,
        reason: None
    }));
    assert!(windows_refused_with_401(&WebTicketAcquireError::NoUsableScheme { url: url.clone(), offered: vec![] }));
    assert!(!windows_refused_with_401(&WebTicketAcquireError::UnexpectedStatus { url, status: 502 }));
}

#[test]
fn org_id_errors_keep_their_class_and_hint_and_no_password() {
    let refused = crate::auth::orgid::parse_org_id_response(
        "https://login.microsoftonline.com/RST2.srf",
        500,
        br#"<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"><S:Body><S:Fault><S:Code><S:Value>S:Sender</S:Value><S:Subcode><S:Value>wst:FailedAuthentication</S:Value></S:Subcode></S:Code><S:Reason><S:Text>Authentication Failure</S:Text></S:Reason></S:Fault></S:Body></S:Envelope>"#,
    )
    .unwrap_err();
    let err = WebTicketAcquireError::from(refused);
    assert_eq!(err.class(), "org-id-refused");
    assert!(err.hint().contains("password"));
    let text = format!("{err} {err:?} {}", err.hint());
    assert!(!text.contains("Lab-Passw0rd!"));
}

#[test]
fn context_is_a_uuid() {
    let u = random_uuid();
    assert_eq!(u.len(), 5 + 36);
    assert_eq!(u.as_bytes()[5 + 14], b'4');
}

#[test]
fn the_given_port_url_wins_over_the_mex_spelling_of_the_same_port() {
    let given = "https://webext.contoso.com/WebTicket/WebTicketService.svc/Auth";
    assert!(same_path("https://fe01.contoso.local/webticket/webticketservice.svc/auth/", given));
    assert!(!same_path("https://webext.contoso.com/WebTicket/WebTicketAdvancedService.svc/WsFed_bearer", given));
    assert!(!same_path("not a url", given));
}

/// A refused AUTHENTICATE whose `Date` is an hour off is the clocks, not the password: typed clock-skew, which
/// ends the sign-in but is not counted as a refused password.
#[test]
fn a_refusal_under_clock_skew_is_clock_skew() {
    let date = "Sun, 22 Nov 2026 05:00:00 GMT";
    let server = crate::auth::clock::parse_date(date).unwrap();
    let refused = r(401, &[("date", date), ("www-authenticate", "NTLM")], "");
    let err = skew_refusal("https://pool/Auth", &refused, server + Duration::from_secs(3600)).unwrap();
    assert_eq!(err.class(), "clock-skew");
    assert!(err.to_string().contains(date) && err.to_string().contains("1 h 0 min 0 s ahead"), "{err}");
    assert!(err.hint().contains("w32tm"));
    assert!(err.ends_sign_in() && !err.refused_credentials());
    // Ten minutes apart, or no Date: the password was refused.
    assert!(skew_refusal("https://pool/Auth", &refused, server + Duration::from_secs(600)).is_none());
    assert!(skew_refusal("https://pool/Auth", &r(401, &[], ""), server + Duration::from_secs(3600)).is_none());
}
