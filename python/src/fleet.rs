//! `_native.Fleet`: one [`sfbkit::fleet::Fleet`]; its clients are `_native.Client`s built into it.

use pyo3::prelude::*;
use sfbkit::ClientBuilder;
use sfbkit::fleet::{Fleet, FleetOptions};

use crate::client::{NativeClient, Options, to_json};
use crate::{awaitable, guard, wait};

#[pyclass(frozen, name = "Fleet", module = "sfbkit._native")]
pub struct NativeFleet {
    fleet: Fleet,
}

#[pymethods]
impl NativeFleet {
    #[new]
    #[pyo3(signature = (sign_ins_per_second, max_in_flight, event_buffer))]
    fn new(sign_ins_per_second: Option<f64>, max_in_flight: usize, event_buffer: Option<usize>) -> NativeFleet {
        let event_buffer = event_buffer.unwrap_or(sfbkit::fleet::FLEET_EVENT_BUFFER);
        NativeFleet { fleet: Fleet::new(FleetOptions { sign_ins_per_second, max_in_flight, event_buffer }) }
    }

    /// A client for `sip_uri` with `options`, built into the fleet (its shared resources and counters).
    fn add(&self, py: Python<'_>, sip_uri: &str, options: Options) -> PyResult<NativeClient> {
        guard(|| NativeClient::build_into(py, ClientBuilder::new(sip_uri), options, Some(&self.fleet)))
    }

    /// Signs `client` in when the pacer lets it; the report as JSON.
    fn sign_in<'py>(&self, py: Python<'py>, client: &NativeClient) -> PyResult<Bound<'py, PyAny>> {
        let (fleet, client) = (self.fleet.clone(), client.inner());
        awaitable(py, async move { to_json(&fleet.sign_in(&client).await) })
    }

    /// [`NativeFleet::sign_in`] without asyncio: the calling thread waits, the GIL released (for load tools on
    /// gevent, which call it from a thread pool).
    fn sign_in_blocking(&self, py: Python<'_>, client: &NativeClient) -> PyResult<String> {
        let (fleet, client) = (self.fleet.clone(), client.inner());
        wait(py, async move { to_json(&fleet.sign_in(&client).await) })
    }

    /// Signs every endpoint not signed in in, paced; how many are signed in.
    fn sign_in_all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fleet = self.fleet.clone();
        awaitable(py, async move { Ok(fleet.sign_in_all().await) })
    }

    fn sign_out_all<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fleet = self.fleet.clone();
        awaitable(py, async move {
            fleet.sign_out_all().await;
            Ok(())
        })
    }

    /// The counters as JSON ([`sfbkit::fleet::FleetStats`]).
    fn stats(&self) -> PyResult<String> {
        to_json(&self.fleet.stats())
    }

    fn __len__(&self) -> usize {
        self.fleet.len()
    }
}
