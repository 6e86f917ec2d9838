//! Subscription dialogs (RFC 6665 §4.1, RFC 3261 §12): the state one SUBSCRIBE creates and every
//! refresh, NOTIFY and unsubscribe shares.
//!
//! Our SUBSCRIBE fixes the Call-ID and our tag; the server's 2xx adds its tag (the remote tag) and,
//! in its Contact, the remote target for later in-dialog requests. A NOTIFY belongs to the dialog
//! whose Call-ID and tags it carries (its To tag is ours, its From tag the server's). Requests
//! carry `;epid=` on From like every request of this endpoint ([MS-SIPRE] 3.2.3.1).

use crate::identity::Epid;
use crate::sip::transaction::RequestFactory;
use crate::sip::{Message, Method, Uri};

/// One dialog of ours: a [`RequestFactory`] (our Call-ID, tag, CSeq count and epid) plus what the
/// server's 2xx tells us.
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    factory: RequestFactory,
    pub remote_tag: Option<String>,
    /// Where in-dialog requests go: the server's Contact once known, else the original target.
    pub target: Uri,
    /// The resource subscribed to (To).
    remote: Uri,
}

impl Dialog {
    /// A new dialog from `local` (our AOR) towards `remote`; requests name `sent_by` in Via.
    pub fn new(local: Uri, remote: Uri, epid: Epid, sent_by: &str) -> Dialog {
        Dialog {
            factory: RequestFactory::with_sent_by(sent_by, local, epid),
            remote_tag: None,
            target: remote.clone(),
            remote,
        }
    }

    pub fn call_id(&self) -> &str {
        self.factory.call_id()
    }

    pub fn local_tag(&self) -> &str {
        self.factory.from_tag()
    }

    /// A request in this dialog (or the one that creates it): the factory's Via, From, Call-ID and
    /// next CSeq, To with the remote tag once known, sent to the remote target.
    pub fn request(&mut self, method: Method) -> Message {
        let mut m = self.factory.request(method, self.target.clone(), &self.remote);
        if let Some(tag) = &self.remote_tag {
            m.headers.set("To", &format!("<{}>;tag={tag}", self.remote));
        }
        m
    }

    /// Takes the remote tag and target from a 2xx to the dialog-creating request.
    pub fn confirm(&mut self, response: &Message) {
        if let Ok(to) = response.to_header()
            && let Some(tag) = to.tag()
        {
            self.remote_tag = Some(tag.to_string());
        }
        if let Some(contact) = response.contacts().ok().and_then(|c| c.into_iter().next()) {
            self.target = contact.uri;
        }
    }

    /// Whether a request from the server (NOTIFY, BENOTIFY) belongs to this dialog: same Call-ID,
    /// its To tag is ours, and its From tag is the server's once we know it.
    pub fn owns(&self, request: &Message) -> bool {
        if request.call_id() != Some(self.call_id()) {
            return false;
        }
        let to_ok = request.to_header().ok().and_then(|t| t.tag().map(|t| t == self.local_tag())).unwrap_or(false);
        let from_tag = request.from_header().ok().and_then(|f| f.tag().map(|t| t.to_string()));
        let from_ok = match (&self.remote_tag, from_tag) {
            (Some(ours), Some(theirs)) => *ours == theirs,
            // A NOTIFY may overtake the 2xx (RFC 6665 §4.1.2.4): the dialog is then confirmed by it.
            (None, Some(_)) => true,
            (_, None) => false,
        };
        to_ok && from_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        Uri::parse(s).unwrap()
    }

    #[test]
    fn requests_share_call_id_and_tags_and_count_cseq() {
        let epid = Epid::parse("01010101aa").unwrap();
        let mut d = Dialog::new(uri("sip:alice@contoso.lab"), uri("sip:alice@contoso.lab"), epid, "127.0.0.1:5000");
        let first = d.request(Method::Subscribe);
        assert_eq!(first.cseq().unwrap().seq, 1);
        assert!(first.to_header().unwrap().tag().is_none());
        assert!(first.header("From").unwrap().contains(";epid=01010101aa"));
        let ok = Message::response_to(&first, 200, "OK", Some("srv1"))
            .with_header("Contact", "<sip:pool01.contoso.lab:5061;transport=tls>");
        d.confirm(&ok);
        let refresh = d.request(Method::Subscribe);
        assert_eq!(refresh.call_id(), first.call_id());
        assert_eq!(refresh.cseq().unwrap().seq, 2);
        assert_eq!(refresh.to_header().unwrap().tag().as_deref(), Some("srv1"));
        assert_eq!(refresh.request_uri().unwrap().as_str(), "sip:pool01.contoso.lab:5061;transport=tls");
    }

    #[test]
    fn owns_only_its_notifies() {
        let epid = Epid::parse("01010101aa").unwrap();
        let mut d = Dialog::new(uri("sip:alice@contoso.lab"), uri("sip:alice@contoso.lab"), epid, "127.0.0.1:5000");
        let sub = d.request(Method::Subscribe);
        d.confirm(&Message::response_to(&sub, 200, "OK", Some("srv1")));
        let notify = |call_id: &str, to_tag: &str, from_tag: &str| {
            Message::request(Method::Notify, uri("sip:127.0.0.1:5000;transport=tls"))
                .with_header("From", &format!("<sip:alice@contoso.lab>;tag={from_tag}"))
                .with_header("To", &format!("<sip:alice@contoso.lab>;tag={to_tag}"))
                .with_header("Call-ID", call_id)
        };
        let call_id = d.call_id().to_string();
        let local = d.local_tag().to_string();
        assert!(d.owns(&notify(&call_id, &local, "srv1")));
        assert!(!d.owns(&notify(&call_id, &local, "other")));
        assert!(!d.owns(&notify(&call_id, "not-ours", "srv1")));
        assert!(!d.owns(&notify("another-call", &local, "srv1")));
    }
}
