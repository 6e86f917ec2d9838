//! Typed views of the header values sfbkit acts on: name-addr (From, To, Contact, Route),
//! Via, CSeq, and authentication headers with arbitrary `name=value` parameters ([MS-SIPAE]
//! NTLM, Kerberos and TLS-DSK challenges are not Digest, so no Digest assumptions are made).

use std::borrow::Cow;

use winnow::combinator::{alt, cut_err, delimited, opt, preceded, repeat, terminated};
use winnow::prelude::*;
use winnow::token::take_while;

use winnow::stream::Accumulate;

use super::grammar::{
    self, PResult, Params, describe, digits, label, params_into, quoted_string, sep, take_bytes_while, token, unquote,
    ws,
};
use super::uri::{Host, HostKind, Uri, check_host_and_port};
use super::{Method, ParseError};

/// `[display-name] <URI> *(;param)` or `URI *(;param)` (From, To, Contact, Route, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name as written (a quoted one keeps its quotes; see [`NameAddr::display_name`]).
    pub raw_display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Whether the URI was enclosed in `<...>`.
    pub angle_brackets: bool,
    /// Header parameters after the URI (`tag`, `epid`, `expires`, `+sip.instance`, ...).
    pub params: Params,
}

impl NameAddr {
    /// The display name without quotes.
    pub fn display_name(&self) -> Option<Cow<'_, str>> {
        self.raw_display_name.as_deref().map(unquote)
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<Cow<'_, str>> {
        self.params.value("tag")
    }

    /// Parses one name-addr / addr-spec with its parameters; the whole input must be used.
    pub fn parse(header: &str, value: &str) -> Result<NameAddr, ParseError> {
        let parts: NameAddrParts<'_, Uri, Params> = parse_name_addr(header, value, Uri::parse)?;
        Ok(NameAddr {
            raw_display_name: parts.display.map(|d| d.trim_end().to_string()),
            uri: parts.uri,
            angle_brackets: parts.angle,
            params: parts.params,
        })
    }

    /// What [`NameAddr::parse`] checks, keeping only what `P` collects of the parameters (nothing for `()`): for
    /// validating a message that only passes through.
    pub(crate) fn check<'a, P: Accumulate<(&'a str, Option<&'a str>)>>(
        header: &str,
        value: &'a str,
    ) -> Result<P, ParseError> {
        let parts: NameAddrParts<'_, (), P> = parse_name_addr(header, value, Uri::check)?;
        Ok(parts.params)
    }

    /// Writes the value back (`"Name" <uri>;params`).
    pub fn to_header_value(&self) -> String {
        let mut out = String::new();
        if let Some(d) = &self.raw_display_name {
            out.push_str(d);
            out.push(' ');
        }
        if self.angle_brackets {
            out.push('<');
            out.push_str(self.uri.as_str());
            out.push('>');
        } else {
            out.push_str(self.uri.as_str());
        }
        self.params.write_to(&mut out);
        out
    }
}

/// A cut error carrying one label, for failures found outside winnow (URI and host checks).
fn cut(what: &'static str) -> winnow::error::ErrMode<winnow::error::ContextError> {
    let mut e = winnow::error::ContextError::new();
    e.push(label(what));
    winnow::error::ErrMode::Cut(e)
}

/// A name-addr's parts: the display name as written, the URI as `U` ([`Uri`], or `()` from [`Uri::check`]) and
/// the parameters as `P` ([`Params`], or `()`).
struct NameAddrParts<'a, U, P> {
    display: Option<&'a str>,
    uri: U,
    angle: bool,
    params: P,
}

/// The whole of `value` as one name-addr of `header`.
fn parse_name_addr<'a, U, P: Accumulate<(&'a str, Option<&'a str>)>>(
    header: &str,
    value: &'a str,
    uri: impl Fn(&'a str) -> Result<U, ParseError>,
) -> Result<NameAddrParts<'a, U, P>, ParseError> {
    let mut parser = |i: &mut &'a str| name_addr_parts(i, &uri);
    parser.parse(value).map_err(|e| ParseError::value(header, describe(&e)))
}

fn name_addr_parts<'a, U, P: Accumulate<(&'a str, Option<&'a str>)>>(
    i: &mut &'a str,
    uri: impl Fn(&'a str) -> Result<U, ParseError>,
) -> PResult<NameAddrParts<'a, U, P>> {
    let uri_text = |text: &'a str| uri(text).map_err(|_| cut("a valid URI"));
    ws.parse_next(i)?;
    // Most values open with '<': no display name to try for (and no error to build for the attempt).
    let display: Option<&str> = if i.starts_with('<') {
        None
    } else {
        opt(alt((
            terminated(quoted_string, ws),
            // display-name = *(token LWS); the last token may touch '<' (RFC 4475 lwsdisp).
            terminated(repeat::<_, _, (), _, _>(1.., terminated(token, ws)).take(), winnow::combinator::peek('<')),
        )))
        .parse_next(i)?
    };
    let (uri, angle) = if let Some(inner) =
        opt(delimited('<', take_bytes_while(0, |b| b != b'>'), '>')).parse_next(i)?
    {
        (uri_text(inner)?, true)
    } else if display.is_some() {
        return cut_err(winnow::combinator::fail.context(label("'<' after the display name"))).parse_next(i);
    } else {
        let text =
            take_bytes_while(1, |b| !matches!(b, b';' | b',' | b' ' | b'\t')).context(label("URI")).parse_next(i)?;
        (uri_text(text)?, false)
    };
    let params = params_into.parse_next(i)?;
    ws.parse_next(i)?;
    Ok(NameAddrParts { display, uri, angle, params })
}

/// One Via entry: `SIP/2.0/TLS host:port;branch=...;received=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name and version, normally `SIP` and `2.0`.
    pub protocol: (String, String),
    /// Transport token as written (`TLS`, `tls`, `TCP`, `UDP`, ...).
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<Cow<'_, str>> {
        self.params.value("branch")
    }
    /// Parses every Via entry in one header value.
    pub fn parse_list(value: &str) -> Result<Vec<Via>, ParseError> {
        grammar::comma_items(value)
            .map(|v| {
                let parts: ViaParts<'_, Params> =
                    via_parts.parse(v).map_err(|e| ParseError::value("Via", describe(&e)))?;
                Ok(Via {
                    protocol: (parts.name.into(), parts.version.into()),
                    transport: parts.transport.into(),
                    host: parts.host_kind.into_host(parts.host),
                    port: parts.port,
                    params: parts.params,
                })
            })
            .collect()
    }

    /// What [`Via::parse_list`] checks, without keeping anything.
    pub(crate) fn check_list(value: &str) -> Result<(), ParseError> {
        for v in grammar::comma_items(value) {
            let _: ViaParts<'_, ()> = via_parts.parse(v).map_err(|e| ParseError::value("Via", describe(&e)))?;
        }
        Ok(())
    }
}

/// A Via entry's parts, parameters as `P` ([`Params`], or `()`).
struct ViaParts<'a, P> {
    name: &'a str,
    version: &'a str,
    transport: &'a str,
    host: &'a str,
    host_kind: HostKind,
    port: Option<u16>,
    params: P,
}

fn via_parts<'a, P: Accumulate<(&'a str, Option<&'a str>)>>(i: &mut &'a str) -> PResult<ViaParts<'a, P>> {
    ws.parse_next(i)?;
    let name = token.context(label("protocol name")).parse_next(i)?;
    let version = preceded(sep('/'), token).context(label("protocol version")).parse_next(i)?;
    let transport = preceded(sep('/'), token).context(label("transport")).parse_next(i)?;
    take_while(1.., [' ', '\t']).context(label("space before sent-by")).parse_next(i)?;
    let host = alt((
        delimited('[', take_while(1.., |c: char| c != ']'), ']').take(),
        take_while(1.., |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')),
    ))
    .context(label("sent-by host"))
    .parse_next(i)?;
    let port = opt(preceded(sep(':'), digits)).parse_next(i)?;
    let (host_kind, port) = check_host_and_port(host, port).map_err(|_| cut("a valid sent-by host and port"))?;
    let params = params_into.parse_next(i)?;
    ws.parse_next(i)?;
    Ok(ViaParts { name, version, transport, host, host_kind, port, params })
}

/// `CSeq: <number> <method>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    /// Parses a CSeq value; the number must fit 32 bits (RFC 3261 §8.1.1.5).
    pub fn parse(value: &str) -> Result<CSeq, ParseError> {
        let (num, method) = (delimited(ws, digits, take_while(1.., [' ', '\t'])), terminated(token, ws))
            .parse(value)
            .map_err(|e| ParseError::value("CSeq", describe(&e)))?;
        let seq = parse_u32(num).ok_or_else(|| ParseError::value("CSeq", "sequence number exceeds 2^32-1"))?;
        Ok(CSeq { seq, method: Method::from_token(method) })
    }
}

/// Parses `1*DIGIT` (leading zeros allowed) into a u32, None on overflow or non-digits.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim_matches([' ', '\t']);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = s.trim_start_matches('0');
    if trimmed.len() > 10 {
        return None;
    }
    if trimmed.is_empty() { Some(0) } else { trimmed.parse::<u64>().ok().and_then(|v| u32::try_from(v).ok()) }
}

/// An authentication header: `WWW-Authenticate`, `Proxy-Authenticate`, `Authorization`,
/// `Proxy-Authorization`, `Authentication-Info`, `Proxy-Authentication-Info`.
///
/// Parameter values are kept exactly as written (quotes included) because [MS-SIPAE]
/// computes signatures over values as they appear; [`AuthHeader::param`] unquotes.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// `NTLM`, `Kerberos`, `TLS-DSK`, `Digest`, ... as written.
    pub scheme: String,
    /// `(name, raw value)` pairs in order.
    pub params: Vec<(String, String)>,
}

/// `Debug` shows `gssapi-data`'s length only (see [`super::header::redact_gssapi_data`]).
impl std::fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let params: Vec<(&str, String)> = self
            .params
            .iter()
            .map(|(n, v)| match n.eq_ignore_ascii_case("gssapi-data") {
                true => (n.as_str(), format!("<{} characters redacted>", v.trim_matches('"').len())),
                false => (n.as_str(), v.clone()),
            })
            .collect();
        f.debug_struct("AuthHeader").field("scheme", &self.scheme).field("params", &params).finish()
    }
}

impl AuthHeader {
    /// Parses `scheme name=value, name="value", ...`. `Authentication-Info` has no scheme in
    /// RFC 3261 but does in [MS-SIPAE]; both are accepted.
    pub fn parse(header: &str, value: &str) -> Result<AuthHeader, ParseError> {
        let bad = |reason: &str| ParseError::value(header, reason.to_string());
        let value = value.trim_matches([' ', '\t']);
        let (scheme, rest) = match value.split_once([' ', '\t']) {
            Some((s, r)) if !s.contains('=') => (s, r),
            _ if !value.contains('=') => (value, ""),
            _ => ("", value),
        };
        if !scheme.is_empty() && !scheme.chars().all(grammar::is_token_char) {
            return Err(bad("the scheme is not a token"));
        }
        let mut params = Vec::new();
        for part in grammar::split_commas(rest) {
            if part.is_empty() {
                if rest.trim().is_empty() {
                    continue;
                }
                return Err(bad("empty parameter between commas"));
            }
            let (name, raw) = auth_param.parse(part).map_err(|e| ParseError::value(header, describe(&e)))?;
            params.push((name.to_string(), raw.to_string()));
        }
        Ok(AuthHeader { scheme: scheme.to_string(), params })
    }

    /// The unquoted value of a parameter (names compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.raw_param(name).map(unquote)
    }
    /// The value of a parameter exactly as written.
    pub fn raw_param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn auth_param<'a>(i: &mut &'a str) -> PResult<(&'a str, &'a str)> {
    let name = delimited(ws, token, ws).context(label("parameter name")).parse_next(i)?;
    '='.context(label("'='")).parse_next(i)?;
    ws.parse_next(i)?;
    let value = cut_err(alt((
        quoted_string,
        take_while(1.., |c: char| grammar::is_token_char(c) || matches!(c, '/' | ':' | '=' | '[' | ']')),
    )))
    .context(label("parameter value"))
    .parse_next(i)?;
    ws.parse_next(i)?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let n =
            NameAddr::parse("From", r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#).unwrap();
        assert_eq!(n.display_name().unwrap(), r#"J Rosenberg \""#);
        assert_eq!(n.tag().unwrap(), "98asjd8");
        let n = NameAddr::parse("From", "caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display_name().unwrap(), "caller");
        let n = NameAddr::parse("To", "sip:caller@example.net;tag=134161461246").unwrap();
        assert_eq!(n.uri.as_str(), "sip:caller@example.net");
        assert!(!n.angle_brackets);
        assert!(NameAddr::parse("From", "Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse("To", "\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("Contact", "\"Joe\" <sip:joe@example.org>;;;;").is_err());
        let c = NameAddr::parse("Contact", r#"<sip:10.2.50.42:1699;transport=tls;ms-opaque=89eaec8ad6>;expires=7200;+sip.instance="<urn:uuid:c1589240-e660-594f-a8b3-4b55f358cbc1>";gruu="sip:alice@fabrikam.com;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu""#).unwrap();
        assert_eq!(
            c.params.value("gruu").unwrap(),
            "sip:alice@fabrikam.com;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu"
        );
        assert_eq!(c.params.value("expires").unwrap(), "7200");
    }

    #[test]
    fn via_forms() {
        let v = Via::parse_list("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(v[0].transport, "UDP");
        assert_eq!(v[0].branch().unwrap(), "390skdjuw");
        let v = Via::parse_list("SIP/2.0/TLS 10.2.50.42:1699;ms-received-port=1699;ms-received-cid=200, SIP/2.0/UDP [2001:db8::9:1]:5060;received=2001:db8::9:255").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].port, Some(1699));
        assert_eq!(v[1].params.value("received").unwrap(), "2001:db8::9:255");
        assert!(Via::parse_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
    }

    #[test]
    fn cseq_bounds() {
        assert_eq!(CSeq::parse("0009 INVITE").unwrap(), CSeq { seq: 9, method: Method::Invite });
        assert_eq!(CSeq::parse("4294967295 BENOTIFY").unwrap().seq, u32::MAX);
        assert!(CSeq::parse("4294967296 REGISTER").is_err());
        assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse("INVITE").is_err());
    }

    #[test]
    fn ms_sipae_challenges() {
        let a = AuthHeader::parse("WWW-Authenticate", r#"TLS-DSK realm="SIP Communications Service", targetname="fe01.contoso.com", version=4, sts-uri="https://fe01.contoso.com/CertProv/CertProvisioningService.svc""#).unwrap();
        assert_eq!(a.scheme, "TLS-DSK");
        assert_eq!(a.param("version").unwrap(), "4");
        assert_eq!(a.param("Targetname").unwrap(), "fe01.contoso.com");
        assert_eq!(a.raw_param("realm").unwrap(), "\"SIP Communications Service\"");
        let n = AuthHeader::parse(
            "Authorization",
            r#"NTLM qop="auth", realm="SIP Communications Service", targetname="x", gssapi-data="", version=4"#,
        )
        .unwrap();
        assert_eq!(n.param("gssapi-data").unwrap(), "");
        assert!(AuthHeader::parse("Authorization", "NTLM realm=\"x\",,").is_err());
    }
}
