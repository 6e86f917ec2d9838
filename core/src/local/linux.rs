//! [`LinuxDevices`]: media devices from plain files, with no C library.
//!
//! Why not cpal or v4l: cpal links ALSA (`libasound2-dev` at build time) and v4l/nokhwa run bindgen (needs
//! libclang); a fresh CI machine has neither, and a list of names does not justify them
//! (protocol/DEPENDENCIES.md §8). The kernel already publishes the names:
//!
//! - `/proc/asound/cards`: one header line per card, ` 0 [PCH            ]: HDA-Intel - HDA Intel PCH`,
//!   followed by an indented detail line.
//! - `/proc/asound/pcm`: one line per PCM device, `00-00: ALC3232 Analog : ALC3232 Analog : playback 1 :
//!   capture 1`; the `playback`/`capture` fields say which directions it has.
//! - `/sys/class/video4linux/videoN/name`: the camera name; `index` is 0 for a camera's main node (UVC
//!   cameras add a metadata node with index 1, which is not a camera of its own).
//!
//! What the files cannot say: the volume (it lives in the ALSA mixer, reachable only through ALSA's
//! control interface, so it is reported as `None`), and a default set in `~/.asoundrc` or
//! `/etc/asound.conf`. ALSA's built-in default is card 0, device 0, so the default here is the first
//! device with the wanted direction on the lowest-numbered card.
//!
//! Every line is parsed defensively: a line that does not look as expected is skipped, never a panic.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::devices::{Device, DeviceError, DeviceKind, DeviceProvider};

/// Enumerates ALSA PCM devices and V4L2 cameras by reading `/proc/asound` and `/sys/class/video4linux`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxDevices {
    proc_asound: PathBuf,
    sys_v4l: PathBuf,
}

impl Default for LinuxDevices {
    fn default() -> Self {
        LinuxDevices::new()
    }
}

impl LinuxDevices {
    /// Reads the real `/proc/asound` and `/sys/class/video4linux`.
    pub fn new() -> Self {
        LinuxDevices::with_roots(PathBuf::from("/proc/asound"), PathBuf::from("/sys/class/video4linux"))
    }

    /// Reads fixture trees instead of the real ones, so tests (and containers with bind mounts) can
    /// point it elsewhere.
    pub fn with_roots(proc_asound: PathBuf, sys_v4l: PathBuf) -> Self {
        LinuxDevices { proc_asound, sys_v4l }
    }

    /// ALSA PCM devices that have `direction` ("playback" or "capture"), ordered by card then device.
    fn pcm_devices(&self, kind: DeviceKind) -> Result<Vec<Device>, DeviceError> {
        let direction = if kind == DeviceKind::AudioCapture { "capture" } else { "playback" };
        let cards = read_optional(&self.proc_asound.join("cards"))?.map(|t| parse_cards(&t)).unwrap_or_default();
        let Some(pcm_text) = read_optional(&self.proc_asound.join("pcm"))? else {
            return Ok(Vec::new());
        };
        let mut pcms: Vec<Pcm> = parse_pcm(&pcm_text).into_iter().filter(|p| p.has(direction)).collect();
        pcms.sort_by_key(|p| (p.card, p.device));
        let devices = pcms
            .iter()
            .enumerate()
            .map(|(i, pcm)| {
                let card = cards.iter().find(|c| c.number == pcm.card);
                Device {
                    id: alsa_id(pcm, card),
                    name: match card {
                        Some(card) if !card.long_name.is_empty() => format!("{}: {}", card.long_name, pcm.name),
                        _ => pcm.name.clone(),
                    },
                    kind,
                    // ALSA's own default is card 0 device 0; the first in (card, device) order stands in.
                    is_default: i == 0,
                    volume_percent: None,
                }
            })
            .collect();
        Ok(devices)
    }

    /// V4L2 capture nodes, ordered by their number.
    fn cameras(&self) -> Result<Vec<Device>, DeviceError> {
        let entries = match std::fs::read_dir(&self.sys_v4l) {
            Ok(entries) => entries,
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(DeviceError::from_io(&self.sys_v4l, &err)),
        };
        let mut nodes: Vec<(u32, Device)> = Vec::new();
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(number) = file_name.strip_prefix("video").and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let dir = entry.path();
            if !is_main_node(&dir) {
                continue;
            }
            let name = read_optional(&dir.join("name"))
                .ok()
                .flatten()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| file_name.clone());
            let device = Device {
                id: format!("/dev/{file_name}"),
                name,
                kind: DeviceKind::VideoCapture,
                is_default: false,
                volume_percent: None,
            };
            nodes.push((number, device));
        }
        nodes.sort_by_key(|(number, _)| *number);
        let mut devices: Vec<Device> = nodes.into_iter().map(|(_, d)| d).collect();
        if let Some(first) = devices.first_mut() {
            first.is_default = true;
        }
        Ok(devices)
    }
}

impl DeviceProvider for LinuxDevices {
    fn audio_capture(&self) -> Result<Vec<Device>, DeviceError> {
        self.pcm_devices(DeviceKind::AudioCapture)
    }

    fn audio_render(&self) -> Result<Vec<Device>, DeviceError> {
        self.pcm_devices(DeviceKind::AudioRender)
    }

    fn video_capture(&self) -> Result<Vec<Device>, DeviceError> {
        self.cameras()
    }

    fn notes(&self) -> Vec<String> {
        let has_audio = read_optional(&self.proc_asound.join("pcm"))
            .ok()
            .flatten()
            .is_some_and(|text| !parse_pcm(&text).is_empty());
        if has_audio {
            vec!["volume not readable without ALSA mixer access (/proc/asound has no mixer levels)".to_string()]
        } else {
            Vec::new()
        }
    }
}

/// Reads a text file; `None` when it does not exist (no sound support is not an error). Invalid UTF-8 is
/// replaced rather than rejected, since only names come out of it.
fn read_optional(path: &Path) -> Result<Option<String>, DeviceError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(err) if err.kind() == ErrorKind::NotFound => Ok(None),
        Err(err) => Err(DeviceError::from_io(path, &err)),
    }
}

/// False for secondary nodes of one camera (`index` other than 0). A missing or odd `index` file counts
/// as a main node: listing one node too many beats hiding a camera.
fn is_main_node(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("index")) {
        Ok(text) => text.trim().parse::<u32>().map_or(true, |index| index == 0),
        Err(_) => true,
    }
}

/// One sound card from `/proc/asound/cards`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Card {
    pub(crate) number: u32,
    /// The short id in brackets (`PCH`), which ALSA accepts as `CARD=PCH` and which survives renumbering.
    pub(crate) id: String,
    pub(crate) long_name: String,
}

/// One PCM device from `/proc/asound/pcm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pcm {
    pub(crate) card: u32,
    pub(crate) device: u32,
    pub(crate) name: String,
    /// `playback` and/or `capture`.
    pub(crate) directions: Vec<String>,
}

impl Pcm {
    fn has(&self, direction: &str) -> bool {
        self.directions.iter().any(|d| d == direction)
    }
}

/// `hw:CARD=<id>,DEV=<n>` when the card id is known (stable across card renumbering), else `hw:<c>,<d>`.
fn alsa_id(pcm: &Pcm, card: Option<&Card>) -> String {
    match card {
        Some(card) if !card.id.is_empty() && !card.id.contains([',', ' ']) => {
            format!("hw:CARD={},DEV={}", card.id, pcm.device)
        }
        _ => format!("hw:{},{}", pcm.card, pcm.device),
    }
}

/// Parses the header lines of `/proc/asound/cards`; detail lines and anything malformed are skipped.
pub(crate) fn parse_cards(text: &str) -> Vec<Card> {
    text.lines().filter_map(parse_card_line).collect()
}

fn parse_card_line(line: &str) -> Option<Card> {
    let line = line.trim_start();
    let (number, rest) = line.split_once(char::is_whitespace)?;
    let number = number.parse::<u32>().ok()?;
    let rest = rest.trim_start().strip_prefix('[')?;
    let (id, rest) = rest.split_once(']')?;
    let description = rest.trim_start().strip_prefix(':')?.trim();
    // "<driver> - <long name>"; without the separator the whole description is the name.
    let long_name = description.split_once(" - ").map_or(description, |(_, name)| name).trim();
    Some(Card { number, id: id.trim().to_string(), long_name: long_name.to_string() })
}

/// Parses `/proc/asound/pcm`; malformed lines are skipped.
pub(crate) fn parse_pcm(text: &str) -> Vec<Pcm> {
    text.lines().filter_map(parse_pcm_line).collect()
}

fn parse_pcm_line(line: &str) -> Option<Pcm> {
    let (address, rest) = line.split_once(':')?;
    let (card, device) = address.trim().split_once('-')?;
    let card = card.parse::<u32>().ok()?;
    let device = device.parse::<u32>().ok()?;
    let mut directions = Vec::new();
    let mut names = Vec::new();
    for field in rest.split(" : ").map(str::trim).filter(|f| !f.is_empty()) {
        match direction_field(field) {
            Some((word, count)) => {
                if count > 0 {
                    directions.push(word.to_string());
                }
            }
            None => names.push(field),
        }
    }
    // Fields are "<id> : <name> : <directions...>"; the name is the second, the id stands in without it.
    let name = names.get(1).or(names.first()).map_or_else(|| format!("PCM {card}-{device}"), |n| n.to_string());
    Some(Pcm { card, device, name, directions })
}

/// `playback 1` → `("playback", 1)`; `None` for any other field (such as a name).
fn direction_field(field: &str) -> Option<(&str, u32)> {
    let (word, count) = field.split_once(' ')?;
    if word != "playback" && word != "capture" {
        return None;
    }
    Some((word, count.trim().parse().ok()?))
}

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
