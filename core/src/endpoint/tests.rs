//! The signed-in endpoint driven sans-I/O with a fake clock: a `FakePool` plays the front end, parses
//! every byte the endpoint writes and answers the way a Lync/SfB pool does (REFERENCE.md §3, §7, §8;
//! CLIENT-NOTES.md §4, §7, §8, §9). The server documents below are written from the shapes the lab
//! pool builds (`tests/lab/src/services/`: contactList/contactDelta, roamingData, the [MS-PRES]
//! 2.2.2.10.4 WrongDelta fault, the multipart/related rlmi NOTIFY); they are literals so that a change
//! in the lab cannot silently change what these tests assert.

use std::time::{Duration, Instant};

use super::commands::MAX_PUBLISH_ATTEMPTS;
use super::*;
use crate::presence::{Availability, Instances};
use crate::sip::{Host, Limits, StreamParser, parse_message};
use crate::xml::Document;

const AOR: &str = "sip:alice@contoso.lab";
const GRUU: &str = "sip:alice@contoso.lab;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu";
const EPID: &str = "01010101aa";
const SENT_BY: &str = "192.0.2.10:51234";
/// The tag the pool puts on every dialog it accepts.
const SERVER_TAG: &str = "srv7f3a";
/// Where the pool says in-dialog requests go (Contact of its 2xx).
const SERVER_CONTACT: &str = "<sip:pool01.contoso.lab:5061;transport=tls>";

const PROVISIONING: &str = "vnd-microsoft-provisioning-v2";
const CONTACTS: &str = "vnd-microsoft-roaming-contacts";
const SELF: &str = "vnd-microsoft-roaming-self";
const PRESENCE: &str = "presence";
const ALL_EVENTS: &[&str] = &[PROVISIONING, CONTACTS, SELF, PRESENCE];

/// A full list as the lab's `ContactStore::full_document` writes it (wire URIs without `sip:`).
const CONTACT_LIST: &str = "<contactList deltaNum=\"5\">\
    <group id=\"1\" name=\"~\" externalURI=\"\"/><group id=\"2\" name=\"Team\" externalURI=\"\"/>\
    <contact uri=\"bob@contoso.lab\" name=\"Bob\" groups=\"1 2\" subscribed=\"true\" externalURI=\"\"/>\
    <contact uri=\"carol@fabrikam.lab\" name=\"\" groups=\"1\" subscribed=\"true\" externalURI=\"\"/>\
    </contactList>";
const CONTACTS_CT: &str = "application/vnd-microsoft-roaming-contacts+xml";
const SELF_CT: &str = "application/vnd-microsoft-roaming-self+xml";
const PUBLISH_CT: &str = "application/msrtc-category-publish+xml";
const FAULT_CT: &str = "application/msrtc-fault+xml";
const SOAP_CT: &str = "application/SOAP+xml";

/// Our own publications as the pool holds them: the device (instance = first 8 hex digits of the epid,
/// 0x01010101) at version 4 and the machineState (instance (E>>4)|0x30000000 = 806359056) at 7 and 2.
const ROAMING_SELF: &str = "<roamingData xmlns=\"http://schemas.microsoft.com/2006/09/sip/roaming-self\">\
    <categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"sip:alice@contoso.lab\">\
    <category name=\"device\" instance=\"16843009\" publishTime=\"2026-11-22T06:00:00.000Z\" container=\"2\" version=\"4\" expireType=\"endpoint\">\
    <device xmlns=\"http://schemas.microsoft.com/2006/09/sip/device\" endpointId=\"0F0F0F0F-0000-5000-8000-000000000000\"><machineName>ws1</machineName></device></category>\
    <category name=\"state\" instance=\"806359056\" publishTime=\"2026-11-22T06:00:00.000Z\" container=\"2\" version=\"7\" expireType=\"endpoint\">\
    <state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" manual=\"false\" xsi:type=\"machineState\"><availability>3500</availability><endpointLocation/></state></category>\
    <category name=\"state\" instance=\"806359056\" publishTime=\"2026-11-22T06:00:00.000Z\" container=\"3\" version=\"2\" expireType=\"endpoint\">\
    <state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" manual=\"false\" xsi:type=\"machineState\"><availability>3500</availability><endpointLocation/></state></category>\
    </categories>\
    <containers xmlns=\"http://schemas.microsoft.com/2006/09/sip/containers\"><container id=\"200\" version=\"1\"><member type=\"sameEnterprise\"/></container></containers>\
    <subscribers xmlns=\"http://schemas.microsoft.com/2006/09/sip/presence-subscribers\"/></roamingData>";

const BOUNDARY: &str = "4f1c9a2e7b5d";

fn registration(allow_events: &[&str]) -> Registration {
    Registration {
        expires: 600,
        gruu: Some(GRUU.into()),
        keep_alive_timeout: Some(300),
        allow_events: allow_events.iter().map(|e| e.to_string()).collect(),
        supported: vec!["adhoclist".into(), "msrtc-event-categories".into()],
        presence_state: None,
        server: Some("RTC/6.0.9319.0".into()),
    }
}

fn config(allow_events: &[&str]) -> EndpointConfig {
    EndpointConfig {
        aor: Uri::parse(AOR).unwrap(),
        epid: Epid::parse(EPID).unwrap(),
        sent_by: SENT_BY.into(),
        registration: registration(allow_events),
        shared: crate::SharedResources::new(),
        register_params: RegisterParams {
            domain: "contoso.lab".into(),
            local_addr: SENT_BY.parse().unwrap(),
            ms_opaque: "d3470f2e1d".into(),
            user_agent: "sfbkit/test".into(),
            expires: None,
        },
        registrar: "pool01.contoso.lab".into(),
    }
}

/// The self subscriptions of one connection, as the endpoint sent them.
struct SelfSubs {
    contacts: Message,
    self_data: Message,
    /// The batched presence SUBSCRIBE the contact list triggered.
    presence: Message,
}

/// The front end, played by the test: it reads what the endpoint writes and answers.
struct FakePool {
    ep: Endpoint,
    start: Instant,
    now: Instant,
    /// Server → endpoint bytes go through the real stream parser.
    parser: StreamParser,
    /// Messages the endpoint wrote that the test has not taken yet, in order.
    sent: Vec<Message>,
    /// CRLF keep-alive bytes the endpoint wrote, with when (since start).
    keepalives: Vec<(Duration, Vec<u8>)>,
    events: Vec<Event>,
    completions: Vec<(CommandId, Result<CommandOutput, CommandError>)>,
    /// Answer every CRLF CRLF ping with a CRLF pong at once.
    answer_pings: bool,
    server_cseq: u32,
}

impl FakePool {
    fn new(allow_events: &[&str]) -> FakePool {
        FakePool::with_state(allow_events, EndpointState::default())
    }

    fn with_state(allow_events: &[&str], state: EndpointState) -> FakePool {
        let cfg = config(allow_events);
        let factory = RequestFactory::new(Host::Ipv4([192, 0, 2, 10].into()), 51234, cfg.aor.clone(), cfg.epid.clone());
        let start = Instant::now();
        let ep = Endpoint::new(cfg, factory, None, state, start);
        let mut pool = FakePool {
            ep,
            start,
            now: start,
            parser: StreamParser::new(Limits::default()),
            sent: Vec::new(),
            keepalives: Vec::new(),
            events: Vec::new(),
            completions: Vec::new(),
            answer_pings: false,
            server_cseq: 0,
        };
        pool.pump();
        pool
    }

    /// Takes everything the endpoint produced: bytes (parsed as SIP), events and completions.
    fn pump(&mut self) {
        while let Some(bytes) = self.ep.poll_transmit() {
            if bytes.iter().all(|b| *b == b'\r' || *b == b'\n') {
                self.keepalives.push((self.now - self.start, bytes));
            } else {
                let parsed = parse_message(&bytes, &Limits::default())
                    .unwrap_or_else(|e| panic!("the endpoint wrote an unparsable message ({e}):\n{}", lossy(&bytes)));
                assert_eq!(parsed.trailing, 0, "one message per write");
                self.sent.push(parsed.message);
            }
        }
        while let Some(e) = self.ep.poll_event() {
            self.events.push(e);
        }
        while let Some(c) = self.ep.poll_completion() {
            self.completions.push(c);
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Feeds server bytes through the stream parser into the endpoint.
    fn feed(&mut self, bytes: &[u8]) {
        self.parser.push(bytes).unwrap();
        while let Some(item) = self.parser.next_item().unwrap() {
            assert!(!matches!(item, StreamItem::Invalid { .. }), "the test sent an invalid message: {item:?}");
            self.ep.handle_item(item, self.now);
        }
        self.pump();
    }

    fn deliver(&mut self, m: Message) {
        self.feed(&m.to_bytes());
    }

    /// Moves the clock forward by `d`, running every timer that falls due on the way at its own time.
    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        for _ in 0..10_000 {
            match self.ep.poll_timeout() {
                Some(t) if t <= target => {
                    self.now = self.now.max(t);
                    let pings = self.keepalives.len();
                    self.ep.handle_timeout(self.now);
                    self.pump();
                    if self.answer_pings && self.keepalives.len() > pings {
                        self.feed(b"\r\n");
                    }
                }
                _ => {
                    self.now = target;
                    self.ep.handle_timeout(self.now);
                    self.pump();
                    return;
                }
            }
        }
        panic!("poll_timeout kept returning due timers");
    }

    fn command(&mut self, id: CommandId, command: Command) {
        self.ep.command(id, command, self.now);
        self.pump();
    }

    /// Removes and returns the first sent message matching `pred`.
    fn take(&mut self, what: &str, pred: impl Fn(&Message) -> bool) -> Message {
        match self.sent.iter().position(pred) {
            Some(i) => self.sent.remove(i),
            None => panic!("the endpoint sent no {what}; it sent: {:#?}", self.summary()),
        }
    }

    fn take_subscribe(&mut self, event: &str) -> Message {
        self.take(&format!("SUBSCRIBE Event: {event}"), |m| {
            m.method() == Some(&Method::Subscribe) && m.header("Event") == Some(event)
        })
    }

    fn take_request(&mut self, method: Method) -> Message {
        self.take(&method.to_string(), |m| m.method() == Some(&method))
    }

    fn take_response(&mut self) -> Message {
        self.take("response", |m| !m.is_request())
    }

    fn count_requests(&self, method: Method) -> usize {
        self.sent.iter().filter(|m| m.method() == Some(&method)).count()
    }

    fn assert_nothing_sent(&self) {
        assert!(self.sent.is_empty(), "expected nothing on the wire, got {:#?}", self.summary());
    }

    fn summary(&self) -> Vec<String> {
        self.sent
            .iter()
            .map(|m| match m.method() {
                Some(method) => format!("{method} Event={:?}", m.header("Event")),
                None => format!("{} {:?}", m.status().unwrap_or(0), m.header("CSeq")),
            })
            .collect()
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The pool's answer to `req`, with its tag on To.
    fn response(&self, req: &Message, code: u16, reason: &str) -> Message {
        Message::response_to(req, code, reason, Some(SERVER_TAG))
    }

    /// 200 OK to a SUBSCRIBE granting `expires` seconds, with a piggy-backed first NOTIFY body if given.
    fn accept_subscribe(&mut self, req: &Message, expires: u32, body: Option<(&str, &str)>) {
        let mut ok = self
            .response(req, 200, "OK")
            .with_header("Expires", &expires.to_string())
            .with_header("Contact", SERVER_CONTACT);
        if let Some((ct, b)) = body {
            // As a Front End sends it ([MS-SIP] 3.3.5.1): the NOTIFY's Event and subscription-state on the 200 OK.
            ok = ok
                .with_header("Event", req.header("Event").unwrap())
                .with_header("subscription-state", &format!("active;expires={expires}"))
                .with_header("ms-piggyback-cseq", "1")
                .with_body(ct, b.as_bytes().to_vec());
        }
        self.deliver(ok);
    }

    fn ok(&mut self, req: &Message) {
        let ok = self.response(req, 200, "OK");
        self.deliver(ok);
    }

    /// A request of the pool in the dialog `sub` created (NOTIFY or BENOTIFY).
    fn in_dialog(&mut self, sub: &Message, method: Method, body: Option<(&str, &str)>) -> Message {
        self.server_cseq += 1;
        let to = sub.to_header().unwrap();
        let mut m = self
            .server_request(method, &format!("<{}>;tag={SERVER_TAG}", to.uri), sub.header("From").unwrap())
            .with_header("Call-ID", sub.call_id().unwrap())
            .with_header("Event", sub.header("Event").unwrap())
            .with_header("Subscription-State", "active;expires=3600");
        if let Some((ct, b)) = body {
            m = m.with_body(ct, b.as_bytes().to_vec());
        }
        m
    }

    /// A request of the pool to our GRUU with Via, Max-Forwards, From, To and CSeq (no Call-ID).
    fn server_request(&mut self, method: Method, from: &str, to: &str) -> Message {
        self.server_cseq += 1;
        let cseq = self.server_cseq;
        Message::request(method.clone(), Uri::parse(GRUU).unwrap())
            .with_header("Via", &format!("SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bKpool{cseq}"))
            .with_header("Max-Forwards", "70")
            .with_header("From", from)
            .with_header("To", to)
            .with_header("CSeq", &format!("{cseq} {method}"))
    }

    /// Answers the first SUBSCRIBEs the way the lab pool does: provisioning (one-shot, no body here), the
    /// contact list and roaming-self piggy-backed, then the batched presence subscription; and the
    /// initial publication. Returns the subscriptions that stay.
    fn sign_in(&mut self, contact_list: &str) -> SelfSubs {
        let prov = self.take_subscribe(PROVISIONING);
        self.accept_subscribe(&prov, 0, None);
        let contacts = self.take_subscribe(CONTACTS);
        self.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, contact_list)));
        let self_data = self.take_subscribe(SELF);
        self.accept_subscribe(&self_data, 3600, Some((SELF_CT, ROAMING_SELF)));
        let presence = self.take_subscribe(PRESENCE);
        self.accept_subscribe(&presence, 3600, None);
        let publish = self.take_request(Method::Service);
        self.ok(&publish);
        self.assert_nothing_sent();
        self.events.clear();
        SelfSubs { contacts, self_data, presence }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn header_values(m: &Message, name: &str) -> Vec<String> {
    m.headers.get_all(name).map(|h| h.value().to_string()).collect()
}

fn body(m: &Message) -> String {
    lossy(&m.body)
}

/// `resource/@uri` of a batched presence SUBSCRIBE body.
fn batch_resources(m: &Message) -> Vec<String> {
    let doc = Document::parse(&m.body).unwrap();
    assert_eq!(doc.root.name, "batchSub", "{}", body(m));
    doc.root.descendants("resource").iter().filter_map(|r| r.attr("uri")).map(str::to_string).collect()
}

/// One `publication` of a publish body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pub {
    category: String,
    instance: u32,
    container: u32,
    version: u32,
    /// `expires="0"`: a deletion.
    deleted: bool,
}

fn publications(m: &Message) -> Vec<Pub> {
    assert_eq!(m.content_type(), Some(PUBLISH_CT));
    let doc = Document::parse(&m.body).unwrap();
    doc.root
        .descendants("publication")
        .iter()
        .map(|p| Pub {
            category: p.attr("categoryName").unwrap().to_string(),
            instance: p.attr("instance").unwrap().parse().unwrap(),
            container: p.attr("container").unwrap().parse().unwrap(),
            version: p.attr("version").unwrap().parse().unwrap(),
            deleted: p.attr("expires") == Some("0"),
        })
        .collect()
}

/// A `multipart/related` rlmi presence body: the list, then one categories part per `(cid, document)`.
fn rlmi_notify(resources: &str, parts: &[(&str, &str)]) -> (String, String) {
    let list = format!(
        "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"{AOR}\" version=\"1\" fullState=\"false\">{resources}</list>"
    );
    let part = |cid: &str, ct: &str, doc: &str| {
        format!(
            "--{BOUNDARY}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {cid}\r\nContent-Type: {ct}\r\n\r\n{doc}\r\n"
        )
    };
    let mut out = part("resourceList", "application/rlmi+xml", &list);
    for (cid, doc) in parts {
        out.push_str(&part(cid, "application/msrtc-event-categories+xml", doc));
    }
    out.push_str(&format!("--{BOUNDARY}--\r\n"));
    (format!("multipart/related; type=\"application/rlmi+xml\"; start=resourceList; boundary={BOUNDARY}"), out)
}

const BOB_BUSY: &str = "<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"sip:bob@contoso.lab\">\
    <category name=\"state\" instance=\"0\" publishTime=\"2026-11-22T06:01:00.000Z\" container=\"200\" version=\"3\" expireType=\"static\">\
    <state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"aggregateState\"><availability>6500</availability><endpointLocation/></state></category>\
    <category name=\"note\" instance=\"0\" publishTime=\"2026-11-22T05:00:00.000Z\" container=\"200\" version=\"1\" expireType=\"static\">\
    <note xmlns=\"http://schemas.microsoft.com/2006/09/sip/note\"><body type=\"personal\" uri=\"\">In the lab all day</body></note></category>\
    </categories>";

fn wrong_delta(index: u32, cur_version: u32) -> String {
    format!(
        "<Fault><Faultcode>Client.BadCall.WrongDelta</Faultcode><details>\
         <operation index=\"{index}\" version=\"0\" curVersion=\"{cur_version}\"></operation></details></Fault>"
    )
}

// 1. The self subscriptions after REGISTER.

#[test]
fn new_endpoint_subscribes_to_provisioning_contacts_and_self_with_lync_headers() {
    let mut pool = FakePool::new(ALL_EVENTS);
    assert_eq!(pool.events[0], Event::Registered { registrar: "pool01.contoso.lab".into(), expires_s: 600 });
    let common = ["com.microsoft.autoextend", "ms-benotify", "ms-piggyback-first-notify"];
    let check_common = |m: &Message, event: &str, accept: &str| {
        assert_eq!(m.request_uri().unwrap().as_str(), AOR, "{event}: to self");
        assert_eq!(m.to_header().unwrap().uri.as_str(), AOR);
        assert!(m.to_header().unwrap().tag().is_none(), "{event}: a new dialog has no To tag");
        assert!(m.header("From").unwrap().contains(&format!(";epid={EPID}")), "{event}: From carries the epid");
        assert_eq!(m.header("Event"), Some(event));
        assert_eq!(m.header("Accept"), Some(accept), "{event}");
        assert_eq!(m.header("Contact"), Some(format!("<{GRUU}>").as_str()), "{event}: Contact is the GRUU");
        assert_eq!(m.header("Proxy-Require"), Some("ms-benotify"), "{event}");
        let supported = header_values(m, "Supported");
        for s in common {
            assert!(supported.iter().any(|v| v == s), "{event}: Supported {s} missing from {supported:?}");
        }
        supported
    };

    let prov = pool.take_subscribe(PROVISIONING);
    let supported = check_common(&prov, PROVISIONING, "application/vnd-microsoft-roaming-provisioning-v2+xml");
    assert!(!supported.iter().any(|s| s == "ms-ucs"));
    assert_eq!(prov.header("Expires"), Some("0"), "provisioning-v2 is one-shot");
    assert_eq!(prov.content_type(), Some("application/vnd-microsoft-roaming-provisioning-v2+xml"));
    let doc = Document::parse(&prov.body).unwrap();
    assert_eq!(doc.root.name, "provisioningGroupList");
    let groups: Vec<&str> = doc.root.children_named("provisioningGroup").filter_map(|g| g.attr("name")).collect();
    assert!(groups.contains(&"ServerConfiguration") && groups.contains(&"ucPolicy"), "{groups:?}");

    let contacts = pool.take_subscribe(CONTACTS);
    let supported = check_common(&contacts, CONTACTS, CONTACTS_CT);
    assert!(supported.iter().any(|s| s == "ms-ucs"), "Lync 2013 announces ms-ucs: {supported:?}");
    assert_eq!(contacts.header("Expires"), None);
    assert!(contacts.body.is_empty());

    let self_data = pool.take_subscribe(SELF);
    check_common(&self_data, SELF, SELF_CT);
    assert_eq!(self_data.content_type(), Some(SELF_CT));
    let doc = Document::parse(&self_data.body).unwrap();
    assert_eq!(doc.root.name, "roamingList");
    let types: Vec<&str> = doc.root.children_named("roaming").filter_map(|r| r.attr("type")).collect();
    assert_eq!(types, ["categories", "containers", "subscribers"]);

    // Three separate dialogs; no publication before roaming-self told us our versions.
    let call_ids = [prov.call_id(), contacts.call_id(), self_data.call_id()];
    assert!(call_ids[0] != call_ids[1] && call_ids[1] != call_ids[2] && call_ids[0] != call_ids[2]);
    pool.assert_nothing_sent();
}

#[test]
fn no_roaming_self_subscription_when_the_pool_does_not_offer_it() {
    let mut pool = FakePool::new(&[PROVISIONING, CONTACTS, PRESENCE]);
    pool.take_subscribe(PROVISIONING);
    pool.take_subscribe(CONTACTS);
    assert!(
        !pool.sent.iter().any(|m| m.header("Event") == Some(SELF)),
        "roaming-self is not in Allow-Events: {:?}",
        pool.summary()
    );
    // Without roaming-self nothing will tell us the versions: the endpoint publishes at once from 0.
    let publish = pool.take_request(Method::Service);
    assert!(publications(&publish).iter().all(|p| p.version == 0 && !p.deleted));
    pool.assert_nothing_sent();
}

// 2. Piggy-backed first notifications.

#[test]
fn a_subscribe_answer_is_a_notification_only_with_its_own_event_and_the_piggyback_mark() {
    // pidgin-sipe reads a 200 OK to SUBSCRIBE as the first NOTIFY only when it carries `ms-piggyback-cseq`, and routes
    // it by the response's own `Event` (sipe-subscriptions.c process_subscribe_response, sipe-notify.c
    // process_incoming_notify); a real Front End sends both ([MS-SIP] 3.3.5.1). A body without them is ignored.
    let variants: [(&str, Option<&str>, bool); 4] = [
        ("no Event", None, true),
        ("another Event", Some(SELF), true),
        ("no ms-piggyback-cseq", Some(CONTACTS), false),
        ("as a Front End sends it", Some(CONTACTS), true),
    ];
    for (what, event, mark) in variants {
        let mut pool = FakePool::new(ALL_EVENTS);
        let prov = pool.take_subscribe(PROVISIONING);
        pool.accept_subscribe(&prov, 0, None);
        let contacts = pool.take_subscribe(CONTACTS);
        let mut ok = pool
            .response(&contacts, 200, "OK")
            .with_header("Expires", "3600")
            .with_header("Contact", SERVER_CONTACT)
            .with_header("subscription-state", "active;expires=3600");
        if let Some(e) = event {
            ok = ok.with_header("Event", e);
        }
        if mark {
            ok = ok.with_header("ms-piggyback-cseq", "1");
        }
        pool.deliver(ok.with_body(CONTACTS_CT, CONTACT_LIST.as_bytes().to_vec()));
        let added = pool.take_events().into_iter().filter(|e| matches!(e, Event::ContactAdded { .. })).count();
        let expected = if what == "as a Front End sends it" { 2 } else { 0 };
        assert_eq!(added, expected, "{what}");
    }
}

#[test]
fn a_terminated_subscription_is_forgotten() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    let ok = pool
        .response(&contacts, 200, "OK")
        .with_header("Expires", "3600")
        .with_header("Contact", SERVER_CONTACT)
        .with_header("subscription-state", "terminated;reason=rejected");
    pool.deliver(ok);
    // No refresh is ever sent for it: nothing is due even an hour later.
    pool.advance(Duration::from_secs(3700));
    assert!(
        !pool.sent.iter().any(|m| m.header("Event") == Some(CONTACTS) && m.call_id() == contacts.call_id()),
        "{:?}",
        pool.summary()
    );
}

#[test]
fn piggybacked_contact_list_and_roaming_self_drive_presence_subscription_and_initial_publication() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, CONTACT_LIST)));

    let added: Vec<String> = pool
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::ContactAdded { contact } => Some(contact.uri),
            _ => None,
        })
        .collect();
    assert_eq!(added, ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab"]);

    assert_eq!(
        pool.sent.iter().filter(|m| m.header("Event") == Some(PRESENCE)).count(),
        1,
        "ONE batched subscription for all contacts: {:?}",
        pool.summary()
    );
    let presence = pool.take_subscribe(PRESENCE);
    assert_eq!(presence.request_uri().unwrap().as_str(), AOR, "the batch goes to self");
    assert_eq!(presence.header("Require"), Some("adhoclist, categoryList"));
    assert_eq!(presence.content_type(), Some("application/msrtc-adrl-categorylist+xml"));
    assert!(header_values(&presence, "Supported").iter().any(|s| s == "eventlist"));
    assert_eq!(batch_resources(&presence), ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab"]);
    let doc = Document::parse(&presence.body).unwrap();
    let categories: Vec<&str> =
        doc.root.descendants("category").iter().filter_map(|c| c.attr("name")).collect::<Vec<_>>();
    for c in ["state", "note", "contactCard"] {
        assert!(categories.contains(&c), "category {c} missing from {categories:?}");
    }
    assert!(!pool.sent.iter().any(|m| m.method() == Some(&Method::Service)), "no publication before roaming-self");

    let self_data = pool.take_subscribe(SELF);
    pool.accept_subscribe(&self_data, 3600, Some((SELF_CT, ROAMING_SELF)));
    let publish = pool.take_request(Method::Service);
    assert_eq!(publish.request_uri().unwrap().as_str(), AOR);
    assert_eq!(publish.header("Contact"), Some(format!("<{GRUU}>").as_str()));
    let inst = Instances::from_epid(&Epid::parse(EPID).unwrap());
    assert_eq!((inst.device, inst.machine_state), (16843009, 806359056), "the fixture's instances");
    let pubs = publications(&publish);
    let expected = vec![
        Pub { category: "device".into(), instance: inst.device, container: 2, version: 4, deleted: false },
        Pub { category: "state".into(), instance: inst.machine_state, container: 2, version: 7, deleted: false },
        Pub { category: "state".into(), instance: inst.machine_state, container: 3, version: 2, deleted: false },
    ];
    assert_eq!(pubs, expected, "device + machineState at the versions roaming-self gave");
    assert!(body(&publish).contains("<availability>3500</availability>"), "machine state online");
    pool.assert_nothing_sent();
}

#[test]
fn a_watched_person_joins_the_batched_presence_subscription_and_leaves_it() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    pool.command(21, Command::WatchPresence { uri: "sip:dave@contoso.lab".into() });
    let refresh = pool.take_subscribe(PRESENCE);
    assert_eq!(refresh.header("Call-ID"), subs.presence.header("Call-ID"), "a refresh of the same dialog");
    assert_eq!(batch_resources(&refresh), ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab", "sip:dave@contoso.lab"]);
    assert_eq!(pool.completions, vec![(21, Ok(CommandOutput::Done))]);
    pool.accept_subscribe(&refresh, 3600, None);
    // Watching a contact, or someone watched already, changes nothing.
    pool.command(22, Command::WatchPresence { uri: "sip:BOB@contoso.lab".into() });
    pool.command(23, Command::WatchPresence { uri: "sip:dave@contoso.lab".into() });
    pool.assert_nothing_sent();
    pool.command(24, Command::UnwatchPresence { uri: "sip:dave@contoso.lab".into() });
    let refresh = pool.take_subscribe(PRESENCE);
    assert_eq!(batch_resources(&refresh), ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab"]);
    assert_eq!(pool.completions.len(), 4);
}

// 3. Publication version conflicts.

#[test]
fn a_409_wrong_delta_is_resolved_by_republishing_with_the_servers_version() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.command(11, Command::SetPresence { availability: Availability::Busy, activity: None });
    let first = pool.take_request(Method::Service);
    let pubs = publications(&first);
    assert_eq!(pubs.len(), 2, "userState in containers 2 and 3: {pubs:?}");
    assert!(pubs.iter().all(|p| p.instance == Instances::USER_STATE && p.version == 0));
    assert_eq!((pubs[0].container, pubs[1].container), (2, 3));

    // Another endpoint of Alice published the container-3 userState meanwhile.
    let conflict = pool.response(&first, 409, "Conflict").with_body(FAULT_CT, wrong_delta(2, 7));
    pool.deliver(conflict);
    assert!(pool.completions.is_empty(), "the command is not done after a conflict");
    let second = pool.take_request(Method::Service);
    let pubs = publications(&second);
    assert_eq!((pubs[0].container, pubs[0].version), (2, 0), "untouched publication keeps its version");
    assert_eq!((pubs[1].container, pubs[1].version), (3, 7), "the conflicting one adopts curVersion");
    assert!(body(&second).contains("<availability>6500</availability>"));

    pool.ok(&second);
    assert_eq!(pool.completions, vec![(11, Ok(CommandOutput::Done))]);
    assert!(pool.events.contains(&Event::PresencePublished { categories: vec!["state".into()] }), "{:?}", pool.events);
    pool.assert_nothing_sent();
}

#[test]
fn persistent_conflicts_fail_the_command_after_max_publish_attempts() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.command(12, Command::SetNote { text: Some("Gone fishing".into()) });
    for attempt in 1..=MAX_PUBLISH_ATTEMPTS {
        let publish = pool.take_request(Method::Service);
        let pubs = publications(&publish);
        assert_eq!(pubs.iter().map(|p| p.container).collect::<Vec<_>>(), [200, 300, 400], "attempt {attempt}");
        assert!(pubs.iter().all(|p| p.category == "note"));
        assert_eq!(pubs[0].version, u32::from(attempt) - 1, "attempt {attempt} carries the last curVersion");
        assert!(pool.completions.is_empty());
        let conflict = pool.response(&publish, 409, "Conflict").with_body(FAULT_CT, wrong_delta(1, u32::from(attempt)));
        pool.deliver(conflict);
    }
    assert_eq!(pool.completions, vec![(12, Err(CommandError::PublicationConflict(MAX_PUBLISH_ATTEMPTS)))]);
    assert_eq!(pool.count_requests(Method::Service), 0, "no attempt after the last: {:?}", pool.summary());
    assert!(!pool.events.iter().any(|e| matches!(e, Event::PresencePublished { .. })));
}

// 4. Deregistration NOTIFYs.

fn deregistration_notify(pool: &mut FakePool, event: &str, extra: &[(&str, &str)]) -> Message {
    let mut m = pool
        .server_request(Method::Notify, "<sip:alice@contoso.lab>;tag=reg81", "<sip:alice@contoso.lab>;tag=1a2b3c")
        .with_header("Call-ID", "registration-call-9")
        .with_header("Event", "registration-notify")
        .with_header("subscription-state", "terminated;expires=0");
    for (name, value) in extra {
        m = m.with_header(name, value);
    }
    m.with_body("text/registration-event", format!("deregistered;event={event}").into_bytes())
}

/// One deregistration NOTIFY and what it must produce.
struct Dereg {
    event: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    reason: DeregistrationReason,
    diagnostics: Option<(u32, &'static str)>,
    reconnecting: bool,
}

#[test]
fn every_deregistration_reason_is_answered_reported_and_closes_the_endpoint() {
    let plain = |event, reason, reconnecting| Dereg { event, headers: vec![], reason, diagnostics: None, reconnecting };
    let cases = vec![
        plain("unregistered", DeregistrationReason::Unregistered, false),
        Dereg {
            event: "rejected",
            headers: vec![("ms-diagnostics-public", "4141;reason=\"User disabled\"")],
            reason: DeregistrationReason::Rejected,
            diagnostics: Some((4141, "User disabled")),
            reconnecting: false,
        },
        plain("deactivated", DeregistrationReason::Deactivated, true),
        Dereg {
            event: "preferred-registrar-change",
            headers: vec![("P-Preferred-Registrar", "pool02.contoso.lab")],
            reason: DeregistrationReason::PreferredRegistrarChange { registrar: Some("pool02.contoso.lab".into()) },
            diagnostics: None,
            reconnecting: true,
        },
    ];
    for Dereg { event, headers: extra, reason, diagnostics, reconnecting } in cases {
        let (code, diag_reason) = (diagnostics.map(|d| d.0), diagnostics.map(|d| d.1));
        let mut pool = FakePool::new(ALL_EVENTS);
        pool.sign_in(CONTACT_LIST);
        let notify = deregistration_notify(&mut pool, event, &extra);
        pool.deliver(notify.clone());
        let ok = pool.take_response();
        assert_eq!(ok.status(), Some(200), "{event}");
        assert_eq!(ok.call_id(), notify.call_id(), "{event}");
        assert_eq!(ok.header("CSeq"), notify.header("CSeq"), "{event}");
        assert_eq!(
            pool.events,
            vec![Event::Deregistered {
                reason: reason.clone(),
                diagnostics_code: code,
                diagnostics_reason: diag_reason.map(str::to_string),
                reconnecting,
            }],
            "{event}"
        );
        assert_eq!(pool.ep.closed(), Some(&Closed::Deregistered(reason)), "{event}");
        assert_eq!(pool.ep.poll_timeout(), None, "{event}: a closed endpoint has no timers");
        pool.assert_nothing_sent();
    }
}

// 5. Requests from the server outside our subscriptions.

#[test]
fn stray_notify_benotify_options_and_invite_get_the_right_answers() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);

    // A NOTIFY for a dialog we do not have.
    let stray = pool
        .server_request(Method::Notify, "<sip:alice@contoso.lab>;tag=zz1", "<sip:alice@contoso.lab>;tag=notours")
        .with_header("Call-ID", "no-such-dialog")
        .with_header("Event", PRESENCE)
        .with_header("Subscription-State", "active;expires=3600");
    pool.deliver(stray);
    assert_eq!(pool.take_response().status(), Some(481));

    // BENOTIFY: applied, never answered ([MS-SIP] 4.4).
    let delta = "<contactDelta deltaNum=\"6\"><addedGroup id=\"3\" name=\"Lab\" externalURI=\"\"/></contactDelta>";
    let benotify = pool.in_dialog(&subs.contacts, Method::Benotify, Some((CONTACTS_CT, delta)));
    pool.deliver(benotify);
    pool.assert_nothing_sent();
    assert!(
        pool.take_events()
            .iter()
            .any(|e| matches!(e, Event::GroupAdded { group } if group.id == 3 && group.name == "Lab")),
        "the BENOTIFY's delta was applied"
    );
    assert_eq!(pool.ep.state.contacts.delta_num, 6);

    // The same document as NOTIFY is answered.
    let delta7 = "<contactDelta deltaNum=\"7\"><deletedGroup id=\"3\"/></contactDelta>";
    let notify = pool.in_dialog(&subs.contacts, Method::Notify, Some((CONTACTS_CT, delta7)));
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    assert!(pool.take_events().iter().any(|e| matches!(e, Event::GroupRemoved { id: 3, .. })));

    let options = pool
        .server_request(Method::Options, "<sip:bob@contoso.lab>;tag=b0b", "<sip:alice@contoso.lab>")
        .with_header("Call-ID", "options-1");
    pool.deliver(options);
    let ok = pool.take_response();
    assert_eq!(ok.status(), Some(200));
    assert!(ok.to_header().unwrap().tag().is_some(), "the 200 to OPTIONS carries our tag");

    let invite = pool
        .server_request(Method::Invite, "<sip:bob@contoso.lab>;tag=b0b2", "<sip:alice@contoso.lab>")
        .with_header("Call-ID", "invite-1")
        .with_header("Contact", "<sip:bob@192.0.2.77:5061;transport=tls>");
    pool.deliver(invite);
    assert_eq!(pool.take_response().status(), Some(501));
    pool.assert_nothing_sent();
    assert_eq!(pool.ep.closed(), None);
}

// 6. Timers.

#[test]
fn registration_is_refreshed_thirty_seconds_before_it_expires() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.answer_pings = true;
    pool.advance(Duration::from_secs(569));
    assert_eq!(pool.count_requests(Method::Register), 0, "not before expires - 30 s");
    assert!(pool.keepalives.len() >= 2, "kept alive meanwhile: {:?}", pool.keepalives);
    assert_eq!(pool.ep.closed(), None);

    pool.advance(Duration::from_secs(1));
    let register = pool.take_request(Method::Register);
    assert_eq!(pool.elapsed(), Duration::from_secs(570));
    assert_eq!(register.request_uri().unwrap().as_str(), "sip:contoso.lab");
    assert_eq!(register.header("Event"), Some("registration"));
    assert_eq!(register.header("Expires"), None, "a refresh lets the registrar choose");
    assert!(register.header("Contact").unwrap().contains("+sip.instance="));
    pool.assert_nothing_sent();

    let ok = pool.response(&register, 200, "OK").with_header("Expires", "600");
    pool.deliver(ok);
    assert!(pool.take_events().contains(&Event::RegistrationRefreshed { expires_s: 600 }));
    assert_eq!(pool.ep.closed(), None);

    // The next refresh is 570 s after this one, in the same Call-ID with the next CSeq.
    pool.advance(Duration::from_secs(569));
    assert_eq!(pool.count_requests(Method::Register), 0);
    pool.advance(Duration::from_secs(1));
    let again = pool.take_request(Method::Register);
    assert_eq!(again.call_id(), register.call_id());
    assert_eq!(again.cseq().unwrap().seq, register.cseq().unwrap().seq + 1);
}

#[test]
fn a_refused_registration_refresh_closes_the_endpoint() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.answer_pings = true;
    pool.advance(Duration::from_secs(570));
    let register = pool.take_request(Method::Register);
    let refused = pool.response(&register, 401, "Unauthorized").with_header("ms-diagnostics", "1000;reason=\"x\"");
    pool.deliver(refused);
    assert_eq!(pool.ep.closed(), Some(&Closed::RefreshRefused { code: 401, diagnostics: Some(1000) }));
}

#[test]
fn keep_alive_after_ninety_percent_of_the_timeout_and_a_missing_pong_kills_the_connection() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.advance(Duration::from_secs(269));
    assert!(pool.keepalives.is_empty(), "idle for less than 270 s: {:?}", pool.keepalives);
    pool.advance(Duration::from_secs(1));
    assert_eq!(pool.keepalives, vec![(Duration::from_secs(270), b"\r\n\r\n".to_vec())]);
    pool.assert_nothing_sent();

    // A pong within PONG_TIMEOUT clears the deadline.
    pool.advance(Duration::from_secs(5));
    pool.feed(b"\r\n");
    pool.advance(PONG_TIMEOUT + Duration::from_secs(5));
    assert_eq!(pool.ep.closed(), None, "the pong arrived in time");
    assert_eq!(pool.keepalives.len(), 1);

    // The next ping 270 s after the last one; this time nobody answers.
    pool.advance(Duration::from_secs(540) - pool.elapsed());
    assert_eq!(pool.keepalives.len(), 2);
    assert_eq!(pool.keepalives[1].0, Duration::from_secs(540));
    pool.advance(PONG_TIMEOUT - Duration::from_millis(1));
    assert_eq!(pool.ep.closed(), None);
    pool.advance(Duration::from_millis(1));
    assert!(matches!(pool.ep.closed(), Some(Closed::ConnectionDead(_))), "{:?}", pool.ep.closed());
    assert_eq!(pool.ep.poll_timeout(), None);
}

#[test]
fn sending_a_request_postpones_the_keep_alive() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.advance(Duration::from_secs(200));
    pool.command(1, Command::SetNote { text: Some("busy".into()) });
    let publish = pool.take_request(Method::Service);
    pool.ok(&publish);
    pool.advance(Duration::from_secs(269));
    assert!(pool.keepalives.is_empty(), "{:?}", pool.keepalives);
    pool.advance(Duration::from_secs(1));
    assert_eq!(pool.keepalives.len(), 1);
    assert_eq!(pool.keepalives[0].0, Duration::from_secs(470));
}

#[test]
fn subscriptions_are_refreshed_in_their_dialog_120_seconds_before_they_expire() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    // Granted 300 s: refresh at 180 s (before the first keep-alive at 270 s).
    pool.accept_subscribe(&contacts, 300, Some((CONTACTS_CT, CONTACT_LIST)));
    let presence = pool.take_subscribe(PRESENCE);
    pool.accept_subscribe(&presence, 3600, None);
    let self_data = pool.take_subscribe(SELF);
    pool.accept_subscribe(&self_data, 3600, Some((SELF_CT, ROAMING_SELF)));
    let publish = pool.take_request(Method::Service);
    pool.ok(&publish);
    pool.assert_nothing_sent();

    pool.advance(Duration::from_secs(179));
    pool.assert_nothing_sent();
    pool.advance(Duration::from_secs(1));
    let refresh = pool.take_subscribe(CONTACTS);
    pool.assert_nothing_sent();
    assert_eq!(refresh.call_id(), contacts.call_id(), "same dialog");
    assert_eq!(refresh.cseq().unwrap().seq, contacts.cseq().unwrap().seq + 1);
    assert_eq!(refresh.to_header().unwrap().tag().as_deref(), Some(SERVER_TAG), "To carries the server's tag");
    assert_eq!(refresh.from_header().unwrap().tag(), contacts.from_header().unwrap().tag(), "From keeps our tag");
    assert_eq!(
        refresh.request_uri().unwrap().as_str(),
        "sip:pool01.contoso.lab:5061;transport=tls",
        "in-dialog requests go to the server's Contact"
    );
    assert!(header_values(&refresh, "Supported").iter().any(|s| s == "ms-ucs"));

    // Its 200 re-arms the timer from the new grant.
    pool.accept_subscribe(&refresh, 300, None);
    pool.answer_pings = true;
    pool.advance(Duration::from_secs(179));
    assert_eq!(pool.count_requests(Method::Subscribe), 0);
    pool.advance(Duration::from_secs(1));
    let second = pool.take_subscribe(CONTACTS);
    assert_eq!(second.cseq().unwrap().seq, refresh.cseq().unwrap().seq + 1);
}

// 7. Presence of contacts.

#[test]
fn presence_notify_raises_presence_and_note_events_and_resubscribe_goes_to_the_pool_named() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    let bob_active = "<resource uri=\"sip:bob@contoso.lab\"><instance id=\"0\" state=\"active\" cid=\"bob@contoso.lab\"/></resource>";
    let (ct, doc) = rlmi_notify(bob_active, &[("bob@contoso.lab", BOB_BUSY)]);
    let notify = pool.in_dialog(&subs.presence, Method::Notify, Some((&ct, &doc)));
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    let events = pool.take_events();
    assert_eq!(events.len(), 2, "{events:#?}");
    match &events[0] {
        Event::PresenceChanged { presence } => {
            assert_eq!(presence.uri, "sip:bob@contoso.lab");
            assert_eq!(presence.availability, Some(Availability::Busy));
            assert_eq!(presence.availability_value, Some(6500));
        }
        other => panic!("expected PresenceChanged, got {other:?}"),
    }
    assert_eq!(
        events[1],
        Event::NoteChanged { uri: "sip:bob@contoso.lab".into(), note: Some("In the lab all day".into()) }
    );
    pool.assert_nothing_sent();

    // The same again changes nothing.
    let notify = pool.in_dialog(&subs.presence, Method::Notify, Some((&ct, &doc)));
    pool.deliver(notify);
    pool.take_response();
    assert!(pool.take_events().is_empty());

    // Carol is served by another pool: subscribe to her there (MS-PRES 3.4.5.1.3).
    let carol = "<resource uri=\"sip:carol@fabrikam.lab\"><instance id=\"1\" state=\"resubscribe\" poolFqdn=\"pool2.contoso.lab\"/></resource>";
    let (ct, doc) = rlmi_notify(carol, &[]);
    let notify = pool.in_dialog(&subs.presence, Method::Notify, Some((&ct, &doc)));
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    let resub = pool.take_subscribe(PRESENCE);
    assert_eq!(resub.request_uri().unwrap().as_str(), "sip:pool2.contoso.lab");
    assert_eq!(resub.to_header().unwrap().uri.as_str(), "sip:pool2.contoso.lab");
    assert_ne!(resub.call_id(), subs.presence.call_id(), "a new dialog");
    assert_eq!(resub.header("Require"), Some("adhoclist, categoryList"));
    assert_eq!(batch_resources(&resub), ["sip:carol@fabrikam.lab"]);
    pool.assert_nothing_sent();
}

// 8. Contact list changes.

#[test]
fn add_contact_sends_set_contact_with_the_lists_delta_num_and_the_delta_updates_presence() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    assert_eq!(pool.ep.state.contacts.request_delta_num(), 5);
    pool.command(
        21,
        Command::AddContact { uri: "sip:dave@contoso.lab".into(), name: "Dave".into(), group_ids: vec![2] },
    );
    let service = pool.take_request(Method::Service);
    assert_eq!(service.request_uri().unwrap().as_str(), AOR);
    assert_eq!(service.content_type(), Some(SOAP_CT));
    let doc = Document::parse(&service.body).unwrap();
    let set = doc.root.descendants("setContact");
    assert_eq!(set.len(), 1, "{}", body(&service));
    assert_eq!(set[0].child_text("deltaNum"), Some("5"), "deltaNum = the list's current one");
    assert_eq!(set[0].child_text("groups"), Some("2"));
    assert!(set[0].child_text("URI").is_some_and(|u| u.contains("dave@contoso.lab")), "{}", body(&service));
    assert!(pool.completions.is_empty());

    pool.ok(&service);
    assert_eq!(pool.completions, vec![(21, Ok(CommandOutput::Done))]);
    pool.assert_nothing_sent();

    // The server confirms with a contactDelta NOTIFY.
    let delta = "<contactDelta deltaNum=\"6\"><addedContact uri=\"dave@contoso.lab\" name=\"Dave\" groups=\"2\" subscribed=\"true\" externalURI=\"\"/></contactDelta>";
    let notify = pool.in_dialog(&subs.contacts, Method::Notify, Some((CONTACTS_CT, delta)));
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    let events = pool.take_events();
    assert!(
        events.iter().any(|e| matches!(e, Event::ContactAdded { contact } if contact.uri == "sip:dave@contoso.lab" && contact.groups == [2])),
        "{events:?}"
    );
    let refresh = pool.take_subscribe(PRESENCE);
    assert_eq!(refresh.call_id(), subs.presence.call_id(), "the batch is refreshed in its dialog");
    assert_eq!(refresh.cseq().unwrap().seq, subs.presence.cseq().unwrap().seq + 1);
    assert_eq!(refresh.to_header().unwrap().tag().as_deref(), Some(SERVER_TAG));
    assert_eq!(batch_resources(&refresh), ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab", "sip:dave@contoso.lab"]);
    pool.assert_nothing_sent();
    assert_eq!(pool.ep.state.contacts.request_delta_num(), 6);
}

#[test]
fn a_ucs_migrated_list_reports_contacts_in_exchange_and_refuses_changes() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    let migrated =
        "<contactList deltaNum=\"3\" ucsmode=\"migrated\"><group id=\"1\" name=\"~\" externalURI=\"\"/></contactList>";
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, migrated)));
    assert!(pool.take_events().contains(&Event::ContactsInExchange));
    pool.take_subscribe(SELF);
    pool.assert_nothing_sent();

    pool.command(
        22,
        Command::AddContact { uri: "sip:dave@contoso.lab".into(), name: String::new(), group_ids: vec![1] },
    );
    assert_eq!(pool.completions, vec![(22, Err(CommandError::ContactsInExchange))]);
    pool.assert_nothing_sent();
}

#[test]
fn a_488_to_roaming_contacts_means_the_list_is_in_exchange() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let contacts = pool.take_subscribe(CONTACTS);
    // A change asked for before the list arrived waits for it, and fails when it cannot come.
    pool.command(23, Command::RemoveContact { uri: "sip:bob@contoso.lab".into() });
    assert_eq!(pool.count_requests(Method::Service), 0);
    let refused = pool.response(&contacts, 488, "Not Acceptable Here");
    pool.deliver(refused);
    assert!(pool.take_events().contains(&Event::ContactsInExchange));
    assert_eq!(pool.completions, vec![(23, Err(CommandError::ContactsInExchange))]);
    assert_eq!(pool.count_requests(Method::Service), 0);
}

// 9. Sign-out.

/// Signs in, then asks to sign out; returns the requests sign-out sent.
fn signing_out(pool: &mut FakePool) -> (SelfSubs, Message, Vec<Message>, Message) {
    let subs = pool.sign_in(CONTACT_LIST);
    pool.command(7, Command::SignOut);
    let unpublish = pool.take_request(Method::Service);
    let mut unsubscribes = Vec::new();
    while pool.count_requests(Method::Subscribe) > 0 {
        unsubscribes.push(pool.take_request(Method::Subscribe));
    }
    let unregister = pool.take_request(Method::Register);
    pool.assert_nothing_sent();
    (subs, unpublish, unsubscribes, unregister)
}

#[test]
fn sign_out_unpublishes_unsubscribes_and_unregisters() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let (subs, unpublish, unsubscribes, unregister) = signing_out(&mut pool);

    let pubs = publications(&unpublish);
    assert_eq!(pubs.len(), 3, "device and both machineStates: {pubs:?}");
    assert!(pubs.iter().all(|p| p.deleted), "every publication deleted (expires=\"0\"): {}", body(&unpublish));
    assert_eq!(pubs[0].version, 5, "at the version the server holds after our publish (4 + 1)");

    // One unsubscribe per confirmed subscription, each in its dialog (provisioning was one-shot).
    let mut dialogs: Vec<&str> = unsubscribes.iter().map(|m| m.call_id().unwrap()).collect();
    dialogs.sort();
    let mut expected =
        vec![subs.contacts.call_id().unwrap(), subs.self_data.call_id().unwrap(), subs.presence.call_id().unwrap()];
    expected.sort();
    assert_eq!(dialogs, expected);
    for m in &unsubscribes {
        assert_eq!(m.header("Expires"), Some("0"), "{:?}", m.header("Event"));
        assert_eq!(m.to_header().unwrap().tag().as_deref(), Some(SERVER_TAG));
    }
    assert_eq!(unregister.header("Expires"), Some("0"));

    // Answers to everything but the REGISTER do not end it.
    pool.ok(&unpublish);
    for m in &unsubscribes {
        pool.ok(m);
    }
    assert_eq!(pool.ep.closed(), None);
    assert!(pool.completions.is_empty());
    pool.ok(&unregister);
    assert!(pool.events.contains(&Event::SignedOut), "{:?}", pool.events);
    assert_eq!(pool.ep.closed(), Some(&Closed::SignedOut));
    assert_eq!(pool.completions, vec![(7, Ok(CommandOutput::Done))]);
    pool.assert_nothing_sent();

    // Signed out: commands are refused, contact changes kept for a later sign-in.
    pool.command(8, Command::SetNote { text: Some("x".into()) });
    assert_eq!(pool.completions.last(), Some(&(8, Err(CommandError::NotSignedIn))));
    pool.assert_nothing_sent();
}

/// The unregister's 200 OK and a contact's presence NOTIFY can arrive in one read: the endpoint is closed after the
/// first, and takes nothing more (`SignedOut` stays the last event; the driver and the bindings end on it).
#[test]
fn a_closed_endpoint_takes_nothing_more_from_the_same_read() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let (subs, _, _, unregister) = signing_out(&mut pool);
    let bob_active = "<resource uri=\"sip:bob@contoso.lab\"><instance id=\"0\" state=\"active\" cid=\"bob@contoso.lab\"/></resource>";
    let (ct, doc) = rlmi_notify(bob_active, &[("bob@contoso.lab", BOB_BUSY)]);
    let notify = pool.in_dialog(&subs.presence, Method::Notify, Some((&ct, &doc)));
    pool.take_events();
    let mut read = pool.response(&unregister, 200, "OK").to_bytes();
    read.extend_from_slice(&notify.to_bytes());
    pool.feed(&read);
    assert_eq!(pool.take_events(), vec![Event::SignedOut]);
    assert_eq!(pool.ep.closed(), Some(&Closed::SignedOut));
    pool.assert_nothing_sent();
}

#[test]
fn a_refused_unregister_completes_sign_out_with_refused() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let (_, _, _, unregister) = signing_out(&mut pool);
    let forbidden = pool
        .response(&unregister, 403, "Forbidden")
        .with_header("ms-diagnostics", "4005;reason=\"Registration not allowed\"");
    pool.deliver(forbidden);
    assert_eq!(pool.ep.closed(), Some(&Closed::SignedOut));
    assert!(pool.events.contains(&Event::SignedOut));
    assert_eq!(pool.completions.len(), 1);
    match &pool.completions[0] {
        (7, Err(CommandError::Refused { code: 403, diagnostics, .. })) => {
            assert!(diagnostics.as_deref().is_some_and(|d| d.starts_with("4005")), "{diagnostics:?}")
        }
        other => panic!("expected 403 Refused, got {other:?}"),
    }
}

#[test]
fn sign_out_ends_after_the_grace_period_without_answers() {
    let mut pool = FakePool::new(ALL_EVENTS);
    signing_out(&mut pool);
    pool.advance(SIGN_OUT_GRACE - Duration::from_millis(1));
    assert_eq!(pool.ep.closed(), None, "still waiting for answers");
    pool.advance(Duration::from_millis(1));
    assert_eq!(pool.ep.closed(), Some(&Closed::SignedOut));
    assert!(pool.events.contains(&Event::SignedOut));
    assert_eq!(pool.completions, vec![(7, Err(CommandError::TimedOut))], "the unregister was never confirmed");
    assert_eq!(pool.ep.poll_timeout(), None);
    pool.assert_nothing_sent();
}

// 10. State across a lost connection.

#[test]
fn an_unconfirmed_contact_change_survives_a_lost_connection_and_is_sent_again() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    let add = Command::AddContact { uri: "sip:dave@contoso.lab".into(), name: "Dave".into(), group_ids: vec![1] };
    pool.command(42, add.clone());
    let lost = pool.take_request(Method::Service);
    assert_eq!(lost.content_type(), Some(SOAP_CT));
    pool.ep.connection_lost("the server closed the connection".into());
    assert!(matches!(pool.ep.closed(), Some(Closed::ConnectionDead(_))));
    pool.pump();
    assert!(pool.completions.is_empty(), "a contact change is not failed by a lost connection");

    let state = pool.ep.into_state();
    assert_eq!(state.queued, vec![(42, add)]);
    assert_ne!(state.contacts.delta_num, 0, "a contact list arrived (server deltaNums start above 0)");

    // The next connection: nothing is sent before the fresh list (and its deltaNum) is known.
    let mut pool = FakePool::with_state(ALL_EVENTS, state);
    assert_eq!(pool.count_requests(Method::Service), 0, "{:?}", pool.summary());
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    // Someone changed the list meanwhile: deltaNum 8 now.
    let list = CONTACT_LIST.replace("deltaNum=\"5\"", "deltaNum=\"8\"");
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, &list)));
    let again = pool.take_request(Method::Service);
    let doc = Document::parse(&again.body).unwrap();
    let set = doc.root.descendants("setContact");
    assert_eq!(set.len(), 1, "{}", body(&again));
    assert_eq!(set[0].child_text("deltaNum"), Some("8"), "sent with the fresh list's deltaNum");
    assert!(set[0].child_text("URI").is_some_and(|u| u.contains("dave@contoso.lab")));
    // The presence subscription is reopened on the new connection although the list did not change.
    let presence = pool.take_subscribe(PRESENCE);
    assert_eq!(batch_resources(&presence), ["sip:bob@contoso.lab", "sip:carol@fabrikam.lab"]);
    pool.ok(&again);
    assert_eq!(pool.completions, vec![(42, Ok(CommandOutput::Done))]);
    assert!(pool.ep.state.queued.is_empty());
}

#[test]
fn a_contact_change_before_the_list_arrives_waits_for_the_lists_delta_num() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.command(
        31,
        Command::AddContact { uri: "sip:dave@contoso.lab".into(), name: String::new(), group_ids: vec![1] },
    );
    assert_eq!(
        pool.count_requests(Method::Service),
        0,
        "deltaNum is unknown until the list arrives: {:?}",
        pool.summary()
    );
    let contacts = pool.take_subscribe(CONTACTS);
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, CONTACT_LIST)));
    let service = pool.take_request(Method::Service);
    let doc = Document::parse(&service.body).unwrap();
    assert_eq!(doc.root.descendants("deltaNum").first().map(|d| d.text.as_str()), Some("5"), "{}", body(&service));
}

// Timers and sign-out together.

#[test]
fn timers_that_fall_due_during_sign_out_do_not_spin() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.answer_pings = true;
    // Sign out 3 s before the registration refresh is due (570 s).
    pool.advance(Duration::from_secs(567));
    assert_eq!(pool.count_requests(Method::Register), 0);
    pool.command(7, Command::SignOut);
    pool.sent.clear();
    let now = pool.now + Duration::from_secs(3);
    pool.now = now;
    pool.ep.handle_timeout(now);
    pool.pump();
    let next = pool.ep.poll_timeout();
    assert!(
        next.is_none_or(|t| t > now),
        "poll_timeout {:?} is not after now: a driver would busy-loop",
        next.map(|t| t - pool.start)
    );
    assert_eq!(pool.count_requests(Method::Register), 0, "no refresh while signing out");
    pool.advance(SIGN_OUT_GRACE);
    assert_eq!(pool.ep.closed(), Some(&Closed::SignedOut));
}

#[test]
fn keep_alive_command_completes_with_the_round_trip_and_server_pings_get_a_pong() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.advance(Duration::from_secs(10));
    pool.command(51, Command::KeepAlive);
    assert_eq!(pool.keepalives, vec![(Duration::from_secs(10), b"\r\n\r\n".to_vec())]);
    pool.advance(Duration::from_millis(20));
    pool.feed(b"\r\n");
    assert_eq!(pool.completions, vec![(51, Ok(CommandOutput::Pong { rtt_us: 20_000 }))]);

    pool.feed(b"\r\n\r\n");
    assert_eq!(pool.keepalives.last(), Some(&(pool.elapsed(), b"\r\n".to_vec())), "a ping from the server is answered");
    assert_eq!(pool.ep.closed(), None);
}

#[test]
fn an_unanswered_registration_refresh_kills_the_connection() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.answer_pings = true;
    pool.advance(Duration::from_secs(570));
    pool.take_request(Method::Register);
    pool.advance(Duration::from_secs(31));
    assert_eq!(pool.ep.closed(), None);
    pool.advance(Duration::from_secs(1));
    assert!(matches!(pool.ep.closed(), Some(Closed::ConnectionDead(_))), "Timer F (32 s): {:?}", pool.ep.closed());
}

#[test]
fn a_subscription_the_server_terminates_is_opened_again_in_a_new_dialog() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    let mut notify = pool.in_dialog(&subs.contacts, Method::Notify, None);
    notify.headers.set("Subscription-State", "terminated;reason=timeout");
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    let again = pool.take_subscribe(CONTACTS);
    assert_ne!(again.call_id(), subs.contacts.call_id());
    assert!(again.to_header().unwrap().tag().is_none());
    pool.assert_nothing_sent();
}

// Provisioning and what this endpoint publishes over time.

#[test]
fn piggybacked_provisioning_asks_for_the_location_profile_it_names() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    let doc = "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
        <provisionGroup name=\"ServerConfiguration\"><ucLocationProfile>DefaultProfile.contoso.lab</ucLocationProfile>\
        <focusFactoryUri>sip:alice@contoso.lab;gruu;opaque=app:conf:focusfactory</focusFactoryUri></provisionGroup>\
        </provisionGroupList>";
    pool.accept_subscribe(&prov, 0, Some(("application/vnd-microsoft-roaming-provisioning-v2+xml", doc)));
    assert!(
        pool.take_events()
            .contains(&Event::ProvisioningUpdated { location_profile: Some("DefaultProfile.contoso.lab".into()) }),
    );
    assert!(pool.ep.state.provisioning.is_some());
    let service = pool.take_request(Method::Service);
    assert_eq!(
        service.request_uri().unwrap().as_str(),
        "sip:alice@contoso.lab;gruu;opaque=app:locationprofile:get;phone-context=DefaultProfile.contoso.lab"
    );
    assert_eq!(service.header("Accept"), Some("application/ms-location-profile-definition+xml"));
    // No profile for this user: numbers are dialled as entered, nothing else happens.
    let not_found = pool.response(&service, 404, "Not Found");
    pool.deliver(not_found);
    assert!(pool.take_events().is_empty());
    assert_eq!(pool.ep.closed(), None);
}

#[test]
fn clear_presence_deletes_the_user_state_at_the_version_the_server_holds() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.command(61, Command::SetPresence { availability: Availability::DoNotDisturb, activity: None });
    let set = pool.take_request(Method::Service);
    assert!(body(&set).contains("<availability>9500</availability>") && body(&set).contains("manual=\"true\""));
    pool.ok(&set);
    pool.command(62, Command::ClearPresence);
    let clear = pool.take_request(Method::Service);
    let pubs = publications(&clear);
    assert_eq!(pubs.len(), 2);
    assert!(pubs.iter().all(|p| p.deleted && p.instance == Instances::USER_STATE && p.version == 1), "{pubs:?}");
    pool.ok(&clear);
    assert_eq!(pool.completions, vec![(61, Ok(CommandOutput::Done)), (62, Ok(CommandOutput::Done))]);

    // An idle state is the server's to derive, not ours to publish.
    pool.command(63, Command::SetPresence { availability: Availability::BusyIdle, activity: None });
    assert!(matches!(pool.completions.last(), Some((63, Err(CommandError::Invalid(_))))));
    pool.assert_nothing_sent();
}

#[test]
fn a_new_connection_republishes_what_the_user_chose() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    pool.command(71, Command::SetPresence { availability: Availability::Away, activity: None });
    let set = pool.take_request(Method::Service);
    pool.ok(&set);
    pool.command(72, Command::SetNote { text: Some("Back at 3".into()) });
    let note = pool.take_request(Method::Service);
    pool.ok(&note);
    pool.ep.connection_lost("reset".into());
    let state = pool.ep.into_state();

    let mut pool = FakePool::with_state(ALL_EVENTS, state);
    let contacts = pool.take_subscribe(CONTACTS);
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, CONTACT_LIST)));
    let self_data = pool.take_subscribe(SELF);
    assert_eq!(pool.count_requests(Method::Service), 0, "nothing published before roaming-self");
    // What the pool holds now: our userState and note at version 1 (we published each once).
    let state_cat = |container: u32| {
        format!(
            "<category name=\"state\" instance=\"536870912\" container=\"{container}\" version=\"1\" expireType=\"static\">\
             <state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             manual=\"true\" xsi:type=\"userState\"><availability>15500</availability></state></category>"
        )
    };
    let note_cat = |container: u32| {
        format!(
            "<category name=\"note\" instance=\"0\" container=\"{container}\" version=\"1\" expireType=\"static\">\
             <note xmlns=\"http://schemas.microsoft.com/2006/09/sip/note\"><body type=\"personal\" uri=\"\">Back at 3</body></note></category>"
        )
    };
    let roaming = format!(
        "<roamingData xmlns=\"http://schemas.microsoft.com/2006/09/sip/roaming-self\">\
         <categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"{AOR}\">{}{}{}{}{}</categories></roamingData>",
        state_cat(2),
        state_cat(3),
        note_cat(200),
        note_cat(300),
        note_cat(400)
    );
    pool.accept_subscribe(&self_data, 3600, Some((SELF_CT, &roaming)));
    let publish = pool.take_request(Method::Service);
    let pubs = publications(&publish);
    let user_state: Vec<&Pub> = pubs.iter().filter(|p| p.instance == Instances::USER_STATE).collect();
    assert_eq!(user_state.len(), 2, "{pubs:?}");
    assert!(user_state.iter().all(|p| p.version == 1 && !p.deleted));
    let notes: Vec<&Pub> = pubs.iter().filter(|p| p.category == "note").collect();
    assert_eq!(notes.iter().map(|p| p.container).collect::<Vec<_>>(), [200, 300, 400]);
    assert!(notes.iter().all(|p| p.version == 1 && !p.deleted));
    assert!(pubs.iter().any(|p| p.category == "device"), "device + machineState + what the user chose");
    let text = body(&publish);
    assert!(text.contains("<availability>15500</availability>") && text.contains("Back at 3"), "{text}");
}

#[test]
fn provisioning_that_comes_as_a_notify_after_a_bodiless_200_is_still_read() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let prov = pool.take_subscribe(PROVISIONING);
    pool.accept_subscribe(&prov, 0, None);
    // RFC 6665 §4.4.3: the fetch (Expires: 0) is answered by a NOTIFY when the 200 did not carry it.
    let doc = "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
        <provisionGroup name=\"ServerConfiguration\"><ucLocationProfile>Lab</ucLocationProfile></provisionGroup>\
        </provisionGroupList>";
    let mut notify =
        pool.in_dialog(&prov, Method::Notify, Some(("application/vnd-microsoft-roaming-provisioning-v2+xml", doc)));
    notify.headers.set("Subscription-State", "terminated;reason=timeout");
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    assert!(pool.take_events().contains(&Event::ProvisioningUpdated { location_profile: Some("Lab".into()) }));
    // The fetch is over: a second NOTIFY no longer belongs to anything.
    let again = pool.in_dialog(&prov, Method::Notify, None);
    pool.deliver(again);
    assert_eq!(pool.take_response().status(), Some(481));
}

#[test]
fn an_invalid_request_from_the_server_gets_a_400_and_is_counted() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    // CSeq names another method than the request line (RFC 3261 §8.2.2 / §20.16).
    let mut bad = pool
        .server_request(Method::Notify, "<sip:alice@contoso.lab>;tag=x1", "<sip:alice@contoso.lab>;tag=y1")
        .with_header("Call-ID", "bad-1");
    bad.headers.set("CSeq", "1 OPTIONS");
    pool.parser.push(&bad.to_bytes()).unwrap();
    let item = pool.parser.next_item().unwrap().unwrap();
    assert!(matches!(item, StreamItem::Invalid { .. }));
    pool.ep.handle_item(item, pool.now);
    pool.pump();
    assert_eq!(pool.take_response().status(), Some(400));
    assert_eq!(pool.ep.invalid_messages, 1);
    assert_eq!(pool.ep.closed(), None);
}

fn delta_num_of(m: &Message) -> String {
    let doc = Document::parse(&m.body).unwrap();
    doc.root.descendants("deltaNum").first().map(|d| d.text.clone()).unwrap()
}

#[test]
fn pipelined_contact_changes_number_their_delta_nums() {
    // ContactList::request_delta_num: "A client pipelining several changes before the server's contactDelta
    // arrives uses this number, then this number + 1, and so on, as pidgin-sipe does."
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    pool.command(81, Command::AddGroup { name: "One".into() });
    pool.command(82, Command::AddGroup { name: "Two".into() });
    let first = pool.take_request(Method::Service);
    let second = pool.take_request(Method::Service);
    assert_eq!([delta_num_of(&first), delta_num_of(&second)], ["5", "6"]);

    let reply = |id: u32| {
        format!(
            "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>\
             <m:addGroup xmlns:m=\"http://schemas.microsoft.com/winrtc/2002/11/sip\"><m:groupID>{id}</m:groupID></m:addGroup>\
             </SOAP-ENV:Body></SOAP-ENV:Envelope>"
        )
    };
    let ok = pool.response(&first, 200, "OK").with_body(SOAP_CT, reply(3));
    pool.deliver(ok);
    let ok = pool.response(&second, 200, "OK").with_body(SOAP_CT, reply(4));
    pool.deliver(ok);
    assert_eq!(
        pool.completions,
        vec![(81, Ok(CommandOutput::GroupAdded { id: 3 })), (82, Ok(CommandOutput::GroupAdded { id: 4 }))]
    );

    // A third change before the deltas arrived continues the count; after them it follows the list.
    pool.command(83, Command::RenameGroup { id: 3, name: "Uno".into() });
    let third = pool.take_request(Method::Service);
    assert_eq!(delta_num_of(&third), "7");
    let delta = "<contactDelta deltaNum=\"8\"><addedGroup id=\"3\" name=\"Uno\" externalURI=\"\"/>\
                 <addedGroup id=\"4\" name=\"Two\" externalURI=\"\"/></contactDelta>";
    let notify = pool.in_dialog(&subs.contacts, Method::Notify, Some((CONTACTS_CT, delta)));
    pool.deliver(notify);
    pool.take_response();
    pool.ok(&third);
    pool.command(84, Command::RemoveGroup { id: 4 });
    let fourth = pool.take_request(Method::Service);
    assert_eq!(delta_num_of(&fourth), "8");

    // A refused change was not counted by the server: the next one starts from the list again.
    let conflict = pool.response(&fourth, 409, "Conflict");
    pool.deliver(conflict);
    assert!(matches!(pool.completions.last(), Some((84, Err(CommandError::Refused { code: 409, .. })))));
    pool.command(85, Command::RemoveGroup { id: 4 });
    assert_eq!(delta_num_of(&pool.take_request(Method::Service)), "8");
}

#[test]
fn unconfirmed_changes_are_queued_again_in_the_order_they_were_issued() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    let changes = [
        (1, Command::AddGroup { name: "Lab".into() }),
        (2, Command::AddContact { uri: "sip:dave@contoso.lab".into(), name: String::new(), group_ids: vec![1] }),
        (3, Command::RemoveContact { uri: "sip:carol@fabrikam.lab".into() }),
        (4, Command::RenameGroup { id: 2, name: "Core team".into() }),
        (5, Command::RemoveGroup { id: 2 }),
    ];
    for (id, c) in changes.iter().take(4).cloned() {
        pool.command(id, c);
    }
    assert_eq!(pool.count_requests(Method::Service), 4);
    pool.ep.connection_lost("reset".into());
    // Issued while the connection is down: kept for the next one, after those already sent.
    pool.command(5, changes[4].1.clone());
    assert!(pool.completions.is_empty(), "{:?}", pool.completions);
    let state = pool.ep.into_state();
    assert_eq!(state.queued, changes.to_vec());
}

#[test]
fn a_registration_notice_that_is_not_a_deregistration_is_acknowledged_only() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.sign_in(CONTACT_LIST);
    // [MS-SIPREGE] 3.5.1.4: the registrar may tell the endpoint about the presence service too.
    let notice = pool
        .server_request(Method::Notify, "<sip:alice@contoso.lab>;tag=reg81", "<sip:alice@contoso.lab>;tag=1a2b3c")
        .with_header("Call-ID", "registration-call-10")
        .with_header("Event", "registration-notify")
        .with_body("text/registration-event", b"presence-service-unavailable".to_vec());
    pool.deliver(notice);
    assert_eq!(pool.take_response().status(), Some(200));
    assert!(pool.ep.closed().is_none(), "still registered");
    assert!(!pool.take_events().iter().any(|e| matches!(e, Event::Deregistered { .. })));
}

#[test]
fn an_unanswered_subscribe_is_sent_again_later() {
    let mut pool = FakePool::new(ALL_EVENTS);
    pool.answer_pings = true;
    let _prov = pool.take_subscribe(PROVISIONING);
    let contacts = pool.take_subscribe(CONTACTS);
    let _self = pool.take_subscribe(SELF);
    // Nothing answers: Timer F (64 × T1 = 32 s) ends the transactions, then the retry waits.
    pool.advance(Duration::from_secs(33));
    assert_eq!(pool.count_requests(Method::Subscribe), 0, "no retry before SUBSCRIBE_RETRY");
    pool.advance(SUBSCRIBE_RETRY);
    let again = pool.take_subscribe(CONTACTS);
    assert_eq!(again.call_id(), contacts.call_id(), "the same dialog, tried again");
    assert!(again.cseq().unwrap().seq > contacts.cseq().unwrap().seq);
}

#[test]
fn a_resubscribe_without_a_pool_goes_to_the_contact_itself() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let subs = pool.sign_in(CONTACT_LIST);
    let dave = "<resource uri=\"sip:dave@contoso.lab\"><instance id=\"1\" state=\"resubscribe\"/></resource>";
    let (ct, doc) = rlmi_notify(dave, &[]);
    let notify = pool.in_dialog(&subs.presence, Method::Notify, Some((&ct, &doc)));
    pool.deliver(notify);
    assert_eq!(pool.take_response().status(), Some(200));
    let single = pool.take_subscribe(PRESENCE);
    assert_eq!(single.request_uri().unwrap().as_str(), "sip:dave@contoso.lab");
    assert_eq!(single.to_header().unwrap().uri.as_str(), "sip:dave@contoso.lab");
    assert_eq!(batch_resources(&single), ["sip:dave@contoso.lab"]);
    pool.assert_nothing_sent();
}

#[test]
fn no_subscribe_announces_an_option_twice() {
    let mut pool = FakePool::new(ALL_EVENTS);
    let unique = |m: &Message| {
        let mut tags = header_values(m, "Supported");
        let n = tags.len();
        tags.sort();
        tags.dedup();
        assert_eq!(tags.len(), n, "{}", lossy(&m.to_bytes()));
    };
    let prov = pool.take_subscribe(PROVISIONING);
    unique(&prov);
    pool.accept_subscribe(&prov, 0, None);
    let contacts = pool.take_subscribe(CONTACTS);
    unique(&contacts);
    pool.accept_subscribe(&contacts, 3600, Some((CONTACTS_CT, CONTACT_LIST)));
    let self_data = pool.take_subscribe(SELF);
    unique(&self_data);
    let presence = pool.take_subscribe(PRESENCE);
    unique(&presence);
    assert!(header_values(&presence, "Supported").contains(&"eventlist".to_string()));
}
