//! The roaming-self reader (`presence::parse_roaming_self`: the user's own categories, containers and
//! watchers) and the publication fault reader (`presence::parse_publish_fault`, the 409 body a stale
//! publication gets), which share the categories reader.
//!
//! Invariants: the shared XML reader's invariants on the body; each category's `raw_xml` is the source of a
//! `category` element; after `VersionTable::record_self` every category with an instance and a container has
//! the version the document gave it (the last one, when a key repeats); `device_count` is at most the number
//! of `device` categories.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::presence::{VersionTable, parse_publish_fault, parse_roaming_self};
use sfbkit::xml::Document;
use sfbkit_fuzz::touch;

fuzz_target!(|body: &[u8]| {
    sfbkit_fuzz::check_document(body);
    touch(&parse_publish_fault(body));
    let data = match parse_roaming_self(body) {
        Ok(d) => d,
        Err(e) => return touch(&e),
    };
    for c in &data.categories {
        let raw = Document::parse(c.raw_xml.as_bytes()).expect("a category's raw XML reads on its own");
        assert_eq!(raw.root.name, "category");
    }
    let mut table = VersionTable::new();
    table.set("unrelated", 1, 2, 3);
    table.record_self(&data);
    for (i, c) in data.categories.iter().enumerate() {
        if let (Some(instance), Some(container)) = (c.instance, c.container) {
            let last = data.categories[i..]
                .iter()
                .rev()
                .find(|d| d.name == c.name && d.instance == Some(instance) && d.container == Some(container))
                .map(|d| d.version.unwrap_or(0));
            assert_eq!(Some(table.version(&c.name, instance, container)), last);
        }
    }
    if !data.categories.iter().any(|c| c.name == "unrelated") {
        assert_eq!(table.version("unrelated", 1, 2), 3, "record_self dropped a category it does not name");
    }
    assert!(data.device_count() <= data.categories.iter().filter(|c| c.name == "device").count());
    touch(&data);
});
