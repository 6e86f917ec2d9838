//! The sign-in report: what happened, stage by stage, in the words an admin troubleshooting
//! sign-in uses (seed 001: Server Discovery, Connectivity Checks, Authentication, Redirection,
//! Settings and Policies), with a Test-CsRegistration-style summary on top: target, result,
//! latency, error, diagnosis (FIELD-NOTES.md §2.2).
//!
//! Reports never carry secrets: they are built from hosts, timings, status codes and parsed
//! `ms-diagnostics`, never from credentials, tokens or signatures.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::registration::Registration;

/// The sign-in stages, in the order the Microsoft client runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stage {
    #[serde(rename = "Local Discovery")]
    LocalDiscovery,
    #[serde(rename = "Server Discovery")]
    ServerDiscovery,
    #[serde(rename = "Connectivity Checks")]
    ConnectivityChecks,
    #[serde(rename = "Authentication")]
    Authentication,
    #[serde(rename = "Redirection")]
    Redirection,
    #[serde(rename = "Settings and Policies")]
    SettingsAndPolicies,
    #[serde(rename = "Sign Out")]
    SignOut,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::LocalDiscovery => "Local Discovery",
            Stage::ServerDiscovery => "Server Discovery",
            Stage::ConnectivityChecks => "Connectivity Checks",
            Stage::Authentication => "Authentication",
            Stage::Redirection => "Redirection",
            Stage::SettingsAndPolicies => "Settings and Policies",
            Stage::SignOut => "Sign Out",
        })
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Success,
    Failure,
    /// An expected miss (no such record, a resource needing a web ticket): the stage moved on.
    NotFound,
    /// Not attempted, with the reason in the step's detail.
    Skipped,
}

/// One step of one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// The stage this step belongs to.
    pub name: Stage,
    /// What was tried, e.g. `TLS handshake`, `REGISTER`.
    pub step: String,
    /// The host (or URL) it was tried against.
    pub host: String,
    pub duration_ms: f64,
    pub outcome: Outcome,
    /// What came back, in words.
    pub detail: String,
    /// For failures: a short class (`untrusted-root`, `refused`, `404`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    /// For failures: what a person can do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Overall result, as Test-CsRegistration prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SignInResult {
    Success,
    Failure,
}

/// The JSON Schema the report's serialization follows (`schema/sfbkit-report.v1.schema.json`), named in its
/// `$schema` member: programs reading `sfbkit signin --json` check it, and a change that breaks them gets a new
/// version.
pub const REPORT_SCHEMA: &str = "https://example.invalid/sfbkit/schema/sfbkit-report.v1.schema.json";

/// The full report of one sign-in. Serializes as `schema/sfbkit-report.v1.schema.json` describes: the fields
/// below, `$schema`, and for a failure the [`SignInReport::error_class`], [`SignInReport::failed_stage`] and
/// [`SignInReport::diagnostic_code`] (null on success).
#[derive(Debug, Clone, PartialEq)]
pub struct SignInReport {
    /// The registrar signed in to (FQDN, or FQDN and address when they differ).
    pub target: String,
    /// The SIP URI that signed in.
    pub user: String,
    pub result: SignInResult,
    /// Wall time of the whole sign-in.
    pub latency_ms: f64,
    /// For a failure: the status and phrase (`404, Not Found`) or the failure in words.
    pub error: Option<String>,
    /// For a failure: the parsed `ms-diagnostics` (`ErrorCode=1003,source=...,Reason=...`).
    pub diagnosis: Option<String>,
    /// For a failure: what to do about it.
    pub hint: Option<String>,
    pub stages: Vec<StepRecord>,
    /// Steps that failed without stopping sign-in (a certificate problem on autodiscover before
    /// DNS found the registrar, a front end that refused before another answered): each needs a look.
    pub warnings: Vec<String>,
    /// What the registrar granted, on success.
    pub registration: Option<Registration>,
}

impl Serialize for SignInReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            #[serde(rename = "$schema")]
            schema: &'static str,
            target: &'a str,
            user: &'a str,
            result: SignInResult,
            latency_ms: f64,
            error: &'a Option<String>,
            diagnosis: &'a Option<String>,
            hint: &'a Option<String>,
            error_class: Option<&'a str>,
            failed_stage: Option<Stage>,
            diagnostic_code: Option<u32>,
            stages: &'a [StepRecord],
            warnings: &'a [String],
            registration: &'a Option<Registration>,
        }
        let failed = !self.is_success();
        Json {
            schema: REPORT_SCHEMA,
            target: &self.target,
            user: &self.user,
            result: self.result,
            latency_ms: self.latency_ms,
            error: &self.error,
            diagnosis: &self.diagnosis,
            hint: &self.hint,
            error_class: self.error_class().filter(|_| failed),
            failed_stage: self.failed_stage().filter(|_| failed),
            diagnostic_code: self.diagnostic_code().filter(|_| failed),
            stages: &self.stages,
            warnings: &self.warnings,
            registration: &self.registration,
        }
        .serialize(serializer)
    }
}

impl SignInReport {
    pub(crate) fn new(user: &str, target: &str) -> SignInReport {
        SignInReport {
            target: target.to_string(),
            user: user.to_string(),
            result: SignInResult::Failure,
            latency_ms: 0.0,
            error: None,
            diagnosis: None,
            hint: None,
            stages: Vec::new(),
            warnings: Vec::new(),
            registration: None,
        }
    }

    /// The short class of the failure that ended sign-in (`disabled-user`, `refused`, ...): the
    /// class of the last failed step.
    pub fn error_class(&self) -> Option<&str> {
        self.stages.iter().rev().find(|s| s.outcome == Outcome::Failure).and_then(|s| s.error_class.as_deref())
    }

    /// True when the user is signed in.
    pub fn is_success(&self) -> bool {
        self.result == SignInResult::Success
    }

    /// The stage of the failure that ended sign-in: the stage of the last failed step.
    pub fn failed_stage(&self) -> Option<Stage> {
        self.stages.iter().rev().find(|s| s.outcome == Outcome::Failure).map(|s| s.name)
    }

    /// The server's diagnostic code for the failure (`ms-diagnostics` / `X-Ms-diagnostics`: 4141 user disabled,
    /// 28032 invalid web ticket, ...), when the server sent one: the `ErrorCode` of [`SignInReport::diagnosis`].
    pub fn diagnostic_code(&self) -> Option<u32> {
        let diagnosis = self.diagnosis.as_deref()?;
        let code = diagnosis.strip_prefix("ErrorCode=")?;
        code[..code.find(|c: char| !c.is_ascii_digit()).unwrap_or(code.len())].parse().ok()
    }

    /// Records a step, and logs it (`tracing`, target `sfbkit::report`): what a QA run with `--verbose`
    /// sees as it happens. Steps hold no secret (see the module docs), so neither does the log.
    fn push(&mut self, record: StepRecord) {
        let (stage, step, host, ms) = (record.name, &record.step, &record.host, record.duration_ms);
        match record.outcome {
            Outcome::Failure => {
                let class = record.error_class.as_deref().unwrap_or("");
                tracing::warn!(target: "sfbkit::report", %stage, step, host, ms, class, "failed: {}", record.detail);
            }
            outcome => tracing::info!(target: "sfbkit::report", %stage, step, host, ms, ?outcome, "{}", record.detail),
        }
        self.stages.push(record);
    }

    pub(crate) fn step(
        &mut self,
        name: Stage,
        step: &str,
        host: &str,
        took: Duration,
        outcome: Outcome,
        detail: impl Into<String>,
    ) {
        self.push(StepRecord {
            name,
            step: step.to_string(),
            host: host.to_string(),
            duration_ms: ms(took),
            outcome,
            detail: detail.into(),
            error_class: None,
            hint: None,
        });
    }

    /// Records discovery or connectivity attempts under `stage`. Failed attempts become warnings;
    /// whether they end the sign-in is the caller's decision ([`SignInReport::fail`]).
    pub(crate) fn attempts(&mut self, name: Stage, attempts: &[crate::discovery::Attempt]) {
        use crate::discovery::AttemptOutcome as A;
        for a in attempts {
            let (outcome, detail, class, hint) = match &a.outcome {
                A::Found { detail } => (Outcome::Success, detail.clone(), None, None),
                A::NotFound { class, detail, hint } => {
                    (Outcome::NotFound, detail.clone(), Some(class.clone()), hint.clone())
                }
                A::Failed { class, detail, hint } => {
                    let said = detail.strip_prefix(&format!("{}: ", a.step)).unwrap_or(detail);
                    self.warnings.push(format!("{name}, {}: {said}", a.step));
                    (Outcome::Failure, detail.clone(), Some(class.clone()), Some(hint.clone()))
                }
                A::Skipped { reason } => (Outcome::Skipped, reason.clone(), None, None),
            };
            self.push(StepRecord {
                name,
                step: a.step.clone(),
                host: a.target.clone(),
                duration_ms: ms(a.duration),
                outcome,
                detail,
                error_class: class,
                hint,
            });
        }
    }

    /// Records a step that failed without ending the sign-in (it was retried): a warning, not the error.
    pub(crate) fn failed_step(&mut self, name: Stage, step: &str, host: &str, took: Duration, failure: &Failure) {
        self.warnings.push(format!("{name}, {step}: {}", failure.error));
        self.push_failed(name, step, host, took, failure);
    }

    /// Records a step that failed while the sign-in goes on another way, `then` saying which ("signing in with
    /// NTLM"): the warning says so.
    pub(crate) fn recovered_step(
        &mut self,
        name: Stage,
        step: &str,
        host: &str,
        took: Duration,
        failure: &Failure,
        then: &str,
    ) {
        self.warnings.push(format!("{step} failed, {then}: {}", failure.error));
        self.push_failed(name, step, host, took, failure);
    }

    fn push_failed(&mut self, name: Stage, step: &str, host: &str, took: Duration, failure: &Failure) {
        self.push(StepRecord {
            name,
            step: step.to_string(),
            host: host.to_string(),
            duration_ms: ms(took),
            outcome: Outcome::Failure,
            detail: failure.error.clone(),
            error_class: Some(failure.class.clone()),
            hint: Some(failure.hint.clone()),
        });
    }

    /// Makes a failure that was already recorded as a step the report's error.
    pub(crate) fn conclude_failure(&mut self, failure: Failure) {
        self.warnings.retain(|w| !w.contains(&failure.error));
        self.result = SignInResult::Failure;
        self.error = Some(failure.error);
        self.diagnosis = failure.diagnosis;
        self.hint = Some(failure.hint);
    }

    /// Records a failed step and makes it the report's error.
    pub(crate) fn fail(&mut self, name: Stage, step: &str, host: &str, took: Duration, failure: Failure) {
        self.failed_step(name, step, host, took, &failure);
        self.conclude_failure(failure);
    }

    /// The report as an admin reads it: a summary, then each stage and its steps.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut current: Option<Stage> = None;
        for s in &self.stages {
            if current != Some(s.name) {
                out.push_str(&format!("{}\n", s.name));
                current = Some(s.name);
            }
            let mark = match s.outcome {
                Outcome::Success => "ok  ",
                Outcome::Failure => "FAIL",
                Outcome::NotFound => "miss",
                Outcome::Skipped => "skip",
            };
            out.push_str(&format!(
                "  [{mark}] {:<28} {:<32} {:>9.1} ms  {}\n",
                s.step, s.host, s.duration_ms, s.detail
            ));
            if let Some(h) = &s.hint {
                out.push_str(&format!("         hint: {h}\n"));
            }
        }
        for w in &self.warnings {
            out.push_str(&format!("\nwarning: {w}"));
        }
        if !self.warnings.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "\nTarget    : {}\nUser      : {}\nResult    : {:?}\nLatency   : {:.1} ms\nError     : {}\nDiagnosis : {}\n",
            self.target,
            self.user,
            self.result,
            self.latency_ms,
            self.error.as_deref().unwrap_or(""),
            self.diagnosis.as_deref().unwrap_or("")
        ));
        if let (false, Some(hint)) = (self.is_success(), &self.hint) {
            out.push_str(&format!("Hint      : {hint}\n"));
        }
        out
    }
}

/// A classified failure: what went wrong, its class, the server's diagnosis and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub error: String,
    pub class: String,
    pub diagnosis: Option<String>,
    pub hint: String,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

impl SignInReport {
    /// Adds the sign-out step (REGISTER with `Expires: 0`) after a successful sign-in; a failed
    /// sign-out is recorded but does not turn a successful sign-in into a failure.
    /// Records that sign-out had nothing to do: the registrar had already ended the registration
    /// (a deregistration NOTIFY while signed in).
    pub fn record_sign_out_not_needed(&mut self, why: &str) {
        let host = self.registrar_host();
        self.step(Stage::SignOut, "REGISTER Expires: 0", &host, Duration::ZERO, Outcome::Skipped, why);
    }

    /// The host the last authentication step talked to: the registrar sign-out goes to.
    fn registrar_host(&self) -> String {
        self.stages.iter().rev().find(|s| s.name == Stage::Authentication).map(|s| s.host.clone()).unwrap_or_default()
    }

    pub fn record_sign_out(&mut self, took: Duration, error: Option<String>) {
        let host = self.registrar_host();
        match error {
            None => self.step(
                Stage::SignOut,
                "REGISTER Expires: 0",
                &host,
                took,
                Outcome::Success,
                "unregistered and disconnected",
            ),
            Some(e) => self.step(Stage::SignOut, "REGISTER Expires: 0", &host, took, Outcome::Failure, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failed_stage_and_the_servers_code_come_from_the_failure() {
        let mut report = SignInReport::new("sip:alice@contoso.com", "contoso.com");
        assert_eq!((report.failed_stage(), report.diagnostic_code()), (None, None));
        report.step(Stage::ServerDiscovery, "lyncdiscover", "x", Duration::ZERO, Outcome::Success, "found");
        let failure = |diagnosis: Option<&str>| Failure {
            error: "403, Forbidden".into(),
            class: "disabled-user".into(),
            diagnosis: diagnosis.map(str::to_string),
            hint: "enable the user".into(),
        };
        report.fail(
            Stage::Authentication,
            "REGISTER",
            "pool01",
            Duration::ZERO,
            failure(Some("ErrorCode=4141,source=pool01.contoso.com,Reason=User disabled")),
        );
        assert_eq!(report.failed_stage(), Some(Stage::Authentication));
        assert_eq!(report.diagnostic_code(), Some(4141));
        assert_eq!(report.error_class(), Some("disabled-user"));
        report.diagnosis = Some("ErrorCode=28032".into());
        assert_eq!(report.diagnostic_code(), Some(28032));
        for unreadable in ["ErrorCode=", "Reason=x", "errorcode=12"] {
            report.diagnosis = Some(unreadable.into());
            assert_eq!(report.diagnostic_code(), None, "{unreadable}");
        }
    }
}
