//! `sfbkit normalize --profile FILE [--json] NUMBER...`: normalize dialed numbers with a location
//! profile (a `LocationProfileDescription` document, [MS-SIPRE] 2.2.8) the way the client would.
//! The rules are in `sfbkit::dialplan`; this only reads the file and prints.

use std::io::Read;
use std::process::ExitCode;

use sfbkit::dialplan::{LocationProfile, Normalized};

/// Largest profile file read (real profiles are a few KiB; the XML reader bounds the rest).
const MAX_PROFILE_BYTES: u64 = 4 << 20;

#[derive(clap::Args)]
pub struct NormalizeArgs {
    /// The location profile: a LocationProfileDescription XML file.
    #[arg(long, value_name = "FILE")]
    profile: std::path::PathBuf,
    /// Print one JSON array of {input, stripped, output, rule, extension}.
    #[arg(long)]
    json: bool,
    /// Dialed numbers, as a person would type them (quote the ones with spaces).
    #[arg(required = true, value_name = "NUMBER", allow_hyphen_values = true)]
    numbers: Vec<String>,
}

pub fn run(args: &NormalizeArgs) -> ExitCode {
    let profile = match load(&args.profile) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("sfbkit: cannot load the location profile {}: {message}", args.profile.display());
            return ExitCode::from(2);
        }
    };
    let results: Vec<Normalized> = args.numbers.iter().map(|n| profile.normalize(n)).collect();
    if args.json {
        match serde_json::to_string_pretty(&results) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("sfbkit: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        for r in &results {
            println!("{}", human(r));
        }
    }
    ExitCode::SUCCESS
}

fn load(path: &std::path::Path) -> Result<LocationProfile, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut data = Vec::new();
    file.take(MAX_PROFILE_BYTES + 1).read_to_end(&mut data).map_err(|e| e.to_string())?;
    if data.len() as u64 > MAX_PROFILE_BYTES {
        return Err(format!("the file is larger than {MAX_PROFILE_BYTES} bytes"));
    }
    LocationProfile::parse(&data).map_err(|e| e.to_string())
}

/// `input -> output (rule N: pattern)` or `input -> no rule matches`.
fn human(r: &Normalized) -> String {
    match (&r.output, &r.rule, &r.error) {
        (Some(out), Some(rule), _) => {
            let ext = if r.extension { " [internal extension]" } else { "" };
            format!("{} -> {out} (rule {}: {}){ext}", r.input, rule.index, rule.pattern)
        }
        (_, _, Some(error)) => format!("{} -> no result: {error}", r.input),
        _ => format!("{} -> no rule matches", r.input),
    }
}
