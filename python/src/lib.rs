//! `sfbkit._native`: the thin native half of the Python package.
//!
//! It only translates: options into a [`sfbkit::ClientBuilder`], the facade's async methods into awaitables,
//! reports, events and views into JSON text that the typed Python layer (`python/sfbkit/`) turns into
//! classes, and the facade's errors into the exception classes `sfbkit.errors` defines. No SIP, XML or
//! authentication happens here.
//!
//! Threads: every awaitable runs on one tokio runtime (pyo3-async-runtimes' own); no Rust code waits while it
//! holds the GIL ([`Python::detach`] around every blocking wait). Cancelling the asyncio task drops the Rust
//! future. A Rust panic becomes `sfbkit.errors.InternalError`, never an abort.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use pyo3::prelude::*;
use pyo3::types::PyDict;

mod client;
mod fleet;
mod keystore;
#[cfg(feature = "lab")]
mod lab;
mod logging;

/// A failure on its way to Python: the name of a class in `sfbkit.errors`, the message, and the keyword
/// attributes the class takes (`stage`, `error_class`, `hint`, ...). Built without the GIL, raised with it.
#[derive(Debug)]
pub(crate) struct Failure {
    class: &'static str,
    message: String,
    attrs: Vec<(&'static str, Option<String>)>,
}

impl Failure {
    pub(crate) fn new(class: &'static str, message: impl Into<String>) -> Failure {
        Failure { class, message: message.into(), attrs: Vec::new() }
    }

    pub(crate) fn with(mut self, name: &'static str, value: Option<impl Into<String>>) -> Failure {
        self.attrs.push((name, value.map(Into::into)));
        self
    }

    /// The exception, created from `sfbkit.errors` (falling back to `RuntimeError` when that module cannot be
    /// imported, which only happens when `_native` is loaded outside its package).
    fn into_pyerr(self, py: Python<'_>) -> PyErr {
        let made = (|| -> PyResult<PyErr> {
            let class = py.import("sfbkit.errors")?.getattr(self.class)?;
            let kwargs = PyDict::new(py);
            for (name, value) in &self.attrs {
                kwargs.set_item(*name, value.as_deref())?;
            }
            Ok(PyErr::from_value(class.call((self.message.as_str(),), Some(&kwargs))?))
        })();
        made.unwrap_or_else(|e| e)
    }
}

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> PyErr {
        Python::attach(|py| failure.into_pyerr(py))
    }
}

/// What a caught panic said.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

fn internal_error(payload: &(dyn std::any::Any + Send)) -> Failure {
    Failure::new(
        "InternalError",
        format!(
            "sfbkit failed internally (a Rust panic: {}); the client may be unusable: build a new one, and please \
             report this with the log of logger 'sfbkit'",
            panic_message(payload)
        ),
    )
}

/// Runs a synchronous method body, turning a panic into `InternalError`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(internal_error(payload.as_ref()).into()),
    }
}

/// A future whose panic becomes `InternalError` (instead of pyo3-async-runtimes' generic `RustPanic`).
struct Guarded<F>(Pin<Box<F>>);

impl<F: Future<Output = PyResult<T>>, T> Future for Guarded<F> {
    type Output = PyResult<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PyResult<T>> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => Poll::Ready(Err(internal_error(payload.as_ref()).into())),
        }
    }
}

/// An awaitable for the current asyncio loop running `fut` on the shared tokio runtime.
pub(crate) fn awaitable<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    pyo3_async_runtimes::tokio::future_into_py(py, Guarded(Box::pin(fut)))
}

/// Runs `fut` on the shared tokio runtime and waits for it on this thread, the GIL released: the blocking
/// calls that load tools on gevent (Locust) make from their thread pool. Never call it on a runtime thread.
pub(crate) fn wait<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = PyResult<T>> + Send,
    T: Send,
{
    let runtime = pyo3_async_runtimes::tokio::get_runtime();
    py.detach(|| runtime.block_on(Guarded(Box::pin(fut))))
}

/// Panics on purpose, now or inside an awaitable: the test that a panic reaches Python as
/// `sfbkit.errors.InternalError` and leaves the interpreter running.
#[pyfunction]
#[pyo3(signature = (inside_awaitable))]
fn _panic_for_tests(py: Python<'_>, inside_awaitable: bool) -> PyResult<Bound<'_, PyAny>> {
    if inside_awaitable {
        return awaitable(py, async { if true { panic!("deliberate panic (test)") } else { Ok(()) } });
    }
    guard(|| if true { panic!("deliberate panic (test)") } else { Ok(py.None().into_bound(py)) })
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add("HAS_LAB", cfg!(feature = "lab"))?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<client::NativeEventStream>()?;
    m.add_class::<fleet::NativeFleet>()?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(logging::refresh_log_level, m)?)?;
    #[cfg(feature = "lab")]
    m.add_class::<lab::NativeLab>()?;
    logging::install();
    Ok(())
}
