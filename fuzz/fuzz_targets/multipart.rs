//! The `multipart/related` reader batched presence notifications come in (`presence::parse_multipart`).
//!
//! Input: the boundary (up to the first CR or LF), then the body.
//!
//! Invariant: the parts read, written back as a multipart body with the same boundary (CRLF line breaks, one
//! `name: value` line per header, no preamble or epilogue), read back to the same parts, whenever no part's
//! text contains the delimiter itself (a body that does would be cut there, by design).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::presence::{Part, parse_multipart};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn written_back(parts: &[Part], boundary: &str) -> Option<Vec<u8>> {
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for p in parts {
        let mut part = Vec::new();
        for (name, value) in &p.headers {
            part.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        part.extend_from_slice(b"\r\n");
        part.extend_from_slice(&p.body);
        if contains(&part, delimiter.as_bytes()) {
            return None;
        }
        out.extend_from_slice(delimiter.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(delimiter.as_bytes());
    out.extend_from_slice(b"--\r\n");
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let end = data.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(data.len());
    let Ok(boundary) = std::str::from_utf8(&data[..end]) else { return };
    let body = &data[end..];
    let Ok(parts) = parse_multipart(body, boundary) else { return };
    for p in &parts {
        let _ = p.media_type();
    }
    // A header whose name is empty or starts with whitespace would not read back as one header line.
    if parts.iter().any(|p| p.headers.iter().any(|(n, _)| n.is_empty() || n.starts_with([' ', '\t']))) {
        return;
    }
    if let Some(text) = written_back(&parts, boundary) {
        assert_eq!(
            parse_multipart(&text, boundary).as_ref(),
            Ok(&parts),
            "written back as {:?}",
            String::from_utf8_lossy(&text)
        );
    }
});
