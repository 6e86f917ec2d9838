//! A per-contact presence view folded from notifications, and the same-enterprise/federated distinction
//! (CLIENT-NOTES §9.4 for the fields a client shows; REFERENCE §8.1 for aggregation).
//!
//! Watchers normally receive the server's `aggregateState` (the aggregation script's verdict over all of the
//! contact's endpoints) and that is what [`ContactPresence`] shows. When a contact's categories carry no
//! aggregate (older servers, or a subscription to a single endpoint's publications), the view falls back to:
//! the `userState` (the status the user chose, which Lync's aggregation lets override machine activity),
//! otherwise the highest availability number among the other states (the aggregation keeps the least available
//! signal: a `phoneState` of 6500 "on the phone" beats a `machineState` of 3500 "active").
//!
//! The note shown is the most recently published non-empty one (ISO 8601 `publishTime` strings sort in time
//! order), as pidgin-sipe does, whether personal or OOF.

use super::{Availability, Category, CategoryValue, Note, Phone, StateKind, StateValue};

/// What changed in a [`ContactPresence::apply`], so a caller can raise the matching events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PresenceChange {
    /// Availability, activity, custom activity text or device changed.
    pub presence: bool,
    pub note: bool,
    /// Display name, email, title, company or phones changed.
    pub contact_card: bool,
}

impl PresenceChange {
    /// Whether anything visible changed.
    pub fn any(&self) -> bool {
        self.presence || self.note || self.contact_card
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HeldState {
    instance: Option<u32>,
    value: StateValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HeldNote {
    instance: Option<u32>,
    publish_time: Option<String>,
    note: Note,
}

/// What an application shows for one contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactPresence {
    pub uri: String,
    pub availability: Option<Availability>,
    pub availability_value: Option<u32>,
    pub activity: Option<String>,
    /// Free text the contact set as activity; overrides the token's display text.
    pub custom_activity: Option<String>,
    /// E.g. `Mobile`.
    pub device: Option<String>,
    pub note: Option<Note>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub phones: Vec<Phone>,
    /// A contact outside the user's own SIP domain (federated, [`is_federated`]): such a watcher
    /// sees the External container (100), a colleague the Company one (200).
    pub federated: bool,
    #[serde(skip)]
    states: Vec<HeldState>,
    #[serde(skip)]
    notes: Vec<HeldNote>,
}

impl ContactPresence {
    pub fn new(uri: &str) -> ContactPresence {
        ContactPresence {
            uri: uri.to_owned(),
            availability: None,
            availability_value: None,
            activity: None,
            custom_activity: None,
            device: None,
            note: None,
            display_name: None,
            email: None,
            title: None,
            company: None,
            phones: Vec::new(),
            federated: false,
            states: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A view for `uri`, marked federated when its domain is not `own_domain`.
    pub fn for_contact(uri: &str, own_domain: &str) -> ContactPresence {
        ContactPresence { federated: is_federated(uri, own_domain), ..ContactPresence::new(uri) }
    }

    /// Folds a notification's categories for this contact into the view and says what visibly changed.
    ///
    /// A category instance replaces the previous value of the same instance; an empty category element removes
    /// it (all instances of that category when it names none). Contact card fields are merged: a card instance
    /// that lacks a field leaves the field as it was.
    pub fn apply(&mut self, categories: &[Category]) -> PresenceChange {
        let before = self.clone();
        for c in categories {
            match (&c.value, c.name.as_str()) {
                (CategoryValue::State(s), _) => {
                    self.states.retain(|h| h.instance != c.instance);
                    self.states.push(HeldState { instance: c.instance, value: s.clone() });
                }
                (CategoryValue::Note(n), _) => {
                    self.notes.retain(|h| h.instance != c.instance);
                    self.notes.push(HeldNote {
                        instance: c.instance,
                        publish_time: c.publish_time.clone(),
                        note: n.clone(),
                    });
                }
                (CategoryValue::ContactCard(card), _) => {
                    merge(&mut self.display_name, &card.display_name);
                    merge(&mut self.email, &card.email);
                    merge(&mut self.title, &card.title);
                    merge(&mut self.company, &card.company);
                    if !card.phones.is_empty() {
                        self.phones = card.phones.clone();
                    }
                }
                (CategoryValue::Empty, "state") => {
                    self.states.retain(|h| c.instance.is_some() && h.instance != c.instance)
                }
                (CategoryValue::Empty, "note") => {
                    self.notes.retain(|h| c.instance.is_some() && h.instance != c.instance)
                }
                _ => {}
            }
        }
        self.recompute();
        PresenceChange {
            presence: (&before.availability_value, &before.activity, &before.custom_activity, &before.device)
                != (&self.availability_value, &self.activity, &self.custom_activity, &self.device),
            note: before.note != self.note,
            contact_card: (&before.display_name, &before.email, &before.title, &before.company, &before.phones)
                != (&self.display_name, &self.email, &self.title, &self.company, &self.phones),
        }
    }

    fn recompute(&mut self) {
        let shown = self.states.iter().rev().find(|h| h.value.kind == StateKind::AggregateState).or_else(|| {
            self.states.iter().rev().find(|h| h.value.kind == StateKind::UserState && h.value.availability.is_some())
        });
        let shown = shown.or_else(|| {
            self.states
                .iter()
                .filter(|h| h.value.availability.is_some())
                .max_by_key(|h| h.value.availability.unwrap_or(0))
        });
        let value = shown.map(|h| &h.value);
        self.availability_value = value.and_then(|v| v.availability);
        self.availability = self.availability_value.map(Availability::from_value);
        self.activity = value.and_then(|v| v.activity.clone());
        self.custom_activity = value.and_then(|v| v.custom_activity.clone());
        self.device = value.and_then(|v| v.device.clone());
        self.note = self
            .notes
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.note.text.is_empty())
            .max_by(|(i, a), (j, b)| a.publish_time.cmp(&b.publish_time).then(i.cmp(j)))
            .map(|(_, h)| h.note.clone());
    }
}

fn merge(field: &mut Option<String>, update: &Option<String>) {
    if update.is_some() {
        field.clone_from(update);
    }
}

/// Whether `contact_uri` is outside the user's own SIP domain (`own_domain`, e.g. `contoso.com`): a federated
/// contact, who sees the External (100) container and crosses an Edge server.
///
/// Decided by the domain part alone, compared case-insensitively and exactly: Skype for Business treats each SIP
/// domain of a deployment as a separate exact name (a subdomain is another domain), so a deployment with several
/// SIP domains must check each. `sip:`/`sips:` prefixes, URI parameters and a port are ignored. A URI without a
/// `user@domain` part is not called federated.
pub fn is_federated(contact_uri: &str, own_domain: &str) -> bool {
    let uri = contact_uri.trim();
    let uri = uri.strip_prefix("sip:").or_else(|| uri.strip_prefix("sips:")).unwrap_or(uri);
    let Some((_, host)) = uri.rsplit_once('@') else { return false };
    let host = host.split([';', '?', '>']).next().unwrap_or("");
    let host = host.split(':').next().unwrap_or("");
    !host.is_empty() && !host.eq_ignore_ascii_case(own_domain.trim())
}

#[cfg(test)]
#[path = "contact_tests.rs"]
mod tests;
