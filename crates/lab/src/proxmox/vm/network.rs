//! A VM's `network` block: the devices (`net0`, `net1`, ...), read from the PVE config and
//! written back as PVE's device values side by side, so a device keeps what Proxmox added
//! (its MAC address, options not managed here).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::proxmox::checks;
use crate::proxmox::guest_config::{check_vlan_and_mac, field, indexed_devices, ConfigDiff};
use crate::proxmox::props::{self, PropString};
use crate::validation::{FieldError, PathSegment};

/// One network device.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkDevice {
    /// The bridge, e.g. `vmbr0`.
    pub bridge: String,

    /// The device model: `virtio`, `e1000`, `e1000e`, `rtl8139` or `vmxnet3`.
    #[serde(default = "default_model")]
    pub model: String,

    /// VLAN tag, 1-4094; left out, untagged.
    #[serde(default)]
    pub vlan_id: Option<u32>,

    /// Apply the Proxmox firewall to this device.
    #[serde(default)]
    pub firewall: bool,

    /// The MAC address; left out, Proxmox picks one and it is kept from then on.
    #[serde(default)]
    pub mac_address: Option<String>,
}

fn default_model() -> String {
    "virtio".to_string()
}

pub const NET_MODELS: &[&str] = &["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"];

/// Checks a `network` list.
pub(super) fn check(network: &[NetworkDevice]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut err = |path: Vec<PathSegment>, message: String| {
        errors.push(FieldError::new(path, message));
    };
    if network.len() > 32 {
        err(
            vec![field("network")],
            "at most 32 network devices (net0-net31)".into(),
        );
    }
    for (i, nic) in network.iter().enumerate() {
        let at = |name: &str| vec![field("network"), PathSegment::Index(i), field(name)];
        if let Err(e) = checks::bridge(&nic.bridge) {
            err(at("bridge"), e);
        }
        if !NET_MODELS.contains(&nic.model.as_str()) {
            err(
                at("model"),
                format!(
                    "{:?} is not a model: use one of {}",
                    nic.model,
                    NET_MODELS.join(", ")
                ),
            );
        }
        for (name, message) in check_vlan_and_mac(nic.vlan_id, nic.mac_address.as_deref()) {
            err(at(name), message);
        }
    }
    errors
}

// ------------------------------------------------------------------------- read

/// The devices of a config, `net0` first.
pub(super) fn network_from(config: &BTreeMap<String, String>) -> Vec<NetworkDevice> {
    indexed_devices(config, "net", nic_from)
}

fn nic_from(value: &str) -> NetworkDevice {
    let p = PropString::parse(value);
    let mut model = p.get("model").unwrap_or("virtio").to_string();
    let mut mac = p.get("macaddr").map(str::to_string);
    for (k, v) in &p.pairs {
        if NET_MODELS.contains(&k.as_str()) || is_any_net_model(k) {
            model = k.clone();
            if !v.is_empty() {
                mac = Some(v.clone());
            }
        }
    }
    NetworkDevice {
        bridge: p.get("bridge").unwrap_or_default().to_string(),
        model,
        vlan_id: p.get("tag").and_then(|t| t.parse().ok()),
        firewall: p
            .get("firewall")
            .and_then(props::parse_bool)
            .unwrap_or(false),
        mac_address: mac.map(|m| m.to_ascii_uppercase()),
    }
}

fn is_any_net_model(key: &str) -> bool {
    matches!(
        key,
        "e1000-82540em"
            | "e1000-82544gc"
            | "e1000-82545em"
            | "i82551"
            | "i82557b"
            | "i82559er"
            | "ne2k_isa"
            | "ne2k_pci"
            | "pcnet"
    )
}

// ------------------------------------------------------------------------- write

pub(super) fn render_nic(nic: &NetworkDevice, current: Option<&String>) -> String {
    let mut p = current.map(|c| PropString::parse(c)).unwrap_or_default();
    // The model key carries the MAC (`virtio=BC:24:...`); keep the MAC unless one is given.
    let mut mac = nic.mac_address.clone();
    for (k, v) in &p.pairs {
        if (NET_MODELS.contains(&k.as_str()) || is_any_net_model(k))
            && mac.is_none()
            && !v.is_empty()
        {
            mac = Some(v.clone());
        }
    }
    if mac.is_none() {
        mac = p.get("macaddr").map(str::to_string);
    }
    let old_model_pos = p
        .pairs
        .iter()
        .position(|(k, _)| NET_MODELS.contains(&k.as_str()) || is_any_net_model(k) || k == "model");
    p.pairs.retain(|(k, _)| {
        !(NET_MODELS.contains(&k.as_str()) || is_any_net_model(k) || k == "model" || k == "macaddr")
    });
    let model_pair = (nic.model.clone(), mac.unwrap_or_default());
    let model_pair = if model_pair.1.is_empty() {
        (model_pair.0, String::new())
    } else {
        model_pair
    };
    p.pairs
        .insert(old_model_pos.unwrap_or(0).min(p.pairs.len()), model_pair);
    p.set("bridge", nic.bridge.clone());
    match nic.vlan_id {
        Some(tag) => p.set("tag", tag.to_string()),
        None => p.remove("tag"),
    }
    if nic.firewall {
        p.set("firewall", "1");
    } else {
        p.remove("firewall");
    }
    let rendered = p.render();
    // `virtio=` with no MAC is written `virtio`.
    rendered.replace(&format!("{}=,", nic.model), &format!("{},", nic.model))
}

/// Sets `net0`... to the devices listed and removes the devices beyond them.
pub(super) fn plan(network: &[NetworkDevice], diff: &mut ConfigDiff<'_>) {
    let config = diff.config();
    for (i, nic) in network.iter().enumerate() {
        let key = format!("net{i}");
        let value = render_nic(nic, config.get(&key));
        diff.set(&key, value);
    }
    for key in config.keys() {
        if let Some(i) = props::key_index(key, "net") {
            let key = format!("net{i}");
            if i as usize >= network.len() && !diff.delete.contains(&key) {
                diff.delete.push(key);
            }
        }
    }
}
