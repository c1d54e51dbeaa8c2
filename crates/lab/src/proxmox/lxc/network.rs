//! A container's `network` block: its interfaces' checks, how they read from the PVE
//! config (`net0`, `net1`, ...) and the values written back, side by side, so an interface
//! keeps what Proxmox added (its MAC address, its type).

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proxmox::checks;
use crate::proxmox::guest_config::{
    check_vlan_and_mac, field, indexed_devices, AddressWords, Addresses,
};
use crate::proxmox::props::{self, PropString};
use crate::validation::{FieldError, PathSegment};

/// One network interface.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ContainerNic {
    /// The interface name inside the container, e.g. `eth0`.
    pub name: String,

    /// The bridge, e.g. `vmbr0`.
    pub bridge: String,

    /// IPv4 address with prefix length (`10.0.30.5/24`), `dhcp` or `manual`.
    #[serde(default)]
    pub ipv4: Option<String>,

    /// IPv4 gateway (needs a static `ipv4`).
    #[serde(default)]
    pub gateway: Option<String>,

    /// IPv6 address with prefix length, `dhcp`, `auto` (SLAAC) or `manual`.
    #[serde(default)]
    pub ipv6: Option<String>,

    /// IPv6 gateway (needs a static `ipv6`).
    #[serde(default)]
    pub gateway6: Option<String>,

    /// VLAN tag, 1-4094.
    #[serde(default)]
    pub vlan_id: Option<u32>,

    /// Apply the Proxmox firewall to this interface.
    #[serde(default)]
    pub firewall: bool,

    /// The MAC address; left out, Proxmox picks one and it is kept.
    #[serde(default)]
    pub mac_address: Option<String>,
}

/// What an interface's address may be instead of an address.
const ADDRESS_WORDS: AddressWords = AddressWords {
    v4: &["dhcp", "manual"],
    v6: &["dhcp", "auto", "manual"],
    gateway_without_static: "a gateway needs a static ipv4 address",
};

/// Checks a `network` list.
pub(super) fn check(network: &[ContainerNic]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err =
        |path: Vec<PathSegment>, message: String| errors.push(FieldError::new(path, message));
    let mut names = BTreeSet::new();
    for (i, nic) in network.iter().enumerate() {
        let at = |name: &str| vec![field("network"), PathSegment::Index(i), field(name)];
        let name_ok = !nic.name.is_empty()
            && nic.name.len() <= 15
            && nic
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !name_ok {
            err(
                at("name"),
                format!("{:?} is not an interface name, e.g. \"eth0\"", nic.name),
            );
        }
        if !names.insert(nic.name.clone()) {
            err(
                at("name"),
                format!("interface {} is listed twice", nic.name),
            );
        }
        if let Err(e) = checks::bridge(&nic.bridge) {
            err(at("bridge"), e);
        }
        let addresses = Addresses {
            ipv4: nic.ipv4.as_deref(),
            gateway: nic.gateway.as_deref(),
            ipv6: nic.ipv6.as_deref(),
            gateway6: nic.gateway6.as_deref(),
        };
        for (name, message) in addresses.check(&ADDRESS_WORDS) {
            err(at(name), message);
        }
        for (name, message) in check_vlan_and_mac(nic.vlan_id, nic.mac_address.as_deref()) {
            err(at(name), message);
        }
    }
    errors
}

// ------------------------------------------------------------------------- read

/// The interfaces of a config, `net0` first.
pub(super) fn network_from(config: &BTreeMap<String, String>) -> Vec<ContainerNic> {
    indexed_devices(config, "net", nic_from)
}

fn nic_from(value: &str) -> ContainerNic {
    let p = PropString::parse(value);
    let text = |k: &str| p.get(k).map(str::to_string);
    ContainerNic {
        name: text("name").unwrap_or_default(),
        bridge: text("bridge").unwrap_or_default(),
        ipv4: text("ip"),
        gateway: text("gw"),
        ipv6: text("ip6"),
        gateway6: text("gw6"),
        vlan_id: p.get("tag").and_then(|t| t.parse().ok()),
        firewall: p
            .get("firewall")
            .and_then(props::parse_bool)
            .unwrap_or(false),
        mac_address: p.get("hwaddr").map(|m| m.to_ascii_uppercase()),
    }
}

// ------------------------------------------------------------------------- write

pub(super) fn render_nic(nic: &ContainerNic, current: Option<&String>) -> String {
    let mut p = current.map(|c| PropString::parse(c)).unwrap_or_default();
    p.set("name", nic.name.clone());
    p.set("bridge", nic.bridge.clone());
    let mac = nic
        .mac_address
        .clone()
        .or_else(|| p.get("hwaddr").map(str::to_string));
    p.set_opt("hwaddr", mac);
    p.set_opt("ip", nic.ipv4.clone());
    p.set_opt("gw", nic.gateway.clone());
    p.set_opt("ip6", nic.ipv6.clone());
    p.set_opt("gw6", nic.gateway6.clone());
    p.set_opt("tag", nic.vlan_id.map(|t| t.to_string()));
    if nic.firewall {
        p.set("firewall", "1");
    } else {
        p.remove("firewall");
    }
    p.render()
}
