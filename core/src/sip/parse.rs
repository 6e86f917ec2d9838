//! Framing and head parsing shared by the stream parser and the one-shot parser.
//!
//! The header section is found by a resumable scan that enforces [`Limits`] as it goes: it never
//! buffers more than `max_head_bytes`, never accepts a line longer than `max_line_bytes` and
//! stops counting at `max_headers`, so hostile input ends in an error after bounded work.

use super::header::{Header, Headers, names};
use super::message::{Message, RequestLine, StartLine, StatusLine};
use super::uri::Uri;
use super::{Limits, Method, ParseError, grammar, validate};

/// Resumable state of the search for the empty line that ends a header section.
///
/// The outcome does not depend on how the bytes were cut into reads: when a limit is broken, the error is the
/// one a reader fed byte by byte would meet first (the smallest number of bytes after which the break is
/// certain), whether the bytes came in one read or in many (checked by the `sip_stream` fuzz target). Before
/// this, a line of exactly `max_line_bytes` whose CR ended a read was refused, a header section whose empty
/// line began at `max_head_bytes` was accepted only when read whole, and which of two broken limits was
/// reported depended on where a read ended.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeadScan {
    /// Where to continue searching for '\n'.
    pos: usize,
    /// Start of the current line.
    line_start: usize,
    /// Complete lines seen so far (start line included).
    lines: usize,
}

/// Where a complete header section ends within the scanned bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadEnd {
    /// Length of the head without the terminating empty line.
    pub head_len: usize,
    /// Offset of the first body byte.
    pub body_start: usize,
}

impl HeadScan {
    /// Continues scanning `buf` (which must begin where the message begins). `Ok(None)` means
    /// more bytes are needed.
    pub(crate) fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<HeadEnd>, ParseError> {
        while let Some(off) = memchr::memchr(b'\n', &buf[self.pos..]) {
            let nl = self.pos + off;
            // No limit can be broken by a line no longer than a line may be (its CR counted), within the head's
            // size and count: the exact reckoning is needed only otherwise.
            let surely_within = nl - self.line_start <= limits.max_line_bytes
                && nl < limits.max_head_bytes
                && self.lines <= limits.max_headers;
            if !surely_within && let Some(e) = self.first_broken_limit(buf, nl, true, limits) {
                return Err(e);
            }
            let line = &buf[self.line_start..nl];
            if line.strip_suffix(b"\r").unwrap_or(line).is_empty() && self.lines > 0 {
                return Ok(Some(HeadEnd { head_len: self.line_start, body_start: nl + 1 }));
            }
            self.lines += 1;
            self.line_start = nl + 1;
            self.pos = nl + 1;
        }
        self.pos = buf.len();
        match self.first_broken_limit(buf, buf.len(), false, limits) {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }

    /// The limit the current line (from `line_start` to `end`, the index of its LF when `complete`, else the
    /// end of the bytes so far) breaks first, counted in bytes read: a line is too long once more than
    /// `max_line_bytes` bytes other than its line break have arrived (a CR counts only once a byte other than
    /// LF follows it), the head is too large once `max_head_bytes` is passed without the section ending (its
    /// empty line included), and a line past `max_headers` is one too many once its LF arrives.
    fn first_broken_limit(&self, buf: &[u8], end: usize, complete: bool, limits: &Limits) -> Option<ParseError> {
        let start = self.line_start;
        let raw = &buf[start..end];
        let content = raw.strip_suffix(b"\r").unwrap_or(raw).len();
        let mut broken: Option<(usize, ParseError)> = None;
        let mut consider = |at: usize, e: ParseError| {
            if broken.as_ref().is_none_or(|(first, _)| at < *first) {
                broken = Some((at, e));
            }
        };
        if content > limits.max_line_bytes {
            let cr_waits = buf.get(start + limits.max_line_bytes) == Some(&b'\r');
            let at = start + limits.max_line_bytes + 1 + usize::from(cr_waits);
            consider(at, ParseError::LineTooLong { line: self.lines + 1, limit: limits.max_line_bytes });
        }
        let is_end_of_head = complete && content == 0 && self.lines > 0;
        if complete && !is_end_of_head && self.lines + 1 > limits.max_headers + 1 {
            consider(end + 1, ParseError::TooManyHeaders { limit: limits.max_headers });
        }
        let read = if complete { end + 1 } else { end };
        if read > limits.max_head_bytes {
            consider(limits.max_head_bytes + 1, ParseError::HeadTooLarge { limit: limits.max_head_bytes });
        }
        broken.map(|(_, e)| e)
    }
}

/// Parses a complete header section (without its terminating empty line).
pub(crate) fn parse_head(head: &[u8]) -> Result<(StartLine, Headers), ParseError> {
    let text = std::str::from_utf8(head).map_err(|e| ParseError::NotUtf8 {
        line: 1 + head[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
    })?;
    let (first, rest) = match text.find('\n') {
        Some(n) => (&text[..n], &text[n + 1..]),
        None => (text, ""),
    };
    let start = parse_start_line(first.strip_suffix('\r').unwrap_or(first))?;
    // One header per line at most: the list is allocated once.
    let mut headers = Headers::with_capacity(memchr::memchr_iter(b'\n', rest.as_bytes()).count() + 1);
    // Walk physical lines; a line starting with SP/HTAB continues the previous header. Bytes, not chars: every
    // byte looked for is ASCII, and no byte of a multi-byte character is.
    let bytes = rest.as_bytes();
    let mut pending: Option<(&str, usize, usize, bool)> = None; // (name, value start, value end, folded)
    let mut line_start = 0;
    let mut line_no = 1; // 1-based; the start line was line 1
    while line_start < bytes.len() {
        line_no += 1;
        let nl = memchr::memchr(b'\n', &bytes[line_start..]).map_or(bytes.len(), |off| line_start + off);
        let mut end = nl;
        while end > line_start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let line = &bytes[line_start..end];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            match pending.as_mut() {
                Some((_, _, value_end, folded)) => (*value_end, *folded) = (end, true),
                None => return Err(ParseError::HeaderLine { line: line_no }),
            }
            line_start = nl + 1;
            continue;
        }
        if let Some((name, vs, ve, folded)) = pending.take() {
            headers.push_header(make_header(name, &rest[vs.min(ve)..ve], folded));
        }
        // `name *(SP / HTAB) ":"`, the name a non-empty token: one scan finds the name and checks it.
        let name_len = line.iter().position(|&b| !grammar::is_token_byte(b)).unwrap_or(line.len());
        let colon = name_len + line[name_len..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        if name_len == 0 || line.get(colon) != Some(&b':') {
            return Err(ParseError::HeaderLine { line: line_no });
        }
        let name = &rest[line_start..line_start + name_len];
        pending = Some((name, line_start + colon + 1, end, false));
        line_start = nl + 1;
    }
    if let Some((name, vs, ve, folded)) = pending.take() {
        headers.push_header(make_header(name, &rest[vs.min(ve)..ve], folded));
    }
    Ok((start, headers))
}

/// `folded`: continuation lines were joined to the value (only then can it hold a line break).
fn make_header(name: &str, raw: &str, folded: bool) -> Header {
    // Bytes, not chars: all four are ASCII, so the cuts fall between characters.
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let bytes = raw.as_bytes();
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !blank(b)).map_or(start, |last| last + 1);
    let raw = &raw[start..end];
    Header::from_wire(name, raw, folded)
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let bad = |reason: &str| ParseError::StartLine { reason: reason.to_string() };
    if let Some(rest) = line.strip_prefix("SIP/").or_else(|| line.strip_prefix("sip/")) {
        let (version, rest) = rest.split_once(' ').ok_or_else(|| bad("status line has no status code"))?;
        if version != "2.0" {
            return Err(ParseError::Version { version: format!("SIP/{version}") });
        }
        let (code, reason) = match rest.split_once(' ') {
            Some((c, r)) => (c, r),
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("status code must be three digits"));
        }
        let code: u16 = code.parse().map_err(|_| bad("status code must be three digits"))?;
        if !(100..=699).contains(&code) {
            return Err(bad("status code must be between 100 and 699"));
        }
        return Ok(StartLine::Response(StatusLine { code, reason: reason.to_string() }));
    }
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("a request line is `METHOD SP Request-URI SP SIP/2.0` with single spaces"));
    };
    if method.is_empty() || !method.chars().all(grammar::is_token_char) {
        return Err(bad("the method is not a token"));
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        // `get`, not `[..4]`: the version is peer text and a multi-byte character may straddle byte 4.
        if version.len() > 4 && version.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")) {
            return Err(ParseError::Version { version: version.to_string() });
        }
        return Err(bad("the request line does not end with SIP/2.0"));
    }
    let uri = Uri::parse(uri)?;
    Ok(StartLine::Request(RequestLine { method: Method::from_token(method), uri }))
}

/// The declared Content-Length, if any, checked against the body limit before anything is
/// allocated for the body.
pub(crate) fn content_length(headers: &Headers, limits: &Limits) -> Result<Option<usize>, ParseError> {
    let count = headers.count_named(names::CONTENT_LENGTH);
    if count > 1 {
        return Err(ParseError::Duplicate { header: "Content-Length", count });
    }
    let Some(v) = headers.value_named(names::CONTENT_LENGTH) else { return Ok(None) };
    let v = v.trim_matches([' ', '\t']);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::value("Content-Length", "must be a non-negative decimal number"));
    }
    let declared = v.trim_start_matches('0').parse::<u64>().unwrap_or(if v.trim_start_matches('0').is_empty() {
        0
    } else {
        u64::MAX
    });
    if declared > limits.max_body_bytes as u64 {
        return Err(ParseError::BodyTooLarge { declared, limit: limits.max_body_bytes });
    }
    Ok(Some(declared as usize))
}

/// The outcome of parsing one complete message from a file or datagram.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub message: Message,
    /// Bytes used by the message (leading keep-alive CRLFs included).
    pub consumed: usize,
    /// Bytes after the message (RFC 4475 dblreq: a datagram may carry trailing octets).
    pub trailing: usize,
}

/// Parses `data` as one complete message, the way a receiving element handles a datagram or a
/// file: a missing Content-Length means "the rest is the body", a Content-Length larger than the
/// data is an error, and bytes after the message are reported, not parsed. The message is then
/// [validated](super::validate()).
pub fn parse_message(data: &[u8], limits: &Limits) -> Result<Parsed, ParseError> {
    let lead = data.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
    let buf = &data[lead..];
    let mut scan = HeadScan::default();
    let end = match scan.scan(buf, limits)? {
        Some(end) => end,
        None => return Err(ParseError::UnterminatedHead),
    };
    let (start, headers) = parse_head(&buf[..end.head_len])?;
    let available = buf.len() - end.body_start;
    let body_len = match content_length(&headers, limits)? {
        Some(n) if n > available => return Err(ParseError::Truncated { declared: n as u64, available }),
        Some(n) => n,
        None if available > limits.max_body_bytes => {
            return Err(ParseError::BodyTooLarge { declared: available as u64, limit: limits.max_body_bytes });
        }
        None => available,
    };
    let body = buf[end.body_start..end.body_start + body_len].to_vec();
    let message = Message { start, headers, body };
    validate(&message)?;
    let consumed = lead + end.body_start + body_len;
    Ok(Parsed { message, consumed, trailing: data.len() - consumed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_line_splits_where_the_first_colon_after_a_token_name_is() {
        // The rule as first written: the first ':' ends the name, which, trailing whitespace trimmed, must be a
        // non-empty token. The single scan must keep and refuse the same lines.
        fn by_first_colon(line: &str) -> Option<(&str, &str)> {
            let colon = line.find(':')?;
            let name = line[..colon].trim_end_matches([' ', '\t']);
            (!name.is_empty() && name.chars().all(grammar::is_token_char))
                .then(|| (name, line[colon + 1..].trim_matches([' ', '\t'])))
        }
        let alphabet = ["a", " ", "\t", ":", "-", "@", "é"];
        crate::sip::grammar::tests::every_string(&alphabet, 5, |line| {
            if line.is_empty() || line.starts_with([' ', '\t']) {
                return; // no line, or a continuation line: not a header line
            }
            let head = format!("OPTIONS sip:a@b SIP/2.0\r\n{line}");
            let ours = parse_head(head.as_bytes())
                .map(|(_, headers)| headers.iter().map(|h| (h.name().to_owned(), h.value().to_owned())).next());
            let expected = by_first_colon(line).map(|(n, v)| (n.to_owned(), v.to_owned()));
            match expected {
                Some(header) => assert_eq!(ours, Ok(Some(header)), "{line:?}"),
                None => assert_eq!(ours, Err(ParseError::HeaderLine { line: 2 }), "{line:?}"),
            }
        });
    }

    #[test]
    fn a_multibyte_character_in_the_version_is_an_error_not_a_panic() {
        // fuzz/regressions/sip_message/multibyte-version, as the fuzzer found it: slicing the version `SI:\u{feff}…`
        // at byte 4 panicked inside the byte-order mark.
        let data: &[u8] = b"!interesting-Method0123456789_*+`.%indead'~ sip\x01\x00\x001:1_unusual.URb-~(oIt!sure)&isn't+it$/crazy?,/;;*2&it+h@as=1,weird;branch=z9hG4bK!*pas$wo~d_too.(doesn't-it)@example.com SI:\xef\xbb\xbf\xe5\xa4\xa7\xe5\x81\x9c\xe9\x9b\xbb\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(parse_message(data, &Limits::default()), Err(ParseError::StartLine { .. })));
        let wide = "INVITE sip:a@b SIP\u{e9}/2.0\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(parse_message(wide.as_bytes(), &Limits::default()), Err(ParseError::StartLine { .. })));
        let other = "INVITE sip:a@b sip/3.0\r\nContent-Length: 0\r\n\r\n";
        assert!(matches!(parse_message(other.as_bytes(), &Limits::default()), Err(ParseError::Version { .. })));
    }
}
