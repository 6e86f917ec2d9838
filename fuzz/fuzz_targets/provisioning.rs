//! The in-band provisioning reader (`provisioning::parse`): a `provisionGroupList` with its groups, read into
//! typed server configuration and policies, every group kept raw.
//!
//! Invariants: the shared XML reader's invariants on the body; one raw group per `provisionGroup` element, in
//! order, each group's `xml` being the source of an element that reads as a `provisionGroup` of that name;
//! `group(name)` finds the first group of that name; `property` agrees with `properties` case-insensitively.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::provisioning::parse;
use sfbkit::xml::Document;
use sfbkit_fuzz::touch;

fuzz_target!(|body: &[u8]| {
    let doc = sfbkit_fuzz::check_document(body);
    let p = match parse(body) {
        Ok(p) => p,
        Err(e) => return touch(&e),
    };
    let doc = doc.expect("a provisioning body is a document");
    assert_eq!(p.groups.len(), doc.root.children_named("provisionGroup").count());
    for g in &p.groups {
        let raw = Document::parse(g.xml.as_bytes()).expect("a group's raw XML reads on its own");
        assert_eq!(raw.root.name, "provisionGroup");
        assert_eq!(raw.root.attr("name"), Some(g.name.as_str()));
        let first = p.groups.iter().find(|o| o.name.eq_ignore_ascii_case(&g.name)).map(|o| &o.name);
        assert_eq!(p.group(&g.name).map(|o| &o.name), first);
        for (name, value) in &g.properties {
            assert!(g.property(name).is_some(), "property {name} not found by its own name");
            let _ = value;
        }
    }
    let _ = p.location_profile_name();
    if let Some(server) = &p.server {
        let _ = (server.abs_url(false), server.abs_url(true));
    }
    touch(&p);
});
