//! The lab DNS answered through sfbkit's own resolver: SRV and A records as discovery asks for them, the
//! NXDOMAIN / no-records distinction, the `slow` delay, and TTL caching seen through the query counter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use sfbkit::discovery::dns::HickoryResolver;
use sfbkit::discovery::{DnsError, DnsResolver, SrvTarget};
use sfbkit_lab::dns::{LabDns, LabDnsError, LabRecord, LabZone};

const TIMEOUT: Duration = Duration::from_secs(2);

fn a(name: &str, last: u8) -> LabRecord {
    LabRecord::A { name: name.to_string(), ip: Ipv4Addr::new(192, 0, 2, last) }
}

fn srv(name: &str, priority: u16, weight: u16, port: u16, target: &str) -> LabRecord {
    LabRecord::Srv { name: name.into(), priority, weight, port, target: target.into() }
}

fn contoso(ttl: u32) -> LabZone {
    LabZone {
        origin: "contoso.lab".into(),
        ttl,
        records: vec![
            srv("_sipinternaltls._tcp.contoso.lab", 10, 20, 5061, "pool01.contoso.lab"),
            srv("_sip._tls.contoso.lab", 0, 0, 443, "sip.contoso.lab"),
            a("pool01.contoso.lab", 10),
            LabRecord::Aaaa { name: "pool01.contoso.lab".into(), ip: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10) },
            a("sip.contoso.lab", 11),
            a("sipinternal.contoso.lab", 12),
            a("sipexternal.contoso.lab", 13),
            a("lyncdiscover.contoso.lab", 14),
            a("lyncdiscoverinternal.contoso.lab", 15),
            LabRecord::Cname { name: "meet.contoso.lab".into(), target: "pool01.contoso.lab".into() },
        ],
    }
}

fn resolver(lab: &LabDns, timeout: Duration) -> HickoryResolver {
    HickoryResolver::with_nameservers(&[lab.addr()], timeout).expect("resolver")
}

#[tokio::test]
async fn discovery_records_resolve() {
    let lab = LabDns::start(contoso(60), Duration::ZERO).await.expect("lab DNS");
    assert!(lab.addr().ip().is_loopback());
    let dns = resolver(&lab, TIMEOUT);

    let internal = dns.srv("_sipinternaltls._tcp.contoso.lab").await.expect("internal SRV");
    let pool = SrvTarget { priority: 10, weight: 20, port: 5061, target: "pool01.contoso.lab".into() };
    assert_eq!(internal, vec![pool]);
    let external = dns.srv("_sip._tls.contoso.lab").await.expect("external SRV");
    assert_eq!(external, vec![SrvTarget { priority: 0, weight: 0, port: 443, target: "sip.contoso.lab".into() }]);

    for (name, last) in [("sip", 11), ("sipinternal", 12), ("sipexternal", 13), ("lyncdiscover", 14)] {
        let ips = dns.ips(&format!("{name}.contoso.lab")).await.expect(name);
        assert_eq!(ips, vec![IpAddr::from([192, 0, 2, last])], "{name}");
    }
    let internal_web = dns.ips("lyncdiscoverinternal.contoso.lab").await.expect("lyncdiscoverinternal");
    assert_eq!(internal_web, vec![IpAddr::from([192, 0, 2, 15])]);
    // Both families, IPv4 first; and a CNAME is followed to them.
    let both: Vec<IpAddr> = vec![[192, 0, 2, 10].into(), "2001:db8::a".parse().expect("v6")];
    assert_eq!(dns.ips("pool01.contoso.lab").await.expect("pool01"), both);
    assert_eq!(dns.ips("meet.contoso.lab").await.expect("CNAME"), both);
}

#[tokio::test]
async fn nxdomain_and_no_records_are_told_apart() {
    let lab = LabDns::start(contoso(60), Duration::ZERO).await.expect("lab DNS");
    let dns = resolver(&lab, TIMEOUT);
    let nosuch = dns.ips("nosuch.contoso.lab").await;
    assert_eq!(nosuch, Err(DnsError::NoSuchName { name: "nosuch.contoso.lab".into() }));
    let nosrv = dns.srv("_sipinternaltls._tcp.nosuch.contoso.lab").await.unwrap_err();
    assert_eq!(nosrv.class(), "no-such-name");
    let only_a = dns.srv("pool01.contoso.lab").await;
    assert_eq!(only_a, Err(DnsError::NoRecords { name: "pool01.contoso.lab".into(), rtype: "SRV" }));
    // Not our zone: the lab server refuses, which is a failure to look at, not "moves on".
    let elsewhere = dns.ips("pool01.fabrikam.lab").await.unwrap_err();
    assert_eq!(elsewhere.class(), "dns-error", "{elsewhere:?}");
}

#[tokio::test]
async fn every_response_is_delayed() {
    let delay = Duration::from_millis(200);
    let lab = LabDns::start(contoso(60), delay).await.expect("lab DNS");
    let dns = resolver(&lab, TIMEOUT);
    let started = Instant::now();
    dns.srv("_sip._tls.contoso.lab").await.expect("SRV");
    let took = started.elapsed();
    assert!(took >= delay, "answered in {took:?}, before the {delay:?} delay");

    // Slower than the resolver's patience: that is a timeout, not a missing record.
    let impatient = resolver(&lab, Duration::from_millis(50));
    let err = impatient.srv("_sipinternaltls._tcp.contoso.lab").await.unwrap_err();
    assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn answers_are_cached_for_their_ttl() {
    let lab = LabDns::start(contoso(1), Duration::ZERO).await.expect("lab DNS");
    let dns = resolver(&lab, TIMEOUT);
    let name = "_sipinternaltls._tcp.contoso.lab";

    let first = dns.srv(name).await.expect("first");
    assert_eq!(lab.queries(), 1);
    assert_eq!(dns.srv(name).await.expect("cached"), first);
    assert_eq!(lab.queries(), 1, "a second lookup within the TTL must come from the cache");
    // Negative answers too (SOA minimum = TTL = 1 s).
    assert!(dns.srv("nosuch.contoso.lab").await.is_err());
    assert!(dns.srv("nosuch.contoso.lab").await.is_err());
    assert_eq!(lab.queries(), 2, "NXDOMAIN must be cached as well");

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(dns.srv(name).await.expect("after expiry"), first);
    assert_eq!(lab.queries(), 3, "after the TTL the resolver must ask again");
    // Clones share the cache.
    assert_eq!(dns.clone().srv(name).await.expect("clone"), first);
    assert_eq!(lab.queries(), 3);
}

#[tokio::test]
async fn stops_when_dropped() {
    let lab = LabDns::start(contoso(60), Duration::ZERO).await.expect("lab DNS");
    let addr = lab.addr();
    tokio::net::TcpStream::connect(addr).await.expect("TCP listener on the same port");
    drop(lab);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let dns = HickoryResolver::with_nameservers(&[addr], Duration::from_millis(100)).expect("resolver");
    assert!(dns.srv("_sip._tls.contoso.lab").await.is_err());
}

#[tokio::test]
async fn bad_zones_are_refused_with_a_reason() {
    let mut outside = contoso(60);
    outside.records.push(a("sip.fabrikam.lab", 1));
    let err = LabDns::start(outside, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, LabDnsError::OutsideZone { ref name, .. } if name == "sip.fabrikam.lab"), "{err}");

    let mut clash = contoso(60);
    clash.records.push(a("meet.contoso.lab", 1)); // meet is a CNAME already
    let err = LabDns::start(clash, Duration::ZERO).await.unwrap_err();
    assert!(matches!(err, LabDnsError::Zone { .. }), "{err}");
}
