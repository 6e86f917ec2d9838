//! A fleet of endpoints against the lab pool: paced sign-ins, and the stress tool's counters taken from what
//! really happened on the wire (logons, failures, response codes per operation, disconnects, reconnects).

use std::time::{Duration, Instant};

use sfbkit::fleet::{Fleet, FleetOptions};
use sfbkit::{Event, ReconnectPolicy};
use sfbkit_lab::{Fault, LabConfig, LabPool, LabUser};

#[allow(dead_code)] // signed_in: the fleet signs its clients in itself
mod common;
use common::wait_for;

fn users(n: usize) -> Vec<LabUser> {
    (0..n).map(|i| LabUser::new(&format!("sip:user{i}@contoso.lab"), &format!("User {i}"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_paces_sign_ins_and_counts_logons_failures_and_response_codes() {
    common::bounded(Duration::from_secs(120), async {
        let mut config = LabConfig::default().with_fault(Fault::NtlmOnly);
        config.users = users(6);
        let pool = LabPool::start(config).await.expect("lab pool");
        let fleet =
            Fleet::new(FleetOptions { sign_ins_per_second: Some(20.0), max_in_flight: 4, ..Default::default() });
        for i in 0..6 {
            fleet.add(pool.client_builder(&format!("sip:user{i}@contoso.lab"))).expect("client");
        }
        // Not in the directory: the registrar refuses it.
        let stranger = fleet
            .add(pool.client_builder("sip:stranger@contoso.lab").credentials("CONTOSO\\stranger", "Not-A-Passw0rd"))
            .expect("client");

        let started = Instant::now();
        let signed_in = fleet.sign_in_all().await;
        let took = started.elapsed();
        assert_eq!(signed_in, 6, "{:?}", fleet.stats());
        assert!(!stranger.is_signed_in());
        // Seven starts at 20 per second: the last starts 300 ms after the first, at the earliest.
        assert!(took >= Duration::from_millis(300), "seven sign-ins paced at 20/s took only {took:?}");

        let stats = fleet.stats();
        assert_eq!((stats.endpoints, stats.active_endpoints), (7, 6), "{stats:?}");
        assert_eq!((stats.logon_attempts, stats.logon_failures), (7, 1), "{stats:?}");
        let register = &stats.responses["REGISTER"];
        assert_eq!(register.get(&200), Some(&6), "one final 200 per signed-in endpoint: {stats:?}");
        assert!(register.get(&401).copied().unwrap_or(0) >= 6, "NTLM's challenges are counted: {stats:?}");
        assert!(
            stats.responses.keys().any(|op| op.starts_with("HTTP GET /autodiscover/")),
            "autodiscover's responses are counted: {:?}",
            stats.responses.keys()
        );
        assert_eq!(stats.disconnects, 0);

        // A report for one sign-in, through the fleet's pacer: already signed in.
        let again = fleet.sign_in(&fleet.endpoints_now()[0]).await;
        assert!(!again.is_success());

        fleet.sign_out_all().await;
        let after = fleet.stats();
        assert_eq!(after.active_endpoints, 0, "{after:?}");
        assert!(after.responses["REGISTER"].get(&200).copied().unwrap_or(0) >= 12, "sign-outs' 200s: {after:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_counted_as_a_disconnect_and_its_recovery_as_a_reconnect() {
    common::bounded(Duration::from_secs(90), async {
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly).with_fault(Fault::DropConnection))
            .await
            .expect("lab pool");
        let fleet = Fleet::new(FleetOptions { sign_ins_per_second: None, max_in_flight: 8, ..Default::default() });
        let policy = ReconnectPolicy { initial: Duration::from_millis(200), max: Duration::from_secs(2), jitter: 0.2 };
        let alice = fleet.add(pool.client_builder("sip:alice@contoso.lab").reconnect_policy(policy)).expect("client");
        let report = fleet.sign_in(&alice).await;
        assert!(report.is_success(), "{}", report.to_text());
        wait_for(&alice, "the connection restored", |e| matches!(e, Event::ConnectionRestored { .. })).await;
        let stats = fleet.stats();
        assert_eq!((stats.disconnects, stats.reconnects), (1, 1), "{stats:?}");
        assert_eq!(stats.active_endpoints, 1);
        assert_eq!(stats.logon_attempts, 1, "a reconnect is not a logon the application asked for: {stats:?}");
        fleet.sign_out_all().await;
    })
    .await;
}

/// A fleet's endpoints keep few unread events (nobody reads a load test's), unless their builder asks for more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleets_endpoints_keep_few_unread_events_unless_their_builder_asks_for_more() {
    common::bounded(Duration::from_secs(120), async {
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly)).await.expect("lab pool");
        let fleet = Fleet::new(FleetOptions { sign_ins_per_second: None, event_buffer: 2, ..Default::default() });
        let alice = fleet.add(pool.client_builder("sip:alice@contoso.lab")).expect("client");
        let bob = fleet.add(pool.client_builder("sip:bob@contoso.lab").event_buffer(1000)).expect("client");
        assert_eq!(fleet.sign_in_all().await, 2, "{:?}", fleet.stats());
        fleet.sign_out_all().await;
        // Signed out: every event of the session has been sent, SignedOut last.
        let drain = |client: std::sync::Arc<sfbkit::Client>| async move {
            let mut events = Vec::new();
            while let Some(e) = client.try_next_event().await {
                events.push(e);
            }
            events
        };
        let (alices, bobs) = (drain(alice).await, drain(bob).await);
        assert!(matches!(alices[0], Event::Lagged { missed } if missed >= 1), "{alices:?}");
        assert_eq!(alices.len(), 3, "the count, then the last two: {alices:?}");
        assert_eq!(alices.last(), Some(&Event::SignedOut));
        assert!(bobs.len() > 3 && !bobs.iter().any(|e| matches!(e, Event::Lagged { .. })), "{bobs:?}");
        assert_eq!(bobs.last(), Some(&Event::SignedOut));
    })
    .await;
}
