//! The tokio side of a signed-in endpoint: one task per client that moves bytes between the TLS
//! connection and the sans-I/O [`Endpoint`], runs its timers, takes the application's commands,
//! publishes its events, and after a lost connection signs in again with capped exponential
//! backoff and jitter, carrying the endpoint's durable state over so nothing published and no
//! pending contact change is lost.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::contacts::ContactList;
use crate::dialplan::LocationProfile;
use crate::endpoint::{
    Closed, Command, CommandError, CommandId, CommandOutput, Endpoint, EndpointConfig, EndpointState,
};
use crate::events::{Event, EventHub};
use crate::presence::ContactPresence;
use crate::provisioning::Provisioning;
use crate::registration::Registration;
use crate::report::SignInReport;
use crate::session::SipSession;
use crate::signin::Inner;
use crate::sip::StreamParser;

/// How the client retries after a lost connection: the delay starts at `initial`, doubles per
/// failed attempt up to `max`, and each delay is randomised by ±`jitter` (a fraction) so a pool
/// that restarts is not hit by every client at the same instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    pub initial: Duration,
    pub max: Duration,
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy { initial: Duration::from_secs(1), max: Duration::from_secs(60), jitter: 0.2 }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt` (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `attempt`, jittered; never above `max` × (1 + jitter).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.base_delay(attempt).as_secs_f64();
        let jitter = self.jitter.clamp(0.0, 1.0);
        let r: f64 = rand::random::<f64>() * 2.0 - 1.0;
        Duration::from_secs_f64((base * (1.0 + jitter * r)).max(0.0))
    }
}

/// What the application can read without waiting: the endpoint's current view.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub signed_in: bool,
    pub registration: Option<Registration>,
    pub contacts: Arc<ContactList>,
    pub presence: Arc<BTreeMap<String, ContactPresence>>,
    pub provisioning: Option<Arc<Provisioning>>,
    pub self_data: Option<Arc<crate::presence::SelfData>>,
    pub location_profile: Option<Arc<LocationProfile>>,
    pub bad_signatures: u64,
    pub reconnects: u64,
}

/// One command on its way to the endpoint, with where its completion goes.
pub(crate) struct Request {
    pub command: Command,
    pub done: oneshot::Sender<Result<CommandOutput, CommandError>>,
}

/// A freshly registered connection, as sign-in leaves it.
pub(crate) struct Registered {
    pub session: SipSession,
    pub registration: Registration,
    pub registrar: String,
}

/// The running driver of one client.
pub(crate) struct Driver {
    /// Boxed: tokio's channel allocates its slots 32 at a time and keeps them, so every endpoint that was sent
    /// one command holds 32 of them (2.8 KiB unboxed, measured with heaptrack; 256 bytes boxed).
    pub requests: mpsc::Sender<Box<Request>>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the driver for a client that just signed in.
pub(crate) fn spawn(
    inner: Arc<Inner>,
    first: Registered,
    policy: ReconnectPolicy,
    events: Arc<EventHub>,
    snapshot: Arc<StdMutex<Snapshot>>,
) -> Driver {
    // Signed in from now on, before the driver's first turn, so a caller that asks at once is not
    // told otherwise.
    if let Ok(mut snap) = snapshot.lock() {
        snap.signed_in = true;
        snap.registration = Some(first.registration.clone());
    }
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(run(inner, Box::new(first), policy, events, snapshot, rx));
    Driver { requests: tx, task }
}

struct Ctx {
    inner: Arc<Inner>,
    events: Arc<EventHub>,
    snapshot: Arc<StdMutex<Snapshot>>,
    requests: mpsc::Receiver<Box<Request>>,
    waiting: HashMap<CommandId, oneshot::Sender<Result<CommandOutput, CommandError>>>,
    next_id: CommandId,
    /// The application asked to sign out (or dropped the client) while no connection was up.
    stop: bool,
}

async fn run(
    inner: Arc<Inner>,
    first: Box<Registered>,
    policy: ReconnectPolicy,
    events: Arc<EventHub>,
    snapshot: Arc<StdMutex<Snapshot>>,
    requests: mpsc::Receiver<Box<Request>>,
) {
    // The TLS-DSK certificate is renewed in the background while the endpoint lives (signin::renewal).
    let _renewal = AbortOnDrop(tokio::spawn(inner.clone().keep_certificate_fresh(events.clone())));
    let mut ctx = Ctx { inner, events, snapshot, requests, waiting: HashMap::new(), next_id: 1, stop: false };
    let mut state = EndpointState::default();
    let mut next = Some(first);
    loop {
        let registered = match next.take() {
            Some(r) => r,
            // Boxed: a reconnect runs a whole sign-in, and an idle endpoint's future should not carry room for one.
            None => match Box::pin(reconnect(&mut ctx, &policy, &mut state)).await {
                Some(r) => r,
                None => break,
            },
        };
        let (closed, s) = connection(&mut ctx, registered, state).await;
        state = s;
        match closed {
            Closed::SignedOut => break,
            Closed::Deregistered(reason) if !reason.reconnects() => break,
            Closed::Deregistered(_) => {}
            Closed::ConnectionDead(error) => {
                ctx.events.send(Event::ConnectionLost { error });
            }
            Closed::RefreshRefused { code, diagnostics } => {
                let error = format!(
                    "the registrar refused a registration refresh ({code}{}); signing in again",
                    diagnostics.map(|d| format!(", ms-diagnostics {d}")).unwrap_or_default()
                );
                ctx.events.send(Event::ConnectionLost { error });
            }
        }
        if ctx.stop {
            break;
        }
    }
    if let Ok(mut snap) = ctx.snapshot.lock() {
        snap.signed_in = false;
    }
    for (_, done) in ctx.waiting.drain() {
        let _ = done.send(Err(CommandError::NotSignedIn));
    }
    // Commands that arrived after the end.
    ctx.requests.close();
    while let Ok(req) = ctx.requests.try_recv() {
        let _ = req.done.send(Err(CommandError::NotSignedIn));
    }
}

/// Aborts a background task when the driver ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Failure classes where signing in again cannot help (FIELD-NOTES §2.2 / issue 4's typed errors).
fn fatal(class: &str) -> bool {
    matches!(
        class,
        "disabled-user"
            | "unknown-user"
            | "wrong-credentials"
            | "org-id-refused"
            | "credentials-withheld"
            | "untrusted-server"
            | "authentication-required"
    )
}

/// Signs in again until it works, the failure is one retrying cannot fix, or the application
/// signs out. Commands that arrive meanwhile are queued (contact changes) or refused.
async fn reconnect(ctx: &mut Ctx, policy: &ReconnectPolicy, state: &mut EndpointState) -> Option<Box<Registered>> {
    let lost_at = Instant::now();
    let mut last_error: Option<String> = None;
    for attempt in 1u32.. {
        let delay = policy.delay(attempt);
        ctx.events.send(Event::Reconnecting {
            attempt,
            delay_ms: delay.as_millis() as u64,
            last_error: last_error.clone(),
        });
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                req = ctx.requests.recv() => match req {
                    Some(req) => {
                        if queue_offline(ctx, state, *req) {
                            return None;
                        }
                    }
                    None => return None,
                },
            }
        }
        let mut report = SignInReport::new(ctx.inner.aor.as_str(), &ctx.inner.domain);
        match ctx.inner.run_stages(&mut report).await {
            Some(session) => {
                if let Ok(mut snap) = ctx.snapshot.lock() {
                    snap.reconnects += 1;
                    // Registered again: is_signed_in says so from the event on, not from the next one.
                    snap.signed_in = true;
                }
                ctx.events.send(Event::ConnectionRestored {
                    attempts: attempt,
                    downtime_ms: lost_at.elapsed().as_millis() as u64,
                });
                let registration = report.registration.clone()?;
                return Some(Box::new(Registered { session, registration, registrar: report.target.clone() }));
            }
            None => {
                let class = report.error_class().unwrap_or("unknown").to_string();
                let error = report.error.clone().unwrap_or_else(|| "sign-in failed".into());
                let hint = report.hint.clone().unwrap_or_default();
                if fatal(&class) {
                    ctx.events.send(Event::SignInFailed { class, error, hint });
                    return None;
                }
                last_error = Some(error);
            }
        }
    }
    None
}

/// A command while disconnected: contact changes wait for the next connection, sign-out ends the
/// driver, the rest fail at once. Returns whether to stop.
fn queue_offline(ctx: &mut Ctx, state: &mut EndpointState, req: Request) -> bool {
    let id = ctx.next_id;
    ctx.next_id += 1;
    let Request { command, done } = req;
    match command {
        Command::SignOut => {
            let _ = done.send(Ok(CommandOutput::Done));
            ctx.events.send(Event::SignedOut);
            ctx.stop = true;
            true
        }
        c if c.is_contact_change() => {
            state.queued.push((id, c));
            ctx.waiting.insert(id, done);
            false
        }
        Command::SetPresence { availability, activity } => {
            // Remembered, and published when the connection is back.
            state.desired.availability = Some(availability);
            state.desired.activity = activity;
            let _ = done.send(Ok(CommandOutput::Done));
            false
        }
        Command::SetNote { text } => {
            state.desired.note = text.filter(|t| !t.trim().is_empty());
            let _ = done.send(Ok(CommandOutput::Done));
            false
        }
        _ => {
            let _ = done.send(Err(CommandError::NotSignedIn));
            false
        }
    }
}

/// What a connection's loop works with. Built by [`Live::new`], a plain function, so that the connection's future
/// (which an idle endpoint is, most of its memory) holds each value once rather than also the session it came from.
struct Live {
    ep: Endpoint,
    reader: crate::transport::TlsReader,
    writer: crate::transport::TlsWriter,
    parser: StreamParser,
    tap: crate::trace::Tap,
    host: String,
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
}

impl Live {
    fn new(ctx: &Ctx, registered: Registered, state: EndpointState) -> Live {
        let Registered { session, registration, registrar } = registered;
        let SipSession { conn, factory, sa, parser, tap, host, .. } = session;
        let local = conn.local_addr();
        let remote = conn.peer_addr();
        let sent_by = match local.ip() {
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{}", local.port()),
            std::net::IpAddr::V4(ip) => format!("{ip}:{}", local.port()),
        };
        let cfg = EndpointConfig {
            aor: ctx.inner.aor.clone(),
            epid: ctx.inner.epid.clone(),
            sent_by,
            register_params: ctx.inner.register_params(local, None),
            registration,
            registrar,
            shared: ctx.inner.config.shared.clone(),
        };
        let ep = Endpoint::new(cfg, factory, sa, state, Instant::now());
        let (reader, writer) = conn.into_split();
        Live { ep, reader, writer, parser, tap, host, local, remote }
    }
}

/// Runs one registered connection until the endpoint closes; returns why and the durable state.
async fn connection(ctx: &mut Ctx, registered: Box<Registered>, state: EndpointState) -> (Closed, EndpointState) {
    let Live { mut ep, mut reader, mut writer, mut parser, tap, host, local, remote } =
        Live::new(ctx, *registered, state);
    let trace = |direction, bytes: &[u8]| tap.sip(direction, local, remote, &host, bytes);
    // Received messages are serialized again only when someone traces them.
    let received: Trace<'_> = tap.is_on().then_some(&trace);
    // An idle endpoint waits for the server with this small buffer only (the driver's future is all an idle
    // endpoint holds); what has arrived beyond it is drained without waiting by `read_arrived`.
    let mut first = [0u8; FIRST_READ];
    // Bytes the sign-in already read past the 200 OK.
    drain_parser(&mut parser, &mut ep, &tap, received);
    loop {
        while let Some(bytes) = ep.poll_transmit() {
            trace(crate::trace::Direction::Sent, &bytes);
            if let Err(e) = writer.send(&bytes).await {
                ep.connection_lost(e.to_string());
                break;
            }
        }
        publish(ctx, &mut ep);
        if ep.closed().is_some() {
            break;
        }
        let deadline = ep.poll_timeout().unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            read = reader.recv(&mut first) => match read {
                Ok(0) => ep.connection_lost("the server closed the connection".into()),
                Ok(n) => {
                    let mut feed = |bytes: &[u8]| match parser.push(bytes) {
                        Ok(()) => drain_parser(&mut parser, &mut ep, &tap, received),
                        Err(e) => ep.connection_lost(format!("the server's byte stream could not be parsed: {e}")),
                    };
                    feed(&first[..n]);
                    if n == FIRST_READ
                        && let Err(lost) = read_arrived(&mut reader, feed)
                    {
                        ep.connection_lost(lost);
                    }
                }
                Err(e) => ep.connection_lost(e.to_string()),
            },
            req = ctx.requests.recv() => {
                let (command, done) = match req {
                    Some(r) => (r.command, Some(r.done)),
                    // The client was dropped: sign out cleanly.
                    None => (Command::SignOut, None),
                };
                let id = ctx.next_id;
                ctx.next_id += 1;
                if let Some(done) = done {
                    ctx.waiting.insert(id, done);
                }
                ep.command(id, command, Instant::now());
            }
            _ = tokio::time::sleep_until(deadline.into()) => ep.handle_timeout(Instant::now()),
        }
    }
    drop(reader);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer.close()).await;
    let closed = ep.closed().cloned().unwrap_or(Closed::ConnectionDead("stopped".into()));
    publish(ctx, &mut ep);
    (closed, ep.into_state())
}

/// The buffer an idle connection waits with.
const FIRST_READ: usize = 512;

/// The buffer the rest of what has arrived is read with; it lives only while reading.
const DRAIN_READ: usize = 16 * 1024;

/// Reads drained per wake-up at most (128 KiB), so a server that keeps sending cannot keep the driver from its
/// writes, commands and timers, nor pile up answers it has not written yet; the rest is read on the next turn.
const DRAIN_READS: usize = 8;

/// Reads what else has already arrived on `reader` (up to [`DRAIN_READS`] reads) and hands it to `feed`, a chunk
/// at a time (each read is polled once and never waits: the reader is cancel-safe, so a read that would wait is
/// dropped harmlessly; what is left is read on the driver's next turn).
/// Fails with why when the connection ended or failed meanwhile, after what came before was fed.
fn read_arrived(reader: &mut crate::transport::TlsReader, feed: impl FnMut(&[u8])) -> Result<(), String> {
    read_arrived_in(reader, &mut vec![0u8; DRAIN_READ], DRAIN_READS, feed)
}

/// [`read_arrived`] with `buf` for each read and at most `reads` of them.
fn read_arrived_in(
    reader: &mut crate::transport::TlsReader,
    buf: &mut [u8],
    reads: usize,
    mut feed: impl FnMut(&[u8]),
) -> Result<(), String> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..reads {
        let polled = std::pin::pin!(reader.recv(buf)).poll(&mut cx);
        match polled {
            std::task::Poll::Pending => return Ok(()),
            std::task::Poll::Ready(Ok(0)) => return Err("the server closed the connection".into()),
            std::task::Poll::Ready(Ok(n)) => feed(&buf[..n]),
            std::task::Poll::Ready(Err(e)) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// Received messages serialized again only when `trace` (someone traces them) is there.
type Trace<'a> = Option<&'a (dyn Fn(crate::trace::Direction, &[u8]) + Sync)>;

fn drain_parser(parser: &mut StreamParser, ep: &mut Endpoint, tap: &crate::trace::Tap, trace: Trace<'_>) {
    loop {
        match parser.next_item() {
            Ok(Some(item)) => {
                if let Some(m) = item.message() {
                    tap.sip_received(m);
                    if let Some(trace) = trace {
                        trace(crate::trace::Direction::Received, &m.to_bytes());
                    }
                }
                ep.handle_item(item, Instant::now())
            }
            Ok(None) => break,
            Err(e) => {
                ep.connection_lost(format!("the server's byte stream could not be parsed: {e}"));
                break;
            }
        }
    }
}

/// Hands events and completions to the application, after refreshing the snapshot, so an
/// application that reads the contact list on an event sees the list that event describes.
fn publish(ctx: &mut Ctx, ep: &mut Endpoint) {
    let events: Vec<Event> = std::iter::from_fn(|| ep.poll_event()).collect();
    if (!events.is_empty() || ep.closed().is_some())
        && let Ok(mut snap) = ctx.snapshot.lock()
    {
        snap.signed_in = ep.closed().is_none();
        snap.registration = Some(ep.registration().clone());
        snap.contacts = ep.state.contacts.clone();
        snap.presence = ep.state.presence.clone();
        snap.provisioning = ep.state.provisioning.clone();
        snap.self_data = ep.state.self_data.clone();
        snap.location_profile = ep.state.location_profile.clone();
        snap.bad_signatures = ep.bad_signatures;
    }
    for event in events {
        // No receiver is not an error: the application may not listen.
        ctx.events.send(event);
    }
    while let Some((id, result)) = ep.poll_completion() {
        if let Some(done) = ctx.waiting.remove(&id) {
            let _ = done.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    /// The size of what `f` returns: for an async fn, its future.
    fn future_size<A, B, C, D, E, F, R>(_: fn(A, B, C, D, E, F) -> R) -> usize {
        std::mem::size_of::<R>()
    }

    /// An idle endpoint is its driver's future, kept for as long as it is signed in: 14.8 KiB before the
    /// reconnect (a whole sign-in) was boxed and the session was taken apart outside it, 4.0 KiB after (rustc 1.95,
    /// release and debug alike). A future that grows past 8 KiB again has inlined something rare.
    /// A server that has sent more than one wake-up may drain: a wake-up takes at most so many reads of what has
    /// arrived, leaves the rest for the next turn, and loses nothing. Run with 1 KiB reads: this machine's socket
    /// buffer holds less than the driver's 8 reads of 16 KiB, which would leave the cap untried.
    #[tokio::test]
    async fn a_wake_up_drains_at_most_its_reads_and_the_next_turn_takes_the_rest() {
        use tokio::io::AsyncWriteExt;

        use crate::transport::test_pki::{TestCa, listener};
        use crate::transport::{TlsConnector, TrustConfig};

        const SENT: usize = 64 * 1024;
        const READ: usize = 1024;
        let pattern = || (0..SENT).map(|i| (i % 251) as u8);
        let ca = TestCa::new("lab root");
        let (tcp, addr) = listener().await;
        let config = ca.valid_config(&["sip.contoso.lab"]);
        let bytes: Vec<u8> = pattern().collect();
        let server = tokio::spawn(async move {
            let (tcp, _) = tcp.accept().await?;
            let mut tls = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await?;
            tls.write_all(&bytes).await?;
            tls.flush().await?;
            Ok::<_, std::io::Error>(tls)
        });
        let trust = TrustConfig::empty().with_extra_ca_pem(ca.pem());
        let conn = TlsConnector::new(&trust)
            .unwrap()
            .connect_addr(addr, "sip.contoso.lab", std::time::Duration::from_secs(5))
            .await
            .unwrap();
        let (mut reader, _writer) = conn.into_split();
        let _server = server.await.unwrap().unwrap();

        // Between wake-ups the kernel delivers more (the driver would wait for it on its small first read).
        let mut got = Vec::new();
        let mut reads_per_turn = Vec::new();
        let mut buf = [0u8; READ];
        while got.len() < SENT && reads_per_turn.len() < 1000 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let mut reads = 0;
            super::read_arrived_in(&mut reader, &mut buf, super::DRAIN_READS, |chunk| {
                got.extend_from_slice(chunk);
                reads += 1;
            })
            .unwrap();
            reads_per_turn.push(reads);
        }
        assert!(reads_per_turn.iter().all(|&reads| reads <= super::DRAIN_READS), "{reads_per_turn:?}");
        assert!(reads_per_turn[0] == super::DRAIN_READS, "the first wake-up stopped short: {reads_per_turn:?}");
        assert!(got.iter().copied().eq(pattern()), "bytes lost or reordered: {} of {SENT} read", got.len());
    }

    #[test]
    fn the_driver_future_an_idle_endpoint_holds_stays_small() {
        let size = future_size(super::run as fn(_, _, _, _, _, _) -> _);
        assert!(size <= 8 * 1024, "the driver's future is {size} bytes");
    }
}
