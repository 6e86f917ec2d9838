//! After sign-in, against the lab pool: provisioning and the dial plan arrive, alice sees bob's
//! presence and note as he publishes them, contact list changes survive sign-out and sign-in.

use std::time::Duration;

use sfbkit::presence::Availability;
use sfbkit::{Client, Event};
use sfbkit_lab::{LabConfig, LabPool};

mod common;
use common::wait_for;

async fn bounded(test: impl std::future::Future<Output = ()>) {
    common::bounded(Duration::from_secs(60), test).await;
}

async fn signed_in(pool: &LabPool, user: &str) -> Client {
    common::signed_in(pool.client_builder(user), user).await
}

fn is_bob(e: &Event, availability: Availability) -> bool {
    matches!(e, Event::PresenceChanged { presence }
        if presence.uri == "sip:bob@contoso.lab" && presence.availability == Some(availability))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_sees_bob_busy_with_a_note_within_one_notify() {
    bounded(alice_sees_bob_busy_with_a_note_within_one_notify_steps()).await;
}

async fn alice_sees_bob_busy_with_a_note_within_one_notify_steps() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let alice = signed_in(&pool, "sip:alice@contoso.lab").await;
    // Her contact list (bob, in Colleagues) arrives, then bob's presence: online once he signs in.
    let (added, _) = wait_for(
        &alice,
        "bob in alice's contact list",
        |e| matches!(e, Event::ContactAdded { contact } if contact.uri == "sip:bob@contoso.lab"),
    )
    .await;
    let Event::ContactAdded { contact } = added else { unreachable!() };
    let colleagues = alice.contacts().groups.iter().find(|g| g.name == "Colleagues").map(|g| g.id);
    assert_eq!(contact.groups, colleagues.into_iter().collect::<Vec<_>>());

    let bob = signed_in(&pool, "sip:bob@contoso.lab").await;
    wait_for(&alice, "bob online", |e| is_bob(e, Availability::Available)).await;

    bob.set_presence(Availability::Busy, None).await.expect("bob publishes Busy");
    bob.set_note(Some("Testing the lab pool")).await.expect("bob publishes a note");
    let (busy, _) = wait_for(&alice, "bob busy", |e| is_bob(e, Availability::Busy)).await;
    let Event::PresenceChanged { presence } = busy else { unreachable!() };
    assert_eq!(presence.availability_value, Some(6500), "the server's aggregate of a Busy userState");
    let (note, _) =
        wait_for(&alice, "bob's note", |e| matches!(e, Event::NoteChanged { uri, .. } if uri == "sip:bob@contoso.lab"))
            .await;
    assert_eq!(
        note,
        Event::NoteChanged { uri: "sip:bob@contoso.lab".into(), note: Some("Testing the lab pool".into()) }
    );
    let view = alice.presence_of("bob@contoso.lab").expect("bob's presence is kept");
    assert_eq!(view.availability, Some(Availability::Busy));
    assert_eq!(view.note.map(|n| n.text).as_deref(), Some("Testing the lab pool"));

    // Bob signs out: his endpoint's publications go, alice sees him offline.
    bob.sign_out().await.expect("bob signs out");
    wait_for(&alice, "bob offline", |e| is_bob(e, Availability::Offline)).await;
    alice.sign_out().await.expect("alice signs out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_and_the_dial_plan_arrive_after_sign_in() {
    bounded(provisioning_and_the_dial_plan_arrive_after_sign_in_steps()).await;
}

async fn provisioning_and_the_dial_plan_arrive_after_sign_in_steps() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let alice = signed_in(&pool, "sip:alice@contoso.lab").await;
    let (loaded, _) =
        wait_for(&alice, "the location profile", |e| matches!(e, Event::LocationProfileLoaded { .. })).await;
    let Event::LocationProfileLoaded { name, rules } = loaded else { unreachable!() };
    assert_eq!(rules, 5, "seed 003's UK dial plan has five rules");
    let prov = alice.provisioning().expect("provisioning arrived before the profile");
    assert_eq!(prov.location_profile_name(), Some(name.as_str()));
    let n = alice.normalize("01785 123456").expect("profile loaded");
    assert_eq!(n.output.as_deref(), Some("+441785123456"));
    alice.sign_out().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_changes_survive_sign_out_and_sign_in() {
    bounded(contact_changes_survive_sign_out_and_sign_in_steps()).await;
}

async fn contact_changes_survive_sign_out_and_sign_in_steps() {
    let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
    let alice = signed_in(&pool, "sip:alice@contoso.lab").await;
    wait_for(&alice, "the contact list", |e| matches!(e, Event::ContactAdded { .. })).await;

    let group = alice.add_group("Lab friends").await.expect("group added");
    wait_for(&alice, "the new group", |e| matches!(e, Event::GroupAdded { group: g } if g.id == group)).await;
    alice.add_contact("sip:carol@contoso.lab", "Carol", Some("Lab friends")).await.expect("carol added");
    let (added, _) = wait_for(
        &alice,
        "carol added",
        |e| matches!(e, Event::ContactAdded { contact } if contact.uri == "sip:carol@contoso.lab"),
    )
    .await;
    let Event::ContactAdded { contact } = added else { unreachable!() };
    assert_eq!(contact.groups, vec![group]);
    alice.remove_contact("sip:bob@contoso.lab").await.expect("bob removed");
    wait_for(&alice, "bob removed", |e| matches!(e, Event::ContactRemoved { uri } if uri == "sip:bob@contoso.lab"))
        .await;
    alice.sign_out().await.expect("sign-out");

    // A new endpoint for alice finds the list as she left it.
    let again = signed_in(&pool, "sip:alice@contoso.lab").await;
    wait_for(
        &again,
        "carol in the list",
        |e| matches!(e, Event::ContactAdded { contact } if contact.uri == "sip:carol@contoso.lab"),
    )
    .await;
    let list = again.contacts();
    assert!(list.contact("sip:carol@contoso.lab").is_some());
    assert!(list.contact("sip:bob@contoso.lab").is_none(), "bob stays removed: {list:#?}");
    assert!(list.groups.iter().any(|g| g.name == "Lab friends"));
    again.sign_out().await.unwrap();
}
