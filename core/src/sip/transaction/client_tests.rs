//! Client transaction tests, driven by a fake clock: a base `Instant` plus `Duration`s.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::identity::Epid;
use crate::sip::transaction::RequestFactory;
use crate::sip::{Host, Limits, Uri, parse_message};

fn factory() -> RequestFactory {
    let from = Uri::parse("sip:alice@contoso.com").unwrap();
    RequestFactory::new(Host::Ipv4(Ipv4Addr::new(10, 0, 0, 5)), 51234, from, Epid::parse("8248ca9ebb").unwrap())
}

fn register(f: &mut RequestFactory) -> Message {
    let aor = Uri::parse("sip:alice@contoso.com").unwrap();
    f.request(Method::Register, Uri::parse("sip:contoso.com").unwrap(), &aor)
}

/// A response as the registrar would send it: built from the request, then through the wire and back.
fn answer(request: &Message, code: u16, reason: &str) -> Message {
    let response = Message::response_to(request, code, reason, Some("srvtag"));
    parse_message(&response.to_bytes(), &Limits::default()).unwrap().message
}

#[test]
fn final_response_completes_and_terminates_over_tls() {
    let t0 = Instant::now();
    let request = register(&mut factory());
    let mut tx = ClientTransaction::new(request.clone(), t0).unwrap();
    assert_eq!(tx.state(), ClientState::Trying);
    assert_eq!(tx.poll_transmit(), Some(request.to_bytes()));
    assert_eq!(tx.poll_transmit(), None, "sent once, never retransmitted");
    let ok = answer(&request, 200, "OK");
    let event = tx.handle_response(ok.clone(), t0 + Duration::from_millis(80));
    assert_eq!(event, Some(TransactionEvent::Final(ok.clone())));
    assert_eq!(tx.state(), ClientState::Terminated, "Timer K is zero on a reliable transport");
    assert_eq!(tx.poll_timeout(), None);
    assert_eq!(tx.handle_response(ok, t0 + Duration::from_millis(90)), None);
}

#[test]
fn provisional_then_final() {
    let t0 = Instant::now();
    let request = register(&mut factory());
    let mut tx = ClientTransaction::new(request.clone(), t0).unwrap();
    let trying = answer(&request, 100, "Trying");
    assert_eq!(tx.handle_response(trying.clone(), t0), Some(TransactionEvent::Provisional(trying)));
    assert_eq!(tx.state(), ClientState::Proceeding);
    let ringing = answer(&request, 180, "Ringing");
    assert_eq!(tx.handle_response(ringing.clone(), t0), Some(TransactionEvent::Provisional(ringing)));
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)), "a 1xx does not stop Timer F");
    let ok = answer(&request, 200, "OK");
    assert_eq!(tx.handle_response(ok.clone(), t0 + Duration::from_secs(1)), Some(TransactionEvent::Final(ok)));
    assert!(tx.is_terminated());
}

#[test]
fn timer_f_fires_at_exactly_32_seconds() {
    let t0 = Instant::now();
    let mut tx = ClientTransaction::new(register(&mut factory()), t0).unwrap();
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(32) - Duration::from_nanos(1)), None);
    assert_eq!(tx.state(), ClientState::Trying);
    assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(32)), Some(TransactionEvent::TimedOut));
    assert!(tx.is_terminated());
    assert_eq!(tx.poll_timeout(), None);
    assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(33)), None, "reported once");
}

#[test]
fn nonzero_timer_k_absorbs_repeated_finals() {
    let t0 = Instant::now();
    let timers = Timers { timer_k: Duration::from_secs(5), ..Timers::default() };
    let request = register(&mut factory());
    let mut tx = ClientTransaction::with_timers(request.clone(), t0, timers).unwrap();
    let ok = answer(&request, 200, "OK");
    assert!(matches!(tx.handle_response(ok.clone(), t0), Some(TransactionEvent::Final(_))));
    assert_eq!(tx.state(), ClientState::Completed);
    assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    assert_eq!(tx.handle_response(ok, t0 + Duration::from_secs(1)), None);
    assert_eq!(tx.handle_timeout(t0 + Duration::from_secs(5)), None);
    assert!(tx.is_terminated());
}

#[test]
fn invite_ack_and_branchless_requests_are_refused() {
    let t0 = Instant::now();
    let mut f = factory();
    let to = Uri::parse("sip:bob@contoso.com").unwrap();
    for method in [Method::Invite, Method::Ack] {
        let req = f.request(method.clone(), to.clone(), &to);
        assert_eq!(ClientTransaction::new(req, t0).unwrap_err(), TransactionError::InviteNotSupported { method });
    }
    let mut req = register(&mut f);
    req.headers.set("Via", "SIP/2.0/TLS 10.0.0.5:51234");
    assert_eq!(ClientTransaction::new(req, t0).unwrap_err(), TransactionError::MissingBranch);
    let ok = answer(&register(&mut f), 200, "OK");
    assert!(matches!(ClientTransaction::new(ok, t0), Err(TransactionError::WrongKind { .. })));
}

#[test]
fn table_routes_responses_and_reports_strays() {
    let t0 = Instant::now();
    let mut f = factory();
    let mut table = ClientTransactions::new();
    let first = register(&mut f);
    let second = f.request(
        Method::Subscribe,
        Uri::parse("sip:alice@contoso.com").unwrap(),
        &Uri::parse("sip:alice@contoso.com").unwrap(),
    );
    let k1 = table.start(first.clone(), t0).unwrap();
    let k2 = table.start(second.clone(), t0).unwrap();
    assert_eq!(table.poll_transmit(), Some(first.to_bytes()), "sent in start order");
    assert_eq!(table.poll_transmit(), Some(second.to_bytes()));
    assert_eq!(table.poll_transmit(), None);
    assert_eq!(table.len(), 2);

    // Wrong branch: a response to some other request.
    let mut stray = answer(&first, 200, "OK");
    stray.headers.set("Via", "SIP/2.0/TLS 10.0.0.5:51234;branch=z9hG4bKnotours");
    let route = table.handle_response(stray, t0);
    assert!(matches!(route, ResponseRoute::Unmatched(Unmatched::NoTransaction(ref k)) if k.branch == "z9hG4bKnotours"));
    // Right branch, wrong CSeq method: e.g. the answer to a CANCEL of that request.
    let mut cancel_answer = answer(&first, 200, "OK");
    cancel_answer.headers.set("CSeq", "1 CANCEL");
    let route = table.handle_response(cancel_answer, t0);
    assert_eq!(
        route,
        ResponseRoute::Unmatched(Unmatched::NoTransaction(TransactionKey {
            branch: k1.branch.clone(),
            method: Method::Cancel
        }))
    );
    // No Via at all.
    let mut broken = answer(&first, 200, "OK");
    broken.headers.remove("Via");
    assert!(matches!(table.handle_response(broken, t0), ResponseRoute::Unmatched(Unmatched::Malformed(_))));
    assert_eq!(table.unmatched_count(), 3);

    let ok = answer(&second, 200, "OK");
    assert_eq!(
        table.handle_response(ok.clone(), t0),
        ResponseRoute::Matched { key: k2.clone(), event: Some(TransactionEvent::Final(ok.clone())) }
    );
    assert_eq!(table.len(), 1, "terminated transactions leave the table");
    assert!(matches!(table.handle_response(ok, t0), ResponseRoute::Unmatched(Unmatched::NoTransaction(_))));
    assert_eq!(table.unmatched_count(), 4);
    assert!(table.get(&k1).is_some());
}

#[test]
fn table_times_out_and_forgets() {
    let t0 = Instant::now();
    let mut f = factory();
    let mut table = ClientTransactions::new();
    let k1 = table.start(register(&mut f), t0).unwrap();
    let k2 = table.start(register(&mut f), t0 + Duration::from_secs(10)).unwrap();
    assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    assert!(table.handle_timeout(t0 + Duration::from_secs(31)).is_empty());
    assert_eq!(table.handle_timeout(t0 + Duration::from_secs(32)), vec![(k1.clone(), TransactionEvent::TimedOut)]);
    assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_secs(42)));
    assert_eq!(table.len(), 1);
    assert!(table.get(&k2).is_some());
    assert_eq!(table.handle_timeout(t0 + Duration::from_secs(50)), vec![(k2, TransactionEvent::TimedOut)]);
    assert!(table.is_empty());
    assert_eq!(table.poll_timeout(), None);
}

#[test]
fn table_refuses_a_second_transaction_with_the_same_key() {
    let t0 = Instant::now();
    let request = register(&mut factory());
    let mut table = ClientTransactions::new();
    let key = table.start(request.clone(), t0).unwrap();
    assert_eq!(
        table.start(request, t0),
        Err(TransactionError::DuplicateKey { branch: key.branch, method: Method::Register })
    );
    assert_eq!(table.len(), 1);
    assert!(table.poll_transmit().is_some());
    assert_eq!(table.poll_transmit(), None, "the refused request is not queued");
}
