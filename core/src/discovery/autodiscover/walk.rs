//! The autodiscover walk as a state machine with no I/O and no clock: it says which URL to GET next
//! ([`Walk::poll_request`]), is told what came back and how long it took ([`Walk::handle_response`]), and ends
//! in a [`WalkOutcome`] plus one [`Attempt`] per request for the sign-in report.
//!
//! Rules (REFERENCE.md §1, CLIENT-NOTES.md §2.1):
//! - Root: follow `Redirect` if present, else GET the `User` link (remembering the `Domain` link).
//! - User: 200 with access points ends the walk; 200 with a `Redirect` is followed; 401 records
//!   `X-MS-WebTicketURL` and, as this build has no web ticket yet, falls back to Domain (which always answers,
//!   [MS-OCDISCWS] 3.1.5.4); 404 means the pool does not know the user.
//! - Every `Redirect` must stay inside the user's SIP domain or a trusted domain (Lync's TrustModelData: a
//!   plain-HTTP Root could otherwise send the client anywhere), may not revisit a URL, and counts against a hop
//!   limit; no link may lead from https to http.
//! - Access points: `AccessLocation` Internal or absent → internal, then external; External → external only.

use std::time::Duration;

use url::Url;

use super::config::{Found, Request, WalkConfig, WalkOutcome, encode};
use super::{AutodiscoverDocument, Resource, WalkError, parse};
use crate::discovery::{Attempt, AttemptOutcome};
use crate::http::{HttpError, HttpResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Root,
    User,
    Domain,
}

#[derive(Debug, Clone)]
struct Pending {
    url: Url,
    kind: Kind,
    step: String,
}

/// One autodiscover walk from an entry URL (see the module docs for its rules).
#[derive(Debug)]
pub struct Walk {
    config: WalkConfig,
    /// `lyncdiscoverinternal (https)`: the entry host's first label and the scheme.
    label: String,
    /// The `sipuri` value, added to redirect targets that lack it ([MS-OCDISCWS] 2.2.3.1).
    sipuri: String,
    pending: Option<Pending>,
    in_flight: Option<Pending>,
    requested: Vec<Url>,
    hops: u32,
    domain_url: Option<Url>,
    user_url: Option<String>,
    web_ticket_url: Option<String>,
    attempts: Vec<Attempt>,
    result: Option<Result<Found, WalkError>>,
}

impl Walk {
    /// A walk starting at `entry` (see [`entry_url`](super::entry_url)). A bad entry URL makes a walk that is
    /// already over.
    pub fn new(entry: &str, config: WalkConfig) -> Walk {
        let mut walk = Walk {
            config,
            label: "autodiscover".to_owned(),
            sipuri: String::new(),
            pending: None,
            in_flight: None,
            requested: Vec::new(),
            hops: 0,
            domain_url: None,
            user_url: None,
            web_ticket_url: None,
            attempts: Vec::new(),
            result: None,
        };
        match check_entry(entry) {
            Ok((url, sipuri)) => {
                let host = url.host_str().unwrap_or_default();
                walk.label = format!("{} ({})", host.split('.').next().unwrap_or(host), url.scheme());
                walk.sipuri = sipuri;
                walk.pending = Some(Pending { step: format!("{} Root", walk.label), url, kind: Kind::Root });
            }
            Err(err) => walk.end("autodiscover", entry, Duration::ZERO, err),
        }
        walk
    }

    /// The next request to make, once; `None` while one is in flight and after the walk has ended.
    pub fn poll_request(&mut self) -> Option<Request> {
        let p = self.pending.take()?;
        self.requested.push(p.url.clone());
        let request = Request { url: p.url.to_string(), accept: self.config.format.accept(), step: p.step.clone() };
        self.in_flight = Some(p);
        Some(request)
    }

    /// Feeds the outcome of the request last returned by [`Walk::poll_request`] and how long it took.
    pub fn handle_response(&mut self, response: Result<HttpResponse, HttpError>, elapsed: Duration) {
        let Some(p) = self.in_flight.take() else {
            tracing::debug!("autodiscover response without a request in flight: ignored");
            return;
        };
        let url = p.url.to_string();
        let r = match response {
            Ok(r) => r,
            Err(error) => {
                return self.end(
                    &p.step,
                    &url,
                    elapsed,
                    WalkError::Http { step: p.step.clone(), url: url.clone(), error },
                );
            }
        };
        match r.status {
            200..=299 => {
                let media = r.media_type();
                match parse(&r.body, media.as_deref(), self.config.format, p.kind.resource(), &url) {
                    Ok(doc) => self.on_document(&p, &url, doc, elapsed),
                    Err(e) => self.end(&p.step, &url, elapsed, WalkError::Malformed(e)),
                }
            }
            401 if p.kind == Kind::User => self.on_unauthorized(&p, &url, &r, elapsed),
            404 if p.kind == Kind::User => {
                self.end(&p.step, &url, elapsed, WalkError::UserNotFound { url: url.clone() })
            }
            status @ 300..=399 => {
                let location = r.header("location").unwrap_or_default().to_owned();
                self.end(&p.step, &url, elapsed, WalkError::HttpRedirect { url: url.clone(), status, location })
            }
            status => {
                let diagnostics = r.diagnostics().map(|d| d.to_diagnosis());
                self.end(&p.step, &url, elapsed, WalkError::UnexpectedStatus { url: url.clone(), status, diagnostics })
            }
        }
    }

    /// True once the walk has an outcome.
    pub fn is_finished(&self) -> bool {
        self.result.is_some()
    }

    /// The attempts so far.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The outcome and the attempts. Called before the walk ended, the outcome is [`WalkError::Abandoned`].
    pub fn finish(self) -> (WalkOutcome, Vec<Attempt>) {
        let last = self.requested.last().map(Url::to_string).unwrap_or_default();
        let learned = self.learned(self.user_url.as_deref().unwrap_or(&last));
        let result = self.result.unwrap_or(Err(WalkError::Abandoned { url: last }));
        let outcome = WalkOutcome { result, web_ticket_url: self.web_ticket_url, user_url: self.user_url, learned };
        (outcome, self.attempts)
    }

    fn on_document(&mut self, p: &Pending, url: &str, doc: AutodiscoverDocument, elapsed: Duration) {
        if matches!(doc.resource, Resource::Root | Resource::User)
            && let Some(href) = doc.link("Redirect")
        {
            return self.follow_redirect(p, url, doc.resource, href, elapsed);
        }
        if doc.resource != Resource::Root {
            return self.on_access_points(p, url, &doc, elapsed);
        }
        let Some(user_href) = doc.link("User") else {
            let err = WalkError::MissingLink { url: url.to_owned(), resource: Resource::Root, token: "User" };
            return self.end(&p.step, url, elapsed, err);
        };
        let user = match link_target(&p.url, "User", user_href) {
            Ok(u) => u,
            Err(err) => return self.end(&p.step, url, elapsed, err),
        };
        // A broken Domain link only matters if User turns out to need a web ticket; note it and go on.
        self.domain_url = doc.link("Domain").and_then(|href| match link_target(&p.url, "Domain", href) {
            Ok(u) => Some(u),
            Err(err) => {
                tracing::debug!(%err, "Domain link unusable");
                None
            }
        });
        self.user_url = Some(user.to_string());
        let detail = describe_root(&doc);
        self.queue(
            p,
            url,
            elapsed,
            Pending { url: user, kind: Kind::User, step: format!("{} User", self.label) },
            detail,
        );
    }

    fn follow_redirect(&mut self, p: &Pending, url: &str, resource: Resource, href: &str, elapsed: Duration) {
        let mut target = match link_target(&p.url, "Redirect", href) {
            Ok(t) => t,
            Err(err) => return self.end(&p.step, url, elapsed, err),
        };
        let kind = if resource == Resource::User { Kind::User } else { Kind::Root };
        if kind == Kind::Root {
            self.ensure_sipuri(&mut target);
        }
        let host = target.host_str().unwrap_or_default().to_owned();
        if !self.trusted(&host) {
            let sip_domain = self.config.sip_domain.clone();
            let err = WalkError::UntrustedRedirect { from: url.to_owned(), to: target.to_string(), host, sip_domain };
            return self.end(&p.step, url, elapsed, err);
        }
        if self.requested.contains(&target) {
            return self.end(&p.step, url, elapsed, WalkError::RedirectLoop { url: target.to_string() });
        }
        self.hops += 1;
        if self.hops > self.config.max_hops {
            let err = WalkError::TooManyRedirects { limit: self.config.max_hops, url: target.to_string() };
            return self.end(&p.step, url, elapsed, err);
        }
        let detail = format!("{resource} says Redirect to {target}");
        let step = format!("{} Redirect {}", self.label, self.hops);
        self.queue(p, url, elapsed, Pending { url: target, kind, step }, detail);
    }

    fn on_unauthorized(&mut self, p: &Pending, url: &str, r: &HttpResponse, elapsed: Duration) {
        self.web_ticket_url = r.header("x-ms-webticketurl").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
        let Some(domain) = self.domain_url.clone() else {
            let err = WalkError::WebTicketRequired { url: url.to_owned(), web_ticket_url: self.web_ticket_url.clone() };
            return self.end(&p.step, url, elapsed, err);
        };
        let ticket = match &self.web_ticket_url {
            Some(u) => format!("X-MS-WebTicketURL {u}"),
            None => "no X-MS-WebTicketURL".to_owned(),
        };
        let outcome = AttemptOutcome::NotFound {
            class: "web-ticket-required".to_owned(),
            detail: format!(
                "401 Unauthorized ({ticket}): the User resource needs a web ticket; reading the Domain resource meanwhile"
            ),
            hint: Some(
                "Domain names the pool that answered, which is the user's home pool unless the user is homed \
                 elsewhere; with credentials configured the client fetches a web ticket and reads User."
                    .to_owned(),
            ),
        };
        self.record(&p.step, url, elapsed, outcome);
        self.pending = Some(Pending { url: domain, kind: Kind::Domain, step: format!("{} Domain", self.label) });
    }

    fn on_access_points(&mut self, p: &Pending, url: &str, doc: &AutodiscoverDocument, elapsed: Duration) {
        let candidates = super::candidates_from(doc, self.config.source, self.learned(url));
        if candidates.is_empty() {
            return self.end(
                &p.step,
                url,
                elapsed,
                WalkError::NoAccessPoints { url: url.to_owned(), resource: doc.resource },
            );
        }
        let list: Vec<String> = candidates
            .iter()
            .map(|c| format!("{} {}:{}", if c.internal { "internal" } else { "external" }, c.fqdn, c.port))
            .collect();
        let location = doc.access_location.map(|l| format!("AccessLocation {l:?}; ")).unwrap_or_default();
        let detail = format!("{location}{} gives {}", doc.resource, list.join(", "));
        self.record(&p.step, url, elapsed, AttemptOutcome::Found { detail });
        let found =
            Found { candidates, resource: doc.resource, access_location: doc.access_location, url: url.to_owned() };
        self.result = Some(Ok(found));
    }

    /// Queues `next` unless it was requested before or the walk has made too many requests.
    fn queue(&mut self, p: &Pending, url: &str, elapsed: Duration, next: Pending, detail: String) {
        if self.requested.contains(&next.url) {
            return self.end(&p.step, url, elapsed, WalkError::RedirectLoop { url: next.url.to_string() });
        }
        // Root, up to max_hops redirects, User, Domain: a server inventing ever new links cannot go beyond.
        let cap = self.config.max_hops as usize + 3;
        if self.requested.len() >= cap {
            let err = WalkError::TooManyRedirects { limit: self.config.max_hops, url: next.url.to_string() };
            return self.end(&p.step, url, elapsed, err);
        }
        self.record(&p.step, url, elapsed, AttemptOutcome::Found { detail });
        self.pending = Some(next);
    }

    fn trusted(&self, host: &str) -> bool {
        let domains: Vec<String> =
            std::iter::once(&self.config.sip_domain).chain(&self.config.trusted_domains).cloned().collect();
        crate::trust::domain_covers(&domains, host)
    }

    /// How what `url` answered was learned: a walk that began over plain http vouches for nothing it
    /// finds later, even over https ([`crate::trust`]: plain http locates, it never widens trust).
    fn learned(&self, url: &str) -> crate::trust::Learned {
        match self.requested.first() {
            Some(entry) if entry.scheme() == "http" => {
                crate::trust::Learned::PlainHttp(entry.host_str().unwrap_or_default().to_owned())
            }
            _ => crate::trust::Learned::from_url(url),
        }
    }

    fn ensure_sipuri(&self, url: &mut Url) {
        if url.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("sipuri")) {
            return;
        }
        let query = match url.query() {
            Some(q) if !q.is_empty() => format!("{q}&sipuri={}", encode(&self.sipuri)),
            _ => format!("sipuri={}", encode(&self.sipuri)),
        };
        url.set_query(Some(&query));
    }

    fn record(&mut self, step: &str, url: &str, elapsed: Duration, outcome: AttemptOutcome) {
        self.attempts.push(Attempt { step: step.to_owned(), target: url.to_owned(), duration: elapsed, outcome });
    }

    /// Ends the walk with `err`, recorded as the step's attempt.
    fn end(&mut self, step: &str, url: &str, elapsed: Duration, err: WalkError) {
        let (class, detail, hint) = (err.class().to_owned(), err.to_string(), err.hint());
        let absent = matches!(&err, WalkError::Http { error, .. } if error.is_absent());
        let outcome = if absent || matches!(err, WalkError::UserNotFound { .. }) {
            AttemptOutcome::NotFound { class, detail, hint: Some(hint) }
        } else {
            AttemptOutcome::Failed { class, detail, hint }
        };
        self.record(step, url, elapsed, outcome);
        self.pending = None;
        self.result = Some(Err(err));
    }
}

impl Kind {
    fn resource(self) -> Resource {
        match self {
            Kind::Root => Resource::Root,
            Kind::User => Resource::User,
            Kind::Domain => Resource::Domain,
        }
    }
}

fn check_entry(entry: &str) -> Result<(Url, String), WalkError> {
    let bad = |reason: &str| WalkError::BadEntryUrl { url: entry.to_owned(), reason: reason.to_owned() };
    let url = Url::parse(entry).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("autodiscover is reached over http or https"));
    }
    let sipuri = url.query_pairs().find(|(k, _)| k.eq_ignore_ascii_case("sipuri")).map(|(_, v)| v.into_owned());
    match sipuri {
        Some(s) if !s.is_empty() => Ok((url, s)),
        _ => Err(bad("Root requests must carry ?sipuri=<user@domain> ([MS-OCDISCWS] 2.2.3.1)")),
    }
}

/// Resolves `href` against the document's URL; refuses other schemes and any step down from https to http.
fn link_target(base: &Url, token: &str, href: &str) -> Result<Url, WalkError> {
    let bad = || WalkError::BadLink { url: base.to_string(), token: token.to_owned(), href: href.to_owned() };
    let target = base.join(href).map_err(|_| bad())?;
    match (base.scheme(), target.scheme()) {
        (_, "https") | ("http", "http") => Ok(target),
        ("https", "http") => Err(WalkError::InsecureRedirect { from: base.to_string(), to: target.to_string() }),
        _ => Err(bad()),
    }
}

fn describe_root(doc: &AutodiscoverDocument) -> String {
    let tokens: Vec<&str> = doc.links.iter().map(|l| l.token.as_str()).collect();
    let location = doc.access_location.map(|l| format!("AccessLocation {l:?}; ")).unwrap_or_default();
    format!("{location}Root links {}", tokens.join(", "))
}
