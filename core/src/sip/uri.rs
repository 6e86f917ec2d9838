//! URIs: `sip:` / `sips:` (RFC 3261 §19.1, IPv6 references per RFC 5118), `tel:` (RFC 3966), and
//! any other scheme kept opaque (a UAS answers 416 for those; To/From/Contact may carry them).
//!
//! A parsed URI keeps the exact text it was parsed from, so serializing never changes it; the
//! structured parts are there to read (host, port, user, parameters) and to compare.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::ParseError;
use winnow::stream::Accumulate;

use super::grammar::Params;

/// A URI as found in a Request-URI, name-addr or addr-spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other absolute URI, kept as written.
    Other { scheme: Box<str>, raw: Box<str> },
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name (kept as written; compare case-insensitively).
    Domain(Box<str>),
    Ipv4(Ipv4Addr),
    /// Written as an IPv6 reference `[...]`.
    Ipv6(Ipv6Addr),
}

/// A `sip:` / `sips:` URI. `Debug` shows the URI with any userinfo password replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct SipUri {
    raw: Box<str>,
    secure: bool,
    user: Option<Box<str>>,
    password: Option<Box<str>>,
    host: Host,
    port: Option<u16>,
    params: Params,
    headers: Option<Box<str>>,
}

impl std::fmt::Debug for SipUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match &self.password {
            Some(p) => self.raw.replacen(&format!(":{p}@"), ":<redacted>@", 1),
            None => self.raw.to_string(),
        };
        f.debug_tuple("SipUri").field(&shown).finish()
    }
}

/// A `tel:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    raw: Box<str>,
    number: Box<str>,
    params: Params,
}

/// `s.split_once(b)` for an ASCII byte: URIs are split this way several times each, and on such short text a
/// plain scan costs less than the general `char` search or memchr's dispatch.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii(), "split_at_byte splits at ASCII bytes only");
    s.bytes().position(|c| c == b).map(|at| (&s[..at], &s[at + 1..]))
}

fn err(reason: impl Into<String>) -> ParseError {
    ParseError::Uri { reason: reason.into() }
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '!' | '~' | '*' | '\'' | '(' | ')')
}

/// Checks that every character is allowed (or a valid `%HH` escape).
fn check_escaped(s: &str, what: &str, allowed: impl Fn(char) -> bool) -> Result<(), ParseError> {
    let bytes = s.as_bytes();
    let mut idx = 0;
    while idx < bytes.len() {
        let c = bytes[idx] as char;
        if c == '%' {
            let ok = bytes.len() > idx + 2 && bytes[idx + 1].is_ascii_hexdigit() && bytes[idx + 2].is_ascii_hexdigit();
            if !ok {
                return Err(err(format!("{what} has a '%' that is not followed by two hex digits")));
            }
            idx += 3;
        } else if c.is_ascii() && (is_unreserved(c) || allowed(c)) {
            idx += 1;
        } else {
            return Err(err(format!(
                "{what} contains the character {:?}, which must be escaped",
                s[idx..].chars().next().unwrap_or(c)
            )));
        }
    }
    Ok(())
}

/// Resolves `%HH` escapes into bytes (`%00` stays a NUL byte: nothing is truncated).
pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut idx = 0;
    while idx < b.len() {
        if b[idx] == b'%' && idx + 2 < b.len() {
            let hex = |x: u8| (x as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[idx + 1]), hex(b[idx + 2])) {
                out.push((h * 16 + l) as u8);
                idx += 3;
                continue;
            }
        }
        out.push(b[idx]);
        idx += 1;
    }
    out
}

/// What a host text was found to be; a name stays in the text it was checked in.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HostKind {
    Domain,
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl HostKind {
    /// Checks a host: `[IPv6]`, dotted IPv4, or a host name.
    fn check(s: &str) -> Result<HostKind, ParseError> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or_else(|| err("IPv6 reference without closing ']'"))?;
            // RFC 5118 §4.10: `2001:db8:::192.0.2.1` is what RFC 3261's ABNF allowed by mistake;
            // RFC 5954 fixed the grammar. We accept only valid RFC 4291 addresses.
            return inner
                .parse::<Ipv6Addr>()
                .map(HostKind::Ipv6)
                .map_err(|_| err("not a valid IPv6 address inside '[...]'"));
        }
        if s.is_empty() {
            return Err(err("empty host"));
        }
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return s.parse::<Ipv4Addr>().map(HostKind::Ipv4).map_err(|_| err("not a valid IPv4 address"));
        }
        let ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            && !s.starts_with(['.', '-'])
            && !s.as_bytes().windows(2).any(|pair| pair == b"..");
        if !ok {
            if s.contains(':') {
                return Err(err("an IPv6 address must be enclosed in '[...]' (RFC 5118)"));
            }
            return Err(err("host name contains characters outside letters, digits, '-' and '.'"));
        }
        Ok(HostKind::Domain)
    }

    /// The host, `text` being what [`HostKind::check`] found this in.
    pub(crate) fn into_host(self, text: &str) -> Host {
        match self {
            HostKind::Domain => Host::Domain(text.into()),
            HostKind::Ipv4(a) => Host::Ipv4(a),
            HostKind::Ipv6(a) => Host::Ipv6(a),
        }
    }
}

impl Host {
    /// Parses a host: `[IPv6]`, dotted IPv4, or a host name.
    pub fn parse(s: &str) -> Result<Host, ParseError> {
        HostKind::check(s).map(|kind| kind.into_host(s))
    }

    /// True for `Domain` hosts equal ignoring ASCII case, and for equal addresses.
    pub fn matches(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Checks a host and a port written apart (a Via's sent-by): the host's kind and the port. The caller has taken
/// the port as digits only; more than five of them are "not a number", as in [`check_hostport`].
pub(crate) fn check_host_and_port(host: &str, port: Option<&str>) -> Result<(HostKind, Option<u16>), ParseError> {
    let port = match port {
        None => None,
        Some(p) if p.len() <= 5 => Some(p.parse::<u16>().map_err(|_| err("port out of range (0-65535)"))?),
        Some(_) => return Err(err("port is not a number")),
    };
    Ok((HostKind::check(host)?, port))
}

/// Checks `host[:port]`, respecting IPv6 references: the host's text and kind, and the port.
fn check_hostport(s: &str) -> Result<(&str, HostKind, Option<u16>), ParseError> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']').ok_or_else(|| err("IPv6 reference without closing ']'"))?;
        let rest = &s[end + 1..];
        let port = match rest {
            "" => None,
            r => Some(r.strip_prefix(':').ok_or_else(|| err("unexpected text after IPv6 reference"))?),
        };
        (&s[..=end], port)
    } else {
        match split_at_byte(s, b':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().map_err(|_| err("port out of range (0-65535)"))?)
        }
        Some(_) => {
            if !host.starts_with('[') && s.matches(':').count() > 1 {
                return Err(err("an IPv6 address must be enclosed in '[...]' (RFC 5118)"));
            }
            return Err(err("port is not a number"));
        }
    };
    Ok((host, HostKind::check(host)?, port))
}

/// Parses `;name[=value]` URI parameters (no whitespace allowed inside a URI) into `P`: [`Params`], or `()` to
/// check them without copying.
fn uri_params<'a, P: Accumulate<(&'a str, Option<&'a str>)>>(s: &'a str) -> Result<P, ParseError> {
    let param_char = |c: char| matches!(c, '[' | ']' | '/' | ':' | '&' | '+' | '$');
    let mut params = P::initial(None);
    for part in s.split(';') {
        let (name, value) = match split_at_byte(part, b'=') {
            Some((n, v)) => (n, Some(v)),
            None => (part, None),
        };
        if name.is_empty() {
            return Err(err("empty URI parameter"));
        }
        check_escaped(name, "URI parameter name", param_char)?;
        if let Some(v) = value {
            check_escaped(v, "URI parameter value", param_char)?;
        }
        params.accumulate((name, value));
    }
    Ok(params)
}

impl Uri {
    /// Parses an absolute URI (the text between `<` and `>`, or a Request-URI).
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        Ok(match UriParts::<Params>::parse(s)? {
            UriParts::Sip(parts) => Uri::Sip(parts.into_uri(s)),
            UriParts::Tel { number, params } => Uri::Tel(TelUri { raw: s.into(), number: number.into(), params }),
            UriParts::Other { scheme } => Uri::Other { scheme: scheme.into(), raw: s.into() },
        })
    }

    /// What [`Uri::parse`] checks, without keeping anything: for validating a message that only passes through.
    pub(crate) fn check(s: &str) -> Result<(), ParseError> {
        UriParts::<()>::parse(s).map(drop)
    }

    /// The URI exactly as written.
    pub fn as_str(&self) -> &str {
        match self {
            Uri::Sip(u) => &u.raw,
            Uri::Tel(t) => &t.raw,
            Uri::Other { raw, .. } => raw,
        }
    }

    /// The scheme, lower case for sip/sips/tel.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URI checked, its parts still in the text it was parsed from; parameters in `P` ([`Params`], or `()` when
/// nothing is kept).
enum UriParts<'a, P> {
    Sip(SipUriParts<'a, P>),
    Tel { number: &'a str, params: P },
    Other { scheme: &'a str },
}

impl<'a, P: Accumulate<(&'a str, Option<&'a str>)>> UriParts<'a, P> {
    fn parse(s: &'a str) -> Result<UriParts<'a, P>, ParseError> {
        let (scheme, rest) = split_at_byte(s, b':').ok_or_else(|| err("no scheme (expected e.g. sip:)"))?;
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(err("scheme must start with a letter and contain only letters, digits, '+', '-', '.'"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            return SipUriParts::parse(scheme.eq_ignore_ascii_case("sips"), rest).map(UriParts::Sip);
        }
        if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
        {
            return Err(err(format!("{scheme}: URI is empty or contains spaces, quotes or angle brackets")));
        }
        if scheme.eq_ignore_ascii_case("tel") {
            return tel_parts(rest).map(|(number, params)| UriParts::Tel { number, params });
        }
        Ok(UriParts::Other { scheme })
    }
}

/// The parts of a `sip:` or `sips:` URI, checked.
struct SipUriParts<'a, P> {
    secure: bool,
    user: Option<&'a str>,
    password: Option<&'a str>,
    host: &'a str,
    host_kind: HostKind,
    port: Option<u16>,
    params: P,
    headers: Option<&'a str>,
}

impl SipUriParts<'_, Params> {
    fn into_uri(self, raw: &str) -> SipUri {
        SipUri {
            raw: raw.into(),
            secure: self.secure,
            user: self.user.map(Into::into),
            password: self.password.map(Into::into),
            host: self.host_kind.into_host(self.host),
            port: self.port,
            params: self.params,
            headers: self.headers.map(Into::into),
        }
    }
}

impl<'a, P: Accumulate<(&'a str, Option<&'a str>)>> SipUriParts<'a, P> {
    fn parse(secure: bool, rest: &'a str) -> Result<SipUriParts<'a, P>, ParseError> {
        // userinfo may contain ';' '?' '/' (user-unreserved) but never an unescaped '@', and
        // neither may hostport, params or headers: so the first '@' ends userinfo.
        let (userinfo, after) = match split_at_byte(rest, b'@') {
            Some((u, a)) => (Some(u), a),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => {
                let (u, p) = match split_at_byte(ui, b':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty() {
                    return Err(err("empty user part before '@'"));
                }
                check_escaped(u, "user part", |c| matches!(c, '&' | '=' | '+' | '$' | ',' | ';' | '?' | '/'))?;
                if let Some(p) = p {
                    check_escaped(p, "password", |c| matches!(c, '&' | '=' | '+' | '$' | ','))?;
                }
                (Some(u), p)
            }
        };
        let (before_headers, headers) = match split_at_byte(after, b'?') {
            Some((b, h)) => (b, Some(h)),
            None => (after, None),
        };
        let (hostport, params) = match split_at_byte(before_headers, b';') {
            Some((hp, p)) => (hp, uri_params(p)?),
            None => (before_headers, P::initial(Some(0))),
        };
        let (host, host_kind, port) = check_hostport(hostport)?;
        if let Some(h) = headers {
            for hv in h.split('&') {
                let (n, v) = split_at_byte(hv, b'=').ok_or_else(|| err("URI header without '='"))?;
                let hchar = |c: char| matches!(c, '[' | ']' | '/' | '?' | ':' | '+' | '$');
                if n.is_empty() {
                    return Err(err("empty URI header name"));
                }
                check_escaped(n, "URI header name", hchar)?;
                check_escaped(v, "URI header value", hchar)?;
            }
        }
        Ok(SipUriParts { secure, user, password, host, host_kind, port, params, headers })
    }
}

impl SipUri {
    /// Builds `sip:[user@]host[:port][;params]` (user given unescaped-safe, e.g. `alice`).
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>, params: Params) -> SipUri {
        let mut raw = String::from("sip:");
        if let Some(u) = user {
            raw.push_str(u);
            raw.push('@');
        }
        raw.push_str(&host.to_string());
        if let Some(p) = port {
            raw.push_str(&format!(":{p}"));
        }
        params.write_to(&mut raw);
        SipUri {
            raw: raw.into(),
            secure: false,
            user: user.map(Into::into),
            password: None,
            host,
            port,
            params,
            headers: None,
        }
    }

    /// The URI as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// True for `sips:`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }
    /// The user part as written (escapes kept).
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The user part with escapes resolved (`%00` kept as a NUL byte).
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }
    /// The password part, if any (never logged by sfbkit).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
    pub fn host(&self) -> &Host {
        &self.host
    }
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// URI parameters (`;transport=tls`, `;gruu`, `;opaque=...`).
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// The `?headers` part as written, if any.
    pub fn headers(&self) -> Option<&str> {
        self.headers.as_deref()
    }
    /// `user@host` (the address of record without scheme or parameters), as written.
    pub fn aor(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.to_string(),
        }
    }
}

/// The number and parameters of a `tel:` URI (`rest` follows the scheme), checked.
fn tel_parts<'a, P: Accumulate<(&'a str, Option<&'a str>)>>(rest: &'a str) -> Result<(&'a str, P), ParseError> {
    let (number, params) = match split_at_byte(rest, b';') {
        Some((n, p)) => (n, uri_params(p)?),
        None => (rest, P::initial(Some(0))),
    };
    let ok = !number.is_empty()
        && number.bytes().all(|b| {
            b.is_ascii_hexdigit() || matches!(b, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#' | b'p' | b'w')
        });
    if !ok {
        return Err(err("tel: number must be digits with optional '+' and visual separators"));
    }
    Ok((number, params))
}

impl TelUri {
    /// The number as written (`+14255550100`, `1234`, with visual separators if any).
    pub fn number(&self) -> &str {
        &self.number
    }
    pub fn params(&self) -> &Params {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_uri_parts() {
        let u = Uri::parse("sip:alice@contoso.com:5061;transport=tls;gruu?Subject=x").unwrap();
        let s = u.as_sip().unwrap();
        assert_eq!(s.user(), Some("alice"));
        assert_eq!(s.host(), &Host::Domain("contoso.com".into()));
        assert_eq!(s.port(), Some(5061));
        assert_eq!(s.params().value("transport").unwrap(), "tls");
        assert!(s.params().contains("gruu"));
        assert_eq!(s.headers(), Some("Subject=x"));
        assert_eq!(u.as_str(), "sip:alice@contoso.com:5061;transport=tls;gruu?Subject=x");
    }

    #[test]
    fn user_part_with_semicolons_and_escapes() {
        let s = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(s.as_sip().unwrap().user(), Some("user;par=u%40example.net"));
        let n = Uri::parse("sip:null-%00-null@example.com").unwrap();
        assert_eq!(n.as_sip().unwrap().user_unescaped().unwrap(), b"null-\0-null");
        assert_eq!(
            Uri::parse("sip:%75se%72@example.com").unwrap().as_sip().unwrap().user_unescaped().unwrap(),
            b"user"
        );
    }

    #[test]
    fn ipv6_references() {
        let u = Uri::parse("sip:[2001:db8::10:5070]").unwrap();
        assert_eq!(u.as_sip().unwrap().port(), None);
        let u = Uri::parse("sip:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.as_sip().unwrap().port(), Some(5070));
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8:::192.0.2.1]").is_err());
        assert!(Uri::parse("sip:[2001:db8::192.0.2.1]").is_ok());
    }

    #[test]
    fn other_schemes_and_errors() {
        assert_eq!(Uri::parse("tel:+14255550100;ext=12").unwrap().scheme(), "tel");
        assert_eq!(Uri::parse("soap.beep://192.0.2.103:3002").unwrap().scheme(), "soap.beep");
        assert!(Uri::parse("<sip:a@b>").is_err());
        assert!(Uri::parse("sip:a b@c").is_err());
        assert!(Uri::parse("sip:a@b:99999").is_err());
        assert!(Uri::parse("sip:a@b;;lr").is_err());
        assert!(Uri::parse("nocolon").is_err());
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_leaves_out_a_userinfo_password() {
        let uri = Uri::parse("sip:alice:S3cret-pw@contoso.com;transport=tls").unwrap();
        let shown = format!("{uri:?}");
        assert!(!shown.contains("S3cret-pw") && shown.contains("alice:<redacted>@contoso.com"), "{shown}");
        let auth =
            crate::sip::AuthHeader::parse("Authorization", "NTLM gssapi-data=\"TlRMTVNTUAAD\", version=4").unwrap();
        assert!(!format!("{auth:?}").contains("TlRMTVNTUAAD"));
    }
}
