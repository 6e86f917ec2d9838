//! The REGISTER exchange with one registrar: the handshake legs of [MS-SIPAE] (NTLM: three
//! REGISTERs; TLS-DSK: certificate, then handshake flights in `gssapi-data`), verification of the
//! signed 200 OK, a 301 to the home pool, and the registrar's refusals as typed report failures.
//!
//! A 401 (`WWW-Authenticate`) is answered in `Authorization`; a 407 (`Proxy-Authenticate`, an
//! Edge's access proxy) in `Proxy-Authorization`, and that association's signatures come in
//! `Proxy-Authentication-Info` (REFERENCE.md §4.1, CLIENT-NOTES.md §5.2). The challenge's `Date`
//! is compared with the local clock: beyond what NTLM tolerates the sign-in stops with the class
//! `clock-skew` instead of sending credentials that will be refused ([`crate::auth::clock`]).

use super::certificate::NotProvisioned;
use super::*;
use crate::auth::AuthMethod;
use crate::auth::clock::{ClockSkew, NTLM_TOLERANCE};
use crate::auth::tlsdsk::{TlsDskVersions, TlsVersion};
use crate::sip::Message;

impl Inner {
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
        session.tap = crate::trace::Tap::new(self.config.wire_observer.clone());
        session.host = host.clone();
        let params = self.register_params(local, None);
        let mut leg = Leg::Plain;
        let mut reprovisioned = false;
        // Whether a refused ClientHello was already followed by one offering newer TLS versions.
        let mut upgraded = false;
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
            let step = leg.step_name();
            let mut final_sa = None;
            match std::mem::replace(&mut leg, Leg::Plain) {
                Leg::Plain => {}
                Leg::NtlmFirst(h) => {
                    request.headers.set(h.header_name(), &h.first_leg());
                    leg = Leg::NtlmFirst(h);
                }
                Leg::TlsDsk(h, header) => {
                    request.headers.set(h.header_name(), &header);
                    leg = Leg::TlsDsk(h, header);
                }
                Leg::Final(mut sa) => {
                    if let Err(e) = sa.authorize_final_leg(&mut request) {
                        report.fail(Stage::Authentication, step, &host, t.elapsed(), auth_failure(&e));
                        return RegisterEnd::Failed;
                    }
                    final_sa = Some(sa);
                }
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
                    let mut signed = String::new();
                    if let Some(mut sa) = final_sa {
                        if let Err(e) = sa.verify(&response) {
                            report.fail(Stage::Authentication, step, &host, took, auth_failure(&e));
                            return RegisterEnd::Failed;
                        }
                        sa.learn_opaque(&response);
                        signed = format!("; signed by the registrar ({}), signature verified", sa.scheme());
                        session.sa = Some(sa);
                    }
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
                RegisterOutcome::AuthenticationRequired { proxy, challenges } => {
                    let code = if proxy { 407 } else { 401 };
                    let offered: Vec<&str> = challenges.iter().map(|c| c.scheme.as_str()).collect();
                    let offered = offered.join(", ");
                    let challenges = Challenge::all(&response);
                    if let Some(ch) = challenges.iter().find(|c| {
                        c.scheme.eq_ignore_ascii_case("TLS-DSK") && c.sts_uri.is_some() && c.targetname.is_some()
                    }) {
                        let remembered = Some((ch.clone(), host.clone()));
                        *self.tls_dsk.lock().unwrap_or_else(|p| p.into_inner()) = remembered;
                    }
                    let skew = ClockSkew::of_message(&response, SystemTime::now());
                    match (&final_sa, &leg) {
                        // A challenge after the AUTHENTICATE: the credentials were refused, or,
                        // when the registrar's Date is far from ours, the timestamps were.
                        (Some(sa), _) => {
                            let f = refused_after_final_leg(&response, sa.scheme(), skew);
                            report.fail(Stage::Authentication, step, &host, took, f);
                            return RegisterEnd::Failed;
                        }
                        (None, Leg::TlsDsk(..)) => {
                            let Some(ch) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK")) else {
                                let f = Failure {
                                    error: format!("{code} without a TLS-DSK challenge"),
                                    class: "protocol".into(),
                                    diagnosis: None,
                                    hint: "the registrar did not continue the TLS-DSK handshake".into(),
                                };
                                report.fail(Stage::Authentication, step, &host, took, f);
                                return RegisterEnd::Failed;
                            };
                            let Leg::TlsDsk(h, _) = std::mem::replace(&mut leg, Leg::Plain) else {
                                return RegisterEnd::Failed;
                            };
                            let (offered, at_hello) = (h.offered(), h.at_hello());
                            match (*h).answer(ch) {
                                Ok((TlsDskStep::Continue(header), Some(h))) => {
                                    let chosen =
                                        h.negotiated().map(|n| format!(" (inner TLS: {n})")).unwrap_or_default();
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        took,
                                        Outcome::Success,
                                        format!("{code} with the pool's TLS flight{chosen}"),
                                    );
                                    leg = Leg::TlsDsk(Box::new(h), header);
                                }
                                Ok((TlsDskStep::Established(sa), _)) => {
                                    report.step(Stage::Authentication, step, &host, took, Outcome::Success, format!("{code} with the pool's Finished: TLS-DSK tunnel complete, pool certificate verified"));
                                    leg = Leg::Final(sa);
                                }
                                Ok((TlsDskStep::Continue(_), None)) => return RegisterEnd::Failed,
                                // Refused before the certificate was even sent, or a version we do not
                                // allow chosen: TLS versions (or suites) on one side, not the certificate.
                                Err(e) if at_hello || is_version_refusal(&e) => {
                                    let versions = self.config.tls_dsk_versions;
                                    let next = versions.after_refusal(offered).filter(|_| at_hello && !upgraded);
                                    if let Some(next) = next
                                        && let Some(mut h) = self.tls_dsk_start(&challenges, Some(next))
                                    {
                                        upgraded = true;
                                        let why = format!(
                                            "the pool refused a ClientHello offering {offered} at most, as TLS 1.0 disabled on a pool does"
                                        );
                                        report.step(
                                            Stage::Authentication,
                                            step,
                                            &host,
                                            took,
                                            Outcome::Failure,
                                            format!("{why}; offering up to {next}"),
                                        );
                                        report.warnings.push(format!("TLS-DSK: {why}; signing in with {next} allowed"));
                                        let header = h.first_leg();
                                        leg = Leg::TlsDsk(Box::new(h), header);
                                        continue;
                                    }
                                    let diagnosis = registration::diagnostics_of(&response).map(|d| d.to_diagnosis());
                                    let f = tls_version_failure(&e, at_hello, offered, versions, diagnosis);
                                    report.fail(Stage::Authentication, step, &host, took, f);
                                    return RegisterEnd::Failed;
                                }
                                Err(e) => {
                                    // The pool refused the stored certificate (another CA, revoked,
                                    // expired): delete it and provision a new one, once.
                                    if !reprovisioned {
                                        reprovisioned = true;
                                        let user = self.aor.as_sip().map(|u| u.aor()).unwrap_or_default();
                                        if let Some(target) = ch.targetname.as_deref() {
                                            let _ = StoredCertificate::delete(self.keystore.as_ref(), &user, target);
                                        }
                                        report.step(Stage::Authentication, step, &host, took, Outcome::Failure, format!("the pool refused the stored certificate ({e}); deleted, provisioning a new one"));
                                        match self.provision_certificate(report, &challenges, &host, None).await {
                                            Ok(()) => {
                                                if let Some(mut h) = self.tls_dsk_start(&challenges, None) {
                                                    let header = h.first_leg();
                                                    leg = Leg::TlsDsk(Box::new(h), header);
                                                    continue;
                                                }
                                            }
                                            Err(NotProvisioned::Stop) => return RegisterEnd::Failed,
                                            Err(_) => {}
                                        }
                                    }
                                    report.fail(Stage::Authentication, step, &host, took, auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                        (None, Leg::NtlmFirst(_)) => {
                            if let Some(e) = skew.and_then(|s| AuthError::clock_skew("NTLM", &s, None)) {
                                report.fail(Stage::Authentication, step, &host, took, auth_failure(&e));
                                return RegisterEnd::Failed;
                            }
                            let Some(ch) = challenges.iter().find(|c| {
                                c.scheme.eq_ignore_ascii_case("NTLM")
                                    && c.gssapi_data.as_deref().is_some_and(|g| !g.is_empty())
                            }) else {
                                let f = Failure { error: format!("{code} without an NTLM CHALLENGE"), class: "protocol".into(), diagnosis: None, hint: "the registrar did not continue the NTLM handshake; check its authentication settings".into() };
                                report.fail(Stage::Authentication, step, &host, took, f);
                                return RegisterEnd::Failed;
                            };
                            let Leg::NtlmFirst(h) = std::mem::replace(&mut leg, Leg::Plain) else {
                                return RegisterEnd::Failed;
                            };
                            match h.answer(ch, SystemTime::now()) {
                                Ok(sa) => {
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        took,
                                        Outcome::Success,
                                        format!("{code} with the NTLM CHALLENGE"),
                                    );
                                    leg = Leg::Final(sa);
                                }
                                Err(e) => {
                                    report.fail(Stage::Authentication, step, &host, took, auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                        (None, _) => {
                            // Credentials of any kind go only to a registrar trusted for the user's domain.
                            let purpose = Purpose::Registrar;
                            if let Err(e) =
                                self.trust.admit_host(&host, candidate.port, purpose, &candidate.learned).await
                            {
                                report.fail(Stage::Authentication, step, &host, took, untrusted_failure(&e));
                                return RegisterEnd::Failed;
                            }
                            // SIPE's order: TLS-DSK (with a certificate this pool issued), Kerberos, NTLM.
                            if let Some(reason) = self.renewal_due(&challenges) {
                                report.step(
                                    Stage::Authentication,
                                    "certificate renewal",
                                    &host,
                                    Duration::ZERO,
                                    Outcome::Success,
                                    format!("{reason}: provisioning a new one"),
                                );
                            }
                            let method = self.config.auth;
                            if let Some(f) = scheme_unavailable(method, &challenges, &offered, code) {
                                report.fail(Stage::Authentication, step, &host, took, f);
                                return RegisterEnd::Failed;
                            }
                            let tls_dsk_allowed = method.allows("TLS-DSK");
                            let ntlm_offered = method.allows("NTLM")
                                && challenges.iter().any(|c| c.scheme.eq_ignore_ascii_case("NTLM"));
                            // A certificate already in the keystore comes first; without one, Kerberos when a
                            // ticket can be had, as the Microsoft client chooses inside the network.
                            let cached_certificate = tls_dsk_allowed && self.tls_dsk_start(&challenges, None).is_some();
                            let mut skipped = Vec::new();
                            if !cached_certificate {
                                match self.kerberos_leg(report, &challenges, method).await {
                                    KerberosLeg::Ready(sa, how) => {
                                        report.step(
                                            Stage::Authentication,
                                            step,
                                            &host,
                                            took,
                                            Outcome::Success,
                                            format!("{code}: the registrar offers {offered}; using Kerberos ({how})"),
                                        );
                                        leg = Leg::Final(sa);
                                        continue;
                                    }
                                    KerberosLeg::Skipped(why) => skipped.push(why),
                                    KerberosLeg::Failed(f) => {
                                        report.fail(Stage::Authentication, step, &host, took, f);
                                        return RegisterEnd::Failed;
                                    }
                                }
                            }
                            let skipped = match skipped.is_empty() {
                                true => String::new(),
                                false => format!(" ({})", skipped.join("; ")),
                            };
                            let mut not_provisioned = None;
                            if tls_dsk_allowed && self.tls_dsk_start(&challenges, None).is_none() {
                                // No certificate for this pool yet: provision one (web ticket over
                                // HTTP NTLM, then GetAndPublishCert), as the Microsoft client does
                                // on its first sign-in (seed 000, seed 001 step 3). If that fails,
                                // NTLM still signs in where the registrar offers it; the failure stays
                                // in the report as a warning. Where it does not, the failure is the cause.
                                let then = ntlm_offered.then_some("signing in with NTLM");
                                match self.provision_certificate(report, &challenges, &host, then).await {
                                    Err(NotProvisioned::Stop) => return RegisterEnd::Failed,
                                    Err(NotProvisioned::Failed(f)) => not_provisioned = Some(f),
                                    Ok(()) | Err(NotProvisioned::NotApplicable) => {}
                                }
                            }
                            if let Some(h) = self.tls_dsk_start(&challenges, None).filter(|_| tls_dsk_allowed) {
                                // TLS-DSK checks no timestamps, but a clock this far off breaks
                                // web tickets and certificate validity: say so.
                                if let Some(s) = skew.filter(|s| s.exceeds(NTLM_TOLERANCE)) {
                                    report.warnings.push(format!("clock skew: {}; synchronise this computer's clock with the domain (w32tm /resync, chrony, NTP)", s.describe()));
                                }
                                let mut h = h;
                                let header = h.first_leg();
                                report.step(Stage::Authentication, step, &host, took, Outcome::Success, format!("{code}: the registrar offers {offered}; using TLS-DSK with the certificate from the keystore{skipped}"));
                                leg = Leg::TlsDsk(Box::new(h), header);
                                continue;
                            }
                            let ntlm = challenges
                                .iter()
                                .find(|c| c.scheme.eq_ignore_ascii_case("NTLM"))
                                .filter(|_| method.allows("NTLM"));
                            let (Some(ch), Some((account, password))) = (ntlm, &self.config.credentials) else {
                                if let (None, Some(cause)) = (ntlm, not_provisioned) {
                                    // Seed 002: the registrar takes only a certificate, and getting one failed.
                                    // That failure is why the sign-in ends: its class, diagnosis and hint.
                                    report.warnings.retain(|w| !w.contains(&cause.error));
                                    let diagnosis = cause
                                        .diagnosis
                                        .or_else(|| registration::diagnostics_of(&response).map(|d| d.to_diagnosis()));
                                    let f = Failure {
                                        error: format!(
                                            "{code}, the registrar accepts only {offered}, and no certificate could be provisioned: {}",
                                            cause.error
                                        ),
                                        class: cause.class,
                                        diagnosis,
                                        hint: cause.hint,
                                    };
                                    report.fail(Stage::Authentication, step, &host, took, f);
                                    return RegisterEnd::Failed;
                                }
                                let hint = if ntlm.is_some() {
                                    "configure the user's credentials (ClientBuilder::credentials, or --account/--password)".to_string()
                                } else if method == AuthMethod::TlsDsk {
                                    "TLS-DSK needs a provisioned certificate, and none could be had: see the certificate provisioning step; --auth auto would also try the other schemes".to_string()
                                } else {
                                    format!(
                                        "the registrar offers only {offered}: TLS-DSK needs a provisioned certificate, Kerberos a ticket{skipped}"
                                    )
                                };
                                report.fail(
                                    Stage::Authentication,
                                    step,
                                    &host,
                                    took,
                                    Failure {
                                        error: format!("{code}, the registrar requires authentication ({offered})"),
                                        class: "authentication-required".into(),
                                        diagnosis: registration::diagnostics_of(&response).map(|d| d.to_diagnosis()),
                                        hint,
                                    },
                                );
                                return RegisterEnd::Failed;
                            };
                            if let Some(e) = skew.and_then(|s| AuthError::clock_skew("NTLM", &s, None)) {
                                let mut f = auth_failure(&e);
                                f.error = format!("{code}: the registrar offers {offered}; NTLM not attempted: {e}");
                                report.fail(Stage::Authentication, step, &host, took, f);
                                return RegisterEnd::Failed;
                            }
                            match NtlmHandshake::new(ch, ntlm_credentials(account, &password.0)) {
                                Ok(h) => {
                                    report.step(
                                        Stage::Authentication,
                                        step,
                                        &host,
                                        took,
                                        Outcome::Success,
                                        format!("{code}: the registrar offers {offered}; using NTLM{skipped}"),
                                    );
                                    leg = Leg::NtlmFirst(h);
                                }
                                Err(e) => {
                                    report.fail(Stage::Authentication, step, &host, took, auth_failure(&e));
                                    return RegisterEnd::Failed;
                                }
                            }
                        }
                    }
                }
                RegisterOutcome::Redirect { contact } => {
                    // After authentication the 301 is signed like any answer: verify it first.
                    if let Some(sa) = &final_sa
                        && let Err(e) = sa.verify(&response)
                    {
                        report.fail(Stage::Redirection, step, &host, took, auth_failure(&e));
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
                    leg = Leg::Plain;
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
}

/// What trying Kerberos on a challenge came to.
enum KerberosLeg {
    /// The AP-REQ is ready to go out, with how the ticket was had.
    Ready(SecurityAssociation, String),
    /// Kerberos is not for this sign-in (not offered, not asked for, no ticket to be had): why.
    Skipped(String),
    /// `--auth kerberos`, and it failed.
    Failed(Failure),
}

impl Inner {
    /// The Kerberos leg for `challenges`: a service ticket for the challenge's `sip/<fqdn>` (from the KDC, once
    /// per ticket lifetime), then the GSS context whose AP-REQ and MIC the REGISTER carries. Under
    /// `--auth auto` anything that stops it is a reason to skip Kerberos, named in the report; a KDC's
    /// refusal is also a warning, since it names a fault of the domain.
    async fn kerberos_leg(
        &self,
        report: &mut SignInReport,
        challenges: &[Challenge],
        method: AuthMethod,
    ) -> KerberosLeg {
        let only = method == AuthMethod::Kerberos;
        if !method.allows("Kerberos") {
            return KerberosLeg::Skipped(format!("Kerberos: --auth {method}"));
        }
        let Some(ch) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("Kerberos")) else {
            return KerberosLeg::Skipped("Kerberos: not offered".into());
        };
        let unix = || SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let failed = |e: &crate::auth::kerberos::KerberosError| Failure {
            error: format!("Kerberos: {e}"),
            class: e.class().into(),
            diagnosis: None,
            hint: e.hint(),
        };
        let how = match self.kerberos.available(unix().as_secs()) {
            Ok(how) => how,
            Err(e) if only => return KerberosLeg::Failed(failed(&e)),
            Err(e) => return KerberosLeg::Skipped(format!("Kerberos skipped: {e}")),
        };
        let target = ch.targetname.as_deref().unwrap_or_default();
        let Some(service_host) = target.strip_prefix("sip/").or_else(|| target.strip_prefix("SIP/")) else {
            let e = AuthError::BadChallenge {
                scheme: "Kerberos".into(),
                reason: format!("targetname {target:?} is not sip/<fqdn>"),
            };
            return if only {
                KerberosLeg::Failed(auth_failure(&e))
            } else {
                KerberosLeg::Skipped(format!("Kerberos skipped: {e}"))
            };
        };
        let t = Instant::now();
        let ticket = match self.kerberos.service_ticket("sip", service_host, unix().as_secs()).await {
            Ok(ticket) => ticket,
            Err(e) => {
                let f = failed(&e);
                if only {
                    report.fail(
                        Stage::Authentication,
                        "Kerberos service ticket",
                        &format!("sip/{service_host}"),
                        t.elapsed(),
                        f.clone(),
                    );
                    return KerberosLeg::Failed(f);
                }
                report.failed_step(
                    Stage::Authentication,
                    "Kerberos service ticket",
                    &format!("sip/{service_host}"),
                    t.elapsed(),
                    &f,
                );
                return KerberosLeg::Skipped(format!("Kerberos skipped: {e}"));
            }
        };
        let detail = format!(
            "service ticket for {} (session key {}), with {how}",
            ticket.server,
            ticket.session_key.etype.name()
        );
        report.step(
            Stage::Authentication,
            "Kerberos service ticket",
            &format!("sip/{service_host}"),
            t.elapsed(),
            Outcome::Success,
            detail,
        );
        let now = unix();
        let context = crate::auth::kerberos::kdc::InitiatorContext::new(
            &ticket,
            crate::auth::kerberos::gss::GSS_INTEG,
            now.as_secs(),
            now.subsec_micros(),
            &rand::random(),
            rand::random(),
        );
        match context
            .map_err(|e| failed(&e))
            .and_then(|c| crate::auth::sa::kerberos_association(ch, &c).map_err(|e| auth_failure(&e)))
        {
            Ok(sa) => KerberosLeg::Ready(sa, format!("a ticket through {how}")),
            Err(f) if only => KerberosLeg::Failed(f),
            Err(f) => KerberosLeg::Skipped(format!("Kerberos skipped: {}", f.error)),
        }
    }
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

/// Where the REGISTER handshake stands.
enum Leg {
    /// No credentials sent yet.
    Plain,
    /// NTLM: the empty first token goes out next.
    NtlmFirst(NtlmHandshake),
    /// TLS-DSK: this `Authorization` (a TLS flight) goes out next.
    TlsDsk(Box<TlsDskHandshake>, String),
    /// The association is ready: the signed REGISTER (with NTLM's AUTHENTICATE or Kerberos's AP-REQ) goes
    /// out next.
    Final(SecurityAssociation),
}

impl Leg {
    fn step_name(&self) -> &'static str {
        match self {
            Leg::Plain => "REGISTER",
            Leg::NtlmFirst(_) => "REGISTER NTLM (negotiate)",
            Leg::TlsDsk(..) => "REGISTER TLS-DSK (handshake)",
            Leg::Final(sa) if sa.scheme() == "TLS-DSK" => "REGISTER TLS-DSK (signed)",
            Leg::Final(sa) if sa.scheme().eq_ignore_ascii_case("Kerberos") => "REGISTER Kerberos (AP-REQ, signed)",
            Leg::Final(_) => "REGISTER NTLM (authenticate, signed)",
        }
    }
}

/// `--auth` asked for a scheme this registrar does not offer, or one this build cannot speak.
fn scheme_unavailable(method: AuthMethod, challenges: &[Challenge], offered: &str, code: u16) -> Option<Failure> {
    let scheme = method.scheme()?;
    if challenges.iter().any(|c| c.scheme.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    Some(Failure {
        error: format!("{code}: the registrar offers {offered}, not {scheme}, which --auth {method} asked for"),
        class: "scheme-not-offered".into(),
        diagnosis: None,
        hint: format!(
            "use --auth auto to let the registrar's offer decide, or enable {scheme} for clients on the pool (Set-CsProxyConfiguration: UseNtlmForClientToProxyAuth, UseCertificateForClientToProxyAuth, UseKerberosForClientToProxyAuth)"
        ),
    })
}

/// Whether a TLS-DSK error is a version this client does not allow, chosen by the pool.
fn is_version_refusal(e: &AuthError) -> bool {
    matches!(e, AuthError::TlsDsk(crate::auth::tlsdsk::TlsDskError::UnsupportedVersion(_)))
}

/// A TLS-DSK handshake that failed on versions: TLS 1.0 disabled on one side.
fn tls_version_failure(
    e: &AuthError,
    at_hello: bool,
    offered: TlsVersion,
    versions: TlsDskVersions,
    diagnosis: Option<String>,
) -> Failure {
    use crate::auth::tlsdsk::TlsDskError;
    if let AuthError::TlsDsk(TlsDskError::UnsupportedVersion(v)) = e {
        let chosen = TlsVersion::from_wire(*v).map(|v| v.to_string()).unwrap_or_else(|| format!("version {v:#06x}"));
        return Failure {
            error: format!(
                "TLS 1.0 is disabled on this client (TLS-DSK allows {versions}) and the pool speaks nothing newer: it chose {chosen} inside TLS-DSK"
            ),
            class: "tls-version".into(),
            diagnosis,
            hint: "enable TLS 1.2 on the pool (Skype for Business Server 2015 CU6 HF2 or later, TLS 1.2 enabled in Schannel and .NET), or allow TLS 1.0 on this client (--tls-dsk-min 1.0, ClientBuilder::tls_dsk_versions)".into(),
        };
    }
    let (why, hint) = if offered == TlsVersion::Tls10 {
        (
            "TLS 1.0 is disabled on the pool and this client offers nothing newer",
            "allow TLS 1.2 on this client (--tls-dsk-max 1.2, ClientBuilder::tls_dsk_versions), or enable TLS 1.0 on the pool again",
        )
    } else {
        (
            "the pool accepts none of the TLS versions or cipher suites (RSA key exchange with AES-CBC) this client offers inside TLS-DSK",
            "check which TLS versions and cipher suites the pool's Schannel allows; TLS-DSK needs an RSA key-exchange suite",
        )
    };
    let range =
        if versions.min >= offered { format!("{offered} only") } else { format!("{} to {offered}", versions.min) };
    // A pool answers a ClientHello it cannot take with a new challenge (the lab's OpenSSL, and what a
    // restarted handshake looks like) or with a TLS alert in gssapi-data.
    let answer = match e {
        AuthError::BadChallenge { .. } => "it answered with a new challenge instead of its ServerHello".to_string(),
        other => other.to_string(),
    };
    let stage = if at_hello { "ClientHello" } else { "handshake" };
    Failure {
        error: format!("{why}: the pool refused the TLS-DSK {stage} offering {range} ({answer})"),
        class: "tls-version".into(),
        diagnosis,
        hint: hint.into(),
    }
}

/// A server not trusted with the credentials ([`crate::trust`]).
pub(super) fn untrusted_failure(e: &crate::trust::Untrusted) -> Failure {
    Failure { error: e.to_string(), class: e.class().into(), diagnosis: None, hint: e.hint() }
}

fn auth_failure(e: &AuthError) -> Failure {
    let (class, hint) = match e {
        AuthError::BadServerSignature { .. } => (
            "bad-server-signature",
            "the registrar's signature did not verify: something between this client and the pool changes messages, or the pool's NTLM keys differ; capture the traffic",
        ),
        AuthError::Ntlm(_) | AuthError::BadChallenge { .. } => {
            ("protocol", "the registrar's NTLM challenge could not be used; check its authentication settings")
        }
        AuthError::NoUsableScheme { .. } => {
            ("authentication-required", "enable NTLM on the registrar, or provision a TLS-DSK certificate")
        }
        AuthError::Signing(_) => ("protocol", "a header the signature covers is malformed"),
        AuthError::TlsDsk(_) => (
            "tls-dsk-failed",
            "the TLS-DSK handshake failed: check the pool's certificate (it is verified inside the tunnel too) and the TLS versions it allows",
        ),
        AuthError::Certificate(_) => {
            ("certificate-rejected", "the stored certificate is unusable; it will be provisioned again")
        }
        AuthError::ClockSkew { .. } => (
            "clock-skew",
            "synchronise this computer's clock with the domain (Windows: w32tm /resync; Linux: chrony or another NTP client, e.g. chronyc makestep) and check its time zone; NTLM allows 15 minutes of skew, Kerberos 5",
        ),
    };
    Failure { error: e.to_string(), class: class.into(), diagnosis: None, hint: hint.into() }
}

/// A challenge after the final handshake leg: the registrar refused the credentials — or, when
/// its `Date` is further from our clock than the scheme tolerates (NTLM's 15 minutes for schemes
/// without their own), the timestamps in them, which no password change would fix.
fn refused_after_final_leg(response: &Message, scheme: &str, skew: Option<ClockSkew>) -> Failure {
    let code = response.status().unwrap_or(401);
    let diagnosis = registration::diagnostics_of(response).map(|d| d.to_diagnosis());
    if let Some(e) = skew.and_then(|s| AuthError::clock_skew(scheme, &s, Some(NTLM_TOLERANCE))) {
        let f = auth_failure(&e);
        return Failure { error: format!("{code} after the final {scheme} leg: {e}"), diagnosis, ..f };
    }
    Failure {
        error: format!("{code}, the registrar refused the {scheme} credentials"),
        class: "wrong-credentials".into(),
        diagnosis,
        hint: "check the account (DOMAIN\\user or user@domain) and its password; repeated failures can lock the account in Active Directory".into(),
    }
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
    use crate::sip::{Limits, parse_message};

    fn refusal(date: Option<&str>) -> Message {
        let date = date.map(|d| format!("Date: {d}\r\n")).unwrap_or_default();
        let text = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 3 REGISTER\r\n{date}WWW-Authenticate: NTLM realm=\"SIP Communications Service\", targetname=\"fe.b\", version=4\r\nContent-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes(), &Limits::default()).unwrap().message
    }

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

    #[test]
    fn a_refusal_with_a_skewed_date_is_clock_skew_not_wrong_credentials() {
        let date = "Sun, 22 Nov 2026 05:00:00 GMT";
        let server = crate::auth::clock::parse_date(date).unwrap();
        let msg = refusal(Some(date));
        let skew = |secs| ClockSkew::of_message(&msg, server + Duration::from_secs(secs));
        let f = refused_after_final_leg(&msg, "NTLM", skew(3600));
        assert_eq!(f.class, "clock-skew");
        assert!(f.error.starts_with("401 after the final NTLM leg: clock skew: the registrar's clock says Sun, 22 Nov 2026 05:00:00 GMT, this computer's says Sun, 22 Nov 2026 06:00:00 GMT: 1 h 0 min 0 s apart"), "{}", f.error);
        assert!(f.hint.contains("w32tm"));
        // TLS-DSK has no tolerance of its own: NTLM's 15 minutes decide a refusal.
        assert_eq!(refused_after_final_leg(&msg, "TLS-DSK", skew(3600)).class, "clock-skew");
        // Within the tolerance, or without a Date: the credentials were refused.
        for skew in [skew(600), None] {
            let f = refused_after_final_leg(&msg, "NTLM", skew);
            assert_eq!(f.class, "wrong-credentials");
            assert_eq!(f.error, "401, the registrar refused the NTLM credentials");
        }
        assert_eq!(refused_after_final_leg(&refusal(None), "NTLM", None).class, "wrong-credentials");
    }
}
