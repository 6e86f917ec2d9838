//! What the application asks of a signed-in endpoint: publish presence and notes, change the
//! contact list, sign out. Each command completes with the server's answer.
//!
//! Presence goes out as a `SERVICE` with a category publication ([MS-PRES], REFERENCE.md §8.1). A
//! `409` with `Client.BadCall.WrongDelta` means another endpoint of the user published in between:
//! we take the server's current versions from the fault and publish again (up to
//! [`MAX_PUBLISH_ATTEMPTS`]). Contact list changes go out as SOAP-over-SIP `SERVICE` requests
//! (CLIENT-NOTES.md §9.2); the server confirms with 200 and a `contactDelta` NOTIFY, which is what
//! updates the local list and raises the contact events.

use std::time::Instant;

use super::{CommandId, Endpoint, Pending};
use crate::contacts;
use crate::presence::{self, Availability, Instances, NoteKind, Publication};
use crate::sip::{Message, Method};

/// How often a publication is retried after version conflicts before the command fails.
pub const MAX_PUBLISH_ATTEMPTS: u8 = 3;

/// Which publication a SERVICE carries, so a retry after a version conflict is rebuilt from the
/// state the user wants *now* (a newer command may have changed it meanwhile), not resent as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublishWhat {
    /// Device, machine state and what the user chose (after sign-in or a reconnect).
    Initial,
    UserState,
    Note,
    /// Sign-out: this endpoint's publications deleted.
    Unpublish,
}

/// A request to a signed-in endpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Publish a manual state (a `userState`: what the user chose) with an optional activity token.
    SetPresence {
        availability: Availability,
        activity: Option<String>,
    },
    /// Withdraw the manual state: presence follows the machine state again.
    ClearPresence,
    /// Publish the personal note; `None` or empty deletes it.
    SetNote {
        text: Option<String>,
    },
    AddContact {
        uri: String,
        name: String,
        group_ids: Vec<u32>,
    },
    RemoveContact {
        uri: String,
    },
    /// Rename and/or move a contact (`group_ids` replaces its groups).
    UpdateContact {
        uri: String,
        name: Option<String>,
        group_ids: Option<Vec<u32>>,
    },
    AddGroup {
        name: String,
    },
    RenameGroup {
        id: u32,
        name: String,
    },
    RemoveGroup {
        id: u32,
    },
    /// Watch someone's presence without adding them to the contact list (what the Microsoft client does for a
    /// person found by search; `Test-CsPresence`'s subscriber): they join the batched presence subscription.
    WatchPresence {
        uri: String,
    },
    /// Stop watching someone [`Command::WatchPresence`] added (a contact stays watched as a contact).
    UnwatchPresence {
        uri: String,
    },
    /// A CRLF keep-alive ping now; completes with the round-trip time when the pong arrives.
    KeepAlive,
    SignOut,
}

impl Command {
    /// Whether this command changes the contact list (and is sent again after a reconnect until
    /// the server confirmed it).
    pub fn is_contact_change(&self) -> bool {
        matches!(
            self,
            Command::AddContact { .. }
                | Command::RemoveContact { .. }
                | Command::UpdateContact { .. }
                | Command::AddGroup { .. }
                | Command::RenameGroup { .. }
                | Command::RemoveGroup { .. }
        )
    }
}

/// What a completed command produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandOutput {
    Done,
    /// The registrar answered a keep-alive ping after this many microseconds.
    Pong {
        rtt_us: u64,
    },
    /// The id the server gave a new group.
    GroupAdded {
        id: u32,
    },
}

/// Why a command failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandError {
    #[error("not signed in: sign in first")]
    NotSignedIn,
    #[error("the server refused the request: {code} {reason}{}", diagnostics.as_ref().map(|d| format!(" (ms-diagnostics {d})")).unwrap_or_default())]
    Refused { code: u16, reason: String, diagnostics: Option<String> },
    #[error("the server refused the contact list change: {0}")]
    ContactListFault(String),
    #[error(
        "this user's contacts are kept in Exchange (Unified Contact Store): change them through Exchange Web Services or Outlook"
    )]
    ContactsInExchange,
    #[error("no answer from the server; the change is sent again after the connection recovers")]
    TimedOut,
    #[error("publication conflicts persisted after {0} attempts: another endpoint keeps publishing; try again")]
    PublicationConflict(u8),
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl CommandError {
    /// A short, stable class for programs and bindings.
    pub fn class(&self) -> &'static str {
        match self {
            CommandError::NotSignedIn => "not-signed-in",
            CommandError::Refused { .. } => "refused",
            CommandError::ContactListFault(_) => "contact-list-fault",
            CommandError::ContactsInExchange => "contacts-in-exchange",
            CommandError::TimedOut => "timeout",
            CommandError::PublicationConflict(_) => "publication-conflict",
            CommandError::Invalid(_) => "invalid-request",
        }
    }

    /// What a person can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            CommandError::NotSignedIn => "sign in first (or again, after the client signed out or gave up)",
            CommandError::Refused { .. } => {
                "the status and ms-diagnostics say why; check the user's policies and the request's arguments"
            }
            CommandError::ContactListFault(_) => "the list changed elsewhere: wait for the contact events, then retry",
            CommandError::ContactsInExchange => "change the contacts through Exchange Web Services or Outlook",
            CommandError::TimedOut => "the change is sent again once the connection recovers (ConnectionRestored)",
            CommandError::PublicationConflict(_) => "another endpoint of this user keeps publishing: try again",
            CommandError::Invalid(_) => "check the arguments: the contact or group named must exist",
        }
    }

    /// The SIP status code of a refusal.
    pub fn status_code(&self) -> Option<u16> {
        match self {
            CommandError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

impl Endpoint {
    /// Takes an application command; its completion comes out of [`Endpoint::poll_completion`].
    pub fn command(&mut self, id: CommandId, command: Command, now: Instant) {
        if self.closing.is_some() || self.closed.is_some() {
            if command.is_contact_change() {
                self.state.queued.push((id, command));
            } else {
                self.completions.push_back((id, Err(CommandError::NotSignedIn)));
            }
            return;
        }
        match command {
            Command::SignOut => {
                self.sign_out_cmd = Some(id);
                self.begin_sign_out(now);
            }
            Command::KeepAlive => {
                if let Some((old, _)) = self.ping_cmd.replace((id, now)) {
                    self.completions.push_back((old, Err(CommandError::Invalid("superseded by a newer ping".into()))));
                }
                self.outbox.push_back(b"\r\n\r\n".to_vec());
                self.last_sent = now;
                self.pong_deadline = Some(now + super::PONG_TIMEOUT);
            }
            Command::SetPresence { availability, activity } => {
                if availability.publish_value().is_none() {
                    let why = format!(
                        "{availability:?} is a state the server derives; publish Available, Busy, DoNotDisturb, BeRightBack, Away or Offline"
                    );
                    self.completions.push_back((id, Err(CommandError::Invalid(why))));
                    return;
                }
                self.state.desired.availability = Some(availability);
                self.state.desired.activity = activity;
                self.publish(PublishWhat::UserState, Some(id), 1, now);
            }
            Command::ClearPresence => {
                self.state.desired.availability = None;
                self.state.desired.activity = None;
                self.publish(PublishWhat::UserState, Some(id), 1, now);
            }
            Command::SetNote { text } => {
                self.state.desired.note = text.filter(|t| !t.trim().is_empty());
                self.publish(PublishWhat::Note, Some(id), 1, now);
            }
            Command::WatchPresence { uri } => {
                if !self.state.watched.iter().any(|w| w.eq_ignore_ascii_case(&uri)) {
                    self.state.watched.push(uri);
                }
                self.update_presence_subscription(now);
                self.completions.push_back((id, Ok(CommandOutput::Done)));
            }
            Command::UnwatchPresence { uri } => {
                self.state.watched.retain(|w| !w.eq_ignore_ascii_case(&uri));
                self.update_presence_subscription(now);
                self.completions.push_back((id, Ok(CommandOutput::Done)));
            }
            other => self.contact_change(id, other, now),
        }
    }

    /// The userState publications for what the user chose (deletions when nothing is chosen).
    fn user_state_publications(&self) -> Vec<Publication> {
        let instances = Instances::from_epid(&self.cfg.epid);
        let versions = &self.state.versions;
        match self.state.desired.availability {
            Some(a) => presence::user_state(&instances, a, self.state.desired.activity.as_deref(), versions)
                .unwrap_or_default(),
            None => presence::user_state(&instances, Availability::Available, None, versions)
                .unwrap_or_default()
                .into_iter()
                .map(|p| Publication { value_xml: None, expires: Some(0), ..p })
                .collect(),
        }
    }

    /// The first publication after sign-in (or a reconnect).
    pub(super) fn publish_desired(&mut self, command: Option<CommandId>, now: Instant) {
        self.publish(PublishWhat::Initial, command, 1, now);
    }

    /// Sign-out: delete this endpoint's device and machine state, and the manual state it set.
    pub(super) fn unpublish_endpoint(&mut self, now: Instant) {
        self.publish(PublishWhat::Unpublish, None, MAX_PUBLISH_ATTEMPTS, now);
    }

    /// The publications for `what`, from the desired state and the current versions.
    fn publications(&self, what: PublishWhat) -> Vec<Publication> {
        let instances = Instances::from_epid(&self.cfg.epid);
        let aor = self.cfg.aor.as_str().to_string();
        let versions = &self.state.versions;
        let note = || {
            let text = self.state.desired.note.as_deref().unwrap_or("");
            presence::note(text, NoteKind::Personal, Instances::NOTE, versions)
        };
        match what {
            PublishWhat::UserState => self.user_state_publications(),
            PublishWhat::Note => note(),
            // CLIENT-NOTES §8.3: "Initial publication = device + machineState + userState".
            PublishWhat::Initial | PublishWhat::Unpublish => {
                let mut pubs = vec![presence::device(&self.cfg.epid, &aor, "00:00:00Z", "sfbkit", versions)];
                let online = Availability::Available.publish_value().unwrap_or(3500);
                pubs.extend(presence::machine_state(&instances, online, versions));
                if self.state.desired.availability.is_some() {
                    pubs.extend(self.user_state_publications());
                }
                if what == PublishWhat::Unpublish {
                    return pubs.into_iter().map(|p| Publication { value_xml: None, expires: Some(0), ..p }).collect();
                }
                if self.state.desired.note.is_some() {
                    pubs.extend(note());
                }
                pubs
            }
        }
    }

    fn publish(&mut self, what: PublishWhat, command: Option<CommandId>, attempt: u8, now: Instant) {
        let publications = self.publications(what);
        if publications.is_empty() {
            if let Some(id) = command {
                self.completions.push_back((id, Ok(CommandOutput::Done)));
            }
            return;
        }
        let aor = self.cfg.aor.as_str().to_string();
        let body = presence::publish_body(&aor, &publications);
        let req = self.self_request(Method::Service).with_body(presence::CONTENT_TYPE_PUBLISH, body);
        self.send_request(req, Pending::Publish { attempt, command, what, publications }, now);
    }

    pub(super) fn on_publish_response(
        &mut self,
        attempt: u8,
        command: Option<CommandId>,
        what: PublishWhat,
        publications: Vec<Publication>,
        resp: &Message,
        now: Instant,
    ) {
        let code = resp.status().unwrap_or(0);
        match code {
            200..=299 => {
                // The server now holds version + 1 of each; roaming-self confirms (and corrects) it.
                for p in &publications {
                    self.state.versions.set(&p.category, p.instance, p.container, p.version.wrapping_add(1));
                }
                if resp.content_type().is_some_and(|c| c.starts_with(presence::CONTENT_TYPE_ROAMING_SELF))
                    && let Ok(data) = presence::parse_roaming_self(&resp.body)
                {
                    self.state.versions.record_self(&data);
                }
                let mut categories: Vec<String> = publications.iter().map(|p| p.category.clone()).collect();
                categories.dedup();
                self.events.push_back(crate::events::Event::PresencePublished { categories });
                if let Some(id) = command {
                    self.completions.push_back((id, Ok(CommandOutput::Done)));
                }
            }
            409 if attempt < MAX_PUBLISH_ATTEMPTS => {
                let adopted = presence::parse_publish_fault(&resp.body)
                    .map_err(|e| e.to_string())
                    .and_then(|c| self.state.versions.apply_conflicts(&publications, &c).map_err(|e| e.to_string()));
                match adopted {
                    Ok(n) => {
                        tracing::info!(conflicts = n, attempt, "publication versions were stale; publishing again");
                        // Rebuilt, not resent: a newer command may have changed what to publish.
                        self.publish(what, command, attempt + 1, now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable 409 fault");
                        if let Some(id) = command {
                            self.completions.push_back((id, Err(refused(resp))));
                        }
                    }
                }
            }
            409 => {
                if let Some(id) = command {
                    self.completions.push_back((id, Err(CommandError::PublicationConflict(attempt))));
                }
            }
            _ => {
                tracing::warn!(code, "a publication was refused");
                if let Some(id) = command {
                    self.completions.push_back((id, Err(refused(resp))));
                }
            }
        }
    }

    fn contact_change(&mut self, id: CommandId, command: Command, now: Instant) {
        // The deltaNum is known once this connection's contact list arrived: until then the change
        // waits with those queued while disconnected (sent by `send_queued`).
        if !self.contacts_seen && self.subscriptions.iter().any(|s| s.kind == super::SubKind::Contacts) {
            self.state.queued.push((id, command));
            return;
        }
        if self.state.contacts.is_ucs_migrated() {
            self.completions.push_back((id, Err(CommandError::ContactsInExchange)));
            return;
        }
        // deltaNum = the server's current one, counted up for changes still on their way
        // (ContactList::request_delta_num; pidgin-sipe `(*deltanum)++`).
        let delta = self.state.contacts.request_delta_num().max(self.next_delta_num);
        let body = match &command {
            Command::AddContact { uri, name, group_ids } => {
                let contact = contacts::Contact {
                    uri: uri.clone(),
                    name: name.clone(),
                    groups: group_ids.clone(),
                    subscribed: true,
                    external_uri: None,
                    extension: None,
                };
                contacts::set_contact(delta, &contact)
            }
            Command::UpdateContact { uri, name, group_ids } => {
                let Some(current) = self.state.contacts.contact(uri).cloned() else {
                    let why = format!("{uri} is not in the contact list");
                    self.completions.push_back((id, Err(CommandError::Invalid(why))));
                    return;
                };
                let contact = contacts::Contact {
                    name: name.clone().unwrap_or(current.name.clone()),
                    groups: group_ids.clone().unwrap_or(current.groups.clone()),
                    ..current
                };
                contacts::set_contact(delta, &contact)
            }
            Command::RemoveContact { uri } => contacts::delete_contact(delta, uri),
            Command::AddGroup { name } => contacts::add_group(delta, name),
            Command::RenameGroup { id: gid, name } => contacts::modify_group(delta, *gid, name),
            Command::RemoveGroup { id: gid } => contacts::delete_group(delta, *gid),
            _ => return,
        };
        let req = self.self_request(Method::Service).with_body(contacts::soap::CONTENT_TYPE, body);
        self.next_delta_num = delta.wrapping_add(1);
        self.send_request(req, Pending::Contacts { command: id, request: command }, now);
    }

    pub(super) fn on_contacts_response(&mut self, id: CommandId, _request: Command, resp: &Message, _now: Instant) {
        let code = resp.status().unwrap_or(0);
        let result = match code {
            200..=299 => match contacts::parse_reply(&resp.body) {
                Ok(reply) => Ok(match reply.group_id {
                    Some(id) => CommandOutput::GroupAdded { id },
                    None => CommandOutput::Done,
                }),
                Err(e) => Err(CommandError::ContactListFault(e.to_string())),
            },
            _ => {
                // The server did not count this change: number the next from its list again.
                self.next_delta_num = 0;
                Err(refused(resp))
            }
        };
        self.completions.push_back((id, result));
    }
}

pub(super) fn refused(resp: &Message) -> CommandError {
    CommandError::Refused {
        code: resp.status().unwrap_or(0),
        reason: resp.reason().unwrap_or_default().chars().take(200).collect(),
        diagnostics: resp
            .header("ms-diagnostics")
            .or_else(|| resp.header("ms-diagnostics-public"))
            .map(|d| d.chars().take(200).collect()),
    }
}
