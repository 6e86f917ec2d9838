use super::*;
use crate::config::LabConfig;

/// The Lync SDK's note publication and deletion (the repository's copy in `tests/vectors/`).
const PUBLISH_NOTE_VECTOR: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/LYNCSDK_presence-publish-note_SERVICE.txt"));
const DELETE_NOTE_VECTOR: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/LYNCSDK_presence-delete-note_SERVICE.txt"));
/// [MS-SIP] 4.3: the legacy batched SUBSCRIBE and its multipart NOTIFY.
const BATCH_VECTOR: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/MS-SIP_4.3_batched-subscribe.txt"));

fn cut<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let start = text.find(open).expect("opening found");
    let end = text[start..].find(close).expect("closing found") + start + close.len();
    &text[start..end]
}

fn publish_note_body() -> &'static str {
    cut(PUBLISH_NOTE_VECTOR, "<publish", "</publish>")
}

fn parse(xml: &str) -> Document {
    Document::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"))
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000 + secs).unwrap()
}

fn store() -> PresenceStore {
    PresenceStore::with_users("contoso.lab", &LabConfig::default().users)
}

fn state(kind: &str, instance: u32, container: u32, version: u32, availability: u32) -> String {
    let manual = if kind == "userState" { " manual=\"true\"" } else { "" };
    format!(
        "<publication categoryName=\"state\" instance=\"{instance}\" container=\"{container}\" version=\"{version}\" \
         expireType=\"{}\"><state xmlns=\"{STATE_NS}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:type=\"{kind}\"{manual}><availability>{availability}</availability></state></publication>",
        if kind == "userState" { "static" } else { "endpoint" }
    )
}

fn publish_doc(aor: &str, publications: &[String]) -> String {
    format!(
        "<publish xmlns=\"{RICH_PRESENCE_NS}\"><publications uri=\"sip:{aor}\">{}</publications></publish>",
        publications.concat()
    )
}

fn key(category: &str, instance: u32, container: u32) -> PublicationKey {
    PublicationKey { category: category.into(), instance, container }
}

/// The availability of `aor`'s server aggregate in `container`.
fn aggregate_in(s: &PresenceStore, aor: &str, container: u32) -> Option<u32> {
    let p = s.publication(aor, &key("state", aggregation::AGGREGATE_INSTANCE, container))?;
    parse(&p.value).root.child_text("availability").and_then(|a| a.parse().ok())
}

#[test]
fn a_new_publication_must_carry_version_0_and_the_whole_request_fails_otherwise() {
    let mut s = PresenceStore::new("contoso.com");
    // The SDK example publishes note/1/100 at version 3: the server has none (0).
    let err = s.publish("sip:adamb@contoso.com", "6C801B691B", publish_note_body().as_bytes(), at(0)).unwrap_err();
    let PublishError::Conflict { conflicts, fault_body } = &err else { panic!("{err:?}") };
    assert_eq!(conflicts, &[VersionConflict { index: 1, version: 3, cur_version: 0 }]);
    assert_eq!(err.status_code(), 409);
    let fault = parse(fault_body);
    assert_eq!(fault.root.name, "Fault");
    assert_eq!(fault.root.child_text("Faultcode"), Some("Client.BadCall.WrongDelta"));
    let op = fault.root.path(&["details", "operation"]).unwrap();
    assert_eq!((op.attr("index"), op.attr("curVersion")), (Some("1"), Some("0")));
    assert!(s.publications("adamb@contoso.com").is_empty());

    // At version 0 it is stored as version 1, with the value as published.
    let body = publish_note_body().replace("version=\"3\"", "version=\"0\"");
    let change = s.publish("sip:adamb@contoso.com", "6C801B691B", body.as_bytes(), at(1)).unwrap();
    assert_eq!(change.visible_categories, ["note", "state"], "the note, and the first aggregate");
    let note = s.publication("adamb@contoso.com", &key("note", 1, 100)).unwrap();
    assert_eq!(note.version, 1);
    assert_eq!(note.expire_type, ExpireType::Endpoint);
    assert_eq!(note.epid.as_deref(), Some("6C801B691B"));
    assert_eq!(parse(&note.value).root.child_text("body"), Some("Personal note set by myApp"));
}

#[test]
fn one_stale_version_refuses_every_publication_and_reports_each_current_version() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    s.publish(
        alice,
        "e1",
        publish_doc(alice, &[state("machineState", 7, 2, 0, 3500), state("machineState", 7, 3, 0, 3500)]).as_bytes(),
        at(0),
    )
    .unwrap();
    s.publish(alice, "e1", publish_doc(alice, &[state("machineState", 7, 2, 1, 3500)]).as_bytes(), at(1)).unwrap();
    let before = s.publications(alice);
    // Index 1 is right (7/2 is at version 2), index 2 stale (0 sent, 1 held), index 3 new and right.
    let req = publish_doc(
        alice,
        &[
            state("machineState", 7, 2, 2, 6500),
            state("machineState", 7, 3, 0, 6500),
            state("userState", 9, 2, 0, 9500),
        ],
    );
    let err = s.publish(alice, "e1", req.as_bytes(), at(2)).unwrap_err();
    let PublishError::Conflict { conflicts, fault_body } = err else { panic!() };
    assert_eq!(conflicts, [VersionConflict { index: 2, version: 0, cur_version: 1 }]);
    let ops = parse(&fault_body).root.descendants("operation").len();
    assert_eq!(ops, 1);
    assert_eq!(s.publications(alice), before, "nothing applied");
}

#[test]
fn deleting_is_expires_0_and_a_deleted_key_starts_again_at_0() {
    let mut s = PresenceStore::new("contoso.com");
    let adam = "adamb@contoso.com";
    // The SDK's delete example (version 0, nothing held): accepted, nothing to do.
    let delete = cut(DELETE_NOTE_VECTOR, "<publish", "</publish>");
    assert!(s.publish(adam, "6C801B691B", delete.as_bytes(), at(0)).unwrap().is_empty());
    let body = publish_note_body().replace("version=\"3\"", "version=\"0\"");
    s.publish(adam, "6C801B691B", body.as_bytes(), at(1)).unwrap();
    let err = s.publish(adam, "6C801B691B", delete.as_bytes(), at(2)).unwrap_err();
    assert!(matches!(err, PublishError::Conflict { .. }), "deleting needs the held version too");
    let change = s.publish(adam, "6C801B691B", delete.replace("version=\"0\"", "version=\"1\"").as_bytes(), at(3));
    assert_eq!(change.unwrap().visible_categories, ["note"]);
    assert!(s.publication(adam, &key("note", 1, 100)).is_none());
    assert!(s.publish(adam, "6C801B691B", body.as_bytes(), at(4)).is_ok(), "back at version 0");
}

#[test]
fn a_user_state_wins_over_machine_states_until_it_is_cleared() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    s.publish(
        alice,
        "e1",
        publish_doc(alice, &[state("machineState", 7, 2, 0, 3500), state("machineState", 7, 3, 0, 3500)]).as_bytes(),
        at(0),
    )
    .unwrap();
    for c in [2, 100, 200, 300, 400] {
        assert_eq!(aggregate_in(&s, alice, c), Some(3500), "container {c}");
    }
    // A second device, away: the most active (lowest) wins.
    s.publish(alice, "e2", publish_doc(alice, &[state("machineState", 8, 2, 0, 15500)]).as_bytes(), at(1)).unwrap();
    assert_eq!(aggregate_in(&s, alice, 200), Some(3500));
    // The user chooses Do Not Disturb: it wins everywhere but the workgroup sees busy, urgent interruptions only.
    let change = s
        .publish(
            alice,
            "e2",
            publish_doc(
                alice,
                &[state("userState", 0x2000_0000, 2, 0, 9500), state("userState", 0x2000_0000, 3, 0, 9500)],
            )
            .as_bytes(),
            at(2),
        )
        .unwrap();
    assert_eq!(change.visible_categories, ["state"]);
    assert_eq!(aggregate_in(&s, alice, 200), Some(9500));
    let agg = s.publication(alice, &key("state", 1, 200)).unwrap();
    assert_eq!(parse(&agg.value).root.attr("manual"), Some("true"));
    assert_eq!(agg.expire_type, ExpireType::User);
    assert_eq!(agg.epid, None);
    assert_eq!(aggregate_in(&s, alice, 300), Some(6500));
    let workgroup = s.publication(alice, &key("state", 1, 300)).unwrap();
    assert_eq!(
        parse(&workgroup.value).root.child("activity").unwrap().attr("token"),
        Some("urgent-interruptions-only")
    );
    // Clearing the user state hands back to the machines; an unchanged aggregate keeps its version.
    let v = s.publication(alice, &key("state", 1, 100)).unwrap().version;
    let clear = format!(
        "<publication categoryName=\"state\" instance=\"{}\" container=\"2\" version=\"1\" expireType=\"static\" expires=\"0\"/>",
        0x2000_0000u32
    );
    s.publish(alice, "e1", publish_doc(alice, &[clear]).as_bytes(), at(3)).unwrap();
    assert_eq!(aggregate_in(&s, alice, 100), Some(3500));
    assert_eq!(s.publication(alice, &key("state", 1, 100)).unwrap().version, v + 1);
    let unchanged =
        s.publish(alice, "e2", publish_doc(alice, &[state("machineState", 8, 2, 1, 12500)]).as_bytes(), at(4)).unwrap();
    assert!(unchanged.visible_categories.is_empty(), "only container 2 changed: {unchanged:?}");
    assert!(unchanged.self_changed);
}

#[test]
fn phone_and_calendar_make_an_available_user_busy() {
    let mut s = store();
    let bob = "bob@contoso.lab";
    let phone = state("phoneState", 0x8000_0001, 2, 0, 6500).replace(
        "<availability>6500</availability>",
        "<availability>6500</availability><activity token=\"on-the-phone\"/>",
    );
    s.publish(bob, "e1", publish_doc(bob, &[state("machineState", 7, 2, 0, 3500), phone]).as_bytes(), at(0)).unwrap();
    assert_eq!(aggregate_in(&s, bob, 200), Some(6500));
    let value = &s.publication(bob, &key("state", 1, 200)).unwrap().value;
    assert_eq!(parse(value).root.child("activity").unwrap().attr("token"), Some("on-the-phone"));
}

#[test]
fn an_endpoint_going_away_takes_its_publications_and_the_last_one_leaves_the_user_offline() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    s.publish(alice, "e1", publish_doc(alice, &[state("machineState", 7, 2, 0, 3500)]).as_bytes(), at(0)).unwrap();
    s.publish(
        alice,
        "e2",
        publish_doc(alice, &[state("machineState", 8, 2, 0, 15500), state("userState", 5, 2, 0, 6500)]).as_bytes(),
        at(1),
    )
    .unwrap();
    assert_eq!(aggregate_in(&s, alice, 200), Some(6500));
    let change = s.endpoint_gone(alice, "e2", at(2));
    assert!(s.publication(alice, &key("state", 8, 2)).is_none());
    assert!(s.publication(alice, &key("state", 5, 2)).is_some(), "a static user state stays");
    assert_eq!(aggregate_in(&s, alice, 200), Some(6500), "the user state still wins while e1 is signed in");
    assert!(change.visible_categories.is_empty());
    let change = s.endpoint_gone(alice, "e1", at(3));
    assert_eq!(change.visible_categories, ["state"]);
    assert_eq!(aggregate_in(&s, alice, 200), Some(aggregation::OFFLINE), "no device: offline despite the user state");
    assert!(s.endpoint_gone(alice, "nobody", at(4)).is_empty());
    assert!(s.endpoint_gone("carol@contoso.lab", "e1", at(4)).is_empty());
}

#[test]
fn time_bound_publications_lapse() {
    let mut s = store();
    let bob = "bob@contoso.lab";
    let note = "<publication categoryName=\"note\" instance=\"0\" container=\"200\" version=\"0\" expireType=\"time\" expires=\"60\">\
         <note xmlns=\"http://schemas.microsoft.com/2006/09/sip/note\"><body type=\"personal\" uri=\"\">brb</body></note></publication>"
        .to_string();
    s.publish(bob, "e1", publish_doc(bob, &[note]).as_bytes(), at(0)).unwrap();
    assert!(s.expire(at(59)).is_empty());
    let changes = s.expire(at(60));
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].aor.as_str(), changes[0].visible_categories.as_slice()),
        ("bob@contoso.lab", &["note".to_string()][..])
    );
    assert!(s.publication(bob, &key("note", 0, 200)).is_none());
}

#[test]
fn watchers_see_the_container_their_relationship_allows() {
    let mut s = store();
    let bob = "bob@contoso.lab";
    let note = |container: u32, text: &str| {
        format!(
            "<publication categoryName=\"note\" instance=\"0\" container=\"{container}\" version=\"0\" expireType=\"static\">\
             <note xmlns=\"http://schemas.microsoft.com/2006/09/sip/note\"><body type=\"personal\" uri=\"\">{text}</body></note></publication>"
        )
    };
    let notes = [note(100, "public"), note(200, "colleagues &amp; co"), note(32000, "")];
    s.publish(bob, "e1", publish_doc(bob, &[notes.concat(), state("machineState", 7, 2, 0, 3500)]).as_bytes(), at(0))
        .unwrap();
    let cats = ["state".to_string(), "note".to_string(), "contactCard".to_string()];

    let doc = parse(&s.categories_document("sip:bob@contoso.lab", "sip:alice@contoso.lab", &cats));
    assert_eq!(doc.root.namespace.as_deref(), Some(CATEGORIES_NS));
    assert_eq!(doc.root.attr("uri"), Some("sip:bob@contoso.lab"));
    let found: Vec<_> =
        doc.root.children_named("category").map(|c| (c.attr("name").unwrap(), c.attr("container"))).collect();
    assert_eq!(found, [("state", Some("200")), ("note", Some("200")), ("contactCard", None)]);
    let note_el = doc.root.children_named("category").nth(1).unwrap();
    assert_eq!(note_el.path(&["note", "body"]).unwrap().text, "colleagues & co");
    assert_eq!(note_el.attr("version"), Some("1"));
    assert_eq!(note_el.attr("expireType"), Some("static"));
    assert_eq!(note_el.attr("publishTime"), Some(format_publish_time(at(0)).as_str()));
    assert_eq!(note_el.attr("instance"), Some("0"));

    let fed = parse(&s.categories_document(bob, "sip:eve@fabrikam.test", &cats));
    assert_eq!(
        fed.root.children_named("category").filter_map(|c| c.attr("container")).collect::<Vec<_>>(),
        ["100", "100"]
    );

    assert!(s.set_blocked(bob, "alice@contoso.lab", true).self_changed);
    let blocked = parse(&s.categories_document(bob, "alice@contoso.lab", &[]));
    let only: Vec<_> = blocked.root.children_named("category").map(|c| c.attr("container")).collect();
    assert_eq!(only, [Some("32000")]);
}

#[test]
fn the_batched_notify_is_multipart_related_with_one_part_per_presentity() {
    let mut s = store();
    let bob = "bob@contoso.lab";
    s.publish(bob, "e1", publish_doc(bob, &[state("machineState", 7, 2, 0, 3500)]).as_bytes(), at(0)).unwrap();
    let targets = ["sip:bob@contoso.lab".to_string(), "sip:carol@contoso.lab".into(), "sip:ghost@contoso.lab".into()];
    let (content_type, body) = s.notify_body("sip:alice@contoso.lab", &targets, &["state".into()], 3);
    let boundary = content_type.rsplit_once("boundary=").unwrap().1;
    assert!(
        content_type.starts_with("multipart/related; type=\"application/rlmi+xml\"; start=resourceList; boundary=")
    );
    assert!(body.ends_with(&format!("--{boundary}--\r\n")));
    let parts: Vec<&str> = body.split(&format!("--{boundary}")).filter(|p| p.starts_with("\r\n")).collect();
    assert_eq!(parts.len(), 3, "the list, bob, carol (the unknown ghost gets none)");
    // Each part's headers in [MS-SIP] 4.3's order.
    let vector_headers =
        ["Content-Transfer-Encoding: binary", "Content-ID: resourceList", "Content-Type: application/rlmi+xml"];
    let (head, list_xml) = parts[0].trim_start_matches("\r\n").split_once("\r\n\r\n").unwrap();
    assert_eq!(head.split("\r\n").collect::<Vec<_>>(), vector_headers);
    assert!(vector_headers.iter().all(|h| BATCH_VECTOR.contains(h)));
    let list = parse(list_xml.trim_end());
    assert_eq!(
        (list.root.name.as_str(), list.root.attr("version"), list.root.attr("uri")),
        ("list", Some("3"), Some("sip:alice@contoso.lab"))
    );
    let states: Vec<_> =
        list.root.descendants("instance").into_iter().map(|i| (i.attr("state"), i.attr("cid"))).collect();
    assert_eq!(
        states,
        [
            (Some("active"), Some("bob@contoso.lab")),
            (Some("active"), Some("carol@contoso.lab")),
            (Some("terminated"), None)
        ]
    );
    let (head, bob_xml) = parts[1].trim_start_matches("\r\n").split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-ID: bob@contoso.lab\r\nContent-Type: application/msrtc-event-categories+xml"));
    let bob_doc = parse(bob_xml.trim_end());
    assert_eq!(bob_doc.root.child("category").unwrap().path(&["state", "availability"]).unwrap().text, "3500");
    let (_, partial) = s.partial_notify_body("sip:alice@contoso.lab", &targets[..1], &[], 4);
    assert!(partial.contains("version=\"4\" fullState=\"false\""), "{partial}");
}

#[test]
fn batch_subscribes_are_read_in_both_shapes() {
    let sipe = "<batchSub xmlns=\"http://schemas.microsoft.com/2006/01/sip/batch-subscribe\" uri=\"sip:alice@contoso.lab\" name=\"\">\
        <action name=\"subscribe\" id=\"63792024\"><adhocList><resource uri=\"sip:bob@contoso.lab\"/>\
        <resource uri=\"sip:carol@contoso.lab\"><context/></resource></adhocList>\
        <categoryList xmlns=\"http://schemas.microsoft.com/2006/09/sip/categorylist\"><category name=\"calendarData\"/>\
        <category name=\"contactCard\"/><category name=\"note\"/><category name=\"state\"/></categoryList></action></batchSub>";
    let b = parse_batch_subscribe(sipe.as_bytes()).unwrap();
    assert_eq!(b.action, "subscribe");
    assert_eq!(b.resources, ["sip:bob@contoso.lab", "sip:carol@contoso.lab"]);
    assert_eq!(b.categories, ["calendarData", "contactCard", "note", "state"]);
    // [MS-SIP] 4.3's legacy adhoclist, as the vector prints it.
    let legacy = parse_batch_subscribe(cut(BATCH_VECTOR, "<adhoclist", "</adhoclist>").as_bytes()).unwrap();
    assert_eq!(legacy.resources, ["sip:user2@server.contoso.com", "sip:user3@server.contoso.com"]);
    assert!(legacy.categories.is_empty());
    assert!(matches!(parse_batch_subscribe(b"<nope/>"), Err(PresenceError::Malformed(_))));
    let many = format!("<adhoclist><create>{}</create></adhoclist>", "<resource uri=\"sip:x@y\"/>".repeat(1001));
    assert_eq!(parse_batch_subscribe(many.as_bytes()), Err(PresenceError::TooManyResources(1000)));
}

#[test]
fn the_roaming_self_document_holds_every_container_versions_and_subscribers() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    s.publish(
        alice,
        "e1",
        publish_doc(alice, &[state("machineState", 7, 2, 0, 3500), state("userState", 5, 3, 0, 6500)]).as_bytes(),
        at(0),
    )
    .unwrap();
    assert!(s.record_subscriber(alice, "sip:bob@contoso.lab", "Bob Berg"));
    assert!(!s.record_subscriber(alice, "bob@contoso.lab", "Bob Berg"), "known already");
    assert!(!s.record_subscriber(alice, alice, "me"));
    assert!(!s.record_subscriber("ghost@contoso.lab", "bob@contoso.lab", "Bob"), "not a lab user");
    s.set_blocked(alice, "sip:mallory@fabrikam.test", true);
    let doc = parse(&s.roaming_self_document("sip:alice@contoso.lab"));
    assert_eq!(doc.root.name, "roamingData");
    let cats: Vec<_> = doc
        .root
        .child("categories")
        .unwrap()
        .children_named("category")
        .map(|c| (c.attr("instance").unwrap(), c.attr("container").unwrap(), c.attr("version").unwrap()))
        .collect();
    assert!(cats.contains(&("7", "2", "1")) && cats.contains(&("5", "3", "1")), "{cats:?}");
    assert!(cats.contains(&("1", "2", "1")), "the aggregate in container 2, where SIPE reads it");
    let containers: Vec<_> = doc.root.descendants("container").into_iter().filter_map(|c| c.attr("id")).collect();
    assert_eq!(containers, ["100", "200", "32000"]);
    let blocked = doc.root.descendants("container").into_iter().find(|c| c.attr("id") == Some("32000")).unwrap();
    let member = blocked.child("member").unwrap();
    assert_eq!((member.attr("type"), member.attr("value")), (Some("user"), Some("sip:mallory@fabrikam.test")));
    let sub = doc.root.path(&["subscribers", "subscriber"]).unwrap();
    assert_eq!(
        (sub.attr("user"), sub.attr("displayName"), sub.attr("acknowledged")),
        (Some("bob@contoso.lab"), Some("Bob Berg"), Some("false"))
    );

    let ack = "<setSubscribers xmlns=\"http://schemas.microsoft.com/2006/09/sip/presence-subscribers\"><subscriber user=\"bob@contoso.lab\" acknowledged=\"true\"/></setSubscribers>";
    assert!(s.set_subscribers(alice, ack.as_bytes()).unwrap().self_changed);
    assert!(s.subscribers(alice)[0].acknowledged);
    assert!(!s.set_subscribers(alice, ack.as_bytes()).unwrap().self_changed);
}

#[test]
fn malformed_and_foreign_publications_are_refused() {
    let mut s = store();
    let alice = "alice@contoso.lab";
    let foreign = publish_doc("bob@contoso.lab", &[state("machineState", 7, 2, 0, 3500)]);
    assert_eq!(s.publish(alice, "e1", foreign.as_bytes(), at(0)).unwrap_err().status_code(), 403);
    for bad in [
        "<nope/>".to_string(),
        publish_doc(alice, &["<publication categoryName=\"note\" container=\"2\" version=\"0\"/>".into()]),
        publish_doc(alice, &["<publication categoryName=\"note\" instance=\"x\" container=\"2\"/>".into()]),
        publish_doc(
            alice,
            &["<publication categoryName=\"note\" instance=\"1\" container=\"2\" expireType=\"never\"/>".into()],
        ),
    ] {
        let err = s.publish(alice, "e1", bad.as_bytes(), at(0)).unwrap_err();
        assert!(matches!(err, PublishError::Malformed(_)), "{bad}: {err:?}");
        assert_eq!(err.status_code(), 400);
    }
    let many = publish_doc(alice, &vec![state("machineState", 7, 2, 0, 3500); MAX_PUBLICATIONS_PER_REQUEST + 1]);
    assert_eq!(
        s.publish(alice, "e1", many.as_bytes(), at(0)).unwrap_err(),
        PublishError::TooMany(MAX_PUBLICATIONS_PER_REQUEST)
    );
    assert!(s.publications(alice).is_empty());
}

#[test]
fn publish_time_is_written_as_the_specification_shows_it() {
    let t = OffsetDateTime::from_unix_timestamp(1_201_045_265).unwrap() + time::Duration::milliseconds(450);
    assert_eq!(format_publish_time(t), "2008-01-22T23:41:05.450");
}

#[test]
fn a_huge_expires_is_clamped_not_a_panic() {
    let mut s = store();
    let bob = "bob@contoso.lab";
    let note = format!(
        "<publication categoryName=\"note\" instance=\"0\" container=\"200\" version=\"0\" expireType=\"time\" expires=\"{}\"/>",
        u64::MAX
    );
    s.publish(bob, "e1", publish_doc(bob, &[note]).as_bytes(), at(0)).unwrap();
    let p = s.publication(bob, &key("note", 0, 200)).unwrap();
    assert_eq!(p.expires_at, Some(at(MAX_EXPIRES_SECONDS as i64)));
}
