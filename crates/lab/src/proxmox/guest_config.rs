//! The settings VMs and containers share, in both directions: their checks (guest ids,
//! tags and notes, a device's addresses), how they read from a PVE config, and
//! [`ConfigDiff`], which both plans use to turn desired values into the `set` and `delete`
//! of one config request. Kept in one place so the VM and the container read and write
//! them the same way.

use std::collections::{BTreeMap, BTreeSet};

use super::checks;
use super::props;
use crate::validation::{FieldError, PathSegment};

/// A path segment naming an argument.
pub(crate) fn field(name: &str) -> PathSegment {
    PathSegment::Field(name.to_string())
}

/// Guest ids PVE hands out: 100 to 999999999. `noun` says what the id is for ("VM",
/// "guest") in the message.
pub(crate) fn check_guest_id(id: u32, noun: &str) -> Result<(), String> {
    if (100..=999_999_999).contains(&id) {
        Ok(())
    } else {
        Err(format!(
            "{id} is not a {noun} id: ids run from 100 to 999999999"
        ))
    }
}

/// Checks `tags` and `description`, which every guest has.
pub(crate) fn check_notes(
    tags: &BTreeSet<String>,
    description: &str,
    errors: &mut Vec<FieldError>,
) {
    for t in tags {
        if let Err(e) = checks::tag(t) {
            errors.push(FieldError::new(vec![field("tags")], e));
        }
    }
    if description.len() > 8192 {
        errors.push(FieldError::new(
            vec![field("description")],
            "at most 8192 bytes".to_string(),
        ));
    }
}

/// Checks a network device's VLAN tag and MAC address, with the argument each belongs to.
pub(crate) fn check_vlan_and_mac(
    vlan_id: Option<u32>,
    mac_address: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if let Some(vlan) = vlan_id {
        if let Err(e) = checks::vlan(vlan) {
            errors.push(("vlan_id", e));
        }
    }
    if let Some(mac) = mac_address {
        if let Err(e) = checks::mac_address(mac) {
            errors.push(("mac_address", e));
        }
    }
    errors
}

/// The words a device's address may be instead of an address, and what a gateway without a
/// static address is told.
pub(crate) struct AddressWords {
    pub v4: &'static [&'static str],
    pub v6: &'static [&'static str],
    pub gateway_without_static: &'static str,
}

/// A device's addresses and gateways as declared (a VM's cloud-init, a container's
/// interface).
pub(crate) struct Addresses<'a> {
    pub ipv4: Option<&'a str>,
    pub gateway: Option<&'a str>,
    pub ipv6: Option<&'a str>,
    pub gateway6: Option<&'a str>,
}

impl Addresses<'_> {
    /// Every problem, with the argument it belongs to (`ipv4`, `gateway`, `ipv6`,
    /// `gateway6`), in that order.
    pub fn check(&self, words: &AddressWords) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        let mut v4_static = None;
        if let Some(ipv4) = self.ipv4 {
            if !words.v4.contains(&ipv4) {
                match checks::cidr_v4(ipv4) {
                    Ok(parsed) => v4_static = Some(parsed),
                    Err(e) => errors.push(("ipv4", format!("{e}{}", alternatives(words.v4)))),
                }
            }
        }
        if let Some(gw) = self.gateway {
            match checks::ipv4(gw) {
                Err(e) => errors.push(("gateway", e)),
                Ok(gw) => match v4_static {
                    // An address that is no address was reported above.
                    None if self.ipv4.is_some_and(|ip| !words.v4.contains(&ip)) => {}
                    None => errors.push(("gateway", words.gateway_without_static.to_string())),
                    Some((address, prefix)) => {
                        if !checks::same_network_v4(address, prefix, gw) {
                            errors.push((
                                "gateway",
                                format!(
                                    "gateway {gw} is not in the network of {}",
                                    self.ipv4.unwrap_or_default()
                                ),
                            ));
                        }
                    }
                },
            }
        }
        let mut v6_static = false;
        if let Some(ipv6) = self.ipv6 {
            if !words.v6.contains(&ipv6) {
                match checks::cidr_v6(ipv6) {
                    Ok(_) => v6_static = true,
                    Err(e) => errors.push(("ipv6", format!("{e}{}", alternatives(words.v6)))),
                }
            }
        }
        if let Some(gw) = self.gateway6 {
            if let Err(e) = checks::ipv6(gw) {
                errors.push(("gateway6", e));
            } else if !v6_static {
                errors.push((
                    "gateway6",
                    "a gateway6 needs a static ipv6 address".to_string(),
                ));
            }
        }
        errors
    }
}

/// `, or "dhcp"`; `, "dhcp" or "manual"`; `, "dhcp", "auto" or "manual"`.
fn alternatives(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => format!(", or {last}"),
        Some((last, rest)) => format!(", {} or {last}", rest.join(", ")),
    }
}

/// The devices of a config under `prefix` (`net0`, `net1`, ...), parsed, in index order.
pub(crate) fn indexed_devices<T>(
    config: &BTreeMap<String, String>,
    prefix: &str,
    parse: impl Fn(&str) -> T,
) -> Vec<T> {
    let mut devices: Vec<(u32, T)> = config
        .iter()
        .filter_map(|(k, v)| props::key_index(k, prefix).map(|i| (i, parse(v))))
        .collect();
    devices.sort_by_key(|(i, _)| *i);
    devices.into_iter().map(|(_, d)| d).collect()
}

/// `onboot`, read from a config.
pub(crate) fn on_boot_from(config: &BTreeMap<String, String>) -> bool {
    config
        .get("onboot")
        .and_then(|v| props::parse_bool(v))
        .unwrap_or(false)
}

/// `tags`, read from a config.
pub(crate) fn tags_from(config: &BTreeMap<String, String>) -> BTreeSet<String> {
    config
        .get("tags")
        .map(|t| props::parse_tags(t))
        .unwrap_or_default()
}

/// `description`, read from a config.
pub(crate) fn description_from(config: &BTreeMap<String, String>) -> String {
    config.get("description").cloned().unwrap_or_default()
}

/// Disk sizes are compared to within 1 MiB (PVE rounds sizes it writes).
pub(crate) const SIZE_EPSILON_GB: f64 = 1.0 / 1024.0;

/// `32`, `2.2`: sizes for messages.
pub fn trim_gb(gb: f64) -> String {
    let text = format!("{gb:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The keys one config request sets and deletes, built against the config as read: a key
/// that already holds the value is not sent.
pub(crate) struct ConfigDiff<'a> {
    config: &'a BTreeMap<String, String>,
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
}

impl<'a> ConfigDiff<'a> {
    pub fn new(config: &'a BTreeMap<String, String>) -> Self {
        Self {
            config,
            set: Vec::new(),
            delete: Vec::new(),
        }
    }

    /// The config as read.
    pub fn config(&self) -> &'a BTreeMap<String, String> {
        self.config
    }

    /// Sets `key` unless the config holds `value` already.
    pub fn set(&mut self, key: &str, value: String) {
        if self.config.get(key) != Some(&value) {
            self.set.push((key.to_string(), value));
        }
    }

    /// Sets `key` to a non-empty `value`; removes it, when the config has it, otherwise.
    pub fn set_or_delete(&mut self, key: &str, value: Option<String>) {
        match value {
            Some(v) if !v.is_empty() => self.set(key, v),
            _ => self.delete_present(key),
        }
    }

    /// Removes `key` when the config has it.
    pub fn delete_present(&mut self, key: &str) {
        if self.config.contains_key(key) {
            self.delete.push(key.to_string());
        }
    }

    /// `onboot` when it differs.
    pub fn on_boot(&mut self, have: bool, want: bool) {
        if have != want {
            self.set("onboot", props::bool_text(want).to_string());
        }
    }

    /// `tags` and `description` when they differ: set, or removed when left empty.
    pub fn notes(
        &mut self,
        have_tags: &BTreeSet<String>,
        tags: &BTreeSet<String>,
        have_description: &str,
        description: &str,
    ) {
        if have_tags != tags {
            if tags.is_empty() {
                self.delete.push("tags".into());
            } else {
                let joined: Vec<&str> = tags.iter().map(String::as_str).collect();
                self.set("tags", joined.join(";"));
            }
        }
        if have_description != description {
            if description.is_empty() {
                self.delete.push("description".into());
            } else {
                self.set("description", description.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_read_as_a_sentence() {
        assert_eq!(alternatives(&["dhcp"]), ", or \"dhcp\"");
        assert_eq!(
            alternatives(&["dhcp", "manual"]),
            ", \"dhcp\" or \"manual\""
        );
        assert_eq!(
            alternatives(&["dhcp", "auto", "manual"]),
            ", \"dhcp\", \"auto\" or \"manual\""
        );
    }

    #[test]
    fn a_gateway_needs_a_static_address_in_its_network() {
        let words = AddressWords {
            v4: &["dhcp"],
            v6: &["dhcp", "auto"],
            gateway_without_static: "needs static",
        };
        let check = |ipv4: Option<&str>, gateway: Option<&str>| {
            Addresses {
                ipv4,
                gateway,
                ipv6: None,
                gateway6: None,
            }
            .check(&words)
        };
        assert_eq!(
            check(Some("dhcp"), Some("10.0.0.1")),
            vec![("gateway", "needs static".to_string())]
        );
        assert_eq!(
            check(None, Some("10.0.0.1")),
            vec![("gateway", "needs static".to_string())]
        );
        // A bad address is reported once, not again at the gateway.
        assert_eq!(check(Some("nope"), Some("10.0.0.1")).len(), 1);
        assert_eq!(
            check(Some("10.0.20.11/24"), Some("10.0.30.1")),
            vec![(
                "gateway",
                "gateway 10.0.30.1 is not in the network of 10.0.20.11/24".to_string()
            )]
        );
        assert!(check(Some("10.0.20.11/24"), Some("10.0.20.1")).is_empty());
    }
}
