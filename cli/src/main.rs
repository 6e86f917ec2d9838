//! `sfbkit`: sign-in checks against a pool or the embedded lab pool, SIP linting, and the lab
//! pool on its own. The commands only parse arguments and print; the work is in the `sfbkit`
//! and `sfbkit-lab` crates.

mod html;
mod junit;
mod lab;
mod lint;
mod normalize;
mod presence_check;
mod progress;
mod signin;
mod target;
mod trace_file;

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
    /// No progress on stderr (by default a live stage line on a terminal, plain stage lines elsewhere).
    #[arg(long, global = true)]
    no_progress: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign a user in (then out again) and report every stage, like Test-CsRegistration.
    Signin(signin::SigninArgs),
    /// Check files as SIP messages the way a receiving element would.
    SipLint(lint::LintArgs),
    /// Check presence end to end, like Test-CsPresence: two users sign in, one watches the other, the other
    /// publishes, the notification is verified.
    PresenceCheck(presence_check::PresenceCheckArgs),
    /// Run the lab pool on loopback until interrupted.
    Lab(lab::LabArgs),
    /// Normalize dialed numbers with a location profile (dial plan), as the client would.
    Normalize(normalize::NormalizeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let progress = !cli.no_progress && matches!(cli.command, Command::Signin(_) | Command::PresenceCheck(_));
    logging(cli.verbose, progress);
    match cli.command {
        Command::SipLint(args) => lint::run(&args),
        Command::Normalize(args) => normalize::run(&args),
        Command::Signin(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(signin::run(args))),
        Command::PresenceCheck(args) => {
            runtime().map_or(ExitCode::from(2), |rt| rt.block_on(presence_check::run(args)))
        }
        Command::Lab(args) => runtime().map_or(ExitCode::from(2), |rt| rt.block_on(lab::run(args))),
    }
}

/// Sends `tracing` output to stderr: RUST_LOG's filter when it is set, else the `--verbose` level; and the
/// sign-in's steps to the progress display when there is one.
fn logging(verbose: u8, progress: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => Some(spec),
        _ => match verbose {
            0 => None,
            1 => Some("sfbkit=info,sfbkit_lab=info".to_string()),
            2 => Some("sfbkit=debug,sfbkit_lab=debug".to_string()),
            _ => Some("trace".to_string()),
        },
    };
    let log = filter.map(|filter| {
        let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("sfbkit: RUST_LOG={filter:?} is not a filter ({e}); logging at info");
                tracing_subscriber::EnvFilter::new("sfbkit=info,sfbkit_lab=info")
            }
        };
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(true)
            .with_ansi(false)
            .with_filter(filter)
    });
    // A live line would be torn by log lines: with logging on, progress is plain lines.
    let progress = progress.then(|| {
        let terminal = std::io::stderr().is_terminal() && log.is_none();
        let steps = tracing_subscriber::filter::Targets::new().with_target(progress::TARGET, tracing::Level::INFO);
        progress::layer(terminal).with_filter(steps)
    });
    if let Err(e) = tracing_subscriber::registry().with(log).with(progress).try_init() {
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
