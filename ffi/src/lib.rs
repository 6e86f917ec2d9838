//! # sfbkit-ffi: sfbkit for Swift and Kotlin
//!
//! The core's facade ([`sfbkit::ClientBuilder`] → [`sfbkit::Client`]) through uniffi, for mobile apps, and
//! nothing else: this crate converts types, runs the facade's futures on a runtime of its own, and adapts
//! what the host app supplies (keystore, devices, network, trust decisions, event listeners) to the core's
//! traits. No SIP, XML or authentication happens here.
//!
//! - [`ClientBuilder`] / [`Client`]: sign in (a [`SignInReport`]), presence, note, contacts and groups, the
//!   views (contacts, presence, provisioning, dial plan, `normalize`), sign out.
//! - Events both ways: `await client.nextEvent()` or an [`EventListener`] (`addEventListener`).
//! - [`SfbError`]: every failure, with its stage, class, code and hint.
//! - Foreign traits the host implements: [`SecretStore`], [`DeviceProvider`], [`NetworkInfo`],
//!   [`TrustDecider`], [`EventListener`].
//!
//! Generate the bindings with `cargo run --bin uniffi-bindgen -- generate --library <libsfbkit_ffi> --language
//! kotlin|swift --out-dir <dir>` (bindings/kotlin, bindings/swift).

// SfbError carries a sign-in report by value (see error.rs): every fallible export returns it.
#![allow(clippy::result_large_err)]

mod client;
mod error;
mod events;
mod host;
mod types;

use std::sync::OnceLock;

pub use client::{Client, ClientBuilder, EventListenerHandle};
pub use error::SfbError;
pub use events::{DeregistrationReason, Event};
pub use host::{DeviceProvider, EventListener, HostError, NetworkInfo, SecretStore, TrustDecider, TrustQuestion};
pub use types::*;

uniffi::setup_scaffolding!();

/// The SDK's tokio runtime: every signed-in client's I/O runs on it, whatever thread or executor (Kotlin
/// coroutines, Swift concurrency) calls in.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("sfbkit")
            .build()
            // Without threads or timers nothing can work; there is no smaller thing to fall back to.
            .expect("sfbkit: cannot start the tokio runtime")
    })
}

/// Aborts the task when the caller stops waiting (a cancelled coroutine or Swift task drops the future).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `fut` on the SDK's runtime and waits for it from any executor; a panic becomes [`SfbError::Internal`].
pub(crate) async fn run<T: Send + 'static>(fut: impl Future<Output = T> + Send + 'static) -> Result<T, SfbError> {
    let mut task = AbortOnDrop(runtime().spawn(fut));
    (&mut task.0).await.map_err(|e| SfbError::Internal {
        detail: format!(
            "sfbkit failed internally ({e}); the client may be unusable: build a new one, and please report this"
        ),
    })
}

/// The version of sfbkit this library was built from.
#[uniffi::export]
pub fn sfbkit_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests;
