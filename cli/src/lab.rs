//! `sfbkit lab`: the lab pool on its own, for QA teams pointing other clients at it.

use std::process::ExitCode;

use sfbkit_lab::{LabConfig, LabPool};

#[derive(clap::Args)]
pub struct LabArgs {
    /// Write the pool's CA certificate (PEM) here, for clients to trust.
    #[arg(long)]
    ca_out: Option<std::path::PathBuf>,
}

pub async fn run(args: LabArgs) -> ExitCode {
    let pool = match LabPool::start(LabConfig::default()).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sfbkit lab: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(path) = &args.ca_out {
        if let Err(e) = std::fs::write(path, pool.ca_pem()) {
            eprintln!("sfbkit lab: cannot write {}: {e}", path.display());
            return ExitCode::from(1);
        }
    }
    let c = pool.config();
    println!("lab pool {} for domain {} is running", c.pool_fqdn, c.domain);
    println!("  registrar (SIP over TLS): {}", pool.sip_addr());
    println!("  users: {}", c.users.iter().map(|u| u.sip_uri.as_str()).collect::<Vec<_>>().join(", "));
    match &args.ca_out {
        Some(p) => println!("  CA certificate written to {}", p.display()),
        None => println!("  CA certificate (trust it to connect):\n{}", pool.ca_pem()),
    }
    println!("press Ctrl-C to stop");
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
