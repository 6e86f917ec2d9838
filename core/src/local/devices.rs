//! Media devices: what the Microsoft client's media device manager enumerates before sign-in (seed 003,
//! "Stage 1 – Local Hardware Discovery": webcam first, then the earphone and its volume, then the
//! microphone and its volume, then the defaults for each).
//!
//! The enumeration itself belongs to the host: a phone app knows its devices through AVFoundation or
//! CameraManager, a desktop through its audio stack. So the core defines [`DeviceProvider`] (object-safe,
//! owned data only, so uniffi and pyo3 can hand in a foreign implementation) and turns whatever it returns
//! into a [`DeviceSummary`] with [`discover_devices`]. The built-in providers are [`LinuxDevices`] (plain
//! file reads under `/proc/asound` and `/sys/class/video4linux`, no C libraries) and [`StaticDevices`].
//!
//! A machine without any device is normal for an SDK that mostly runs headless: it yields empty lists and
//! a note, never an error, and this stage is never fatal to sign-in.

pub use super::linux::LinuxDevices;

/// What a device is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DeviceKind {
    /// A microphone (ALSA capture PCM).
    AudioCapture,
    /// A speaker or earphone (ALSA playback PCM).
    AudioRender,
    /// A camera (`/dev/videoN`).
    VideoCapture,
}

impl DeviceKind {
    /// Words for notes and logs: "audio capture", "audio render", "video capture".
    pub fn describe(self) -> &'static str {
        match self {
            DeviceKind::AudioCapture => "audio capture",
            DeviceKind::AudioRender => "audio render",
            DeviceKind::VideoCapture => "video capture",
        }
    }
}

/// One media device, as plain owned data so it can cross the FFI boundary unchanged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    /// How the platform addresses the device: `hw:CARD=PCH,DEV=0` for ALSA, `/dev/video0` for V4L2, or
    /// whatever identifier the host's media API uses.
    pub id: String,
    /// Human-readable name, for reports and pickers.
    pub name: String,
    /// Capture, render or video.
    pub kind: DeviceKind,
    /// True when the platform says this is the default device of its kind.
    pub is_default: bool,
    /// Volume (0–100) when the platform can tell it. `None` means unknown, not silent: a number is never
    /// invented, because a report that says "volume 0" sends people hunting for a muted device.
    pub volume_percent: Option<u8>,
}

/// Why a provider could not enumerate devices. Empty lists are not errors; these are for data that exists
/// but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The process may not read the device list (a sandbox, or `/proc` mounted with `hidepid`).
    #[error("permission denied reading {path}: run with access to it, or let the host app provide the devices")]
    PermissionDenied {
        /// The file or directory that could not be read.
        path: String,
    },
    /// The device list exists but reading it failed for another reason.
    #[error("cannot read {path}: {detail}")]
    Unreadable {
        /// The file or directory that could not be read.
        path: String,
        /// The operating system's message.
        detail: String,
    },
    /// A host-implemented provider failed (its own words).
    #[error("device provider failed: {detail}")]
    Host {
        /// What the host reported.
        detail: String,
    },
}

impl DeviceError {
    /// Maps an I/O error on `path` to the variant a person can act on.
    pub(crate) fn from_io(path: &std::path::Path, err: &std::io::Error) -> Self {
        let path = path.display().to_string();
        match err.kind() {
            std::io::ErrorKind::PermissionDenied => DeviceError::PermissionDenied { path },
            _ => DeviceError::Unreadable { path, detail: err.to_string() },
        }
    }
}

/// Lists the media devices of one machine. Implemented by the host app (through the bindings) or by the
/// built-in [`LinuxDevices`] / [`StaticDevices`]. Object-safe and owned-data only on purpose: foreign
/// languages implement it.
pub trait DeviceProvider: Send + Sync {
    /// Microphones. Empty when there are none.
    fn audio_capture(&self) -> Result<Vec<Device>, DeviceError>;
    /// Speakers and earphones. Empty when there are none.
    fn audio_render(&self) -> Result<Vec<Device>, DeviceError>;
    /// Cameras. Empty when there are none.
    fn video_capture(&self) -> Result<Vec<Device>, DeviceError>;
    /// Remarks the provider wants in the report, such as why it cannot tell the volume.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A provider holding a fixed list: for hosts that enumerate once and hand the result over, for tests,
/// and (empty) for platforms the core has no enumeration for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticDevices {
    devices: Vec<Device>,
}

impl StaticDevices {
    /// A provider that reports `devices`, each under its own [`Device::kind`].
    pub fn new(devices: Vec<Device>) -> Self {
        StaticDevices { devices }
    }

    /// A provider with no devices at all (a headless machine).
    pub fn empty() -> Self {
        StaticDevices::default()
    }

    fn of_kind(&self, kind: DeviceKind) -> Vec<Device> {
        self.devices.iter().filter(|d| d.kind == kind).cloned().collect()
    }
}

impl DeviceProvider for StaticDevices {
    fn audio_capture(&self) -> Result<Vec<Device>, DeviceError> {
        Ok(self.of_kind(DeviceKind::AudioCapture))
    }
    fn audio_render(&self) -> Result<Vec<Device>, DeviceError> {
        Ok(self.of_kind(DeviceKind::AudioRender))
    }
    fn video_capture(&self) -> Result<Vec<Device>, DeviceError> {
        Ok(self.of_kind(DeviceKind::VideoCapture))
    }
}

/// The provider for this platform when the host gives none: [`LinuxDevices`] on Linux, an empty
/// [`StaticDevices`] elsewhere (there the host app knows its devices and should pass its own provider).
pub fn default_provider() -> Box<dyn DeviceProvider> {
    if cfg!(target_os = "linux") { Box::new(LinuxDevices::new()) } else { Box::new(StaticDevices::empty()) }
}

/// The outcome of device discovery, for the sign-in report. Which devices exist, which one of each kind
/// the endpoint would use, and notes that explain gaps (no device, unknown volume, unreadable lists).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceSummary {
    /// Microphones.
    pub audio_capture: Vec<Device>,
    /// Speakers and earphones.
    pub audio_render: Vec<Device>,
    /// Cameras.
    pub video_capture: Vec<Device>,
    /// Id of the microphone the endpoint would use.
    pub default_audio_capture: Option<String>,
    /// Id of the speaker or earphone the endpoint would use.
    pub default_audio_render: Option<String>,
    /// Id of the camera the endpoint would use.
    pub default_video_capture: Option<String>,
    /// Plain-language remarks: missing devices, unknown volumes, enumeration failures.
    pub notes: Vec<String>,
}

/// Asks `provider` for every kind of device and summarises the answer. Never fails: an enumeration error
/// becomes a note and an empty list, because media devices are not needed to sign in.
///
/// The order follows the Microsoft client (seed 003): camera, then earphone, then microphone. The default
/// of each kind is the device the provider marks as default, else the first one listed, which is what the
/// Microsoft client does when nothing is configured.
pub fn discover_devices(provider: &dyn DeviceProvider) -> DeviceSummary {
    let mut notes = Vec::new();
    let video_capture = list(provider.video_capture(), DeviceKind::VideoCapture, &mut notes);
    let audio_render = list(provider.audio_render(), DeviceKind::AudioRender, &mut notes);
    let audio_capture = list(provider.audio_capture(), DeviceKind::AudioCapture, &mut notes);
    let unknown_volume = audio_capture.iter().chain(audio_render.iter()).filter(|d| d.volume_percent.is_none()).count();
    if unknown_volume > 0 {
        notes.push(format!("volume unknown for {unknown_volume} audio device(s): reported as None, not guessed"));
    }
    notes.extend(provider.notes());
    DeviceSummary {
        default_audio_capture: pick_default(&audio_capture, &mut notes),
        default_audio_render: pick_default(&audio_render, &mut notes),
        default_video_capture: pick_default(&video_capture, &mut notes),
        audio_capture,
        audio_render,
        video_capture,
        notes,
    }
}

/// Unwraps one enumeration, turning "nothing" and "failed" into notes.
fn list(result: Result<Vec<Device>, DeviceError>, kind: DeviceKind, notes: &mut Vec<String>) -> Vec<Device> {
    match result {
        Ok(devices) if devices.is_empty() => {
            notes.push(format!("no {} device: normal on a headless machine", kind.describe()));
            devices
        }
        Ok(devices) => devices,
        Err(err) => {
            notes.push(format!("{} devices not enumerated ({err}); continuing without them", kind.describe()));
            Vec::new()
        }
    }
}

/// The device marked default, else the first; notes when it had to fall back.
fn pick_default(devices: &[Device], notes: &mut Vec<String>) -> Option<String> {
    if let Some(marked) = devices.iter().find(|d| d.is_default) {
        return Some(marked.id.clone());
    }
    let first = devices.first()?;
    notes.push(format!("no {} device marked default: using the first, {}", first.kind.describe(), first.id));
    Some(first.id.clone())
}
