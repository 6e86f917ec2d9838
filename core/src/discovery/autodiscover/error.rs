//! Why an autodiscover document could not be read, and why a walk ended without access points.

use super::Resource;
use crate::http::HttpError;

/// Why a response body is not a usable autodiscover document. Every variant names the URL it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is larger than any autodiscover document ([`MAX_DOCUMENT`](super::MAX_DOCUMENT)).
    #[error("{url}: the autodiscover answer is {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Where it came from.
        url: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not well-formed XML or JSON (or not UTF-8).
    #[error("{url}: the autodiscover answer is not well-formed: {detail}")]
    Syntax {
        /// Where it came from.
        url: String,
        /// What the parser objected to.
        detail: String,
    },
    /// Well-formed, but something else: an HTML page, another service's XML, JSON without `_links`.
    #[error("{url}: the answer is not an autodiscover document (found {found})")]
    NotAutodiscover {
        /// Where it came from.
        url: String,
        /// What was there instead (the root element's name, or a description).
        found: String,
    },
    /// An `AutodiscoverResponse` without a `Root`, `User` or `Domain` element.
    #[error("{url}: the autodiscover answer has no Root, User or Domain element")]
    NoResource {
        /// Where it came from.
        url: String,
    },
    /// An element lacks a required attribute or has an unusable value (a port that is not a number).
    #[error("{url}: {element} has a missing or invalid {attribute} ({value:?})")]
    BadAttribute {
        /// Where it came from.
        url: String,
        /// The element (`Link`, `SipClientInternalAccess`).
        element: String,
        /// The attribute (`href`, `port`).
        attribute: String,
        /// The value found, empty when missing.
        value: String,
    },
}

impl ParseError {
    /// The URL the document came from.
    pub fn url(&self) -> &str {
        match self {
            ParseError::TooLarge { url, .. }
            | ParseError::Syntax { url, .. }
            | ParseError::NotAutodiscover { url, .. }
            | ParseError::NoResource { url }
            | ParseError::BadAttribute { url, .. } => url,
        }
    }
}

/// Why an autodiscover walk ended without SIP access points.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The entry URL cannot be used (not http/https, no host, no `sipuri` query).
    #[error("autodiscover entry {url:?} cannot be used: {reason}")]
    BadEntryUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request itself failed: DNS, TCP, TLS (with the certificate's verdict), timeout.
    #[error("{step}: {error}")]
    Http {
        /// The walk step (`lyncdiscover (https) Root`).
        step: String,
        /// The URL requested.
        url: String,
        /// What the HTTP layer reported.
        #[source]
        error: HttpError,
    },
    /// The answer was not a usable autodiscover document.
    #[error(transparent)]
    Malformed(ParseError),
    /// A link's href is not a URL that can be followed (unparsable, or not http/https).
    #[error("{url}: the {token} link {href:?} cannot be followed")]
    BadLink {
        /// The document holding the link.
        url: String,
        /// The link's token.
        token: String,
        /// The href as sent.
        href: String,
    },
    /// An HTTP 3xx: autodiscover redirects with `Redirect` links, never with HTTP redirects.
    #[error("{url}: HTTP {status} redirect to {location:?} instead of an autodiscover answer")]
    HttpRedirect {
        /// The URL requested.
        url: String,
        /// The status.
        status: u16,
        /// The `Location` header, empty when absent.
        location: String,
    },
    /// Any other status the walk cannot use.
    #[error("{url}: HTTP {status}{}", parenthesised(diagnostics))]
    UnexpectedStatus {
        /// The URL requested.
        url: String,
        /// The status.
        status: u16,
        /// `X-Ms-diagnostics`, in Test-CsRegistration form, when the server sent it.
        diagnostics: Option<String>,
    },
    /// A Root without a `Redirect` has no `User` link either ([MS-OCDISCWS] 3.1.5.2 requires one).
    #[error("{url}: the {resource} answer has no {token} link")]
    MissingLink {
        /// The document.
        url: String,
        /// Its resource.
        resource: Resource,
        /// The link that was needed.
        token: &'static str,
    },
    /// A `Redirect` led back to a URL already requested in this walk.
    #[error("autodiscover redirect loop: {url} was already requested")]
    RedirectLoop {
        /// The URL requested twice.
        url: String,
    },
    /// More `Redirect` hops than allowed.
    #[error("autodiscover redirected more than {limit} times (next: {url})")]
    TooManyRedirects {
        /// The hop limit.
        limit: u32,
        /// Where the next hop would have gone.
        url: String,
    },
    /// A `Redirect` to a host outside the user's SIP domain and the trusted domains.
    #[error("{from} redirects to {host}, which is outside {sip_domain} and the trusted domains")]
    UntrustedRedirect {
        /// The document holding the redirect.
        from: String,
        /// The redirect's target URL.
        to: String,
        /// The target's host.
        host: String,
        /// The user's SIP domain.
        sip_domain: String,
    },
    /// A link from an https page to plain http, which anyone on the path could then answer.
    #[error("{from} links to plain http ({to}); refusing to leave https")]
    InsecureRedirect {
        /// The https document.
        from: String,
        /// The http URL.
        to: String,
    },
    /// 404 on User: the pool does not know the user ([MS-OCDISCWS] 3.1.5.3).
    #[error("{url}: the user is not known to this pool (404)")]
    UserNotFound {
        /// The User URL.
        url: String,
    },
    /// 401 on User and no Domain link to fall back to: only a web ticket gets further.
    #[error("{url}: a web ticket is required{}", ticket_source(web_ticket_url))]
    WebTicketRequired {
        /// The User URL.
        url: String,
        /// `X-MS-WebTicketURL` from the 401.
        web_ticket_url: Option<String>,
    },
    /// The User or Domain answer has no SIP access point usable from where the client is.
    #[error("{url}: the {resource} answer has no usable SipClientInternalAccess/SipClientExternalAccess")]
    NoAccessPoints {
        /// The document.
        url: String,
        /// Its resource.
        resource: Resource,
    },
    /// The walk was finished before it reached an outcome (a driver stopped early).
    #[error("autodiscover stopped before an answer (last request: {url})")]
    Abandoned {
        /// The last URL requested.
        url: String,
    },
}

impl WalkError {
    /// A short class for reports and tests.
    pub fn class(&self) -> &'static str {
        match self {
            WalkError::BadEntryUrl { .. } => "bad-url",
            WalkError::Http { error, .. } => error.class(),
            WalkError::Malformed(_) | WalkError::BadLink { .. } => "malformed",
            WalkError::HttpRedirect { .. } => "http-redirect",
            WalkError::UnexpectedStatus { .. } => "http-status",
            WalkError::MissingLink { .. } => "missing-link",
            WalkError::RedirectLoop { .. } => "redirect-loop",
            WalkError::TooManyRedirects { .. } => "too-many-redirects",
            WalkError::UntrustedRedirect { .. } => "untrusted-redirect",
            WalkError::InsecureRedirect { .. } => "insecure-redirect",
            WalkError::UserNotFound { .. } => "user-not-found",
            WalkError::WebTicketRequired { .. } => "web-ticket-required",
            WalkError::NoAccessPoints { .. } => "no-access-points",
            WalkError::Abandoned { .. } => "abandoned",
        }
    }

    /// One sentence a person can act on.
    pub fn hint(&self) -> String {
        match self {
            WalkError::BadEntryUrl { .. } => {
                "Give an http(s) URL of the form https://lyncdiscover.<domain>/?sipuri=<user@domain>.".to_owned()
            }
            WalkError::Http { error, .. } => error.hint(),
            WalkError::Malformed(e) => format!(
                "{} did not answer as the Lync autodiscover service does: check that the name points at the \
                 pool's web services (or its reverse proxy) and not at a web site or portal.",
                e.url()
            ),
            WalkError::BadLink { url, .. } => format!(
                "The autodiscover service at {url} publishes a broken link: \
                 check the web services' internal and external FQDNs in the topology."
            ),
            WalkError::HttpRedirect { location, .. } => format!(
                "Something in front of the web service (reverse proxy, load balancer) answers with an HTTP \
                 redirect to {location:?}: publish autodiscover so that it reaches the web service unchanged."
            ),
            WalkError::UnexpectedStatus { url, status, .. } => {
                format!("The web service at {url} answered {status}: check its IIS logs and the Front End's event log.")
            }
            WalkError::MissingLink { url, .. } => {
                format!("The autodiscover answer from {url} is incomplete: check the pool's web services.")
            }
            WalkError::RedirectLoop { url } => format!(
                "Autodiscover redirects in a circle through {url}: check the hosting provider or pool \
                 redirect settings (and the lyncdiscover DNS records)."
            ),
            WalkError::TooManyRedirects { limit, .. } => format!(
                "Autodiscover redirected more than {limit} times: check the hosting provider settings, or raise \
                 the hop limit if the chain is legitimate."
            ),
            WalkError::UntrustedRedirect { host, sip_domain, .. } => format!(
                "Autodiscover for {sip_domain} redirects to {host}; if that server is really yours or your \
                 provider's, add its domain ({}) to trusted_domains (Lync's TrustModelData setting).",
                crate::trust::parent_domain(host)
            ),
            WalkError::InsecureRedirect { to, .. } => {
                format!("The service links to plain http ({to}): publish the web services over https only.")
            }
            WalkError::UserNotFound { .. } => {
                "Check the sign-in address; the user may not be enabled for Lync/Skype for Business, or is \
                 homed in a pool this server does not know."
                    .to_owned()
            }
            WalkError::WebTicketRequired { web_ticket_url, .. } => format!(
                "The User resource needs a web ticket{}; this build cannot get one yet, so configure the \
                 registrar directly or rely on DNS discovery.",
                web_ticket_url.as_ref().map(|u| format!(" from {u}")).unwrap_or_default()
            ),
            WalkError::NoAccessPoints { url, .. } => format!(
                "{url} names no SIP access point for this network location: check the pool's internal and \
                 external SIP FQDNs (the JSON flavour never carries them; ask for XML)."
            ),
            WalkError::Abandoned { .. } => "Run the walk until poll_request returns None.".to_owned(),
        }
    }
}

fn ticket_source(web_ticket_url: &Option<String>) -> String {
    web_ticket_url.as_ref().map(|u| format!(" (from {u})")).unwrap_or_default()
}

fn parenthesised(text: &Option<String>) -> String {
    text.as_ref().map(|t| format!(" ({t})")).unwrap_or_default()
}
