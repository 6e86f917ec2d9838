//! The roaming contacts reader (`contacts::ContactList::apply`: full `contactList` documents and
//! `contactDelta`s) and the SOAP answer reader (`contacts::parse_reply`).
//!
//! Input: up to three bodies separated by NUL bytes, applied in order to one list (a full list, then deltas,
//! as a subscription delivers them).
//!
//! Invariants: the shared XML reader's invariants on each body; a body that fails leaves the list as it was;
//! a delta not newer than the list changes nothing; applying the same full list twice reports no change the
//! second time (when its contacts and groups are unique); every contact is found by its own URI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sfbkit::contacts::{ContactList, parse_reply};
use sfbkit_fuzz::{fields, touch};

fn unique(list: &ContactList) -> bool {
    let contacts = list
        .contacts
        .iter()
        .enumerate()
        .all(|(i, c)| !list.contacts[..i].iter().any(|d| d.uri.eq_ignore_ascii_case(&c.uri)));
    let groups = list.groups.iter().enumerate().all(|(i, g)| !list.groups[..i].iter().any(|h| h.id == g.id));
    contacts && groups
}

fuzz_target!(|data: &[u8]| {
    let mut list = ContactList::new();
    for body in fields(data, 3) {
        sfbkit_fuzz::check_document(body);
        touch(&parse_reply(body));
        let before = list.clone();
        match list.apply(body) {
            Err(e) => {
                assert_eq!(list, before, "a failed apply changed the list");
                touch(&e);
            }
            Ok(changes) => {
                touch(&changes);
                if unique(&list) {
                    let mut twice = list.clone();
                    if let Ok(again) = twice.apply(body) {
                        assert!(again.is_empty(), "the same body applied twice changed {again:?}");
                        assert_eq!(twice, list);
                    }
                }
            }
        }
        for c in &list.contacts {
            assert!(list.contact(&c.uri).is_some(), "contact {} not found by its own URI", c.uri);
        }
        let _ = (list.default_group(), list.is_ucs_migrated(), list.request_delta_num());
    }
});
