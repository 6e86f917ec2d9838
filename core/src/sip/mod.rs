//! The SIP wire layer (being written).
