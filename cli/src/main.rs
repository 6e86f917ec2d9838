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
    match cli.command {
        Command::SipLint(args) => lint::run(&args),
        Command::Normalize(args) => normalize::run(&args),
        Command::Signin(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(signin::run(args))),
        Command::Lab(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(lab::run(args))),
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
