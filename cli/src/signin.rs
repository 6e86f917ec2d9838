//! `sfbkit signin`: sign in, sign out, print the report (text or `--json`). Exit 0 on success,
//! 1 on failure, 2 when the command itself cannot run.

use std::process::ExitCode;

use sfbkit::transport::TrustConfig;
use sfbkit::{Client, ClientBuilder, ServerTarget, SignInReport};
use sfbkit_lab::{Fault, LabConfig, LabPool};

#[derive(clap::Args)]
pub struct SigninArgs {
    /// Start an embedded lab pool on loopback and sign in to it (discovery included).
    #[arg(long)]
    lab: bool,
    /// The lab pool's configuration (TOML; see tests/lab/lab.example.toml).
    #[arg(long, requires = "lab")]
    lab_config: Option<std::path::PathBuf>,
    /// Switch on a lab fault (repeatable), e.g. no-lyncdiscover, wrong-cert-name, ntlm-only,
    /// tls10-only, drop-connection, restart; every name is listed in tests/lab/lab.example.toml.
    #[arg(long = "lab-fault", requires = "lab")]
    lab_faults: Vec<Fault>,
    /// Delay every lab DNS, HTTP and SIP response by this many milliseconds.
    #[arg(long, requires = "lab")]
    lab_delay_ms: Option<u64>,
    /// Where the embedded lab pool keeps its CA between runs, so that a certificate it issued is
    /// still good on the next run (default: the user's cache directory, sfbkit/lab).
    #[arg(long, requires = "lab")]
    lab_state: Option<std::path::PathBuf>,
    /// Where TLS-DSK certificates are kept: the OS keystore (default) or this process's memory.
    #[arg(long, value_enum, default_value = "os")]
    keystore: KeystoreChoice,
    /// The user's SIP URI (default with --lab: the lab's first user).
    #[arg(long)]
    user: Option<String>,
    /// Registrar FQDN[:port] (default port 5061); without it, server discovery finds the registrar.
    #[arg(long)]
    server: Option<String>,
    /// The Windows account for NTLM (`DOMAIN\\user` or `user@domain`). The password is read from the
    /// SFBKIT_PASSWORD environment variable, never from the command line (where `ps` would show it).
    #[arg(long)]
    account: Option<String>,
    /// DNS server(s) to ask instead of the system's (IP:PORT, repeatable).
    #[arg(long)]
    dns: Vec<std::net::SocketAddr>,
    /// Connect to this address instead of resolving the registrar's name (the certificate must still name it).
    #[arg(long)]
    addr: Option<std::net::SocketAddr>,
    /// A domain whose servers may receive the credentials besides the SIP domain (repeatable; Lync's
    /// TrustModelData). Without it the Microsoft client's defaults apply (lync.com, outlook.com,
    /// lync.glbdns.microsoft.com, microsoftonline.com); giving any replaces them. See README "Where your
    /// credentials go".
    #[arg(long = "trusted-domain", value_name = "DOMAIN")]
    trusted_domains: Vec<String>,
    /// Extra CA certificate(s) to trust, PEM (system roots are trusted too).
    #[arg(long)]
    ca_file: Vec<std::path::PathBuf>,
    /// Give up on a sign-in that has not finished after this many seconds (class `deadline`).
    #[arg(long, value_name = "SECONDS", default_value_t = 90)]
    deadline: u64,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Stay signed in this many seconds before signing out, printing what the endpoint learns
    /// (provisioning, dial plan, contacts, presence, reconnects) as it happens: one line per event,
    /// or one JSON object per line with --json. The report follows.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    stay: u64,
}

/// `--keystore`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KeystoreChoice {
    /// The OS keystore (Linux: the Secret Service when a desktop session offers one, else kernel
    /// keyutils), kept between runs.
    Os,
    /// This process's memory: every run provisions afresh.
    Memory,
}

fn keystore(choice: KeystoreChoice) -> std::sync::Arc<dyn sfbkit::keystore::SecretStore> {
    use sfbkit::keystore::{MemoryStore, OsKeystore};
    match choice {
        KeystoreChoice::Os => match OsKeystore::new() {
            Ok(k) => std::sync::Arc::new(k),
            Err(e) => {
                eprintln!("sfbkit signin: {e}; keeping certificates in memory");
                std::sync::Arc::new(MemoryStore::default())
            }
        },
        KeystoreChoice::Memory => std::sync::Arc::new(MemoryStore::default()),
    }
}

pub async fn run(args: SigninArgs) -> ExitCode {
    match prepare(&args).await {
        Ok((client, _pool)) => {
            let mut report = client.sign_in().await;
            if report.is_success() && args.stay > 0 {
                watch(&client, std::time::Duration::from_secs(args.stay), args.json).await;
            }
            if report.is_success() && !client.is_signed_in() {
                report.record_sign_out_not_needed("not needed: the registrar ended the registration (see the events)");
            } else if report.is_success() {
                let started = std::time::Instant::now();
                let result = client.sign_out().await;
                report.record_sign_out(started.elapsed(), result.as_ref().err().map(|e| e.to_string()));
            }
            print(&report, args.json);
            if report.is_success() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(message) => {
            eprintln!("sfbkit signin: {message}");
            ExitCode::from(2)
        }
    }
}

/// Builds the client (and starts the lab pool when asked); the pool lives as long as the tuple.
async fn prepare(args: &SigninArgs) -> Result<(Client, Option<LabPool>), String> {
    let mut trust = TrustConfig::system();
    for path in &args.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        trust = trust.with_extra_ca_pem(pem);
    }
    if args.lab {
        let mut config = match &args.lab_config {
            Some(path) => LabConfig::from_file(path).map_err(|e| e.to_string())?,
            None => LabConfig::default(),
        };
        for fault in &args.lab_faults {
            config = config.with_fault(*fault);
        }
        if let Some(ms) = args.lab_delay_ms {
            config.response_delay_ms = ms;
        }
        let state = match &args.lab_state {
            Some(dir) => dir.clone(),
            None => sfbkit_lab::state::default_dir().map_err(|e| format!("{e}; pass --lab-state DIR"))?,
        };
        let pool = LabPool::start_with_state(config, Some(&state)).await.map_err(|e| e.to_string())?;
        let user = match (&args.user, pool.config().users.first()) {
            (Some(u), _) => u.clone(),
            (None, Some(first)) => first.sip_uri.clone(),
            (None, None) => return Err("the lab pool has no users; pass --user".into()),
        };
        // The pool's DNS, autodiscover ports and CA: discovery finds the registrar as on a real network.
        let deadline = std::time::Duration::from_secs(args.deadline);
        let mut builder = pool.client_builder(&user).keystore(keystore(args.keystore)).sign_in_deadline(deadline);
        if !args.trusted_domains.is_empty() {
            builder = builder.trusted_domains(args.trusted_domains.clone());
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        return Ok((client, Some(pool)));
    }
    let user = args.user.clone().ok_or("--user is required without --lab")?;
    let mut builder = ClientBuilder::new(&user)
        .trust(trust)
        .dns_servers(args.dns.clone())
        .keystore(keystore(args.keystore))
        .sign_in_deadline(std::time::Duration::from_secs(args.deadline));
    if !args.trusted_domains.is_empty() {
        builder = builder.trusted_domains(args.trusted_domains.clone());
    }
    if let Some(account) = &args.account {
        let password = std::env::var("SFBKIT_PASSWORD")
            .map_err(|_| "--account needs the password in the SFBKIT_PASSWORD environment variable".to_string())?;
        builder = builder.credentials(account, &password);
    }
    if let Some(server) = &args.server {
        let (fqdn, port) = parse_server(server)?;
        builder = builder.server(ServerTarget { fqdn, port, addr: args.addr });
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    Ok((client, None))
}

/// `--server FQDN[:PORT]` (port 5061 by default); the host itself is checked by `ClientBuilder::build`.
fn parse_server(server: &str) -> Result<(String, u16), String> {
    let (host, port) = match server.rsplit_once(':') {
        Some((h, p)) => {
            let port = p.parse::<u16>().ok().filter(|p| *p != 0);
            (h, port.ok_or_else(|| format!("--server {server:?}: the port must be a number from 1 to 65535"))?)
        }
        None => (server, 5061),
    };
    if host.trim().is_empty() {
        return Err(format!(
            "--server {server:?} names no host: give the registrar's FQDN, e.g. pool01.contoso.com:5061"
        ));
    }
    Ok((host.to_string(), port))
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
