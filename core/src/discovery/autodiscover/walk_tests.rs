//! The walk against scripted responses: no sockets, no clock.

use std::time::Duration;

use super::*;
use crate::discovery::{AttemptOutcome, Source};
use crate::http::{HttpError, HttpResponse};
use crate::transport::TransportError;

const ENTRY: &str = "https://lyncdiscover.contoso.com/?sipuri=alice@contoso.com";
const XML: &str = "application/vnd.microsoft.rtc.autodiscover+xml; v=1";

fn config() -> WalkConfig {
    WalkConfig::new("contoso.com", Source::LyncDiscover)
}

fn xml(body: String) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(200, &[("Content-Type", XML)], body))
}

fn links(resource: &str, location: &str, links: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
    let links: String = links.iter().map(|(t, h)| format!(r#"<Link token="{t}" href="{h}"/>"#)).collect();
    let location = if location.is_empty() { String::new() } else { format!(r#" AccessLocation="{location}""#) };
    xml(format!("<AutodiscoverResponse{location}><{resource}>{links}</{resource}></AutodiscoverResponse>"))
}

fn redirect(href: &str) -> Result<HttpResponse, HttpError> {
    links("Root", "", &[("Redirect", href)])
}

fn root(base: &str) -> Result<HttpResponse, HttpError> {
    let user = format!("{base}/Autodiscover/AutodiscoverService.svc/root/user?originalDomain=contoso.com");
    let domain = format!("{base}/Autodiscover/AutodiscoverService.svc/root/domain?originalDomain=contoso.com");
    links("Root", "External", &[("User", &user), ("Domain", &domain)])
}

fn access(resource: &str, location: &str) -> Result<HttpResponse, HttpError> {
    let location = if location.is_empty() { String::new() } else { format!(r#" AccessLocation="{location}""#) };
    xml(format!(
        r#"<AutodiscoverResponse{location}><{resource}>
             <SipClientInternalAccess fqdn="pool01.contoso.com" port="5061"/>
             <SipClientExternalAccess fqdn="sip.contoso.com" port="443"/>
           </{resource}></AutodiscoverResponse>"#
    ))
}

fn status(code: u16, headers: &[(&str, &str)]) -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(code, headers, ""))
}

/// Runs `walk`, answering each request with `script(url)`; returns the outcome, the attempts and the requests.
fn drive(
    mut walk: Walk,
    script: impl Fn(&str) -> Result<HttpResponse, HttpError>,
) -> (WalkOutcome, Vec<crate::discovery::Attempt>, Vec<Request>) {
    let mut requests = Vec::new();
    while let Some(request) = walk.poll_request() {
        assert!(requests.len() < 50, "runaway walk");
        walk.handle_response(script(&request.url), Duration::from_millis(5));
        requests.push(request);
    }
    assert!(walk.is_finished());
    let (outcome, attempts) = walk.finish();
    assert_eq!(attempts.len(), requests.len());
    (outcome, attempts, requests)
}

fn steps(attempts: &[crate::discovery::Attempt]) -> Vec<&str> {
    attempts.iter().map(|a| a.step.as_str()).collect()
}

#[test]
fn a_chain_of_three_redirects_is_followed_to_the_user() {
    let (outcome, attempts, requests) = drive(Walk::new(ENTRY, config()), |url| match url {
        ENTRY => redirect("https://r1.contoso.com/root"),
        u if u.starts_with("https://r1.") => redirect("https://r2.contoso.com/root?originalDomain=contoso.com"),
        u if u.starts_with("https://r2.contoso.com/elsewhere/") => root("https://pool01.contoso.com"),
        u if u.starts_with("https://r2.") => redirect("/elsewhere/root"),
        u if u.contains("/root/user") => access("User", "Internal"),
        u => panic!("unexpected {u}"),
    });
    let found = outcome.result.unwrap();
    assert_eq!(found.resource, Resource::User);
    let points: Vec<(String, u16, bool)> =
        found.candidates.iter().map(|c| (c.fqdn.clone(), c.port, c.internal)).collect();
    assert_eq!(points, [("pool01.contoso.com".into(), 5061, true), ("sip.contoso.com".into(), 443, false)]);
    assert!(found.candidates.iter().all(|c| c.source == Source::LyncDiscover));
    assert_eq!(
        steps(&attempts),
        [
            "lyncdiscover (https) Root",
            "lyncdiscover (https) Redirect 1",
            "lyncdiscover (https) Redirect 2",
            "lyncdiscover (https) Redirect 3",
            "lyncdiscover (https) User"
        ]
    );
    // Root hops must carry sipuri ([MS-OCDISCWS] 2.2.3.1): added where the href lacked it.
    assert_eq!(requests[1].url, "https://r1.contoso.com/root?sipuri=alice@contoso.com");
    assert_eq!(requests[2].url, "https://r2.contoso.com/root?originalDomain=contoso.com&sipuri=alice@contoso.com");
    assert_eq!(requests[3].url, "https://r2.contoso.com/elsewhere/root?sipuri=alice@contoso.com");
    assert!(requests.iter().all(|r| r.accept == "application/vnd.microsoft.rtc.autodiscover+xml;v=1"));
    assert!(matches!(attempts[0].outcome, AttemptOutcome::Found { ref detail } if detail.contains("Redirect to")));
    assert_eq!(outcome.user_url.as_deref().map(|u| u.contains("/root/user")), Some(true));
    assert_eq!(outcome.web_ticket_url, None);
}

#[test]
fn a_redirect_to_itself_is_a_loop() {
    let (outcome, attempts, requests) = drive(Walk::new(ENTRY, config()), |_| redirect(ENTRY));
    let err = outcome.result.unwrap_err();
    assert!(matches!(err, WalkError::RedirectLoop { .. }), "{err:?}");
    assert_eq!(requests.len(), 1);
    assert!(matches!(&attempts[0].outcome, AttemptOutcome::Failed { class, .. } if class == "redirect-loop"));
}

#[test]
fn an_endless_chain_stops_at_the_hop_limit() {
    let config = WalkConfig { max_hops: 3, ..config() };
    let (outcome, attempts, requests) = drive(Walk::new(ENTRY, config), |url| {
        let n = url.split("/hop/").nth(1).and_then(|r| r.split('?').next()).and_then(|n| n.parse::<u32>().ok());
        redirect(&format!("https://lyncdiscover.contoso.com/hop/{}", n.unwrap_or(0) + 1))
    });
    let err = outcome.result.unwrap_err();
    assert!(matches!(err, WalkError::TooManyRedirects { limit: 3, .. }), "{err:?}");
    assert_eq!(requests.len(), 4, "entry plus three hops");
    assert_eq!(attempts.last().unwrap().step, "lyncdiscover (https) Redirect 3");
    assert!(err.hint().contains('3'));
}

#[test]
fn a_redirect_out_of_the_domain_is_refused_unless_trusted() {
    let o365 = "https://webdir1A.online.lync.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com";
    let script = |url: &str| match url {
        ENTRY => redirect(o365),
        u if u.contains("/root/user") => access("User", ""),
        _ => root("https://webpool.online.lync.com"),
    };
    let (outcome, attempts, _) = drive(Walk::new(ENTRY, config()), script);
    let err = outcome.result.unwrap_err();
    let WalkError::UntrustedRedirect { host, .. } = &err else { panic!("{err:?}") };
    assert_eq!(host, "webdir1a.online.lync.com");
    assert!(
        err.hint().contains("webdir1a.online.lync.com") && err.hint().contains("trusted_domains"),
        "{}",
        err.hint()
    );
    assert!(err.hint().contains("(online.lync.com)"), "{}", err.hint());
    assert!(matches!(&attempts[0].outcome, AttemptOutcome::Failed { class, .. } if class == "untrusted-redirect"));

    // A look-alike is no subdomain.
    let (outcome, _, _) = drive(Walk::new(ENTRY, config()), |_| redirect("https://evilcontoso.com/root"));
    assert!(matches!(outcome.result, Err(WalkError::UntrustedRedirect { .. })));

    let trusted = WalkConfig { trusted_domains: vec!["online.lync.com".into()], ..config() };
    let (outcome, _, requests) = drive(Walk::new(ENTRY, trusted), script);
    assert_eq!(outcome.result.unwrap().resource, Resource::User);
    assert_eq!(requests.len(), 3);
}

#[test]
fn unauthorized_user_falls_back_to_domain_and_keeps_the_ticket_url() {
    let ticket = "https://pool01.contoso.com/WebTicket/WebTicketService.svc";
    let (outcome, attempts, requests) = drive(Walk::new(ENTRY, config()), |url| match url {
        ENTRY => root("https://pool01.contoso.com"),
        u if u.contains("/root/user") => status(401, &[("X-MS-WebTicketURL", ticket)]),
        u if u.contains("/root/domain") => access("Domain", ""),
        u => panic!("unexpected {u}"),
    });
    let found = outcome.result.unwrap();
    assert_eq!(found.resource, Resource::Domain);
    assert_eq!(found.candidates.len(), 2);
    assert_eq!(outcome.web_ticket_url.as_deref(), Some(ticket));
    assert!(outcome.user_url.unwrap().contains("/root/user"));
    assert_eq!(
        steps(&attempts),
        ["lyncdiscover (https) Root", "lyncdiscover (https) User", "lyncdiscover (https) Domain"]
    );
    let AttemptOutcome::NotFound { class, detail, .. } = &attempts[1].outcome else { panic!("{:?}", attempts[1]) };
    assert_eq!(class, "web-ticket-required");
    assert!(detail.contains(ticket) && detail.contains("Domain"), "{detail}");
    assert!(requests[2].url.contains("/root/domain"));
}

#[test]
fn unauthorized_without_a_domain_link_needs_a_web_ticket() {
    let user = "https://pool01.contoso.com/Autodiscover/AutodiscoverService.svc/root/user";
    let (outcome, _, _) = drive(Walk::new(ENTRY, config()), |url| match url {
        ENTRY => links("Root", "", &[("User", user)]),
        _ => status(401, &[("X-MS-WebTicketURL", "https://pool01.contoso.com/WebTicket/WebTicketService.svc")]),
    });
    let err = outcome.result.unwrap_err();
    assert!(matches!(&err, WalkError::WebTicketRequired { web_ticket_url: Some(_), .. }), "{err:?}");
    assert!(outcome.web_ticket_url.is_some());
}

#[test]
fn user_not_found_is_a_not_found_attempt() {
    let (outcome, attempts, _) = drive(Walk::new(ENTRY, config()), |url| match url {
        ENTRY => root("https://pool01.contoso.com"),
        _ => status(404, &[]),
    });
    let err = outcome.result.unwrap_err();
    assert!(matches!(err, WalkError::UserNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("not known to this pool"));
    assert!(matches!(&attempts[1].outcome, AttemptOutcome::NotFound { class, .. } if class == "user-not-found"));
}

#[test]
fn a_tls_name_mismatch_surfaces_with_its_class_and_hint() {
    let (outcome, attempts, _) = drive(Walk::new(ENTRY, config()), |_| {
        Err(HttpError::from(TransportError::NameMismatch {
            host: "lyncdiscover.contoso.com".into(),
            addr: "192.0.2.10:443".parse().unwrap(),
            presented: vec!["sip.contoso.com".into()],
        }))
    });
    let err = outcome.result.unwrap_err();
    assert_eq!(err.class(), "name-mismatch");
    assert!(err.to_string().contains("sip.contoso.com"), "{err}");
    assert!(err.hint().contains("sip.contoso.com"), "{}", err.hint());
    let AttemptOutcome::Failed { class, hint, .. } = &attempts[0].outcome else { panic!("{:?}", attempts[0]) };
    assert_eq!((class.as_str(), attempts[0].step.as_str()), ("name-mismatch", "lyncdiscover (https) Root"));
    assert!(hint.contains("sip.contoso.com"));
}

#[test]
fn access_location_chooses_the_access_points() {
    for (location, expected) in
        [("Internal", vec![true, false]), ("", vec![true, false]), ("External", vec![false]), ("external", vec![false])]
    {
        let (outcome, _, _) = drive(Walk::new(ENTRY, config()), |url| match url {
            ENTRY => root("https://pool01.contoso.com"),
            _ => access("User", location),
        });
        let internal: Vec<bool> = outcome.result.unwrap().candidates.iter().map(|c| c.internal).collect();
        assert_eq!(internal, expected, "AccessLocation {location:?}");
    }
}

#[test]
fn http_may_step_up_to_https_but_never_down() {
    let entry = "http://lyncdiscoverinternal.contoso.com/?sipuri=alice@contoso.com";
    let config = WalkConfig::new("contoso.com", Source::LyncDiscoverInternal);
    let (outcome, attempts, _) = drive(Walk::new(entry, config.clone()), |url| match url {
        u if u.starts_with("http://") => redirect("https://lyncdiscoverinternal.contoso.com/"),
        u if u.contains("/root/user") => access("User", "Internal"),
        _ => root("https://pool01.contoso.com"),
    });
    assert!(outcome.result.is_ok());
    assert_eq!(attempts[0].step, "lyncdiscoverinternal (http) Root");
    assert!(outcome.result.unwrap().candidates.iter().all(|c| c.source == Source::LyncDiscoverInternal));

    let (outcome, _, _) = drive(Walk::new(ENTRY, config), |_| redirect("http://lyncdiscover.contoso.com/"));
    assert!(matches!(outcome.result, Err(WalkError::InsecureRedirect { .. })));
}

#[test]
fn json_flavour_reads_links_and_ends_at_the_web_ticket() {
    let config = WalkConfig { format: Format::Json, ..config() };
    let root = r#"{"_links":{"self":{"href":"https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.com"},"user":{"href":"https://lyncweb.contoso.com/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.com"},"xframe":{"href":"https://lyncweb.contoso.com/Autodiscover/XFrame/XFrame.html"}}}"#;
    let (outcome, _, requests) = drive(Walk::new(ENTRY, config), |url| match url {
        ENTRY => Ok(HttpResponse::new(200, &[("Content-Type", "application/json")], root)),
        _ => {
            status(401, &[("WWW-Authenticate", "MsRtcOAuth href=\"https://lyncweb.contoso.com/WebTicket/oauthtoken\"")])
        }
    });
    assert!(requests.iter().all(|r| r.accept == "application/json"));
    assert!(requests[1].url.contains("/root/oauth/user"));
    assert!(matches!(outcome.result, Err(WalkError::WebTicketRequired { web_ticket_url: None, .. })));
}

fn html() -> Result<HttpResponse, HttpError> {
    Ok(HttpResponse::new(200, &[("Content-Type", "text/html")], "<html><body>Portal</body></html>"))
}

fn moved() -> Result<HttpResponse, HttpError> {
    status(302, &[("Location", "https://portal.contoso.com/")])
}

fn failing() -> Result<HttpResponse, HttpError> {
    status(500, &[("X-Ms-diagnostics", "1046;reason=\"Internal error\";source=\"pool01.contoso.com\"")])
}

#[test]
fn bad_answers_end_the_walk_with_typed_errors() {
    type Answer = fn() -> Result<HttpResponse, HttpError>;
    let cases: [(Answer, &str); 3] = [(html, "malformed"), (moved, "http-redirect"), (failing, "http-status")];
    for (answer, class) in cases {
        let (outcome, attempts, _) = drive(Walk::new(ENTRY, config()), |_| answer());
        let err = outcome.result.unwrap_err();
        assert_eq!(err.class(), class, "{err}");
        assert!(err.to_string().contains("lyncdiscover.contoso.com"), "{err}");
        assert!(matches!(&attempts[0].outcome, AttemptOutcome::Failed { .. }));
    }
    let (outcome, _, _) = drive(Walk::new(ENTRY, config()), |_| failing());
    assert!(outcome.result.unwrap_err().to_string().contains("ErrorCode=1046"));
}

#[test]
fn a_bad_entry_ends_before_any_request() {
    let mut walk = Walk::new("https://lyncdiscover.contoso.com/", config());
    assert!(walk.is_finished());
    assert_eq!(walk.poll_request(), None);
    let (outcome, attempts) = walk.finish();
    assert!(matches!(outcome.result, Err(WalkError::BadEntryUrl { .. })));
    assert_eq!(attempts.len(), 1);
}

#[test]
fn finishing_early_is_abandoned() {
    let mut walk = Walk::new(ENTRY, config());
    assert!(walk.poll_request().is_some());
    let (outcome, _) = walk.finish();
    assert!(matches!(outcome.result, Err(WalkError::Abandoned { .. })));
}

#[test]
fn entry_urls() {
    let url = entry_url(Source::LyncDiscoverInternal, Scheme::Https, "sip:Alice@Contoso.com", None).unwrap();
    assert_eq!(url, "https://lyncdiscoverinternal.contoso.com/?sipuri=Alice@Contoso.com");
    let url = entry_url(Source::LyncDiscover, Scheme::Http, "bob+x@contoso.lab", Some(8080)).unwrap();
    assert_eq!(url, "http://lyncdiscover.contoso.lab:8080/?sipuri=bob%2Bx@contoso.lab");
    assert!(entry_url(Source::SrvInternal, Scheme::Https, "a@b.c", None).is_err());
    assert!(entry_url(Source::LyncDiscover, Scheme::Https, "nodomain", None).is_err());
}
