//! In-band provisioning ("vnd-microsoft-provisioning-v2", [MS-SIPREGE] 2.2.2.4 / 2.2.2.5, REFERENCE.md §5,
//! CLIENT-NOTES.md §7.2): the one-shot `SUBSCRIBE` (To = From = self, `Expires: 0`) a client sends right after
//! registering, and the `provisionGroupList` the server answers with, piggy-backed on the 200 OK
//! (`ms-piggyback-first-notify`). Sans-I/O: [`request_body`] builds the body, [`parse`] reads the answer.
//!
//! Terms ([MS-SIPREGE] 2.2.2.4/2.2.2.5):
//! - *provisioningGroup* — one named set of configuration data the client asks for (request,
//!   namespace [`REQUEST_NAMESPACE`]).
//! - *provisionGroup* — the server's answer for one group (response, namespace [`NOTIFICATION_NAMESPACE`]).
//!   Its data comes in one of three shapes, all read by [`parse`]:
//!   - `ServerConfiguration`: one child element per setting, `<focusFactoryUri>sip:…</focusFactoryUri>`
//!     (pidgin-sipe `sipe_process_provisioning_v2` reads `focusFactoryUri`, `mrasUri`, `dlxInternalUrl`,
//!     `absInternalServerUrl`, `botSipUriForTestCall` as child elements of the group);
//!   - `meetingPolicy`, `ucPolicy`: `<instance><property name="AllowIPAudio">true</property>…</instance>`
//!     ([MS-SIPREGE] 2.2.2.5.2 and 2.2.2.5.3 data models);
//!   - every later group (`endpointConfiguration`, `persistentChatConfiguration`, `presencePolicyV2`, …):
//!     `<propertyEntryList><property name="…">…</property></propertyEntryList>` ([MS-SIPREGE] 2.2.2.5.6,
//!     2.2.2.5.9, 2.2.2.5.11 and the 4.2.2 example response; pidgin-sipe reads
//!     `propertyEntryList/property` of `persistentChatConfiguration`).
//!
//! Setting names are matched case-insensitively: the UCMA `ProvisioningData` API lower-cases them
//! (Lync 2013 SDK, "Parsing server configuration": `uclocationprofile`, `ucminaudioport`, …) while the wire
//! uses camelCase (`focusFactoryUri` in pidgin-sipe). Every group is also kept as raw XML
//! ([`RawGroup::xml`]) so nothing the server sends is lost, modelled or not.

mod policies;
mod server_config;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::xml::{Document, Element, XmlError, escape};

pub use policies::{MeetingPolicy, PersistentChatConfiguration, UcPolicy};
pub use server_config::{AvEncryption, MediaPorts, PortRange, ServerConfiguration};

/// `Event` header value of the provisioning SUBSCRIBE (REFERENCE.md §5, CLIENT-NOTES.md §7.1).
pub const EVENT: &str = "vnd-microsoft-provisioning-v2";
/// `Accept` header value of the provisioning SUBSCRIBE.
pub const ACCEPT: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";
/// `Content-Type` of the request body (and of the server's answer).
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";
/// `Supported` option tags Lync sends with the provisioning SUBSCRIBE (REFERENCE.md §5).
pub const SUPPORTED: &[&str] = &["com.microsoft.autoextend", "ms-benotify", "ms-piggyback-first-notify"];
/// `Proxy-Require` value: the server may answer later changes with BENOTIFY (CLIENT-NOTES.md §7.1).
pub const PROXY_REQUIRE: &str = "ms-benotify";
/// `Expires` of the SUBSCRIBE: 0, a one-shot query answered in the 200 OK (CLIENT-NOTES.md §7.2).
pub const EXPIRES: u32 = 0;
/// Namespace of the request document (`provisioningGroupList`).
pub const REQUEST_NAMESPACE: &str = "http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist";
/// Namespace of the answer document (`provisionGroupList`).
pub const NOTIFICATION_NAMESPACE: &str = "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification";

/// The groups requested by default: every group name [MS-SIPREGE] defines. `ServerConfiguration`,
/// `meetingPolicy`, `ucPolicy`, `publicationGrammar`, `userSetting`, `endpointConfiguration`, `locationPolicy`,
/// `mediaConfiguration`, `presencePolicyV2`, `privacyPublicationGrammar`, `publicProviders` are listed in
/// 2.2.2.5 ("valid values for the name attribute"); `persistentChatConfiguration` has its own data model in
/// 2.2.2.5.11 and is requested by pidgin-sipe. A server answers only the groups it knows, so asking for one
/// it does not is harmless.
pub const DEFAULT_GROUPS: &[&str] = &[
    "ServerConfiguration",
    "meetingPolicy",
    "ucPolicy",
    "persistentChatConfiguration",
    "publicationGrammar",
    "privacyPublicationGrammar",
    "userSetting",
    "endpointConfiguration",
    "mediaConfiguration",
    "locationPolicy",
    "presencePolicyV2",
    "publicProviders",
];

/// Group names seen in Microsoft SDK material but whose exact wire spelling is **unverified**: UCMA exposes
/// `LocationProfilesConfiguration` and `MobilityPolicyConfiguration` on `ProvisioningData`, which suggests
/// groups named like these; no capture or spec paragraph with the strings was found. Not in
/// [`DEFAULT_GROUPS`]; callers may add them to [`request_body`] to experiment.
pub const UNVERIFIED_GROUPS: &[&str] = &["locationProfileDefinition", "mobilityPolicy"];

/// Builds the `provisioningGroupList` body asking for `groups` ([MS-SIPREGE] 2.2.2.4).
pub fn request_body(groups: &[&str]) -> String {
    let mut body = format!("<provisioningGroupList xmlns=\"{REQUEST_NAMESPACE}\">");
    for group in groups {
        body.push_str(&format!("<provisioningGroup name=\"{}\"/>", escape(group)));
    }
    body.push_str("</provisioningGroupList>");
    body
}

/// Why a provisioning answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisioningError {
    #[error("the provisioning body is not readable XML ({0}); the server or a proxy sent something else")]
    Xml(#[from] XmlError),
    #[error(
        "the provisioning body's root is <{found}>, expected <provisionGroupList>; check that the answer is to \
         the vnd-microsoft-provisioning-v2 SUBSCRIBE"
    )]
    UnexpectedRoot { found: String },
    #[error("provisionGroup number {index} has no name attribute ([MS-SIPREGE] 2.2.2.4 makes it required)")]
    GroupWithoutName { index: usize },
}

/// A setting whose value does not have the form its typed field needs. The value stays in the group's
/// `properties`; the typed field is left `None`. A bad value never fails the whole answer, because one odd
/// setting must not stop sign-in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InvalidValue {
    pub group: String,
    pub name: String,
    pub value: String,
    /// What was expected, e.g. "a port number (0-65535)".
    pub expected: &'static str,
}

/// One `provisionGroup` exactly as received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RawGroup {
    /// The `name` attribute (`ServerConfiguration`, `endpointConfiguration`, …).
    pub name: String,
    /// The whole `<provisionGroup …>…</provisionGroup>` element as it appears in the body.
    pub xml: String,
    /// Every name/value pair found in the group, whatever its shape (see the module doc), names as on the
    /// wire. The first occurrence of a name wins.
    pub properties: BTreeMap<String, String>,
}

impl RawGroup {
    /// The value of a setting, its name matched case-insensitively.
    pub fn property(&self, name: &str) -> Option<&str> {
        lookup(&self.properties, name)
    }
}

/// What the server provisioned: the typed view of the groups sfbkit uses, and every group raw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provisioning {
    /// `None` if the answer has no `ServerConfiguration` group (it was not asked for, or the server has none).
    pub server: Option<ServerConfiguration>,
    pub meeting_policy: Option<MeetingPolicy>,
    pub uc_policy: Option<UcPolicy>,
    pub persistent_chat: Option<PersistentChatConfiguration>,
    /// Every `provisionGroup`, in document order, including the ones modelled above.
    pub groups: Vec<RawGroup>,
    /// Settings whose value could not be read into its typed field.
    pub invalid_values: Vec<InvalidValue>,
}

impl Provisioning {
    /// The user's location profile (dial plan) name, `ServerConfiguration`'s `ucLocationProfile`; the rules
    /// themselves are fetched separately (REFERENCE.md §6).
    pub fn location_profile_name(&self) -> Option<&str> {
        self.server.as_ref().and_then(|s| s.location_profile.as_deref())
    }

    /// The first group with this name (case-insensitive), raw.
    pub fn group(&self, name: &str) -> Option<&RawGroup> {
        self.groups.iter().find(|g| g.name.eq_ignore_ascii_case(name))
    }
}

/// Reads a `provisionGroupList` (the body of the 200 OK or NOTIFY/BENOTIFY to the provisioning SUBSCRIBE).
pub fn parse(body: &[u8]) -> Result<Provisioning, ProvisioningError> {
    let doc = Document::parse(body)?;
    if doc.root.name != "provisionGroupList" {
        return Err(ProvisioningError::UnexpectedRoot { found: doc.root.name.clone() });
    }
    let mut out = Provisioning {
        server: None,
        meeting_policy: None,
        uc_policy: None,
        persistent_chat: None,
        groups: Vec::new(),
        invalid_values: Vec::new(),
    };
    for (index, el) in doc.root.children_named("provisionGroup").enumerate() {
        let name = el.attr("name").ok_or(ProvisioningError::GroupWithoutName { index })?.to_owned();
        let group = RawGroup { xml: doc.outer_xml(el).to_owned(), properties: group_properties(el), name };
        let mut invalid = Invalid { group: &group.name, out: &mut out.invalid_values };
        match group.name.to_ascii_lowercase().as_str() {
            "serverconfiguration" if out.server.is_none() => {
                out.server = Some(ServerConfiguration::from_properties(&group.properties, &mut invalid));
            }
            "meetingpolicy" if out.meeting_policy.is_none() => {
                out.meeting_policy = Some(MeetingPolicy::from_properties(&group.properties, &mut invalid));
            }
            "ucpolicy" if out.uc_policy.is_none() => {
                out.uc_policy = Some(UcPolicy::from_properties(&group.properties, &mut invalid));
            }
            "persistentchatconfiguration" if out.persistent_chat.is_none() => {
                out.persistent_chat =
                    Some(PersistentChatConfiguration::from_properties(&group.properties, &mut invalid));
            }
            _ => {}
        }
        out.groups.push(group);
    }
    Ok(out)
}

/// Collects the name/value pairs of a group in any of its three shapes: `property[@name]` elements at any
/// depth (inside `instance` or `propertyEntryList`), and leaf child elements of the group itself
/// (`ServerConfiguration`'s `<focusFactoryUri>…</focusFactoryUri>`). Values are trimmed.
fn group_properties(group: &Element) -> BTreeMap<String, String> {
    let mut props = BTreeMap::new();
    for child in &group.children {
        let structural = matches!(child.name.as_str(), "property" | "propertyEntryList" | "instance");
        if !structural && child.children.is_empty() {
            props.entry(child.name.clone()).or_insert_with(|| child.text.trim().to_owned());
        }
    }
    for prop in group.descendants("property") {
        if let Some(name) = prop.attr("name") {
            // [MS-SIPREGE] 2.2.2.5.2 itself shows `<property name=" EnableDataCollaboration "> true </property>`.
            props.entry(name.trim().to_owned()).or_insert_with(|| prop.text.trim().to_owned());
        }
    }
    props
}

/// The value of `name` in `props`, the name matched case-insensitively.
fn lookup<'a>(props: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    props.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Collects the values a group's typed view could not read.
struct Invalid<'a> {
    group: &'a str,
    out: &'a mut Vec<InvalidValue>,
}

impl Invalid<'_> {
    fn push(&mut self, name: &str, value: &str, expected: &'static str) {
        self.out.push(InvalidValue {
            group: self.group.to_owned(),
            name: name.to_owned(),
            value: value.to_owned(),
            expected,
        });
    }

    /// A string setting; empty values count as absent.
    fn string(props: &BTreeMap<String, String>, name: &str) -> Option<String> {
        lookup(props, name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// A boolean setting (`true`/`false`, any case, or `1`/`0` as xs:boolean allows).
    fn boolean(&mut self, props: &BTreeMap<String, String>, name: &str) -> Option<bool> {
        let value = lookup(props, name).filter(|v| !v.is_empty())?;
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => {
                self.push(name, value, "a boolean (true or false)");
                None
            }
        }
    }

    /// A port number setting.
    fn port(&mut self, props: &BTreeMap<String, String>, name: &str) -> Option<u16> {
        let value = lookup(props, name).filter(|v| !v.is_empty())?;
        match value.parse::<u16>() {
            Ok(port) => Some(port),
            Err(_) => {
                self.push(name, value, "a port number (0-65535)");
                None
            }
        }
    }
}
