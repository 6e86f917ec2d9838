//! Server discovery end to end against the lab pool's real DNS server and autodiscover web
//! service: each path (lyncdiscoverinternal, lyncdiscover, redirects, SRV, A), with the report
//! showing which path won and why the others were skipped.

use std::time::Duration;

use sfbkit::{Outcome, SignInReport, Stage, StepRecord};
use sfbkit_lab::{Fault, LabConfig, LabPool};

async fn sign_in(config: LabConfig) -> (SignInReport, LabPool) {
    let pool = LabPool::start(config).await.expect("lab pool starts");
    let client = pool.client_builder("alice@contoso.lab").build().expect("client builds");
    let report = tokio::time::timeout(Duration::from_secs(60), client.sign_in()).await.expect("sign-in is bounded");
    if report.is_success() {
        client.sign_out().await.expect("sign-out");
    }
    (report, pool)
}

fn discovery(report: &SignInReport) -> Vec<&StepRecord> {
    report.stages.iter().filter(|s| s.name == Stage::ServerDiscovery).collect()
}

/// The step that found the registrar: the last successful discovery step.
fn winner(report: &SignInReport) -> &StepRecord {
    discovery(report).into_iter().rfind(|s| s.outcome == Outcome::Success).expect("a discovery step succeeded")
}

fn skipped_because(report: &SignInReport, step_prefix: &str, winner_name: &str) -> bool {
    discovery(report)
        .iter()
        .any(|s| s.step.starts_with(step_prefix) && s.outcome == Outcome::Skipped && s.detail.contains(winner_name))
}

#[tokio::test]
async fn lyncdiscoverinternal_wins_on_the_internal_network() {
    let (report, _pool) = sign_in(LabConfig::default()).await;
    assert!(report.is_success(), "{}", report.to_text());
    let w = winner(&report);
    // With credentials, User is read with a web ticket: it names the user's own home pool.
    assert_eq!(w.step, "lyncdiscoverinternal User (web ticket)", "{}", report.to_text());
    assert!(w.detail.contains("pool01.contoso.lab"), "{}", w.detail);
    assert!(
        discovery(&report).iter().any(|s| s.step == "lyncdiscoverinternal web ticket" && s.outcome == Outcome::Success)
    );
    // The User resource wanted a web ticket: recorded as an expected miss, not a failure.
    assert!(discovery(&report).iter().any(|s| s.step.ends_with("User") && s.outcome == Outcome::NotFound));
    for later in ["lyncdiscover", "SRV _sipinternaltls._tcp", "SRV _sip._tls", "A records"] {
        assert!(skipped_because(&report, later, "lyncdiscoverinternal"), "{later} not skipped:\n{}", report.to_text());
    }
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.target.split(':').next(), Some("pool01.contoso.lab"));
}

#[tokio::test]
async fn lyncdiscover_wins_outside_the_network() {
    let mut config = LabConfig::default();
    config.dns.omit = vec!["lyncdiscoverinternal.contoso.lab".into()];
    let (report, _pool) = sign_in(config).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert!(discovery(&report).iter().any(|s| s.step.starts_with("lyncdiscoverinternal")
        && s.outcome == Outcome::NotFound
        && s.error_class.as_deref() == Some("no-such-name")));
    let w = winner(&report);
    assert!(w.step.starts_with("lyncdiscover "), "{}", w.step);
    assert!(skipped_because(&report, "SRV _sipinternaltls._tcp", "lyncdiscover"));
}

#[tokio::test]
async fn autodiscover_redirects_are_followed() {
    let mut config = LabConfig::default();
    config.autodiscover.redirect_hops = 3;
    let (report, pool) = sign_in(config).await;
    assert!(report.is_success(), "{}", report.to_text());
    let hops = discovery(&report).iter().filter(|s| s.step.contains("Redirect")).count();
    assert_eq!(hops, 3, "{}", report.to_text());
    assert!(pool.counters().1 >= 5, "Root, 3 redirects, User, Domain were requested");
}

#[tokio::test]
async fn srv_wins_without_lyncdiscover() {
    let (report, _pool) = sign_in(LabConfig::default().with_fault(Fault::NoLyncdiscover)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let w = winner(&report);
    assert_eq!(w.step, "SRV _sipinternaltls._tcp");
    assert!(w.detail.contains("pool01.contoso.lab:"), "{}", w.detail);
    for ld in ["lyncdiscoverinternal (https) Root", "lyncdiscover (https) Root"] {
        let s = discovery(&report).into_iter().find(|s| s.step == ld).expect(ld);
        assert_eq!(s.outcome, Outcome::NotFound, "{ld}: why it was passed over is in the report");
        assert!(s.detail.contains("NXDOMAIN"), "{}", s.detail);
    }
    assert!(skipped_because(&report, "SRV _sip._tls", "SRV _sipinternaltls._tcp"));
    assert!(skipped_because(&report, "A records", "SRV _sipinternaltls._tcp"));
}

#[tokio::test]
async fn external_srv_when_there_is_no_internal_one() {
    let mut config = LabConfig::default().with_fault(Fault::NoLyncdiscover);
    config.dns.omit = vec!["_sipinternaltls._tcp.contoso.lab".into()];
    let (report, _pool) = sign_in(config).await;
    assert!(report.is_success(), "{}", report.to_text());
    assert_eq!(winner(&report).step, "SRV _sip._tls");
    assert!(report.target.starts_with("sip.contoso.lab:"), "{}", report.target);
}

#[tokio::test]
async fn a_records_win_without_lyncdiscover_and_srv() {
    let (report, _pool) = sign_in(LabConfig::default().with_fault(Fault::NoLyncdiscoverNoSrv)).await;
    assert!(report.is_success(), "{}", report.to_text());
    let steps = discovery(&report);
    for srv in ["SRV _sipinternaltls._tcp", "SRV _sip._tls"] {
        assert!(steps.iter().any(|s| s.step == srv && s.outcome == Outcome::NotFound), "{srv}");
    }
    let a: Vec<&str> = steps
        .iter()
        .filter(|s| s.step.starts_with("A ") && s.outcome == Outcome::Success)
        .map(|s| s.step.as_str())
        .collect();
    assert_eq!(a, ["A sipinternal", "A sip", "A sipexternal"], "tried in the Microsoft client's order");
    assert!(report.target.starts_with("sipinternal.contoso.lab:"), "the first A record is used: {}", report.target);
}

#[tokio::test]
async fn nothing_published_is_a_classified_failure() {
    let mut config = LabConfig::default().with_fault(Fault::NoLyncdiscoverNoSrv);
    config.dns.omit = ["sip", "sipinternal", "sipexternal"].iter().map(|p| format!("{p}.contoso.lab")).collect();
    let (report, _pool) = sign_in(config).await;
    assert!(!report.is_success());
    assert_eq!(report.error.as_deref(), Some("server discovery found no registrar for contoso.lab"));
    assert!(report.hint.as_deref().unwrap().contains("_sipinternaltls._tcp.contoso.lab"));
}
