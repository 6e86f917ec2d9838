//! Publishing one's own presence: the `application/msrtc-category-publish+xml` body of a SERVICE to self and the
//! publication sets a Lync 2013 client sends ([MS-PRES] publication; REFERENCE §8.1, CLIENT-NOTES §8.1–8.3).
//!
//! Each [`Publication`] names a (category, instance, container) and carries the server's current version for it
//! (from a [`VersionTable`]); a publication without a value deletes that instance (`expires="0"`, no child
//! element), as the Lync SDK's "Deleting an existing publication" example shows.
//!
//! The category values follow pidgin-sipe's templates (`sipe-ocs2007.c`): where the Lync SDK example and
//! pidgin-sipe differ (the SDK deletes with `expireType="time"`, pidgin-sipe keeps the publication's own expire
//! type with `expires="0"`; pidgin-sipe writes `uri=""` on a note body), the real client wins.

use crate::identity::{Epid, sip_instance};
use crate::xml::escape;

use super::versions::VersionTable;
use super::{Availability, NoteKind, PresenceError};

/// Container ids ([MS-PRES] containers; REFERENCE §8.1, CLIENT-NOTES §7.3).
pub mod container {
    /// Default container for watchers matched by no other container.
    pub const DEFAULT: u32 = 0;
    /// Self: only the user's own endpoints see it.
    pub const SELF: u32 = 1;
    /// Aggregation input 1: endpoint states aggregated into 100, 200 and 400.
    pub const AGGREGATION_1: u32 = 2;
    /// Aggregation input 2: aggregated into 300 (Do Not Disturb becomes "urgent interruptions only").
    pub const AGGREGATION_2: u32 = 3;
    /// External (Public access level).
    pub const EXTERNAL: u32 = 100;
    /// Colleagues (Company access level).
    pub const COLLEAGUES: u32 = 200;
    /// Workgroup (Team access level).
    pub const WORKGROUP: u32 = 300;
    /// Friends and Family (Personal access level).
    pub const FRIENDS_AND_FAMILY: u32 = 400;
    /// Blocked.
    pub const BLOCKED: u32 = 32000;
}

/// Namespace of the `publish` document.
pub const RICH_PRESENCE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/rich-presence";
/// Namespace of `state` values.
pub const STATE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/state";
/// Namespace of `note` values.
pub const NOTE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/note";
/// Namespace of `device` values.
pub const DEVICE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/device";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The instance numbers of this endpoint's publications (CLIENT-NOTES §8.2, pidgin-sipe `sipe_get_pub_instance`).
///
/// Derived from the epid so each device of a user publishes distinct instances: with E the value of the epid's
/// leading hex digits (at most 8, as C `sscanf("%08x")` reads them; 0 if it starts with none), device = E and the
/// state instances are `(E >> 4)` with a per-kind top nibble. userState is one fixed instance shared by all
/// endpoints (the user's manual status is per user, not per device); the personal note is instance 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Instances {
    pub device: u32,
    pub machine_state: u32,
    pub user_state: u32,
    pub calendar_state: u32,
    pub calendar_oof_state: u32,
    pub phone_state: u32,
    /// The personal note (always 0).
    pub note: u32,
}

impl Instances {
    /// The fixed userState instance.
    pub const USER_STATE: u32 = 0x2000_0000;
    /// The personal note instance (also calendarData WorkingHours).
    pub const NOTE: u32 = 0;

    pub fn from_epid(epid: &Epid) -> Instances {
        let e = leading_hex_u32(epid.as_str());
        let shifted = e >> 4;
        Instances {
            device: e,
            machine_state: shifted | 0x3000_0000,
            user_state: Instances::USER_STATE,
            calendar_state: shifted | 0x4000_0000,
            calendar_oof_state: shifted | 0x5000_0000,
            phone_state: shifted | 0x8000_0000,
            note: Instances::NOTE,
        }
    }

    /// The instance of the OOF note and of calendarData free/busy, derived from the mailbox address rather than
    /// the epid so every endpoint of the user publishes the same one: H = bytes 14..18 of SHA-1(`"<email>::"`)
    /// read big-endian (pidgin-sipe `sipe_get_epid(email, "", "")` then `%08x`), instance = `(H >> 4) | 0x40000000`.
    pub fn mailbox_instance(email: &str) -> u32 {
        use sha1::{Digest, Sha1};
        let digest = Sha1::digest(format!("{email}::").as_bytes());
        let h = digest.get(14..18).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        (h >> 4) | 0x4000_0000
    }
}

/// The value of up to 8 leading hex digits (C `sscanf(s, "%08x")` without the `0x` prefix).
fn leading_hex_u32(s: &str) -> u32 {
    s.chars().take(8).map_while(|c| c.to_digit(16)).fold(0, |acc, d| (acc << 4) | d)
}

/// How long a publication lives on the server ([MS-PRES] `expireType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ExpireType {
    /// Until removed (notes, userState).
    Static,
    /// Until the user's last endpoint signs out.
    User,
    /// Until this endpoint signs out (device, machineState).
    Endpoint,
    /// For `expires` seconds.
    Time,
}

impl ExpireType {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpireType::Static => "static",
            ExpireType::User => "user",
            ExpireType::Endpoint => "endpoint",
            ExpireType::Time => "time",
        }
    }
}

/// One `<publication>` of a publish request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Publication {
    pub category: String,
    pub instance: u32,
    pub container: u32,
    /// The server's current version of this (category, instance, container); 0 for a new one.
    pub version: u32,
    pub expire_type: ExpireType,
    /// Seconds to live, written as `expires`; a deletion always writes `expires="0"`.
    pub expires: Option<u32>,
    /// The category value (one XML element); `None` deletes the publication.
    pub value_xml: Option<String>,
}

impl Publication {
    /// Whether this publication deletes its instance.
    pub fn is_deletion(&self) -> bool {
        self.value_xml.is_none()
    }
}

/// The body of a SERVICE request to `self_uri` publishing `pubs`, in order (a 409 fault refers to them by
/// 1-based position). Send it with `Content-Type:` [`super::CONTENT_TYPE_PUBLISH`].
pub fn publish_body(self_uri: &str, pubs: &[Publication]) -> String {
    let mut out = format!("<publish xmlns=\"{RICH_PRESENCE_NS}\"><publications uri=\"{}\">", escape(self_uri));
    for p in pubs {
        out.push_str(&format!(
            "<publication categoryName=\"{}\" instance=\"{}\" container=\"{}\" version=\"{}\" expireType=\"{}\"",
            escape(&p.category),
            p.instance,
            p.container,
            p.version,
            p.expire_type.as_str()
        ));
        match (&p.value_xml, p.expires) {
            (None, _) => out.push_str(" expires=\"0\"/>"),
            (Some(value), expires) => {
                if let Some(seconds) = expires {
                    out.push_str(&format!(" expires=\"{seconds}\""));
                }
                out.push('>');
                // The value is XML built by the helpers below (or the caller's own category), not text.
                out.push_str(value);
                out.push_str("</publication>");
            }
        }
    }
    out.push_str("</publications></publish>");
    out
}

/// A `state` value element: `xsi:type` is `machineState`, `userState`, … (pidgin-sipe `SIPE_PUB_XML_STATE_*`).
/// `manual` is true for a state the user chose. An activity token goes in `<activity token>`.
pub fn state_value_xml(state_type: &str, manual: bool, availability: u32, activity: Option<&str>) -> String {
    let activity = activity.map(|t| format!("<activity token=\"{}\"/>", escape(t))).unwrap_or_default();
    format!(
        "<state xmlns=\"{STATE_NS}\" manual=\"{manual}\" xmlns:xsi=\"{XSI_NS}\" xsi:type=\"{}\">\
         <availability>{availability}</availability>{activity}<endpointLocation/></state>",
        escape(state_type)
    )
}

/// A `note` value element with one body (pidgin-sipe `SIPE_PUB_XML_NOTE`, without start/end times).
pub fn note_value_xml(text: &str, kind: NoteKind) -> String {
    format!("<note xmlns=\"{NOTE_NS}\"><body type=\"{}\" uri=\"\">{}</body></note>", kind.as_str(), escape(text))
}

/// A `device` value element (pidgin-sipe `SIPE_PUB_XML_DEVICE`, text-only capabilities): `endpoint_id` is the
/// endpoint's `+sip.instance` UUID, `timezone` like `00:00:00+01:00`.
pub fn device_value_xml(endpoint_id: &str, self_uri: &str, timezone: &str, machine_name: &str) -> String {
    format!(
        "<device xmlns=\"{DEVICE_NS}\" endpointId=\"{}\"><capabilities preferred=\"false\" uri=\"{}\">\
         <text capture=\"true\" render=\"true\" publish=\"false\"/>\
         <gifInk capture=\"false\" render=\"true\" publish=\"false\"/>\
         <isfInk capture=\"false\" render=\"true\" publish=\"false\"/></capabilities>\
         <timezone>{}</timezone><machineName>{}</machineName></device>",
        escape(endpoint_id),
        escape(self_uri),
        escape(timezone),
        escape(machine_name)
    )
}

fn publication(
    category: &str,
    instance: u32,
    container: u32,
    expire_type: ExpireType,
    value_xml: Option<String>,
    versions: &VersionTable,
) -> Publication {
    Publication {
        category: category.to_owned(),
        instance,
        container,
        version: versions.version(category, instance, container),
        expire_type,
        expires: None,
        value_xml,
    }
}

/// The `device` publication of this endpoint (container 2, `endpoint`); part of the initial publication.
pub fn device(epid: &Epid, self_uri: &str, timezone: &str, machine_name: &str, versions: &VersionTable) -> Publication {
    let value = device_value_xml(&sip_instance(epid).uuid(), self_uri, timezone, machine_name);
    let instance = Instances::from_epid(epid).device;
    publication("device", instance, container::AGGREGATION_1, ExpireType::Endpoint, Some(value), versions)
}

/// The machineState publications (containers 2 and 3, `endpoint`, `manual="false"`): how active this endpoint
/// is. `availability` is a raw number because machine state may be idle-derived (e.g. 3500 active, 15500 away).
pub fn machine_state(instances: &Instances, availability: u32, versions: &VersionTable) -> Vec<Publication> {
    [container::AGGREGATION_1, container::AGGREGATION_2]
        .into_iter()
        .map(|c| {
            let value = state_value_xml("machineState", false, availability, None);
            publication("state", instances.machine_state, c, ExpireType::Endpoint, Some(value), versions)
        })
        .collect()
}

/// The userState publications (containers 2 and 3, `static`, `manual="true"`): the status the user chose.
///
/// Fails for the idle states, which no client publishes.
pub fn user_state(
    instances: &Instances,
    availability: Availability,
    activity: Option<&str>,
    versions: &VersionTable,
) -> Result<Vec<Publication>, PresenceError> {
    let value = availability.publish_value().ok_or(PresenceError::NotPublishable(availability))?;
    Ok([container::AGGREGATION_1, container::AGGREGATION_2]
        .into_iter()
        .map(|c| {
            let xml = state_value_xml("userState", true, value, activity);
            publication("state", instances.user_state, c, ExpireType::Static, Some(xml), versions)
        })
        .collect())
}

/// The note publications (containers 200, 300, 400, `static`): the personal note at instance 0, or the OOF note
/// at `instance` (see [`Instances::mailbox_instance`]). An empty (or all-whitespace) text deletes the three.
pub fn note(text: &str, kind: NoteKind, instance: u32, versions: &VersionTable) -> Vec<Publication> {
    [container::COLLEAGUES, container::WORKGROUP, container::FRIENDS_AND_FAMILY]
        .into_iter()
        .map(|c| {
            let value = (!text.trim().is_empty()).then(|| note_value_xml(text, kind));
            publication("note", instance, c, ExpireType::Static, value, versions)
        })
        .collect()
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
