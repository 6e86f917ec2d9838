//! What the after-sign-in suites share: signing a lab user in, waiting (bounded) for an event,
//! and a time bound on a whole test.

use std::time::Duration;

use sfbkit::{Client, ClientBuilder, Event};

/// Runs a test to its end within `limit`, passing or failing.
pub async fn bounded(limit: Duration, test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(limit, test).await.expect("the test finishes in its time bound");
}

/// Signs in with `builder` (from `LabPool::client_builder`) and insists it worked.
pub async fn signed_in(builder: ClientBuilder, user: &str) -> Client {
    let client = builder.build().expect("client");
    let report = client.sign_in().await;
    assert!(report.is_success(), "{user} signs in: {}", report.to_text());
    client
}

/// Waits (20 s at most) for the first event of `client` that `pick` accepts; returns it and every
/// event seen before it.
pub async fn wait_for(client: &Client, what: &str, pick: impl Fn(&Event) -> bool) -> (Event, Vec<Event>) {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let e = client.next_event().await;
            if pick(&e) {
                return e;
            }
            seen.push(e);
        }
    })
    .await;
    match found {
        Ok(e) => (e, seen),
        Err(_) => panic!("no {what} within 20 s; events seen: {seen:#?}"),
    }
}
