//! The roaming-self subscription: what the server tells an endpoint about its own user ([MS-PRES] roaming-self;
//! REFERENCE §7, CLIENT-NOTES §7.3, pidgin-sipe `sipe_ocs2007_process_roaming_self`).
//!
//! The client SUBSCRIBEs to itself with `Event:` [`super::EVENT_ROAMING_SELF`] and the body of
//! [`roaming_self_request_body`]; NOTIFY/BENOTIFY bodies (and the 200 OK of a publish) then carry
//! `categories/category` (all of the user's publications, with versions: feed them to
//! [`super::VersionTable::record_self`]), `containers/container[@id,@version]/member[@type,@value]` (who may see
//! what) and `subscribers/subscriber[@user,@displayName,@acknowledged]` (who watches the user). The server's
//! `aggregateState` in container 2 is the user's status as computed from all endpoints, which is how an endpoint
//! mirrors a status set on another device.
//!
//! The root element (`roamingData` in captures) is not checked: like pidgin-sipe we read its children by name.

use crate::xml::Document;

use super::categories::parse_category;
use super::{Category, CategoryValue, PresenceError, StateKind, StateValue, parse_u32};

const DOC: &str = "roaming-self";
/// Namespace of the roaming-self request.
pub const ROAMING_SELF_NS: &str = "http://schemas.microsoft.com/2006/09/sip/roaming-self";

/// The body of the roaming-self SUBSCRIBE (`Content-Type:` [`super::CONTENT_TYPE_ROAMING_SELF`]): ask for
/// categories, containers and subscribers.
pub fn roaming_self_request_body() -> String {
    format!(
        "<roamingList xmlns=\"{ROAMING_SELF_NS}\"><roaming type=\"categories\"/><roaming type=\"containers\"/>\
         <roaming type=\"subscribers\"/></roamingList>"
    )
}

/// One `container/member`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContainerMember {
    /// `user`, `domain`, `sameEnterprise`, `federated`, `publicCloud`, `everyone`.
    pub member_type: String,
    /// The user's address or the domain, for `user` and `domain`.
    pub value: Option<String>,
}

/// One `containers/container`: an access level and who is in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfContainer {
    pub id: u32,
    /// Needed to change the members (`setContainerMembers`).
    pub version: u32,
    pub members: Vec<ContainerMember>,
}

/// One `subscribers/subscriber`: someone watching the user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subscriber {
    pub user: String,
    pub display_name: Option<String>,
    /// `false`: a new watcher the user has not been told about yet (Lync prompts, then `setSubscribers`).
    pub acknowledged: bool,
}

/// What a roaming-self document says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SelfData {
    pub categories: Vec<Category>,
    pub containers: Vec<SelfContainer>,
    pub subscribers: Vec<Subscriber>,
    /// The `state` of type `aggregateState` published by the server in container 2, if the document has one.
    pub aggregate_state: Option<StateValue>,
}

impl SelfData {
    /// How many distinct `device` instances (signed-in endpoints of the user) the document lists; more than one
    /// means multiple points of presence.
    pub fn device_count(&self) -> usize {
        let mut instances: Vec<u32> =
            self.categories.iter().filter(|c| c.name == "device").filter_map(|c| c.instance).collect();
        instances.sort_unstable();
        instances.dedup();
        instances.len()
    }
}

/// Reads a roaming-self NOTIFY/BENOTIFY body (or the roaming-self body of a publish's 200 OK).
pub fn parse_roaming_self(body: &[u8]) -> Result<SelfData, PresenceError> {
    let doc = Document::parse(body).map_err(PresenceError::xml(DOC))?;
    let root = &doc.root;
    let mut data = SelfData::default();
    for el in root.child("categories").map(|c| c.children_named("category")).into_iter().flatten() {
        let category = parse_category(DOC, &doc, el)?;
        if let (Some(2), CategoryValue::State(state)) = (category.container, &category.value)
            && state.kind == StateKind::AggregateState
        {
            data.aggregate_state = Some(state.clone());
        }
        data.categories.push(category);
    }
    for el in root.child("containers").map(|c| c.children_named("container")).into_iter().flatten() {
        let id = el.attr("id").ok_or(PresenceError::MissingAttribute {
            document: DOC,
            element: "container",
            attribute: "id",
        })?;
        data.containers.push(SelfContainer {
            id: parse_u32(DOC, "container/@id", id)?,
            version: el.attr("version").map(|v| parse_u32(DOC, "container/@version", v)).transpose()?.unwrap_or(0),
            members: el
                .children_named("member")
                .map(|m| ContainerMember {
                    member_type: m.attr("type").unwrap_or("").to_owned(),
                    value: m.attr("value").map(str::to_owned),
                })
                .collect(),
        });
    }
    for el in root.child("subscribers").map(|c| c.children_named("subscriber")).into_iter().flatten() {
        let Some(user) = el.attr("user") else { continue };
        data.subscribers.push(Subscriber {
            user: user.to_owned(),
            display_name: el.attr("displayName").filter(|d| !d.is_empty()).map(str::to_owned),
            acknowledged: el.attr("acknowledged") != Some("false"),
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presence::{Availability, NoteKind, VersionTable};

    const SELF_NOTIFY: &str = include_str!("fixtures/roaming-self-notify.xml");

    #[test]
    fn request_body_asks_for_the_three_lists() {
        let body = roaming_self_request_body();
        let doc = Document::parse(body.as_bytes()).unwrap();
        assert_eq!(doc.root.name, "roamingList");
        assert_eq!(doc.root.namespace.as_deref(), Some(ROAMING_SELF_NS));
        let types: Vec<_> = doc.root.children_named("roaming").filter_map(|r| r.attr("type")).collect();
        assert_eq!(types, ["categories", "containers", "subscribers"]);
    }

    #[test]
    fn reads_categories_containers_subscribers_and_the_aggregate() {
        let data = parse_roaming_self(SELF_NOTIFY.as_bytes()).unwrap();
        assert_eq!(data.categories.len(), 7);
        let agg = data.aggregate_state.as_ref().unwrap();
        assert_eq!(agg.availability, Some(6500));
        assert_eq!(Availability::from_value(6500), Availability::Busy);
        assert_eq!(agg.activity.as_deref(), Some("on-the-phone"));
        assert_eq!(data.device_count(), 2);
        let note = data.categories.iter().find(|c| c.name == "note").unwrap();
        assert!(matches!(&note.value, CategoryValue::Note(n) if n.text == "Back at 3" && n.kind == NoteKind::Personal));
        assert!(note.raw_xml.starts_with("<category name=\"note\""), "{}", note.raw_xml);
        assert_eq!(data.containers.len(), 2);
        assert_eq!(data.containers[0].id, 200);
        assert_eq!(data.containers[0].version, 3);
        assert_eq!(
            data.containers[0].members,
            vec![ContainerMember { member_type: "sameEnterprise".into(), value: None }]
        );
        assert_eq!(data.containers[1].members[0].value.as_deref(), Some("carol@fabrikam.lab"));
        assert_eq!(
            data.subscribers,
            vec![
                Subscriber { user: "bob@contoso.lab".into(), display_name: Some("Bob".into()), acknowledged: true },
                Subscriber { user: "carol@fabrikam.lab".into(), display_name: None, acknowledged: false },
            ]
        );
    }

    #[test]
    fn feeds_the_version_table() {
        let data = parse_roaming_self(SELF_NOTIFY.as_bytes()).unwrap();
        let mut table = VersionTable::new();
        table.set("note", 0, 100, 9); // a note instance the server no longer lists: dropped
        table.set("calendarData", 0, 1, 5); // a category the document does not name: kept
        table.record_self(&data);
        assert_eq!(table.version("state", 0x3123_4567, 2), 4);
        assert_eq!(table.version("state", 0x2000_0000, 3), 11);
        assert_eq!(table.version("note", 0, 200), 2);
        assert_eq!(table.version("note", 0, 100), 0);
        assert_eq!(table.version("calendarData", 0, 1), 5);
    }

    #[test]
    fn refuses_malformed_documents() {
        assert!(matches!(parse_roaming_self(b"<roamingData>"), Err(PresenceError::Xml { .. })));
        let bad = b"<roamingData><containers><container id=\"x\"/></containers></roamingData>";
        assert!(matches!(parse_roaming_self(bad), Err(PresenceError::BadNumber { .. })));
        let unnamed = b"<roamingData><categories><category instance=\"1\"/></categories></roamingData>";
        assert!(matches!(parse_roaming_self(unnamed), Err(PresenceError::MissingAttribute { .. })));
        assert_eq!(parse_roaming_self(b"<roamingData/>").unwrap(), SelfData::default());
    }
}
