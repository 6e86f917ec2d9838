//! The SIP message model and its serializer.
//!
//! A [`Message`] owns its start line, its headers as received ([`Headers`]) and its body bytes.
//! Typed accessors parse header values on demand, so a message that only passes through is never
//! parsed more than framing requires.

use super::header::Headers;
use super::uri::Uri;
use super::values::{CSeq, NameAddr, Via, parse_u32};
use super::{Method, ParseError};

/// `Method SP Request-URI SP SIP/2.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    pub method: Method,
    pub uri: Uri,
}

/// `SIP/2.0 SP Status-Code SP Reason-Phrase`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// 100–699.
    pub code: u16,
    /// The reason phrase as received (may be empty, may be UTF-8).
    pub reason: String,
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    Request(RequestLine),
    Response(StatusLine),
}

/// A SIP request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: StartLine,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Message {
    /// A request with no headers yet.
    pub fn request(method: Method, uri: Uri) -> Message {
        Message { start: StartLine::Request(RequestLine { method, uri }), headers: Headers::new(), body: Vec::new() }
    }

    /// A response with no headers yet.
    pub fn response(code: u16, reason: &str) -> Message {
        Message {
            start: StartLine::Response(StatusLine { code, reason: reason.to_string() }),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response to `request` carrying its Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2);
    /// `to_tag` is added to To when To has no tag yet.
    pub fn response_to(request: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> Message {
        let mut resp = Message::response(code, reason);
        for h in request.headers.iter() {
            if h.is("Via") || h.is("From") || h.is("Call-ID") || h.is("CSeq") || h.is("Record-Route") {
                resp.headers.push(h.name(), h.raw_value());
            } else if h.is("To") {
                let has_tag = NameAddr::parse("To", h.value()).map(|n| n.tag().is_some()).unwrap_or(true);
                match to_tag {
                    Some(tag) if !has_tag => resp.headers.push(h.name(), &format!("{};tag={tag}", h.value())),
                    _ => resp.headers.push(h.name(), h.raw_value()),
                }
            }
        }
        resp
    }

    /// Adds a header (builder style).
    pub fn with_header(mut self, name: &str, value: &str) -> Message {
        self.headers.push(name, value);
        self
    }

    /// Sets the body and its Content-Type (Content-Length is written by the serializer).
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
        self.headers.set("Content-Type", content_type);
        self.body = body.into();
        self
    }

    /// True for requests.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }
    /// The request method, for requests.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request(r) => Some(&r.method),
            StartLine::Response(_) => None,
        }
    }
    /// The Request-URI, for requests.
    pub fn request_uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request(r) => Some(&r.uri),
            StartLine::Response(_) => None,
        }
    }
    /// The status code, for responses.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response(s) => Some(s.code),
            StartLine::Request(_) => None,
        }
    }
    /// The reason phrase, for responses.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response(s) => Some(&s.reason),
            StartLine::Request(_) => None,
        }
    }
    /// The unfolded value of the first header with this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.value(name)
    }
    /// Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }
    /// CSeq, parsed.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.header("CSeq").ok_or(ParseError::MissingHeader("CSeq"))?)
    }
    /// From, parsed.
    pub fn from_header(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse("From", self.header("From").ok_or(ParseError::MissingHeader("From"))?)
    }
    /// To, parsed.
    pub fn to_header(&self) -> Result<NameAddr, ParseError> {
        NameAddr::parse("To", self.header("To").ok_or(ParseError::MissingHeader("To"))?)
    }
    /// Every Via entry, top first.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::new();
        for h in self.headers.get_all("Via") {
            out.extend(Via::parse_list(h.value())?);
        }
        Ok(out)
    }
    /// Every Contact entry (a `*` Contact yields none).
    pub fn contacts(&self) -> Result<Vec<NameAddr>, ParseError> {
        self.headers.list("Contact").filter(|v| *v != "*").map(|v| NameAddr::parse("Contact", v)).collect()
    }
    /// The Expires header in seconds, if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.header("Expires")
            .map(|v| parse_u32(v).ok_or_else(|| ParseError::value("Expires", "not a number of seconds below 2^32")))
            .transpose()
    }
    /// Content-Type, if present.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// Serializes the message. Header names and values are written exactly as stored;
    /// Content-Length always states the real body length (kept in place when present,
    /// appended otherwise).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.body.len() + self.headers.len() * 48);
        self.write_start_line(&mut out);
        let mut wrote_length = false;
        for h in self.headers.iter() {
            if h.is("Content-Length") {
                if wrote_length {
                    continue;
                }
                wrote_length = true;
                out.extend_from_slice(h.name().as_bytes());
                out.extend_from_slice(format!(": {}\r\n", self.body.len()).as_bytes());
                continue;
            }
            out.extend_from_slice(h.name().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(h.raw_value().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !wrote_length {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    fn write_start_line(&self, out: &mut Vec<u8>) {
        match &self.start {
            StartLine::Request(r) => {
                out.extend_from_slice(r.method.as_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(r.uri.as_str().as_bytes());
                out.extend_from_slice(b" SIP/2.0\r\n");
            }
            StartLine::Response(s) => {
                out.extend_from_slice(format!("SIP/2.0 {} ", s.code).as_bytes());
                out.extend_from_slice(s.reason.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}
