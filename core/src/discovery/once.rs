//! DNS for one sign-in at a time, with bounded time (issue 9: a silent nameserver once cost 54 s).
//!
//! - **Each name is asked once per sign-in.** Its answer, or its failure, serves the rest of the sign-in:
//!   autodiscover over https and then http, the HTTP client and the connectivity checks all ask for the
//!   same names, and asking a silent server again only costs another timeout. [`SignInResolver::begin`]
//!   forgets everything when the next sign-in (or reconnect) starts.
//! - **Each lookup ends within a limit** ([`SignInResolver::new`]'s `lookup_limit`), whatever the system's
//!   resolver options say (`/etc/resolv.conf` may allow 5 s × 2 attempts).
//! - **A silent nameserver is noticed.** After [`SILENT_AFTER`] lookups in a row got no answer at all, the
//!   rest of the sign-in's names fail at once with [`DnsError::NameserversSilent`], which names the names
//!   that went unanswered. Any answer (NXDOMAIN included) shows the server is there and resets the count.
//!
//! With the defaults (6 s per lookup, silent after 2) discovery against a silent server ends within 12 s.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::resolver::{BoxFuture, DnsError, DnsResolver, SrvTarget};

/// Lookups in a row without any answer after which the nameservers are taken to be silent.
pub const SILENT_AFTER: usize = 2;
/// The default limit of one lookup.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(6);

/// See the module docs.
pub struct SignInResolver {
    inner: Arc<dyn DnsResolver>,
    lookup_limit: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    srv: HashMap<String, Result<Vec<SrvTarget>, DnsError>>,
    ips: HashMap<String, Result<Vec<IpAddr>, DnsError>>,
    /// Names that got no answer since the last answer.
    unanswered: Vec<String>,
}

impl SignInResolver {
    /// Wraps `inner`; every lookup ends within `lookup_limit`.
    pub fn new(inner: Arc<dyn DnsResolver>, lookup_limit: Duration) -> SignInResolver {
        SignInResolver { inner, lookup_limit, state: Mutex::new(State::default()) }
    }

    /// A new sign-in starts: forget every answer and failure (hickory's cache still holds answers for
    /// their TTL).
    pub fn begin(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The names left unanswered in a row, when there are enough of them to stop asking.
    fn silent(&self) -> Option<String> {
        let state = self.lock();
        (state.unanswered.len() >= SILENT_AFTER).then(|| state.unanswered.join(", "))
    }

    /// Runs one lookup within the limit and notes whether the nameservers answered.
    async fn ask<T>(&self, name: &str, lookup: BoxFuture<'_, Result<T, DnsError>>) -> Result<T, DnsError> {
        let result = match tokio::time::timeout(self.lookup_limit, lookup).await {
            Ok(r) => r,
            Err(_) => Err(DnsError::Timeout { name: name.to_string(), after: self.lookup_limit }),
        };
        let mut state = self.lock();
        match &result {
            Err(DnsError::Timeout { .. }) => state.unanswered.push(name.to_string()),
            _ => state.unanswered.clear(),
        }
        result
    }
}

/// The normalised key of a name: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsResolver for SignInResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        Box::pin(async move {
            if let Some(known) = self.lock().srv.get(&key(name)) {
                return known.clone();
            }
            if let Some(unanswered) = self.silent() {
                return Err(DnsError::NameserversSilent { name: name.to_string(), unanswered });
            }
            let result = self.ask(name, self.inner.srv(name)).await;
            self.lock().srv.insert(key(name), result.clone());
            result
        })
    }

    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(async move {
            if let Some(known) = self.lock().ips.get(&key(name)) {
                return known.clone();
            }
            if let Some(unanswered) = self.silent() {
                return Err(DnsError::NameserversSilent { name: name.to_string(), unanswered });
            }
            let result = self.ask(name, self.inner.ips(name)).await;
            self.lock().ips.insert(key(name), result.clone());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dns::StaticResolver;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A nameserver that never answers, counting the lookups it is given.
    #[derive(Default)]
    struct Silent(AtomicUsize);

    impl DnsResolver for Silent {
        fn srv<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        }
        fn ips<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_nameserver_costs_two_lookups_then_nothing() {
        let silent = Arc::new(Silent::default());
        let dns = SignInResolver::new(silent.clone(), LOOKUP_LIMIT);
        let started = tokio::time::Instant::now();
        let first = dns.ips("lyncdiscoverinternal.contoso.com").await.unwrap_err();
        assert_eq!(first, DnsError::Timeout { name: "lyncdiscoverinternal.contoso.com".into(), after: LOOKUP_LIMIT });
        // The same name again (autodiscover over http): the same failure, at once.
        assert_eq!(dns.ips("LyncDiscoverInternal.contoso.com.").await.unwrap_err().class(), "timeout");
        assert_eq!(dns.ips("lyncdiscover.contoso.com").await.unwrap_err().class(), "timeout");
        let rest = dns.srv("_sipinternaltls._tcp.contoso.com").await.unwrap_err();
        assert_eq!(rest.class(), "timeout");
        assert!(
            rest.to_string().contains("lyncdiscoverinternal.contoso.com, lyncdiscover.contoso.com"),
            "names what went unanswered: {rest}"
        );
        assert_eq!(silent.0.load(Ordering::SeqCst), 2);
        assert_eq!(started.elapsed(), LOOKUP_LIMIT * 2);
        // The next sign-in asks again.
        dns.begin();
        assert_eq!(dns.srv("_sip._tls.contoso.com").await.unwrap_err().class(), "timeout");
        assert_eq!(silent.0.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn answers_are_kept_for_the_sign_in_and_an_answer_resets_the_silence_count() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let table = Arc::new(
            StaticResolver::new()
                .with_ips("sip.contoso.com", vec![ip])
                .with_ips_error("slow.contoso.com", DnsError::Timeout { name: "slow".into(), after: LOOKUP_LIMIT }),
        );
        let dns = SignInResolver::new(table.clone(), LOOKUP_LIMIT);
        assert!(dns.ips("slow.contoso.com").await.is_err());
        assert_eq!(dns.ips("nosuch.contoso.com").await.unwrap_err().class(), "no-such-name");
        assert!(dns.ips("slow.contoso.com").await.is_err());
        // One timeout since the last answer: still asking.
        assert_eq!(dns.ips("sip.contoso.com").await, Ok(vec![ip]));
        assert_eq!(dns.ips("sip.contoso.com").await, Ok(vec![ip]));
        assert_eq!(table.asked(), ["IP slow.contoso.com", "IP nosuch.contoso.com", "IP sip.contoso.com"]);
    }
}
