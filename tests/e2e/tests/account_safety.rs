//! Account safety (README "Account safety", `sfbkit::auth::lockout`): every refused password is a failed
//! logon the directory counts towards locking the account. The lab's directory counts them as Active
//! Directory would (`LabPool::failed_logons`): a sign-in with a wrong password costs exactly one, a refused
//! password is not sent again, the reconnect loop never replays one, and an account never collects more
//! than the policy's threshold.

mod common;

use std::time::Duration;

use common::{bounded, signed_in, wait_for};
use sfbkit::auth::lockout::LockoutPolicy;
use sfbkit::{Event, ReconnectPolicy, SignInReport};
use sfbkit_lab::{Fault, LabConfig, LabPool};

const ALICE: &str = "alice@contoso.lab";

async fn sign_in(builder: sfbkit::ClientBuilder) -> SignInReport {
    let client = builder.build().expect("client builds");
    tokio::time::timeout(Duration::from_secs(30), client.sign_in()).await.expect("bounded")
}

#[tokio::test]
async fn a_wrong_password_costs_one_failed_logon_and_is_not_sent_again() {
    bounded(Duration::from_secs(90), async {
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::WrongPassword)).await.unwrap();
        let client = pool.client_builder(ALICE).build().unwrap();
        let report = client.sign_in().await;
        assert_eq!(report.error_class(), Some("wrong-credentials"), "{}", report.to_text());
        assert_eq!(pool.failed_logons(), 1, "one sign-in, one failed logon:\n{}", report.to_text());

        // The same password again, at once: withheld before anything is sent.
        let again = client.sign_in().await;
        assert_eq!(again.error_class(), Some("credentials-withheld"), "{}", again.to_text());
        assert!(again.error.as_deref().unwrap().contains("was refused"), "{:?}", again.error);
        assert!(again.hint.as_deref().unwrap().contains("lock the account"), "{:?}", again.hint);
        let shown = format!("{}{:?}", again.to_text(), again);
        assert!(!shown.contains(sfbkit_lab::config::DEFAULT_PASSWORD));
        assert_eq!(pool.failed_logons(), 1);
        // Another client of the same process (sharing its resources) knows it too.
        assert_eq!(sign_in(pool.client_builder(ALICE)).await.error_class(), Some("credentials-withheld"));
        assert_eq!(pool.failed_logons(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_account_never_collects_more_refusals_than_the_threshold() {
    bounded(Duration::from_secs(90), async {
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::WrongPassword)).await.unwrap();
        // The user tries other passwords: each is new, so each is sent, until the threshold (3).
        for (i, password) in ["First-Try1", "Second-Try2", "Third-Try3"].iter().enumerate() {
            let report = sign_in(pool.client_builder(ALICE).credentials(ALICE, password)).await;
            assert_eq!(report.error_class(), Some("wrong-credentials"), "{}", report.to_text());
            assert_eq!(pool.failed_logons(), i as u64 + 1);
        }
        let report = sign_in(pool.client_builder(ALICE).credentials(ALICE, "Fourth-Try4")).await;
        assert_eq!(report.error_class(), Some("credentials-withheld"), "{}", report.to_text());
        assert!(report.error.as_deref().unwrap().contains("3 passwords"), "{:?}", report.error);
        assert_eq!(pool.failed_logons(), 3, "never past the threshold");
        // Bob's account is not affected.
        let bob = sign_in(pool.client_builder("bob@contoso.lab").credentials("bob@contoso.lab", "Bob-Try1")).await;
        assert_eq!(bob.error_class(), Some("wrong-credentials"));
        // A stricter policy is the application's to set.
        let strict = LockoutPolicy { max_refusals: 1, ..LockoutPolicy::default() };
        let report = sign_in(
            pool.client_builder("bob@contoso.lab").credentials("bob@contoso.lab", "Bob-Try2").lockout_policy(strict),
        )
        .await;
        assert_eq!(report.error_class(), Some("credentials-withheld"), "{}", report.to_text());
        assert_eq!(pool.failed_logons(), 4);
    })
    .await;
}

#[tokio::test]
async fn the_reconnect_loop_never_replays_a_refused_password() {
    bounded(Duration::from_secs(90), async {
        // NTLM only, so that signing in again needs the password (no stored certificate).
        let pool = LabPool::start(LabConfig::default().with_fault(Fault::NtlmOnly)).await.unwrap();
        let fast =
            ReconnectPolicy { initial: Duration::from_millis(100), max: Duration::from_millis(400), jitter: 0.0 };
        let client = signed_in(pool.client_builder(ALICE).reconnect_policy(fast), "alice").await;
        // The password changes in the directory while alice is signed in; then her connection drops.
        pool.change_password(&format!("sip:{ALICE}"), "Changed-Elsewhere-1");
        assert_eq!(pool.drop_connections(ALICE), 1);
        let (event, _) =
            wait_for(&client, "the reconnect giving up", |e| matches!(e, Event::SignInFailed { .. })).await;
        let Event::SignInFailed { class, .. } = event else { unreachable!() };
        assert_eq!(class, "wrong-credentials");
        assert_eq!(pool.failed_logons(), 1);
        // Well past several backoff periods: nothing more was sent.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(pool.failed_logons(), 1, "the refused password was replayed");
        assert!(!client.is_signed_in());
        assert!(matches!(client.try_next_event().await, None | Some(Event::SignedOut)));
    })
    .await;
}
