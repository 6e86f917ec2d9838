//! `sfbkit lab`: the lab pool on its own, for QA teams pointing other clients at it.

use std::process::ExitCode;

use sfbkit_lab::{Fault, LabConfig, LabPool};

#[derive(clap::Args)]
pub struct LabArgs {
    /// The pool's configuration (TOML; see tests/lab/lab.example.toml).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// Switch on a fault (repeatable); see `sfbkit signin --help` for the names.
    #[arg(long = "fault")]
    faults: Vec<Fault>,
    /// Delay every DNS, HTTP and SIP response by this many milliseconds.
    #[arg(long)]
    delay_ms: Option<u64>,
    /// Keep the pool's CA in this directory between runs (certificates it issued stay valid).
    #[arg(long)]
    state: Option<std::path::PathBuf>,
    /// Write the pool's CA certificate (PEM) here, for clients to trust.
    #[arg(long)]
    ca_out: Option<std::path::PathBuf>,
}

pub async fn run(args: LabArgs) -> ExitCode {
    let mut config = match &args.config {
        Some(path) => match LabConfig::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("sfbkit lab: {e}");
                return ExitCode::from(2);
            }
        },
        None => LabConfig::default(),
    };
    for fault in &args.faults {
        config = config.with_fault(*fault);
    }
    if let Some(ms) = args.delay_ms {
        config.response_delay_ms = ms;
    }
    let pool = match LabPool::start_with_state(config, args.state.as_deref()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sfbkit lab: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &args.ca_out
        && let Err(e) = std::fs::write(path, pool.ca_pem())
    {
        eprintln!("sfbkit lab: cannot write {}: {e}", path.display());
        return ExitCode::from(1);
    }
    let c = pool.config();
    println!("lab pool {} for domain {} is running", c.pool_fqdn, c.domain);
    println!("  DNS (UDP and TCP):        {}  (authoritative for {})", pool.dns_addr(), c.domain);
    let (https, http) = pool.web_ports();
    println!("  autodiscover:             https 127.0.0.1:{https}, http 127.0.0.1:{http}");
    println!("  registrar (SIP over TLS): {}", pool.sip_addr());
    if !c.faults.is_empty() {
        println!("  faults: {:?}", c.faults);
    }
    println!("  users: {}", c.users.iter().map(|u| u.sip_uri.as_str()).collect::<Vec<_>>().join(", "));
    match &args.ca_out {
        Some(p) => println!("  CA certificate written to {}", p.display()),
        None => println!("  CA certificate (trust it to connect):\n{}", pool.ca_pem()),
    }
    println!("press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
