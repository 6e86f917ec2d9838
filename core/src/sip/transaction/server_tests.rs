//! Server transaction tests, driven by a fake clock: a base `Instant` plus `Duration`s.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::{Limits, parse_message};

/// A request as the pool sends it to a registered endpoint, `METHOD` replaced by the method under test.
const REQUEST: &str = "METHOD sip:10.0.0.5:51234;transport=tls;ms-opaque=89eaec8ad6 SIP/2.0
Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK5F1A2B3C.0123456789ABCDEF;branched=FALSE;ms-internal-info=\"aa\"
Authentication-Info: TLS-DSK qop=\"auth\", opaque=\"2BDBAC9D\", srand=\"9616454F\", snum=\"12\", rspauth=\"0123\", targetname=\"fe01.contoso.com\", realm=\"SIP Communications Service\", version=4
Max-Forwards: 69
To: <sip:alice@contoso.com>;tag=e3ab73a9f8;epid=8248ca9ebb
From: <sip:alice@contoso.com>;tag=7C2A0080
Call-ID: 6b2dec5dfd9a4eaf90180bb2f8f699ea
CSeq: 3 METHOD
Event: vnd-microsoft-roaming-self
Content-Type: application/vnd-microsoft-roaming-self+xml
Content-Length: 9

<roaming>";

fn request(method: &str) -> Message {
    let text = REQUEST.replace("METHOD", method).replace('\n', "\r\n");
    parse_message(text.as_bytes(), &Limits::default()).unwrap().message
}

fn ok(req: &Message) -> Message {
    Message::response_to(req, 200, "OK", Some("a1b2c3"))
}

fn new_key(route: RequestRoute) -> ServerKey {
    match route {
        RequestRoute::New { key, .. } => key,
        other => panic!("expected a new request, got {other:?}"),
    }
}

#[test]
fn answers_once_and_resends_on_retransmission() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let notify = request("NOTIFY");
    let key = new_key(table.handle_request(notify.clone(), t0));
    assert_eq!(key.method, Method::Notify);
    let sent = table.respond(&key, &ok(&notify), t0 + Duration::from_millis(5)).unwrap();
    assert!(sent.starts_with(b"SIP/2.0 200 OK\r\n"));
    assert_eq!(
        table.respond(&key, &ok(&notify), t0 + Duration::from_millis(6)),
        Err(TransactionError::AlreadyAnswered { status: 200 })
    );
    // The same request again: not for the TU, the stored answer goes back byte for byte.
    assert_eq!(
        table.handle_request(notify.clone(), t0 + Duration::from_secs(1)),
        RequestRoute::Retransmission { key: key.clone(), resend: Some(sent) }
    );
    // Timer J (64×T1 by default) ends it; after that the same branch is a new request.
    assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_millis(5) + Duration::from_secs(32)));
    assert!(table.handle_timeout(t0 + Duration::from_secs(33)).is_empty(), "answered, so not abandoned");
    assert!(table.is_empty());
    assert!(matches!(table.handle_request(notify, t0 + Duration::from_secs(34)), RequestRoute::New { .. }));
}

#[test]
fn repeat_before_the_answer_is_dropped_and_provisional_is_resent() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let options = request("OPTIONS");
    let key = new_key(table.handle_request(options.clone(), t0));
    assert_eq!(
        table.handle_request(options.clone(), t0),
        RequestRoute::Retransmission { key: key.clone(), resend: None }
    );
    let trying = Message::response_to(&options, 100, "Trying", None);
    let sent_1xx = table.respond(&key, &trying, t0).unwrap();
    assert_eq!(table.get(&key).unwrap().state(), ServerState::Proceeding);
    assert_eq!(
        table.handle_request(options.clone(), t0),
        RequestRoute::Retransmission { key: key.clone(), resend: Some(sent_1xx) }
    );
    table.respond(&key, &ok(&options), t0).unwrap();
    assert_eq!(table.get(&key).unwrap().state(), ServerState::Completed);
    assert_eq!(table.get(&key).unwrap().final_status(), Some(200));
}

#[test]
fn benotify_is_never_answered() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let benotify = request("BENOTIFY");
    assert_eq!(table.handle_request(benotify.clone(), t0), RequestRoute::NoResponse(benotify.clone()));
    assert!(table.is_empty(), "no transaction, so nothing could ever answer it");
    assert_eq!(table.handle_request(benotify.clone(), t0), RequestRoute::NoResponse(benotify.clone()));
    assert_eq!(
        ServerTransaction::new(&benotify, t0).unwrap_err(),
        TransactionError::NeverAnswered { method: Method::Benotify }
    );
}

#[test]
fn same_branch_from_another_sender_is_a_new_request() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let first = request("NOTIFY");
    let mut other = first.clone();
    let via = first.header("Via").unwrap().replace("192.0.2.10:5061", "192.0.2.11:5061");
    other.headers.set("Via", &via);
    let k1 = new_key(table.handle_request(first, t0));
    let k2 = new_key(table.handle_request(other, t0));
    assert_ne!(k1, k2);
    assert_eq!(table.len(), 2);
}

#[test]
fn response_must_belong_to_the_request() {
    let t0 = Instant::now();
    let notify = request("NOTIFY");
    let mut tx = ServerTransaction::new(&notify, t0).unwrap();
    let mut wrong_branch = ok(&notify);
    wrong_branch.headers.set("Via", "SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKother");
    assert_eq!(tx.respond(&wrong_branch, t0), Err(TransactionError::ResponseMismatch));
    let mut wrong_cseq = ok(&notify);
    wrong_cseq.headers.set("CSeq", "4 NOTIFY");
    assert_eq!(tx.respond(&wrong_cseq, t0), Err(TransactionError::ResponseMismatch));
    assert!(matches!(tx.respond(&notify, t0), Err(TransactionError::WrongKind { .. })));
    assert_eq!(tx.state(), ServerState::Trying, "refused responses change nothing");
    assert!(tx.respond(&ok(&notify), t0).is_ok());
}

#[test]
fn unanswered_transactions_are_dropped_after_64_t1() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let key = new_key(table.handle_request(request("NOTIFY"), t0));
    assert_eq!(table.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    assert!(table.handle_timeout(t0 + Duration::from_secs(31)).is_empty());
    assert_eq!(table.handle_timeout(t0 + Duration::from_secs(32)), vec![key.clone()]);
    assert!(table.is_empty());
    assert!(matches!(
        table.respond(&key, &ok(&request("NOTIFY")), t0),
        Err(TransactionError::UnknownTransaction { .. })
    ));
}

#[test]
fn zero_timer_j_ends_on_the_final_response() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::with_timers(Timers { timer_j: Duration::ZERO, ..Timers::default() });
    let notify = request("NOTIFY");
    let key = new_key(table.handle_request(notify.clone(), t0));
    table.respond(&key, &ok(&notify), t0).unwrap();
    assert!(table.is_empty());
}

#[test]
fn invite_ack_and_unreadable_requests_get_no_transaction() {
    let t0 = Instant::now();
    let mut table = ServerTransactions::new();
    let invite = request("INVITE");
    assert_eq!(table.handle_request(invite.clone(), t0), RequestRoute::Unsupported(invite));
    let ack = request("ACK");
    assert_eq!(table.handle_request(ack.clone(), t0), RequestRoute::Ack(ack));
    let mut broken = request("NOTIFY");
    broken.headers.set("Via", "SIP/2.0/TLS");
    assert!(matches!(table.handle_request(broken, t0), RequestRoute::Malformed { .. }));
    assert!(table.is_empty());
}
