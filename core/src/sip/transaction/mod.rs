//! SIP transactions over a reliable transport (RFC 3261 §17), sans-I/O.
//!
//! A transaction is one request and the responses to it. Over TLS/TCP, which is all Skype for Business
//! speaks, the transport never loses or reorders bytes, so the machines here never retransmit: what is left
//! of RFC 3261 §17 is matching responses to requests, giving up when no final response comes (Timer F) and
//! answering a repeated request with the stored response instead of bothering the TU twice.
//!
//! The machines own no socket and read no clock, in the quinn-proto style: the caller feeds them messages
//! and the current [`Instant`](std::time::Instant), sends the bytes they return, calls `handle_timeout` when
//! `poll_timeout` says so, and acts on the [`TransactionEvent`]s they report.
//!
//! - [`ClientTransaction`] / [`ClientTransactions`]: requests we send (REGISTER, SUBSCRIBE, SERVICE, ...),
//!   non-INVITE only (§17.1.2). The table routes each incoming response by [`TransactionKey`] and reports
//!   strays as [`ResponseRoute::Unmatched`].
//! - [`ServerTransaction`] / [`ServerTransactions`]: requests we receive (NOTIFY, OPTIONS, ...). BENOTIFY
//!   ([MS-SIP] 4.4, a NOTIFY that is never answered) gets no transaction: [`RequestRoute::NoResponse`].
//! - [`RequestFactory`]: builds the out-of-dialog requests of one Call-ID with the headers every request
//!   needs (Via with a fresh branch, From with tag and epid, To, Call-ID, CSeq, Max-Forwards).
//!
//! Words used here (RFC 3261 §17): **TU** (transaction user, the layer above, e.g. registration);
//! **branch** (the Via parameter that names a transaction; `z9hG4bK` marks one that is unique);
//! **sent-by** (the host:port in the top Via, where responses go); **T1** (the RTT estimate, 500 ms).

use std::time::Duration;

use super::{Method, ParseError};

mod client;
mod factory;
mod key;
mod server;

pub use client::{ClientState, ClientTransaction, ClientTransactions, ResponseRoute, TransactionEvent, Unmatched};
pub use factory::{MAX_FORWARDS, RequestFactory};
pub use key::{ServerKey, TransactionKey};
pub use server::{RequestRoute, ServerState, ServerTransaction, ServerTransactions};

/// The timer values a transaction uses (RFC 3261 §17.1.2.2, §17.2.2, Table 4).
///
/// Only the ones that mean something without retransmissions are here. They are configurable because tests
/// and deployments behind slow links may want other values; the defaults are the RFC's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// T1, the round-trip estimate: Timer F (give up on a client transaction) is 64×T1.
    pub t1: Duration,
    /// Timer K: how long a completed client transaction absorbs repeated final responses. Zero on a
    /// reliable transport (§17.1.2.2), so the transaction ends as soon as the final response arrives.
    pub timer_k: Duration,
    /// Timer J: how long a completed server transaction keeps its final response to answer a repeated
    /// request. The RFC allows zero on a reliable transport; the default keeps 64×T1 anyway, because an
    /// element that does repeat a request (a gateway relaying a UDP leg, a buggy peer) should get the same
    /// answer rather than have the TU act twice, and the cost is one stored response per recent request.
    pub timer_j: Duration,
}

impl Timers {
    /// The RFC 3261 default round-trip estimate.
    pub const DEFAULT_T1: Duration = Duration::from_millis(500);

    /// Timer F: 64×T1, 32 s with the default T1.
    pub fn timer_f(&self) -> Duration {
        self.t1 * 64
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers { t1: Timers::DEFAULT_T1, timer_k: Duration::ZERO, timer_j: Timers::DEFAULT_T1 * 64 }
    }
}

/// Why a message could not start, join or be sent on a transaction.
///
/// Every variant is a mistake of the TU or of the peer that the caller can name in a log line; none of
/// them leaves a transaction in a half-updated state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// A transaction was started with a response, or a response was expected and a request given.
    #[error("expected a SIP {expected}, got a {got}")]
    WrongKind {
        /// "request" or "response".
        expected: &'static str,
        /// The other one.
        got: &'static str,
    },
    /// The top Via has no `branch` parameter, so nothing can name the transaction.
    #[error("the top Via has no branch parameter; build requests with RequestFactory, which adds one")]
    MissingBranch,
    /// A header the transaction layer needs (Via, CSeq) is absent or malformed.
    #[error("cannot identify the transaction: {0}")]
    Header(#[from] ParseError),
    /// INVITE and ACK follow other rules (§17.1.1, §17.2.1) that this module does not implement.
    #[error("{method} needs an INVITE transaction, which sfbkit does not implement (non-INVITE only)")]
    InviteNotSupported {
        /// The method refused.
        method: Method,
    },
    /// A client transaction with the same branch and method is already running.
    #[error("a transaction with branch {branch} and method {method} is already running")]
    DuplicateKey {
        /// The branch both requests carry.
        branch: String,
        /// The method both requests carry.
        method: Method,
    },
    /// BENOTIFY is never answered ([MS-SIP] 4.4), so it gets no server transaction.
    #[error("{method} is never answered ([MS-SIP] 4.4), so it has no server transaction")]
    NeverAnswered {
        /// The method refused (BENOTIFY).
        method: Method,
    },
    /// No server transaction has this key (it ended, or was never created).
    #[error("no server transaction with branch {branch} and method {method}")]
    UnknownTransaction {
        /// The branch looked up.
        branch: String,
        /// The method looked up.
        method: Method,
    },
    /// The TU tried to answer after the final response was sent; a request gets exactly one.
    #[error("the request was already answered with a final response ({status})")]
    AlreadyAnswered {
        /// The final status already sent.
        status: u16,
    },
    /// The response's top Via branch or CSeq method is not the request's, so the peer could not match it.
    #[error(
        "the response does not belong to this request (Via branch or CSeq method differs); build it with Message::response_to"
    )]
    ResponseMismatch,
}
