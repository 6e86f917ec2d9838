//! The signed-in endpoint, sans-I/O: what a registered Lync client does on its connection until it
//! signs out ([MS-SIPREGE], [MS-SIP], [MS-PRES]; CLIENT-NOTES.md §4, §7–§9).
//!
//! After REGISTER succeeds the endpoint
//! - asks for in-band provisioning (one-shot `vnd-microsoft-provisioning-v2`) and then the location
//!   profile its dial plan comes from;
//! - subscribes to its contact list (`vnd-microsoft-roaming-contacts`) and its own data
//!   (`vnd-microsoft-roaming-self`), then to the presence of every contact in one batched
//!   subscription;
//! - publishes its presence once it knows the versions of its publications (from roaming-self),
//!   resolving version conflicts (409) by adopting the server's versions and publishing again;
//! - refreshes the registration before it expires and every subscription before it lapses, and
//!   sends CRLF keep-alives within the registrar's `ms-keep-alive` timeout;
//! - verifies every message from the server against the security association and signs every
//!   message it sends ([MS-SIPAE] 3.2.5);
//! - obeys deregistration NOTIFYs per reason.
//!
//! Like `quinn-proto`, [`Endpoint`] takes stream items, commands and time and hands back bytes to
//! send ([`Endpoint::poll_transmit`]), when to wake it ([`Endpoint::poll_timeout`]), events for the
//! application and command completions. `crate::driver` moves the bytes; tests drive it directly.

mod commands;
mod content;
mod dialog;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub use commands::{Command, CommandError, CommandOutput};
pub use state::DesiredPresence;
pub(crate) use state::EndpointState;

use crate::auth::sa::SecurityAssociation;
use crate::events::{DeregistrationReason, Event};
use crate::identity::Epid;
use crate::registration::{self, RegisterParams, Registration};
use crate::sip::transaction::{ClientTransactions, RequestFactory, ResponseRoute, TransactionEvent, TransactionKey};
use crate::sip::{Diagnostics, Message, Method, StreamItem, Uri};
use dialog::Dialog;

/// Identifies one application command until its completion comes back.
pub type CommandId = u64;

/// How long a keep-alive ping may go unanswered before the connection counts as dead.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after an unanswered SUBSCRIBE it is sent again.
pub const SUBSCRIBE_RETRY: Duration = Duration::from_secs(60);
/// How long sign-out waits for the server to confirm unpublish, unsubscribe and unregister.
pub const SIGN_OUT_GRACE: Duration = Duration::from_secs(5);

/// What the endpoint needs from sign-in.
#[derive(Debug, Clone)]
pub(crate) struct EndpointConfig {
    pub aor: Uri,
    pub epid: Epid,
    /// `host:port` of our end of the connection (Via sent-by).
    pub sent_by: String,
    /// What the registrar granted.
    pub registration: Registration,
    /// REGISTER parameters, for refreshes and the final unregister.
    pub register_params: RegisterParams,
    /// The registrar's FQDN (for events and reports).
    pub registrar: String,
    /// What this endpoint shares with the other clients of the process (compiled dial plans).
    pub shared: std::sync::Arc<crate::SharedResources>,
}

/// Why the endpoint stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Closed {
    SignedOut,
    /// The registrar ended the registration ([`DeregistrationReason`]).
    Deregistered(DeregistrationReason),
    /// The connection stopped working (no pong, a REGISTER refresh timed out, a protocol error).
    ConnectionDead(String),
    /// A registration refresh was refused; a full sign-in may fix it (e.g. the SA expired: 401).
    RefreshRefused {
        code: u16,
        diagnostics: Option<u32>,
    },
}

/// A subscription this endpoint holds ([`SubKind`] names the event package).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SubKind {
    /// `vnd-microsoft-provisioning-v2`, one-shot (`Expires: 0`).
    Provisioning,
    /// `vnd-microsoft-roaming-contacts`.
    Contacts,
    /// `vnd-microsoft-roaming-self`.
    SelfData,
    /// `presence`, batched for every contact; `pool` is set for a resubscription through another
    /// pool (`poolFqdn` in rlmi, MS-PRES 3.4.5.1.3).
    Presence { pool: Option<String> },
    /// `presence` for one contact, subscribed at the contact itself (an rlmi `resubscribe` without
    /// `poolFqdn`, CLIENT-NOTES §9.4).
    PresenceOf { uri: String },
}

impl SubKind {
    /// The event package its SUBSCRIBE names (and the notifications of it carry in `Event`).
    pub(crate) fn event(&self) -> &'static str {
        match self {
            SubKind::Provisioning => crate::provisioning::EVENT,
            SubKind::Contacts => crate::contacts::EVENT,
            SubKind::SelfData => crate::presence::EVENT_ROAMING_SELF,
            SubKind::Presence { .. } | SubKind::PresenceOf { .. } => crate::presence::EVENT_PRESENCE,
        }
    }
}

#[derive(Debug)]
struct Subscription {
    kind: SubKind,
    dialog: Dialog,
    /// When to refresh it (RFC 6665: before `Expires`; SIPE refreshes 120 s early).
    refresh_at: Option<Instant>,
    /// The resources of a presence subscription (its body is rebuilt from them on refresh).
    resources: Vec<String>,
    confirmed: bool,
}

/// Why a request is outstanding: what to do with its final response.
#[derive(Debug)]
enum Pending {
    Register,
    Unregister,
    Subscribe {
        call_id: String,
    },
    Unsubscribe,
    Publish {
        attempt: u8,
        command: Option<CommandId>,
        what: commands::PublishWhat,
        publications: Vec<crate::presence::Publication>,
    },
    Contacts {
        command: CommandId,
        request: Command,
    },
    LocationProfile,
}

/// The signed-in endpoint (see the module docs).
pub(crate) struct Endpoint {
    cfg: EndpointConfig,
    /// Our Contact for subscriptions and SERVICE: the GRUU, else the connection address.
    contact: String,
    reg_factory: RequestFactory,
    sa: Option<SecurityAssociation>,
    transactions: ClientTransactions,
    pending: HashMap<TransactionKey, Pending>,
    subscriptions: Vec<Subscription>,
    /// Durable state: survives a reconnect (contacts, presence, what we publish, queued commands).
    pub(crate) state: EndpointState,
    refresh_at: Instant,
    keepalive_every: Duration,
    last_sent: Instant,
    pong_deadline: Option<Instant>,
    closing: Option<Instant>,
    closed: Option<Closed>,
    outbox: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    completions: VecDeque<(CommandId, Result<CommandOutput, CommandError>)>,
    /// Messages dropped because their signature was missing or wrong ([MS-SIPAE] 3.2.5.2).
    pub bad_signatures: u64,
    pub invalid_messages: u64,
    /// Whether the first roaming-self document (our publications' versions) has arrived.
    self_data_seen: bool,
    /// Whether a contact list arrived on this connection.
    contacts_seen: bool,
    /// The deltaNum the next contact change carries at least: changes sent before the server's
    /// contactDelta for the previous one count up from the list's (0: use the list's).
    next_delta_num: u32,
    next_presence_action: u32,
    /// The sign-out command, completed when sign-out ends, with the unregister's outcome.
    sign_out_cmd: Option<CommandId>,
    unregister: Option<Result<(), CommandError>>,
    /// A keep-alive command waiting for its pong, and when its ping went out.
    ping_cmd: Option<(CommandId, Instant)>,
}

/// When to refresh something that lasts `expires` seconds: 30 s early for a registration (SIPE),
/// never later than half its lifetime.
fn refresh_after(expires: u32, margin: u32) -> Duration {
    let secs = if expires > 2 * margin { expires - margin } else { expires / 2 };
    Duration::from_secs(u64::from(secs.max(1)))
}

impl Endpoint {
    /// The endpoint for a connection that just registered; queues the first subscriptions.
    pub fn new(
        cfg: EndpointConfig,
        reg_factory: RequestFactory,
        sa: Option<SecurityAssociation>,
        state: EndpointState,
        now: Instant,
    ) -> Endpoint {
        let contact = match &cfg.registration.gruu {
            Some(gruu) => format!("<{gruu}>"),
            None => format!("<sip:{};transport=tls>;proxy=replace", cfg.sent_by),
        };
        // [MS-CONMGMT] / CLIENT-NOTES §4.3: keep-alives within the ms-keep-alive timeout (60 s
        // until a server says otherwise); we ping at 90 % of it so a late timer is still in time.
        let timeout = cfg.registration.keep_alive_timeout.unwrap_or(60).max(2);
        let keepalive_every = Duration::from_secs(u64::from(timeout)) * 9 / 10;
        let refresh_at = now + refresh_after(cfg.registration.expires, 30);
        let mut ep = Endpoint {
            cfg,
            contact,
            reg_factory,
            sa,
            transactions: ClientTransactions::new(),
            pending: HashMap::new(),
            subscriptions: Vec::new(),
            state,
            refresh_at,
            keepalive_every,
            last_sent: now,
            pong_deadline: None,
            closing: None,
            closed: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            completions: VecDeque::new(),
            bad_signatures: 0,
            invalid_messages: 0,
            self_data_seen: false,
            contacts_seen: false,
            next_delta_num: 0,
            next_presence_action: 1,
            sign_out_cmd: None,
            unregister: None,
            ping_cmd: None,
        };
        ep.events.push_back(Event::Registered {
            registrar: ep.cfg.registrar.clone(),
            expires_s: ep.cfg.registration.expires,
        });
        ep.start(now);
        ep
    }

    /// The self subscriptions a Lync 2013 client opens after REGISTER, each only when the
    /// registrar's `Allow-Events` lists it (CLIENT-NOTES §7.1).
    fn start(&mut self, now: Instant) {
        let allow = self.cfg.registration.allow_events.clone();
        let offered = |e: &str| allow.is_empty() || allow.iter().any(|a| a.trim().eq_ignore_ascii_case(e));
        let wanted: Vec<SubKind> = [
            ("vnd-microsoft-provisioning-v2", SubKind::Provisioning),
            ("vnd-microsoft-roaming-contacts", SubKind::Contacts),
            ("vnd-microsoft-roaming-self", SubKind::SelfData),
        ]
        .into_iter()
        .filter(|(e, _)| offered(e))
        .map(|(_, k)| k)
        .collect();
        for kind in wanted {
            self.subscribe(kind, Vec::new(), now);
        }
        if !offered("vnd-microsoft-roaming-self") {
            // No roaming-self: versions start at 0 and conflicts are resolved by the 409 path.
            self.self_data_seen = true;
            self.publish_desired(None, now);
        }
    }

    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    pub fn registration(&self) -> &Registration {
        &self.cfg.registration
    }

    /// Bytes to write to the connection, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outbox.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub fn poll_completion(&mut self) -> Option<(CommandId, Result<CommandOutput, CommandError>)> {
        self.completions.pop_front()
    }

    /// The next instant [`Endpoint::handle_timeout`] must run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        // While signing out, handle_timeout runs only these: offering the refresh and keep-alive
        // timers too would have the driver wake for them again and again until the grace ends.
        if let Some(deadline) = self.closing {
            return [Some(deadline), self.pong_deadline, self.transactions.poll_timeout()].into_iter().flatten().min();
        }
        let mut next = vec![self.refresh_at];
        match self.pong_deadline {
            Some(d) => next.push(d),
            None => next.push(self.last_sent + self.keepalive_every),
        }
        next.extend(self.closing);
        next.extend(self.transactions.poll_timeout());
        next.extend(self.subscriptions.iter().filter_map(|s| s.refresh_at));
        next.into_iter().min()
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed.is_some() {
            return;
        }
        for (key, event) in self.transactions.handle_timeout(now) {
            if event == TransactionEvent::TimedOut
                && let Some(p) = self.pending.remove(&key)
            {
                self.on_timeout(p, now);
            }
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.close(Closed::ConnectionDead(format!("no answer to a keep-alive within {PONG_TIMEOUT:?}")));
            return;
        }
        if let Some(deadline) = self.closing {
            if now >= deadline || self.pending.is_empty() {
                self.finish_sign_out();
            }
            return;
        }
        if now >= self.refresh_at {
            self.refresh_registration(now);
        }
        if now >= self.last_sent + self.keepalive_every && self.pong_deadline.is_none() {
            // RFC 5626 §3.5.1 CRLF keep-alive; the registrar answers CRLF (a pong).
            self.outbox.push_back(b"\r\n\r\n".to_vec());
            self.last_sent = now;
            self.pong_deadline = Some(now + PONG_TIMEOUT);
        }
        let due: Vec<usize> = (0..self.subscriptions.len())
            .filter(|&i| self.subscriptions[i].refresh_at.is_some_and(|t| now >= t))
            .collect();
        for i in due {
            self.subscriptions[i].refresh_at = None;
            self.refresh_subscription(i, now);
        }
    }

    /// Takes one item from the connection's stream parser.
    pub fn handle_item(&mut self, item: StreamItem, now: Instant) {
        if self.closed.is_some() {
            // Signed out, deregistered or dead: what arrived after in the same read is not acted on, so the event
            // that closed the endpoint stays its last.
            return;
        }
        match item {
            StreamItem::Ping => self.outbox.push_back(b"\r\n".to_vec()),
            StreamItem::Pong => {
                self.pong_deadline = None;
                if let Some((id, sent)) = self.ping_cmd.take() {
                    let rtt_us = now.saturating_duration_since(sent).as_micros().min(u128::from(u64::MAX)) as u64;
                    self.completions.push_back((id, Ok(CommandOutput::Pong { rtt_us })));
                }
            }
            StreamItem::Invalid { error, message } => {
                self.invalid_messages += 1;
                tracing::warn!(error = %error, "dropped an invalid message from the server");
                if message.is_request() && !matches!(message.method(), Some(Method::Ack | Method::Benotify)) {
                    let resp = Message::response_to(&message, error.status_code(), "Bad Request", None);
                    self.outbox.push_back(resp.to_bytes());
                }
            }
            StreamItem::Message(m) => {
                if !self.signature_ok(&m) {
                    return;
                }
                // Anything from the server shows the connection is alive.
                self.pong_deadline = None;
                if m.is_request() {
                    self.handle_request(m, now);
                } else {
                    self.handle_response(m, now);
                }
            }
        }
    }

    fn signature_ok(&mut self, m: &Message) -> bool {
        crate::auth::sa::admit(self.sa.as_ref(), m, &mut self.bad_signatures)
    }

    fn handle_response(&mut self, m: Message, now: Instant) {
        match self.transactions.handle_response(m, now) {
            ResponseRoute::Matched { key, event: Some(TransactionEvent::Final(resp)) } => {
                if let Some(p) = self.pending.remove(&key) {
                    self.on_final(p, resp, now);
                }
            }
            ResponseRoute::Matched { .. } => {}
            ResponseRoute::Unmatched(why) => tracing::debug!(?why, "dropped a response that matches no transaction"),
        }
        if self.closing.is_some() && self.pending.is_empty() {
            self.finish_sign_out();
        }
    }

    fn handle_request(&mut self, req: Message, now: Instant) {
        let method = req.method().cloned();
        let answer = match method {
            Some(Method::Notify | Method::Benotify) => self.on_notify(&req, now),
            Some(Method::Options) => Some(
                Message::response_to(&req, 200, "OK", Some(&crate::identity::new_tag()))
                    .with_header("Allow", "NOTIFY, BENOTIFY, OPTIONS")
                    .with_header("Contact", &self.contact),
            ),
            Some(Method::Ack) | None => None,
            // No calls or IM in this SDK yet: say so rather than leave the caller ringing.
            Some(_) => Some(Message::response_to(&req, 501, "Not Implemented", Some(&crate::identity::new_tag()))),
        };
        // BENOTIFY is never answered ([MS-SIP] 4.4).
        if method == Some(Method::Benotify) {
            return;
        }
        if let Some(resp) = answer {
            self.send_response(resp);
        }
    }

    /// NOTIFY/BENOTIFY: a deregistration, or content for one of our subscriptions.
    fn on_notify(&mut self, req: &Message, now: Instant) -> Option<Message> {
        let event = req.header("Event").map(|e| e.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        if event.as_deref() == Some("registration-notify") {
            return Some(self.on_deregistration(req));
        }
        let Some(i) = self.subscriptions.iter().position(|s| s.dialog.owns(req)) else {
            return Some(Message::response_to(req, 481, "Subscription Does Not Exist", None));
        };
        let terminated = req
            .header("Subscription-State")
            .map(|s| s.trim().to_ascii_lowercase().starts_with("terminated"))
            .unwrap_or(false);
        let kind = self.subscriptions[i].kind.clone();
        if !req.body.is_empty() {
            self.on_content(&kind, req.content_type().unwrap_or(""), &req.body, now);
        }
        if terminated {
            let sub = self.subscriptions.remove(i);
            tracing::info!(kind = ?sub.kind, "the server terminated a subscription; subscribing again");
            if self.closing.is_none() && sub.kind != SubKind::Provisioning {
                self.subscribe(sub.kind, sub.resources, now);
            }
        }
        Some(Message::response_to(req, 200, "OK", None))
    }

    /// `Event: registration-notify` ([MS-SIPREGE] 3.2, 4.1.3): act per reason once the signature
    /// has verified (it has: unsigned messages never get here once the SA exists).
    fn on_deregistration(&mut self, req: &Message) -> Message {
        let body = String::from_utf8_lossy(&req.body);
        let preferred = req.header("P-Preferred-Registrar");
        // Only `deregistered;...` ends the registration; other registration notices (e.g. the
        // presence service going away, [MS-SIPREGE] 3.5.1.4) are acknowledged and logged.
        let Some(reason) = DeregistrationReason::parse(&body, preferred) else {
            tracing::info!(body = %body.chars().take(120).collect::<String>(), "registration notice (not a deregistration)");
            return Message::response_to(req, 200, "OK", None);
        };
        let diag =
            req.header("ms-diagnostics-public").or_else(|| req.header("ms-diagnostics")).and_then(Diagnostics::parse);
        self.events.push_back(Event::Deregistered {
            reason: reason.clone(),
            diagnostics_code: diag.as_ref().map(|d| d.code),
            diagnostics_reason: diag.and_then(|d| d.reason),
            reconnecting: reason.reconnects(),
        });
        let resp = Message::response_to(req, 200, "OK", None);
        self.close(Closed::Deregistered(reason));
        resp
    }

    fn on_final(&mut self, pending: Pending, resp: Message, now: Instant) {
        let code = resp.status().unwrap_or(0);
        match pending {
            Pending::Register => match registration::classify_response(&resp, &self.cfg.epid) {
                registration::RegisterOutcome::Registered(reg) => {
                    self.refresh_at = now + refresh_after(reg.expires, 30);
                    self.events.push_back(Event::RegistrationRefreshed { expires_s: reg.expires });
                    self.cfg.registration.expires = reg.expires;
                }
                _ => {
                    let diagnostics = registration::diagnostics_of(&resp).map(|d| d.code);
                    self.close(Closed::RefreshRefused { code, diagnostics });
                }
            },
            Pending::Unregister => {
                self.unregister = Some(if (200..300).contains(&code) { Ok(()) } else { Err(commands::refused(&resp)) });
                self.finish_sign_out();
            }
            Pending::Unsubscribe => {}
            Pending::Subscribe { call_id } => self.on_subscribe_response(&call_id, &resp, now),
            Pending::Publish { attempt, command, what, publications } => {
                self.on_publish_response(attempt, command, what, publications, &resp, now)
            }
            Pending::Contacts { command, request } => self.on_contacts_response(command, request, &resp, now),
            Pending::LocationProfile => self.on_location_profile(&resp),
        }
    }

    fn on_timeout(&mut self, pending: Pending, now: Instant) {
        match pending {
            Pending::Register => {
                self.close(Closed::ConnectionDead("the registrar did not answer a REGISTER refresh".into()))
            }
            Pending::Unregister => {
                self.unregister = Some(Err(CommandError::TimedOut));
                self.finish_sign_out();
            }
            Pending::Publish { command: Some(id), .. } | Pending::Contacts { command: id, .. } => {
                self.completions.push_back((id, Err(CommandError::TimedOut)))
            }
            Pending::Subscribe { call_id } => {
                // Tried again in a while rather than left to lapse (the transaction layer already
                // waited Timer F).
                tracing::warn!("a SUBSCRIBE got no answer; trying again in {SUBSCRIBE_RETRY:?}");
                let at = now + SUBSCRIBE_RETRY;
                if let Some(sub) = self.subscriptions.iter_mut().find(|s| s.dialog.call_id() == call_id) {
                    sub.refresh_at = Some(at);
                }
            }
            _ => {}
        }
    }

    fn refresh_registration(&mut self, now: Instant) {
        self.refresh_at = now + Duration::from_secs(3600);
        let params = self.cfg.register_params.clone();
        match registration::register_request(&mut self.reg_factory, &self.cfg.aor, &params) {
            Ok(req) => self.send_request(req, Pending::Register, now),
            Err(e) => self.close(Closed::ConnectionDead(format!("could not build a REGISTER refresh: {e}"))),
        }
    }

    /// Signs and starts a client transaction; its bytes go to the outbox.
    fn send_request(&mut self, mut req: Message, purpose: Pending, now: Instant) {
        if let Some(sa) = self.sa.as_mut()
            && let Err(e) = sa.sign(&mut req)
        {
            tracing::warn!(error = %e, "a request could not be signed; not sent");
            self.on_timeout(purpose, now);
            return;
        }
        match self.transactions.start(req, now) {
            Ok(key) => {
                self.pending.insert(key, purpose);
                while let Some(bytes) = self.transactions.poll_transmit() {
                    self.outbox.push_back(bytes);
                }
                self.last_sent = now;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a request could not be started");
                self.on_timeout(purpose, now);
            }
        }
    }

    fn send_response(&mut self, mut resp: Message) {
        if let Some(sa) = self.sa.as_mut()
            && let Err(e) = sa.sign(&mut resp)
        {
            tracing::warn!(error = %e, "a response could not be signed; not sent");
            return;
        }
        self.outbox.push_back(resp.to_bytes());
    }

    /// A request to ourselves (SUBSCRIBE to self, SERVICE): out of dialog, To = From = our AOR.
    fn self_request(&mut self, method: Method) -> Message {
        let mut dialog =
            Dialog::new(self.cfg.aor.clone(), self.cfg.aor.clone(), self.cfg.epid.clone(), &self.cfg.sent_by);
        dialog.request(method).with_header("Contact", &self.contact.clone())
    }

    fn close(&mut self, why: Closed) {
        if self.closed.is_none() {
            self.closed = Some(why);
            self.fail_waiting();
        }
    }

    /// Sign-out: unpublish what this endpoint published, end every subscription, then unregister
    /// (CLIENT-NOTES §4.4); waits for the answers up to [`SIGN_OUT_GRACE`].
    fn begin_sign_out(&mut self, now: Instant) {
        if self.closing.is_some() {
            return;
        }
        self.closing = Some(now + SIGN_OUT_GRACE);
        self.unpublish_endpoint(now);
        for i in 0..self.subscriptions.len() {
            let sub = &mut self.subscriptions[i];
            if sub.kind == SubKind::Provisioning || !sub.confirmed {
                continue;
            }
            let req = self.subscribe_request(i, Some(0));
            self.send_request(req, Pending::Unsubscribe, now);
        }
        let mut params = self.cfg.register_params.clone();
        params.expires = Some(0);
        if let Ok(req) = registration::register_request(&mut self.reg_factory, &self.cfg.aor, &params) {
            self.send_request(req, Pending::Unregister, now);
        }
    }

    fn finish_sign_out(&mut self) {
        if self.closing.is_some() && self.closed.is_none() {
            self.events.push_back(Event::SignedOut);
            self.close(Closed::SignedOut);
            if let Some(id) = self.sign_out_cmd.take() {
                let result = self.unregister.take().unwrap_or(Err(CommandError::TimedOut));
                self.completions.push_back((id, result.map(|()| CommandOutput::Done)));
            }
        }
    }

    /// The connection failed underneath (read error, closed by the server, unframeable bytes).
    pub fn connection_lost(&mut self, why: String) {
        self.close(Closed::ConnectionDead(why));
    }

    /// Fails every command still waiting when the endpoint stops (contact changes stay queued for
    /// the next connection; presence is republished from the desired state, so a publish that
    /// never got its answer reports a timeout, not a loss).
    fn fail_waiting(&mut self) {
        if let Some((id, _)) = self.ping_cmd.take() {
            self.completions.push_back((id, Err(CommandError::NotSignedIn)));
        }
        let publishes: Vec<CommandId> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Publish { command: Some(id), .. } => Some(*id),
                _ => None,
            })
            .collect();
        for id in publishes {
            self.completions.push_back((id, Err(CommandError::TimedOut)));
        }
    }

    /// The durable state, with commands that never got their answer queued again for the next
    /// connection.
    pub fn into_state(mut self) -> EndpointState {
        for (_, p) in self.pending.drain() {
            if let Pending::Contacts { command, request } = p {
                self.state.queued.push((command, request));
            }
        }
        // `pending` has no order: put the changes back in the order they were issued (the driver
        // numbers commands upwards), so e.g. a group is added again before a contact moves into it.
        self.state.queued.sort_by_key(|(id, _)| *id);
        self.state
    }
}
