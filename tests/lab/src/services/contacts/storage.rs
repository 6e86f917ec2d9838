//! Where contact lists live between runs: one JSON file per user (`contacts-<user@domain>.json`, the AOR inside
//! so a file name never has to be decoded), written to a temporary file and renamed into place.

use std::io::Write as _;
use std::path::Path;

use super::{ContactError, ContactList, StoredList};
use crate::services::bare_aor;

/// `contacts-<user@domain>.json`, with anything but `[a-z0-9@._-]` replaced by `_`.
pub(super) fn file_name(key: &str) -> String {
    let safe: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-') { c } else { '_' })
        .collect();
    format!("contacts-{safe}.json")
}

pub(super) fn load_dir(dir: &Path) -> Result<Vec<(String, ContactList)>, ContactError> {
    let io = |source| ContactError::Io { path: dir.to_path_buf(), source };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if !(name.starts_with("contacts-") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ContactError::Io { path: path.clone(), source })?;
        let stored: StoredList = serde_json::from_str(&text)
            .map_err(|e| ContactError::Corrupt { path: path.clone(), message: e.to_string() })?;
        out.push((bare_aor(&stored.aor), stored.list));
    }
    Ok(out)
}

/// Writes to a temporary file beside `path`, then renames it into place: a reader never sees half a list.
pub(super) fn write_atomic(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{:08x}", rand::random::<u32>()));
    let result = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(contents.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
