//! A small bounded `multipart/related` reader for batched presence notifications (RFC 2046 5.1, RFC 2387).
//!
//! The body is split at delimiter lines `--boundary`; each part is header lines, an empty line, then the part's
//! body; `--boundary--` closes the list and anything after it (the epilogue) or before the first delimiter (the
//! preamble) is ignored. Line breaks are CRLF on the wire; bare LF is accepted too because some proxies and test
//! tools rewrite them. Part headers are unfolded and kept as (name, value) pairs. At most [`MAX_PARTS`] parts are
//! read; the body itself is already bounded by the SIP layer's body limit, and parts borrow nothing from it.

use super::PresenceError;

/// The most parts one notification may carry: an RLMI list plus one document per contact of a full contact
/// list (1,000 by default on Skype for Business Server), with room to spare.
pub const MAX_PARTS: usize = 4096;

/// One body part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Header fields as (name, value), in order, values trimmed and unfolded.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    /// The value of the first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The part's media type, lower case, without parameters (RFC 2046 default `text/plain`).
    pub fn media_type(&self) -> String {
        self.header("Content-Type").map_or_else(|| "text/plain".to_owned(), media_type)
    }
}

/// The media type of a Content-Type value, lower case, without parameters.
pub(crate) fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// The value of parameter `name` of a Content-Type value, unquoted (`boundary=...`, `type="..."`).
pub(crate) fn content_type_param(content_type: &str, name: &str) -> Option<String> {
    // Split at the `;` that are outside quoted strings.
    let mut segments = Vec::new();
    let (mut quoted, mut begin) = (false, 0);
    for (i, c) in content_type.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                segments.push(&content_type[begin..i]);
                begin = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&content_type[begin..]);
    segments.into_iter().skip(1).find_map(|segment| {
        let (key, value) = segment.split_once('=')?;
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        key.trim().eq_ignore_ascii_case(name).then(|| value.to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// Finds the next delimiter line at or after `from`: `--boundary` at the start of the body or right after a LF.
/// Returns (start of the line break before it, index just after the delimiter).
fn next_delimiter(body: &[u8], delimiter: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    loop {
        let pos = find(body, delimiter, at)?;
        if pos == 0 {
            return Some((0, delimiter.len()));
        }
        if body.get(pos - 1) == Some(&b'\n') {
            let line_break = if pos >= 2 && body.get(pos - 2) == Some(&b'\r') { pos - 2 } else { pos - 1 };
            return Some((line_break.max(from), pos + delimiter.len()));
        }
        at = pos + 1;
    }
}

/// Splits a multipart body at `boundary` (the Content-Type's `boundary` parameter).
pub fn parse_multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, PresenceError> {
    // RFC 2046: 1 to 70 characters.
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(PresenceError::Multipart {
            reason: "the boundary parameter is empty or longer than 70 characters",
        });
    }
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let (_, mut cursor) = next_delimiter(body, delimiter, 0)
        .ok_or(PresenceError::Multipart { reason: "no boundary line in the body" })?;
    let mut parts = Vec::new();
    loop {
        if body.get(cursor..cursor + 2) == Some(b"--") {
            return Ok(parts);
        }
        // Skip transport padding up to the end of the delimiter line.
        let line_end = find(body, b"\n", cursor)
            .ok_or(PresenceError::Multipart { reason: "the body ends right after a boundary line" })?;
        let start = line_end + 1;
        let (end, next) = next_delimiter(body, delimiter, start)
            .ok_or(PresenceError::Multipart { reason: "the closing boundary line is missing" })?;
        if parts.len() == MAX_PARTS {
            return Err(PresenceError::TooManyParts(MAX_PARTS));
        }
        parts.push(parse_part(body.get(start..end).unwrap_or_default())?);
        cursor = next;
    }
}

fn parse_part(raw: &[u8]) -> Result<Part, PresenceError> {
    // Headers end at the first empty line; a part starting with an empty line has none.
    let (head, body) = if raw.starts_with(b"\r\n") {
        (&raw[..0], &raw[2..])
    } else if raw.starts_with(b"\n") {
        (&raw[..0], &raw[1..])
    } else {
        match (find(raw, b"\r\n\r\n", 0), find(raw, b"\n\n", 0)) {
            (Some(crlf), Some(lf)) if lf < crlf => (&raw[..lf], &raw[lf + 2..]),
            (Some(crlf), _) => (&raw[..crlf], &raw[crlf + 4..]),
            (None, Some(lf)) => (&raw[..lf], &raw[lf + 2..]),
            (None, None) => {
                return Err(PresenceError::Multipart { reason: "a part has no empty line after its headers" });
            }
        }
    };
    let head =
        std::str::from_utf8(head).map_err(|_| PresenceError::Multipart { reason: "part headers are not UTF-8" })?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            let Some((_, value)) = headers.last_mut() else {
                return Err(PresenceError::Multipart { reason: "a part starts with a continuation line" });
            };
            // Values are kept trimmed: a first line with no value or a blank continuation adds no space.
            let more = line.trim();
            if !more.is_empty() {
                if !value.is_empty() {
                    value.push(' ');
                }
                value.push_str(more);
            }
            continue;
        }
        let (name, value) =
            line.split_once(':').ok_or(PresenceError::Multipart { reason: "a part header line has no colon" })?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(Part { headers, body: body.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_type_parameters() {
        let ct = "multipart/related; type=\"application/rlmi+xml\";start=resourceList; boundary=e7904a528704417c9a90297d24081f8e";
        assert_eq!(media_type(ct), "multipart/related");
        assert_eq!(content_type_param(ct, "type").as_deref(), Some("application/rlmi+xml"));
        assert_eq!(content_type_param(ct, "start").as_deref(), Some("resourceList"));
        assert_eq!(content_type_param(ct, "Boundary").as_deref(), Some("e7904a528704417c9a90297d24081f8e"));
        assert_eq!(content_type_param("multipart/related; boundary=\"a;b\"; x=1", "boundary").as_deref(), Some("a;b"));
        assert_eq!(content_type_param("multipart/related; boundary=\"a;b\"; x=1", "x").as_deref(), Some("1"));
        assert_eq!(content_type_param("multipart/related", "boundary"), None);
        assert_eq!(content_type_param("multipart/related; odd; boundary=z", "boundary").as_deref(), Some("z"));
    }

    #[test]
    fn splits_parts_with_preamble_epilogue_and_folded_headers() {
        let body = b"preamble\r\n--b1\r\nContent-Type: text/a\r\nX-Long: one\r\n two\r\n\r\nfirst\r\nline\r\n--b1  \r\n\r\nno headers\r\n--b1--\r\nepilogue";
        let parts = parse_multipart(body, "b1").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].header("content-type"), Some("text/a"));
        assert_eq!(parts[0].header("X-LONG"), Some("one two"));
        assert_eq!(parts[0].body, b"first\r\nline");
        assert_eq!(parts[1].headers, vec![]);
        assert_eq!(parts[1].media_type(), "text/plain");
        assert_eq!(parts[1].body, b"no headers");
    }

    #[test]
    fn folded_values_stay_trimmed() {
        // fuzz/regressions/multipart/folded-empty-first-line, as the fuzzer found it: the value read " t".
        // The target reads the boundary up to the first line break: "b1", then this body.
        let body = b"\r\n--b1\r\nContent-Type:\n t  \r\n\r\nno headers\r\n--b1--\r\nepilogue";
        let parts = parse_multipart(body, "b1").unwrap();
        assert_eq!(parts[0].headers, vec![("Content-Type".to_owned(), "t".to_owned())]);
        let parts = parse_multipart(b"--b\r\nA: x\r\n \r\n\r\nbody\r\n--b--", "b").unwrap();
        assert_eq!(parts[0].header("a"), Some("x"));
    }

    #[test]
    fn ignores_boundary_text_inside_a_line_and_accepts_bare_lf() {
        let body = b"--b\nContent-Type: t\n\nsee --b here\n--b--\n";
        let parts = parse_multipart(body, "b").unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].body, b"see --b here");
    }

    #[test]
    fn refuses_malformed_bodies() {
        let err = |body: &[u8], boundary: &str| parse_multipart(body, boundary).unwrap_err();
        assert!(matches!(err(b"no delimiter", "b"), PresenceError::Multipart { .. }));
        assert!(matches!(err(b"--b\r\nA: 1\r\n\r\nbody without end", "b"), PresenceError::Multipart { .. }));
        assert!(matches!(err(b"--b\r\nno colon\r\n\r\nx\r\n--b--", "b"), PresenceError::Multipart { .. }));
        assert!(matches!(err(b"--b", "b"), PresenceError::Multipart { .. }));
        assert!(matches!(err(b"x", ""), PresenceError::Multipart { .. }));
        let many = "--b\r\n\r\nx\r\n".repeat(MAX_PARTS + 1) + "--b--";
        assert_eq!(parse_multipart(many.as_bytes(), "b"), Err(PresenceError::TooManyParts(MAX_PARTS)));
    }
}
