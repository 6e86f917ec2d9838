//! The lab's autodiscover service: its answers alone (no sockets), then walked over real TLS by sfbkit's
//! HTTP client and autodiscover walk, with certificates from the lab CA.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use http_body_util::BodyExt;
use sfbkit::discovery::autodiscover::{self, Format, Resource, Scheme, Walk, WalkConfig, WalkError, entry_url, run};
use sfbkit::discovery::{AttemptOutcome, BoxFuture, DnsError, DnsResolver, Source, SrvTarget};
use sfbkit::http::HttpClient;
use sfbkit::transport::{TlsConnector, TrustConfig};

use super::routes::{Site, respond};
use super::*;
use crate::ca::{LabCa, Validity, server_config};

const DOMAIN: &str = "contoso.lab";
const ALICE: &str = "alice@contoso.lab";

/// Every name is 127.0.0.1: the lab's DNS is not this module's concern.
struct Loopback;

impl DnsResolver for Loopback {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        Box::pin(async move { Err(DnsError::NoRecords { name: name.to_owned(), rtype: "SRV" }) })
    }
    fn ips<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
    }
}

/// A CA, and a server configuration whose certificate names `names`.
fn pki(names: &[&str]) -> (LabCa, Arc<rustls::ServerConfig>) {
    let ca = LabCa::generate(&format!("lab web test CA {:08x}", rand::random::<u32>())).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let cert = ca.issue_server_cert(&names, Validity::default()).unwrap();
    let config = server_config(&cert).unwrap();
    (ca, config)
}

fn web_names() -> Vec<String> {
    ["lyncdiscover", "lyncdiscoverinternal", "pool01"].iter().map(|h| format!("{h}.{DOMAIN}")).collect()
}

async fn lab(configure: impl FnOnce(&mut WebConfig)) -> (LabWeb, HttpClient) {
    let names = web_names();
    let (ca, tls) = pki(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let mut cfg = WebConfig::new(DOMAIN, tls);
    configure(&mut cfg);
    (LabWeb::start(cfg).await.unwrap(), client(&ca))
}

fn client(ca: &LabCa) -> HttpClient {
    let connector = TlsConnector::new(&TrustConfig::empty().with_extra_ca_pem(ca.ca_pem())).unwrap();
    HttpClient::new(connector, Arc::new(Loopback), Duration::from_secs(5), autodiscover::MAX_DOCUMENT)
}

fn walk(source: Source, scheme: Scheme, port: u16, format: Format) -> Walk {
    let entry = entry_url(source, scheme, ALICE, Some(port)).unwrap();
    Walk::new(&entry, WalkConfig { format, ..WalkConfig::new(DOMAIN, source) })
}

fn steps(attempts: &[sfbkit::discovery::Attempt]) -> Vec<String> {
    attempts.iter().map(|a| a.step.clone()).collect()
}

#[tokio::test]
async fn http_entry_redirects_to_https_then_user_401_falls_back_to_domain() {
    let (web, http) = lab(|_| {}).await;
    let walk = walk(Source::LyncDiscoverInternal, Scheme::Http, web.http_port(), Format::Xml);
    let (outcome, attempts) = run(&http, walk).await;

    let found = outcome.result.unwrap();
    assert_eq!(found.resource, Resource::Domain);
    let points: Vec<(&str, u16, bool)> =
        found.candidates.iter().map(|c| (c.fqdn.as_str(), c.port, c.internal)).collect();
    assert_eq!(points, [("pool01.contoso.lab", 5061, true), ("sip.contoso.lab", 443, false)]);
    let ticket_url = format!("https://pool01.contoso.lab:{}/WebTicket/WebTicketService.svc/Auth", web.https_port());
    assert_eq!(outcome.web_ticket_url.as_deref(), Some(ticket_url.as_str()));
    assert_eq!(
        steps(&attempts),
        [
            "lyncdiscoverinternal (http) Root",
            "lyncdiscoverinternal (http) Redirect 1",
            "lyncdiscoverinternal (http) User",
            "lyncdiscoverinternal (http) Domain"
        ]
    );
    assert!(attempts[1].target.starts_with(&format!("https://lyncdiscoverinternal.contoso.lab:{}/", web.https_port())));
    assert!(matches!(&attempts[2].outcome, AttemptOutcome::NotFound { class, .. } if class == "web-ticket-required"));
    assert_eq!(web.requests(), 4);
}

#[tokio::test]
async fn json_flavour_root_parses_and_user_carries_the_ucwa_challenges() {
    let (web, http) = lab(|_| {}).await;
    let url = format!("https://lyncdiscover.{DOMAIN}:{}/?sipuri={ALICE}", web.https_port());
    let root = http.get(&url, &[("Accept", "application/json")]).await.unwrap();
    assert_eq!(root.media_type().as_deref(), Some("application/json"));
    assert_eq!(root.header("x-ms-server-fqdn"), Some("pool01.contoso.lab"));
    let doc = autodiscover::parse(&root.body, Some("application/json"), Format::Json, Resource::Root, &url).unwrap();
    let user = doc.link("User").unwrap().to_owned();
    assert!(user.contains("/root/user?") && doc.link("XFrame").is_some(), "{doc:?}");

    let denied = http.get(&user, &[("Accept", "application/json")]).await.unwrap();
    assert_eq!(denied.status, 401);
    let challenges: Vec<&str> = denied.header_values("www-authenticate").collect();
    assert!(challenges[0].starts_with("Bearer trusted_issuers=") && challenges[1].starts_with("MsRtcOAuth href="));

    // JSON never names SIP access points: the walk ends at the web ticket, with the ticket URL kept.
    let (outcome, _) = run(&http, walk(Source::LyncDiscover, Scheme::Https, web.https_port(), Format::Json)).await;
    assert!(matches!(outcome.result, Err(WalkError::WebTicketRequired { web_ticket_url: Some(_), .. })));
}

#[tokio::test]
async fn three_redirect_hops_are_followed() {
    let (web, http) = lab(|c| c.redirect_hops = 3).await;
    let (outcome, attempts) =
        run(&http, walk(Source::LyncDiscover, Scheme::Https, web.https_port(), Format::Xml)).await;
    let found = outcome.result.unwrap();
    // Through lyncdiscover (the external name) the server says External: external access only.
    let points: Vec<(&str, bool)> = found.candidates.iter().map(|c| (c.fqdn.as_str(), c.internal)).collect();
    assert_eq!(points, [("sip.contoso.lab", false)]);
    let names = steps(&attempts);
    let expected: Vec<String> = ["Root", "Redirect 1", "Redirect 2", "Redirect 3", "User", "Domain"]
        .iter()
        .map(|s| format!("lyncdiscover (https) {s}"))
        .collect();
    assert_eq!(names, expected);
}

#[tokio::test]
async fn a_redirect_loop_is_stopped() {
    let (web, http) = lab(|c| c.redirect_loop = true).await;
    let (outcome, attempts) = run(&http, walk(Source::LyncDiscover, Scheme::Http, web.http_port(), Format::Xml)).await;
    let err = outcome.result.unwrap_err();
    assert!(matches!(err, WalkError::RedirectLoop { .. }), "{err:?}");
    assert!(attempts.len() <= 3, "{attempts:?}");
}

/// Seed 002: the web site presents the Edge's certificate (sip.<domain>) instead of the pool's.
#[tokio::test]
async fn a_certificate_for_sip_only_is_a_name_mismatch_naming_sip() {
    let (ca, tls) = pki(&["sip.contoso.lab"]);
    let web = LabWeb::start(WebConfig::new(DOMAIN, tls)).await.unwrap();
    let (outcome, attempts) =
        run(&client(&ca), walk(Source::LyncDiscover, Scheme::Https, web.https_port(), Format::Xml)).await;
    let err = outcome.result.unwrap_err();
    assert_eq!(err.class(), "name-mismatch");
    assert!(err.to_string().contains("sip.contoso.lab"), "{err}");
    assert!(err.hint().contains("sip.contoso.lab"), "{}", err.hint());
    assert!(matches!(&attempts[0].outcome, AttemptOutcome::Failed { class, .. } if class == "name-mismatch"));
    assert_eq!(web.requests(), 0);
}

#[tokio::test]
async fn every_response_waits_for_the_delay() {
    let (web, http) = lab(|c| c.delay = Duration::from_millis(150)).await;
    let started = std::time::Instant::now();
    let url = format!("https://pool01.{DOMAIN}:{}/Autodiscover/AutodiscoverService.svc/root/domain", web.https_port());
    assert_eq!(http.get(&url, &[]).await.unwrap().status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

// The answers alone, without sockets.

fn site(configure: impl FnOnce(&mut WebConfig)) -> Site {
    let (_, tls) = pki(&["pool01.contoso.lab"]);
    let mut cfg = WebConfig::new(DOMAIN, tls);
    configure(&mut cfg);
    Site::new(cfg, 4443, 8080)
}

async fn answer(
    site: &Site,
    tls: bool,
    method: Method,
    uri: &str,
    headers: &[(&'static str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    let uri: Uri = uri.parse().unwrap();
    let response = respond(site, tls, &method, &uri, &map);
    let (parts, body) = response.into_parts();
    let body = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, body)
}

#[tokio::test]
async fn root_requires_sipuri_and_only_get() {
    let site = site(|_| {});
    let (status, headers, _) = answer(&site, true, Method::GET, "/", &[("host", "lyncdiscover.contoso.lab")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers.get("x-ms-server-fqdn").unwrap(), "pool01.contoso.lab");
    let (status, _, _) = answer(&site, true, Method::POST, "/?sipuri=a@contoso.lab", &[]).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _, _) = answer(&site, true, Method::GET, "/nothing/here", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn http_root_is_a_single_redirect_to_https() {
    let site = site(|_| {});
    let host = [("host", "lyncdiscoverinternal.contoso.lab:80")];
    let (status, headers, body) = answer(&site, false, Method::GET, "/?sipuri=alice@contoso.lab", &host).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "application/vnd.microsoft.rtc.autodiscover+xml; v=1");
    assert_eq!(body.matches("<Link ").count(), 1, "{body}");
    let href = "https://lyncdiscoverinternal.contoso.lab:4443/Autodiscover/AutodiscoverService.svc/root";
    assert!(body.contains(&format!("token=\"Redirect\" href=\"{href}?sipuri=alice%40contoso.lab\"")), "{body}");
    assert!(body.contains("AccessLocation=\"Internal\""));
}

#[tokio::test]
async fn https_root_links_user_and_domain_on_the_requested_host() {
    let site = site(|_| {});
    let path = "/AUTODISCOVER/AutodiscoverService.svc/Root?sipuri=alice@contoso.lab";
    let (status, _, body) = answer(&site, true, Method::GET, path, &[("host", "lyncdiscover.contoso.lab")]).await;
    assert_eq!(status, StatusCode::OK);
    let doc = autodiscover::xml::parse(body.as_bytes(), "test").unwrap();
    assert_eq!(doc.access_location, Some(autodiscover::AccessLocation::External));
    let base = "https://lyncdiscover.contoso.lab:4443/Autodiscover/AutodiscoverService.svc/root";
    assert_eq!(
        doc.link("User"),
        Some(format!("{base}/user?originalDomain=contoso.lab&sipuri=alice%40contoso.lab").as_str())
    );
    assert_eq!(doc.link("Domain"), Some(format!("{base}/domain?originalDomain=contoso.lab").as_str()));
}

#[tokio::test]
async fn user_with_a_ticket_is_told_the_ticket_is_invalid() {
    let site = site(|_| {});
    let path = "/Autodiscover/AutodiscoverService.svc/root/user";
    let (status, headers, _) = answer(&site, true, Method::GET, path, &[("x-ms-webticket", "opaque=AAAA")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("x-ms-diagnostics").unwrap().to_str().unwrap().starts_with("28032;"));
    assert!(headers.get("x-ms-webticketurl").is_some());
    assert!(headers.get("www-authenticate").is_none());
}

/// An `X-MS-WebTicket` value for an assertion with this AssertionID.
fn ticket_header(assertion_id: &str) -> String {
    use base64::Engine as _;
    let xml = format!(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\" AssertionID=\"{assertion_id}\"/>"
    );
    format!("opaque={}", base64::engine::general_purpose::STANDARD.encode(xml))
}

#[tokio::test]
async fn user_with_an_issued_ticket_names_the_sip_access_points() {
    let web = site(|_| {});
    let now = std::time::SystemTime::now();
    web.issued.remember("SamlSecurityToken-1", now + Duration::from_secs(60), now);
    let path = "/Autodiscover/AutodiscoverService.svc/root/user?originalDomain=contoso.lab";
    let issued = ticket_header("SamlSecurityToken-1");
    let headers = [("host", "pool01.contoso.lab"), ("x-ms-webticket", issued.as_str())];
    let (status, _, body) = answer(&web, true, Method::GET, path, &headers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let doc = autodiscover::xml::parse(body.as_bytes(), "test").unwrap();
    assert_eq!(doc.resource, Resource::User);
    assert_eq!(doc.access_location, Some(autodiscover::AccessLocation::Internal));
    assert_eq!(doc.sip_client_internal.map(|a| (a.fqdn, a.port)), Some(("pool01.contoso.lab".to_owned(), 5061)));
    assert!(!web.issued.is_valid("SamlSecurityToken-1", now + Duration::from_secs(61)), "it expires");

    // Never issued: 28032.
    let unknown = ticket_header("SamlSecurityToken-2");
    let (status, headers, _) = answer(&web, true, Method::GET, path, &[("x-ms-webticket", &unknown)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("x-ms-diagnostics").unwrap().to_str().unwrap().starts_with("28032;"));

    // Issued, but the `invalid-ticket` fault refuses every ticket.
    let faulty = site(|c| c.invalid_ticket = true);
    faulty.issued.remember("SamlSecurityToken-1", now + Duration::from_secs(60), now);
    let (status, headers, _) = answer(&faulty, true, Method::GET, path, &[("x-ms-webticket", &issued)]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let diag = headers.get("x-ms-diagnostics").unwrap().to_str().unwrap().to_owned();
    assert_eq!(diag, "28032;source=\"pool01.contoso.lab\";reason=\"The web ticket is invalid.\"");
}

#[test]
fn the_web_ticket_url_carries_the_https_port_unless_configured() {
    let default = site(|_| {});
    assert_eq!(default.web_ticket_url(), "https://pool01.contoso.lab:4443/WebTicket/WebTicketService.svc/Auth");
    let site = site(|c| c.web_ticket_url = Some("https://sts.example/Auth".into()));
    assert_eq!(site.web_ticket_url(), "https://sts.example/Auth");
}

/// The Web Ticket Service's three legs without sockets: raw NTLM under `Negotiate`, state kept per connection.
#[tokio::test]
async fn the_sts_answers_ntlm_under_negotiate_and_issues_to_the_connection() {
    use sfbkit::auth::ntlm::{ClientOptions, ClientRandom, NtlmClient, decode_token, encode_token};

    let web = site(|c| c.users = vec![crate::config::LabUser::new("sip:alice@contoso.lab", "Alice Anders")]);
    let conn = std::sync::Mutex::new(super::sts::ConnAuth::default());
    let rst = sfbkit::auth::webticket::rst_request("https://x/", "sip:alice@contoso.lab", &[1; 32], "c-1");
    let post = |authorization: Option<&str>, tls: bool| {
        let mut map = HeaderMap::new();
        if let Some(a) = authorization {
            map.insert("authorization", HeaderValue::from_str(a).unwrap());
        }
        let body = Some(bytes::Bytes::from(rst.clone()));
        super::sts::respond(&web, &conn, tls, &Method::POST, &map, body)
    };

    assert_eq!(post(None, false).status(), StatusCode::FORBIDDEN, "TLS only");
    let anonymous = post(None, true);
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let offered: Vec<&str> =
        anonymous.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(offered, ["Negotiate", "NTLM"]);

    let account = "alice@contoso.lab";
    let mut client = NtlmClient::new(
        sfbkit::auth::sa::ntlm_credentials(account, crate::config::DEFAULT_PASSWORD),
        ClientOptions::http(),
    );
    let challenged = post(Some(&format!("Negotiate {}", encode_token(&client.negotiate()))), true);
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
    let value = challenged.headers().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    let token = decode_token(value.strip_prefix("Negotiate ").unwrap()).unwrap();
    let (authenticate, _) = client.authenticate(&token, &ClientRandom::generate(Duration::from_secs(1))).unwrap();
    let issued = post(Some(&format!("Negotiate {}", encode_token(&authenticate))), true);
    assert_eq!(issued.status(), StatusCode::OK);
    let body = issued.into_body().collect().await.unwrap().to_bytes();
    let ticket = sfbkit::auth::webticket::parse_rstr(&body).unwrap();
    assert!(web.issued.is_valid(&ticket.assertion_id, std::time::SystemTime::now()));
    // The connection stays authenticated, as IIS keeps it.
    assert_eq!(post(None, true).status(), StatusCode::OK);
}
