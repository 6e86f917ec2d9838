//! `_native.Lab`: the lab pool (`sfbkit-lab`) started and stopped from Python, its addresses, and the test
//! hooks the Rust lab has. Only in wheels built with the `lab` feature (the default), because the lab's
//! TLS-DSK server links OpenSSL; the client half never does.

use std::sync::Mutex;
use std::time::Duration;

use pyo3::prelude::*;
use sfbkit_lab::{Fault, LabConfig, LabPool};

use crate::client::{NativeClient, Options};
use crate::{Failure, awaitable, guard};

fn lab_failure(message: impl Into<String>) -> Failure {
    Failure::new("LabError", message).with("stage", Some("Lab Pool"))
}

fn config(
    faults: &[String],
    delay_ms: Option<u64>,
    path: Option<&std::path::Path>,
    kerberos: bool,
) -> Result<LabConfig, Failure> {
    let mut config = match path {
        Some(p) => LabConfig::from_file(p).map_err(|e| lab_failure(e.to_string()))?,
        None => LabConfig::default(),
    };
    for name in faults {
        config = config.with_fault(name.parse::<Fault>().map_err(lab_failure)?);
    }
    if let Some(ms) = delay_ms {
        config.response_delay_ms = ms;
    }
    config.auth.kerberos |= kerberos;
    Ok(config)
}

/// A running lab pool. `stop()` (or dropping the object) stops it.
#[pyclass(frozen, name = "Lab", module = "sfbkit._native")]
pub struct NativeLab {
    pool: Mutex<Option<LabPool>>,
}

impl NativeLab {
    fn with<T>(&self, f: impl FnOnce(&LabPool) -> T) -> PyResult<T> {
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        match pool.as_ref() {
            Some(p) => Ok(f(p)),
            None => Err(lab_failure("the lab pool was stopped: start a new one").into()),
        }
    }
}

impl Drop for NativeLab {
    fn drop(&mut self) {
        let pool = self.pool.get_mut().map(Option::take).unwrap_or_else(|p| p.into_inner().take());
        // Its sockets belong to the shared runtime: drop them inside it.
        let _enter = pyo3_async_runtimes::tokio::get_runtime().enter();
        drop(pool);
    }
}

#[pymethods]
impl NativeLab {
    /// Starts a pool (awaitable).
    #[staticmethod]
    #[pyo3(signature = (faults, delay_ms, config_path, state_dir, kerberos=false))]
    fn start<'py>(
        py: Python<'py>,
        faults: Vec<String>,
        delay_ms: Option<u64>,
        config_path: Option<std::path::PathBuf>,
        state_dir: Option<std::path::PathBuf>,
        kerberos: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let config = config(&faults, delay_ms, config_path.as_deref(), kerberos)?;
        awaitable(py, async move {
            let pool = LabPool::start_with_state(config, state_dir.as_deref())
                .await
                .map_err(|e| lab_failure(format!("the lab pool did not start: {e}")))?;
            Ok(NativeLab { pool: Mutex::new(Some(pool)) })
        })
    }

    /// Starts a pool and waits for it without an asyncio loop (the pytest fixture, `sfbkit.blocking`).
    #[staticmethod]
    #[pyo3(signature = (faults, delay_ms, config_path, state_dir, kerberos=false))]
    fn start_blocking(
        py: Python<'_>,
        faults: Vec<String>,
        delay_ms: Option<u64>,
        config_path: Option<std::path::PathBuf>,
        state_dir: Option<std::path::PathBuf>,
        kerberos: bool,
    ) -> PyResult<NativeLab> {
        let config = config(&faults, delay_ms, config_path.as_deref(), kerberos)?;
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        let pool = guard(|| {
            py.detach(|| runtime.block_on(LabPool::start_with_state(config, state_dir.as_deref())))
                .map_err(|e| lab_failure(format!("the lab pool did not start: {e}")).into())
        })?;
        Ok(NativeLab { pool: Mutex::new(Some(pool)) })
    }

    /// Stops the pool (idempotent).
    fn stop(&self, py: Python<'_>) {
        let pool = self.pool.lock().unwrap_or_else(|p| p.into_inner()).take();
        py.detach(|| {
            let _enter = pyo3_async_runtimes::tokio::get_runtime().enter();
            drop(pool);
        });
    }

    fn is_running(&self) -> bool {
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// `{domain, pool_fqdn, dns, registrar, web_ports, faults, users: [{sip_uri, display_name, account,
    /// disabled, home_pool}]}` as JSON. Passwords stay in the lab.
    fn describe(&self) -> PyResult<String> {
        self.with(|p| {
            let c = p.config();
            let users: Vec<_> = c
                .users
                .iter()
                .map(|u| {
                    serde_json::json!({
                        "sip_uri": u.sip_uri,
                        "display_name": u.display_name,
                        "account": u.account(),
                        "disabled": u.disabled,
                        "home_pool": u.home_pool,
                    })
                })
                .collect();
            let faults: Vec<String> = c
                .faults
                .iter()
                .filter_map(|f| Fault::ALL.iter().find(|(_, g)| g == f).map(|(n, _)| n.to_string()))
                .collect();
            serde_json::json!({
                "domain": c.domain,
                "pool_fqdn": c.pool_fqdn,
                "dns": p.dns_addr().to_string(),
                "registrar": p.sip_addr().to_string(),
                "web_ports": p.web_ports(),
                "faults": faults,
                "users": users,
                "kerberos": p.kerberos().map(|k| serde_json::json!({
                    "realm": k.kdc().realm(),
                    "kdc": k.kdc().addr().to_string(),
                })),
            })
            .to_string()
        })
    }

    fn ca_pem(&self) -> PyResult<String> {
        self.with(|p| p.ca_pem().to_string())
    }

    /// A client for `sip_uri` set up as the lab's own `client_builder` does (its DNS, autodiscover ports, CA,
    /// the user's credentials, an in-memory keystore), then `options` on top.
    fn client(&self, py: Python<'_>, sip_uri: &str, options: Options) -> PyResult<NativeClient> {
        let builder = self.with(|p| p.client_builder(sip_uri))?;
        guard(|| NativeClient::build(py, builder, options))
    }

    fn drop_connections(&self, aor: &str) -> PyResult<usize> {
        self.with(|p| p.drop_connections(aor))
    }

    fn restart_sip(&self, downtime: f64) -> PyResult<usize> {
        let downtime = Duration::try_from_secs_f64(downtime)
            .map_err(|_| lab_failure(format!("downtime must be a non-negative number of seconds, not {downtime}")))?;
        self.with(|p| p.restart_sip(downtime))
    }

    fn disable_user(&self, aor: &str) -> PyResult<usize> {
        self.with(|p| p.disable_user(aor))
    }

    #[pyo3(signature = (aor, reason, preferred_registrar))]
    fn deregister(&self, aor: &str, reason: &str, preferred_registrar: Option<&str>) -> PyResult<usize> {
        self.with(|p| p.deregister(aor, reason, preferred_registrar))
    }

    fn forge_deregistration(&self, aor: &str) -> PyResult<usize> {
        self.with(|p| p.forge_deregistration(aor))
    }

    fn publish_as(&self, aor: &str, epid: &str, body: &str) -> PyResult<u16> {
        self.with(|p| p.publish_as(aor, epid, body))
    }

    fn change_password(&self, aor: &str, password: &str) -> PyResult<()> {
        self.with(|p| p.change_password(aor, password))
    }

    fn failed_logons(&self) -> PyResult<u64> {
        self.with(|p| p.failed_logons())
    }

    /// The endpoints registered on the primary pool: `[{aor, epid, gruu, expires}]` as JSON.
    fn bindings(&self) -> PyResult<String> {
        self.with(|p| {
            let list: Vec<_> = p
                .bindings()
                .into_iter()
                .map(|b| serde_json::json!({"aor": b.aor, "epid": b.epid, "gruu": b.gruu, "expires": b.expires}))
                .collect();
            serde_json::Value::from(list).to_string()
        })
    }

    /// `aor`'s contact list as the pool holds it, as JSON.
    fn contact_list(&self, aor: &str) -> PyResult<String> {
        self.with(|p| serde_json::to_string(&p.contact_list(aor)))?
            .map_err(|e| lab_failure(format!("cannot encode the contact list: {e}")).into())
    }
}
