//! What the lab's user directory (its Active Directory) keeps while it runs, beyond the configured users:
//! passwords changed since start ([`Directory::change_password`], for tests of a password that changes
//! under a signed-in client), and the failed logons it has counted ([`Directory::failed_logons`], Active
//! Directory's `badPwdCount`, summed over the lab's accounts), which is how a test proves that a client
//! does not lock an account out. Shared by every registrar and web service of the lab.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::LabUser;

/// The lab directory's live state (see the module docs).
#[derive(Default)]
pub struct Directory {
    failed_logons: AtomicU64,
    changed: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").field("failed_logons", &self.failed_logons()).finish_non_exhaustive()
    }
}

impl Directory {
    /// `user`'s password now: as configured, or as changed since.
    pub fn password_of(&self, user: &LabUser) -> String {
        let changed = self.changed.lock().unwrap_or_else(|p| p.into_inner());
        changed.get(&key(&user.sip_uri)).cloned().unwrap_or_else(|| user.password.clone())
    }

    /// Changes `sip_uri`'s password, as a user or an administrator would in Active Directory.
    pub fn change_password(&self, sip_uri: &str, password: &str) {
        self.changed.lock().unwrap_or_else(|p| p.into_inner()).insert(key(sip_uri), password.to_string());
    }

    /// Counts a wrong password for a known account.
    pub fn failed_logon(&self, account: &str) {
        let n = self.failed_logons.fetch_add(1, Ordering::SeqCst) + 1;
        tracing::info!(%account, failed_logons = n, "lab directory: failed logon");
    }

    /// Wrong passwords for known accounts so far.
    pub fn failed_logons(&self) -> u64 {
        self.failed_logons.load(Ordering::SeqCst)
    }
}

fn key(sip_uri: &str) -> String {
    sip_uri.strip_prefix("sip:").unwrap_or(sip_uri).to_ascii_lowercase()
}
