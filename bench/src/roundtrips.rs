//! Sign-in round trips: the latency of a cold sign-in (nothing in the keystore) and of a warm one (the TLS-DSK
//! certificate from the first in the keystore) against a lab pool delaying every DNS, HTTP and SIP answer by
//! D ms. With D much larger than the work done, latency ÷ D counts the sequential exchanges.

use std::sync::Arc;

use sfbkit_lab::{LabConfig, LabPool};

pub fn run(delay_ms: u64) -> Result<(), String> {
    if delay_ms == 0 {
        return Err("--delay-ms must be above 0".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let config = LabConfig { response_delay_ms: delay_ms, ..LabConfig::default() };
        let pool = LabPool::start(config).await.map_err(|e| e.to_string())?;
        let store: Arc<dyn sfbkit::keystore::SecretStore> = Arc::new(sfbkit::keystore::MemoryStore::default());
        let mut counts = Vec::new();
        for label in ["cold", "warm"] {
            let client = pool
                .client_builder("sip:alice@contoso.lab")
                .keystore(store.clone())
                .build()
                .map_err(|e| e.to_string())?;
            let report = client.sign_in().await;
            if !report.is_success() {
                return Err(format!("the {label} sign-in failed:\n{}", report.to_text()));
            }
            let rounds = report.latency_ms / delay_ms as f64;
            println!("{label} sign-in: {:.0} ms = {rounds:.1} x {delay_ms} ms", report.latency_ms);
            for stage in report.stages.iter().filter(|s| s.duration_ms >= delay_ms as f64 * 0.9) {
                println!("  {:<22} {:<30} {:>8.0} ms", stage.name.to_string(), stage.step, stage.duration_ms);
            }
            let _ = client.sign_out().await;
            counts.push(rounds);
        }
        println!("roundtrips: cold={:.1} warm={:.1} delay_ms={delay_ms}", counts[0], counts[1]);
        Ok(())
    })
}
