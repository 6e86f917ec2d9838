use super::*;
use crate::config::LabConfig;

/// [MS-SIP] 4.6's AddContact SERVICE (the repository's copy in `tests/vectors/`): its SOAP envelope, as sent.
const ADD_CONTACT_VECTOR: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/MS-SIP_4.6_addcontact.txt"));

fn vector_envelope() -> &'static str {
    let start = ADD_CONTACT_VECTOR.find("<SOAP-ENV:Envelope").expect("vector has an envelope");
    let end = ADD_CONTACT_VECTOR.find("</SOAP-ENV:Envelope>").expect("vector closes it") + "</SOAP-ENV:Envelope>".len();
    &ADD_CONTACT_VECTOR[start..end]
}

fn soap(op: &str, inner: &str, delta: u64) -> String {
    format!(
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP_ENV_NS}\"><SOAP-ENV:Body><m:{op} xmlns:m=\"{SIP_SOAP_NS}\">{inner}\
         <m:deltaNum>{delta}</m:deltaNum></m:{op}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

fn set_contact(uri: &str, groups: &str, delta: u64) -> String {
    soap(
        "setContact",
        &format!(
            "<m:displayName>{uri}</m:displayName><m:groups>{groups}</m:groups><m:subscribed>true</m:subscribed>\
             <m:URI>{uri}</m:URI><m:externalURI />"
        ),
        delta,
    )
}

fn parse(xml: &str) -> Document {
    Document::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"))
}

fn tempdir() -> PathBuf {
    std::env::temp_dir().join(format!("sfbkit-lab-contacts-{:016x}", rand::random::<u64>()))
}

fn store() -> ContactStore {
    ContactStore::with_defaults(&LabConfig::default().users, None).unwrap()
}

#[test]
fn alice_starts_with_bob_among_her_colleagues() {
    let s = store();
    let doc = parse(&s.full_document("sip:alice@contoso.lab"));
    assert_eq!(doc.root.name, "contactList");
    assert_eq!(doc.root.attr("deltaNum"), Some("1"));
    let groups: Vec<_> = doc.root.children_named("group").map(|g| (g.attr("id"), g.attr("name"))).collect();
    assert_eq!(groups, [(Some("1"), Some("~")), (Some("2"), Some("Colleagues"))]);
    let bob = doc.root.child("contact").unwrap();
    assert_eq!(bob.attr("uri"), Some("bob@contoso.lab"), "URIs go out without sip:");
    assert_eq!(bob.attr("name"), Some("Bob Berg"));
    assert_eq!(bob.attr("groups"), Some("2"));
    assert_eq!(bob.attr("subscribed"), Some("true"));
    // Bob has only the default group, and an unknown user reads the same empty list.
    let bob_doc = parse(&s.full_document("BOB@contoso.lab"));
    assert_eq!(bob_doc.root.children_named("contact").count(), 0);
    assert_eq!(bob_doc.root.children_named("group").count(), 1);
}

#[test]
fn the_ms_sip_4_6_add_contact_is_applied_and_notified_as_a_delta() {
    let mut s = store();
    // The vector's deltaNum is 12 (its list was older); the lab accepts it by default and counts on from its own.
    let out = s.apply_soap("sip:alice@contoso.lab", vector_envelope().as_bytes()).unwrap();
    assert_eq!(out.reply_body, "", "[MS-SIP] 4.6: the 200 OK has no body");
    assert_eq!(out.delta_num, 2);
    let delta = parse(&out.delta_document);
    assert_eq!(delta.root.name, "contactDelta");
    assert_eq!(delta.root.attr("deltaNum"), Some("2"));
    let added = delta.root.child("addedContact").unwrap();
    assert_eq!(added.attr("uri"), Some("user4@server.contoso.com"));
    assert_eq!(added.attr("name"), Some("buddy 1"));
    assert_eq!(added.attr("groups"), Some("1"), "no groups: the default group");
    let full = parse(&s.full_document("alice@contoso.lab"));
    assert_eq!(full.root.attr("deltaNum"), Some("2"));
    assert_eq!(full.root.children_named("contact").count(), 2);
}

#[test]
fn groups_are_added_renamed_and_deleted_with_their_contacts_moved() {
    let mut s = store();
    let alice = "sip:alice@contoso.lab";
    let out =
        s.apply_soap(alice, soap("addGroup", "<m:name>Team &amp; co</m:name><m:externalURI/>", 2).as_bytes()).unwrap();
    let reply = parse(&out.reply_body);
    assert_eq!(reply.root.path(&["Body", "addGroup", "groupID"]).map(|e| e.text.as_str()), Some("3"));
    assert_eq!(parse(&out.delta_document).root.child("addedGroup").unwrap().attr("name"), Some("Team & co"));

    s.apply_soap(alice, set_contact("sip:carol@contoso.lab", "3 2", 3).as_bytes()).unwrap();
    let out = s.apply_soap(alice, soap("modifyGroup", "<m:groupID>3</m:groupID><m:name>Team</m:name>", 4).as_bytes());
    let modified = parse(&out.unwrap().delta_document);
    assert_eq!(modified.root.child("modifiedGroup").unwrap().attr("name"), Some("Team"));

    // Deleting "Colleagues" (2) leaves bob with no group: he moves to ~; carol keeps 3.
    let out = s.apply_soap(alice, soap("deleteGroup", "<m:groupID>2</m:groupID>", 5).as_bytes()).unwrap();
    let delta = parse(&out.delta_document);
    let moved: Vec<_> =
        delta.root.children_named("modifiedContact").map(|c| (c.attr("uri"), c.attr("groups"))).collect();
    assert_eq!(moved, [(Some("bob@contoso.lab"), Some("1")), (Some("carol@contoso.lab"), Some("3"))]);
    assert_eq!(delta.root.child("deletedGroup").unwrap().attr("id"), Some("2"));
    // Order of [MS-SIP] 3.7: modified contacts before deleted groups.
    let names: Vec<_> = delta.root.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["modifiedContact", "modifiedContact", "deletedGroup"]);

    let out = s.apply_soap(alice, soap("deleteContact", "<m:URI>sip:bob@contoso.lab</m:URI>", 6).as_bytes()).unwrap();
    assert_eq!(parse(&out.delta_document).root.child("deletedContact").unwrap().attr("uri"), Some("bob@contoso.lab"));
    assert_eq!(s.list(alice).delta_num, 6);
}

#[test]
fn bad_requests_are_refused_without_changing_the_list() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    let refuse = |s: &mut ContactStore, body: String| s.apply_soap(alice, body.as_bytes()).unwrap_err();
    assert_eq!(refuse(&mut s, set_contact("sip:x@contoso.lab", "9", 2)), SoapFault::NoSuchGroup(9));
    assert_eq!(refuse(&mut s, soap("deleteGroup", "<m:groupID>1</m:groupID>", 2)), SoapFault::DefaultGroup);
    assert_eq!(refuse(&mut s, soap("addGroup", "<m:name>Colleagues</m:name>", 2)).status_code(), 409);
    assert_eq!(refuse(&mut s, soap("deleteContact", "<m:URI>sip:nobody@x</m:URI>", 2)).status_code(), 404);
    assert!(matches!(refuse(&mut s, soap("setACE", "", 2)), SoapFault::UnknownOperation(op) if op == "setACE"));
    assert!(matches!(refuse(&mut s, "<a/>".into()), SoapFault::Malformed(_)));
    assert!(matches!(
        refuse(&mut s, soap("deleteGroup", "<m:groupID>2</m:groupID>", 0).replace("0</m:deltaNum>", "x</m:deltaNum>")),
        SoapFault::Malformed(_)
    ));
    assert_eq!(s.list(alice), store().list(alice));
    for fault in [SoapFault::DefaultGroup, SoapFault::Storage("disk full".into())] {
        let body = parse(&fault.fault_body());
        assert_eq!(body.root.path(&["Body", "Fault", "faultstring"]).unwrap().text, fault.to_string());
    }
}

#[test]
fn strict_delta_num_refuses_out_of_step_versions_with_a_wrong_delta_fault() {
    let mut s = store();
    s.set_strict_delta_num(true);
    let err = s.apply_soap("alice@contoso.lab", vector_envelope().as_bytes()).unwrap_err();
    assert_eq!(err, SoapFault::WrongDeltaNum { expected: 1, got: 12 });
    assert_eq!(err.status_code(), 409);
    assert_eq!(err.content_type(), "application/msrtc-fault+xml");
    let fault = parse(&err.fault_body());
    assert_eq!(fault.root.child_text("Faultcode"), Some("Client.BadCall.WrongDelta"));
    let op = fault.root.path(&["details", "operation"]).unwrap();
    assert_eq!((op.attr("version"), op.attr("curVersion")), (Some("12"), Some("1")));
    assert!(s.apply_soap("alice@contoso.lab", set_contact("sip:x@y", "", 1).as_bytes()).is_ok());
    // The next change is made against the new version.
    assert!(s.apply_soap("alice@contoso.lab", set_contact("sip:x@y", "", 1).as_bytes()).is_err());
    assert!(s.apply_soap("alice@contoso.lab", set_contact("sip:x@y", "", 2).as_bytes()).is_ok());
}

#[test]
fn limits_are_refused_with_a_fault() {
    let mut s = store();
    s.set_limits(2, 3);
    let alice = "alice@contoso.lab";
    s.apply_soap(alice, set_contact("sip:c1@contoso.lab", "", 2).as_bytes()).unwrap();
    let err = s.apply_soap(alice, set_contact("sip:c2@contoso.lab", "", 3).as_bytes()).unwrap_err();
    assert_eq!(err, SoapFault::TooManyContacts(2));
    assert_eq!(err.status_code(), 403);
    // Modifying an existing contact at the limit is fine.
    s.apply_soap(alice, set_contact("sip:c1@contoso.lab", "2", 3).as_bytes()).unwrap();
    s.apply_soap(alice, soap("addGroup", "<m:name>Third</m:name>", 4).as_bytes()).unwrap();
    let err = s.apply_soap(alice, soap("addGroup", "<m:name>Fourth</m:name>", 5).as_bytes()).unwrap_err();
    assert_eq!(err, SoapFault::TooManyGroups(3));
    assert!(ContactStore::with_defaults(&[], None).unwrap().max_contacts == DEFAULT_MAX_CONTACTS);
}

#[test]
fn lists_survive_a_restart_through_the_state_directory() {
    let dir = tempdir();
    let users = LabConfig::default().users;
    let mut first = ContactStore::with_defaults(&users, Some(dir.clone())).unwrap();
    first.apply_soap("alice@contoso.lab", set_contact("sip:carol@contoso.lab", "2", 2).as_bytes()).unwrap();
    first.apply_soap("bob@contoso.lab", set_contact("sip:alice@contoso.lab", "", 2).as_bytes()).unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 2, "one file per user, no temporary left: {files:?}");
    drop(first);

    let again = ContactStore::with_defaults(&users, Some(dir.clone())).unwrap();
    assert_eq!(again.list("alice@contoso.lab").delta_num, 2);
    assert_eq!(again.list("alice@contoso.lab").contacts.len(), 2, "bob from the defaults, carol added");
    assert_eq!(again.list("sip:bob@contoso.lab").contacts[0].uri, "alice@contoso.lab");

    std::fs::write(dir.join("contacts-broken.json"), "{").unwrap();
    let err = ContactStore::with_defaults(&users, Some(dir.clone())).unwrap_err();
    assert!(matches!(err, ContactError::Corrupt { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn contact_extensions_and_escaping_round_trip() {
    let mut s = store();
    let body = soap(
        "setContact",
        "<m:displayName>A \"quoted\" &lt;name&gt;</m:displayName><m:groups>1</m:groups><m:subscribed>false</m:subscribed>\
         <m:URI>sip:Dave@Contoso.lab</m:URI><m:contactExtension><contactSettings contactId=\"x\"/></m:contactExtension>",
        2,
    );
    let out = s.apply_soap("alice@contoso.lab", body.as_bytes()).unwrap();
    let delta = parse(&out.delta_document);
    let added = delta.root.child("addedContact").unwrap();
    assert_eq!(added.attr("name"), Some("A \"quoted\" <name>"));
    assert_eq!(added.attr("uri"), Some("dave@contoso.lab"));
    assert_eq!(added.attr("subscribed"), Some("false"));
    assert_eq!(added.path(&["contactExtension", "contactSettings"]).unwrap().attr("contactId"), Some("x"));
    parse(&s.full_document("alice@contoso.lab"));
}
