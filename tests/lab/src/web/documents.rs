//! Autodiscover bodies as a Lync Front End writes them: XML (`AutodiscoverResponse`, [MS-OCDISCWS] 2.2.4) and
//! the UCWA JSON flavour (`_links`). Written here rather than with sfbkit's parser types, so that a client bug
//! in reading them cannot be mirrored by the same bug in producing them.

use quick_xml::escape::escape;
use serde_json::{Map, Value};

/// The XML media type with its version parameter, as IIS sends it.
pub(crate) const XML_CONTENT_TYPE: &str = "application/vnd.microsoft.rtc.autodiscover+xml; v=1";

/// A SIP access point element: (`SipClientInternalAccess`, fqdn, port).
pub(crate) type AccessElement<'a> = (&'a str, &'a str, u16);

/// `<AutodiscoverResponse AccessLocation=".."><{resource}>` with access points, then links.
pub(crate) fn xml(location: &str, resource: &str, access: &[AccessElement<'_>], links: &[(&str, String)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<AutodiscoverResponse \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" AccessLocation=\"{}\"><{resource}>",
        escape(location)
    );
    for (element, fqdn, port) in access {
        out.push_str(&format!("<{element} fqdn=\"{}\" port=\"{port}\"/>", escape(*fqdn)));
    }
    for (token, href) in links {
        out.push_str(&format!("<Link token=\"{}\" href=\"{}\"/>", escape(*token), escape(href.as_str())));
    }
    out.push_str(&format!("</{resource}></AutodiscoverResponse>"));
    out
}

/// `{"_links":{"self":{"href":..},...}}`, keys lower-case as the UCWA flavour writes them.
pub(crate) fn json(links: &[(&str, String)]) -> String {
    let mut map = Map::new();
    for (token, href) in links {
        let mut link = Map::new();
        link.insert("href".to_owned(), Value::String(href.clone()));
        map.insert(token.to_ascii_lowercase(), Value::Object(link));
    }
    let mut root = Map::new();
    root.insert("_links".to_owned(), Value::Object(map));
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_hrefs_and_orders_access_points_first() {
        let body = xml(
            "Internal",
            "Domain",
            &[("SipClientInternalAccess", "pool01.contoso.lab", 5061)],
            &[("Self", "https://a/root?x=1&y=2".to_owned())],
        );
        assert!(body.contains(
            "AccessLocation=\"Internal\"><Domain><SipClientInternalAccess fqdn=\"pool01.contoso.lab\" port=\"5061\"/>"
        ));
        assert!(body.contains("<Link token=\"Self\" href=\"https://a/root?x=1&amp;y=2\"/></Domain>"), "{body}");
    }

    #[test]
    fn json_keys_are_lower_case() {
        let body = json(&[("User", "https://a/u".to_owned()), ("XFrame", "https://a/x".to_owned())]);
        assert_eq!(body, r#"{"_links":{"user":{"href":"https://a/u"},"xframe":{"href":"https://a/x"}}}"#);
    }
}
