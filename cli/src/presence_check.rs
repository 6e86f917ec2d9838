//! `sfbkit presence-check`: Microsoft's Test-CsPresence with sfbkit's reports. Two users sign in; the subscriber
//! watches the publisher's presence (a presence subscription, without touching the subscriber's contact list);
//! the publisher publishes a manual state; the check passes when the subscriber is notified of exactly that
//! state in time. Both users' sign-in reports are part of the result, so a failure names its stage and cause.
//!
//! Use test accounts: the publisher's manual state is changed, then withdrawn (`clear_presence`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde::Serialize;
use sfbkit::presence::Availability;
use sfbkit::{Client, Event, SignInReport};

use crate::target::{Credentials, TargetArgs, default_account, password_from_env};

/// The JSON Schema of `--json` (`schema/sfbkit-presence-check.v1.schema.json`).
pub const SCHEMA: &str = "https://example.invalid/sfbkit/schema/sfbkit-presence-check.v1.schema.json";

#[derive(clap::Args)]
pub struct PresenceCheckArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The user who watches (Test-CsPresence's SubscriberSipAddress; default with --lab: the lab's first user).
    #[arg(long)]
    subscriber: Option<String>,
    /// The subscriber's Windows account (default: its address).
    #[arg(long)]
    subscriber_account: Option<String>,
    /// The environment variable holding the subscriber's password.
    #[arg(long, value_name = "VAR")]
    subscriber_password_env: Option<String>,
    /// The user who publishes (PublisherSipAddress; default with --lab: the lab's second user).
    #[arg(long)]
    publisher: Option<String>,
    /// The publisher's Windows account (default: its address).
    #[arg(long)]
    publisher_account: Option<String>,
    /// The environment variable holding the publisher's password.
    #[arg(long, value_name = "VAR")]
    publisher_password_env: Option<String>,
    /// How long the subscriber waits for the notification, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Print the result as one JSON object (schema/sfbkit-presence-check.v1.schema.json).
    #[arg(long)]
    json: bool,
    /// Also write JUnit XML to FILE: each user's sign-in stages, then the presence steps.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
}

/// One step of the presence check itself (after both sign-ins).
#[derive(Debug, Clone, Serialize)]
pub struct CheckStep {
    /// `Subscribe`, `Publish` or `Notification`.
    pub name: &'static str,
    pub outcome: sfbkit::Outcome,
    pub duration_ms: f64,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The result, as Test-CsPresence prints it (target, subscriber, publisher, result, latency, error, diagnosis),
/// with both sign-in reports.
#[derive(Debug, Serialize)]
pub struct PresenceCheck {
    #[serde(rename = "$schema")]
    pub schema: &'static str,
    pub target: String,
    pub subscriber: String,
    pub publisher: String,
    pub result: sfbkit::SignInResult,
    /// From the publication to the notification (the number Test-CsPresence reports as latency).
    pub latency_ms: Option<f64>,
    pub error: Option<String>,
    pub diagnosis: Option<String>,
    pub hint: Option<String>,
    pub error_class: Option<String>,
    /// What was published, and what arrived.
    pub published: Option<String>,
    pub notified: Option<String>,
    pub steps: Vec<CheckStep>,
    pub subscriber_sign_in: Option<SignInReport>,
    pub publisher_sign_in: Option<SignInReport>,
}

impl PresenceCheck {
    fn failed(&mut self, class: &str, error: String, hint: &str) {
        self.result = sfbkit::SignInResult::Failure;
        self.error_class = Some(class.to_string());
        self.error = Some(error);
        self.hint = Some(hint.to_string());
    }

    fn step(&mut self, name: &'static str, took: Duration, outcome: sfbkit::Outcome, detail: String) {
        let duration_ms = (took.as_secs_f64() * 10_000.0).round() / 10.0;
        self.steps.push(CheckStep { name, outcome, duration_ms, detail, error_class: None, hint: None });
    }

    fn fail_step(&mut self, name: &'static str, took: Duration, class: &str, error: String, hint: &str) {
        self.step(name, took, sfbkit::Outcome::Failure, error.clone());
        if let Some(last) = self.steps.last_mut() {
            last.error_class = Some(class.into());
            last.hint = Some(hint.into());
        }
        self.failed(class, error, hint);
    }

    fn to_text(&self) -> String {
        let mut out = String::new();
        for (who, report) in [("Subscriber", &self.subscriber_sign_in), ("Publisher", &self.publisher_sign_in)] {
            if let Some(r) = report {
                out.push_str(&format!("== {who} {} ==\n{}\n", r.user, r.to_text()));
            }
        }
        if !self.steps.is_empty() {
            out.push_str("Presence\n");
        }
        for s in &self.steps {
            let mark = if s.outcome == sfbkit::Outcome::Failure { "FAIL" } else { "ok  " };
            out.push_str(&format!("  [{mark}] {:<14} {:>9.1} ms  {}\n", s.name, s.duration_ms, s.detail));
            if let Some(h) = &s.hint {
                out.push_str(&format!("         hint: {h}\n"));
            }
        }
        out.push_str(&format!(
            "\nTarget     : {}\nSubscriber : {}\nPublisher  : {}\nResult     : {:?}\nLatency    : {}\nError      : {}\nDiagnosis  : {}\n",
            self.target,
            self.subscriber,
            self.publisher,
            self.result,
            self.latency_ms.map(|ms| format!("{ms:.1} ms")).unwrap_or_default(),
            self.error.as_deref().unwrap_or(""),
            self.diagnosis.as_deref().unwrap_or(""),
        ));
        if let Some(h) = &self.hint {
            out.push_str(&format!("Hint       : {h}\n"));
        }
        out
    }
}

pub async fn run(args: PresenceCheckArgs) -> ExitCode {
    let opened = match args.target.open().await {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    let users = opened.lab_users();
    let (Some(subscriber), Some(publisher)) = (
        args.subscriber.clone().or_else(|| users.first().cloned()),
        args.publisher.clone().or_else(|| users.get(1).cloned()),
    ) else {
        return usage_error("give --subscriber and --publisher (with --lab they default to the lab's first two users)");
    };
    let credentials = |account: &Option<String>,
                       var: &Option<String>,
                       user: &str|
     -> Result<Option<Credentials>, String> {
        match var {
            Some(var) => Ok(Some((account.clone().unwrap_or_else(|| default_account(user)), password_from_env(var)?))),
            None if account.is_some() => Err(format!("{user}: an account was given without --*-password-env")),
            None => Ok(None),
        }
    };
    let clients = credentials(&args.subscriber_account, &args.subscriber_password_env, &subscriber)
        .and_then(|c| opened.client(&subscriber, c))
        .and_then(|s| {
            let c = credentials(&args.publisher_account, &args.publisher_password_env, &publisher)?;
            Ok((s, opened.client(&publisher, c)?))
        });
    let (sub, publ) = match clients {
        Ok(c) => c,
        Err(e) => return usage_error(&e),
    };
    let check = check(&sub, &publ, Duration::from_secs(args.timeout)).await;
    for client in [&sub, &publ] {
        if client.is_signed_in() {
            let _ = client.sign_out().await;
        }
    }
    crate::progress::finish();
    if args.json {
        match serde_json::to_string_pretty(&check) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("sfbkit presence-check: cannot encode the result: {e}"),
        }
    } else {
        print!("{}", check.to_text());
    }
    if let Some(path) = &args.junit {
        let document = crate::junit::presence_document(&check);
        if let Err(e) = std::fs::write(path, document) {
            eprintln!("sfbkit presence-check: cannot write the JUnit report to {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if check.result == sfbkit::SignInResult::Success { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn usage_error(message: &str) -> ExitCode {
    crate::progress::finish();
    eprintln!("sfbkit presence-check: {message}");
    ExitCode::from(2)
}

/// Signs both in, subscribes, publishes, waits for the notification.
async fn check(sub: &Client, publ: &Client, timeout: Duration) -> PresenceCheck {
    let (sub_report, pub_report) = tokio::join!(sub.sign_in(), publ.sign_in());
    let mut check = PresenceCheck {
        schema: SCHEMA,
        target: sub_report.target.clone(),
        subscriber: sub_report.user.clone(),
        publisher: pub_report.user.clone(),
        result: sfbkit::SignInResult::Success,
        latency_ms: None,
        error: None,
        diagnosis: None,
        hint: None,
        error_class: None,
        published: None,
        notified: None,
        steps: Vec::new(),
        subscriber_sign_in: None,
        publisher_sign_in: None,
    };
    let failed_sign_in = [("subscriber", &sub_report), ("publisher", &pub_report)]
        .into_iter()
        .find(|(_, r)| !r.is_success())
        .map(|(who, r)| (who, r.clone()));
    let publisher_uri = pub_report.user.clone();
    check.subscriber_sign_in = Some(sub_report);
    check.publisher_sign_in = Some(pub_report);
    if let Some((who, report)) = failed_sign_in {
        check.result = sfbkit::SignInResult::Failure;
        check.error = Some(format!(
            "the {who} could not sign in{}: {}",
            report.failed_stage().map(|s| format!(" ({s})")).unwrap_or_default(),
            report.error.as_deref().unwrap_or("see its report")
        ));
        check.error_class = report.error_class().map(str::to_string);
        check.diagnosis = report.diagnosis.clone();
        check.hint = report.hint.clone();
        return check;
    }

    let t = Instant::now();
    if let Err(e) = sub.watch_presence(&publisher_uri).await {
        check.fail_step("Subscribe", t.elapsed(), e.class(), e.to_string(), e.hint());
        return check;
    }
    check.step("Subscribe", t.elapsed(), sfbkit::Outcome::Success, format!("watching {publisher_uri}"));

    // The state to publish: one the subscriber does not see now, so that its arrival proves the publication.
    let before = sub.presence_of(&publisher_uri).and_then(|p| p.availability);
    let state = if before == Some(Availability::Busy) { Availability::DoNotDisturb } else { Availability::Busy };
    let activity = "sfbkit-presence-check";
    let t = Instant::now();
    if let Err(e) = publ.set_presence(state, Some(activity)).await {
        check.fail_step("Publish", t.elapsed(), e.class(), e.to_string(), e.hint());
        return check;
    }
    // Latency from the moment the publication was sent: the notification may reach the subscriber before the
    // publisher has the server's 200 OK.
    let published_at = t;
    check.published = Some(format!("{state:?} ({activity})"));
    check.step("Publish", t.elapsed(), sfbkit::Outcome::Success, format!("published {state:?} as {publisher_uri}"));

    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_seen = None;
    loop {
        match tokio::time::timeout_at(deadline, sub.next_event()).await {
            Ok(Event::PresenceChanged { presence }) if presence.uri.eq_ignore_ascii_case(&publisher_uri) => {
                last_seen = Some(format!(
                    "{} ({})",
                    presence.availability.map(|a| format!("{a:?}")).unwrap_or_else(|| "unknown".into()),
                    presence.activity.as_deref().unwrap_or("")
                ));
                if presence.availability == Some(state) {
                    let latency = published_at.elapsed();
                    check.latency_ms = Some((latency.as_secs_f64() * 10_000.0).round() / 10.0);
                    check.notified = last_seen.clone();
                    check.step(
                        "Notification",
                        latency,
                        sfbkit::Outcome::Success,
                        format!("{} notified {publisher_uri} is {state:?}", check.subscriber),
                    );
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => {
                check.notified = last_seen;
                check.fail_step(
                    "Notification",
                    published_at.elapsed(),
                    "no-notification",
                    format!("no notification of {publisher_uri}'s {state:?} within {} s", timeout.as_secs()),
                    "check that the subscriber may see the publisher's presence (privacy relationships, \
                     Get-CsPrivacyConfiguration) and that the pool's presence service is healthy",
                );
                break;
            }
        }
    }
    let _ = publ.clear_presence().await;
    let _ = sub.unwatch_presence(&publisher_uri).await;
    check
}
