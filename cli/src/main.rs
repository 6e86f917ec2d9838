//! `sfbkit`: sign-in checks against a pool or the embedded lab pool, SIP linting, and the lab
//! pool on its own. The commands only parse arguments and print; the work is in the `sfbkit`
//! and `sfbkit-lab` crates.

mod lab;
mod lint;
mod normalize;
mod signin;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sfbkit",
    version,
    about = "Headless Skype for Business / Lync client: sign-in checks, SIP tools, lab pool"
)]
struct Cli {
    /// Log what sfbkit does to stderr: -v steps and decisions, -vv protocol detail (the lab pool's too),
    /// -vvv everything, dependencies included. RUST_LOG, when set, chooses instead (e.g. RUST_LOG=sfbkit=debug).
    /// No level prints a password, token, ticket or key.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a user in (then out again) and report every stage, like Test-CsRegistration.
    Signin(signin::SigninArgs),
    /// Check files as SIP messages the way a receiving element would.
    SipLint(lint::LintArgs),
    /// Run the lab pool on loopback until interrupted.
    Lab(lab::LabArgs),
    /// Normalize dialed numbers with a location profile (dial plan), as the client would.
    Normalize(normalize::NormalizeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging(cli.verbose);
    match cli.command {
        Command::SipLint(args) => lint::run(&args),
        Command::Normalize(args) => normalize::run(&args),
        Command::Signin(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(signin::run(args))),
        Command::Lab(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(lab::run(args))),
    }
}

/// Sends `tracing` output to stderr: RUST_LOG's filter when it is set, else the `--verbose` level.
fn logging(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec,
        _ => match verbose {
            0 => return,
            1 => "sfbkit=info,sfbkit_lab=info".to_string(),
            2 => "sfbkit=debug,sfbkit_lab=debug".to_string(),
            _ => "trace".to_string(),
        },
    };
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sfbkit: RUST_LOG={filter:?} is not a filter ({e}); logging at info");
            tracing_subscriber::EnvFilter::new("sfbkit=info,sfbkit_lab=info")
        }
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(false)
        .try_init();
    if let Err(e) = installed {
        eprintln!("sfbkit: logging could not be set up: {e}");
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("sfbkit: cannot start the async runtime: {e}");
            None
        }
    }
}
