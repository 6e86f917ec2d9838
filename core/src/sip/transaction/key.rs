//! What names a transaction: the keys responses and repeated requests are matched by.
//!
//! RFC 3261 §17.1.3 (client side): a response belongs to a client transaction when the branch of its top
//! Via equals the branch of the request's top Via and its CSeq method equals the request's method. The method
//! is needed because a CANCEL carries the same branch as the request it cancels, yet is a transaction of its
//! own.
//!
//! RFC 3261 §17.2.3 (server side): a request belongs to a server transaction when branch, sent-by of the top
//! Via and method all match; an ACK matches the INVITE it acknowledges (so its key uses INVITE), and a branch
//! without the `z9hG4bK` magic cookie comes from an RFC 2543 element whose branch is not unique, so such
//! requests are keyed by Call-ID, CSeq and From tag instead.
//!
//! Branches are compared exactly (they are opaque tokens the sender made up and we only echo).

use std::fmt;

use super::TransactionError;
use crate::sip::{Host, Message, Method, Via};

/// The RFC 3261 §8.1.1.7 magic cookie that marks a globally unique branch.
pub(crate) const MAGIC_COOKIE: &str = "z9hG4bK";

/// Names a client transaction: top-Via branch plus CSeq method (RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    /// The `branch` parameter of the top Via, as sent.
    pub branch: String,
    /// The method of the request (the CSeq method, for a response).
    pub method: Method,
}

impl TransactionKey {
    /// The key of a request we are about to send.
    pub fn from_request(request: &Message) -> Result<TransactionKey, TransactionError> {
        let method = request.method().ok_or(TransactionError::WrongKind { expected: "request", got: "response" })?;
        Ok(TransactionKey { branch: top_branch(&top_via(request)?)?, method: method.clone() })
    }

    /// The key a received response matches: its top Via branch and its CSeq method.
    pub fn from_response(response: &Message) -> Result<TransactionKey, TransactionError> {
        if response.is_request() {
            return Err(TransactionError::WrongKind { expected: "response", got: "request" });
        }
        let method = response.cseq()?.method;
        Ok(TransactionKey { branch: top_branch(&top_via(response)?)?, method })
    }
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.branch)
    }
}

/// Names a server transaction: branch, sent-by and method of a received request (RFC 3261 §17.2.3).
///
/// The sent-by is part of the key because a branch is only unique per sender: two peers could pick the same
/// one, and their requests must not be mistaken for each other's retransmissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    /// The top Via branch, or for an RFC 2543 request (no magic cookie) a synthetic
    /// `rfc2543:<Call-ID>:<CSeq number>:<From tag>` that plays the same role.
    pub branch: String,
    /// Top Via sent-by: host (lower case for names) and port as written (`None` when absent).
    pub sent_by: (String, Option<u16>),
    /// The request method, INVITE for an ACK.
    pub method: Method,
}

impl ServerKey {
    /// The key of a received request.
    pub fn from_request(request: &Message) -> Result<ServerKey, TransactionError> {
        let method = request.method().ok_or(TransactionError::WrongKind { expected: "request", got: "response" })?;
        let via = top_via(request)?;
        let branch = match top_branch(&via) {
            Ok(b) if b.starts_with(MAGIC_COOKIE) => b,
            _ => rfc2543_branch(request)?,
        };
        let method = if *method == Method::Ack { Method::Invite } else { method.clone() };
        Ok(ServerKey { branch, sent_by: (host_key(&via.host), via.port), method })
    }
}

impl fmt::Display for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (host, port) = &self.sent_by;
        match port {
            Some(p) => write!(f, "{} {} from {host}:{p}", self.method, self.branch),
            None => write!(f, "{} {} from {host}", self.method, self.branch),
        }
    }
}

/// The first Via entry of the message (the one the last hop added).
fn top_via(msg: &Message) -> Result<Via, TransactionError> {
    let header = msg.headers.get("Via").ok_or(crate::sip::ParseError::MissingHeader("Via"))?;
    let mut vias = Via::parse_list(header.value())?;
    // parse_list never returns an empty list for a non-empty header, but the value may be empty.
    if vias.is_empty() {
        return Err(crate::sip::ParseError::MissingHeader("Via").into());
    }
    Ok(vias.swap_remove(0))
}

fn top_branch(via: &Via) -> Result<String, TransactionError> {
    match via.branch() {
        Some(b) if !b.is_empty() => Ok(b.into_owned()),
        _ => Err(TransactionError::MissingBranch),
    }
}

/// RFC 3261 §17.2.3's fallback for requests from elements that predate unique branches.
fn rfc2543_branch(request: &Message) -> Result<String, TransactionError> {
    let call_id = request.call_id().ok_or(crate::sip::ParseError::MissingHeader("Call-ID"))?;
    let seq = request.cseq()?.seq;
    let from = request.from_header()?;
    let tag = from.tag().unwrap_or_default();
    Ok(format!("rfc2543:{call_id}:{seq}:{tag}"))
}

/// Host names compare case-insensitively, so the key holds them in lower case.
fn host_key(host: &Host) -> String {
    match host {
        Host::Domain(d) => d.to_ascii_lowercase(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_message};

    fn parse(text: &str) -> Message {
        parse_message(text.replace('\n', "\r\n").as_bytes(), &Limits::default()).expect("test message parses").message
    }

    const NOTIFY: &str = "NOTIFY sip:10.0.0.5:51234;transport=tls SIP/2.0
Via: SIP/2.0/TLS Pool.Contoso.com:5061;branch=z9hG4bKabc, SIP/2.0/TLS 10.1.1.1:5061;branch=z9hG4bKdef
From: <sip:alice@contoso.com>;tag=1111
To: <sip:alice@contoso.com>;tag=2222;epid=0123456789
Call-ID: c1
CSeq: 7 NOTIFY
Max-Forwards: 69
Content-Length: 0

";

    #[test]
    fn server_key_uses_top_via_and_lowercases_host() {
        let key = ServerKey::from_request(&parse(NOTIFY)).unwrap();
        assert_eq!(key.branch, "z9hG4bKabc");
        assert_eq!(key.sent_by, ("pool.contoso.com".to_string(), Some(5061)));
        assert_eq!(key.method, Method::Notify);
    }

    #[test]
    fn rfc2543_branch_falls_back_to_dialog_identifiers() {
        let msg = parse(&NOTIFY.replace("branch=z9hG4bKabc", "branch=old1"));
        assert_eq!(ServerKey::from_request(&msg).unwrap().branch, "rfc2543:c1:7:1111");
        let msg = parse(&NOTIFY.replace(";branch=z9hG4bKabc", ""));
        assert_eq!(ServerKey::from_request(&msg).unwrap().branch, "rfc2543:c1:7:1111");
    }

    #[test]
    fn ack_keys_as_invite_on_the_server_side() {
        let msg = parse(&NOTIFY.replace("NOTIFY", "ACK"));
        assert_eq!(ServerKey::from_request(&msg).unwrap().method, Method::Invite);
    }

    #[test]
    fn client_key_needs_a_branch() {
        let msg = parse(&NOTIFY.replace(";branch=z9hG4bKabc", ""));
        assert_eq!(TransactionKey::from_request(&msg), Err(TransactionError::MissingBranch));
        let key = TransactionKey::from_request(&parse(NOTIFY)).unwrap();
        assert_eq!(key.to_string(), "NOTIFY z9hG4bKabc");
    }
}
