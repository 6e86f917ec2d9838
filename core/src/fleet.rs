//! Many endpoints on one runtime: what a load generator, a QA suite or a farm of presence bots runs.
//!
//! A [`Fleet`] builds its clients with one [`SharedResources`] (trust and dial plans built once), signs them in
//! through a **pacer** (at most `sign_ins_per_second`, at most `max_in_flight` at once) and keeps the counters
//! Microsoft's Stress and Performance Tool (LyncPerfTool) reports per process: active endpoints, logon attempts,
//! failed logons, endpoints disconnected, and per operation the count of each response code
//! (`protocol/FIELD-NOTES.md` §2.1). Those counters live in [`FleetCounters`]; a client built with
//! [`crate::ClientBuilder::meter`] adds to them whether or not a fleet signs it in.
//!
//! The default pace is the stress tool's: its documentation recommends at most 2 sign-ins per second per
//! instance and warns that a pool peaks at about 12 per second, so a load test pointed at a real pool by
//! mistake does not flood it. Against the lab pool, or to measure the client, pass `None`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::events::Event;
use crate::{Client, ClientBuilder, ClientError, SharedResources, SignInReport};

/// How a [`Fleet`] paces sign-ins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FleetOptions {
    /// Sign-ins started per second at most (`None`: as fast as `max_in_flight` allows). Default 2, the stress
    /// tool's recommendation per instance.
    pub sign_ins_per_second: Option<f64>,
    /// Sign-ins running at once at most (at least 1). Default 32.
    pub max_in_flight: usize,
    /// Events each endpoint keeps for a reader that is behind, unless its builder says otherwise
    /// ([`ClientBuilder::event_buffer`]). Default [`FLEET_EVENT_BUFFER`]: a fleet is watched through its counters,
    /// and 18,000 endpoints keeping a single client's 4,096 unread presence events each would hold gigabytes.
    pub event_buffer: usize,
}

/// The events a fleet's endpoint keeps for a reader that is behind, by default.
pub const FLEET_EVENT_BUFFER: usize = 16;

impl Default for FleetOptions {
    fn default() -> FleetOptions {
        FleetOptions { sign_ins_per_second: Some(2.0), max_in_flight: 32, event_buffer: FLEET_EVENT_BUFFER }
    }
}

/// Distinct operations counted at most; responses to any further ones (a server inventing URL paths) are
/// counted under [`OTHER_OPERATION`], so the counters stay bounded whatever a server sends.
pub const MAX_OPERATIONS: usize = 64;
/// Where responses to operations beyond [`MAX_OPERATIONS`] are counted.
pub const OTHER_OPERATION: &str = "other";

/// The counters of every client metered into them (see the module docs). Cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct FleetCounters {
    logon_attempts: AtomicU64,
    logon_failures: AtomicU64,
    disconnects: AtomicU64,
    deregistrations: AtomicU64,
    reconnects: AtomicU64,
    /// Operation → response code → count.
    responses: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
}

impl FleetCounters {
    pub fn new() -> Arc<FleetCounters> {
        Arc::new(FleetCounters::default())
    }

    /// A sign-in began; `failed` when its report says it did not sign in.
    pub(crate) fn logon(&self, report: &SignInReport) {
        self.logon_attempts.fetch_add(1, Ordering::Relaxed);
        if !report.is_success() {
            self.logon_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An event of a signed-in endpoint: connection losses, deregistrations and restored connections count.
    pub(crate) fn event(&self, event: &Event) {
        let counter = match event {
            Event::ConnectionLost { .. } => &self.disconnects,
            Event::Deregistered { .. } => &self.deregistrations,
            Event::ConnectionRestored { .. } => &self.reconnects,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A SIP response received: counted under its CSeq method (`REGISTER`, `SUBSCRIBE`, `SERVICE`...).
    pub(crate) fn sip_response(&self, message: &crate::sip::Message) {
        let (Some(code), Ok(cseq)) = (message.status(), message.cseq()) else { return };
        self.response(cseq.method.as_str(), code);
    }

    /// An HTTP response received: counted under `HTTP <method> <path>` (lower case, no query).
    pub(crate) fn http_response(&self, method: &str, path_and_query: &str, status: u16) {
        let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
        let mut operation = format!("HTTP {method} {}", path.to_ascii_lowercase());
        operation.truncate(120);
        self.response(&operation, status);
    }

    fn response(&self, operation: &str, code: u16) {
        let mut responses = self.responses.lock().unwrap_or_else(|p| p.into_inner());
        let key = if responses.contains_key(operation) || responses.len() < MAX_OPERATIONS {
            operation
        } else {
            OTHER_OPERATION
        };
        match responses.get_mut(key) {
            Some(codes) => *codes.entry(code).or_default() += 1,
            None => {
                responses.insert(key.to_string(), BTreeMap::from([(code, 1)]));
            }
        }
    }

    /// The counters now; `active_endpoints` and `endpoints` are the caller's to fill (a [`Fleet`] does).
    pub fn snapshot(&self) -> FleetStats {
        FleetStats {
            endpoints: 0,
            active_endpoints: 0,
            logon_attempts: self.logon_attempts.load(Ordering::Relaxed),
            logon_failures: self.logon_failures.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
            deregistrations: self.deregistrations.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            responses: self.responses.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }
}

/// A fleet's counters at one moment, named as the stress tool names them where it has a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FleetStats {
    /// Endpoints in the fleet.
    pub endpoints: u64,
    /// Endpoints signed in now ("Active Endpoints").
    pub active_endpoints: u64,
    /// Sign-ins started ("Logon Attempts").
    pub logon_attempts: u64,
    /// Sign-ins that failed ("Failed Logons").
    pub logon_failures: u64,
    /// Connections to a registrar lost while signed in ("Endpoints Disconnected").
    pub disconnects: u64,
    /// Registrations the registrar ended (a deregistration NOTIFY).
    pub deregistrations: u64,
    /// Endpoints signed in again after a loss.
    pub reconnects: u64,
    /// Per operation (a SIP method, or `HTTP <method> <path>`), the count of each response code received.
    pub responses: BTreeMap<String, BTreeMap<u16, u64>>,
}

impl FleetStats {
    /// All responses counted with this code, over every operation.
    pub fn responses_with(&self, code: u16) -> u64 {
        self.responses.values().filter_map(|codes| codes.get(&code)).sum()
    }
}

/// When each sign-in may start: at most `per_second` starts per second, in the order asked (sans-I/O: the
/// caller gives the time and waits).
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next: Option<Instant>,
}

impl Pacer {
    /// `None`, zero, negative or non-finite: no pacing.
    pub fn new(per_second: Option<f64>) -> Pacer {
        let interval = per_second.filter(|r| r.is_finite() && *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        Pacer { interval, next: None }
    }

    /// The time the next sign-in may start, asked at `now`; the one after it may start an interval later.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let Some(interval) = self.interval else { return now };
        let slot = self.next.map_or(now, |next| next.max(now));
        self.next = Some(slot + interval);
        slot
    }
}

struct FleetInner {
    shared: Arc<SharedResources>,
    counters: Arc<FleetCounters>,
    pacer: Mutex<Pacer>,
    in_flight: tokio::sync::Semaphore,
    max_in_flight: usize,
    event_buffer: usize,
    endpoints: Mutex<Vec<Arc<Client>>>,
    /// One DNS resolver per set of DNS servers (empty: the system's), shared by the fleet's clients: one cache
    /// for the whole fleet, and the resolver's own memory (hickory preallocates its cache, about 27 KiB,
    /// measured with heaptrack) once instead of once per endpoint.
    resolvers: Mutex<Vec<SharedResolver>>,
}

/// A fleet's resolver and the DNS servers it asks (empty: the system's).
type SharedResolver = (Vec<std::net::SocketAddr>, Arc<dyn crate::discovery::DnsResolver>);

/// Many endpoints, paced and counted (see the module docs). Cloning gives another handle to the same fleet.
#[derive(Clone)]
pub struct Fleet(Arc<FleetInner>);

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("endpoints", &self.len()).finish_non_exhaustive()
    }
}

impl Default for Fleet {
    fn default() -> Fleet {
        Fleet::new(FleetOptions::default())
    }
}

impl Fleet {
    pub fn new(options: FleetOptions) -> Fleet {
        let max_in_flight = options.max_in_flight.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Fleet(Arc::new(FleetInner {
            shared: SharedResources::new(),
            counters: FleetCounters::new(),
            pacer: Mutex::new(Pacer::new(options.sign_ins_per_second)),
            in_flight: tokio::sync::Semaphore::new(max_in_flight),
            max_in_flight,
            event_buffer: options.event_buffer,
            endpoints: Mutex::new(Vec::new()),
            resolvers: Mutex::new(Vec::new()),
        }))
    }

    /// What the fleet's clients share.
    pub fn shared(&self) -> &Arc<SharedResources> {
        &self.0.shared
    }

    /// The fleet's counters (also those of any client built with [`ClientBuilder::meter`] and them).
    pub fn counters(&self) -> &Arc<FleetCounters> {
        &self.0.counters
    }

    /// Builds a client from `builder` with the fleet's shared resources, counters and DNS resolver (unless the
    /// builder has a resolver of its own), and keeps it. The fleet's clients should run on one tokio runtime, as
    /// the resolver's connections belong to the runtime that made them.
    pub fn add(&self, builder: ClientBuilder) -> Result<Arc<Client>, ClientError> {
        let mut builder = match builder.resolver.is_some() {
            true => builder,
            false => {
                let resolver = self.resolver_for(&builder.dns_servers)?;
                builder.resolver(resolver)
            }
        };
        builder.event_buffer = builder.event_buffer.or(Some(self.0.event_buffer));
        let client = Arc::new(builder.shared(self.0.shared.clone()).meter(self.0.counters.clone()).build()?);
        self.endpoints().push(client.clone());
        Ok(client)
    }

    /// The resolver for `servers`, built on first use.
    fn resolver_for(
        &self,
        servers: &[std::net::SocketAddr],
    ) -> Result<Arc<dyn crate::discovery::DnsResolver>, ClientError> {
        let mut resolvers = self.0.resolvers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, r)) = resolvers.iter().find(|(s, _)| s.as_slice() == servers) {
            return Ok(r.clone());
        }
        let resolver = crate::client::resolver_for(servers)?;
        resolvers.push((servers.to_vec(), resolver.clone()));
        Ok(resolver)
    }

    /// The fleet's endpoints, in the order added.
    pub fn endpoints_now(&self) -> Vec<Arc<Client>> {
        self.endpoints().clone()
    }

    pub fn len(&self) -> usize {
        self.endpoints().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Signs `client` in when the pacer lets it (at most `max_in_flight` at once, at most
    /// `sign_ins_per_second`), and counts the attempt. Any client may be passed; the fleet's are metered
    /// already, others are counted here.
    pub async fn sign_in(&self, client: &Client) -> SignInReport {
        let slot = self.0.pacer.lock().unwrap_or_else(|p| p.into_inner()).reserve(Instant::now());
        tokio::time::sleep_until(slot.into()).await;
        // The semaphore is never closed, so acquiring only fails if it were.
        let _permit = self.0.in_flight.acquire().await;
        let report = client.sign_in().await;
        if !client.is_metered_into(&self.0.counters) {
            self.0.counters.logon(&report);
        }
        report
    }

    /// Signs in every endpoint not signed in, paced as [`Fleet::sign_in`] (on the current tokio runtime);
    /// returns how many are signed in when all have finished. Each failure is counted, not returned: read
    /// [`Fleet::stats`], or sign a client in with [`Fleet::sign_in`] for its report.
    pub async fn sign_in_all(&self) -> usize {
        let waiting: Vec<_> = self.endpoints_now().into_iter().filter(|c| !c.is_signed_in()).collect();
        let mut tasks = tokio::task::JoinSet::new();
        for client in waiting {
            let fleet = self.clone();
            tasks.spawn(async move {
                fleet.sign_in(&client).await;
            });
        }
        while tasks.join_next().await.is_some() {}
        self.active()
    }

    /// Signs every endpoint out, `max_in_flight` at a time.
    pub async fn sign_out_all(&self) {
        let endpoints = self.endpoints_now();
        for chunk in endpoints.chunks(self.0.max_in_flight) {
            let mut tasks = tokio::task::JoinSet::new();
            for client in chunk {
                let client = client.clone();
                tasks.spawn(async move {
                    let _ = client.sign_out().await;
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Endpoints signed in now.
    pub fn active(&self) -> usize {
        self.endpoints().iter().filter(|c| c.is_signed_in()).count()
    }

    /// The counters now, with the endpoint counts.
    pub fn stats(&self) -> FleetStats {
        let mut stats = self.0.counters.snapshot();
        stats.endpoints = self.len() as u64;
        stats.active_endpoints = self.active() as u64;
        stats
    }

    fn endpoints(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Client>>> {
        self.0.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spaces_starts_and_never_schedules_in_the_past() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(4.0));
        let slots: Vec<_> = (0..3).map(|_| pacer.reserve(t0)).collect();
        assert_eq!(slots, [t0, t0 + Duration::from_millis(250), t0 + Duration::from_millis(500)]);
        // Asked long after the last slot: now, not a slot in the past.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.reserve(later), later);
        assert_eq!(pacer.reserve(later), later + Duration::from_millis(250));
        for unpaced in [None, Some(0.0), Some(-1.0), Some(f64::NAN), Some(f64::INFINITY)] {
            let mut pacer = Pacer::new(unpaced);
            assert_eq!((pacer.reserve(t0), pacer.reserve(t0)), (t0, t0), "{unpaced:?}");
        }
    }

    #[test]
    fn responses_are_counted_by_operation_and_code_and_stay_bounded() {
        let counters = FleetCounters::default();
        let ok = crate::sip::parse_message(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
              To: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 7 SUBSCRIBE\r\nContent-Length: 0\r\n\r\n",
            &crate::sip::Limits::default(),
        )
        .unwrap()
        .message;
        counters.sip_response(&ok);
        counters.sip_response(&ok);
        counters.http_response("GET", "/Autodiscover/AutodiscoverService.svc/root?originalDomain=contoso.lab", 200);
        counters.http_response("POST", "/WebTicket/WebTicketService.svc", 401);
        let stats = counters.snapshot();
        assert_eq!(stats.responses["SUBSCRIBE"][&200], 2);
        assert_eq!(stats.responses["HTTP GET /autodiscover/autodiscoverservice.svc/root"][&200], 1);
        assert_eq!(stats.responses["HTTP POST /webticket/webticketservice.svc"][&401], 1);
        assert_eq!(stats.responses_with(200), 3);
        for i in 0..1000 {
            counters.http_response("GET", &format!("/invented/{i}"), 404);
        }
        let stats = counters.snapshot();
        assert_eq!(stats.responses.len(), MAX_OPERATIONS + 1, "{:?}", stats.responses.keys());
        assert_eq!(stats.responses[OTHER_OPERATION][&404], 1000 - (MAX_OPERATIONS as u64 - 3));
        assert_eq!(stats.responses_with(404), 1000);
    }

    #[test]
    fn events_count_disconnects_deregistrations_and_reconnects() {
        let counters = FleetCounters::default();
        counters.event(&Event::ConnectionLost { error: "reset".into() });
        counters.event(&Event::ConnectionRestored { attempts: 1, downtime_ms: 5 });
        counters.event(&Event::RegistrationRefreshed { expires_s: 600 });
        let stats = counters.snapshot();
        assert_eq!((stats.disconnects, stats.reconnects, stats.deregistrations), (1, 1, 0));
    }
}
