//! Helpers the sfbkit fuzz targets share (docs/fuzzing.md): splitting one input into several fields,
//! cutting a stream into chunks, and the invariants every XML reader's input must keep.

use sfbkit::xml::{Document, Element};

/// Splits `data` at the first `sep` byte: (before, after). Without `sep`, everything is `before`.
pub fn split_at(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Up to `n` fields separated by NUL bytes; the last field takes the rest.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        let (head, tail) = split_at(rest, 0);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// Cuts `data` into chunks whose sizes (1 to 64 bytes, sometimes larger) follow a small PRNG seeded by `seed`,
/// the way TLS reads cut a byte stream at arbitrary places.
pub fn chunks(data: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let size = match state % 8 {
            0 => 1,
            1..=5 => (state >> 8) as usize % 64 + 1,
            _ => (state >> 8) as usize % 4096 + 1,
        }
        .min(rest.len());
        let (head, tail) = rest.split_at(size);
        out.push(head);
        rest = tail;
    }
    out
}

/// An element with every source span removed, so trees read from different offsets compare equal.
fn without_spans(el: &Element) -> Element {
    Element {
        name: el.name.clone(),
        namespace: el.namespace.clone(),
        attributes: el.attributes.clone(),
        children: el.children.iter().map(without_spans).collect(),
        text: el.text.clone(),
        span: 0..0,
    }
}

/// Checks what must hold for any document the shared XML reader accepts: every element's span lies inside its
/// parent's and inside the source, on character boundaries, and the root's own source (`outer_xml`) reads back
/// to the same tree. Returns the document so a target can go on with its own reader.
pub fn check_document(body: &[u8]) -> Option<Document> {
    let doc = Document::parse(body).ok()?;
    fn spans(doc: &Document, el: &Element, outer: &std::ops::Range<usize>) {
        assert!(el.span.start <= el.span.end, "span {:?} runs backwards", el.span);
        assert!(outer.start <= el.span.start && el.span.end <= outer.end, "span {:?} outside {:?}", el.span, outer);
        assert!(doc.source().get(el.span.clone()).is_some(), "span {:?} not on char boundaries", el.span);
        for child in &el.children {
            spans(doc, child, &el.span);
        }
    }
    spans(&doc, &doc.root, &(0..doc.source().len()));
    let outer = doc.outer_xml(&doc.root);
    let again = Document::parse(outer.as_bytes()).expect("the root's own source must read again");
    assert_eq!(without_spans(&again.root), without_spans(&doc.root), "the root's source reads to another tree");
    Some(doc)
}

/// Formats an error or value with Display and Debug, so those code paths run too.
pub fn touch<T: std::fmt::Debug>(value: &T) {
    let _ = format!("{value:?}");
}

/// Limits no fuzz input reaches, for reading back what the serializer wrote (it may add `: ` separators and
/// a Content-Length, so a message at a limit can grow past it).
pub const ROOMY: sfbkit::sip::Limits = sfbkit::sip::Limits {
    max_line_bytes: 1 << 30,
    max_head_bytes: 1 << 30,
    max_headers: 1 << 20,
    max_body_bytes: 1 << 30,
};

/// What must survive a serialize-and-read-again round trip of a SIP message: the start line, every header but
/// Content-Length (the serializer rewrites it to the real body length) as name and exact value, and the body.
pub fn sip_comparable(m: &sfbkit::sip::Message) -> (sfbkit::sip::StartLine, Vec<(String, String)>, Vec<u8>) {
    let headers = m
        .headers
        .iter()
        .filter(|h| !h.is("Content-Length"))
        .map(|h| (h.name().to_owned(), h.raw_value().to_owned()))
        .collect();
    (m.start.clone(), headers, m.body.clone())
}
