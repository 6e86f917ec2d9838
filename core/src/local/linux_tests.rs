//! Tests of [`LinuxDevices`] on fixture trees built in a tempdir.

use std::fs;
use std::path::Path;

use super::*;
use crate::local::devices::{DeviceProvider, discover_devices};

const CARDS: &str = " 0 [PCH            ]: HDA-Intel - HDA Intel PCH
                      HDA Intel PCH at 0xf7f10000 irq 32
 1 [C920           ]: USB-Audio - HD Pro Webcam C920
                      HD Pro Webcam C920 at usb-0000:00:14.0-2, high speed
";

const PCM: &str = "00-00: ALC3232 Analog : ALC3232 Analog : playback 1 : capture 1
00-03: HDMI 0 : HDMI 0 : playback 1
01-00: USB Audio : USB Audio : capture 1
";

/// A fixture: `<tmp>/asound/{cards,pcm}` and `<tmp>/v4l/videoN/{name,index}`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("asound")).expect("mkdir asound");
        fs::create_dir_all(dir.path().join("v4l")).expect("mkdir v4l");
        Fixture { dir }
    }

    fn asound(&self, file: &str, text: &str) -> &Self {
        fs::write(self.dir.path().join("asound").join(file), text).expect("write asound file");
        self
    }

    fn camera(&self, node: &str, name: Option<&str>, index: Option<&str>) -> &Self {
        let dir = self.dir.path().join("v4l").join(node);
        fs::create_dir_all(&dir).expect("mkdir node");
        if let Some(name) = name {
            fs::write(dir.join("name"), name).expect("write name");
        }
        if let Some(index) = index {
            fs::write(dir.join("index"), index).expect("write index");
        }
        self
    }

    fn provider(&self) -> LinuxDevices {
        LinuxDevices::with_roots(self.path("asound"), self.path("v4l"))
    }

    fn path(&self, sub: &str) -> std::path::PathBuf {
        self.dir.path().join(sub)
    }
}

#[test]
fn parses_cards_and_pcm_into_devices() {
    let fx = Fixture::new();
    fx.asound("cards", CARDS).asound("pcm", PCM);
    let p = fx.provider();

    let render = p.audio_render().expect("render");
    let ids: Vec<&str> = render.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["hw:CARD=PCH,DEV=0", "hw:CARD=PCH,DEV=3"]);
    assert_eq!(render[0].name, "HDA Intel PCH: ALC3232 Analog");
    assert!(render[0].is_default && !render[1].is_default);
    assert!(render.iter().all(|d| d.volume_percent.is_none() && d.kind == DeviceKind::AudioRender));

    let capture = p.audio_capture().expect("capture");
    let ids: Vec<&str> = capture.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["hw:CARD=PCH,DEV=0", "hw:CARD=C920,DEV=0"]);
    assert_eq!(capture[1].name, "HD Pro Webcam C920: USB Audio");
    assert!(capture[0].is_default);
}

#[test]
fn default_is_lowest_card_even_when_listed_later() {
    let fx = Fixture::new();
    fx.asound("pcm", "01-00: B : B : capture 1\n00-02: A : A : capture 1\n");
    let capture = fx.provider().audio_capture().expect("capture");
    assert_eq!(capture[0].id, "hw:0,2", "no cards file: numeric ids");
    assert!(capture[0].is_default);
    assert_eq!(capture[0].name, "A");
}

#[test]
fn missing_trees_are_a_headless_machine_not_an_error() {
    let p = LinuxDevices::with_roots("/nonexistent/asound".into(), "/nonexistent/v4l".into());
    assert_eq!(p.audio_capture(), Ok(vec![]));
    assert_eq!(p.audio_render(), Ok(vec![]));
    assert_eq!(p.video_capture(), Ok(vec![]));
    assert!(p.notes().is_empty(), "no audio, so no volume note");

    let summary = discover_devices(&p);
    assert!(summary.default_audio_capture.is_none() && summary.default_video_capture.is_none());
    assert_eq!(summary.notes.len(), 3, "{:?}", summary.notes);
    assert!(summary.notes.iter().all(|n| n.contains("headless")));
}

#[test]
fn no_soundcards_banner_gives_no_devices() {
    let fx = Fixture::new();
    fx.asound("cards", "--- no soundcards ---\n").asound("pcm", "");
    assert_eq!(fx.provider().audio_render(), Ok(vec![]));
}

#[test]
fn cameras_skip_metadata_nodes_and_sort_numerically() {
    let fx = Fixture::new();
    fx.camera("video10", Some("Second Cam\n"), Some("0\n"))
        .camera("video2", Some("HD Pro Webcam C920\n"), Some("0\n"))
        .camera("video3", Some("HD Pro Webcam C920\n"), Some("1\n"))
        .camera("video4", None, None)
        .camera("v4l-subdev0", Some("sensor"), None)
        .camera("videoX", Some("junk"), None);
    let cams = fx.provider().video_capture().expect("cameras");
    let ids: Vec<&str> = cams.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["/dev/video2", "/dev/video4", "/dev/video10"]);
    assert_eq!(cams[0].name, "HD Pro Webcam C920");
    assert_eq!(cams[1].name, "video4", "no name file: the node name stands in");
    assert!(cams[0].is_default && !cams[1].is_default);
}

#[test]
fn volume_note_only_when_there_is_audio() {
    let fx = Fixture::new();
    fx.asound("cards", CARDS).asound("pcm", PCM);
    let summary = discover_devices(&fx.provider());
    assert!(summary.notes.iter().any(|n| n.contains("ALSA mixer")), "{:?}", summary.notes);
    assert_eq!(summary.default_audio_render.as_deref(), Some("hw:CARD=PCH,DEV=0"));
    assert_eq!(summary.default_audio_capture.as_deref(), Some("hw:CARD=PCH,DEV=0"));
}

#[test]
fn garbage_lines_never_panic() {
    let garbage = [
        "",
        ":",
        "-:",
        "00-:",
        "-00:",
        "00-00",
        "00-00:",
        "00-00: : : : :",
        "99999999999-0: x : y : playback 1",
        "00-00: a : b : playback : capture x : playback -1",
        "00-00: only id",
        "\u{0}\u{1}\u{ff}",
        "0 [",
        "0 [abc",
        "0 [abc]",
        "0 [abc]:",
        " 7 [  ]: - ",
        "x [id]: drv - name",
        "😀-😀: 😀 : 😀 : capture 1",
        "00-05: ok : Fine : playback 1",
    ]
    .join("\n");
    let fx = Fixture::new();
    fx.asound("cards", &garbage).asound("pcm", &garbage);
    fs::write(fx.path("asound").join("bin"), [0xffu8, 0xfe, 0x00]).expect("write");
    let p = fx.provider();
    let capture = p.audio_capture().expect("capture");
    let render = p.audio_render().expect("render");
    // Only well-formed addresses with a positive direction count survive.
    assert!(capture.is_empty(), "{capture:?}");
    assert_eq!(render.len(), 1, "{render:?}");
    assert_eq!(render[0].id, "hw:CARD=abc,DEV=5");
    let _ = discover_devices(&p);

    let cards = parse_cards(&garbage);
    assert!(cards.iter().all(|c| c.number == 0 || c.number == 7));
}

#[test]
fn parse_pcm_reads_directions_and_names() {
    let pcms = parse_pcm("00-00: id : Name : playback 1 : capture 1\n00-01: Only : playback 0 : capture 2\n");
    assert_eq!(pcms.len(), 2);
    assert_eq!(pcms[0].name, "Name");
    assert_eq!(pcms[0].directions, ["playback", "capture"]);
    assert_eq!(pcms[1].name, "Only", "one name field: it stands in");
    assert_eq!(pcms[1].directions, ["capture"], "playback 0 means no playback substream");
}

#[test]
fn invalid_utf8_names_are_replaced_not_rejected() {
    let fx = Fixture::new();
    fs::write(fx.path("asound").join("pcm"), b"00-00: a : Mic \xff : capture 1\n").expect("write");
    let capture = fx.provider().audio_capture().expect("capture");
    assert_eq!(capture.len(), 1);
    assert!(capture[0].name.starts_with("Mic "));
}

#[cfg(unix)]
#[test]
fn unreadable_pcm_is_an_error_and_the_summary_survives_it() {
    use std::os::unix::fs::PermissionsExt;
    let fx = Fixture::new();
    fx.asound("pcm", PCM);
    let pcm = fx.path("asound").join("pcm");
    fs::set_permissions(&pcm, fs::Permissions::from_mode(0o000)).expect("chmod");
    if fs::read(&pcm).is_ok() {
        return; // running as root: permissions are not enforced, nothing to test.
    }
    let p = fx.provider();
    assert!(matches!(p.audio_capture(), Err(DeviceError::PermissionDenied { .. })));
    let summary = discover_devices(&p);
    assert!(summary.audio_capture.is_empty());
    assert!(summary.notes.iter().any(|n| n.contains("permission denied")), "{:?}", summary.notes);
}

#[test]
fn pcm_that_is_a_directory_is_unreadable_not_a_panic() {
    let fx = Fixture::new();
    fs::create_dir_all(fx.path("asound").join("pcm")).expect("mkdir");
    let err = fx.provider().audio_render().expect_err("a directory is not a list");
    assert!(matches!(err, DeviceError::Unreadable { .. }), "{err:?}");
    assert!(Path::new(&fx.path("asound")).exists());
}
