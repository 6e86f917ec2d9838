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

fn schema(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Fails the test when `value` does not follow the schema file `name` (in schema/), naming each violation. The
/// sign-in report's schema is registered under its `$id`, so the presence check's `$ref`s resolve offline.
fn assert_follows(name: &str, value: &serde_json::Value, context: &str) {
    let report_schema = schema("sfbkit-report.v1.schema.json");
    let id = report_schema["$id"].as_str().unwrap().to_string();
    let registry = jsonschema::Registry::new().add(&id, report_schema).unwrap().prepare().unwrap();
    let validator = jsonschema::options().with_registry(&registry).build(&schema(name)).expect("a valid JSON Schema");
    let errors: Vec<String> = validator.iter_errors(value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{context}: does not follow {name}:\n{}\n{value:#}", errors.join("\n"));
}

/// Fails the test when `report` does not follow schema/sfbkit-report.v1.schema.json.
fn assert_follows_schema(report: &serde_json::Value, context: &str) {
    assert_follows("sfbkit-report.v1.schema.json", report, context);
    assert_eq!(report["$schema"], sfbkit::REPORT_SCHEMA, "{context}");
}

/// The report `--json` printed last on stdout (after the event lines of `--stay`).
fn last_report(stdout: &str) -> serde_json::Value {
    let start = if stdout.starts_with("{\n") { 0 } else { stdout.find("\n{\n").map(|i| i + 1).unwrap_or(0) };
    serde_json::from_str(&stdout[start..]).unwrap_or_else(|e| panic!("no report at the end ({e}):\n{stdout}"))
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
    assert_follows_schema(&v, "signin --lab --json");
    assert_eq!(v["result"], "Success");
    assert!(v["target"].as_str().unwrap().starts_with("pool01.contoso.lab"));
    assert!(v["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(v["error"].is_null() && v["diagnosis"].is_null());
    let stages = v["stages"].as_array().unwrap();
    let mut names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.dedup();
    assert_eq!(
        names,
        [
            "Local Discovery",
            "Server Discovery",
            "Connectivity Checks",
            "Authentication",
            "Settings and Policies",
            "Sign Out"
        ],
        "stages in the order an admin reads them"
    );
    for s in stages {
        assert!(s["host"].is_string() && s["duration_ms"].is_number() && s["step"].is_string());
        assert!(["Success", "NotFound", "Skipped"].contains(&s["outcome"].as_str().unwrap()), "{s}");
    }
    // Seed 001's last stage: provisioning, the dial plan (seed 003's, 5 rules) and the contact list.
    let mut settings: Vec<&str> =
        stages.iter().filter(|s| s["name"] == "Settings and Policies").map(|s| s["step"].as_str().unwrap()).collect();
    settings.sort_unstable();
    assert_eq!(settings, ["contact list", "in-band provisioning", "location profile"], "each once, as they arrive");
    assert!(stages.iter().any(|s| s["step"] == "location profile" && s["detail"].as_str().unwrap().contains("5 normalization rules")));
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

/// What the report of a sign-in under each lab fault must say, so that an admin reading it finds the cause
/// (`--lab-delay-ms 20 --deadline 8`; the faults striking after sign-in with `--stay`, their events included).
fn cause_named(fault: &str) -> &'static [&'static str] {
    match fault {
        "no-lyncdiscover" => &["lyncdiscover.contoso.lab does not exist in DNS"],
        "no-lyncdiscover-no-srv" => &["_sip._tls.contoso.lab does not exist in DNS"],
        "wrong-cert-name" => &["names sip.contoso.lab only"],
        "expired-cert" => &["has expired", "expired-certificate"],
        "redirect-loop" => &["redirect loop"],
        "unknown-user" => &["ErrorCode=1003"],
        "refuse-sip" => &["connection refused"],
        "wrong-password" => &["refused the credentials", "wrong-credentials"],
        "disabled-user" => &["ErrorCode=4141", "disabled-user"],
        "ntlm-only" => &["offers NTLM; using NTLM"],
        "tls-dsk-only" => &["offers TLS-DSK; using TLS-DSK"],
        "tls10-only" => &["inner TLS: TLS 1.0"],
        "no-tls10" => &["refused a ClientHello offering TLS 1.0 at most", "inner TLS: TLS 1.2"],
        "kerberos-no-spn" => &["KDC_ERR_S_PRINCIPAL_UNKNOWN", "setspn", "Kerberos skipped"],
        "kdc-clock-skew" => &["KRB_AP_ERR_SKEW", "w32tm", "Kerberos skipped"],
        "kerberos-expired-ticket" => &["too soon to use"],
        "kdc-down" => &["cannot contact any KDC for the realm CONTOSO.LAB", "port 88", "Kerberos skipped"],
        "kerberos-only" => &["offers Kerberos; using Kerberos"],
        "invalid-ticket" => &["ErrorCode=28032"],
        "expired-user-cert" => &["not valid now"],
        "drop-connection" => &["connection_lost", "connection_restored"],
        "restart" => &["connection_lost", "reconnecting"],
        "disabled-after-signin" => &["\"diagnostics_code\":4141", "rejected"],
        "clock-skew" => &["clock skew"],
        "proxy-auth" => &["407"],
        "online" => &["Org ID"],
        "offdomain-webticket-url" => &["evil.example.net", "untrusted-server"],
        "sts-uri-elsewhere" => &["evil.example.net", "untrusted-server"],
        "mex-http-port" => &["http://webticket.contoso.lab", "untrusted-server"],
        "offdomain-autodiscover-redirect" => &["redirects to evil.example.net"],
        "drop-register-1" | "drop-register-2" | "drop-register-3" => &["the server closed the connection"],
        "register-503" => &["503 Service Unavailable"],
        "webticket-500" => &["status 500"],
        "trickle" => &["did not finish within 8 s, in Authentication"],
        "dns-timeout" => &["did not answer"],
        "dead-first-srv" => &["fe-dead.contoso.lab"],
        "slow" | "(none, staying)" => &[],
        other => panic!("no expected cause for the lab fault {other}: add it to cause_named"),
    }
}

#[test]
fn every_lab_fault_names_its_cause_follows_the_schema_and_prints_no_secret() {
    let faults: Vec<&str> = sfbkit_lab::Fault::ALL.iter().map(|(name, _)| *name).collect();
    let mut runs: Vec<(String, Vec<String>)> = faults
        .iter()
        .map(|f| {
            // Faults that strike after sign-in need the endpoint to stay a while.
            let stay = if ["drop-connection", "restart", "disabled-after-signin"].contains(f) { "3" } else { "0" };
            let mut args = vec!["--lab-fault".into(), f.to_string(), "--stay".into(), stay.into()];
            // The dead first Front End is met only when DNS SRV finds the pool.
            if *f == "dead-first-srv" {
                args.extend(["--lab-fault".into(), "no-lyncdiscover".into()]);
            }
            (f.to_string(), args)
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
            let stdout = String::from_utf8_lossy(&out.stdout);
            let report = last_report(&stdout);
            assert_follows_schema(&report, &name);
            assert_eq!(report["result"] == "Success", out.status.code() == Some(0), "{name}: exit code and result");
            // The report (with the events of --stay) names what the fault did.
            for cause in cause_named(&name) {
                assert!(stdout.contains(cause), "{name}: {cause:?} is not named in the report:\n{stdout}");
            }
            if name == "slow" {
                let slow = report["stages"].as_array().unwrap().iter().any(|s| s["duration_ms"].as_f64() >= Some(20.0));
                assert!(slow, "{name}: the delay shows in the steps' durations");
            }
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

/// `--junit FILE`: one test case per stage, the stage that ended the sign-in a <failure> with the error, the
/// diagnosis and the hint; the stages never reached skipped. `--password-stdin` reads the password from a pipe.
#[test]
fn junit_has_a_test_case_per_stage_and_a_failure_for_the_failed_one() {
    let state = state_dir("junit");
    let dir = std::env::temp_dir().join(format!("sfbkit-cli-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, failed) = (dir.join("ok.xml"), dir.join("failed.xml"));
    let run = |junit: &std::path::Path, extra: &[&str]| {
        sfbkit()
            .args(["signin", "--lab", "--keystore", "memory", "--lab-state"])
            .arg(&state)
            .arg("--junit")
            .arg(junit)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&ok, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&ok).unwrap();
    for stage in [
        "Local Discovery",
        "Server Discovery",
        "Connectivity Checks",
        "Authentication",
        "Settings and Policies",
        "Sign Out",
    ] {
        assert_eq!(xml.matches(&format!("name=\"{stage}\"")).count(), 1, "{stage}:\n{xml}");
    }
    assert!(xml.contains("tests=\"6\" failures=\"0\"") && !xml.contains("<failure"), "{xml}");

    let out = run(&failed, &["--lab-fault", "disabled-user"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(&failed).unwrap();
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    let case = &xml[xml.find("name=\"Authentication\"").expect("an Authentication test case")..];
    let failure = &case[..case.find("</testcase>").unwrap()];
    assert!(failure.contains("<failure message=") && failure.contains("type=\"disabled-user\""), "{failure}");
    assert!(failure.contains("Diagnosis : ErrorCode=4141"), "the diagnosis: {failure}");
    assert!(failure.contains("Hint      : ") && failure.contains("Error     : "), "{failure}");
    assert!(!xml.contains("name=\"Sign Out\""), "no sign-out after a failed sign-in: {xml}");

    // A failure at discovery: the stages after it were not reached.
    let out = run(&failed, &["--lab-fault", "wrong-password"]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&failed).unwrap();
    assert!(xml.contains("<skipped message=\"not reached: sign-in failed at Server Discovery\"/>"), "{xml}");
    assert_eq!(xml.matches("<skipped").count(), 2, "Connectivity Checks and Authentication: {xml}");

    // The password from a pipe replaces the lab user's: the right one signs in, another is refused.
    let with_password = |password: &[u8]| {
        let mut child = sfbkit()
            .args(["signin", "--lab", "--json", "--keystore", "memory", "--password-stdin"])
            .args(["--account", "alice@contoso.lab", "--lab-state"])
            .arg(&state)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(password).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = with_password(b"Lab-Passw0rd!\r\n");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = with_password(b"Not-The-Passw0rd\n");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report = last_report(&String::from_utf8_lossy(&out.stdout));
    assert_follows_schema(&report, "wrong password from stdin");
    assert_eq!(report["error_class"], "wrong-credentials");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Not-The-Passw0rd"));
    let out = with_password(b"\n");
    assert_eq!(out.status.code(), Some(2), "an empty password is a usage error");
    let _ = std::fs::remove_dir_all(&state);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sfbkit lab` says how to point a client at it, and what it says works: the command it prints, run as printed
/// (the password from the environment), signs in through the pool's DNS with its CA checked.
#[test]
fn the_lab_prints_how_to_point_a_client_at_it_and_that_works() {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("sfbkit-cli-labinfo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    let mut lab = sfbkit().args(["lab", "--ca-out"]).arg(&ca).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut lines = std::io::BufReader::new(lab.stdout.take().unwrap()).lines();
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        text.push_str(&line);
        text.push('\n');
        if line.starts_with("press Ctrl-C") {
            break;
        }
    }
    for wanted in ["SIP domain:               contoso.lab", "DNS (UDP and TCP):", "CA certificate:", "users:"] {
        assert!(text.contains(wanted), "{wanted:?} missing:\n{text}");
    }
    assert!(text.contains(&ca.display().to_string()), "{text}");
    assert!(!text.contains("Lab-Passw0rd"), "no password is printed:\n{text}");
    // The printed command, continuation lines joined, run as a user would.
    let command = text[text.find("  sfbkit signin").expect("a command to run")..].replace("\\\n", " ");
    let command = command.lines().next().unwrap();
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = sfbkit()
        .args(&args)
        .args(["--keystore", "memory", "--json"])
        .env("LAB_PASSWORD", "Lab-Passw0rd!")
        .output()
        .unwrap();
    let _ = lab.kill();
    let _ = lab.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{command}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report = last_report(&stdout);
    assert_follows_schema(&report, "the lab's printed command");
    assert!(report["warnings"].as_array().unwrap().is_empty(), "no step failed on the way: {report:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Progress: a live stage line on a terminal (here a pseudo-terminal from script(1), util-linux), erased before
/// the report; plain stage lines and no escape codes when stderr is a pipe.
#[test]
fn progress_is_live_on_a_terminal_and_plain_lines_in_a_pipe() {
    let state = state_dir("progress");
    let out = sfbkit().args(["signin", "--lab", "--keystore", "memory", "--lab-state"]).arg(&state).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains('\x1b') && !stderr.contains('\x1b'), "escape codes in piped output:\n{stderr}");
    for stage in ["Local Discovery", "Server Discovery", "Connectivity Checks", "Authentication"] {
        assert!(stderr.contains(&format!("sfbkit: {stage}...\n")), "{stage}:\n{stderr}");
    }
    let quiet =
        sfbkit().args(["signin", "--lab", "--no-progress", "--keystore", "memory", "--lab-state"]).arg(&state).output();
    let quiet = quiet.unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("sfbkit: "), "--no-progress");

    let command =
        format!("{} signin --lab --keystore memory --lab-state {}", env!("CARGO_BIN_EXE_sfbkit"), state.display());
    let tty = Command::new("script").args(["-qec", &command, "/dev/null"]).output().expect("script(1) runs");
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(tty.status.success(), "{screen}");
    assert!(screen.contains("\r\x1b[2KServer Discovery: "), "a live line on the terminal:\n{screen:?}");
    let report_at = screen.find("Target    :").expect("the report follows");
    let erased_at = screen[..report_at].rfind("\r\x1b[2K").expect("the line is erased");
    assert!(!screen[erased_at + 5..report_at].contains("Discovery: "), "erased before the report: {screen:?}");
    let _ = std::fs::remove_dir_all(&state);
}

/// `sfbkit presence-check --lab`: Test-CsPresence's flow; the JSON follows its schema (both sign-in reports
/// included), JUnit has the sign-in stages and the presence steps; a failed sign-in is named with its stage.
#[test]
fn presence_check_verifies_the_notification_and_reports_like_test_cspresence() {
    let state = state_dir("presence");
    let junit = std::env::temp_dir().join(format!("sfbkit-cli-presence-{}.xml", std::process::id()));
    let out = sfbkit()
        .args(["presence-check", "--lab", "--json", "--keystore", "memory", "--lab-state"])
        .arg(&state)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_follows("sfbkit-presence-check.v1.schema.json", &v, "presence-check --lab");
    assert_eq!(
        (v["subscriber"].as_str(), v["publisher"].as_str()),
        (Some("sip:alice@contoso.lab"), Some("sip:bob@contoso.lab"))
    );
    assert_eq!(v["result"], "Success");
    assert!(v["latency_ms"].as_f64().unwrap() > 0.0);
    let steps: Vec<&str> = v["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(steps, ["Subscribe", "Publish", "Notification"]);
    assert_eq!(v["published"].as_str(), v["notified"].as_str(), "the notification carried what was published");
    let xml = std::fs::read_to_string(&junit).unwrap();
    for case in ["Subscribe", "Publish", "Notification", "Server Discovery", "Authentication"] {
        assert!(xml.contains(&format!("name=\"{case}\"")), "{case}: {xml}");
    }
    assert!(!xml.contains("<failure"), "{xml}");

    // carol (homed on pool02) has no contacts: only the presence subscription watch_presence makes reaches bob.
    let out = sfbkit()
        .args(["presence-check", "--lab", "--json", "--keystore", "memory", "--lab-state"])
        .arg(&state)
        .args(["--subscriber", "carol@contoso.lab", "--publisher", "bob@contoso.lab"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_follows("sfbkit-presence-check.v1.schema.json", &v, "presence-check, a subscriber without contacts");
    assert!(v["target"].as_str().unwrap().starts_with("pool02.contoso.lab"), "{v:#}");

    // A disabled publisher: the check fails, naming the publisher's sign-in stage and its 4141.
    let out = sfbkit()
        .args(["presence-check", "--lab", "--json", "--keystore", "memory", "--lab-fault", "disabled-user"])
        .arg("--lab-state")
        .arg(&state)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_follows("sfbkit-presence-check.v1.schema.json", &v, "presence-check, disabled users");
    assert!(v["error"].as_str().unwrap().contains("could not sign in (Authentication)"), "{v:#}");
    assert!(v["diagnosis"].as_str().unwrap().starts_with("ErrorCode=4141"), "{v:#}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<skipped message=\"not reached").count(), 3, "the presence steps: {xml}");
    let _ = std::fs::remove_file(&junit);
    let _ = std::fs::remove_dir_all(&state);
}

/// `--trace FILE`: every SIP message and HTTP exchange in .UccApilog frames (docs/uccapilog-format.md), each
/// opening line's byte count matching the message that follows and its closing line; no secret anywhere, for
/// NTLM, TLS-DSK and the Office 365 path alike.
#[test]
fn trace_has_uccapilog_frames_and_no_secret() {
    let state = state_dir("trace");
    for fault in ["ntlm-only", "tls-dsk-only", "online"] {
        let file = std::env::temp_dir().join(format!("sfbkit-cli-{fault}-{}.UccApilog", std::process::id()));
        let out = sfbkit()
            .args(["signin", "--lab", "--keystore", "memory", "--lab-fault", fault, "--trace"])
            .arg(&file)
            .arg("--lab-state")
            .arg(&state)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{fault}: {}", String::from_utf8_lossy(&out.stderr));
        let text = std::fs::read_to_string(&file).unwrap();
        let _ = std::fs::remove_file(&file);
        let mut rest = text.as_str();
        let mut frames: Vec<(String, String)> = Vec::new();
        while !rest.is_empty() {
            let (line, after) = rest.split_once("\r\n").unwrap_or_else(|| panic!("{fault}: no CRLF: {rest:?}"));
            // 12/06/2026|08:10:33.296 7F26:1 INFO :: Sending Packet - ... N bytes:
            let (stamp, what) = line.split_once(" INFO :: ").unwrap_or_else(|| panic!("{fault}: not a frame: {line}"));
            let b = stamp.as_bytes();
            assert!(b.len() > 24 && b[2] == b'/' && b[5] == b'/' && b[10] == b'|' && b[19] == b'.', "{stamp}");
            let (ids, n) = (&stamp[24..], what.rsplit(' ').nth(1).unwrap().parse::<usize>().unwrap());
            assert!(ids.split(':').all(|h| u32::from_str_radix(h, 16).is_ok()), "{stamp}");
            let kind =
                ["Sending Packet - ", "Data Received - ", "Sending HTTP Request - ", "HTTP Response Received - "];
            assert!(kind.iter().any(|k| what.starts_with(k)) && what.ends_with(" bytes:"), "{line}");
            let message = &after[..n];
            let after = after[n..].strip_prefix("\r\n").unwrap_or(&after[n..]);
            let (close, after) = after.split_once("\r\n").unwrap();
            assert_eq!(close, format!("{stamp} INFO :: End of {}", what.trim_end_matches(':')), "{fault}");
            frames.push((what.to_string(), message.to_string()));
            rest = after;
        }
        let sent_register =
            frames.iter().any(|(w, m)| w.starts_with("Sending Packet") && m.starts_with("REGISTER sip:contoso.lab"));
        let ok = frames.iter().any(|(w, m)| w.starts_with("Data Received") && m.starts_with("SIP/2.0 200 OK"));
        let http = frames.iter().filter(|(w, _)| w.starts_with("Sending HTTP Request - ")).count();
        assert!(sent_register && ok && http >= 2, "{fault}: {} frames, {http} HTTP requests", frames.len());
        for secret in ["Lab-Passw0rd", "TlRMTVNTUA", "PHNhbWw6QXNzZXJ0aW9u", "PRIVATE KEY", "BgkqhkiG9w0BAQEFAASC"] {
            assert!(!text.contains(secret), "{fault}: {secret} is in the trace");
        }
        for (param, allowed) in
            [("gssapi-data=", &["\"\"", "\"<redacted>\""][..]), ("response=", &["\"<redacted>\""][..])]
        {
            for (i, _) in text.match_indices(param) {
                let value = &text[i + param.len()..];
                assert!(
                    allowed.iter().any(|a| value.starts_with(a)),
                    "{fault}: {}",
                    &text[i..(i + 60).min(text.len())]
                );
            }
        }
        for element in ["BinarySecret>", "Password>", "Assertion>", "RequestedSecurityToken>"] {
            for (i, _) in text.match_indices(&format!(":{element}")) {
                let value = &text[i + element.len() + 1..];
                let closing =
                    text[..i].ends_with("</") || text[..i].rsplit('<').next().is_some_and(|t| t.starts_with('/'));
                assert!(closing || value.starts_with("<redacted>"), "{fault}: {}", &text[i..(i + 60).min(text.len())]);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&state);
}

/// `--html FILE`: one self-contained page (no external resource) with the summary, the waterfall and the message
/// ladder, no secret in it; headless Chromium (Debian's `chromium`, installed by scripts/test) renders it without
/// a script error, and takes the screenshot kept as docs/html-report.png.
#[test]
fn html_report_renders_in_headless_chromium() {
    let state = state_dir("html");
    let dir = std::env::temp_dir().join(format!("sfbkit-cli-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let out = sfbkit()
        .args(["signin", "--lab", "--keystore", "memory", "--lab-fault", "ntlm-only", "--html"])
        .arg(&page)
        .arg("--lab-state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    for wanted in
        ["Stages and steps", "Messages", "Autodiscover", "Web services", "Registrar", "<details>", "REGISTER sip:"]
    {
        assert!(html.contains(wanted), "{wanted} missing from the page");
    }
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "the page loads nothing from outside");
    for secret in ["Lab-Passw0rd", "TlRMTVNTUA", "PHNhbWw6QXNzZXJ0aW9u", "PRIVATE KEY"] {
        assert!(!html.contains(secret), "{secret} is in the page");
    }

    let chromium = |args: &[&str]| {
        Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"])
            .args(args)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("chromium runs (scripts/test installs Debian's chromium)")
    };
    let dom = chromium(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("data-rendered=\"ok\""), "the page's script ran to its end:\n{}", &dom[..dom.len().min(500)]);
    assert!(dom.contains("<pre id=\"errors\" class=\"fail\"></pre>"), "a script error was caught");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("html-report.png");
    let taken = chromium(&["--window-size=1280,1800", &format!("--screenshot={}", shot.display())]);
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "a screenshot of the page: {} bytes", png.len());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&state);
}

/// `--external` takes the path remote users take (lyncdiscover, then the external access point: the lab's
/// Edge-like sip.contoso.lab); `--internal` only the internal names, here down to `_sipinternaltls._tcp`.
#[test]
fn internal_and_external_sign_in_take_their_own_paths() {
    let state = state_dir("sides");
    let run = |args: &[&str]| {
        let out = sfbkit()
            .args(["signin", "--lab", "--json", "--keystore", "memory", "--lab-state"])
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        let report = last_report(&String::from_utf8_lossy(&out.stdout));
        assert_follows_schema(&report, &format!("{args:?}"));
        report
    };
    let step = |r: &serde_json::Value, name: &str| {
        r["stages"].as_array().unwrap().iter().find(|s| s["step"] == name).cloned().unwrap_or_default()
    };
    let external = run(&["--external"]);
    assert!(external["target"].as_str().unwrap().starts_with("sip.contoso.lab:"), "{external:#}");
    let skipped = step(&external, "lyncdiscoverinternal");
    assert_eq!(skipped["outcome"], "Skipped");
    assert!(skipped["detail"].as_str().unwrap().contains("external side"), "{skipped}");

    let internal = run(&["--internal", "--lab-fault", "no-lyncdiscover"]);
    assert!(internal["target"].as_str().unwrap().starts_with("pool01.contoso.lab:"), "{internal:#}");
    assert_eq!(step(&internal, "lyncdiscover")["outcome"], "Skipped");
    assert_eq!(step(&internal, "SRV _sipinternaltls._tcp")["outcome"], "Success");
    let _ = std::fs::remove_dir_all(&state);
}

/// TLS 1.0 disabled on one side of the TLS-DSK tunnel, and `--auth` asking for one scheme: each failure names
/// its cause in the diagnosis and says what to change in the hint.
#[test]
fn tls_1_0_disabled_on_either_side_and_auth_choices_are_named() {
    let cases: &[(&str, &[&str], &str, &[&str])] = &[
        // The pool has TLS 1.0 disabled and this client may offer nothing newer.
        (
            "pool",
            &["--lab-fault", "no-tls10", "--tls-dsk-max", "1.0"],
            "tls-version",
            &["TLS 1.0 is disabled on the pool", "--tls-dsk-max 1.2"],
        ),
        // This client has TLS 1.0 disabled and the pool speaks nothing newer.
        (
            "client",
            &["--lab-fault", "tls10-only", "--tls-dsk-min", "1.2"],
            "tls-version",
            &["TLS 1.0 is disabled on this client", "enable TLS 1.2 on the pool"],
        ),
        ("ntlm", &["--auth", "ntlm"], "", &["using NTLM"]),
        (
            "tls-dsk",
            &["--auth", "tls-dsk", "--lab-fault", "ntlm-only"],
            "scheme-not-offered",
            &["offers NTLM, not TLS-DSK"],
        ),
    ];
    for (name, args, class, named) in cases {
        let state = state_dir(&format!("tls-{name}"));
        let out = sfbkit()
            .args(["signin", "--lab", "--json", "--keystore", "memory", "--lab-state"])
            .arg(&state)
            .args(*args)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&state);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = last_report(&stdout);
        assert_follows_schema(&report, name);
        if class.is_empty() {
            assert_eq!(out.status.code(), Some(0), "{name}: {stdout}");
        } else {
            assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
            assert_eq!(report["error_class"], *class, "{name}: {report}");
            assert_eq!(report["failed_stage"], "Authentication", "{name}");
        }
        for text in *named {
            assert!(stdout.contains(text), "{name}: {text:?} is not named:\n{stdout}");
        }
    }
    // The option is checked before anything is sent.
    let out = sfbkit().args(["signin", "--lab", "--tls-dsk-min", "1.2", "--tls-dsk-max", "1.0"]).output().unwrap();
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_ne!(out.status.code(), Some(0));
    assert!(all.contains("minimum TLS 1.2 is above the maximum TLS 1.0"), "{all}");
}

/// `--lab-kerberos --auth kerberos` against a real MIT KDC: two REGISTERs, the report says Kerberos, the web
/// services authenticated with Negotiate (Kerberos), for AES and RC4-HMAC session keys. Without a ticket to be
/// had (the KDC down), `--auth auto` falls through and the report says why Kerberos was skipped.
#[test]
fn kerberos_signs_in_with_two_registers_and_negotiate_against_a_real_kdc() {
    for (etype, name) in [("aes256", "aes256-cts-hmac-sha1-96"), ("rc4", "rc4-hmac")] {
        let state = state_dir(&format!("kerberos-{etype}"));
        let out = sfbkit()
            .args(["signin", "--lab", "--lab-kerberos", "--auth", "kerberos", "--kerberos-etype", etype])
            .args(["--json", "--keystore", "memory", "--lab-state"])
            .arg(&state)
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&state);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{etype}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        let report = last_report(&stdout);
        assert_follows_schema(&report, etype);
        let steps = report["stages"].as_array().unwrap();
        let registers: Vec<&str> = steps
            .iter()
            .filter(|s| s["name"] == "Authentication" && s["step"].as_str().is_some_and(|n| n.starts_with("REGISTER")))
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(registers, ["REGISTER", "REGISTER Kerberos (AP-REQ, signed)"], "{etype}: two REGISTERs");
        let detail = |step: &str| -> String {
            steps
                .iter()
                .filter(|s| s["step"].as_str().is_some_and(|n| n.contains(step)))
                .map(|s| s["detail"].as_str().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        };
        assert!(detail("REGISTER").contains("using Kerberos"), "{etype}: {}", detail("REGISTER"));
        assert!(detail("REGISTER Kerberos").contains("signed by the registrar (Kerberos), signature verified"));
        assert!(detail("Kerberos service ticket").contains(name), "{etype}: {}", detail("Kerberos service ticket"));
        assert!(detail("web ticket").contains("Negotiate (Kerberos) over HTTP"), "{etype}: {}", detail("web ticket"));
    }
    let state = state_dir("kerberos-auto");
    let out = sfbkit()
        .args(["signin", "--lab", "--lab-fault", "kdc-down", "--json", "--keystore", "memory", "--lab-state"])
        .arg(&state)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&state);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Kerberos skipped: cannot contact any KDC"), "{stdout}");
}

/// Starts `sfbkit lab --json --users 2` and returns it with what it printed (one JSON line).
fn start_lab_json() -> (std::process::Child, serde_json::Value) {
    use std::io::BufRead;
    let mut lab = sfbkit()
        .args(["lab", "--json", "--users", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(lab.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (lab, info)
}

/// `--sign-in-cache`: the second sign-in goes straight to the registrar the first one registered with, no
/// lyncdiscover and no DNS; without the flag, discovery runs. An entry is kept per user and discovery settings: the
/// lab started again (another DNS server, other ports) is discovered afresh, then cached. (A cached registrar that
/// stopped answering is forgotten and discovery runs in the same sign-in: tests/e2e/tests/signin_cache.rs.) The
/// cache lives in the OS keystore, as the certificate does (`second_signin_uses_the_certificate_in_the_os_keystore`).
#[test]
fn sign_in_cache_goes_straight_to_the_registrar_of_the_last_sign_in_with_the_same_settings() {
    // A user of `--users 2` that no other test signs in as.
    let user = "user00001@contoso.lab";
    let signin = |info: &serde_json::Value, cache: bool| {
        let ports = format!("{},{}", info["autodiscover_https_port"], info["autodiscover_http_port"]);
        let mut command = sfbkit();
        command
            .args(["signin", "--json", "--keystore", "os", "--password-env", "LAB_PASSWORD", "--user", user])
            .args(["--dns", info["dns"].as_str().unwrap(), "--ca-file", info["ca_file"].as_str().unwrap()])
            .args(["--autodiscover-ports", &ports])
            .env("LAB_PASSWORD", "Lab-Passw0rd!");
        if cache {
            command.arg("--sign-in-cache");
        }
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let report = last_report(&stdout);
        assert_follows_schema(&report, "signin --sign-in-cache");
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["name"] == "Server Discovery")
            .map(|s| (s["step"].as_str().unwrap().to_owned(), s["outcome"].as_str().unwrap().to_owned()))
            .collect::<Vec<_>>()
    };
    let discovered = |steps: &[(String, String)]| steps.iter().any(|(step, _)| step.starts_with("lyncdiscover"));

    let (mut lab, info) = start_lab_json();
    // Whatever an earlier run left is used or forgotten here; afterwards this lab's registrar is cached.
    let first = signin(&info, true);
    let second = signin(&info, true);
    let without = signin(&info, false);
    let _ = lab.kill();
    let _ = lab.wait();
    assert_eq!(second, [("cached registrar".to_owned(), "Success".to_owned())], "first: {first:?}");
    assert!(discovered(&without) && !without.iter().any(|(step, _)| step == "cached registrar"), "{without:?}");

    // The lab again: another DNS server and other ports, so not the settings the entry was kept for.
    let (mut lab, info) = start_lab_json();
    let after_restart = signin(&info, true);
    let again = signin(&info, true);
    let _ = lab.kill();
    let _ = lab.wait();
    assert!(discovered(&after_restart), "{after_restart:?}");
    assert!(!after_restart.iter().any(|(step, _)| step == "cached registrar"), "{after_restart:?}");
    assert_eq!(again, [("cached registrar".to_owned(), "Success".to_owned())], "the new registrar was cached");
}
