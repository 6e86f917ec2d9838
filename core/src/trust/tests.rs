use super::*;

struct Answer(bool, Mutex<Vec<TrustQuestion>>);

impl TrustDecider for Answer {
    fn allow<'a>(&'a self, question: &'a TrustQuestion) -> BoxFuture<'a, bool> {
        self.1.lock().unwrap().push(question.clone());
        Box::pin(async move { self.0 })
    }
}

fn tls(from: &str) -> Learned {
    Learned::Tls(from.to_string())
}

#[test]
fn the_sip_domain_its_subdomains_and_the_microsoft_defaults_are_trusted() {
    let model = TrustModel::new("contoso.com", None, &[], None);
    for host in [
        "contoso.com",
        "pool01.contoso.com",
        "POOL01.Contoso.COM.",
        "webdir1a.online.lync.com",
        "login.microsoftonline.com",
    ] {
        assert!(model.covers(host), "{host}");
    }
    for host in ["evilcontoso.com", "contoso.com.evil.net", "evil.example.net", "127.0.0.1", "[::1]", "", "com"] {
        assert!(!model.covers(host), "{host}");
    }
}

#[test]
fn a_trusted_domain_list_replaces_the_defaults_as_the_policy_does() {
    let model = TrustModel::new("contoso.com", Some(&["*.hosting.example".to_string()]), &[], None);
    assert!(model.covers("sip.hosting.example") && model.covers("pool.contoso.com"));
    assert!(!model.covers("webdir.online.lync.com"));
    let none = TrustModel::for_domain("contoso.com");
    assert_eq!(none.domains(), ["contoso.com"]);
}

#[test]
fn named_hosts_are_trusted_exactly() {
    let model = TrustModel::new("contoso.com", Some(&[]), &["127.0.0.1".into(), "Login.Example.net".into()], None);
    assert!(model.covers("127.0.0.1") && model.covers("login.example.net"));
    assert!(!model.covers("other.example.net") && !model.covers("127.0.0.2"));
}

#[tokio::test]
async fn plain_http_is_never_admitted_even_in_the_domain() {
    let model = TrustModel::for_domain("contoso.com");
    let url = "http://pool01.contoso.com/WebTicket/WebTicketService.svc/Auth";
    let err = model.admit_url(url, Purpose::WebTicketService, &tls("pool01.contoso.com")).await.unwrap_err();
    assert_eq!(err.reason, UntrustedReason::NotTls);
    assert_eq!(err.class(), "untrusted-server");
    assert!(err.hint().contains("https"), "{}", err.hint());
    for bad in ["ftp://pool01.contoso.com/", "not a url", "https:///nohost"] {
        assert!(model.admit_url(bad, Purpose::WebTicketService, &Learned::Configuration).await.is_err(), "{bad}");
    }
    let ok = model.admit_url("https://pool01.contoso.com/x", Purpose::WebTicketService, &Learned::Dns).await;
    assert_eq!(ok.unwrap().as_str(), "https://pool01.contoso.com/x");
}

#[tokio::test]
async fn outside_the_set_the_refusal_names_host_setting_and_where_it_came_from() {
    let model = TrustModel::for_domain("contoso.com");
    let err = model
        .admit_url("https://evil.example.net:444/x", Purpose::CertificateProvisioning, &tls("pool01.contoso.com"))
        .await
        .unwrap_err();
    assert_eq!(err.reason, UntrustedReason::OutsideTrustedDomains);
    let text = err.to_string();
    assert!(
        text.contains("evil.example.net") && text.contains("contoso.com") && text.contains("pool01.contoso.com"),
        "{text}"
    );
    assert!(err.hint().contains("trusted_domains") && err.hint().contains("example.net"), "{}", err.hint());
}

#[tokio::test]
async fn the_application_decides_once_per_host_but_never_for_plain_http_answers() {
    let yes = Arc::new(Answer(true, Mutex::new(Vec::new())));
    let model = TrustModel::new("contoso.com", Some(&[]), &[], Some(yes.clone()));
    let learned = tls("pool01.contoso.com");
    for _ in 0..2 {
        model.admit_url("https://sts.partner.example/x", Purpose::WebTicketService, &learned).await.unwrap();
    }
    assert_eq!(yes.1.lock().unwrap().len(), 1, "asked once");
    assert_eq!(yes.1.lock().unwrap()[0].host, "sts.partner.example");
    // An answer over plain http cannot widen the set, whatever the application would say.
    let err = model
        .admit_url(
            "https://other.example/x",
            Purpose::WebTicketService,
            &Learned::PlainHttp("lyncdiscover.contoso.com".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason, UntrustedReason::LearnedOverPlainHttp);
    assert_eq!(yes.1.lock().unwrap().len(), 1);

    let no = Arc::new(Answer(false, Mutex::new(Vec::new())));
    let model = TrustModel::new("contoso.com", Some(&[]), &[], Some(no));
    let err = model.admit_host("sip.hosting.example", 5061, Purpose::Registrar, &Learned::Dns).await.unwrap_err();
    assert_eq!(err.reason, UntrustedReason::RefusedByApplication);
    assert_eq!(err.target, "sip.hosting.example:5061");
}
