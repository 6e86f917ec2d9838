//! The events of a signed-in endpoint, as one uniffi enum: what [`crate::Client::next_event`] returns and
//! what an [`crate::EventListener`] receives.

use crate::types::{Contact, ContactPresence, Group};

/// Why the registrar ended the registration ([MS-SIPREGE] deregistration NOTIFY).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DeregistrationReason {
    /// Removed by the registrar (signed in elsewhere, endpoint quota). Not retried.
    Unregistered,
    /// The user was disabled by an administrator (4141). Not retried.
    Rejected,
    /// The user moved to another pool: sign-in starts again from discovery.
    Deactivated,
    /// Register again at the registrar named.
    PreferredRegistrarChange { registrar: Option<String> },
    /// A reason this client does not know, as the server wrote it.
    Other { event: String },
}

impl From<sfbkit::DeregistrationReason> for DeregistrationReason {
    fn from(r: sfbkit::DeregistrationReason) -> DeregistrationReason {
        use sfbkit::DeregistrationReason as R;
        match r {
            R::Unregistered => DeregistrationReason::Unregistered,
            R::Rejected => DeregistrationReason::Rejected,
            R::Deactivated => DeregistrationReason::Deactivated,
            R::PreferredRegistrarChange { registrar } => DeregistrationReason::PreferredRegistrarChange { registrar },
            R::Other { event } => DeregistrationReason::Other { event },
        }
    }
}

/// Something that happened to a signed-in endpoint, in the order it happened.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum Event {
    /// Registered (after sign-in, and again after each reconnect).
    Registered {
        registrar: String,
        expires_s: u32,
    },
    /// The registration was refreshed before it expired.
    RegistrationRefreshed {
        expires_s: u32,
    },
    /// The registrar ended the registration.
    Deregistered {
        reason: DeregistrationReason,
        /// The `ms-diagnostics` code and reason, when the server sent one (4141 "User disabled").
        diagnostics_code: Option<u32>,
        diagnostics_reason: Option<String>,
        /// Whether the client is signing in again by itself.
        reconnecting: bool,
    },
    /// The connection to the registrar broke; the client reconnects.
    ConnectionLost {
        error: String,
    },
    /// A reconnect attempt is scheduled.
    Reconnecting {
        attempt: u32,
        delay_ms: u64,
        last_error: Option<String>,
    },
    /// Signed in again after a loss: registration, subscriptions and publications restored.
    ConnectionRestored {
        attempts: u32,
        downtime_ms: u64,
    },
    /// The TLS-DSK certificate was renewed in the background (and stored in the host's `SecretStore`).
    CertificateRenewed {
        pool: String,
        expires_unix: u64,
    },
    /// Renewing the TLS-DSK certificate failed; tried again later while the old one is valid.
    CertificateRenewalFailed {
        error_class: String,
        error: String,
    },
    /// The client gave up signing in again (the registrar refused in a way retrying cannot fix).
    SignInAbandoned {
        error_class: String,
        error: String,
        hint: String,
    },
    /// In-band provisioning arrived or changed.
    ProvisioningUpdated {
        location_profile: Option<String>,
    },
    /// The dial plan is loaded and `normalize` uses it.
    LocationProfileLoaded {
        name: String,
        rules: u32,
    },
    /// The server's dial plan could not be used.
    LocationProfileRefused {
        error: String,
    },
    ContactAdded {
        contact: Contact,
    },
    ContactRemoved {
        uri: String,
    },
    /// A contact's name, groups or subscription changed.
    ContactModified {
        before: Contact,
        after: Contact,
    },
    GroupAdded {
        group: Group,
    },
    GroupRemoved {
        id: u32,
        name: String,
    },
    GroupModified {
        before: Group,
        after: Group,
    },
    /// The contacts are kept in Exchange (Unified Contact Store): change them through Exchange.
    ContactsInExchange,
    /// A contact's presence changed.
    PresenceChanged {
        presence: ContactPresence,
    },
    /// A contact's note changed (`None`: cleared).
    NoteChanged {
        uri: String,
        note: Option<String>,
    },
    /// This endpoint's own presence was published.
    PresencePublished {
        categories: Vec<String>,
    },
    /// Events were read too slowly and this many were dropped (the stream stays ordered).
    Lagged {
        missed: u64,
    },
    /// Signed out: unpublished, unsubscribed, unregistered, connection closed.
    SignedOut,
}

impl From<sfbkit::Event> for Event {
    fn from(e: sfbkit::Event) -> Event {
        use sfbkit::Event as E;
        match e {
            E::Registered { registrar, expires_s } => Event::Registered { registrar, expires_s },
            E::RegistrationRefreshed { expires_s } => Event::RegistrationRefreshed { expires_s },
            E::Deregistered { reason, diagnostics_code, diagnostics_reason, reconnecting } => {
                Event::Deregistered { reason: reason.into(), diagnostics_code, diagnostics_reason, reconnecting }
            }
            E::ConnectionLost { error } => Event::ConnectionLost { error },
            E::Reconnecting { attempt, delay_ms, last_error } => Event::Reconnecting { attempt, delay_ms, last_error },
            E::ConnectionRestored { attempts, downtime_ms } => Event::ConnectionRestored { attempts, downtime_ms },
            E::CertificateRenewed { pool, expires_unix } => Event::CertificateRenewed { pool, expires_unix },
            E::CertificateRenewalFailed { class, error } => {
                Event::CertificateRenewalFailed { error_class: class, error }
            }
            E::SignInFailed { class, error, hint } => Event::SignInAbandoned { error_class: class, error, hint },
            E::ProvisioningUpdated { location_profile } => Event::ProvisioningUpdated { location_profile },
            E::LocationProfileLoaded { name, rules } => {
                Event::LocationProfileLoaded { name, rules: u32::try_from(rules).unwrap_or(u32::MAX) }
            }
            E::LocationProfileRefused { error } => Event::LocationProfileRefused { error },
            E::ContactAdded { contact } => Event::ContactAdded { contact: (&contact).into() },
            E::ContactRemoved { uri } => Event::ContactRemoved { uri },
            E::ContactModified { before, after } => {
                Event::ContactModified { before: (&before).into(), after: (&after).into() }
            }
            E::GroupAdded { group } => Event::GroupAdded { group: (&group).into() },
            E::GroupRemoved { id, name } => Event::GroupRemoved { id, name },
            E::GroupModified { before, after } => {
                Event::GroupModified { before: (&before).into(), after: (&after).into() }
            }
            E::ContactsInExchange => Event::ContactsInExchange,
            E::PresenceChanged { presence } => Event::PresenceChanged { presence: (&presence).into() },
            E::NoteChanged { uri, note } => Event::NoteChanged { uri, note },
            E::PresencePublished { categories } => Event::PresencePublished { categories },
            E::Lagged { missed } => Event::Lagged { missed },
            E::SignedOut => Event::SignedOut,
        }
    }
}
