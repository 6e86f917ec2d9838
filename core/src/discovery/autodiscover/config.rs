//! What a walk is given and what it gives back: its settings, the requests it asks for, its outcome, and the
//! entry URL it starts from.

use url::Url;

use super::{AccessLocation, Format, Resource, WalkError};
use crate::discovery::{Candidate, Source};

/// The default limit on `Redirect` hops in one walk.
pub const DEFAULT_MAX_HOPS: u32 = 10;

/// http or https, for [`entry_url`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: the Root answers only with a Redirect to HTTPS.
    Http,
    /// HTTPS.
    Https,
}

/// How a walk behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkConfig {
    /// The user's SIP domain: redirects must stay inside it (or a trusted domain).
    pub sip_domain: String,
    /// Which discovery method this walk is, for the candidates it finds.
    pub source: Source,
    /// XML (default) or JSON.
    pub format: Format,
    /// The most `Redirect` hops followed (default [`DEFAULT_MAX_HOPS`]).
    pub max_hops: u32,
    /// Further domains redirects may lead into (Lync's TrustModelData), e.g. a hosting provider's.
    pub trusted_domains: Vec<String>,
}

impl WalkConfig {
    /// XML, ten hops, no trusted domains besides `sip_domain`.
    pub fn new(sip_domain: impl Into<String>, source: Source) -> WalkConfig {
        WalkConfig {
            sip_domain: sip_domain.into(),
            source,
            format: Format::Xml,
            max_hops: DEFAULT_MAX_HOPS,
            trusted_domains: Vec::new(),
        }
    }
}

/// The next GET to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Absolute URL.
    pub url: String,
    /// The `Accept` header value.
    pub accept: &'static str,
    /// The report's name for this step (`lyncdiscoverinternal (https) User`).
    pub step: String,
}

/// Access points found, and where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Registrars to try, in order.
    pub candidates: Vec<Candidate>,
    /// User, or Domain when the User resource needed a web ticket.
    pub resource: Resource,
    /// Where the server placed the client.
    pub access_location: Option<AccessLocation>,
    /// The URL that answered.
    pub url: String,
}

/// How a walk ended. The web ticket URL and the User URL are kept whatever the result: the authentication
/// stage needs them to come back with a ticket.
#[derive(Debug)]
pub struct WalkOutcome {
    /// The access points, or why there are none.
    pub result: Result<Found, WalkError>,
    /// `X-MS-WebTicketURL` from a 401 on User: the Web Ticket Service to ask.
    pub web_ticket_url: Option<String>,
    /// The User resource's URL, where a web ticket would be presented.
    pub user_url: Option<String>,
    /// How the walk learned the two URLs above (over TLS, or in a walk that began over plain http).
    pub learned: crate::trust::Learned,
}

/// The entry URL `<scheme>://lyncdiscover[internal].<domain>[:port]/?sipuri=<address>` for `sip_address`
/// (`sip:` prefix optional). `port` is for test pools on other ports.
pub fn entry_url(source: Source, scheme: Scheme, sip_address: &str, port: Option<u16>) -> Result<String, WalkError> {
    let address = sip_address.strip_prefix("sip:").unwrap_or(sip_address);
    let bad = |reason: &str| WalkError::BadEntryUrl { url: address.to_owned(), reason: reason.to_owned() };
    let domain = match address.rsplit_once('@') {
        Some((user, domain)) if !user.is_empty() && !domain.is_empty() => domain,
        _ => return Err(bad("the sign-in address must look like user@domain")),
    };
    let prefix = match source {
        Source::LyncDiscoverInternal => "lyncdiscoverinternal",
        Source::LyncDiscover => "lyncdiscover",
        _ => return Err(bad("only the lyncdiscover methods have an entry URL")),
    };
    let scheme = match scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    let url = format!("{scheme}://{prefix}.{domain}{port}/?sipuri={}", encode(address));
    Url::parse(&url).map(String::from).map_err(|e| bad(&e.to_string()))
}

/// Percent-encodes a query value, leaving RFC 3986 unreserved characters and `@` as they are (SIPE and the
/// Microsoft client send `sipuri=alice@contoso.com` unencoded).
pub(super) fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
