//! Lync Autodiscover ([MS-OCDISCWS]): ask the pool's web service where the SIP access points are.
//!
//! The client GETs the **Root** resource at `https://lyncdiscoverinternal.<domain>/?sipuri=<user@domain>` (then
//! `lyncdiscover.<domain>`). Root answers with `Link` elements: a **Redirect** to the next hop (the HTTP Root
//! always redirects to HTTPS; a pool that does not host the user redirects to one that does), or the **User**
//! and **Domain** resources. User describes the user's home pool but needs a **web ticket** ([MS-OCAUTHWS]):
//! without one it answers 401 naming the Web Ticket Service in `X-MS-WebTicketURL`. Domain always answers and
//! describes the answering pool. Both may carry `SipClientInternalAccess` / `SipClientExternalAccess`
//! (`fqdn`, `port`): the registrars to connect to. `AccessLocation` on the response says whether the server
//! sees the client as inside or outside the network. (REFERENCE.md §1, CLIENT-NOTES.md §2.1.)
//!
//! Where to start:
//!
//! - [`Walk`]: the sans-I/O walk from the entry URL through Redirects to User (or Domain) and its outcome.
//! - [`run`]: drives a [`Walk`] with an [`HttpClient`].
//! - [`AutodiscoverDocument`]: one parsed response, XML ([`xml`]) or the UCWA JSON flavour ([`json`]).
//! - [`WalkError`] / [`ParseError`]: what went wrong, with hints naming hosts and settings.

mod config;
mod error;
pub mod json;
mod walk;
pub mod xml;

#[cfg(test)]
mod walk_tests;

use std::time::Instant;

pub use config::{DEFAULT_MAX_HOPS, Found, Request, Scheme, WalkConfig, WalkOutcome, entry_url};
pub use error::{ParseError, WalkError};
pub use walk::Walk;

use super::Attempt;
use crate::http::HttpClient;

/// The registrars a User or Domain document names, in the order to try them (SIPE's rule,
/// CLIENT-NOTES.md §2.1): internal first unless the server placed the client outside
/// (`AccessLocation` External, then the external one only). `learned` says how the document reached the
/// client, for the trust model.
pub fn candidates_from(
    doc: &AutodiscoverDocument,
    source: crate::discovery::Source,
    learned: crate::trust::Learned,
) -> Vec<crate::discovery::Candidate> {
    use crate::discovery::Candidate;
    let point = |ap: &Option<AccessPoint>, internal: bool| {
        let learned = learned.clone();
        ap.as_ref().map(|a| Candidate { fqdn: a.fqdn.clone(), port: a.port, source, internal, learned })
    };
    let internal = point(&doc.sip_client_internal, true);
    let external = point(&doc.sip_client_external, false);
    let mut candidates: Vec<Candidate> = match doc.access_location {
        Some(AccessLocation::External) => external.into_iter().collect(),
        _ => internal.into_iter().chain(external).collect(),
    };
    candidates.dedup_by(|b, a| a.fqdn.eq_ignore_ascii_case(&b.fqdn) && a.port == b.port);
    candidates
}

/// The XML media type ([MS-OCDISCWS] 2.2.1); responses add `; v=1`.
pub const XML_MEDIA_TYPE: &str = "application/vnd.microsoft.rtc.autodiscover+xml";

/// The largest autodiscover document accepted. Real ones are well under 4 KiB; anything near this is a portal
/// or error page, not the service.
pub const MAX_DOCUMENT: usize = 256 * 1024;

/// Which representation to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `application/vnd.microsoft.rtc.autodiscover+xml;v=1`: the only one carrying SIP access points.
    #[default]
    Xml,
    /// `application/json`: the UCWA flavour, links only.
    Json,
}

impl Format {
    /// The `Accept` header value for this format.
    pub fn accept(self) -> &'static str {
        match self {
            Format::Xml => "application/vnd.microsoft.rtc.autodiscover+xml;v=1",
            Format::Json => "application/json",
        }
    }
}

/// Whether the answering server considers the client inside the corporate network (`AccessLocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AccessLocation {
    /// Reached through the internal web site: internal access points first.
    Internal,
    /// Reached through the external web site (reverse proxy): external access points only.
    External,
}

/// Which resource a document describes ([MS-OCDISCWS] 2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Resource {
    /// The entry point: links to User and Domain, or a Redirect.
    Root,
    /// The user's home pool (needs a web ticket).
    User,
    /// The answering pool itself (anonymous).
    Domain,
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::Root => "Root",
            Resource::User => "User",
            Resource::Domain => "Domain",
        })
    }
}

/// A `Link` element: a `token` naming what it leads to (`User`, `Redirect`, `Internal/Ucwa`, ...) and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The token as the XML spells it (JSON keys are mapped to these spellings).
    pub token: String,
    /// The URL, as sent (possibly relative).
    pub href: String,
}

/// A SIP access point: the registrar's FQDN (what its certificate must name) and TLS port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessPoint {
    /// `pool01.contoso.com`, `sip.contoso.com`.
    pub fqdn: String,
    /// 5061 internally, 443 on an Edge.
    pub port: u16,
}

/// One autodiscover response, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutodiscoverDocument {
    /// `AccessLocation`, when the server sent it.
    pub access_location: Option<AccessLocation>,
    /// Root, User or Domain (for JSON, which does not say, the resource that was requested).
    pub resource: Resource,
    /// Every link, in document order (JSON: in key order).
    pub links: Vec<Link>,
    /// The first `SipClientInternalAccess`.
    pub sip_client_internal: Option<AccessPoint>,
    /// The first `SipClientExternalAccess`.
    pub sip_client_external: Option<AccessPoint>,
}

impl AutodiscoverDocument {
    /// The href of the first link with this token (compared case-insensitively).
    pub fn link(&self, token: &str) -> Option<&str> {
        self.links.iter().find(|l| l.token.eq_ignore_ascii_case(token)).map(|l| l.href.as_str())
    }
}

/// Parses a response body, choosing XML or JSON by its media type and by `format` when it has none.
/// `requested` is what the client asked for (JSON does not say which resource it is); `url` names the
/// document in errors.
pub fn parse(
    body: &[u8],
    media_type: Option<&str>,
    format: Format,
    requested: Resource,
    url: &str,
) -> Result<AutodiscoverDocument, ParseError> {
    if body.len() > MAX_DOCUMENT {
        return Err(ParseError::TooLarge { url: url.to_owned(), size: body.len(), limit: MAX_DOCUMENT });
    }
    let json = match media_type {
        Some(m) if m.contains("json") => true,
        Some(m) if m.contains("xml") => false,
        _ => format == Format::Json,
    };
    if json { json::parse(body, requested, url) } else { xml::parse(body, url) }
}

/// Walks autodiscover with `http` until the walk ends; returns its outcome and every request as an
/// [`Attempt`] for the sign-in report.
pub async fn run(http: &HttpClient, mut walk: Walk) -> (WalkOutcome, Vec<Attempt>) {
    while let Some(request) = walk.poll_request() {
        let started = Instant::now();
        let response = http.get(&request.url, &[("Accept", request.accept)]).await;
        walk.handle_response(response, started.elapsed());
    }
    walk.finish()
}
