//! The streaming parser for SIP over TLS/TCP (sans-I/O).
//!
//! Feed it the bytes read from the connection with [`StreamParser::push`] and take items out with
//! [`StreamParser::next_item`] until it returns `Ok(None)`. Between messages a peer may send
//! keep-alives (RFC 5626 §3.5.1: CRLF CRLF is a ping, CRLF a pong; [MS-CONMGMT] uses the same
//! bytes); they come out as [`StreamItem::Ping`] and [`StreamItem::Pong`]. A lone CRLF at the end
//! of the buffered bytes is reported as a pong at once rather than held back in case a second
//! CRLF follows: a client waiting for its pong must see it. A ping split across two reads (rare:
//! a peer writes it in one TLS record) is therefore seen as two pongs.
//!
//! Memory stays bounded by [`Limits::max_message_bytes`] plus one read: Content-Length is checked
//! against the body limit before the body is awaited, and the header scan stops at the head limit.

use super::message::Message;
use super::parse::{HeadScan, content_length, parse_head};
use super::{Limits, ParseError, validate};

/// What the stream produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// A framed message that passed validation.
    Message(Message),
    /// A message that was framed correctly but failed validation (the stream is still usable;
    /// a UAS answers requests with [`ParseError::status_code`]).
    Invalid { error: ParseError, message: Box<Message> },
    /// A CRLF CRLF keep-alive ping (answer with a CRLF pong).
    Ping,
    /// A CRLF keep-alive pong.
    Pong,
}

impl StreamItem {
    /// The message, valid or not (`None` for keep-alives).
    pub fn message(&self) -> Option<&Message> {
        match self {
            StreamItem::Message(m) => Some(m),
            StreamItem::Invalid { message, .. } => Some(message),
            StreamItem::Ping | StreamItem::Pong => None,
        }
    }
}

#[derive(Debug)]
struct PendingBody {
    message: Message,
    body_start: usize,
    body_len: usize,
}

/// Incremental SIP framing over a reliable byte stream.
#[derive(Debug)]
pub struct StreamParser {
    limits: Limits,
    buf: Vec<u8>,
    /// Start of unconsumed data in `buf`.
    start: usize,
    scan: HeadScan,
    pending: Option<PendingBody>,
    failed: Option<ParseError>,
}

/// Buffer capacity an idle parser keeps: none. Signed-in endpoints are idle nearly all the time, and a few KiB
/// kept by each of thousands (4 KiB each, measured with heaptrack over 1,000 endpoints) cost more than the
/// allocation a message burst makes.
pub const RETAINED_CAPACITY: usize = 0;

impl StreamParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> StreamParser {
        StreamParser { limits, buf: Vec::new(), start: 0, scan: HeadScan::default(), pending: None, failed: None }
    }

    /// Appends bytes read from the connection. Fails once the stream has failed, or when the
    /// caller keeps pushing without draining items (the buffer would exceed the limits).
    pub fn push(&mut self, data: &[u8]) -> Result<(), ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            // A message whose head is parsed but whose body is still arriving keeps its body
            // offset relative to the buffer: move it with the bytes.
            if let Some(p) = self.pending.as_mut() {
                p.body_start -= self.start;
            }
            self.start = 0;
        }
        if self.buf.len() > self.limits.max_message_bytes() {
            return self.fail(ParseError::HeadTooLarge { limit: self.limits.max_head_bytes });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Everything was consumed: the buffer is emptied and given back down to [`RETAINED_CAPACITY`], so that an idle
    /// connection does not keep the room its largest message took (a 10 KB presence NOTIFY left about 29 KiB per
    /// endpoint, measured with heaptrack over 1,000 endpoints).
    fn release(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > RETAINED_CAPACITY {
            self.buf.shrink_to(RETAINED_CAPACITY);
        }
    }

    /// Bytes buffered and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete item, `Ok(None)` when more bytes are needed. After an `Err` the stream
    /// cannot be framed any more and the connection should be closed.
    pub fn next_item(&mut self) -> Result<Option<StreamItem>, ParseError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.pending.is_none() {
            let data = &self.buf[self.start..];
            if data.starts_with(b"\r\n\r\n") {
                self.start += 4;
                return Ok(Some(StreamItem::Ping));
            }
            if data.starts_with(b"\r\n") {
                if data.len() == 3 && data[2] == b'\r' {
                    return Ok(None);
                }
                self.start += 2;
                return Ok(Some(StreamItem::Pong));
            }
            if data.starts_with(b"\n") {
                self.start += 1;
                return Ok(Some(StreamItem::Pong));
            }
            if data.is_empty() {
                self.release();
                return Ok(None);
            }
            let end = match self.scan.scan(data, &self.limits) {
                Ok(Some(end)) => end,
                Ok(None) => return Ok(None),
                Err(e) => return self.fail(e),
            };
            let head = match parse_head(&data[..end.head_len]) {
                Ok(h) => h,
                Err(e) => return self.fail(e),
            };
            let (start, headers) = head;
            let body_len = match content_length(&headers, &self.limits) {
                Ok(Some(n)) => n,
                Ok(None) if headers.get("Content-Type").is_some() => {
                    return self.fail(ParseError::MissingContentLength);
                }
                Ok(None) => 0,
                Err(e) => return self.fail(e),
            };
            let message = Message { start, headers, body: Vec::new() };
            self.pending = Some(PendingBody { message, body_start: self.start + end.body_start, body_len });
        }
        let Some(p) = &self.pending else { return Ok(None) };
        if self.buf.len() - p.body_start < p.body_len {
            return Ok(None);
        }
        let Some(mut p) = self.pending.take() else { return Ok(None) };
        p.message.body = self.buf[p.body_start..p.body_start + p.body_len].to_vec();
        self.start = p.body_start + p.body_len;
        self.scan = HeadScan::default();
        Ok(Some(match validate(&p.message) {
            Ok(()) => StreamItem::Message(p.message),
            Err(error) => StreamItem::Invalid { error, message: Box::new(p.message) },
        }))
    }

    fn fail<T>(&mut self, e: ParseError) -> Result<T, ParseError> {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.start = 0;
        Err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_parser_gives_back_the_room_a_large_message_took() {
        let mut parser = StreamParser::new(Limits::default());
        let body = "x".repeat(20_000);
        let message = format!(
            "NOTIFY sip:alice@contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1\r\n\
             From: <sip:bob@contoso.com>;tag=1\r\nTo: <sip:alice@contoso.com>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 2 NOTIFY\r\nMax-Forwards: 70\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        for chunk in message.as_bytes().chunks(4096) {
            parser.push(chunk).unwrap();
        }
        assert!(parser.buf.capacity() >= 20_000);
        assert!(matches!(parser.next_item(), Ok(Some(StreamItem::Message(_)))));
        assert!(matches!(parser.next_item(), Ok(None)));
        assert_eq!(parser.buffered(), 0);
        assert_eq!(parser.buf.capacity(), RETAINED_CAPACITY);
        // And it goes on parsing what comes next.
        parser.push(b"\r\n\r\n").unwrap();
        assert!(matches!(parser.next_item(), Ok(Some(StreamItem::Ping))));
    }
}
