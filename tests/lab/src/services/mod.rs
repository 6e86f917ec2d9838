//! The pool's user services, as a Front End's User Services role keeps them: each user's contact list
//! ([`contacts`], [MS-SIP] 2.2.4 / 3.7), published presence ([`presence`], [MS-PRES]) and in-band
//! provisioning ([`provisioning`], [MS-SIPREGE] 2.2.2).
//!
//! These are stores, not SIP code: they take parsed values and request bodies and hand back response bodies and
//! what must be NOTIFYed to whom. Subscription dialogs, NOTIFY/BENOTIFY sending, expiry and signing belong to the
//! SIP connection loop (`sip_server`). They never use the client's presence, contacts or provisioning modules: the
//! lab follows the specifications and real servers, so a client bug cannot hide behind the same bug here.
//!
//! Addresses: an AOR may be given with or without `sip:` and in any case; the stores key users by the bare,
//! lower-cased `user@domain` ([`bare_aor`]).

pub mod contacts;
pub mod presence;
pub mod provisioning;

pub use contacts::{ContactStore, SoapFault, SoapOutcome};
pub use presence::{BatchSubscribe, PresenceChange, PresenceStore, PublishError};

/// `user@domain`, lower-cased, without `sip:`: how the stores key a user.
pub fn bare_aor(aor: &str) -> String {
    let trimmed = aor.trim();
    let bare = trimmed.strip_prefix("sip:").or_else(|| trimmed.strip_prefix("SIP:")).unwrap_or(trimmed);
    bare.to_ascii_lowercase()
}

/// `sip:user@domain` for a bare or prefixed AOR.
pub fn sip_uri(aor: &str) -> String {
    format!("sip:{}", bare_aor(aor))
}

/// The domain part of an AOR (empty when there is none).
pub fn domain_of(aor: &str) -> String {
    bare_aor(aor).rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aors_are_keyed_bare_and_lower_case() {
        assert_eq!(bare_aor("sip:Alice@Contoso.LAB"), "alice@contoso.lab");
        assert_eq!(bare_aor(" alice@contoso.lab "), "alice@contoso.lab");
        assert_eq!(sip_uri("Bob@contoso.lab"), "sip:bob@contoso.lab");
        assert_eq!(domain_of("sip:bob@contoso.lab"), "contoso.lab");
        assert_eq!(domain_of("nobody"), "");
    }
}
