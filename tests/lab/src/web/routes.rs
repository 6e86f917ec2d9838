//! What the lab's autodiscover service answers, as a function of the request and the tickets issued (no sockets;
//! the clock only to check a ticket's expiry).
//!
//! Paths follow IIS (matched case-insensitively, as IIS does): `/` and
//! `/Autodiscover/AutodiscoverService.svc/root` are Root, `.../root/user` is User, `.../root/domain` is Domain,
//! `/WebTicket/WebTicketService.svc/mex` is the Web Ticket Service's metadata (its Auth port is `sts.rs`),
//! (under `online`, naming only the `WsFedBearer` port of [`super::online`]),
//! and `/redirect/<n>` are the extra Root hops [`WebConfig::redirect_hops`](super::WebConfig) asks for.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, Uri};
use http_body_util::Full;

use super::WebConfig;
use super::documents::{self, XML_CONTENT_TYPE};
use super::online;
use super::sts::{self, AUTH_LINK, INVALID_TICKET_REASON, Issued, MEX_PATH, ticket_assertion_id};

/// The Web Ticket Service itself (what Office 365's `X-MS-WebTicketURL` names; its MEX is under it).
const SERVICE_LINK: &str = "/WebTicket/WebTicketService.svc";

/// Root's path, lower-cased for matching.
const ROOT_PATH: &str = "/autodiscover/autodiscoverservice.svc/root";
/// Root's path as IIS spells it in links.
const ROOT_LINK: &str = "/Autodiscover/AutodiscoverService.svc/root";

/// A running site: its settings, the ports its links must carry (chosen by the OS at start), and the web
/// tickets its Web Ticket Service issued.
pub(crate) struct Site {
    pub cfg: WebConfig,
    pub https_port: u16,
    /// The plain-HTTP listener's port (links of the `offdomain-webticket-url` fault's hijacked Root).
    pub http_port: u16,
    pub issued: Issued,
    /// The tokens the Org ID STS issued ([`super::online`]), by AssertionID.
    pub org_id: Issued,
}

impl Site {
    /// A site whose HTTPS listener is on `https_port`.
    pub fn new(cfg: WebConfig, https_port: u16, http_port: u16) -> Site {
        Site { cfg, https_port, http_port, issued: Issued::default(), org_id: Issued::default() }
    }

    /// `X-MS-WebTicketURL`: the configured URL, else this site's own Auth port on the pool's name (under
    /// `online`, the service itself, as Office 365 names it: `.../WebTicket/WebTicketService.svc`).
    pub fn web_ticket_url(&self) -> String {
        match &self.cfg.web_ticket_url {
            Some(url) => url.clone(),
            None if self.cfg.online => format!("https://{}:{}{SERVICE_LINK}", self.cfg.pool_fqdn, self.https_port),
            None => format!("https://{}:{}{AUTH_LINK}", self.cfg.pool_fqdn, self.https_port),
        }
    }
}

/// The parts of a request the answers depend on.
struct Req {
    tls: bool,
    /// The Host header's name (no port), or the pool FQDN when absent or unusable.
    host: String,
    json: bool,
    sipuri: Option<String>,
    path_and_query: String,
    /// The `X-MS-WebTicket` header, when present.
    ticket: Option<String>,
}

/// Answers one request.
pub(crate) fn respond(
    site: &Site,
    tls: bool,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        let mut r = reply(site, StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only".into());
        r.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let req = Req::new(site, tls, uri, headers);
    let path = uri.path().to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return root(site, &req, 0);
    }
    if let Some(hop) = path.strip_prefix("/redirect/") {
        return match hop.parse::<u32>() {
            Ok(n) if n >= 1 => root(site, &req, n),
            _ => not_found(site),
        };
    }
    if path == super::certprov::CERTPROV_MEX_PATH {
        let base = req.base(site);
        let body = super::certprov::mex(
            &format!("{base}{}", super::certprov::CERTPROV_LINK),
            &format!("{base}{SERVICE_LINK}"),
        );
        return reply(site, StatusCode::OK, "text/xml; charset=utf-8", body);
    }
    if path == MEX_PATH {
        let base = req.base(site);
        let body = if site.cfg.online {
            online::online_mex(&format!("{base}{}", online::BEARER_LINK), &format!("{base}{}", online::ORG_ID_LINK))
        } else {
            sts::mex(site.cfg.mex_win_negotiate.as_deref().unwrap_or(&format!("{base}{AUTH_LINK}")))
        };
        return reply(site, StatusCode::OK, "text/xml; charset=utf-8", body);
    }
    match path.strip_prefix(ROOT_PATH) {
        Some("") => root(site, &req, 0),
        Some("/user") => user(site, &req),
        Some("/domain") => domain(site, &req),
        _ => not_found(site),
    }
}

impl Req {
    fn new(site: &Site, tls: bool, uri: &Uri, headers: &HeaderMap) -> Req {
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name).to_ascii_lowercase())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
            .unwrap_or_else(|| site.cfg.pool_fqdn.clone());
        let accept = headers.get(http::header::ACCEPT).and_then(|a| a.to_str().ok()).unwrap_or_default();
        let query = uri.query().unwrap_or_default();
        let sipuri = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("sipuri"))
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty());
        Req {
            tls,
            host,
            json: accept.contains("application/json"),
            sipuri,
            path_and_query: uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into()),
            ticket: headers.get("x-ms-webticket").map(|t| String::from_utf8_lossy(t.as_bytes()).into_owned()),
        }
    }

    /// `Internal` through `lyncdiscoverinternal.*` or the pool's own (internal web services) name.
    fn location(&self, site: &Site) -> &'static str {
        if self.host.starts_with("lyncdiscoverinternal.") || self.host.eq_ignore_ascii_case(&site.cfg.pool_fqdn) {
            "Internal"
        } else {
            "External"
        }
    }

    fn base(&self, site: &Site) -> String {
        // The hijacked plain-HTTP site of `offdomain-webticket-url` keeps its links on http.
        if !self.tls && site.cfg.hijacked_http_ticket_url.is_some() {
            return format!("http://{}:{}", self.host, site.http_port);
        }
        format!("https://{}:{}", self.host, site.https_port)
    }
}

/// Root, or hop `n` of the configured redirect chain.
fn root(site: &Site, req: &Req, n: u32) -> Response<Full<Bytes>> {
    let Some(sipuri) = &req.sipuri else {
        let text = "The sipuri query parameter is required on Root ([MS-OCDISCWS] 2.2.3.1).";
        return reply(site, StatusCode::BAD_REQUEST, "text/plain", text.into());
    };
    let q = format!("sipuri={}", encode(sipuri));
    let base = req.base(site);
    let hijacked = site.cfg.hijacked_http_ticket_url.is_some();
    if req.tls && hijacked {
        return reply(site, StatusCode::SERVICE_UNAVAILABLE, "text/plain", "Service Unavailable".into());
    }
    // [MS-OCDISCWS] 3.1.5.2: the HTTP Root answers with exactly one Redirect, to HTTPS (unless hijacked).
    if !req.tls && !hijacked {
        return redirect(site, req, format!("{base}{ROOT_LINK}?{q}"));
    }
    if let Some(elsewhere) = site.cfg.root_redirect.as_ref().filter(|_| req.tls) {
        return redirect(site, req, format!("{elsewhere}?{q}"));
    }
    if site.cfg.redirect_loop {
        return redirect(site, req, format!("{base}{}", req.path_and_query));
    }
    if n < site.cfg.redirect_hops {
        return redirect(site, req, format!("{base}/redirect/{}?{q}", n + 1));
    }
    let domain_q = format!("originalDomain={}", encode(&site.cfg.domain));
    let this = format!("{base}{ROOT_LINK}");
    let (self_link, user) = (format!("{this}?{domain_q}"), format!("{this}/user?{domain_q}&{q}"));
    if req.json {
        let xframe = format!("{base}/Autodiscover/XFrame/XFrame.html");
        return document(site, documents::json(&[("Self", self_link), ("User", user), ("XFrame", xframe)]), true);
    }
    let links = [("Self", self_link), ("User", user), ("Domain", format!("{this}/domain?{domain_q}"))];
    document(site, documents::xml(req.location(site), "Root", &[], &links), false)
}

fn redirect(site: &Site, req: &Req, href: String) -> Response<Full<Bytes>> {
    if req.json {
        let self_link = format!("{}://{}{}", if req.tls { "https" } else { "http" }, req.host, req.path_and_query);
        return document(site, documents::json(&[("Self", self_link), ("Redirect", href)]), true);
    }
    document(site, documents::xml(req.location(site), "Root", &[], &[("Redirect", href)]), false)
}

/// With a ticket this pool issued (and that has not expired): the User document with the SIP access points.
/// Without one: 401 naming the Web Ticket Service. With any other ticket (or under `invalid-ticket`): 401 with
/// 28032 (seed 002).
fn user(site: &Site, req: &Req) -> Response<Full<Bytes>> {
    let valid = req
        .ticket
        .as_deref()
        .and_then(ticket_assertion_id)
        .is_some_and(|id| !site.cfg.invalid_ticket && site.issued.is_valid(&id, std::time::SystemTime::now()));
    if valid {
        if req.json {
            let self_link = format!("{}{}", req.base(site), req.path_and_query);
            return document(site, documents::json(&[("Self", self_link)]), true);
        }
        let links = [("Self", format!("{}{}", req.base(site), req.path_and_query))];
        return document(site, documents::xml(req.location(site), "User", &access_points(site), &links), false);
    }
    let body = "<html><head><title>401 - Unauthorized</title></head><body>401 - Unauthorized</body></html>";
    let mut r = reply(site, StatusCode::UNAUTHORIZED, "text/html", body.into());
    match site.cfg.hijacked_http_ticket_url.as_ref().filter(|_| !req.tls) {
        Some(foreign) => add(&mut r, "x-ms-webticketurl", foreign),
        None => add(&mut r, "x-ms-webticketurl", &site.web_ticket_url()),
    }
    if req.ticket.is_some() {
        let pool = &site.cfg.pool_fqdn;
        add(&mut r, "x-ms-diagnostics", &format!("28032;source=\"{pool}\";reason=\"{INVALID_TICKET_REASON}\""));
    } else if req.json {
        // The two challenges of the UCWA vector (step 4), pointing at this pool.
        let bearer = format!(
            "Bearer trusted_issuers=\"00000002-0000-0ff1-ce00-000000000000@{}\", \
             client_id=\"00000004-0000-0ff1-ce00-000000000000\"",
            site.cfg.domain
        );
        let oauth = format!(
            "MsRtcOAuth href=\"{}/WebTicket/oauthtoken\",grant_type=\"urn:microsoft.rtc:windows,\
             urn:microsoft.rtc:anonmeeting,password\"",
            req.base(site)
        );
        add(&mut r, "www-authenticate", &bearer);
        add(&mut r, "www-authenticate", &oauth);
    }
    r
}

/// The SIP access points User and Domain name.
fn access_points(site: &Site) -> [documents::AccessElement<'_>; 2] {
    let cfg = &site.cfg;
    [
        ("SipClientInternalAccess", cfg.sip_internal.0.as_str(), cfg.sip_internal.1),
        ("SipClientExternalAccess", cfg.sip_external.0.as_str(), cfg.sip_external.1),
    ]
}

/// The pool's own topology ([MS-OCDISCWS] 3.1.5.4): always 200.
fn domain(site: &Site, req: &Req) -> Response<Full<Bytes>> {
    if req.json {
        let self_link = format!("{}{}", req.base(site), req.path_and_query);
        return document(site, documents::json(&[("Self", self_link)]), true);
    }
    let cfg = &site.cfg;
    let access = access_points(site);
    let links = [
        ("Internal/Autodiscover", format!("https://{}:{}{ROOT_LINK}", cfg.pool_fqdn, site.https_port)),
        ("External/Autodiscover", format!("https://lyncdiscover.{}:{}{ROOT_LINK}", cfg.domain, site.https_port)),
    ];
    document(site, documents::xml(req.location(site), "Domain", &access, &links), false)
}

fn not_found(site: &Site) -> Response<Full<Bytes>> {
    reply(site, StatusCode::NOT_FOUND, "text/plain", "Not Found".into())
}

fn document(site: &Site, body: String, json: bool) -> Response<Full<Bytes>> {
    reply(site, StatusCode::OK, if json { "application/json" } else { XML_CONTENT_TYPE }, body)
}

/// What IIS answers a SOAP service unless the request came over TLS, is a POST and has a body of bounded
/// size (`None`: it was too large or broken); the body when it passes. Every SOAP port of the lab (the
/// web ticket service's ports, the Org ID STS, certificate provisioning) checks this first.
pub(crate) fn soap_post(
    site: &Site,
    tls: bool,
    method: &http::Method,
    body: Option<Bytes>,
) -> Result<Bytes, Box<Response<Full<Bytes>>>> {
    if !tls {
        return Err(Box::new(reply(site, StatusCode::FORBIDDEN, "text/plain", "SSL is required (403.4).".into())));
    }
    if method != http::Method::POST {
        let mut r = reply(site, StatusCode::METHOD_NOT_ALLOWED, "text/plain", "POST only".into());
        r.headers_mut().insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        return Err(Box::new(r));
    }
    body.ok_or_else(|| Box::new(reply(site, StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "Request too large".into())))
}

/// A response with the headers every answer carries (`X-MS-Server-Fqdn` names the answering front end).
pub(crate) fn reply(
    site: &Site,
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    add(&mut r, "x-ms-server-fqdn", &site.cfg.pool_fqdn);
    r
}

/// Appends a header; a value HTTP cannot carry (a configured name with a line break) is left out and logged.
pub(crate) fn add(r: &mut Response<Full<Bytes>>, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            r.headers_mut().append(HeaderName::from_static(name), v);
        }
        Err(_) => tracing::warn!(name, value, "lab web: header value not valid in HTTP, left out"),
    }
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
