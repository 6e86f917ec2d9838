//! The XML representation (`application/vnd.microsoft.rtc.autodiscover+xml; v=1`, REFERENCE.md §1.2):
//!
//! ```xml
//! <AutodiscoverResponse AccessLocation="Internal">
//!   <User>
//!     <SipClientInternalAccess fqdn="pool01.contoso.com" port="5061"/>
//!     <SipClientExternalAccess fqdn="sip.contoso.com" port="443"/>
//!     <Link token="Internal/Ucwa" href="https://pool01.contoso.com/ucwa/v1/applications"/>
//!   </User>
//! </AutodiscoverResponse>
//! ```
//!
//! Namespace prefixes are ignored (as SIPE does) but element and attribute names are matched exactly as
//! Microsoft sends them. Only direct children of the Root/User/Domain element count, and only the first of
//! each access point kind (SIPE's rule). The reader never expands entities beyond XML's predefined five.

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use super::{AccessLocation, AccessPoint, AutodiscoverDocument, Link, ParseError, Resource};

/// Parses an XML autodiscover document received from `url` (named in errors). The caller bounds its size.
pub fn parse(body: &[u8], url: &str) -> Result<AutodiscoverDocument, ParseError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ParseError::Syntax { url: url.to_owned(), detail: format!("not UTF-8: {e}") })?;
    let stripped = text.trim_start_matches('\u{feff}');
    // Error positions name bytes of the document as received, byte-order marks included.
    let skipped = (text.len() - stripped.len()) as u64;
    let text = stripped;
    let mut reader = Reader::from_str(text);
    let mut doc = Builder { url, depth: 0, in_resource: false, seen_root: false, doc: None };
    loop {
        let event = reader.read_event().map_err(|e| ParseError::Syntax {
            url: url.to_owned(),
            detail: format!("{e} (at byte {})", reader.error_position() + skipped),
        })?;
        match event {
            Event::Start(e) => {
                doc.depth += 1;
                doc.element(&e, true)?;
            }
            Event::Empty(e) => {
                doc.depth += 1;
                doc.element(&e, false)?;
                doc.depth -= 1;
            }
            Event::End(_) => {
                if doc.depth == 2 {
                    doc.in_resource = false;
                }
                doc.depth = doc.depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match doc.doc {
        Some(Partial { resource: Some(resource), access_location, links, internal, external }) => {
            Ok(AutodiscoverDocument {
                access_location,
                resource,
                links,
                sip_client_internal: internal,
                sip_client_external: external,
            })
        }
        Some(_) => Err(ParseError::NoResource { url: url.to_owned() }),
        None => Err(ParseError::NotAutodiscover { url: url.to_owned(), found: "no XML element".to_owned() }),
    }
}

/// What has been read so far.
struct Partial {
    access_location: Option<AccessLocation>,
    resource: Option<Resource>,
    links: Vec<Link>,
    internal: Option<AccessPoint>,
    external: Option<AccessPoint>,
}

struct Builder<'u> {
    url: &'u str,
    /// Depth of the element being handled: 1 is the document element.
    depth: usize,
    /// Inside the (first) Root/User/Domain element.
    in_resource: bool,
    seen_root: bool,
    doc: Option<Partial>,
}

impl Builder<'_> {
    fn element(&mut self, e: &BytesStart<'_>, has_children: bool) -> Result<(), ParseError> {
        let name = e.local_name();
        let name = name.as_ref();
        match self.depth {
            1 => self.document_element(e, name),
            2 => {
                let Some(doc) = self.doc.as_mut() else { return Ok(()) };
                let resource = match name {
                    "Root" => Resource::Root,
                    "User" => Resource::User,
                    "Domain" => Resource::Domain,
                    _ => return Ok(()),
                };
                if doc.resource.is_none() {
                    doc.resource = Some(resource);
                    self.in_resource = has_children;
                }
                Ok(())
            }
            3 if self.in_resource => self.resource_child(e, name),
            _ => Ok(()),
        }
    }

    fn document_element(&mut self, e: &BytesStart<'_>, name: &str) -> Result<(), ParseError> {
        if self.seen_root {
            return Ok(());
        }
        self.seen_root = true;
        if name != "AutodiscoverResponse" {
            return Err(ParseError::NotAutodiscover { url: self.url.to_owned(), found: format!("<{name}>") });
        }
        let access_location = match attr(e, "AccessLocation", self.url)? {
            Some(v) if v.eq_ignore_ascii_case("internal") => Some(AccessLocation::Internal),
            Some(v) if v.eq_ignore_ascii_case("external") => Some(AccessLocation::External),
            Some(other) => {
                tracing::debug!(url = self.url, value = other, "unknown AccessLocation, treated as absent");
                None
            }
            None => None,
        };
        self.doc = Some(Partial { access_location, resource: None, links: Vec::new(), internal: None, external: None });
        Ok(())
    }

    fn resource_child(&mut self, e: &BytesStart<'_>, name: &str) -> Result<(), ParseError> {
        let url = self.url;
        let Some(doc) = self.doc.as_mut() else { return Ok(()) };
        match name {
            "Link" => {
                let token = required(e, "Link", "token", url)?;
                let href = required(e, "Link", "href", url)?;
                doc.links.push(Link { token, href });
            }
            "SipClientInternalAccess" if doc.internal.is_none() => doc.internal = Some(access_point(e, name, url)?),
            "SipClientExternalAccess" if doc.external.is_none() => doc.external = Some(access_point(e, name, url)?),
            _ => {}
        }
        Ok(())
    }
}

fn access_point(e: &BytesStart<'_>, element: &str, url: &str) -> Result<AccessPoint, ParseError> {
    let fqdn = required(e, element, "fqdn", url)?;
    let port = required(e, element, "port", url)?;
    match port.trim().parse::<u16>() {
        Ok(p) if p != 0 => Ok(AccessPoint { fqdn, port: p }),
        _ => Err(bad(url, element, "port", &port)),
    }
}

/// A non-empty attribute value.
fn required(e: &BytesStart<'_>, element: &str, name: &str, url: &str) -> Result<String, ParseError> {
    match attr(e, name, url)? {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        other => Err(bad(url, element, name, &other.unwrap_or_default())),
    }
}

/// The unescaped value of attribute `name` (local name, prefix ignored).
fn attr(e: &BytesStart<'_>, name: &str, url: &str) -> Result<Option<String>, ParseError> {
    let syntax = |detail: String| ParseError::Syntax { url: url.to_owned(), detail };
    for a in e.attributes() {
        let a = a.map_err(|err| syntax(err.to_string()))?;
        if a.key.local_name().as_ref() == name {
            let value = a.normalized_value(XmlVersion::Implicit1_0).map_err(|err| syntax(err.to_string()))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn bad(url: &str, element: &str, attribute: &str, value: &str) -> ParseError {
    ParseError::BadAttribute {
        url: url.to_owned(),
        element: element.to_owned(),
        attribute: attribute.to_owned(),
        value: value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://lyncdiscoverinternal.contoso.com/?sipuri=alice@contoso.com";

    #[test]
    fn root_with_user_and_domain_links() {
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<AutodiscoverResponse xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" AccessLocation="Internal">
  <Root>
    <Link token="Domain" href="https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root/domain?originalDomain=contoso.com"/>
    <Link token="User" href="https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root/user?originalDomain=contoso.com&amp;sipuri=alice@contoso.com"/>
    <Link token="Self" href="https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com"/>
  </Root>
</AutodiscoverResponse>"#;
        let doc = parse(body.as_bytes(), URL).unwrap();
        assert_eq!(doc.resource, Resource::Root);
        assert_eq!(doc.access_location, Some(AccessLocation::Internal));
        assert_eq!(doc.links.len(), 3);
        assert_eq!(
            doc.link("user"),
            Some(
                "https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root/user?originalDomain=contoso.com&sipuri=alice@contoso.com"
            )
        );
        assert_eq!(doc.sip_client_internal, None);
    }

    #[test]
    fn user_with_access_points_and_prefixed_names() {
        let body = r#"<ad:AutodiscoverResponse xmlns:ad="urn:x" AccessLocation="external">
  <ad:User>
    <ad:SipClientInternalAccess fqdn="pool01.contoso.com" port="5061"/>
    <ad:SipClientExternalAccess fqdn="sip.contoso.com" port="443"/>
    <ad:SipClientExternalAccess fqdn="second.contoso.com" port="443"/>
    <ad:SipServerInternalAccess fqdn="pool01.contoso.com" port="5061"/>
    <ad:Link token="External/Ucwa" href="https://lyncweb.contoso.com/ucwa/v1/applications"/>
  </ad:User>
</ad:AutodiscoverResponse>"#;
        let doc = parse(body.as_bytes(), URL).unwrap();
        assert_eq!(doc.resource, Resource::User);
        assert_eq!(doc.access_location, Some(AccessLocation::External));
        assert_eq!(doc.sip_client_internal, Some(AccessPoint { fqdn: "pool01.contoso.com".into(), port: 5061 }));
        assert_eq!(doc.sip_client_external, Some(AccessPoint { fqdn: "sip.contoso.com".into(), port: 443 }));
        assert_eq!(doc.link("External/Ucwa"), Some("https://lyncweb.contoso.com/ucwa/v1/applications"));
    }

    #[test]
    fn root_redirect_and_empty_user_redirect() {
        let body = r#"<AutodiscoverResponse><Root><Link token="Redirect" href="https://webdir1a.online.lync.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com"/></Root></AutodiscoverResponse>"#;
        let doc = parse(body.as_bytes(), URL).unwrap();
        assert_eq!(doc.access_location, None);
        assert!(doc.link("Redirect").unwrap().starts_with("https://webdir1a.online.lync.com/"));
        let doc = parse(b"<AutodiscoverResponse><Domain/></AutodiscoverResponse>", URL).unwrap();
        assert_eq!((doc.resource, doc.links.len()), (Resource::Domain, 0));
    }

    #[test]
    fn elements_outside_the_resource_and_other_cases_do_not_count() {
        let body = r#"<AutodiscoverResponse>
  <Link token="Redirect" href="https://evil.example/"/>
  <Domain><Nested><SipClientInternalAccess fqdn="deep.contoso.com" port="5061"/></Nested>
    <sipclientinternalaccess fqdn="lower.contoso.com" port="5061"/></Domain>
  <User><SipClientInternalAccess fqdn="second.contoso.com" port="5061"/></User>
</AutodiscoverResponse>"#;
        let doc = parse(body.as_bytes(), URL).unwrap();
        assert_eq!(doc.resource, Resource::Domain);
        assert!(doc.links.is_empty());
        assert_eq!(doc.sip_client_internal, None);
    }

    #[test]
    fn malformed_documents_are_typed_errors_naming_the_url() {
        let cases: [(&[u8], &str); 7] = [
            (b"<AutodiscoverResponse><Root></AutodiscoverResponse>", "syntax"),
            (b"<html><body>Sign in</body></html>", "not-autodiscover"),
            (b"", "not-autodiscover"),
            (b"<AutodiscoverResponse><Other/></AutodiscoverResponse>", "no-resource"),
            (b"<AutodiscoverResponse><Root><Link token=\"User\"/></Root></AutodiscoverResponse>", "bad-attribute"),
            (
                b"<AutodiscoverResponse><User><SipClientInternalAccess fqdn=\"a\" port=\"70000\"/></User></AutodiscoverResponse>",
                "bad-attribute",
            ),
            (b"\xff\xfe<\x00", "syntax"),
        ];
        for (body, kind) in cases {
            let err = parse(body, URL).unwrap_err();
            let found = match &err {
                ParseError::Syntax { .. } => "syntax",
                ParseError::NotAutodiscover { .. } => "not-autodiscover",
                ParseError::NoResource { .. } => "no-resource",
                ParseError::BadAttribute { .. } => "bad-attribute",
                ParseError::TooLarge { .. } => "too-large",
            };
            assert_eq!(found, kind, "{err}");
            assert_eq!(err.url(), URL);
            assert!(err.to_string().contains(URL), "{err}");
        }
    }
}
