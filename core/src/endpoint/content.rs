//! The endpoint's subscriptions and what arrives on them (CLIENT-NOTES.md §7, §9; REFERENCE.md
//! §5–§8): SUBSCRIBE headers per event package, piggy-backed first NOTIFYs
//! (`ms-piggyback-first-notify`: the 200 OK carries the first body), refreshes, and the documents
//! each package delivers: provisioning, contact lists and deltas, roaming-self and presence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::dialog::Dialog;
use super::{Endpoint, Pending, SubKind, Subscription};
use crate::contacts::ContactChange;
use crate::dialplan;
use crate::events::Event;
use crate::presence::{self, ContactPresence};
use crate::provisioning;
use crate::sip::{Message, Method, Uri};

use crate::contacts;

/// When to refresh a subscription granted for `expires` seconds: SIPE refreshes 120 s early when
/// it lasts longer than 240 s, else at half its life.
fn subscription_refresh(expires: u32) -> Duration {
    Duration::from_secs(u64::from(if expires > 240 { expires - 120 } else { (expires / 2).max(1) }))
}

impl Endpoint {
    /// Opens a subscription of `kind` (for presence: to `resources`).
    pub(super) fn subscribe(&mut self, kind: SubKind, resources: Vec<String>, now: Instant) {
        let remote = match &kind {
            // MS-PRES 3.4.5.1.3: the resubscription goes to the pool that serves the contacts.
            SubKind::Presence { pool: Some(pool) } => Uri::parse(&format!("sip:{pool}")).ok(),
            SubKind::PresenceOf { uri } => Uri::parse(uri).ok(),
            _ => None,
        }
        .unwrap_or_else(|| self.cfg.aor.clone());
        let dialog = Dialog::new(self.cfg.aor.clone(), remote, self.cfg.epid.clone(), &self.cfg.sent_by);
        self.subscriptions.push(Subscription { kind, dialog, refresh_at: None, resources, confirmed: false });
        let i = self.subscriptions.len() - 1;
        self.send_subscribe(i, None, now);
    }

    fn send_subscribe(&mut self, i: usize, expires: Option<u32>, now: Instant) {
        let req = self.subscribe_request(i, expires);
        let call_id = self.subscriptions[i].dialog.call_id().to_string();
        self.send_request(req, Pending::Subscribe { call_id }, now);
    }

    /// The SUBSCRIBE (initial, refresh, or with `Some(0)` the unsubscribe) for subscription `i`.
    pub(super) fn subscribe_request(&mut self, i: usize, expires: Option<u32>) -> Message {
        let action_id = self.next_presence_action;
        self.next_presence_action = self.next_presence_action.wrapping_add(1);
        let aor = self.cfg.aor.as_str().to_string();
        let contact = self.contact.clone();
        let sub = &mut self.subscriptions[i];
        let mut req = sub.dialog.request(Method::Subscribe).with_header("Contact", &contact);
        // Each option tag on its own line, as SIPE and Lync send them (SIPE compares whole header
        // values; CLIENT-NOTES §7.1). Roaming-self announces the options every self subscription does.
        let (accept, supported) = match &sub.kind {
            SubKind::Provisioning => (provisioning::ACCEPT, provisioning::SUPPORTED),
            SubKind::Contacts => (contacts::ACCEPT, contacts::SUPPORTED),
            SubKind::SelfData => (presence::CONTENT_TYPE_ROAMING_SELF, provisioning::SUPPORTED),
            SubKind::Presence { .. } | SubKind::PresenceOf { .. } => {
                (presence::BATCH_SUBSCRIBE_ACCEPT, presence::BATCH_SUBSCRIBE_SUPPORTED)
            }
        };
        req = req.with_header("Event", sub.kind.event()).with_header("Accept", accept);
        for s in supported {
            req = req.with_header("Supported", s);
        }
        req = req.with_header("Proxy-Require", presence::BATCH_SUBSCRIBE_PROXY_REQUIRE);
        match &sub.kind {
            SubKind::Provisioning => {
                let groups: Vec<&str> = provisioning::DEFAULT_GROUPS.to_vec();
                req = req
                    .with_header("Expires", &provisioning::EXPIRES.to_string())
                    .with_body(provisioning::CONTENT_TYPE, provisioning::request_body(&groups));
            }
            // Its Supported list includes `ms-ucs`: Lync 2013 can read a Unified Contact Store answer.
            SubKind::Contacts => {}
            SubKind::SelfData => {
                req = req.with_body(presence::CONTENT_TYPE_ROAMING_SELF, presence::roaming_self_request_body())
            }
            SubKind::Presence { .. } | SubKind::PresenceOf { .. } => {
                req = req.with_header("Require", presence::BATCH_SUBSCRIBE_REQUIRE);
                let body = presence::batch_subscribe_body(&aor, &sub.resources, action_id);
                req = req.with_body(presence::CONTENT_TYPE_BATCH_SUBSCRIBE, body);
            }
        }
        if let Some(e) = expires
            && sub.kind != SubKind::Provisioning
        {
            req = req.with_header("Expires", &e.to_string());
        }
        req
    }

    pub(super) fn refresh_subscription(&mut self, i: usize, now: Instant) {
        self.send_subscribe(i, None, now);
    }

    pub(super) fn on_subscribe_response(&mut self, call_id: &str, resp: &Message, now: Instant) {
        let Some(i) = self.subscriptions.iter().position(|s| s.dialog.call_id() == call_id) else { return };
        let code = resp.status().unwrap_or(0);
        let kind = self.subscriptions[i].kind.clone();
        if !(200..300).contains(&code) {
            let sub = self.subscriptions.remove(i);
            tracing::warn!(kind = ?sub.kind, code, "a subscription was refused");
            // CLIENT-NOTES §7.1: 488 on roaming-contacts from a Lync 2013 pool means the list is in
            // Exchange (Unified Contact Store).
            if kind == SubKind::Contacts && code == 488 {
                self.events.push_back(Event::ContactsInExchange);
                // Changes waiting for the list can never be made over SIP.
                for (id, _) in std::mem::take(&mut self.state.queued) {
                    self.completions.push_back((id, Err(super::CommandError::ContactsInExchange)));
                }
            }
            return;
        }
        let sub = &mut self.subscriptions[i];
        sub.dialog.confirm(resp);
        sub.confirmed = true;
        let expires = resp.expires().ok().flatten().unwrap_or(0);
        sub.refresh_at = (expires > 0 && kind != SubKind::Provisioning).then(|| now + subscription_refresh(expires));
        // ms-piggyback-first-notify: the 200 OK carries the first notification: its body, and the headers a NOTIFY
        // has ([MS-SIP] 3.3.5.1 and [MS-PRES] 4.11 show `Event` and `subscription-state` on it). Read it only as
        // pidgin-sipe does (sipe-subscriptions.c process_subscribe_response → sipe-notify.c process_incoming_notify):
        // marked by `ms-piggyback-cseq`, and routed by its own `Event`; a body without them is not a notification.
        let piggybacked = !resp.body.is_empty() && resp.header("ms-piggyback-cseq").is_some();
        let event = resp.header("Event").map(|e| e.split(';').next().unwrap_or("").trim());
        if piggybacked && event.is_some_and(|e| e.eq_ignore_ascii_case(kind.event())) {
            self.on_content(&kind, resp.content_type().unwrap_or(""), &resp.body, now);
        } else if !resp.body.is_empty() {
            tracing::warn!(
                kind = ?kind,
                event = event.unwrap_or("(none)"),
                piggyback_cseq = piggybacked,
                "a 200 OK to SUBSCRIBE carries a body that is not a piggy-backed notification of this subscription \
                 (no ms-piggyback-cseq, or no or another Event): ignored, as pidgin-sipe ignores it"
            );
        }
        if resp.header("subscription-state").is_some_and(|s| s.trim().to_ascii_lowercase().starts_with("terminated"))
            && kind != SubKind::Provisioning
        {
            // RFC 6665 §4.1.3: the subscription is over; SIPE forgets the dialog too.
            self.subscriptions.retain(|s| s.dialog.call_id() != call_id);
            return;
        }
        if kind == SubKind::Provisioning && !resp.body.is_empty() {
            // One-shot (Expires: 0): nothing to keep once the document is in. Without a piggy-backed
            // body it comes in a NOTIFY (RFC 6665 §4.4.3), which must still find this dialog.
            self.subscriptions.retain(|s| s.dialog.call_id() != call_id);
        }
    }

    /// A document that arrived on a subscription of `kind`.
    pub(super) fn on_content(&mut self, kind: &SubKind, content_type: &str, body: &[u8], now: Instant) {
        match kind {
            SubKind::Provisioning => self.on_provisioning(body, now),
            SubKind::Contacts => self.on_contacts(body, now),
            SubKind::SelfData => match presence::parse_roaming_self(body) {
                Ok(data) => {
                    self.state.versions.record_self(&data);
                    self.state.self_data = Some(Arc::new(data));
                    if !self.self_data_seen {
                        // CLIENT-NOTES §7.3: the first roaming-self triggers the initial publication.
                        self.self_data_seen = true;
                        self.publish_desired(None, now);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "unreadable roaming-self document"),
            },
            SubKind::Presence { .. } | SubKind::PresenceOf { .. } => self.on_presence(content_type, body, now),
        }
    }

    fn on_provisioning(&mut self, body: &[u8], now: Instant) {
        let prov = match provisioning::parse(body) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable provisioning document");
                return;
            }
        };
        let profile = prov.location_profile_name().map(str::to_string);
        self.state.provisioning = Some(Arc::new(prov));
        self.events.push_back(Event::ProvisioningUpdated { location_profile: profile.clone() });
        self.request_location_profile(profile.as_deref(), now);
    }

    /// Seed 003 stage 5: "the client sends a service message to the Front End to collect the
    /// location profile of the user"; addressed per [MS-SIPRE] 3.8.5.1 (see [`dialplan`]).
    fn request_location_profile(&mut self, name: Option<&str>, now: Instant) {
        let aor = self.cfg.aor.as_str().to_string();
        let Ok(target) = Uri::parse(&dialplan::location_profile_request_uri(&aor, name)) else { return };
        let mut dialog = Dialog::new(self.cfg.aor.clone(), target, self.cfg.epid.clone(), &self.cfg.sent_by);
        let req = dialog
            .request(Method::Service)
            .with_header("Contact", &self.contact.clone())
            .with_header("Accept", dialplan::LOCATION_PROFILE_CONTENT_TYPE);
        self.send_request(req, Pending::LocationProfile, now);
    }

    pub(super) fn on_location_profile(&mut self, resp: &Message) {
        let code = resp.status().unwrap_or(0);
        if !(200..300).contains(&code) {
            tracing::info!(code, "no location profile for this user; numbers are dialled as entered");
            return;
        }
        match self.cfg.shared.location_profile(&resp.body) {
            Ok(profile) => {
                self.events
                    .push_back(Event::LocationProfileLoaded { name: profile.name.clone(), rules: profile.rules.len() });
                self.state.location_profile = Some(profile);
            }
            Err(e) => self.events.push_back(Event::LocationProfileRefused { error: e.to_string() }),
        }
    }

    fn on_contacts(&mut self, body: &[u8], now: Instant) {
        let was_migrated = self.state.contacts.is_ucs_migrated();
        let changes = match Arc::make_mut(&mut self.state.contacts).apply(body) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable contact list document");
                return;
            }
        };
        // The first list on this connection (after a reconnect too): queued changes go out and
        // the presence subscription is (re)opened even when the list itself did not change.
        let first = !self.contacts_seen;
        self.contacts_seen = true;
        if self.state.contacts.is_ucs_migrated() && !was_migrated {
            self.events.push_back(Event::ContactsInExchange);
        }
        let mut membership_changed = first;
        for change in changes {
            membership_changed |=
                matches!(change, ContactChange::ContactAdded(_) | ContactChange::ContactRemoved { .. });
            self.events.push_back(match change {
                ContactChange::ContactAdded(contact) => Event::ContactAdded { contact },
                ContactChange::ContactRemoved { uri } => {
                    Arc::make_mut(&mut self.state.presence).remove(&uri);
                    Event::ContactRemoved { uri }
                }
                ContactChange::ContactModified { before, after } => Event::ContactModified { before, after },
                ContactChange::GroupAdded(group) => Event::GroupAdded { group },
                ContactChange::GroupRemoved { id, name } => Event::GroupRemoved { id, name },
                ContactChange::GroupModified { before, after } => Event::GroupModified { before, after },
            });
        }
        if first {
            self.send_queued(now);
        }
        if membership_changed {
            self.update_presence_subscription(now);
        }
    }

    /// Contact changes queued while disconnected (or unconfirmed when the connection dropped), sent
    /// once the fresh contact list (and its deltaNum) is known.
    fn send_queued(&mut self, now: Instant) {
        for (id, command) in std::mem::take(&mut self.state.queued) {
            self.command(id, command, now);
        }
    }

    /// One batched presence subscription for every contact and every watched person (REFERENCE §8.2); a
    /// changed list is sent as a refresh of the same dialog with the new resource list.
    pub(super) fn update_presence_subscription(&mut self, now: Instant) {
        let mut resources: Vec<String> = self.state.contacts.contacts.iter().map(|c| c.uri.clone()).collect();
        for watched in &self.state.watched {
            if !resources.iter().any(|r| r.eq_ignore_ascii_case(watched)) {
                resources.push(watched.clone());
            }
        }
        let existing = self.subscriptions.iter().position(|s| s.kind == SubKind::Presence { pool: None });
        match existing {
            Some(i) if self.subscriptions[i].resources != resources => {
                self.subscriptions[i].resources = resources;
                self.send_subscribe(i, None, now);
            }
            Some(_) => {}
            None if !resources.is_empty() => self.subscribe(SubKind::Presence { pool: None }, resources, now),
            None => {}
        }
    }

    fn on_presence(&mut self, content_type: &str, body: &[u8], now: Instant) {
        let notification = match presence::parse_presence_notify(content_type, body) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable presence notification");
                return;
            }
        };
        for presentity in notification.presentities {
            let uri = presentity.uri.clone();
            let domain = self.cfg.aor.as_sip().map(|s| s.host().to_string()).unwrap_or_default();
            let view = Arc::make_mut(&mut self.state.presence)
                .entry(uri.clone())
                .or_insert_with(|| ContactPresence::for_contact(&uri, &domain));
            let change = view.apply(&presentity.categories);
            let note = view.note.as_ref().map(|n| n.text.clone());
            let snapshot = view.clone();
            if change.presence || change.contact_card {
                self.events.push_back(Event::PresenceChanged { presence: snapshot });
            }
            if change.note {
                self.events.push_back(Event::NoteChanged { uri, note });
            }
        }
        for directive in notification.resubscribe {
            match directive.pool_fqdn {
                Some(pool) => {
                    let kind = SubKind::Presence { pool: Some(pool) };
                    self.subscriptions.retain(|s| s.kind != kind);
                    self.subscribe(kind, directive.uris, now);
                }
                // Without a pool: one SUBSCRIBE to each contact itself (CLIENT-NOTES §9.4).
                None => {
                    for uri in directive.uris {
                        let kind = SubKind::PresenceOf { uri: uri.clone() };
                        self.subscriptions.retain(|s| s.kind != kind);
                        self.subscribe(kind, vec![uri], now);
                    }
                }
            }
        }
    }
}
