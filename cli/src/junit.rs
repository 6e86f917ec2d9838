//! `--junit FILE`: a sign-in report as JUnit XML, the format CI systems (Jenkins, GitLab, Azure DevOps, GitHub
//! test reporters) read: one `<testsuite>` per user signed in, one `<testcase>` per sign-in stage in the order
//! the Microsoft client runs them. The stage that ended a failed sign-in is a `<failure>` carrying the error,
//! the diagnosis and the hint; stages a failed sign-in never reached are `<skipped>`; steps that failed without
//! ending the sign-in are listed in the stage's `<system-out>`.

use sfbkit::{Outcome, SignInReport, Stage};

/// The stages in the order admins read them (seed 001), sign-out last.
const ORDER: [Stage; 7] = [
    Stage::LocalDiscovery,
    Stage::ServerDiscovery,
    Stage::ConnectivityChecks,
    Stage::Authentication,
    Stage::Redirection,
    Stage::SettingsAndPolicies,
    Stage::SignOut,
];

/// One `<testsuite>` named `name` per report, inside a `<testsuites>` document.
pub fn document(suites: &[(&str, &SignInReport)]) -> String {
    wrap(suites.iter().map(|(name, report)| testsuite(name, report)).collect())
}

/// `sfbkit presence-check`: each user's sign-in, then the presence steps (Subscribe, Publish, Notification); the
/// steps a failed sign-in kept from running are skipped.
pub fn presence_document(check: &crate::presence_check::PresenceCheck) -> String {
    let mut suites = Vec::new();
    for (who, report) in [("subscriber", &check.subscriber_sign_in), ("publisher", &check.publisher_sign_in)] {
        if let Some(r) = report {
            suites.push(testsuite(&format!("sfbkit presence-check {who} sign-in {}", r.user), r));
        }
    }
    let mut cases = String::new();
    let (mut failures, mut skipped, mut time) = (0, 0, 0.0);
    for name in ["Subscribe", "Publish", "Notification"] {
        let step = check.steps.iter().find(|s| s.name == name);
        let seconds = step.map(|s| s.duration_ms / 1000.0).unwrap_or(0.0);
        time += seconds;
        cases.push_str(&format!(
            "    <testcase classname=\"sfbkit.presence-check\" name=\"{name}\" time=\"{seconds:.3}\">\n"
        ));
        match step {
            None => {
                skipped += 1;
                let why = check.error.as_deref().unwrap_or("an earlier step failed");
                cases.push_str(&format!("      <skipped message=\"{}\"/>\n", xml(&format!("not reached: {why}"))));
            }
            Some(s) if s.outcome == Outcome::Failure => {
                failures += 1;
                let text = format!(
                    "Error     : {}\nDiagnosis : {}\nHint      : {}\n",
                    s.detail,
                    check.diagnosis.as_deref().unwrap_or(""),
                    s.hint.as_deref().unwrap_or("")
                );
                cases.push_str(&format!(
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                    xml(&s.detail),
                    xml(s.error_class.as_deref().unwrap_or("presence-check")),
                    xml(&text)
                ));
            }
            Some(s) => cases.push_str(&format!("      <system-out>{}</system-out>\n", xml(&s.detail))),
        }
        cases.push_str("    </testcase>\n");
    }
    let xml = format!(
        "  <testsuite name=\"{}\" tests=\"3\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" \
         time=\"{time:.3}\">\n{cases}  </testsuite>\n",
        xml(&format!("sfbkit presence-check {} -> {}", check.publisher, check.subscriber))
    );
    suites.push(Suite { xml, tests: 3, failures, skipped, time });
    wrap(suites)
}

fn wrap(suites: Vec<Suite>) -> String {
    let tests: usize = suites.iter().map(|s| s.tests).sum();
    let failures: usize = suites.iter().map(|s| s.failures).sum();
    let skipped: usize = suites.iter().map(|s| s.skipped).sum();
    let time: f64 = suites.iter().map(|s| s.time).sum();
    let body: String = suites.into_iter().map(|s| s.xml).collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"sfbkit\" tests=\"{tests}\" failures=\"{failures}\" \
         errors=\"0\" skipped=\"{skipped}\" time=\"{time:.3}\">\n{body}</testsuites>\n"
    )
}

struct Suite {
    xml: String,
    tests: usize,
    failures: usize,
    skipped: usize,
    time: f64,
}

fn testsuite(name: &str, report: &SignInReport) -> Suite {
    let failed_stage = if report.is_success() { None } else { report.failed_stage() };
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped, mut time) = (0, 0, 0, 0.0);
    let mut after_failure = false;
    for stage in ORDER {
        let steps: Vec<_> = report.stages.iter().filter(|s| s.name == stage).collect();
        // Optional stages (Redirection, Settings and Policies, Sign Out) appear only when they ran; a failed
        // sign-in lists the mandatory stages it never reached as skipped.
        let optional = matches!(stage, Stage::Redirection | Stage::SettingsAndPolicies | Stage::SignOut);
        if steps.is_empty() && (optional || !after_failure) {
            continue;
        }
        tests += 1;
        let seconds: f64 = steps.iter().map(|s| s.duration_ms).sum::<f64>() / 1000.0;
        time += seconds;
        let mut case = format!(
            "    <testcase classname=\"sfbkit.signin\" name=\"{}\" time=\"{seconds:.3}\">\n",
            xml(&stage.to_string())
        );
        if steps.is_empty() {
            skipped += 1;
            case.push_str(&format!(
                "      <skipped message=\"{}\"/>\n",
                xml(&format!(
                    "not reached: sign-in failed at {}",
                    failed_stage.map(|s| s.to_string()).unwrap_or_default()
                ))
            ));
        } else if failed_stage == Some(stage) {
            failures += 1;
            after_failure = true;
            let error = report.error.as_deref().unwrap_or("sign-in failed");
            let class = report.error_class().unwrap_or("sign-in-failed");
            let mut text = format!("Error     : {error}\n");
            text.push_str(&format!("Diagnosis : {}\n", report.diagnosis.as_deref().unwrap_or("")));
            text.push_str(&format!("Hint      : {}\n", report.hint.as_deref().unwrap_or("")));
            text.push_str(&format!("Target    : {}\n", report.target));
            case.push_str(&format!(
                "      <failure message=\"{}\" type=\"{}\">{}</failure>\n",
                xml(error),
                xml(class),
                xml(&text)
            ));
        } else if stage == Stage::SignOut && steps.iter().any(|s| s.outcome == Outcome::Failure) {
            // A failed sign-out does not fail the sign-in, but it is this stage's failure.
            failures += 1;
            let step = steps.iter().find(|s| s.outcome == Outcome::Failure).map(|s| s.detail.as_str());
            let error = step.unwrap_or("sign-out failed");
            case.push_str(&format!(
                "      <failure message=\"{}\" type=\"sign-out\">{}</failure>\n",
                xml(error),
                xml(error)
            ));
        }
        let mut out = String::new();
        for s in &steps {
            let mark = match s.outcome {
                Outcome::Success => "ok  ",
                Outcome::Failure => "FAIL",
                Outcome::NotFound => "miss",
                Outcome::Skipped => "skip",
            };
            out.push_str(&format!("[{mark}] {} {} {:.1} ms: {}\n", s.step, s.host, s.duration_ms, s.detail));
            if let Some(h) = &s.hint {
                out.push_str(&format!("       hint: {h}\n"));
            }
        }
        if !out.is_empty() {
            case.push_str(&format!("      <system-out>{}</system-out>\n", xml(&out)));
        }
        case.push_str("    </testcase>\n");
        cases.push_str(&case);
    }
    let xml = format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" \
         time=\"{time:.3}\">\n    <properties>\n      <property name=\"target\" value=\"{}\"/>\n      \
         <property name=\"result\" value=\"{:?}\"/>\n      <property name=\"latency_ms\" value=\"{}\"/>\n    \
         </properties>\n{cases}  </testsuite>\n",
        xml(name),
        xml(&report.target),
        report.result,
        report.latency_ms
    );
    Suite { xml, tests, failures, skipped, time }
}

/// Text for XML attributes and content: markup characters escaped, and the characters XML 1.0 cannot carry
/// at all (control characters a server may have put in a reason phrase) replaced.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}
