//! Account safety: every refused password is a failed logon that Active Directory counts towards locking
//! the account (`badPwdCount` against the domain's "Account lockout threshold"), and a locked account
//! stops the user everywhere, not just here. So sfbkit
//!
//! - ends a sign-in at the first refusal (discovery's web ticket, certificate provisioning and SIP NTLM all
//!   present the same password: sending it again would only add failed logons);
//! - remembers refusals per account in a [`RefusalLedger`] shared by every client of a process (the
//!   directory counts per account, whichever client sent the password), and before credentials go out
//!   checks them against a [`LockoutPolicy`]: a password that was refused is sent again only after a delay
//!   that doubles with each refusal, and after [`LockoutPolicy::max_refusals`] refusals in
//!   [`LockoutPolicy::window`] no password for that account is sent at all until the window has passed;
//! - never lets the reconnect loop replay refused credentials (it stops on a refusal, and any later sign-in
//!   goes through the same check).
//!
//! Defaults, and why (README "Account safety"): common lockout policies lock after 5 (CIS benchmark) to 10
//! (Microsoft's security baseline since Windows 10 1903; PCI DSS 4.0) bad passwords, counted over a reset
//! window of 15 minutes (Microsoft's baseline) or more. sfbkit allows at most **3** refusals per account per
//! **30 minutes**: below the strictest common threshold with room to spare for the user's own devices, over
//! a window at least twice the common reset time. The same password is retried no sooner than **1 minute**
//! after its first refusal, 2 minutes after its second.
//!
//! Passwords are never stored: the ledger keeps an HMAC-SHA256 of account and password under a key made at
//! random for the process, enough to recognise a password it has seen refused and useless to anyone else.
//! Sans-I/O: the time is passed in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// How many refusals an account may collect, and how retries are spaced (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Refusals per account within `window` after which no password is sent (default 3).
    pub max_refusals: u32,
    /// The counting window (default 30 minutes).
    pub window: Duration,
    /// The wait before a refused password is sent again, doubled for each further refusal of it
    /// (default 1 minute).
    pub retry_delay: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy { max_refusals: 3, window: Duration::from_secs(30 * 60), retry_delay: Duration::from_secs(60) }
    }
}

/// Why credentials were not sent. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Withheld {
    /// This very password was refused a short while ago.
    #[error(
        "the password for {account} was refused {} ago; it is not sent again for another {}",
        minutes(*refused_ago),
        minutes(*wait)
    )]
    SamePasswordTooSoon { account: String, refused_ago: Duration, wait: Duration },
    /// The account has collected as many refusals as the policy allows.
    #[error(
        "{refusals} passwords for {account} were refused in the last {}; no password is sent for it for another {}",
        minutes(*window),
        minutes(*wait)
    )]
    ThresholdReached { account: String, refusals: u32, window: Duration, wait: Duration },
}

impl Withheld {
    /// The report class: `credentials-withheld`.
    pub fn class(&self) -> &'static str {
        "credentials-withheld"
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        "sfbkit stops sending a refused password so that it cannot lock the account in Active Directory: \
         check the account name and password (has it changed or expired?), then sign in with the right one; \
         the limits are ClientBuilder::lockout_policy"
            .to_string()
    }
}

fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Refused credentials per account (see the module docs). The fingerprint key is wiped on drop; `Debug`
/// shows how many accounts have refusals, nothing else.
pub struct RefusalLedger {
    key: Zeroizing<[u8; 32]>,
    accounts: Mutex<HashMap<String, Vec<Refusal>>>,
}

#[derive(Clone, Copy)]
struct Refusal {
    at: Instant,
    /// HMAC-SHA256 of the account and password under the ledger's key (never printed).
    password: [u8; 32],
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal").field("at", &self.at).finish_non_exhaustive()
    }
}

impl Default for RefusalLedger {
    fn default() -> Self {
        RefusalLedger { key: Zeroizing::new(rand::random()), accounts: Mutex::new(HashMap::new()) }
    }
}

impl std::fmt::Debug for RefusalLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let accounts = self.lock().len();
        f.debug_struct("RefusalLedger").field("accounts", &accounts).finish_non_exhaustive()
    }
}

impl RefusalLedger {
    /// Whether `password` may be sent for `account` now.
    pub fn check(&self, account: &str, password: &str, policy: &LockoutPolicy, now: Instant) -> Result<(), Withheld> {
        let fingerprint = self.fingerprint(account, password);
        let mut accounts = self.lock();
        let Some(refusals) = accounts.get_mut(&key(account)) else { return Ok(()) };
        refusals.retain(|r| now.saturating_duration_since(r.at) < policy.window);
        if let Some(oldest) = refusals.first()
            && refusals.len() >= policy.max_refusals.max(1) as usize
        {
            let wait = (oldest.at + policy.window).saturating_duration_since(now);
            let refusals = refusals.len() as u32;
            return Err(Withheld::ThresholdReached {
                account: account.to_string(),
                refusals,
                window: policy.window,
                wait,
            });
        }
        let same: Vec<&Refusal> = refusals.iter().filter(|r| r.password == fingerprint).collect();
        if let Some(last) = same.last() {
            let doublings = (same.len() as u32).saturating_sub(1).min(16);
            let delay = policy.retry_delay.saturating_mul(1 << doublings);
            let refused_ago = now.saturating_duration_since(last.at);
            if refused_ago < delay {
                let wait = delay - refused_ago;
                return Err(Withheld::SamePasswordTooSoon { account: account.to_string(), refused_ago, wait });
            }
        }
        Ok(())
    }

    /// Records that `account`'s `password` was refused at `now`.
    pub fn record(&self, account: &str, password: &str, now: Instant) {
        let password = self.fingerprint(account, password);
        let mut accounts = self.lock();
        let refusals = accounts.entry(key(account)).or_default();
        refusals.push(Refusal { at: now, password });
        // Bounded: only the most recent refusals can matter to a policy.
        if refusals.len() > 64 {
            refusals.remove(0);
        }
        tracing::warn!(account, refusals = refusals.len(), "credentials refused; recorded for account safety");
    }

    /// Forgets `account`'s refusals (an administrator unlocked it, or the password was reset).
    pub fn forget(&self, account: &str) {
        self.lock().remove(&key(account));
    }

    /// How many refusals are on record for `account` (within no window).
    pub fn refusals(&self, account: &str) -> usize {
        self.lock().get(&key(account)).map_or(0, Vec::len)
    }

    fn fingerprint(&self, account: &str, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..]).expect("HMAC takes any key length");
        mac.update(key(account).as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Refusal>>> {
        self.accounts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Accounts compare case-insensitively, as Windows compares them.
fn key(account: &str) -> String {
    account.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_refused_password_waits_longer_each_time_and_a_new_one_goes_at_once() {
        let (ledger, policy, t0) = (RefusalLedger::default(), LockoutPolicy::default(), Instant::now());
        assert_eq!(ledger.check("CONTOSO\\alice", "old", &policy, t0), Ok(()));
        ledger.record("CONTOSO\\alice", "old", t0);
        let err = ledger.check("contoso\\ALICE", "old", &policy, t0 + Duration::from_secs(10)).unwrap_err();
        assert!(
            matches!(err, Withheld::SamePasswordTooSoon { wait, .. } if wait == Duration::from_secs(50)),
            "{err:?}"
        );
        assert_eq!(err.class(), "credentials-withheld");
        assert!(err.to_string().contains("10 s ago") && err.to_string().contains("50 s"), "{err}");
        // A different password is the user's correction: it goes now.
        assert_eq!(ledger.check("CONTOSO\\alice", "new", &policy, t0 + Duration::from_secs(10)), Ok(()));
        // The old one after a minute; refused again, it waits two.
        assert_eq!(ledger.check("CONTOSO\\alice", "old", &policy, t0 + MIN), Ok(()));
        ledger.record("CONTOSO\\alice", "old", t0 + MIN);
        assert!(ledger.check("CONTOSO\\alice", "old", &policy, t0 + MIN * 2).is_err());
        assert_eq!(ledger.check("CONTOSO\\alice", "old", &policy, t0 + MIN * 3), Ok(()));
        // Other accounts are not affected.
        assert_eq!(ledger.check("CONTOSO\\bob", "old", &policy, t0), Ok(()));
    }

    #[test]
    fn the_threshold_stops_every_password_until_the_window_passes() {
        let (ledger, policy, t0) = (RefusalLedger::default(), LockoutPolicy::default(), Instant::now());
        for (i, password) in ["a", "b", "c"].iter().enumerate() {
            let now = t0 + MIN * i as u32;
            assert_eq!(ledger.check("alice@contoso.com", password, &policy, now), Ok(()));
            ledger.record("alice@contoso.com", password, now);
        }
        let err = ledger.check("alice@contoso.com", "d", &policy, t0 + MIN * 3).unwrap_err();
        assert!(matches!(&err, Withheld::ThresholdReached { refusals: 3, wait, .. } if *wait == MIN * 27), "{err:?}");
        assert!(err.to_string().contains("30 min") && err.to_string().contains("27 min"), "{err}");
        // The first refusal leaves the window after 30 minutes: one more try is allowed.
        assert_eq!(ledger.check("alice@contoso.com", "d", &policy, t0 + MIN * 30), Ok(()));
        ledger.forget("alice@contoso.com");
        assert_eq!(ledger.refusals("alice@contoso.com"), 0);
    }

    #[test]
    fn the_ledger_holds_no_password_and_stays_bounded() {
        let ledger = RefusalLedger::default();
        let t0 = Instant::now();
        for i in 0..100 {
            ledger.record("alice", "Very-Secret-1", t0 + Duration::from_millis(i));
        }
        assert_eq!(ledger.refusals("alice"), 64);
        assert!(!format!("{ledger:?}").contains("Very-Secret-1"));
        // Two ledgers fingerprint differently: nothing to compare across processes.
        assert_ne!(ledger.fingerprint("alice", "x"), RefusalLedger::default().fingerprint("alice", "x"));
    }

    /// Neither the ledger's key nor a refused password's fingerprint is printed, even by the refusals' own
    /// `Debug`.
    #[test]
    fn the_key_and_the_fingerprints_stay_out_of_debug() {
        use crate::auth::secret_tests::assert_redacted;
        let ledger = RefusalLedger::default();
        ledger.record("alice", "Very-Secret-1", Instant::now());
        let refusals = format!("{:?}", *ledger.lock());
        let debug = format!("{ledger:?} {refusals}");
        assert!(debug.contains("Refusal"), "{debug}");
        assert_redacted(&debug, &ledger.fingerprint("alice", "Very-Secret-1"));
        assert_redacted(&debug, &ledger.key[..]);
        assert_redacted(&debug, b"Very-Secret-1");
    }
}
