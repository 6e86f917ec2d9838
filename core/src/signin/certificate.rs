//! Certificate provisioning for TLS-DSK as part of sign-in: when to provision, when to renew,
//! and starting the TLS-DSK handshake from the certificate in the keystore.

use super::register::untrusted_failure;
use super::*;

/// Why no certificate was provisioned.
pub(super) enum NotProvisioned {
    /// Not applicable: no TLS-DSK challenge with an `sts-uri`, or no credentials.
    NotApplicable,
    /// Tried and failed (recorded in the report, with its class and hint): NTLM may still sign in. The failure
    /// explains a sign-in that ends because nothing else is offered (seed 002: 28032 behind "TLS-DSK only").
    Failed(Failure),
    /// The sign-in must end here (the failure is in the report): the password was refused (a second try
    /// elsewhere would be another failed logon), or a server on the way is not trusted with the credentials.
    Stop,
}

impl Inner {
    /// Provisions a TLS-DSK certificate when the registrar `registrar` offers TLS-DSK with an `sts-uri` and
    /// credentials are configured; the step, success or failure, is recorded with its own duration.
    pub(super) async fn provision_certificate(
        &self,
        report: &mut SignInReport,
        challenges: &[Challenge],
        registrar: &str,
        if_failed: Option<&str>,
    ) -> Result<(), NotProvisioned> {
        use NotProvisioned::NotApplicable;
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK")).ok_or(NotApplicable)?;
        let certprov = ch.sts_uri.clone().ok_or(NotApplicable)?;
        let target = ch.targetname.clone().ok_or(NotApplicable)?;
        let (account, password) = self.config.credentials.as_ref().ok_or(NotApplicable)?;
        let user = self.aor.as_sip().map(|s| s.aor()).ok_or(NotApplicable)?;
        let t = Instant::now();
        let stop = |report: &mut SignInReport, f: Failure| {
            report.fail(Stage::Authentication, "certificate provisioning", &certprov, t.elapsed(), f);
            NotProvisioned::Stop
        };
        // The sts-uri comes from the registrar over TLS; the Web Ticket Service from autodiscover, else
        // beside the sts-uri. Both must be trusted before any credential or ticket goes there.
        let from_registrar = Learned::Tls(registrar.to_string());
        let certprov_url =
            match self.trust.admit_url(&certprov, Purpose::CertificateProvisioning, &from_registrar).await {
                Ok(u) => u,
                Err(e) => return Err(stop(report, untrusted_failure(&e))),
            };
        let discovered = self.web_ticket_url.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (sts, learned) = match discovered {
            Some(found) => found,
            None => (crate::auth::provision::default_sts_url(&certprov).ok_or(NotApplicable)?, from_registrar),
        };
        let sts = match self.trust.admit_url(&sts, Purpose::WebTicketService, &learned).await {
            Ok(u) => u,
            Err(e) => return Err(stop(report, untrusted_failure(&e))),
        };
        let http = self.http();
        let device_id = crate::identity::sip_instance(&self.epid).uuid();
        match crate::auth::provision::provision(
            &http,
            &self.trust,
            &sts,
            &certprov_url,
            &user,
            account,
            &password.0,
            &device_id,
            self.keystore.as_ref(),
            &target,
            &self.config.org_id_sts,
            self.web_kerberos(),
        )
        .await
        {
            Ok(p) => {
                let how = match &p.route {
                    route @ crate::auth::webticket_client::TicketRoute::Windows { port, .. } => {
                        format!("{port} ({})", route.how())
                    }
                    crate::auth::webticket_client::TicketRoute::OrgId {
                        org_id_sts,
                        bearer_port,
                        org_id_elapsed,
                        ..
                    } => {
                        report.step(
                            Stage::Authentication,
                            "Org ID token",
                            org_id_sts,
                            *org_id_elapsed,
                            Outcome::Success,
                            format!("Org ID STS token for {bearer_port} (WS-Trust UsernameToken)"),
                        );
                        format!("{bearer_port} (WsFed_bearer, Org ID token)")
                    }
                };
                let detail = format!(
                    "web ticket from {how}, certificate from GetAndPublishCert, stored in {}",
                    self.keystore.describe()
                );
                report.step(
                    Stage::Authentication,
                    "certificate provisioning",
                    &certprov,
                    t.elapsed(),
                    Outcome::Success,
                    detail,
                );
                Ok(())
            }
            Err(e) => {
                let f =
                    Failure { error: e.to_string(), class: e.class().into(), diagnosis: e.diagnosis(), hint: e.hint() };
                if e.ends_sign_in() {
                    return Err(stop(report, f));
                }
                // With its class and hint; `if_failed` says how the sign-in goes on.
                let took = t.elapsed();
                match if_failed {
                    Some(then) => report.recovered_step(
                        Stage::Authentication,
                        "certificate provisioning",
                        &certprov,
                        took,
                        &f,
                        then,
                    ),
                    None => report.failed_step(Stage::Authentication, "certificate provisioning", &certprov, took, &f),
                }
                Err(NotProvisioned::Failed(f))
            }
        }
    }

    /// When the stored certificate for this pool is expired or past half its lifetime: the reason,
    /// and the entry is deleted so that provisioning replaces it.
    pub(super) fn renewal_due(&self, challenges: &[Challenge]) -> Option<String> {
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK"))?;
        let target = ch.targetname.as_deref()?;
        let user = self.aor.as_sip()?.aor();
        let cert = StoredCertificate::load(self.keystore.as_ref(), &user, target).ok()??;
        let reason = cert.renewal_due(SystemTime::now())?;
        // Renewal needs credentials for the web ticket; without them the old certificate is kept.
        self.config.credentials.as_ref()?;
        let _ = StoredCertificate::delete(self.keystore.as_ref(), &user, target);
        Some(reason)
    }

    /// The certificate in the keystore for this user and the pool of the TLS-DSK challenge (`targetname`), if
    /// the registrar offers TLS-DSK and there is one.
    pub(super) fn stored_certificate(&self, challenges: &[Challenge]) -> Option<StoredCertificate> {
        let ch = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("TLS-DSK"))?;
        let target = ch.targetname.as_deref()?;
        let user = self.aor.as_sip()?.aor();
        match StoredCertificate::load(self.keystore.as_ref(), &user, target) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "keystore unreadable; TLS-DSK skipped");
                None
            }
        }
    }
}
