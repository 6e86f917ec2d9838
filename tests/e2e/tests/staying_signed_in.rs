//! Staying signed in against the lab pool: a dropped connection and a pool restart are survived
//! (reconnect within the backoff bound, subscriptions restored, presence republished), and every
//! deregistration reason is obeyed as [MS-SIPREGE] 3.2 describes it.

use std::time::{Duration, Instant};

use sfbkit::presence::Availability;
use sfbkit::{Client, DeregistrationReason, Event, ReconnectPolicy};
use sfbkit_lab::{LabConfig, LabPool};

mod common;
use common::wait_for;

async fn bounded(test: impl std::future::Future<Output = ()>) {
    common::bounded(Duration::from_secs(90), test).await;
}

async fn signed_in(pool: &LabPool, user: &str) -> Client {
    common::signed_in(pool.client_builder(user).reconnect_policy(POLICY), user).await
}

const POLICY: ReconnectPolicy =
    ReconnectPolicy { initial: Duration::from_millis(200), max: Duration::from_secs(2), jitter: 0.2 };

fn sees(e: &Event, uri: &str, availability: Availability) -> bool {
    matches!(e, Event::PresenceChanged { presence } if presence.uri == uri && presence.availability == Some(availability))
}

const ALICE: &str = "sip:alice@contoso.lab";
const BOB: &str = "sip:bob@contoso.lab";

/// alice and bob, each watching the other, alice Busy with a note.
async fn two_watching_each_other(pool: &LabPool) -> (Client, Client) {
    let alice = signed_in(pool, ALICE).await;
    let bob = signed_in(pool, BOB).await;
    wait_for(&bob, "bob's contact list", |e| matches!(e, Event::LocationProfileLoaded { .. })).await;
    bob.add_contact(ALICE, "Alice", None).await.expect("bob adds alice");
    alice.set_presence(Availability::Busy, None).await.expect("alice is busy");
    alice.set_note(Some("Back in five")).await.expect("alice's note");
    wait_for(&bob, "alice busy", |e| sees(e, ALICE, Availability::Busy)).await;
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_restored_within_the_backoff_bound_and_nothing_is_lost() {
    bounded(async {
        let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
        let (alice, bob) = two_watching_each_other(&pool).await;

        let dropped = Instant::now();
        assert_eq!(pool.drop_connections(ALICE), 1);
        wait_for(&alice, "the loss", |e| matches!(e, Event::ConnectionLost { .. })).await;
        let (restored, seen) =
            wait_for(&alice, "the reconnect", |e| matches!(e, Event::ConnectionRestored { .. })).await;
        let Event::ConnectionRestored { attempts, downtime_ms } = restored else { unreachable!() };
        let first_delay = seen.iter().find_map(|e| match e {
            Event::Reconnecting { attempt: 1, delay_ms, .. } => Some(*delay_ms),
            _ => None,
        });
        let first_delay = first_delay.expect("a Reconnecting event before the first attempt");
        assert!(first_delay <= 240, "first delay {first_delay} ms is within 200 ms ± 20 %");
        assert_eq!(attempts, 1, "the pool is up: the first attempt works");
        // The bound: the first delay plus one sign-in (loopback: well under 5 s).
        assert!(downtime_ms < first_delay + 5_000, "back after {downtime_ms} ms");
        assert!(dropped.elapsed() < Duration::from_secs(10));

        // Her subscriptions are back: bob going away reaches her.
        bob.set_presence(Availability::Away, None).await.expect("bob away");
        wait_for(&alice, "bob away after the reconnect", |e| sees(e, BOB, Availability::Away)).await;
        // Her presence was republished: bob sees her as she was (busy, with her note).
        let (_, _) = wait_for(&bob, "alice busy again", |e| sees(e, ALICE, Availability::Busy)).await;
        let view = bob.presence_of(ALICE).expect("bob keeps alice's presence");
        assert_eq!(view.note.map(|n| n.text).as_deref(), Some("Back in five"));
        assert!(alice.is_signed_in());
        alice.sign_out().await.expect("alice signs out");
        bob.sign_out().await.expect("bob signs out");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_restart_is_survived_by_every_endpoint() {
    bounded(async {
        let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
        let (alice, bob) = two_watching_each_other(&pool).await;
        assert_eq!(pool.restart_sip(Duration::from_millis(800)), 2);
        let (restored, seen) = wait_for(&alice, "alice back", |e| matches!(e, Event::ConnectionRestored { .. })).await;
        let Event::ConnectionRestored { downtime_ms, .. } = restored else { unreachable!() };
        assert!(downtime_ms >= 700, "the pool refused connections for 800 ms, yet back after {downtime_ms} ms");
        assert!(seen.iter().any(|e| matches!(e, Event::Reconnecting { .. })));
        wait_for(&bob, "bob back", |e| matches!(e, Event::ConnectionRestored { .. })).await;
        // Both resubscribed: a change on one side reaches the other.
        alice.set_presence(Availability::DoNotDisturb, None).await.expect("alice publishes after the restart");
        wait_for(&bob, "alice DND after the restart", |e| sees(e, ALICE, Availability::DoNotDisturb)).await;
        let view = bob.presence_of(ALICE).expect("bob keeps alice's presence");
        assert_eq!(view.note.map(|n| n.text).as_deref(), Some("Back in five"), "her note was republished");
        alice.sign_out().await.unwrap();
        bob.sign_out().await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_disabled_after_sign_in_is_deregistered_with_4141_and_stays_out() {
    bounded(async {
        let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
        let alice = signed_in(&pool, ALICE).await;
        wait_for(&alice, "the dial plan", |e| matches!(e, Event::LocationProfileLoaded { .. })).await;
        assert_eq!(pool.disable_user(ALICE), 1);
        let (dereg, _) = wait_for(&alice, "the deregistration", |e| matches!(e, Event::Deregistered { .. })).await;
        assert_eq!(
            dereg,
            Event::Deregistered {
                reason: DeregistrationReason::Rejected,
                diagnostics_code: Some(4141),
                diagnostics_reason: Some("User disabled".into()),
                reconnecting: false,
            }
        );
        // No reconnect: the driver stops.
        tokio::time::timeout(Duration::from_secs(5), async {
            while alice.is_signed_in() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("alice is signed out");
        assert!(matches!(alice.keep_alive().await, Err(sfbkit::ClientError::NotSignedIn)));
        // Signing in again is refused with the same code.
        let again = pool.client_builder(ALICE).build().unwrap();
        let report = again.sign_in().await;
        assert!(!report.is_success());
        assert_eq!(report.error_class(), Some("disabled-user"), "{}", report.to_text());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_deregistration_reason_is_obeyed() {
    bounded(async {
        let pool = LabPool::start(LabConfig::default()).await.expect("lab pool");
        // Deactivated (moved to another pool) and a preferred-registrar change: signed in again.
        for (reason, expected) in [
            ("deactivated", DeregistrationReason::Deactivated),
            (
                "preferred-registrar-change",
                DeregistrationReason::PreferredRegistrarChange { registrar: Some("pool01.contoso.lab".into()) },
            ),
        ] {
            let alice = signed_in(&pool, ALICE).await;
            wait_for(&alice, "the dial plan", |e| matches!(e, Event::LocationProfileLoaded { .. })).await;
            assert_eq!(pool.deregister(ALICE, reason, Some("pool01.contoso.lab")), 1);
            let (dereg, _) = wait_for(&alice, reason, |e| matches!(e, Event::Deregistered { .. })).await;
            let Event::Deregistered { reason: got, reconnecting, .. } = dereg else { unreachable!() };
            assert_eq!(got, expected);
            assert!(reconnecting);
            wait_for(&alice, "signed in again", |e| matches!(e, Event::ConnectionRestored { .. })).await;
            alice.sign_out().await.expect("sign-out");
        }
        // Unregistered (signed in elsewhere, endpoint quota): not retried.
        let alice = signed_in(&pool, ALICE).await;
        wait_for(&alice, "the dial plan", |e| matches!(e, Event::LocationProfileLoaded { .. })).await;
        pool.deregister(ALICE, "unregistered", None);
        let (dereg, _) = wait_for(&alice, "unregistered", |e| matches!(e, Event::Deregistered { .. })).await;
        assert!(matches!(
            dereg,
            Event::Deregistered { reason: DeregistrationReason::Unregistered, reconnecting: false, .. }
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!alice.is_signed_in(), "an unregistered endpoint does not push the other one out");
        assert!(
            alice.try_next_event().await.is_none_or(|e| !matches!(e, Event::Reconnecting { .. })),
            "no reconnect attempt"
        );
    })
    .await;
}
