//! [`SfbError`]: every failure the facade reports, as one enum whose variants all carry the stage (where there
//! is one), a short stable class, the server's code (where there is one), the failure in words and a hint.

use crate::types::{SignInReport, Stage};

/// A failure of the SDK, for the host app. Kotlin sees `SfbException`, Swift `SfbError`.
// The report makes `SignInFailed` large; uniffi passes errors by value and each is made once, so it is not boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SfbError {
    /// The client's configuration is wrong; nothing was sent.
    #[error("{detail}")]
    Configuration { error_class: String, detail: String, hint: String },
    /// Sign-in failed. `stage` is the stage of the failed step, `code` the server's diagnostic code
    /// (`ms-diagnostics`: 4141 user disabled, 28032 invalid web ticket) when it sent one, and `report` the
    /// whole sign-in, step by step.
    #[error("sign-in failed ({error_class}): {detail}")]
    SignInFailed {
        stage: Option<Stage>,
        error_class: String,
        code: Option<u32>,
        detail: String,
        diagnosis: Option<String>,
        hint: String,
        report: SignInReport,
    },
    /// The client is not signed in (never was, signed out, or gave up after losing its registration).
    #[error("{detail}")]
    NotSignedIn { error_class: String, detail: String, hint: String },
    /// The server refused a command (`code` is the SIP status), or it did not finish.
    #[error("{detail}")]
    CommandFailed { error_class: String, code: Option<u32>, detail: String, hint: String },
    /// Sign-out did not complete cleanly; the client is signed out locally all the same.
    #[error("{detail}")]
    SignOutFailed { stage: Stage, error_class: String, detail: String, hint: String },
    /// What was asked for has not arrived from the server yet (the dial plan, before `normalize`).
    #[error("{detail}")]
    NotReady { error_class: String, detail: String, hint: String },
    /// A bug in sfbkit (a Rust panic, caught). The client may be unusable: build a new one.
    #[error("{detail}")]
    Internal { detail: String },
}

impl SfbError {
    pub(crate) fn configuration(class: &str, detail: impl Into<String>, hint: &str) -> SfbError {
        SfbError::Configuration { error_class: class.into(), detail: detail.into(), hint: hint.into() }
    }

    /// The failure a report of an unsuccessful sign-in describes.
    pub(crate) fn sign_in_failed(report: &sfbkit::SignInReport) -> SfbError {
        let failed = report.stages.iter().rev().find(|s| s.outcome == sfbkit::Outcome::Failure);
        SfbError::SignInFailed {
            stage: report.failed_stage().map(Stage::from),
            error_class: report.error_class().unwrap_or("sign-in-failed").to_string(),
            code: report.diagnostic_code(),
            detail: report.error.clone().unwrap_or_else(|| "sign-in failed: see the report".into()),
            diagnosis: report.diagnosis.clone(),
            hint: report
                .hint
                .clone()
                .or_else(|| failed.and_then(|s| s.hint.clone()))
                .unwrap_or_else(|| "read the report's steps: the failed one says what happened".into()),
            report: report.into(),
        }
    }
}

impl From<sfbkit::ClientError> for SfbError {
    fn from(e: sfbkit::ClientError) -> SfbError {
        use sfbkit::ClientError as C;
        let (error_class, detail, hint) = (e.class().to_string(), e.to_string(), e.hint().to_string());
        match e {
            e if e.is_configuration() => SfbError::Configuration { error_class, detail, hint },
            C::NotSignedIn => SfbError::NotSignedIn { error_class, detail, hint },
            C::SignOut(_) => SfbError::SignOutFailed { stage: Stage::SignOut, error_class, detail, hint },
            C::Command(c) => {
                SfbError::CommandFailed { error_class, code: c.status_code().map(u32::from), detail, hint }
            }
            _ => SfbError::CommandFailed { error_class, code: None, detail, hint },
        }
    }
}
