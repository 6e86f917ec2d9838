//! Typed views of the policy groups sfbkit reads. Each keeps all of its settings in `properties`; the typed
//! fields are only the settings we could evidence:
//! - `meetingPolicy`: `AllowIPAudio`, `AllowIPVideo`, `EnableDataCollaboration` ([MS-SIPREGE] 2.2.2.5.2);
//! - `ucPolicy`: `AllowCallForwarding`, `AllowSimultaneousRinging`, `EnableCallTransfer`, `EnableCallPark`,
//!   `EnableDelegation`, `EnableTeamCall`, `EnableBWPolicyOverride`, `EnableMaliciousCallTrace` and the policy
//!   name (Lync 2010 SDK "Parsing Unified Communications Policy" sample output; names lower-cased there, so
//!   only their letters are verified, not their case — lookups are case-insensitive anyway);
//! - `persistentChatConfiguration`: `EnablePersistentChat`, `DefaultPersistentChatPoolUri`,
//!   `PersistentChatPoolUris`, `PersistentChatWebManagerUriInt`/`Ext` ([MS-SIPREGE] 2.2.2.5.11; pidgin-sipe
//!   reads the first two).

use std::collections::BTreeMap;

use super::Invalid;

/// `meetingPolicy`: what the user may do in conferences.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MeetingPolicy {
    pub allow_ip_audio: Option<bool>,
    pub allow_ip_video: Option<bool>,
    pub enable_data_collaboration: Option<bool>,
    /// Every setting, names as on the wire.
    pub properties: BTreeMap<String, String>,
}

impl MeetingPolicy {
    pub(super) fn from_properties(props: &BTreeMap<String, String>, invalid: &mut Invalid<'_>) -> MeetingPolicy {
        MeetingPolicy {
            allow_ip_audio: invalid.boolean(props, "AllowIPAudio"),
            allow_ip_video: invalid.boolean(props, "AllowIPVideo"),
            enable_data_collaboration: invalid.boolean(props, "EnableDataCollaboration"),
            properties: props.clone(),
        }
    }
}

/// `ucPolicy`: how the user's Enterprise Voice calls may be handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UcPolicy {
    /// The policy's `name` setting (e.g. "Users in My Domain").
    pub name: Option<String>,
    pub allow_call_forwarding: Option<bool>,
    pub allow_simultaneous_ringing: Option<bool>,
    pub enable_call_transfer: Option<bool>,
    pub enable_call_park: Option<bool>,
    pub enable_delegation: Option<bool>,
    pub enable_team_call: Option<bool>,
    pub enable_bw_policy_override: Option<bool>,
    pub enable_malicious_call_trace: Option<bool>,
    /// Every setting, names as on the wire.
    pub properties: BTreeMap<String, String>,
}

impl UcPolicy {
    pub(super) fn from_properties(props: &BTreeMap<String, String>, invalid: &mut Invalid<'_>) -> UcPolicy {
        UcPolicy {
            name: Invalid::string(props, "name"),
            allow_call_forwarding: invalid.boolean(props, "AllowCallForwarding"),
            allow_simultaneous_ringing: invalid.boolean(props, "AllowSimultaneousRinging"),
            enable_call_transfer: invalid.boolean(props, "EnableCallTransfer"),
            enable_call_park: invalid.boolean(props, "EnableCallPark"),
            enable_delegation: invalid.boolean(props, "EnableDelegation"),
            enable_team_call: invalid.boolean(props, "EnableTeamCall"),
            enable_bw_policy_override: invalid.boolean(props, "EnableBWPolicyOverride"),
            enable_malicious_call_trace: invalid.boolean(props, "EnableMaliciousCallTrace"),
            properties: props.clone(),
        }
    }
}

/// `persistentChatConfiguration`: whether and where the user may use Persistent Chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PersistentChatConfiguration {
    /// `EnablePersistentChat` ("MUST be true or false").
    pub enabled: Option<bool>,
    /// `DefaultPersistentChatPoolUri`: the pool to connect to.
    pub default_pool_uri: Option<String>,
    /// `PersistentChatPoolUris`: every pool the client may connect to (whitespace-separated on the wire).
    pub pool_uris: Vec<String>,
    /// `PersistentChatWebManagerUriInt`: chat room management web application, from inside.
    pub web_manager_uri_internal: Option<String>,
    /// `PersistentChatWebManagerUriExt`: the same, from outside.
    pub web_manager_uri_external: Option<String>,
    /// Every setting, names as on the wire.
    pub properties: BTreeMap<String, String>,
}

impl PersistentChatConfiguration {
    pub(super) fn from_properties(
        props: &BTreeMap<String, String>,
        invalid: &mut Invalid<'_>,
    ) -> PersistentChatConfiguration {
        let s = |name| Invalid::string(props, name);
        PersistentChatConfiguration {
            enabled: invalid.boolean(props, "EnablePersistentChat"),
            default_pool_uri: s("DefaultPersistentChatPoolUri"),
            pool_uris: s("PersistentChatPoolUris")
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            web_manager_uri_internal: s("PersistentChatWebManagerUriInt"),
            web_manager_uri_external: s("PersistentChatWebManagerUriExt"),
            properties: props.clone(),
        }
    }
}
