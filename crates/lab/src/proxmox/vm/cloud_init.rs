//! A VM's `cloud_init` block: its checks, how it reads from the PVE config (`ciuser`,
//! `sshkeys`, `ipconfig0`, ...) and the keys it writes back, side by side, plus the
//! cloud-init drive a VM gets when it has none.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::args::Vm;
use super::disks::{is_cloud_init_drive, valid_slot, CLOUD_INIT_SLOT};
use super::read::VmActual;
use crate::proxmox::checks;
use crate::proxmox::guest_config::{field, AddressWords, Addresses, ConfigDiff};
use crate::proxmox::props::{self, PropString};
use crate::secret::Secret;
use crate::validation::{FieldError, PathSegment};

/// Cloud-init settings (the first network device's addresses).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct CloudInit {
    /// The user cloud-init creates.
    #[serde(default)]
    pub user: Option<String>,

    /// That user's password. Sensitive; Proxmox never shows it back, so a change made
    /// outside Terraform is not detected.
    #[serde(default)]
    pub password: Option<Secret>,

    /// SSH public keys for that user, one per element (`ssh-ed25519 AAAA... admin@lab`).
    #[serde(default)]
    pub ssh_keys: Vec<String>,

    /// IPv4 address with prefix length (`10.0.20.11/24`) or `dhcp`.
    #[serde(default)]
    pub ipv4: Option<String>,

    /// IPv4 gateway (needs a static `ipv4`).
    #[serde(default)]
    pub gateway: Option<String>,

    /// IPv6 address with prefix length, `dhcp` or `auto` (SLAAC).
    #[serde(default)]
    pub ipv6: Option<String>,

    /// IPv6 gateway (needs a static `ipv6`).
    #[serde(default)]
    pub gateway6: Option<String>,

    /// DNS servers.
    #[serde(default)]
    pub dns_servers: Vec<String>,

    /// DNS search domain.
    #[serde(default)]
    pub dns_domain: Option<String>,

    /// Storage for the cloud-init drive when one is added (`ide2`); left out, the first
    /// disk's storage, else `local-lvm`.
    #[serde(default)]
    pub storage: Option<String>,
}

/// What a cloud-init address may be instead of an address.
const ADDRESS_WORDS: AddressWords = AddressWords {
    v4: &["dhcp"],
    v6: &["dhcp", "auto"],
    gateway_without_static:
        "a gateway needs a static ipv4 address (with DHCP the server hands it out)",
};

/// Checks the `cloud_init` block.
pub(super) fn check(ci: &CloudInit) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let at = |name: &str| vec![field("cloud_init"), field(name)];
    if let Some(user) = &ci.user {
        if user.is_empty() || user.contains(char::is_whitespace) {
            errors.push(FieldError::new(
                at("user"),
                format!("{user:?} is not a user name"),
            ));
        }
    }
    for (i, key) in ci.ssh_keys.iter().enumerate() {
        if let Err(e) = checks::ssh_public_key(key) {
            errors.push(FieldError::new(
                vec![
                    field("cloud_init"),
                    field("ssh_keys"),
                    PathSegment::Index(i),
                ],
                e,
            ));
        }
    }
    let addresses = Addresses {
        ipv4: ci.ipv4.as_deref(),
        gateway: ci.gateway.as_deref(),
        ipv6: ci.ipv6.as_deref(),
        gateway6: ci.gateway6.as_deref(),
    };
    for (name, message) in addresses.check(&ADDRESS_WORDS) {
        errors.push(FieldError::new(at(name), message));
    }
    for (i, server) in ci.dns_servers.iter().enumerate() {
        if let Err(e) = checks::ip(server) {
            errors.push(FieldError::new(
                vec![
                    field("cloud_init"),
                    field("dns_servers"),
                    PathSegment::Index(i),
                ],
                e,
            ));
        }
    }
    if let Some(domain) = &ci.dns_domain {
        if let Err(e) = checks::dns_name(domain) {
            errors.push(FieldError::new(at("dns_domain"), e));
        }
    }
    if let Some(storage) = &ci.storage {
        if let Err(e) = checks::storage_id(storage) {
            errors.push(FieldError::new(at("storage"), e));
        }
    }
    errors
}

// ------------------------------------------------------------------------- read

pub(super) fn cloud_init_from(config: &BTreeMap<String, String>) -> Option<CloudInit> {
    let drive = config
        .iter()
        .find(|(k, v)| valid_slot(k) && is_cloud_init_drive(v))
        .map(|(_, v)| v.clone());
    let keys = [
        "ciuser",
        "cipassword",
        "sshkeys",
        "ipconfig0",
        "nameserver",
        "searchdomain",
    ];
    if drive.is_none() && !keys.iter().any(|k| config.contains_key(*k)) {
        return None;
    }
    let ip = config
        .get("ipconfig0")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    Some(CloudInit {
        user: config.get("ciuser").cloned(),
        password: None,
        ssh_keys: config
            .get("sshkeys")
            .map(|k| {
                props::percent_decode(k)
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        ipv4: ip.get("ip").map(str::to_string),
        gateway: ip.get("gw").map(str::to_string),
        ipv6: ip.get("ip6").map(str::to_string),
        gateway6: ip.get("gw6").map(str::to_string),
        dns_servers: config
            .get("nameserver")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        dns_domain: config.get("searchdomain").cloned(),
        storage: drive.and_then(|d| {
            PropString::parse(&d)
                .head
                .and_then(|h| h.split(':').next().map(str::to_string))
        }),
    })
}

// ------------------------------------------------------------------------- write

/// Plans the cloud-init settings: each key set or removed, the password whenever it
/// differs from the one last applied (`prior_password`; always when `creating`), and a
/// cloud-init drive added when the VM has none.
pub(super) fn plan(
    ci: &CloudInit,
    actual: &VmActual,
    desired: &Vm,
    prior_password: Option<&Secret>,
    creating: bool,
    diff: &mut ConfigDiff<'_>,
) {
    let config = &actual.config;
    diff.set_or_delete("ciuser", ci.user.clone());
    let keys = if ci.ssh_keys.is_empty() {
        None
    } else {
        Some(props::uri_component(&(ci.ssh_keys.join("\n") + "\n")))
    };
    let current_keys = actual
        .spec
        .cloud_init
        .as_ref()
        .map(|c| c.ssh_keys.clone())
        .unwrap_or_default();
    if current_keys != ci.ssh_keys {
        match keys {
            Some(k) => diff.set.push(("sshkeys".into(), k)),
            None => diff.delete_present("sshkeys"),
        }
    }
    let mut ip = PropString::default();
    if let Some(v) = &ci.ipv4 {
        ip.set("ip", v.clone());
    }
    if let Some(v) = &ci.gateway {
        ip.set("gw", v.clone());
    }
    if let Some(v) = &ci.ipv6 {
        ip.set("ip6", v.clone());
    }
    if let Some(v) = &ci.gateway6 {
        ip.set("gw6", v.clone());
    }
    let current_ip = config
        .get("ipconfig0")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    let same_ip = ["ip", "gw", "ip6", "gw6"]
        .iter()
        .all(|k| current_ip.get(k) == ip.get(k));
    if !same_ip {
        diff.set_or_delete("ipconfig0", (!ip.pairs.is_empty()).then(|| ip.render()));
    }
    let current_dns = actual
        .spec
        .cloud_init
        .as_ref()
        .map(|c| c.dns_servers.clone())
        .unwrap_or_default();
    if current_dns != ci.dns_servers {
        diff.set_or_delete("nameserver", Some(ci.dns_servers.join(" ")));
    }
    diff.set_or_delete("searchdomain", ci.dns_domain.clone());
    // The password cannot be read back: set it when it differs from what was applied.
    let wanted = ci.password.as_ref().map(|p| p.expose().to_string());
    let before = prior_password.map(|p| p.expose().to_string());
    if creating || wanted != before {
        match wanted {
            Some(p) => diff.set.push(("cipassword".into(), p)),
            None => diff.delete_present("cipassword"),
        }
    }
    let has_drive = config
        .iter()
        .any(|(k, v)| valid_slot(k) && is_cloud_init_drive(v));
    if !has_drive {
        let storage = ci
            .storage
            .clone()
            .or_else(|| {
                desired
                    .disks
                    .as_ref()
                    .and_then(|d| d.first())
                    .map(|d| d.storage.clone())
            })
            .or_else(|| {
                actual
                    .spec
                    .disks
                    .as_ref()
                    .and_then(|d| d.first())
                    .map(|d| d.storage.clone())
            })
            .unwrap_or_else(|| "local-lvm".to_string());
        diff.set
            .push((CLOUD_INIT_SLOT.to_string(), format!("{storage}:cloudinit")));
    }
}
