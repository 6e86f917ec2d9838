//! The REGISTER legs of [MS-SIPAE] as one sans-I/O machine, for NTLM, Kerberos and TLS-DSK alike: challenges
//! in, the next REGISTER's `Authorization` and finally the security association out. No socket, no clock, no
//! keystore inside: the driver ([`crate::signin`]) sends the REGISTERs, reads the keystore, provisions
//! certificates and gets Kerberos tickets when the machine asks ([`Step`]), and passes the time in.
//!
//! The legs each scheme takes (REFERENCE.md §4.3, CLIENT-NOTES.md §5.2, seed 001's REGISTER counts):
//! - NTLM, three REGISTERs: an empty `gssapi-data`, then the AUTHENTICATE answering the CHALLENGE, signed.
//! - Kerberos, two: the AP-REQ for `sip/<fqdn>`, already signed with the new context (pidgin-sipe's single leg;
//!   no AP-REP comes back, the 200 OK's MIC proves the registrar).
//! - TLS-DSK, four: the TLS flights of a handshake tunnelled in `gssapi-data`, then the signed REGISTER.
//!
//! The scheme, under `--auth auto`, as the Microsoft client chooses: TLS-DSK with a certificate already in the
//! keystore, else Kerberos when a ticket can be had, else a certificate is provisioned for TLS-DSK, else NTLM.
//! Each scheme passed over is named in the report with why.
//!
//! A 401 (`WWW-Authenticate`) is answered in `Authorization`; a 407 (`Proxy-Authenticate`, an Edge's access
//! proxy) in `Proxy-Authorization`. The challenge's `Date` is compared with the local clock: beyond what NTLM
//! tolerates the sign-in stops with the class `clock-skew` instead of sending credentials that will be refused.

use std::sync::Arc;
use std::time::SystemTime;

use super::AuthMethod;
use super::clock::{ClockSkew, NTLM_TOLERANCE};
use super::kerberos::KerberosError;
use super::kerberos::kdc::InitiatorContext;
use super::ntlm::Credentials;
use super::sa::{
    AuthError, Challenge, NtlmHandshake, SecurityAssociation, TlsDskHandshake, TlsDskStep, kerberos_association,
};
use super::tlsdsk::{TlsDskError, TlsDskVersions, TlsVersion};
use crate::keystore::StoredCertificate;
use crate::registration;
use crate::report::Failure;
use crate::sip::Message;

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Send the next REGISTER ([`Handshake::authorize`] puts the credentials on it). `detail` is what the
    /// exchange that just ended came to, for the report, and `warning` something to look at.
    Send { detail: String, warning: Option<String> },
    /// Send the next REGISTER, after recording the exchange that just ended as a failed step (`detail`) that
    /// did not end the sign-in, with this warning.
    Retry { detail: String, warning: String },
    /// No certificate in the keystore: provision one for the TLS-DSK challenge, then [`Handshake::provisioned`].
    /// `then` is what follows if that fails (a warning then, not the end).
    Provision { then: Option<&'static str> },
    /// The pool refused the stored certificate: delete it (`target` is its pool), provision a new one, then
    /// [`Handshake::provisioned`]. `detail` is the refusal, for the report.
    Reprovision { target: Option<String>, detail: String },
    /// Get a Kerberos service ticket for `sip/<host>` and a context on it, then [`Handshake::kerberos`].
    /// `only`: `--auth kerberos`, so a failure ends the sign-in.
    Kerberos { host: String, how: String, only: bool },
    /// The handshake failed.
    Failed(Failure),
}

/// What a certificate provisioning came to.
#[derive(Debug)]
pub(crate) enum Provisioned {
    /// A certificate, now in the keystore.
    Ready(StoredCertificate),
    /// Tried and failed (already in the report): NTLM may still sign in.
    Failed(Failure),
    /// Not possible here (no credentials, no `sts-uri`).
    NotApplicable,
}

/// What the driver knows about the client's means when a first challenge comes.
pub(crate) struct Means {
    /// The certificate in the keystore for the TLS-DSK challenge's `targetname`, if any.
    pub certificate: Option<StoredCertificate>,
    /// Whether a Kerberos ticket can be had, and how ([`crate::auth::kerberos::KerberosClient::available`]).
    pub kerberos: Result<String, KerberosError>,
}

/// Where the legs stand.
enum Leg {
    /// No credentials sent yet.
    Plain,
    /// NTLM: the empty first token goes out next.
    NtlmFirst(NtlmHandshake),
    /// TLS-DSK: this `Authorization` (a TLS flight) goes out next; the certificate, for a new ClientHello.
    TlsDsk(Box<TlsDskHandshake>, String, StoredCertificate),
    /// The association is ready: the signed REGISTER (with NTLM's AUTHENTICATE or Kerberos's AP-REQ) goes out
    /// next.
    Final(SecurityAssociation),
}

/// The first challenge being answered while the driver fetches what the machine asked for.
struct Pending {
    challenges: Vec<Challenge>,
    code: u16,
    skew: Option<ClockSkew>,
    diagnosis: Option<String>,
    /// Schemes passed over, with why (`Kerberos skipped: ...`).
    skipped: Vec<String>,
    /// A provisioning that failed: the cause when nothing else is offered (seed 002).
    not_provisioned: Option<Failure>,
    /// Whether a certificate was already asked for.
    asked_certificate: bool,
}

impl Pending {
    /// The schemes the challenge offers, as the report lists them.
    fn offered(&self) -> String {
        let names: Vec<&str> = self.challenges.iter().map(|c| c.scheme.as_str()).collect();
        names.join(", ")
    }

    /// ` (Kerberos skipped: ...)`, or nothing.
    fn skipped(&self) -> String {
        if self.skipped.is_empty() { String::new() } else { format!(" ({})", self.skipped.join("; ")) }
    }
}

/// The handshake with one registrar.
pub(crate) struct Handshake {
    method: AuthMethod,
    versions: TlsDskVersions,
    anchors: Arc<rustls::RootCertStore>,
    ntlm: Option<Credentials>,
    leg: Leg,
    /// The association whose final leg went out with the last REGISTER.
    sent_final: Option<SecurityAssociation>,
    pending: Option<Pending>,
    /// A refused stored certificate was replaced once already.
    reprovisioned: bool,
    /// A refused ClientHello was already followed by one offering newer TLS versions.
    upgraded: bool,
}

impl Handshake {
    pub fn new(
        method: AuthMethod,
        versions: TlsDskVersions,
        anchors: Arc<rustls::RootCertStore>,
        ntlm: Option<Credentials>,
    ) -> Handshake {
        Handshake {
            method,
            versions,
            anchors,
            ntlm,
            leg: Leg::Plain,
            sent_final: None,
            pending: None,
            reprovisioned: false,
            upgraded: false,
        }
    }

    /// True before any credentials went out: the driver admits the registrar before the first answer.
    pub fn is_fresh(&self) -> bool {
        matches!(self.leg, Leg::Plain) && self.sent_final.is_none()
    }

    /// The report's name for the next REGISTER.
    pub fn step_name(&self) -> &'static str {
        match &self.leg {
            Leg::Plain => "REGISTER",
            Leg::NtlmFirst(_) => "REGISTER NTLM (negotiate)",
            Leg::TlsDsk(..) => "REGISTER TLS-DSK (handshake)",
            Leg::Final(sa) if sa.scheme() == "TLS-DSK" => "REGISTER TLS-DSK (signed)",
            Leg::Final(sa) if sa.scheme().eq_ignore_ascii_case("Kerberos") => "REGISTER Kerberos (AP-REQ, signed)",
            Leg::Final(_) => "REGISTER NTLM (authenticate, signed)",
        }
    }

    /// Puts this leg's credentials on the REGISTER about to go out.
    pub fn authorize(&mut self, request: &mut Message) -> Result<(), Failure> {
        self.sent_final = None;
        match std::mem::replace(&mut self.leg, Leg::Plain) {
            Leg::Plain => {}
            Leg::NtlmFirst(h) => {
                request.headers.set(h.header_name(), &h.first_leg());
                self.leg = Leg::NtlmFirst(h);
            }
            Leg::TlsDsk(h, header, cert) => {
                request.headers.set(h.header_name(), &header);
                self.leg = Leg::TlsDsk(h, header, cert);
            }
            Leg::Final(mut sa) => {
                sa.authorize_final_leg(request).map_err(|e| auth_failure(&e))?;
                self.sent_final = Some(sa);
            }
        }
        Ok(())
    }

    /// A 503 with `Retry-After`: the handshake starts over.
    pub fn restart(&mut self) {
        self.leg = Leg::Plain;
        self.sent_final = None;
        self.pending = None;
    }

    /// The 200 OK: verifies the registrar's signature on it and hands out the association (none when the
    /// registrar asked for no authentication). The association's `opaque` comes from it for Kerberos.
    pub fn registered(&mut self, response: &Message) -> Result<Option<SecurityAssociation>, Failure> {
        let Some(mut sa) = self.sent_final.take() else { return Ok(None) };
        sa.verify(response).map_err(|e| auth_failure(&e))?;
        sa.learn_opaque(response);
        Ok(Some(sa))
    }

    /// A 301 after authentication is signed like any answer: verified before it is followed.
    pub fn redirected(&self, response: &Message) -> Result<(), Failure> {
        match &self.sent_final {
            Some(sa) => sa.verify(response).map_err(|e| auth_failure(&e)),
            None => Ok(()),
        }
    }

    /// A 401 or 407. `means` is read by the driver only for a first challenge ([`Handshake::is_fresh`]); later
    /// legs need none.
    pub fn challenged(&mut self, response: &Message, now: SystemTime, means: impl FnOnce() -> Means) -> Step {
        let challenges = Challenge::all(response);
        let code = response.status().unwrap_or(401);
        let skew = ClockSkew::of_message(response, now);
        // A challenge after the final leg: the credentials were refused, or, when the registrar's Date is far
        // from ours, the timestamps were.
        if let Some(sa) = self.sent_final.take() {
            return Step::Failed(refused_after_final_leg(response, sa.scheme(), skew));
        }
        match std::mem::replace(&mut self.leg, Leg::Plain) {
            Leg::Final(_) | Leg::Plain => {}
            Leg::TlsDsk(h, _, cert) => return self.tls_dsk_answer(*h, cert, &challenges, code, response, now),
            Leg::NtlmFirst(h) => return self.ntlm_answer(h, &challenges, code, skew, now),
        }
        let means = means();
        let diagnosis = registration::diagnostics_of(response).map(|d| d.to_diagnosis());
        self.pending = Some(Pending {
            challenges,
            code,
            skew,
            diagnosis,
            skipped: Vec::new(),
            not_provisioned: None,
            asked_certificate: false,
        });
        let pending = self.pending.as_ref().expect("just set");
        if let Some(f) = scheme_unavailable(self.method, &pending.challenges, &pending.offered(), code) {
            return Step::Failed(f);
        }
        // A certificate already in the keystore comes first.
        if self.method.allows("TLS-DSK")
            && let Some(cert) = means.certificate
            && let Some(step) = self.start_tls_dsk(cert, now)
        {
            return step;
        }
        // Then Kerberos, when it is offered and a ticket can be had.
        let kerberos_offered = self.pending_challenge("Kerberos").is_some();
        let only = self.method == AuthMethod::Kerberos;
        if self.method.allows("Kerberos") && kerberos_offered {
            let target = self.pending_challenge("Kerberos").and_then(|c| c.targetname.clone()).unwrap_or_default();
            let host = target.strip_prefix("sip/").or_else(|| target.strip_prefix("SIP/")).map(str::to_owned);
            match (means.kerberos, host) {
                (Ok(how), Some(host)) => return Step::Kerberos { host, how, only },
                (Err(e), _) if only => return Step::Failed(kerberos_failure(&e)),
                (Err(e), _) => self.skip(format!("Kerberos skipped: {e}")),
                (Ok(_), None) => {
                    let e = AuthError::BadChallenge {
                        scheme: "Kerberos".into(),
                        reason: format!("targetname {target:?} is not sip/<fqdn>"),
                    };
                    if only {
                        return Step::Failed(auth_failure(&e));
                    }
                    self.skip(format!("Kerberos skipped: {e}"));
                }
            }
        }
        self.after_kerberos(now)
    }

    /// The Kerberos context the driver got for [`Step::Kerberos`] (`how`: where the ticket came from), or why
    /// there is none.
    pub fn kerberos(&mut self, result: Result<(InitiatorContext, String), KerberosError>, now: SystemTime) -> Step {
        let only = self.method == AuthMethod::Kerberos;
        let Some(ch) = self.pending_challenge("Kerberos").cloned() else {
            return Step::Failed(protocol("the Kerberos challenge is gone", "this is a bug in sfbkit"));
        };
        match result.map_err(|e| kerberos_failure(&e)).and_then(|(context, how)| {
            kerberos_association(&ch, &context).map(|sa| (sa, how)).map_err(|e| auth_failure(&e))
        }) {
            Ok((sa, how)) => {
                let detail = self.using(&format!("Kerberos (a ticket through {how})"));
                self.leg = Leg::Final(sa);
                self.pending = None;
                Step::Send { detail, warning: None }
            }
            Err(f) if only => Step::Failed(f),
            Err(f) => {
                self.skip(format!("Kerberos skipped: {}", f.error.trim_start_matches("Kerberos: ")));
                self.after_kerberos(now)
            }
        }
    }

    /// What the certificate provisioning the machine asked for came to.
    pub fn provisioned(&mut self, result: Provisioned, now: SystemTime) -> Step {
        match result {
            Provisioned::Ready(cert) => {
                if let Some(step) = self.start_tls_dsk(cert, now) {
                    return step;
                }
            }
            Provisioned::Failed(f) => {
                if let Some(p) = self.pending.as_mut() {
                    p.not_provisioned = Some(f);
                }
            }
            Provisioned::NotApplicable => {}
        }
        self.ntlm_or_fail()
    }

    // ---- the legs -----------------------------------------------------------------------------------------

    fn pending_challenge(&self, scheme: &str) -> Option<&Challenge> {
        self.pending.as_ref()?.challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case(scheme))
    }

    fn skip(&mut self, why: String) {
        if let Some(p) = self.pending.as_mut() {
            p.skipped.push(why);
        }
    }

    /// `401: the registrar offers X, Y; using Z`, with the schemes passed over and why.
    fn using(&self, what: &str) -> String {
        let Some(p) = &self.pending else { return format!("using {what}") };
        format!("{}: the registrar offers {}; using {what}{}", p.code, p.offered(), p.skipped())
    }

    /// After Kerberos (used, skipped or failed): provision a certificate for TLS-DSK, else NTLM.
    fn after_kerberos(&mut self, _now: SystemTime) -> Step {
        let tls_dsk = self.pending_challenge("TLS-DSK").is_some_and(|c| c.sts_uri.is_some());
        let asked = self.pending.as_ref().is_some_and(|p| p.asked_certificate);
        if self.method.allows("TLS-DSK") && tls_dsk && !asked {
            if let Some(p) = self.pending.as_mut() {
                p.asked_certificate = true;
            }
            // No certificate for this pool yet: provision one (web ticket, then GetAndPublishCert), as the
            // Microsoft client does on its first sign-in (seed 000, seed 001 step 3). If that fails, NTLM still
            // signs in where the registrar offers it; the failure stays in the report as a warning. Where it
            // does not, the failure is the cause.
            let ntlm = self.method.allows("NTLM") && self.pending_challenge("NTLM").is_some();
            return Step::Provision { then: ntlm.then_some("signing in with NTLM") };
        }
        self.ntlm_or_fail()
    }

    /// TLS-DSK with `cert` (from the keystore, or just provisioned into it).
    fn start_tls_dsk(&mut self, cert: StoredCertificate, now: SystemTime) -> Option<Step> {
        let ch = self.pending_challenge("TLS-DSK")?.clone();
        let mut h = self.tls_dsk_handshake(&ch, &cert, None, now)?;
        let header = h.first_leg();
        let detail = self.using("TLS-DSK with the certificate from the keystore");
        // TLS-DSK checks no timestamps, but a clock this far off breaks web tickets and certificate validity.
        let skew = self.pending.as_ref().and_then(|p| p.skew).filter(|s| s.exceeds(NTLM_TOLERANCE));
        let warning = skew.map(|s| {
            format!(
                "clock skew: {}; synchronise this computer's clock with the domain (w32tm /resync, chrony, NTP)",
                s.describe()
            )
        });
        self.leg = Leg::TlsDsk(Box::new(h), header, cert);
        self.pending = None;
        Some(Step::Send { detail, warning })
    }

    fn tls_dsk_handshake(
        &self,
        ch: &Challenge,
        cert: &StoredCertificate,
        offer: Option<TlsVersion>,
        now: SystemTime,
    ) -> Option<TlsDskHandshake> {
        let offer = offer.unwrap_or_else(|| self.versions.first_offer());
        let unix = rustls_pki_types::UnixTime::since_unix_epoch(
            now.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default(),
        );
        match TlsDskHandshake::new(ch, cert, self.anchors.clone(), self.versions, offer, unix) {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "stored certificate unusable; TLS-DSK skipped");
                None
            }
        }
    }

    fn tls_dsk_answer(
        &mut self,
        h: TlsDskHandshake,
        cert: StoredCertificate,
        challenges: &[Challenge],
        code: u16,
        response: &Message,
        now: SystemTime,
    ) -> Step {
        let Some(ch) = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK")) else {
            return Step::Failed(protocol(
                &format!("{code} without a TLS-DSK challenge"),
                "the registrar did not continue the TLS-DSK handshake",
            ));
        };
        let (offered, at_hello) = (h.offered(), h.at_hello());
        match h.answer(ch) {
            Ok((TlsDskStep::Continue(header), Some(h))) => {
                let chosen = h.negotiated().map(|n| format!(" (inner TLS: {n})")).unwrap_or_default();
                self.leg = Leg::TlsDsk(Box::new(h), header, cert);
                Step::Send { detail: format!("{code} with the pool's TLS flight{chosen}"), warning: None }
            }
            Ok((TlsDskStep::Established(sa), _)) => {
                self.leg = Leg::Final(sa);
                let detail =
                    format!("{code} with the pool's Finished: TLS-DSK tunnel complete, pool certificate verified");
                Step::Send { detail, warning: None }
            }
            Ok((TlsDskStep::Continue(_), None)) => {
                Step::Failed(protocol("the TLS-DSK handshake stopped without a state", "this is a bug in sfbkit"))
            }
            // Refused before the certificate was even sent, or a version we do not allow chosen: TLS versions
            // (or suites) on one side, not the certificate.
            Err(e) if at_hello || is_version_refusal(&e) => {
                let next = self.versions.after_refusal(offered).filter(|_| at_hello && !self.upgraded);
                if let Some(next) = next
                    && let Some(mut h) = self.tls_dsk_handshake(ch, &cert, Some(next), now)
                {
                    self.upgraded = true;
                    let why = format!(
                        "the pool refused a ClientHello offering {offered} at most, as TLS 1.0 disabled on a pool does"
                    );
                    let header = h.first_leg();
                    self.leg = Leg::TlsDsk(Box::new(h), header, cert);
                    return Step::Retry {
                        detail: format!("{why}; offering up to {next}"),
                        warning: format!("TLS-DSK: {why}; signing in with {next} allowed"),
                    };
                }
                let diagnosis = registration::diagnostics_of(response).map(|d| d.to_diagnosis());
                Step::Failed(tls_version_failure(&e, at_hello, offered, self.versions, diagnosis))
            }
            // The pool refused the stored certificate (another CA, revoked, expired): delete it and provision a
            // new one, once.
            Err(e) if !self.reprovisioned => {
                self.reprovisioned = true;
                self.pending = Some(Pending {
                    challenges: challenges.to_vec(),
                    code,
                    skew: None,
                    diagnosis: None,
                    skipped: Vec::new(),
                    not_provisioned: None,
                    asked_certificate: true,
                });
                Step::Reprovision {
                    target: ch.targetname.clone(),
                    detail: format!("the pool refused the stored certificate ({e}); deleted, provisioning a new one"),
                }
            }
            Err(e) => Step::Failed(auth_failure(&e)),
        }
    }

    fn ntlm_answer(
        &mut self,
        h: NtlmHandshake,
        challenges: &[Challenge],
        code: u16,
        skew: Option<ClockSkew>,
        now: SystemTime,
    ) -> Step {
        if let Some(e) = skew.and_then(|s| AuthError::clock_skew("NTLM", &s, None)) {
            return Step::Failed(auth_failure(&e));
        }
        let Some(ch) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("NTLM") && c.gssapi_data.as_deref().is_some_and(|g| !g.is_empty()))
        else {
            return Step::Failed(protocol(
                &format!("{code} without an NTLM CHALLENGE"),
                "the registrar did not continue the NTLM handshake; check its authentication settings",
            ));
        };
        match h.answer(ch, now) {
            Ok(sa) => {
                self.leg = Leg::Final(sa);
                Step::Send { detail: format!("{code} with the NTLM CHALLENGE"), warning: None }
            }
            Err(e) => Step::Failed(auth_failure(&e)),
        }
    }

    /// NTLM when it is offered, allowed and there are credentials; else the failure that names why nothing
    /// could be used.
    fn ntlm_or_fail(&mut self) -> Step {
        let Some(p) = self.pending.take() else {
            return Step::Failed(protocol("the challenge is gone", "this is a bug in sfbkit"));
        };
        let ntlm = p
            .challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("NTLM"))
            .filter(|_| self.method.allows("NTLM"))
            .cloned();
        let (code, offered, skipped) = (p.code, p.offered(), p.skipped());
        let (Some(ch), Some(creds)) = (ntlm.as_ref(), self.ntlm.clone()) else {
            if let (None, Some(cause)) = (&ntlm, p.not_provisioned) {
                // Seed 002: the registrar takes only a certificate, and getting one failed. That failure is
                // why the sign-in ends: its class, diagnosis and hint.
                return Step::Failed(Failure {
                    error: format!(
                        "{code}, the registrar accepts only {offered}, and no certificate could be provisioned: {}",
                        cause.error
                    ),
                    class: cause.class,
                    diagnosis: cause.diagnosis.or(p.diagnosis),
                    hint: cause.hint,
                });
            }
            let hint = if ntlm.is_some() {
                "configure the user's credentials (ClientBuilder::credentials, or --account/--password)".to_string()
            } else if self.method == AuthMethod::TlsDsk {
                "TLS-DSK needs a provisioned certificate, and none could be had: see the certificate provisioning step; --auth auto would also try the other schemes".to_string()
            } else {
                format!(
                    "the registrar offers only {offered}: TLS-DSK needs a provisioned certificate, Kerberos a ticket{skipped}"
                )
            };
            return Step::Failed(Failure {
                error: format!("{code}, the registrar requires authentication ({offered})"),
                class: "authentication-required".into(),
                diagnosis: p.diagnosis,
                hint,
            });
        };
        if let Some(e) = p.skew.and_then(|s| AuthError::clock_skew("NTLM", &s, None)) {
            let mut f = auth_failure(&e);
            f.error = format!("{code}: the registrar offers {offered}; NTLM not attempted: {e}");
            return Step::Failed(f);
        }
        match NtlmHandshake::new(ch, creds) {
            Ok(h) => {
                self.leg = Leg::NtlmFirst(h);
                let detail = format!("{code}: the registrar offers {offered}; using NTLM{skipped}");
                Step::Send { detail, warning: None }
            }
            Err(e) => Step::Failed(auth_failure(&e)),
        }
    }
}

fn protocol(error: &str, hint: &str) -> Failure {
    Failure { error: error.to_string(), class: "protocol".into(), diagnosis: None, hint: hint.into() }
}

fn kerberos_failure(e: &KerberosError) -> Failure {
    Failure { error: format!("Kerberos: {e}"), class: e.class().into(), diagnosis: None, hint: e.hint() }
}

/// `--auth` asked for a scheme this registrar does not offer.
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
    matches!(e, AuthError::TlsDsk(TlsDskError::UnsupportedVersion(_)))
}

/// A TLS-DSK handshake that failed on versions: TLS 1.0 disabled on one side.
fn tls_version_failure(
    e: &AuthError,
    at_hello: bool,
    offered: TlsVersion,
    versions: TlsDskVersions,
    diagnosis: Option<String>,
) -> Failure {
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

/// An authentication error as a report failure: its class and what to do.
pub(crate) fn auth_failure(e: &AuthError) -> Failure {
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

/// A challenge after the final handshake leg: the registrar refused the credentials — or, when its `Date` is
/// further from our clock than the scheme tolerates (NTLM's 15 minutes for schemes without their own), the
/// timestamps in them, which no password change would fix.
pub(crate) fn refused_after_final_leg(response: &Message, scheme: &str, skew: Option<ClockSkew>) -> Failure {
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

#[cfg(test)]
mod tests {
    //! The machine driven with the messages a pool sends (as the lab pool and the [MS-SIPAE] examples write
    //! them): no socket, no clock, no keystore.
    use super::*;
    use crate::auth::ntlm::server::{NtlmServer, ServerCredentials, ServerIdentity};
    use crate::auth::ntlm::{AuthenticateMessage, decode_token, encode_token};
    use crate::auth::sa::ntlm_credentials;
    use crate::auth::signature::{BufferParams, read_client_signature, signature_buffer};
    use crate::sip::{AuthHeader, Limits, parse_message};
    use std::time::Duration;

    const FQDN: &str = "pool01.contoso.lab";
    const CERTPROV: &str = "https://pool01.contoso.lab/CertProv/CertProvisioningService.svc";

    fn parse(text: &str) -> Message {
        parse_message(text.as_bytes(), &Limits::default()).unwrap().message
    }

    fn register() -> Message {
        parse(
            "REGISTER sip:contoso.lab SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n",
        )
    }

    /// A 401 with these `WWW-Authenticate` values (and a `Date` when given).
    fn unauthorized(challenges: &[String], date: Option<&str>) -> Message {
        let mut text = "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n".to_string();
        if let Some(d) = date {
            text.push_str(&format!("Date: {d}\r\n"));
        }
        for c in challenges {
            text.push_str(&format!("WWW-Authenticate: {c}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        parse(&text)
    }

    fn ntlm() -> String {
        format!("NTLM realm=\"SIP Communications Service\", targetname=\"{FQDN}\", version=4")
    }
    fn kerberos() -> String {
        format!("Kerberos realm=\"SIP Communications Service\", targetname=\"sip/{FQDN}\", version=4")
    }
    fn tls_dsk() -> String {
        format!(
            "TLS-DSK realm=\"SIP Communications Service\", targetname=\"{FQDN}\", version=4, sts-uri=\"{CERTPROV}\""
        )
    }

    fn machine(method: AuthMethod) -> Handshake {
        // Any anchor: the tests end before a pool's certificate would be checked against it.
        let ca = rcgen::generate_simple_self_signed(vec!["lab CA".to_string()]).unwrap();
        let mut anchors = rustls::RootCertStore::empty();
        anchors.add(ca.cert.der().clone()).unwrap();
        let anchors = Arc::new(anchors);
        Handshake::new(method, TlsDskVersions::default(), anchors, Some(ntlm_credentials("alice@contoso.lab", "pw")))
    }

    fn no_means() -> Means {
        Means { certificate: None, kerberos: Err(KerberosError::NoCredentials("no credential cache".into())) }
    }

    fn certificate() -> StoredCertificate {
        let request = crate::auth::certprov::CertificateRequest::generate("sip:alice@contoso.lab").unwrap();
        StoredCertificate { cert_chain_der: vec![vec![0x30, 0x00]], key_pkcs8_der: request.key_pkcs8_der().to_vec() }
    }

    fn header(msg: &Message) -> AuthHeader {
        AuthHeader::parse("Authorization", msg.header("Authorization").expect("an Authorization")).unwrap()
    }

    /// NTLM's three REGISTERs against an NTLM acceptor, up to the final REGISTER, which the acceptor checks.
    fn ntlm_to_the_final_leg() -> (Handshake, crate::auth::ntlm::NtlmSession) {
        let mut m = machine(AuthMethod::Auto);
        let now = SystemTime::now();
        // No certificate, no ticket, TLS-DSK offered: a certificate is asked for first; none comes.
        let step = m.challenged(&unauthorized(&[ntlm(), tls_dsk()], None), now, no_means);
        assert!(matches!(step, Step::Provision { then: Some("signing in with NTLM") }), "{step:?}");
        let Step::Send { detail, .. } = m.provisioned(Provisioned::NotApplicable, now) else { panic!() };
        assert_eq!(detail, "401: the registrar offers NTLM, TLS-DSK; using NTLM");
        assert_eq!(m.step_name(), "REGISTER NTLM (negotiate)");
        let mut first = register();
        m.authorize(&mut first).unwrap();
        assert_eq!(header(&first).param("gssapi-data").as_deref(), Some(""));

        let server = NtlmServer::new(ServerIdentity {
            nb_domain: "CONTOSO".into(),
            nb_computer: "POOL01".into(),
            dns_domain: "contoso.lab".into(),
            dns_computer: FQDN.into(),
        });
        let challenge =
            server.challenge([7; 8], crate::auth::ntlm::crypto::filetime(Duration::from_secs(1_796_000_000)));
        let second = unauthorized(
            &[format!(
                "NTLM opaque=\"0A1B2C3D\", gssapi-data=\"{}\", targetname=\"{FQDN}\", realm=\"SIP Communications Service\", version=4",
                encode_token(&challenge.to_bytes())
            )],
            None,
        );
        let Step::Send { detail, .. } = m.challenged(&second, now, || panic!("no means asked mid-handshake")) else {
            panic!()
        };
        assert_eq!(detail, "401 with the NTLM CHALLENGE");
        assert_eq!(m.step_name(), "REGISTER NTLM (authenticate, signed)");
        let mut last = register();
        m.authorize(&mut last).unwrap();
        let h = header(&last);
        assert_eq!(h.param("opaque").as_deref(), Some("0A1B2C3D"));
        let token = decode_token(&h.param("gssapi-data").unwrap()).unwrap();
        let user = AuthenticateMessage::parse(&token).unwrap().user_name();
        let creds = ServerCredentials { user, password: "pw".into() };
        let accepted = server.accept(&[], &challenge, &token, &creds).expect("the pool accepts the AUTHENTICATE");
        // The final REGISTER is signed (version 4), and the signature verifies with the pool's keys.
        let (params, response) = read_client_signature(&last, 4).unwrap();
        assert!(accepted.session.verify_hex(signature_buffer(&last, &params).unwrap().as_bytes(), &response));
        (m, accepted.session)
    }

    /// The pool's 200 OK with `rspauth`.
    fn ok(rspauth: &str) -> Message {
        parse(&format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nExpires: 600\r\nAuthentication-Info: NTLM rspauth=\"{rspauth}\", srand=\"5E61CCD9\", snum=\"1\", opaque=\"0A1B2C3D\", qop=\"auth\", targetname=\"{FQDN}\", realm=\"SIP Communications Service\"\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn ntlm_runs_three_legs_to_a_verified_200() {
        let (mut m, pool) = ntlm_to_the_final_leg();
        let params = BufferParams {
            scheme: "NTLM".into(),
            rand: "5E61CCD9".into(),
            num: "1".into(),
            realm: "SIP Communications Service".into(),
            targetname: FQDN.into(),
            version: 4,
        };
        let rspauth = pool.sign_hex(signature_buffer(&ok("00"), &params).unwrap().as_bytes());
        let sa = m.registered(&ok(&rspauth)).unwrap().expect("the association");
        assert_eq!(sa.scheme(), "NTLM");
    }

    #[test]
    fn a_200_with_a_forged_signature_is_refused() {
        let (mut m, _) = ntlm_to_the_final_leg();
        assert_eq!(m.registered(&ok("0100000000000000deadbeef64000000")).unwrap_err().class, "bad-server-signature");
    }

    #[test]
    fn auth_ntlm_uses_neither_the_certificate_nor_the_ticket() {
        let mut m = machine(AuthMethod::Ntlm);
        let now = SystemTime::now();
        let Step::Send { detail, .. } =
            m.challenged(&unauthorized(&[kerberos(), ntlm(), tls_dsk()], None), now, || Means {
                certificate: Some(certificate()),
                kerberos: Ok("the credential cache of alice@CONTOSO.LAB".into()),
            })
        else {
            panic!()
        };
        assert_eq!(detail, "401: the registrar offers Kerberos, NTLM, TLS-DSK; using NTLM");
    }

    #[test]
    fn auto_prefers_a_stored_certificate_then_kerberos_then_provisioning() {
        let now = SystemTime::now();
        let all = [kerberos(), ntlm(), tls_dsk()];
        // A certificate in the keystore: TLS-DSK, its ClientHello in the next REGISTER.
        let mut m = machine(AuthMethod::Auto);
        let step = m.challenged(&unauthorized(&all, None), now, || Means {
            certificate: Some(certificate()),
            kerberos: Ok("the credential cache of alice@CONTOSO.LAB".into()),
        });
        let Step::Send { detail, .. } = step else { panic!("{step:?}") };
        assert_eq!(
            detail,
            "401: the registrar offers Kerberos, NTLM, TLS-DSK; using TLS-DSK with the certificate from the keystore"
        );
        let mut hello = register();
        m.authorize(&mut hello).unwrap();
        assert!(header(&hello).param("gssapi-data").is_some_and(|g| !g.is_empty()));
        // No certificate, a ticket to be had: Kerberos, for sip/<fqdn>'s host.
        let mut m = machine(AuthMethod::Auto);
        let step = m.challenged(&unauthorized(&all, None), now, || Means {
            certificate: None,
            kerberos: Ok("the credential cache of alice@CONTOSO.LAB".into()),
        });
        assert!(matches!(&step, Step::Kerberos { host, only: false, .. } if host == FQDN), "{step:?}");
        // The KDC does not know the service: skipped, named, and a certificate is provisioned instead.
        let refusal = KerberosError::Kdc { code: 7, text: None, server_time: 0, server: None };
        let step = m.kerberos(Err(refusal), now);
        assert!(matches!(step, Step::Provision { .. }), "{step:?}");
        let Step::Send { detail, .. } = m.provisioned(Provisioned::NotApplicable, now) else { panic!() };
        assert!(
            detail.contains("using NTLM (Kerberos skipped: the KDC refused: KDC_ERR_S_PRINCIPAL_UNKNOWN"),
            "{detail}"
        );
        // No ticket at all: the reason is in the detail.
        let mut m = machine(AuthMethod::Auto);
        let Step::Send { detail, .. } = m.challenged(&unauthorized(&[kerberos(), ntlm()], None), now, no_means) else {
            panic!("no TLS-DSK offered: NTLM directly")
        };
        assert!(detail.contains("Kerberos skipped: no Kerberos credentials: no credential cache"), "{detail}");
    }

    /// Kerberos's two REGISTERs: the AP-REQ in `gssapi-data` on a REGISTER signed with the context's key,
    /// then a 200 OK whose MIC (made as the acceptor makes it) verifies and whose `opaque` the association
    /// takes for the messages after it.
    #[test]
    fn kerberos_sends_one_signed_ap_req_and_takes_the_200s_opaque() {
        use crate::auth::kerberos::gss::{self, Side};
        use crate::auth::kerberos::{Credential, Etype, Key, Principal};
        for etype in Etype::ALL {
            let now = SystemTime::now();
            let mut m = machine(AuthMethod::Auto);
            let step = m.challenged(&unauthorized(&[kerberos(), ntlm(), tls_dsk()], None), now, || Means {
                certificate: None,
                kerberos: Ok("the credential cache of alice@CONTOSO.LAB".into()),
            });
            let Step::Kerberos { host, how, only: false } = step else { panic!("{step:?}") };
            assert_eq!(host, FQDN);
            let ticket = Credential {
                client: Principal::user("alice", "CONTOSO.LAB"),
                server: Principal::service("sip", FQDN, "CONTOSO.LAB"),
                session_key: Key::new(etype, &vec![5; etype.key_len()]).unwrap(),
                ticket: b"\x61\x03\x30\x01\x00".to_vec(),
                auth_time: 1_796_000_000,
                start_time: 1_796_000_000,
                end_time: 1_796_036_000,
                renew_till: 0,
                flags: 0,
            };
            let context = InitiatorContext::new(&ticket, gss::GSS_INTEG, 1_796_000_100, 7, &[9; 32], [1; 16]).unwrap();
            let key = context.key.clone();
            let Step::Send { detail, .. } = m.kerberos(Ok((context, how)), now) else { panic!() };
            assert_eq!(
                detail,
                "401: the registrar offers Kerberos, NTLM, TLS-DSK; using Kerberos (a ticket through the credential cache of alice@CONTOSO.LAB)"
            );
            assert_eq!(m.step_name(), "REGISTER Kerberos (AP-REQ, signed)");
            let mut request = register();
            m.authorize(&mut request).unwrap();
            let h = header(&request);
            assert_eq!(h.scheme, "Kerberos");
            assert_eq!(h.param("targetname").as_deref(), Some(&*format!("sip/{FQDN}")));
            assert!(h.param("opaque").is_none(), "no opaque before the 200 names one");
            let token = decode_token(&h.param("gssapi-data").unwrap()).unwrap();
            assert_eq!(token[0], 0x60, "a GSS initial context token");
            // The REGISTER's own signature is a MIC with the context key (upper-case hex, as SIPE prints it).
            let (params, response) = read_client_signature(&request, 4).unwrap();
            let bytes: Vec<u8> =
                (0..response.len()).step_by(2).map(|i| u8::from_str_radix(&response[i..i + 2], 16).unwrap()).collect();
            let buffer = signature_buffer(&request, &params).unwrap();
            gss::verify_mic(&key, Side::Initiator, buffer.as_bytes(), &bytes).expect("the REGISTER's MIC");
            // The 200 OK, signed by the acceptor with the same key.
            let ok = |rspauth: &str| {
                parse(&format!(
                    "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.lab>;tag=1\r\nTo: <sip:alice@contoso.lab>;tag=2\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nExpires: 600\r\nAuthentication-Info: Kerberos rspauth=\"{rspauth}\", srand=\"D4D4D025\", snum=\"1\", opaque=\"39B566EE\", qop=\"auth\", targetname=\"sip/{FQDN}\", realm=\"SIP Communications Service\", version=4\r\nContent-Length: 0\r\n\r\n"
                ))
            };
            let params = BufferParams {
                scheme: "Kerberos".into(),
                rand: "D4D4D025".into(),
                num: "1".into(),
                realm: "SIP Communications Service".into(),
                targetname: format!("sip/{FQDN}"),
                version: 4,
            };
            let mic = gss::get_mic(&key, Side::Acceptor, 0, signature_buffer(&ok("00"), &params).unwrap().as_bytes());
            let hex: String = mic.iter().map(|b| format!("{b:02x}")).collect();
            let mut sa = m.registered(&ok(&hex)).unwrap().expect("the association");
            let mut next = register();
            sa.sign(&mut next).unwrap();
            assert_eq!(header(&next).param("opaque").as_deref(), Some("39B566EE"), "{etype:?}");
        }
    }

    #[test]
    fn auth_kerberos_fails_with_the_kerberos_class_and_hint() {
        let now = SystemTime::now();
        let mut m = machine(AuthMethod::Kerberos);
        let skew = KerberosError::Kdc { code: 37, text: None, server_time: 0, server: None };
        let step = m.challenged(&unauthorized(&[kerberos(), ntlm()], None), now, move || Means {
            certificate: None,
            kerberos: Err(skew),
        });
        let Step::Failed(f) = step else { panic!("{step:?}") };
        assert_eq!(f.class, "clock-skew");
        assert!(f.hint.contains("w32tm"));
        // Not offered at all.
        let mut m = machine(AuthMethod::Kerberos);
        let Step::Failed(f) = m.challenged(&unauthorized(&[ntlm()], None), now, no_means) else { panic!() };
        assert_eq!(f.class, "scheme-not-offered");
    }

    #[test]
    fn a_refused_clienthello_is_offered_newer_tls_once_then_named() {
        let now = SystemTime::now();
        let mut m = machine(AuthMethod::TlsDsk);
        let step = m.challenged(&unauthorized(&[tls_dsk()], None), now, || Means {
            certificate: Some(certificate()),
            kerberos: Err(KerberosError::NoCredentials("none".into())),
        });
        assert!(matches!(step, Step::Send { .. }));
        let mut r = register();
        m.authorize(&mut r).unwrap();
        // The pool answers the ClientHello with a fresh challenge (no ServerHello): TLS 1.0 disabled there.
        let step = m.challenged(&unauthorized(&[tls_dsk()], None), now, || panic!());
        let Step::Retry { detail, warning } = step else { panic!("{step:?}") };
        assert!(detail.contains("offering up to TLS 1.2") && warning.contains("TLS 1.2 allowed"), "{detail}");
        let mut r = register();
        m.authorize(&mut r).unwrap();
        let Step::Failed(f) = m.challenged(&unauthorized(&[tls_dsk()], None), now, || panic!()) else { panic!() };
        assert_eq!(f.class, "tls-version");
    }

    #[test]
    fn a_skewed_registrar_clock_stops_ntlm_before_credentials_go_out() {
        let now = crate::auth::clock::parse_date("Sun, 22 Nov 2026 06:00:00 GMT").unwrap();
        let mut m = machine(AuthMethod::Auto);
        let first = unauthorized(&[ntlm()], Some("Sun, 22 Nov 2026 05:00:00 GMT"));
        let Step::Failed(f) = m.challenged(&first, now, no_means) else { panic!() };
        assert_eq!(f.class, "clock-skew");
        assert!(f.error.contains("NTLM not attempted"), "{}", f.error);
    }

    #[test]
    fn a_refusal_with_a_skewed_date_is_clock_skew_not_wrong_credentials() {
        let date = "Sun, 22 Nov 2026 05:00:00 GMT";
        let server = crate::auth::clock::parse_date(date).unwrap();
        let msg = unauthorized(&[ntlm()], Some(date));
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
    }
}
