//! The one ordered event stream a signed-in [`crate::Client`] gives its application.
//!
//! Everything the endpoint learns after sign-in arrives here in the order it happened: registration
//! refreshes and deregistrations, connection loss and recovery, provisioning and the dial plan,
//! contact list changes and presence of contacts. Events are plain owned data (serde-serializable,
//! no lifetimes) so the Python and Swift/Kotlin bindings pass them through unchanged.

use crate::contacts::{Contact, Group};
use crate::presence::ContactPresence;

/// Why the registrar ended this endpoint's registration: the `event=` of a deregistration NOTIFY
/// (`Event: registration-notify`, body `deregistered;event=<reason>`, [MS-SIPREGE] 3.2, 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeregistrationReason {
    /// The registrar removed this endpoint, e.g. the user's endpoint quota was exceeded and the
    /// oldest endpoint was dropped, or the user signed in elsewhere. Not retried: signing in again
    /// would push out the other endpoint.
    Unregistered,
    /// The user was disabled by an administrator (`ms-diagnostics` 4141 "User disabled"). Not retried.
    Rejected,
    /// The user was moved to another home pool: sign-in starts again from discovery.
    Deactivated,
    /// The user's registrar changed: register again at the one `P-Preferred-Registrar` names.
    PreferredRegistrarChange { registrar: Option<String> },
    /// A reason this client does not know, as the server wrote it.
    Other { event: String },
}

impl DeregistrationReason {
    /// Parses a `text/registration-event` body: `deregistered;event=<reason>`.
    pub fn parse(body: &str, preferred_registrar: Option<&str>) -> Option<DeregistrationReason> {
        let body = body.trim();
        let (state, params) = body.split_once(';').unwrap_or((body, ""));
        if !state.trim().eq_ignore_ascii_case("deregistered") {
            return None;
        }
        let event = params
            .split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("event"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string())
            .unwrap_or_default();
        Some(match event.to_ascii_lowercase().as_str() {
            "unregistered" => DeregistrationReason::Unregistered,
            "rejected" => DeregistrationReason::Rejected,
            "deactivated" => DeregistrationReason::Deactivated,
            "preferred-registrar-change" => DeregistrationReason::PreferredRegistrarChange {
                registrar: preferred_registrar.map(|r| r.trim().to_string()),
            },
            _ => DeregistrationReason::Other { event },
        })
    }

    /// Whether the client signs in again by itself after this deregistration.
    pub fn reconnects(&self) -> bool {
        matches!(self, DeregistrationReason::Deactivated | DeregistrationReason::PreferredRegistrarChange { .. })
    }
}

/// Something that happened to a signed-in endpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Registered (after sign-in, and again after each reconnect).
    Registered {
        registrar: String,
        expires_s: u32,
    },
    /// The registration was refreshed before it expired.
    RegistrationRefreshed {
        expires_s: u32,
    },
    /// The registrar ended the registration.
    Deregistered {
        reason: DeregistrationReason,
        /// `ms-diagnostics(-public)` code and reason, when the NOTIFY carried one (4141 "User disabled").
        diagnostics_code: Option<u32>,
        diagnostics_reason: Option<String>,
        /// Whether the client is signing in again by itself.
        reconnecting: bool,
    },
    /// The connection to the registrar broke; the client reconnects.
    ConnectionLost {
        error: String,
    },
    /// A reconnect attempt is scheduled.
    Reconnecting {
        attempt: u32,
        delay_ms: u64,
        last_error: Option<String>,
    },
    /// Signed in again after a loss: registration, subscriptions and publications restored.
    ConnectionRestored {
        attempts: u32,
        downtime_ms: u64,
    },
    /// The TLS-DSK certificate was renewed in the background at half its lifetime, before it expired; the
    /// session went on, and later sign-ins use the new one.
    CertificateRenewed {
        /// The pool (TLS-DSK `targetname`) the certificate is for.
        pool: String,
        /// When the new certificate expires (seconds since 1970).
        expires_unix: u64,
    },
    /// Renewing the TLS-DSK certificate failed; it is tried again later while the old one is still valid.
    CertificateRenewalFailed {
        class: String,
        error: String,
    },
    /// The client gave up (the registrar refused sign-in in a way retrying cannot fix).
    SignInFailed {
        class: String,
        error: String,
        hint: String,
    },
    /// In-band provisioning arrived (or changed): server configuration and policies.
    ProvisioningUpdated {
        location_profile: Option<String>,
    },
    /// The dial plan (location profile) is loaded and `normalize` uses it.
    LocationProfileLoaded {
        name: String,
        rules: usize,
    },
    /// The server's location profile could not be used (a rule this client cannot apply faithfully).
    LocationProfileRefused {
        error: String,
    },
    ContactAdded {
        contact: Contact,
    },
    ContactRemoved {
        uri: String,
    },
    /// A contact's name, groups (a move) or subscription changed.
    ContactModified {
        before: Contact,
        after: Contact,
    },
    GroupAdded {
        group: Group,
    },
    GroupRemoved {
        id: u32,
        name: String,
    },
    /// A group was renamed (or its external URI changed).
    GroupModified {
        before: Group,
        after: Group,
    },
    /// The server keeps this user's contacts in Exchange (Unified Contact Store): the SIP list is
    /// empty or stale and changes must go through Exchange Web Services.
    ContactsInExchange,
    /// A contact's presence (availability, activity, display name...) changed.
    PresenceChanged {
        presence: ContactPresence,
    },
    /// A contact's note changed (`None`: cleared).
    NoteChanged {
        uri: String,
        note: Option<String>,
    },
    /// This endpoint's own presence was published (after a command, or republished after a reconnect).
    PresencePublished {
        categories: Vec<String>,
    },
    /// The application read events too slowly and this many were dropped (the stream stays ordered).
    Lagged {
        missed: u64,
    },
    /// Signed out: unpublished, unsubscribed, unregistered, connection closed.
    SignedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_listener_loses_the_oldest_events_and_is_told_how_many() {
        let hub = EventHub::default();
        let q = hub.listen();
        for i in 0..(EVENT_BUFFER as u32 + 3) {
            hub.send(Event::RegistrationRefreshed { expires_s: i });
        }
        assert_eq!(q.next().await, Event::Lagged { missed: 3 });
        assert_eq!(q.try_next(), Some(Event::RegistrationRefreshed { expires_s: 3 }), "the oldest kept");
        let late = hub.listen();
        hub.send(Event::SignedOut);
        assert_eq!(late.try_next(), Some(Event::SignedOut), "a new listener sees events from then on");
        assert_eq!(late.try_next(), None);
        drop(late);
        hub.send(Event::SignedOut);
        assert_eq!(hub.listeners.lock().unwrap().iter().filter(|w| w.strong_count() > 0).count(), 1);
    }

    #[test]
    fn a_smaller_buffer_bounds_what_waits_and_zero_keeps_only_the_count() {
        let hub = EventHub::new(None, 8);
        let q = hub.listen();
        for i in 0..20 {
            hub.send(Event::RegistrationRefreshed { expires_s: i });
        }
        assert_eq!(q.state.lock().unwrap().events.len(), 8);
        assert_eq!(q.try_next(), Some(Event::Lagged { missed: 12 }));
        assert_eq!(q.try_next(), Some(Event::RegistrationRefreshed { expires_s: 12 }));

        let none = EventHub::new(None, 0);
        let q = none.listen();
        none.send(Event::SignedOut);
        none.send(Event::SignedOut);
        assert_eq!(q.state.lock().unwrap().events.capacity(), 0, "nothing is kept");
        assert_eq!(q.try_next(), Some(Event::Lagged { missed: 2 }));
        assert_eq!(q.try_next(), None);
    }

    #[test]
    fn parses_every_deregistration_reason() {
        let p = |b: &str| DeregistrationReason::parse(b, Some("pool02.contoso.lab"));
        assert_eq!(p("deregistered;event=unregistered"), Some(DeregistrationReason::Unregistered));
        assert_eq!(p("deregistered;event=rejected\r\n"), Some(DeregistrationReason::Rejected));
        assert_eq!(p("Deregistered; event=Deactivated"), Some(DeregistrationReason::Deactivated));
        assert_eq!(
            p("deregistered;event=preferred-registrar-change"),
            Some(DeregistrationReason::PreferredRegistrarChange { registrar: Some("pool02.contoso.lab".into()) })
        );
        assert_eq!(p("deregistered;event=new"), Some(DeregistrationReason::Other { event: "new".into() }));
        assert_eq!(p("registered"), None);
        assert!(!DeregistrationReason::Rejected.reconnects());
        assert!(!DeregistrationReason::Unregistered.reconnects());
        assert!(DeregistrationReason::Deactivated.reconnects());
    }
}

/// The queues events are delivered to: one per listener, each growing only with the events waiting
/// in it (a preallocated ring per client would cost its full capacity for every endpoint, idle or
/// not) and capped ([`EVENT_BUFFER`] unless [`crate::ClientBuilder::event_buffer`] says otherwise);
/// beyond that the oldest are dropped and the listener's next read is an [`Event::Lagged`] saying how many.
pub(crate) struct EventHub {
    listeners: std::sync::Mutex<Vec<std::sync::Weak<EventQueue>>>,
    /// The fleet counters the client adds to ([`crate::ClientBuilder::meter`]): disconnects and reconnects.
    meter: Option<std::sync::Arc<crate::fleet::FleetCounters>>,
    /// Events a listener keeps at most.
    capacity: usize,
}

impl Default for EventHub {
    fn default() -> EventHub {
        EventHub::new(None, EVENT_BUFFER)
    }
}

/// How many events wait for a slow reader before the oldest are dropped.
pub const EVENT_BUFFER: usize = 4096;

/// One listener's queue.
pub(crate) struct EventQueue {
    state: std::sync::Mutex<QueueState>,
    ready: tokio::sync::Notify,
    capacity: usize,
}

#[derive(Default)]
struct QueueState {
    events: std::collections::VecDeque<Event>,
    missed: u64,
}

impl EventHub {
    pub(crate) fn new(meter: Option<std::sync::Arc<crate::fleet::FleetCounters>>, capacity: usize) -> EventHub {
        EventHub { listeners: Default::default(), meter, capacity }
    }

    /// A new listener that sees every event from now on.
    pub fn listen(&self) -> std::sync::Arc<EventQueue> {
        let q = std::sync::Arc::new(EventQueue {
            state: Default::default(),
            ready: tokio::sync::Notify::new(),
            capacity: self.capacity,
        });
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        listeners.retain(|w| w.strong_count() > 0);
        listeners.push(std::sync::Arc::downgrade(&q));
        q
    }

    /// Delivers `event` to every listener still there.
    pub fn send(&self, event: Event) {
        if let Some(meter) = &self.meter {
            meter.event(&event);
        }
        let listeners: Vec<_> = {
            let l = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
            l.iter().filter_map(|w| w.upgrade()).collect()
        };
        for q in listeners {
            q.push(event.clone());
        }
    }
}

impl EventQueue {
    fn push(&self, event: Event) {
        {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if self.capacity == 0 {
                s.missed += 1;
            } else {
                if s.events.len() >= self.capacity {
                    s.events.pop_front();
                    s.missed += 1;
                }
                s.events.push_back(event);
            }
        }
        self.ready.notify_one();
    }

    /// The next event if one waits (a pending [`Event::Lagged`] first).
    pub fn try_next(&self) -> Option<Event> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.missed > 0 {
            let missed = std::mem::take(&mut s.missed);
            return Some(Event::Lagged { missed });
        }
        let e = s.events.pop_front();
        if s.events.capacity() > 64 && s.events.len() < s.events.capacity() / 4 {
            // Give back what a burst took.
            let keep = s.events.len().max(16);
            s.events.shrink_to(keep);
        }
        e
    }

    /// Waits for the next event.
    pub async fn next(&self) -> Event {
        loop {
            let notified = self.ready.notified();
            if let Some(e) = self.try_next() {
                return e;
            }
            notified.await;
        }
    }
}
