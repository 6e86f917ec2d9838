//! The REGISTER exchange with one registrar, as I/O around the handshake machine
//! ([`crate::auth::handshake`], which decides every leg of NTLM, Kerberos and TLS-DSK): this file sends the
//! REGISTERs, admits the registrar before credentials go out, reads the keystore, provisions certificates and
//! gets Kerberos tickets when the machine asks, records each step in the report, and turns a 200 OK, a 301
//! to the home pool or the registrar's refusals into the end of the exchange.

use super::certificate::NotProvisioned;
use super::*;
use crate::auth::handshake::{Handshake, Means, Provisioned, Step, auth_failure};
use crate::sip::Message;

impl Inner {
    /// REGISTERs until the registrar registers this endpoint, redirects it, or refuses: the I/O around the
    /// handshake machine ([`Handshake`]), which decides every leg.
    pub(super) async fn register(
        &self,
        report: &mut SignInReport,
        conn: TlsConnection,
        candidate: &Candidate,
    ) -> RegisterEnd {
        let host = candidate.fqdn.clone();
        let info = conn.info().clone();
        let local = info.local_addr;
        let host_of = match local.ip() {
            std::net::IpAddr::V4(a) => Host::Ipv4(a),
            std::net::IpAddr::V6(a) => Host::Ipv6(a),
        };
        let factory = RequestFactory::new(host_of, local.port(), self.aor.clone(), self.epid.clone());
        let mut session = SipSession::new(conn, factory, self.config.limits);
        session.tap = crate::trace::Tap::of(&self.config);
        session.host = host.clone();
        let params = self.register_params(local, None);
        let ntlm = self.config.credentials.as_ref().map(|(account, password)| ntlm_credentials(account, &password.0));
        let mut handshake = Handshake::new(self.config.auth, self.config.tls_dsk_versions, self.anchors.clone(), ntlm);
        let mut busy_retries = 0;
        for _round in 0..8 {
            let t = Instant::now();
            let mut request = match registration::register_request(&mut session.factory, &self.aor, &params) {
                Ok(r) => r,
                Err(e) => {
                    let hint = "check the SIP domain in the user's SIP URI".to_string();
                    let f = Failure { error: e.to_string(), class: "bad-configuration".into(), diagnosis: None, hint };
                    report.fail(Stage::Authentication, "REGISTER", &host, t.elapsed(), f);
                    return RegisterEnd::Failed;
                }
            };
            let step = handshake.step_name();
            if let Err(f) = handshake.authorize(&mut request) {
                report.fail(Stage::Authentication, step, &host, t.elapsed(), f);
                return RegisterEnd::Failed;
            }
            let response = match session.request(request).await {
                Ok(r) => r,
                // The connection went away in the middle of the handshake: the caller may connect again
                // and start over (nothing was refused, so no credential is replayed against a refusal).
                Err(e @ (SessionError::Closed | SessionError::Transport(_))) => {
                    let f = session_failure(&e);
                    report.failed_step(Stage::Authentication, step, &host, t.elapsed(), &f);
                    return RegisterEnd::Dropped(f);
                }
                Err(e) => {
                    report.fail(Stage::Authentication, step, &host, t.elapsed(), session_failure(&e));
                    return RegisterEnd::Failed;
                }
            };
            // This exchange's own time: what runs after it (certificate provisioning) is its own step.
            let took = t.elapsed();
            match registration::classify_response(&response, &self.epid) {
                RegisterOutcome::Registered(reg) => {
                    let signed = match handshake.registered(&response) {
                        Ok(Some(sa)) => {
                            let signed = format!("; signed by the registrar ({}), signature verified", sa.scheme());
                            session.sa = Some(sa);
                            signed
                        }
                        Ok(None) => String::new(),
                        Err(f) => {
                            report.fail(Stage::Authentication, step, &host, took, f);
                            return RegisterEnd::Failed;
                        }
                    };
                    let detail = format!(
                        "200 OK: registered for {} s, keep-alive every {} s, GRUU {}{signed}",
                        reg.expires,
                        reg.keep_alive_timeout.map(|k| k.to_string()).unwrap_or_else(|| "?".into()),
                        reg.gruu.as_deref().unwrap_or("(none)")
                    );
                    report.step(Stage::Authentication, step, &host, took, Outcome::Success, detail);
                    report.registration = Some(reg);
                    return RegisterEnd::Registered(Box::new(session));
                }
                RegisterOutcome::AuthenticationRequired { .. } => {
                    if let Some(end) =
                        self.answer_challenge(report, &mut handshake, &response, candidate, step, took).await
                    {
                        return end;
                    }
                }
                RegisterOutcome::Redirect { contact } => {
                    // After authentication the 301 is signed like any answer: verify it first.
                    if let Err(f) = handshake.redirected(&response) {
                        report.fail(Stage::Redirection, step, &host, took, f);
                        return RegisterEnd::Failed;
                    }
                    let detail = format!("301: the user is homed on {contact}; signing in there");
                    report.step(Stage::Redirection, step, &host, took, Outcome::Success, detail);
                    let _ = session.conn.close().await;
                    return RegisterEnd::Redirect(contact);
                }
                RegisterOutcome::Rejected { code: 503, reason, diagnostics }
                    if busy_retries < MAX_BUSY_RETRIES
                        && let Some(wait) = retry_after(&response).filter(|w| *w <= MAX_RETRY_AFTER) =>
                {
                    // A Front End that is starting or overloaded (ms-diagnostics 1008 "Server is busy")
                    // says when to come back (RFC 3261 21.5.4, 20.33): wait that long, then start over.
                    busy_retries += 1;
                    let diag = diagnostics.map(|d| format!(" ({})", d.to_diagnosis())).unwrap_or_default();
                    let f = Failure {
                        error: format!("503 {reason}{diag}, Retry-After {} s: registering again then", wait.as_secs()),
                        class: "503".into(),
                        diagnosis: None,
                        hint: register_hint(503, None),
                    };
                    report.failed_step(Stage::Authentication, step, &host, took, &f);
                    tokio::time::sleep(wait).await;
                    handshake.restart();
                    continue;
                }
                RegisterOutcome::Rejected { code, reason, diagnostics } => {
                    report.fail(
                        Stage::Authentication,
                        step,
                        &host,
                        took,
                        Failure {
                            hint: register_hint(code, diagnostics.as_ref().map(|d| d.code)),
                            error: format!("{code}, {reason}"),
                            class: register_class(code, diagnostics.as_ref().map(|d| d.code)),
                            diagnosis: diagnostics.map(|d| d.to_diagnosis()),
                        },
                    );
                    return RegisterEnd::Failed;
                }
            }
        }
        let f = Failure {
            error: "the registrar kept challenging".into(),
            class: "protocol".into(),
            diagnosis: None,
            hint: "the authentication handshake did not converge; check the registrar's authentication settings".into(),
        };
        report.fail(Stage::Authentication, "REGISTER", &host, Duration::ZERO, f);
        RegisterEnd::Failed
    }

    /// A 401 or 407: the machine's answer, and whatever it asks for on the way (a certificate, a Kerberos
    /// context), done here. `Some` ends the REGISTER exchange; `None` sends the next REGISTER.
    async fn answer_challenge(
        &self,
        report: &mut SignInReport,
        handshake: &mut Handshake,
        response: &Message,
        candidate: &Candidate,
        step: &'static str,
        took: Duration,
    ) -> Option<RegisterEnd> {
        let host = candidate.fqdn.as_str();
        let challenges = Challenge::all(response);
        if let Some(ch) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK") && c.sts_uri.is_some() && c.targetname.is_some())
        {
            *self.tls_dsk.lock().unwrap_or_else(|p| p.into_inner()) = Some((ch.clone(), host.to_string()));
        }
        if handshake.is_fresh() {
            // Credentials of any kind go only to a registrar trusted for the user's domain.
            if let Err(e) = self.trust.admit_host(host, candidate.port, Purpose::Registrar, &candidate.learned).await {
                report.fail(Stage::Authentication, step, host, took, untrusted_failure(&e));
                return Some(RegisterEnd::Failed);
            }
            if let Some(reason) = self.renewal_due(&challenges) {
                let detail = format!("{reason}: provisioning a new one");
                report.step(
                    Stage::Authentication,
                    "certificate renewal",
                    host,
                    Duration::ZERO,
                    Outcome::Success,
                    detail,
                );
            }
        }
        let now = SystemTime::now();
        let mut next = handshake.challenged(response, now, || Means {
            certificate: self.stored_certificate(&challenges),
            kerberos: self.kerberos.available(unix(now).as_secs()),
        });
        // The exchange that brought the challenge is recorded once.
        let mut took = Some(took);
        let mut record = |report: &mut SignInReport, outcome: Outcome, detail: String| {
            if let Some(took) = took.take() {
                report.step(Stage::Authentication, step, host, took, outcome, detail);
            }
        };
        loop {
            next = match next {
                Step::Send { detail, warning } => {
                    record(report, Outcome::Success, detail);
                    report.warnings.extend(warning);
                    return None;
                }
                Step::Retry { detail, warning } => {
                    record(report, Outcome::Failure, detail);
                    report.warnings.push(warning);
                    return None;
                }
                Step::Failed(f) => {
                    // A warning that turned out to be the cause (seed 002's provisioning failure) is the error now.
                    report
                        .warnings
                        .retain(|w| !w.split_once(": ").is_some_and(|(_, e)| !e.is_empty() && f.error.ends_with(e)));
                    report.fail(Stage::Authentication, step, host, took.unwrap_or_default(), f);
                    return Some(RegisterEnd::Failed);
                }
                // The REGISTER step is recorded when the machine's answer is known, after the provisioning it
                // led to (which is a step of its own), as its outcome depends on it.
                Step::Provision { then } => match self.provision_certificate(report, &challenges, host, then).await {
                    Err(NotProvisioned::Stop) => return Some(RegisterEnd::Failed),
                    result => handshake.provisioned(self.provisioned(result, &challenges), SystemTime::now()),
                },
                Step::Reprovision { target, detail } => {
                    record(report, Outcome::Failure, detail);
                    let user = self.aor.as_sip().map(|u| u.aor()).unwrap_or_default();
                    if let Some(target) = target {
                        let _ = StoredCertificate::delete(self.keystore.as_ref(), &user, &target);
                    }
                    match self.provision_certificate(report, &challenges, host, None).await {
                        Err(NotProvisioned::Stop) => return Some(RegisterEnd::Failed),
                        result => handshake.provisioned(self.provisioned(result, &challenges), SystemTime::now()),
                    }
                }
                Step::Kerberos { host: service_host, how, only } => {
                    let got = self.kerberos_context(report, &service_host, only).await;
                    handshake.kerberos(got.map(|c| (c, how)), SystemTime::now())
                }
            };
        }
    }

    /// What a provisioning came to, for the machine: the certificate now in the keystore, or why there is none.
    fn provisioned(&self, result: Result<(), NotProvisioned>, challenges: &[Challenge]) -> Provisioned {
        match result {
            Ok(()) => match self.stored_certificate(challenges) {
                Some(cert) => Provisioned::Ready(cert),
                None => Provisioned::NotApplicable,
            },
            Err(NotProvisioned::Failed(f)) => Provisioned::Failed(f),
            Err(NotProvisioned::NotApplicable | NotProvisioned::Stop) => Provisioned::NotApplicable,
        }
    }

    /// A Kerberos service ticket for `sip/<service_host>` (from the KDC, once per ticket lifetime) and the GSS
    /// context on it, as a step of the report. A failure ends the sign-in with `--auth kerberos` (`only`);
    /// else it is recorded as a failed step that did not end it.
    async fn kerberos_context(
        &self,
        report: &mut SignInReport,
        service_host: &str,
        only: bool,
    ) -> Result<crate::auth::kerberos::kdc::InitiatorContext, crate::auth::kerberos::KerberosError> {
        let target = format!("sip/{service_host}");
        let t = Instant::now();
        let ticket = match self.kerberos.service_ticket("sip", service_host, unix(SystemTime::now()).as_secs()).await {
            Ok(ticket) => ticket,
            Err(e) => {
                if !only {
                    let f = Failure {
                        error: format!("Kerberos: {e}"),
                        class: e.class().into(),
                        diagnosis: None,
                        hint: e.hint(),
                    };
                    report.failed_step(Stage::Authentication, "Kerberos service ticket", &target, t.elapsed(), &f);
                }
                return Err(e);
            }
        };
        let detail = format!("service ticket for {} (session key {})", ticket.server, ticket.session_key.etype.name());
        report.step(Stage::Authentication, "Kerberos service ticket", &target, t.elapsed(), Outcome::Success, detail);
        let now = unix(SystemTime::now());
        crate::auth::kerberos::kdc::InitiatorContext::new(
            &ticket,
            crate::auth::kerberos::gss::GSS_INTEG,
            now.as_secs(),
            now.subsec_micros(),
            &rand::random(),
            rand::random(),
        )
    }
}

fn unix(t: SystemTime) -> Duration {
    t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
}

/// The longest `Retry-After` honoured on a 503; a registrar asking for more is reported as refusing.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How many 503s with `Retry-After` one REGISTER exchange waits out.
const MAX_BUSY_RETRIES: u32 = 2;

/// `Retry-After: <seconds>[ (comment)][;duration=...]` (RFC 3261 20.33).
fn retry_after(response: &Message) -> Option<Duration> {
    let value = response.header("Retry-After")?;
    let digits: String = value.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<u64>().ok().map(Duration::from_secs)
}

/// A server not trusted with the credentials ([`crate::trust`]).
pub(super) fn untrusted_failure(e: &crate::trust::Untrusted) -> Failure {
    Failure { error: e.to_string(), class: e.class().into(), diagnosis: None, hint: e.hint() }
}

/// A short class and a hint for a transport failure.
fn transport_failure(e: &TransportError) -> Failure {
    Failure { error: e.to_string(), class: e.class().into(), diagnosis: None, hint: e.hint() }
}

fn session_failure(e: &SessionError) -> Failure {
    match e {
        SessionError::Transport(t) => transport_failure(t),
        SessionError::TimedOut(_) => Failure {
            error: e.to_string(),
            class: "timeout".into(),
            diagnosis: None,
            hint: "the registrar accepted the connection but never answered REGISTER: check the Front End service and its load".into(),
        },
        SessionError::Closed => Failure {
            error: e.to_string(),
            class: "closed".into(),
            diagnosis: None,
            hint: "the registrar closed the connection after REGISTER: check that this client is allowed (Client Version Filtering) and that the pool is healthy".into(),
        },
        SessionError::Signing(a) => auth_failure(a),
        SessionError::Stream(p) => {
            Failure { error: e.to_string(), class: "protocol".into(), diagnosis: None, hint: p.hint().into() }
        }
        SessionError::Request(_) => Failure {
            error: e.to_string(),
            class: "protocol".into(),
            diagnosis: None,
            hint: "sfbkit built a request it cannot send: this is a bug in sfbkit; please report it with the trace".into(),
        },
    }
}

/// A stable class for a registrar's refusal: the `ms-diagnostics` code decides where it is known
/// ([MS-OCER] codes as FIELD-NOTES.md §2.2 and REFERENCE.md §3.2 quote them), else the status.
fn register_class(code: u16, diag: Option<u32>) -> String {
    match (code, diag) {
        (404, Some(1003)) => "unknown-user".into(),
        (403, Some(4141)) => "disabled-user".into(),
        (400, Some(4010)) => "missing-endpoint-identity".into(),
        _ => code.to_string(),
    }
}

fn register_hint(code: u16, diag: Option<u32>) -> String {
    match (code, diag) {
        (403, Some(4141)) => {
            "the user is disabled for Skype for Business (Get-CsUser shows Enabled False): an administrator must enable the account again".into()
        }
        (404, _) => "the user is not enabled for Skype for Business on this pool (Get-CsUser / Enable-CsUser)".into(),
        (403, _) => "the registrar refused this user or endpoint; the diagnosis names the reason".into(),
        (400, Some(4010)) => {
            "the REGISTER lacked an endpoint identity the registrar needs (epid / +sip.instance)".into()
        }
        (489, _) => "the registrar refused the Event header (it must be `registration`)".into(),
        (421, _) => "the registrar needs an extension this client did not announce".into(),
        (503, _) | (504, _) => {
            "the pool is unavailable or overloaded; retry later and check the Front End services".into()
        }
        _ => "see the diagnosis; the registrar's ms-diagnostics code identifies the cause".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_errors_get_the_hint_of_their_kind() {
        use crate::sip::ParseError;
        let hint = |p: ParseError| session_failure(&SessionError::Stream(p)).hint;
        let oversized = hint(ParseError::BodyTooLarge { declared: 1 << 30, limit: 1 << 20 });
        assert!(oversized.contains("ClientBuilder::limits") && !oversized.contains("5061"), "{oversized}");
        assert!(hint(ParseError::LineTooLong { line: 3, limit: 8192 }).contains("limits"));
        let not_sip = hint(ParseError::StartLine { reason: "HTTP/1.1 400 Bad Request".into() });
        assert!(not_sip.contains("SIP over TLS port"), "{not_sip}");
        let malformed = hint(ParseError::MissingHeader("Call-ID"));
        assert!(malformed.contains("malformed") && !malformed.contains("5061"), "{malformed}");
    }
}
