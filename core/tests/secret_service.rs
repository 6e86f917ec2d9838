//! The Secret Service keystore backend (`sfbkit::keystore::OsKeystore`, module docs) against a real
//! gnome-keyring-daemon on a private D-Bus session bus, the way a Linux desktop keeps the TLS-DSK
//! certificate across reboots (DEPENDENCIES.md §3).
//!
//! The test owns every process it starts: a `dbus-daemon` with its own configuration (no service
//! activation, so nothing else is started behind the test's back), a `gnome-keyring-daemon
//! --foreground --unlock --components=secrets` whose password comes on stdin and whose keyrings live
//! in a temporary HOME, and this test binary re-executed with `DBUS_SESSION_BUS_ADDRESS` pointing at
//! that bus (so the test never changes its own environment). Each phase is bounded by a timeout and
//! every process is killed when the test ends, passes or fails.
//!
//! Phases: `absent` (bus present, no secrets service: the selection falls back to keyutils and a
//! forced Secret Service says why), `no-bus` (no `DBUS_SESSION_BUS_ADDRESS`), `present` (save, read
//! back through a second store, replace, and the key is not in the clear in the keyring files),
//! then both daemons are restarted on the same keyring files (a reboot): `locked` (the daemon
//! started without the password: reads and writes are refused with a hint to unlock, promptly)
//! and `reboot` (started with it: the certificate is read back, then deleted).
//!
//! gnome-keyring-daemon and dbus-daemon must be installed: `./scripts/test` installs them; without
//! them this test fails and says so.

#![cfg(target_os = "linux")]

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sfbkit::keystore::{Backend, KeystoreError, OsKeystore, SERVICE, SecretStore, StoredCertificate, Unavailability};

/// Set in the re-executed test binary to the phase it runs.
const PHASE: &str = "SFBKIT_SECRET_SERVICE_PHASE";
/// The temporary directory (keyring files, the expected blob) shared with the re-executed binary.
const WORKDIR: &str = "SFBKIT_SECRET_SERVICE_WORKDIR";
/// The password of the test's login keyring.
const PASSWORD: &str = "sfbkit-test-password";
/// One phase, including waiting for the daemon to take its bus name.
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);
const USER: &str = "sip:alice@contoso.lab";
const POOL: &str = "pool01.contoso.lab";

#[test]
fn gnome_keyring_round_trip() {
    match std::env::var(PHASE) {
        Ok(phase) => run_phase(&phase),
        Err(_) => orchestrate(),
    }
}

// ----- the re-executed binary: talks to the keystore -----

fn run_phase(phase: &str) {
    let workdir = PathBuf::from(std::env::var_os(WORKDIR).expect("workdir"));
    match phase {
        "absent" => phase_absent(),
        "no-bus" => phase_no_bus(),
        "present" => phase_present(&workdir),
        "reboot" => phase_reboot(&workdir),
        "locked" => phase_locked(),
        other => panic!("unknown phase {other}"),
    }
    // Proof for the parent that this phase ran to the end (not filtered out by the test harness).
    std::fs::write(workdir.join(format!("{phase}.done")), b"").unwrap();
}

fn phase_absent() {
    let auto = OsKeystore::new().expect("kernel keyutils as the fallback");
    assert_eq!(auto.backend(), Backend::KernelKeyutils);
    assert!(auto.selection_reason().contains("org.freedesktop.secrets"), "{}", auto.selection_reason());
    match OsKeystore::with_backend(Backend::SecretService) {
        Err(KeystoreError::BackendUnavailable {
            backend: Backend::SecretService,
            reason: Unavailability::SecretServiceNotRunning(why),
        }) => assert!(!why.is_empty()),
        other => panic!("forced Secret Service without a secrets service: {other:?}"),
    }
}

fn phase_no_bus() {
    let auto = OsKeystore::new().expect("kernel keyutils as the fallback");
    assert_eq!(auto.backend(), Backend::KernelKeyutils);
    assert!(auto.selection_reason().contains("DBUS_SESSION_BUS_ADDRESS"), "{}", auto.selection_reason());
    let err = OsKeystore::with_backend(Backend::SecretService).expect_err("no bus");
    assert_eq!(
        err,
        KeystoreError::BackendUnavailable { backend: Backend::SecretService, reason: Unavailability::NoSessionBus }
    );
    assert!(err.to_string().contains("dbus-run-session"), "{err}");
}

/// The daemon takes its bus name a moment after it starts: retry the forced backend until then.
fn secret_service() -> OsKeystore {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match OsKeystore::with_backend(Backend::SecretService) {
            Ok(store) => return store,
            Err(e) if Instant::now() > deadline => panic!("gnome-keyring never answered: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn certificate(name: &str) -> StoredCertificate {
    let issued = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("self-signed certificate");
    StoredCertificate {
        cert_chain_der: vec![issued.cert.der().to_vec()],
        key_pkcs8_der: issued.signing_key.serialize_der(),
    }
}

fn phase_present(workdir: &Path) {
    let first = secret_service();
    let auto = OsKeystore::new().expect("a keystore");
    assert_eq!(auto.backend(), Backend::SecretService, "{}", auto.selection_reason());
    assert_eq!(auto.describe(), "freedesktop Secret Service (gnome-keyring / KWallet)");

    assert_eq!(StoredCertificate::load(&auto, USER, POOL).unwrap(), None);
    let old = certificate("old.alice.contoso.lab");
    old.save(&auto, USER, POOL).expect("save");
    let cert = certificate("alice.contoso.lab");
    cert.save(&first, USER, POOL).expect("replace");
    // A second store instance (its own D-Bus connection) reads what the first wrote.
    assert_eq!(StoredCertificate::load(&first, USER, POOL).unwrap(), Some(cert.clone()));
    assert_eq!(StoredCertificate::load(&auto, USER, POOL).unwrap(), Some(cert.clone()), "replaced, not a second item");
    assert!(cert.validity().is_some());

    // Another account stays apart and can be deleted alone.
    let other = certificate("bob.contoso.lab");
    other.save(&first, "sip:bob@contoso.lab", POOL).unwrap();
    assert!(StoredCertificate::delete(&auto, "sip:bob@contoso.lab", POOL).unwrap());
    assert!(!StoredCertificate::delete(&auto, "sip:bob@contoso.lab", POOL).unwrap());
    assert_eq!(StoredCertificate::load(&first, USER, POOL).unwrap(), Some(cert.clone()));

    assert_key_not_in_the_clear(workdir, &cert);
    // The phase after the reboot compares against this (a throwaway test key).
    std::fs::write(workdir.join("expected.blob"), cert.encode()).unwrap();
}

/// The login keyring is locked (the daemon started without `--unlock`) and no prompter can show
/// the unlock prompt: gnome-keyring dismisses it at once and the store says to unlock the keyring.
fn phase_locked() {
    let store = secret_service();
    // The automatic choice does not pick a keyring nobody can unlock.
    let auto = OsKeystore::new().expect("kernel keyutils as the fallback");
    assert_eq!(auto.backend(), Backend::KernelKeyutils);
    assert!(auto.selection_reason().contains("locked"), "{}", auto.selection_reason());
    // Forced, it is used, and says what to do.
    let started = Instant::now();
    let refused = |result: Result<(), KeystoreError>| match result {
        Err(KeystoreError::Refused(why)) => assert!(why.contains("unlock"), "{why}"),
        other => panic!("a locked keyring: {other:?}"),
    };
    refused(StoredCertificate::load(&store, USER, POOL).map(|_| ()));
    refused(certificate("carol.contoso.lab").save(&store, "sip:carol@contoso.lab", POOL));
    assert!(started.elapsed() < Duration::from_secs(10), "refused promptly, not after a timeout");
}

fn phase_reboot(workdir: &Path) {
    let store = secret_service();
    let expected = std::fs::read(workdir.join("expected.blob")).unwrap();
    let expected = StoredCertificate::decode(&expected).unwrap();
    assert_eq!(StoredCertificate::load(&store, USER, POOL).unwrap(), Some(expected.clone()), "kept across restart");
    assert_key_not_in_the_clear(workdir, &expected);
    assert!(StoredCertificate::delete(&store, USER, POOL).unwrap());
    assert_eq!(StoredCertificate::load(&store, USER, POOL).unwrap(), None);
    assert_eq!(store.get(SERVICE, &StoredCertificate::account(USER, POOL)).unwrap(), None);
}

/// No 32-byte run of the private key appears in any file gnome-keyring wrote.
fn assert_key_not_in_the_clear(workdir: &Path, cert: &StoredCertificate) {
    let dir = workdir.join("data/keyrings");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("keyring directory").flatten().collect();
    assert!(!files.is_empty(), "gnome-keyring wrote its keyring files to {}", dir.display());
    for file in files {
        let bytes = std::fs::read(file.path()).unwrap();
        for window in cert.key_pkcs8_der.chunks(32).filter(|w| w.len() == 32) {
            assert!(
                !bytes.windows(32).any(|w| w == window),
                "{} holds part of the private key in the clear",
                file.path().display()
            );
        }
    }
}

// ----- the test itself: owns the daemons and runs the phases -----

fn orchestrate() {
    for tool in ["dbus-daemon", "gnome-keyring-daemon"] {
        assert!(
            on_path(tool),
            "{tool} is not installed, so the Secret Service test cannot run: run ./scripts/test, which installs \
             it (apt-get install --no-install-recommends gnome-keyring dbus)"
        );
    }
    let workdir = tempfile::tempdir().expect("temporary directory");
    let dir = workdir.path();
    for sub in ["home", "data", "config", "cache", "run"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::set_permissions(dir.join("run"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

    let mut session = Session::start(dir, Keyring::None);
    run_child(dir, "no-bus", None);
    run_child(dir, "absent", Some(&session.address));
    session.start_keyring(true);
    run_child(dir, "present", Some(&session.address));
    drop(session);
    // A reboot: new bus, new daemon, the same keyring files and password.
    let session = Session::start(dir, Keyring::Locked);
    run_child(dir, "locked", Some(&session.address));
    drop(session);
    let session = Session::start(dir, Keyring::Unlocked);
    run_child(dir, "reboot", Some(&session.address));
    drop(session);
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
}

/// Whether a [`Session`] runs gnome-keyring-daemon, and with the login keyring unlocked.
#[derive(Clone, Copy)]
enum Keyring {
    None,
    Unlocked,
    Locked,
}

/// A private dbus-daemon and, once started, gnome-keyring-daemon; both killed on drop.
struct Session {
    dir: PathBuf,
    address: String,
    bus: Child,
    keyring: Option<Child>,
}

impl Session {
    fn start(dir: &Path, keyring: Keyring) -> Session {
        // No <servicedir>: nothing is activated on this bus, only what the test starts.
        let config = format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig>\n  <type>session</type>\n  \
             <listen>unix:dir={}</listen>\n  <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
             <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n    \
             <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
            dir.display()
        );
        let config_path = dir.join("bus.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config_path.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(dir, "dbus-daemon.log"))
            .spawn()
            .expect("start dbus-daemon");
        let stdout = bus.stdout.take().expect("dbus-daemon stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.trim().starts_with("unix:") => line.trim().to_string(),
            other => {
                let _ = bus.kill();
                let _ = bus.wait();
                panic!("dbus-daemon printed no address ({other:?}): {}", read_log(dir, "dbus-daemon.log"))
            }
        };
        let mut session = Session { dir: dir.to_path_buf(), address, bus, keyring: None };
        match keyring {
            Keyring::None => {}
            Keyring::Unlocked => session.start_keyring(true),
            Keyring::Locked => session.start_keyring(false),
        }
        session
    }

    fn start_keyring(&mut self, unlock: bool) {
        let dir = &self.dir;
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets"])
            .args(unlock.then_some("--unlock"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("XDG_RUNTIME_DIR", dir.join("run"))
            .stdin(if unlock { Stdio::piped() } else { Stdio::null() })
            .stdout(log_file(dir, "gnome-keyring.log"))
            .stderr(log_file(dir, "gnome-keyring.err.log"))
            .spawn()
            .expect("start gnome-keyring-daemon");
        // --unlock reads the login keyring password from stdin up to EOF; a fresh HOME gets a new
        // login keyring (the default collection) with this password.
        if let Some(mut stdin) = keyring.stdin.take() {
            stdin.write_all(PASSWORD.as_bytes()).unwrap();
        }
        self.keyring = Some(keyring);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for child in self.keyring.iter_mut().chain(std::iter::once(&mut self.bus)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name)).unwrap();
    Stdio::from(file)
}

fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Runs one phase in this test binary, re-executed, with at most [`PHASE_TIMEOUT`].
fn run_child(dir: &Path, phase: &str, bus: Option<&str>) {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "gnome_keyring_round_trip", "--nocapture", "--test-threads=1"])
        .env(PHASE, phase)
        .env(WORKDIR, dir)
        .stdin(Stdio::null())
        .stdout(log_file(dir, &format!("{phase}.log")))
        .stderr(log_file(dir, &format!("{phase}.log")));
    match bus {
        Some(address) => cmd.env("DBUS_SESSION_BUS_ADDRESS", address),
        None => cmd.env_remove("DBUS_SESSION_BUS_ADDRESS"),
    };
    let mut child = cmd.spawn().expect("re-run the test binary");
    let deadline = Instant::now() + PHASE_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for the phase") {
            Some(status) => break Some(status),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let finished = dir.join(format!("{phase}.done")).is_file();
    if !finished || status.is_none_or(|s| !s.success()) {
        panic!(
            "phase {phase} {}:\n{}\n--- gnome-keyring-daemon:\n{}{}\n--- dbus-daemon:\n{}",
            match status {
                None => format!("did not finish within {} s", PHASE_TIMEOUT.as_secs()),
                Some(s) if s.success() => "exited without running the phase".to_string(),
                Some(s) => format!("failed ({s})"),
            },
            read_log(dir, &format!("{phase}.log")),
            read_log(dir, "gnome-keyring.log"),
            read_log(dir, "gnome-keyring.err.log"),
            read_log(dir, "dbus-daemon.log"),
        );
    }
}
