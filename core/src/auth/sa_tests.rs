//! The security association against the NTLM server of [`super::super::ntlm::server`]: a 407's
//! challenge makes a proxy association that answers in `Proxy-Authorization` and trusts only
//! `Proxy-Authentication-Info` (CLIENT-NOTES.md §5.2–5.3, pidgin-sipe bug #190).

use super::*;
use crate::auth::ntlm::server::{NtlmServer, ServerCredentials, ServerIdentity};
use crate::auth::signature::signature_buffer;
use crate::sip::{Limits, parse_message};

const TARGET: &str = "pool01.contoso.lab";

fn msg(first: &str, extra: &[(&str, String)]) -> Message {
    let mut text = format!(
        "{first}\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>\r\nCall-ID: c1\r\nCSeq: 3 REGISTER\r\n"
    );
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    parse_message(text.as_bytes(), &Limits::default()).unwrap().message
}

fn server() -> NtlmServer {
    NtlmServer::new(ServerIdentity {
        nb_domain: "CONTOSO".into(),
        nb_computer: "POOL01".into(),
        dns_domain: "contoso.lab".into(),
        dns_computer: TARGET.into(),
    })
}

#[test]
fn a_407_makes_proxy_challenges() {
    let header = format!("NTLM realm=\"{DEFAULT_REALM}\", targetname=\"{TARGET}\", version=4");
    let m = msg("SIP/2.0 407 Proxy Authentication Required", &[("Proxy-Authenticate", header.clone())]);
    let all = Challenge::all(&m);
    assert_eq!(all.len(), 1);
    assert!(all[0].proxy);
    assert_eq!(all[0].credentials_header_name(), "Proxy-Authorization");
    // A 401 reads WWW-Authenticate only; a Proxy-Authenticate in it is not a registrar challenge.
    let m = msg("SIP/2.0 401 Unauthorized", &[("WWW-Authenticate", header.clone()), ("Proxy-Authenticate", header)]);
    let all = Challenge::all(&m);
    assert_eq!(all.len(), 1);
    assert!(!all[0].proxy);
    assert_eq!(all[0].credentials_header_name(), "Authorization");
}

#[test]
fn proxy_association_signs_in_proxy_authorization_and_verifies_proxy_authentication_info() {
    let first = Challenge {
        proxy: true,
        scheme: "NTLM".into(),
        realm: DEFAULT_REALM.into(),
        targetname: Some(TARGET.into()),
        version: Some(4),
        opaque: None,
        gssapi_data: None,
        sts_uri: None,
    };
    let creds = ntlm_credentials("alice@contoso.lab", "pw");
    let handshake = NtlmHandshake::new(&first, creds).unwrap();
    assert_eq!(handshake.header_name(), "Proxy-Authorization");
    let server = server();
    let ntlm_challenge = server.challenge([7; 8], 0x01d9_0000_1234_5678);
    let second = Challenge {
        opaque: Some("2BDBAC9D".into()),
        gssapi_data: Some(encode_token(&ntlm_challenge.to_bytes())),
        ..first
    };
    let mut sa = handshake.answer(&second, SystemTime::now()).unwrap();
    assert!(sa.is_proxy());
    assert_eq!(sa.info_header_name(), "Proxy-Authentication-Info");

    let mut register = msg("REGISTER sip:contoso.lab SIP/2.0", &[]);
    sa.authorize_final_leg(&mut register).unwrap();
    assert!(register.header("Authorization").is_none(), "a proxy's association answers in Proxy-Authorization");
    let value = register.header("Proxy-Authorization").unwrap().to_string();
    assert!(value.starts_with("NTLM qop=\"auth\", opaque=\"2BDBAC9D\""), "{value}");
    assert!(value.contains("response=\""), "version 4: the final leg is signed: {value}");

    // The server accepts the AUTHENTICATE and signs its 200 in Proxy-Authentication-Info.
    let auth = AuthHeader::parse("Proxy-Authorization", &value).unwrap();
    let token = decode_token(&auth.param("gssapi-data").unwrap()).unwrap();
    let creds = ServerCredentials { user: "alice@contoso.lab".into(), password: "pw".into() };
    let accepted = server.accept(&[], &ntlm_challenge, &token, &creds).unwrap();
    let ok = msg("SIP/2.0 200 OK", &[("Expires", "7200".into())]);
    let params = BufferParams {
        scheme: "NTLM".into(),
        rand: "9616454F".into(),
        num: "1".into(),
        realm: DEFAULT_REALM.into(),
        targetname: TARGET.into(),
        version: 4,
    };
    let rspauth = accepted.session.sign_hex(signature_buffer(&ok, &params).unwrap().as_bytes());
    let info = format!(
        "NTLM rspauth=\"{rspauth}\", srand=\"9616454F\", snum=\"1\", opaque=\"2BDBAC9D\", qop=\"auth\", targetname=\"{TARGET}\", realm=\"{DEFAULT_REALM}\""
    );
    let signed = |name: &str| {
        let mut m = ok.clone();
        m.headers.push(name, &info);
        m
    };
    assert_eq!(sa.verify(&signed("Proxy-Authentication-Info")), Ok(()));
    // The registrar's header is not this association's; nor is the challenge header (bug #190).
    for wrong in ["Authentication-Info", "Proxy-Authenticate"] {
        assert_eq!(
            sa.verify(&signed(wrong)),
            Err(AuthError::BadServerSignature { what: "a 200 response".into(), problem: "missing" }),
            "{wrong}"
        );
    }

    // Later requests are signed in Proxy-Authorization too, replacing the previous one.
    let mut next = msg("REGISTER sip:contoso.lab SIP/2.0", &[("Proxy-Authorization", value)]);
    sa.sign(&mut next).unwrap();
    assert_eq!(next.headers.get_all("Proxy-Authorization").count(), 1);
    assert!(next.header("Proxy-Authorization").unwrap().contains("cnum=\"2\""));
    assert!(next.header("Authorization").is_none());
}
