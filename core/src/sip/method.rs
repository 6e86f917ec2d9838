//! SIP request methods, including the Microsoft extensions `SERVICE` and `BENOTIFY`.
//!
//! Methods are case-sensitive tokens (RFC 3261 §7.1): `register` is an extension method, not
//! REGISTER. Unknown tokens are kept as [`Method::Extension`] so that a UAS can answer 501.

use std::fmt;

/// A SIP method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Register,
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Subscribe,
    Notify,
    Message,
    Info,
    Refer,
    Prack,
    Update,
    Publish,
    /// [MS-SIP] SERVICE: presence publication, contact-list changes, location profile requests.
    Service,
    /// [MS-SIP] 4.4 BENOTIFY: a best-effort NOTIFY that is never answered.
    Benotify,
    /// Any other token (kept as received).
    Extension(Box<str>),
}

impl Method {
    /// The method token as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Register => "REGISTER",
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Message => "MESSAGE",
            Method::Info => "INFO",
            Method::Refer => "REFER",
            Method::Prack => "PRACK",
            Method::Update => "UPDATE",
            Method::Publish => "PUBLISH",
            Method::Service => "SERVICE",
            Method::Benotify => "BENOTIFY",
            Method::Extension(s) => s,
        }
    }

    /// Maps a token (already checked to be a valid `token`) to a method, case-sensitively.
    pub fn from_token(token: &str) -> Method {
        match token {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "MESSAGE" => Method::Message,
            "INFO" => Method::Info,
            "REFER" => Method::Refer,
            "PRACK" => Method::Prack,
            "UPDATE" => Method::Update,
            "PUBLISH" => Method::Publish,
            "SERVICE" => Method::Service,
            "BENOTIFY" => Method::Benotify,
            other => Method::Extension(other.into()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
