//! # sfbkit-lab — a Skype for Business pool in one process, on loopback
//!
//! The lab pool is what the end-to-end tests and QA teams sign in to: real TLS, real SIP, real certificates,
//! on 127.0.0.1. It reuses sfbkit's wire formats but never its client state machines, so a client bug cannot
//! hide behind the same bug on the server side. Where to start reading:
//!
//! - [`LabPool`]: start a pool ([`LabPool::start`]), learn where it listens and which CA to trust.
//! - [`config::LabConfig`]: domain, pool name, users, registrar settings, response delay.
//! - [`registrar::Registrar`]: answers REGISTER like a Front End ([MS-SIPREGE]).
//! - [`ca`]: the pool's certificate authority ([`ca::LabCa`]) and the TLS server configuration its
//!   listeners present ([`ca::server_config`]).

pub mod ca;
pub mod config;
pub mod registrar;
mod sip_server;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use config::{LabConfig, LabUser};
pub use registrar::Binding;

/// Why a lab pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab pool certificates: {0}")]
    Certificates(#[from] ca::CaError),
    #[error("lab pool could not listen on 127.0.0.1: {0}")]
    Listen(#[source] std::io::Error),
}

/// A running lab pool. Dropping it stops its listeners.
pub struct LabPool {
    sip_addr: SocketAddr,
    ca_pem: String,
    state: Arc<sip_server::PoolState>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LabPool {
    /// Starts a pool on 127.0.0.1 with OS-chosen ports, a fresh CA and a server certificate
    /// naming the pool FQDN, `sip.<domain>` and `sipinternal.<domain>`.
    pub async fn start(config: LabConfig) -> Result<LabPool, LabError> {
        // A name of its own per pool: two lab CAs with one subject would make a client that
        // trusts the other one see a bad signature instead of an unknown issuer.
        let ca = ca::LabCa::generate(&format!("sfbkit lab pool CA {:08x}", rand::random::<u32>()))?;
        let cert = ca.issue_server_cert(&config.certificate_names(), ca::Validity::default())?;
        let server_config = ca::server_config(&cert)?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(LabError::Listen)?;
        let sip_addr = listener.local_addr().map_err(LabError::Listen)?;
        let state = Arc::new(sip_server::PoolState { config, registrar: registrar::Registrar::default() });
        let task = tokio::spawn(sip_server::serve(listener, TlsAcceptor::from(server_config), state.clone()));
        tracing::info!(%sip_addr, pool = %state.config.pool_fqdn, "lab pool started");
        Ok(LabPool { sip_addr, ca_pem: ca.ca_pem().to_string(), state, tasks: vec![task] })
    }

    /// Where the registrar listens (SIP over TLS).
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }
    /// The CA certificate (PEM) a client must trust to reach this pool.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
    /// The pool's configuration.
    pub fn config(&self) -> &LabConfig {
        &self.state.config
    }
    /// The endpoints registered right now.
    pub fn bindings(&self) -> Vec<Binding> {
        self.state.registrar.bindings()
    }
}

impl Drop for LabPool {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
