//! The `sfbkit` binary as users and outside checks run it.

use std::io::Write;
use std::process::Command;

fn sfbkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sfbkit"))
}

/// A lab state directory of the test's own, so that runs do not share the default one.
fn state_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sfbkit-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn vectors(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(name)
}

#[test]
fn signin_lab_json_reports_success() {
    let state = state_dir("json");
    let out = sfbkit()
        .args(["signin", "--lab", "--json", "--keystore", "memory", "--lab-state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["result"], "Success");
    assert!(v["target"].as_str().unwrap().starts_with("pool01.contoso.lab"));
    assert!(v["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(v["error"].is_null() && v["diagnosis"].is_null());
    let stages = v["stages"].as_array().unwrap();
    let mut names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.dedup();
    assert_eq!(
        names,
        ["Local Discovery", "Server Discovery", "Connectivity Checks", "Authentication", "Sign Out"],
        "stages in the order an admin reads them"
    );
    for s in stages {
        assert!(s["host"].is_string() && s["duration_ms"].is_number() && s["step"].is_string());
        assert!(["Success", "NotFound", "Skipped"].contains(&s["outcome"].as_str().unwrap()), "{s}");
    }
    // Discovery ran: autodiscover on lyncdiscoverinternal found the registrar.
    assert!(stages.iter().any(|s| s["name"] == "Server Discovery"
        && s["outcome"] == "Success"
        && s["step"].as_str().unwrap().starts_with("lyncdiscoverinternal")));
}

#[test]
fn signin_lab_unknown_user_exits_1_with_diagnosis() {
    let state = state_dir("unknown");
    let out = sfbkit()
        .args(["signin", "--lab", "--lab-fault", "unknown-user", "--keystore", "memory", "--lab-state"])
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Result    : Failure"), "{text}");
    assert!(text.contains("Error     : 404, Not Found"));
    assert!(text.contains("ErrorCode=1003"));
    assert!(text.contains("hint: "));
}

#[test]
fn signin_without_lab_or_user_is_a_usage_error() {
    let out = sfbkit().args(["signin"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--user"));
    let out = sfbkit().args(["signin", "--lab", "--lab-fault", "no-such-fault"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown fault");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-lyncdiscover"), "the error lists the known faults");
}

#[test]
fn sip_lint_json_on_rfc4475_files() {
    let files = ["wsinv.dat", "dblreq.dat", "badvers.dat", "clerr.dat"].map(|f| vectors("rfc4475").join(f));
    let out = sfbkit().arg("sip-lint").arg("--json").args(&files).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an invalid file makes the exit code 1");
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["kind"], "request");
    assert!(lines[0]["error"].is_null());
    assert_eq!(lines[1]["valid"], true);
    assert!(lines[1]["trailing_bytes"].as_u64().unwrap() > 0, "dblreq's second request is reported");
    assert_eq!(lines[2]["valid"], false);
    assert_eq!(lines[2]["reject_with"], 505);
    assert!(lines[3]["error"].as_str().unwrap().contains("Content-Length 9999"));
}

/// Hostile files end in a typed error; the reader never takes more than one message's worth.
#[test]
fn sip_lint_on_hostile_files() {
    let dir = std::env::temp_dir().join(format!("sfbkit-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, f: &dyn Fn(&mut std::io::BufWriter<std::fs::File>)| {
        let path = dir.join(name);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f(&mut w);
        w.flush().unwrap();
        path
    };
    let long_line = write("long-line.sip", &|w| {
        w.write_all(b"INVITE sip:a@b SIP/2.0\r\nSubject: ").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..50 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(b"\r\n\r\n").unwrap();
    });
    let many = write("many-headers.sip", &|w| {
        w.write_all(b"INVITE sip:a@b SIP/2.0\r\n").unwrap();
        for i in 0..1_000_000 {
            writeln!(w, "X-{i}: y\r").unwrap();
        }
        w.write_all(b"\r\n").unwrap();
    });
    let big_cl = write("content-length.sip", &|w| {
        w.write_all(b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bKx\r\nTo: <sip:a@b>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nContent-Length: 99999999999\r\n\r\nbody").unwrap();
    });
    let out = sfbkit().arg("sip-lint").arg("--json").args([&long_line, &many, &big_cl]).output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["error"].as_str().unwrap().contains("longer than"), "{}", lines[0]);
    assert!(lines[1]["error"].as_str().unwrap().contains("more than 256 header lines"), "{}", lines[1]);
    assert!(lines[2]["error"].as_str().unwrap().contains("99999999999"), "{}", lines[2]);
    assert!(lines.iter().all(|l| l["valid"] == false));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sip_lint_missing_file_is_reported() {
    let out = sfbkit().args(["sip-lint", "/nonexistent/file.sip"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stdout).unwrap().contains("cannot read the file"));
}

/// The issue's promise: with an empty keystore the first run goes web ticket → certificate →
/// TLS-DSK; the second run finds the certificate in the OS keystore and skips both. A stale
/// certificate left by an earlier run (another CA) is refused, deleted and provisioned again.
#[test]
fn second_signin_uses_the_certificate_in_the_os_keystore() {
    let state = state_dir("keystore");
    let run = || {
        let out = sfbkit()
            .args(["signin", "--lab", "--json", "--user", "sip:bob@contoso.lab", "--lab-state"])
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let steps: Vec<String> = v["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == "Authentication")
            .map(|s| s["step"].as_str().unwrap().to_string())
            .collect();
        steps
    };
    let first = run();
    assert!(first.iter().any(|s| s == "certificate provisioning"), "{first:?}");
    assert_eq!(first.last().map(String::as_str), Some("REGISTER TLS-DSK (signed)"));
    let second = run();
    assert_eq!(
        second,
        ["REGISTER", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (handshake)", "REGISTER TLS-DSK (signed)"],
        "no web ticket, no provisioning: the stored certificate is used"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn signin_lab_stay_prints_the_events_then_the_report() {
    let state = state_dir("stay");
    let out = sfbkit()
        .args(["signin", "--lab", "--json", "--stay", "4", "--keystore", "memory", "--lab-fault", "drop-connection"])
        .arg("--lab-state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // One JSON object per event line, then the report (pretty-printed).
    let events: Vec<serde_json::Value> = text
        .lines()
        .take_while(|l| l.starts_with('{') && l.ends_with('}'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for wanted in
        ["registered", "provisioning_updated", "contact_added", "location_profile_loaded", "presence_published"]
    {
        assert!(kinds.contains(&wanted), "{wanted} missing from {kinds:?}");
    }
    // drop-connection strikes a second after sign-in: lost, then restored within the 4 s stay (first retry after 1 s ± 20 %).
    let lost = kinds.iter().position(|k| *k == "connection_lost").expect("the fault drops the connection");
    assert!(kinds[lost..].contains(&"connection_restored"), "{kinds:?}");
    let report_start = text.find("\n{\n").map(|i| i + 1).unwrap_or(0);
    let report: serde_json::Value = serde_json::from_str(&text[report_start..]).expect("the report follows");
    assert_eq!(report["result"], "Success");
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn bad_server_and_empty_account_are_refused_before_anything_is_sent() {
    let cases: [(&[&str], &str); 4] = [
        (&["--server", ":5061"], "names no host"),
        (&["--server", "pool01.contoso.com:0"], "port must be a number"),
        (&["--server", "pool..contoso.com"], "not a host name"),
        (&["--account", ""], "account name is empty"),
    ];
    for (args, expected) in cases {
        let out = sfbkit()
            .args(["signin", "--user", "alice@contoso.com", "--keystore", "memory", "--dns", "127.0.0.1:9"])
            .args(args)
            .env("SFBKIT_PASSWORD", "Not-Shown-1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("Not-Shown-1"));
    }
}

/// What must never be printed, at any log level: the lab users' password (and the `wrong-password`
/// fault's variant), NTLM messages (base64 of `NTLMSSP\0`), SAML assertions and web tickets (as XML and as
/// the base64 `X-MS-WebTicket` value), Org ID UsernameTokens, proof-key entropy and private keys (PEM, and
/// base64 PKCS#8 of an RSA key).
const SECRETS: &[&str] = &[
    "Lab-Passw0rd",
    "TlRMTVNTUA",
    "saml:Assertion",
    "PHNhbWw6QXNzZXJ0aW9u",
    "<wsse:UsernameToken",
    "wsse:Password",
    "BinarySecret",
    "PRIVATE KEY",
    "BgkqhkiG9w0BAQEFAASC",
];

#[test]
fn every_lab_fault_at_the_most_verbose_level_prints_no_secret() {
    let faults: Vec<&str> = sfbkit_lab::Fault::ALL.iter().map(|(name, _)| *name).collect();
    let mut runs: Vec<(String, Vec<String>)> = faults
        .iter()
        .map(|f| {
            // Faults that strike after sign-in need the endpoint to stay a while.
            let stay = if ["drop-connection", "restart", "disabled-after-signin"].contains(f) { "3" } else { "0" };
            (f.to_string(), vec!["--lab-fault".into(), f.to_string(), "--stay".into(), stay.into()])
        })
        .collect();
    runs.push(("(none, staying)".into(), vec!["--stay".into(), "2".into()]));
    let mut checked = 0;
    for batch in runs.chunks(6) {
        let handles: Vec<_> = batch
            .iter()
            .map(|(name, args)| {
                let (name, args) = (name.clone(), args.clone());
                std::thread::spawn(move || {
                    let state = state_dir(&format!("secrets-{}", name.replace(['(', ')', ' ', ','], "")));
                    let out = sfbkit()
                        .args(["signin", "--lab", "-vvv", "--json", "--keystore", "memory", "--lab-delay-ms", "20"])
                        .args(["--deadline", "8"])
                        .args(&args)
                        .arg("--lab-state")
                        .arg(&state)
                        .env_remove("RUST_LOG")
                        .output()
                        .unwrap();
                    let _ = std::fs::remove_dir_all(&state);
                    (name, out)
                })
            })
            .collect();
        for h in handles {
            let (name, out) = h.join().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.code().is_some_and(|c| c <= 1), "{name}: {all}");
            // The most verbose level really is verbose: the steps, and the dependencies' own logs.
            assert!(all.contains("sfbkit::report") && all.contains("TRACE"), "{name}: not logged at trace:\n{all}");
            for secret in SECRETS {
                if let Some(at) = all.find(secret) {
                    let around = &all[at.saturating_sub(300)..(at + 300).min(all.len())];
                    panic!("{name}: {secret:?} was printed:\n...{around}...");
                }
            }
            // gssapi-data values (NTLM, TLS-DSK flights) never appear, only their absence.
            for (i, _) in all.match_indices("gssapi-data=") {
                let value = &all[i + "gssapi-data=".len()..];
                assert!(value.starts_with("\"\"") || value.starts_with("<redacted>"), "{name}: {}", &all[i..i + 80]);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, faults.len() + 1);
}
