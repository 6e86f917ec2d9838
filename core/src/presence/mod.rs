//! Enhanced presence ([MS-PRES]) wire formats for the client side, sans-I/O: what a Lync 2013 endpoint
//! publishes about itself, what it learns about its own publications, and what it reads about its contacts.
//!
//! Words used here, each from [MS-PRES] (the spec text itself was not retrievable; facts come from the Lync 2013
//! SDK schema reference, pidgin-sipe's `sipe-ocs2007.c` and captures, see `protocol/REFERENCE.md` §7–8 and
//! `protocol/CLIENT-NOTES.md` §7.3, §8, §9.4):
//!
//! - **category**: a named kind of presence data (`state`, `note`, `contactCard`, `calendarData`, `device`, …).
//! - **instance**: a number that tells apart several values of one category published by one user, e.g. one
//!   `state` per device ([`Instances`]).
//! - **container**: an access bucket; the server shows a watcher the publications in the container whose members
//!   match the watcher (1 self, 2 and 3 aggregation inputs, 100 external … 32000 blocked, see [`container`]).
//! - **version**: an optimistic-concurrency counter per (category, instance, container); a publication must carry
//!   the server's current version or the server answers 409 `Client.BadCall.WrongDelta` ([`VersionTable`]).
//! - **roaming-self**: the self subscription (`Event: vnd-microsoft-roaming-self`) through which the server tells
//!   an endpoint its own publications, containers and watchers ([`parse_roaming_self`]).
//! - **batched subscription**: one SUBSCRIBE to the user's own URI carrying the list of contacts
//!   ([`batch_subscribe_body`]), answered with `multipart/related` NOTIFYs of an RLMI list plus one
//!   `categories` document per contact ([`parse_presence_notify`]).
//!
//! Where to start: [`publish_body`] and the helpers [`device`], [`machine_state`], [`user_state`], [`note`] build
//! SERVICE bodies; [`parse_publish_fault`] + [`VersionTable::apply_conflicts`] handle a 409; [`ContactPresence`]
//! folds notifications into a per-contact view.

mod availability;
mod categories;
mod contact;
mod multipart;
mod notify;
mod publish;
mod roaming_self;
mod subscribe;
mod versions;

pub use availability::{Availability, activity};
pub use categories::{Category, CategoryValue, ContactCard, Note, NoteKind, Phone, StateKind, StateValue};
pub use contact::{ContactPresence, PresenceChange, is_federated};
pub use multipart::{MAX_PARTS, Part, parse_multipart};
pub use notify::{LegacyPresence, PresenceNotification, Presentity, ResourceState, Resubscribe, parse_presence_notify};
pub use publish::{
    DEVICE_NS, ExpireType, Instances, NOTE_NS, Publication, RICH_PRESENCE_NS, STATE_NS, container, device,
    device_value_xml, machine_state, note, note_value_xml, publish_body, state_value_xml, user_state,
};
pub use roaming_self::{
    ContainerMember, ROAMING_SELF_NS, SelfContainer, SelfData, Subscriber, parse_roaming_self,
    roaming_self_request_body,
};
pub use subscribe::{
    BATCH_SUBSCRIBE_ACCEPT, BATCH_SUBSCRIBE_CATEGORIES, BATCH_SUBSCRIBE_NS, BATCH_SUBSCRIBE_PROXY_REQUIRE,
    BATCH_SUBSCRIBE_REQUIRE, BATCH_SUBSCRIBE_SUPPORTED, CATEGORY_LIST_NS, batch_subscribe_body,
};
pub use versions::{PublicationKey, VersionConflict, VersionTable, WRONG_DELTA, parse_publish_fault};

use crate::xml::XmlError;

/// `Content-Type` of a SERVICE request that publishes categories ([MS-PRES] publication).
pub const CONTENT_TYPE_PUBLISH: &str = "application/msrtc-category-publish+xml";
/// `Content-Type` of the 409 body that lists version conflicts.
pub const CONTENT_TYPE_FAULT: &str = "application/msrtc-fault+xml";
/// `Content-Type` (and `Accept`) of the roaming-self subscription and its notifications.
pub const CONTENT_TYPE_ROAMING_SELF: &str = "application/vnd-microsoft-roaming-self+xml";
/// `Content-Type` of a batched presence SUBSCRIBE with a category list.
pub const CONTENT_TYPE_BATCH_SUBSCRIBE: &str = "application/msrtc-adrl-categorylist+xml";
/// `Content-Type` of one presentity's categories (a NOTIFY body or a multipart part).
pub const CONTENT_TYPE_EVENT_CATEGORIES: &str = "application/msrtc-event-categories+xml";
/// `Content-Type` of the RLMI list part of a batched notification (RFC 4662).
pub const CONTENT_TYPE_RLMI: &str = "application/rlmi+xml";
/// Media type of a batched notification (RFC 2387).
pub const CONTENT_TYPE_MULTIPART_RELATED: &str = "multipart/related";
/// The OCS 2005 presence document some servers still send in batched notifications.
pub const CONTENT_TYPE_MSRTC_PIDF: &str = "text/xml+msrtc.pidf";
/// `Event` of presence subscriptions.
pub const EVENT_PRESENCE: &str = "presence";
/// `Event` of the roaming-self subscription.
pub const EVENT_ROAMING_SELF: &str = "vnd-microsoft-roaming-self";

/// Why a presence document could not be built from, or read from, what the server sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    /// The body is not XML we can read.
    #[error("the {document} body is not readable XML ({error}); the server sent something else than it announced")]
    Xml { document: &'static str, error: XmlError },
    /// The document's root element is not the one this content type has.
    #[error("the {document} body starts with <{found}>, expected <{expected}>; check the Content-Type it came with")]
    UnexpectedRoot { document: &'static str, expected: &'static str, found: String },
    /// A required attribute is missing.
    #[error("<{element}> in the {document} body has no {attribute} attribute; the document cannot be used")]
    MissingAttribute { document: &'static str, element: &'static str, attribute: &'static str },
    /// A numeric attribute or value is not a number.
    #[error("{field} in the {document} body is {value:?}, not an unsigned number")]
    BadNumber { document: &'static str, field: &'static str, value: String },
    /// A 409 fault that is not a version conflict: republishing with other versions will not fix it.
    #[error("the publication fault is {code:?}, not Client.BadCall.WrongDelta; republishing will not help, report it")]
    UnsupportedFault { code: String },
    /// A version conflict names a publication our request did not have.
    #[error(
        "the 409 fault names operation {index} but the request had {sent} publications; publish again from scratch"
    )]
    ConflictIndexOutOfRange { index: u32, sent: usize },
    /// The availability has no value a client publishes (the idle states are computed by the server).
    #[error(
        "{0:?} is not an availability a client publishes; use Available, Busy, DoNotDisturb, BeRightBack, Away or Offline"
    )]
    NotPublishable(Availability),
    /// The notification's Content-Type is not one we read.
    #[error(
        "a presence notification with Content-Type {0:?} is not supported; expected multipart/related or {CONTENT_TYPE_EVENT_CATEGORIES}"
    )]
    UnsupportedContentType(String),
    /// A multipart body is malformed (RFC 2046 5.1).
    #[error("the multipart presence body is malformed: {reason}")]
    Multipart { reason: &'static str },
    /// A multipart body has more parts than we accept.
    #[error("the multipart presence body has more than {0} parts; refusing it")]
    TooManyParts(usize),
}

impl PresenceError {
    pub(crate) fn xml(document: &'static str) -> impl FnOnce(XmlError) -> PresenceError {
        move |error| PresenceError::Xml { document, error }
    }
}

/// Parses a number the way the server writes it (decimal, no sign), naming the field on failure.
pub(crate) fn parse_u32(document: &'static str, field: &'static str, value: &str) -> Result<u32, PresenceError> {
    value.trim().parse::<u32>().map_err(|_| PresenceError::BadNumber { document, field, value: value.to_owned() })
}

/// Like [`parse_u32`] for an optional attribute.
pub(crate) fn parse_opt_u32(
    document: &'static str,
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<u32>, PresenceError> {
    value.map(|v| parse_u32(document, field, v)).transpose()
}
