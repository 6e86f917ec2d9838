//! Server discovery, in the Microsoft client's order (REFERENCE.md §0–1, CLIENT-NOTES.md §2):
//! `lyncdiscoverinternal.<domain>`, then `lyncdiscover.<domain>` (autodiscover, [MS-OCDISCWS]),
//! then DNS SRV `_sipinternaltls._tcp` and `_sip._tls`, then A records `sipinternal`, `sip`,
//! `sipexternal`. Every attempt is recorded as an [`Attempt`] for the sign-in report.

pub mod autodiscover;
pub mod chain;
pub mod dns;
pub mod once;
pub mod resolver;

pub use chain::{Discovered, DiscoveryConfig, NetworkLocation, Stop, TicketCredentials, discover};
pub use resolver::{BoxFuture, DnsError, DnsResolver, SrvTarget};

use std::time::Duration;

/// How a candidate registrar was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// Given by configuration.
    Configured,
    /// Autodiscover at `lyncdiscoverinternal.<domain>`.
    LyncDiscoverInternal,
    /// Autodiscover at `lyncdiscover.<domain>`.
    LyncDiscover,
    /// DNS SRV `_sipinternaltls._tcp.<domain>`.
    SrvInternal,
    /// DNS SRV `_sip._tls.<domain>`.
    SrvExternal,
    /// DNS A record (`sipinternal`, `sip`, `sipexternal`).
    ARecord,
    /// A registrar's 301 to the user's home pool.
    Redirect,
}

/// A registrar to try: its FQDN (what the certificate must name) and port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Candidate {
    pub fqdn: String,
    pub port: u16,
    pub source: Source,
    /// True for internal access points (`SipClientInternalAccess`, `_sipinternaltls`, `sipinternal`).
    pub internal: bool,
    /// Where the name came from, for the trust model before credentials go there ([`crate::trust`]).
    #[serde(skip)]
    pub learned: crate::trust::Learned,
}

/// How one discovery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It produced what was asked for (detail says what).
    Found { detail: String },
    /// It did not, for an expected reason (no record, 404): discovery moves on.
    NotFound { class: String, detail: String, hint: Option<String> },
    /// It failed in a way a person should look at (bad certificate, timeout, malformed answer).
    Failed { class: String, detail: String, hint: String },
    /// Not tried, and why (an earlier method already found the registrar).
    Skipped { reason: String },
}

/// One discovery attempt: what was tried, against what, how long it took, what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// `lyncdiscoverinternal (https)`, `SRV _sip._tls`, `A sipinternal`, ...
    pub step: String,
    /// The URL or DNS name.
    pub target: String,
    pub duration: Duration,
    pub outcome: AttemptOutcome,
}
