//! Presence notifications about contacts: the bodies of NOTIFY/BENOTIFY (and of the 200 OK piggy-backing the first
//! NOTIFY) on a presence subscription ([MS-PRES] batched subscription; REFERENCE §8.2, CLIENT-NOTES §9.4, the
//! [MS-SIP] 4.3 example).
//!
//! A batched notification is `multipart/related; type="application/rlmi+xml"` (RFC 4662 over RFC 2387): an RLMI
//! `list` saying, per `resource[@uri]`, the state of the subscription to it (`instance[@state]`), then one part per
//! contact, `application/msrtc-event-categories+xml` (a `categories[@uri]` document) from Lync-era servers or
//! `text/xml+msrtc.pidf` from OCS 2005-era ones (as in [MS-SIP] 4.3). A single-contact subscription gets a bare
//! categories body.
//!
//! An RLMI instance with `state="resubscribe"` tells the client to subscribe to that contact again, at the pool
//! named by `poolFqdn` (Request-URI/To = that FQDN, batched) or, without it, with a single SUBSCRIBE to the
//! contact (pidgin-sipe `process_incoming_notify_rlmi_resub`, [MS-PRES] 3.4.5.1.3): [`Resubscribe`].

use crate::xml::Document;

use super::categories::parse_category;
use super::multipart::{content_type_param, media_type, parse_multipart};
use super::{
    CONTENT_TYPE_EVENT_CATEGORIES, CONTENT_TYPE_MSRTC_PIDF, CONTENT_TYPE_MULTIPART_RELATED, CONTENT_TYPE_RLMI,
    Category, PresenceError,
};

const CATEGORIES_DOC: &str = "msrtc-event-categories";
const RLMI_DOC: &str = "rlmi";
const PIDF_DOC: &str = "msrtc-pidf";

/// The OCS 2005 (`text/xml+msrtc.pidf`) view of a contact: numbers on the legacy scale, kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LegacyPresence {
    /// `availability/@aggregate`.
    pub availability: Option<u32>,
    /// `activity/@aggregate`.
    pub activity: Option<u32>,
    pub display_name: Option<String>,
}

/// What one notification says about one contact.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Presentity {
    /// The contact's URI as the document gives it (`sip:` included for categories documents; the [MS-SIP] 4.3
    /// pidf example omits it).
    pub uri: String,
    pub categories: Vec<Category>,
    /// Present when the contact came as an OCS 2005 pidf document instead of categories.
    pub legacy: Option<LegacyPresence>,
}

/// One `list/resource` of the RLMI part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceState {
    pub uri: String,
    /// `instance/@state`: `active`, `pending`, `terminated`, `resubscribe`, …; `None` without an instance.
    pub state: Option<String>,
    /// `instance/@reason` (e.g. why it terminated).
    pub reason: Option<String>,
}

/// Contacts to subscribe to again, grouped by where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Resubscribe {
    pub uris: Vec<String>,
    /// Send one batched SUBSCRIBE with Request-URI/To = `sip:<pool_fqdn>`; `None`: one SUBSCRIBE per contact.
    pub pool_fqdn: Option<String>,
}

/// A decoded presence notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PresenceNotification {
    /// Per contact, in document order.
    pub presentities: Vec<Presentity>,
    /// The RLMI list's resources (empty without an RLMI part).
    pub resources: Vec<ResourceState>,
    /// `list/@fullState`: true when the list is the whole subscription rather than a delta.
    pub full_state: Option<bool>,
    /// Resubscribe directives from the RLMI list, one per pool (in first-seen order), then the pool-less one.
    pub resubscribe: Vec<Resubscribe>,
    /// How many parts had a type we do not read (e.g. `application/pidf+xml`).
    pub skipped_parts: usize,
}

/// Reads a presence NOTIFY body given its `Content-Type` header value.
pub fn parse_presence_notify(content_type: &str, body: &[u8]) -> Result<PresenceNotification, PresenceError> {
    let mut out = PresenceNotification::default();
    let media = media_type(content_type);
    if media == CONTENT_TYPE_MULTIPART_RELATED {
        let boundary = content_type_param(content_type, "boundary")
            .ok_or(PresenceError::Multipart { reason: "the Content-Type has no boundary parameter" })?;
        for part in parse_multipart(body, &boundary)? {
            if !read_document(&part.media_type(), &part.body, &mut out)? {
                out.skipped_parts += 1;
            }
        }
    } else if !read_document(&media, body, &mut out)? {
        return Err(PresenceError::UnsupportedContentType(content_type.to_owned()));
    }
    Ok(out)
}

/// Reads one document into `out`; false if its type is not one we read.
fn read_document(media: &str, body: &[u8], out: &mut PresenceNotification) -> Result<bool, PresenceError> {
    match media {
        CONTENT_TYPE_EVENT_CATEGORIES => out.presentities.push(parse_categories(body)?),
        CONTENT_TYPE_RLMI => read_rlmi(body, out)?,
        CONTENT_TYPE_MSRTC_PIDF => out.presentities.push(parse_msrtc_pidf(body)?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn parse_categories(body: &[u8]) -> Result<Presentity, PresenceError> {
    let doc = Document::parse(body).map_err(PresenceError::xml(CATEGORIES_DOC))?;
    if doc.root.name != "categories" {
        return Err(PresenceError::UnexpectedRoot {
            document: CATEGORIES_DOC,
            expected: "categories",
            found: doc.root.name.clone(),
        });
    }
    let uri = doc.root.attr("uri").ok_or(PresenceError::MissingAttribute {
        document: CATEGORIES_DOC,
        element: "categories",
        attribute: "uri",
    })?;
    let categories = doc
        .root
        .children_named("category")
        .map(|c| parse_category(CATEGORIES_DOC, &doc, c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Presentity { uri: uri.to_owned(), categories, legacy: None })
}

fn parse_msrtc_pidf(body: &[u8]) -> Result<Presentity, PresenceError> {
    let doc = Document::parse(body).map_err(PresenceError::xml(PIDF_DOC))?;
    if doc.root.name != "presentity" {
        return Err(PresenceError::UnexpectedRoot {
            document: PIDF_DOC,
            expected: "presentity",
            found: doc.root.name.clone(),
        });
    }
    let uri = doc.root.attr("uri").ok_or(PresenceError::MissingAttribute {
        document: PIDF_DOC,
        element: "presentity",
        attribute: "uri",
    })?;
    let aggregate = |name: &str| doc.root.child(name).and_then(|e| e.attr("aggregate")).and_then(|a| a.parse().ok());
    let legacy = LegacyPresence {
        availability: aggregate("availability"),
        activity: aggregate("activity"),
        display_name: doc
            .root
            .child("displayName")
            .and_then(|d| d.attr("displayName"))
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
    };
    Ok(Presentity { uri: uri.to_owned(), categories: Vec::new(), legacy: Some(legacy) })
}

fn read_rlmi(body: &[u8], out: &mut PresenceNotification) -> Result<(), PresenceError> {
    let doc = Document::parse(body).map_err(PresenceError::xml(RLMI_DOC))?;
    if doc.root.name != "list" {
        return Err(PresenceError::UnexpectedRoot {
            document: RLMI_DOC,
            expected: "list",
            found: doc.root.name.clone(),
        });
    }
    out.full_state = doc.root.attr("fullState").map(|f| f == "true");
    for resource in doc.root.children_named("resource") {
        let Some(uri) = resource.attr("uri") else { continue };
        let instance = resource.child("instance");
        let state = instance.and_then(|i| i.attr("state"));
        if state.is_some_and(|s| s.eq_ignore_ascii_case("resubscribe")) {
            let pool = instance.and_then(|i| i.attr("poolFqdn")).filter(|p| !p.is_empty()).map(str::to_owned);
            match out.resubscribe.iter_mut().find(|r| r.pool_fqdn == pool) {
                Some(group) => group.uris.push(uri.to_owned()),
                None => out.resubscribe.push(Resubscribe { uris: vec![uri.to_owned()], pool_fqdn: pool }),
            }
        }
        out.resources.push(ResourceState {
            uri: uri.to_owned(),
            state: state.map(str::to_owned),
            reason: instance.and_then(|i| i.attr("reason")).map(str::to_owned),
        });
    }
    // Pool-less directives last, so callers batch first.
    out.resubscribe.sort_by_key(|r| r.pool_fqdn.is_none());
    Ok(())
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
