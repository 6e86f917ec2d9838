//! Local discovery: the first stage of sign-in, before any packet leaves the machine.
//!
//! The Microsoft client starts by taking stock of the machine (seed 003, "Stage 1 – Local Hardware
//! Discovery", read from its UCAPI log): its media device manager finds the webcam and sets it as the
//! default video device; the client then decides which network adapter to use, by the adapter preference
//! order and by which interface has the route to the network (default or defined route), and logs the
//! adapters it cannot use, never the one it chose; finally it finds the earphone and the microphone, sets
//! them as defaults and reads their volumes. Only then does server discovery start.
//!
//! sfbkit does the same for two reasons: the adapter decides the local address that goes into Via and
//! Contact and that outgoing connections are bound to, and a sign-in report that says "no microphone,
//! adapter eth1 down" answers questions before anyone asks them. None of it is fatal: a headless machine
//! with no devices and only a loopback adapter still signs in.
//!
//! - [`devices`]: [`DeviceProvider`] (host-implementable), [`LinuxDevices`], [`StaticDevices`],
//!   [`discover_devices`] → [`DeviceSummary`].
//! - [`network`]: [`NetworkInfo`] (host-implementable), the pure [`select_adapter`] → [`AdapterChoice`],
//!   and [`bind_address`] for the transport. [`SystemNetwork`] reads the real machine.
//! - [`discover_local`] runs the whole stage → [`LocalDiscovery`]; [`LocalDiscovery::choose_for`] re-runs
//!   the adapter choice once server discovery knows the server's address.

#![warn(missing_docs)]

pub mod devices;
mod linux;
pub mod network;
mod system;

pub use devices::{
    Device, DeviceError, DeviceKind, DeviceProvider, DeviceSummary, LinuxDevices, StaticDevices, default_provider,
    discover_devices,
};
pub use network::{
    Adapter, AdapterChoice, ChoiceBasis, NetworkError, NetworkInfo, UnusableAdapter, bind_address, select_adapter,
};
pub use system::{SystemNetwork, route_local_addr};

use std::net::IpAddr;

/// Everything the local discovery stage found, for the connection stage and the sign-in report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalDiscovery {
    /// Media devices and the default of each kind.
    pub devices: DeviceSummary,
    /// The adapter for the connection to the server, and the ones that cannot be used.
    pub network: AdapterChoice,
    /// Every adapter seen, usable or not.
    pub adapters: Vec<Adapter>,
}

impl LocalDiscovery {
    /// Chooses the adapter again now that the server's address is known (it usually is not when local
    /// discovery runs: server discovery comes after). Re-reads the adapters, since a VPN may have come up
    /// in between; keeps the previous list if they cannot be read.
    pub fn choose_for(&mut self, net: &dyn NetworkInfo, preference: &[String], server_ip: IpAddr) -> &AdapterChoice {
        let (adapters, choice) = choose(net, preference, Some(server_ip), &self.adapters);
        self.adapters = adapters;
        self.network = choice;
        &self.network
    }

    /// The local address to bind a connection to `dest` to; see [`bind_address`].
    pub fn bind_address(&self, dest: IpAddr) -> Option<IpAddr> {
        bind_address(&self.network, dest)
    }
}

/// Runs the local discovery stage. `preference` lists adapter names, most preferred first (empty: no
/// preference); `server` is the server's address when already known. Never fails: what could not be
/// found is explained in the notes and reasons.
pub fn discover_local(
    devices: &dyn DeviceProvider,
    net: &dyn NetworkInfo,
    preference: &[String],
    server: Option<IpAddr>,
) -> LocalDiscovery {
    let span = tracing::info_span!("local_discovery");
    let _entered = span.enter();
    let devices = discover_devices(devices);
    for note in &devices.notes {
        tracing::debug!(note = %note, "media devices");
    }
    let (adapters, network) = choose(net, preference, server, &[]);
    LocalDiscovery { devices, network, adapters }
}

/// Reads adapters (falling back to `previous` when that fails), asks the route, selects, and logs the
/// adapters that cannot be used, as the Microsoft client does.
fn choose(
    net: &dyn NetworkInfo,
    preference: &[String],
    server: Option<IpAddr>,
    previous: &[Adapter],
) -> (Vec<Adapter>, AdapterChoice) {
    let (adapters, failure) = match net.adapters() {
        Ok(adapters) => (adapters, None),
        Err(err) => (previous.to_vec(), Some(err)),
    };
    let route = server.and_then(|ip| net.route_to(ip));
    let mut choice = select_adapter(&adapters, preference, route);
    if let Some(err) = failure {
        choice.reason = format!("{err}; {}", choice.reason);
    }
    for unusable in &choice.unusable {
        tracing::info!(adapter = %unusable.name, why = %unusable.why, "network adapter cannot be used");
    }
    tracing::debug!(reason = %choice.reason, "network adapter choice");
    (adapters, choice)
}

#[cfg(test)]
mod tests;
