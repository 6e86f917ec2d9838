//! In-band provisioning: the answer to a `vnd-microsoft-provisioning-v2` SUBSCRIBE ([MS-SIPREGE] 2.2.2;
//! REFERENCE.md §5; CLIENT-NOTES.md §7.2), and the user's location profile ([MS-SIPRE] 2.2.8, REFERENCE.md §6).
//!
//! - Request body: `provisioningGroupList` (namespace [`REQUEST_NS`]) of `provisioningGroup[@name]`
//!   ([`parse_group_list`]).
//! - Answer ([`provisioning_document`], piggy-backed in the 200 OK, `Expires: 0`, [MS-SIPREGE] 2.2.2.2):
//!   `provisionGroupList` (namespace [`NOTIFICATION_NS`]) of `provisionGroup[@name]`.
//!   `ServerConfiguration` carries its settings as **child elements** named as in [MS-SIPREGE] 2.2.2.5.1's data
//!   model (`absInternalServerUrl`, `dlxInternalUrl`, `focusFactoryUri`, `mrasUri`, `ucLocationProfile`,
//!   `ucMinMediaPort`…), which is also how SIPE reads them (`sipe_process_provisioning_v2`:
//!   `sipe_xml_child(node, "focusFactoryUri")`). The policy groups (`ucPolicy`, `meetingPolicy`,
//!   `persistentChatConfiguration`) carry `propertyEntryList/property[@name]` entries ([MS-SIPREGE] 2.2.2.5.11's
//!   schema; SIPE reads `EnablePersistentChat` and `DefaultPersistentChatPoolUri` that way). The policy property
//!   names are the documented PowerShell ones; their values are the lab's.
//! - Every URL and URI points at the lab: the pool FQDN (`config.pool_fqdn`) and the SIP domain. The location
//!   profile is the lab's one dial plan ([`location_profile_document`]), named [`location_profile_name`].

use sfbkit::xml::{Document, escape};

use super::{bare_aor, domain_of};
use crate::config::LabConfig;

/// The request's namespace (`provisioningGroupList`).
pub const REQUEST_NS: &str = "http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist";
/// The answer's namespace (`provisionGroupList`, `property`).
pub const NOTIFICATION_NS: &str = "http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification";
/// The body type of request and answer.
pub const CONTENT_TYPE: &str = "application/vnd-microsoft-roaming-provisioning-v2+xml";
/// The location profile's namespace ([MS-SIPRE] 2.2.8).
pub const LOCATION_PROFILE_NS: &str = "http://schemas.microsoft.com/2007/03/LocationProfileDescription";
/// The groups the lab answers, in the order it writes them (the four SIPE asks for).
pub const GROUPS: [&str; 4] = ["ServerConfiguration", "meetingPolicy", "persistentChatConfiguration", "ucPolicy"];
/// At most this many group names are read from one request.
const MAX_GROUPS: usize = 64;

/// The group names a `provisioningGroupList` asks for, in request order. An empty or unreadable list is an
/// empty vector, which [`provisioning_document`] answers with every group.
pub fn parse_group_list(body: &[u8]) -> Vec<String> {
    let Ok(doc) = Document::parse(body) else { return Vec::new() };
    if doc.root.name != "provisioningGroupList" {
        return Vec::new();
    }
    doc.root
        .children_named("provisioningGroup")
        .filter_map(|g| g.attr("name"))
        .map(str::to_string)
        .take(MAX_GROUPS)
        .collect()
}

/// The user's location profile name: the lab has one dial plan, named after the domain.
pub fn location_profile_name(config: &LabConfig, _aor: &str) -> String {
    format!("UK.{}", config.domain)
}

/// The `provisionGroupList` for `aor`: the groups of [`GROUPS`] that `requested_groups` names (all of them
/// when it names none); names the lab does not know are left out.
pub fn provisioning_document(config: &LabConfig, aor: &str, requested_groups: &[String]) -> String {
    let wanted = |name: &str| requested_groups.is_empty() || requested_groups.iter().any(|g| g == name);
    let mut out = format!("<provisionGroupList xmlns=\"{NOTIFICATION_NS}\">");
    for group in GROUPS.iter().filter(|g| wanted(g)) {
        let body = match *group {
            "ServerConfiguration" => server_configuration(config, aor),
            "meetingPolicy" => properties(&[
                ("AllowIPAudio", "true"),
                ("AllowIPVideo", "true"),
                ("AllowUserToScheduleMeetingsWithAppSharing", "true"),
                ("AllowAnonymousParticipantsInMeetings", "false"),
                ("EnableDialInConferencing", "false"),
                ("MaxMeetingSize", "250"),
            ]),
            "persistentChatConfiguration" => {
                properties(&[("EnablePersistentChat", "false"), ("DefaultPersistentChatPoolUri", "")])
            }
            _ => properties(&[
                ("EnableCallForwarding", "true"),
                ("EnableDelegation", "true"),
                ("EnableCallTransfer", "true"),
                ("EnableSimultaneousRinging", "true"),
                ("EnableTeamCall", "true"),
                ("EnableVoicemail", "false"),
            ]),
        };
        out.push_str(&format!("<provisionGroup name=\"{group}\">{body}</provisionGroup>"));
    }
    out.push_str("</provisionGroupList>");
    out
}

fn server_configuration(config: &LabConfig, aor: &str) -> String {
    let pool = &config.pool_fqdn;
    let domain = &config.domain;
    let user = bare_aor(aor);
    let user_domain = match domain_of(&user) {
        d if d.is_empty() => domain.clone(),
        d => d,
    };
    // The pool's web services, at the lab's port: pidgin-sipe, given the bare name, tried group expansion on 443
    // and failed (docs/interop.md).
    let web = match config.web_https_port {
        Some(port) if port != 443 => format!("https://{pool}:{port}"),
        _ => format!("https://{pool}"),
    };
    let settings: Vec<(&str, String)> = vec![
        ("absWebServiceEnabled", "true".into()),
        ("absInternalServerUrl", format!("{web}/abs/handler")),
        ("absExternalServerUrl", format!("{web}/abs/handler")),
        ("abwqInternalUrl", format!("{web}/abs/handler/service.svc")),
        ("abwqExternalUrl", format!("{web}/abs/handler/service.svc")),
        ("dlxEnabled", "true".into()),
        ("dlxInternalUrl", format!("{web}/groupexpansion/service.svc")),
        ("dlxExternalUrl", format!("{web}/groupexpansion/service.svc")),
        ("organization", domain.clone()),
        ("ucPortRangeEnabled", "false".into()),
        ("ucMinMediaPort", "1024".into()),
        ("ucMaxMediaPort", "65535".into()),
        ("ucPC2PCAVEncryption", "SupportEncryption".into()),
        ("qosEnabled", "false".into()),
        ("ucEnableSIPSecurityMode", "High".into()),
        ("poolUri", format!("sip:{pool}@{user_domain};gruu;opaque=srvr:HomeServer:lab")),
        ("mrasUri", format!("sip:{pool}@{user_domain};gruu;opaque=srvr:MRAS:lab")),
        ("focusFactoryUri", format!("sip:{user};gruu;opaque=app:conf:focusfactory")),
        ("botSipUriForTestCall", format!("sip:{pool}@{user_domain};gruu;opaque=app:testbot")),
        ("ucLocationProfile", location_profile_name(config, aor)),
    ];
    settings.iter().map(|(name, value)| format!("<{name}>{}</{name}>", escape(value))).collect()
}

fn properties(entries: &[(&str, &str)]) -> String {
    let mut out = String::from("<propertyEntryList>");
    for (name, value) in entries {
        out.push_str(&format!("<property name=\"{name}\">{}</property>", escape(value)));
    }
    out.push_str("</propertyEntryList>");
    out
}

/// Seed 003's ("Stage 5") UK dial plan, rules as the client's log printed them; only the name is the lab's.
const UK_RULES: &str = r"<Rule><Pattern>^(\d{6})$</Pattern><Translation>+441785$1</Translation><InternalEnterpriseExtension>false</InternalEnterpriseExtension></Rule><Rule><Pattern>^0([1-9])(\d*)$</Pattern><Translation>+44$1$2</Translation><InternalEnterpriseExtension>false</InternalEnterpriseExtension></Rule><Rule><Pattern>^(00)?([1-9])(\d{5,})$</Pattern><Translation>+$2$3</Translation><InternalEnterpriseExtension>false</InternalEnterpriseExtension></Rule><Rule><Pattern>^(999$|112$|123$|101$)</Pattern><Translation>+$1</Translation><InternalEnterpriseExtension>false</InternalEnterpriseExtension></Rule><Rule><Pattern>^\+440(\d{10}\d?\d?)</Pattern><Translation>+44$1</Translation><InternalEnterpriseExtension>false</InternalEnterpriseExtension></Rule><ExternalAccessPrefix>9</ExternalAccessPrefix><OptimizeDeviceDialing>true</OptimizeDeviceDialing>";

/// The `LocationProfileDescription` for `profile_name` ([MS-SIPRE] 2.2.8): seed 003's UK dial plan (five rules,
/// external access prefix 9, optimized device dialing) under the given name. The seed's copy spells the namespace
/// `locationProfileDescription` with typographic quotes (a blog's rendering); the specification's is used here.
pub fn location_profile_document(profile_name: &str) -> String {
    format!(
        "<LocationProfileDescription xmlns=\"{LOCATION_PROFILE_NS}\"><Name>{}</Name>{UK_RULES}</LocationProfileDescription>",
        escape(profile_name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Document {
        Document::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"))
    }

    /// The request body SIPE sends (CLIENT-NOTES.md §7.2).
    const SIPE_REQUEST: &str = "<provisioningGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisioninggrouplist\">\
        <provisioningGroup name=\"ServerConfiguration\"/><provisioningGroup name=\"meetingPolicy\"/>\
        <provisioningGroup name=\"persistentChatConfiguration\"/><provisioningGroup name=\"ucPolicy\"/>\
        </provisioningGroupList>";

    #[test]
    fn the_request_names_its_groups() {
        assert_eq!(
            parse_group_list(SIPE_REQUEST.as_bytes()),
            ["ServerConfiguration", "meetingPolicy", "persistentChatConfiguration", "ucPolicy"]
        );
        assert!(parse_group_list(b"not xml").is_empty());
        assert!(parse_group_list(b"<other/>").is_empty());
    }

    #[test]
    fn server_configuration_points_at_the_lab() {
        let config = LabConfig::default();
        let groups = parse_group_list(SIPE_REQUEST.as_bytes());
        let doc = parse(&provisioning_document(&config, "sip:Alice@contoso.lab", &groups));
        assert_eq!(doc.root.name, "provisionGroupList");
        assert_eq!(doc.root.namespace.as_deref(), Some(NOTIFICATION_NS));
        let names: Vec<_> = doc.root.children_named("provisionGroup").filter_map(|g| g.attr("name")).collect();
        assert_eq!(names, GROUPS);
        let server = doc.root.children_named("provisionGroup").next().unwrap();
        assert_eq!(server.child_text("absInternalServerUrl"), Some("https://pool01.contoso.lab/abs/handler"));
        assert_eq!(server.child_text("dlxInternalUrl"), Some("https://pool01.contoso.lab/groupexpansion/service.svc"));
        assert_eq!(
            server.child_text("focusFactoryUri"),
            Some("sip:alice@contoso.lab;gruu;opaque=app:conf:focusfactory")
        );
        assert!(server.child_text("mrasUri").unwrap().starts_with("sip:pool01.contoso.lab@contoso.lab;gruu"));
        assert_eq!(server.child_text("ucMinMediaPort"), Some("1024"));
        assert_eq!(server.child_text("ucMaxMediaPort"), Some("65535"));
        assert_eq!(server.child_text("ucLocationProfile"), Some("UK.contoso.lab"));
        let chat =
            doc.root.children_named("provisionGroup").find(|g| g.attr("name") == Some("persistentChatConfiguration"));
        let enabled =
            chat.unwrap().descendants("property").into_iter().find(|p| p.attr("name") == Some("EnablePersistentChat"));
        assert_eq!(enabled.unwrap().text, "false");
    }

    #[test]
    fn only_requested_and_known_groups_are_answered() {
        let config = LabConfig::default();
        let doc = parse(&provisioning_document(&config, "alice@contoso.lab", &["ucPolicy".into(), "nonsense".into()]));
        let names: Vec<_> = doc.root.children_named("provisionGroup").filter_map(|g| g.attr("name")).collect();
        assert_eq!(names, ["ucPolicy"]);
        let all = parse(&provisioning_document(&config, "alice@contoso.lab", &[]));
        assert_eq!(all.root.children_named("provisionGroup").count(), GROUPS.len());
    }

    #[test]
    fn the_location_profile_is_seed_003s_dial_plan() {
        let doc = parse(&location_profile_document("UK & Ireland"));
        assert_eq!(doc.root.name, "LocationProfileDescription");
        assert_eq!(doc.root.namespace.as_deref(), Some(LOCATION_PROFILE_NS));
        assert_eq!(doc.root.child_text("Name"), Some("UK & Ireland"));
        let rules: Vec<_> = doc.root.children_named("Rule").collect();
        assert_eq!(rules.len(), 5);
        assert_eq!(rules[0].child_text("Pattern"), Some(r"^(\d{6})$"));
        assert_eq!(rules[0].child_text("Translation"), Some("+441785$1"));
        assert_eq!(rules[4].child_text("Pattern"), Some(r"^\+440(\d{10}\d?\d?)"));
        assert_eq!(doc.root.child_text("ExternalAccessPrefix"), Some("9"));
        assert_eq!(doc.root.child_text("OptimizeDeviceDialing"), Some("true"));
    }
}
