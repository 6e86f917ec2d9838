//! Where credentials may go (README "Where your credentials go"): each lab fault below points the client at a
//! host that is not the user's SIP domain's, or at plain http, on the way to a password, an NTLM token or a web
//! ticket. The lab's foreign host plays a Web Ticket Service that asks for NTLM and counts every byte it
//! receives; it must receive none.

use std::sync::Arc;
use std::time::Duration;

use sfbkit::SignInReport;
use sfbkit_lab::foreign::FOREIGN_HOST;
use sfbkit_lab::{Fault, LabConfig, LabPool};

const ALICE: &str = "alice@contoso.lab";

/// Signs alice in to a pool with `fault`; returns the report and what the foreign host received.
async fn sign_in_against(
    fault: Fault,
    tune: impl FnOnce(&LabPool, sfbkit::ClientBuilder) -> sfbkit::ClientBuilder,
) -> (SignInReport, u64, u64) {
    let pool = LabPool::start(LabConfig::default().with_fault(fault)).await.expect("lab pool starts");
    let client = tune(&pool, pool.client_builder(ALICE)).build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(60), client.sign_in()).await.expect("nothing hangs");
    if report.is_success() {
        client.sign_out().await.expect("sign-out");
    }
    let foreign = pool.foreign_host().expect("the fault starts the foreign host");
    (report, foreign.bytes_received(), foreign.authenticates())
}

fn assert_refused_naming(report: &SignInReport, host: &str, why: &str) {
    assert!(!report.is_success(), "{}", report.to_text());
    let step = report
        .stages
        .iter()
        .find(|s| s.error_class.as_deref() == Some("untrusted-server"))
        .unwrap_or_else(|| panic!("no step classified untrusted-server:\n{}", report.to_text()));
    assert!(step.detail.contains(host), "the refusal names {host}: {}", step.detail);
    assert!(step.detail.contains(why), "the refusal says why ({why}): {}", step.detail);
    let hint = report.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("trusted_domains") || hint.contains("https"), "the hint names the setting: {hint}");
}

#[tokio::test]
async fn an_offdomain_web_ticket_url_over_plain_http_gets_nothing() {
    let (report, bytes, authenticates) = sign_in_against(Fault::OffdomainWebticketUrl, |_, b| b).await;
    assert_eq!((bytes, authenticates), (0, 0), "the foreign host received credentials:\n{}", report.to_text());
    assert_refused_naming(&report, FOREIGN_HOST, "http");
}

#[tokio::test]
async fn an_sts_uri_on_another_host_gets_nothing() {
    let (report, bytes, authenticates) = sign_in_against(Fault::StsUriElsewhere, |_, b| b).await;
    assert_eq!((bytes, authenticates), (0, 0), "the foreign host received credentials:\n{}", report.to_text());
    assert_refused_naming(&report, FOREIGN_HOST, "contoso.lab");
}

#[tokio::test]
async fn an_sts_uri_elsewhere_with_the_registrar_configured_gets_nothing() {
    // No discovery: the Web Ticket Service is derived from the sts-uri itself (its MEX would name plain http).
    let (report, bytes, authenticates) = sign_in_against(Fault::StsUriElsewhere, |pool, b| {
        let addr = pool.sip_addr();
        b.server(sfbkit::ServerTarget { fqdn: "pool01.contoso.lab".into(), port: addr.port(), addr: Some(addr) })
    })
    .await;
    assert_eq!((bytes, authenticates), (0, 0), "the foreign host received credentials:\n{}", report.to_text());
    assert_refused_naming(&report, FOREIGN_HOST, "contoso.lab");
}

#[tokio::test]
async fn a_mex_naming_a_plain_http_port_gets_nothing() {
    let (report, bytes, authenticates) = sign_in_against(Fault::MexHttpPort, |_, b| b).await;
    assert_eq!((bytes, authenticates), (0, 0), "the http port received credentials:\n{}", report.to_text());
    assert_refused_naming(&report, "webticket.contoso.lab", "http");
}

#[tokio::test]
async fn an_offdomain_autodiscover_redirect_is_refused_and_dns_finds_the_pool() {
    let (report, bytes, _) = sign_in_against(Fault::OffdomainAutodiscoverRedirect, |_, b| b).await;
    assert_eq!(bytes, 0, "the foreign host was contacted:\n{}", report.to_text());
    assert!(report.is_success(), "{}", report.to_text());
    let refused = report.stages.iter().find(|s| s.error_class.as_deref() == Some("untrusted-redirect"));
    assert!(refused.is_some_and(|s| s.detail.contains(FOREIGN_HOST)), "{}", report.to_text());
}

/// An application's TrustDecider that records what it was asked and gives one answer.
struct Decider {
    allow: bool,
    asked: std::sync::Mutex<Vec<sfbkit::trust::TrustQuestion>>,
}

impl sfbkit::trust::TrustDecider for Decider {
    fn allow<'a>(&'a self, q: &'a sfbkit::trust::TrustQuestion) -> sfbkit::discovery::BoxFuture<'a, bool> {
        self.asked.lock().unwrap().push(q.clone());
        Box::pin(async move { self.allow })
    }
}

#[tokio::test]
async fn the_application_may_trust_a_host_it_was_asked_about_but_is_never_asked_about_plain_http() {
    // sts-uri on evil.example.net, over TLS from the registrar: the application is asked, once, and its "yes"
    // lets certificate provisioning go there with the web ticket; the password still goes only to the pool's
    // own Web Ticket Service.
    let yes = Arc::new(Decider { allow: true, asked: Default::default() });
    let decider = yes.clone();
    let (report, bytes, authenticates) =
        sign_in_against(Fault::StsUriElsewhere, move |_, b| b.trust_decider(decider)).await;
    let asked = yes.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].host, FOREIGN_HOST);
    assert_eq!(asked[0].purpose, sfbkit::trust::Purpose::CertificateProvisioning);
    assert!(matches!(&asked[0].learned, sfbkit::trust::Learned::Tls(from) if from == "pool01.contoso.lab"));
    assert!(bytes > 0, "the application's yes counts:\n{}", report.to_text());
    assert_eq!(authenticates, 0, "{}", report.to_text());

    // X-MS-WebTicketURL that came over plain http: refused without asking.
    let yes = Arc::new(Decider { allow: true, asked: Default::default() });
    let decider = yes.clone();
    let (report, bytes, _) = sign_in_against(Fault::OffdomainWebticketUrl, move |_, b| b.trust_decider(decider)).await;
    assert_eq!(bytes, 0, "{}", report.to_text());
    assert!(yes.asked.lock().unwrap().is_empty(), "asked about a plain-http answer");
}
