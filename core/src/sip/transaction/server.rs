//! Non-INVITE server transactions (RFC 3261 §17.2.2) over a reliable transport, and the table that
//! recognises repeated requests (§17.2.3).
//!
//! ```text
//!   request ──▶ Trying ──TU sends 1xx──▶ Proceeding ──TU sends 1xx──▶ Proceeding
//!                 │                          │
//!                 └──── TU sends 200-699 ────┴──▶ Completed ──Timer J──▶ Terminated
//! ```
//!
//! A repeated request (same [`ServerKey`]) never reaches the TU again: in Trying it is dropped, later it gets
//! the last response sent, byte for byte. Two requests the RFC does not give a transaction are reported as
//! such instead: BENOTIFY, which [MS-SIP] 4.4 says is never answered, and ACK, which is never answered
//! either. INVITE needs the INVITE server transaction, which is not implemented; a headless endpoint answers
//! it statelessly (e.g. 488 or 603 built with [`Message::response_to`]) and the peer's ACK for that answer
//! then arrives as [`RequestRoute::Ack`], needing nothing.
//!
//! One guard the RFC leaves to the TU: a transaction the TU never answers is dropped 64×T1 after it arrived
//! (the peer's Timer F has fired by then, so no answer could matter), which keeps the table bounded.

use std::collections::HashMap;
use std::time::Instant;

use super::{ServerKey, Timers, TransactionError};
use crate::sip::{Message, Method, Via};

/// Where a server transaction is in RFC 3261 Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// The request is with the TU; nothing sent yet.
    Trying,
    /// The TU sent a provisional response; the final one is still to come.
    Proceeding,
    /// The final response was sent; repeats of the request get it again until Timer J.
    Completed,
    /// Over: the transaction can be dropped.
    Terminated,
}

/// One received request that must be answered exactly once.
#[derive(Debug, Clone)]
pub struct ServerTransaction {
    key: ServerKey,
    /// The request's top Via branch and CSeq number, to check that a response belongs to it.
    branch: Option<String>,
    cseq: u32,
    state: ServerState,
    timers: Timers,
    /// The last response sent, as written: what a repeated request gets.
    last_response: Option<Vec<u8>>,
    final_status: Option<u16>,
    /// Timer J while Completed; the abandonment guard (64×T1) before that.
    deadline: Option<Instant>,
}

impl ServerTransaction {
    /// A transaction for a request that arrived at `now`, with the default timers.
    ///
    /// BENOTIFY, INVITE and ACK are refused (see the module docs for what to do with them).
    pub fn new(request: &Message, now: Instant) -> Result<ServerTransaction, TransactionError> {
        ServerTransaction::with_timers(request, now, Timers::default())
    }

    /// Like [`ServerTransaction::new`] with explicit timer values.
    pub fn with_timers(request: &Message, now: Instant, timers: Timers) -> Result<ServerTransaction, TransactionError> {
        match request.method() {
            Some(Method::Benotify) => return Err(TransactionError::NeverAnswered { method: Method::Benotify }),
            Some(m @ (Method::Invite | Method::Ack)) => {
                return Err(TransactionError::InviteNotSupported { method: m.clone() });
            }
            _ => {}
        }
        let key = ServerKey::from_request(request)?;
        Ok(ServerTransaction {
            key,
            branch: top_branch(request),
            cseq: request.cseq()?.seq,
            state: ServerState::Trying,
            timers,
            last_response: None,
            final_status: None,
            deadline: Some(now + timers.timer_f()),
        })
    }

    /// Sends the TU's response: returns the bytes to write to the connection.
    ///
    /// Any number of provisional responses may precede exactly one final response. The response must answer
    /// this request (same top Via branch, CSeq number and method), which [`Message::response_to`] ensures.
    pub fn respond(&mut self, response: &Message, now: Instant) -> Result<Vec<u8>, TransactionError> {
        let Some(code) = response.status() else {
            return Err(TransactionError::WrongKind { expected: "response", got: "request" });
        };
        if let Some(status) = self.final_status {
            return Err(TransactionError::AlreadyAnswered { status });
        }
        let cseq = response.cseq()?;
        if cseq.method != self.key.method || cseq.seq != self.cseq || top_branch(response) != self.branch {
            return Err(TransactionError::ResponseMismatch);
        }
        let bytes = response.to_bytes();
        self.last_response = Some(bytes.clone());
        if code < 200 {
            self.state = ServerState::Proceeding;
        } else {
            self.final_status = Some(code);
            if self.timers.timer_j.is_zero() {
                self.state = ServerState::Terminated;
                self.deadline = None;
            } else {
                self.state = ServerState::Completed;
                self.deadline = Some(now + self.timers.timer_j);
            }
        }
        Ok(bytes)
    }

    /// The request arrived again: returns what to write back (the last response sent), or `None` while the
    /// TU has not answered yet (§17.2.2: a repeat in Trying is discarded).
    pub fn handle_retransmission(&self) -> Option<Vec<u8>> {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => self.last_response.clone(),
            ServerState::Trying | ServerState::Terminated => None,
        }
    }

    /// Lets time pass: ends the transaction when Timer J (or the abandonment guard) is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            self.state = ServerState::Terminated;
        }
    }

    /// When [`ServerTransaction::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// The key repeated requests are recognised by.
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// The current state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The final status sent, once there is one.
    pub fn final_status(&self) -> Option<u16> {
        self.final_status
    }

    /// True once the transaction is over and can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }
}

fn top_branch(msg: &Message) -> Option<String> {
    let header = msg.headers.get("Via")?;
    let vias = Via::parse_list(header.value()).ok()?;
    Some(vias.first()?.branch()?.into_owned())
}

/// What [`ServerTransactions::handle_request`] made of a received request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRoute {
    /// A new request for the TU, which must answer it through [`ServerTransactions::respond`] with `key`.
    New {
        /// The transaction to answer on.
        key: ServerKey,
        /// The request.
        request: Message,
    },
    /// A BENOTIFY: give it to the TU and send nothing back, ever ([MS-SIP] 4.4).
    NoResponse(Message),
    /// An ACK: it acknowledges a final response to an INVITE and is never answered.
    Ack(Message),
    /// A repeat of a request already seen; not for the TU. Write `resend` (the last response) if present.
    Retransmission {
        /// The transaction it repeats.
        key: ServerKey,
        /// The bytes to write back, `None` while the TU has not answered yet.
        resend: Option<Vec<u8>>,
    },
    /// An INVITE, whose transaction is not implemented: answer it statelessly or drop it.
    Unsupported(Message),
    /// Its top Via or CSeq is unreadable, so it cannot be matched or answered (RFC 3261 §8.2 needs the Via
    /// to route a response): drop it and count it.
    Malformed {
        /// The request.
        request: Message,
        /// What was wrong with it.
        error: TransactionError,
    },
}

/// The server transactions of one connection, keyed by [`ServerKey`].
#[derive(Debug, Default)]
pub struct ServerTransactions {
    running: HashMap<ServerKey, ServerTransaction>,
    timers: Timers,
}

impl ServerTransactions {
    /// An empty table with the default timers.
    pub fn new() -> ServerTransactions {
        ServerTransactions::default()
    }

    /// An empty table whose transactions use `timers`.
    pub fn with_timers(timers: Timers) -> ServerTransactions {
        ServerTransactions { timers, ..ServerTransactions::default() }
    }

    /// Classifies a received request (RFC 3261 §17.2.3) and starts a transaction for a new one.
    pub fn handle_request(&mut self, request: Message, now: Instant) -> RequestRoute {
        match request.method() {
            Some(Method::Benotify) => return RequestRoute::NoResponse(request),
            Some(Method::Ack) => return RequestRoute::Ack(request),
            _ => {}
        }
        let key = match ServerKey::from_request(&request) {
            Ok(key) => key,
            Err(error) => return RequestRoute::Malformed { request, error },
        };
        if let Some(transaction) = self.running.get(&key) {
            return RequestRoute::Retransmission { resend: transaction.handle_retransmission(), key };
        }
        match ServerTransaction::with_timers(&request, now, self.timers) {
            Ok(transaction) => {
                self.running.insert(key.clone(), transaction);
                RequestRoute::New { key, request }
            }
            Err(TransactionError::InviteNotSupported { .. }) => RequestRoute::Unsupported(request),
            Err(error) => RequestRoute::Malformed { request, error },
        }
    }

    /// Sends the TU's response on transaction `key`: returns the bytes to write to the connection.
    pub fn respond(&mut self, key: &ServerKey, response: &Message, now: Instant) -> Result<Vec<u8>, TransactionError> {
        let transaction = self.running.get_mut(key).ok_or_else(|| TransactionError::UnknownTransaction {
            branch: key.branch.clone(),
            method: key.method.clone(),
        })?;
        let bytes = transaction.respond(response, now)?;
        if transaction.is_terminated() {
            self.running.remove(key);
        }
        Ok(bytes)
    }

    /// Fires every timer due at `now` and drops the transactions that ended. Returns the keys of those the
    /// TU never answered (for a log line: the peer will have given up on them).
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<ServerKey> {
        let mut abandoned = Vec::new();
        self.running.retain(|key, transaction| {
            transaction.handle_timeout(now);
            if transaction.is_terminated() && transaction.final_status().is_none() {
                abandoned.push(key.clone());
            }
            !transaction.is_terminated()
        });
        abandoned
    }

    /// The earliest timer among the running transactions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.running.values().filter_map(ServerTransaction::poll_timeout).min()
    }

    /// A running transaction.
    pub fn get(&self, key: &ServerKey) -> Option<&ServerTransaction> {
        self.running.get(key)
    }

    /// How many transactions are running (waiting for the TU, or keeping a final response).
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// True when none is running.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
