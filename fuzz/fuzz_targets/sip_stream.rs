//! The SIP stream parser (`sip::StreamParser`), the one that frames what a registrar sends over TLS.
//!
//! Invariants: fed the same bytes whole or cut into chunks at arbitrary places, it yields the same messages
//! (valid or invalid) in the same order, ends in the same error if any, and keeps the same bytes buffered (up
//! to keep-alive CRLFs).
//! Keep-alives are compared apart from the messages, because a CRLF CRLF ping split across two reads is two
//! pongs by design (module doc of `sip/stream.rs`). Every message it yields serializes and reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::sip::{Limits, ParseError, StreamItem, StreamParser, parse_message};

#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<StreamItem>,
    keepalive_crlfs: usize,
    error: Option<ParseError>,
    buffered: usize,
}

fn run(limits: Limits, chunks: &[&[u8]]) -> Outcome {
    let mut parser = StreamParser::new(limits);
    let mut out = Outcome { messages: Vec::new(), keepalive_crlfs: 0, error: None, buffered: 0 };
    'feed: for chunk in chunks {
        if let Err(e) = parser.push(chunk) {
            out.error = Some(e);
            break;
        }
        loop {
            match parser.next_item() {
                Ok(Some(StreamItem::Ping)) => out.keepalive_crlfs += 2,
                Ok(Some(StreamItem::Pong)) => out.keepalive_crlfs += 1,
                Ok(Some(item)) => out.messages.push(item),
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    break 'feed;
                }
            }
        }
    }
    out.buffered = if out.error.is_none() { parser.buffered() } else { 0 };
    out
}

/// Tiny limits, so that every limit is reached by short inputs.
const TINY: Limits = Limits { max_line_bytes: 64, max_head_bytes: 256, max_headers: 8, max_body_bytes: 128 };

fuzz_target!(|data: &[u8]| {
    let Some((&control, data)) = data.split_first() else { return };
    let limits = if control & 1 == 0 { Limits::default() } else { TINY };
    let whole = run(limits, &[data]);
    let cut = run(limits, &sfbkit_fuzz::chunks(data, u64::from(control >> 1)));
    assert_eq!(whole.messages, cut.messages, "messages differ when the stream is cut into chunks");
    assert_eq!(whole.error, cut.error, "the stream ends differently when cut into chunks");
    if whole.error.is_none() {
        // A CRLF that ends a read is reported as a pong at once, while read whole it may wait for a second CRLF
        // (a ping): the bytes left buffered may differ, by keep-alive CR and LF bytes only.
        let (long, short) = (whole.buffered.max(cut.buffered), whole.buffered.min(cut.buffered));
        let extra = &data[data.len() - long..data.len() - short];
        assert!(extra.iter().all(|&b| b == b'\r' || b == b'\n'), "different bytes left buffered when cut into chunks");
    }
    for item in &whole.messages {
        let message = match item {
            StreamItem::Message(m) => m,
            _ => continue,
        };
        let bytes = message.to_bytes();
        let again = parse_message(&bytes, &sfbkit_fuzz::ROOMY).expect("a message the stream accepted must read again");
        assert_eq!(again.trailing, 0);
        assert_eq!(sfbkit_fuzz::sip_comparable(&again.message), sfbkit_fuzz::sip_comparable(message));
    }
    if let Some(e) = &whole.error {
        let _ = (e.to_string(), e.status_code());
    }
});
