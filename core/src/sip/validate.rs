//! What a receiving element checks beyond framing (RFC 3261 §8.2, §16.3 and RFC 4475 §3.1.2,
//! §3.3): the mandatory headers are present once, and the headers sfbkit acts on parse.
//!
//! Headers not listed here are kept opaque: an unknown header with a strange value is legal.

use winnow::stream::Accumulate;

use super::ParseError;
use super::grammar::unquote;
use super::header::{HeaderName, Headers, names};
use super::message::{Message, StartLine};
use super::values::{NameAddr, Via, parse_u32};

/// Headers that must appear exactly once in every request and response.
const REQUIRED_ONCE: &[HeaderName<'static>] = &[names::TO, names::FROM, names::CSEQ, names::CALL_ID];
/// Headers that may appear at most once.
const AT_MOST_ONCE: &[HeaderName<'static>] =
    &[names::MAX_FORWARDS, names::CONTENT_LENGTH, names::CONTENT_TYPE, names::EXPIRES];

/// Checks a parsed message the way a receiving element does; the first problem found is returned.
pub fn validate(msg: &Message) -> Result<(), ParseError> {
    let headers = &msg.headers;
    check_counts(headers)?;
    // What follows parses what the typed accessors (`vias()`, `from_header()`, `contacts()`, ...) parse, with the
    // same errors, but keeps nothing: most messages are validated and then read for a header or two.
    for via in headers.get_all_named(names::VIA) {
        Via::check_list(via.value())?;
    }
    for name in [names::FROM, names::TO] {
        let value = headers.value_named(name).ok_or(ParseError::MissingHeader(name.as_str()))?;
        NameAddr::check::<()>(name.as_str(), value)?;
    }
    let call_id = headers.value_named(names::CALL_ID).unwrap_or_default();
    if call_id.is_empty() || call_id.contains([' ', '\t']) {
        return Err(ParseError::value("Call-ID", "must be one non-empty word without spaces"));
    }
    let cseq = msg.cseq()?;
    if let StartLine::Request(req) = &msg.start {
        if cseq.method != req.method {
            return Err(ParseError::CSeqMismatch { method: req.method.to_string(), cseq: cseq.method.to_string() });
        }
        if let Some(sip) = req.uri.as_sip()
            && sip.headers().is_some()
        {
            return Err(ParseError::Uri { reason: "a Request-URI must not carry escaped headers ('?...')".into() });
        }
    }
    if let Some(mf) = headers.value_named(names::MAX_FORWARDS) {
        match parse_u32(mf) {
            Some(v) if v <= 255 => {}
            _ => return Err(ParseError::value("Max-Forwards", "must be a number from 0 to 255")),
        }
    }
    msg.expires()?;
    // `contacts()` parses every Contact before any `expires` is looked at, so a later Contact that does not parse
    // is the error even after a bad `expires`: so here.
    let mut bad_expires = false;
    for contact in headers.list_named(names::CONTACT).filter(|v| *v != "*") {
        let ExpiresParam(expires) = NameAddr::check("Contact", contact)?;
        bad_expires |= expires.is_some_and(|e| parse_u32(&unquote(e.unwrap_or(""))).is_none());
    }
    if bad_expires {
        return Err(ParseError::value("Contact", "expires parameter is not a number of seconds below 2^32"));
    }
    for name in [names::ROUTE, names::RECORD_ROUTE] {
        for v in headers.list_named(name) {
            NameAddr::check::<()>(name.as_str(), v)?;
        }
    }
    Ok(())
}

/// The mandatory headers present once, the single ones at most once, and a Via.
fn check_counts(headers: &Headers) -> Result<(), ParseError> {
    let counts = headers.counts();
    for name in REQUIRED_ONCE {
        match counts.of(*name) {
            0 => return Err(ParseError::MissingHeader(name.as_str())),
            1 => {}
            count => return Err(ParseError::Duplicate { header: name.as_str(), count }),
        }
    }
    for name in AT_MOST_ONCE {
        let count = counts.of(*name);
        if count > 1 {
            return Err(ParseError::Duplicate { header: name.as_str(), count });
        }
    }
    if counts.of(names::VIA) == 0 {
        return Err(ParseError::MissingHeader("Via"));
    }
    Ok(())
}

/// The raw value of a Contact's first `expires` parameter (`Some(None)` for a flag), all else let go.
struct ExpiresParam<'a>(Option<Option<&'a str>>);

impl<'a> Accumulate<(&'a str, Option<&'a str>)> for ExpiresParam<'a> {
    fn initial(_: Option<usize>) -> Self {
        ExpiresParam(None)
    }
    fn accumulate(&mut self, (name, raw_value): (&'a str, Option<&'a str>)) {
        if self.0.is_none() && name.eq_ignore_ascii_case("expires") {
            self.0 = Some(raw_value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::parse::{HeadScan, parse_head};
    use crate::sip::{Limits, ParseError};

    /// Validation as it was written before the checks that keep nothing: through the typed accessors. The checks
    /// must agree with it, error for error.
    fn through_accessors(msg: &Message) -> Result<(), ParseError> {
        check_counts(&msg.headers)?;
        msg.vias()?;
        msg.from_header()?;
        msg.to_header()?;
        let call_id = msg.call_id().unwrap_or_default();
        if call_id.is_empty() || call_id.contains([' ', '\t']) {
            return Err(ParseError::value("Call-ID", "must be one non-empty word without spaces"));
        }
        let cseq = msg.cseq()?;
        if let StartLine::Request(req) = &msg.start {
            if cseq.method != req.method {
                return Err(ParseError::CSeqMismatch { method: req.method.to_string(), cseq: cseq.method.to_string() });
            }
            if let Some(sip) = req.uri.as_sip()
                && sip.headers().is_some()
            {
                return Err(ParseError::Uri { reason: "a Request-URI must not carry escaped headers ('?...')".into() });
            }
        }
        if let Some(mf) = msg.header("Max-Forwards") {
            match parse_u32(mf) {
                Some(v) if v <= 255 => {}
                _ => return Err(ParseError::value("Max-Forwards", "must be a number from 0 to 255")),
            }
        }
        msg.expires()?;
        for contact in msg.contacts()? {
            if let Some(e) = contact.params.value("expires")
                && parse_u32(&e).is_none()
            {
                return Err(ParseError::value("Contact", "expires parameter is not a number of seconds below 2^32"));
            }
        }
        for name in ["Route", "Record-Route"] {
            for v in msg.headers.list(name) {
                NameAddr::parse(name, v)?;
            }
        }
        Ok(())
    }

    /// The head of `bytes` as a message, not validated; `None` when it does not frame or split.
    fn unvalidated(bytes: &[u8]) -> Option<Message> {
        let bytes = &bytes[bytes.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count()..];
        let end = HeadScan::default().scan(bytes, &Limits::default()).ok()??;
        let (start, headers) = parse_head(&bytes[..end.head_len]).ok()?;
        Some(Message { start, headers, body: Vec::new() })
    }

    /// Values that take each branch of the name-addr, Via and URI grammars, good and bad.
    const NAME_ADDRS: &[&str] = &[
        "<sip:a@b.example>;tag=1",
        "\"Quoted \\\"Name\\\"\" <sips:a@[2001:db8::1]:5061;transport=tls>;epid=x",
        "Bare Name <sip:b@c;gruu;opaque=user:epid:x>",
        "sip:c@d.example;tag=2",
        "tel:+14255550100;phone-context=x",
        "<urn:uuid:00000000-0000-0000-0000-000000000000>",
        "<sip:a@b>;expires=3600",
        "<sip:a@b>;expires=\"3600\"",
        "<sip:a@b>;expires",
        "<sip:a@b>;expires=99999999999",
        "<sip:a@b>;EXPIRES=1;expires=x",
        "*",
        "<sip:a@b>, <sip:c@d>;expires=x, <sip:e@f>",
        "<sip:a@b>;expires=x, <bad uri>",
        "Name sip:a@b",
        "<sip:a@b",
        "<sip:@b>",
        "<sip:a@b:99999>",
        "<sip:a@b:port>",
        "<sip:a@2001:db8::1>",
        "<sip:a@b;;x>",
        "<sip:a@b?h=1>",
        "<sip:a@b?=1>",
        "<sip:a%4@b>",
        "<tel:abc xyz>",
        "<sip:a@b>;tag=\"unterminated",
        "<sip:a@b> ; tag = 1 ;lr",
        "",
    ];
    const VIAS: &[&str] = &[
        "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1;ms-received-port=1;ms-received-cid=2",
        "SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK2, SIP/2.0/UDP host.example;received=[2001:db8::2]",
        "SIP / 2.0 / TLS host.example ; branch = z9hG4bK3",
        "SIP/2.0/TLS host.example:123456;branch=x",
        "SIP/2.0/TLS host.example:70000",
        "SIP/2.0/TLS 2001:db8::1",
        "SIP/2.0/TLS .bad",
        "SIP/2.0/TLS 300.1.1.1",
        "SIP/2.0/TLShost",
        "SIP/2.0/TLS a;;b",
        "SIP/2.0/TLS a, ",
        "",
    ];

    /// Every header the checks look at, replaced in turn by each test value.
    fn mutations(msg: &Message) -> Vec<Message> {
        let mut out = Vec::new();
        for (names, values) in
            [(&["From", "To", "Contact", "Route", "Record-Route"][..], NAME_ADDRS), (&["Via"][..], VIAS)]
        {
            for name in names {
                for value in values {
                    let mut changed = msg.clone();
                    changed.headers.set(name, value);
                    out.push(changed.clone());
                    changed.headers.push(name, value);
                    out.push(changed);
                }
            }
        }
        out
    }

    #[test]
    fn the_checks_that_keep_nothing_agree_with_the_typed_accessors() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
        let mut messages = Vec::new();
        for dir in ["rfc4475", "rfc5118"] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir)).expect("vectors").flatten().collect();
            files.sort_by_key(|f| f.path());
            for file in files.iter().filter(|f| f.path().extension().is_some_and(|e| e == "dat")) {
                if let Some(msg) = unvalidated(&std::fs::read(file.path()).expect("vector")) {
                    messages.push(msg);
                }
            }
        }
        assert!(messages.len() > 40, "only {} vectors framed", messages.len());
        let mut compared = 0;
        for msg in &messages {
            for candidate in std::iter::once(msg.clone()).chain(mutations(msg)) {
                assert_eq!(validate(&candidate), through_accessors(&candidate), "{:?}", candidate.to_bytes());
                compared += 1;
            }
        }
        assert!(compared > 40 * 300, "{compared}");
    }
}
