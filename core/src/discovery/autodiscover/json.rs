//! The JSON representation (UCWA flavour, `Accept: application/json`, REFERENCE.md §1.2): HAL-style links only,
//!
//! ```json
//! {"_links":{"self":{"href":"…/root?originalDomain=contoso.com"},"user":{"href":"…/root/oauth/user?…"},
//!            "xframe":{"href":"…/XFrame/XFrame.html"}}}
//! ```
//!
//! Keys are lower-case; they are mapped to the XML tokens (`user` → `User`, `redirect` → `Redirect`) so the
//! walk reads one vocabulary. JSON says neither which resource it is nor where the client is, and the public
//! samples carry no SIP access points, so none are read from it (no guessing at a shape never seen).

use serde_json::Value;

use super::{AutodiscoverDocument, Link, ParseError, Resource};

/// The XML spellings of the tokens [MS-OCDISCWS] 2.2.5.5 defines, plus UCWA's `Applications`.
const TOKENS: [&str; 13] = [
    "Internal/Autodiscover",
    "External/Autodiscover",
    "Internal/AuthBroker",
    "External/AuthBroker",
    "Internal/Ucwa",
    "External/Ucwa",
    "Redirect",
    "User",
    "Domain",
    "OAuth",
    "Self",
    "XFrame",
    "Applications",
];

/// Parses a JSON autodiscover document from `url`; `requested` becomes its resource, since JSON does not say.
pub fn parse(body: &[u8], requested: Resource, url: &str) -> Result<AutodiscoverDocument, ParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ParseError::Syntax { url: url.to_owned(), detail: e.to_string() })?;
    let not_autodiscover = |found: &str| ParseError::NotAutodiscover { url: url.to_owned(), found: found.to_owned() };
    let Some(object) = value.as_object() else { return Err(not_autodiscover("JSON that is not an object")) };
    let Some(links) = object.get("_links").and_then(Value::as_object) else {
        return Err(not_autodiscover("a JSON object without _links"));
    };
    let mut out = Vec::new();
    for (key, link) in links {
        // HAL allows one link object or an array of them.
        let items = match link {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for item in items {
            let href = item.get("href").and_then(Value::as_str).filter(|h| !h.trim().is_empty());
            let Some(href) = href else {
                return Err(ParseError::BadAttribute {
                    url: url.to_owned(),
                    element: format!("_links.{key}"),
                    attribute: "href".to_owned(),
                    value: item.get("href").map(Value::to_string).unwrap_or_default(),
                });
            };
            out.push(Link { token: token(key), href: href.trim().to_owned() });
        }
    }
    Ok(AutodiscoverDocument {
        access_location: None,
        resource: requested,
        links: out,
        sip_client_internal: None,
        sip_client_external: None,
    })
}

/// `redirect` → `Redirect`, `internal/ucwa` → `Internal/Ucwa`; unknown keys stay as sent.
fn token(key: &str) -> String {
    TOKENS.iter().find(|t| t.eq_ignore_ascii_case(key)).map_or_else(|| key.to_owned(), |t| (*t).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://lyncdiscover.contoso.com/";

    /// Step 2 of the UCWA vector, verbatim (tests/vectors/UCWA_lyncdiscover-json-flow.txt).
    const VECTOR_ROOT: &str = r#"{
        "_links":{
        "self":{"href":"https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com"},
        "user":{"href":"https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.com"},
        "xframe":{"href":"https://lyncweb.contoso.com/Autodiscover/XFrame/XFrame.html"}
        }
        }"#;

    /// The Office 365 redirect root quoted at the end of the same vector file, verbatim.
    const VECTOR_O365: &str = r#"{"_links":{"self":{"href":"https://webdir0b.online.lync.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=domain.com"},"xframe":{"href":"https://webdir1A.online.lync.com/Autodiscover/AutodiscoverService.svc/root/xframe"},"redirect":{"href":"https://webdir1A.online.lync.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=domain.com"}}}"#;

    /// Step 8 (the user resource once authenticated): UCWA links, no SIP access points.
    const VECTOR_USER: &str = r#"{
    "_links":{
    "self":{"href":"https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root/user"},
    "applications":{"href":"https://lyncweb.contoso.com/ucwa/oauth/v1/applications"},
    "xframe":{"href":"https://lyncweb.contoso.com/Autodiscover/XFrame/XFrame.html"}
    }
    }"#;

    #[test]
    fn ucwa_root_vector() {
        let doc = parse(VECTOR_ROOT.as_bytes(), Resource::Root, URL).unwrap();
        assert_eq!(doc.resource, Resource::Root);
        let tokens: Vec<&str> = doc.links.iter().map(|l| l.token.as_str()).collect();
        assert_eq!(tokens, ["Self", "User", "XFrame"]);
        assert_eq!(
            doc.link("User"),
            Some(
                "https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.com"
            )
        );
        assert_eq!(doc.link("Redirect"), None);
        assert_eq!((doc.access_location, doc.sip_client_internal, doc.sip_client_external), (None, None, None));
    }

    #[test]
    fn o365_redirect_vector() {
        let doc = parse(VECTOR_O365.as_bytes(), Resource::Root, URL).unwrap();
        assert_eq!(
            doc.link("Redirect"),
            Some(
                "https://webdir1A.online.lync.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=domain.com"
            )
        );
    }

    #[test]
    fn user_vector_has_links_but_no_access_points() {
        let doc = parse(VECTOR_USER.as_bytes(), Resource::User, URL).unwrap();
        assert_eq!(doc.resource, Resource::User);
        assert_eq!(doc.link("Applications"), Some("https://lyncweb.contoso.com/ucwa/oauth/v1/applications"));
        assert_eq!(doc.sip_client_internal, None);
    }

    #[test]
    fn link_arrays_and_unknown_tokens() {
        let body = br#"{"_links":{"user":[{"href":"https://a/1"},{"href":"https://a/2"}],"fancyNew":{"href":"x"}}}"#;
        let doc = parse(body, Resource::Root, URL).unwrap();
        let links: Vec<(&str, &str)> = doc.links.iter().map(|l| (l.token.as_str(), l.href.as_str())).collect();
        // serde_json's map orders keys; the walk never depends on link order.
        assert_eq!(links, [("fancyNew", "x"), ("User", "https://a/1"), ("User", "https://a/2")]);
    }

    #[test]
    fn malformed_json_is_a_typed_error_naming_the_url() {
        for (body, syntax) in [
            (&b"{\"_links\":"[..], true),
            (b"[1,2]", false),
            (b"{\"links\":{}}", false),
            (b"{\"_links\":{\"user\":{\"href\":7}}}", false),
        ] {
            let err = parse(body, Resource::Root, URL).unwrap_err();
            assert_eq!(matches!(err, ParseError::Syntax { .. }), syntax, "{err}");
            assert!(err.to_string().contains(URL), "{err}");
        }
    }
}
