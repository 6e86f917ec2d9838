//! The server's aggregation script, reduced to what a lab needs: one `aggregateState` per audience, computed
//! from the endpoint states a user's devices publish into the aggregation containers (Lync 2013 SDK
//! "Aggregation containers": container 2 feeds 100, 200 and 400; container 3 feeds 300).
//!
//! The rule, per input container:
//! 1. No `machineState` in it (no signed-in device publishes one): **Offline**, availability 18500 (the value
//!    clients publish for offline, CLIENT-NOTES.md §8.4). A `userState` alone does not make a user online: in
//!    Lync, a user who set "Busy" and signed out shows Offline.
//! 2. Else a `userState` (the user chose a status: `manual="true"`, Lync SDK "Aggregation containers" first
//!    table) **wins over every machine state**; when several, the latest published. Availability 0 means "unset"
//!    and is ignored.
//! 3. Else the **most active device**: the machine state with the lowest availability (OCS 2007 "The Aggregation
//!    Script": devices are totally ordered Active < Inactive < Unknown < Away < Off, which the availability ranges
//!    follow). If that device is available or idle (< 6000) and a `phoneState` or `calendarState` says more (on
//!    the phone, in a meeting), the highest of those wins.
//!
//! For container 300 (Workgroup, from container 3), Do Not Disturb (9000–11999) is shown as busy with
//! `urgent-interruptions-only` (REFERENCE.md §8.1: "DND downgraded to busy, urgent interruptions only").
//!
//! The result is published by the server as `state`, instance [`AGGREGATE_INSTANCE`], `expireType="user"`, into
//! containers 2, 100, 200, 400 (and 300), as in [MS-PRES] 4.4.3's roaming-self example (instance 1, container 2).
//! Each publication's version goes up only when its value changes.

use std::collections::{BTreeMap, BTreeSet};

use sfbkit::xml::{Document, Element, escape};
use time::OffsetDateTime;

use super::{ExpireType, Publication, PublicationKey, STATE_NS};

/// The instance of the server's `aggregateState` publications.
pub const AGGREGATE_INSTANCE: u32 = 1;
/// Offline.
pub const OFFLINE: u32 = 18500;
/// Containers fed by container 2.
pub const FROM_CONTAINER_2: [u32; 4] = [2, 100, 200, 400];
/// Containers fed by container 3.
pub const FROM_CONTAINER_3: [u32; 1] = [300];

/// An aggregated state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub availability: u32,
    /// The winning state's activity (token and/or custom text), rebuilt in the state namespace.
    pub activity: Option<Activity>,
    /// The winner was a user state.
    pub manual: bool,
}

/// `activity` of a state ([MS-PRES] `activityType`): a token and/or custom text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Activity {
    pub token: Option<String>,
    pub custom: Option<(Option<String>, String)>,
}

/// One endpoint state read from a container.
struct Input {
    kind: String,
    availability: u32,
    activity: Option<Activity>,
    publish_time: OffsetDateTime,
}

/// The aggregate of the states published into `container`.
pub fn aggregate(pubs: &BTreeMap<PublicationKey, Publication>, container: u32) -> Aggregate {
    let inputs: Vec<Input> = pubs
        .iter()
        .filter(|(k, p)| k.category == "state" && k.container == container && p.epid.is_some())
        .filter_map(|(_, p)| read_state(p))
        .collect();
    let machines: Vec<&Input> = inputs.iter().filter(|i| i.kind == "machineState").collect();
    if machines.is_empty() {
        return Aggregate { availability: OFFLINE, activity: None, manual: false };
    }
    if let Some(user) =
        inputs.iter().filter(|i| i.kind == "userState" && i.availability > 0).max_by_key(|i| i.publish_time)
    {
        return Aggregate { availability: user.availability, activity: user.activity.clone(), manual: true };
    }
    let Some(best) = machines.iter().min_by_key(|i| i.availability) else {
        return Aggregate { availability: OFFLINE, activity: None, manual: false };
    };
    let mut result = Aggregate { availability: best.availability, activity: best.activity.clone(), manual: false };
    if result.availability < 6000
        && let Some(busy) = inputs
            .iter()
            .filter(|i| matches!(i.kind.as_str(), "phoneState" | "calendarState"))
            .max_by_key(|i| i.availability)
        && busy.availability > result.availability
    {
        result = Aggregate { availability: busy.availability, activity: busy.activity.clone(), manual: false };
    }
    result
}

fn read_state(p: &Publication) -> Option<Input> {
    let doc = Document::parse(p.value.as_bytes()).ok()?;
    if doc.root.name != "state" {
        return None;
    }
    let kind = doc.root.attr("type")?.to_string();
    let availability = doc.root.child_text("availability").and_then(|a| a.parse().ok()).unwrap_or(0);
    let activity = doc.root.child("activity").map(read_activity);
    Some(Input { kind, availability, activity, publish_time: p.publish_time })
}

fn read_activity(el: &Element) -> Activity {
    let custom = el.child("custom").map(|c| (c.attr("LCID").map(str::to_string), c.text.trim().to_string()));
    Activity { token: el.attr("token").map(str::to_string), custom }
}

/// The `state` value of an aggregate.
pub fn state_xml(a: &Aggregate) -> String {
    let mut out = format!(
        "<state xmlns=\"{STATE_NS}\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"aggregateState\" manual=\"{}\"><availability>{}</availability>",
        a.manual, a.availability
    );
    if let Some(act) = &a.activity {
        match &act.token {
            Some(t) => out.push_str(&format!("<activity token=\"{}\">", escape(t))),
            None => out.push_str("<activity>"),
        }
        if let Some((lcid, text)) = &act.custom {
            match lcid {
                Some(l) => out.push_str(&format!("<custom LCID=\"{}\">{}</custom>", escape(l), escape(text))),
                None => out.push_str(&format!("<custom>{}</custom>", escape(text))),
            }
        }
        out.push_str("</activity>");
    }
    out.push_str("</state>");
    out
}

/// The workgroup's view: DND becomes busy with urgent interruptions only.
fn for_workgroup(mut a: Aggregate) -> Aggregate {
    if (9000..12000).contains(&a.availability) {
        a.availability = 6500;
        a.activity = Some(Activity { token: Some("urgent-interruptions-only".into()), custom: None });
    }
    a
}

/// Recomputes the server's aggregate publications; returns the keys whose value changed.
pub fn reaggregate(pubs: &mut BTreeMap<PublicationKey, Publication>, now: OffsetDateTime) -> BTreeSet<PublicationKey> {
    let main = aggregate(pubs, 2);
    let workgroup = for_workgroup(aggregate(pubs, 3));
    let targets = FROM_CONTAINER_2.iter().map(|c| (*c, &main)).chain(FROM_CONTAINER_3.iter().map(|c| (*c, &workgroup)));
    let wanted: Vec<(u32, String)> = targets.map(|(c, a)| (c, state_xml(a))).collect();
    let mut changed = BTreeSet::new();
    for (container, value) in wanted {
        let key = PublicationKey { category: "state".into(), instance: AGGREGATE_INSTANCE, container };
        let version = match pubs.get(&key) {
            Some(p) if p.value == value => continue,
            Some(p) => p.version.wrapping_add(1),
            None => 1,
        };
        let publication = Publication {
            version,
            expire_type: ExpireType::User,
            expires_at: None,
            epid: None,
            value,
            publish_time: now,
        };
        pubs.insert(key.clone(), publication);
        changed.insert(key);
    }
    changed
}
