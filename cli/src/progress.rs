//! The live progress of a sign-in on stderr, from the steps the SDK logs as it records them (`tracing` events
//! of target `sfbkit::report`: stage, step, host, duration).
//!
//! On a terminal: one line, rewritten in place (`\r` and erase-line) with the stage and the step running, and
//! erased when the command prints its report. Anywhere else (a pipe, a CI log): one plain line per stage as it
//! begins, no escape codes.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// The `tracing` target of the SDK's step records.
pub const TARGET: &str = "sfbkit::report";

pub struct Progress {
    terminal: bool,
    state: Mutex<State>,
}

struct State {
    stage: Option<String>,
    steps: usize,
    started: Instant,
    /// A live line is on the terminal and must be erased before anything else is printed.
    shown: bool,
}

impl Progress {
    pub fn new(terminal: bool) -> Progress {
        Progress { terminal, state: Mutex::new(State { stage: None, steps: 0, started: Instant::now(), shown: false }) }
    }

    fn step(&self, stage: &str, step: &str, failed: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.steps += 1;
        let new_stage = s.stage.as_deref() != Some(stage);
        if new_stage {
            s.stage = Some(stage.to_string());
        }
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let mark = if failed { "failed: " } else { "" };
            let line =
                format!("{stage}: {mark}{step}  [{} steps, {:.1} s]", s.steps, s.started.elapsed().as_secs_f64());
            // Kept to one line of a narrow terminal: a wrapped line cannot be rewritten in place.
            let line: String = line.chars().take(110).collect();
            let _ = write!(err, "\r\x1b[2K{line}");
            s.shown = true;
        } else if new_stage {
            let _ = writeln!(err, "sfbkit: {stage}...");
        }
        let _ = err.flush();
    }

    /// Erases the live line (before the report is printed, or when the command ends).
    pub fn finish(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            s.shown = false;
        }
    }
}

/// The fields of one step event.
#[derive(Default)]
struct StepFields {
    stage: Option<String>,
    step: Option<String>,
}

impl Visit for StepFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "step" => self.step = Some(value.to_string()),
            "stage" => self.stage = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `%stage` arrives as a Display value through record_debug.
        if field.name() == "stage" {
            self.stage = Some(format!("{value:?}"));
        }
    }
}

static ACTIVE: std::sync::OnceLock<std::sync::Arc<Progress>> = std::sync::OnceLock::new();

/// The layer for this process's progress display (`None` when there is none: another command, or
/// `--no-progress`).
pub fn layer(terminal: bool) -> Layer {
    Layer(ACTIVE.get_or_init(|| std::sync::Arc::new(Progress::new(terminal))).clone())
}

/// Erases the live line, if a progress display is on, before a command prints its result.
pub fn finish() {
    if let Some(p) = ACTIVE.get() {
        p.finish();
    }
}

/// The layer feeding a shared [`Progress`].
pub struct Layer(std::sync::Arc<Progress>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Layer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = StepFields::default();
        event.record(&mut fields);
        if let (Some(stage), Some(step)) = (fields.stage, fields.step) {
            self.0.step(&stage, &step, *event.metadata().level() == tracing::Level::WARN);
        }
    }
}
