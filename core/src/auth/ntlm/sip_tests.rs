//! End to end: captured SIP messages → signature buffer → NTLM signature, against SIPE's
//! vectors and the [MS-SIP] examples (rebuilt as wire messages with CRLF).

use super::NtlmSession;
use super::signing::Role;
use super::vector_tests::{SIPE, dump_text, kv, unhex};
use crate::auth::signature::{BufferParams, read_client_signature, read_server_signature, signature_buffer};
use crate::sip::{Limits, Message, parse_message};

const MS_SIP_4_2: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-SIP_4.2_register-ntlm.txt"));
const MS_SIP_3_1_4_2: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-SIP_3.1.4.2_signature-buffer.txt"));

/// The message whose first line follows `marker`, up to the first blank line (or the end).
fn sipe_message(marker: &str) -> Message {
    let start = SIPE.find(marker).unwrap();
    let lines: Vec<&str> = SIPE[start..].lines().skip(1).take_while(|l| !l.trim().is_empty()).collect();
    wire(&lines)
}

/// CRLF-joined headers + empty line, parsed (Content-Length is 0 in every vector used here).
fn wire(lines: &[&str]) -> Message {
    let text = format!("{}\r\n\r\n", lines.join("\r\n"));
    parse_message(text.as_bytes(), &Limits::default()).unwrap().message
}

/// A message from the Markdown conversion: blank lines between headers and long headers split
/// over several lines; a line that is not `Name: value` continues the previous header.
fn markdown_message(text: &str, first_line: &str, nth: usize) -> Message {
    let start = text.match_indices(first_line).nth(nth).unwrap().0;
    let mut lines: Vec<String> = Vec::new();
    for l in text[start..].lines().map(str::trim).filter(|l| !l.is_empty()) {
        let is_header = l
            .split_once(':')
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if lines.is_empty() || is_header {
            lines.push(l.to_string());
        } else if let Some(last) = lines.last_mut() {
            last.push(' ');
            last.push_str(l);
        }
        if l.starts_with("Content-Length") {
            break;
        }
    }
    raw_message(&lines)
}

/// Builds a message without [`crate::sip::validate`]: the [MS-SIP] examples contain headers
/// that are not valid SIP (`To: "Alice" sip:alice@...`), yet their buffers are well defined.
fn raw_message(lines: &[String]) -> Message {
    let mut parts = lines[0].splitn(3, ' ');
    let (a, b, c) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
    let mut m = if a == "SIP/2.0" {
        Message::response(b.parse().unwrap(), c)
    } else {
        Message::request(crate::sip::Method::from_token(a), crate::sip::Uri::parse(b).unwrap())
    };
    for l in &lines[1..] {
        let (name, value) = l.split_once(':').unwrap();
        m.headers.push(name.trim(), value.trim());
    }
    m
}

fn session(role: Role) -> NtlmSession {
    let exported: [u8; 16] = unhex(kv(SIPE, "derived ExportedSessionKey")).try_into().unwrap();
    NtlmSession::new(role, 0x6298_8255, &exported)
}

#[test]
fn sipe_v4_client_register_end_to_end() {
    let m = sipe_message("--- client REGISTER");
    let (params, response) = read_client_signature(&m, 4).unwrap();
    assert_eq!(params.scheme, "NTLM");
    let buffer = signature_buffer(&m, &params).unwrap();
    assert_eq!(buffer, dump_text(SIPE, "--- expected client signature buffer"));
    let ours = session(Role::Client).sign_hex(buffer.as_bytes());
    assert_eq!(ours, dump_text(SIPE, "--- expected response= value"));
    assert_eq!(ours, response);
    assert!(session(Role::Server).verify_hex(buffer.as_bytes(), &response));
}

#[test]
fn sipe_v4_server_200_end_to_end() {
    let m = sipe_message("--- server 200 OK");
    let sig = read_server_signature(&m).unwrap();
    assert_eq!((sig.srand.as_str(), sig.snum.as_str(), sig.opaque.as_deref()), ("9616454F", "1", Some("2BDBAC9D")));
    let buffer = signature_buffer(&m, &sig.buffer_params(4)).unwrap();
    assert_eq!(buffer, dump_text(SIPE, "--- expected server signature buffer"));
    assert!(session(Role::Client).verify_hex(buffer.as_bytes(), &sig.rspauth));
    assert_eq!(session(Role::Server).sign_hex(buffer.as_bytes()), sig.rspauth.to_ascii_lowercase());
}

#[test]
fn sipe_v2_non_ess_server_200_end_to_end() {
    let m = sipe_message("server message (one line per header");
    let sig = read_server_signature(&m).unwrap();
    let buffer = signature_buffer(&m, &sig.buffer_params(2)).unwrap();
    let expected = SIPE.lines().find_map(|l| l.strip_prefix("signature buffer = ")).unwrap();
    assert_eq!(buffer, expected);
    let exported: [u8; 16] = unhex(kv(SIPE, "exported_session_key")).try_into().unwrap();
    let f = super::flags::SIGN | super::flags::DATAGRAM | super::flags::KEY_EXCH | super::flags::UNICODE;
    assert!(NtlmSession::new(Role::Client, f, &exported).verify_hex(buffer.as_bytes(), &sig.rspauth));
}

/// [MS-SIP] 4.2 (placeholder signatures): the signed 200 OK's buffer, read from
/// Proxy-Authentication-Info with unquoted srand/snum.
#[test]
fn ms_sip_4_2_signed_200_buffer() {
    let m = markdown_message(MS_SIP_4_2, "SIP/2.0 200 OK", 0);
    let sig = read_server_signature(&m).unwrap();
    assert_eq!(sig.rspauth, "fefeacdd");
    assert_eq!(
        signature_buffer(&m, &sig.buffer_params(2)).unwrap(),
        "<NTLM><98984345><1><Contoso RTC Service Provider><hs2.contoso.com><123213@alice1.contoso.com>\
         <12350><REGISTER><sip:alice@contoso.com><354354535><8823488><3600><200>"
    );
    let redirect = markdown_message(MS_SIP_4_2, "SIP/2.0 301 Moved Permanently", 0);
    let sig = read_server_signature(&redirect).unwrap();
    assert_eq!((sig.srand.as_str(), sig.snum.as_str()), ("3453453", "1"));
    let buffer = signature_buffer(&redirect, &sig.buffer_params(2)).unwrap();
    assert!(buffer.ends_with("<sip:alice@contoso.com><354354535><><><301>"), "{buffer}");
}

/// [MS-SIP] 3.1.4.2: the printed buffer (stray spaces removed) is a prefix of ours; the spec
/// example omits the trailing `<To tag><Expires>` (REFERENCE §4.4).
#[test]
fn ms_sip_3_1_4_2_example_buffer() {
    let m = markdown_message(MS_SIP_3_1_4_2, "SUBSCRIBE sip:samtest1", 0);
    let (params, response) = read_client_signature(&m, 2).unwrap();
    assert_eq!(response, "0100000039623537c854b2e8ca6a203e");
    let buffer = signature_buffer(&m, &params).unwrap();
    let start = MS_SIP_3_1_4_2.find("would result in the following signature buffer").unwrap();
    let printed: String = MS_SIP_3_1_4_2[start..]
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| l.starts_with('<'))
        .take(10)
        .map(|l| l.replace(' ', ""))
        .collect::<Vec<_>>()
        .join("")
        .replace("<SIPCommunicationsService>", "<SIP Communications Service>");
    assert_eq!(buffer, format!("{printed}<><>"));
}

#[test]
fn unbracketed_from_and_request_method() {
    let m = wire(&[
        "MESSAGE sip:b@x SIP/2.0",
        "Via: SIP/2.0/TLS 10.0.0.1:5061",
        "From: sip:a@x;tag=1;epid=e",
        "To: <sip:b@x>",
        "Call-ID: c",
        "CSeq: 2 MESSAGE",
        "Content-Length: 0",
    ]);
    let p = BufferParams {
        scheme: "NTLM".into(),
        rand: "0a0b0c0d".into(),
        num: "2".into(),
        realm: "SIP Communications Service".into(),
        targetname: "fe".into(),
        version: 4,
    };
    let b = signature_buffer(&m, &p).unwrap();
    assert_eq!(b, "<NTLM><0a0b0c0d><2><SIP Communications Service><fe><c><2><MESSAGE><sip:a@x><1><sip:b@x><><><><>");
    let client = session(Role::Client);
    assert!(session(Role::Server).verify(b.as_bytes(), &client.sign(b.as_bytes())));
}
