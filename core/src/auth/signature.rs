//! The [MS-SIPAE] signature buffer and the headers that carry signatures.
//!
//! Once a security association (SA) exists, every SIP message is signed over a *signature
//! buffer*: selected values of the message, each wrapped in `<…>` and concatenated, taken
//! exactly as they appear on the wire ([MS-SIP] 3.1.4.2 for versions 1–2, [MS-SIPAE] 3.2.5.2
//! for version 3 and later; REFERENCE §4.4, CLIENT-NOTES §5.3). Terms:
//! - *crand*/*cnum*: the client's per-message salt (8 hex digits) and sequence number;
//!   *srand*/*snum* the server's. They are the `rand`/`num` of [`BufferParams`].
//! - *response* / *rspauth*: the client's / server's signature, in `Authorization` /
//!   `Proxy-Authorization` resp. `Authentication-Info` / `Proxy-Authentication-Info`.
//! - *opaque*: the server's SA identifier, echoed by the client; *targetname*: the server FQDN
//!   (NTLM, TLS-DSK) or SPN (Kerberos); *realm*: normally `SIP Communications Service`.
//!
//! The scheme-specific MAC (NTLM, Kerberos, TLS-DSK) is applied to the buffer elsewhere.

use thiserror::Error;

use crate::sip::{AuthHeader, Message, ParseError, split_commas};

/// Values that do not come from the message itself: the SA and the per-message salt/number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferParams {
    /// `NTLM`, `Kerberos` or `TLS-DSK`, as in the header.
    pub scheme: String,
    /// crand (outgoing) or srand (incoming), as written.
    pub rand: String,
    /// cnum or snum, as written.
    pub num: String,
    /// The SA's realm.
    pub realm: String,
    /// The SA's targetname.
    pub targetname: String,
    /// The protocol version the server announced (absent = 1 or 2); ≥3 adds To-URI and PAI.
    pub version: u32,
}

/// Why a signature buffer could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// A header every signed message needs is absent.
    #[error("cannot sign: the message has no {0} header")]
    MissingHeader(&'static str),
    /// The CSeq header is not `number method`.
    #[error("cannot sign: malformed CSeq header")]
    BadCSeq,
    /// A request without a method, or other start-line problem.
    #[error("cannot sign: {0}")]
    Sip(#[from] ParseError),
}

/// Builds the signature buffer of `msg` for the SA described by `params`.
pub fn signature_buffer(msg: &Message, params: &BufferParams) -> Result<String, SignatureError> {
    let call_id = msg.header("Call-ID").ok_or(SignatureError::MissingHeader("Call-ID"))?.trim();
    let cseq = msg.header("CSeq").ok_or(SignatureError::MissingHeader("CSeq"))?;
    let mut parts = cseq.split_whitespace();
    let (cseq_num, cseq_method) = match (parts.next(), parts.next()) {
        (Some(n), Some(m)) => (n, m),
        _ => return Err(SignatureError::BadCSeq),
    };
    let method = match msg.method() {
        Some(m) => m.as_str(),
        None => cseq_method,
    };
    let from = msg.header("From").ok_or(SignatureError::MissingHeader("From"))?;
    let to = msg.header("To").ok_or(SignatureError::MissingHeader("To"))?;
    let (from_uri, from_tag) = uri_and_tag(from);
    let (to_uri, to_tag) = uri_and_tag(to);
    let expires = msg.header("Expires").map(str::trim).unwrap_or("");

    let mut fields: Vec<&str> = vec![
        &params.scheme,
        &params.rand,
        &params.num,
        &params.realm,
        &params.targetname,
        call_id,
        cseq_num,
        method,
        from_uri,
        from_tag,
    ];
    let (pai_sip, pai_tel);
    if params.version >= 3 {
        (pai_sip, pai_tel) = asserted_identity(msg);
        fields.extend([to_uri, to_tag, pai_sip, pai_tel, expires]);
    } else {
        fields.extend([to_tag, expires]);
    }
    let status = msg.status().map(|s| s.to_string());
    if let Some(s) = &status {
        fields.push(s);
    }
    let mut out = String::with_capacity(fields.iter().map(|f| f.len() + 2).sum());
    for f in fields {
        out.push('<');
        out.push_str(f);
        out.push('>');
    }
    Ok(out)
}

/// The URI of a From/To value as written (inside `<…>`, else up to the first `;`) and its tag
/// (empty when absent). Quoted display names may contain `<`, so they are skipped first.
fn uri_and_tag(value: &str) -> (&str, &str) {
    let value = value.trim();
    let after_display = skip_quoted(value);
    let (uri, params) = match after_display.find('<') {
        Some(open) => {
            let rest = &after_display[open + 1..];
            match rest.find('>') {
                Some(close) => (&rest[..close], &rest[close + 1..]),
                None => (rest, ""),
            }
        }
        None => match value.find(';') {
            Some(semi) => (&value[..semi], &value[semi..]),
            None => (value, ""),
        },
    };
    let tag = params
        .split(';')
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("tag"))
        .map(|(_, v)| v.trim())
        .unwrap_or("");
    (uri.trim(), tag)
}

/// The rest of `value` after a leading quoted string (with `\` escapes), or `value` itself.
fn skip_quoted(value: &str) -> &str {
    let Some(inner) = value.strip_prefix('"') else { return value };
    let mut escaped = false;
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return &inner[i + 1..],
            _ => {}
        }
    }
    value
}

/// The first sip/sips and tel URI of P-Asserted-Identity, else of P-Preferred-Identity.
fn asserted_identity(msg: &Message) -> (&str, &str) {
    let Some(value) = msg.header("P-Asserted-Identity").or_else(|| msg.header("P-Preferred-Identity")) else {
        return ("", "");
    };
    let (mut sip, mut tel) = ("", "");
    for part in split_commas(value) {
        let part = part.trim();
        let uri = match skip_quoted(part).find('<') {
            Some(_) => uri_and_tag(part).0,
            None => part.split(';').next().unwrap_or("").trim(),
        };
        let scheme = uri.split(':').next().unwrap_or("");
        if sip.is_empty() && (scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
            sip = uri;
        } else if tel.is_empty() && scheme.eq_ignore_ascii_case("tel") {
            tel = uri;
        }
    }
    (sip, tel)
}

/// The signature part of a signed `Authorization`/`Proxy-Authorization`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedParams {
    /// crand (8 hex digits).
    pub crand: String,
    /// cnum.
    pub cnum: u32,
    /// The signature as hex.
    pub response: String,
}

/// What goes in an `Authorization`/`Proxy-Authorization` header (CLIENT-NOTES §5.2). `Debug` shows the length
/// of `gssapi_data` only: on NTLM's final leg it is the AUTHENTICATE_MESSAGE (an offline-guessable proof of the
/// password), on TLS-DSK's the client's handshake flight.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationParams {
    /// `NTLM`, `Kerberos`, `TLS-DSK`.
    pub scheme: String,
    /// The server's SA id; `None` until the server sent one (first handshake leg).
    pub opaque: Option<String>,
    /// The realm from the challenge.
    pub realm: String,
    /// The targetname from the challenge.
    pub targetname: String,
    /// Handshake token (base64; `Some("")` on NTLM's first leg); `None` once the SA is ready.
    pub gssapi_data: Option<String>,
    /// Echo of the server's version; set only when it announced a version above 2.
    pub version: Option<u32>,
    /// The message signature, when this message is signed.
    pub signed: Option<SignedParams>,
}

impl std::fmt::Debug for AuthorizationParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationParams")
            .field("scheme", &self.scheme)
            .field("opaque", &self.opaque)
            .field("realm", &self.realm)
            .field("targetname", &self.targetname)
            .field("gssapi_data_len", &self.gssapi_data.as_ref().map(String::len))
            .field("version", &self.version)
            .field("signed", &self.signed)
            .finish()
    }
}

/// Formats the header value in SIPE's parameter order:
/// `NTLM qop="auth", opaque="…", realm="…", targetname="…", gssapi-data="…", version=4,
/// crand="…", cnum="…", response="…"` (absent parts omitted). Values come from the server's challenge, so each
/// is written as a quoted string with `"` and `\` escaped (RFC 3261 quoted-pair): a realm holding a quote
/// must not end the parameter early (found by fuzzing, fuzz/regressions/auth_header).
pub fn credentials_header(p: &AuthorizationParams) -> String {
    let mut out = format!("{} qop=\"auth\"", p.scheme);
    if let Some(o) = &p.opaque {
        out.push_str(&format!(", opaque={}", quoted(o)));
    }
    out.push_str(&format!(", realm={}, targetname={}", quoted(&p.realm), quoted(&p.targetname)));
    if let Some(g) = &p.gssapi_data {
        out.push_str(&format!(", gssapi-data={}", quoted(g)));
    }
    if let Some(v) = p.version {
        out.push_str(&format!(", version={v}"));
    }
    if let Some(s) = &p.signed {
        out.push_str(&format!(", crand={}, cnum=\"{}\", response={}", quoted(&s.crand), s.cnum, quoted(&s.response)));
    }
    out
}

/// `value` as a quoted string, `"` and `\` escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A server signature read from `Authentication-Info` / `Proxy-Authentication-Info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSignature {
    /// Scheme token as written.
    pub scheme: String,
    /// srand as written.
    pub srand: String,
    /// snum as written.
    pub snum: String,
    /// The signature (hex).
    pub rspauth: String,
    /// realm.
    pub realm: String,
    /// targetname.
    pub targetname: String,
    /// opaque, when present.
    pub opaque: Option<String>,
}

impl ServerSignature {
    /// The buffer parameters to verify this signature with.
    pub fn buffer_params(&self, version: u32) -> BufferParams {
        BufferParams {
            scheme: self.scheme.clone(),
            rand: self.srand.clone(),
            num: self.snum.clone(),
            realm: self.realm.clone(),
            targetname: self.targetname.clone(),
            version,
        }
    }
}

/// Reads the server signature of an incoming message: the first `Authentication-Info` or
/// `Proxy-Authentication-Info` carrying `rspauth`. `None` when the message is unsigned or the
/// header is unreadable (the caller then applies the unsigned-message policy, CLIENT-NOTES §5.4).
pub fn read_server_signature(msg: &Message) -> Option<ServerSignature> {
    ["Authentication-Info", "Proxy-Authentication-Info"]
        .into_iter()
        .find_map(|name| read_server_signature_in(msg, name))
}

/// Reads the server signature from one header only: `Authentication-Info` for a registrar's
/// association, `Proxy-Authentication-Info` for a proxy's (never `Proxy-Authenticate`: taking the
/// values from the challenge was pidgin-sipe bug #190, CLIENT-NOTES.md §5.3).
pub fn read_server_signature_in(msg: &Message, name: &str) -> Option<ServerSignature> {
    msg.headers.get_all(name).find_map(|h| {
        let a = AuthHeader::parse(name, h.value()).ok()?;
        let get = |n: &str| a.param(n).map(|v| v.into_owned());
        Some(ServerSignature {
            rspauth: get("rspauth")?,
            srand: get("srand").unwrap_or_default(),
            snum: get("snum").unwrap_or_default(),
            realm: get("realm").unwrap_or_default(),
            targetname: get("targetname").unwrap_or_default(),
            opaque: get("opaque"),
            scheme: a.scheme.clone(),
        })
    })
}

/// Reads the client signature of a signed request (for the lab pool's registrar): the first
/// `Authorization` or `Proxy-Authorization` carrying `response`, as buffer parameters plus the
/// signature hex. `version` is the SA's version.
pub fn read_client_signature(msg: &Message, version: u32) -> Option<(BufferParams, String)> {
    ["Authorization", "Proxy-Authorization"].into_iter().find_map(|name| {
        msg.headers.get_all(name).find_map(|h| {
            let a = AuthHeader::parse(name, h.value()).ok()?;
            let get = |n: &str| a.param(n).map(|v| v.into_owned());
            let params = BufferParams {
                scheme: a.scheme.clone(),
                rand: get("crand").unwrap_or_default(),
                num: get("cnum").unwrap_or_default(),
                realm: get("realm").unwrap_or_default(),
                targetname: get("targetname").unwrap_or_default(),
                version,
            };
            Some((params, get("response")?))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_message};

    fn msg(lines: &[&str]) -> Message {
        let text = format!("{}\r\n\r\n", lines.join("\r\n"));
        parse_message(text.as_bytes(), &Limits::default()).unwrap().message
    }

    /// The handshake token (an NTLM AUTHENTICATE_MESSAGE here) is not printed, in any form.
    #[test]
    fn the_handshake_token_stays_out_of_debug() {
        let token = "TlRMTVNTUAADAAAAGAAYAHAAAAD8APwAiAAAAA4ADgBYAAAACAAIAGYAAAAKAAoAbgAAABAAEACEAQAA";
        let p = AuthorizationParams {
            scheme: "NTLM".into(),
            opaque: Some("7a2c1e4d".into()),
            realm: "SIP Communications Service".into(),
            targetname: "pool01.contoso.lab".into(),
            gssapi_data: Some(token.into()),
            version: Some(4),
            signed: None,
        };
        let debug = format!("{p:?}");
        assert!(debug.contains("pool01.contoso.lab") && debug.contains(&token.len().to_string()), "{debug}");
        crate::auth::secret_tests::assert_redacted(&debug, token.as_bytes());
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(token).unwrap();
        crate::auth::secret_tests::assert_redacted(&debug, &bytes);
    }

    #[test]
    fn uri_and_tag_forms() {
        assert_eq!(uri_and_tag("\"User\"<sip:user@cosmo.local>;tag=3e49;epid=c8"), ("sip:user@cosmo.local", "3e49"));
        assert_eq!(uri_and_tag("sip:user@x;tag=abc"), ("sip:user@x", "abc"));
        assert_eq!(uri_and_tag("\"a <b>\" <sip:u@x>"), ("sip:u@x", ""));
        assert_eq!(uri_and_tag("<sip:u@x>; tag=9 ;epid=1"), ("sip:u@x", "9"));
    }

    #[test]
    fn v3_buffer_with_pai_and_v2_without() {
        let m = msg(&[
            "SIP/2.0 200 OK",
            "Via: SIP/2.0/TLS 10.0.0.1:5061",
            "From: <sip:a@x>;tag=1",
            "To: sip:b@x;tag=2",
            "Call-ID: c",
            "CSeq: 7 SUBSCRIBE",
            "P-Asserted-Identity: \"B\" <SIP:b@x>, <tel:+123>",
            "Content-Length: 0",
        ]);
        let mut p = BufferParams {
            scheme: "Kerberos".into(),
            rand: "r".into(),
            num: "9".into(),
            realm: "SIP Communications Service".into(),
            targetname: "sip/fe".into(),
            version: 4,
        };
        assert_eq!(
            signature_buffer(&m, &p).unwrap(),
            "<Kerberos><r><9><SIP Communications Service><sip/fe><c><7><SUBSCRIBE><sip:a@x><1><sip:b@x><2><SIP:b@x><tel:+123><><200>"
        );
        p.version = 2;
        assert_eq!(
            signature_buffer(&m, &p).unwrap(),
            "<Kerberos><r><9><SIP Communications Service><sip/fe><c><7><SUBSCRIBE><sip:a@x><1><2><><200>"
        );
    }

    #[test]
    fn headers_format_and_read_back() {
        let mut p = AuthorizationParams {
            scheme: "NTLM".into(),
            opaque: None,
            realm: "SIP Communications Service".into(),
            targetname: "fe.x".into(),
            gssapi_data: Some(String::new()),
            version: Some(4),
            signed: None,
        };
        assert_eq!(
            credentials_header(&p),
            r#"NTLM qop="auth", realm="SIP Communications Service", targetname="fe.x", gssapi-data="", version=4"#
        );
        p.opaque = Some("2BDBAC9D".into());
        p.gssapi_data = None;
        p.version = None;
        p.signed = Some(SignedParams { crand: "13317733".into(), cnum: 1, response: "0100".into() });
        let h = credentials_header(&p);
        assert_eq!(
            h,
            r#"NTLM qop="auth", opaque="2BDBAC9D", realm="SIP Communications Service", targetname="fe.x", crand="13317733", cnum="1", response="0100""#
        );
        let m = Message::request(crate::sip::Method::Register, crate::sip::Uri::parse("sip:x").unwrap())
            .with_header("Authorization", &h);
        let (bp, response) = read_client_signature(&m, 4).unwrap();
        assert_eq!((bp.rand.as_str(), bp.num.as_str(), response.as_str()), ("13317733", "1", "0100"));
        assert!(read_server_signature(&m).is_none());
    }

    #[test]
    fn values_with_quotes_are_escaped() {
        // fuzz/regressions/auth_header/quote-in-realm, as the fuzzer found it: the realm `Contoso RTC Serv"e
        // Provider` (sent as `\"`) ended the quoted string early and our Authorization header did not parse.
        let value = br#"NTLM realm="Contoso RTC Serv\"e Provider", targetname="hs1.contoso.com", qop="auth", opaque="ACDC123", srand="3453453", snum=1, rspauth="23423acfdee2""#;
        let challenge = crate::sip::AuthHeader::parse("WWW-Authenticate", std::str::from_utf8(value).unwrap()).unwrap();
        let realm = challenge.param("realm").unwrap().into_owned();
        assert_eq!(realm, r#"Contoso RTC Serv"e Provider"#);
        let p = AuthorizationParams {
            scheme: "NTLM".into(),
            opaque: None,
            realm: realm.clone(),
            targetname: r"back\slash".into(),
            gssapi_data: Some(String::new()),
            version: Some(4),
            signed: None,
        };
        let h = credentials_header(&p);
        assert_eq!(
            h,
            r#"NTLM qop="auth", realm="Contoso RTC Serv\"e Provider", targetname="back\\slash", gssapi-data="", version=4"#
        );
        let read = crate::sip::AuthHeader::parse("Authorization", &h).unwrap();
        assert_eq!(read.param("realm").as_deref(), Some(realm.as_str()));
        assert_eq!(read.param("targetname").as_deref(), Some(r"back\slash"));
    }
}
