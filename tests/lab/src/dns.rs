//! The lab pool's DNS: an authoritative server for one zone on 127.0.0.1 (hickory-server), so that discovery
//! (`_sipinternaltls._tcp` and `_sip._tls` SRV, `sipinternal`/`sip`/`sipexternal` and `lyncdiscover(internal)`
//! A records) runs over real DNS packets without touching the machine's resolver or leaving loopback.
//!
//! Start one with [`LabDns::start`] from a [`LabZone`] and give [`LabDns::addr`] to
//! [`sfbkit::discovery::dns::HickoryResolver::with_nameservers`]. The zone is authoritative: a name under the
//! origin that is not in it gets NXDOMAIN, a name that exists but lacks the asked type gets NOERROR with no
//! answer (both with the zone's SOA, so resolvers cache them for [`LabZone::ttl`] as RFC 2308 says). Names
//! outside the origin are REFUSED. [`LabDns::queries`] counts the queries the server received, which is how
//! tests see caching.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_server::Server;
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::rr::rdata::{A, AAAA, CNAME, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

/// How often [`LabDns::start`] tries for a port free on both UDP and TCP before giving up.
const BIND_ATTEMPTS: u32 = 8;
/// A TCP client that sends nothing for this long is disconnected (hickory's guard against idle sockets).
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Responses queued per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 4096;

/// One zone for the lab DNS to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabZone {
    /// The zone's apex, e.g. `contoso.lab` (no trailing dot).
    pub origin: String,
    /// The records; every name must be the origin or under it.
    pub records: Vec<LabRecord>,
    /// TTL of every record, in seconds, and the SOA minimum (how long resolvers cache negative answers).
    pub ttl: u32,
}

/// One record of a [`LabZone`]. Names and targets are absolute FQDNs without the trailing dot; `name` is
/// the owner (the name a resolver asks for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabRecord {
    /// An IPv4 address.
    A {
        /// Owner name, e.g. `sipinternal.contoso.lab`.
        name: String,
        /// The address.
        ip: Ipv4Addr,
    },
    /// An IPv6 address.
    Aaaa {
        /// Owner name.
        name: String,
        /// The address.
        ip: Ipv6Addr,
    },
    /// An alias; the name may carry no other record.
    Cname {
        /// Owner name (the alias).
        name: String,
        /// The canonical name it stands for.
        target: String,
    },
    /// A service location (RFC 2782), e.g. `_sipinternaltls._tcp.contoso.lab` → `pool01.contoso.lab:5061`.
    Srv {
        /// Owner name, `_service._proto.domain`.
        name: String,
        /// Lower is tried first.
        priority: u16,
        /// Relative share among records of one priority.
        weight: u16,
        /// Port of the service on the target.
        port: u16,
        /// Host offering the service (`.` for "not available here").
        target: String,
    },
}

/// Why the lab DNS could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabDnsError {
    /// A name in the zone is not a valid DNS name (check the spelling in the [`LabZone`]).
    #[error("lab DNS zone: {name:?} is not a valid DNS name: {reason}")]
    BadName {
        /// The name as given.
        name: String,
        /// What hickory objected to.
        reason: String,
    },
    /// A record's name is not under the zone's origin, so this server would not be asked for it.
    #[error("lab DNS zone: {name} is outside the zone {origin}")]
    OutsideZone {
        /// The record's owner name.
        name: String,
        /// The zone's origin.
        origin: String,
    },
    /// hickory refused the record set (e.g. a CNAME next to other records at one name).
    #[error("lab DNS zone {origin}: {reason}")]
    Zone {
        /// The zone's origin.
        origin: String,
        /// Which record could not be added, and the likely cause.
        reason: String,
    },
    /// Binding a loopback socket failed.
    #[error("lab DNS could not listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
    /// Every UDP port the OS offered was taken on TCP (a very busy machine); try again.
    #[error("lab DNS found no port free for both UDP and TCP on 127.0.0.1 in {attempts} tries")]
    NoCommonPort {
        /// How many ports were tried.
        attempts: u32,
    },
}

/// A running lab DNS server. Dropping it stops the server.
pub struct LabDns {
    addr: SocketAddr,
    queries: Arc<AtomicU64>,
    server: Server<LabHandler>,
}

impl std::fmt::Debug for LabDns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabDns").field("addr", &self.addr).field("queries", &self.queries()).finish()
    }
}

impl LabDns {
    /// Serves `zone` on 127.0.0.1, UDP and TCP on one OS-chosen port, delaying every response by `delay`
    /// (the lab's `slow` fault; `Duration::ZERO` for none).
    pub async fn start(zone: LabZone, delay: Duration) -> Result<LabDns, LabDnsError> {
        LabDns::start_zones(vec![zone], delay).await
    }

    /// [`LabDns::start`] for several zones on one server (the pool's and, for the redirection faults,
    /// the foreign host's `example.net`).
    pub async fn start_zones(zones: Vec<LabZone>, delay: Duration) -> Result<LabDns, LabDnsError> {
        LabDns::start_with(zones, delay, Vec::new()).await
    }

    /// [`LabDns::start_zones`], never answering (in time) for the names in `silent_for` and below them.
    pub async fn start_with(
        zones: Vec<LabZone>,
        delay: Duration,
        silent_for: Vec<String>,
    ) -> Result<LabDns, LabDnsError> {
        let mut catalog = Catalog::new();
        for zone in &zones {
            let (origin, handler) = zone_handler(zone)?;
            catalog.upsert(LowerName::from(&origin), vec![Arc::new(handler)]);
        }
        let origins: Vec<&str> = zones.iter().map(|z| z.origin.as_str()).collect();
        let queries = Arc::new(AtomicU64::new(0));
        let (udp, tcp) = bind_one_port().await?;
        let addr = udp.local_addr().map_err(LabDnsError::Listen)?;
        let silent_for = silent_for.iter().map(|s| s.trim_end_matches('.').to_ascii_lowercase()).collect();
        let mut server = Server::new(LabHandler { catalog, delay, queries: queries.clone(), silent_for });
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        tracing::info!(%addr, origins = ?origins, ?delay, "lab DNS started");
        Ok(LabDns { addr, queries, server })
    }

    /// Where the server listens (UDP and TCP, same port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries the server has received (each one is answered), over UDP and TCP.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for LabDns {
    fn drop(&mut self) {
        // Stop accepting; dropping `server` then aborts its tasks (they live in its JoinSet).
        self.server.shutdown_token().cancel();
    }
}

/// The catalog, behind a counter and the `slow` delay.
struct LabHandler {
    catalog: Catalog,
    delay: Duration,
    queries: Arc<AtomicU64>,
    /// Names (and the names under them) this server never answers (the `dns-timeout` fault).
    silent_for: Vec<String>,
}

#[async_trait::async_trait]
impl RequestHandler for LabHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        // Counted on arrival, so a client holding an answer always sees its query counted.
        self.queries.fetch_add(1, Ordering::SeqCst);
        if let Ok(info) = request.request_info() {
            let name = info.query.name().to_string().trim_end_matches('.').to_ascii_lowercase();
            if self.silent_for.iter().any(|s| name == *s || name.ends_with(&format!(".{s}"))) {
                // Lost, as behind a broken forwarder: answered only long after any client gave up.
                tokio::time::sleep(SILENT_FOR).await;
            }
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.catalog.handle_request::<R, T>(request, response_handle).await
    }
}

/// How long a query for a silent name waits before it is answered: longer than any client waits.
const SILENT_FOR: Duration = Duration::from_secs(60);

/// Binds UDP on an OS-chosen port, then TCP on the same port: resolvers expect both on one address.
async fn bind_one_port() -> Result<(UdpSocket, TcpListener), LabDnsError> {
    for _ in 0..BIND_ATTEMPTS {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.map_err(LabDnsError::Listen)?;
        let port = udp.local_addr().map_err(LabDnsError::Listen)?.port();
        match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(LabDnsError::Listen(e)),
        }
    }
    Err(LabDnsError::NoCommonPort { attempts: BIND_ATTEMPTS })
}

/// Builds the in-memory zone: an SOA at the origin (what makes NXDOMAIN and empty answers authoritative
/// and cacheable), then the records.
fn zone_handler(zone: &LabZone) -> Result<(Name, InMemoryZoneHandler<TokioRuntimeProvider>), LabDnsError> {
    const SERIAL: u32 = 1;
    let origin = fqdn(&zone.origin)?;
    let soa = SOA::new(
        fqdn(&format!("ns.{}", zone.origin))?,
        fqdn(&format!("hostmaster.{}", zone.origin))?,
        SERIAL,
        3600,
        600,
        86_400,
        zone.ttl,
    );
    let mut handler = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
    let mut records = vec![Record::from_rdata(origin.clone(), zone.ttl, RData::SOA(soa))];
    for record in &zone.records {
        records.push(to_record(record, &origin, zone)?);
    }
    for record in records {
        let what = format!("{} {}", record.name, record.record_type());
        if !handler.upsert_mut(record, SERIAL) {
            return Err(LabDnsError::Zone {
                origin: zone.origin.clone(),
                reason: format!("could not add {what} (a CNAME cannot share its name with other records)"),
            });
        }
    }
    Ok((origin, handler))
}

fn to_record(record: &LabRecord, origin: &Name, zone: &LabZone) -> Result<Record, LabDnsError> {
    let (name, data) = match record {
        LabRecord::A { name, ip } => (name, RData::A(A(*ip))),
        LabRecord::Aaaa { name, ip } => (name, RData::AAAA(AAAA(*ip))),
        LabRecord::Cname { name, target } => (name, RData::CNAME(CNAME(fqdn(target)?))),
        LabRecord::Srv { name, priority, weight, port, target } => {
            (name, RData::SRV(SRV::new(*priority, *weight, *port, fqdn(target)?)))
        }
    };
    let owner = fqdn(name)?;
    if !origin.zone_of(&owner) {
        return Err(LabDnsError::OutsideZone { name: name.clone(), origin: zone.origin.clone() });
    }
    Ok(Record::from_rdata(owner, zone.ttl, data))
}

/// `pool01.contoso.lab` → the absolute name `pool01.contoso.lab.` (a trailing dot given anyway is fine).
fn fqdn(name: &str) -> Result<Name, LabDnsError> {
    let absolute = format!("{}.", name.trim_end_matches('.'));
    Name::from_ascii(&absolute).map_err(|e| LabDnsError::BadName { name: name.to_string(), reason: e.to_string() })
}
