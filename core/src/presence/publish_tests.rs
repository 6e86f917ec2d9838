//! Tests of `publish.rs` against the Lync SDK vectors (fixtures/README.md) and pidgin-sipe's templates.

use super::*;
use crate::presence::VersionTable;
use crate::xml::{Document, Element};

/// A whitespace- and declaration-insensitive rendering of an element: name, namespace, attributes sorted
/// (namespace declarations dropped: the namespace of each element is compared instead), trimmed text, children.
fn canonical(el: &Element) -> String {
    let mut attrs: Vec<String> = el
        .attributes
        .iter()
        .filter(|a| a.name != "xmlns" && a.prefix.as_deref() != Some("xmlns"))
        .map(|a| format!("{}={:?}", a.name, a.value))
        .collect();
    attrs.sort();
    let children: Vec<String> = el.children.iter().map(canonical).collect();
    format!("<{{{:?}}}{} {}>{}{}</>", el.namespace, el.name, attrs.join(" "), el.text.trim(), children.concat())
}

fn canonical_doc(xml: &str) -> String {
    canonical(&Document::parse(xml.as_bytes()).unwrap().root)
}

const SDK_PUBLISH_NOTE: &str = include_str!("fixtures/lyncsdk-publish-note.xml");
const SDK_DELETE_NOTE: &str = include_str!("fixtures/lyncsdk-delete-note.xml");

#[test]
fn instances_follow_the_epid() {
    // The epid of the Lync SDK vectors.
    let i = Instances::from_epid(&Epid::parse("6C801B691B").unwrap());
    assert_eq!(i.device, 0x6C80_1B69);
    assert_eq!(i.machine_state, 0x36C8_01B6);
    assert_eq!(i.user_state, 0x2000_0000);
    assert_eq!(i.calendar_state, 0x46C8_01B6);
    assert_eq!(i.calendar_oof_state, 0x56C8_01B6);
    assert_eq!(i.phone_state, 0x86C8_01B6);
    assert_eq!(i.note, 0);
    // sscanf("%08x") semantics: leading hex digits only.
    assert_eq!(Instances::from_epid(&Epid::parse("abcxyz").unwrap()).device, 0xabc);
    assert_eq!(Instances::from_epid(&Epid::parse("zz").unwrap()).machine_state, 0x3000_0000);
    // SHA-1("alice@contoso.com::") bytes 14..18 = 0xfd6701f?, computed independently with Python hashlib.
    assert_eq!(Instances::mailbox_instance("alice@contoso.com"), 0x4fd6_701f);
}

#[test]
fn deletion_matches_the_sdk_vector() {
    let delete = Publication {
        category: "note".into(),
        instance: 1,
        container: 100,
        version: 0,
        expire_type: ExpireType::Time,
        expires: Some(0),
        value_xml: None,
    };
    let body = publish_body("sip:adamb@contoso.com", &[delete]);
    assert_eq!(
        body,
        "<publish xmlns=\"http://schemas.microsoft.com/2006/09/sip/rich-presence\"><publications \
         uri=\"sip:adamb@contoso.com\"><publication categoryName=\"note\" instance=\"1\" container=\"100\" \
         version=\"0\" expireType=\"time\" expires=\"0\"/></publications></publish>"
    );
    assert_eq!(canonical_doc(&body), canonical_doc(SDK_DELETE_NOTE));
}

#[test]
fn note_publication_matches_the_sdk_vector() {
    let publication = Publication {
        category: "note".into(),
        instance: 1,
        container: 100,
        version: 3,
        expire_type: ExpireType::Endpoint,
        expires: None,
        value_xml: Some(note_value_xml("Personal note set by myApp", NoteKind::Personal)),
    };
    let body = publish_body("sip:adamb@contoso.com", &[publication]);
    // The one difference is pidgin-sipe's `uri=""` on the note body, which the SDK example leaves out.
    let ours = canonical_doc(&body).replace(" uri=\"\"", "");
    assert_eq!(ours, canonical_doc(SDK_PUBLISH_NOTE).replace(" uri=\"\"", ""));
    assert!(
        canonical_doc(&body)
            .contains("<{Some(\"http://schemas.microsoft.com/2006/09/sip/note\")}body type=\"personal\" uri=\"\">")
    );
}

#[test]
fn machine_state_is_pidgin_sipes_template() {
    let epid = Epid::parse("6C801B691B").unwrap();
    let mut versions = VersionTable::new();
    versions.set("state", 0x36C8_01B6, 3, 22);
    let pubs = machine_state(&Instances::from_epid(&epid), 3500, &versions);
    let body = publish_body("sip:alice@contoso.com", &pubs);
    let state = "<state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" manual=\"false\" \
        xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"machineState\">\
        <availability>3500</availability><endpointLocation/></state>";
    let expected = format!(
        "<publish xmlns=\"http://schemas.microsoft.com/2006/09/sip/rich-presence\"><publications uri=\"sip:alice@contoso.com\">\
         <publication categoryName=\"state\" instance=\"919077302\" container=\"2\" version=\"0\" expireType=\"endpoint\">{state}</publication>\
         <publication categoryName=\"state\" instance=\"919077302\" container=\"3\" version=\"22\" expireType=\"endpoint\">{state}</publication>\
         </publications></publish>"
    );
    assert_eq!(body, expected);
}

#[test]
fn user_state_carries_the_chosen_status() {
    let i = Instances::from_epid(&Epid::parse("6C801B691B").unwrap());
    let pubs = user_state(&i, Availability::Busy, Some("in-a-meeting"), &VersionTable::new()).unwrap();
    assert_eq!(pubs.len(), 2);
    assert_eq!((pubs[0].container, pubs[1].container), (2, 3));
    assert!(pubs.iter().all(|p| p.instance == 0x2000_0000 && p.expire_type == ExpireType::Static));
    let doc = Document::parse(pubs[0].value_xml.as_deref().unwrap().as_bytes()).unwrap();
    assert_eq!(doc.root.attr("type"), Some("userState"));
    assert_eq!(doc.root.attr("manual"), Some("true"));
    assert_eq!(doc.root.child_text("availability"), Some("6500"));
    assert_eq!(doc.root.child("activity").and_then(|a| a.attr("token")), Some("in-a-meeting"));
    assert_eq!(
        user_state(&i, Availability::AvailableIdle, None, &VersionTable::new()),
        Err(PresenceError::NotPublishable(Availability::AvailableIdle))
    );
}

#[test]
fn note_goes_to_three_containers_and_empty_text_deletes() {
    let mut versions = VersionTable::new();
    versions.set("note", 0, 200, 4);
    versions.set("note", 0, 400, 6);
    let set = note("Lunch <back at 2> & \"on call\"", NoteKind::Personal, 0, &versions);
    assert_eq!(set.iter().map(|p| (p.container, p.version)).collect::<Vec<_>>(), vec![(200, 4), (300, 0), (400, 6)]);
    let doc = Document::parse(set[1].value_xml.as_deref().unwrap().as_bytes()).unwrap();
    assert_eq!(doc.root.child("body").unwrap().text, "Lunch <back at 2> & \"on call\"");
    // pidgin-sipe deletes all three with the 200 version (a bug); each carries its own version here.
    let cleared = note("  ", NoteKind::Personal, 0, &versions);
    assert!(cleared.iter().all(Publication::is_deletion));
    let body = publish_body("sip:alice@contoso.com", &cleared);
    assert!(body.contains(
        "<publication categoryName=\"note\" instance=\"0\" container=\"400\" version=\"6\" expireType=\"static\" expires=\"0\"/>"
    ));
    let oof = note("Away until Monday", NoteKind::Oof, 0x4fd6_701f, &versions);
    assert!(oof[0].value_xml.as_deref().unwrap().contains("<body type=\"OOF\" uri=\"\">"));
    assert_eq!(oof[0].instance, 0x4fd6_701f);
}

#[test]
fn device_names_the_endpoint() {
    let epid = Epid::parse("6C801B691B").unwrap();
    let p = device(&epid, "sip:alice@contoso.com", "00:00:00+01:00", "WS<1>", &VersionTable::new());
    assert_eq!((p.category.as_str(), p.instance, p.container), ("device", 0x6C80_1B69, 2));
    assert_eq!(p.expire_type, ExpireType::Endpoint);
    let doc = Document::parse(p.value_xml.as_deref().unwrap().as_bytes()).unwrap();
    assert_eq!(doc.root.namespace.as_deref(), Some(DEVICE_NS));
    assert_eq!(doc.root.attr("endpointId").map(str::to_owned), Some(sip_instance(&epid).uuid()));
    assert_eq!(doc.root.child("capabilities").and_then(|c| c.attr("uri")), Some("sip:alice@contoso.com"));
    assert_eq!(doc.root.child_text("machineName"), Some("WS<1>"));
    assert_eq!(doc.root.child_text("timezone"), Some("00:00:00+01:00"));
}

#[test]
fn publish_body_escapes_the_uri_and_writes_expires() {
    let p = Publication {
        category: "custom".into(),
        instance: 7,
        container: 1,
        version: 2,
        expire_type: ExpireType::Time,
        expires: Some(300),
        value_xml: Some("<x/>".into()),
    };
    let body = publish_body("sip:a&b@contoso.com", &[p]);
    assert!(body.contains("uri=\"sip:a&amp;b@contoso.com\""));
    assert!(body.contains("expireType=\"time\" expires=\"300\"><x/></publication>"));
}
