//! The arguments of a container (`homelab_proxmox_lxc`): the serde/JSON Schema type whose
//! doc comments are the resource's documentation, and its checks. The network interfaces
//! are declared and checked in `network.rs`.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::network::{self, ContainerNic};
use crate::proxmox::checks;
use crate::proxmox::defaults::{default_memory, one};
use crate::proxmox::guest_config::{check_guest_id, check_notes, field};
use crate::secret::Secret;
use crate::validation::Validate;
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
    #[serde(default = "crate::defaults::yes")]
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
    #[serde(default = "crate::defaults::yes")]
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

/// Container features.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Allow nested containers (needed by Docker and systemd services inside).
    #[serde(default)]
    pub nesting: bool,
}

impl Validate for Container {
    /// Every problem with the arguments, each with its path.
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err =
            |path: Vec<PathSegment>, message: String| errors.push(FieldError::new(path, message));
        if let Err(e) = checks::node_name(&self.node) {
            err(vec![field("node")], e);
        }
        if let Some(id) = self.vm_id {
            if let Err(e) = check_guest_id(id, "guest") {
                err(vec![field("vm_id")], e);
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
        errors.extend(network::check(&self.network));
        let mut err =
            |path: Vec<PathSegment>, message: String| errors.push(FieldError::new(path, message));
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
        check_notes(&self.tags, &self.description, &mut errors);
        errors
    }
}
