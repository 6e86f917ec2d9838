//! Tests of [`select_adapter`] and [`bind_address`] with fabricated adapters.

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test literal")
}

fn adapter(name: &str, index: u32, addrs: &[&str]) -> Adapter {
    Adapter {
        name: name.into(),
        index,
        addresses: addrs.iter().map(|a| ip(a)).collect(),
        is_up: true,
        is_loopback: false,
        has_default_route: false,
        kind: "Ethernet".into(),
    }
}

/// lo, eth0 (default route), wlan0 (up), eth1 (down), usb0 (link-local only), tun0 (no address).
fn machine() -> Vec<Adapter> {
    let mut lo = adapter("lo", 1, &["127.0.0.1", "::1"]);
    lo.is_loopback = true;
    lo.kind = "Loopback".into();
    let mut eth0 = adapter("eth0", 2, &["10.0.0.5", "fe80::1", "2001:db8::5"]);
    eth0.has_default_route = true;
    let wlan0 = adapter("wlan0", 3, &["192.168.1.20"]);
    let mut eth1 = adapter("eth1", 4, &["172.16.0.9"]);
    eth1.is_up = false;
    let usb0 = adapter("usb0", 5, &["169.254.3.4", "fe80::9"]);
    let tun0 = adapter("tun0", 6, &[]);
    vec![lo, eth0, wlan0, eth1, usb0, tun0]
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn why<'a>(choice: &'a AdapterChoice, name: &str) -> Option<&'a str> {
    choice.unusable.iter().find(|u| u.name == name).map(|u| u.why.as_str())
}

fn chosen(choice: &AdapterChoice) -> Option<&str> {
    choice.chosen.as_ref().map(|a| a.name.as_str())
}

#[test]
fn preference_order_is_honoured_over_the_route() {
    let choice = select_adapter(&machine(), &names(&["wlan0", "eth0"]), Some(ip("10.0.0.5")));
    assert_eq!(chosen(&choice), Some("wlan0"));
    assert_eq!(choice.basis, ChoiceBasis::Preference);
    assert!(choice.reason.contains("position 1"), "{}", choice.reason);
}

#[test]
fn preferred_but_down_falls_through_with_a_reason() {
    let choice = select_adapter(&machine(), &names(&["eth1", "ghost0", "usb0", "wlan0"]), None);
    assert_eq!(chosen(&choice), Some("wlan0"));
    assert_eq!(why(&choice, "eth1"), Some("preferred but down"));
    assert_eq!(why(&choice, "ghost0"), Some("preferred but not present"));
    assert!(why(&choice, "usb0").is_some_and(|w| w.starts_with("preferred but link-local")), "{choice:?}");
    assert!(choice.reason.contains("position 4"), "{}", choice.reason);
    // Reported once each, not again in the general sweep.
    assert_eq!(choice.unusable.iter().filter(|u| u.name == "eth1").count(), 1);
}

#[test]
fn every_unusable_adapter_is_reported() {
    let choice = select_adapter(&machine(), &[], None);
    assert_eq!(why(&choice, "eth1"), Some("down"));
    assert_eq!(why(&choice, "tun0"), Some("no address"));
    assert!(why(&choice, "usb0").is_some_and(|w| w.starts_with("link-local")));
    assert!(why(&choice, "lo").is_some_and(|w| w.starts_with("loopback")));
    assert_eq!(why(&choice, "eth0"), None);
    assert_eq!(why(&choice, "wlan0"), None);
    assert_eq!(choice.unusable.len(), 4, "{:?}", choice.unusable);
}

#[test]
fn route_picks_the_adapter_holding_the_source_address() {
    let choice = select_adapter(&machine(), &[], Some(ip("192.168.1.20")));
    assert_eq!(chosen(&choice), Some("wlan0"));
    assert_eq!(choice.basis, ChoiceBasis::Route);
    assert_eq!(choice.route_local_addr, Some(ip("192.168.1.20")));
}

#[test]
fn ipv6_route_picks_its_adapter() {
    let choice = select_adapter(&machine(), &[], Some(ip("2001:db8::5")));
    assert_eq!(chosen(&choice), Some("eth0"));
    assert_eq!(choice.basis, ChoiceBasis::Route);
}

#[test]
fn loopback_is_allowed_when_the_server_is_on_this_machine() {
    let choice = select_adapter(&machine(), &[], Some(ip("127.0.0.1")));
    assert_eq!(chosen(&choice), Some("lo"));
    assert_eq!(choice.basis, ChoiceBasis::Route);
    assert_eq!(why(&choice, "lo"), None);
    assert_eq!(bind_address(&choice, ip("127.0.0.1")), Some(ip("127.0.0.1")));
}

#[test]
fn default_route_when_the_server_is_unknown() {
    let choice = select_adapter(&machine(), &[], None);
    assert_eq!(chosen(&choice), Some("eth0"));
    assert_eq!(choice.basis, ChoiceBasis::DefaultRoute);
}

#[test]
fn route_address_on_no_adapter_falls_back_to_default_route_and_says_so() {
    let choice = select_adapter(&machine(), &[], Some(ip("10.9.9.9")));
    assert_eq!(chosen(&choice), Some("eth0"));
    assert_eq!(choice.basis, ChoiceBasis::DefaultRoute);
    assert!(choice.reason.contains("no usable adapter holds 10.9.9.9"), "{}", choice.reason);
}

#[test]
fn without_default_route_the_first_usable_non_loopback_adapter() {
    let mut adapters = machine();
    adapters.iter_mut().for_each(|a| a.has_default_route = false);
    let choice = select_adapter(&adapters, &[], None);
    assert_eq!(chosen(&choice), Some("eth0"));
    assert_eq!(choice.basis, ChoiceBasis::FirstUsable);
}

#[test]
fn nothing_usable_gives_none_with_reasons() {
    let adapters: Vec<Adapter> = machine().into_iter().filter(|a| a.name != "eth0" && a.name != "wlan0").collect();
    let choice = select_adapter(&adapters, &names(&["eth1"]), None);
    assert_eq!(choice.chosen, None);
    assert_eq!(choice.basis, ChoiceBasis::NoneUsable);
    assert_eq!(choice.unusable.len(), adapters.len());
    assert_eq!(why(&choice, "eth1"), Some("preferred but down"));
    assert_eq!(bind_address(&choice, ip("10.0.0.1")), None);

    let empty = select_adapter(&[], &[], None);
    assert_eq!(empty.chosen, None);
    assert_eq!(empty.reason, "no network adapter found");
}

#[test]
fn duplicate_preferences_are_reported_once() {
    let choice = select_adapter(&machine(), &names(&["eth1", "eth1", "ghost", "ghost"]), None);
    assert_eq!(choice.unusable.iter().filter(|u| u.name == "eth1").count(), 1);
    assert_eq!(choice.unusable.iter().filter(|u| u.name == "ghost").count(), 1);
    assert_eq!(chosen(&choice), Some("eth0"));
}

#[test]
fn bind_address_matches_family_and_skips_link_local() {
    let choice = select_adapter(&machine(), &names(&["eth0"]), None);
    assert_eq!(bind_address(&choice, ip("203.0.113.7")), Some(ip("10.0.0.5")));
    assert_eq!(bind_address(&choice, ip("2001:db8::77")), Some(ip("2001:db8::5")));
    assert_eq!(bind_address(&choice, ip("fe80::42")), Some(ip("fe80::1")), "link-local dest may use link-local");

    let v4_only = select_adapter(&machine(), &names(&["wlan0"]), None);
    assert_eq!(bind_address(&v4_only, ip("2001:db8::77")), None, "no IPv6 on wlan0: let the OS choose");
}

#[test]
fn bind_address_prefers_the_route_source_address() {
    let mut adapters = machine();
    adapters[1].addresses.insert(0, ip("10.0.0.99"));
    let choice = select_adapter(&adapters, &[], Some(ip("10.0.0.5")));
    assert_eq!(bind_address(&choice, ip("10.0.0.1")), Some(ip("10.0.0.5")));
}

#[test]
fn bind_address_never_binds_loopback_for_a_remote_server() {
    let mut lo = machine().remove(0);
    lo.is_loopback = true;
    let choice = select_adapter(&[lo], &[], Some(ip("127.0.0.1")));
    assert_eq!(chosen(&choice), Some("lo"));
    assert_eq!(bind_address(&choice, ip("198.51.100.1")), None);
    assert_eq!(bind_address(&choice, ip("::1")), Some(ip("::1")));
}
