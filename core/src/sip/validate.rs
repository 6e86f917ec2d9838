//! What a receiving element checks beyond framing (RFC 3261 §8.2, §16.3 and RFC 4475 §3.1.2,
//! §3.3): the mandatory headers are present once, and the headers sfbkit acts on parse.
//!
//! Headers not listed here are kept opaque: an unknown header with a strange value is legal.

use super::ParseError;
use super::message::{Message, StartLine};
use super::values::{NameAddr, parse_u32};

/// Headers that must appear exactly once in every request and response.
const REQUIRED_ONCE: &[&str] = &["To", "From", "CSeq", "Call-ID"];
/// Headers that may appear at most once.
const AT_MOST_ONCE: &[&str] = &["Max-Forwards", "Content-Length", "Content-Type", "Expires"];

/// Checks a parsed message the way a receiving element does; the first problem found is returned.
pub fn validate(msg: &Message) -> Result<(), ParseError> {
    for name in REQUIRED_ONCE {
        match msg.headers.count(name) {
            0 => return Err(ParseError::MissingHeader(name)),
            1 => {}
            count => return Err(ParseError::Duplicate { header: name, count }),
        }
    }
    for name in AT_MOST_ONCE {
        let count = msg.headers.count(name);
        if count > 1 {
            return Err(ParseError::Duplicate { header: name, count });
        }
    }
    if msg.headers.count("Via") == 0 {
        return Err(ParseError::MissingHeader("Via"));
    }
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
