//! A keystore the application writes in Python: any object with `get(service, account)`,
//! `set(service, account, secret)` and `delete(service, account)` (for example `sfbkit.KeyringStore`, over the
//! `keyring` package's backends: Keychain, Credential Manager, the Secret Service).

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use sfbkit::keystore::{KeystoreError, SecretStore};

use crate::Failure;

pub(crate) struct PyKeystore {
    store: Py<PyAny>,
    /// The object's class name, for reports.
    name: String,
}

impl PyKeystore {
    pub(crate) fn new(store: &Bound<'_, PyAny>) -> Result<PyKeystore, Failure> {
        for method in ["get", "set", "delete"] {
            let callable = store.getattr(method).map(|m| m.is_callable()).unwrap_or(false);
            if !callable {
                return Err(Failure::new(
                    "ConfigurationError",
                    format!(
                        "keystore= must be \"os\", \"memory\" or an object with get(service, account), \
                         set(service, account, secret) and delete(service, account); this one has no {method}()"
                    ),
                )
                .with("stage", Some("Configuration"))
                .with("error_class", Some("invalid-option")));
            }
        }
        let name = store.get_type().qualname().map(|n| n.to_string()).unwrap_or_else(|_| "object".into());
        Ok(PyKeystore { store: store.clone().unbind(), name })
    }
}

/// What the Python store raised, as the keystore refusing; the message names the exception's class only
/// (its text could hold whatever the store was given).
fn refused(py: Python<'_>, e: PyErr, method: &str) -> KeystoreError {
    let class = e.get_type(py).qualname().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".into());
    KeystoreError::Refused(format!("the Python keystore's {method}() raised {class}"))
}

impl SecretStore for PyKeystore {
    fn get(&self, service: &str, account: &str) -> Result<Option<Vec<u8>>, KeystoreError> {
        Python::attach(|py| {
            let value = self.store.call_method1(py, "get", (service, account)).map_err(|e| refused(py, e, "get"))?;
            let value = value.bind(py);
            if value.is_none() {
                return Ok(None);
            }
            if let Ok(bytes) = value.cast::<PyBytes>() {
                return Ok(Some(bytes.as_bytes().to_vec()));
            }
            match value.extract::<String>() {
                Ok(text) => Ok(Some(text.into_bytes())),
                Err(_) => Err(KeystoreError::Damaged(format!(
                    "the Python keystore's get() returned {}, not bytes, str or None",
                    value.get_type().qualname().map(|n| n.to_string()).unwrap_or_default()
                ))),
            }
        })
    }

    fn set(&self, service: &str, account: &str, secret: &[u8]) -> Result<(), KeystoreError> {
        Python::attach(|py| {
            let secret = PyBytes::new(py, secret);
            self.store
                .call_method1(py, "set", (service, account, secret))
                .map(|_| ())
                .map_err(|e| refused(py, e, "set"))
        })
    }

    fn delete(&self, service: &str, account: &str) -> Result<bool, KeystoreError> {
        Python::attach(|py| {
            let value =
                self.store.call_method1(py, "delete", (service, account)).map_err(|e| refused(py, e, "delete"))?;
            // `None` (the keyring convention) counts as deleted.
            Ok(value.bind(py).extract::<bool>().unwrap_or(true))
        })
    }

    fn describe(&self) -> String {
        format!("Python keystore ({})", self.name)
    }
}
