//! SIP over TLS (placeholder, being written).
