//! A URL taken apart into what connecting and the request line need, with the `url` crate doing the parsing.

use std::net::IpAddr;

use url::{Host, Url};

use super::error::HttpError;

/// Where a request goes: scheme, the host the certificate must name, port, and the request's own parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The URL as the caller gave it, for error messages.
    pub url: String,
    /// True for https.
    pub tls: bool,
    /// The host as the certificate must name it (IPv6 without brackets).
    pub host: String,
    /// The host when it is an IP literal: nothing to resolve.
    pub ip: Option<IpAddr>,
    /// The port, the scheme's default when the URL has none.
    pub port: u16,
    /// The `Host` header: host, plus `:port` when the URL names a non-default port.
    pub host_header: String,
    /// Path and query: HTTP/1.1's origin-form request target. The fragment never goes on the wire.
    pub path_and_query: String,
}

impl Target {
    /// Parses an absolute http or https URL.
    pub fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = |reason: &str| HttpError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let tls = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("only http and https URLs can be requested")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials in a URL are never sent; remove the user:password@ part"));
        }
        let (host, ip) = match parsed.host() {
            Some(Host::Domain(d)) => (d.to_owned(), None),
            Some(Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
            Some(Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
            None => return Err(bad("the URL has no host")),
        };
        let port = parsed.port_or_known_default().ok_or_else(|| bad("the URL has no port"))?;
        let host_str = parsed.host_str().unwrap_or(&host);
        let host_header = match parsed.port() {
            Some(p) => format!("{host_str}:{p}"),
            None => host_str.to_owned(),
        };
        let path_and_query = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        Ok(Target { url: url.to_owned(), tls, host, ip, port, host_header, path_and_query })
    }

    /// Whether a request for `other` may travel on a connection opened for `self` (same scheme, host, port).
    pub fn same_origin(&self, other: &Target) -> bool {
        self.tls == other.tls && self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_with_port_and_query() {
        let t = Target::parse("https://LyncDiscoverInternal.contoso.com:4443/?sipuri=alice@contoso.com#x").unwrap();
        assert!(t.tls);
        assert_eq!(t.host, "lyncdiscoverinternal.contoso.com");
        assert_eq!(t.port, 4443);
        assert_eq!(t.host_header, "lyncdiscoverinternal.contoso.com:4443");
        assert_eq!(t.path_and_query, "/?sipuri=alice@contoso.com");
        assert_eq!(t.ip, None);
    }

    #[test]
    fn default_ports_stay_out_of_the_host_header() {
        let t = Target::parse("http://lyncdiscover.contoso.com").unwrap();
        assert_eq!(
            (t.tls, t.port, t.host_header.as_str(), t.path_and_query.as_str()),
            (false, 80, "lyncdiscover.contoso.com", "/")
        );
        let t = Target::parse("https://[::1]:8443/a").unwrap();
        assert_eq!((t.host.as_str(), t.host_header.as_str()), ("::1", "[::1]:8443"));
        assert!(t.ip.is_some());
    }

    #[test]
    fn unusable_urls_are_refused_with_a_reason() {
        for url in ["/relative", "ftp://a.example/", "https://user:pw@a.example/", "not a url"] {
            let err = Target::parse(url).unwrap_err();
            assert!(matches!(err, HttpError::BadUrl { .. }), "{url}: {err:?}");
            assert_eq!(err.class(), "bad-url");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Target::parse("https://pool01.contoso.com/x").unwrap();
        assert!(a.same_origin(&Target::parse("https://POOL01.contoso.com:443/y?z").unwrap()));
        assert!(!a.same_origin(&Target::parse("http://pool01.contoso.com:443/").unwrap()));
        assert!(!a.same_origin(&Target::parse("https://pool02.contoso.com/").unwrap()));
    }
}
