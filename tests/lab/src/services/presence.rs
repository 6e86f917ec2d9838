//! Enhanced presence as the server keeps it ([MS-PRES]; REFERENCE.md §7–8; CLIENT-NOTES.md §7.3, §8, §9.4).
//!
//! - **Publications** are keyed by (category name, instance, container) and carry a version, an `expireType`
//!   (`static`, `user`, `endpoint`, `time` + `expires`), the publishing endpoint's epid, the value XML and the
//!   server's publishTime. [`PresenceStore::publish`] takes a `publish` document (`application/msrtc-category-
//!   publish+xml`, namespace [`RICH_PRESENCE_NS`]). Every publication's `version` must equal the stored one (0 for
//!   a new key), or the **whole** request fails ([`PublishError::Conflict`]): a 409 whose
//!   `application/msrtc-fault+xml` body is `Fault/Faultcode` `Client.BadCall.WrongDelta` with one
//!   `details/operation[@index,@version,@curVersion]` per refused publication (index = 1-based position in the
//!   request). The body's shape is [MS-PRES] 2.2.2.10.4's example; SIPE's `process_send_presence_category_publish_
//!   response` (sipe-ocs2007.c) reads exactly `Faultcode` and `details/operation[@index,@curVersion]` and
//!   republishes. Success bumps each version by one. `expires="0"` deletes (the Lync SDK's "Deleting an existing
//!   publication" example); a deleted key starts again at version 0.
//! - **Aggregation** ([`aggregation`]): the server publishes `state` of `xsi:type="aggregateState"` into
//!   containers 2, 100, 200 and 400 from the states in container 2, and into 300 from those in container 3 (Lync
//!   SDK "Aggregation containers"; the self document of [MS-PRES] 4.4.3 shows it in container 2, instance 1,
//!   `expireType="user"`, which is where SIPE reads it). The rule is documented in [`aggregation`].
//! - **Who sees what**: [`PresenceStore::categories_document`] picks one container per watcher: blocked ⇒ 32000,
//!   same SIP domain ⇒ 200 (the `sameEnterprise` member type), any other domain ⇒ 100 (`federated`). This is the
//!   "highest container holding the category with the watcher as a member" rule of the OCS 2007 R2 SDK
//!   ("Adding Members to Containers") with the default memberships only; per-user membership (setContainerMembers)
//!   is not modelled.
//! - Documents: `categories` ([`CATEGORIES_NS`]), the batched NOTIFY body (`multipart/related;
//!   type="application/rlmi+xml"`, RFC 4662 as in [MS-SIP] 4.3's example), the roaming-self document
//!   (`roamingData`, [MS-PRES] 4.4.3) and the batch SUBSCRIBE request (`batchSub`, CLIENT-NOTES.md §9.4) are in
//!   [`documents`].
//!
//! Subscriptions and their expiry are the SIP loop's; this store returns documents and change sets
//! ([`PresenceChange`]). Time is always passed in. Nothing here is persisted: presence starts empty with the lab.

pub mod aggregation;
pub mod documents;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sfbkit::xml::{Document, escape};
use time::OffsetDateTime;

pub use documents::{BatchSubscribe, PresenceError, parse_batch_subscribe};

use super::bare_aor;
use crate::config::LabUser;

/// Publication request body type.
pub const PUBLISH_CONTENT_TYPE: &str = "application/msrtc-category-publish+xml";
/// The 409's body type.
pub const FAULT_CONTENT_TYPE: &str = "application/msrtc-fault+xml";
/// `publish` namespace.
pub const RICH_PRESENCE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/rich-presence";
/// `categories` namespace.
pub const CATEGORIES_NS: &str = "http://schemas.microsoft.com/2006/09/sip/categories";
/// `state` namespace.
pub const STATE_NS: &str = "http://schemas.microsoft.com/2006/09/sip/state";
/// Publications one user may hold (a lab bound against runaway clients).
pub const MAX_PUBLICATIONS_PER_USER: usize = 2000;
/// Publications one request may carry.
pub const MAX_PUBLICATIONS_PER_REQUEST: usize = 256;
/// Longest `expires` honoured (one year); larger values are clamped to it.
pub const MAX_EXPIRES_SECONDS: u64 = 365 * 24 * 3600;

/// Owner-only containers: self (1) and the two aggregation inputs (2, 3).
pub const SELF_CONTAINERS: [u32; 3] = [1, 2, 3];
/// Where a watcher of the same SIP domain looks (Colleagues).
pub const COLLEAGUES_CONTAINER: u32 = 200;
/// Where a watcher of another domain looks (External Contacts).
pub const EXTERNAL_CONTAINER: u32 = 100;
/// Where a blocked watcher looks.
pub const BLOCKED_CONTAINER: u32 = 32000;

/// How a publication expires ([MS-PRES] `expireType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireType {
    /// Until deleted.
    Static,
    /// Until the user has no endpoint left.
    User,
    /// Until the publishing endpoint is gone.
    Endpoint,
    /// Until `expires` seconds after publication.
    Time,
}

impl ExpireType {
    fn parse(value: &str) -> Option<ExpireType> {
        match value {
            "static" => Some(ExpireType::Static),
            "user" => Some(ExpireType::User),
            "endpoint" => Some(ExpireType::Endpoint),
            "time" => Some(ExpireType::Time),
            _ => None,
        }
    }
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpireType::Static => "static",
            ExpireType::User => "user",
            ExpireType::Endpoint => "endpoint",
            ExpireType::Time => "time",
        }
    }
}

/// (category name, instance, container).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicationKey {
    pub category: String,
    pub instance: u32,
    pub container: u32,
}

/// One stored category instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub version: u32,
    pub expire_type: ExpireType,
    /// When an `expireType="time"` publication lapses.
    pub expires_at: Option<OffsetDateTime>,
    /// The publishing endpoint's epid (`None` for the server's own aggregate publications).
    pub epid: Option<String>,
    /// The value XML, as published.
    pub value: String,
    pub publish_time: OffsetDateTime,
}

/// A watcher in the user's `subscribers` list ([MS-PRES] 2.2.2.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub user: String,
    pub display_name: String,
    pub acknowledged: bool,
}

/// What changed for one user, so the SIP loop knows whom to NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceChange {
    /// Whose presence this is (bare AOR).
    pub aor: String,
    /// The user's own data changed: every roaming-self subscription of theirs gets a new
    /// [`PresenceStore::roaming_self_document`].
    pub self_changed: bool,
    /// Categories whose watcher-visible instances (containers other than 1, 2, 3) changed: watchers subscribed to
    /// any of them get a new [`PresenceStore::notify_body`].
    pub visible_categories: Vec<String>,
}

impl PresenceChange {
    /// Nothing to notify.
    pub fn is_empty(&self) -> bool {
        !self.self_changed && self.visible_categories.is_empty()
    }
}

/// One publication refused for its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionConflict {
    /// 1-based position in the request.
    pub index: usize,
    /// The version the request carried.
    pub version: u32,
    /// The version the server holds (0: none).
    pub cur_version: u32,
}

/// Why a publication request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("the publish document is not one the server understands: {0}")]
    Malformed(String),
    #[error("publications for {uri} may only be made by that user")]
    NotYours { uri: String },
    #[error("{} publication(s) carry a version the server does not hold; adopt curVersion and republish", conflicts.len())]
    Conflict { conflicts: Vec<VersionConflict>, fault_body: String },
    #[error("too many publications (the limit is {0})")]
    TooMany(usize),
}

impl PublishError {
    /// The SERVICE response's status.
    pub fn status_code(&self) -> u16 {
        match self {
            PublishError::Malformed(_) | PublishError::TooMany(_) => 400,
            PublishError::NotYours { .. } => 403,
            PublishError::Conflict { .. } => 409,
        }
    }
}

/// A request's publication, parsed.
struct Incoming {
    key: PublicationKey,
    version: u32,
    expire_type: ExpireType,
    expires: Option<u64>,
    value: String,
}

#[derive(Debug, Default)]
struct UserPresence {
    pubs: BTreeMap<PublicationKey, Publication>,
    subscribers: BTreeMap<String, Subscriber>,
}

/// Every user's publications and watchers list.
#[derive(Debug, Default)]
pub struct PresenceStore {
    domain: String,
    /// Known users (bare AORs); empty = everybody is known.
    known: HashSet<String>,
    users: HashMap<String, UserPresence>,
    /// (target, watcher) pairs: the watcher sees the target's container 32000.
    blocked: HashSet<(String, String)>,
}

impl PresenceStore {
    /// A store for the SIP domain `domain` (watchers in it see container 200); every target is known.
    pub fn new(domain: &str) -> PresenceStore {
        PresenceStore { domain: domain.to_ascii_lowercase(), ..PresenceStore::default() }
    }

    /// [`PresenceStore::new`], knowing only `users` (others are `noresource` in batched NOTIFYs).
    pub fn with_users(domain: &str, users: &[LabUser]) -> PresenceStore {
        let mut store = PresenceStore::new(domain);
        store.known = users.iter().map(|u| bare_aor(&u.sip_uri)).collect();
        store
    }

    /// Whether `aor` is a user of this lab (always, when the store was made without a user list).
    pub fn is_known(&self, aor: &str) -> bool {
        self.known.is_empty() || self.known.contains(&bare_aor(aor))
    }

    /// Blocks (or unblocks) `watcher` from `target`'s presence: they see container 32000 only.
    pub fn set_blocked(&mut self, target: &str, watcher: &str, blocked: bool) -> PresenceChange {
        let pair = (bare_aor(target), bare_aor(watcher));
        let changed = if blocked { self.blocked.insert(pair) } else { self.blocked.remove(&pair) };
        PresenceChange { aor: bare_aor(target), self_changed: changed, visible_categories: Vec::new() }
    }

    /// Whether `target` blocked `watcher`.
    pub fn is_blocked(&self, target: &str, watcher: &str) -> bool {
        self.blocked.contains(&(bare_aor(target), bare_aor(watcher)))
    }

    /// The stored publication, if any.
    pub fn publication(&self, aor: &str, key: &PublicationKey) -> Option<&Publication> {
        self.users.get(&bare_aor(aor)).and_then(|u| u.pubs.get(key))
    }

    /// Every publication of the user, in key order.
    pub fn publications(&self, aor: &str) -> Vec<(PublicationKey, Publication)> {
        self.users
            .get(&bare_aor(aor))
            .map(|u| u.pubs.iter().map(|(k, p)| (k.clone(), p.clone())).collect())
            .unwrap_or_default()
    }

    /// Applies a `publish` document sent by `aor`'s endpoint `epid`, all or nothing.
    pub fn publish(
        &mut self,
        aor: &str,
        epid: &str,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<PresenceChange, PublishError> {
        let key = bare_aor(aor);
        let incoming = parse_publish(&key, body)?;
        let user = self.users.entry(key.clone()).or_default();
        let conflicts: Vec<VersionConflict> = incoming
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let cur_version = user.pubs.get(&p.key).map_or(0, |s| s.version);
                (p.version != cur_version).then_some(VersionConflict { index: i + 1, version: p.version, cur_version })
            })
            .collect();
        if !conflicts.is_empty() {
            let fault_body = conflict_fault(&conflicts);
            return Err(PublishError::Conflict { conflicts, fault_body });
        }
        let new_keys = incoming.iter().filter(|p| p.expires != Some(0) && !user.pubs.contains_key(&p.key)).count();
        if user.pubs.len() + new_keys > MAX_PUBLICATIONS_PER_USER {
            return Err(PublishError::TooMany(MAX_PUBLICATIONS_PER_USER));
        }
        let mut changed = BTreeSet::new();
        for p in incoming {
            if p.expires == Some(0) {
                if user.pubs.remove(&p.key).is_some() {
                    changed.insert(p.key);
                }
                continue;
            }
            let version = user.pubs.get(&p.key).map_or(0, |s| s.version).wrapping_add(1);
            // A wire value: clamped, and added without a chance of overflowing the calendar.
            let expires_at = match (p.expire_type, p.expires) {
                (ExpireType::Time, Some(secs)) => {
                    let secs = i64::try_from(secs.min(MAX_EXPIRES_SECONDS)).unwrap_or(0);
                    now.checked_add(time::Duration::seconds(secs))
                }
                _ => None,
            };
            let publication = Publication {
                version,
                expire_type: p.expire_type,
                expires_at,
                epid: Some(epid.to_string()),
                value: p.value,
                publish_time: now,
            };
            user.pubs.insert(p.key.clone(), publication);
            changed.insert(p.key);
        }
        if !changed.is_empty() {
            changed.extend(aggregation::reaggregate(&mut user.pubs, now));
        }
        Ok(change_set(key, changed))
    }

    /// `epid` is gone (deregistered or expired): its `expireType="endpoint"` publications go, and the user's
    /// state is aggregated again.
    pub fn endpoint_gone(&mut self, aor: &str, epid: &str, now: OffsetDateTime) -> PresenceChange {
        self.remove_where(aor, now, |p| p.expire_type == ExpireType::Endpoint && p.epid.as_deref() == Some(epid))
    }

    /// The user has no endpoint left: their `expireType="user"` publications made by endpoints go too (the
    /// server's aggregate stays, showing them offline).
    pub fn user_gone(&mut self, aor: &str, now: OffsetDateTime) -> PresenceChange {
        self.remove_where(aor, now, |p| {
            p.epid.is_some() && matches!(p.expire_type, ExpireType::User | ExpireType::Endpoint)
        })
    }

    /// Drops every `expireType="time"` publication that has lapsed at `now`; one change set per user affected.
    pub fn expire(&mut self, now: OffsetDateTime) -> Vec<PresenceChange> {
        let mut aors: Vec<String> = self
            .users
            .iter()
            .filter(|(_, u)| u.pubs.values().any(|p| p.expires_at.is_some_and(|t| t <= now)))
            .map(|(a, _)| a.clone())
            .collect();
        aors.sort();
        aors.into_iter().map(|aor| self.remove_where(&aor, now, |p| p.expires_at.is_some_and(|t| t <= now))).collect()
    }

    fn remove_where(&mut self, aor: &str, now: OffsetDateTime, gone: impl Fn(&Publication) -> bool) -> PresenceChange {
        let key = bare_aor(aor);
        let Some(user) = self.users.get_mut(&key) else { return PresenceChange { aor: key, ..Default::default() } };
        let removed: Vec<PublicationKey> = user.pubs.iter().filter(|(_, p)| gone(p)).map(|(k, _)| k.clone()).collect();
        let mut changed = BTreeSet::new();
        for k in removed {
            user.pubs.remove(&k);
            changed.insert(k);
        }
        if !changed.is_empty() {
            changed.extend(aggregation::reaggregate(&mut user.pubs, now));
        }
        change_set(key, changed)
    }

    /// Records that `watcher` subscribed to `target`'s presence (the `subscribers` list of the target's
    /// roaming-self document). True when the watcher is new: the target's roaming-self subscribers must be told.
    pub fn record_subscriber(&mut self, target: &str, watcher: &str, display_name: &str) -> bool {
        let watcher = bare_aor(watcher);
        // Only the lab's own users keep a list: a batch naming strangers must not grow the store.
        if watcher == bare_aor(target) || !self.is_known(target) {
            return false;
        }
        let user = self.users.entry(bare_aor(target)).or_default();
        if user.subscribers.contains_key(&watcher) {
            return false;
        }
        let sub = Subscriber { user: watcher.clone(), display_name: display_name.to_string(), acknowledged: false };
        user.subscribers.insert(watcher, sub);
        true
    }

    /// The user's watchers.
    pub fn subscribers(&self, aor: &str) -> Vec<Subscriber> {
        self.users.get(&bare_aor(aor)).map(|u| u.subscribers.values().cloned().collect()).unwrap_or_default()
    }

    /// A `setSubscribers` SERVICE (`application/msrtc-presence-setsubscriber+xml`, [MS-PRES] 4.8.1): marks the
    /// named watchers acknowledged.
    pub fn set_subscribers(&mut self, aor: &str, body: &[u8]) -> Result<PresenceChange, PresenceError> {
        let doc = Document::parse(body).map_err(|e| PresenceError::Malformed(e.to_string()))?;
        if doc.root.name != "setSubscribers" {
            return Err(PresenceError::Malformed(format!("expected setSubscribers, got {:?}", doc.root.name)));
        }
        let key = bare_aor(aor);
        let user = self.users.entry(key.clone()).or_default();
        let mut changed = false;
        for s in doc.root.children_named("subscriber") {
            let acknowledged = s.attr("acknowledged").is_some_and(|a| a == "true");
            if let Some(sub) = s.attr("user").and_then(|u| user.subscribers.get_mut(&bare_aor(u))) {
                changed |= sub.acknowledged != acknowledged;
                sub.acknowledged = acknowledged;
            }
        }
        Ok(PresenceChange { aor: key, self_changed: changed, visible_categories: Vec::new() })
    }

    pub(crate) fn user_pubs(&self, aor: &str) -> Option<&BTreeMap<PublicationKey, Publication>> {
        self.users.get(&bare_aor(aor)).map(|u| &u.pubs)
    }

    pub(crate) fn domain(&self) -> &str {
        &self.domain
    }
}

fn change_set(aor: String, changed: BTreeSet<PublicationKey>) -> PresenceChange {
    let visible: BTreeSet<String> =
        changed.iter().filter(|k| !SELF_CONTAINERS.contains(&k.container)).map(|k| k.category.clone()).collect();
    PresenceChange { aor, self_changed: !changed.is_empty(), visible_categories: visible.into_iter().collect() }
}

/// The [MS-PRES] 2.2.2.10.4 fault body.
fn conflict_fault(conflicts: &[VersionConflict]) -> String {
    let mut out = String::from("<Fault><Faultcode>Client.BadCall.WrongDelta</Faultcode><details>");
    for c in conflicts {
        out.push_str(&format!(
            "<operation index=\"{}\" version=\"{}\" curVersion=\"{}\"></operation>",
            c.index, c.version, c.cur_version
        ));
    }
    out.push_str("</details></Fault>");
    out
}

fn parse_publish(aor: &str, body: &[u8]) -> Result<Vec<Incoming>, PublishError> {
    let doc = Document::parse(body).map_err(|e| PublishError::Malformed(e.to_string()))?;
    if doc.root.name != "publish" {
        return Err(PublishError::Malformed(format!("the root element is {:?}, not publish", doc.root.name)));
    }
    let pubs = doc.root.child("publications").ok_or_else(|| PublishError::Malformed("no publications".into()))?;
    if let Some(uri) = pubs.attr("uri")
        && bare_aor(uri) != aor
    {
        return Err(PublishError::NotYours { uri: uri.to_string() });
    }
    let list: Vec<_> = pubs.children_named("publication").collect();
    if list.len() > MAX_PUBLICATIONS_PER_REQUEST {
        return Err(PublishError::TooMany(MAX_PUBLICATIONS_PER_REQUEST));
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            let bad = |what: &str| PublishError::Malformed(format!("publication {}: {what}", i + 1));
            let number = |name: &str| -> Result<u32, PublishError> {
                p.attr(name)
                    .ok_or_else(|| bad(&format!("no {name}")))?
                    .trim()
                    .parse()
                    .map_err(|_| bad(&format!("{name} is not a number")))
            };
            let category = p.attr("categoryName").filter(|c| !c.is_empty()).ok_or_else(|| bad("no categoryName"))?;
            let expire_type = match p.attr("expireType") {
                None => ExpireType::Static,
                Some(t) => ExpireType::parse(t).ok_or_else(|| bad(&format!("unknown expireType {t:?}")))?,
            };
            let expires = match p.attr("expires") {
                None => None,
                Some(e) => Some(e.trim().parse::<u64>().map_err(|_| bad("expires is not a number"))?),
            };
            Ok(Incoming {
                key: PublicationKey {
                    category: category.to_string(),
                    instance: number("instance")?,
                    container: number("container")?,
                },
                version: p.attr("version").map_or(Ok(0), |_| number("version"))?,
                expire_type,
                expires,
                value: doc.inner_xml(p).trim().to_string(),
            })
        })
        .collect()
}

/// `2008-01-22T23:41:05.450`: publishTime as [MS-PRES] 4.4.3's example writes it (UTC, milliseconds, no zone).
pub fn format_publish_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A `category` element of a `categories` document.
pub(crate) fn category_xml(key: &PublicationKey, p: &Publication) -> String {
    format!(
        "<category name=\"{}\" instance=\"{}\" publishTime=\"{}\" container=\"{}\" version=\"{}\" expireType=\"{}\">{}</category>",
        escape(&key.category),
        key.instance,
        format_publish_time(p.publish_time),
        key.container,
        p.version,
        p.expire_type.as_str(),
        p.value
    )
}

#[cfg(test)]
mod tests;
