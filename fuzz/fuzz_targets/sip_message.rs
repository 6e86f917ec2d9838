//! The one-shot SIP parser (`sip::parse_message`) and the typed header views a client reads off every
//! message: Via, From/To (name-addr), CSeq, Contact, Expires, the Request-URI, `ms-diagnostics`, and the
//! [MS-SIPAE] signature buffer and signature headers.
//!
//! Invariants: the typed views validation checked (Via, From, To, CSeq, Expires, Contact) read from a message
//! that parses; a message that parses serializes and parses again to the same message (Content-Length
//! aside, which the serializer rewrites), with nothing left over; a URI that parses reads again from its own
//! text to the same URI; a name-addr re-serialized by `to_header_value` reads again to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::auth::sa::Challenge;
use sfbkit::auth::signature::{BufferParams, read_client_signature, read_server_signature, signature_buffer};
use sfbkit::sip::{Diagnostics, Limits, NameAddr, Uri, parse_message};
use sfbkit_fuzz::{ROOMY, sip_comparable, touch};

fuzz_target!(|data: &[u8]| {
    let parsed = match parse_message(data, &Limits::default()) {
        Ok(p) => p,
        Err(e) => {
            let _ = (e.to_string(), e.status_code());
            return;
        }
    };
    assert_eq!(parsed.consumed + parsed.trailing, data.len());
    let m = &parsed.message;

    let again = parse_message(&m.to_bytes(), &ROOMY).expect("a parsed message must read again once serialized");
    assert_eq!(again.trailing, 0);
    assert_eq!(sip_comparable(&again.message), sip_comparable(m), "serialize + parse changed the message");

    if let Some(uri) = m.request_uri() {
        let reread = Uri::parse(uri.as_str()).expect("a parsed Request-URI must read again");
        assert_eq!(&reread, uri);
    }
    // Validation checks these without keeping them: what it let through, the typed accessors must read.
    touch(&m.vias().expect("a validated message's Vias must read"));
    touch(&m.cseq().expect("a validated message's CSeq must read"));
    m.expires().expect("a validated message's Expires must read");
    for (name, addr) in [("From", m.from_header()), ("To", m.to_header())] {
        let addr = addr.unwrap_or_else(|e| panic!("a validated message's {name} must read: {e}"));
        let _ = (addr.tag(), addr.display_name());
        let text = addr.to_header_value();
        let reread = NameAddr::parse(name, &text).expect("to_header_value must read again");
        assert_eq!(reread.uri, addr.uri, "{name} URI changed through to_header_value: {text}");
    }
    touch(&m.contacts().expect("a validated message's Contacts must read"));
    for h in m.headers.get_all("ms-diagnostics") {
        if let Some(d) = Diagnostics::parse(h.value()) {
            let _ = d.to_diagnosis();
        }
    }
    touch(&Challenge::all(m));
    touch(&read_server_signature(m));
    touch(&read_client_signature(m, 4));
    for version in [2, 3, 4] {
        let params = BufferParams {
            scheme: "NTLM".into(),
            rand: "13317733".into(),
            num: "1".into(),
            realm: "SIP Communications Service".into(),
            targetname: "fe.contoso.com".into(),
            version,
        };
        let _ = signature_buffer(m, &params);
    }
});
