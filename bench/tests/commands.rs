//! The subcommands run and end in their line of figures (the figures themselves are not asserted: they are
//! measurements, kept in docs/performance.md).

use std::process::Command;

fn last_line(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sfbkit-bench")).args(args).output().expect("sfbkit-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.lines().last().unwrap_or_default().to_string()
}

#[test]
fn roundtrips_prints_cold_and_warm() {
    let line = last_line(&["roundtrips", "--delay-ms", "20"]);
    let fields: Vec<&str> = line.strip_prefix("roundtrips: ").expect(&line).split(' ').collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert!(fields[0].starts_with("cold=") && fields[1].starts_with("warm=") && fields[2] == "delay_ms=20", "{line}");
    let count = |f: &str| f.split_once('=').unwrap().1.parse::<f64>().unwrap();
    assert!(count(fields[0]) > count(fields[1]), "a warm sign-in skips provisioning: {line}");
}

#[test]
fn fleet_signs_in_every_endpoint_against_a_lab_in_another_process() {
    let line = last_line(&["fleet", "--endpoints", "12", "--in-flight", "4"]);
    assert!(line.starts_with("fleet: endpoints=12 signed_in=12 client_kib_per_endpoint="), "{line}");
    for key in ["warm_signins_per_s=", "cpu_pct="] {
        assert!(line.contains(key), "{line}");
    }
}
