//! `sfbkit-bench`: sfbkit's speed and memory, measured, each subcommand ending in one line of figures.
//!
//! - `sfbkit-bench parse`: SIP parsing against rsip; last line `ratio sfbkit / rsip try_from + typed(): Nx`.
//! - `sfbkit-bench roundtrips [--delay-ms D]`: a cold and a warm sign-in against a lab pool whose every DNS,
//!   HTTP and SIP answer waits D ms; the sign-in's latency in units of D is its count of sequential round
//!   trips. Last line `roundtrips: cold=N warm=N delay_ms=D`.
//! - `sfbkit-bench fleet --endpoints N`: N endpoints in this process against a lab pool in a second process
//!   (this binary, `serve-lab`), each watching 10 contacts' presence and publishing its own; then all signed
//!   out and in again. Last line
//!   `fleet: endpoints=N signed_in=N client_kib_per_endpoint=X warm_signins_per_s=Y cpu_pct=Z`.
//!
//! Figures are printed, never asserted (docs/performance.md keeps them with the commands that made them).

mod fleet;
mod parse;
mod process;
mod roundtrips;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: sfbkit-bench parse\n       sfbkit-bench roundtrips [--delay-ms D]\n       sfbkit-bench fleet [--endpoints N] [--in-flight K]"
    );
    ExitCode::from(2)
}

/// `--name VALUE` from `args`, parsed.
fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let v = args.get(i + 1).ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map(Some).map_err(|_| format!("{name} {v:?} is not a number"))
        }
    }
}

/// mimalloc, not glibc's malloc, for both of the fleet's processes. Profiling the warm round (perf, 4,000
/// endpoints) put about 40 % of the client's CPU in glibc's malloc and free; with mimalloc in the client alone the
/// warm rate went from 372 to 505–510 sign-ins per second, and in the lab alone it did not move
/// (docs/performance.md, "Allocator"). Memory per endpoint is the same with either. A host that runs many
/// endpoints should do the same; the library does not choose its host's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else { return usage() };
    let rest = &args[1..];
    let run = || -> Result<(), String> {
        match command.as_str() {
            "parse" => {
                parse::run();
                Ok(())
            }
            "roundtrips" => roundtrips::run(option(rest, "--delay-ms")?.unwrap_or(100)),
            "fleet" => {
                fleet::run(option(rest, "--endpoints")?.unwrap_or(200), option(rest, "--in-flight")?.unwrap_or(32))
            }
            // The lab pool side of `fleet`, in its own process.
            "serve-lab" => fleet::serve_lab(option(rest, "--endpoints")?.unwrap_or(200)),
            _ => Err(format!("unknown command {command:?}")),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sfbkit-bench {command}: {e}");
            usage()
        }
    }
}
