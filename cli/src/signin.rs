//! `sfbkit signin`: sign in, sign out, print the report (text or `--json`). Exit 0 on success,
//! 1 on failure, 2 when the command itself cannot run.

use std::process::ExitCode;

use sfbkit::transport::TrustConfig;
use sfbkit::{Client, ClientBuilder, ServerTarget, SignInReport};
use sfbkit_lab::{LabConfig, LabPool};

#[derive(clap::Args)]
pub struct SigninArgs {
    /// Start an embedded lab pool on loopback and sign in to it.
    #[arg(long)]
    lab: bool,
    /// The user's SIP URI (default with --lab: the lab's first user).
    #[arg(long)]
    user: Option<String>,
    /// Registrar FQDN[:port] (default port 5061); not needed with --lab.
    #[arg(long)]
    server: Option<String>,
    /// Connect to this address instead of resolving the registrar's name (the certificate must still name it).
    #[arg(long)]
    addr: Option<std::net::SocketAddr>,
    /// Extra CA certificate(s) to trust, PEM (system roots are trusted too).
    #[arg(long)]
    ca_file: Vec<std::path::PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: SigninArgs) -> ExitCode {
    match prepare(&args).await {
        Ok((client, _pool)) => {
            let mut report = client.sign_in().await;
            if report.is_success() {
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
        let pool = LabPool::start(LabConfig::default()).await.map_err(|e| e.to_string())?;
        let user = match (&args.user, pool.config().users.first()) {
            (Some(u), _) => u.clone(),
            (None, Some(first)) => first.sip_uri.clone(),
            (None, None) => return Err("the lab pool has no users; pass --user".into()),
        };
        let target = ServerTarget {
            fqdn: pool.config().pool_fqdn.clone(),
            port: pool.sip_addr().port(),
            addr: Some(pool.sip_addr()),
        };
        // The lab pool's own CA only: a lab sign-in must not depend on the machine's roots.
        let trust = TrustConfig::empty().with_extra_ca_pem(pool.ca_pem().as_bytes().to_vec());
        let client = ClientBuilder::new(&user).server(target).trust(trust).build().map_err(|e| e.to_string())?;
        return Ok((client, Some(pool)));
    }
    let user = args.user.clone().ok_or("--user is required without --lab")?;
    let server =
        args.server.clone().ok_or("--server is required without --lab (automatic discovery is not available yet)")?;
    let (fqdn, port) = match server.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().map_err(|_| format!("bad port in --server {server}"))?),
        None => (server.clone(), 5061),
    };
    let client = ClientBuilder::new(&user)
        .server(ServerTarget { fqdn, port, addr: args.addr })
        .trust(trust)
        .build()
        .map_err(|e| e.to_string())?;
    Ok((client, None))
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
