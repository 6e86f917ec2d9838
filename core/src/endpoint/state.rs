//! What a signed-in endpoint keeps across reconnects: the contact list, contacts' presence, the
//! presence this endpoint wants published, the versions of its publications, provisioning and the
//! dial plan, and contact changes the server has not confirmed yet. After a dropped connection
//! the next [`super::Endpoint`] starts from it, so nothing published and no pending change is lost.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Command, CommandId};
use crate::contacts::ContactList;
use crate::dialplan::LocationProfile;
use crate::presence::{Availability, ContactPresence, SelfData, VersionTable};
use crate::provisioning::Provisioning;

/// The presence this endpoint publishes (and republishes after a reconnect).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredPresence {
    /// Set by the user (a `userState`, `manual="true"`); `None`: only the machine state is published.
    pub availability: Option<Availability>,
    pub activity: Option<String>,
    /// The personal note; `None`: no note published.
    pub note: Option<String>,
}

/// Durable endpoint state (see the module docs).
#[derive(Debug, Clone, Default)]
///
/// The documents the application's views also show (contacts, presence, provisioning, self data) are shared with
/// the client's snapshot, not copied into it: a change copies the one it changes ([`Arc::make_mut`]), so an idle
/// endpoint holds each once.
pub(crate) struct EndpointState {
    pub contacts: Arc<ContactList>,
    pub presence: Arc<BTreeMap<String, ContactPresence>>,
    /// People whose presence the application asked to watch without adding them to the contact list
    /// ([`Command::WatchPresence`]): in the same batched subscription as the contacts, kept across reconnects.
    pub watched: Vec<String>,
    pub versions: VersionTable,
    pub desired: DesiredPresence,
    pub provisioning: Option<Arc<Provisioning>>,
    /// The user's own data from roaming-self: publications, containers (who sees what) and
    /// watchers (`subscribers`).
    pub self_data: Option<Arc<SelfData>>,
    /// Shared, not copied: its compiled rules are immutable.
    pub location_profile: Option<Arc<LocationProfile>>,
    /// Contact-list commands sent but not confirmed, or received while disconnected: sent again on
    /// the next connection, in order.
    pub queued: Vec<(CommandId, Command)>,
}
