//! `sfbkit lab`: the lab pool on its own, for QA teams pointing other clients at it.

use std::process::ExitCode;

use sfbkit_lab::{Fault, LabPool, LabUser, Scenario};

#[derive(clap::Args)]
pub struct LabArgs {
    /// The pool's configuration (TOML; see tests/lab/lab.example.toml).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Switch on a fault (repeatable); see `sfbkit signin --help` for the names.
    #[arg(long = "fault")]
    faults: Vec<Fault>,
    /// Reproduce a field story, a named set of faults (repeatable): seed-002.
    #[arg(long = "scenario")]
    scenarios: Vec<Scenario>,
    /// Delay every DNS, HTTP and SIP response by this many milliseconds.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Run a Kerberos realm for the domain: a real MIT KDC (Debian's krb5-kdc) in a temporary directory,
    /// found through the pool's DNS (_kerberos._tcp); Kerberos on the registrar, Negotiate on the web services.
    #[arg(long)]
    kerberos: bool,
    /// Add this many users for load tests: user00000@<domain>, user00001@<domain>... with the lab's default
    /// password (Lab-Passw0rd!), besides the configured ones.
    #[arg(long, value_name = "N")]
    users: Option<usize>,
    /// Keep the pool's CA in this directory between runs (certificates it issued stay valid).
    #[arg(long)]
    state: Option<std::path::PathBuf>,
    /// Write the pool's CA certificate (PEM) here, for clients to trust (default: a file in the system's
    /// temporary directory, named in the output).
    #[arg(long)]
    ca_out: Option<std::path::PathBuf>,
    /// Print what a client needs as one JSON object on one line (for scripts and test harnesses) instead of
    /// the text for people.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: LabArgs) -> ExitCode {
    let mut config = match crate::target::lab_config(
        args.config.as_deref(),
        &args.faults,
        &args.scenarios,
        args.delay_ms,
        args.kerberos,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sfbkit lab: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(n) = args.users {
        let domain = config.domain.clone();
        config.users.extend((0..n).map(|i| LabUser::new(&format!("sip:user{i:05}@{domain}"), &format!("User {i}"))));
    }
    let pool = match LabPool::start_with_state(config, args.state.as_deref()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sfbkit lab: {e}");
            return ExitCode::from(1);
        }
    };
    let ca_file = match &args.ca_out {
        Some(path) => path.clone(),
        None => std::env::temp_dir().join(format!("sfbkit-lab-ca-{}.pem", std::process::id())),
    };
    if let Err(e) = std::fs::write(&ca_file, pool.ca_pem()) {
        eprintln!("sfbkit lab: cannot write the CA certificate to {}: {e}", ca_file.display());
        return ExitCode::from(1);
    }
    let c = pool.config();
    let (https, http) = pool.web_ports();
    let users: Vec<&str> = c.users.iter().map(|u| u.sip_uri.strip_prefix("sip:").unwrap_or(&u.sip_uri)).collect();
    if args.json {
        let info = serde_json::json!({
            "domain": c.domain,
            "pool": c.pool_fqdn,
            "dns": pool.dns_addr().to_string(),
            "autodiscover_https_port": https,
            "autodiscover_http_port": http,
            "registrar": pool.sip_addr().to_string(),
            "ca_file": ca_file,
            "users": users,
            "faults": c.faults.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            "kerberos": pool.kerberos().map(|k| serde_json::json!({
                "realm": k.kdc().realm(),
                "kdc": k.kdc().addr().to_string(),
                "krb5_conf": k.kdc().krb5_conf(),
            })),
        });
        // Standard output holds the one JSON line and nothing else (scripts read it whole); the rest goes to
        // standard error.
        println!("{info}");
        eprintln!("press Ctrl-C to stop");
    } else {
        print!("{}", describe(&pool, &ca_file, &users));
        println!("press Ctrl-C to stop");
    }
    let _ = tokio::signal::ctrl_c().await;
    if args.ca_out.is_none() {
        let _ = std::fs::remove_file(&ca_file);
    }
    ExitCode::SUCCESS
}

/// How to point a client at the running pool: every address, the CA to trust, the users, and a command that
/// signs in as a real pool's client would (discovery through the pool's DNS, certificates checked).
fn describe(pool: &LabPool, ca_file: &std::path::Path, users: &[&str]) -> String {
    let c = pool.config();
    let (https, http) = pool.web_ports();
    let dns = pool.dns_addr();
    let first = users.first().copied().unwrap_or("alice@contoso.lab");
    let mut out = format!("lab pool {} for domain {} is running\n\n", c.pool_fqdn, c.domain);
    out.push_str("Point a client at it:\n");
    out.push_str(&format!("  SIP domain:               {}\n", c.domain));
    out.push_str(&format!(
        "  DNS (UDP and TCP):        {dns}  (authoritative for {}: lyncdiscover, SRV and A records)\n",
        c.domain
    ));
    out.push_str(&format!("  CA certificate:           {}  (trust it; certificates are checked)\n", ca_file.display()));
    out.push_str(&format!("  autodiscover:             https 127.0.0.1:{https}, http 127.0.0.1:{http}\n"));
    out.push_str(&format!("  registrar (SIP over TLS): {}  ({})\n", pool.sip_addr(), c.pool_fqdn));
    let shown = users.len().min(8);
    let more = match users.len() - shown {
        0 => String::new(),
        n => format!(" and {n} more (--json lists them all)"),
    };
    out.push_str(&format!("  users:                    {}{more}\n", users[..shown].join(", ")));
    out.push_str("  passwords:                as configured (the demo users': tests/lab/lab.example.toml)\n");
    if !c.faults.is_empty() {
        let faults: Vec<String> = c.faults.iter().map(|f| f.to_string()).collect();
        out.push_str(&format!("  faults:                   {}\n", faults.join(", ")));
    }
    if let Some(k) = pool.kerberos() {
        let kdc = k.kdc();
        let realm = kdc.realm();
        out.push_str(&format!(
            "  Kerberos realm:           {realm}, KDC {} (_kerberos._tcp.{} in the pool's DNS)\n",
            kdc.addr(),
            c.domain
        ));
        let user = first.split('@').next().unwrap_or("alice");
        out.push_str(&format!(
            "\nSign in to the realm as a domain logon would, then sign in with Kerberos:\n  KRB5_CONFIG={} kinit {user}@{realm}\n  \
             sfbkit signin --user {first} --auth kerberos --dns {dns} --ca-file {} --autodiscover-ports {https},{http}\n",
            kdc.krb5_conf().display(),
            ca_file.display()
        ));
    }
    out.push_str(&format!(
        "\nSign in with sfbkit (the password from the environment variable LAB_PASSWORD):\n  sfbkit signin --user {first} \\\n    \
         --password-env LAB_PASSWORD --dns {dns} --ca-file {} --autodiscover-ports {https},{http}\n\n",
        ca_file.display()
    ));
    out
}
