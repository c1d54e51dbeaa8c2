//! LXC containers (`homelab_proxmox_lxc`): arguments, read, plan, create, update, delete.
//!
//! The same steps as [`vm`](super::vm): create from an OS template, set what can change in
//! one config request, grow the root disk, start; reads take pending values as the
//! container will run with them. What PVE keeps no record of (the OS template, the root
//! password, the SSH keys given at creation) is kept from what was last applied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::checks;
use super::client::Client;
use super::error::ProxmoxError;
use super::guests::{self, Kind};
use super::props::{self, PropString};
use super::tasks;
use super::vm::{trim_gb, CreateFailure};
use crate::deadline::Deadline;
use crate::secret::Secret;
use crate::validation::{FieldError, PathSegment};

/// An LXC container on a Proxmox VE node.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The node the container runs on, e.g. `pve1`.
    pub node: String,

    /// The container id. Leave it out to take the next free id (allocated without
    /// collisions, also when several are created in parallel).
    #[serde(default)]
    pub vm_id: Option<u32>,

    /// The host name, a DNS name such as `jdownloader`.
    pub hostname: String,

    /// The OS template volume, e.g. `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`.
    /// Changing it replaces the container. Proxmox does not record it: after `terraform
    /// import` the first plan records it (an update that sends nothing to Proxmox).
    pub ostemplate: String,

    /// CPU cores (at least 1).
    #[serde(default = "one")]
    pub cores: u32,

    /// Memory in MB (at least 16).
    #[serde(default = "default_memory")]
    pub memory: u32,

    /// Swap in MB.
    #[serde(default = "default_memory")]
    pub swap: u32,

    /// The root disk. A larger `size_gb` grows it in place; a smaller one is rejected at
    /// plan; another storage replaces the container.
    pub rootfs: RootFs,

    /// Network interfaces, in order: the first is `net0`.
    #[serde(default)]
    pub network: Vec<ContainerNic>,

    /// Run as an unprivileged container (root inside maps to an unprivileged user
    /// outside). Changing it replaces the container.
    #[serde(default = "yes")]
    pub unprivileged: bool,

    /// Container features.
    #[serde(default)]
    pub features: Features,

    /// SSH public keys for root, set when the container is created (changing them
    /// replaces it; Proxmox cannot change them later).
    #[serde(default)]
    pub ssh_keys: Vec<String>,

    /// Root password, set when the container is created (changing it replaces the
    /// container; Proxmox cannot change it later and never shows it). Sensitive.
    #[serde(default)]
    pub password: Option<Secret>,

    /// Whether the container runs.
    #[serde(default = "yes")]
    pub started: bool,

    /// Start the container when its node boots.
    #[serde(default)]
    pub on_boot: bool,

    /// Tags, lowercase.
    #[serde(default)]
    pub tags: BTreeSet<String>,

    /// Free text shown in the Proxmox UI's notes.
    #[serde(default)]
    pub description: String,

    /// Reboot a running container after an update when Proxmox keeps changes pending
    /// until its next start (e.g. `features`). Without it, they are reported.
    #[serde(default)]
    pub reboot_after_update: bool,
}

/// The root disk.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RootFs {
    /// Storage for the root disk; it must hold container volumes (`rootdir`), e.g.
    /// `local-lvm`.
    pub storage: String,

    /// Size in GB (GiB). Grows in place; cannot shrink.
    pub size_gb: f64,
}

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

/// Container features.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Allow nested containers (needed by Docker and systemd services inside).
    #[serde(default)]
    pub nesting: bool,
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

fn field(name: &str) -> PathSegment {
    PathSegment::Field(name.to_string())
}

impl Container {
    /// Every problem with the arguments, each with its path.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err =
            |path: Vec<PathSegment>, message: String| errors.push(FieldError::new(path, message));
        if let Err(e) = checks::node_name(&self.node) {
            err(vec![field("node")], e);
        }
        if let Some(id) = self.vm_id {
            if !(100..=999_999_999).contains(&id) {
                err(
                    vec![field("vm_id")],
                    format!("{id} is not a guest id: ids run from 100 to 999999999"),
                );
            }
        }
        if let Err(e) = checks::dns_name(&self.hostname) {
            err(vec![field("hostname")], e);
        }
        if let Err(e) = checks::volume_id(&self.ostemplate, "vztmpl") {
            err(vec![field("ostemplate")], e);
        }
        if self.cores == 0 {
            err(vec![field("cores")], "cores must be at least 1".into());
        }
        if self.memory < 16 {
            err(
                vec![field("memory")],
                format!(
                    "memory is in MB and must be at least 16; got {}",
                    self.memory
                ),
            );
        }
        if let Err(e) = checks::storage_id(&self.rootfs.storage) {
            err(vec![field("rootfs"), field("storage")], e);
        }
        if !self.rootfs.size_gb.is_finite() || self.rootfs.size_gb <= 0.0 {
            err(
                vec![field("rootfs"), field("size_gb")],
                format!("size_gb must be more than 0; got {}", self.rootfs.size_gb),
            );
        }
        let mut names = BTreeSet::new();
        for (i, nic) in self.network.iter().enumerate() {
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
            let mut v4 = None;
            if let Some(ip) = &nic.ipv4 {
                if ip != "dhcp" && ip != "manual" {
                    match checks::cidr_v4(ip) {
                        Ok(p) => v4 = Some(p),
                        Err(e) => err(at("ipv4"), format!("{e}, \"dhcp\" or \"manual\"")),
                    }
                }
            }
            if let Some(gw) = &nic.gateway {
                match (checks::ipv4(gw), v4) {
                    (Err(e), _) => err(at("gateway"), e),
                    (Ok(_), None)
                        if nic
                            .ipv4
                            .as_deref()
                            .is_some_and(|i| i == "dhcp" || i == "manual")
                            || nic.ipv4.is_none() =>
                    {
                        err(
                            at("gateway"),
                            "a gateway needs a static ipv4 address".into(),
                        )
                    }
                    (Ok(g), Some((a, p))) if !checks::same_network_v4(a, p, g) => err(
                        at("gateway"),
                        format!(
                            "gateway {g} is not in the network of {}",
                            nic.ipv4.as_deref().unwrap_or_default()
                        ),
                    ),
                    _ => {}
                }
            }
            let mut v6_static = false;
            if let Some(ip) = &nic.ipv6 {
                if !matches!(ip.as_str(), "dhcp" | "auto" | "manual") {
                    match checks::cidr_v6(ip) {
                        Ok(_) => v6_static = true,
                        Err(e) => err(at("ipv6"), format!("{e}, \"dhcp\", \"auto\" or \"manual\"")),
                    }
                }
            }
            if let Some(gw) = &nic.gateway6 {
                if let Err(e) = checks::ipv6(gw) {
                    err(at("gateway6"), e);
                } else if !v6_static {
                    err(
                        at("gateway6"),
                        "a gateway6 needs a static ipv6 address".into(),
                    );
                }
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
        for (i, key) in self.ssh_keys.iter().enumerate() {
            if let Err(e) = checks::ssh_public_key(key) {
                err(vec![field("ssh_keys"), PathSegment::Index(i)], e);
            }
        }
        if let Some(password) = &self.password {
            if password.expose().len() < 5 {
                err(
                    vec![field("password")],
                    "the root password needs at least 5 characters".into(),
                );
            }
        }
        for t in &self.tags {
            if let Err(e) = checks::tag(t) {
                err(vec![field("tags")], e);
            }
        }
        if self.description.len() > 8192 {
            err(vec![field("description")], "at most 8192 bytes".into());
        }
        errors
    }
}

// ------------------------------------------------------------------------- read

/// A container as Proxmox has it.
#[derive(Debug, Clone)]
pub struct ContainerActual {
    pub vmid: u32,
    pub node: String,
    pub status: String,
    pub lock: Option<String>,
    /// The arguments as read; what PVE does not record is empty (see [`keep_unreadable`]).
    pub spec: Container,
    /// Config keys waiting for the next start.
    pub pending: Vec<String>,
    pub config: BTreeMap<String, String>,
}

impl ContainerActual {
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// Reads container `vmid`; None when it does not exist. One request beyond the shared
/// cluster list (two with `fresh`).
pub async fn read(
    client: &Client,
    node_hint: &str,
    vmid: u32,
    fresh: bool,
) -> Result<Option<ContainerActual>, ProxmoxError> {
    let Some(found) = guests::locate(client, Kind::Lxc, node_hint, vmid, fresh).await? else {
        return Ok(None);
    };
    let Some((config, pending)) =
        guests::pending_config(client, Kind::Lxc, &found.node, vmid).await?
    else {
        return Ok(None);
    };
    let spec = spec_from_config(&found.node, vmid, &config, found.status == "running");
    Ok(Some(ContainerActual {
        vmid,
        node: found.node,
        status: found.status,
        lock: found.lock,
        spec,
        pending,
        config,
    }))
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

fn spec_from_config(
    node: &str,
    vmid: u32,
    config: &BTreeMap<String, String>,
    running: bool,
) -> Container {
    let number = |key: &str, default: u32| {
        config
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rootfs = config
        .get("rootfs")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    let mut nets: Vec<(u32, ContainerNic)> = config
        .iter()
        .filter_map(|(k, v)| props::key_index(k, "net").map(|i| (i, nic_from(v))))
        .collect();
    nets.sort_by_key(|(i, _)| *i);
    let features = config
        .get("features")
        .map(|v| PropString::parse(v))
        .unwrap_or_default();
    Container {
        node: node.to_string(),
        vm_id: Some(vmid),
        hostname: config
            .get("hostname")
            .cloned()
            .unwrap_or_else(|| format!("CT{vmid}")),
        ostemplate: String::new(),
        cores: number("cores", 1),
        memory: number("memory", 512),
        swap: number("swap", 512),
        rootfs: RootFs {
            storage: rootfs
                .head
                .as_deref()
                .and_then(|h| h.split(':').next())
                .unwrap_or_default()
                .to_string(),
            size_gb: props::bytes_to_gb(
                rootfs.get("size").and_then(props::parse_size).unwrap_or(0),
            ),
        },
        network: nets.into_iter().map(|(_, n)| n).collect(),
        unprivileged: config
            .get("unprivileged")
            .and_then(|v| props::parse_bool(v))
            .unwrap_or(false),
        features: Features {
            nesting: features
                .get("nesting")
                .and_then(props::parse_bool)
                .unwrap_or(false),
        },
        ssh_keys: Vec::new(),
        password: None,
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
        reboot_after_update: false,
    }
}

/// Fills what PVE does not record from what was last applied (`prior`): the OS template,
/// SSH keys, password and `reboot_after_update`.
pub fn keep_unreadable(actual: &mut Container, prior: &Container) {
    actual.ostemplate = prior.ostemplate.clone();
    actual.ssh_keys = prior.ssh_keys.clone();
    actual.password = prior.password.clone();
    actual.reboot_after_update = prior.reboot_after_update;
}

// ------------------------------------------------------------------------- plan

/// What an update changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerChanges {
    pub set: Vec<(String, String)>,
    pub delete: Vec<String>,
    /// New root disk size in GB.
    pub grow_rootfs: Option<f64>,
    pub power: Option<bool>,
}

impl ContainerChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.delete.is_empty()
            && self.grow_rootfs.is_none()
            && self.power.is_none()
    }
}

const SIZE_EPSILON_GB: f64 = 1.0 / 1024.0;

/// Checks the root disk against the container's: it may only grow.
pub fn check_rootfs(desired: &RootFs, actual: &RootFs, vmid: u32) -> Vec<FieldError> {
    if desired.size_gb + SIZE_EPSILON_GB < actual.size_gb {
        vec![FieldError::new(
            vec![field("rootfs"), field("size_gb")],
            format!(
                "the root disk of container {vmid} is {} GB; Proxmox cannot shrink it (size_gb may only grow)",
                trim_gb(actual.size_gb)
            ),
        )]
    } else {
        Vec::new()
    }
}

fn render_nic(nic: &ContainerNic, current: Option<&String>) -> String {
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

/// Compares the desired arguments with the container as read.
pub fn plan(
    desired: &Container,
    actual: &ContainerActual,
) -> Result<ContainerChanges, Vec<FieldError>> {
    let errors = check_rootfs(&desired.rootfs, &actual.spec.rootfs, actual.vmid);
    if !errors.is_empty() {
        return Err(errors);
    }
    let config = &actual.config;
    let have = &actual.spec;
    let mut changes = ContainerChanges::default();
    let set = |key: &str, value: String, changes: &mut ContainerChanges| {
        if config.get(key) != Some(&value) {
            changes.set.push((key.to_string(), value));
        }
    };
    if have.hostname != desired.hostname {
        set("hostname", desired.hostname.clone(), &mut changes);
    }
    if have.cores != desired.cores {
        set("cores", desired.cores.to_string(), &mut changes);
    }
    if have.memory != desired.memory {
        set("memory", desired.memory.to_string(), &mut changes);
    }
    if have.swap != desired.swap {
        set("swap", desired.swap.to_string(), &mut changes);
    }
    if have.on_boot != desired.on_boot {
        set(
            "onboot",
            props::bool_text(desired.on_boot).into(),
            &mut changes,
        );
    }
    if have.features != desired.features {
        let mut p = config
            .get("features")
            .map(|v| PropString::parse(v))
            .unwrap_or_default();
        if desired.features.nesting {
            p.set("nesting", "1");
        } else {
            p.remove("nesting");
        }
        if p.pairs.is_empty() && p.head.is_none() {
            changes.delete.push("features".into());
        } else {
            set("features", p.render(), &mut changes);
        }
    }
    if have.tags != desired.tags {
        if desired.tags.is_empty() {
            changes.delete.push("tags".into());
        } else {
            let joined: Vec<&str> = desired.tags.iter().map(String::as_str).collect();
            set("tags", joined.join(";"), &mut changes);
        }
    }
    if have.description != desired.description {
        if desired.description.is_empty() {
            changes.delete.push("description".into());
        } else {
            set("description", desired.description.clone(), &mut changes);
        }
    }
    for (i, nic) in desired.network.iter().enumerate() {
        let key = format!("net{i}");
        let value = render_nic(nic, config.get(&key));
        set(&key, value, &mut changes);
    }
    for key in config.keys() {
        if let Some(i) = props::key_index(key, "net") {
            if i as usize >= desired.network.len() {
                changes.delete.push(key.clone());
            }
        }
    }
    if desired.rootfs.size_gb > have.rootfs.size_gb + SIZE_EPSILON_GB {
        changes.grow_rootfs = Some(desired.rootfs.size_gb);
    }
    if desired.started != actual.running() {
        changes.power = Some(desired.started);
    }
    Ok(changes)
}

// ------------------------------------------------------------------------ apply

/// Creates the container from its OS template, starts it when asked, and reads it back.
/// `created` gets the id as soon as the container exists.
pub async fn create(
    client: &Client,
    spec: &Container,
    deadline: &Deadline,
    created: &AtomicU32,
) -> Result<ContainerActual, CreateFailure> {
    let (vmid, data) = client
        .create_with_id(spec.vm_id, deadline, |id| {
            let mut params: Vec<(String, String)> = vec![
                ("vmid".into(), id.to_string()),
                ("ostemplate".into(), spec.ostemplate.clone()),
                ("hostname".into(), spec.hostname.clone()),
                ("cores".into(), spec.cores.to_string()),
                ("memory".into(), spec.memory.to_string()),
                ("swap".into(), spec.swap.to_string()),
                (
                    "rootfs".into(),
                    format!("{}:{}", spec.rootfs.storage, trim_gb(spec.rootfs.size_gb)),
                ),
                (
                    "unprivileged".into(),
                    props::bool_text(spec.unprivileged).into(),
                ),
                ("onboot".into(), props::bool_text(spec.on_boot).into()),
            ];
            for (i, nic) in spec.network.iter().enumerate() {
                params.push((format!("net{i}"), render_nic(nic, None)));
            }
            if spec.features.nesting {
                params.push(("features".into(), "nesting=1".into()));
            }
            if !spec.ssh_keys.is_empty() {
                params.push(("ssh-public-keys".into(), spec.ssh_keys.join("\n") + "\n"));
            }
            if let Some(password) = &spec.password {
                params.push(("password".into(), password.expose().to_string()));
            }
            if !spec.tags.is_empty() {
                let joined: Vec<&str> = spec.tags.iter().map(String::as_str).collect();
                params.push(("tags".into(), joined.join(";")));
            }
            if !spec.description.is_empty() {
                params.push(("description".into(), spec.description.clone()));
            }
            let path = format!("/nodes/{}/lxc", spec.node);
            async move {
                let refs: Vec<(&str, String)> = params
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                guests::post_create(client, Kind::Lxc, &spec.node, id, &path, &refs).await
            }
        })
        .await?;
    created.store(vmid, Ordering::SeqCst);
    let fail = |error: ProxmoxError| CreateFailure {
        vmid: Some(vmid),
        error,
    };
    let waited = match &data {
        Some(data) => {
            tasks::wait_data(
                client,
                data,
                &format!("creation of container {vmid}"),
                deadline,
            )
            .await
        }
        None => guests::wait_unlocked(client, Kind::Lxc, &spec.node, vmid, deadline).await,
    };
    if let Err(error) = waited {
        let exists = guests::exists(client, Kind::Lxc, &spec.node, vmid)
            .await
            .unwrap_or(true);
        return Err(CreateFailure {
            vmid: exists.then_some(vmid),
            error,
        });
    }
    if spec.started {
        guests::start(client, Kind::Lxc, &spec.node, vmid, deadline)
            .await
            .map_err(fail)?;
    }
    client.invalidate_guests().await;
    read(client, &spec.node, vmid, true)
        .await
        .map_err(fail)?
        .ok_or_else(|| CreateFailure {
            vmid: None,
            error: ProxmoxError::Conflict(format!(
                "container {vmid} disappeared right after it was created"
            )),
        })
}

/// The result of an update.
#[derive(Debug)]
pub struct Updated {
    pub actual: ContainerActual,
    pub warnings: Vec<String>,
}

/// Brings container `vmid` to `desired`.
pub async fn update(
    client: &Client,
    node: &str,
    vmid: u32,
    desired: &Container,
    deadline: &Deadline,
) -> Result<Updated, ProxmoxError> {
    let actual = read(client, node, vmid, true).await?.ok_or_else(|| {
        ProxmoxError::Conflict(format!("container {vmid} no longer exists on {node}"))
    })?;
    let changes = plan(desired, &actual).map_err(|errors| {
        ProxmoxError::Conflict(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let base = format!("/nodes/{}/lxc/{vmid}", actual.node);
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
        guests::while_locked(
            deadline,
            &format!("changing container {vmid}'s config"),
            || client.put(&path, &params),
        )
        .await?;
    }
    if let Some(size) = changes.grow_rootfs {
        let path = format!("{base}/resize");
        let params = [
            ("disk", "rootfs".to_string()),
            ("size", props::size_arg(size)),
        ];
        let what = format!(
            "growing the root disk of container {vmid} to {} GB",
            trim_gb(size)
        );
        guests::while_locked(deadline, &what, || async {
            let data = client.put(&path, &params).await?;
            tasks::wait_data(client, &data, &what, deadline).await
        })
        .await?;
    }
    match changes.power {
        Some(true) => guests::start(client, Kind::Lxc, &actual.node, vmid, deadline).await?,
        Some(false) => guests::shutdown(client, Kind::Lxc, &actual.node, vmid, deadline).await?,
        None => {}
    }
    let mut after = read(client, &actual.node, vmid, true)
        .await?
        .ok_or_else(|| {
            ProxmoxError::Conflict(format!("container {vmid} disappeared during the update"))
        })?;
    let mut warnings = Vec::new();
    if after.running() && !after.pending.is_empty() {
        if desired.reboot_after_update {
            guests::reboot(client, Kind::Lxc, &after.node, vmid, deadline).await?;
            after = read(client, &after.node, vmid, true)
                .await?
                .ok_or_else(|| {
                    ProxmoxError::Conflict(format!(
                        "container {vmid} disappeared during the reboot"
                    ))
                })?;
        } else {
            warnings.push(format!(
                "container {vmid} runs with changes Proxmox applies at its next start: {}. Reboot it, or set reboot_after_update = true to have the next apply reboot it.",
                after.pending.join(", ")
            ));
        }
    }
    client.invalidate_guests().await;
    Ok(Updated {
        actual: after,
        warnings,
    })
}

/// Shuts the container down and destroys it with its volumes.
pub async fn delete(
    client: &Client,
    node: &str,
    vmid: u32,
    deadline: &Deadline,
) -> Result<(), ProxmoxError> {
    guests::destroy(client, Kind::Lxc, node, vmid, deadline).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container() -> Container {
        serde_json::from_value(serde_json::json!({
            "node": "pve1", "hostname": "jdownloader",
            "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "cores": 2, "memory": 1024,
            "rootfs": {"storage": "local-lvm", "size_gb": 8},
            "network": [{"name": "eth0", "bridge": "vmbr0", "ipv4": "dhcp"}],
            "unprivileged": true, "started": true
        }))
        .unwrap()
    }

    fn actual(config: serde_json::Value, running: bool) -> ContainerActual {
        let items: Vec<serde_json::Value> = config
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        let (config, pending) = guests::effective_config(&serde_json::Value::Array(items));
        ContainerActual {
            vmid: 200,
            node: "pve1".into(),
            status: if running { "running" } else { "stopped" }.into(),
            lock: None,
            spec: spec_from_config("pve1", 200, &config, running),
            pending,
            config,
        }
    }

    #[test]
    fn the_interface_example_is_valid_and_reads_back_equal() {
        let c = container();
        assert_eq!(c.validate(), vec![]);
        let a = actual(
            serde_json::json!({
                "hostname": "jdownloader", "cores": 2, "memory": 1024, "swap": 512,
                "rootfs": "local-lvm:vm-200-disk-0,size=8G",
                "net0": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:AA:BB:CC,ip=dhcp,type=veth",
                "unprivileged": 1, "ostype": "debian", "arch": "amd64"
            }),
            true,
        );
        let changes = plan(&c, &a).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        let mut read = a.spec.clone();
        keep_unreadable(&mut read, &c);
        read.network[0].mac_address = None;
        read.vm_id = None;
        assert_eq!(read, c);
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let mut c = container();
        c.memory = 8;
        c.network[0].ipv4 = Some("10.0.0.300/24".into());
        c.network[0].vlan_id = Some(5000);
        c.ssh_keys = vec!["nope".into()];
        c.ostemplate = "debian.tar.zst".into();
        let got: Vec<String> = c.validate().iter().map(FieldError::path_string).collect();
        for want in [
            "memory",
            "network[0].ipv4",
            "network[0].vlan_id",
            "ssh_keys[0]",
            "ostemplate",
        ] {
            assert!(
                got.contains(&want.to_string()),
                "{want} missing from {got:?}"
            );
        }
    }

    #[test]
    fn rootfs_only_grows() {
        let mut c = container();
        let a = actual(
            serde_json::json!({"hostname": "jdownloader", "rootfs": "local-lvm:vm-200-disk-0,size=16G"}),
            false,
        );
        let errors = plan(&c, &a).unwrap_err();
        assert_eq!(errors[0].path_string(), "rootfs.size_gb");
        c.rootfs.size_gb = 20.0;
        assert_eq!(plan(&c, &a).unwrap().grow_rootfs, Some(20.0));
    }
}
