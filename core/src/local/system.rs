//! [`SystemNetwork`]: the real machine's adapters (through netdev) and routes (through the kernel).
//!
//! netdev was chosen because it reports the default route per interface, which if-addrs does not
//! (protocol/DEPENDENCIES.md §8). The per-destination route needs no crate at all: a UDP socket that is
//! `connect`ed gets a source address from the kernel's routing table, and UDP `connect` sends no packet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use netdev::interface::state::OperState;

use super::network::{Adapter, NetworkError, NetworkInfo};

/// Reads adapters and routes from the operating system. These are blocking system calls, but local and
/// fast (a netlink dump, one socket): no network traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemNetwork;

impl NetworkInfo for SystemNetwork {
    fn adapters(&self) -> Result<Vec<Adapter>, NetworkError> {
        let mut adapters: Vec<Adapter> = netdev::get_interfaces().iter().map(adapter_from).collect();
        adapters.sort_by_key(|a| a.index);
        Ok(adapters)
    }

    fn route_to(&self, dest: IpAddr) -> Option<IpAddr> {
        route_local_addr(dest)
    }
}

/// Converts netdev's view of an interface into the plain record the selection works on.
fn adapter_from(iface: &netdev::Interface) -> Adapter {
    // The UP flag alone is administrative; a cable pulled shows as oper state down.
    let link_down = matches!(iface.oper_state, OperState::Down | OperState::LowerLayerDown | OperState::NotPresent);
    Adapter {
        name: iface.name.clone(),
        index: iface.index,
        addresses: iface.ip_addrs(),
        is_up: iface.is_up() && !link_down,
        is_loopback: iface.is_loopback(),
        has_default_route: iface.default,
        kind: iface.if_type.name(),
    }
}

/// The source address the kernel would pick towards `dest`, found by connecting an unbound UDP socket
/// (port 9, discard; nothing is sent). `None` when there is no route or no address of that family.
pub fn route_local_addr(dest: IpAddr) -> Option<IpAddr> {
    let any: IpAddr = match dest {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
    socket.connect(SocketAddr::new(dest, 9)).ok()?;
    let local = socket.local_addr().ok()?.ip();
    (!local.is_unspecified()).then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_loopback_adapter() {
        let adapters = SystemNetwork.adapters().expect("adapters");
        let lo = adapters.iter().find(|a| a.is_loopback).expect("a loopback adapter");
        assert!(lo.addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{lo:?}");
        assert!(lo.is_up, "{lo:?}");
        eprintln!("adapters on this machine: {adapters:#?}");
    }

    #[test]
    fn route_to_localhost_is_localhost() {
        let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert_eq!(SystemNetwork.route_to(localhost), Some(localhost));
    }

    #[test]
    fn route_to_unreachable_family_is_none_not_a_panic() {
        // A documentation address may or may not be routable here; either answer is fine, a panic is not.
        let _ = SystemNetwork.route_to("2001:db8::1".parse().expect("literal"));
        let _ = SystemNetwork.route_to(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
}
