//! Non-INVITE client transactions (RFC 3261 §17.1.2) over a reliable transport, and the table that routes
//! responses to them (§17.1.3).
//!
//! ```text
//!            start: send request, arm Timer F (64×T1)
//!   Trying ──1xx──▶ Proceeding ──1xx──▶ Proceeding
//!     │                  │
//!     ├── 200-699 ───────┴──▶ Completed ──Timer K (0 on TLS)──▶ Terminated
//!     └── Timer F (no final response in time) ────────────────▶ Terminated, TimedOut
//! ```
//!
//! Timers E (request retransmission) and the retransmission half of K exist only for unreliable transports,
//! so they are not here: the request is sent exactly once, by whoever drains [`ClientTransaction::poll_transmit`].

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::{Timers, TransactionError, TransactionKey};
use crate::sip::{Message, Method};

/// Where a client transaction is in RFC 3261 Figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Request sent, nothing heard yet.
    Trying,
    /// A provisional (1xx) response arrived; still waiting for the final one.
    Proceeding,
    /// The final response arrived; repeated final responses are absorbed until Timer K (zero over TLS).
    Completed,
    /// Done: answered or timed out. The transaction can be dropped.
    Terminated,
}

/// What a client transaction tells its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A 1xx response. Informational only: the TU keeps waiting for the final response.
    Provisional(Message),
    /// The one final (200–699) response. Repeats of it are absorbed and never reported.
    Final(Message),
    /// Timer F fired before any final response: treat it as a 408 Request Timeout (§8.1.3.1).
    TimedOut,
}

/// One non-INVITE request we sent and what came back for it.
#[derive(Debug, Clone)]
pub struct ClientTransaction {
    key: TransactionKey,
    request: Message,
    state: ClientState,
    timers: Timers,
    /// Timer F while Trying/Proceeding, Timer K while Completed, none once Terminated.
    deadline: Option<Instant>,
    /// True until the request has been handed out by `poll_transmit`.
    unsent: bool,
}

impl ClientTransaction {
    /// Starts a transaction for `request` at `now` with the RFC default timers.
    ///
    /// The request must carry a top Via with a branch (build it with [`super::RequestFactory`]); INVITE and
    /// ACK are refused because their transactions follow different rules.
    pub fn new(request: Message, now: Instant) -> Result<ClientTransaction, TransactionError> {
        ClientTransaction::with_timers(request, now, Timers::default())
    }

    /// Like [`ClientTransaction::new`] with explicit timer values.
    pub fn with_timers(request: Message, now: Instant, timers: Timers) -> Result<ClientTransaction, TransactionError> {
        let key = TransactionKey::from_request(&request)?;
        if matches!(key.method, Method::Invite | Method::Ack) {
            return Err(TransactionError::InviteNotSupported { method: key.method });
        }
        Ok(ClientTransaction {
            key,
            request,
            state: ClientState::Trying,
            timers,
            deadline: Some(now + timers.timer_f()),
            unsent: true,
        })
    }

    /// The request's bytes, once: over a reliable transport nothing is ever retransmitted.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if !std::mem::take(&mut self.unsent) {
            return None;
        }
        Some(self.request.to_bytes())
    }

    /// Feeds a response. Returns what the TU should learn, or `None` when the response is not for this
    /// transaction or is a repeat that the transaction absorbs.
    pub fn handle_response(&mut self, response: Message, now: Instant) -> Option<TransactionEvent> {
        if TransactionKey::from_response(&response).ok().as_ref() != Some(&self.key) {
            return None;
        }
        let code = response.status()?;
        match self.state {
            ClientState::Trying | ClientState::Proceeding if code < 200 => {
                self.state = ClientState::Proceeding;
                Some(TransactionEvent::Provisional(response))
            }
            ClientState::Trying | ClientState::Proceeding => {
                self.complete(now);
                Some(TransactionEvent::Final(response))
            }
            ClientState::Completed | ClientState::Terminated => None,
        }
    }

    /// Lets time pass: fires Timer F (reporting [`TransactionEvent::TimedOut`]) or Timer K when due.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<TransactionEvent> {
        let deadline = self.deadline?;
        if now < deadline {
            return None;
        }
        self.deadline = None;
        let was = std::mem::replace(&mut self.state, ClientState::Terminated);
        match was {
            ClientState::Trying | ClientState::Proceeding => Some(TransactionEvent::TimedOut),
            ClientState::Completed | ClientState::Terminated => None,
        }
    }

    /// When [`ClientTransaction::handle_timeout`] should next be called; `None` once terminated.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The key responses are matched by.
    pub fn key(&self) -> &TransactionKey {
        &self.key
    }

    /// The request this transaction sent (e.g. to resend it with credentials after a 401).
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The current state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// True once the transaction is over and can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    fn complete(&mut self, now: Instant) {
        if self.timers.timer_k.is_zero() {
            self.state = ClientState::Terminated;
            self.deadline = None;
        } else {
            self.state = ClientState::Completed;
            self.deadline = Some(now + self.timers.timer_k);
        }
    }
}

/// Where [`ClientTransactions::handle_response`] sent a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseRoute {
    /// It belongs to a running transaction; `event` is `None` when that transaction absorbed it (a repeated
    /// final response while Completed).
    Matched {
        /// The transaction it matched.
        key: TransactionKey,
        /// What the TU should learn.
        event: Option<TransactionEvent>,
    },
    /// It belongs to no running transaction. RFC 3261 §18.1.2 says to drop it; the table counts it.
    Unmatched(Unmatched),
}

/// Why a response matched no transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// Its key names no running transaction: a late answer to a timed-out request, a response for another
    /// endpoint, or a wrong branch or CSeq method.
    NoTransaction(TransactionKey),
    /// Its top Via branch or CSeq could not be read, so it cannot be matched at all.
    Malformed(TransactionError),
}

/// The running client transactions of one connection, keyed by [`TransactionKey`].
///
/// The table owns the transactions from `start` until they terminate and removes them itself, so its size is
/// the number of requests still waiting for an answer.
#[derive(Debug, Default)]
pub struct ClientTransactions {
    running: HashMap<TransactionKey, ClientTransaction>,
    /// Requests started but not yet handed to the transport, oldest first (CSeq order matters to registrars).
    transmit: VecDeque<Vec<u8>>,
    timers: Timers,
    unmatched: u64,
}

impl ClientTransactions {
    /// An empty table with the RFC default timers.
    pub fn new() -> ClientTransactions {
        ClientTransactions::default()
    }

    /// An empty table whose transactions use `timers`.
    pub fn with_timers(timers: Timers) -> ClientTransactions {
        ClientTransactions { timers, ..ClientTransactions::default() }
    }

    /// Starts a transaction for `request`; its bytes come out of [`ClientTransactions::poll_transmit`].
    pub fn start(&mut self, request: Message, now: Instant) -> Result<TransactionKey, TransactionError> {
        let mut transaction = ClientTransaction::with_timers(request, now, self.timers)?;
        let key = transaction.key().clone();
        if self.running.contains_key(&key) {
            return Err(TransactionError::DuplicateKey { branch: key.branch, method: key.method });
        }
        if let Some(bytes) = transaction.poll_transmit() {
            self.transmit.push_back(bytes);
        }
        self.running.insert(key.clone(), transaction);
        Ok(key)
    }

    /// The next request to write to the connection, in the order they were started.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// Routes a received response to its transaction (RFC 3261 §17.1.3).
    pub fn handle_response(&mut self, response: Message, now: Instant) -> ResponseRoute {
        let key = match TransactionKey::from_response(&response) {
            Ok(key) => key,
            Err(e) => {
                self.unmatched += 1;
                return ResponseRoute::Unmatched(Unmatched::Malformed(e));
            }
        };
        let Some(transaction) = self.running.get_mut(&key) else {
            self.unmatched += 1;
            return ResponseRoute::Unmatched(Unmatched::NoTransaction(key));
        };
        let event = transaction.handle_response(response, now);
        if transaction.is_terminated() {
            self.running.remove(&key);
        }
        ResponseRoute::Matched { key, event }
    }

    /// Fires every timer due at `now`; returns the transactions that timed out (each with
    /// [`TransactionEvent::TimedOut`]) and drops every transaction that terminated.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<(TransactionKey, TransactionEvent)> {
        let mut events = Vec::new();
        self.running.retain(|key, transaction| {
            if let Some(event) = transaction.handle_timeout(now) {
                events.push((key.clone(), event));
            }
            !transaction.is_terminated()
        });
        events
    }

    /// The earliest timer among the running transactions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.running.values().filter_map(ClientTransaction::poll_timeout).min()
    }

    /// A running transaction.
    pub fn get(&self, key: &TransactionKey) -> Option<&ClientTransaction> {
        self.running.get(key)
    }

    /// How many transactions are waiting for an answer.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// True when no transaction is running.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// How many responses matched nothing since the table was made (for diagnostics counters).
    pub fn unmatched_count(&self) -> u64 {
        self.unmatched
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
