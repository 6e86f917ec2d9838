//! Bounded time (issue 9 item 5): a DNS server that never answers is given up on within 15 s, each name is
//! asked once per sign-in, and a whole sign-in has a deadline; every timeout is classified and names what
//! did not answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfbkit::discovery::dns::HickoryResolver;
use sfbkit::discovery::{BoxFuture, DnsError, DnsResolver, SrvTarget};
use sfbkit::keystore::MemoryStore;
use sfbkit::{ClientBuilder, Outcome};
use sfbkit_lab::{Fault, LabConfig, LabPool};

/// A UDP "nameserver" that reads every query and answers none; what it was asked, by name.
async fn silent_nameserver() -> (std::net::SocketAddr, Arc<Mutex<BTreeMap<String, usize>>>) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(BTreeMap::new()));
    let record = asked.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            if let Some(name) = question_name(&buf[..n]) {
                *record.lock().unwrap().entry(name).or_default() += 1;
            }
        }
    });
    (addr, asked)
}

/// The QNAME of a DNS query (RFC 1035 4.1.2), lower case, without the trailing dot.
fn question_name(packet: &[u8]) -> Option<String> {
    let mut labels = Vec::new();
    let mut at = 12;
    loop {
        let len = *packet.get(at)? as usize;
        if len == 0 {
            return Some(labels.join(".").to_ascii_lowercase());
        }
        labels.push(String::from_utf8_lossy(packet.get(at + 1..at + 1 + len)?).into_owned());
        at += 1 + len;
    }
}

/// The resolver a client gets for `--dns`, counting the lookups the client asks of it.
struct Counting {
    inner: HickoryResolver,
    lookups: Mutex<Vec<String>>,
}

impl DnsResolver for Counting {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        self.lookups.lock().unwrap().push(format!("SRV {name}"));
        self.inner.srv(name)
    }
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<std::net::IpAddr>, DnsError>> {
        self.lookups.lock().unwrap().push(format!("IP {name}"));
        self.inner.ips(name)
    }
}

#[tokio::test]
async fn a_silent_dns_server_is_given_up_on_within_15_s_asking_each_name_once() {
    let (dns, asked) = silent_nameserver().await;
    let counting = Arc::new(Counting {
        inner: HickoryResolver::with_nameservers(&[dns], Duration::from_secs(2)).unwrap(),
        lookups: Mutex::new(Vec::new()),
    });
    let client = ClientBuilder::new("alice@contoso.com")
        .credentials("CONTOSO\\alice", "Never-Sent-1")
        .resolver(counting.clone())
        .keystore(Arc::new(MemoryStore::default()))
        .build()
        .unwrap();
    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "gave up after {took:?}:\n{}", report.to_text());
    assert!(!report.is_success());
    assert_eq!(report.hint.as_deref().map(|h| h.contains("lyncdiscover")), Some(true), "{}", report.to_text());
    // The names asked until the time for unanswered lookups (13 s) was spent, each by one lookup (the
    // resolver's own retries aside), and nothing after them.
    let lookups = counting.lookups.lock().unwrap().clone();
    let expected =
        ["IP lyncdiscoverinternal.contoso.com", "IP lyncdiscover.contoso.com", "SRV _sipinternaltls._tcp.contoso.com"];
    assert_eq!(lookups, expected);
    let asked = asked.lock().unwrap().clone();
    assert_eq!(
        asked.keys().collect::<Vec<_>>(),
        ["_sipinternaltls._tcp.contoso.com", "lyncdiscover.contoso.com", "lyncdiscoverinternal.contoso.com"],
        "the nameserver saw only those: {asked:?}"
    );
    // Every DNS step that failed is a timeout naming what did not answer; plain http was not tried on a
    // name DNS had not answered.
    let text = report.to_text();
    let timeouts: Vec<_> = report.stages.iter().filter(|s| s.error_class.as_deref() == Some("timeout")).collect();
    assert!(timeouts.len() >= 5, "{text}");
    assert!(timeouts.iter().any(|s| s.detail.contains("no DNS answer for lyncdiscoverinternal.contoso.com")), "{text}");
    let not_asked = timeouts.iter().find(|s| s.step == "SRV _sip._tls").expect(&text);
    assert!(
        not_asked.detail.contains("was not looked up") && not_asked.detail.contains("lyncdiscover.contoso.com"),
        "{text}"
    );
    assert!(
        report.stages.iter().any(|s| s.outcome == Outcome::Skipped && s.detail.contains("DNS did not answer")),
        "{text}"
    );
}

#[tokio::test]
async fn a_sign_in_past_its_deadline_fails_naming_the_last_step() {
    let mut config = LabConfig::default().with_fault(Fault::Slow);
    config.response_delay_ms = 400;
    let pool = LabPool::start(config).await.unwrap();
    let client =
        pool.client_builder("alice@contoso.lab").sign_in_deadline(Duration::from_millis(1500)).build().unwrap();
    let started = Instant::now();
    let report = client.sign_in().await;
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(report.error_class(), Some("deadline"), "{}", report.to_text());
    let error = report.error.as_deref().unwrap();
    assert!(error.contains("within 1 s") && error.contains("the last step to finish was"), "{error}");
    assert!(report.hint.as_deref().unwrap().contains("sign_in_deadline"));
}
