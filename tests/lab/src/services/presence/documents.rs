//! The presence documents the server sends and the batch SUBSCRIBE it reads.
//!
//! - `categories` ([`CATEGORIES_NS`], `application/msrtc-event-categories+xml`): `category[@name,@instance,
//!   @publishTime,@container,@version,@expireType]` with the value inside (REFERENCE.md §8.2). A requested
//!   category with nothing in the watcher's container is sent as an empty `<category name="…"/>`: [MS-PRES]
//!   1.3.1.5, "when the last publication of a category in a container is deleted, an empty notification is
//!   generated".
//! - The batched NOTIFY body: `multipart/related; type="application/rlmi+xml"; start=resourceList;
//!   boundary=…` with an RFC 4662 `list` (`resource/instance[@id,@state,@cid]`) then one part per target,
//!   `Content-ID` = the bare AOR (as [MS-SIP] 4.3's example), headers `Content-Transfer-Encoding: binary`,
//!   `Content-ID`, `Content-Type` in that example's order. A target the lab does not know is listed
//!   `state="terminated" reason="noresource"` (RFC 4662 §5.2) and gets no part.
//! - `roamingData` ([MS-PRES] 4.4.3): the user's categories (every container, 1/2/3 included), containers and
//!   subscribers ([MS-PRES] 2.2.2.6.1; `subscriber[@user,@displayName,@acknowledged,@type]`).
//! - `batchSub` (CLIENT-NOTES.md §9.4) and the legacy `adhoclist` ([MS-SIP] 4.3) requests.

use sfbkit::xml::{Document, escape};
use sha1::{Digest, Sha1};

use super::{BLOCKED_CONTAINER, CATEGORIES_NS, COLLEAGUES_CONTAINER, EXTERNAL_CONTAINER, PresenceStore, category_xml};
use crate::services::{bare_aor, domain_of, sip_uri};

/// A categories part's type.
pub const CATEGORIES_CONTENT_TYPE: &str = "application/msrtc-event-categories+xml";
/// The roaming-self body type.
pub const ROAMING_SELF_CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-self+xml";
/// The batch SUBSCRIBE body type.
pub const BATCH_SUBSCRIBE_CONTENT_TYPE: &str = "application/msrtc-adrl-categorylist+xml";
/// `roamingData` namespace.
pub const ROAMING_SELF_NS: &str = "http://schemas.microsoft.com/2006/09/sip/roaming-self";
/// `containers` namespace (declared as `con:` by [MS-PRES] 4.4.3).
pub const CONTAINERS_NS: &str = "http://schemas.microsoft.com/2006/09/sip/containers";
/// `subscribers` namespace.
pub const SUBSCRIBERS_NS: &str = "http://schemas.microsoft.com/2006/09/sip/presence-subscribers";
/// RFC 4662 resource list namespace.
pub const RLMI_NS: &str = "urn:ietf:params:xml:ns:rlmi";
/// Resources one batch SUBSCRIBE may name (a full contact list).
pub const MAX_BATCH_RESOURCES: usize = 1000;

/// A batch presence SUBSCRIBE, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSubscribe {
    /// `subscribe` or `unsubscribe` (`adhoclist`'s `create` reads as `subscribe`).
    pub action: String,
    /// The presentities, as written (`sip:bob@contoso.lab`).
    pub resources: Vec<String>,
    /// The categories asked for (empty for the legacy `adhoclist`, which has none).
    pub categories: Vec<String>,
}

/// Why a presence request body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    #[error("the presence request body is not one the server understands: {0}")]
    Malformed(String),
    #[error("the batch names more than {0} resources; split it")]
    TooManyResources(usize),
}

/// Reads a `batchSub` (or legacy `adhoclist`) SUBSCRIBE body.
pub fn parse_batch_subscribe(body: &[u8]) -> Result<BatchSubscribe, PresenceError> {
    let doc = Document::parse(body).map_err(|e| PresenceError::Malformed(e.to_string()))?;
    let (action, resources, categories) = match doc.root.name.as_str() {
        "batchSub" => {
            let action =
                doc.root.child("action").ok_or_else(|| PresenceError::Malformed("batchSub has no action".into()))?;
            let resources = action.child("adhocList").map(|l| l.descendants("resource")).unwrap_or_default();
            let categories = action
                .child("categoryList")
                .map(|l| l.children_named("category").filter_map(|c| c.attr("name")).collect())
                .unwrap_or_default();
            (action.attr("name").unwrap_or("subscribe").to_string(), resources, categories)
        }
        "adhoclist" => ("subscribe".to_string(), doc.root.descendants("resource"), Vec::new()),
        other => return Err(PresenceError::Malformed(format!("expected batchSub or adhoclist, got {other:?}"))),
    };
    if resources.len() > MAX_BATCH_RESOURCES {
        return Err(PresenceError::TooManyResources(MAX_BATCH_RESOURCES));
    }
    Ok(BatchSubscribe {
        action,
        resources: resources.iter().filter_map(|r| r.attr("uri")).map(str::to_string).collect(),
        categories: categories.into_iter().map(str::to_string).collect(),
    })
}

impl PresenceStore {
    /// The container `watcher` sees of `target` (see the module documentation of `presence`).
    pub fn container_for(&self, target: &str, watcher: &str) -> u32 {
        if self.is_blocked(target, watcher) {
            BLOCKED_CONTAINER
        } else if domain_of(watcher) == self.domain() || domain_of(watcher) == domain_of(target) {
            COLLEAGUES_CONTAINER
        } else {
            EXTERNAL_CONTAINER
        }
    }

    /// `target`'s `categories` document as `watcher` may see it; `categories` empty = every category.
    pub fn categories_document(&self, target: &str, watcher: &str, categories: &[String]) -> String {
        let container = self.container_for(target, watcher);
        let mut out = format!("<categories xmlns=\"{CATEGORIES_NS}\" uri=\"{}\">", escape(&sip_uri(target)));
        let visible: Vec<_> = self
            .user_pubs(target)
            .map(|pubs| pubs.iter().filter(|(k, _)| k.container == container).collect())
            .unwrap_or_default();
        if categories.is_empty() {
            visible.iter().for_each(|(k, p)| out.push_str(&category_xml(k, p)));
        } else {
            for name in categories {
                let mut any = false;
                for (k, p) in visible.iter().filter(|(k, _)| &k.category == name) {
                    out.push_str(&category_xml(k, p));
                    any = true;
                }
                if !any {
                    out.push_str(&format!("<category name=\"{}\"/>", escape(name)));
                }
            }
        }
        out.push_str("</categories>");
        out
    }

    /// The batched NOTIFY (or piggy-backed 200 OK) body for `watcher` about all of a subscription's `targets`:
    /// `(Content-Type, body)`, RFC 4662 `fullState="true"`. `version` is the RFC 4662 list version, which the
    /// subscription increments per notification.
    pub fn notify_body(
        &self,
        watcher: &str,
        targets: &[String],
        categories: &[String],
        version: u32,
    ) -> (String, String) {
        self.rlmi_body(watcher, targets, categories, version, true)
    }

    /// [`PresenceStore::notify_body`] for only the presentities that changed (`fullState="false"`, RFC 4662 §4.4).
    pub fn partial_notify_body(
        &self,
        watcher: &str,
        targets: &[String],
        categories: &[String],
        version: u32,
    ) -> (String, String) {
        self.rlmi_body(watcher, targets, categories, version, false)
    }

    fn rlmi_body(
        &self,
        watcher: &str,
        targets: &[String],
        categories: &[String],
        version: u32,
        full_state: bool,
    ) -> (String, String) {
        let mut list = format!(
            "<list xmlns=\"{RLMI_NS}\" uri=\"{}\" version=\"{version}\" fullState=\"{full_state}\">",
            escape(&sip_uri(watcher))
        );
        let mut parts = Vec::new();
        for target in targets {
            let bare = bare_aor(target);
            if self.is_known(target) {
                list.push_str(&format!(
                    "<resource uri=\"{}\"><instance id=\"0\" state=\"active\" cid=\"{}\"/></resource>",
                    escape(&sip_uri(target)),
                    escape(&bare)
                ));
                parts.push((bare.clone(), self.categories_document(target, watcher, categories)));
            } else {
                list.push_str(&format!(
                    "<resource uri=\"{}\"><instance id=\"0\" state=\"terminated\" reason=\"noresource\"/></resource>",
                    escape(&sip_uri(target))
                ));
            }
        }
        list.push_str("</list>");
        let boundary = boundary_for(&list, &parts);
        let mut body = part(&boundary, "resourceList", "application/rlmi+xml", &list);
        for (cid, doc) in &parts {
            body.push_str(&part(&boundary, cid, CATEGORIES_CONTENT_TYPE, doc));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        let content_type =
            format!("multipart/related; type=\"application/rlmi+xml\"; start=resourceList; boundary={boundary}");
        (content_type, body)
    }

    /// The user's own `roamingData` (roaming-self NOTIFY / piggy-backed 200 OK).
    pub fn roaming_self_document(&self, aor: &str) -> String {
        let mut out = format!(
            "<roamingData xmlns=\"{ROAMING_SELF_NS}\" xmlns:cat=\"{CATEGORIES_NS}\" xmlns:con=\"{CONTAINERS_NS}\" \
             xmlns:sub=\"{SUBSCRIBERS_NS}\"><categories xmlns=\"{CATEGORIES_NS}\" uri=\"{}\">",
            escape(&sip_uri(aor))
        );
        if let Some(pubs) = self.user_pubs(aor) {
            pubs.iter().for_each(|(k, p)| out.push_str(&category_xml(k, p)));
        }
        out.push_str(&format!(
            "</categories><containers xmlns=\"{CONTAINERS_NS}\">\
             <container id=\"{EXTERNAL_CONTAINER}\" version=\"1\"><member type=\"federated\"/></container>\
             <container id=\"{COLLEAGUES_CONTAINER}\" version=\"1\"><member type=\"sameEnterprise\"/></container>"
        ));
        let me = bare_aor(aor);
        let mut blocked: Vec<&String> = self.blocked_watchers(&me);
        blocked.sort();
        out.push_str(&format!("<container id=\"{BLOCKED_CONTAINER}\" version=\"{}\">", blocked.len() + 1));
        for w in blocked {
            out.push_str(&format!("<member type=\"user\" value=\"{}\"/>", escape(&sip_uri(w))));
        }
        out.push_str(&format!("</container></containers><subscribers xmlns=\"{SUBSCRIBERS_NS}\">"));
        for s in self.subscribers(aor) {
            let kind = if domain_of(&s.user) == domain_of(aor) { "sameEnterprise" } else { "federated" };
            out.push_str(&format!(
                "<subscriber user=\"{}\" displayName=\"{}\" acknowledged=\"{}\" type=\"{kind}\"/>",
                escape(&s.user),
                escape(&s.display_name),
                s.acknowledged
            ));
        }
        out.push_str("</subscribers></roamingData>");
        out
    }

    fn blocked_watchers(&self, target: &str) -> Vec<&String> {
        self.blocked.iter().filter(|(t, _)| t == target).map(|(_, w)| w).collect()
    }
}

/// One part, its body followed by an empty line before the next delimiter. RFC 2046 §5.1.1 needs only the CRLF that
/// belongs to the delimiter; the empty line is what pidgin-sipe (through libpurple's mime.c `part_load`, which
/// trims the last four bytes of a part as "\r\n\r\n") reads correctly: with one CRLF it lost the last two characters of
/// every part (`</categorie`) and read no presence at all. An RFC 2046 reader sees a trailing CRLF in the body, which
/// XML ignores.
fn part(boundary: &str, cid: &str, content_type: &str, body: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {cid}\r\nContent-Type: {content_type}\r\n\r\n{body}\r\n\r\n"
    )
}

/// A boundary derived from the parts (deterministic, and practically never inside them: a SHA-1 of their text).
fn boundary_for(list: &str, parts: &[(String, String)]) -> String {
    let mut h = Sha1::new();
    h.update(list.as_bytes());
    for (cid, doc) in parts {
        h.update(cid.as_bytes());
        h.update(doc.as_bytes());
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}
