//! QEMU virtual machines (`homelab_proxmox_vm`): arguments, read, plan, create, update,
//! delete.
//!
//! - Clones from a template (full or linked) or creates an empty VM, then sets every
//!   argument in one config change, grows disks, starts it and, when asked, waits (bounded)
//!   for the guest agent to report an address. Cloud-init settings are written after the
//!   clone, so nothing the template had is silently kept or lost.
//! - A read takes the VM's config as PVE will run it (`/pending`: pending values applied)
//!   and notes which keys wait for a reboot, so a change PVE could not apply live does not
//!   show up again in every plan; [`VmActual::pending`] says what waits.
//! - Arguments PVE cannot show (the template a VM was cloned from, the cloud-init password,
//!   how long to wait for the agent) are kept from what was last applied
//!   ([`keep_unreadable`]).
//! - `disks`, `network` and `cloud_init` left out (None) are not managed: whatever the
//!   template brought stays.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::checks;
use super::client::{Client, Method, Repeat};
use super::error::ProxmoxError;
use super::guests::{self, natural_key, Kind};
use super::props::{self, PropString};
use super::tasks;
use crate::deadline::{Backoff, Deadline};
use crate::secret::Secret;
use crate::validation::{FieldError, PathSegment};

/// A QEMU virtual machine on a Proxmox VE node.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// The node the VM runs on, e.g. `pve1`.
    pub node: String,

    /// The VM's name, a DNS name such as `nextcloud`.
    pub name: String,

    /// The VM id. Leave it out to take the next free id; ids are handed out under one lock,
    /// so VMs created in parallel never collide.
    #[serde(default)]
    pub vm_id: Option<u32>,

    /// Clone this template instead of creating an empty VM. Proxmox does not remember the
    /// template a VM came from: after `terraform import` the first plan records this
    /// argument (an update that sends nothing to Proxmox), never a replacement.
    #[serde(default)]
    pub clone: Option<CloneFrom>,

    /// Install media for an empty VM: an ISO volume attached as CD-ROM on `ide0`, e.g.
    /// `local:iso/debian-12.9.0-amd64-netinst.iso`. Conflicts with `clone` (a clone boots
    /// its template's disk). Left out, whatever CD-ROM the VM has stays.
    #[serde(default)]
    pub iso: Option<String>,

    /// CPU cores per socket (at least 1).
    #[serde(default = "one")]
    pub cores: u32,

    /// CPU sockets (at least 1).
    #[serde(default = "one")]
    pub sockets: u32,

    /// Memory in MB (at least 16).
    #[serde(default = "default_memory")]
    pub memory: u32,

    /// Disks by slot. A disk grows in place when `size_gb` grows; a smaller size is
    /// rejected at plan (Proxmox cannot shrink disks); a new slot adds a disk; a slot
    /// dropped from the list is detached and kept by Proxmox as an unused disk. Left out,
    /// the template's disks stay as they are.
    #[serde(default)]
    pub disks: Option<Vec<Disk>>,

    /// Network devices, in order: the first is `net0`. Left out, the template's stay.
    #[serde(default)]
    pub network: Option<Vec<NetworkDevice>>,

    /// Cloud-init settings, written to the VM after it is cloned or created; a cloud-init
    /// drive is added when the VM has none. Left out, the template's settings stay.
    #[serde(default)]
    pub cloud_init: Option<CloudInit>,

    /// Whether the VM runs. Changed in place (start, or a clean shutdown).
    #[serde(default = "yes")]
    pub started: bool,

    /// Start the VM when its node boots.
    #[serde(default)]
    pub on_boot: bool,

    /// Tags, lowercase (Proxmox stores them lowercase and sorted).
    #[serde(default)]
    pub tags: BTreeSet<String>,

    /// Free text shown in the Proxmox UI's notes.
    #[serde(default)]
    pub description: String,

    /// The QEMU guest agent.
    #[serde(default)]
    pub agent: Agent,

    /// Reboot a running VM after an update when Proxmox keeps some of the changes pending
    /// until the next boot (e.g. more cores without CPU hotplug). Without it, such changes
    /// are reported and wait for a reboot.
    #[serde(default)]
    pub reboot_after_update: bool,
}

/// The template to clone.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CloneFrom {
    /// The template's VM id, e.g. `9000`. It may live on another node of the cluster.
    pub template_id: u32,

    /// A full copy (`true`) or a linked clone sharing the template's base disks (`false`;
    /// fast, but the disks stay on the template's storage).
    #[serde(default = "yes")]
    pub full: bool,
}

/// One disk.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// The slot: `scsi0`-`scsi30`, `virtio0`-`virtio15`, `sata0`-`sata5` or `ide0`-`ide3`
    /// (`ide0` and `ide2` hold the install CD-ROM and the cloud-init drive).
    pub slot: String,

    /// The storage holding the disk, e.g. `local-lvm`. Changing it replaces the VM.
    pub storage: String,

    /// Size in GB (GiB). Grows in place; cannot shrink.
    pub size_gb: f64,
}

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

/// The QEMU guest agent.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// Enable the agent device (the guest must run `qemu-guest-agent`).
    #[serde(default)]
    pub enabled: bool,

    /// After create and update, wait until the agent reports an IPv4 address. The wait is
    /// bounded by `timeout`; an agent that never answers is an error naming it.
    #[serde(default)]
    pub wait_for_ip: bool,

    /// How long to wait for the agent, e.g. `2m`.
    #[serde(default = "default_agent_timeout")]
    pub timeout: String,
}

impl Default for Agent {
    fn default() -> Self {
        Self {
            enabled: false,
            wait_for_ip: false,
            timeout: default_agent_timeout(),
        }
    }
}

fn one() -> u32 {
    1
}
fn yes() -> bool {
    true
}
fn default_memory() -> u32 {
    512
}
fn default_model() -> String {
    "virtio".to_string()
}
fn default_agent_timeout() -> String {
    "5m".to_string()
}

pub const NET_MODELS: &[&str] = &["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"];
const ISO_SLOT: &str = "ide0";
const CLOUD_INIT_SLOT: &str = "ide2";
/// Requests to the agent never wait longer than this for one answer.
const AGENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A refresh asks the agent once, briefly.
const AGENT_READ_TIMEOUT: Duration = Duration::from_secs(5);

fn field(name: &str) -> PathSegment {
    PathSegment::Field(name.to_string())
}

/// Whether `slot` is a disk slot PVE has.
pub fn valid_slot(slot: &str) -> bool {
    let ranges = [("scsi", 30), ("virtio", 15), ("sata", 5), ("ide", 3)];
    ranges.iter().any(|(prefix, max)| {
        slot.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest.bytes().all(|b| b.is_ascii_digit())
                && (rest == "0" || !rest.starts_with('0'))
                && rest.parse::<u32>().is_ok_and(|n| n <= *max)
        })
    })
}

impl Vm {
    /// Every problem with the arguments, each with its path.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |path: Vec<PathSegment>, message: String| {
            errors.push(FieldError::new(path, message));
        };
        if let Err(e) = checks::node_name(&self.node) {
            err(vec![field("node")], e);
        }
        if let Err(e) = checks::dns_name(&self.name) {
            err(vec![field("name")], e);
        }
        if let Some(id) = self.vm_id {
            if !(100..=999_999_999).contains(&id) {
                err(
                    vec![field("vm_id")],
                    format!("{id} is not a VM id: ids run from 100 to 999999999"),
                );
            }
        }
        if let Some(clone) = &self.clone {
            if !(100..=999_999_999).contains(&clone.template_id) {
                err(
                    vec![field("clone"), field("template_id")],
                    format!(
                        "{} is not a VM id: ids run from 100 to 999999999",
                        clone.template_id
                    ),
                );
            }
            if self.vm_id == Some(clone.template_id) {
                err(
                    vec![field("vm_id")],
                    "the VM cannot have its template's id".into(),
                );
            }
            if self.iso.is_some() {
                err(
                    vec![field("iso")],
                    "iso conflicts with clone: install media are for VMs created empty; a clone boots its template's disk (remove iso, or remove clone to create an empty VM)".into(),
                );
            }
        }
        if let Some(iso) = &self.iso {
            if let Err(e) = checks::volume_id(iso, "iso") {
                err(vec![field("iso")], e);
            }
        }
        if self.cores == 0 {
            err(vec![field("cores")], "cores must be at least 1".into());
        }
        if self.sockets == 0 {
            err(vec![field("sockets")], "sockets must be at least 1".into());
        }
        if self.memory < 16 {
            err(
                vec![field("memory")],
                format!(
                    "memory is in MB and must be at least 16 (Proxmox's minimum); got {}",
                    self.memory
                ),
            );
        }
        if let Some(disks) = &self.disks {
            let mut seen = BTreeSet::new();
            for (i, disk) in disks.iter().enumerate() {
                let at = |name: &str| vec![field("disks"), PathSegment::Index(i), field(name)];
                if !valid_slot(&disk.slot) {
                    err(
                        at("slot"),
                        format!(
                            "{:?} is not a disk slot: use scsi0-scsi30, virtio0-virtio15, sata0-sata5 or ide0-ide3",
                            disk.slot
                        ),
                    );
                } else if disk.slot == CLOUD_INIT_SLOT && self.cloud_init.is_some() {
                    err(
                        at("slot"),
                        "ide2 holds the cloud-init drive; use another slot".into(),
                    );
                } else if disk.slot == ISO_SLOT && self.iso.is_some() {
                    err(
                        at("slot"),
                        "ide0 holds the install CD-ROM (iso); use another slot".into(),
                    );
                }
                if !seen.insert(disk.slot.clone()) {
                    err(at("slot"), format!("slot {} is listed twice", disk.slot));
                }
                if let Err(e) = checks::storage_id(&disk.storage) {
                    err(at("storage"), e);
                }
                if !disk.size_gb.is_finite() || disk.size_gb <= 0.0 {
                    err(
                        at("size_gb"),
                        format!("size_gb must be more than 0; got {}", disk.size_gb),
                    );
                }
            }
        }
        if let Some(network) = &self.network {
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
                if let Some(vlan) = nic.vlan_id {
                    if let Err(e) = checks::vlan(vlan) {
                        err(at("vlan_id"), e);
                    }
                }
                if let Some(mac) = &nic.mac_address {
                    if let Err(e) = checks::mac_address(mac) {
                        err(at("mac_address"), e);
                    }
                }
            }
        }
        if let Some(ci) = &self.cloud_init {
            errors.extend(validate_cloud_init(ci));
        }
        for t in &self.tags {
            if let Err(e) = checks::tag(t) {
                errors.push(FieldError::new(vec![field("tags")], e));
            }
        }
        if self.description.len() > 8192 {
            errors.push(FieldError::new(
                vec![field("description")],
                "at most 8192 bytes".to_string(),
            ));
        }
        if let Err(e) = crate::duration::parse(&self.agent.timeout) {
            errors.push(FieldError::new(vec![field("agent"), field("timeout")], e));
        }
        if self.agent.wait_for_ip && !self.agent.enabled {
            errors.push(FieldError::new(
                vec![field("agent"), field("wait_for_ip")],
                "wait_for_ip needs the agent: set agent.enabled = true".to_string(),
            ));
        }
        if self.agent.wait_for_ip && !self.started {
            errors.push(FieldError::new(
                vec![field("agent"), field("wait_for_ip")],
                "wait_for_ip needs a running VM: set started = true".to_string(),
            ));
        }
        errors
    }

    /// The agent wait, parsed (validate first).
    pub fn agent_timeout(&self) -> Duration {
        crate::duration::parse(&self.agent.timeout).unwrap_or(Duration::from_secs(300))
    }
}

fn validate_cloud_init(ci: &CloudInit) -> Vec<FieldError> {
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
    let mut v4_static = None;
    if let Some(ipv4) = &ci.ipv4 {
        if ipv4 != "dhcp" {
            match checks::cidr_v4(ipv4) {
                Ok(parsed) => v4_static = Some(parsed),
                Err(e) => errors.push(FieldError::new(at("ipv4"), format!("{e}, or \"dhcp\""))),
            }
        }
    }
    if let Some(gw) = &ci.gateway {
        match checks::ipv4(gw) {
            Err(e) => errors.push(FieldError::new(at("gateway"), e)),
            Ok(gw) => match v4_static {
                None if ci.ipv4.as_deref() != Some("dhcp") && ci.ipv4.is_some() => {}
                None => errors.push(FieldError::new(
                    at("gateway"),
                    "a gateway needs a static ipv4 address (with DHCP the server hands it out)"
                        .to_string(),
                )),
                Some((address, prefix)) => {
                    if !checks::same_network_v4(address, prefix, gw) {
                        errors.push(FieldError::new(
                            at("gateway"),
                            format!(
                                "gateway {gw} is not in the network of {}",
                                ci.ipv4.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                }
            },
        }
    }
    let mut v6_static = false;
    if let Some(ipv6) = &ci.ipv6 {
        if ipv6 != "dhcp" && ipv6 != "auto" {
            match checks::cidr_v6(ipv6) {
                Ok(_) => v6_static = true,
                Err(e) => errors.push(FieldError::new(
                    at("ipv6"),
                    format!("{e}, \"dhcp\" or \"auto\""),
                )),
            }
        }
    }
    if let Some(gw) = &ci.gateway6 {
        if let Err(e) = checks::ipv6(gw) {
            errors.push(FieldError::new(at("gateway6"), e));
        } else if !v6_static {
            errors.push(FieldError::new(
                at("gateway6"),
                "a gateway6 needs a static ipv6 address".to_string(),
            ));
        }
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

/// A VM as Proxmox has it.
#[derive(Debug, Clone)]
pub struct VmActual {
    pub vmid: u32,
    pub node: String,
    /// `running`, `stopped`, `paused`, ...
    pub status: String,
    /// A config lock (`backup`, `clone`, `migrate`, ...).
    pub lock: Option<String>,
    pub template: bool,
    /// The arguments as read (what PVE cannot show is None or empty; see
    /// [`keep_unreadable`]).
    pub spec: Vm,
    /// Config keys whose new value waits for the next boot.
    pub pending: Vec<String>,
    /// The config the VM will run with (pending values applied), key by key.
    pub config: BTreeMap<String, String>,
}

impl VmActual {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// Reads VM `vmid` (looked up on `node_hint`'s cluster; it may have moved). None when it
/// does not exist. With `fresh`, status and lock come from the node instead of the
/// shared cluster list. Costs one request beyond the shared list.
pub async fn read(
    client: &Client,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<VmActual>, ProxmoxError> {
    let Some(found) = guests::locate(client, Kind::Qemu, node_hint, vmid, fresh).await? else {
        return Ok(None);
    };
    let Some((config, pending)) =
        guests::pending_config(client, Kind::Qemu, &found.node, vmid).await?
    else {
        return Ok(None);
    };
    let running = found.status == "running";
    let spec = spec_from_config(&found.node, vmid, &config, running);
    Ok(Some(VmActual {
        vmid,
        node: found.node,
        status: found.status,
        lock: found.lock,
        template: found.template,
        spec,
        pending,
        config,
    }))
}

fn is_cloud_init_drive(value: &str) -> bool {
    let p = PropString::parse(value);
    p.head.as_deref().is_some_and(|v| v.contains("cloudinit"))
}

fn is_cdrom(value: &str) -> bool {
    let p = PropString::parse(value);
    p.get("media") == Some("cdrom") || p.head.as_deref() == Some("cdrom")
}

fn disk_slots(config: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut slots: Vec<(String, String)> = config
        .iter()
        .filter(|(k, v)| valid_slot(k) && !is_cdrom(v) && !is_cloud_init_drive(v))
        .filter(|(_, v)| {
            PropString::parse(v)
                .head
                .as_deref()
                .is_some_and(|h| h != "none")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    slots.sort_by_key(|(k, _)| natural_key(k));
    slots
}

fn disk_from(slot: &str, value: &str) -> Disk {
    let p = PropString::parse(value);
    let volume = p.head.clone().unwrap_or_default();
    let storage = volume.split(':').next().unwrap_or_default().to_string();
    let bytes = p.get("size").and_then(props::parse_size).unwrap_or(0);
    Disk {
        slot: slot.to_string(),
        storage,
        size_gb: props::bytes_to_gb(bytes),
    }
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

fn cloud_init_from(config: &BTreeMap<String, String>) -> Option<CloudInit> {
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

fn agent_enabled(value: Option<&String>) -> bool {
    let Some(value) = value else { return false };
    let p = PropString::parse(value);
    p.head
        .as_deref()
        .or(p.get("enabled"))
        .and_then(props::parse_bool)
        .unwrap_or(false)
}

fn memory_mb(value: Option<&String>) -> u32 {
    value
        .map(|v| PropString::parse(v))
        .and_then(|p| p.head.clone().or(p.get("current").map(str::to_string)))
        .and_then(|m| m.parse().ok())
        .unwrap_or(512)
}

fn spec_from_config(node: &str, vmid: u32, config: &BTreeMap<String, String>, running: bool) -> Vm {
    let number = |key: &str, default: u32| {
        config
            .get(key)
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(default)
    };
    let iso = config.get(ISO_SLOT).filter(|v| is_cdrom(v)).and_then(|v| {
        PropString::parse(v)
            .head
            .filter(|h| h != "none" && h != "cdrom")
    });
    let mut nets: Vec<(u32, NetworkDevice)> = config
        .iter()
        .filter_map(|(k, v)| props::key_index(k, "net").map(|i| (i, nic_from(v))))
        .collect();
    nets.sort_by_key(|(i, _)| *i);
    Vm {
        node: node.to_string(),
        name: config
            .get("name")
            .cloned()
            .unwrap_or_else(|| format!("VM{vmid}")),
        vm_id: Some(vmid),
        clone: None,
        iso,
        cores: number("cores", 1),
        sockets: number("sockets", 1),
        memory: memory_mb(config.get("memory")),
        disks: Some(
            disk_slots(config)
                .iter()
                .map(|(slot, value)| disk_from(slot, value))
                .collect(),
        ),
        network: Some(nets.into_iter().map(|(_, n)| n).collect()),
        cloud_init: cloud_init_from(config),
        started: running,
        on_boot: config
            .get("onboot")
            .and_then(|v| props::parse_bool(v))
            .unwrap_or(false),
        tags: config
            .get("tags")
            .map(|t| props::parse_tags(t))
            .unwrap_or_default(),
        description: config.get("description").cloned().unwrap_or_default(),
        agent: Agent {
            enabled: agent_enabled(config.get("agent")),
            ..Agent::default()
        },
        reboot_after_update: false,
    }
}

/// Fills what PVE cannot show from what was last applied (`prior`): the template a VM came
/// from, the cloud-init password, the agent wait settings, `reboot_after_update`. Lists
/// are put in `prior`'s order (disks by slot), so a read never reorders them.
pub fn keep_unreadable(actual: &mut Vm, prior: &Vm) {
    actual.clone = prior.clone.clone();
    actual.reboot_after_update = prior.reboot_after_update;
    actual.agent.wait_for_ip = prior.agent.wait_for_ip;
    actual.agent.timeout = prior.agent.timeout.clone();
    if let (Some(ci), Some(prior_ci)) = (actual.cloud_init.as_mut(), prior.cloud_init.as_ref()) {
        ci.password = prior_ci.password.clone();
        if ci.storage.is_none() {
            ci.storage = prior_ci.storage.clone();
        }
    }
    if let (Some(disks), Some(prior_disks)) = (actual.disks.as_mut(), prior.disks.as_ref()) {
        let position = |slot: &str| {
            prior_disks
                .iter()
                .position(|d| d.slot == slot)
                .unwrap_or(usize::MAX)
        };
        disks.sort_by_key(|d| (position(&d.slot), natural_key(&d.slot)));
    }
}

/// IPv4 addresses the guest agent reports (loopback and link-local left out). One short
/// request; None when the agent does not answer.
pub async fn agent_ipv4(client: &Client, node: &str, vmid: u32) -> Option<Vec<String>> {
    let data = client
        .call(
            Method::Get,
            &format!("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
            &[],
            Repeat::Once,
            Some(AGENT_READ_TIMEOUT),
        )
        .await
        .ok()?;
    Some(ipv4_from_interfaces(&data))
}

fn ipv4_from_interfaces(data: &Json) -> Vec<String> {
    let interfaces = data.get("result").unwrap_or(data);
    let mut out = Vec::new();
    for iface in interfaces.as_array().into_iter().flatten() {
        for address in iface
            .get("ip-addresses")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            let kind = address.get("ip-address-type").and_then(Json::as_str);
            let Some(ip) = address.get("ip-address").and_then(Json::as_str) else {
                continue;
            };
            if kind != Some("ipv4") {
                continue;
            }
            let Ok(parsed) = ip.parse::<std::net::Ipv4Addr>() else {
                continue;
            };
            if parsed.is_loopback() || parsed.is_link_local() {
                continue;
            }
            out.push(ip.to_string());
        }
    }
    out
}

/// Waits until the guest agent reports an IPv4 address, at most until `deadline` (which
/// names the setting). Each request is bounded, so a hanging agent cannot stall it.
pub async fn wait_for_ipv4(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<Vec<String>, ProxmoxError> {
    let path = format!("/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces");
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let timeout =
            AGENT_REQUEST_TIMEOUT.min(deadline.remaining().max(Duration::from_millis(100)));
        let last_seen = match client
            .call(Method::Get, &path, &[], Repeat::Once, Some(timeout))
            .await
        {
            Ok(data) => {
                let found = ipv4_from_interfaces(&data);
                if !found.is_empty() {
                    return Ok(found);
                }
                "the agent answers but reports no IPv4 address yet".to_string()
            }
            Err(e) => e
                .pve_message()
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string()),
        };
        if !deadline.sleep(backoff.next_delay()).await {
            return Err(deadline
                .ended(
                    format!(
                        "the QEMU guest agent of VM {vmid} to report an IPv4 address (is qemu-guest-agent installed and running in the guest?)"
                    ),
                    last_seen,
                )
                .into());
        }
    }
}

// ------------------------------------------------------------------------- plan

/// What an update changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmChanges {
    /// Config keys to set, in one request.
    pub set: Vec<(String, String)>,
    /// Config keys to remove (disks become unused disks).
    pub delete: Vec<String>,
    /// Disks to grow: slot and new size in GB.
    pub grow: Vec<(String, f64)>,
    /// Start (`Some(true)`) or shut down (`Some(false)`).
    pub power: Option<bool>,
}

impl VmChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.delete.is_empty()
            && self.grow.is_empty()
            && self.power.is_none()
    }

    /// Config keys touched, for messages.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.set.iter().map(|(k, _)| k.clone()).collect();
        keys.extend(self.delete.iter().cloned());
        keys.extend(self.grow.iter().map(|(slot, _)| format!("{slot} (resize)")));
        keys
    }
}

/// Disk sizes are compared to within 1 MiB (PVE rounds sizes it writes).
const SIZE_EPSILON_GB: f64 = 1.0 / 1024.0;

/// Checks a disk list against a VM's (or template's) disks: no disk shrinks, and a slot
/// keeps its storage. Errors point at `disks[i]`.
pub fn check_disks(desired: &[Disk], actual: &[Disk], whose: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, disk) in desired.iter().enumerate() {
        let Some(have) = actual.iter().find(|d| d.slot == disk.slot) else {
            continue;
        };
        if disk.size_gb + SIZE_EPSILON_GB < have.size_gb {
            errors.push(FieldError::new(
                vec![field("disks"), PathSegment::Index(i), field("size_gb")],
                format!(
                    "{} is {} GB on {whose}; Proxmox cannot shrink disks (size_gb may only grow)",
                    disk.slot,
                    trim_gb(have.size_gb)
                ),
            ));
        }
    }
    errors
}

/// `32`, `2.2`: sizes for messages.
pub fn trim_gb(gb: f64) -> String {
    let text = format!("{gb:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Compares the desired arguments with the VM as read and returns the changes, in the
/// request forms PVE takes. `prior_password` is the cloud-init password last applied
/// (PVE never shows it back).
pub fn plan(
    desired: &Vm,
    actual: &VmActual,
    prior_password: Option<&Secret>,
    creating: bool,
) -> Result<VmChanges, Vec<FieldError>> {
    let config = &actual.config;
    let mut changes = VmChanges::default();
    let set = |key: &str, value: String, changes: &mut VmChanges| {
        if config.get(key) != Some(&value) {
            changes.set.push((key.to_string(), value));
        }
    };
    if actual.spec.name != desired.name {
        set("name", desired.name.clone(), &mut changes);
    }
    if actual.spec.cores != desired.cores {
        set("cores", desired.cores.to_string(), &mut changes);
    }
    if actual.spec.sockets != desired.sockets {
        set("sockets", desired.sockets.to_string(), &mut changes);
    }
    if actual.spec.memory != desired.memory {
        set("memory", desired.memory.to_string(), &mut changes);
    }
    if actual.spec.on_boot != desired.on_boot {
        set(
            "onboot",
            props::bool_text(desired.on_boot).to_string(),
            &mut changes,
        );
    }
    if actual.spec.tags != desired.tags {
        if desired.tags.is_empty() {
            changes.delete.push("tags".into());
        } else {
            let joined: Vec<&str> = desired.tags.iter().map(String::as_str).collect();
            set("tags", joined.join(";"), &mut changes);
        }
    }
    if actual.spec.description != desired.description {
        if desired.description.is_empty() {
            changes.delete.push("description".into());
        } else {
            set("description", desired.description.clone(), &mut changes);
        }
    }
    if actual.spec.agent.enabled != desired.agent.enabled {
        let value = match config.get("agent") {
            Some(current) => {
                let mut p = PropString::parse(current);
                if p.pairs.is_empty() || p.head.is_some() {
                    p.head = Some(props::bool_text(desired.agent.enabled).to_string());
                } else {
                    p.set("enabled", props::bool_text(desired.agent.enabled));
                }
                p.render()
            }
            None => props::bool_text(desired.agent.enabled).to_string(),
        };
        set("agent", value, &mut changes);
    }
    if let Some(iso) = &desired.iso {
        if actual.spec.iso.as_ref() != Some(iso) {
            set(ISO_SLOT, format!("{iso},media=cdrom"), &mut changes);
        }
    }
    if let Some(disks) = &desired.disks {
        let have = actual.spec.disks.clone().unwrap_or_default();
        let whose = format!("VM {}", actual.vmid);
        let errors = check_disks(disks, &have, &whose);
        if !errors.is_empty() {
            return Err(errors);
        }
        for disk in disks {
            match have.iter().find(|d| d.slot == disk.slot) {
                Some(current) => {
                    if disk.size_gb > current.size_gb + SIZE_EPSILON_GB {
                        changes.grow.push((disk.slot.clone(), disk.size_gb));
                    }
                }
                None => {
                    let size = trim_gb(disk.size_gb);
                    set(&disk.slot, format!("{}:{size}", disk.storage), &mut changes);
                }
            }
        }
        for current in &have {
            if !disks.iter().any(|d| d.slot == current.slot) {
                changes.delete.push(current.slot.clone());
            }
        }
    }
    if let Some(network) = &desired.network {
        for (i, nic) in network.iter().enumerate() {
            let key = format!("net{i}");
            let value = render_nic(nic, config.get(&key));
            set(&key, value, &mut changes);
        }
        for key in config.keys() {
            if let Some(i) = props::key_index(key, "net") {
                let key = format!("net{i}");
                if i as usize >= network.len() && !changes.delete.contains(&key) {
                    changes.delete.push(key);
                }
            }
        }
    }
    if let Some(ci) = &desired.cloud_init {
        plan_cloud_init(ci, actual, desired, prior_password, creating, &mut changes);
    }
    if desired.started != actual.running() {
        changes.power = Some(desired.started);
    }
    changes.delete.sort();
    changes.delete.dedup();
    Ok(changes)
}

fn render_nic(nic: &NetworkDevice, current: Option<&String>) -> String {
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

fn plan_cloud_init(
    ci: &CloudInit,
    actual: &VmActual,
    desired: &Vm,
    prior_password: Option<&Secret>,
    creating: bool,
    changes: &mut VmChanges,
) {
    let config = &actual.config;
    let set_or_delete = |key: &str, value: Option<String>, changes: &mut VmChanges| match value {
        Some(v) if !v.is_empty() => {
            if config.get(key) != Some(&v) {
                changes.set.push((key.to_string(), v));
            }
        }
        _ => {
            if config.contains_key(key) {
                changes.delete.push(key.to_string());
            }
        }
    };
    set_or_delete("ciuser", ci.user.clone(), changes);
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
            Some(k) => changes.set.push(("sshkeys".into(), k)),
            None => {
                if config.contains_key("sshkeys") {
                    changes.delete.push("sshkeys".into());
                }
            }
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
        set_or_delete(
            "ipconfig0",
            (!ip.pairs.is_empty()).then(|| ip.render()),
            changes,
        );
    }
    let current_dns = actual
        .spec
        .cloud_init
        .as_ref()
        .map(|c| c.dns_servers.clone())
        .unwrap_or_default();
    if current_dns != ci.dns_servers {
        set_or_delete("nameserver", Some(ci.dns_servers.join(" ")), changes);
    }
    set_or_delete("searchdomain", ci.dns_domain.clone(), changes);
    // The password cannot be read back: set it when it differs from what was applied.
    let wanted = ci.password.as_ref().map(|p| p.expose().to_string());
    let before = prior_password.map(|p| p.expose().to_string());
    if creating || wanted != before {
        match wanted {
            Some(p) => changes.set.push(("cipassword".into(), p)),
            None => {
                if config.contains_key("cipassword") {
                    changes.delete.push("cipassword".into());
                }
            }
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
        changes
            .set
            .push((CLOUD_INIT_SLOT.to_string(), format!("{storage}:cloudinit")));
    }
}

// ------------------------------------------------------------------------ apply

/// Failure of a create: the error, and the VM id when a VM exists (so the caller records
/// it and the next apply cleans it up).
#[derive(Debug)]
pub struct CreateFailure {
    pub vmid: Option<u32>,
    pub error: ProxmoxError,
}

impl CreateFailure {
    fn at(vmid: u32) -> impl FnOnce(ProxmoxError) -> CreateFailure {
        move |error| CreateFailure {
            vmid: Some(vmid),
            error,
        }
    }
}

impl From<ProxmoxError> for CreateFailure {
    fn from(error: ProxmoxError) -> Self {
        CreateFailure { vmid: None, error }
    }
}

/// Clones or creates the VM, applies every argument, starts it and waits for the agent
/// when asked. Returns the VM as read at the end.
/// `created` gets the VM id as soon as a VM exists, so a caller that stops waiting still
/// knows what to record.
pub async fn create(
    client: &Client,
    spec: &Vm,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<VmActual, CreateFailure> {
    let vmid = match &spec.clone {
        Some(clone) => clone_template(client, spec, clone, deadline, created).await?,
        None => create_empty(client, spec, deadline, created).await?,
    };
    let fail = CreateFailure::at;
    let actual = read(client, &spec.node, vmid, true)
        .await
        .map_err(fail(vmid))?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!(
                "VM {vmid} disappeared right after it was created"
            )),
        })?;
    let changes = plan(spec, &actual, None, true).map_err(|errors| CreateFailure {
        vmid: Some(vmid),
        error: ProxmoxError::Conflict(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    })?;
    apply_changes(client, &actual, &changes, deadline)
        .await
        .map_err(fail(vmid))?;
    if spec.started && spec.agent.wait_for_ip {
        let agent_deadline = deadline.within(spec.agent_timeout(), "agent.timeout");
        wait_for_ipv4(client, &actual.node, vmid, &agent_deadline)
            .await
            .map_err(fail(vmid))?;
    }
    client.invalidate_guests().await;
    read(client, &actual.node, vmid, true)
        .await
        .map_err(fail(vmid))?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!("VM {vmid} disappeared while it was configured")),
        })
}

async fn clone_template(
    client: &Client,
    spec: &Vm,
    clone: &CloneFrom,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<u32, CreateFailure> {
    let template = clone.template_id;
    let (source_node, template_disks) =
        template_disks(client, template).await?.ok_or_else(|| {
            ProxmoxError::Conflict(format!("template {template} does not exist in the cluster"))
        })?;
    let storage =
        clone_target_storage(spec.disks.as_deref(), clone, &template_disks).map_err(|errors| {
            ProxmoxError::Conflict(
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
    let what = format!("clone of template {template}");
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(5));
    loop {
        let attempt = client
            .create_with_id(spec.vm_id, deadline, |id| {
                let mut params: Vec<(&str, String)> = vec![
                    ("newid", id.to_string()),
                    ("name", spec.name.clone()),
                    ("full", props::bool_text(clone.full).to_string()),
                ];
                if let Some(storage) = &storage {
                    params.push(("storage", storage.clone()));
                }
                if source_node != spec.node {
                    params.push(("target", spec.node.clone()));
                }
                let path = format!("/nodes/{source_node}/qemu/{template}/clone");
                async move {
                    guests::post_create(client, Kind::Qemu, &spec.node, id, &path, &params).await
                }
            })
            .await;
        let (vmid, data) = match attempt {
            Ok(done) => done,
            Err(e) if e.is_lock_conflict() => {
                // The template is locked by another clone (or a backup): wait and ask again.
                let seen = e.pve_message().unwrap_or_default().to_string();
                if !deadline.sleep(backoff.next_delay()).await {
                    return Err(ProxmoxError::from(
                        deadline.ended(format!("{what}: the template's config lock"), seen),
                    )
                    .into());
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        created.store(vmid, Ordering::SeqCst);
        let waited = match &data {
            Some(data) => {
                tasks::wait_data(client, data, &format!("{what} to VM {vmid}"), deadline).await
            }
            None => guests::wait_unlocked(client, Kind::Qemu, &spec.node, vmid, deadline).await,
        };
        match waited {
            Ok(()) => return Ok(vmid),
            Err(e @ ProxmoxError::Timeout { .. }) => {
                return Err(CreateFailure {
                    vmid: Some(vmid),
                    error: e,
                })
            }
            Err(e) => {
                // PVE removes a VM whose clone failed; make sure, so nothing is left over.
                let leftover = guests::exists(client, Kind::Qemu, &spec.node, vmid)
                    .await
                    .unwrap_or(true);
                if leftover {
                    if let Err(cleanup) = delete(client, &spec.node, vmid, deadline).await {
                        return Err(CreateFailure {
                            vmid: Some(vmid),
                            error: ProxmoxError::Conflict(format!(
                                "{e}; removing the half-made VM {vmid} failed too: {cleanup}"
                            )),
                        });
                    }
                }
                created.store(0, Ordering::SeqCst);
                if e.is_lock_conflict() {
                    let seen = e.pve_message().unwrap_or_default().to_string();
                    if !deadline.sleep(backoff.next_delay()).await {
                        return Err(ProxmoxError::from(
                            deadline.ended(format!("{what}: a config lock"), seen),
                        )
                        .into());
                    }
                    continue;
                }
                return Err(e.into());
            }
        }
    }
}

/// The storage a clone's disks go to, checked against the template's disks: a full clone
/// copies every template disk to one storage (the one the listed disks of the template's
/// slots share); a linked clone keeps them on the template's storage. Errors point at
/// `disks[i].storage`.
pub fn clone_target_storage(
    disks: Option<&[Disk]>,
    clone: &CloneFrom,
    template_disks: &[Disk],
) -> Result<Option<String>, Vec<FieldError>> {
    let Some(disks) = disks else {
        return Ok(None);
    };
    let from_template: Vec<(usize, &Disk, &Disk)> = disks
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            template_disks
                .iter()
                .find(|t| t.slot == d.slot)
                .map(|t| (i, d, t))
        })
        .collect();
    let at = |i: usize| vec![field("disks"), PathSegment::Index(i), field("storage")];
    let mut errors = Vec::new();
    if !clone.full {
        for (i, disk, template) in &from_template {
            if disk.storage != template.storage {
                errors.push(FieldError::new(
                    at(*i),
                    format!(
                        "a linked clone keeps template {}'s disk {} on {}; set storage = {:?} or clone with full = true",
                        clone.template_id, disk.slot, template.storage, template.storage
                    ),
                ));
            }
        }
        return if errors.is_empty() {
            Ok(None)
        } else {
            Err(errors)
        };
    }
    let Some((_, first, _)) = from_template.first() else {
        return Ok(None);
    };
    for (i, disk, _) in &from_template {
        if disk.storage != first.storage {
            errors.push(FieldError::new(
                at(*i),
                format!(
                    "a full clone copies all of template {}'s disks to one storage; {} is on {:?} but {} on {:?}",
                    clone.template_id, first.slot, first.storage, disk.slot, disk.storage
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let same = from_template.iter().all(|(_, d, t)| d.storage == t.storage);
    Ok((!same).then(|| first.storage.clone()))
}

/// Checks a clone's disk list against its template at plan: every template disk listed
/// (or the list left out), none smaller than the template's, storages a clone can give.
pub fn check_clone_disks(
    disks: &[Disk],
    clone: &CloneFrom,
    template_disks: &[Disk],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for template in template_disks {
        if !disks.iter().any(|d| d.slot == template.slot) {
            errors.push(FieldError::new(
                vec![field("disks")],
                format!(
                    "template {} has disk {} ({} GB on {}), which disks does not list: add {{ slot = {:?}, storage = {:?}, size_gb = {} }} (or larger), or leave disks out to keep the template's disks as they are",
                    clone.template_id,
                    template.slot,
                    trim_gb(template.size_gb),
                    template.storage,
                    template.slot,
                    template.storage,
                    trim_gb(template.size_gb)
                ),
            ));
        }
    }
    errors.extend(check_disks(
        disks,
        template_disks,
        &format!("template {}", clone.template_id),
    ));
    if let Err(e) = clone_target_storage(Some(disks), clone, template_disks) {
        errors.extend(e);
    }
    errors
}

async fn create_empty(
    client: &Client,
    spec: &Vm,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<u32, CreateFailure> {
    let (vmid, data) = client
        .create_with_id(spec.vm_id, deadline, |id| {
            let mut params: Vec<(&str, String)> = vec![
                ("vmid", id.to_string()),
                ("name", spec.name.clone()),
                ("cores", spec.cores.to_string()),
                ("sockets", spec.sockets.to_string()),
                ("memory", spec.memory.to_string()),
                ("ostype", "l26".to_string()),
                ("scsihw", "virtio-scsi-single".to_string()),
            ];
            let mut owned: Vec<(String, String)> = Vec::new();
            for disk in spec.disks.iter().flatten() {
                owned.push((
                    disk.slot.clone(),
                    format!("{}:{}", disk.storage, trim_gb(disk.size_gb)),
                ));
            }
            for (i, nic) in spec.network.iter().flatten().enumerate() {
                owned.push((format!("net{i}"), render_nic(nic, None)));
            }
            if let Some(iso) = &spec.iso {
                params.push((ISO_SLOT, format!("{iso},media=cdrom")));
            }
            let path = format!("/nodes/{}/qemu", spec.node);
            async move {
                let mut all: Vec<(&str, String)> = params;
                for (k, v) in &owned {
                    all.push((k.as_str(), v.clone()));
                }
                guests::post_create(client, Kind::Qemu, &spec.node, id, &path, &all).await
            }
        })
        .await?;
    created.store(vmid, Ordering::SeqCst);
    let waited = match &data {
        Some(data) => {
            tasks::wait_data(client, data, &format!("creation of VM {vmid}"), deadline).await
        }
        None => guests::wait_unlocked(client, Kind::Qemu, &spec.node, vmid, deadline).await,
    };
    match waited {
        Ok(()) => Ok(vmid),
        Err(e) => {
            let exists = guests::exists(client, Kind::Qemu, &spec.node, vmid)
                .await
                .unwrap_or(true);
            Err(CreateFailure {
                vmid: exists.then_some(vmid),
                error: e,
            })
        }
    }
}

/// Carries out changes on a VM: one config request, disk growth, then power.
pub async fn apply_changes(
    client: &Client,
    actual: &VmActual,
    changes: &VmChanges,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    let base = format!("/nodes/{}/qemu/{}", actual.node, actual.vmid);
    let vmid = actual.vmid;
    if !changes.set.is_empty() || !changes.delete.is_empty() {
        let mut params: Vec<(&str, String)> = changes
            .set
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        if !changes.delete.is_empty() {
            params.push(("delete", changes.delete.join(",")));
        }
        let path = format!("{base}/config");
        guests::while_locked(deadline, &format!("changing VM {vmid}'s config"), || {
            client.put(&path, &params)
        })
        .await?;
    }
    for (slot, size_gb) in &changes.grow {
        let path = format!("{base}/resize");
        let params = [("disk", slot.clone()), ("size", props::size_arg(*size_gb))];
        let what = format!(
            "growing disk {slot} of VM {vmid} to {} GB",
            trim_gb(*size_gb)
        );
        guests::while_locked(deadline, &what, || async {
            let data = client.put(&path, &params).await?;
            tasks::wait_data(client, &data, &what, deadline).await
        })
        .await?;
    }
    match changes.power {
        Some(true) => guests::start(client, Kind::Qemu, &actual.node, vmid, deadline).await?,
        Some(false) => guests::shutdown(client, Kind::Qemu, &actual.node, vmid, deadline).await?,
        None => {}
    }
    Ok(())
}

/// The result of an update.
#[derive(Debug)]
pub struct Updated {
    pub actual: VmActual,
    /// Things the user should know (changes waiting for a reboot).
    pub warnings: Vec<String>,
}

/// Brings VM `vmid` to `desired`: config, disks, power; reboots for pending changes when
/// `reboot_after_update` says so, otherwise reports them; waits for the agent when asked.
pub async fn update(
    client: &Client,
    node: &str,
    vmid: u32,
    desired: &Vm,
    prior_password: Option<&Secret>,
    deadline: &Deadline,
) -> Result<Updated, ProxmoxError> {
    let actual = read(client, node, vmid, true)
        .await?
        .ok_or_else(|| ProxmoxError::Conflict(format!("VM {vmid} no longer exists on {node}")))?;
    let changes = plan(desired, &actual, prior_password, false).map_err(|errors| {
        ProxmoxError::Conflict(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    apply_changes(client, &actual, &changes, deadline).await?;
    let mut warnings = Vec::new();
    let mut after = read(client, &actual.node, vmid, true)
        .await?
        .ok_or_else(|| {
            ProxmoxError::Conflict(format!("VM {vmid} disappeared during the update"))
        })?;
    if after.running() && !after.pending.is_empty() {
        if desired.reboot_after_update {
            guests::reboot(client, Kind::Qemu, &after.node, vmid, deadline).await?;
            after = read(client, &after.node, vmid, true)
                .await?
                .ok_or_else(|| {
                    ProxmoxError::Conflict(format!("VM {vmid} disappeared during the reboot"))
                })?;
        } else {
            warnings.push(pending_warning(vmid, &after.pending));
        }
    }
    if desired.started && desired.agent.wait_for_ip {
        let agent_deadline = deadline.within(desired.agent_timeout(), "agent.timeout");
        wait_for_ipv4(client, &after.node, vmid, &agent_deadline).await?;
    }
    client.invalidate_guests().await;
    Ok(Updated {
        actual: after,
        warnings,
    })
}

/// The message for changes that wait for a reboot.
pub fn pending_warning(vmid: u32, keys: &[String]) -> String {
    format!(
        "VM {vmid} runs with changes Proxmox applies at the next boot: {}. Reboot the VM, or set reboot_after_update = true to have the next apply reboot it.",
        keys.join(", ")
    )
}

/// Shuts the VM down (stopping it if it does not power off in time) and destroys it with
/// its disks. Waits out config locks (a running backup) until `deadline`. A VM that does
/// not exist is already deleted.
pub async fn delete(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    guests::destroy(client, Kind::Qemu, node, vmid, deadline).await
}

/// Reads a template's disks, for checking a clone's disk list at plan.
pub async fn template_disks(
    client: &Client,
    template_id: u32,
) -> Result<Option<(String, Vec<Disk>)>, ProxmoxError> {
    let Some(guest) = client.find_guest(template_id).await? else {
        return Ok(None);
    };
    let config = client
        .get(
            &format!("/nodes/{}/qemu/{template_id}/config", guest.node),
            &[],
        )
        .await?;
    let map: BTreeMap<String, String> = config
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| props::json_text(v).map(|t| (k.clone(), t)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((
        guest.node,
        disk_slots(&map)
            .iter()
            .map(|(s, v)| disk_from(s, v))
            .collect(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIlesF01uUVdyeTSdGrXDeBoZtpl+byFGMKhjtbq8D+C admin@lab";

    fn vm() -> Vm {
        serde_json::from_value(serde_json::json!({
            "node": "pve1", "name": "nextcloud",
            "clone": {"template_id": 9000},
            "cores": 4, "memory": 4096,
            "disks": [{"slot": "scsi0", "storage": "local-lvm", "size_gb": 32}],
            "network": [{"bridge": "vmbr0", "vlan_id": 20}],
            "cloud_init": {"user": "admin", "ssh_keys": [KEY], "ipv4": "10.0.20.11/24", "gateway": "10.0.20.1"},
            "tags": ["tier1", "private"]
        }))
        .unwrap()
    }

    fn paths(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::path_string).collect()
    }

    #[test]
    fn the_interface_example_is_valid() {
        assert_eq!(vm().validate(), vec![]);
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let mut v = vm();
        v.memory = 8;
        v.cores = 0;
        v.disks.as_mut().unwrap()[0].slot = "scsi31".into();
        v.network.as_mut().unwrap()[0].vlan_id = Some(4095);
        let ci = v.cloud_init.as_mut().unwrap();
        ci.ipv4 = Some("10.0.20.11".into());
        ci.ssh_keys = vec!["ssh-ed25519 AAAA".into()];
        v.iso = Some("local:iso/x.iso".into());
        let errors = v.validate();
        let got = paths(&errors);
        for want in [
            "memory",
            "cores",
            "disks[0].slot",
            "network[0].vlan_id",
            "cloud_init.ipv4",
            "cloud_init.ssh_keys[0]",
            "iso",
        ] {
            assert!(
                got.contains(&want.to_string()),
                "{want} missing from {got:?}"
            );
        }
    }

    #[test]
    fn gateway_outside_the_network_is_rejected() {
        let mut v = vm();
        v.cloud_init.as_mut().unwrap().gateway = Some("10.0.21.1".into());
        assert_eq!(paths(&v.validate()), vec!["cloud_init.gateway"]);
        v.cloud_init.as_mut().unwrap().gateway = Some("10.0.20.300".into());
        assert_eq!(paths(&v.validate()), vec!["cloud_init.gateway"]);
    }

    #[test]
    fn slots() {
        for ok in ["scsi0", "scsi30", "virtio15", "sata5", "ide3"] {
            assert!(valid_slot(ok), "{ok}");
        }
        for bad in [
            "scsi31", "virtio16", "sata6", "ide4", "scsi01", "nvme0", "scsi",
        ] {
            assert!(!valid_slot(bad), "{bad}");
        }
    }

    fn actual_from(config: serde_json::Value, running: bool) -> VmActual {
        let pending: Vec<serde_json::Value> = config
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        let (config, keys) = guests::effective_config(&serde_json::Value::Array(pending));
        VmActual {
            vmid: 101,
            node: "pve1".into(),
            status: if running { "running" } else { "stopped" }.into(),
            lock: None,
            template: false,
            spec: spec_from_config("pve1", 101, &config, running),
            pending: keys,
            config,
        }
    }

    fn cloned() -> VmActual {
        actual_from(
            serde_json::json!({
                "name": "nextcloud", "cores": 1, "memory": "1024",
                "scsi0": "local-lvm:vm-101-disk-0,size=8G",
                "ide2": "local-lvm:vm-9000-cloudinit,media=cdrom",
                "net0": "virtio=BC:24:11:01:CB:C9,bridge=vmbr0",
                "agent": "1", "ostype": "l26"
            }),
            false,
        )
    }

    #[test]
    fn plans_a_clone_into_the_interface_example() {
        let changes = plan(&vm(), &cloned(), None, true).unwrap();
        let set: BTreeMap<_, _> = changes.set.iter().cloned().collect();
        assert_eq!(set["cores"], "4");
        assert_eq!(set["memory"], "4096");
        assert_eq!(set["net0"], "virtio=BC:24:11:01:CB:C9,bridge=vmbr0,tag=20");
        assert_eq!(set["ipconfig0"], "ip=10.0.20.11/24,gw=10.0.20.1");
        assert_eq!(set["tags"], "private;tier1");
        assert!(set["sshkeys"].starts_with("ssh-ed25519%20AAAA"));
        assert!(
            !set.contains_key("ide2"),
            "the template's cloud-init drive is kept"
        );
        assert_eq!(changes.grow, vec![("scsi0".to_string(), 32.0)]);
        assert_eq!(set["agent"], "0");
        assert!(changes.delete.is_empty(), "{:?}", changes.delete);
        assert_eq!(changes.power, Some(true));
    }

    #[test]
    fn a_vm_that_matches_plans_nothing() {
        let mut v = vm();
        v.agent.enabled = true;
        let actual = actual_from(
            serde_json::json!({
                "name": "nextcloud", "cores": "4", "memory": "4096",
                "scsi0": "local-lvm:vm-101-disk-0,size=32G",
                "ide2": "local-lvm:vm-101-cloudinit,media=cdrom",
                "net0": "virtio=BC:24:11:01:CB:C9,bridge=vmbr0,tag=20",
                "agent": "1", "ciuser": "admin",
                "sshkeys": props::uri_component(&format!("{KEY}\n")),
                "ipconfig0": "ip=10.0.20.11/24,gw=10.0.20.1",
                "tags": "private;tier1"
            }),
            true,
        );
        let changes = plan(&v, &actual, None, false).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        // The read gives back the arguments.
        let mut read = actual.spec.clone();
        keep_unreadable(&mut read, &v);
        let ci = read.cloud_init.as_ref().unwrap();
        assert_eq!(ci.ssh_keys, vec![KEY.to_string()]);
        assert_eq!(read.network.as_ref().unwrap()[0].vlan_id, Some(20));
        assert_eq!(read.disks.as_ref().unwrap()[0].size_gb, 32.0);
    }

    #[test]
    fn shrinking_is_refused_with_the_path() {
        let mut v = vm();
        v.disks.as_mut().unwrap()[0].size_gb = 4.0;
        let errors = plan(&v, &cloned(), None, true).unwrap_err();
        assert_eq!(paths(&errors), vec!["disks[0].size_gb"]);
        assert!(errors[0].message.contains("cannot shrink"));
    }

    #[test]
    fn new_disks_and_dropped_nics() {
        let mut v = vm();
        v.disks.as_mut().unwrap().push(Disk {
            slot: "scsi1".into(),
            storage: "local-lvm".into(),
            size_gb: 10.0,
        });
        v.network = Some(vec![]);
        let changes = plan(&v, &cloned(), None, false).unwrap();
        assert!(changes
            .set
            .contains(&("scsi1".to_string(), "local-lvm:10".to_string())));
        assert!(changes.delete.contains(&"net0".to_string()));
    }

    #[test]
    fn agent_addresses_skip_loopback() {
        let data = serde_json::json!({"result": [
            {"name": "lo", "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4"}]},
            {"name": "eth0", "ip-addresses": [
                {"ip-address": "192.0.2.10", "ip-address-type": "ipv4"},
                {"ip-address": "fe80::1", "ip-address-type": "ipv6"}]}
        ]});
        assert_eq!(ipv4_from_interfaces(&data), vec!["192.0.2.10".to_string()]);
    }
}
