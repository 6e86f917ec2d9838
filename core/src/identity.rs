//! Endpoint identity (placeholder, being written).
