//! Many signed-in endpoints in one process: how fast they sign in and settle, and what each costs in
//! memory, against the lab pool on loopback (STYLE.md §7: "the goal is 18,000 signed-in endpoints in
//! one process on two cores").
//!
//! Run with `cargo bench -p sfbkit-e2e --bench endpoints` (`SFBKIT_BENCH_ENDPOINTS=N` sets the count,
//! default 300). Not a test: it prints figures and ratios, and asserts only that every endpoint signed in.
//!
//! Each endpoint is a distinct user (`userNNNN@contoso.lab`) signing in with NTLM (the lab's `ntlm-only`
//! fault, so no RSA key generation per user distorts the figures), then settling: provisioning, dial
//! plan, contact list, roaming-self, initial publication. Memory is the process's resident set
//! (`/proc/self/status` VmRSS) before and after, so it counts the client *and* the lab pool's side of
//! each endpoint: an upper bound for the client alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sfbkit::{Client, Event};
use sfbkit_lab::{Fault, LabConfig, LabPool, LabUser};

#[path = "../../../bench/src/process.rs"]
#[allow(dead_code)]
mod process;
use process::rss_kib;

/// Waits until the endpoint has published its presence (the last step of settling).
async fn settled(client: &Client) -> bool {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Event::PresencePublished { .. } = client.next_event().await {
                return true;
            }
        }
    })
    .await
    .unwrap_or(false)
}

fn main() {
    let n: usize = std::env::var("SFBKIT_BENCH_ENDPOINTS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let mut config = LabConfig::default().with_fault(Fault::NtlmOnly);
        config.users =
            (0..n).map(|i| LabUser::new(&format!("sip:user{i:04}@contoso.lab"), &format!("User {i}"))).collect();
        let pool = Arc::new(LabPool::start(config).await.expect("lab pool"));
        let before = rss_kib();
        let started = Instant::now();
        // Sign in 32 at a time, as a bot host would ramp up.
        let mut clients = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
            let mut tasks = Vec::new();
            for &i in chunk {
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    let client = pool.client_builder(&format!("sip:user{i:04}@contoso.lab")).build().expect("client");
                    let report = client.sign_in().await;
                    assert!(report.is_success(), "user{i:04}: {}", report.to_text());
                    let ok = settled(&client).await;
                    (client, ok)
                }));
            }
            for t in tasks {
                clients.push(t.await.expect("sign-in task"));
            }
        }
        let elapsed = started.elapsed();
        let after = rss_kib();
        let settled_count = clients.iter().filter(|(_, ok)| *ok).count();
        // A keep-alive round trip on every endpoint at once.
        let pings = Instant::now();
        let mut rtts = Vec::new();
        for (c, _) in &clients {
            rtts.push(c.keep_alive().await.expect("pong"));
        }
        let ping_all = pings.elapsed();
        rtts.sort();
        let per_endpoint = (after.saturating_sub(before)) as f64 / n as f64;
        println!("endpoints                     {n}");
        println!("signed in and settled         {settled_count}");
        println!(
            "sign-in + settle, wall time   {:.2} s  ({:.1} endpoints/s, 32 in flight)",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
        println!("RSS before / after            {} MiB / {} MiB", before / 1024, after / 1024);
        println!("RSS per endpoint (client+lab) {per_endpoint:.1} KiB");
        println!("18,000 endpoints would need   {:.2} GiB at this rate", per_endpoint * 18_000.0 / 1024.0 / 1024.0);
        println!(
            "keep-alive RTT p50 / p99      {:?} / {:?}  (all {n} one after another in {:?})",
            rtts[rtts.len() / 2],
            rtts[(rtts.len() * 99 / 100).min(rtts.len() - 1)],
            ping_all
        );
        let out = Instant::now();
        for (c, _) in &clients {
            c.sign_out().await.expect("sign-out");
        }
        println!("sign-out of all               {:.2} s", out.elapsed().as_secs_f64());
        assert_eq!(settled_count, n, "every endpoint settled");
    });
}
