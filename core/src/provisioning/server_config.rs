//! The typed view of the `ServerConfiguration` provision group ([MS-SIPREGE] 2.2.2.5, REFERENCE.md §5).
//!
//! Setting names, and which ones a client needs, come from two sources that agree:
//! - pidgin-sipe `sipe_process_provisioning_v2` (CLIENT-NOTES.md §7.2): `focusFactoryUri`, `dlxInternalUrl` /
//!   `dlxExternalUrl`, `absInternalServerUrl` / `absExternalServerUrl` (External when signed in from outside),
//!   `botSipUriForTestCall`, `mrasUri`, `ucPC2PCAVEncryption`, `ucPortRangeEnabled` + the port ranges;
//! - the Lync 2013 SDK page "Parsing server configuration", whose sample output lists the settings a Lync
//!   Server 2013 pool sends (lower-cased by UCMA): `uclocationprofile`, `voicemailuri`, `pooluri`, `qosenabled`,
//!   `ucminmediaport`/`ucmaxmediaport`, `ucminaudioport`…`ucmaxfiletransferport`, `updatesserverinternalurl`,
//!   `updatesserverexternalurl`, `ucpc2pcavencryption` (`SupportEncryption`), `botsipurifortestcall`, ….

use std::collections::BTreeMap;

use super::Invalid;

/// Whether computer-to-computer audio/video is encrypted (`ucPC2PCAVEncryption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AvEncryption {
    /// `SupportEncryption`: encrypt if the peer can.
    Support,
    /// `DoNotSupportEncryption`: never encrypt.
    DoNotSupport,
    /// Anything else (`RequireEncryption`): pidgin-sipe treats every other value as "required", and so do we.
    Require,
}

impl AvEncryption {
    fn from_wire(value: &str) -> AvEncryption {
        if value.eq_ignore_ascii_case("SupportEncryption") {
            AvEncryption::Support
        } else if value.eq_ignore_ascii_case("DoNotSupportEncryption") {
            AvEncryption::DoNotSupport
        } else {
            AvEncryption::Require
        }
    }
}

/// An inclusive range of UDP/TCP ports the client must take its media ports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PortRange {
    pub min: u16,
    pub max: u16,
}

/// The client media port ranges (`ucPortRangeEnabled` and the `ucMin…Port`/`ucMax…Port` pairs). A range is
/// `None` when its pair is absent, incomplete, or not `min <= max` (the last two are also reported as
/// invalid values).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MediaPorts {
    /// `ucPortRangeEnabled`: when `false` the client may use any port and the ranges below are advisory.
    pub range_enabled: Option<bool>,
    /// `ucMinMediaPort`/`ucMaxMediaPort`: the overall range.
    pub media: Option<PortRange>,
    pub audio: Option<PortRange>,
    pub video: Option<PortRange>,
    pub app_sharing: Option<PortRange>,
    pub file_transfer: Option<PortRange>,
}

/// `ServerConfiguration`: where the pool's services are and how the client must use media.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerConfiguration {
    /// `absInternalServerUrl`: the Address Book Service (web search / download) from inside.
    pub abs_internal_url: Option<String>,
    /// `absExternalServerUrl`: the same through the edge (pidgin-sipe picks it when signed in remotely).
    pub abs_external_url: Option<String>,
    /// `dlxInternalUrl`: distribution list expansion web service, from inside.
    pub dlx_internal_url: Option<String>,
    /// `dlxExternalUrl`: the same, from outside.
    pub dlx_external_url: Option<String>,
    /// `focusFactoryUri`: where to create conferences.
    pub focus_factory_uri: Option<String>,
    /// `mrasUri`: Media Relay Authentication Server, for A/V edge credentials.
    pub mras_uri: Option<String>,
    /// `voicemailUri`.
    pub voicemail_uri: Option<String>,
    /// `poolUri`: the home pool (`sip:<pool-fqdn>@<domain>;gruu;opaque=srvr:HomeServer:…`).
    pub pool_uri: Option<String>,
    /// `ucLocationProfile`: the name of the user's location profile (dial plan).
    pub location_profile: Option<String>,
    /// `botSipUriForTestCall`: the test call service.
    pub test_call_bot_uri: Option<String>,
    /// `updatesServerInternalUrl`: device update service, from inside.
    pub updates_server_internal_url: Option<String>,
    /// `updatesServerExternalUrl`: device update service, from outside.
    pub updates_server_external_url: Option<String>,
    /// `qosEnabled`: mark media with DSCP.
    pub qos_enabled: Option<bool>,
    /// `ucPC2PCAVEncryption`.
    pub pc2pc_av_encryption: Option<AvEncryption>,
    pub media_ports: MediaPorts,
    /// Every setting of the group, names as on the wire (look names up case-insensitively with
    /// [`ServerConfiguration::property`]).
    pub properties: BTreeMap<String, String>,
}

impl ServerConfiguration {
    /// The value of any setting, its name matched case-insensitively (`property("ucminpinlength")`).
    pub fn property(&self, name: &str) -> Option<&str> {
        super::lookup(&self.properties, name)
    }

    /// The address book URL for where the client is: external when signed in through an edge (as pidgin-sipe
    /// chooses), else internal.
    pub fn abs_url(&self, remote_user: bool) -> Option<&str> {
        if remote_user { self.abs_external_url.as_deref() } else { self.abs_internal_url.as_deref() }
    }

    pub(super) fn from_properties(props: &BTreeMap<String, String>, invalid: &mut Invalid<'_>) -> ServerConfiguration {
        let s = |name| Invalid::string(props, name);
        ServerConfiguration {
            abs_internal_url: s("absInternalServerUrl"),
            abs_external_url: s("absExternalServerUrl"),
            dlx_internal_url: s("dlxInternalUrl"),
            dlx_external_url: s("dlxExternalUrl"),
            focus_factory_uri: s("focusFactoryUri"),
            // pidgin-sipe strips whitespace around mrasUri; values are trimmed for every setting here.
            mras_uri: s("mrasUri"),
            voicemail_uri: s("voicemailUri"),
            pool_uri: s("poolUri"),
            location_profile: s("ucLocationProfile"),
            test_call_bot_uri: s("botSipUriForTestCall"),
            updates_server_internal_url: s("updatesServerInternalUrl"),
            updates_server_external_url: s("updatesServerExternalUrl"),
            qos_enabled: invalid.boolean(props, "qosEnabled"),
            pc2pc_av_encryption: s("ucPC2PCAVEncryption").map(|v| AvEncryption::from_wire(&v)),
            media_ports: MediaPorts {
                range_enabled: invalid.boolean(props, "ucPortRangeEnabled"),
                media: range(props, invalid, "ucMinMediaPort", "ucMaxMediaPort"),
                audio: range(props, invalid, "ucMinAudioPort", "ucMaxAudioPort"),
                video: range(props, invalid, "ucMinVideoPort", "ucMaxVideoPort"),
                app_sharing: range(props, invalid, "ucMinAppSharingPort", "ucMaxAppSharingPort"),
                file_transfer: range(props, invalid, "ucMinFileTransferPort", "ucMaxFileTransferPort"),
            },
            properties: props.clone(),
        }
    }
}

fn range(props: &BTreeMap<String, String>, invalid: &mut Invalid<'_>, min: &str, max: &str) -> Option<PortRange> {
    let (lo, hi) = (invalid.port(props, min), invalid.port(props, max));
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo <= hi => Some(PortRange { min: lo, max: hi }),
        (Some(lo), Some(_)) => {
            invalid.push(min, &lo.to_string(), "a minimum port not above the maximum port");
            None
        }
        (Some(lo), None) => {
            invalid.push(min, &lo.to_string(), "a minimum port together with its maximum port");
            None
        }
        (None, Some(hi)) => {
            invalid.push(max, &hi.to_string(), "a maximum port together with its minimum port");
            None
        }
        (None, None) => None,
    }
}
