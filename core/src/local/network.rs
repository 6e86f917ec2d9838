//! Which network adapter the endpoint uses, decided the way the Microsoft client decides it (seed 003,
//! "Stage 1"): the adapter preference order first, then the interface with the route to the server
//! (default route or a defined route). The client does not log the adapter it picks, only the ones it
//! cannot use; [`AdapterChoice`] keeps both, for the sign-in report.
//!
//! The choice is sans-I/O: [`select_adapter`] is a pure function of an adapter list, a preference list and
//! the local address the OS would use towards the server. Gathering those three is [`NetworkInfo`]'s job
//! ([`super::SystemNetwork`] on a real machine, a fake in tests, or a host app's own implementation).

use std::net::IpAddr;

/// One network interface, as plain owned data (it crosses the FFI boundary and goes into reports).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Adapter {
    /// The system's name for it: `eth0`, `en0`, `wlan0`, `lo` (on Windows the adapter GUID).
    pub name: String,
    /// The OS interface index, unique on this machine.
    pub index: u32,
    /// Every address assigned to it, IPv4 and IPv6, without prefix lengths.
    pub addresses: Vec<IpAddr>,
    /// Administratively up and not reported down by the link layer.
    pub is_up: bool,
    /// The loopback interface, which reaches only this machine.
    pub is_loopback: bool,
    /// The OS routes the default route through it.
    pub has_default_route: bool,
    /// What it is, in netdev's words on a real machine: `Ethernet`, `Loopback`, `Wireless IEEE 802.11`, `Tunnel`, ...
    pub kind: String,
}

/// Why the adapter list could not be had at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// The platform (or the host app) could not list interfaces.
    #[error("network adapters unavailable: {detail}")]
    Unavailable {
        /// What the platform or host said.
        detail: String,
    },
}

/// What the endpoint needs to know about the machine's network. Object-safe and owned-data only, so a host
/// app can implement it (mobile platforms restrict interface enumeration and know better).
pub trait NetworkInfo: Send + Sync {
    /// Every interface, up or down.
    fn adapters(&self) -> Result<Vec<Adapter>, NetworkError>;
    /// The local address the OS would use as source towards `dest`, or `None` when it has no route.
    fn route_to(&self, dest: IpAddr) -> Option<IpAddr>;
}

/// How [`select_adapter`] arrived at its choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ChoiceBasis {
    /// The first usable adapter of the configured preference order.
    Preference,
    /// The adapter holding the address the OS would use to reach the server.
    Route,
    /// The adapter carrying the default route.
    DefaultRoute,
    /// Nothing above matched; the first usable non-loopback adapter.
    FirstUsable,
    /// No adapter is usable.
    NoneUsable,
}

/// An adapter that cannot be used, and why (the Microsoft client logs exactly these).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnusableAdapter {
    /// The adapter's name (or the configured name, for a preferred adapter that does not exist).
    pub name: String,
    /// Why: `down`, `no address`, `link-local address only`, `preferred but down`, ...
    pub why: String,
}

/// The outcome of adapter selection, for the transport (which binds to it) and for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdapterChoice {
    /// The adapter to use; `None` when none is usable (the transport then lets the OS choose).
    pub chosen: Option<Adapter>,
    /// How the choice was made.
    pub basis: ChoiceBasis,
    /// The same, in words, with the evidence (which address, which preference).
    pub reason: String,
    /// Every adapter that cannot be used and why.
    pub unusable: Vec<UnusableAdapter>,
    /// The local address the OS would use towards the server, when the server address was known.
    pub route_local_addr: Option<IpAddr>,
}

/// Chooses the adapter for the connection to the server. Pure: same input, same answer.
///
/// Order: the first adapter of `preference` (names, most preferred first) that is up and has a usable
/// address; else the adapter holding `route_local_addr` (what the OS would use to reach the server; may be
/// loopback when the server is on this machine, and then the loopback adapter is the right choice); else
/// the adapter with the default route; else the first usable non-loopback adapter. Every adapter that
/// cannot be used is listed with the reason.
pub fn select_adapter(adapters: &[Adapter], preference: &[String], route_local_addr: Option<IpAddr>) -> AdapterChoice {
    let loopback_ok = route_local_addr.is_some_and(|a| a.is_loopback());
    let mut unusable = Vec::new();
    let mut reported: Vec<&str> = Vec::new();
    let mut choice: Option<(&Adapter, ChoiceBasis, String)> = None;

    for (position, name) in preference.iter().enumerate() {
        if preference[..position].contains(name) {
            continue; // listed twice: the first mention already decided.
        }
        let Some(adapter) = adapters.iter().find(|a| &a.name == name) else {
            unusable.push(UnusableAdapter { name: name.clone(), why: "preferred but not present".into() });
            continue;
        };
        reported.push(&adapter.name);
        match why_unusable(adapter, loopback_ok) {
            Some(why) => unusable.push(UnusableAdapter { name: name.clone(), why: format!("preferred but {why}") }),
            None => {
                let reason =
                    format!("{name}: first usable adapter in the preference order (position {})", position + 1);
                choice = Some((adapter, ChoiceBasis::Preference, reason));
                break;
            }
        }
    }

    for adapter in adapters.iter().filter(|a| !reported.contains(&a.name.as_str())) {
        if let Some(why) = why_unusable(adapter, loopback_ok) {
            unusable.push(UnusableAdapter { name: adapter.name.clone(), why });
        }
    }

    let choice = choice.or_else(|| by_route(adapters, route_local_addr, loopback_ok));
    let (chosen, basis, reason) = match choice {
        Some((adapter, basis, reason)) => (Some(adapter.clone()), basis, reason),
        None if adapters.is_empty() => (None, ChoiceBasis::NoneUsable, "no network adapter found".to_string()),
        None => (None, ChoiceBasis::NoneUsable, "no usable adapter: see the unusable list".to_string()),
    };
    AdapterChoice { chosen, basis, reason, unusable, route_local_addr }
}

/// The choice without a usable preference: route, then default route, then first usable.
fn by_route(
    adapters: &[Adapter],
    route_local_addr: Option<IpAddr>,
    loopback_ok: bool,
) -> Option<(&Adapter, ChoiceBasis, String)> {
    let usable = || adapters.iter().filter(move |a| why_unusable(a, loopback_ok).is_none());
    let mut miss = String::new();
    if let Some(addr) = route_local_addr {
        if let Some(a) = usable().find(|a| a.addresses.contains(&addr)) {
            let reason = format!("{}: holds {addr}, the address the OS uses to reach the server", a.name);
            return Some((a, ChoiceBasis::Route, reason));
        }
        miss = format!(" (no usable adapter holds {addr}, the OS's source address towards the server)");
    }
    if let Some(a) = usable().find(|a| a.has_default_route && !a.is_loopback) {
        return Some((a, ChoiceBasis::DefaultRoute, format!("{}: carries the default route{miss}", a.name)));
    }
    let a = usable().find(|a| !a.is_loopback)?;
    Some((a, ChoiceBasis::FirstUsable, format!("{}: first usable adapter, no default route{miss}", a.name)))
}

/// Why `adapter` cannot carry the connection, or `None` when it can.
fn why_unusable(adapter: &Adapter, loopback_ok: bool) -> Option<String> {
    if !adapter.is_up {
        return Some("down".into());
    }
    if adapter.addresses.is_empty() {
        return Some("no address".into());
    }
    if adapter.is_loopback && !loopback_ok {
        return Some("loopback: reaches only this machine".into());
    }
    if !adapter.addresses.iter().any(|a| routable(*a, loopback_ok)) {
        return Some("link-local address only (no DHCP lease or static address)".into());
    }
    None
}

/// An address another host (or, with `loopback_ok`, this one) can answer.
fn routable(addr: IpAddr, loopback_ok: bool) -> bool {
    !addr.is_unspecified() && !is_link_local(addr) && (loopback_ok || !addr.is_loopback())
}

/// 169.254.0.0/16 or fe80::/10: self-assigned, valid only on the link.
pub(crate) fn is_link_local(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// The address of the chosen adapter to bind outgoing connections to `dest` to, so they leave through it.
/// Same family as `dest`; the OS's own source address when it lies on the chosen adapter; never a loopback
/// address for a remote `dest` (the connect would fail), nor a link-local one for a routed `dest`. `None`
/// means "do not bind, let the OS choose".
pub fn bind_address(choice: &AdapterChoice, dest: IpAddr) -> Option<IpAddr> {
    let adapter = choice.chosen.as_ref()?;
    let fits = |a: &IpAddr| {
        a.is_ipv4() == dest.is_ipv4()
            && !a.is_unspecified()
            && (dest.is_loopback() || !a.is_loopback())
            && (is_link_local(dest) || !is_link_local(*a))
    };
    if let Some(route) = choice.route_local_addr.filter(|r| fits(r) && adapter.addresses.contains(r)) {
        return Some(route);
    }
    adapter.addresses.iter().copied().find(fits)
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
