//! Each user's contact list and groups, as the server keeps them for `vnd-microsoft-roaming-contacts`
//! ([MS-SIP] 2.2.4 document formats, 3.7 contact management; CLIENT-NOTES.md §9.1–9.2).
//!
//! - The full list ([`ContactStore::full_document`]) is `contactList[@deltaNum]` with `group[@id,@name,@externalURI]`
//!   and `contact[@uri,@name,@groups,@subscribed,@externalURI]`. Contact URIs go out **without** `sip:`, as real
//!   servers send them (CLIENT-NOTES.md §9.1; SIPE adds the prefix back). No XML namespace on the root:
//!   [MS-SIP] 2.2.4.1 names none, and SIPE matches these elements by local name only.
//! - Changes arrive as SOAP in a SERVICE to self (`application/SOAP+xml`, [MS-SIP] 2.2.4.2 and the 4.6 example):
//!   `setContact`, `deleteContact`, `addGroup`, `modifyGroup`, `deleteGroup`, each with `m:deltaNum`.
//!   [`ContactStore::apply_soap`] applies one and returns the 200 OK body (empty, or the `addGroup` reply with
//!   `Body/addGroup/groupID` that SIPE's `process_add_group_response` reads) and the `contactDelta` document
//!   ([MS-SIP] 3.7: added/modified groups, added/modified contacts, deleted groups, deleted contacts) that the SIP
//!   loop NOTIFYs to every roaming-contacts subscriber of that user.
//! - The list's version, `deltaNum`, goes up by one per change ([MS-SIP] 3.7.1). A change carries the version it
//!   was made against, the list's current `deltaNum` ([MS-SIP] 2.2.4.2 and Appendix D: it must match the server's;
//!   pidgin-sipe sends `(*deltanum)++`, i.e. the current value). What a real server answers to another value is
//!   not documented anywhere we could read, so a bare store accepts a mismatch (and logs it);
//!   [`ContactStore::set_strict_delta_num`] makes it refuse one with a 409 `Client.BadCall.WrongDelta` fault
//!   shaped like [MS-PRES] 2.2.2.10.4's version-conflict body. The running lab pool is strict.
//! - "Contacts must be in at least one group" ([MS-SIP] 3.7): a contact set with no groups (the 4.6 example
//!   sends `<m:groups />`) goes into the default group `~` ("Other Contacts", CLIENT-NOTES.md §9.1), which always
//!   exists and cannot be deleted; contacts left without a group by `deleteGroup` move there too.
//! - Limits: [`DEFAULT_MAX_CONTACTS`] contacts per user (the `MaxNumberOfContacts` parameter of [MS-SIP] 3.7.1,
//!   `Set-CsUserServicesConfiguration -MaxContacts` on the server; 1,000 is the default the sfbkit XML limits
//!   were sized for, core/src/xml.rs) and [`DEFAULT_MAX_GROUPS`] groups (a lab bound, not a figure from
//!   Microsoft). Going over is refused with a SOAP fault (403).
//! - Persistence: with a directory, each user's list is one JSON file (`contacts-<user@domain>.json`), written
//!   to a temporary file and renamed into place after every change, and loaded at start: lists survive sign-out,
//!   sign-in and a lab restart.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sfbkit::xml::{Document, Element, escape};

use super::bare_aor;
use crate::config::LabUser;
use storage::{file_name, load_dir, write_atomic};

mod storage;

/// The roaming-contacts body type ([MS-SIP] 2.2.4.1).
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-contacts+xml";
/// SOAP 1.1 envelope namespace of the management requests.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The `m:` namespace of the management primitives ([MS-SIP] 2.2.4.2).
pub const SIP_SOAP_NS: &str = "http://schemas.microsoft.com/winrtc/2002/11/sip";
/// Contacts per user (`MaxNumberOfContacts`, [MS-SIP] 3.7.1; the server's `MaxContacts` default).
pub const DEFAULT_MAX_CONTACTS: usize = 1000;
/// Groups per user (a lab bound).
pub const DEFAULT_MAX_GROUPS: usize = 64;
/// The default group every list has ("Other Contacts").
pub const DEFAULT_GROUP_NAME: &str = "~";
/// The default group's id.
pub const DEFAULT_GROUP_ID: u32 = 1;
/// Longest name, URI or extension the store keeps (bytes); longer values are refused.
const MAX_FIELD: usize = 4096;

/// A contact group ([MS-SIP] 2.2.4.1 `group`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: u32,
    pub name: String,
    #[serde(default)]
    pub external_uri: String,
}

/// A contact ([MS-SIP] 2.2.4.1 `contact`). `uri` is bare (`bob@contoso.lab`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub uri: String,
    pub name: String,
    pub groups: Vec<u32>,
    pub subscribed: bool,
    #[serde(default)]
    pub external_uri: String,
    /// The `contactExtension` XML as the client sent it.
    #[serde(default)]
    pub extension: Option<String>,
}

/// One user's list and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactList {
    pub delta_num: u64,
    pub groups: Vec<Group>,
    pub contacts: Vec<Contact>,
}

impl Default for ContactList {
    fn default() -> Self {
        ContactList {
            delta_num: 1,
            groups: vec![Group { id: DEFAULT_GROUP_ID, name: DEFAULT_GROUP_NAME.into(), external_uri: String::new() }],
            contacts: Vec::new(),
        }
    }
}

/// An initial contact from the lab configuration: in the group named `group` (created when missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialContact {
    pub uri: String,
    pub name: String,
    pub group: String,
    pub subscribed: bool,
}

/// The file format: the AOR inside, so a file name never has to be decoded.
#[derive(Serialize, Deserialize)]
struct StoredList {
    aor: String,
    list: ContactList,
}

/// Why the store could not load or keep its lists.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("lab contact lists {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A stored list is not one this lab wrote: repair or remove the file.
    #[error("lab contact list {path} is not readable ({message}); repair or remove it")]
    Corrupt { path: PathBuf, message: String },
}

/// Why a contact-list SOAP request was refused. [`SoapFault::status_code`] and [`SoapFault::fault_body`] give the
/// SIP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoapFault {
    #[error("the contact-list request is not a SOAP envelope the server understands: {0}")]
    Malformed(String),
    #[error(
        "unknown contact-list operation {0:?} (known: setContact, deleteContact, addGroup, modifyGroup, deleteGroup)"
    )]
    UnknownOperation(String),
    #[error("deltaNum {got} is not the next version {expected}: re-read the list and retry")]
    WrongDeltaNum { expected: u64, got: u64 },
    #[error("the contact list already holds the maximum of {0} contacts")]
    TooManyContacts(usize),
    #[error("the contact list already holds the maximum of {0} groups")]
    TooManyGroups(usize),
    #[error("there is no group {0} in the contact list")]
    NoSuchGroup(u32),
    #[error("there is no contact {0} in the contact list")]
    NoSuchContact(String),
    #[error("a group named {0:?} already exists")]
    DuplicateGroup(String),
    #[error("the default group cannot be deleted or renamed")]
    DefaultGroup,
    #[error("the contact list could not be stored: {0}")]
    Storage(String),
}

impl SoapFault {
    /// The SIP status for the SERVICE response.
    pub fn status_code(&self) -> u16 {
        match self {
            SoapFault::Malformed(_) | SoapFault::UnknownOperation(_) => 400,
            SoapFault::WrongDeltaNum { .. } | SoapFault::DuplicateGroup(_) => 409,
            SoapFault::TooManyContacts(_) | SoapFault::TooManyGroups(_) | SoapFault::DefaultGroup => 403,
            SoapFault::NoSuchGroup(_) | SoapFault::NoSuchContact(_) => 404,
            SoapFault::Storage(_) => 500,
        }
    }

    /// The content type of [`SoapFault::fault_body`].
    pub fn content_type(&self) -> &'static str {
        match self {
            SoapFault::WrongDeltaNum { .. } => "application/msrtc-fault+xml",
            _ => "application/SOAP+xml",
        }
    }

    /// The response body: the [MS-PRES] 2.2.2.10.4 `Fault` shape for a version conflict, else a SOAP 1.1 `Fault`
    /// (`faultcode` `SOAP-ENV:Client` / `SOAP-ENV:Server`) with this error's text.
    pub fn fault_body(&self) -> String {
        if let SoapFault::WrongDeltaNum { expected, got } = self {
            let current = *expected;
            return format!(
                "<Fault><Faultcode>Client.BadCall.WrongDelta</Faultcode><details>\
                 <operation index=\"1\" version=\"{got}\" curVersion=\"{current}\"></operation></details></Fault>"
            );
        }
        let code = if matches!(self, SoapFault::Storage(_)) { "SOAP-ENV:Server" } else { "SOAP-ENV:Client" };
        format!(
            "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP_ENV_NS}\"><SOAP-ENV:Body><SOAP-ENV:Fault>\
             <faultcode>{code}</faultcode><faultstring>{}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body>\
             </SOAP-ENV:Envelope>",
            escape(&self.to_string())
        )
    }
}

/// What an accepted SOAP request produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapOutcome {
    /// The 200 OK body (`application/SOAP+xml`); empty for everything but `addGroup` ([MS-SIP] 4.6: no body).
    pub reply_body: String,
    /// The `contactDelta` document to NOTIFY ([`CONTENT_TYPE`]) to every roaming-contacts subscriber of the user.
    pub delta_document: String,
    /// The list's new version.
    pub delta_num: u64,
}

/// Every user's contact list.
#[derive(Debug)]
pub struct ContactStore {
    lists: HashMap<String, ContactList>,
    dir: Option<PathBuf>,
    max_contacts: usize,
    max_groups: usize,
    strict_delta_num: bool,
}

impl ContactStore {
    /// A store with `initial` lists (AOR → contacts) and, when `dir` is given, the lists stored there, which win
    /// over `initial` (they are what users made of them).
    pub fn new(
        initial: HashMap<String, Vec<InitialContact>>,
        dir: Option<PathBuf>,
    ) -> Result<ContactStore, ContactError> {
        let mut lists = HashMap::new();
        for (aor, contacts) in initial {
            lists.insert(bare_aor(&aor), initial_list(&contacts));
        }
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir).map_err(|source| ContactError::Io { path: dir.clone(), source })?;
            for (aor, list) in load_dir(dir)? {
                lists.insert(aor, list);
            }
        }
        Ok(ContactStore {
            lists,
            dir,
            max_contacts: DEFAULT_MAX_CONTACTS,
            max_groups: DEFAULT_MAX_GROUPS,
            strict_delta_num: false,
        })
    }

    /// [`ContactStore::new`] with [`default_contacts`] for `users`.
    pub fn with_defaults(users: &[LabUser], dir: Option<PathBuf>) -> Result<ContactStore, ContactError> {
        ContactStore::new(default_contacts(users), dir)
    }

    /// Changes the per-user limits.
    pub fn set_limits(&mut self, max_contacts: usize, max_groups: usize) {
        self.max_contacts = max_contacts;
        self.max_groups = max_groups.max(1);
    }

    /// Refuse (`true`) or accept (`false`, the default) a `deltaNum` that is not the current version + 1.
    pub fn set_strict_delta_num(&mut self, strict: bool) {
        self.strict_delta_num = strict;
    }

    /// The user's list (the default list when they have none yet).
    pub fn list(&self, aor: &str) -> ContactList {
        self.lists.get(&bare_aor(aor)).cloned().unwrap_or_default()
    }

    /// The full `contactList` document for a roaming-contacts SUBSCRIBE (piggy-backed in its 200 OK).
    pub fn full_document(&self, aor: &str) -> String {
        let list = self.list(aor);
        let mut out = format!("<contactList deltaNum=\"{}\">", list.delta_num);
        for g in &list.groups {
            out.push_str(&group_xml("group", g));
        }
        for c in &list.contacts {
            out.push_str(&contact_xml("contact", c));
        }
        out.push_str("</contactList>");
        out
    }

    /// Applies one SOAP management request of `aor` (the SERVICE's From) and stores the result.
    pub fn apply_soap(&mut self, aor: &str, body: &[u8]) -> Result<SoapOutcome, SoapFault> {
        let key = bare_aor(aor);
        let doc = Document::parse(body).map_err(|e| SoapFault::Malformed(e.to_string()))?;
        let op = operation(&doc.root)?;
        let mut list = self.list(&key);
        let got = field(op, "deltaNum")
            .ok_or_else(|| SoapFault::Malformed(format!("{} has no deltaNum", op.name)))?
            .parse::<u64>()
            .map_err(|_| SoapFault::Malformed("deltaNum is not a non-negative integer".into()))?;
        let expected = list.delta_num;
        if got != expected {
            if self.strict_delta_num {
                return Err(SoapFault::WrongDeltaNum { expected, got });
            }
            tracing::debug!(aor = %key, got, expected, "lab contacts: deltaNum out of step, accepted");
        }
        let mut delta = Delta::default();
        let mut reply_body = String::new();
        match op.name.as_str() {
            "setContact" => self.set_contact(&mut list, &doc, op, &mut delta)?,
            "deleteContact" => delete_contact(&mut list, op, &mut delta)?,
            "addGroup" => {
                let id = self.add_group(&mut list, op, &mut delta)?;
                reply_body = format!(
                    "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP_ENV_NS}\"><SOAP-ENV:Body>\
                     <m:addGroup xmlns:m=\"{SIP_SOAP_NS}\"><m:groupID>{id}</m:groupID></m:addGroup>\
                     </SOAP-ENV:Body></SOAP-ENV:Envelope>"
                );
            }
            "modifyGroup" => modify_group(&mut list, op, &mut delta)?,
            "deleteGroup" => delete_group(&mut list, op, &mut delta)?,
            other => return Err(SoapFault::UnknownOperation(other.to_string())),
        }
        list.delta_num = expected.saturating_add(1);
        self.persist(&key, &list)?;
        let delta_document = delta.document(list.delta_num);
        let list_delta = list.delta_num;
        self.lists.insert(key, list);
        Ok(SoapOutcome { reply_body, delta_document, delta_num: list_delta })
    }

    fn set_contact(
        &self,
        list: &mut ContactList,
        doc: &Document,
        op: &Element,
        delta: &mut Delta,
    ) -> Result<(), SoapFault> {
        let uri = bounded(field(op, "URI").unwrap_or_default())?;
        let uri = bare_aor(&uri);
        if uri.is_empty() || !uri.contains('@') {
            return Err(SoapFault::Malformed("setContact needs a URI of the form sip:user@domain".into()));
        }
        let mut groups = Vec::new();
        for id in field(op, "groups").unwrap_or_default().split_whitespace() {
            let id = id.parse::<u32>().map_err(|_| SoapFault::Malformed(format!("group id {id:?} is not a number")))?;
            if !list.groups.iter().any(|g| g.id == id) {
                return Err(SoapFault::NoSuchGroup(id));
            }
            if !groups.contains(&id) {
                groups.push(id);
            }
        }
        if groups.is_empty() {
            groups.push(DEFAULT_GROUP_ID);
        }
        let extension = op.children.iter().find(|c| c.name == "contactExtension").map(|e| doc.inner_xml(e).to_string());
        let contact = Contact {
            name: bounded(field(op, "displayName").unwrap_or_default())?,
            groups,
            subscribed: field(op, "subscribed").is_some_and(|s| s.eq_ignore_ascii_case("true") || s == "1"),
            external_uri: bounded(field(op, "externalURI").unwrap_or_default())?,
            extension: extension.map(bounded).transpose()?,
            uri,
        };
        match list.contacts.iter_mut().find(|c| c.uri == contact.uri) {
            Some(existing) => {
                *existing = contact.clone();
                delta.modified_contacts.push(contact);
            }
            None => {
                if list.contacts.len() >= self.max_contacts {
                    return Err(SoapFault::TooManyContacts(self.max_contacts));
                }
                list.contacts.push(contact.clone());
                delta.added_contacts.push(contact);
            }
        }
        Ok(())
    }

    fn add_group(&self, list: &mut ContactList, op: &Element, delta: &mut Delta) -> Result<u32, SoapFault> {
        let name = bounded(field(op, "name").unwrap_or_default())?;
        if name.is_empty() {
            return Err(SoapFault::Malformed("addGroup needs a name".into()));
        }
        if list.groups.iter().any(|g| g.name == name) {
            return Err(SoapFault::DuplicateGroup(name));
        }
        if list.groups.len() >= self.max_groups {
            return Err(SoapFault::TooManyGroups(self.max_groups));
        }
        let id = list.groups.iter().map(|g| g.id).max().unwrap_or(DEFAULT_GROUP_ID).saturating_add(1);
        let group = Group { id, name, external_uri: bounded(field(op, "externalURI").unwrap_or_default())? };
        list.groups.push(group.clone());
        delta.added_groups.push(group);
        Ok(id)
    }

    fn persist(&self, key: &str, list: &ContactList) -> Result<(), SoapFault> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let stored = StoredList { aor: key.to_string(), list: list.clone() };
        let json = serde_json::to_string_pretty(&stored).map_err(|e| SoapFault::Storage(e.to_string()))?;
        write_atomic(&dir.join(file_name(key)), &json).map_err(|e| SoapFault::Storage(e.to_string()))
    }
}

/// The lab's default lists: every `alice@D` has every `bob@D` of the same domain in the group "Colleagues".
pub fn default_contacts(users: &[LabUser]) -> HashMap<String, Vec<InitialContact>> {
    let mut out: HashMap<String, Vec<InitialContact>> = HashMap::new();
    for alice in users.iter().filter(|u| local_part(&u.sip_uri) == "alice") {
        let domain = super::domain_of(&alice.sip_uri);
        for bob in users.iter().filter(|u| local_part(&u.sip_uri) == "bob" && super::domain_of(&u.sip_uri) == domain) {
            out.entry(bare_aor(&alice.sip_uri)).or_default().push(InitialContact {
                uri: bare_aor(&bob.sip_uri),
                name: bob.display_name.clone(),
                group: "Colleagues".into(),
                subscribed: true,
            });
        }
    }
    out
}

fn local_part(aor: &str) -> String {
    bare_aor(aor).split('@').next().unwrap_or_default().to_string()
}

fn initial_list(contacts: &[InitialContact]) -> ContactList {
    let mut list = ContactList::default();
    for c in contacts {
        let group = if c.group.is_empty() { DEFAULT_GROUP_NAME } else { c.group.as_str() };
        let id = match list.groups.iter().find(|g| g.name == group) {
            Some(g) => g.id,
            None => {
                let id = list.groups.iter().map(|g| g.id).max().unwrap_or(DEFAULT_GROUP_ID) + 1;
                list.groups.push(Group { id, name: group.to_string(), external_uri: String::new() });
                id
            }
        };
        let uri = bare_aor(&c.uri);
        if !list.contacts.iter().any(|x| x.uri == uri) {
            list.contacts.push(Contact {
                uri,
                name: c.name.clone(),
                groups: vec![id],
                subscribed: c.subscribed,
                external_uri: String::new(),
                extension: None,
            });
        }
    }
    list
}

/// The management primitive inside `Envelope/Body`.
fn operation(root: &Element) -> Result<&Element, SoapFault> {
    if root.name != "Envelope" {
        return Err(SoapFault::Malformed(format!("the root element is {:?}, not a SOAP Envelope", root.name)));
    }
    root.child("Body")
        .and_then(|b| b.children.first())
        .ok_or_else(|| SoapFault::Malformed("the SOAP Body holds no operation".into()))
}

/// The trimmed text of the primitive's child `name` (`m:` prefix or none).
fn field<'a>(op: &'a Element, name: &str) -> Option<&'a str> {
    op.child_text(name)
}

fn bounded(value: impl Into<String>) -> Result<String, SoapFault> {
    let value = value.into();
    if value.len() > MAX_FIELD {
        return Err(SoapFault::Malformed(format!("a value is longer than {MAX_FIELD} bytes")));
    }
    Ok(value)
}

fn parse_group_id(op: &Element) -> Result<u32, SoapFault> {
    field(op, "groupID")
        .ok_or_else(|| SoapFault::Malformed(format!("{} has no groupID", op.name)))?
        .parse::<u32>()
        .map_err(|_| SoapFault::Malformed("groupID is not a non-negative integer".into()))
}

fn delete_contact(list: &mut ContactList, op: &Element, delta: &mut Delta) -> Result<(), SoapFault> {
    let uri = bare_aor(field(op, "URI").unwrap_or_default());
    let before = list.contacts.len();
    list.contacts.retain(|c| c.uri != uri);
    if list.contacts.len() == before {
        return Err(SoapFault::NoSuchContact(uri));
    }
    delta.deleted_contacts.push(uri);
    Ok(())
}

fn modify_group(list: &mut ContactList, op: &Element, delta: &mut Delta) -> Result<(), SoapFault> {
    let id = parse_group_id(op)?;
    let name = bounded(field(op, "name").unwrap_or_default())?;
    if id == DEFAULT_GROUP_ID && name != DEFAULT_GROUP_NAME {
        return Err(SoapFault::DefaultGroup);
    }
    if name.is_empty() {
        return Err(SoapFault::Malformed("modifyGroup needs a name".into()));
    }
    if list.groups.iter().any(|g| g.name == name && g.id != id) {
        return Err(SoapFault::DuplicateGroup(name));
    }
    let external_uri = bounded(field(op, "externalURI").unwrap_or_default())?;
    let group = list.groups.iter_mut().find(|g| g.id == id).ok_or(SoapFault::NoSuchGroup(id))?;
    group.name = name;
    group.external_uri = external_uri;
    delta.modified_groups.push(group.clone());
    Ok(())
}

fn delete_group(list: &mut ContactList, op: &Element, delta: &mut Delta) -> Result<(), SoapFault> {
    let id = parse_group_id(op)?;
    if id == DEFAULT_GROUP_ID {
        return Err(SoapFault::DefaultGroup);
    }
    if !list.groups.iter().any(|g| g.id == id) {
        return Err(SoapFault::NoSuchGroup(id));
    }
    list.groups.retain(|g| g.id != id);
    for c in list.contacts.iter_mut().filter(|c| c.groups.contains(&id)) {
        c.groups.retain(|g| *g != id);
        if c.groups.is_empty() {
            c.groups.push(DEFAULT_GROUP_ID);
        }
        delta.modified_contacts.push(c.clone());
    }
    delta.deleted_groups.push(id);
    Ok(())
}

/// One change set, written in [MS-SIP] 3.7's order.
#[derive(Default)]
struct Delta {
    added_groups: Vec<Group>,
    modified_groups: Vec<Group>,
    added_contacts: Vec<Contact>,
    modified_contacts: Vec<Contact>,
    deleted_groups: Vec<u32>,
    deleted_contacts: Vec<String>,
}

impl Delta {
    fn document(&self, delta_num: u64) -> String {
        let mut out = format!("<contactDelta deltaNum=\"{delta_num}\">");
        self.added_groups.iter().for_each(|g| out.push_str(&group_xml("addedGroup", g)));
        self.modified_groups.iter().for_each(|g| out.push_str(&group_xml("modifiedGroup", g)));
        self.added_contacts.iter().for_each(|c| out.push_str(&contact_xml("addedContact", c)));
        self.modified_contacts.iter().for_each(|c| out.push_str(&contact_xml("modifiedContact", c)));
        self.deleted_groups.iter().for_each(|id| out.push_str(&format!("<deletedGroup id=\"{id}\"/>")));
        for uri in &self.deleted_contacts {
            out.push_str(&format!("<deletedContact uri=\"{}\"/>", escape(uri)));
        }
        out.push_str("</contactDelta>");
        out
    }
}

fn group_xml(element: &str, g: &Group) -> String {
    format!("<{element} id=\"{}\" name=\"{}\" externalURI=\"{}\"/>", g.id, escape(&g.name), escape(&g.external_uri))
}

fn contact_xml(element: &str, c: &Contact) -> String {
    let groups: Vec<String> = c.groups.iter().map(u32::to_string).collect();
    let head = format!(
        "<{element} uri=\"{}\" name=\"{}\" groups=\"{}\" subscribed=\"{}\" externalURI=\"{}\"",
        escape(&c.uri),
        escape(&c.name),
        groups.join(" "),
        c.subscribed,
        escape(&c.external_uri)
    );
    // The extension is XML the client sent and the parser accepted: it goes back as it came.
    match &c.extension {
        Some(ext) if !ext.trim().is_empty() => format!("{head}><contactExtension>{ext}</contactExtension></{element}>"),
        _ => format!("{head}/>"),
    }
}

#[cfg(test)]
mod tests;
