//! What went over the wire, for a trace people read: every SIP message and every HTTP request and response of a
//! client, handed to the application's [`WireObserver`] ([`crate::ClientBuilder::wire_observer`]) as it is sent
//! or received, **with its secrets already redacted**: the observer never sees a password, an NTLM, Kerberos or
//! TLS-DSK token (`gssapi-data`, `Authorization`), a signature, a web ticket or a SAML assertion. `sfbkit signin
//! --trace FILE` writes these records in the layout of the Microsoft client's `.UccApilog` files
//! (docs/uccapilog-format.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Direction {
    Sent,
    Received,
}

/// What kind of message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    /// SIP over TLS, to and from the registrar.
    Sip,
    /// HTTP(S): autodiscover, the Web Ticket Service, certificate provisioning.
    Http,
}

/// One message, redacted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WireRecord {
    pub at: SystemTime,
    pub direction: Direction,
    pub protocol: Protocol,
    /// This end's address, when the connection has one (TLS connections do).
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// The server's name: the registrar's FQDN, or the URL's host.
    pub host: String,
    /// HTTP: the method (requests) or the status (responses) and the URL; SIP: the start line.
    pub summary: String,
    /// The message as sent or received, with secrets replaced by `<redacted>`.
    pub text: String,
}

/// Receives each message a client sends or receives. Called on the client's threads, in order per connection:
/// keep it quick (append to a buffer or a file).
pub trait WireObserver: Send + Sync {
    fn record(&self, record: WireRecord);
}

/// Most of one message's body a trace keeps (the rest is counted, not shown).
const MAX_BODY: usize = 64 * 1024;

/// The client's observer, or none (then nothing is formatted or redacted at all), and the fleet counters it
/// adds to, if any ([`crate::fleet`]; only response codes, nothing is formatted for them).
#[derive(Clone, Default)]
pub(crate) struct Tap {
    observer: Option<Arc<dyn WireObserver>>,
    meter: Option<Arc<crate::fleet::FleetCounters>>,
}

impl Tap {
    /// The tap of a client configured with `config`.
    pub(crate) fn of(config: &crate::ClientBuilder) -> Tap {
        Tap { observer: config.wire_observer.clone(), meter: config.meter.clone() }
    }

    /// Whether someone reads the messages (then they are formatted and redacted for it).
    pub(crate) fn is_on(&self) -> bool {
        self.observer.is_some()
    }

    /// A parsed SIP message received: a response is counted in the fleet counters.
    pub(crate) fn sip_received(&self, message: &crate::sip::Message) {
        if let Some(meter) = &self.meter {
            meter.sip_response(message);
        }
    }

    /// An HTTP response received: counted in the fleet counters.
    pub(crate) fn http_status(&self, method: &str, path_and_query: &str, status: u16) {
        if let Some(meter) = &self.meter {
            meter.http_response(method, path_and_query, status);
        }
    }

    /// A SIP message (or, sent, a keep-alive CRLF, which is not recorded).
    pub(crate) fn sip(&self, direction: Direction, local: SocketAddr, remote: SocketAddr, host: &str, bytes: &[u8]) {
        let Some(observer) = &self.observer else { return };
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        let text = redact_sip(&printable(bytes));
        let summary = text.lines().next().unwrap_or_default().to_string();
        observer.record(WireRecord {
            at: SystemTime::now(),
            direction,
            protocol: Protocol::Sip,
            local: Some(local),
            remote: Some(remote),
            host: host.to_string(),
            summary,
            text,
        });
    }

    /// An HTTP request or response: its start line, headers and body.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn http(
        &self,
        direction: Direction,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        host: &str,
        summary: String,
        start_line: &str,
        headers: &mut dyn Iterator<Item = (String, String)>,
        body: &[u8],
    ) {
        let Some(observer) = &self.observer else { return };
        let mut head = format!("{start_line}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut text = redact_http_headers(&head);
        text.push_str("\r\n");
        text.push_str(&redact_xml(&printable(body)));
        observer.record(WireRecord {
            at: SystemTime::now(),
            direction,
            protocol: Protocol::Http,
            local,
            remote: Some(remote),
            host: host.to_string(),
            summary,
            text,
        });
    }
}

/// Text for the trace: UTF-8 as is (invalid sequences replaced), at most [`MAX_BODY`] bytes of it, binary data
/// counted instead of shown.
fn printable(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(MAX_BODY)];
    let text = String::from_utf8_lossy(shown);
    let controls = text.chars().filter(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t')).count();
    if controls > text.len() / 10 + 1 {
        return format!("[{} bytes of binary data]", bytes.len());
    }
    let mut text = text.into_owned();
    if bytes.len() > MAX_BODY {
        text.push_str(&format!("\r\n[... {} more bytes not shown]", bytes.len() - MAX_BODY));
    }
    text
}

/// SIP headers whose parameters can hold tokens or signatures.
const SIP_AUTH_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
    "authentication-info",
    "proxy-authentication-info",
];

/// Redacts a SIP message: in the authentication headers, every `gssapi-data` (NTLM, Kerberos, TLS-DSK tokens)
/// and `response` (signatures) value becomes `"<redacted>"`; an empty `gssapi-data=""` stays, since it shows a
/// leg that carried nothing. The rest of the message, headers and body, is kept as it is.
pub fn redact_sip(message: &str) -> String {
    let (head, body) = match message.find("\r\n\r\n") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let mut out = String::with_capacity(message.len());
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let name = line.split(':').next().unwrap_or_default().trim().to_ascii_lowercase();
        if SIP_AUTH_HEADERS.contains(&name.as_str()) {
            out.push_str(&redact_params(line, &["gssapi-data", "response"]));
        } else {
            out.push_str(line);
        }
    }
    out.push_str(body);
    out
}

/// The parameters named in `names`, their values replaced by `"<redacted>"` (a quoted string keeps the header
/// valid SIP for Snooper); an empty `""` stays, since it shows a leg that carried nothing.
fn redact_params(line: &str, names: &[&str]) -> String {
    crate::sip::redact_params(
        line,
        names,
        |token| if token.is_empty() { "\"\"".into() } else { "\"<redacted>\"".into() },
    )
}

/// HTTP headers that carry credentials, and how much of them stays: the scheme word of an authorization.
fn redact_http_headers(head: &str) -> String {
    let mut out = String::with_capacity(head.len());
    for line in head.split_inclusive("\r\n") {
        let (content, end) = match line.strip_suffix("\r\n") {
            Some(c) => (c, "\r\n"),
            None => (line, ""),
        };
        let Some((name, value)) = content.split_once(':') else {
            out.push_str(line);
            continue;
        };
        let lower = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let redacted = match lower.as_str() {
            "authorization" | "proxy-authorization" | "www-authenticate" | "proxy-authenticate" => {
                // `NTLM TlRMTVNT...`, `Negotiate YII...`, `Bearer ...`: the scheme stays, the token goes. A bare
                // scheme (an offer) has nothing to hide.
                // A token is one word (base64 may end in `=` padding); parameters are `name=value, ...`.
                let params = |rest: &str| rest.contains(',') || rest.contains("=\"");
                match value.split_once(' ') {
                    Some((scheme, rest)) if params(rest) => Some(format!(
                        "{scheme} {}",
                        redact_params(rest, &["gssapi-data", "response", "opaque", "token"])
                    )),
                    Some((scheme, token)) if !token.trim().is_empty() => Some(format!("{scheme} <redacted>")),
                    _ => None,
                }
            }
            "x-ms-webticket" | "cookie" | "set-cookie" => Some("<redacted>".to_string()),
            _ => None,
        };
        match redacted {
            Some(v) => out.push_str(&format!("{}: {v}{end}", name.trim())),
            None => out.push_str(line),
        }
    }
    out
}

/// XML elements (any namespace prefix) whose content is a secret: WS-Security passwords and tokens, proof-key
/// entropy, SAML assertions (web tickets), encrypted data.
const SECRET_ELEMENTS: &[&str] = &[
    "Password",
    "BinarySecret",
    "BinarySecurityToken",
    "UsernameToken",
    "Assertion",
    "RequestedSecurityToken",
    "RequestedProofToken",
    "CipherValue",
    "SignatureValue",
];

/// Replaces the content of every [`SECRET_ELEMENTS`] element of an XML (SOAP) body with `<redacted>`; other
/// text is kept. Works on text, without parsing: a body that is not XML passes through unchanged.
pub fn redact_xml(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..=tag_end];
        let name = tag[1..].split([' ', '>', '/', '\t', '\r', '\n']).next().unwrap_or_default();
        let local = name.rsplit(':').next().unwrap_or_default();
        out.push_str(tag);
        rest = &rest[tag_end + 1..];
        if tag.starts_with("</") || tag.ends_with("/>") || !SECRET_ELEMENTS.contains(&local) {
            continue;
        }
        let close = format!("</{name}>");
        match rest.find(&close) {
            Some(end) => {
                out.push_str("<redacted>");
                out.push_str(&close);
                rest = &rest[end + close.len()..];
            }
            None => {
                // Cut off (a body over the trace's limit): nothing after the opening tag is shown.
                out.push_str("<redacted>");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_tokens_and_signatures_are_redacted_and_the_rest_kept() {
        let register = "REGISTER sip:contoso.com SIP/2.0\r\n\
            Via: SIP/2.0/TLS 192.0.2.1:5061\r\n\
            Authorization: NTLM qop=\"auth\", realm=\"SIP Communications Service\", opaque=\"A1B2\", \
            targetname=\"pool01.contoso.com\", gssapi-data=\"TlRMTVNTUAADAAAAGAAY\", crand=\"1\", cnum=\"2\", \
            response=\"0100000032\"\r\n\
            Proxy-Authorization: TLS-DSK realm=\"SIP Communications Service\", gssapi-data=\"\"\r\n\
            Content-Length: 4\r\n\r\nbody";
        let out = redact_sip(register);
        assert!(!out.contains("TlRMTVNT") && !out.contains("0100000032"), "{out}");
        assert!(out.contains("gssapi-data=\"<redacted>\"") && out.contains("response=\"<redacted>\""), "{out}");
        assert!(out.contains("gssapi-data=\"\"\r\n"), "an empty token shows as empty: {out}");
        assert!(out.contains("opaque=\"A1B2\"") && out.contains("crand=\"1\"") && out.ends_with("\r\n\r\nbody"));
        assert!(out.starts_with("REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061\r\n"));
        let challenge =
            "SIP/2.0 401 Unauthorized\r\nWWW-Authenticate: NTLM realm=\"x\", gssapi-data=TlRMTVNTUAAC\r\n\r\n";
        assert!(!redact_sip(challenge).contains("TlRMTVNTUAAC"));
    }

    #[test]
    fn http_credentials_and_soap_secrets_are_redacted() {
        let head = "POST /WebTicket/WebTicketService.svc/Auth HTTP/1.1\r\nauthorization: NTLM TlRMTVNTUAADAAAAGA==\r\n\
                    WWW-Authenticate: Negotiate\r\nX-MS-WebTicket: opaque=PHNhbWw6QXNzZXJ0aW9u\r\n\
                    Cookie: session=abc\r\nContent-Type: text/xml\r\n";
        let out = redact_http_headers(head);
        assert!(out.contains("authorization: NTLM <redacted>\r\n") && out.contains("WWW-Authenticate: Negotiate\r\n"));
        assert!(out.contains("X-MS-WebTicket: <redacted>\r\n") && out.contains("Cookie: <redacted>\r\n"), "{out}");
        assert!(!out.contains("TlRMTVNT") && !out.contains("PHNhbWw6") && out.contains("Content-Type: text/xml"));

        let soap = "<s:Envelope><s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>alice</wsse:Username>\
                    <wsse:Password Type=\"x\">Pa55-Secret</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>\
                    <s:Body><wst:Entropy><wst:BinarySecret>c2VjcmV0</wst:BinarySecret></wst:Entropy>\
                    <wst:RequestedSecurityToken><saml:Assertion ID=\"a\">ticket</saml:Assertion></wst:RequestedSecurityToken>\
                    <wst:TokenType>urn:oasis</wst:TokenType><empty/></s:Body></s:Envelope>";
        let out = redact_xml(soap);
        for secret in ["Pa55-Secret", "c2VjcmV0", "ticket", "alice"] {
            assert!(!out.contains(secret), "{secret}: {out}");
        }
        assert!(out.contains("<wst:TokenType>urn:oasis</wst:TokenType><empty/>"), "{out}");
        assert!(out.contains("<wst:BinarySecret><redacted></wst:BinarySecret>"), "{out}");
        assert_eq!(redact_xml("not xml at all"), "not xml at all");
        assert_eq!(redact_xml("<wsse:Password>cut off"), "<wsse:Password><redacted>");
    }

    #[test]
    fn binary_and_oversized_bodies_are_counted_not_shown() {
        assert_eq!(printable(&[0u8, 1, 2, 3, 4, 5, 6, 7]), "[8 bytes of binary data]");
        let big = vec![b'a'; MAX_BODY + 10];
        assert!(printable(&big).ends_with("[... 10 more bytes not shown]"));
    }
}
