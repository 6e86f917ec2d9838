//! Reading `contactList` and `contactDelta` elements ([MS-SIP] 2.2.4.1, Appendix D 9.1) into the model.

use crate::xml::{Document, Element};

use super::{Contact, ContactList, ContactsError, Group, normalize_uri};

/// A `contactDelta`, read completely before it is applied.
pub(super) struct Delta {
    pub delta_num: u32,
    pub added_groups: Vec<Group>,
    pub modified_groups: Vec<Group>,
    pub deleted_groups: Vec<u32>,
    pub added_contacts: Vec<Contact>,
    pub modified_contacts: Vec<Contact>,
    pub deleted_contacts: Vec<String>,
}

pub(super) fn full_list(doc: &Document) -> Result<ContactList, ContactsError> {
    let root = &doc.root;
    Ok(ContactList {
        delta_num: delta_num(root)?,
        ucs_mode: root.attr("ucsmode").map(str::to_owned),
        groups: root.children_named("group").map(group).collect::<Result<_, _>>()?,
        contacts: root.children_named("contact").map(|c| contact(doc, c)).collect::<Result<_, _>>()?,
    })
}

pub(super) fn delta(doc: &Document) -> Result<Delta, ContactsError> {
    let root = &doc.root;
    let groups = |name| root.children_named(name).map(group).collect::<Result<Vec<_>, _>>();
    let contacts = |name| root.children_named(name).map(|c| contact(doc, c)).collect::<Result<Vec<_>, _>>();
    Ok(Delta {
        delta_num: delta_num(root)?,
        added_groups: groups("addedGroup")?,
        modified_groups: groups("modifiedGroup")?,
        deleted_groups: root
            .children_named("deletedGroup")
            .map(|g| number(g, "id", "a group id (non-negative integer)"))
            .collect::<Result<_, _>>()?,
        added_contacts: contacts("addedContact")?,
        modified_contacts: contacts("modifiedContact")?,
        deleted_contacts: root.children_named("deletedContact").map(uri).collect::<Result<_, _>>()?,
    })
}

fn delta_num(root: &Element) -> Result<u32, ContactsError> {
    number(root, "deltaNum", "a non-negative integer")
}

fn group(el: &Element) -> Result<Group, ContactsError> {
    Ok(Group {
        id: number(el, "id", "a group id (non-negative integer)")?,
        name: required(el, "name")?.to_owned(),
        external_uri: external_uri(el),
    })
}

fn contact(doc: &Document, el: &Element) -> Result<Contact, ContactsError> {
    let groups = match el.attr("groups") {
        None => Vec::new(),
        Some(list) => list
            .split_whitespace()
            .map(|id| id.parse::<u32>().map_err(|_| invalid(el, "groups", list, "space-separated group ids")))
            .collect::<Result<_, _>>()?,
    };
    let subscribed = match el.attr("subscribed").map(str::trim) {
        // xs:boolean, default true (Appendix D 9.1).
        None | Some("true") | Some("1") => true,
        Some("false") | Some("0") => false,
        Some(other) => return Err(invalid(el, "subscribed", other, "true or false")),
    };
    Ok(Contact {
        uri: uri(el)?,
        name: el.attr("name").unwrap_or("").to_owned(),
        groups,
        subscribed,
        external_uri: external_uri(el),
        extension: el.child("contactExtension").map(|x| doc.inner_xml(x).to_owned()),
    })
}

fn uri(el: &Element) -> Result<String, ContactsError> {
    let raw = required(el, "uri")?;
    if raw.trim().is_empty() {
        return Err(invalid(el, "uri", raw, "a SIP URI"));
    }
    Ok(normalize_uri(raw))
}

/// `externalURI`, absent when empty (servers send `externalURI=""`).
fn external_uri(el: &Element) -> Option<String> {
    el.attr("externalURI").map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn required<'a>(el: &'a Element, attr: &str) -> Result<&'a str, ContactsError> {
    el.attr(attr).ok_or_else(|| ContactsError::Missing { what: format!("<{}> attribute {attr}", el.name) })
}

fn number(el: &Element, attr: &str, expected: &'static str) -> Result<u32, ContactsError> {
    let value = required(el, attr)?;
    value.trim().parse::<u32>().map_err(|_| invalid(el, attr, value, expected))
}

fn invalid(el: &Element, attr: &str, value: &str, expected: &'static str) -> ContactsError {
    ContactsError::Invalid { what: format!("<{}> attribute {attr}", el.name), value: value.to_owned(), expected }
}
