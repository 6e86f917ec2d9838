//! The facade's data as uniffi records and enums: the sign-in report, contacts, presence, provisioning, the
//! dial plan, devices and adapters. Each is a field-for-field copy of the core type (`From` below), with the
//! types foreign languages have: strings for IP addresses, `u32` for counts, lists of pairs for ordered maps.

use std::collections::HashMap;

use sfbkit::presence::Availability as CoreAvailability;

/// The sign-in stages, in the order the Microsoft client runs them (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Stage {
    LocalDiscovery,
    ServerDiscovery,
    ConnectivityChecks,
    Authentication,
    Redirection,
    SettingsAndPolicies,
    SignOut,
}

impl From<sfbkit::Stage> for Stage {
    fn from(s: sfbkit::Stage) -> Stage {
        use sfbkit::Stage as S;
        match s {
            S::LocalDiscovery => Stage::LocalDiscovery,
            S::ServerDiscovery => Stage::ServerDiscovery,
            S::ConnectivityChecks => Stage::ConnectivityChecks,
            S::Authentication => Stage::Authentication,
            S::Redirection => Stage::Redirection,
            S::SettingsAndPolicies => Stage::SettingsAndPolicies,
            S::SignOut => Stage::SignOut,
        }
    }
}

impl Stage {
    fn core(self) -> sfbkit::Stage {
        use sfbkit::Stage as S;
        match self {
            Stage::LocalDiscovery => S::LocalDiscovery,
            Stage::ServerDiscovery => S::ServerDiscovery,
            Stage::ConnectivityChecks => S::ConnectivityChecks,
            Stage::Authentication => S::Authentication,
            Stage::Redirection => S::Redirection,
            Stage::SettingsAndPolicies => S::SettingsAndPolicies,
            Stage::SignOut => S::SignOut,
        }
    }
}

#[uniffi::export]
impl Stage {
    /// The stage in the words admins use: `Server Discovery`, `Settings and Policies`, ...
    pub fn display_name(&self) -> String {
        self.core().to_string()
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Outcome {
    Success,
    Failure,
    /// An expected miss (no such record): the stage moved on.
    NotFound,
    /// Not attempted; the step's detail says why.
    Skipped,
}

impl From<sfbkit::Outcome> for Outcome {
    fn from(o: sfbkit::Outcome) -> Outcome {
        match o {
            sfbkit::Outcome::Success => Outcome::Success,
            sfbkit::Outcome::Failure => Outcome::Failure,
            sfbkit::Outcome::NotFound => Outcome::NotFound,
            sfbkit::Outcome::Skipped => Outcome::Skipped,
        }
    }
}

/// One step of one stage of a sign-in.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StepRecord {
    pub stage: Stage,
    /// What was tried: `lyncdiscover (https)`, `TLS handshake`, `REGISTER`, ...
    pub step: String,
    /// The host or URL it was tried against.
    pub host: String,
    pub duration_ms: f64,
    pub outcome: Outcome,
    /// What came back, in words.
    pub detail: String,
    /// For failures: a short class (`untrusted-root`, `refused`, `404`, ...).
    pub error_class: Option<String>,
    /// For failures: what a person can do about it.
    pub hint: Option<String>,
}

/// What the registrar granted.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Registration {
    /// Seconds until the binding expires.
    pub expires_s: u32,
    /// The GRUU assigned to this endpoint.
    pub gruu: Option<String>,
    /// Send a keep-alive at least this often (seconds).
    pub keep_alive_timeout_s: Option<u32>,
    pub allow_events: Vec<String>,
    pub supported: Vec<String>,
    /// The registrar's `Server` header (`RTC/6.0` for Skype for Business Server 2015).
    pub server: Option<String>,
}

/// What happened during one sign-in, stage by stage, with a Test-CsRegistration-style summary on top. Holds
/// no secret.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SignInReport {
    /// The registrar signed in to.
    pub target: String,
    /// The SIP URI that signed in.
    pub user: String,
    pub succeeded: bool,
    /// Wall time of the whole sign-in.
    pub latency_ms: f64,
    /// For a failure: the status and phrase (`401, Unauthorized`) or the failure in words.
    pub error: Option<String>,
    /// For a failure: the server's `ms-diagnostics`, as Test-CsRegistration prints it (`ErrorCode=4141,...`).
    pub diagnosis: Option<String>,
    /// For a failure: what to do about it.
    pub hint: Option<String>,
    /// For a failure: the class of the failed step (`wrong-password`, `disabled-user`, ...).
    pub error_class: Option<String>,
    /// For a failure: the stage of the failed step.
    pub failed_stage: Option<Stage>,
    /// For a failure: the server's diagnostic code (4141, 28032, ...), when it sent one.
    pub diagnostic_code: Option<u32>,
    pub steps: Vec<StepRecord>,
    /// Steps that failed without stopping sign-in: each deserves a look.
    pub warnings: Vec<String>,
    /// On success: what the registrar granted.
    pub registration: Option<Registration>,
}

impl From<&sfbkit::SignInReport> for SignInReport {
    fn from(r: &sfbkit::SignInReport) -> SignInReport {
        SignInReport {
            target: r.target.clone(),
            user: r.user.clone(),
            succeeded: r.is_success(),
            latency_ms: r.latency_ms,
            error: r.error.clone(),
            diagnosis: r.diagnosis.clone(),
            hint: r.hint.clone(),
            error_class: r.error_class().map(str::to_string),
            failed_stage: r.failed_stage().map(Stage::from),
            diagnostic_code: r.diagnostic_code(),
            steps: r
                .stages
                .iter()
                .map(|s| StepRecord {
                    stage: s.name.into(),
                    step: s.step.clone(),
                    host: s.host.clone(),
                    duration_ms: s.duration_ms,
                    outcome: s.outcome.into(),
                    detail: s.detail.clone(),
                    error_class: s.error_class.clone(),
                    hint: s.hint.clone(),
                })
                .collect(),
            warnings: r.warnings.clone(),
            registration: r.registration.as_ref().map(|g| Registration {
                expires_s: g.expires,
                gruu: g.gruu.clone(),
                keep_alive_timeout_s: g.keep_alive_timeout,
                allow_events: g.allow_events.clone(),
                supported: g.supported.clone(),
                server: g.server.clone(),
            }),
        }
    }
}

/// The status a watcher shows (Lync 2013 availability ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Availability {
    Available,
    AvailableIdle,
    Busy,
    BusyIdle,
    DoNotDisturb,
    BeRightBack,
    Away,
    Offline,
}

impl From<CoreAvailability> for Availability {
    fn from(a: CoreAvailability) -> Availability {
        match a {
            CoreAvailability::Available => Availability::Available,
            CoreAvailability::AvailableIdle => Availability::AvailableIdle,
            CoreAvailability::Busy => Availability::Busy,
            CoreAvailability::BusyIdle => Availability::BusyIdle,
            CoreAvailability::DoNotDisturb => Availability::DoNotDisturb,
            CoreAvailability::BeRightBack => Availability::BeRightBack,
            CoreAvailability::Away => Availability::Away,
            CoreAvailability::Offline => Availability::Offline,
        }
    }
}

impl From<Availability> for CoreAvailability {
    fn from(a: Availability) -> CoreAvailability {
        match a {
            Availability::Available => CoreAvailability::Available,
            Availability::AvailableIdle => CoreAvailability::AvailableIdle,
            Availability::Busy => CoreAvailability::Busy,
            Availability::BusyIdle => CoreAvailability::BusyIdle,
            Availability::DoNotDisturb => CoreAvailability::DoNotDisturb,
            Availability::BeRightBack => CoreAvailability::BeRightBack,
            Availability::Away => CoreAvailability::Away,
            Availability::Offline => CoreAvailability::Offline,
        }
    }
}

/// A contact's note: typed by them, or their out-of-office message.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Note {
    pub text: String,
    pub out_of_office: bool,
}

/// One phone number of a contact card.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Phone {
    /// `work`, `mobile`, `home`, `other`, ...
    pub kind: Option<String>,
    pub uri: Option<String>,
    pub display: Option<String>,
}

/// A contact's presence, as last notified.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactPresence {
    pub uri: String,
    pub availability: Option<Availability>,
    /// The raw availability number (3500 = Busy, ...).
    pub availability_value: Option<u32>,
    /// The activity token: `in-a-meeting`, `on-the-phone`, ...
    pub activity: Option<String>,
    /// Free text the contact set as activity.
    pub custom_activity: Option<String>,
    /// E.g. `Mobile`.
    pub device: Option<String>,
    pub note: Option<Note>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub phones: Vec<Phone>,
    /// Outside the user's own SIP domain.
    pub federated: bool,
}

impl From<&sfbkit::presence::ContactPresence> for ContactPresence {
    fn from(p: &sfbkit::presence::ContactPresence) -> ContactPresence {
        ContactPresence {
            uri: p.uri.clone(),
            availability: p.availability.map(Into::into),
            availability_value: p.availability_value,
            activity: p.activity.clone(),
            custom_activity: p.custom_activity.clone(),
            device: p.device.clone(),
            note: p
                .note
                .as_ref()
                .map(|n| Note { text: n.text.clone(), out_of_office: n.kind == sfbkit::presence::NoteKind::Oof }),
            display_name: p.display_name.clone(),
            email: p.email.clone(),
            title: p.title.clone(),
            company: p.company.clone(),
            phones: p
                .phones
                .iter()
                .map(|ph| Phone { kind: ph.kind.clone(), uri: ph.uri.clone(), display: ph.display.clone() })
                .collect(),
            federated: p.federated,
        }
    }
}

/// A contact list group.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Group {
    pub id: u32,
    /// `~` is the default group ("Other Contacts").
    pub name: String,
    pub external_uri: Option<String>,
}

impl From<&sfbkit::contacts::Group> for Group {
    fn from(g: &sfbkit::contacts::Group) -> Group {
        Group { id: g.id, name: g.name.clone(), external_uri: g.external_uri.clone() }
    }
}

/// A contact on the user's list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Contact {
    pub uri: String,
    pub name: String,
    /// The ids of the groups it is in.
    pub groups: Vec<u32>,
    pub subscribed: bool,
    pub external_uri: Option<String>,
    pub extension: Option<String>,
}

impl From<&sfbkit::contacts::Contact> for Contact {
    fn from(c: &sfbkit::contacts::Contact) -> Contact {
        Contact {
            uri: c.uri.clone(),
            name: c.name.clone(),
            groups: c.groups.clone(),
            subscribed: c.subscribed,
            external_uri: c.external_uri.clone(),
            extension: c.extension.clone(),
        }
    }
}

/// The contact list as last received.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContactList {
    pub delta_num: u32,
    /// Set when the contacts are kept in Exchange (Unified Contact Store).
    pub ucs_mode: Option<String>,
    pub groups: Vec<Group>,
    pub contacts: Vec<Contact>,
}

impl From<&sfbkit::contacts::ContactList> for ContactList {
    fn from(l: &sfbkit::contacts::ContactList) -> ContactList {
        ContactList {
            delta_num: l.delta_num,
            ucs_mode: l.ucs_mode.clone(),
            groups: l.groups.iter().map(Group::from).collect(),
            contacts: l.contacts.iter().map(Contact::from).collect(),
        }
    }
}

/// One normalization rule of a dial plan (a .NET regular expression and its translation).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DialRule {
    pub pattern: String,
    pub translation: String,
    pub internal_enterprise_extension: bool,
    pub applicable_for_device_dialing: Option<bool>,
}

/// The user's location profile (dial plan).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocationProfile {
    pub name: String,
    pub rules: Vec<DialRule>,
    pub external_access_prefix: Option<String>,
    pub optimize_device_dialing: Option<bool>,
}

impl From<&sfbkit::dialplan::LocationProfile> for LocationProfile {
    fn from(p: &sfbkit::dialplan::LocationProfile) -> LocationProfile {
        LocationProfile {
            name: p.name.clone(),
            rules: p
                .rules
                .iter()
                .map(|r| DialRule {
                    pattern: r.pattern.clone(),
                    translation: r.translation.clone(),
                    internal_enterprise_extension: r.internal_enterprise_extension,
                    applicable_for_device_dialing: r.applicable_for_device_dialing,
                })
                .collect(),
            external_access_prefix: p.external_access_prefix.clone(),
            optimize_device_dialing: p.optimize_device_dialing,
        }
    }
}

/// What the dial plan made of a dialled number.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Normalized {
    pub input: String,
    /// The input without the characters dial plans ignore (spaces, brackets, dashes).
    pub stripped: String,
    /// The normalized number (`+441785123456`), or `None` when no rule matched.
    pub output: Option<String>,
    /// The rule that matched: its position in the profile, from 1.
    pub rule_index: Option<u32>,
    pub rule_pattern: Option<String>,
    /// The rule that matched marks an internal extension.
    pub extension: bool,
    /// A rule that could not be applied, in words.
    pub error: Option<String>,
}

impl From<sfbkit::dialplan::Normalized> for Normalized {
    fn from(n: sfbkit::dialplan::Normalized) -> Normalized {
        Normalized {
            input: n.input,
            stripped: n.stripped,
            output: n.output,
            rule_index: n.rule.as_ref().map(|r| u32::try_from(r.index).unwrap_or(u32::MAX)),
            rule_pattern: n.rule.map(|r| r.pattern),
            extension: n.extension,
            error: n.error,
        }
    }
}

/// One in-band provisioning group (`ServerConfiguration`, `ucPolicy`, ...): its settings as the server wrote
/// them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProvisioningGroup {
    pub name: String,
    pub properties: HashMap<String, String>,
}

/// A provisioned setting whose value could not be read into its typed form.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InvalidSetting {
    pub group: String,
    pub name: String,
    pub value: String,
    /// What was expected, e.g. "a port number (0-65535)".
    pub expected: String,
}

/// In-band provisioning: the server's configuration and the user's policies.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Provisioning {
    /// The user's location profile (dial plan) name.
    pub location_profile_name: Option<String>,
    /// The pool's address book web service, inside and outside the network.
    pub abs_internal_url: Option<String>,
    pub abs_external_url: Option<String>,
    /// The conferencing focus factory and the media relay authentication service.
    pub focus_factory_uri: Option<String>,
    pub mras_uri: Option<String>,
    pub voicemail_uri: Option<String>,
    pub test_call_bot_uri: Option<String>,
    /// Every group, in document order, each setting by name.
    pub groups: Vec<ProvisioningGroup>,
    pub invalid_settings: Vec<InvalidSetting>,
}

impl From<&sfbkit::provisioning::Provisioning> for Provisioning {
    fn from(p: &sfbkit::provisioning::Provisioning) -> Provisioning {
        let server = p.server.as_ref();
        let url =
            |f: fn(&sfbkit::provisioning::ServerConfiguration) -> &Option<String>| server.and_then(|s| f(s).clone());
        Provisioning {
            location_profile_name: p.location_profile_name().map(str::to_string),
            abs_internal_url: url(|s| &s.abs_internal_url),
            abs_external_url: url(|s| &s.abs_external_url),
            focus_factory_uri: url(|s| &s.focus_factory_uri),
            mras_uri: url(|s| &s.mras_uri),
            voicemail_uri: url(|s| &s.voicemail_uri),
            test_call_bot_uri: url(|s| &s.test_call_bot_uri),
            groups: p
                .groups
                .iter()
                .map(|g| ProvisioningGroup {
                    name: g.name.clone(),
                    properties: g.properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect(),
            invalid_settings: p
                .invalid_values
                .iter()
                .map(|v| InvalidSetting {
                    group: v.group.clone(),
                    name: v.name.clone(),
                    value: v.value.clone(),
                    expected: v.expected.to_string(),
                })
                .collect(),
        }
    }
}

/// What a media device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DeviceKind {
    /// A microphone.
    AudioCapture,
    /// A speaker or earphone.
    AudioRender,
    /// A camera.
    VideoCapture,
}

/// One media device, as the host app's media API describes it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Device {
    /// How the platform addresses it (`AVCaptureDevice.uniqueID`, an `AudioDeviceInfo` id, ...).
    pub id: String,
    /// Human-readable name, for reports and pickers.
    pub name: String,
    pub kind: DeviceKind,
    /// The platform's default device of its kind.
    pub is_default: bool,
    /// Volume 0–100 when the platform can tell it; `None` means unknown, not silent.
    pub volume_percent: Option<u8>,
}

impl From<Device> for sfbkit::local::Device {
    fn from(d: Device) -> sfbkit::local::Device {
        use sfbkit::local::DeviceKind as K;
        sfbkit::local::Device {
            id: d.id,
            name: d.name,
            kind: match d.kind {
                DeviceKind::AudioCapture => K::AudioCapture,
                DeviceKind::AudioRender => K::AudioRender,
                DeviceKind::VideoCapture => K::VideoCapture,
            },
            is_default: d.is_default,
            volume_percent: d.volume_percent,
        }
    }
}

/// One network interface, as the host's network API describes it (NWPathMonitor's interfaces,
/// ConnectivityManager's `LinkProperties`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Adapter {
    /// The system's name: `en0`, `pdp_ip0`, `wlan0`, `rmnet0`, ...
    pub name: String,
    /// The interface index, unique on the device.
    pub index: u32,
    /// Its IPv4 and IPv6 addresses, as text (`192.0.2.10`, `2001:db8::10`).
    pub addresses: Vec<String>,
    pub is_up: bool,
    pub is_loopback: bool,
    /// The default route goes through it.
    pub has_default_route: bool,
    /// What it is, in words: `Wi-Fi`, `Cellular`, `Ethernet`, `VPN`, ...
    pub kind: String,
}

/// How the client retries after losing its connection.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ReconnectPolicy {
    /// The first delay.
    pub initial: std::time::Duration,
    /// The longest delay (each failure doubles it up to this).
    pub max: std::time::Duration,
    /// Random spread of each delay, from 0 to 1.
    pub jitter: f64,
}

/// When the client stops sending a refused password, so that it never locks the account out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct LockoutPolicy {
    /// Refusals within `window` after which no password is sent.
    pub max_refusals: u32,
    pub window: std::time::Duration,
    /// The wait before a refused password is sent again (doubled for each further refusal).
    pub retry_delay: std::time::Duration,
}

/// Which autodiscover answer to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AutodiscoverFormat {
    /// The Lync XML, the only one carrying SIP access points (the default).
    Xml,
    /// The UCWA JSON flavour, links only.
    Json,
}

/// Which SIP authentication scheme a sign-in may use (the core's `AuthMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum AuthMethod {
    /// As the Microsoft client chooses: TLS-DSK with a certificate, then Kerberos, then NTLM (the default).
    Auto,
    /// NTLM only.
    Ntlm,
    /// TLS-DSK only (a certificate is provisioned first when the keystore has none).
    TlsDsk,
    /// Kerberos only.
    Kerberos,
}

impl From<AuthMethod> for sfbkit::auth::AuthMethod {
    fn from(m: AuthMethod) -> Self {
        match m {
            AuthMethod::Auto => sfbkit::auth::AuthMethod::Auto,
            AuthMethod::Ntlm => sfbkit::auth::AuthMethod::Ntlm,
            AuthMethod::TlsDsk => sfbkit::auth::AuthMethod::TlsDsk,
            AuthMethod::Kerberos => sfbkit::auth::AuthMethod::Kerberos,
        }
    }
}

/// A TLS version inside the TLS-DSK tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
}

impl From<TlsVersion> for sfbkit::auth::tlsdsk::TlsVersion {
    fn from(v: TlsVersion) -> Self {
        match v {
            TlsVersion::Tls10 => sfbkit::auth::tlsdsk::TlsVersion::Tls10,
            TlsVersion::Tls11 => sfbkit::auth::tlsdsk::TlsVersion::Tls11,
            TlsVersion::Tls12 => sfbkit::auth::tlsdsk::TlsVersion::Tls12,
        }
    }
}

/// Which side of the corporate network the client signs in from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkLocation {
    /// Internal names first, then external ones (the default).
    Auto,
    /// Only the internal path (lyncdiscoverinternal, _sipinternaltls._tcp).
    Internal,
    /// Only the path a remote user's client takes (lyncdiscover, _sip._tls, the Edge).
    External,
}

impl From<NetworkLocation> for sfbkit::discovery::NetworkLocation {
    fn from(l: NetworkLocation) -> Self {
        match l {
            NetworkLocation::Auto => sfbkit::discovery::NetworkLocation::Auto,
            NetworkLocation::Internal => sfbkit::discovery::NetworkLocation::Internal,
            NetworkLocation::External => sfbkit::discovery::NetworkLocation::External,
        }
    }
}

/// A Kerberos session-key encryption type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum KerberosEtype {
    Aes256,
    Aes128,
    /// RC4-HMAC, what Lync-era domains issue.
    Rc4Hmac,
}

impl From<KerberosEtype> for sfbkit::auth::kerberos::Etype {
    fn from(e: KerberosEtype) -> Self {
        match e {
            KerberosEtype::Aes256 => sfbkit::auth::kerberos::Etype::Aes256,
            KerberosEtype::Aes128 => sfbkit::auth::kerberos::Etype::Aes128,
            KerberosEtype::Rc4Hmac => sfbkit::auth::kerberos::Etype::Rc4Hmac,
        }
    }
}
