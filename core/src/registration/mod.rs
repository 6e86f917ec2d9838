//! Registration ([MS-SIPREGE], [MS-SIPRE] 3.2/3.4): building REGISTER the way Lync does and
//! reading what the registrar answers. Sans-I/O: these functions build and read messages; the
//! facade sends them.
//!
//! - [`register_request`]: REGISTER from a [`RequestFactory`] and [`RegisterParams`].
//! - [`classify_response`]: a registrar's answer as a [`RegisterOutcome`].
//! - [`Registration`]: what a 200 OK grants: expiry, GRUU, keep-alive timeout, events, presence state.

use crate::identity::{Epid, sip_instance};
use crate::sip::transaction::RequestFactory;
use crate::sip::{AuthHeader, Diagnostics, Message, Method, NameAddr, Uri};

/// The methods a Lync endpoint announces in its Contact (REFERENCE.md §3.2).
pub const CONTACT_METHODS: &str =
    "INVITE, MESSAGE, INFO, SUBSCRIBE, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY";
/// Option tags Lync sends in REGISTER (REFERENCE.md §3.2).
pub const SUPPORTED: &str = "gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence";

/// The REGISTER-specific parts of a registration (the factory supplies Via, From, To, Call-ID, CSeq).
#[derive(Debug, Clone)]
pub struct RegisterParams {
    /// The SIP domain (Request-URI is `sip:<domain>`).
    pub domain: String,
    /// Local address of the connection, for the Contact (`ip:port`).
    pub local_addr: std::net::SocketAddr,
    /// `ms-opaque` Contact URI parameter: a per-endpoint constant.
    pub ms_opaque: String,
    pub user_agent: String,
    /// `Some(0)` to unregister; `None` lets the registrar choose (Lync sends none).
    pub expires: Option<u32>,
}

/// Builds REGISTER as Lync does ([MS-SIPREGE] construction rules, REFERENCE.md §3.2). All
/// REGISTERs of one connection come from one factory, so they share Call-ID and From tag and
/// their CSeq increases (CLIENT-NOTES.md §4.1).
pub fn register_request(
    factory: &mut RequestFactory,
    aor: &Uri,
    params: &RegisterParams,
) -> Result<Message, crate::sip::ParseError> {
    let uri = Uri::parse(&format!("sip:{}", params.domain))?;
    let host = match params.local_addr.ip() {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    };
    let port = params.local_addr.port();
    let instance = sip_instance(factory.epid());
    let mut m = factory
        .request(Method::Register, uri, aor)
        .with_header(
            "Contact",
            &format!(
                "<sip:{host}:{port};transport=tls;ms-opaque={}>;methods=\"{CONTACT_METHODS}\";proxy=replace;+sip.instance={}",
                params.ms_opaque,
                instance.contact_param_value()
            ),
        )
        .with_header("User-Agent", &params.user_agent)
        .with_header("Supported", SUPPORTED)
        .with_header("Event", "registration")
        .with_header("Allow-Events", "presence")
        .with_header("ms-keep-alive", "UAC;hop-hop=yes");
    if let Some(e) = params.expires {
        m.headers.push("Expires", &e.to_string());
    }
    Ok(m)
}

/// `presence-state` header of a 200 OK ([MS-SIPREGE] 3.1.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PresenceState {
    pub register_action: Option<String>,
    pub primary_cluster_type: Option<String>,
    pub is_connected_to_primary: Option<bool>,
}

/// What a registrar granted in its 200 OK.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Registration {
    /// Seconds until the binding expires (re-REGISTER before).
    pub expires: u32,
    /// The GRUU assigned to this endpoint ([MS-SIPRE] 3.4), from the Contact carrying our +sip.instance.
    pub gruu: Option<String>,
    /// `ms-keep-alive` `timeout=`: send a keep-alive at least this often (seconds).
    pub keep_alive_timeout: Option<u32>,
    /// `Allow-Events`: the self subscriptions the pool offers.
    pub allow_events: Vec<String>,
    /// `Supported` option tags (capability detection, CLIENT-NOTES §4.2).
    pub supported: Vec<String>,
    pub presence_state: Option<PresenceState>,
    /// `Server` header (e.g. `RTC/6.0` for Skype for Business Server 2015).
    pub server: Option<String>,
}

/// A registrar's final answer to REGISTER.
#[derive(Debug, Clone)]
pub enum RegisterOutcome {
    Registered(Registration),
    /// 301/302: register at this registrar instead (the user's home pool).
    Redirect {
        contact: String,
    },
    /// 401/407 with the schemes offered ([MS-SIPAE]).
    AuthenticationRequired {
        proxy: bool,
        challenges: Vec<AuthHeader>,
    },
    /// Any other final response.
    Rejected {
        code: u16,
        reason: String,
        diagnostics: Option<Diagnostics>,
    },
}

/// Classifies a final response to REGISTER; `epid` selects our Contact among several.
pub fn classify_response(resp: &Message, epid: &Epid) -> RegisterOutcome {
    let code = resp.status().unwrap_or(0);
    let diagnostics = diagnostics_of(resp);
    match code {
        200..=299 => match read_registration(resp, epid) {
            Ok(r) => RegisterOutcome::Registered(r),
            Err(why) => RegisterOutcome::Rejected { code, reason: why, diagnostics },
        },
        301 | 302 => match resp.contacts().ok().and_then(|c| c.into_iter().next()) {
            Some(c) => RegisterOutcome::Redirect { contact: c.uri.as_str().to_string() },
            None => RegisterOutcome::Rejected { code, reason: "redirect without a Contact".into(), diagnostics },
        },
        401 | 407 => {
            let name = if code == 401 { "WWW-Authenticate" } else { "Proxy-Authenticate" };
            let challenges =
                resp.headers.get_all(name).filter_map(|h| AuthHeader::parse(name, h.value()).ok()).collect();
            RegisterOutcome::AuthenticationRequired { proxy: code == 407, challenges }
        }
        _ => RegisterOutcome::Rejected { code, reason: resp.reason().unwrap_or_default().to_string(), diagnostics },
    }
}

/// The first `ms-diagnostics` / `ms-diagnostics-public` header, parsed.
pub fn diagnostics_of(resp: &Message) -> Option<Diagnostics> {
    resp.header("ms-diagnostics").or_else(|| resp.header("ms-diagnostics-public")).and_then(Diagnostics::parse)
}

fn read_registration(resp: &Message, epid: &Epid) -> Result<Registration, String> {
    let instance = sip_instance(epid);
    let contacts: Vec<NameAddr> = resp.contacts().map_err(|e| e.to_string())?;
    let ours = contacts
        .iter()
        .find(|c| c.params.value("+sip.instance").is_some_and(|v| v.eq_ignore_ascii_case(&instance.to_string())));
    let expires = ours
        .and_then(|c| c.params.value("expires").and_then(|e| e.parse().ok()))
        .or(resp.expires().ok().flatten())
        .ok_or("the 200 OK grants no expiry (no Expires header and no Contact expires)")?;
    let keep_alive_timeout = resp.header("ms-keep-alive").and_then(|v| {
        v.split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("timeout"))
            .and_then(|(_, t)| t.trim().parse().ok())
    });
    let list = |name: &str| -> Vec<String> { resp.headers.list(name).map(str::to_string).collect() };
    let presence_state = resp.header("presence-state").map(|v| {
        let get = |k: &str| {
            v.split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(n, _)| n.trim().eq_ignore_ascii_case(k))
                .map(|(_, val)| crate::sip::unquote(val.trim()).into_owned())
        };
        PresenceState {
            register_action: get("register-action"),
            primary_cluster_type: get("primary-cluster-type"),
            is_connected_to_primary: get("is-connected-to-primary").map(|s| s.eq_ignore_ascii_case("yes")),
        }
    });
    Ok(Registration {
        expires,
        gruu: ours.and_then(|c| c.params.value("gruu")).map(|g| g.into_owned()),
        keep_alive_timeout,
        allow_events: list("Allow-Events"),
        supported: list("Supported"),
        presence_state,
        server: resp.header("Server").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::{Limits, parse_message};

    /// The 200 OK of the [MS-SIPREGE] example (vectors/MS-SIPREGE_200ok-register-client-update.txt),
    /// rebuilt with CRLF line ends. Its Contact's +sip.instance is the one derived from the From epid.
    const SIPREGE_200: &str = "SIP/2.0 200 OK\r\nFrom: <sip:alice@fabrikam.com>;tag=90a265ed3f;epid=a0ae9e6cb0\r\nTo: sip:alice@fabrikam.com\r\nCSeq: 1 REGISTER\r\nCall-ID: 6b2dec5dfd9a4eaf90180bb2f8f699ea\r\nms-keep-alive: UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300\r\nVia: SIP/2.0/TLS 10.2.50.42:1699;ms-received-port=1699;ms-received-cid=200\r\nContact: <sip:10.2.50.42:1699;transport=tls;ms-opaque=89eaec8ad6;ms-received-cid=200>;expires=7200;+sip.instance=\"<urn:uuid:c1589240-e660-594f-a8b3-4b55f358cbc1>\";gruu=\"sip:alice@fabrikam.com;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu\"\r\nExpires: 7200\r\npresence-state: register-action=\"added\";primary-cluster-type=\"central\";is-connected-to-primary=\"yes\"\r\nAllow-Events: vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,presence\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn reads_the_ms_siprege_200_ok() {
        let resp = parse_message(SIPREGE_200.as_bytes(), &Limits::default()).unwrap().message;
        let epid = Epid::parse("a0ae9e6cb0").unwrap();
        let RegisterOutcome::Registered(r) = classify_response(&resp, &epid) else { panic!("not registered") };
        assert_eq!(r.expires, 7200);
        assert_eq!(r.keep_alive_timeout, Some(300));
        assert_eq!(r.gruu.as_deref(), Some("sip:alice@fabrikam.com;opaque=user:epid:QJJYwWDmT1mos0tV81jLwQAA;gruu"));
        assert_eq!(r.allow_events, ["vnd-microsoft-provisioning", "vnd-microsoft-roaming-contacts", "presence"]);
        let ps = r.presence_state.unwrap();
        assert_eq!(ps.register_action.as_deref(), Some("added"));
        assert_eq!(ps.is_connected_to_primary, Some(true));
        // Another endpoint's epid does not pick up this Contact's GRUU.
        let RegisterOutcome::Registered(other) = classify_response(&resp, &Epid::parse("0123456789").unwrap()) else {
            panic!()
        };
        assert_eq!(other.gruu, None);
        assert_eq!(other.expires, 7200, "falls back to the Expires header");
    }

    #[test]
    fn register_request_is_what_lync_sends() {
        let epid = Epid::parse("8248ca9ebb").unwrap();
        let aor = Uri::parse("sip:alice@contoso.com").unwrap();
        let mut f = RequestFactory::new(crate::sip::Host::Ipv4([10, 0, 0, 5].into()), 51234, aor.clone(), epid);
        let params = RegisterParams {
            domain: "contoso.com".into(),
            local_addr: "10.0.0.5:51234".parse().unwrap(),
            ms_opaque: "d3470f2e1d".into(),
            user_agent: "sfbkit/test".into(),
            expires: None,
        };
        let first = register_request(&mut f, &aor, &params).unwrap();
        let second = register_request(&mut f, &aor, &RegisterParams { expires: Some(0), ..params }).unwrap();
        let wire = String::from_utf8(first.to_bytes()).unwrap();
        assert!(wire.starts_with("REGISTER sip:contoso.com SIP/2.0\r\n"));
        assert!(wire.contains(";epid=8248ca9ebb\r\n"));
        assert!(wire.contains("+sip.instance=\"<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>\""), "{wire}");
        assert!(
            wire.contains("\r\nEvent: registration\r\n") && wire.contains("\r\nms-keep-alive: UAC;hop-hop=yes\r\n")
        );
        assert!(first.header("Expires").is_none() && second.header("Expires") == Some("0"));
        assert_eq!(first.call_id(), second.call_id());
        assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
        let reparsed = parse_message(&first.to_bytes(), &Limits::default()).unwrap();
        assert_eq!(reparsed.message.to_bytes(), first.to_bytes(), "serialize → parse → serialize is stable");
    }
}
