//! Tests of `contact.rs`.

use super::*;
use crate::presence::{ContactCard, NoteKind, StateValue};

fn state(kind: StateKind, instance: u32, availability: u32, activity: Option<&str>) -> Category {
    Category {
        name: "state".into(),
        instance: Some(instance),
        container: None,
        version: None,
        publish_time: None,
        expire_type: None,
        value: CategoryValue::State(StateValue {
            kind,
            manual: None,
            availability: Some(availability),
            activity: activity.map(str::to_owned),
            custom_activity: None,
            device: None,
            meeting_subject: None,
            meeting_location: None,
            last_active: None,
        }),
        raw_xml: String::new(),
    }
}

fn note(instance: Option<u32>, time: &str, text: Option<&str>, kind: NoteKind) -> Category {
    Category {
        name: "note".into(),
        instance,
        container: None,
        version: None,
        publish_time: Some(time.into()),
        expire_type: None,
        value: text.map_or(CategoryValue::Empty, |t| CategoryValue::Note(Note { text: t.into(), kind })),
        raw_xml: String::new(),
    }
}

#[test]
fn shows_the_aggregate_state_and_reports_changes() {
    let mut c = ContactPresence::new("sip:bob@contoso.lab");
    let change = c.apply(&[state(StateKind::AggregateState, 0, 3500, None)]);
    assert_eq!(change, PresenceChange { presence: true, note: false, contact_card: false });
    assert_eq!(c.availability, Some(Availability::Available));
    assert_eq!(c.availability_value, Some(3500));
    // The same value again: nothing visible changed.
    assert!(!c.apply(&[state(StateKind::AggregateState, 0, 3500, None)]).any());
    // An endpoint state does not override the server's aggregate.
    assert!(!c.apply(&[state(StateKind::MachineState, 0x3000_0001, 15500, None)]).any());
    let change = c.apply(&[state(StateKind::AggregateState, 0, 6500, Some("on-the-phone"))]);
    assert!(change.presence && !change.note);
    assert_eq!((c.availability, c.activity.as_deref()), (Some(Availability::Busy), Some("on-the-phone")));
}

#[test]
fn without_an_aggregate_the_user_state_then_the_busiest_state_wins() {
    let mut c = ContactPresence::new("sip:bob@contoso.lab");
    c.apply(&[
        state(StateKind::MachineState, 0x3000_0001, 3500, None),
        state(StateKind::PhoneState, 0x8000_0001, 6500, Some("on-the-phone")),
    ]);
    assert_eq!((c.availability_value, c.activity.as_deref()), (Some(6500), Some("on-the-phone")));
    c.apply(&[state(StateKind::UserState, 0x2000_0000, 9500, None)]);
    assert_eq!(c.availability, Some(Availability::DoNotDisturb));
    // Removing the user state (an empty category for its instance) falls back again.
    let mut removed = state(StateKind::UserState, 0x2000_0000, 0, None);
    removed.value = CategoryValue::Empty;
    assert!(c.apply(&[removed]).presence);
    assert_eq!(c.availability_value, Some(6500));
}

#[test]
fn tracks_the_latest_note_and_its_removal() {
    let mut c = ContactPresence::new("sip:bob@contoso.lab");
    let change = c.apply(&[note(Some(0), "2026-11-22T05:00:00Z", Some("Lunch"), NoteKind::Personal)]);
    assert_eq!(change, PresenceChange { presence: false, note: true, contact_card: false });
    c.apply(&[note(Some(7), "2026-11-22T06:00:00Z", Some("On leave"), NoteKind::Oof)]);
    assert_eq!(c.note, Some(Note { text: "On leave".into(), kind: NoteKind::Oof }));
    assert!(c.apply(&[note(Some(7), "2026-11-22T06:00:00Z", None, NoteKind::Oof)]).note);
    assert_eq!(c.note.as_ref().map(|n| n.text.as_str()), Some("Lunch"));
    // `<category name="note"/>` without an instance clears every note.
    assert!(c.apply(&[note(None, "", None, NoteKind::Personal)]).note);
    assert_eq!(c.note, None);
}

#[test]
fn merges_contact_card_instances() {
    let mut c = ContactPresence::new("sip:bob@contoso.lab");
    let card = |card: ContactCard| Category {
        name: "contactCard".into(),
        instance: Some(0),
        container: None,
        version: None,
        publish_time: None,
        expire_type: None,
        value: CategoryValue::ContactCard(card),
        raw_xml: String::new(),
    };
    let change = c.apply(&[card(ContactCard { display_name: Some("Bob".into()), ..ContactCard::default() })]);
    assert_eq!(change, PresenceChange { presence: false, note: false, contact_card: true });
    c.apply(&[card(ContactCard { title: Some("Engineer".into()), ..ContactCard::default() })]);
    assert_eq!((c.display_name.as_deref(), c.title.as_deref()), (Some("Bob"), Some("Engineer")));
}

#[test]
fn tells_federated_contacts_by_domain() {
    assert!(!is_federated("sip:bob@contoso.com", "contoso.com"));
    assert!(!is_federated("sip:Bob@CONTOSO.com;transport=tls", "Contoso.COM"));
    assert!(!is_federated("bob@contoso.com:5061", "contoso.com"));
    assert!(is_federated("sip:carol@fabrikam.com", "contoso.com"));
    assert!(is_federated("sip:dan@eu.contoso.com", "contoso.com"));
    assert!(is_federated("sips:erin@gmail.com", "contoso.com"));
    assert!(!is_federated("sip:contoso.com", "contoso.com"));
    assert!(!is_federated("sip:bob@", "contoso.com"));
}
