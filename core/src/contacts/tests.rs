use super::*;

const ADD_CONTACT_VECTOR: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/MS-SIP_4.6_addcontact.txt"));

/// The full list of the [MS-SIP] 3.7.5.2 example (piggy-backed on the 200 OK to the SUBSCRIBE), with its
/// quirks: no namespace, `uri` without `sip:` and with a trailing space, `groups="1 3 "`.
const FULL_LIST: &str = r#"<contactList deltaNum="685" >
<group id="1" name="~" externalURI="" />
<group id="2" name="Team" externalURI="" />
<group id="3" name="External" externalURI="" />
<contact uri="contact1@tradewind.com" name="" groups="1 3 " subscribed="true" externalURI="" />
<contact uri="contact2@tradewind.com " name="" groups="1 2 " subscribed="true" externalURI="" />
<contact uri="contact3@tradewind.com " name="" groups="1 " subscribed="true" externalURI="" />
<contact uri="contact4@tradewind.com " name="" groups="1 " subscribed="true" externalURI="" />
</contactList>"#;

fn group(id: u32, name: &str) -> Group {
    Group { id, name: name.into(), external_uri: None }
}

fn contact(uri: &str, name: &str, groups: &[u32]) -> Contact {
    Contact {
        uri: uri.into(),
        name: name.into(),
        groups: groups.to_vec(),
        subscribed: true,
        external_uri: None,
        extension: None,
    }
}

fn loaded() -> ContactList {
    let mut list = ContactList::new();
    list.apply(FULL_LIST.as_bytes()).unwrap();
    list
}

#[test]
fn reads_a_full_list() {
    let mut list = ContactList::new();
    let changes = list.apply(FULL_LIST.as_bytes()).unwrap();
    assert_eq!(list.delta_num, 685);
    assert_eq!(list.ucs_mode, None);
    assert!(!list.is_ucs_migrated());
    assert_eq!(list.groups, [group(1, "~"), group(2, "Team"), group(3, "External")]);
    assert_eq!(list.default_group().map(Group::display_name), Some("Other Contacts"));
    assert_eq!(list.group(2).map(Group::display_name), Some("Team"));
    assert_eq!(list.contacts[0], contact("sip:contact1@tradewind.com", "", &[1, 3]));
    assert_eq!(list.contacts[1], contact("sip:contact2@tradewind.com", "", &[1, 2]));
    assert_eq!(list.contacts.len(), 4);
    assert_eq!(changes.len(), 7);
    assert_eq!(changes[0], ContactChange::GroupAdded(group(1, "~")));
    assert_eq!(changes[3], ContactChange::ContactAdded(contact("sip:contact1@tradewind.com", "", &[1, 3])));
    assert_eq!(list.request_delta_num(), 685);
}

#[test]
fn a_new_full_list_replaces_the_old_and_reports_the_differences() {
    let mut list = loaded();
    let next = r#"<contactList deltaNum="690">
<group id="1" name="~"/>
<group id="2" name="Colleagues" externalURI="ldap://x"/>
<group id="4" name="Friends"/>
<contact uri="contact1@tradewind.com" name="" groups="1 3" subscribed="true"/>
<contact uri="contact2@tradewind.com" name="Bob" groups="1 4" subscribed="false"/>
<contact uri="contact3@tradewind.com" name="" groups="1"/>
<contact uri="contact5@tradewind.com" name="Eve" groups="4"><contactExtension><x a="1"/></contactExtension></contact>
</contactList>"#;
    let changes = list.apply(next.as_bytes()).unwrap();
    let mut bob = contact("sip:contact2@tradewind.com", "Bob", &[1, 4]);
    bob.subscribed = false;
    let mut eve = contact("sip:contact5@tradewind.com", "Eve", &[4]);
    eve.extension = Some("<x a=\"1\"/>".into());
    assert_eq!(
        changes,
        [
            ContactChange::GroupModified {
                before: group(2, "Team"),
                after: Group { id: 2, name: "Colleagues".into(), external_uri: Some("ldap://x".into()) }
            },
            ContactChange::GroupAdded(group(4, "Friends")),
            ContactChange::ContactModified { before: contact("sip:contact2@tradewind.com", "", &[1, 2]), after: bob },
            ContactChange::ContactAdded(eve),
            ContactChange::ContactRemoved { uri: "sip:contact4@tradewind.com".into() },
            ContactChange::GroupRemoved { id: 3, name: "External".into() },
        ]
    );
    assert_eq!(list.delta_num, 690);
    assert_eq!(list.contacts.len(), 4);
    // The same list again changes nothing.
    assert_eq!(list.apply(next.as_bytes()).unwrap(), []);
}

#[test]
fn applies_every_kind_of_delta() {
    let mut list = loaded();
    let delta = r#"<contactDelta deltaNum="686" prevDeltaNum="685">
<addedGroup id="4" name="Friends" externalURI=""/>
<modifiedGroup id="2" name="Colleagues"/>
<addedContact uri="contact5@tradewind.com" name="Eve" groups="4" subscribed="true"/>
<modifiedContact uri="contact1@tradewind.com" name="Alice" groups="1 2" subscribed="true"/>
<deletedContact uri="contact4@tradewind.com"/>
<deletedGroup id="3"/>
</contactDelta>"#;
    let changes = list.apply(delta.as_bytes()).unwrap();
    assert_eq!(
        changes,
        [
            ContactChange::GroupAdded(group(4, "Friends")),
            ContactChange::GroupModified { before: group(2, "Team"), after: group(2, "Colleagues") },
            ContactChange::ContactAdded(contact("sip:contact5@tradewind.com", "Eve", &[4])),
            ContactChange::ContactModified {
                before: contact("sip:contact1@tradewind.com", "", &[1, 3]),
                after: contact("sip:contact1@tradewind.com", "Alice", &[1, 2]),
            },
            ContactChange::ContactRemoved { uri: "sip:contact4@tradewind.com".into() },
            ContactChange::GroupRemoved { id: 3, name: "External".into() },
        ]
    );
    assert_eq!(list.delta_num, 686);
    assert_eq!(list.groups, [group(1, "~"), group(2, "Colleagues"), group(4, "Friends")]);
    assert!(list.contact("contact4@tradewind.com").is_none());
    assert_eq!(list.contact("SIP:CONTACT5@tradewind.com").map(|c| c.name.as_str()), Some("Eve"));
}

#[test]
fn delta_edge_cases_converge() {
    let mut list = loaded();
    // Adding what exists modifies it; modifying what does not exist adds it; deleting what does not exist
    // does nothing; unknown elements are ignored; delta URIs may carry `sip:` already.
    let delta = r#"<contactDelta deltaNum="700" prevDeltaNum="699">
<addedGroup id="2" name="Team"/>
<modifiedGroup id="9" name="New"/>
<addedContact uri="sip:contact1@tradewind.com" name="" groups="1 3" subscribed="true"/>
<modifiedContact uri="contact9@tradewind.com" name="" groups="9"/>
<deletedContact uri="nobody@tradewind.com"/>
<deletedGroup id="42"/>
<somethingNew/>
</contactDelta>"#;
    let changes = list.apply(delta.as_bytes()).unwrap();
    assert_eq!(
        changes,
        [
            ContactChange::GroupAdded(group(9, "New")),
            ContactChange::ContactAdded(contact("sip:contact9@tradewind.com", "", &[9])),
        ]
    );
    assert_eq!(list.delta_num, 700);
}

#[test]
fn ignores_stale_deltas() {
    let mut list = loaded();
    let before = list.clone();
    for num in ["685", "600"] {
        let delta = format!(r#"<contactDelta deltaNum="{num}" prevDeltaNum="1"><deletedGroup id="1"/></contactDelta>"#);
        assert_eq!(list.apply(delta.as_bytes()).unwrap(), []);
        assert_eq!(list, before);
    }
    // A full list is authoritative whatever its number (e.g. after the server reset the list).
    let changes = list.apply(br#"<contactList deltaNum="3"><group id="1" name="~"/></contactList>"#).unwrap();
    assert_eq!(changes.len(), 6);
    assert_eq!(list.delta_num, 3);
}

#[test]
fn knows_when_the_list_moved_to_exchange() {
    let mut list = ContactList::new();
    list.apply(br#"<contactList deltaNum="1" ucsmode="migrated"/>"#).unwrap();
    assert!(list.is_ucs_migrated());
    assert_eq!(list.ucs_mode.as_deref(), Some("migrated"));
    // pidgin-sipe ignores the standard list the server sends later; the migrated state sticks.
    list.apply(br#"<contactList deltaNum="2"><group id="1" name="~"/></contactList>"#).unwrap();
    assert!(list.is_ucs_migrated());
    // An explicit other mode is believed.
    list.apply(br#"<contactList deltaNum="3" ucsmode="notmigrated"/>"#).unwrap();
    assert!(!list.is_ucs_migrated());
    assert_eq!(list.ucs_mode.as_deref(), Some("notmigrated"));
}

#[test]
fn refuses_malformed_bodies_and_keeps_the_list() {
    let mut list = loaded();
    let before = list.clone();
    type Case = (&'static [u8], fn(&ContactsError) -> bool);
    let cases: &[Case] = &[
        (b"<contactList", |e| matches!(e, ContactsError::Xml(_))),
        (b"", |e| *e == ContactsError::Xml(XmlError::Empty)),
        (b"<roamingList/>", |e| matches!(e, ContactsError::UnexpectedRoot { found, .. } if found == "roamingList")),
        (b"<contactList/>", |e| matches!(e, ContactsError::Missing { what } if what.contains("deltaNum"))),
        (b"<contactList deltaNum=\"-1\"/>", |e| matches!(e, ContactsError::Invalid { value, .. } if value == "-1")),
        (
            b"<contactList deltaNum=\"9\"><group id=\"x\" name=\"a\"/></contactList>",
            |e| matches!(e, ContactsError::Invalid { what, .. } if what == "<group> attribute id"),
        ),
        (
            b"<contactList deltaNum=\"9\"><group id=\"1\"/></contactList>",
            |e| matches!(e, ContactsError::Missing { what } if what == "<group> attribute name"),
        ),
        (
            b"<contactList deltaNum=\"9\"><contact name=\"a\"/></contactList>",
            |e| matches!(e, ContactsError::Missing { what } if what == "<contact> attribute uri"),
        ),
        (
            b"<contactList deltaNum=\"9\"><contact uri=\" \"/></contactList>",
            |e| matches!(e, ContactsError::Invalid { what, .. } if what == "<contact> attribute uri"),
        ),
        (
            b"<contactList deltaNum=\"9\"><contact uri=\"a@b\" groups=\"1 two\"/></contactList>",
            |e| matches!(e, ContactsError::Invalid { what, value, .. } if what == "<contact> attribute groups" && value == "1 two"),
        ),
        (
            b"<contactList deltaNum=\"9\"><contact uri=\"a@b\" subscribed=\"yes\"/></contactList>",
            |e| matches!(e, ContactsError::Invalid { what, .. } if what == "<contact> attribute subscribed"),
        ),
        (
            b"<contactDelta deltaNum=\"999\"><addedGroup id=\"5\" name=\"ok\"/><deletedGroup/></contactDelta>",
            |e| matches!(e, ContactsError::Missing { what } if what == "<deletedGroup> attribute id"),
        ),
        (
            b"<contactDelta deltaNum=\"999\"><deletedContact/></contactDelta>",
            |e| matches!(e, ContactsError::Missing { what } if what == "<deletedContact> attribute uri"),
        ),
    ];
    for (body, check) in cases {
        let err = list.apply(body).unwrap_err();
        assert!(check(&err), "{}: {err:?}", String::from_utf8_lossy(body));
        assert_eq!(list, before, "a failed apply changed the list");
    }
    let msg = ContactsError::Missing { what: "<contactList> attribute deltaNum".into() }.to_string();
    assert!(msg.contains("deltaNum") && msg.contains("required"), "{msg}");
}

#[test]
fn normalizes_the_sip_prefix() {
    assert_eq!(normalize_uri("alice@contoso.com"), "sip:alice@contoso.com");
    assert_eq!(normalize_uri(" alice@contoso.com "), "sip:alice@contoso.com");
    assert_eq!(normalize_uri("sip:alice@contoso.com"), "sip:alice@contoso.com");
    assert_eq!(normalize_uri("SIP:alice@contoso.com"), "sip:alice@contoso.com");
    assert_eq!(normalize_uri("sips:alice@contoso.com"), "sips:alice@contoso.com");
    assert_eq!(normalize_uri("tel:+14255550100"), "tel:+14255550100");
    assert_eq!(normalize_uri("si"), "sip:si");
    assert_eq!(normalize_uri("é@x"), "sip:é@x");
    // Deletions name the contact without `sip:`, as the list does; they still find it.
    let mut list = loaded();
    let changes =
        list.apply(br#"<contactDelta deltaNum="686"><deletedContact uri="contact2@tradewind.com"/></contactDelta>"#);
    assert_eq!(changes.unwrap(), [ContactChange::ContactRemoved { uri: "sip:contact2@tradewind.com".into() }]);
}

/// The body of the [MS-SIP] 4.6 vector rebuilt as it is on the wire: the Markdown conversion puts a blank line
/// between lines and breaks start tags before their `xmlns` attribute (vectors/README.md).
fn vector_body(vector: &str) -> String {
    let start = vector.find("<SOAP-ENV:Envelope").unwrap();
    let end = vector.find("</SOAP-ENV:Envelope>").unwrap() + "</SOAP-ENV:Envelope>".len();
    let mut body = String::new();
    for line in vector[start..end].lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("xmlns") {
            body.push(' ');
        }
        body.push_str(line);
    }
    body
}

#[test]
fn set_contact_matches_the_ms_sip_4_6_vector() {
    let buddy = Contact {
        uri: "sip:user4@server.contoso.com".into(),
        name: "buddy 1".into(),
        groups: Vec::new(),
        subscribed: true,
        external_uri: None,
        extension: None,
    };
    let expected = vector_body(ADD_CONTACT_VECTOR);
    assert_eq!(set_contact(12, &buddy), expected);
    assert!(ADD_CONTACT_VECTOR.contains(&format!("Content-Type: {}", soap::CONTENT_TYPE)));
    assert!(ADD_CONTACT_VECTOR.contains("\nSERVICE sip:"));
    // The wire form of the URI may be given without `sip:`.
    let bare = Contact { uri: "user4@server.contoso.com".into(), ..buddy.clone() };
    assert_eq!(set_contact(12, &bare), expected);
    // Groups and external URI when present; text escaped.
    let moved = Contact {
        name: "R&D <lab>".into(),
        groups: vec![1, 4],
        subscribed: false,
        external_uri: Some("ldap://x?a&b".into()),
        ..buddy
    };
    let body = set_contact(13, &moved);
    assert!(body.contains(
        "<m:displayName>R&amp;D &lt;lab&gt;</m:displayName><m:groups>1 4</m:groups><m:subscribed>false</m:subscribed>\
         <m:URI>sip:user4@server.contoso.com</m:URI><m:externalURI>ldap://x?a&amp;b</m:externalURI><m:deltaNum>13</m:deltaNum>"
    ));
    assert!(Document::parse(body.as_bytes()).is_ok());
}

#[test]
fn other_builders_follow_ms_sip_4_7_to_4_9() {
    let env = |op: &str, inner: &str| {
        format!(
            "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body>\
             <m:{op} xmlns:m=\"http://schemas.microsoft.com/winrtc/2002/11/sip\">{inner}</m:{op}>\
             </SOAP-ENV:Body></SOAP-ENV:Envelope>"
        )
    };
    // 4.7 DeleteContact, 4.8 AddGroup, 4.9 DeleteGroup: same elements, values and order as the examples.
    assert_eq!(
        delete_contact(15, "sip:user4@server.contoso.com"),
        env("deleteContact", "<m:URI>sip:user4@server.contoso.com</m:URI><m:deltaNum>15</m:deltaNum>")
    );
    assert_eq!(delete_contact(15, "user4@server.contoso.com"), delete_contact(15, "sip:user4@server.contoso.com"));
    assert_eq!(
        add_group(16, "Friends"),
        env("addGroup", "<m:name>Friends</m:name><m:externalURI /><m:deltaNum>16</m:deltaNum>")
    );
    assert_eq!(delete_group(17, 1), env("deleteGroup", "<m:groupID>1</m:groupID><m:deltaNum>17</m:deltaNum>"));
    // Appendix D 9.3 (no example in section 4).
    assert_eq!(
        modify_group(18, 2, "A&B"),
        env(
            "modifyGroup",
            "<m:groupID>2</m:groupID><m:name>A&amp;B</m:name><m:externalURI /><m:deltaNum>18</m:deltaNum>"
        )
    );
}

#[test]
fn reads_soap_replies() {
    // [MS-SIP] 4.8: the 200 OK to addGroup carries the new group's id.
    let add_group_ok = r#"<SOAP-ENV:Envelope
xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
<SOAP-ENV:Body>
<m:addGroup
xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip">
<m:groupID>1</m:groupID>
</m:addGroup>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;
    assert_eq!(
        parse_reply(add_group_ok.as_bytes()).unwrap(),
        SoapReply { method: Some("addGroup".into()), group_id: Some(1) }
    );
    // 4.6, 4.7, 4.9: no body.
    assert_eq!(parse_reply(b"").unwrap(), SoapReply::default());
    assert_eq!(parse_reply(b"\r\n").unwrap(), SoapReply::default());
    let fault = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>deltaNum mismatch</faultstring><detail><code>409</code></detail></s:Fault></s:Body></s:Envelope>"#;
    let err = parse_reply(fault.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        ContactsError::SoapFault {
            code: "s:Client".into(),
            text: "deltaNum mismatch".into(),
            detail: Some("<code>409</code>".into())
        }
    );
    assert!(err.to_string().contains("deltaNum mismatch"));
    assert!(matches!(parse_reply(b"<contactList deltaNum=\"1\"/>"), Err(ContactsError::UnexpectedRoot { .. })));
    assert!(matches!(parse_reply(b"<Envelope/>"), Err(ContactsError::Missing { .. })));
    assert!(matches!(parse_reply(b"<Envelope"), Err(ContactsError::Xml(_))));
    let bad_id = add_group_ok.replace("<m:groupID>1<", "<m:groupID>one<");
    assert!(matches!(parse_reply(bad_id.as_bytes()), Err(ContactsError::Invalid { value, .. }) if value == "one"));
}

#[test]
fn serializes_for_bindings() {
    let list = loaded();
    let json = serde_json::to_value(&list).unwrap();
    assert_eq!(json["delta_num"], 685);
    assert_eq!(json["contacts"][0]["uri"], "sip:contact1@tradewind.com");
    let change = serde_json::to_value(ContactChange::ContactRemoved { uri: "sip:a@b".into() }).unwrap();
    assert_eq!(change["ContactRemoved"]["uri"], "sip:a@b");
}
