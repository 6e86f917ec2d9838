//! Faults that strike after sign-in, timed from a user's first registration with the lab:
//! `drop-connection` (the connection drops once), `restart` (the SIP service restarts once),
//! `disabled-after-signin` (an administrator disables the user: deregistration NOTIFY 4141).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::config::Fault;
use crate::sip_server::PoolState;

/// How long after the first registration the fault strikes: long enough for sign-in to finish
/// its subscriptions and first publication.
pub const STRIKE_AFTER: Duration = Duration::from_millis(1000);
/// How long a `restart` refuses connections.
pub const RESTART_DOWNTIME: Duration = Duration::from_millis(1500);

/// Schedules the post-sign-in faults for `aor`'s first registration.
pub(crate) fn after_first_registration(state: &PoolState, aor: &str) {
    let services = state.services.clone();
    let config = state.config.clone();
    let port = state.port;
    let aor = aor.to_string();
    if config.has(Fault::DropConnection) {
        let services = services.clone();
        let aor = aor.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STRIKE_AFTER).await;
            let n = services.close_connections(Some(&aor));
            tracing::info!(%aor, connections = n, "lab pool fault drop-connection: dropped");
        });
    }
    if config.has(Fault::Restart) && !services.restarted.swap(true, Ordering::SeqCst) {
        let services = services.clone();
        tokio::spawn(async move {
            tokio::time::sleep(STRIKE_AFTER).await;
            let n = services.restart(RESTART_DOWNTIME);
            tracing::info!(connections = n, "lab pool fault restart: SIP service restarting");
        });
    }
    if config.has(Fault::DisabledAfterSignin) {
        tokio::spawn(async move {
            tokio::time::sleep(STRIKE_AFTER).await;
            let n = services.disable(&aor, &config, port);
            tracing::info!(%aor, endpoints = n, "lab pool fault disabled-after-signin: user disabled");
        });
    }
}
