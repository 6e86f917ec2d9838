//! `sfbkit signin`: sign in, sign out, print the report (text or `--json`). Exit 0 on success,
//! 1 on failure, 2 when the command itself cannot run.

use std::process::ExitCode;

use sfbkit::{Client, SignInReport};
use sfbkit_lab::LabPool;

use std::sync::Arc;

use crate::target::{TargetArgs, default_account, password_from_env, password_from_stdin};
use crate::trace_file::UccApiLog;

#[derive(clap::Args)]
pub struct SigninArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The user's SIP URI (default with --lab: the lab's first user).
    #[arg(long)]
    user: Option<String>,
    /// The Windows account for NTLM (`DOMAIN\\user` or `user@domain`; default with a password: the user's
    /// address). The password never comes from the command line (where `ps` would show it): see --password-env
    /// and --password-stdin.
    #[arg(long)]
    account: Option<String>,
    /// Read the password from this environment variable (default: SFBKIT_PASSWORD, when --account is given).
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    password_env: Option<String>,
    /// Read the password from the first line of standard input (a pipe, a secret manager's output).
    #[arg(long)]
    password_stdin: bool,
    /// Print the report as one JSON object, as schema/sfbkit-report.v1.schema.json describes it.
    #[arg(long)]
    json: bool,
    /// Also write the report as JUnit XML to FILE, for CI systems: one test case per stage, the stage that
    /// failed as a <failure> with the error, the diagnosis and the hint.
    #[arg(long, value_name = "FILE")]
    junit: Option<std::path::PathBuf>,
    /// Also write the sign-in as one self-contained HTML page to FILE: a waterfall of the stages and steps on a
    /// time axis, and a ladder of the messages between the client and DNS, autodiscover, the web services and
    /// the registrar, each expandable (redacted as --trace is).
    #[arg(long, value_name = "FILE")]
    html: Option<std::path::PathBuf>,
    /// Stay signed in this many seconds before signing out, printing what the endpoint learns
    /// (provisioning, dial plan, contacts, presence, reconnects) as it happens: one line per event,
    /// or one JSON object per line with --json. The report follows.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    stay: u64,
}

pub async fn run(args: SigninArgs) -> ExitCode {
    match prepare(&args).await {
        Ok((client, _pool, trace, collector)) => {
            let started = std::time::SystemTime::now();
            let mut report = client.sign_in().await;
            // Seed 001's last stage: provisioning, dial plan and contact list, each a step of the report.
            client.settings_and_policies(&mut report, std::time::Duration::from_secs(10)).await;
            if report.is_success() && args.stay > 0 {
                crate::progress::finish();
                watch(&client, std::time::Duration::from_secs(args.stay), args.json).await;
            }
            if report.is_success() && !client.is_signed_in() {
                report.record_sign_out_not_needed("not needed: the registrar ended the registration (see the events)");
            } else if report.is_success() {
                let started = std::time::Instant::now();
                let result = client.sign_out().await;
                report.record_sign_out(started.elapsed(), result.as_ref().err().map(|e| e.to_string()));
            }
            crate::progress::finish();
            print(&report, args.json);
            if let Some(path) = &args.junit {
                let name = format!("sfbkit signin {}", report.user);
                if let Err(e) = std::fs::write(path, crate::junit::document(&[(&name, &report)])) {
                    eprintln!("sfbkit signin: cannot write the JUnit report to {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            if let (Some(path), Some(collector)) = (&args.html, collector) {
                let page = crate::html::page(&report, started, &collector.records());
                if let Err(e) = std::fs::write(path, page) {
                    eprintln!("sfbkit signin: cannot write the HTML report to {}: {e}", path.display());
                    return ExitCode::from(2);
                }
            }
            if let Some(e) = trace.and_then(|t| t.error()) {
                eprintln!("sfbkit signin: the trace could not be written: {e}");
                return ExitCode::from(2);
            }
            if report.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(message) => {
            eprintln!("sfbkit signin: {message}");
            ExitCode::from(2)
        }
    }
}

/// Builds the client (and starts the lab pool when asked); the pool lives as long as the tuple.
type Prepared = (Client, Option<LabPool>, Option<Arc<UccApiLog>>, Option<Arc<crate::html::Collector>>);

async fn prepare(args: &SigninArgs) -> Result<Prepared, String> {
    let opened = args.target.open().await?;
    let user = match (&args.user, opened.lab_users().first()) {
        (Some(u), _) => u.clone(),
        (None, Some(first)) => first.clone(),
        (None, None) if opened.lab.is_some() => return Err("the lab pool has no users; pass --user".into()),
        (None, None) => return Err("--user is required without --lab".into()),
    };
    let password = if args.password_stdin {
        Some(password_from_stdin()?)
    } else {
        match (&args.password_env, &args.account) {
            (Some(var), _) => Some(password_from_env(var)?),
            (None, Some(_)) => Some(password_from_env("SFBKIT_PASSWORD")?),
            (None, None) => None,
        }
    };
    let credentials = password.map(|p| (args.account.clone().unwrap_or_else(|| default_account(&user)), p));
    let collector = args.html.as_ref().map(|_| Arc::new(crate::html::Collector::default()));
    let observer = collector.clone().map(|c| c as Arc<dyn sfbkit::trace::WireObserver>);
    let client = opened.client_observed(&user, credentials, observer)?;
    Ok((client, opened.lab, opened.trace, collector))
}

/// Prints the endpoint's events for `how_long` (`--stay`).
async fn watch(client: &Client, how_long: std::time::Duration, json: bool) {
    let until = tokio::time::Instant::now() + how_long;
    while let Ok(event) = tokio::time::timeout_at(until, client.next_event()).await {
        if json {
            match serde_json::to_string(&event) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("sfbkit signin: cannot encode an event: {e}"),
            }
        } else {
            println!("event: {}", describe(&event));
        }
    }
}

/// One line per event, as an admin reads a client log.
fn describe(event: &sfbkit::Event) -> String {
    use sfbkit::Event as E;
    match event {
        E::Registered { registrar, expires_s } => format!("registered at {registrar} for {expires_s} s"),
        E::RegistrationRefreshed { expires_s } => format!("registration refreshed for {expires_s} s"),
        E::Deregistered { reason, diagnostics_code, diagnostics_reason, reconnecting } => {
            format!(
                "deregistered by the registrar: {reason:?}{}{}",
                diagnostics_code.map(|c| format!(", ms-diagnostics {c}")).unwrap_or_default(),
                diagnostics_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ) + if *reconnecting { "; signing in again" } else { "" }
        }
        E::ConnectionLost { error } => format!("connection lost: {error}"),
        E::Reconnecting { attempt, delay_ms, .. } => format!("reconnect attempt {attempt} in {delay_ms} ms"),
        E::ConnectionRestored { attempts, downtime_ms } => {
            format!("connection restored after {downtime_ms} ms ({attempts} attempt(s))")
        }
        E::SignInFailed { class, error, .. } => format!("gave up signing in again: {class}: {error}"),
        E::CertificateRenewed { pool, expires_unix } => {
            format!("TLS-DSK certificate for {pool} renewed (expires at {expires_unix}, Unix time)")
        }
        E::CertificateRenewalFailed { class, error } => format!("certificate renewal failed: {class}: {error}"),
        E::ProvisioningUpdated { location_profile } => format!(
            "in-band provisioning received (location profile {})",
            location_profile.as_deref().unwrap_or("none")
        ),
        E::LocationProfileLoaded { name, rules } => format!("dial plan {name} loaded ({rules} rules)"),
        E::LocationProfileRefused { error } => format!("dial plan refused: {error}"),
        E::ContactAdded { contact } => {
            format!("contact {} ({}) in groups {:?}", contact.uri, contact.name, contact.groups)
        }
        E::ContactRemoved { uri } => format!("contact {uri} removed"),
        E::ContactModified { after, .. } => format!("contact {} changed (groups {:?})", after.uri, after.groups),
        E::GroupAdded { group } => format!("group {} ({})", group.id, group.display_name()),
        E::GroupRemoved { id, name } => format!("group {id} ({name}) removed"),
        E::GroupModified { after, .. } => format!("group {} renamed to {}", after.id, after.display_name()),
        E::ContactsInExchange => "contacts are kept in Exchange (Unified Contact Store)".into(),
        E::PresenceChanged { presence } => format!(
            "presence of {}: {}{}",
            presence.uri,
            presence.availability.map(|a| format!("{a:?}")).unwrap_or_else(|| "unknown".into()),
            presence.activity.as_ref().map(|a| format!(" ({a})")).unwrap_or_default()
        ),
        E::NoteChanged { uri, note } => format!("note of {uri}: {}", note.as_deref().unwrap_or("(cleared)")),
        E::PresencePublished { categories } => format!("published {}", categories.join(", ")),
        E::Lagged { missed } => format!("{missed} events dropped (reader too slow)"),
        E::SignedOut => "signed out".into(),
    }
}

fn print(report: &SignInReport, json: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("sfbkit signin: cannot encode the report: {e}"),
        }
    } else {
        print!("{}", report.to_text());
    }
}
