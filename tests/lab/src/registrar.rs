//! The registrar: answers REGISTER the way a Skype for Business Front End does ([MS-SIPREGE]).
//!
//! It checks the request the way the server does (the From must carry an epid, the Contact's
//! `+sip.instance` must derive from it, `Event` must be `registration`, `msrtc-event-categories`
//! needs `gruu-10`), keeps one binding per endpoint, and answers 200 OK with the headers a real
//! pool sends: GRUU in the Contact, `Expires`, `ms-keep-alive`, `presence-state`, `Allow-Events`.
//! Error answers carry `ms-diagnostics` with the codes FIELD-NOTES.md §2.7 lists.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::SystemTime;

use sfbkit::identity::{Epid, SipInstance, sip_instance};
use sfbkit::sip::{Message, Method, NameAddr};

use crate::config::LabConfig;

/// Events a Skype for Business pool offers in its 200 OK ([MS-SIPREGE] example).
pub const ALLOW_EVENTS: &str = "vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-ACL,presence,presence.wpending,vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2";

/// One registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// `alice@contoso.lab`.
    pub aor: String,
    pub epid: String,
    pub contact: String,
    pub gruu: String,
    pub expires: u32,
    pub peer: SocketAddr,
    pub registered_at: SystemTime,
}

/// The registrar's state: bindings keyed by (AOR, epid).
#[derive(Debug, Default)]
pub struct Registrar {
    bindings: Mutex<HashMap<(String, String), Binding>>,
}

impl Registrar {
    /// Current bindings, sorted by AOR then epid.
    pub fn bindings(&self) -> Vec<Binding> {
        let map = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<Binding> = map.values().cloned().collect();
        v.sort_by(|a, b| (&a.aor, &a.epid).cmp(&(&b.aor, &b.epid)));
        v
    }

    /// Answers one REGISTER received from `peer`.
    pub fn handle_register(&self, config: &LabConfig, req: &Message, peer: SocketAddr) -> Message {
        match self.try_register(config, req, peer) {
            Ok(resp) => resp,
            Err(reject) => reject.into_response(config, req),
        }
    }

    fn try_register(&self, config: &LabConfig, req: &Message, peer: SocketAddr) -> Result<Message, Reject> {
        let from = req.from_header().map_err(|_| Reject::bad(4010, "Malformed From header"))?;
        let to = req.to_header().map_err(|_| Reject::bad(4010, "Malformed To header"))?;
        let aor = to.uri.as_sip().map(|u| u.aor()).ok_or_else(|| Reject::bad(4010, "To is not a SIP URI"))?;
        if from.uri.as_sip().map(|u| u.aor().to_ascii_lowercase()) != Some(aor.to_ascii_lowercase()) {
            return Err(Reject::new(403, "Forbidden", 4001, "From and To must name the same user when registering"));
        }
        if let Some(ev) = req.header("Event")
            && !ev.trim().eq_ignore_ascii_case("registration")
        {
            return Err(Reject::new(489, "Bad Event", 4055, "Event header must be registration"));
        }
        let supported: Vec<String> = req.headers.list("Supported").map(|s| s.to_ascii_lowercase()).collect();
        if supported.iter().any(|s| s == "msrtc-event-categories") && !supported.iter().any(|s| s == "gruu-10") {
            return Err(Reject::new(421, "Extension Required", 2057, "msrtc-event-categories requires gruu-10"));
        }
        let user = config.user(&aor).ok_or_else(|| Reject::new(404, "Not Found", 1003, "User does not exist"))?;
        // [MS-OCER] 4141 "User disabled", the code a deregistration NOTIFY carries too.
        if user.disabled || config.has(crate::config::Fault::DisabledUser) {
            return Err(Reject::new(403, "Forbidden", 4141, "User disabled"));
        }
        let epid = from.params.value("epid").ok_or_else(|| Reject::bad(4010, "Missing epid in From header"))?;
        let epid = Epid::parse(&epid).map_err(|_| Reject::bad(4010, "Malformed epid in From header"))?;
        let contacts = req.contacts().map_err(|_| Reject::bad(4010, "Malformed Contact header"))?;
        let contact = contacts.first().ok_or_else(|| Reject::bad(4010, "Missing Contact header"))?;
        let instance = match contact.params.value("+sip.instance") {
            Some(v) => SipInstance::parse(&v).map_err(|_| Reject::bad(4010, "Malformed +sip.instance"))?,
            None => return Err(Reject::bad(4010, "Missing +sip.instance in Contact header")),
        };
        // [MS-SIPAE] 3.3.5.2: the instance must be the one derived from the epid.
        if instance != sip_instance(&epid) {
            return Err(Reject::bad(4010, "+sip.instance does not match the epid"));
        }
        let requested = match contact.params.value("expires") {
            Some(e) => Some(e.parse::<u32>().map_err(|_| Reject::bad(4010, "Malformed Contact expires"))?),
            None => req.expires().map_err(|_| Reject::bad(4010, "Malformed Expires header"))?,
        };
        let key = (user.sip_uri.trim_start_matches("sip:").to_ascii_lowercase(), epid.as_str().to_string());
        if requested == Some(0) {
            self.lock().remove(&key);
            return Ok(self.ok(config, req, contact, &instance, None, 0));
        }
        let expires = requested
            .unwrap_or(config.registrar.default_expires)
            .clamp(config.registrar.min_expires, config.registrar.max_expires);
        let gruu = format!("sip:{};opaque=user:epid:{};gruu", key.0, gruu_opaque(&instance));
        self.lock().insert(
            key.clone(),
            Binding {
                aor: key.0.clone(),
                epid: key.1.clone(),
                contact: contact.uri.as_str().to_string(),
                gruu: gruu.clone(),
                expires,
                peer,
                registered_at: SystemTime::now(),
            },
        );
        Ok(self.ok(config, req, contact, &instance, Some(&gruu), expires))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Binding>> {
        self.bindings.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ok(
        &self,
        config: &LabConfig,
        req: &Message,
        contact: &NameAddr,
        instance: &SipInstance,
        gruu: Option<&str>,
        expires: u32,
    ) -> Message {
        let mut contact_value =
            format!("<{}>;expires={expires};+sip.instance={}", contact.uri.as_str(), instance.contact_param_value());
        if let Some(g) = gruu {
            contact_value.push_str(&format!(";gruu=\"{g}\""));
        }
        let mut resp = Message::response_to(req, 200, "OK", Some(&to_tag(req)))
            .with_header("Contact", &contact_value)
            .with_header("Expires", &expires.to_string());
        if expires > 0 {
            resp = resp
                .with_header(
                    "ms-keep-alive",
                    &format!("UAS; tcp=no; hop-hop=yes; end-end=no; timeout={}", config.registrar.keep_alive_timeout),
                )
                .with_header(
                    "presence-state",
                    "register-action=\"added\";primary-cluster-type=\"central\";is-connected-to-primary=\"yes\"",
                )
                .with_header("Allow-Events", ALLOW_EVENTS)
                .with_header("Supported", "adhoclist")
                .with_header("Supported", "msrtc-event-categories");
        }
        resp.with_header("Server", &config.registrar.server_header)
    }
}

/// The GRUU `opaque=user:epid:` value: the instance GUID in Windows byte order plus two zero
/// bytes, base64. This reproduces the [MS-SIPREGE] 200 OK example exactly: epid `a0ae9e6cb0`,
/// instance `c1589240-e660-594f-a8b3-4b55f358cbc1`, opaque `QJJYwWDmT1mos0tV81jLwQAA`.
fn gruu_opaque(instance: &SipInstance) -> String {
    use base64::Engine;
    let mut bytes = instance.as_bytes().to_vec();
    bytes[0..4].reverse();
    bytes[4..6].reverse();
    bytes[6..8].reverse();
    bytes.extend_from_slice(&[0, 0]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The registrar's To tag: stable per Call-ID, as a real registrar keeps one per dialog-less exchange.
fn to_tag(req: &Message) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(req.call_id().unwrap_or_default().as_bytes());
    digest[..5].iter().map(|b| format!("{b:02x}")).collect()
}

/// A refusal with its `ms-diagnostics`.
struct Reject {
    code: u16,
    phrase: &'static str,
    diag: u32,
    reason: &'static str,
}

impl Reject {
    fn new(code: u16, phrase: &'static str, diag: u32, reason: &'static str) -> Reject {
        Reject { code, phrase, diag, reason }
    }
    fn bad(diag: u32, reason: &'static str) -> Reject {
        Reject::new(400, "Bad Request", diag, reason)
    }
    fn into_response(self, config: &LabConfig, req: &Message) -> Message {
        Message::response_to(req, self.code, self.phrase, Some(&to_tag(req)))
            .with_header(
                "ms-diagnostics",
                &format!("{};reason=\"{}\";source=\"{}\"", self.diag, self.reason, config.pool_fqdn),
            )
            .with_header("Server", &config.registrar.server_header)
    }
}

/// Answers a request the skeleton pool does not serve yet (everything but REGISTER and OPTIONS).
pub fn not_implemented(config: &LabConfig, req: &Message) -> Message {
    Message::response_to(req, 501, "Not Implemented", Some(&to_tag(req))).with_header(
        "ms-diagnostics",
        &format!(
            "1010;reason=\"Method {} is not served by this lab pool\";source=\"{}\"",
            req.method().map(Method::as_str).unwrap_or(""),
            config.pool_fqdn
        ),
    )
}

/// Answers OPTIONS (a keep-alive or capability probe).
pub fn options(config: &LabConfig, req: &Message) -> Message {
    Message::response_to(req, 200, "OK", Some(&to_tag(req)))
        .with_header(
            "Allow",
            "INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY, SERVICE",
        )
        .with_header("Server", &config.registrar.server_header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfbkit::sip::{Diagnostics, Limits, parse_message};

    const EPID: &str = "8248ca9ebb";
    /// The +sip.instance [MS-SIPAE] 4.1 pairs with this epid (vectors/MS-SIPRE_3.2.3_sip-instance-vectors.txt).
    const INSTANCE: &str = "<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>";

    fn register(extra: &str, from_params: &str, contact_params: &str, user: &str) -> Message {
        let text = format!(
            "REGISTER sip:contoso.lab SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:50000;branch=z9hG4bK0001\r\nMax-Forwards: 70\r\n\
             From: <sip:{user}@contoso.lab>;tag=abc{from_params}\r\nTo: <sip:{user}@contoso.lab>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:127.0.0.1:50000;transport=tls;ms-opaque=x>;methods=\"INVITE, BENOTIFY\";proxy=replace{contact_params}\r\n\
             Supported: gruu-10, adhoclist, msrtc-event-categories\r\nEvent: registration\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        parse_message(text.as_bytes(), &Limits::default()).expect("test REGISTER parses").message
    }

    fn good(extra: &str) -> Message {
        register(extra, &format!(";epid={EPID}"), &format!(";+sip.instance=\"{INSTANCE}\""), "alice")
    }

    fn answer(req: &Message) -> (u16, Option<u32>, Message) {
        let r = Registrar::default().handle_register(&LabConfig::default(), req, "127.0.0.1:50000".parse().unwrap());
        let diag = r.header("ms-diagnostics").and_then(Diagnostics::parse).map(|d| d.code);
        (r.status().unwrap(), diag, r)
    }

    #[test]
    fn registers_with_gruu_and_default_expiry() {
        let reg = Registrar::default();
        let resp = reg.handle_register(&LabConfig::default(), &good(""), "127.0.0.1:50000".parse().unwrap());
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.expires().unwrap(), Some(600));
        let contact = &resp.contacts().unwrap()[0];
        assert_eq!(contact.params.value("+sip.instance").unwrap(), INSTANCE);
        assert!(contact.params.value("gruu").unwrap().starts_with("sip:alice@contoso.lab;opaque=user:epid:"));
        assert!(resp.header("ms-keep-alive").unwrap().contains("timeout=300"));
        assert!(resp.to_header().unwrap().tag().is_some(), "the registrar adds a To tag");
        assert_eq!(reg.bindings().len(), 1);
        // Unregister removes the binding.
        reg.handle_register(&LabConfig::default(), &good("Expires: 0\r\n"), "127.0.0.1:50000".parse().unwrap());
        assert!(reg.bindings().is_empty());
    }

    #[test]
    fn gruu_opaque_matches_the_ms_siprege_example() {
        let instance = sip_instance(&Epid::parse("a0ae9e6cb0").unwrap());
        assert_eq!(instance.uuid(), "C1589240-E660-594F-A8B3-4B55F358CBC1");
        assert_eq!(gruu_opaque(&instance), "QJJYwWDmT1mos0tV81jLwQAA");
    }

    #[test]
    fn requested_expiry_is_clamped() {
        assert_eq!(answer(&good("Expires: 10\r\n")).2.expires().unwrap(), Some(300));
        assert_eq!(answer(&good("Expires: 86400\r\n")).2.expires().unwrap(), Some(900));
        assert_eq!(answer(&good("Expires: 700\r\n")).2.expires().unwrap(), Some(700));
    }

    #[test]
    fn rejects_what_a_front_end_rejects() {
        // No epid on From: 400 / 4010.
        let (code, diag, _) = answer(&register("", "", &format!(";+sip.instance=\"{INSTANCE}\""), "alice"));
        assert_eq!((code, diag), (400, Some(4010)));
        // +sip.instance not derived from the epid: 400 / 4010.
        let (code, diag, _) =
            answer(&register("", ";epid=0123456789", &format!(";+sip.instance=\"{INSTANCE}\""), "alice"));
        assert_eq!((code, diag), (400, Some(4010)));
        // No +sip.instance: 400 / 4010.
        assert_eq!(answer(&register("", &format!(";epid={EPID}"), "", "alice")).0, 400);
        // Unknown user: 404 / 1003.
        let (code, diag, _) =
            answer(&register("", &format!(";epid={EPID}"), &format!(";+sip.instance=\"{INSTANCE}\""), "mallory"));
        assert_eq!((code, diag), (404, Some(1003)));
        // Event other than registration: 489 / 4055.
        let mut wrong_event = good("");
        wrong_event.headers.set("Event", "presence");
        let (code, diag, _) = answer(&wrong_event);
        assert_eq!((code, diag), (489, Some(4055)));
        // msrtc-event-categories without gruu-10: 421 / 2057.
        let mut no_gruu = good("");
        no_gruu.headers.set("Supported", "adhoclist, msrtc-event-categories");
        let (code, diag, _) = answer(&no_gruu);
        assert_eq!((code, diag), (421, Some(2057)));
    }
}
