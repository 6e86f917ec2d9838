//! The roaming contact list ("vnd-microsoft-roaming-contacts", [MS-SIP] 2.2.4 and 3.7, REFERENCE.md §7,
//! CLIENT-NOTES.md §9.1–9.3). Sans-I/O: [`ContactList::apply`] reads the bodies the server sends (piggy-backed
//! on the 200 OK to the SUBSCRIBE, then in NOTIFY/BENOTIFY) and says what changed; [`soap`] builds the
//! `SERVICE` bodies that change the list and reads their answers.
//!
//! Terms ([MS-SIP] 2.2.4.1, Appendix D 9.1):
//! - *contactList* — the full list: `group` elements (`id`, `name`, `externalURI`) then `contact` elements
//!   (`uri` **without** `sip:`, `name` = the alias, `""` for none, `groups` = space-separated group ids,
//!   `subscribed`, `externalURI`, optional `contactExtension` child). Lync 2013 adds `ucsmode`.
//! - *contactDelta* — a partial list: `addedGroup`, `modifiedGroup`, `deletedGroup[@id]`, `addedContact`,
//!   `modifiedContact`, `deletedContact[@uri]`.
//! - *deltaNum* — the list's version number on the server, incremented by every change.
//! - *default group* — the group whose name starts with `~`, shown as "Other Contacts" (pidgin-sipe).
//! - *UCS* — Unified Contact Store: with `ucsmode="migrated"` (Lync 2013+) the user's contacts live in
//!   Exchange and are read and changed over EWS ([MS-OXWSCOS], CLIENT-NOTES.md §9.3), not through this list.
//!
//! Contact URIs are kept with their `sip:` prefix ([`normalize_uri`]) although the wire omits it, so they
//! compare equal to the URIs everything else in sfbkit uses.

pub mod soap;
#[cfg(test)]
mod tests;
mod wire;

use crate::xml::{Document, XmlError};

pub use soap::{SoapReply, add_group, delete_contact, delete_group, modify_group, parse_reply, set_contact};

/// `Event` header value of the contact list SUBSCRIBE ([MS-SIP] 3.7.4.1).
pub const EVENT: &str = "vnd-microsoft-roaming-contacts";
/// `Accept` header value of the contact list SUBSCRIBE, and the `Content-Type` of what the server sends.
pub const ACCEPT: &str = "application/vnd-microsoft-roaming-contacts+xml";
/// `Supported` option tags of the SUBSCRIBE ([MS-SIP] 3.1.4.2 example); `ms-ucs` is what Lync 2013 adds to
/// learn whether the list moved to Exchange (CLIENT-NOTES.md §7.1).
pub const SUPPORTED: &[&str] = &["com.microsoft.autoextend", "ms-benotify", "ms-piggyback-first-notify", "ms-ucs"];
/// `Proxy-Require` value of the SUBSCRIBE.
pub const PROXY_REQUIRE: &str = "ms-benotify";
/// The name pidgin-sipe shows for the default group (`~`).
pub const DEFAULT_GROUP_DISPLAY_NAME: &str = "Other Contacts";

/// Why a contact-list body or a SOAP answer cannot be read. A failed [`ContactList::apply`] leaves the list
/// as it was; the usual remedy is to subscribe again, which brings a fresh full list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactsError {
    #[error("the contact list body is not readable XML ({0}); subscribe again to get a fresh full list")]
    Xml(#[from] XmlError),
    #[error("the body's root is <{found}>, expected {expected}; check the Event and Content-Type of the message")]
    UnexpectedRoot { found: String, expected: &'static str },
    #[error("{what} is missing ([MS-SIP] makes it required); the server sent an incomplete document")]
    Missing { what: String },
    #[error("{what} is {value:?}, expected {expected}")]
    Invalid { what: String, value: String, expected: &'static str },
    #[error(
        "the server refused the contact list change: {code}: {text}; if it is a deltaNum mismatch, wait for the \
         next contactDelta or subscribe again, then retry with the new deltaNum"
    )]
    SoapFault { code: String, text: String, detail: Option<String> },
}

/// One group of the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    /// The server's number for the group; [MS-SIP] Appendix D notes the numbering "is not persisted and may
    /// vary from one transmission to the next", so only ids of the same list are comparable.
    pub id: u32,
    /// The name as sent; `~` for the default group (see [`Group::display_name`]).
    pub name: String,
    pub external_uri: Option<String>,
}

impl Group {
    /// The default group ("Other Contacts"), whose name starts with `~` (pidgin-sipe: prefix test).
    pub fn is_default(&self) -> bool {
        self.name.starts_with('~')
    }

    /// The name to show: "Other Contacts" for the default group, else the name.
    pub fn display_name(&self) -> &str {
        if self.is_default() { DEFAULT_GROUP_DISPLAY_NAME } else { &self.name }
    }
}

/// One contact of the list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Contact {
    /// Always with its scheme (`sip:alice@contoso.com`), although the wire omits `sip:` ([`normalize_uri`]).
    pub uri: String,
    /// The alias the user gave the contact; empty for none.
    pub name: String,
    /// The ids of the groups the contact is in, in wire order.
    pub groups: Vec<u32>,
    /// Whether the client subscribes to the contact's presence ([MS-SIP] default: true).
    pub subscribed: bool,
    pub external_uri: Option<String>,
    /// The raw inner XML of a `contactExtension` element (application data, up to 1024 bytes on the server).
    pub extension: Option<String>,
}

/// One difference [`ContactList::apply`] found. Changes come in an order a UI can follow: groups added or
/// modified, then contacts added, modified and removed, then groups removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum ContactChange {
    GroupAdded(Group),
    /// A group was renamed or its `externalURI` changed.
    GroupModified {
        before: Group,
        after: Group,
    },
    ContactAdded(Contact),
    /// Any field changed, including a move between groups (`groups`).
    ContactModified {
        before: Contact,
        after: Contact,
    },
    ContactRemoved {
        uri: String,
    },
    GroupRemoved {
        id: u32,
        name: String,
    },
}

/// The user's contact list as the server last described it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContactList {
    /// The server's version of the list; 0 until a list arrives (the server's numbers are non-zero).
    pub delta_num: u32,
    /// `ucsmode` of the last full list (Lync 2013+); see [`ContactList::is_ucs_migrated`].
    pub ucs_mode: Option<String>,
    pub groups: Vec<Group>,
    pub contacts: Vec<Contact>,
}

impl ContactList {
    /// An empty list, before anything arrived.
    pub fn new() -> ContactList {
        ContactList::default()
    }

    /// Applies a body of the contact subscription and returns what changed.
    ///
    /// - A full `contactList` replaces the whole list (whatever its deltaNum: it is what the server holds
    ///   now) and the changes are the differences against the previous list.
    /// - A `contactDelta` whose `deltaNum` is not newer than [`ContactList::delta_num`] is **ignored** (it is
    ///   a replay or arrived late; its changes are already in the list) and gives no changes. Otherwise its
    ///   elements are applied in pidgin-sipe's order: added groups, modified groups, added contacts, modified
    ///   contacts, deleted contacts, deleted groups. Adding what exists modifies it; modifying what does not
    ///   exist adds it; deleting what does not exist does nothing. `prevDeltaNum` is not checked: the spec
    ///   defines it as "the delta number specified in the SERVICE operation", which says nothing about gaps.
    ///
    /// The body is read completely before anything changes, so an error leaves the list untouched.
    pub fn apply(&mut self, body: &[u8]) -> Result<Vec<ContactChange>, ContactsError> {
        let doc = Document::parse(body)?;
        match doc.root.name.as_str() {
            "contactList" => {
                let mut new = wire::full_list(&doc)?;
                // pidgin-sipe: once a list is known to be migrated to UCS it stays so; the server may later
                // send a standard list without `ucsmode`, which the real client ignores.
                if new.ucs_mode.is_none() && self.is_ucs_migrated() {
                    new.ucs_mode = self.ucs_mode.clone();
                }
                let changes = diff(self, &new);
                *self = new;
                Ok(changes)
            }
            "contactDelta" => {
                let delta = wire::delta(&doc)?;
                if delta.delta_num <= self.delta_num {
                    return Ok(Vec::new());
                }
                Ok(self.apply_delta(delta))
            }
            other => Err(ContactsError::UnexpectedRoot {
                found: other.to_owned(),
                expected: "<contactList> or <contactDelta>",
            }),
        }
    }

    /// `ucsmode="migrated"`: the contacts live in Exchange (Unified Contact Store). The SIP list is then not
    /// the user's list (the server sends it empty); read and change contacts over EWS ([MS-OXWSCOS]
    /// `GetImItemList`, `AddNewImContactToGroup`, …, CLIENT-NOTES.md §9.3), and do not send the SOAP requests
    /// of [`soap`].
    pub fn is_ucs_migrated(&self) -> bool {
        self.ucs_mode.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("migrated"))
    }

    /// The `deltaNum` to put in the next SOAP change request: the number last seen.
    ///
    /// [MS-SIP] 2.2.4.2 and Appendix D ("This value must match the current delta number stored by the
    /// server") and pidgin-sipe (`sip_soap_request_full` sends `(*deltanum)++`, a post-increment of the
    /// number last received) agree on this. CLIENT-NOTES.md §9.2 says "last seen + 1", a misreading of that
    /// post-increment; the [MS-SIP] 4.6–4.9 examples fit either. A client pipelining several changes before
    /// the server's contactDelta arrives uses this number, then this number + 1, and so on, as pidgin-sipe does.
    pub fn request_delta_num(&self) -> u32 {
        self.delta_num
    }

    /// The contact with this URI (with or without `sip:`, case-insensitive).
    pub fn contact(&self, uri: &str) -> Option<&Contact> {
        let uri = normalize_uri(uri);
        self.contacts.iter().find(|c| c.uri.eq_ignore_ascii_case(&uri))
    }

    /// The group with this id.
    pub fn group(&self, id: u32) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The default group ("Other Contacts"), if the list has one.
    pub fn default_group(&self) -> Option<&Group> {
        self.groups.iter().find(|g| g.is_default())
    }

    fn apply_delta(&mut self, delta: wire::Delta) -> Vec<ContactChange> {
        let mut changes = Vec::new();
        for group in delta.added_groups.into_iter().chain(delta.modified_groups) {
            self.upsert_group(group, &mut changes);
        }
        for contact in delta.added_contacts.into_iter().chain(delta.modified_contacts) {
            self.upsert_contact(contact, &mut changes);
        }
        for uri in delta.deleted_contacts {
            if let Some(i) = self.contacts.iter().position(|c| c.uri.eq_ignore_ascii_case(&uri)) {
                let removed = self.contacts.remove(i);
                changes.push(ContactChange::ContactRemoved { uri: removed.uri });
            }
        }
        for id in delta.deleted_groups {
            if let Some(i) = self.groups.iter().position(|g| g.id == id) {
                let removed = self.groups.remove(i);
                changes.push(ContactChange::GroupRemoved { id, name: removed.name });
            }
        }
        self.delta_num = delta.delta_num;
        changes
    }

    fn upsert_group(&mut self, group: Group, changes: &mut Vec<ContactChange>) {
        match self.groups.iter_mut().find(|g| g.id == group.id) {
            Some(old) if *old != group => {
                changes.push(ContactChange::GroupModified { before: old.clone(), after: group.clone() });
                *old = group;
            }
            Some(_) => {}
            None => {
                changes.push(ContactChange::GroupAdded(group.clone()));
                self.groups.push(group);
            }
        }
    }

    fn upsert_contact(&mut self, contact: Contact, changes: &mut Vec<ContactChange>) {
        match self.contacts.iter_mut().find(|c| c.uri.eq_ignore_ascii_case(&contact.uri)) {
            Some(old) if *old != contact => {
                changes.push(ContactChange::ContactModified { before: old.clone(), after: contact.clone() });
                *old = contact;
            }
            Some(_) => {}
            None => {
                changes.push(ContactChange::ContactAdded(contact.clone()));
                self.contacts.push(contact);
            }
        }
    }
}

/// The changes that turn `old` into `new`, in the order [`ContactChange`] documents.
fn diff(old: &ContactList, new: &ContactList) -> Vec<ContactChange> {
    let mut changes = Vec::new();
    for group in &new.groups {
        match old.group(group.id) {
            None => changes.push(ContactChange::GroupAdded(group.clone())),
            Some(before) if before != group => {
                changes.push(ContactChange::GroupModified { before: before.clone(), after: group.clone() })
            }
            Some(_) => {}
        }
    }
    for contact in &new.contacts {
        match old.contacts.iter().find(|c| c.uri.eq_ignore_ascii_case(&contact.uri)) {
            None => changes.push(ContactChange::ContactAdded(contact.clone())),
            Some(before) if before != contact => {
                changes.push(ContactChange::ContactModified { before: before.clone(), after: contact.clone() })
            }
            Some(_) => {}
        }
    }
    for contact in &old.contacts {
        if !new.contacts.iter().any(|c| c.uri.eq_ignore_ascii_case(&contact.uri)) {
            changes.push(ContactChange::ContactRemoved { uri: contact.uri.clone() });
        }
    }
    for group in &old.groups {
        if new.group(group.id).is_none() {
            changes.push(ContactChange::GroupRemoved { id: group.id, name: group.name.clone() });
        }
    }
    changes
}

/// A contact URI with its scheme: the roaming-contacts wire omits `sip:` (`uri="alice@contoso.com"`, [MS-SIP]
/// 3.7.5.2; pidgin-sipe adds it with `sip_uri_from_name`). Surrounding whitespace is dropped (the [MS-SIP]
/// 3.7.5.2 example has `uri="contact2@tradewind.com "`), a `sip:` prefix in any case becomes `sip:`, `sips:`
/// and `tel:` URIs are kept, anything else gets `sip:` in front.
pub fn normalize_uri(uri: &str) -> String {
    let uri = uri.trim();
    let has_scheme = |scheme: &str| uri.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme));
    if has_scheme("sip:") {
        format!("sip:{}", &uri[4..])
    } else if has_scheme("sips:") || has_scheme("tel:") {
        uri.to_owned()
    } else {
        format!("sip:{uri}")
    }
}
