//! The SDK's `tracing` events, delivered to Python's `logging.getLogger("sfbkit")` (and its children:
//! target `sfbkit::report` is logger `sfbkit.report`, other crates' targets go under `sfbkit.`, e.g.
//! `sfbkit.rustls.conn`), at the matching level: ERROR 40, WARN 30, INFO 20, DEBUG 10, TRACE 5.
//!
//! Records hold no secrets: the core never puts one in a log field (README "Where your credentials go").
//! They are formatted where they happen and handed to one thread of our own, which takes the GIL to
//! log them, so a tokio worker never waits for the GIL to log. The channel is bounded; when Python
//! logs too slowly the surplus is counted and reported, never buffered without bound.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use pyo3::prelude::*;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// Records waiting for the logging thread at most.
const QUEUE: usize = 4096;

/// The lowest Python level the `sfbkit` logger handles right now (WARNING until read).
static THRESHOLD: AtomicU32 = AtomicU32::new(30);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static SENDER: OnceLock<SyncSender<Record>> = OnceLock::new();

struct Record {
    level: u32,
    logger: String,
    message: String,
}

fn python_level(level: &Level) -> u32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// `sfbkit::report` → `sfbkit.report`; `sfbkit_lab::web` → `sfbkit.lab.web`; `rustls::conn` → `sfbkit.rustls.conn`.
fn logger_name(target: &str) -> String {
    let dotted = target.replace("::", ".");
    if dotted == "sfbkit" || dotted.starts_with("sfbkit.") {
        dotted
    } else if let Some(rest) = dotted.strip_prefix("sfbkit_") {
        format!("sfbkit.{rest}")
    } else {
        format!("sfbkit.{dotted}")
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

struct ToPython;

impl<S: Subscriber> Layer<S> for ToPython {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> tracing::subscriber::Interest {
        // The threshold changes with Python's logging configuration: ask `enabled` every time.
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        python_level(metadata.level()) >= THRESHOLD.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let record = Record {
            level: python_level(event.metadata().level()),
            logger: logger_name(event.metadata().target()),
            message: fields.message + &fields.rest,
        };
        if let Some(tx) = SENDER.get()
            && let Err(TrySendError::Full(_)) = tx.try_send(record)
        {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads the `sfbkit` logger's effective level into the threshold.
fn read_level(py: Python<'_>) -> PyResult<()> {
    let level: u32 =
        py.import("logging")?.call_method1("getLogger", ("sfbkit",))?.call_method0("getEffectiveLevel")?.extract()?;
    THRESHOLD.store(level.max(1), Ordering::Relaxed);
    Ok(())
}

/// Reads the `sfbkit` logger's level again (the Python layer calls this when a client is built and signs in;
/// `sfbkit.refresh_log_level()` after changing logging's configuration).
#[pyfunction]
pub(crate) fn refresh_log_level(py: Python<'_>) -> PyResult<()> {
    read_level(py)
}

fn deliver(rx: Receiver<Record>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(QUEUE));
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        Python::attach(|py| {
            let logging = match py.import("logging") {
                Ok(m) => m,
                Err(_) => return,
            };
            if dropped > 0 {
                let _ = logging.call_method1("getLogger", ("sfbkit",)).and_then(|l| {
                    l.call_method1("log", (30, "%d log records were dropped: Python's logging was too slow", dropped))
                });
            }
            for record in batch {
                let _ = logging
                    .call_method1("getLogger", (record.logger.as_str(),))
                    .and_then(|l| l.call_method1("log", (record.level, "%s", record.message.as_str())));
            }
            let _ = read_level(py);
        });
    }
}

/// Installs the bridge once per process (when `_native` is imported). If the host already installed a
/// global `tracing` subscriber, that one keeps the records.
pub(crate) fn install() {
    if SENDER.get().is_some() {
        return;
    }
    let (tx, rx) = sync_channel(QUEUE);
    if SENDER.set(tx).is_err() {
        return;
    }
    let _ = Python::attach(read_level);
    let spawned = std::thread::Builder::new().name("sfbkit-logging".into()).spawn(move || deliver(rx));
    if spawned.is_ok() {
        let _ = tracing_subscriber::registry().with(ToPython).try_init();
    }
}
