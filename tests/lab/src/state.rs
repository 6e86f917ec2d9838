//! The lab's state directory: what outlives one run of a pool. Today that is the lab CA, so a QA machine trusts
//! it once and certificates issued by one run (TLS-DSK user certificates in a client's keystore) still verify
//! against the next.
//!
//! Layout: `ca.pem` (the CA certificate) and `ca-key.pem` (its private key, mode 0600 on unix). The default
//! directory is `$XDG_CACHE_HOME/sfbkit/lab`, else `$HOME/.cache/sfbkit/lab` ([`default_dir`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::ca::{CaError, LabCa};

/// The CA certificate's file name in the state directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key's file name in the state directory (owner-only on unix).
pub const CA_KEY_FILE: &str = "ca-key.pem";

/// Why the state directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Neither `XDG_CACHE_HOME` nor `HOME` is set: name a directory explicitly.
    #[error("no state directory: set XDG_CACHE_HOME or HOME, or name a directory")]
    NoHome,
    /// Creating, reading or writing a file of the state directory failed.
    #[error("lab state {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Only one of the CA's two files exists: restore the other, or remove both to start with a new CA.
    #[error("lab state {dir}: {present} exists without {missing}; restore it, or remove both for a new CA")]
    HalfCa {
        /// The state directory.
        dir: PathBuf,
        /// The file found.
        present: &'static str,
        /// The file missing.
        missing: &'static str,
    },
    /// The stored CA could not be loaded, or a new one could not be made.
    #[error("lab state CA: {0}")]
    Ca(#[from] CaError),
}

/// `$XDG_CACHE_HOME/sfbkit/lab`, else `$HOME/.cache/sfbkit/lab` (not created; [`LabState::open`] does).
pub fn default_dir() -> Result<PathBuf, StateError> {
    let nonempty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(cache) = nonempty("XDG_CACHE_HOME") {
        return Ok(cache.join("sfbkit").join("lab"));
    }
    nonempty("HOME").map(|home| home.join(".cache").join("sfbkit").join("lab")).ok_or(StateError::NoHome)
}

/// An open state directory.
#[derive(Debug, Clone)]
pub struct LabState {
    dir: PathBuf,
}

impl LabState {
    /// Opens `dir`, creating it (and its parents) when missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<LabState, StateError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| StateError::Io { path: dir.clone(), source })?;
        Ok(LabState { dir })
    }

    /// Opens [`default_dir`].
    pub fn open_default() -> Result<LabState, StateError> {
        LabState::open(default_dir()?)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The stored CA, or `generate()`'s, stored for next time.
    pub fn load_or_create_ca(&self, generate: impl FnOnce() -> Result<LabCa, CaError>) -> Result<LabCa, StateError> {
        let (cert_path, key_path) = (self.dir.join(CA_CERT_FILE), self.dir.join(CA_KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                let cert = read(&cert_path)?;
                let key = read(&key_path)?;
                Ok(LabCa::from_pem_pair(&cert, &key)?)
            }
            (false, false) => {
                let ca = generate()?;
                let (cert, key) = ca.to_pem_pair();
                // The key first: a crash between the two leaves a key without a certificate, refused above
                // rather than silently replaced.
                write(&key_path, &key, true)?;
                write(&cert_path, &cert, false)?;
                tracing::info!(dir = %self.dir.display(), "lab state: new CA stored");
                Ok(ca)
            }
            (true, false) => {
                Err(StateError::HalfCa { dir: self.dir.clone(), present: CA_CERT_FILE, missing: CA_KEY_FILE })
            }
            (false, true) => {
                Err(StateError::HalfCa { dir: self.dir.clone(), present: CA_KEY_FILE, missing: CA_CERT_FILE })
            }
        }
    }
}

fn read(path: &Path) -> Result<String, StateError> {
    std::fs::read_to_string(path).map_err(|source| StateError::Io { path: path.to_path_buf(), source })
}

/// Writes `contents` to a temporary file beside `path` and renames it into place, so a reader never sees half a
/// file. `secret` files are created owner-only on unix (before any byte is written).
fn write(path: &Path, contents: &str, secret: bool) -> Result<(), StateError> {
    let io = |source| StateError::Io { path: path.to_path_buf(), source };
    let tmp = path.with_extension(format!("tmp{:08x}", rand::random::<u32>()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let result = options.open(&tmp).and_then(|mut f| {
        f.write_all(contents.as_bytes())?;
        f.sync_all()
    });
    let result = result.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> PathBuf {
        std::env::temp_dir().join(format!("sfbkit-lab-state-{:016x}", rand::random::<u64>()))
    }

    #[test]
    fn the_ca_is_created_once_then_loaded() {
        let dir = tempdir();
        let state = LabState::open(dir.join("nested")).unwrap();
        let first = state.load_or_create_ca(|| LabCa::generate("state test CA")).unwrap();
        let again = LabState::open(dir.join("nested"))
            .unwrap()
            .load_or_create_ca(|| panic!("must not generate a second CA"))
            .unwrap();
        assert_eq!(first.ca_pem(), again.ca_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(state.dir().join(CA_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_file(state.dir().join(CA_CERT_FILE)).unwrap();
        let err = state.load_or_create_ca(|| LabCa::generate("x")).unwrap_err();
        assert!(matches!(err, StateError::HalfCa { present: CA_KEY_FILE, .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_broken_key_file_is_reported_not_replaced() {
        let dir = tempdir();
        let state = LabState::open(&dir).unwrap();
        state.load_or_create_ca(|| LabCa::generate("state test CA")).unwrap();
        std::fs::write(dir.join(CA_KEY_FILE), "not a key").unwrap();
        let err = state.load_or_create_ca(|| LabCa::generate("x")).unwrap_err();
        assert!(matches!(err, StateError::Ca(CaError::CaKeyPem(_))), "{err}");
        assert!(!format!("{err} {err:?}").contains("not a key"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
