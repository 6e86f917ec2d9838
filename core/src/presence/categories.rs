//! The `category` elements of presence documents and the values we model ([MS-PRES] categories; REFERENCE §8.1
//! value namespaces, CLIENT-NOTES §9.4 for which fields a client reads).
//!
//! The same `<category name instance container version publishTime expireType>` element appears in a contact's
//! `categories` document (NOTIFY) and in the roaming-self document; [`parse_category`] reads both. The raw XML of
//! every category is kept so an application can read what we do not model (calendarData, services, …).
//! A category element without a value child is how the server says an instance went away (pidgin-sipe treats
//! `<category name="note"/>` as "note cleared"): that is [`CategoryValue::Empty`].

use crate::xml::{Document, Element};

use super::{PresenceError, parse_opt_u32};

/// One category instance as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Category {
    pub name: String,
    pub instance: Option<u32>,
    /// Present in roaming-self documents; watchers are not told which container they matched.
    pub container: Option<u32>,
    pub version: Option<u32>,
    /// `publishTime` as written (ISO 8601, e.g. `2026-11-22T06:00:00Z`).
    pub publish_time: Option<String>,
    pub expire_type: Option<String>,
    pub value: CategoryValue,
    /// The whole `<category>` element as it appeared in the document.
    pub raw_xml: String,
}

/// The decoded value of a category, where we model it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CategoryValue {
    State(StateValue),
    Note(Note),
    ContactCard(ContactCard),
    /// The category element has no value: the instance was removed.
    Empty,
    /// A category we do not decode (see `raw_xml`).
    Other,
}

/// `xsi:type` of a `state` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum StateKind {
    /// What the server's aggregation script computed from all endpoints: what watchers should show.
    AggregateState,
    UserState,
    MachineState,
    PhoneState,
    CalendarState,
    Other(String),
}

impl StateKind {
    fn from_xsi_type(value: Option<&str>) -> StateKind {
        match value.unwrap_or("") {
            "aggregateState" => StateKind::AggregateState,
            "userState" => StateKind::UserState,
            "machineState" => StateKind::MachineState,
            "phoneState" => StateKind::PhoneState,
            "calendarState" => StateKind::CalendarState,
            other => StateKind::Other(other.to_owned()),
        }
    }
}

/// A `state` value (namespace `http://schemas.microsoft.com/2006/09/sip/state`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateValue {
    pub kind: StateKind,
    pub manual: Option<bool>,
    /// `availability`, the number watchers map by range ([`super::Availability::from_value`]).
    pub availability: Option<u32>,
    /// `activity/@token`.
    pub activity: Option<String>,
    /// `activity/custom` text, which overrides the token's display text.
    pub custom_activity: Option<String>,
    /// `device` (e.g. `Mobile`).
    pub device: Option<String>,
    pub meeting_subject: Option<String>,
    pub meeting_location: Option<String>,
    /// `@lastActive` as written.
    pub last_active: Option<String>,
}

/// Which note a `note/body` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum NoteKind {
    /// Typed by the user.
    Personal,
    /// The out-of-office message from the calendar.
    Oof,
}

impl NoteKind {
    /// The `body/@type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Personal => "personal",
            NoteKind::Oof => "OOF",
        }
    }
}

/// A `note` value: its first body (namespace `http://schemas.microsoft.com/2006/09/sip/note`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    pub text: String,
    pub kind: NoteKind,
}

/// One `contactCard/phone`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Phone {
    /// `@type`: `work`, `mobile`, `home`, `other`, …
    pub kind: Option<String>,
    pub uri: Option<String>,
    pub display: Option<String>,
}

/// The parts of a `contactCard` value we model. A contact publishes its card in several instances (identity,
/// phones, company…), so each field is optional and a view merges them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ContactCard {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub office: Option<String>,
    pub phones: Vec<Phone>,
    /// `automaton` = true: a bot, not a person.
    pub automaton: bool,
}

/// Reads one `<category>` element of `doc` (`document` names the document in errors).
pub(crate) fn parse_category(document: &'static str, doc: &Document, el: &Element) -> Result<Category, PresenceError> {
    let name = el
        .attr("name")
        .ok_or(PresenceError::MissingAttribute { document, element: "category", attribute: "name" })?
        .to_owned();
    let value_el = el.children.first();
    let value = match (name.as_str(), value_el) {
        (_, None) => CategoryValue::Empty,
        ("state", Some(v)) if v.name == "state" => CategoryValue::State(parse_state(v)),
        ("note", Some(v)) if v.name == "note" => CategoryValue::Note(parse_note(v)),
        ("contactCard", Some(v)) if v.name == "contactCard" => CategoryValue::ContactCard(parse_card(v)),
        _ => CategoryValue::Other,
    };
    Ok(Category {
        instance: parse_opt_u32(document, "category/@instance", el.attr("instance"))?,
        container: parse_opt_u32(document, "category/@container", el.attr("container"))?,
        version: parse_opt_u32(document, "category/@version", el.attr("version"))?,
        publish_time: el.attr("publishTime").map(str::to_owned),
        expire_type: el.attr("expireType").map(str::to_owned),
        value,
        raw_xml: doc.outer_xml(el).to_owned(),
        name,
    })
}

fn text_of(el: &Element, name: &str) -> Option<String> {
    el.child_text(name).filter(|t| !t.is_empty()).map(str::to_owned)
}

fn parse_state(el: &Element) -> StateValue {
    let activity = el.child("activity");
    StateValue {
        kind: StateKind::from_xsi_type(el.attr("type")),
        manual: el.attr("manual").map(|m| m == "true"),
        // A malformed number is shown as "no availability" rather than failing the whole notification.
        availability: el.child_text("availability").and_then(|a| a.parse().ok()),
        activity: activity.and_then(|a| a.attr("token")).map(str::to_owned),
        custom_activity: activity.and_then(|a| text_of(a, "custom")),
        device: text_of(el, "device"),
        meeting_subject: text_of(el, "meetingSubject"),
        meeting_location: text_of(el, "meetingLocation"),
        last_active: el.attr("lastActive").map(str::to_owned),
    }
}

fn parse_note(el: &Element) -> Note {
    let body = el.child("body");
    let kind = match body.and_then(|b| b.attr("type")) {
        Some(t) if t.eq_ignore_ascii_case("OOF") => NoteKind::Oof,
        _ => NoteKind::Personal,
    };
    Note { text: body.map(|b| b.text.trim().to_owned()).unwrap_or_default(), kind }
}

fn parse_card(el: &Element) -> ContactCard {
    let identity = el.child("identity");
    let first_text = |names: &[&str]| {
        names.iter().find_map(|n| el.descendants(n).first().map(|e| e.text.trim().to_owned()).filter(|t| !t.is_empty()))
    };
    ContactCard {
        display_name: identity
            .and_then(|i| i.path(&["name", "displayName"]))
            .map(|d| d.text.trim().to_owned())
            .filter(|t| !t.is_empty())
            .or_else(|| first_text(&["displayName"])),
        email: identity.and_then(|i| text_of(i, "email")).or_else(|| first_text(&["email"])),
        title: text_of(el, "title"),
        company: text_of(el, "company"),
        department: text_of(el, "department"),
        office: text_of(el, "office"),
        phones: el
            .children_named("phone")
            .map(|p| Phone {
                kind: p.attr("type").map(str::to_owned),
                uri: text_of(p, "uri"),
                display: text_of(p, "displayString"),
            })
            .collect(),
        automaton: el.child_text("automaton") == Some("true"),
    }
}
