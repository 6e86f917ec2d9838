//! DNS for one sign-in at a time, with bounded time (issue 9: a silent nameserver once cost 54 s).
//!
//! - **Each name is asked once per sign-in.** Its answer, or its failure, serves the rest of the sign-in:
//!   autodiscover over https and then http, the HTTP client and the connectivity checks all ask for the
//!   same names, and asking a silent server again only costs another timeout. [`SignInResolver::begin`]
//!   forgets everything when the next sign-in (or reconnect) starts.
//! - **Each lookup ends within a limit** ([`SignInResolver::new`]'s `lookup_limit`, 6 s by default), whatever
//!   the system's resolver options say (`/etc/resolv.conf` may allow 5 s × 2 attempts).
//! - **Unanswered lookups share one budget** ([`TIMEOUT_BUDGET`], 13 s): time spent waiting on lookups that
//!   got no answer at all adds up, each lookup is cut to what is left, and once it is spent the remaining
//!   names fail at once with [`DnsError::NameserversSilent`], naming those that went unanswered. A silent
//!   nameserver so ends discovery within 13 s, while a server that is slow or silent only for some names
//!   (lyncdiscover behind a broken forwarder) still gets to answer the SRV and A lookups after them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::resolver::{BoxFuture, DnsError, DnsResolver, SrvTarget};

/// The default limit of one lookup.
pub const LOOKUP_LIMIT: Duration = Duration::from_secs(6);
/// The time one sign-in may spend waiting on lookups that get no answer.
pub const TIMEOUT_BUDGET: Duration = Duration::from_secs(13);

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
    /// Names that got no answer.
    unanswered: Vec<String>,
    /// Time spent waiting on them.
    waited: Duration,
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

    /// Answers `name` with `ips` for the rest of this sign-in, without asking (the sign-in cache's addresses of
    /// the registrar it keeps).
    pub fn seed_ips(&self, name: &str, ips: Vec<IpAddr>) {
        self.lock().ips.insert(key(name), Ok(ips));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long the next lookup may take: the limit, or what is left of the budget; `Err` with the names
    /// that spent it when nothing is left.
    fn allowance(&self) -> Result<Duration, String> {
        let state = self.lock();
        match TIMEOUT_BUDGET.checked_sub(state.waited) {
            Some(left) if !left.is_zero() => Ok(left.min(self.lookup_limit)),
            _ => Err(format!("{} waited {} s in all", state.unanswered.join(", "), state.waited.as_secs())),
        }
    }

    /// Runs one lookup within its allowance and notes the time lost when nothing answered.
    async fn ask<'a, T>(
        &self,
        name: &str,
        lookup: impl FnOnce() -> BoxFuture<'a, Result<T, DnsError>>,
    ) -> Result<T, DnsError> {
        let allowed = match self.allowance() {
            Ok(d) => d,
            Err(unanswered) => return Err(DnsError::NameserversSilent { name: name.to_string(), unanswered }),
        };
        let started = tokio::time::Instant::now();
        let result = match tokio::time::timeout(allowed, lookup()).await {
            Ok(r) => r,
            Err(_) => Err(DnsError::Timeout { name: name.to_string(), after: allowed }),
        };
        if let Err(DnsError::Timeout { .. }) = &result {
            let mut state = self.lock();
            state.unanswered.push(name.to_string());
            state.waited += started.elapsed();
        }
        result
    }
}

/// The normalised key of a name: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// One of the two answer tables of [`State`].
type Table<T> = fn(&mut State) -> &mut HashMap<String, Result<T, DnsError>>;

impl SignInResolver {
    /// The answer to `name` from `table` when this sign-in asked already, else `lookup`'s, kept there.
    async fn once<'a, T: Clone>(
        &self,
        name: &str,
        table: Table<T>,
        lookup: impl FnOnce() -> BoxFuture<'a, Result<T, DnsError>>,
    ) -> Result<T, DnsError> {
        if let Some(known) = table(&mut self.lock()).get(&key(name)) {
            return known.clone();
        }
        let result = self.ask(name, lookup).await;
        table(&mut self.lock()).insert(key(name), result.clone());
        result
    }
}

impl DnsResolver for SignInResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
        Box::pin(self.once(name, |s| &mut s.srv, || self.inner.srv(name)))
    }

    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
        Box::pin(self.once(name, |s| &mut s.ips, || self.inner.ips(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::dns::StaticResolver;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A nameserver that answers only the names it knows and is silent for the rest, counting the lookups
    /// it actually works on.
    #[derive(Default)]
    struct Selective {
        known: Vec<&'static str>,
        asked: AtomicUsize,
    }

    impl DnsResolver for Selective {
        fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>> {
            Box::pin(async move {
                self.asked.fetch_add(1, Ordering::SeqCst);
                if self.known.contains(&name) {
                    let target = SrvTarget { priority: 0, weight: 0, port: 5061, target: "pool.contoso.com".into() };
                    return Ok(vec![target]);
                }
                std::future::pending().await
            })
        }
        fn ips<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>> {
            Box::pin(async move {
                self.asked.fetch_add(1, Ordering::SeqCst);
                std::future::pending().await
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_nameserver_costs_at_most_the_budget() {
        let silent = Arc::new(Selective::default());
        let dns = SignInResolver::new(silent.clone(), LOOKUP_LIMIT);
        let started = tokio::time::Instant::now();
        let first = dns.ips("lyncdiscoverinternal.contoso.com").await.unwrap_err();
        assert_eq!(first, DnsError::Timeout { name: "lyncdiscoverinternal.contoso.com".into(), after: LOOKUP_LIMIT });
        // The same name again (autodiscover over http): the same failure, at once.
        assert_eq!(dns.ips("LyncDiscoverInternal.contoso.com.").await.unwrap_err().class(), "timeout");
        assert_eq!(dns.ips("lyncdiscover.contoso.com").await.unwrap_err().class(), "timeout");
        // What is left of the budget (1 s), then nothing.
        let third = dns.srv("_sipinternaltls._tcp.contoso.com").await.unwrap_err();
        assert_eq!(
            third,
            DnsError::Timeout { name: "_sipinternaltls._tcp.contoso.com".into(), after: Duration::from_secs(1) }
        );
        let rest = dns.srv("_sip._tls.contoso.com").await.unwrap_err();
        assert_eq!(rest.class(), "timeout");
        let text = rest.to_string();
        assert!(
            text.contains("lyncdiscoverinternal.contoso.com, lyncdiscover.contoso.com") && text.contains("13 s"),
            "{text}"
        );
        assert_eq!(silent.asked.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), TIMEOUT_BUDGET);
        // The next sign-in asks again.
        dns.begin();
        assert_eq!(dns.srv("_sip._tls.contoso.com").await.unwrap_err().class(), "timeout");
        assert_eq!(silent.asked.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_silent_for_some_names_still_answers_the_others() {
        let srv = "_sipinternaltls._tcp.contoso.com";
        let dns = SignInResolver::new(Arc::new(Selective { known: vec![srv], ..Selective::default() }), LOOKUP_LIMIT);
        assert!(dns.ips("lyncdiscoverinternal.contoso.com").await.is_err());
        assert!(dns.ips("lyncdiscover.contoso.com").await.is_err());
        assert_eq!(dns.srv(srv).await.unwrap()[0].target, "pool.contoso.com");
    }

    #[tokio::test]
    async fn answers_and_failures_are_kept_for_the_sign_in() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let table = Arc::new(StaticResolver::new().with_ips("sip.contoso.com", vec![ip]));
        let dns = SignInResolver::new(table.clone(), LOOKUP_LIMIT);
        assert_eq!(dns.ips("nosuch.contoso.com").await.unwrap_err().class(), "no-such-name");
        assert_eq!(dns.ips("NoSuch.contoso.com").await.unwrap_err().class(), "no-such-name");
        assert_eq!(dns.ips("sip.contoso.com").await, Ok(vec![ip]));
        assert_eq!(dns.ips("sip.contoso.com.").await, Ok(vec![ip]));
        assert_eq!(table.asked(), ["IP nosuch.contoso.com", "IP sip.contoso.com"]);
    }
}
