//! A complete HTTP response as owned data: what a state machine consumes and a report quotes.

use crate::sip::Diagnostics;

/// Status, headers in arrival order, and the whole (size-limited) body.
/// `Debug` shows the status, the header names and the body's length: a body can be a web ticket (RSTR) or an
/// Org ID token, and a header a cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code (200, 401, 404, ...).
    pub status: u16,
    /// Every header in arrival order, names lower-cased (HTTP names are case-insensitive); values that are not
    /// UTF-8 are decoded lossily (they are only ever shown to people).
    pub headers: Vec<(String, String)>,
    /// The body, already bounded by the client's limit.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// A response from its parts (tests and scripted exchanges build them by hand).
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> HttpResponse {
        let headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
        HttpResponse { status, headers, body: body.into() }
    }

    /// The first value of header `name`, compared case-insensitively as HTTP requires.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` in order (a 401 carries one `WWW-Authenticate` per scheme).
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` header as sent, parameters included.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The media type without parameters, lower-cased: `application/vnd.microsoft.rtc.autodiscover+xml`.
    pub fn media_type(&self) -> Option<String> {
        let value = self.content_type()?;
        let media = value.split(';').next().unwrap_or(value).trim();
        Some(media.to_ascii_lowercase())
    }

    /// The parsed `X-Ms-diagnostics` header, which Microsoft servers add to explain a refusal
    /// (`28032;reason="The web ticket is invalid."`).
    pub fn diagnostics(&self) -> Option<Diagnostics> {
        self.header("x-ms-diagnostics").and_then(Diagnostics::parse)
    }

    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_case_insensitively_and_repeat_in_order() {
        let r = HttpResponse::new(
            401,
            &[
                ("WWW-Authenticate", "Bearer trusted_issuers=\"x\""),
                ("Content-Type", "Application/JSON; charset=utf-8"),
                ("www-authenticate", "MsRtcOAuth href=\"https://a/WebTicket/oauthtoken\""),
                ("X-Ms-diagnostics", "28032;source=\"pool\";reason=\"The web ticket is invalid.\""),
            ],
            "",
        );
        assert_eq!(r.header("www-authenticate"), Some("Bearer trusted_issuers=\"x\""));
        assert_eq!(r.header_values("WWW-AUTHENTICATE").count(), 2);
        assert_eq!(r.media_type().as_deref(), Some("application/json"));
        assert_eq!(r.diagnostics().map(|d| d.code), Some(28032));
        assert_eq!(r.header("missing"), None);
        assert!(!r.is_success());
    }
}
