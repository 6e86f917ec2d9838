//! The translation itself: options into the builder, failures into `SfbError`, host answers into the core's
//! types, panics into `Internal`. Sign-in against a lab pool is bindings/kotlin/run-tests' job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sfbkit::keystore::{KeystoreError, SecretStore as _};
use sfbkit::local::{DeviceProvider as _, NetworkInfo as _};

use crate::host::{HostDevices, HostKeystore, HostNetwork};
use crate::*;

fn configuration(result: Result<Arc<Client>, SfbError>) -> (String, String, String) {
    match result {
        Err(SfbError::Configuration { error_class, detail, hint }) => (error_class, detail, hint),
        Err(other) => panic!("not a configuration error: {other:?}"),
        Ok(_) => panic!("the client was built"),
    }
}

#[test]
fn a_bad_option_fails_the_build_with_its_class_and_a_hint() {
    let (class, detail, hint) = configuration(
        ClientBuilder::new("alice@contoso.com".into()).dns_servers(vec!["dns.contoso.com".into()]).build(),
    );
    assert_eq!(class, "invalid-option");
    assert!(detail.contains("dns.contoso.com") && !hint.is_empty(), "{detail} / {hint}");

    let (class, _, hint) = configuration(ClientBuilder::new("not a sip uri".into()).build());
    assert_eq!((class.as_str(), hint.is_empty()), ("invalid-sip-uri", false));

    let jitter = ReconnectPolicy { initial: Duration::from_secs(1), max: Duration::from_secs(2), jitter: 1.5 };
    let (class, detail, _) =
        configuration(ClientBuilder::new("alice@contoso.com".into()).reconnect_policy(jitter).build());
    assert_eq!(class, "invalid-option");
    assert!(detail.contains("1.5"), "{detail}");

    // The first bad option is the one reported; each builder method leaves its receiver as it was.
    let base = ClientBuilder::new("alice@contoso.com".into()).memory_secret_store();
    let bad = base.epid("x y".into()).server("pool01.contoso.com".into(), 5061, Some("nowhere".into()));
    assert!(configuration(bad.build()).1.contains("x y"));
    assert!(base.dns_servers(vec!["192.0.2.53".into(), "[2001:db8::53]:5353".into()]).build().is_ok());
    let pinned = base.server("pool01.contoso.com".into(), 5061, Some("127.0.0.1".into()));
    assert!(pinned.build().is_ok());
}

#[test]
fn dns_servers_come_from_the_host_unless_given() {
    let base = ClientBuilder::new("alice@contoso.com".into()).memory_secret_store();
    let host = FakeHost::new(&["192.0.2.53", "[2001:db8::53]:5353"], None);
    assert!(base.network_info(host.clone()).build().is_ok());
    assert_eq!(host.calls.lock().unwrap().as_slice(), ["dns_servers"]);
    let given = FakeHost::new(&["192.0.2.53"], None);
    assert!(base.network_info(given.clone()).dns_servers(vec!["192.0.2.1".into()]).build().is_ok());
    assert!(given.calls.lock().unwrap().is_empty(), "not asked when dnsServers() gave them");

    let (class, detail, _) = configuration(base.network_info(FakeHost::new(&["dns.example"], None)).build());
    assert_eq!(class, "invalid-option");
    assert!(detail.contains("NetworkInfo") && detail.contains("dns.example"), "{detail}");
    let failing = FakeHost::new(&[], Some(HostError::Unavailable { detail: "no active network".into() }));
    let (class, detail, hint) = configuration(base.network_info(failing).build());
    assert_eq!(class, "network-info");
    assert!(detail.contains("no active network") && hint.contains("dnsServers"), "{detail}");
}

#[test]
fn a_failed_report_becomes_sign_in_failed_with_stage_class_code_and_hint() {
    let step = |stage, outcome, class: Option<&str>| sfbkit::StepRecord {
        name: stage,
        step: "REGISTER".into(),
        host: "pool01.contoso.com".into(),
        duration_ms: 1.0,
        outcome,
        detail: "403, Forbidden".into(),
        error_class: class.map(str::to_string),
        hint: Some("enable the user for Skype for Business".into()),
    };
    let report = sfbkit::SignInReport {
        target: "pool01.contoso.com".into(),
        user: "sip:alice@contoso.com".into(),
        result: sfbkit::SignInResult::Failure,
        latency_ms: 12.5,
        error: Some("403, Forbidden".into()),
        diagnosis: Some("ErrorCode=4141,source=pool01.contoso.com,Reason=User disabled".into()),
        hint: None,
        stages: vec![
            step(sfbkit::Stage::ServerDiscovery, sfbkit::Outcome::Success, None),
            step(sfbkit::Stage::Authentication, sfbkit::Outcome::Failure, Some("disabled-user")),
        ],
        warnings: vec![],
        registration: None,
    };
    match SfbError::sign_in_failed(&report) {
        SfbError::SignInFailed { stage, error_class, code, detail, diagnosis, hint, report } => {
            assert_eq!(stage, Some(Stage::Authentication));
            assert_eq!((error_class.as_str(), code), ("disabled-user", Some(4141)));
            assert_eq!(detail, "403, Forbidden");
            assert!(diagnosis.is_some_and(|d| d.contains("User disabled")));
            assert_eq!(
                hint, "enable the user for Skype for Business",
                "the failed step's hint when the report has none"
            );
            assert!(!report.succeeded && report.steps.len() == 2 && report.failed_stage == Some(Stage::Authentication));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Stage::SettingsAndPolicies.display_name(), "Settings and Policies");
}

#[test]
fn the_facades_errors_keep_their_class_code_and_hint() {
    let refused = sfbkit::CommandError::Refused { code: 403, reason: "Forbidden".into(), diagnostics: None };
    match SfbError::from(sfbkit::ClientError::Command(refused)) {
        SfbError::CommandFailed { error_class, code, hint, .. } => {
            assert_eq!((error_class.as_str(), code), ("refused", Some(403)));
            assert!(!hint.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        SfbError::from(sfbkit::ClientError::NotSignedIn),
        SfbError::NotSignedIn { ref error_class, .. } if error_class == "not-signed-in"
    ));
}

struct FakeHost {
    addresses: Vec<String>,
    fail: Option<HostError>,
    calls: Mutex<Vec<String>>,
}

impl FakeHost {
    fn new(addresses: &[&str], fail: Option<HostError>) -> Arc<FakeHost> {
        Arc::new(FakeHost {
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            fail,
            calls: Mutex::default(),
        })
    }
    fn answer<T>(&self, call: &str, ok: T) -> Result<T, HostError> {
        self.calls.lock().unwrap().push(call.into());
        match &self.fail {
            Some(HostError::Unavailable { detail }) => Err(HostError::Unavailable { detail: detail.clone() }),
            Some(e) => Err(HostError::Failed { detail: e.to_string() }),
            None => Ok(ok),
        }
    }
}

impl NetworkInfo for FakeHost {
    fn adapters(&self) -> Result<Vec<Adapter>, HostError> {
        let adapter = Adapter {
            name: "wlan0".into(),
            index: 3,
            addresses: self.addresses.clone(),
            is_up: true,
            is_loopback: false,
            has_default_route: true,
            kind: "Wi-Fi".into(),
        };
        self.answer("adapters", vec![adapter])
    }
    fn route_to(&self, destination: String) -> Result<Option<String>, HostError> {
        self.answer(
            "route_to",
            Some(if destination.starts_with("127.") { "127.0.0.1" } else { "not an address" }.into()),
        )
    }
    fn dns_servers(&self) -> Result<Vec<String>, HostError> {
        self.answer("dns_servers", self.addresses.clone())
    }
}

impl SecretStore for FakeHost {
    fn get(&self, _: String, _: String) -> Result<Option<Vec<u8>>, HostError> {
        self.answer("get", None)
    }
    fn set(&self, _: String, _: String, _: Vec<u8>) -> Result<(), HostError> {
        self.answer("set", ())
    }
    fn delete(&self, _: String, _: String) -> Result<bool, HostError> {
        self.answer("delete", false)
    }
    fn describe(&self) -> String {
        "fake".into()
    }
}

impl DeviceProvider for FakeHost {
    fn audio_capture(&self) -> Result<Vec<Device>, HostError> {
        // Listed by the host under the wrong kind: the method it came from decides.
        let mic = Device {
            id: "m".into(),
            name: "Mic".into(),
            kind: DeviceKind::VideoCapture,
            is_default: true,
            volume_percent: Some(70),
        };
        self.answer("audio_capture", vec![mic])
    }
    fn audio_render(&self) -> Result<Vec<Device>, HostError> {
        self.answer("audio_render", vec![])
    }
    fn video_capture(&self) -> Result<Vec<Device>, HostError> {
        self.answer("video_capture", vec![])
    }
    fn notes(&self) -> Result<Vec<String>, HostError> {
        self.answer("notes", vec!["from the host".into()])
    }
}

#[test]
fn host_answers_become_the_cores_types_and_bad_ones_typed_errors() {
    let good = HostNetwork(FakeHost::new(&["192.0.2.10", "2001:db8::10"], None));
    let adapters = good.adapters().expect("adapters");
    assert_eq!(
        adapters[0].addresses,
        vec!["192.0.2.10".parse::<std::net::IpAddr>().unwrap(), "2001:db8::10".parse().unwrap()]
    );
    assert_eq!(good.route_to("127.0.0.1".parse().unwrap()), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(good.route_to("192.0.2.1".parse().unwrap()), None, "an answer that is no address is no route");

    let bad = HostNetwork(FakeHost::new(&["wlan0's address"], None));
    let err = bad.adapters().expect_err("not an IP address").to_string();
    assert!(err.contains("wlan0's address") && err.contains("wlan0"), "{err}");

    let devices = HostDevices(FakeHost::new(&[], None));
    let mic = &devices.audio_capture().unwrap()[0];
    assert_eq!((mic.kind, mic.volume_percent), (sfbkit::local::DeviceKind::AudioCapture, Some(70)));
    assert_eq!(devices.notes(), vec!["from the host".to_string()]);
    let broken = HostDevices(FakeHost::new(&[], Some(HostError::Failed { detail: "no permission".into() })));
    assert!(broken.video_capture().unwrap_err().to_string().contains("no permission"));
    assert!(broken.notes()[0].contains("no permission"));

    let locked = HostKeystore(FakeHost::new(&[], Some(HostError::Unavailable { detail: "device locked".into() })));
    assert_eq!(locked.get("sfbkit", "alice").unwrap_err(), KeystoreError::Unavailable("device locked".into()));
    assert_eq!(locked.describe(), "fake");
    let failing = HostKeystore(FakeHost::new(&[], Some(HostError::Failed { detail: "threw".into() })));
    assert!(matches!(failing.set("sfbkit", "alice", b"x"), Err(KeystoreError::Refused(m)) if m.contains("threw")));
}

#[test]
fn a_panic_on_the_runtime_is_an_internal_error_and_the_runtime_goes_on() {
    let panicked = runtime().block_on(run(async {
        if true {
            panic!("deliberate (test)");
        }
    }));
    assert!(
        matches!(panicked, Err(SfbError::Internal { ref detail }) if detail.contains("deliberate")),
        "{panicked:?}"
    );
    assert_eq!(runtime().block_on(run(async { 7 })).ok(), Some(7));
}

#[test]
fn before_sign_in_commands_and_views_are_typed_errors_and_a_cancelled_wait_is_harmless() {
    let client = ClientBuilder::new("alice@contoso.com".into()).memory_secret_store().build().expect("client");
    assert_eq!(client.try_next_event(), None);
    assert!(!client.is_signed_in());
    assert!(
        matches!(client.normalize("123".into()), Err(SfbError::NotReady { ref error_class, .. }) if error_class == "no-location-profile")
    );
    let not_signed_in = runtime().block_on(client.set_note(Some("x".into())));
    assert!(matches!(not_signed_in, Err(SfbError::NotSignedIn { .. })), "{not_signed_in:?}");
    // A cancelled wait (the timeout drops the future) leaves the client usable.
    let waited =
        runtime().block_on(async { tokio::time::timeout(Duration::from_millis(50), client.next_event()).await });
    assert!(waited.is_err());
}
