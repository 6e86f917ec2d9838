//! sfbkit's Kerberos against MIT Kerberos: a real `krb5kdc` issues the tickets, MIT's `kinit` writes the
//! credential cache sfbkit reads, and MIT's GSSAPI accepts sfbkit's AP-REQs and checks its MIC tokens (and
//! makes the ones sfbkit checks), for AES (RFC 4121) and RC4-HMAC (RFC 4757) session keys.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sfbkit::auth::kerberos::gss::{self, Side};
use sfbkit::auth::kerberos::kdc::InitiatorContext;
use sfbkit::auth::kerberos::{Etype, KerberosClient, KerberosConfig, KerberosError, Principal};
use sfbkit::discovery::dns::StaticResolver;
use sfbkit_lab::kerberos::gssapi::Acceptor;
use sfbkit_lab::kerberos::{LabKdc, RealmSpec};
use zeroize::Zeroizing;

const POOL: &str = "pool01.contoso.lab";
const PASSWORD: &str = "Alice-Passw0rd";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn realm(spec: impl FnOnce(&mut RealmSpec)) -> LabKdc {
    sfbkit_lab::kerberos::available().expect("the KDC tools and MIT GSSAPI (scripts/test installs them)");
    let mut s = RealmSpec {
        realm: "CONTOSO.LAB".into(),
        service_hosts: vec![POOL.into()],
        users: vec![("alice".into(), PASSWORD.into())],
        without_sip_spn: false,
        clock_offset: None,
    };
    spec(&mut s);
    LabKdc::start(&s).expect("the lab KDC starts")
}

fn client(kdc: &LabKdc, ccache: Option<std::path::PathBuf>, etypes: Vec<Etype>, password: bool) -> KerberosClient {
    let config = KerberosConfig {
        ccache: Some(ccache.unwrap_or_else(|| std::env::temp_dir().join("sfbkit-no-such-ccache"))),
        kdcs: vec![kdc.addr()],
        etypes,
    };
    let password = password.then(|| (Principal::user("alice", "CONTOSO.LAB"), Zeroizing::new(PASSWORD.to_string())));
    KerberosClient::new(config, Arc::new(StaticResolver::new()), password)
}

/// The one-leg SIP context: the AP-REQ accepted by MIT, then MICs both ways.
fn sip_context_round_trip(kdc: &LabKdc, k: &KerberosClient, expect: Etype) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ticket = rt.block_on(k.service_ticket("sip", POOL, now())).expect("a sip/ service ticket");
    assert_eq!(ticket.session_key.etype, expect);
    assert_eq!(ticket.server.to_string(), format!("sip/{POOL}@CONTOSO.LAB"));
    let ctx = InitiatorContext::new(&ticket, gss::GSS_INTEG, now(), 12345, &rand::random(), rand::random()).unwrap();
    let acceptor = Acceptor::new(kdc.keytab()).unwrap();
    let (mit, principal, reply) = acceptor.accept(&ctx.token).expect("MIT accepts the AP-REQ");
    assert_eq!(principal, "alice@CONTOSO.LAB");
    assert!(reply.is_none(), "no mutual authentication was asked for: no AP-REP");
    let buffer = b"<Kerberos><0a1b2c3d><1><SIP Communications Service><sip/pool01.contoso.lab><callid><1><REGISTER>";
    for seq in 0..3 {
        let ours = gss::get_mic(&ctx.key, Side::Initiator, seq, buffer);
        mit.verify_mic(buffer, &ours).expect("MIT verifies sfbkit's MIC");
    }
    let theirs = mit.get_mic(buffer).unwrap();
    let form = if expect == Etype::Rc4Hmac { 0x60 } else { 0x04 };
    assert_eq!(theirs[0], form, "{expect:?}: MIT's token form");
    gss::verify_mic(&ctx.key, Side::Acceptor, buffer, &theirs).expect("sfbkit verifies MIT's MIC");
    assert!(gss::verify_mic(&ctx.key, Side::Acceptor, b"changed", &theirs).is_err());
    let mut tampered = gss::get_mic(&ctx.key, Side::Initiator, 9, buffer);
    *tampered.last_mut().unwrap() ^= 0x80;
    assert!(mit.verify_mic(buffer, &tampered).is_err(), "MIT refuses a changed MIC");
}

#[test]
fn a_kinit_cache_gets_aes_and_rc4_contexts_mit_accepts() {
    let kdc = realm(|_| {});
    let cache = kdc.kinit("alice", PASSWORD, None).unwrap();
    sip_context_round_trip(&kdc, &client(&kdc, Some(cache.clone()), vec![], false), Etype::Aes256);
    sip_context_round_trip(&kdc, &client(&kdc, Some(cache.clone()), vec![Etype::Aes128], false), Etype::Aes128);
    sip_context_round_trip(&kdc, &client(&kdc, Some(cache), vec![Etype::Rc4Hmac], false), Etype::Rc4Hmac);
}

#[test]
fn a_password_gets_a_tgt_by_the_as_exchange() {
    let kdc = realm(|_| {});
    let k = client(&kdc, None, vec![], true);
    assert!(k.available(now()).unwrap().contains("password"));
    sip_context_round_trip(&kdc, &k, Etype::Aes256);
}

#[test]
fn http_negotiate_with_mutual_authentication() {
    let kdc = realm(|_| {});
    let cache = kdc.kinit("alice", PASSWORD, None).unwrap();
    let k = client(&kdc, Some(cache), vec![], false);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ticket = rt.block_on(k.service_ticket("HTTP", POOL, now())).unwrap();
    let mut ctx =
        InitiatorContext::new(&ticket, gss::GSS_INTEG | gss::GSS_MUTUAL, now(), 7, &rand::random(), rand::random())
            .unwrap();
    let acceptor = Acceptor::new(kdc.keytab()).unwrap();
    let (_, principal, reply) = acceptor.accept(&gss::spnego_init(&ctx.token)).expect("MIT accepts SPNEGO");
    assert_eq!(principal, "alice@CONTOSO.LAB");
    let reply = reply.expect("a SPNEGO reply");
    let r = gss::spnego_reply(&reply).unwrap();
    assert_eq!(r.state, Some(0), "accept-completed");
    ctx.accept_reply(r.response_token.expect("the AP-REP")).expect("the AP-REP verifies");
}

#[test]
fn failures_are_typed() {
    let kdc = realm(|s| s.without_sip_spn = true);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // A pool whose sip/ principal was never registered.
    let cache = kdc.kinit("alice", PASSWORD, None).unwrap();
    let e = rt.block_on(client(&kdc, Some(cache), vec![], false).service_ticket("sip", POOL, now())).unwrap_err();
    assert_eq!(e.class(), "missing-spn", "{e}");
    assert!(e.to_string().contains("KDC_ERR_S_PRINCIPAL_UNKNOWN"), "{e}");
    assert!(e.hint().contains("setspn"), "{}", e.hint());
    // A wrong password.
    let wrong = KerberosClient::new(
        KerberosConfig { ccache: Some("/nonexistent".into()), kdcs: vec![kdc.addr()], etypes: vec![] },
        Arc::new(StaticResolver::new()),
        Some((Principal::user("alice", "CONTOSO.LAB"), Zeroizing::new("wrong".into()))),
    );
    let e = rt.block_on(wrong.service_ticket("HTTP", POOL, now())).unwrap_err();
    assert_eq!(e.class(), "wrong-credentials", "{e}");
    // An expired ticket: the client notices before asking anyone.
    let short = kdc.kinit("alice", PASSWORD, Some("30s")).unwrap();
    let e = client(&kdc, Some(short), vec![], false).available(now()).unwrap_err();
    assert!(matches!(e, KerberosError::TicketExpired { .. }), "{e}");
    assert_eq!(e.class(), "ticket-expired");
    // No cache, no password.
    let e = client(&kdc, None, vec![], false).available(now()).unwrap_err();
    assert_eq!(e.class(), "no-kerberos-credentials");
    // The KDC is down.
    let addr = kdc.addr();
    drop(kdc);
    let down = KerberosClient::new(
        KerberosConfig { ccache: Some("/nonexistent".into()), kdcs: vec![addr], etypes: vec![] },
        Arc::new(StaticResolver::new()),
        Some((Principal::user("alice", "CONTOSO.LAB"), Zeroizing::new(PASSWORD.into()))),
    );
    let e = rt.block_on(down.service_ticket("sip", POOL, now())).unwrap_err();
    assert_eq!(e.class(), "kdc-unreachable", "{e}");
    assert!(e.hint().contains("port 88"));
}

#[test]
fn a_kdc_ten_minutes_off_is_clock_skew() {
    let kdc = realm(|s| s.clock_offset = Some(-600));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let k = client(&kdc, None, vec![], true);
    let e = rt.block_on(k.service_ticket("sip", POOL, now())).unwrap_err();
    assert_eq!(e.class(), "clock-skew", "{e}");
    assert!(e.to_string().contains("KRB_AP_ERR_SKEW"), "{e}");
    assert!(e.hint().contains("w32tm"), "{}", e.hint());
}

/// CI once lost a KDC's port to a socket opened between the port check and `krb5kdc`'s bind. Ports now come
/// from below the kernel's ephemeral range and a lost one is retried: four realms started at once, while the
/// test opens ephemeral sockets of its own, all listen, each on its own port.
#[test]
fn realms_started_together_each_get_a_port_outside_the_ephemeral_range() {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let noise = std::thread::spawn(|| (0..400).filter_map(|_| std::net::UdpSocket::bind("127.0.0.1:0").ok()).count());
    let kdcs: Vec<LabKdc> = (0..4)
        .map(|_| std::thread::spawn(|| realm(|_| {})))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("a realm starts"))
        .collect();
    assert!(noise.join().unwrap() > 0);
    let mut ports: Vec<u16> = kdcs.iter().map(|k| k.addr().port()).collect();
    for p in &ports {
        assert!(*p < low, "port {p} is in the ephemeral range from {low}");
        assert!(std::net::TcpStream::connect(("127.0.0.1", *p)).is_ok(), "KDC on {p} listens");
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 4);
}
