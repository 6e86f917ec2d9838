//! Tests of `notify.rs`: the [MS-SIP] 4.3 piggy-backed NOTIFY (fixtures/README.md) and Lync-style categories.

use super::*;
use crate::presence::{Availability, CategoryValue, ContactCard, NoteKind, Phone, StateKind};

/// The fixture with its line breaks made CRLF whatever a checkout did to them.
fn ms_sip_4_3_body() -> Vec<u8> {
    include_str!("fixtures/ms-sip-4.3-piggyback-notify.body").replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// The Content-Type of the [MS-SIP] 4.3 200 OK, its two vector lines joined.
const MS_SIP_4_3_CONTENT_TYPE: &str =
    "multipart/related; type=\"application/rlmi+xml\";start=resourceList; boundary=e7904a528704417c9a90297d24081f8e";

#[test]
fn reads_the_ms_sip_4_3_piggybacked_notify() {
    let n = parse_presence_notify(MS_SIP_4_3_CONTENT_TYPE, &ms_sip_4_3_body()).unwrap();
    assert_eq!(n.full_state, Some(true));
    assert_eq!(
        n.resources,
        vec![
            ResourceState { uri: "sip:user2@server.contoso.com".into(), state: Some("active".into()), reason: None },
            ResourceState { uri: "sip:user3@server.contoso.com".into(), state: Some("active".into()), reason: None },
        ]
    );
    assert!(n.resubscribe.is_empty());
    assert_eq!(n.skipped_parts, 0);
    assert_eq!(n.presentities.len(), 2);
    assert_eq!(n.presentities[0].uri, "user2@server.contoso.com");
    assert_eq!(
        n.presentities[0].legacy,
        Some(LegacyPresence { availability: Some(0), activity: Some(0), display_name: Some("User 2".into()) })
    );
    assert_eq!(n.presentities[1].legacy.as_ref().unwrap().display_name.as_deref(), Some("User 3"));
}

const LYNC_BOUNDARY: &str = "9c2b1f0e";

/// A Lync-style batched notification (synthetic, element names from CLIENT-NOTES §9.4 and REFERENCE §8.1).
fn lync_notify() -> (String, Vec<u8>) {
    let rlmi = r#"<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:alice@contoso.lab" version="3" fullState="false">
<resource uri="sip:bob@contoso.lab"><instance id="1" state="active" cid="bob@contoso.lab"/></resource>
<resource uri="sip:carol@fabrikam.lab"><instance id="2" state="resubscribe" poolFqdn="pool2.contoso.lab"/></resource>
<resource uri="sip:dan@contoso.lab"><instance id="3" state="resubscribe"/></resource>
<resource uri="sip:erin@contoso.lab"><instance id="4" state="resubscribe" poolFqdn="pool2.contoso.lab"/></resource>
<resource uri="sip:gone@contoso.lab"><instance id="5" state="terminated" reason="noresource"/></resource>
</list>"#;
    let bob = r#"<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:bob@contoso.lab">
<category name="state" instance="0" publishTime="2026-11-22T06:01:00.000Z"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="aggregateState" lastActive="2026-11-22T05:59:00Z"><availability>6500</availability><activity token="on-the-phone"><custom LCID="1033">Talking to &lt;ACME&gt;</custom></activity><device>Mobile</device></state></category>
<category name="note" instance="0" publishTime="2026-11-22T05:00:00.000Z"><note xmlns="http://schemas.microsoft.com/2006/09/sip/note"><body type="OOF" uri="">Out until Monday</body></note></category>
<category name="contactCard" instance="0" publishTime="2026-11-22T04:00:00.000Z"><contactCard xmlns="http://schemas.microsoft.com/2006/09/sip/contactcard"><identity><name><displayName>Bob Builder</displayName></name><email>bob@contoso.lab</email></identity><title>Engineer</title><company>Contoso</company><phone type="work"><uri>tel:+15550100</uri><displayString>+1 555 0100</displayString></phone></contactCard></category>
<category name="calendarData" instance="0"><calendarData xmlns="http://schemas.microsoft.com/2006/09/sip/calendarData"/></category>
</categories>"#;
    let body = format!(
        "--{b}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: resourceList\r\nContent-Type: application/rlmi+xml\r\n\r\n{rlmi}\r\n\
         --{b}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: bob@contoso.lab\r\nContent-Type: application/msrtc-event-categories+xml\r\n\r\n{bob}\r\n\
         --{b}\r\nContent-Type: application/pidf+xml\r\n\r\n<presence/>\r\n--{b}--\r\n",
        b = LYNC_BOUNDARY
    );
    (
        format!("multipart/related;type=\"application/rlmi+xml\";start=resourceList;boundary=\"{LYNC_BOUNDARY}\""),
        body.into_bytes(),
    )
}

#[test]
fn reads_a_lync_batched_notification() {
    let (ct, body) = lync_notify();
    let n = parse_presence_notify(&ct, &body).unwrap();
    assert_eq!(n.full_state, Some(false));
    assert_eq!(n.resources.len(), 5);
    assert_eq!(n.resources[4].reason.as_deref(), Some("noresource"));
    assert_eq!(n.skipped_parts, 1);
    assert_eq!(
        n.resubscribe,
        vec![
            Resubscribe {
                uris: vec!["sip:carol@fabrikam.lab".into(), "sip:erin@contoso.lab".into()],
                pool_fqdn: Some("pool2.contoso.lab".into())
            },
            Resubscribe { uris: vec!["sip:dan@contoso.lab".into()], pool_fqdn: None },
        ]
    );
    let bob = &n.presentities[0];
    assert_eq!(bob.uri, "sip:bob@contoso.lab");
    assert_eq!(bob.categories.len(), 4);
    let CategoryValue::State(state) = &bob.categories[0].value else { panic!("{:?}", bob.categories[0]) };
    assert_eq!(state.kind, StateKind::AggregateState);
    assert_eq!(state.availability.map(Availability::from_value), Some(Availability::Busy));
    assert_eq!(state.activity.as_deref(), Some("on-the-phone"));
    assert_eq!(state.custom_activity.as_deref(), Some("Talking to <ACME>"));
    assert_eq!(state.device.as_deref(), Some("Mobile"));
    assert_eq!(state.last_active.as_deref(), Some("2026-11-22T05:59:00Z"));
    assert_eq!(bob.categories[0].publish_time.as_deref(), Some("2026-11-22T06:01:00.000Z"));
    assert_eq!(bob.categories[0].instance, Some(0));
    let CategoryValue::Note(note) = &bob.categories[1].value else { panic!() };
    assert_eq!((note.text.as_str(), note.kind), ("Out until Monday", NoteKind::Oof));
    assert_eq!(
        bob.categories[2].value,
        CategoryValue::ContactCard(ContactCard {
            display_name: Some("Bob Builder".into()),
            email: Some("bob@contoso.lab".into()),
            title: Some("Engineer".into()),
            company: Some("Contoso".into()),
            department: None,
            office: None,
            phones: vec![Phone {
                kind: Some("work".into()),
                uri: Some("tel:+15550100".into()),
                display: Some("+1 555 0100".into())
            }],
            automaton: false,
        })
    );
    assert_eq!(bob.categories[3].value, CategoryValue::Other);
    assert!(bob.categories[3].raw_xml.starts_with("<category name=\"calendarData\""));
    assert!(bob.categories[3].raw_xml.ends_with("</category>"));
}

#[test]
fn reads_a_bare_categories_body() {
    let body = br#"<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:bob@contoso.lab"><category name="note" instance="0"/></categories>"#;
    let n = parse_presence_notify("application/msrtc-event-categories+xml; charset=utf-8", body).unwrap();
    assert_eq!(n.presentities.len(), 1);
    assert_eq!(n.presentities[0].categories[0].value, CategoryValue::Empty);
    assert!(n.resources.is_empty());
}

#[test]
fn refuses_what_it_cannot_read() {
    assert_eq!(
        parse_presence_notify("application/pidf+xml", b"<presence/>"),
        Err(PresenceError::UnsupportedContentType("application/pidf+xml".into()))
    );
    assert!(matches!(parse_presence_notify("multipart/related", b""), Err(PresenceError::Multipart { .. })));
    let wrong_root = parse_presence_notify(CONTENT_TYPE_EVENT_CATEGORIES, b"<list uri=\"x\"/>");
    assert!(matches!(wrong_root, Err(PresenceError::UnexpectedRoot { .. })));
    let no_uri = parse_presence_notify(CONTENT_TYPE_EVENT_CATEGORIES, b"<categories/>");
    assert!(matches!(no_uri, Err(PresenceError::MissingAttribute { .. })));
    let bad_instance = br#"<categories uri="sip:b@c"><category name="state" instance="-1"/></categories>"#;
    assert!(matches!(
        parse_presence_notify(CONTENT_TYPE_EVENT_CATEGORIES, bad_instance),
        Err(PresenceError::BadNumber { .. })
    ));
    let (ct, body) = lync_notify();
    let truncated = &body[..body.len() - 12];
    assert!(matches!(parse_presence_notify(&ct, truncated), Err(PresenceError::Multipart { .. })));
}
