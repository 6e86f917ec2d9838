//! Tests of the whole stage with fake providers: [`discover_local`], [`LocalDiscovery::choose_for`],
//! [`discover_devices`] over [`StaticDevices`] and failing providers.

use std::net::IpAddr;
use std::sync::Mutex;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test literal")
}

fn device(id: &str, kind: DeviceKind, is_default: bool, volume: Option<u8>) -> Device {
    Device { id: id.into(), name: format!("{id} name"), kind, is_default, volume_percent: volume }
}

/// A network whose adapters and routes the test sets; `fail` makes `adapters()` fail.
struct FakeNet {
    adapters: Mutex<Vec<Adapter>>,
    fail: bool,
}

impl FakeNet {
    fn new(adapters: Vec<Adapter>) -> Self {
        FakeNet { adapters: Mutex::new(adapters), fail: false }
    }
}

impl NetworkInfo for FakeNet {
    fn adapters(&self) -> Result<Vec<Adapter>, NetworkError> {
        if self.fail {
            return Err(NetworkError::Unavailable { detail: "sandboxed".into() });
        }
        Ok(self.adapters.lock().map(|a| a.clone()).unwrap_or_default())
    }
    fn route_to(&self, dest: IpAddr) -> Option<IpAddr> {
        if dest.is_loopback() {
            return Some(dest);
        }
        (dest == ip("198.51.100.10")).then(|| ip("10.8.0.2"))
    }
}

fn nic(name: &str, index: u32, addr: &str, loopback: bool, default_route: bool) -> Adapter {
    Adapter {
        name: name.into(),
        index,
        addresses: vec![ip(addr)],
        is_up: true,
        is_loopback: loopback,
        has_default_route: default_route,
        kind: if loopback { "Loopback" } else { "Ethernet" }.into(),
    }
}

fn lan() -> Vec<Adapter> {
    vec![nic("lo", 1, "127.0.0.1", true, false), nic("eth0", 2, "192.0.2.10", false, true)]
}

/// A provider whose every enumeration fails, as a host app's might.
struct Broken;

impl DeviceProvider for Broken {
    fn audio_capture(&self) -> Result<Vec<Device>, DeviceError> {
        Err(DeviceError::Host { detail: "microphone permission not granted".into() })
    }
    fn audio_render(&self) -> Result<Vec<Device>, DeviceError> {
        Err(DeviceError::PermissionDenied { path: "/proc/asound/pcm".into() })
    }
    fn video_capture(&self) -> Result<Vec<Device>, DeviceError> {
        Err(DeviceError::Unreadable { path: "/sys/class/video4linux".into(), detail: "I/O error".into() })
    }
}

#[test]
fn headless_machine_discovers_nothing_and_still_chooses_an_adapter() {
    let found = discover_local(&StaticDevices::empty(), &FakeNet::new(lan()), &[], None);
    assert!(found.devices.audio_capture.is_empty() && found.devices.video_capture.is_empty());
    assert_eq!(found.devices.notes.len(), 3, "{:?}", found.devices.notes);
    assert_eq!(found.network.chosen.as_ref().map(|a| a.name.as_str()), Some("eth0"));
    assert_eq!(found.network.basis, ChoiceBasis::DefaultRoute);
    assert_eq!(found.adapters.len(), 2);
}

#[test]
fn choose_for_rechooses_once_the_server_is_known() {
    let net = FakeNet::new(lan());
    let mut found = discover_local(&StaticDevices::empty(), &net, &[], None);
    if let Ok(mut adapters) = net.adapters.lock() {
        adapters.push(nic("tun0", 3, "10.8.0.2", false, false)); // the VPN came up after the first look.
    }
    let choice = found.choose_for(&net, &[], ip("198.51.100.10"));
    assert_eq!(choice.chosen.as_ref().map(|a| a.name.as_str()), Some("tun0"));
    assert_eq!(choice.basis, ChoiceBasis::Route);
    assert_eq!(found.adapters.len(), 3);
    assert_eq!(found.bind_address(ip("198.51.100.10")), Some(ip("10.8.0.2")));

    let choice = found.choose_for(&net, &[], ip("127.0.0.1"));
    assert_eq!(choice.chosen.as_ref().map(|a| a.name.as_str()), Some("lo"), "lab pool on this machine");
}

#[test]
fn unreadable_adapter_list_is_not_fatal() {
    let net = FakeNet { adapters: Mutex::new(lan()), fail: true };
    let found = discover_local(&StaticDevices::empty(), &net, &[], Some(ip("127.0.0.1")));
    assert_eq!(found.network.chosen, None);
    assert!(found.network.reason.starts_with("network adapters unavailable: sandboxed"), "{}", found.network.reason);
    assert_eq!(found.network.route_local_addr, Some(ip("127.0.0.1")));
}

#[test]
fn failing_device_provider_becomes_notes() {
    let summary = discover_devices(&Broken);
    assert!(summary.audio_capture.is_empty() && summary.audio_render.is_empty() && summary.video_capture.is_empty());
    assert_eq!(summary.notes.len(), 3, "{:?}", summary.notes);
    assert!(summary.notes.iter().any(|n| n.contains("microphone permission not granted")));
    assert!(summary.notes.iter().any(|n| n.contains("permission denied reading /proc/asound/pcm")));
}

#[test]
fn static_devices_split_by_kind_and_defaults_follow_the_mark() {
    let provider = StaticDevices::new(vec![
        device("mic-a", DeviceKind::AudioCapture, false, Some(80)),
        device("mic-b", DeviceKind::AudioCapture, true, Some(60)),
        device("spk", DeviceKind::AudioRender, false, None),
        device("cam", DeviceKind::VideoCapture, true, None),
    ]);
    let summary = discover_devices(&provider);
    assert_eq!(summary.audio_capture.len(), 2);
    assert_eq!(summary.default_audio_capture.as_deref(), Some("mic-b"));
    assert_eq!(summary.default_audio_render.as_deref(), Some("spk"), "unmarked: the first");
    assert_eq!(summary.default_video_capture.as_deref(), Some("cam"));
    assert!(summary.notes.iter().any(|n| n.contains("volume unknown for 1 audio device")), "{:?}", summary.notes);
    assert!(summary.notes.iter().any(|n| n.contains("no audio render device marked default")));
}

#[test]
fn providers_are_object_safe_and_shareable() {
    fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn DeviceProvider>();
    assert_send_sync::<dyn NetworkInfo>();
    let boxed: Vec<Box<dyn DeviceProvider>> = vec![default_provider(), Box::new(StaticDevices::empty())];
    for provider in &boxed {
        let _ = discover_devices(provider.as_ref());
    }
}

#[test]
fn report_serialises() {
    let found = discover_local(&StaticDevices::empty(), &FakeNet::new(lan()), &["eth9".to_string()], None);
    let json = serde_json::to_value(&found).expect("serialise");
    assert_eq!(json["network"]["chosen"]["name"], "eth0");
    assert_eq!(json["network"]["unusable"][0]["why"], "preferred but not present");
    assert_eq!(json["adapters"][0]["addresses"][0], "127.0.0.1");
}

/// What this machine's own discovery shows (printed with `--nocapture`); asserts only what every machine
/// has: a loopback adapter, and the loopback choice when the server is 127.0.0.1.
#[test]
fn this_machine() {
    let found = discover_local(default_provider().as_ref(), &SystemNetwork, &[], Some(ip("127.0.0.1")));
    eprintln!("{}", serde_json::to_string_pretty(&found).unwrap_or_default());
    assert!(found.adapters.iter().any(|a| a.is_loopback));
    assert_eq!(found.network.chosen.as_ref().map(|a| a.is_loopback), Some(true));
    assert_eq!(found.bind_address(ip("127.0.0.1")), Some(ip("127.0.0.1")));
}
