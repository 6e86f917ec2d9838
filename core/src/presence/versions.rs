//! Publication versions and the 409 version-conflict fault ([MS-PRES] 2.2.2.10.4 "Version Conflict Response";
//! REFERENCE §8.1, CLIENT-NOTES §8.1).
//!
//! The server accepts a publication only if it carries the current version of its (category, instance,
//! container). A client learns versions from roaming-self notifications ([`VersionTable::record_self`]) and, when it
//! guessed wrong, from the 409 body, which looks like this (the [MS-PRES] 2.2.2.10.4 example; pidgin-sipe's
//! `process_send_presence_category_publish_response` reads the same elements):
//!
//! ```text
//! <Fault>
//!   <Faultcode>Client.BadCall.WrongDelta</Faultcode>
//!   <details>
//!     <operation index="1" version="1" curVersion="2" >
//!     </operation>
//!   </details>
//! </Fault>
//! ```
//!
//! `index` is the 1-based position of the publication in our request, so the fault can only be applied together
//! with the publications we sent ([`VersionTable::apply_conflicts`]).

use std::collections::BTreeMap;

use crate::xml::Document;

use super::{PresenceError, Publication, SelfData, parse_opt_u32, parse_u32};

const DOC: &str = "msrtc-fault";
/// The fault code of a version conflict.
pub const WRONG_DELTA: &str = "Client.BadCall.WrongDelta";

/// What identifies a publication on the server.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PublicationKey {
    pub category: String,
    pub instance: u32,
    pub container: u32,
}

/// One `details/operation` of a version-conflict fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VersionConflict {
    /// 1-based position of the publication in the request.
    pub index: u32,
    /// The version the request carried, when the server says.
    pub version: Option<u32>,
    /// The server's current version: republish with this one.
    pub cur_version: u32,
}

/// Reads a 409 `application/msrtc-fault+xml` body. Only `Client.BadCall.WrongDelta` can be fixed by republishing;
/// any other code is [`PresenceError::UnsupportedFault`]. An operation without `curVersion` is skipped (there is
/// nothing to adopt), as pidgin-sipe does.
pub fn parse_publish_fault(body: &[u8]) -> Result<Vec<VersionConflict>, PresenceError> {
    let doc = Document::parse(body).map_err(PresenceError::xml(DOC))?;
    if doc.root.name != "Fault" {
        return Err(PresenceError::UnexpectedRoot { document: DOC, expected: "Fault", found: doc.root.name.clone() });
    }
    let code = doc.root.child_text("Faultcode").unwrap_or("");
    if code != WRONG_DELTA {
        return Err(PresenceError::UnsupportedFault { code: code.to_owned() });
    }
    let Some(details) = doc.root.child("details") else { return Ok(Vec::new()) };
    let mut conflicts = Vec::new();
    for op in details.children_named("operation") {
        let Some(cur) = op.attr("curVersion") else { continue };
        let index = op.attr("index").ok_or(PresenceError::MissingAttribute {
            document: DOC,
            element: "operation",
            attribute: "index",
        })?;
        conflicts.push(VersionConflict {
            index: parse_u32(DOC, "operation/@index", index)?,
            version: parse_opt_u32(DOC, "operation/@version", op.attr("version"))?,
            cur_version: parse_u32(DOC, "operation/@curVersion", cur)?,
        });
    }
    Ok(conflicts)
}

/// The server's current version of each publication we know of; 0 for one we never saw (a new publication).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VersionTable {
    versions: BTreeMap<PublicationKey, u32>,
}

impl VersionTable {
    pub fn new() -> VersionTable {
        VersionTable::default()
    }

    /// The version to publish (category, instance, container) with.
    pub fn version(&self, category: &str, instance: u32, container: u32) -> u32 {
        let key = PublicationKey { category: category.to_owned(), instance, container };
        self.versions.get(&key).copied().unwrap_or(0)
    }

    pub fn set(&mut self, category: &str, instance: u32, container: u32, version: u32) {
        self.versions.insert(PublicationKey { category: category.to_owned(), instance, container }, version);
    }

    pub fn len(&self) -> usize {
        self.versions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PublicationKey, u32)> {
        self.versions.iter().map(|(k, v)| (k, *v))
    }

    /// Adopts the `curVersion`s of a 409 fault for the publications `sent` in that request (in request order) and
    /// returns how many it adopted. An index outside the request is refused (the fault is not about our request).
    pub fn apply_conflicts(
        &mut self,
        sent: &[Publication],
        conflicts: &[VersionConflict],
    ) -> Result<usize, PresenceError> {
        for c in conflicts {
            let Some(p) = (c.index as usize).checked_sub(1).and_then(|i| sent.get(i)) else {
                return Err(PresenceError::ConflictIndexOutOfRange { index: c.index, sent: sent.len() });
            };
            self.set(&p.category, p.instance, p.container, c.cur_version);
        }
        Ok(conflicts.len())
    }

    /// `pubs` again with the versions from this table: what to send after [`VersionTable::apply_conflicts`].
    pub fn republish(&self, pubs: &[Publication]) -> Vec<Publication> {
        pubs.iter()
            .map(|p| Publication { version: self.version(&p.category, p.instance, p.container), ..p.clone() })
            .collect()
    }

    /// Takes the versions of the user's own publications from a roaming-self notification. As pidgin-sipe does,
    /// every category named in the notification replaces what we knew of that category (a publication the
    /// notification no longer lists was deleted), and categories it does not name are kept (delta notification).
    pub fn record_self(&mut self, data: &SelfData) {
        let names: std::collections::BTreeSet<&str> = data.categories.iter().map(|c| c.name.as_str()).collect();
        self.versions.retain(|k, _| !names.contains(k.category.as_str()));
        for c in &data.categories {
            if let (Some(instance), Some(container)) = (c.instance, c.container) {
                self.set(&c.name, instance, container, c.version.unwrap_or(0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::{ExpireType, Publication};

    /// The [MS-PRES] 2.2.2.10.4 example body, verbatim (space before `>` and the empty operation included).
    const MS_PRES_FAULT: &str = "<Fault>\n  <Faultcode>Client.BadCall.WrongDelta</Faultcode>\n  <details>\n    \
        <operation index=\"1\" version=\"1\" curVersion=\"2\" >\n    </operation>\n  </details>\n</Fault>";

    fn pubs() -> Vec<Publication> {
        [(0x3000_0001, 2), (0x3000_0001, 3), (0, 200)]
            .into_iter()
            .map(|(instance, container)| Publication {
                category: if container == 200 { "note" } else { "state" }.to_owned(),
                instance,
                container,
                version: 0,
                expire_type: ExpireType::Static,
                expires: None,
                value_xml: Some("<x/>".to_owned()),
            })
            .collect()
    }

    #[test]
    fn reads_the_ms_pres_example_fault() {
        let conflicts = parse_publish_fault(MS_PRES_FAULT.as_bytes()).unwrap();
        assert_eq!(conflicts, vec![VersionConflict { index: 1, version: Some(1), cur_version: 2 }]);
    }

    #[test]
    fn republishing_after_a_conflict_is_one_call() {
        let body = br#"<Fault><Faultcode>Client.BadCall.WrongDelta</Faultcode><details><operation index="2" curVersion="7"/><operation index="3" version="0" curVersion="4"/></details></Fault>"#;
        let sent = pubs();
        let mut table = VersionTable::new();
        let conflicts = parse_publish_fault(body).unwrap();
        assert_eq!(table.apply_conflicts(&sent, &conflicts), Ok(2));
        let again = table.republish(&sent);
        assert_eq!(again.iter().map(|p| p.version).collect::<Vec<_>>(), vec![0, 7, 4]);
        assert_eq!(table.version("state", 0x3000_0001, 3), 7);
        assert_eq!(table.version("note", 0, 200), 4);
        assert_eq!(table.version("note", 0, 300), 0);
    }

    #[test]
    fn refuses_faults_it_cannot_fix() {
        let other = b"<Fault><Faultcode>Server.Busy</Faultcode></Fault>";
        assert_eq!(parse_publish_fault(other), Err(PresenceError::UnsupportedFault { code: "Server.Busy".into() }));
        assert!(matches!(parse_publish_fault(b"<publish/>"), Err(PresenceError::UnexpectedRoot { .. })));
        assert!(matches!(parse_publish_fault(b"not xml"), Err(PresenceError::Xml { .. })));
        let bad = br#"<Fault><Faultcode>Client.BadCall.WrongDelta</Faultcode><details><operation index="x" curVersion="1"/></details></Fault>"#;
        assert!(matches!(parse_publish_fault(bad), Err(PresenceError::BadNumber { .. })));
        let out_of_range = [VersionConflict { index: 9, version: None, cur_version: 1 }];
        assert_eq!(
            VersionTable::new().apply_conflicts(&pubs(), &out_of_range),
            Err(PresenceError::ConflictIndexOutOfRange { index: 9, sent: 3 })
        );
        let zero = [VersionConflict { index: 0, version: None, cur_version: 1 }];
        assert!(VersionTable::new().apply_conflicts(&pubs(), &zero).is_err());
    }
}
