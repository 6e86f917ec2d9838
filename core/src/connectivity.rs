//! Connectivity checks (seed 001 step 2): for each candidate registrar, in discovery's order,
//! resolve its name, open TCP to one of its addresses (from the chosen network adapter), then
//! complete a TLS handshake with full certificate validation. The first candidate that passes
//! all three is used; every step is an [`Attempt`] for the report, failures classified.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::discovery::{Attempt, AttemptOutcome, Candidate, DnsResolver};
use crate::transport::{TlsConnection, TlsConnector, TransportError, connect_tcp};

/// A verified connection to a candidate.
pub(crate) struct Connected {
    pub conn: TlsConnection,
    pub candidate: Candidate,
}

/// The last failure when no candidate could be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreachable {
    pub class: String,
    pub detail: String,
    pub hint: String,
}

/// Tries each candidate in order; returns the first verified connection, or the last failure.
/// `choose_bind` is asked, once a candidate's address is known, which local address to connect
/// from and which adapter that is (the adapter holding the route to it: local discovery's choice,
/// made again per server).
pub(crate) async fn connect_first(
    candidates: &[Candidate],
    resolver: &dyn DnsResolver,
    connector: &TlsConnector,
    choose_bind: &mut (dyn FnMut(IpAddr) -> (Option<IpAddr>, String) + Send),
    timeout: Duration,
    attempts: &mut Vec<Attempt>,
) -> Result<Connected, Unreachable> {
    let mut last = Unreachable {
        class: "no-candidates".into(),
        detail: "server discovery found no registrar to connect to".into(),
        hint: "publish lyncdiscover records, or the _sipinternaltls._tcp / _sip._tls SRV records, for the SIP domain"
            .into(),
    };
    for candidate in candidates {
        match connect_one(candidate, resolver, connector, choose_bind, timeout, attempts).await {
            Ok(conn) => return Ok(Connected { conn, candidate: candidate.clone() }),
            Err(u) => last = u,
        }
    }
    Err(last)
}

async fn connect_one(
    c: &Candidate,
    resolver: &dyn DnsResolver,
    connector: &TlsConnector,
    choose_bind: &mut (dyn FnMut(IpAddr) -> (Option<IpAddr>, String) + Send),
    timeout: Duration,
    attempts: &mut Vec<Attempt>,
) -> Result<TlsConnection, Unreachable> {
    let target = format!("{}:{}", c.fqdn, c.port);
    let t = Instant::now();
    let ips = match c.fqdn.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match resolver.ips(&c.fqdn).await {
            Ok(ips) if !ips.is_empty() => {
                let list: Vec<String> = ips.iter().map(ToString::to_string).collect();
                attempts.push(found("DNS A/AAAA", &c.fqdn, t, format!("{} resolves to {}", c.fqdn, list.join(", "))));
                ips
            }
            Ok(_) => {
                return Err(fail(
                    attempts,
                    "DNS A/AAAA",
                    &c.fqdn,
                    t,
                    "no-records",
                    format!("{} has no addresses", c.fqdn),
                    dns_hint(&c.fqdn),
                ));
            }
            Err(e) => {
                return Err(fail(attempts, "DNS A/AAAA", &c.fqdn, t, e.class(), e.to_string(), dns_hint(&c.fqdn)));
            }
        },
    };
    let (bind, adapter) = match ips.first() {
        Some(ip) => choose_bind(*ip),
        None => (None, String::new()),
    };
    let addrs: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, c.port)).collect();
    let t = Instant::now();
    let (tcp, addr) = match connect_tcp(&c.fqdn, &addrs, bind, timeout).await {
        Ok(ok) => ok,
        Err(e) => return Err(transport_fail(attempts, "TCP connect", &target, t, &e)),
    };
    let local = tcp.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into());
    attempts.push(found("TCP connect", &target, t, format!("port open at {addr} (from {local}, {adapter})")));
    let t = Instant::now();
    match connector.handshake_tcp(tcp, addr, &c.fqdn, timeout).await {
        Ok(conn) => {
            let i = conn.info();
            let detail = format!("{} {}; certificate valid for {}", i.protocol_version, i.cipher_suite, i.server_name);
            attempts.push(found("TLS handshake", &target, t, detail));
            Ok(conn)
        }
        Err(e) => Err(transport_fail(attempts, "TLS handshake", &target, t, &e)),
    }
}

fn dns_hint(name: &str) -> String {
    format!("publish an A record for {name}, or correct the record that points to it")
}

fn found(step: &str, target: &str, t: Instant, detail: String) -> Attempt {
    Attempt {
        step: step.into(),
        target: target.into(),
        duration: t.elapsed(),
        outcome: AttemptOutcome::Found { detail },
    }
}

fn fail(
    attempts: &mut Vec<Attempt>,
    step: &str,
    target: &str,
    t: Instant,
    class: &str,
    detail: String,
    hint: String,
) -> Unreachable {
    attempts.push(Attempt {
        step: step.into(),
        target: target.into(),
        duration: t.elapsed(),
        outcome: AttemptOutcome::Failed { class: class.into(), detail: detail.clone(), hint: hint.clone() },
    });
    Unreachable { class: class.into(), detail, hint }
}

fn transport_fail(
    attempts: &mut Vec<Attempt>,
    step: &str,
    target: &str,
    t: Instant,
    e: &TransportError,
) -> Unreachable {
    fail(attempts, step, target, t, e.class(), e.to_string(), e.hint())
}
