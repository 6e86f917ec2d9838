//! DNS for discovery: [`HickoryResolver`] puts hickory-resolver (tokio) behind the [`DnsResolver`] seam,
//! [`order_srv`] and [`usable_srv`] apply RFC 2782's target selection rules, and [`StaticResolver`] answers
//! from a table so that discovery can be unit-tested without a socket.
//!
//! Caching: a resolver keeps answers for their TTL (hickory's response cache, sized by [`CACHE_SIZE`]),
//! so thousands of endpoints signing in to one domain through one shared resolver ask the network once per
//! TTL. Negative answers (NXDOMAIN, NOERROR without records) are cached for the zone's SOA minimum (RFC 2308)
//! but never longer than [`NEGATIVE_TTL_CAP`]: discovery tries several names that usually do not exist, and an
//! admin who adds one should not wait hours for clients to notice. Timeouts and server failures are not cached.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::{Resolver, ResolverBuilder, TokioResolver};
use tokio::time::Instant;

use super::resolver::{BoxFuture, DnsError, DnsResolver, SrvTarget};

/// How many responses one resolver caches (hickory's default, stated so that it is a decision).
/// Discovery needs about ten names per SIP domain, so this holds hundreds of domains.
pub const CACHE_SIZE: u64 = 8_192;
/// Longest time a positive answer is kept, whatever its TTL says (one day, hickory's ceiling).
pub const POSITIVE_TTL_CAP: Duration = Duration::from_secs(86_400);
/// Longest time a negative answer is kept, whatever the zone's SOA minimum says.
pub const NEGATIVE_TTL_CAP: Duration = Duration::from_secs(300);
/// Tries after the first when a nameserver does not answer in time (hickory's default, stated so that the
/// worst case of [`HickoryResolver::with_nameservers`] can be read off: `(1 + RETRIES) × timeout`).
pub const RETRIES: usize = 2;

/// [`DnsResolver`] on hickory-resolver: UDP with TCP fallback, answers cached for their TTL.
///
/// Cheap to clone (clones share one cache and one set of connections), so one resolver can serve every
/// endpoint in the process.
#[derive(Clone)]
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver").finish_non_exhaustive()
    }
}

impl HickoryResolver {
    /// A resolver using the operating system's nameservers and options (`/etc/resolv.conf`, the Windows
    /// registry, Apple SystemConfiguration, Android), as the user's other applications do.
    pub fn system() -> Result<Self, DnsError> {
        let mut builder = TokioResolver::builder_tokio()
            .map_err(|e| config_error(format!("could not read the system DNS configuration: {e}")))?;
        configure(builder.options_mut());
        build(builder)
    }

    /// A resolver asking exactly these nameservers (UDP, and TCP for truncated answers), each on its own
    /// port: the lab pool's DNS listens on a random loopback port. The hosts file is not consulted, so
    /// answers come from these servers only. `timeout` bounds each try; a silent server costs up to
    /// `(1 + RETRIES) × timeout` before [`DnsError::Timeout`].
    pub fn with_nameservers(servers: &[SocketAddr], timeout: Duration) -> Result<Self, DnsError> {
        if servers.is_empty() {
            return Err(config_error("no nameservers given".to_string()));
        }
        let name_servers = servers
            .iter()
            .map(|server| {
                let mut udp = ConnectionConfig::udp();
                udp.port = server.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = server.port();
                NameServerConfig::new(server.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(name_servers);
        let mut builder = Resolver::builder_with_config(config, TokioRuntimeProvider::default());
        let options = builder.options_mut();
        configure(options);
        options.timeout = timeout;
        options.use_hosts_file = ResolveHosts::Never;
        build(builder)
    }

    async fn lookup_srv(&self, name: &str) -> Result<Vec<SrvTarget>, DnsError> {
        let fqdn = absolute(name)?;
        let started = Instant::now();
        let lookup = self
            .inner
            .lookup(fqdn, RecordType::SRV)
            .await
            .map_err(|e| map_error(name, "SRV", &e, started.elapsed()))?;
        let records: Vec<SrvTarget> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvTarget {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: target_name(&srv.target),
                }),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            // A CNAME-only answer, for instance: the name exists but has no SRV.
            return Err(DnsError::NoRecords { name: name.to_string(), rtype: "SRV" });
        }
        Ok(records)
    }

    async fn lookup_ips(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let fqdn = absolute(name)?;
        let started = Instant::now();
        let lookup = self.inner.lookup_ip(fqdn).await.map_err(|e| map_error(name, "A/AAAA", &e, started.elapsed()))?;
        let ips: Vec<IpAddr> = lookup.iter().collect();
        if ips.is_empty() {
            return Err(DnsError::NoRecords { name: name.to_string(), rtype: "A/AAAA" });
        }
        Ok(ips)
    }
}

impl DnsResolver for HickoryResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        Box::pin(self.lookup_srv(name))
    }
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(self.lookup_ips(name))
    }
}

/// The options both constructors share: the cache, its TTL bounds, and the address families.
fn configure(options: &mut ResolverOpts) {
    options.cache_size = CACHE_SIZE;
    options.attempts = RETRIES;
    // No floor: a record with TTL 0 is asked again every time, as its owner wants.
    options.positive_min_ttl = None;
    options.positive_max_ttl = Some(POSITIVE_TTL_CAP);
    // Without an SOA in the answer a negative response is not cached at all (floor 0).
    options.negative_min_ttl = None;
    options.negative_max_ttl = Some(NEGATIVE_TTL_CAP);
    // A and AAAA in parallel, IPv4 first: SfB pools are reached over IPv4 in nearly every deployment.
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
}

fn build(builder: ResolverBuilder<TokioRuntimeProvider>) -> Result<HickoryResolver, DnsError> {
    let inner = builder.build().map_err(|e| config_error(format!("could not start the DNS resolver: {e}")))?;
    Ok(HickoryResolver { inner })
}

fn config_error(detail: String) -> DnsError {
    DnsError::Failed { name: "(resolver configuration)".to_string(), detail }
}

/// Discovery names are absolute (`_sip._tls.contoso.com`): mark them so, so the resolver never appends a
/// search domain and turns an NXDOMAIN into a lookup of `_sip._tls.contoso.com.corp.example`.
fn absolute(name: &str) -> Result<Name, DnsError> {
    let mut fqdn = Name::from_utf8(name)
        .map_err(|e| DnsError::Failed { name: name.to_string(), detail: format!("not a valid DNS name: {e}") })?;
    fqdn.set_fqdn(true);
    Ok(fqdn)
}

/// An SRV target in ASCII (A-label) form as certificates name it, without the trailing dot; the root
/// stays `.` so that [`usable_srv`] can see "service not available here".
fn target_name(target: &Name) -> String {
    if target.is_root() {
        return ".".to_string();
    }
    let ascii = target.to_ascii();
    ascii.strip_suffix('.').unwrap_or(&ascii).to_string()
}

/// Translates hickory's error into the seam's: NXDOMAIN and NOERROR-without-records are the expected
/// "move on to the next discovery method" outcomes; timeouts and everything else are worth a look.
fn map_error(name: &str, rtype: &'static str, err: &NetError, elapsed: Duration) -> DnsError {
    let name = name.to_string();
    match err {
        NetError::Dns(HickoryDnsError::NoRecordsFound(no_records)) => match no_records.response_code {
            ResponseCode::NXDomain => DnsError::NoSuchName { name },
            _ => DnsError::NoRecords { name, rtype },
        },
        NetError::Dns(HickoryDnsError::ResponseCode(code)) => {
            DnsError::Failed { name, detail: format!("the nameserver answered {code}") }
        }
        NetError::Timeout => DnsError::Timeout { name, after: elapsed },
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => DnsError::Timeout { name, after: elapsed },
        NetError::NoConnections => DnsError::Failed { name, detail: "no nameserver could be reached".to_string() },
        NetError::Io(io) => DnsError::Failed { name, detail: format!("network error talking to the nameserver: {io}") },
        NetError::Proto(proto) => DnsError::Failed { name, detail: format!("malformed DNS answer: {proto}") },
        other => DnsError::Failed { name, detail: other.to_string() },
    }
}

/// Drops SRV records whose target is `.`: RFC 2782 says such a record means "the service is decidedly not
/// available at this domain". If every record was dropped, the domain has opted out of this service and
/// discovery should move on exactly as for NXDOMAIN.
pub fn usable_srv(records: Vec<SrvTarget>) -> Vec<SrvTarget> {
    records.into_iter().filter(|r| r.target != "." && !r.target.is_empty()).collect()
}

/// Puts SRV records in the order RFC 2782 says to try them: ascending priority; within one priority,
/// repeatedly pick a record at random with probability proportional to its weight (records of weight 0
/// are placed first, so they are picked only when the draw is 0 — rarely, unless all weights are 0).
/// Spreads many clients over a pool's Front Ends the way the domain's admin asked.
pub fn order_srv(mut records: Vec<SrvTarget>, rng: &mut impl rand::Rng) -> Vec<SrvTarget> {
    records.sort_by_key(|r| r.priority); // stable: received order is kept within a priority
    let mut ordered = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut group = vec![first];
        while let Some(next) = rest.next_if(|r| r.priority == priority) {
            group.push(next);
        }
        // Weight 0 first, otherwise received order.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let draw = rng.random_range(0..=total);
            let mut running = 0u32;
            let pick = group
                .iter()
                .position(|r| {
                    running += u32::from(r.weight);
                    running >= draw
                })
                .unwrap_or(0); // unreachable: the last running sum equals total ≥ draw
            ordered.push(group.remove(pick));
        }
    }
    ordered
}

/// A [`DnsResolver`] answering from a table, for tests of discovery: names not in the table are NXDOMAIN,
/// names with answers of the other type only are NOERROR without records (as an authoritative server
/// answers). Names match case-insensitively, with or without a trailing dot.
#[derive(Debug, Default)]
pub struct StaticResolver {
    srv: HashMap<String, Result<Vec<SrvTarget>, DnsError>>,
    ips: HashMap<String, Result<Vec<IpAddr>, DnsError>>,
    asked: Mutex<Vec<String>>,
}

impl StaticResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }
    /// `name` has these SRV records.
    pub fn with_srv(mut self, name: &str, records: Vec<SrvTarget>) -> Self {
        self.srv.insert(key(name), Ok(records));
        self
    }
    /// An SRV lookup of `name` fails this way (e.g. [`DnsError::Timeout`]).
    pub fn with_srv_error(mut self, name: &str, error: DnsError) -> Self {
        self.srv.insert(key(name), Err(error));
        self
    }
    /// `name` has these addresses.
    pub fn with_ips(mut self, name: &str, ips: Vec<IpAddr>) -> Self {
        self.ips.insert(key(name), Ok(ips));
        self
    }
    /// An address lookup of `name` fails this way.
    pub fn with_ips_error(mut self, name: &str, error: DnsError) -> Self {
        self.ips.insert(key(name), Err(error));
        self
    }
    /// The lookups made so far, in order, as `SRV <name>` or `IP <name>`: lets a test check which names
    /// discovery asked and that it stopped asking once it had an answer.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn answer<T: Clone>(
        &self,
        kind: &str,
        rtype: &'static str,
        name: &str,
        table: &HashMap<String, Result<Vec<T>, DnsError>>,
        other: bool,
    ) -> Result<Vec<T>, DnsError> {
        self.asked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(format!("{kind} {name}"));
        match table.get(&key(name)) {
            Some(answer) => answer.clone(),
            None if other => Err(DnsError::NoRecords { name: name.to_string(), rtype }),
            None => Err(DnsError::NoSuchName { name: name.to_string() }),
        }
    }
}

impl DnsResolver for StaticResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        let exists = self.ips.contains_key(&key(name));
        let answer = self.answer("SRV", "SRV", name, &self.srv, exists);
        Box::pin(async move { answer })
    }
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        let exists = self.srv.contains_key(&key(name));
        let answer = self.answer("IP", "A/AAAA", name, &self.ips, exists);
        Box::pin(async move { answer })
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::Query;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvTarget {
        SrvTarget { priority, weight, port: 5061, target: target.to_string() }
    }

    #[test]
    fn priorities_ascend_whatever_the_draw() {
        let records = vec![srv(20, 5, "c"), srv(10, 0, "a"), srv(30, 9, "d"), srv(10, 50, "b"), srv(20, 1, "e")];
        for seed in 0..200 {
            let ordered = order_srv(records.clone(), &mut StdRng::seed_from_u64(seed));
            assert_eq!(ordered.len(), records.len());
            assert!(ordered.windows(2).all(|w| w[0].priority <= w[1].priority), "{ordered:?}");
        }
    }

    #[test]
    fn first_pick_follows_the_weights() {
        let records = vec![srv(0, 60, "sixty"), srv(0, 30, "thirty"), srv(0, 10, "ten")];
        let mut rng = StdRng::seed_from_u64(2782);
        let mut firsts: HashMap<String, u32> = HashMap::new();
        for _ in 0..10_000 {
            let first = order_srv(records.clone(), &mut rng).remove(0).target;
            *firsts.entry(first).or_default() += 1;
        }
        for (target, percent) in [("sixty", 60.0), ("thirty", 30.0), ("ten", 10.0)] {
            let share = f64::from(firsts.get(target).copied().unwrap_or(0)) / 100.0;
            assert!((share - percent).abs() < 3.0, "{target}: {share}% (want ~{percent}%)");
        }
    }

    #[test]
    fn zero_weights_all_appear() {
        let zeros = vec![srv(1, 0, "a"), srv(1, 0, "b"), srv(1, 0, "c")];
        let mut rng = StdRng::seed_from_u64(7);
        let mut got: Vec<String> = order_srv(zeros, &mut rng).into_iter().map(|r| r.target).collect();
        got.sort();
        assert_eq!(got, ["a", "b", "c"]);
        // A weight-0 record among weighted ones is still tried, just (almost always) last.
        let mixed = vec![srv(1, 0, "zero"), srv(1, 10, "ten")];
        let last = order_srv(mixed, &mut rng);
        assert_eq!(last.len(), 2);
        assert!(last.iter().any(|r| r.target == "zero"));
    }

    #[test]
    fn dot_target_means_not_here() {
        let usable = usable_srv(vec![srv(0, 0, "."), srv(0, 0, "pool01.contoso.com")]);
        assert_eq!(usable, vec![srv(0, 0, "pool01.contoso.com")]);
        assert!(usable_srv(vec![srv(0, 0, ".")]).is_empty());
        assert_eq!(target_name(&Name::root()), ".");
        assert_eq!(target_name(&Name::from_ascii("Pool01.contoso.com.").unwrap()), "Pool01.contoso.com");
    }

    #[test]
    fn hickory_errors_map_to_what_discovery_does_next() {
        let query = Query::query(Name::from_ascii("x.contoso.com.").unwrap(), RecordType::SRV);
        let no_records = |code| NetError::Dns(HickoryDnsError::NoRecordsFound(NoRecords::new(query.clone(), code)));
        let after = Duration::from_millis(5);
        let map = |e: NetError| map_error("x.contoso.com", "SRV", &e, after);
        assert_eq!(map(no_records(ResponseCode::NXDomain)), DnsError::NoSuchName { name: "x.contoso.com".into() });
        assert_eq!(
            map(no_records(ResponseCode::NoError)),
            DnsError::NoRecords { name: "x.contoso.com".into(), rtype: "SRV" }
        );
        assert_eq!(map(NetError::Timeout), DnsError::Timeout { name: "x.contoso.com".into(), after });
        let refused = map(NetError::Dns(HickoryDnsError::ResponseCode(ResponseCode::Refused)));
        assert!(matches!(&refused, DnsError::Failed { detail, .. } if detail.contains("Refused")), "{refused:?}");
        assert_eq!(map(NetError::NoConnections).class(), "dns-error");
    }

    #[test]
    fn no_nameservers_is_an_error_not_a_silent_resolver() {
        let err = HickoryResolver::with_nameservers(&[], Duration::from_secs(1)).unwrap_err();
        assert_eq!(err.class(), "dns-error");
    }

    #[tokio::test]
    async fn silent_nameserver_times_out() {
        // A bound UDP socket nobody reads: queries vanish; nothing listens on TCP there either.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let resolver = HickoryResolver::with_nameservers(&[addr], Duration::from_millis(100)).unwrap();
        let err = resolver.srv("_sip._tls.contoso.com").await.unwrap_err();
        assert!(matches!(err, DnsError::Timeout { after, .. } if after >= Duration::from_millis(100)), "{err:?}");
    }

    #[tokio::test]
    async fn static_resolver_answers_like_an_authoritative_zone() {
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        let dns = StaticResolver::new()
            .with_srv("_sip._tls.contoso.com", vec![srv(0, 0, "sip.contoso.com")])
            .with_ips("sip.contoso.com.", vec![ip])
            .with_ips_error("slow.contoso.com", DnsError::Timeout { name: "slow".into(), after: Duration::ZERO });
        assert_eq!(dns.srv("_SIP._tls.contoso.com.").await, Ok(vec![srv(0, 0, "sip.contoso.com")]));
        assert_eq!(dns.ips("sip.contoso.com").await, Ok(vec![ip]));
        assert_eq!(dns.srv("sip.contoso.com").await.unwrap_err().class(), "no-records");
        assert_eq!(dns.ips("nosuch.contoso.com").await.unwrap_err().class(), "no-such-name");
        assert_eq!(dns.ips("slow.contoso.com").await.unwrap_err().class(), "timeout");
        assert_eq!(dns.asked()[..2], ["SRV _SIP._tls.contoso.com.", "IP sip.contoso.com"]);
    }
}
