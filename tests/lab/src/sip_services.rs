//! The pool's SIP side of what users sign in for: subscription dialogs for in-band provisioning,
//! contact lists, roaming-self and batched presence; `SERVICE` for publications, contact list
//! changes (SOAP) and location profiles; and the notifications every change fans out to every
//! subscribed endpoint, on whichever pool's connection that endpoint is.
//!
//! The documents come from [`crate::services`]; this module is the SIP glue a Front End puts
//! around them: a 200 OK to SUBSCRIBE carries the first notification (`ms-piggyback-first-notify`,
//! with `ms-piggyback-cseq`), later ones go out as NOTIFY, or BENOTIFY when the subscriber announced
//! `ms-benotify` ([MS-SIP] 4.4), each signed by the connection's security association.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sfbkit::identity::{new_branch, new_tag as tag};
use sfbkit::sip::{Message, Method, Uri};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::config::LabConfig;
use crate::services::contacts::{ContactStore, SoapFault};
use crate::services::presence::{PresenceChange, PresenceStore, parse_batch_subscribe};
use crate::services::{bare_aor, provisioning};

/// How long a subscription lasts when the client does not ask for less (seconds).
pub const SUBSCRIPTION_EXPIRES: u32 = 3600;
/// Most subscriptions one connection may hold (each batched presence subscription counts once).
const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 64;

/// What a connection task is asked to do by the rest of the lab.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Sign and send this request (NOTIFY, BENOTIFY).
    Request(Box<Message>),
    /// Drop the connection (the `drop-connection` and `restart` faults, [`crate::LabPool::drop_connections`]).
    Close,
    /// Sign this request, then spoil its signature: what a man in the middle would send
    /// ([`crate::LabPool::forge_deregistration`]).
    Forged(Box<Message>),
}

/// One subscription dialog, as the notifier holds it (RFC 6665 §4.2).
#[derive(Debug, Clone)]
struct SubDialog {
    event: String,
    call_id: String,
    /// The subscriber's tag (its From tag) and ours (the To tag we answered with).
    remote_tag: String,
    local_tag: String,
    /// Where NOTIFYs go: the subscriber's Contact (its GRUU).
    target: String,
    /// The subscriber (From) and the resource subscribed to (To).
    watcher: String,
    resource: String,
    resources: Vec<String>,
    categories: Vec<String>,
    cseq: u32,
    /// RFC 4662 list version for presence.
    version: u32,
    benotify: bool,
    expires_at: Instant,
}

/// One connection of one pool.
#[derive(Debug)]
struct Conn {
    pool: String,
    aor: Option<String>,
    epid: Option<String>,
    tx: mpsc::UnboundedSender<Outgoing>,
    subs: Vec<SubDialog>,
}

/// What every pool of one lab shares: the presence and contact stores, who is connected where,
/// and users disabled at run time.
pub(crate) struct LabServices {
    pub presence: Mutex<PresenceStore>,
    pub contacts: Mutex<ContactStore>,
    conns: Mutex<HashMap<u64, Conn>>,
    /// Who may watch whom: a user's bare address → the connections with a presence subscription naming them.
    /// A publication notifies these, not every connection (with 18,000 endpoints each publishing, a scan of
    /// every connection per change made the pool's presence quadratic: 618 s for 180,000 subscriptions).
    /// Entries may outlive their subscription; fan-out re-checks each and prunes the dead.
    watchers: Mutex<HashMap<String, HashSet<u64>>>,
    next_conn: Mutex<u64>,
    disabled: Mutex<HashSet<String>>,
    /// Users whose first registration the faults have seen.
    dropped_once: Mutex<HashSet<String>>,
    /// What [`LabServices::first_time`] has been asked about.
    once: Mutex<HashSet<String>>,
    /// Until when the SIP listeners drop new connections (a restart in progress).
    paused_until: Mutex<Option<Instant>>,
    /// Whether the `restart` fault has fired.
    pub restarted: std::sync::atomic::AtomicBool,
    /// The directory's live state (changed passwords, failed logons), shared with the web services.
    pub directory: Arc<crate::directory::Directory>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LabServices {
    pub fn new(presence: PresenceStore, contacts: ContactStore) -> LabServices {
        LabServices {
            presence: Mutex::new(presence),
            contacts: Mutex::new(contacts),
            conns: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
            next_conn: Mutex::new(1),
            disabled: Mutex::new(HashSet::new()),
            dropped_once: Mutex::new(HashSet::new()),
            once: Mutex::new(HashSet::new()),
            paused_until: Mutex::new(None),
            restarted: std::sync::atomic::AtomicBool::new(false),
            directory: Arc::default(),
        }
    }

    /// Whether the SIP service is restarting (new connections are dropped).
    pub fn paused(&self) -> bool {
        lock(&self.paused_until).is_some_and(|t| Instant::now() < t)
    }

    /// Restarts the SIP service: every connection drops, new ones are refused for `downtime`, and
    /// what endpoints published (`expireType="endpoint"`) is gone, as after a Front End restart.
    /// Contact lists and static publications stay (a real pool keeps them in its database).
    pub fn restart(&self, downtime: Duration) -> usize {
        *lock(&self.paused_until) = Some(Instant::now() + downtime);
        self.close_connections(None)
    }

    /// A new connection on `pool`: its id, and where requests for it arrive.
    pub fn connect(&self, pool: &str) -> (u64, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut next = lock(&self.next_conn);
        let id = *next;
        *next += 1;
        lock(&self.conns).insert(id, Conn { pool: pool.to_string(), aor: None, epid: None, tx, subs: Vec::new() });
        (id, rx)
    }

    /// True the first time `what` is asked about (faults that strike once per user: `drop-register-N`,
    /// `register-503`).
    pub fn first_time(&self, what: &str) -> bool {
        lock(&self.once).insert(what.to_ascii_lowercase())
    }

    /// The connection registered `aor` with endpoint `epid`. Returns whether this is the first
    /// registration of `aor` the `drop-connection` fault has seen.
    pub fn bind(&self, conn: u64, aor: &str, epid: &str) -> bool {
        if let Some(c) = lock(&self.conns).get_mut(&conn) {
            c.aor = Some(bare_aor(aor));
            c.epid = Some(epid.to_string());
        }
        lock(&self.dropped_once).insert(bare_aor(aor))
    }

    /// The connection ended (or unregistered): its subscriptions end and its endpoint's
    /// publications expire (`expireType="endpoint"`), which watchers are told about.
    pub fn disconnect(&self, conn: u64, config: &LabConfig, port: u16) {
        let gone = lock(&self.conns).remove(&conn);
        let Some(Conn { aor: Some(aor), epid: Some(epid), .. }) = gone else { return };
        let still_there =
            lock(&self.conns).values().any(|c| c.aor.as_deref() == Some(&aor) && c.epid.as_deref() == Some(&epid));
        if still_there {
            return;
        }
        let change = lock(&self.presence).endpoint_gone(&aor, &epid, OffsetDateTime::now_utc());
        self.fan_out_presence(&change, config, port);
    }

    /// Asks every connection of `aor` (or all, for `None`) to close.
    pub fn close_connections(&self, aor: Option<&str>) -> usize {
        let conns = lock(&self.conns);
        let mut n = 0;
        for c in conns.values() {
            if aor.is_none() || c.aor.as_deref() == aor.map(bare_aor).as_deref() {
                let _ = c.tx.send(Outgoing::Close);
                n += 1;
            }
        }
        n
    }

    pub fn is_disabled(&self, aor: &str) -> bool {
        lock(&self.disabled).contains(&bare_aor(aor))
    }

    /// Disables `aor` now: REGISTER gets 403/4141 from here on, and every endpoint of the user gets
    /// a deregistration NOTIFY (`deregistered;event=rejected`, `ms-diagnostics-public: 4141`).
    pub fn disable(&self, aor: &str, config: &LabConfig, port: u16) -> usize {
        lock(&self.disabled).insert(bare_aor(aor));
        self.deregister(aor, "rejected", Some((4141, "User disabled")), None, config, port)
    }

    /// Sends a deregistration NOTIFY ([MS-SIPREGE] 3.2, 4.1.3) to every endpoint of `aor`.
    pub fn deregister(
        &self,
        aor: &str,
        reason: &str,
        diagnostics: Option<(u32, &str)>,
        preferred_registrar: Option<&str>,
        config: &LabConfig,
        port: u16,
    ) -> usize {
        let send = |req: Message| Outgoing::Request(Box::new(req));
        self.send_deregistration(aor, (reason, diagnostics, preferred_registrar), config, port, send)
    }

    /// A deregistration NOTIFY (`event=rejected`, 4141) with a spoiled signature to every endpoint of `aor`.
    pub fn forge_deregistration(&self, aor: &str, config: &LabConfig, port: u16) -> usize {
        let what = ("rejected", Some((4141, "User disabled")), None);
        self.send_deregistration(aor, what, config, port, |req| Outgoing::Forged(Box::new(req)))
    }

    fn send_deregistration(
        &self,
        aor: &str,
        (reason, diagnostics, preferred_registrar): (&str, Option<(u32, &str)>, Option<&str>),
        config: &LabConfig,
        port: u16,
        wrap: impl Fn(Message) -> Outgoing,
    ) -> usize {
        let aor = bare_aor(aor);
        let conns = lock(&self.conns);
        let mut n = 0;
        for c in conns.values().filter(|c| c.aor.as_deref() == Some(&aor)) {
            let Some(uri) = target_uri(&format!("sip:{aor}"), "sip:lab.invalid") else { continue };
            let from = format!("<sip:{aor}>;tag={}", tag());
            let to = format!("<sip:{aor}>;epid={}", c.epid.clone().unwrap_or_default());
            let mut req = server_request(Method::Notify, uri, (&c.pool, port), (&from, &to), (&tag(), 1))
                .with_header("Event", "registration-notify")
                .with_header("Subscription-State", "terminated;expires=0");
            if let Some((code, text)) = diagnostics {
                req = req.with_header(
                    "ms-diagnostics-public",
                    &format!("{code};reason=\"{text}\";source=\"{}\"", config.pool_fqdn),
                );
            }
            if let Some(r) = preferred_registrar {
                req = req.with_header("P-Preferred-Registrar", r);
            }
            let req = req.with_body("text/registration-event", format!("deregistered;event={reason}"));
            if c.tx.send(wrap(req)).is_ok() {
                n += 1;
            }
        }
        n
    }

    /// Answers a SUBSCRIBE from connection `conn`.
    pub fn subscribe(&self, conn: u64, config: &LabConfig, port: u16, req: &Message) -> Message {
        let event = req.header("Event").map(|e| e.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let Some(event) = event else {
            return Message::response_to(req, 400, "Bad Request", Some(&tag())).with_header(
                "ms-diagnostics",
                &format!("1;reason=\"SUBSCRIBE without an Event header\";source=\"{}\"", config.pool_fqdn),
            );
        };
        let (Ok(from), Ok(to)) = (req.from_header(), req.to_header()) else {
            return Message::response_to(req, 400, "Bad Request", Some(&tag()));
        };
        let watcher = from.uri.as_sip().map(|u| u.aor()).unwrap_or_default();
        let resource = to.uri.as_str().to_string();
        let expires = req.expires().ok().flatten().unwrap_or(SUBSCRIPTION_EXPIRES).min(SUBSCRIPTION_EXPIRES);
        let call_id = req.call_id().unwrap_or_default().to_string();
        let remote_tag = from.tag().map(|t| t.to_string()).unwrap_or_default();
        let benotify = req.headers.list("Supported").any(|s| s.eq_ignore_ascii_case("ms-benotify"));
        let target = req
            .contacts()
            .ok()
            .and_then(|c| c.into_iter().next())
            .map(|c| c.uri.as_str().to_string())
            .unwrap_or_else(|| format!("sip:{watcher}"));

        // The existing dialog for a refresh or unsubscribe, else a new one.
        let mut conns = lock(&self.conns);
        let Some(c) = conns.get_mut(&conn) else {
            return Message::response_to(req, 481, "Call Leg/Transaction Does Not Exist", Some(&tag()));
        };
        let existing = c.subs.iter().position(|s| s.call_id == call_id && s.remote_tag == remote_tag);
        // Expires: 0 ends the dialog (RFC 6665 §4.2.1.4); what follows treats it as gone.
        let existing = match existing {
            Some(i) if expires == 0 => {
                c.subs.remove(i);
                None
            }
            other => other,
        };
        let (resources, categories) = if event == "presence" {
            match parse_batch_subscribe(&req.body) {
                Ok(b) => (b.resources, b.categories),
                Err(_) if req.body.is_empty() => (vec![resource.clone()], Vec::new()),
                Err(e) => {
                    return Message::response_to(req, 400, "Bad Request", Some(&tag())).with_header(
                        "ms-diagnostics",
                        &format!("1;reason=\"{}\";source=\"{}\"", e.to_string().replace('"', "'"), config.pool_fqdn),
                    );
                }
            }
        } else {
            (Vec::new(), Vec::new())
        };
        let local_tag = match existing {
            Some(i) => c.subs[i].local_tag.clone(),
            _ => tag(),
        };
        let (content_type, body) = match event.as_str() {
            "vnd-microsoft-provisioning-v2" => {
                let groups = provisioning::parse_group_list(&req.body);
                (provisioning::CONTENT_TYPE.to_string(), provisioning::provisioning_document(config, &watcher, &groups))
            }
            "vnd-microsoft-roaming-contacts" => (
                "application/vnd-microsoft-roaming-contacts+xml".to_string(),
                lock(&self.contacts).full_document(&watcher),
            ),
            "vnd-microsoft-roaming-self" => (
                "application/vnd-microsoft-roaming-self+xml".to_string(),
                lock(&self.presence).roaming_self_document(&watcher),
            ),
            "presence" => {
                let store = lock(&self.presence);
                let version = existing.map(|i| c.subs[i].version + 1).unwrap_or(0);
                store.notify_body(&watcher, &resources, &categories, version)
            }
            _ => {
                return Message::response_to(req, 489, "Bad Event", Some(&tag())).with_header(
                    "ms-diagnostics",
                    &format!("1;reason=\"Event package not supported: {event}\";source=\"{}\"", config.pool_fqdn),
                );
            }
        };
        // Provisioning is one-shot (Expires: 0): answered, no dialog kept.
        let keep = expires > 0 && event != "vnd-microsoft-provisioning-v2";
        if keep && event == "presence" {
            // Indexed while the connection table is still locked, as the first NOTIFY's body was made: a
            // publication stored after that body waits for this lock in fan-out and then finds the watcher
            // (indexed after the lock, a publication in between reached neither the body nor the watcher).
            let mut watchers = lock(&self.watchers);
            for r in &resources {
                watchers.entry(bare_aor(r)).or_default().insert(conn);
            }
        }
        if keep {
            let expires_at = Instant::now() + Duration::from_secs(u64::from(expires));
            match existing {
                Some(i) => {
                    let s = &mut c.subs[i];
                    s.expires_at = expires_at;
                    s.resources = resources.clone();
                    s.categories = categories.clone();
                    s.version += 1;
                    s.target = target;
                }
                None if c.subs.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION => {
                    return Message::response_to(req, 503, "Service Unavailable", Some(&tag()))
                        .with_header("Retry-After", "60");
                }
                None => c.subs.push(SubDialog {
                    event: event.clone(),
                    call_id,
                    remote_tag,
                    local_tag: local_tag.clone(),
                    target,
                    watcher: watcher.clone(),
                    resource,
                    resources: resources.clone(),
                    categories,
                    cseq: 1,
                    version: 0,
                    benotify,
                    expires_at,
                }),
            }
        }
        drop(conns);
        if event == "presence" && keep {
            let mut store = lock(&self.presence);
            for r in &resources {
                store.record_subscriber(r, &watcher, "");
            }
        }
        let mut resp = Message::response_to(req, 200, "OK", Some(&local_tag))
            .with_header("Expires", &expires.to_string())
            .with_header("Contact", &format!("<sip:{}:{port};transport=tls>", config.pool_fqdn));
        if expires > 0 || event == "vnd-microsoft-provisioning-v2" {
            // ms-piggyback-first-notify: this 200 OK is the first NOTIFY (CSeq 1 of our side), with the headers that
            // NOTIFY would carry: [MS-SIP] 3.3.5.1 and [MS-PRES] 4.11 show `Event` and `subscription-state` on it.
            // pidgin-sipe routes a piggy-backed body by its own `Event` only, and drops it without one
            // (sipe-notify.c process_incoming_notify): against a lab that omitted both, SIPE showed an empty roster.
            // A one-shot query (Expires: 0, provisioning) ends with its answer (RFC 6665 §4.4.3).
            let state = match expires {
                0 => "terminated;reason=timeout".to_string(),
                n => format!("active;expires={n}"),
            };
            resp = resp
                .with_header("Event", &event)
                .with_header("subscription-state", &state)
                .with_header("ms-piggyback-cseq", "1")
                .with_body(&content_type, body);
        }
        resp
    }

    /// Answers a SERVICE from `aor`'s endpoint `epid`: a publication, a setSubscribers, a
    /// contact-list change or a location profile request.
    pub fn service(&self, config: &LabConfig, port: u16, req: &Message) -> Message {
        let from = req.from_header().ok();
        let aor = from.as_ref().and_then(|f| f.uri.as_sip().map(|u| u.aor())).unwrap_or_default();
        let epid = from.as_ref().and_then(|f| f.params.value("epid")).unwrap_or_default();
        if let Some(resp) = location_profile(config, req) {
            return resp;
        }
        let content_type = req.content_type().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match content_type.as_str() {
            "application/msrtc-category-publish+xml" => {
                let result = lock(&self.presence).publish(&aor, &epid, &req.body, OffsetDateTime::now_utc());
                match result {
                    Ok(change) => {
                        self.fan_out_presence(&change, config, port);
                        Message::response_to(req, 200, "OK", Some(&tag()))
                    }
                    Err(crate::services::presence::PublishError::Conflict { fault_body, .. }) => {
                        Message::response_to(req, 409, "Conflict", Some(&tag()))
                            .with_body("application/msrtc-fault+xml", fault_body)
                    }
                    Err(e) => Message::response_to(req, e.status_code(), "Bad Request", Some(&tag())).with_header(
                        "ms-diagnostics",
                        &format!("1;reason=\"{}\";source=\"{}\"", e.to_string().replace('"', "'"), config.pool_fqdn),
                    ),
                }
            }
            "application/msrtc-presence-setsubscriber+xml" => {
                let result = lock(&self.presence).set_subscribers(&aor, &req.body);
                match result {
                    Ok(change) => {
                        self.fan_out_presence(&change, config, port);
                        Message::response_to(req, 200, "OK", Some(&tag()))
                    }
                    Err(e) => Message::response_to(req, 400, "Bad Request", Some(&tag())).with_header(
                        "ms-diagnostics",
                        &format!("1;reason=\"{}\";source=\"{}\"", e.to_string().replace('"', "'"), config.pool_fqdn),
                    ),
                }
            }
            "application/soap+xml" => {
                let result = lock(&self.contacts).apply_soap(&aor, &req.body);
                match result {
                    Ok(outcome) => {
                        self.fan_out(
                            &aor,
                            "vnd-microsoft-roaming-contacts",
                            |_| {
                                Some((
                                    "application/vnd-microsoft-roaming-contacts+xml".to_string(),
                                    outcome.delta_document.clone(),
                                ))
                            },
                            config,
                            port,
                        );
                        let resp = Message::response_to(req, 200, "OK", Some(&tag()));
                        if outcome.reply_body.is_empty() {
                            resp
                        } else {
                            resp.with_body("application/SOAP+xml", outcome.reply_body)
                        }
                    }
                    Err(fault) => soap_fault(req, &fault),
                }
            }
            other => Message::response_to(req, 415, "Unsupported Media Type", Some(&tag())).with_header(
                "ms-diagnostics",
                &format!("1;reason=\"SERVICE body {other:?} is not handled\";source=\"{}\"", config.pool_fqdn),
            ),
        }
    }

    /// Tells every watcher of `change.aor` (and the user's own endpoints, for roaming-self) what changed.
    pub fn fan_out_presence(&self, change: &PresenceChange, config: &LabConfig, port: u16) {
        if change.is_empty() {
            return;
        }
        if !change.visible_categories.is_empty() {
            let target = bare_aor(&change.aor);
            let watching = |s: &SubDialog| s.event == "presence" && s.resources.iter().any(|r| bare_aor(r) == target);
            let conns: Vec<u64> = {
                let live = lock(&self.conns);
                let mut watchers = lock(&self.watchers);
                let mut found = Vec::new();
                if let Some(candidates) = watchers.get_mut(&target) {
                    candidates.retain(|id| live.get(id).is_some_and(|c| c.subs.iter().any(watching)));
                    found.extend(candidates.iter().copied());
                    if candidates.is_empty() {
                        watchers.remove(&target);
                    }
                }
                found
            };
            for conn in conns {
                self.notify_conn(
                    conn,
                    config,
                    port,
                    |s| watching(s).then_some(()),
                    |store_sub| {
                        let store = lock(&self.presence);
                        store.partial_notify_body(
                            &store_sub.watcher,
                            std::slice::from_ref(&target),
                            &store_sub.categories,
                            store_sub.version,
                        )
                    },
                );
            }
        }
        self.fan_out_self(change, config, port);
    }

    /// Tells the user's own endpoints (roaming-self) what changed in their publications.
    fn fan_out_self(&self, change: &PresenceChange, config: &LabConfig, port: u16) {
        if change.self_changed {
            self.fan_out(
                &change.aor,
                "vnd-microsoft-roaming-self",
                |aor| {
                    Some((
                        "application/vnd-microsoft-roaming-self+xml".to_string(),
                        lock(&self.presence).roaming_self_document(aor),
                    ))
                },
                config,
                port,
            );
        }
    }

    /// Notifies every `event` subscription of the user `aor` with the document `doc` builds.
    fn fan_out(
        &self,
        aor: &str,
        event: &str,
        doc: impl Fn(&str) -> Option<(String, String)>,
        config: &LabConfig,
        port: u16,
    ) {
        let aor = bare_aor(aor);
        let conns: Vec<u64> =
            lock(&self.conns).iter().filter(|(_, c)| c.aor.as_deref() == Some(&aor)).map(|(k, _)| *k).collect();
        for conn in conns {
            self.notify_conn(
                conn,
                config,
                port,
                |s| (s.event == event).then_some(()),
                |s| doc(&s.watcher).unwrap_or_default(),
            );
        }
    }

    /// Sends a NOTIFY (or BENOTIFY) on every subscription of `conn` that `select` picks, with the
    /// body `body` builds; expired subscriptions are dropped on the way.
    fn notify_conn(
        &self,
        conn: u64,
        config: &LabConfig,
        port: u16,
        select: impl Fn(&SubDialog) -> Option<()>,
        body: impl Fn(&SubDialog) -> (String, String),
    ) {
        let now = Instant::now();
        let picked: Vec<(SubDialog, mpsc::UnboundedSender<Outgoing>, String)> = {
            let mut conns = lock(&self.conns);
            let Some(c) = conns.get_mut(&conn) else { return };
            c.subs.retain(|s| s.expires_at > now);
            let pool = c.pool.clone();
            let tx = c.tx.clone();
            c.subs
                .iter_mut()
                .filter(|s| select(s).is_some())
                .map(|s| {
                    s.cseq += 1;
                    s.version += 1;
                    (s.clone(), tx.clone(), pool.clone())
                })
                .collect()
        };
        for (s, tx, pool) in picked {
            let (content_type, text) = body(&s);
            if text.is_empty() {
                continue;
            }
            let left = s.expires_at.saturating_duration_since(now).as_secs();
            let method = if s.benotify { Method::Benotify } else { Method::Notify };
            let Some(uri) = target_uri(&s.target, &format!("sip:{}", s.watcher)) else { continue };
            let from = format!("<{}>;tag={}", s.resource, s.local_tag);
            let to = format!("<sip:{}>;tag={}", s.watcher, s.remote_tag);
            let req = server_request(method, uri, (&pool, port), (&from, &to), (&s.call_id, s.cseq))
                .with_header("Event", &s.event)
                .with_header("Subscription-State", &format!("active;expires={left}"))
                .with_header("Contact", &format!("<sip:{}:{port};transport=tls>", config.pool_fqdn))
                .with_body(&content_type, text);
            let _ = tx.send(Outgoing::Request(Box::new(req)));
        }
    }
}

/// A request the pool sends (`pool`:`port` in Via), with From, To, Call-ID and CSeq as given.
fn server_request(
    method: Method,
    uri: Uri,
    (pool, port): (&str, u16),
    (from, to): (&str, &str),
    (call_id, cseq): (&str, u32),
) -> Message {
    Message::request(method.clone(), uri)
        .with_header("Via", &format!("SIP/2.0/TLS {pool}:{port};branch={}", new_branch()))
        .with_header("Max-Forwards", "70")
        .with_header("From", from)
        .with_header("To", to)
        .with_header("Call-ID", call_id)
        .with_header("CSeq", &format!("{cseq} {method}"))
}

/// The Request-URI for a NOTIFY: the subscriber's Contact, else its address of record.
fn target_uri(s: &str, fallback: &str) -> Option<Uri> {
    Uri::parse(s).or_else(|_| Uri::parse(fallback)).ok()
}

/// A SERVICE to a location-profile GRUU ([MS-SIPRE] 3.8.5.1): `opaque=app:locationprofile:get`
/// with `default` or `phone-context=<name>`; neither ⇒ 485 Ambiguous.
fn location_profile(config: &LabConfig, req: &Message) -> Option<Message> {
    let uri = req.request_uri()?.as_sip()?;
    let opaque = uri.params().value("opaque")?.into_owned();
    if !opaque.eq_ignore_ascii_case("app:locationprofile:get") {
        return None;
    }
    let own = provisioning::location_profile_name(config, "");
    let wanted = match (uri.params().value("phone-context"), uri.params().contains("default")) {
        (Some(name), _) => String::from_utf8_lossy(&sfbkit::sip::unescape(&name)).into_owned(),
        (None, true) => own.clone(),
        (None, false) => return Some(Message::response_to(req, 485, "Ambiguous", Some(&tag()))),
    };
    if !wanted.eq_ignore_ascii_case(&own) {
        return Some(Message::response_to(req, 404, "Not Found", Some(&tag())).with_header(
            "ms-diagnostics",
            &format!("1;reason=\"No location profile named {wanted}\";source=\"{}\"", config.pool_fqdn),
        ));
    }
    Some(
        Message::response_to(req, 200, "OK", Some(&tag()))
            .with_body("application/ms-location-profile-definition+xml", provisioning::location_profile_document(&own)),
    )
}

fn soap_fault(req: &Message, fault: &SoapFault) -> Message {
    Message::response_to(req, fault.status_code(), "Bad Request", Some(&tag()))
        .with_body(fault.content_type(), fault.fault_body())
}
