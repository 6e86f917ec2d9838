//! SIP transactions (being written).
