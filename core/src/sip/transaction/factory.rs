//! Building out-of-dialog requests that a registrar or front end will accept.
//!
//! Every request needs the same bookkeeping (RFC 3261 §8.1.1): a top Via naming us and a fresh branch, a
//! From with our tag, a To, a Call-ID, a CSeq that grows by one per request in the same Call-ID, and
//! Max-Forwards. [MS-SIPRE] 3.2.3.1 adds the endpoint's `;epid=` to From on every request. A
//! [`RequestFactory`] holds that state for one Call-ID, e.g. one registration: RFC 3261 §10.2.4 wants every
//! REGISTER refresh of a binding in the same Call-ID with a higher CSeq, and Lync front ends key the
//! registration on it.
//!
//! A SUBSCRIBE that creates a dialog, or an unrelated SERVICE request, may use its own factory (a new
//! Call-ID); in-dialog requests (with a To tag and Route set) are built from the dialog, not here.

use super::key::MAGIC_COOKIE;
use crate::identity::{Epid, new_branch, new_call_id, new_tag};
use crate::sip::{Host, Message, Method, Uri};

/// RFC 3261 §8.1.1.6: a UAC SHOULD start Max-Forwards at 70.
pub const MAX_FORWARDS: u32 = 70;

/// Produces correctly formed out-of-dialog requests for one Call-ID (see the module docs).
#[derive(Debug, Clone)]
pub struct RequestFactory {
    /// `host:port` of our end of the TLS connection, as it goes in Via sent-by.
    sent_by: String,
    from_uri: Uri,
    from_tag: String,
    epid: Epid,
    call_id: String,
    /// The CSeq number the next request gets.
    next_cseq: u32,
}

impl RequestFactory {
    /// A factory for a fresh Call-ID and From tag.
    ///
    /// `host` and `port` are this end of the connection (the local address of the TLS socket, or whatever
    /// name the pool can reach us by); `from` is the user's URI (`sip:alice@contoso.com`); `epid` is the
    /// endpoint's stored identifier ([`Epid::generate`] once, then persisted).
    pub fn new(host: Host, port: u16, from: Uri, epid: Epid) -> RequestFactory {
        RequestFactory::with_sent_by(&format!("{host}:{port}"), from, epid)
    }

    /// [`RequestFactory::new`] with Via's sent-by already written (`host:port`, IPv6 in brackets).
    pub fn with_sent_by(sent_by: &str, from: Uri, epid: Epid) -> RequestFactory {
        RequestFactory {
            sent_by: sent_by.to_string(),
            from_uri: from,
            from_tag: new_tag(),
            epid,
            call_id: new_call_id(),
            next_cseq: 1,
        }
    }

    /// A request with Via, Max-Forwards, From, To, Call-ID and CSeq set; the caller adds the rest (Contact,
    /// Event, a body) with [`Message::with_header`] / [`Message::with_body`].
    ///
    /// Each call takes the next CSeq number and a new branch, so each request is its own transaction. `to`
    /// is written without a tag: the request is outside any dialog.
    pub fn request(&mut self, method: Method, request_uri: Uri, to: &Uri) -> Message {
        let cseq = self.next_cseq;
        // Wrapping instead of overflowing: 2^32 requests in one Call-ID is not a real case, a panic would be.
        self.next_cseq = self.next_cseq.wrapping_add(1);
        let branch = new_branch();
        debug_assert!(branch.starts_with(MAGIC_COOKIE));
        let cseq_value = format!("{cseq} {method}");
        Message::request(method, request_uri)
            .with_header("Via", &format!("SIP/2.0/TLS {};branch={branch}", self.sent_by))
            .with_header("Max-Forwards", &MAX_FORWARDS.to_string())
            .with_header("From", &format!("<{}>;tag={};epid={}", self.from_uri, self.from_tag, self.epid))
            .with_header("To", &format!("<{to}>"))
            .with_header("Call-ID", &self.call_id)
            .with_header("CSeq", &cseq_value)
    }

    /// The Call-ID every request from this factory carries.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The From tag every request from this factory carries.
    pub fn from_tag(&self) -> &str {
        &self.from_tag
    }

    /// The endpoint id written as `;epid=` on From.
    pub fn epid(&self) -> &Epid {
        &self.epid
    }

    /// The CSeq number the next request will get.
    pub fn next_cseq(&self) -> u32 {
        self.next_cseq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_message, validate};
    use std::net::Ipv4Addr;

    fn factory() -> RequestFactory {
        let from = Uri::parse("sip:alice@contoso.com").unwrap();
        RequestFactory::new(Host::Ipv4(Ipv4Addr::new(10, 0, 0, 5)), 51234, from, Epid::parse("8248ca9ebb").unwrap())
    }

    #[test]
    fn requests_share_call_id_and_tag_and_count_cseq() {
        let mut f = factory();
        let aor = Uri::parse("sip:alice@contoso.com").unwrap();
        let domain = Uri::parse("sip:contoso.com").unwrap();
        let methods = [Method::Register, Method::Register, Method::Subscribe, Method::Service, Method::Options];
        let mut branches = Vec::new();
        for (n, method) in methods.into_iter().enumerate() {
            let msg = f.request(method.clone(), domain.clone(), &aor);
            let cseq = msg.cseq().unwrap();
            assert_eq!(cseq.seq as usize, n + 1);
            assert_eq!(cseq.method, method);
            assert_eq!(msg.call_id(), Some(f.call_id()));
            let from = msg.from_header().unwrap();
            assert_eq!(from.tag().as_deref(), Some(f.from_tag()));
            assert_eq!(from.params.value("epid").as_deref(), Some("8248ca9ebb"));
            assert_eq!(msg.to_header().unwrap().tag(), None, "out-of-dialog To has no tag");
            branches.push(msg.vias().unwrap()[0].branch().unwrap().into_owned());
        }
        assert_eq!(f.next_cseq(), 6);
        branches.sort();
        branches.dedup();
        assert_eq!(branches.len(), 5, "every request is its own transaction");
    }

    #[test]
    fn built_requests_validate_and_round_trip() {
        let mut f = factory();
        let aor = Uri::parse("sip:alice@contoso.com").unwrap();
        let msg = f
            .request(Method::Register, Uri::parse("sip:contoso.com").unwrap(), &aor)
            .with_header("Event", "registration")
            .with_body("application/sdp", &b"v=0\r\n"[..]);
        validate(&msg).unwrap();
        let bytes = msg.to_bytes();
        let parsed = parse_message(&bytes, &Limits::default()).unwrap();
        assert_eq!(parsed.trailing, 0);
        assert_eq!(parsed.message.to_bytes(), bytes);
        assert_eq!(parsed.message.header("Max-Forwards"), Some("70"));
        let via = &parsed.message.vias().unwrap()[0];
        assert_eq!(via.transport, "TLS");
        assert_eq!(via.port, Some(51234));
        assert!(via.branch().unwrap().starts_with("z9hG4bK"));
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.5:51234;branch=z9hG4bK"));
        assert!(text.contains(&format!("\r\nFrom: <sip:alice@contoso.com>;tag={};epid=8248ca9ebb\r\n", f.from_tag())));
        assert!(text.contains("\r\nTo: <sip:alice@contoso.com>\r\n"));
        assert!(text.contains("\r\nCSeq: 1 REGISTER\r\n"));
    }

    #[test]
    fn ipv6_sent_by_is_bracketed() {
        let from = Uri::parse("sip:alice@contoso.com").unwrap();
        let mut f =
            RequestFactory::new(Host::Ipv6("2001:db8::5".parse().unwrap()), 5061, from.clone(), Epid::generate());
        let msg = f.request(Method::Options, from.clone(), &from);
        validate(&msg).unwrap();
        assert_eq!(msg.vias().unwrap()[0].port, Some(5061));
        assert!(msg.header("Via").unwrap().starts_with("SIP/2.0/TLS [2001:db8::5]:5061;branch="));
    }
}
