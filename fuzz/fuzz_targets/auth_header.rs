//! The authentication header parser ([MS-SIPAE] 2.2): `WWW-Authenticate` / `Proxy-Authenticate` challenges,
//! `Authentication-Info` / `Proxy-Authentication-Info` server signatures and `Authorization` values, read by
//! `sip::AuthHeader` and turned into `auth::sa::Challenge`s, then used the way sign-in uses them: an NTLM
//! handshake started from the challenge, answered from its `gssapi-data`, and the resulting security
//! association verifying a response signed in a second header value.
//!
//! Input: one control byte (which header the first value is), then NUL-separated fields: the header value,
//! and an `Authentication-Info` value for the signed response.
//!
//! Invariants: a value that parses, written back as `scheme name=value, ...`, parses to the same header; the
//! first leg the client builds from a challenge (whose values need no escaping) reads back with the same
//! realm, targetname and version; the server signature read from a message is the header's `rspauth`.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use sfbkit::auth::sa::{Challenge, NtlmHandshake, ntlm_credentials};
use sfbkit::auth::signature::read_server_signature_in;
use sfbkit::sip::{AuthHeader, Message, Method, Uri};
use sfbkit_fuzz::{fields, touch};

const NAMES: [&str; 5] =
    ["WWW-Authenticate", "Proxy-Authenticate", "Authentication-Info", "Proxy-Authentication-Info", "Authorization"];

fn written_back(h: &AuthHeader) -> String {
    let params: Vec<String> = h.params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    match (h.scheme.is_empty(), params.is_empty()) {
        (true, _) => params.join(", "),
        (false, true) => h.scheme.clone(),
        (false, false) => format!("{} {}", h.scheme, params.join(", ")),
    }
}

/// Values the client copies into a quoted string without escaping: only those without quotes, backslashes
/// or line breaks are expected to read back unchanged.
fn plain(s: &str) -> bool {
    !s.contains(['"', '\\', '\r', '\n'])
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let f = fields(data, 2);
    let (Ok(value), Ok(info)) = (std::str::from_utf8(f[0]), std::str::from_utf8(f[1])) else { return };
    let name = NAMES[usize::from(control) % NAMES.len()];

    let header = match AuthHeader::parse(name, value) {
        Ok(h) => h,
        Err(e) => {
            touch(&e);
            return;
        }
    };
    let text = written_back(&header);
    let reread = AuthHeader::parse(name, &text).expect("a parsed auth header must read again once written back");
    assert_eq!(reread, header, "written back as {text:?}");

    let status = if control & 0x80 != 0 { 407 } else { 401 };
    let response = Message::response(status, "Unauthorized").with_header(name, value);
    if let Some(sig) = read_server_signature_in(&response, name) {
        assert_eq!(Some(sig.rspauth.as_str()), header.param("rspauth").as_deref());
    }
    touch(&Challenge::all(&response));

    let mut challenge = Challenge::from_header(&header);
    challenge.proxy = status == 407;
    let Ok(handshake) = NtlmHandshake::new(&challenge, ntlm_credentials("CONTOSO\\alice", "Passw0rd!")) else {
        return;
    };
    let first = handshake.first_leg();
    let first_header = AuthHeader::parse(handshake.header_name(), &first).expect("our first leg must parse");
    if plain(&challenge.realm) && challenge.targetname.as_deref().is_some_and(plain) {
        assert_eq!(first_header.param("realm").as_deref(), Some(challenge.realm.as_str()));
        assert_eq!(first_header.param("targetname").as_deref(), challenge.targetname.as_deref());
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut sa = match handshake.answer(&challenge, now) {
        Ok(sa) => sa,
        Err(e) => {
            touch(&e);
            return;
        }
    };
    let Ok(uri) = Uri::parse("sip:contoso.com") else { return };
    let mut register = Message::request(Method::Register, uri)
        .with_header("Via", "SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1")
        .with_header("From", "<sip:alice@contoso.com>;tag=1")
        .with_header("To", "<sip:alice@contoso.com>")
        .with_header("Call-ID", "c1")
        .with_header("CSeq", "3 REGISTER");
    let _ = sa.authorize_final_leg(&mut register);
    let signed = Message::response(200, "OK")
        .with_header("Via", "SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1")
        .with_header("From", "<sip:alice@contoso.com>;tag=1")
        .with_header("To", "<sip:alice@contoso.com>;tag=2")
        .with_header("Call-ID", "c1")
        .with_header("CSeq", "3 REGISTER")
        .with_header(sa.info_header_name(), info);
    let _ = sa.verify(&signed);
});
