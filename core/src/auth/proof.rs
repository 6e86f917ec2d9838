//! Requests signed with a web ticket's proof key ([MS-OCAUTHWS] 3.2 with WS-Trust 1.3 `CK/PSHA1`, XML-DSig and
//! WS-Security; REFERENCE.md §2.2–2.3, CLIENT-NOTES.md §6.3): what a client sends to a port whose policy uses
//! `EndorsingSupportingTokens` (pidgin-sipe's `CertProvisioningServiceWebTicketProof_SHA1`, REFERENCE.md's
//! `WebTicket_Proof`) instead of sending credentials again.
//!
//! The `wsse:Security` header holds, in this order (pidgin-sipe `sipe-webticket.c`, `generate_sha1_proof_wsse`):
//!
//! 1. `<wsu:Timestamp wsu:Id="timestamp">` with `wsu:Created` / `wsu:Expires` ([`timestamp_xml`]); pidgin-sipe
//!    copies the RSTR's `Lifetime` into it, so the times are the earlier ticket's lifetime;
//! 2. the earlier ticket's `saml:Assertion`, byte for byte as the STS sent it;
//! 3. an XML-DSig `Signature` (default namespace `http://www.w3.org/2000/09/xmldsig#`): `SignedInfo` with
//!    exclusive C14N, `hmac-sha1`, and one `Reference URI="#timestamp"` (exc-c14n transform, SHA-1 digest, the
//!    `DigestValue` = base64 SHA-1 of the Timestamp); `SignatureValue` = base64 HMAC-SHA1(proof key,
//!    exc-c14n(SignedInfo)); `KeyInfo/wsse:SecurityTokenReference wsse:TokenType=SAMLV1.1` →
//!    `wsse:KeyIdentifier ValueType=…#SAMLAssertionID` = the assertion's `AssertionID`.
//!
//! The proof key is P_SHA1(client entropy of the earlier RST, server entropy of its RSTR), 32 bytes
//! ([`super::webticket::proof_key`]).
//!
//! Where the sources differ, pidgin-sipe wins: the XML-DSig text says the Reference digest is over the
//! canonical form of the referenced element *in the document*; pidgin-sipe digests the Timestamp string exactly as
//! it built it and embeds the canonical `SignedInfo` it signed (its `sipe_xml_exc_c14n` output) verbatim. Here
//! both are built in canonical form to begin with (the canonicaliser is the identity on them, and a test says so),
//! so the bytes digested, the bytes signed and the bytes sent are the same, and both readings agree.
//!
//! [`exc_c14n`] is a *minimal* exclusive XML canonicalisation (W3C xml-exc-c14n, without comments) for the
//! elements this module builds itself: one element subtree, no DTD, no processing instructions, no entity
//! references beyond the five predefined ones and character references; the `xml:` attributes are not inherited
//! (exclusive C14N does not inherit them either). It renders a namespace declaration where the element or one of
//! its attributes uses the prefix and no output ancestor already rendered it with the same value, sorts
//! declarations by prefix and attributes by (namespace URI, local name), writes empty elements as start/end pairs,
//! and escapes text and attribute values as C14N does. It is not a general canonicaliser for XML from elsewhere.

use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;
use sha1::{Digest, Sha1};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::orgid::WSU;
use super::webticket::{WebTicket, rst_request_with_security};
use crate::xml::escape;

/// XML-DSig namespace (also the `SignedInfo`/`Signature` default namespace).
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML canonicalisation without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// XML-DSig HMAC-SHA1 signature method.
pub const HMAC_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#hmac-sha1";
/// XML-DSig SHA-1 digest method.
pub const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// The token type of the referenced web ticket.
pub const SAML_V11_TOKEN_TYPE: &str = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1";
/// `KeyIdentifier/@ValueType`: the identifier is a SAML `AssertionID`.
pub const SAML_ASSERTION_ID: &str = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID";
/// The Timestamp's `wsu:Id`, referenced as `#timestamp` (pidgin-sipe's value).
pub const TIMESTAMP_ID: &str = "timestamp";
/// Largest input [`exc_c14n`] reads.
pub const MAX_C14N_INPUT: usize = 256 * 1024;
/// Deepest element nesting [`exc_c14n`] reads.
const MAX_DEPTH: usize = 64;

/// Why a signed request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The XML handed to the canonicaliser is broken (a bug in the caller: it builds that XML itself).
    #[error("the XML to canonicalise is not well-formed: {0}")]
    Xml(String),
    /// The XML uses a construct outside this minimal canonicaliser's scope.
    #[error("the XML to canonicalise uses {0}, which this minimal exclusive C14N does not handle")]
    Unsupported(&'static str),
    /// The XML is larger than [`MAX_C14N_INPUT`] or nested deeper than 64 elements.
    #[error("the XML to canonicalise is too large or too deeply nested")]
    TooLarge,
    /// A prefix is used but not declared.
    #[error("the namespace prefix {0:?} is used but not declared")]
    UndeclaredPrefix(String),
    /// The earlier ticket's RSTR had no server entropy: it has no proof key.
    #[error("the earlier web ticket has no proof key (its RSTR carried no server entropy): get one with credentials")]
    NoProofKey,
    /// The earlier ticket has no `AssertionID` for `KeyInfo` to name.
    #[error("the earlier web ticket has no AssertionID to reference: get one with credentials")]
    NoAssertionId,
}

/// A web ticket's proof key (32 bytes). A secret: never shown by `Debug`, wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ProofKey([u8; 32]);

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofKey(<redacted>)")
    }
}

impl ProofKey {
    /// A key from its bytes.
    pub fn new(bytes: [u8; 32]) -> ProofKey {
        ProofKey(bytes)
    }

    /// The proof key of `ticket`, issued for an RST that carried `client_entropy`.
    pub fn for_ticket(ticket: &WebTicket, client_entropy: &[u8; 32]) -> Result<ProofKey, ProofError> {
        ticket.proof_key(client_entropy).map(ProofKey).ok_or(ProofError::NoProofKey)
    }

    /// HMAC-SHA1 keyed with the proof key.
    pub fn hmac_sha1(&self, data: &[u8]) -> [u8; 20] {
        // HMAC takes keys of any length: `new_from_slice` cannot fail here.
        match <Hmac<Sha1> as Mac>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0; 20],
        }
    }
}

/// Base64 of SHA-1 of `canonical` (an XML-DSig `DigestValue`).
pub fn digest_value(canonical: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha1::digest(canonical.as_bytes()))
}

/// Base64 of HMAC-SHA1(key, `signed_info_c14n`) (an XML-DSig `SignatureValue`).
pub fn signature_value(key: &ProofKey, signed_info_c14n: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.hmac_sha1(signed_info_c14n.as_bytes()))
}

/// The `wsu:Timestamp` in canonical form: `wsu:Id="timestamp"`, `Created`, `Expires` (xs:dateTime, UTC, seconds).
pub fn timestamp_xml(created: SystemTime, expires: SystemTime) -> String {
    format!(
        concat!(
            r#"<wsu:Timestamp xmlns:wsu="{wsu}" wsu:Id="{id}"><wsu:Created>{c}</wsu:Created>"#,
            r#"<wsu:Expires>{e}</wsu:Expires></wsu:Timestamp>"#
        ),
        wsu = WSU,
        id = TIMESTAMP_ID,
        c = xs_datetime(created),
        e = xs_datetime(expires),
    )
}

/// `SignedInfo` for one Reference to `#reference_id` with `digest` (base64 SHA-1), as pidgin-sipe writes it
/// (before canonicalisation: empty method elements).
pub fn signed_info(reference_id: &str, digest: &str) -> String {
    format!(
        concat!(
            r#"<SignedInfo xmlns="{dsig}"><CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r##"<SignatureMethod Algorithm="{hmac}"/><Reference URI="#{id}"><Transforms>"##,
            r#"<Transform Algorithm="{c14n}"/></Transforms><DigestMethod Algorithm="{sha1}"/>"#,
            r#"<DigestValue>{digest}</DigestValue></Reference></SignedInfo>"#
        ),
        dsig = DSIG_NS,
        c14n = EXC_C14N,
        hmac = HMAC_SHA1,
        sha1 = SHA1_DIGEST,
        id = escape(reference_id),
        digest = escape(digest),
    )
}

/// The `wsse:Security` contents of a proof-key request: Timestamp (`created`..`expires`), the earlier ticket's
/// assertion as received, and the Signature over the Timestamp made with `key`, naming the assertion in `KeyInfo`.
/// The `wsse` prefix is declared by the envelope ([`proof_rst_request`]).
pub fn proof_security(
    ticket: &WebTicket,
    key: &ProofKey,
    created: SystemTime,
    expires: SystemTime,
) -> Result<String, ProofError> {
    if ticket.assertion_id.is_empty() {
        return Err(ProofError::NoAssertionId);
    }
    let timestamp = exc_c14n(&timestamp_xml(created, expires))?;
    let signed_info = exc_c14n(&signed_info(TIMESTAMP_ID, &digest_value(&timestamp)))?;
    let value = signature_value(key, &signed_info);
    let signature = format!(
        concat!(
            r#"<Signature xmlns="{dsig}">{signed_info}<SignatureValue>{value}</SignatureValue><KeyInfo>"#,
            r#"<wsse:SecurityTokenReference wsse:TokenType="{token_type}">"#,
            r#"<wsse:KeyIdentifier ValueType="{value_type}">{id}</wsse:KeyIdentifier>"#,
            r#"</wsse:SecurityTokenReference></KeyInfo></Signature>"#
        ),
        dsig = DSIG_NS,
        signed_info = signed_info,
        value = value,
        token_type = SAML_V11_TOKEN_TYPE,
        value_type = SAML_ASSERTION_ID,
        id = escape(&ticket.assertion_id),
    );
    Ok(format!("{timestamp}{}{signature}", ticket.assertion_xml()))
}

/// An RST (IssueToken) for a proof-key port at `to`: [`rst_request_with_security`] with [`proof_security`] in
/// `wsse:Security`, asking for a new ticket for `applies_to` / `sip_uri` with fresh `client_entropy`. No credentials.
#[allow(clippy::too_many_arguments)]
pub fn proof_rst_request(
    to: &str,
    ticket: &WebTicket,
    key: &ProofKey,
    created: SystemTime,
    expires: SystemTime,
    applies_to: &str,
    sip_uri: &str,
    client_entropy: &[u8; 32],
    context: &str,
    message_id: &str,
) -> Result<String, ProofError> {
    let security = proof_security(ticket, key, created, expires)?;
    Ok(rst_request_with_security(to, &security, applies_to, sip_uri, client_entropy, context, message_id))
}

/// `2026-11-22T05:00:00Z` (xs:dateTime in UTC, whole seconds, as the STS writes `Lifetime`).
pub fn xs_datetime(t: SystemTime) -> String {
    let c = crate::civil::CivilTime::of(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// One open element while canonicalising.
struct Frame {
    /// The element's qualified name, for its end tag.
    qname: String,
    /// Declarations on this element in the input (prefix, "" for the default namespace → URI).
    declared: Vec<(String, String)>,
    /// Declarations rendered on this element in the output.
    rendered: Vec<(String, String)>,
}

/// Minimal exclusive C14N (without comments) of one element subtree this crate built (see the module doc).
pub fn exc_c14n(xml: &str) -> Result<String, ProofError> {
    if xml.len() > MAX_C14N_INPUT {
        return Err(ProofError::TooLarge);
    }
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Frame> = Vec::new();
    let mut out = String::with_capacity(xml.len());
    let mut seen_root = false;
    loop {
        let event = reader.read_event().map_err(|e| ProofError::Xml(e.to_string()))?;
        match event {
            Event::Start(_) | Event::Empty(_) if stack.is_empty() && seen_root => {
                return Err(ProofError::Unsupported("more than one root element"));
            }
            Event::Start(e) => {
                seen_root = true;
                let frame = start_tag(&e, &stack, &mut out)?;
                stack.push(frame);
                if stack.len() > MAX_DEPTH {
                    return Err(ProofError::TooLarge);
                }
            }
            Event::Empty(e) => {
                seen_root = true;
                let frame = start_tag(&e, &stack, &mut out)?;
                out.push_str(&format!("</{}>", frame.qname));
            }
            Event::End(_) => {
                let frame = stack.pop().ok_or_else(|| ProofError::Xml("unbalanced end tag".into()))?;
                out.push_str(&format!("</{}>", frame.qname));
            }
            Event::Text(t) => {
                let text = quick_xml::escape::unescape(&t).map_err(|e| ProofError::Xml(e.to_string()))?;
                if stack.is_empty() {
                    if !text.trim().is_empty() {
                        return Err(ProofError::Xml("text outside the element".into()));
                    }
                } else {
                    escape_text(&text, &mut out);
                }
            }
            Event::CData(t) => {
                if stack.is_empty() {
                    return Err(ProofError::Xml("CDATA outside the element".into()));
                }
                escape_text(&t, &mut out);
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| ProofError::Xml(e.to_string()))? {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .ok_or(ProofError::Unsupported("entity references"))?
                        .to_string(),
                };
                if stack.is_empty() {
                    return Err(ProofError::Xml("a reference outside the element".into()));
                }
                escape_text(&c, &mut out);
            }
            // Canonical XML without comments drops comments; the XML declaration is not part of the output.
            Event::Comment(_) | Event::Decl(_) => {}
            Event::PI(_) => return Err(ProofError::Unsupported("processing instructions")),
            Event::DocType(_) => return Err(ProofError::Unsupported("a DTD")),
            Event::Eof => break,
        }
    }
    if !stack.is_empty() || !seen_root {
        return Err(ProofError::Xml("the element is not complete".into()));
    }
    Ok(out)
}

/// Writes a canonical start tag and returns its frame.
fn start_tag(e: &BytesStart<'_>, stack: &[Frame], out: &mut String) -> Result<Frame, ProofError> {
    let qname = e.name().as_ref().to_owned();
    let mut declared = Vec::new();
    let mut attrs: Vec<(String, String)> = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| ProofError::Xml(err.to_string()))?;
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| ProofError::Xml(err.to_string()))?
            .into_owned();
        if key == "xmlns" {
            declared.push((String::new(), value));
        } else if let Some(prefix) = key.strip_prefix("xmlns:") {
            declared.push((prefix.to_owned(), value));
        } else {
            attrs.push((key, value));
        }
    }
    let in_scope = |prefix: &str| -> Option<String> {
        if prefix == "xml" {
            return Some("http://www.w3.org/XML/1998/namespace".to_owned());
        }
        declared
            .iter()
            .chain(stack.iter().rev().flat_map(|f| f.declared.iter()))
            .find(|(p, _)| p == prefix)
            .map(|(_, uri)| uri.clone())
    };
    let rendered_above = |prefix: &str| -> Option<&String> {
        stack.iter().rev().flat_map(|f| f.rendered.iter()).find(|(p, _)| p == prefix).map(|(_, uri)| uri)
    };
    // Visibly utilised prefixes: the element's own, and those of its prefixed attributes.
    let element_prefix = qname.split_once(':').map(|(p, _)| p.to_owned()).unwrap_or_default();
    let mut used = vec![element_prefix];
    for (key, _) in &attrs {
        if let Some((p, _)) = key.split_once(':') {
            used.push(p.to_owned());
        }
    }
    used.sort();
    used.dedup();
    let mut rendered = Vec::new();
    for prefix in used {
        if prefix == "xml" {
            continue;
        }
        let uri = match in_scope(&prefix) {
            Some(uri) => uri,
            None if prefix.is_empty() => String::new(),
            None => return Err(ProofError::UndeclaredPrefix(prefix)),
        };
        let above = rendered_above(&prefix);
        // An unprefixed element in no namespace renders xmlns="" only when an output ancestor rendered a default.
        let needed = if uri.is_empty() && prefix.is_empty() {
            above.is_some_and(|u| !u.is_empty())
        } else {
            above != Some(&uri)
        };
        if needed {
            rendered.push((prefix, uri));
        }
    }
    // Attributes sort by (namespace URI, local name); unprefixed ones have no namespace.
    let mut keyed = Vec::with_capacity(attrs.len());
    for (key, value) in attrs {
        let (uri, local) = match key.split_once(':') {
            Some((p, l)) => (in_scope(p).ok_or_else(|| ProofError::UndeclaredPrefix(p.to_owned()))?, l.to_owned()),
            None => (String::new(), key.clone()),
        };
        keyed.push(((uri, local), key, value));
    }
    keyed.sort();
    out.push('<');
    out.push_str(&qname);
    for (prefix, uri) in &rendered {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(&format!(" xmlns:{prefix}=\""));
        }
        escape_attr(uri, out);
        out.push('"');
    }
    for (_, key, value) in &keyed {
        out.push_str(&format!(" {key}=\""));
        escape_attr(value, out);
        out.push('"');
    }
    out.push('>');
    Ok(Frame { qname, declared, rendered })
}

/// C14N text escaping: `&`, `<`, `>`, CR.
fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// C14N attribute value escaping: `&`, `<`, `"`, TAB, LF, CR.
fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use super::*;
    use crate::xml::Document;

    const T0: u64 = 1_795_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// An RSTR as the lab's STS writes it (tests/lab/src/web/sts.rs `rstr`), with an `&amp;` in the assertion.
    fn ticket() -> WebTicket {
        let rstr = concat!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>"#,
            r#"<RequestSecurityTokenResponseCollection xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512">"#,
            r#"<RequestSecurityTokenResponse><RequestedSecurityToken>"#,
            r#"<saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="SamlSecurityToken-1" "#,
            r#"Issuer="pool01.contoso.lab" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion">"#,
            r#"<saml:Audience>https://pool/x?a=1&amp;b=2</saml:Audience></saml:Assertion>"#,
            r#"</RequestedSecurityToken><Lifetime>"#,
            r#"<wsu:Created xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2026-11-19T08:26:40Z</wsu:Created>"#,
            r#"<wsu:Expires xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">2026-11-19T16:26:40Z</wsu:Expires>"#,
            r#"</Lifetime><Entropy><BinarySecret>BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=</BinarySecret></Entropy>"#,
            r#"</RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection></s:Body></s:Envelope>"#
        );
        crate::auth::webticket::parse_rstr(rstr.as_bytes()).unwrap()
    }

    /// SHA-1 (base64) and HMAC-SHA1 (base64) of `data` with `key`, computed by Python's hashlib/hmac.
    fn python_digests(key: &[u8], data: &str) -> (String, String) {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let script = "import sys,hashlib,hmac,base64\nd=sys.stdin.buffer.read()\nk=bytes.fromhex(sys.argv[1])\n\
                      print(base64.b64encode(hashlib.sha1(d).digest()).decode())\n\
                      print(base64.b64encode(hmac.new(k,d,hashlib.sha1).digest()).decode())";
        let mut child = Command::new("python3")
            .args(["-c", script, &hex])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child.stdin.take().unwrap().write_all(data.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        (lines.next().unwrap().to_owned(), lines.next().unwrap().to_owned())
    }

    #[test]
    fn c14n_expands_empty_elements_sorts_attributes_and_drops_unused_or_repeated_declarations() {
        let input = concat!(
            r#"<a:root b="2" xmlns:z="urn:z" a:x='1' xmlns:a="urn:a" xmlns="urn:d" c="&lt;&quot;&#9;">"#,
            r#"<a:child xmlns:a="urn:a"/><!-- gone --><plain z:k="v">x &amp; y &gt; z</plain>"#,
            r#"<bare xmlns=""><inner/></bare></a:root>"#
        );
        assert_eq!(
            exc_c14n(input).unwrap(),
            concat!(
                r#"<a:root xmlns:a="urn:a" b="2" c="&lt;&quot;&#x9;" a:x="1">"#,
                r#"<a:child></a:child><plain xmlns="urn:d" xmlns:z="urn:z" z:k="v">x &amp; y &gt; z</plain>"#,
                r#"<bare><inner></inner></bare></a:root>"#
            )
        );
        // xmlns="" is rendered only under an output ancestor that rendered a default namespace.
        assert_eq!(
            exc_c14n(r#"<a xmlns="urn:d"><b xmlns=""/></a>"#).unwrap(),
            r#"<a xmlns="urn:d"><b xmlns=""></b></a>"#
        );
        assert_eq!(exc_c14n("<?xml version=\"1.0\"?>\n<a/>\n").unwrap(), "<a></a>");
    }

    #[test]
    fn c14n_refuses_what_it_does_not_handle() {
        assert_eq!(exc_c14n("<a><?pi x?></a>"), Err(ProofError::Unsupported("processing instructions")));
        assert_eq!(exc_c14n("<p:a/>"), Err(ProofError::UndeclaredPrefix("p".into())));
        assert_eq!(exc_c14n("<a/><b/>"), Err(ProofError::Unsupported("more than one root element")));
        assert!(matches!(exc_c14n("<a><b></a>"), Err(ProofError::Xml(_))));
        assert!(matches!(exc_c14n("<a>"), Err(ProofError::Xml(_))));
        assert_eq!(exc_c14n(&"<a>".repeat(MAX_DEPTH + 1)), Err(ProofError::TooLarge));
    }

    #[test]
    fn the_timestamp_and_signed_info_are_built_canonical() {
        let ts = timestamp_xml(at(T0), at(T0 + 300));
        assert_eq!(
            ts,
            concat!(
                r#"<wsu:Timestamp xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" "#,
                r#"wsu:Id="timestamp"><wsu:Created>2026-11-18T11:06:40Z</wsu:Created>"#,
                r#"<wsu:Expires>2026-11-18T11:11:40Z</wsu:Expires></wsu:Timestamp>"#
            )
        );
        assert_eq!(exc_c14n(&ts).unwrap(), ts, "the Timestamp is sent in canonical form");
        let si = exc_c14n(&signed_info("timestamp", "AAAA")).unwrap();
        assert_eq!(
            si,
            concat!(
                r#"<SignedInfo xmlns="http://www.w3.org/2000/09/xmldsig#">"#,
                r#"<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></CanonicalizationMethod>"#,
                r#"<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1"></SignatureMethod>"#,
                r##"<Reference URI="#timestamp"><Transforms>"##,
                r#"<Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></Transform></Transforms>"#,
                r#"<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"></DigestMethod>"#,
                r#"<DigestValue>AAAA</DigestValue></Reference></SignedInfo>"#
            )
        );
        assert_eq!(exc_c14n(&si).unwrap(), si);
    }

    #[test]
    fn xs_datetime_reads_back() {
        for secs in [0, 86_399, 951_782_400, T0, 4_102_444_800] {
            let s = xs_datetime(at(secs));
            assert_eq!(crate::auth::webticket::parse_time(&s, "t").unwrap(), at(secs), "{s}");
        }
        assert_eq!(xs_datetime(at(951_782_400)), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn digest_and_signature_match_python_hashlib_and_hmac() {
        let key = ProofKey::new(core::array::from_fn(|i| i as u8 * 7 + 1));
        let ts = timestamp_xml(at(T0), at(T0 + 28_800));
        let si = exc_c14n(&signed_info(TIMESTAMP_ID, &digest_value(&ts))).unwrap();
        let (py_digest, _) = python_digests(&key.0, &ts);
        assert_eq!(digest_value(&ts), py_digest);
        let (_, py_hmac) = python_digests(&key.0, &si);
        assert_eq!(signature_value(&key, &si), py_hmac);
    }

    #[test]
    fn the_signed_rst_carries_timestamp_assertion_and_a_verifiable_signature() {
        let ticket = ticket();
        let client_entropy = [1u8; 32];
        let key = ProofKey::for_ticket(&ticket, &client_entropy).unwrap();
        let rst = proof_rst_request(
            "https://pool/WebTicket/WebTicketService.svc/Auth",
            &ticket,
            &key,
            ticket.created,
            ticket.expires,
            "https://pool/CertProv",
            "sip:alice@contoso.lab",
            &[9; 32],
            "ctx-1",
            "m-1",
        )
        .unwrap();
        let doc = Document::parse(rst.as_bytes()).unwrap();
        let security = doc.root.path(&["Header", "Security"]).unwrap();
        let names: Vec<&str> = security.children.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Timestamp", "Assertion", "Signature"]);
        let ts = security.child("Timestamp").unwrap();
        assert_eq!(ts.attr("Id"), Some("timestamp"));
        assert_eq!(ts.child_text("Created"), Some("2026-11-19T08:26:40Z"));
        assert_eq!(ts.child_text("Expires"), Some("2026-11-19T16:26:40Z"));
        // The assertion travels byte for byte (the `&amp;` stays escaped).
        assert_eq!(doc.outer_xml(security.child("Assertion").unwrap()), ticket.assertion_xml());
        let sig = security.child("Signature").unwrap();
        assert_eq!(sig.namespace.as_deref(), Some(DSIG_NS));
        let si = sig.child("SignedInfo").unwrap();
        assert_eq!(si.path(&["Reference"]).and_then(|r| r.attr("URI")), Some("#timestamp"));
        assert_eq!(si.child("SignatureMethod").and_then(|m| m.attr("Algorithm")), Some(HMAC_SHA1));
        let key_id = sig.path(&["KeyInfo", "SecurityTokenReference", "KeyIdentifier"]).unwrap();
        assert_eq!(key_id.text, "SamlSecurityToken-1");
        assert_eq!(key_id.attr("ValueType"), Some(SAML_ASSERTION_ID));
        // A verifier's view: digest over the Timestamp as sent, HMAC over SignedInfo as sent (both canonical).
        let (digest, _) = python_digests(&key.0, doc.outer_xml(ts));
        assert_eq!(si.path(&["Reference", "DigestValue"]).unwrap().text, digest);
        let (_, mac) = python_digests(&key.0, doc.outer_xml(si));
        assert_eq!(sig.child_text("SignatureValue"), Some(mac.as_str()));
        // The body is the ordinary RST, no credentials anywhere.
        assert!(doc.root.path(&["Body", "RequestSecurityToken", "Entropy", "BinarySecret"]).is_some());
        assert!(!rst.contains("UsernameToken") && !rst.contains("Password"));
    }

    #[test]
    fn proof_ports_are_found_by_their_names() {
        use crate::auth::webticket::{MexInfo, proof_port};
        let mut info = MexInfo::default();
        info.ports.insert("WebTicketServiceWinNegotiate".into(), "https://p/Auth".into());
        assert_eq!(proof_port(&info), None);
        info.ports.insert("CertProvisioningServiceWebTicketProof_SHA1".into(), "https://p/CertProv".into());
        assert_eq!(proof_port(&info).as_deref(), Some("https://p/CertProv"));
        let mut alt = MexInfo::default();
        alt.ports.insert("webticket_proof".into(), "https://p/WebTicket_Proof".into());
        assert_eq!(proof_port(&alt).as_deref(), Some("https://p/WebTicket_Proof"));
    }

    #[test]
    fn the_proof_key_is_zeroized() {
        use zeroize::Zeroize as _;
        crate::auth::secret_tests::assert_zeroize_on_drop::<ProofKey>();
        let mut key = ProofKey::new([0xAB; 32]);
        let copy = key.clone();
        key.zeroize();
        assert_eq!(key.0, [0; 32]);
        assert_eq!(copy.0, [0xAB; 32], "a clone holds (and wipes) its own copy");
    }

    #[test]
    fn secrets_stay_out_of_debug_and_a_ticket_without_entropy_has_no_key() {
        let key = ProofKey::new([0xAB; 32]);
        assert_eq!(format!("{key:?}"), "ProofKey(<redacted>)");
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(7));
        crate::auth::secret_tests::assert_redacted(&format!("{:?}", ProofKey::new(bytes)), &bytes);
        let ticket = ticket();
        assert!(!format!("{ticket:?}").contains("Audience"));
        let rstr = concat!(
            r#"<r><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" AssertionID="x"/>"#,
            r#"<Lifetime><Created>2026-11-19T08:26:40Z</Created><Expires>2026-11-19T16:26:40Z</Expires></Lifetime></r>"#
        );
        let bearer = crate::auth::webticket::parse_rstr(rstr.as_bytes()).unwrap();
        assert_eq!(ProofKey::for_ticket(&bearer, &[1; 32]), Err(ProofError::NoProofKey));
    }
}
