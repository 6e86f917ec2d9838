//! Keeping the TLS-DSK certificate fresh during a session (issue 9's fault matrix: a certificate that
//! expires while the user is signed in). The established security association does not depend on the
//! certificate, so nothing on the SIP connection changes: at the certificate's renewal time (half its
//! lifetime, [`crate::keystore::StoredCertificate::renewal_at`]) a new one is provisioned in the background,
//! the way a sign-in would, and stored in place of the old one; the next sign-in (a reconnect, a restart)
//! uses it. A failure is retried while the old certificate is still good; a refused password ends the
//! renewals (account safety: [`crate::auth::lockout`]).

use std::sync::Arc;

use super::*;
use crate::events::{Event, EventHub};

/// The wait before a failed renewal is tried again (never past the old certificate's expiry).
const RETRY: Duration = Duration::from_secs(60);

impl Inner {
    /// Runs for as long as the signed-in endpoint does (the driver aborts it).
    pub(crate) async fn keep_certificate_fresh(self: Arc<Self>, events: Arc<EventHub>) {
        let mut not_before = SystemTime::UNIX_EPOCH;
        loop {
            let Some((challenge, registrar)) = self.tls_dsk.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
                return;
            };
            let (Some(target), Some(user)) = (challenge.targetname.clone(), self.aor.as_sip().map(|s| s.aor())) else {
                return;
            };
            let Ok(Some(cert)) = StoredCertificate::load(self.keystore.as_ref(), &user, &target) else { return };
            let (Some(due), Some((_, expires))) = (cert.renewal_at(), cert.validity()) else { return };
            let due = due.max(not_before);
            if let Ok(wait) = due.duration_since(SystemTime::now()) {
                tokio::time::sleep(wait).await;
            }
            // Boxed: the renewal is a whole certificate provisioning, and the task waits months without one.
            let renewed = Box::pin(self.renew_once(&challenge, &registrar)).await;
            // Its HTTP connections are not kept for the rest of the session.
            *self.http.lock().unwrap_or_else(|p| p.into_inner()) = None;
            match renewed {
                Ok(()) => {
                    let expires_unix = StoredCertificate::load(self.keystore.as_ref(), &user, &target)
                        .ok()
                        .flatten()
                        .and_then(|c| c.validity())
                        .and_then(|(_, after)| after.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_secs());
                    tracing::info!(pool = %target, expires_unix, "TLS-DSK certificate renewed during the session");
                    events.send(Event::CertificateRenewed { pool: target, expires_unix });
                }
                Err(failure) => {
                    tracing::warn!(class = %failure.class, error = %failure.error, "certificate renewal failed");
                    // Retrying cannot help (and must not: account safety) after these.
                    let stop = refused_credentials_class(&failure.class)
                        || matches!(failure.class.as_str(), "credentials-withheld" | "untrusted-server");
                    events.send(Event::CertificateRenewalFailed { class: failure.class, error: failure.error });
                    let retry = SystemTime::now() + RETRY;
                    if stop || retry >= expires {
                        return;
                    }
                    not_before = retry;
                }
            }
        }
    }

    /// One renewal: the account-safety check, provisioning with `challenge` from `registrar`, and the
    /// refusal recorded if the password was refused.
    async fn renew_once(&self, challenge: &Challenge, registrar: &str) -> Result<(), Failure> {
        let Some((account, password)) = &self.config.credentials else {
            return Err(Failure {
                error: "no credentials to get a web ticket with".into(),
                class: "authentication-required".into(),
                diagnosis: None,
                hint: "configure the user's credentials so the certificate can be renewed".into(),
            });
        };
        let ledger = self.config.shared.refusals();
        if let Err(w) = ledger.check(account, &password.0, &self.config.lockout, Instant::now()) {
            return Err(Failure { error: w.to_string(), class: w.class().into(), diagnosis: None, hint: w.hint() });
        }
        let mut scratch = SignInReport::new(self.aor.as_str(), &self.domain);
        let provisioned =
            self.provision_certificate(&mut scratch, std::slice::from_ref(challenge), registrar, None).await;
        let failure = || {
            let step = scratch.stages.iter().rfind(|s| s.outcome == Outcome::Failure);
            Failure {
                error: step.map(|s| s.detail.clone()).unwrap_or_else(|| "certificate provisioning failed".into()),
                class: step
                    .and_then(|s| s.error_class.clone())
                    .unwrap_or_else(|| "certificate-provisioning-failed".into()),
                diagnosis: None,
                hint: step.and_then(|s| s.hint.clone()).unwrap_or_default(),
            }
        };
        match provisioned {
            Ok(()) => Ok(()),
            Err(_) => {
                let f = failure();
                if refused_credentials_class(&f.class) {
                    ledger.record(account, &password.0, Instant::now());
                }
                Err(f)
            }
        }
    }
}
