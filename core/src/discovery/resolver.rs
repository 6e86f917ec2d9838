//! The DNS resolver seam. Discovery asks a [`DnsResolver`]; production uses hickory-resolver with
//! the system's nameservers (or explicit ones), tests and the lab pool point it at a loopback zone.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, so that the resolver can be a trait object (`Arc<dyn DnsResolver>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One SRV record (RFC 2782), target without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// Why a lookup produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// NXDOMAIN: the name does not exist.
    #[error("{name} does not exist in DNS (NXDOMAIN)")]
    NoSuchName { name: String },
    /// The name exists but has no records of this type (NOERROR, empty answer).
    #[error("{name} has no {rtype} records")]
    NoRecords { name: String, rtype: &'static str },
    /// No nameserver answered in time.
    #[error("no DNS answer for {name} within {after:?}")]
    Timeout { name: String, after: Duration },
    /// Not asked: unanswered lookups used up the sign-in's time for them ([`super::once::SignInResolver`]).
    #[error("{name} was not looked up: the DNS server left earlier names unanswered ({unanswered})")]
    NameserversSilent { name: String, unanswered: String },
    /// Anything else (SERVFAIL, REFUSED, malformed answers, no nameservers configured).
    #[error("DNS lookup of {name} failed: {detail}")]
    Failed { name: String, detail: String },
}

impl DnsError {
    /// A short class for reports: `no-such-name`, `no-records`, `timeout`, `dns-error`.
    pub fn class(&self) -> &'static str {
        match self {
            DnsError::NoSuchName { .. } => "no-such-name",
            DnsError::NoRecords { .. } => "no-records",
            DnsError::Timeout { .. } | DnsError::NameserversSilent { .. } => "timeout",
            DnsError::Failed { .. } => "dns-error",
        }
    }
}

/// Resolves the record types discovery needs.
pub trait DnsResolver: Send + Sync {
    /// SRV records of `name` (e.g. `_sipinternaltls._tcp.contoso.com`), in the order received.
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvTarget>, DnsError>>;
    /// IPv4 and IPv6 addresses of `name` (CNAMEs followed).
    fn ips<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<IpAddr>, DnsError>>;
}
